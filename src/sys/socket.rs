//! TCP listeners that share their port (`SO_REUSEPORT`), so every worker
//! can accept on a listener of its own and the kernel spreads the
//! connections; and `SO_KEEPALIVE` of a connection, set and read.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::sockaddr::SockAddr;

/// Backlog of pending connections per listener.
const BACKLOG: libc::c_int = 1024;

/// Binds a non-blocking listener on `addr` with `SO_REUSEADDR` and
/// `SO_REUSEPORT` set.
pub(crate) fn reuse_port_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = stream_socket(addr)?;
    let fd = socket.as_raw_fd();
    set_option(fd, libc::SO_REUSEADDR)?;
    set_option(fd, libc::SO_REUSEPORT)?;
    bind(fd, addr)?;
    // SAFETY: `fd` is a valid, bound socket.
    if unsafe { libc::listen(fd, BACKLOG) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpListener::from(socket))
}

/// Fails with `EADDRINUSE` if another socket listens on `addr`, even one
/// that shares its port (`SO_REUSEPORT`, e.g. another process's server):
/// a socket bound there without `SO_REUSEPORT` (not listening, closed
/// again) cannot be. A server's first listener asks first, so a second
/// server on the same port fails as a plain bind does instead of taking a
/// share of the connections. Port 0 is always free.
pub(crate) fn port_free(addr: SocketAddr) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    let socket = stream_socket(addr)?;
    // Not in the way of the sockets still in TIME_WAIT of an earlier run.
    set_option(socket.as_raw_fd(), libc::SO_REUSEADDR)?;
    bind(socket.as_raw_fd(), addr)
}

/// A new non-blocking, close-on-exec TCP socket for `addr`'s family.
fn stream_socket(addr: SocketAddr) -> io::Result<OwnedFd> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain system call with constant arguments.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `socket` returned a new descriptor that nothing else owns; the
    // `OwnedFd` closes it on every error path of the callers.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Turns `SO_KEEPALIVE` on for the open socket `fd`.
pub(crate) fn set_keepalive(fd: libc::c_int) -> io::Result<()> {
    set_option(fd, libc::SO_KEEPALIVE)
}

/// Sets `SO_KEEPALIVE` of the open socket `fd` to `on`.
pub(crate) fn set_keepalive_to(fd: libc::c_int, on: bool) -> io::Result<()> {
    set_option_to(fd, libc::SO_KEEPALIVE, on)
}

/// Reads `SO_KEEPALIVE` of the open socket `fd`.
pub(crate) fn keepalive(fd: libc::c_int) -> io::Result<bool> {
    super::socket_info::int_option(fd, libc::SO_KEEPALIVE).map(|value| value != 0)
}

fn set_option(fd: libc::c_int, option: libc::c_int) -> io::Result<()> {
    set_option_to(fd, option, true)
}

fn set_option_to(fd: libc::c_int, option: libc::c_int, on: bool) -> io::Result<()> {
    let on = libc::c_int::from(on);
    // SAFETY: `fd` is a valid socket and the value pointer and length
    // describe a live `c_int`.
    let res = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&raw const on).cast(),
            super::socklen_of::<libc::c_int>(),
        )
    };
    if res == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn bind(fd: libc::c_int, addr: SocketAddr) -> io::Result<()> {
    let addr = SockAddr::from(addr);
    // SAFETY: `fd` is a valid socket; the pointer and length describe the
    // live address above.
    if unsafe { libc::bind(fd, addr.as_ptr(), addr.len()) } == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
