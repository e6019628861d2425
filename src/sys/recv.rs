//! `recv(2)` into memory that is not initialised yet, as hyper's read
//! buffers are (the kernel writes the bytes it returns, so nothing needs
//! zeroing first). Peeks and Heph's receives into [`Bytes`] buffers go
//! through `recvmsg` (`msg.rs`).
//!
//! [`Bytes`]: crate::bytes::Bytes

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

/// `recv(2)` of at most `buf.len()` bytes from `socket` without flags;
/// `Ok(n)` means the first `n` bytes of `buf` are now initialised.
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
