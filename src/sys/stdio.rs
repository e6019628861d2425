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
