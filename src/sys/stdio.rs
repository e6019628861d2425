//! Taking over standard output for a byte protocol.

use std::fs::File;
use std::io;
use std::os::fd::FromRawFd;

/// Returns a private handle to the process's standard output and points
/// file descriptor 1 at standard error, so stray prints of the program (a
/// handler's `println!`) can no longer corrupt what is written to the
/// handle.
pub(crate) fn take_stdout() -> io::Result<File> {
    // SAFETY: plain system call; a new descriptor (close-on-exec) is
    // returned or -1.
    let fd = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_DUPFD_CLOEXEC, 3) };
    if fd == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor owned by nothing else.
    let file = unsafe { File::from_raw_fd(fd) };
    // SAFETY: both descriptors are valid; `dup2` atomically replaces fd 1.
    if unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Blocks until `fd` hangs up (the other end of a pipe or socket closed),
/// without consuming its data; returns at once on an error.
pub(crate) fn wait_for_hangup(fd: libc::c_int) {
    let mut pollfd = libc::pollfd {
        fd,
        // Only the hang-up (always reported) and, for sockets, the peer's
        // shutdown: data arriving does not wake it.
        events: libc::POLLRDHUP,
        revents: 0,
    };
    loop {
        // SAFETY: one valid `pollfd`, and its count; no timeout.
        let n = unsafe { libc::poll(&mut pollfd, 1, -1) };
        if n == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return;
    }
}
