//! What a socket handed to the process is (its family, type and whether it
//! listens), and the descriptor flags hearth sets on sockets it takes over:
//! for sockets passed by systemd and listeners given by the application.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// The family, type and listening state of a socket.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) struct SocketInfo {
    /// `AF_INET`, `AF_INET6`, `AF_UNIX`, ...
    pub(crate) domain: libc::c_int,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_SEQPACKET`, ...
    pub(crate) ty: libc::c_int,
    /// `listen` was called on it (`SO_ACCEPTCONN`).
    pub(crate) listening: bool,
}

impl SocketInfo {
    /// A short description for error messages, e.g. `a listening TCP
    /// socket` or `a Unix datagram socket`.
    pub(crate) fn describe(&self) -> String {
        let family = match self.domain {
            libc::AF_INET | libc::AF_INET6 => match self.ty {
                libc::SOCK_STREAM => "TCP",
                libc::SOCK_DGRAM => "UDP",
                _ => "IP",
            },
            libc::AF_UNIX => "Unix",
            libc::AF_NETLINK => "netlink",
            libc::AF_VSOCK => "vsock",
            _ => "other-family",
        };
        let ty = match self.ty {
            libc::SOCK_STREAM => "stream",
            libc::SOCK_DGRAM => "datagram",
            libc::SOCK_SEQPACKET => "seqpacket",
            libc::SOCK_RAW => "raw",
            _ => "other-type",
        };
        if self.listening {
            format!("a listening {family} {ty} socket")
        } else {
            format!("a {family} {ty} socket")
        }
    }
}

/// Reads the family, type and listening state of `fd`.
///
/// # Errors
///
/// `ENOTSOCK` for a descriptor that is not a socket (a file, a pipe),
/// `EBADF` for one that is not open.
pub(crate) fn socket_info(fd: BorrowedFd<'_>) -> io::Result<SocketInfo> {
    let fd = fd.as_raw_fd();
    Ok(SocketInfo {
        domain: int_option(fd, libc::SO_DOMAIN)?,
        ty: int_option(fd, libc::SO_TYPE)?,
        listening: int_option(fd, libc::SO_ACCEPTCONN)? != 0,
    })
}

/// Reads the `SOL_SOCKET` option `option` of the socket `fd`, an `int`.
pub(crate) fn int_option(fd: RawFd, option: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = super::socklen_of::<libc::c_int>();
    // SAFETY: the value pointer and length describe a live `c_int`; the
    // kernel checks `fd` and writes at most `len` bytes.
    let res = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    if res == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(value)
    }
}

/// True if `fd` is an open descriptor of this process.
pub(crate) fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; an fd that is not
    // open gives EBADF and changes nothing.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Sets close-on-exec on `fd`, so processes the program starts (remote
/// pool slots, commands) do not inherit it. Descriptors passed by systemd
/// come without it.
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: F_GETFD and F_SETFD read and set the descriptor flags of an
    // fd the caller borrows; nothing else is touched.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::FD_CLOEXEC != 0 {
        return Ok(());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn tells_listeners_from_other_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let info = socket_info(listener.as_fd()).unwrap();
        assert_eq!((info.ty, info.listening), (libc::SOCK_STREAM, true));
        assert_eq!(info.describe(), "a listening TCP stream socket");
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            socket_info(udp.as_fd()).unwrap().describe(),
            "a UDP datagram socket"
        );
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(
            socket_info(a.as_fd()).unwrap().describe(),
            "a Unix stream socket"
        );
    }

    #[test]
    fn a_file_is_not_a_socket() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let err = socket_info(file.as_fd()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTSOCK));
    }

    #[test]
    fn cloexec_is_set() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let fd = file.as_raw_fd();
        // SAFETY: clears the flag on a descriptor the test owns.
        assert_ne!(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }, -1);
        set_cloexec(file.as_fd()).unwrap();
        // SAFETY: reads the flags of the same descriptor.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        assert!(is_open(fd));
        assert!(!is_open(-1));
    }
}
