//! Networking for actors: [`TcpListener`], [`TcpStream`], [`UdpSocket`]
//! and [`TcpServer`].
//!
//! Each socket type takes the runtime access of the actors that use it as
//! its type parameter ([`SocketMode`]): thread-local sockets (the default,
//! `TcpStream` is `TcpStream<ThreadLocal>`) are registered on the
//! `mio::Poll` of the worker whose actor made them and are not `Send`;
//! thread-safe ones (`TcpStream<ThreadSafe>`) are registered on a poll all
//! workers share, so the thread-safe actor using one may run on any worker
//! and is woken wherever it runs next. The constructors take the access
//! that makes the socket (`ctx.runtime()`, a [`RuntimeRef`](crate::RuntimeRef)
//! or a [`ThreadSafe`](crate::ThreadSafe)). Every operation is an `async
//! fn` that tries the system call first and waits for readiness only when
//! it would block; a stream's reads and writes also have poll forms
//! (`TcpStream::poll_read`, ...) for adapters to other I/O traits, such as
//! hyper's (`hearth::http`, feature `hyper`).
//!
//! [`TcpServer`] binds one listener per worker on the same port
//! (`SO_REUSEPORT`) and starts an actor per connection: a thread-local one
//! that stays on the worker that accepted it, or a thread-safe one that
//! runs on whichever worker is free. Its documentation says when to choose
//! which.

mod mode;
mod server;
mod server_stats;
mod server_thread_safe;
mod shared_source;
mod source;
mod stalled;
mod tcp;
mod udp;

pub use mode::{SocketAccess, SocketMode};
pub use server::{ServerMessage, TcpServer};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;

pub(crate) use server_stats::ServerStats;

use std::io;
use std::net::SocketAddr;

/// Adds the address to an error of binding or connecting, e.g.
/// `bind 127.0.0.1:80: Permission denied (os error 13)`.
fn with_addr(what: &str, addr: SocketAddr, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {addr}: {err}"))
}
