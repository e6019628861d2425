//! One child process, not its group: signal it, and wait a bounded time
//! for it to exit without reaping it (the caller's `Child` does that).
//!
//! The Slurm transport needs both: `srun` must be stopped by signalling
//! its own pid (its helper in the same group cancels the job), and the
//! pool cannot block for long on one slot.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Sends `signal` to the process `pid` only.
pub(crate) fn signal_process(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    if pid <= 1 {
        return Err(io::Error::other("refusing to signal pid <= 1"));
    }
    // SAFETY: kill(2) with a positive pid signals that one process; it
    // takes no pointers.
    if unsafe { libc::kill(pid, signal) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Waits until the child `pid` has exited (it may stay a zombie: it is not
/// reaped) or `timeout` passed; true if it exited.
///
/// Waits on a pidfd (Linux 5.3+); without one it checks `exited` every
/// 2 ms instead.
pub(crate) fn wait_for_exit(
    pid: u32,
    timeout: Duration,
    mut exited: impl FnMut() -> bool,
) -> io::Result<bool> {
    if exited() {
        return Ok(true);
    }
    let deadline = Instant::now() + timeout;
    let Some(fd) = pidfd(pid)? else {
        // No pidfds here: poll the exit status.
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
            if exited() {
                return Ok(true);
            }
        }
        return Ok(exited());
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pollfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&raw mut pollfd, 1, millis) };
        if ready > 0 {
            return Ok(true);
        }
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        if Instant::now() >= deadline {
            return Ok(exited());
        }
    }
}

/// A descriptor of process `pid` that polls readable once it exited
/// (`pidfd_open`, Linux 5.3+); `None` on a kernel without pidfds.
pub(crate) fn pidfd(pid: u32) -> io::Result<Option<OwnedFd>> {
    let raw = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: pidfd_open(pid, 0) takes no pointers; it returns a new file
    // descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) };
    // A descriptor is a non-negative `c_int` (the syscall returns it as a
    // `c_long`); -1 is the error.
    match libc::c_int::try_from(fd) {
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        Ok(fd) if fd >= 0 => Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) })),
        _ => Ok(None),
    }
}

/// Waits until `child` has exited (without reaping it) or `timeout`
/// passed: [`wait_for_exit`] on a child of ours. True if it exited; false
/// on the timeout, or if it could not be waited for.
pub(crate) fn wait_for_child(child: &mut std::process::Child, timeout: Duration) -> bool {
    let pid = child.id();
    wait_for_exit(pid, timeout, || !matches!(child.try_wait(), Ok(None))).unwrap_or(false)
}

/// Makes the child `command` starts get `SIGKILL` when the thread that
/// starts it dies (`PR_SET_PDEATHSIG`), so a worker killed while a job's
/// process runs leaves no orphan behind; and start with no signal
/// blocked ([`clear_signal_mask_in_child`]).
pub(crate) fn kill_with_parent_thread(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls `prctl`, which is async-signal-safe, and reads `errno`.
    unsafe {
        let _ = command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    clear_signal_mask_in_child(command);
}

/// Makes the child `command` starts begin with no signal blocked: a
/// process with hearth's signal handling blocks the signals it handles
/// (`SIGINT`, `SIGTERM`, ...) on its threads, a child inherits that mask
/// through `exec`, and a program that does not clear it (bash, `sleep`;
/// dash does) would never see `SIGINT` or `SIGTERM`.
pub(crate) fn clear_signal_mask_in_child(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls `sigemptyset` and `pthread_sigmask` (async-signal-safe) on a
    // set on its own stack, and reads `errno`.
    unsafe {
        let _ = command.pre_exec(|| {
            let mut none = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            if libc::sigemptyset(none.as_mut_ptr()) == -1 {
                return Err(io::Error::last_os_error());
            }
            let errno =
                libc::pthread_sigmask(libc::SIG_SETMASK, none.as_ptr(), std::ptr::null_mut());
            if errno != 0 {
                return Err(io::Error::from_raw_os_error(errno));
            }
            Ok(())
        });
    }
}
