//! `recv(2)` beyond what `Read` offers: peeking a stream socket (the bytes
//! stay for the next read), and reading into memory that is not
//! initialised yet, as hyper's read buffers are (the kernel writes the
//! bytes it returns, so nothing needs zeroing first).

use std::io;
#[cfg(feature = "hyper")]
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `recv(2)` of at most `buf.len()` bytes from `socket` with `MSG_PEEK`:
/// the bytes are copied into `buf` and stay in the socket, for the next
/// read to take. `Ok(0)` at the end of the stream (or for an empty `buf`).
pub(crate) fn peek(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the descriptor is borrowed for the call, so it is open; the
    // pointer and length describe `buf`, which is borrowed mutably for the
    // call, and `recv` writes at most `len` bytes into it.
    let n = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK,
        )
    };
    // Negative (-1) only on error.
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// `recv(2)` of at most `buf.len()` bytes from `socket` without flags;
/// `Ok(n)` means the first `n` bytes of `buf` are now initialised.
#[cfg(feature = "hyper")]
pub(crate) fn recv_uninit(socket: &impl AsRawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe `buf`, which is borrowed
    // mutably for the call; `recv` only writes into it (never reads), so
    // its bytes need not be initialised, and it writes at most `len`.
    let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    // Negative (-1) only on error.
    let Ok(n) = usize::try_from(n) else {
        return Err(io::Error::last_os_error());
    };
    debug_assert!(n <= buf.len(), "recv returned more than asked for");
    Ok(n)
}
