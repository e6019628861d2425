//! `SO_INCOMING_CPU`: the CPU whose packets a socket is for. Set on a
//! listener in a `SO_REUSEPORT` group, it makes the kernel give the
//! connections it handles on that CPU to that listener; read on any
//! socket, it says on which CPU the kernel handled its last packet (or
//! what was set, until a packet came).

use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::BorrowedFd;

/// Sets `SO_INCOMING_CPU` of `socket` to `cpu`.
///
/// # Errors
///
/// `ENOPROTOOPT` from a kernel without the option (before Linux 4.4);
/// `InvalidInput` for a CPU number the option cannot hold.
pub(crate) fn set_incoming_cpu(socket: BorrowedFd<'_>, cpu: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(cpu).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {cpu} is out of SO_INCOMING_CPU's range"),
        )
    })?;
    // SAFETY: the value pointer and length describe a live `c_int`, which
    // the kernel only reads; it checks the descriptor itself.
    let res = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_INCOMING_CPU,
            (&raw const value).cast(),
            super::socklen_of::<libc::c_int>(),
        )
    };
    if res == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Reads `SO_INCOMING_CPU` of `socket`: `None` when the kernel has none
/// (nothing set and no packet handled yet).
///
/// # Errors
///
/// As [`set_incoming_cpu`].
pub(crate) fn incoming_cpu(socket: BorrowedFd<'_>) -> io::Result<Option<usize>> {
    let mut value: libc::c_int = -1;
    let mut len = super::socklen_of::<libc::c_int>();
    // SAFETY: the value pointer and length describe a live `c_int`; the
    // kernel writes at most `len` bytes and checks the descriptor itself.
    let res = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_INCOMING_CPU,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    if res == -1 {
        return Err(io::Error::last_os_error());
    }
    // Negative (-1) when unknown.
    Ok(usize::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    use super::{incoming_cpu, set_incoming_cpu};

    #[test]
    fn what_is_set_is_read_back() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        match set_incoming_cpu(socket.as_fd(), 0) {
            Err(err) if err.raw_os_error() == Some(libc::ENOPROTOOPT) => {
                eprintln!("skipped: this kernel has no SO_INCOMING_CPU ({err})");
                return;
            }
            result => result.unwrap(),
        }
        assert_eq!(incoming_cpu(socket.as_fd()).unwrap(), Some(0));
        let err = set_incoming_cpu(socket.as_fd(), usize::MAX).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}
