//! Which CPUs a thread may run on, and pinning the calling thread to one.

use std::io;

/// The CPUs the calling thread may run on, in ascending order: all of the
/// machine's unless the process was started restricted (`taskset`, a
/// cgroup's cpuset).
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: `cpu_set_t` is a plain bit set for which all zeroes is the
    // valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 means the calling thread; `set` is valid for writes of
    // the size passed, its own.
    let res = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &raw mut set) };
    if res == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: every index is below `CPU_SETSIZE`, so `CPU_ISSET` reads
        // inside `set`, which `sched_getaffinity` initialised.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Restricts the calling thread to run on `cpu` only.
pub(crate) fn set_cpu_affinity(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cpu index out of range",
        ));
    }
    // SAFETY: `cpu_set_t` is a plain bit set for which all zeroes is the
    // valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below `CPU_SETSIZE` (checked above), so `CPU_SET`
    // writes inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 means the calling thread; `set` is a valid, initialised
    // `cpu_set_t` and the size passed is its size.
    let res = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set) };
    if res == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
