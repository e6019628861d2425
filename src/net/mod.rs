//! Networking for actors: TCP ([`TcpListener`], [`TcpStream`],
//! [`TcpServer`]), UDP ([`UdpSocket`]) and Unix domain sockets
//! ([`UnixListener`], [`UnixStream`], [`UnixDatagram`], [`UnixServer`]).
//!
//! The TCP and UDP types take the runtime access of the actors that use
//! them as their type parameter ([`SocketMode`]): thread-local sockets (the
//! default, `TcpStream` is `TcpStream<ThreadLocal>`) are registered on the
//! `mio::Poll` of the worker whose actor made them and are not `Send`;
//! thread-safe ones (`TcpStream<ThreadSafe>`) are registered on a poll all
//! workers share, so the thread-safe actor using one may run on any worker
//! and is woken wherever it runs next. The constructors take the access
//! that makes the socket (`ctx.runtime()`, a [`RuntimeRef`](crate::RuntimeRef)
//! or a [`ThreadSafe`](crate::ThreadSafe)). The Unix socket types are
//! thread-local only: a thread-safe actor that serves a Unix socket hands
//! its connections to thread-local actors, or uses TCP on loopback. Every
//! operation returns a future that tries the system call first and waits
//! for readiness only when it would block; a stream's reads and writes also
//! have poll forms (`TcpStream::poll_read`, ...) for adapters to other I/O
//! traits, such as hyper's (`hearth::http`, feature `hyper`).
//!
//! [`TcpServer`] binds one listener per worker on the same port
//! (`SO_REUSEPORT`) and starts an actor per connection: a thread-local one
//! that stays on the worker that accepted it, or a thread-safe one that
//! runs on whichever worker is free. Its documentation says when to choose
//! which. [`UnixServer`] does the same with thread-local connections on a
//! Unix path, whose one socket every worker's listener shares. Both also
//! serve a socket bound elsewhere, such as one passed by systemd
//! ([`crate::systemd::listeners`]).

pub(crate) mod mode;
mod server;
mod server_stats;
mod server_thread_safe;
mod shared_source;
mod source;
pub(crate) mod stalled;
pub(crate) mod stream_io;
mod tcp;
mod tcp_server;
mod udp;
mod unix;
mod unix_server;

pub use mode::{SocketAccess, SocketMode};
pub use server::ServerMessage;
pub use tcp::{Incoming, TcpListener, TcpStream};
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
