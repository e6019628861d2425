//! Pinning the calling thread to one CPU.

use std::io;

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
    let res = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if res == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
