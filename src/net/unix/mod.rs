//! Unix domain sockets for thread-local actors: [`UnixListener`],
//! [`UnixStream`] and [`UnixDatagram`], registered on their worker's poll
//! as the TCP and UDP sockets are, with the same readiness bookkeeping
//! (`worker/sources.rs`) and, for streams, the same stalled-write limit.
//!
//! Sockets bound to a path own the file they made (`socket_file.rs`).

mod datagram;
mod listener;
pub(crate) mod socket_file;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::UnixListener;
pub use socket_file::remove_stale_socket;
pub use stream::UnixStream;
