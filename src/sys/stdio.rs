//! Standard input and output for a byte protocol: taking them over, and
//! waiting on them with a time limit.

use std::fs::File;
use std::io;
use std::os::fd::FromRawFd;
use std::time::Duration;

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

/// Returns an unbuffered handle to the process's standard input (a
/// duplicate of descriptor 0, close-on-exec), so that what is read is
/// exactly what left the descriptor: a `poll` on it then tells whether
/// more is there (`std::io::Stdin` reads ahead into a buffer of its own).
pub(crate) fn take_stdin() -> io::Result<File> {
    // SAFETY: plain system call; a new descriptor (close-on-exec) is
    // returned or -1.
    let fd = unsafe { libc::fcntl(libc::STDIN_FILENO, libc::F_DUPFD_CLOEXEC, 3) };
    if fd == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// What [`wait_for_input`] saw.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Input {
    /// Nothing within the time limit.
    Nothing,
    /// Data to read (or the end of the stream after data).
    Data,
    /// The other end closed (or the descriptor failed) with no data left.
    HangUp,
}

/// Waits up to `timeout` until `fd` hangs up (the other end of a pipe or
/// socket closed) or, if `data`, until it has data to read, without
/// consuming anything.
pub(crate) fn wait_for_input(fd: libc::c_int, data: bool, timeout: Duration) -> Input {
    let mut pollfd = libc::pollfd {
        fd,
        // Without `data`: only the hang-up (always reported) and, for
        // sockets, the peer's shutdown; data arriving does not wake it.
        events: if data { libc::POLLIN } else { libc::POLLRDHUP },
        revents: 0,
    };
    let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    loop {
        // SAFETY: one valid `pollfd`, and its count.
        let n = unsafe { libc::poll(&raw mut pollfd, 1, millis) };
        if n == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return match n {
            0 => Input::Nothing,
            _ if data && pollfd.revents & libc::POLLIN != 0 => Input::Data,
            // A failed poll, a hang-up, an error or a bad descriptor: no
            // data will come.
            _ => Input::HangUp,
        };
    }
}

/// True if `fd` can be written now without blocking (for a pipe: it has
/// room for at least a page, so a small write goes through whole).
pub(crate) fn writable_now(fd: libc::c_int) -> bool {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`, and its count; no waiting.
    let n = unsafe { libc::poll(&raw mut pollfd, 1, 0) };
    n == 1 && pollfd.revents & libc::POLLOUT != 0 && pollfd.revents & libc::POLLERR == 0
}
