//! Passing an open descriptor to another process over a Unix socket
//! (`sendmsg` with `SCM_RIGHTS`), as ssh's `ProxyUseFdpass` takes its
//! connection from a proxy command.

use std::io;
use std::os::fd::RawFd;

/// Room for one `cmsghdr` carrying one descriptor, aligned as `cmsghdr`.
#[repr(C)]
union Control {
    header: libc::cmsghdr,
    bytes: [u8; 64],
}

/// Sends `fd` over the Unix socket `over`, with one byte of data (a
/// descriptor cannot travel alone on a stream socket).
pub(crate) fn send_fd(over: RawFd, fd: RawFd) -> io::Result<()> {
    let mut byte = [0u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = Control { bytes: [0; 64] };
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let space = unsafe { libc::CMSG_SPACE(super::socklen_of::<RawFd>()) };
    assert!(
        space as usize <= size_of::<Control>(),
        "one descriptor fits"
    );
    // SAFETY: `msghdr` is plain data, valid all zero; the fields set below
    // point to `iov` and `control`, which outlive every use of `msg`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = (&raw mut control).cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` has a control buffer of `space` bytes (at most 64, the
    // size of `control`), so CMSG_FIRSTHDR returns a pointer to its start,
    // aligned for `cmsghdr` by the union; CMSG_DATA points inside it, past
    // the header, with room for one descriptor (CMSG_SPACE of its size).
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&raw const msg);
        if header.is_null() {
            return Err(io::Error::other("no room for the descriptor's header"));
        }
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(super::socklen_of::<RawFd>()) as _;
        libc::CMSG_DATA(header).cast::<RawFd>().write_unaligned(fd);
    }
    // SAFETY: `over` is the caller's descriptor; `msg` points to live
    // buffers that the kernel only reads.
    let sent = unsafe { libc::sendmsg(over, &raw const msg, libc::MSG_NOSIGNAL) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::os::unix::net::UnixStream;

    use super::send_fd;

    /// Receives one descriptor sent by `send_fd`.
    fn recv_fd(over: RawFd) -> OwnedFd {
        let mut byte = [0u8];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let mut control = [0u64; 8];
        // SAFETY: as in `send_fd`; the kernel writes at most the lengths
        // given into `iov` and `control`, which outlive the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control) as _;
        // SAFETY: `over` is an open socket; `msg` points to live buffers.
        assert_eq!(unsafe { libc::recvmsg(over, &raw mut msg, 0) }, 1);
        // SAFETY: the kernel filled one `SCM_RIGHTS` header in `control`.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(&raw const msg);
            assert!(!header.is_null());
            assert_eq!((*header).cmsg_type, libc::SCM_RIGHTS);
            OwnedFd::from_raw_fd(libc::CMSG_DATA(header).cast::<RawFd>().read_unaligned())
        }
    }

    /// The descriptor that arrives is the same open file: what is written
    /// to it comes out of the pair's other end.
    #[test]
    fn the_receiver_gets_the_same_open_file() {
        let (sender, receiver) = UnixStream::pair().unwrap();
        let (mut kept, passed) = UnixStream::pair().unwrap();
        send_fd(sender.as_raw_fd(), passed.as_raw_fd()).unwrap();
        drop(passed);
        let mut got = UnixStream::from(recv_fd(receiver.as_raw_fd()));
        got.write_all(b"through").unwrap();
        drop(got);
        let mut read = String::new();
        let _ = kept.read_to_string(&mut read).unwrap();
        assert_eq!(read, "through");
    }

    /// Sending over something that is not a socket is an error, not a
    /// crash.
    #[test]
    fn a_descriptor_that_is_no_socket_is_an_error() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let (_, passed) = UnixStream::pair().unwrap();
        assert!(send_fd(file.as_raw_fd(), passed.as_raw_fd()).is_err());
    }
}
