//! Networking for actors: TCP ([`TcpListener`], [`TcpStream`],
//! [`TcpServer`]), UDP ([`UdpSocket`]) and Unix domain sockets
//! ([`UnixListener`], [`UnixStream`], [`UnixDatagram`], [`UnixServer`]).
//!
//! Sockets are registered on the `mio::Poll` of the worker whose actor owns
//! them, so they are used by thread-local actors (`Context<M, ThreadLocal>`)
//! and are not `Send`. Every operation is an `async fn` that tries the system
//! call first and waits for readiness only when it would block; a stream's
//! reads and writes also have poll forms (`TcpStream::poll_read`, ...) for
//! adapters to other I/O traits, such as hyper's (`hearth::http`, feature
//! `hyper`).
//!
//! [`TcpServer`] binds one listener per worker on the same port
//! (`SO_REUSEPORT`) and starts a thread-local actor per connection.
//! [`UnixServer`] does the same on a Unix path, whose one socket every
//! worker's listener shares. Both also serve a socket bound elsewhere, such
//! as one passed by systemd ([`crate::systemd::listeners`]).

mod server;
mod server_stats;
mod source;
mod stalled;
mod stream_io;
mod tcp;
mod tcp_server;
mod udp;
mod unix;
mod unix_server;

pub use server::ServerMessage;
pub use tcp::{TcpListener, TcpStream};
pub use tcp_server::TcpServer;
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream, remove_stale_socket};
pub use unix_server::UnixServer;

pub(crate) use server_stats::{ServerSnapshot, ServerStats};

use std::io;
use std::net::SocketAddr;

/// Adds the address to an error of binding or connecting, e.g.
/// `bind 127.0.0.1:80: Permission denied (os error 13)`.
fn with_addr(what: &str, addr: SocketAddr, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {addr}: {err}"))
}
