//! UDP socket, for thread-local or thread-safe actors (see
//! [`SocketMode`]).

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};

use mio::Interest;

use super::mode::private::Io;
use super::stream_io::{self, Fill, One, RecvBytes};
use super::{SocketAccess, SocketMode, with_addr};
use crate::bytes::Bytes;
use crate::worker::sources::Direction;
use crate::{ThreadLocal, sys};

/// A UDP socket: on the worker of the actor that made it
/// (`UdpSocket<ThreadLocal>`, the default), or on the runtime's shared poll
/// for thread-safe actors (`UdpSocket<ThreadSafe>`, which is `Send`; see
/// [`SocketMode`]).
pub struct UdpSocket<RT: SocketMode = ThreadLocal> {
    io: RT::Io<mio::net::UdpSocket>,
}

impl<RT: SocketMode> UdpSocket<RT> {
    /// Binds a socket to `addr` (port 0 picks a free port), for the actors
    /// of `rt`'s kind.
    ///
    /// # Errors
    ///
    /// The OS error, with the address.
    pub fn bind<A>(rt: &mut A, addr: SocketAddr) -> io::Result<UdpSocket<RT>>
    where
        A: SocketAccess<RT>,
    {
        let socket = mio::net::UdpSocket::bind(addr).map_err(|err| with_addr("bind", addr, err))?;
        let io = RT::register(
            rt.socket_handle(),
            socket,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(UdpSocket { io })
    }

    /// Takes over a bound std socket (one bound with options of the
    /// application's, or passed by systemd: see
    /// [`crate::systemd::listeners`]), for the actors of `rt`'s kind; it is
    /// made non-blocking.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    pub fn from_std<A>(rt: &mut A, socket: std::net::UdpSocket) -> io::Result<UdpSocket<RT>>
    where
        A: SocketAccess<RT>,
    {
        socket.set_nonblocking(true)?;
        let io = RT::register(
            rt.socket_handle(),
            mio::net::UdpSocket::from_std(socket),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(UdpSocket { io })
    }

    /// Sends `buf` to `target`.
    pub async fn send_to(&mut self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io
                .poll_io(Direction::Write, cx, |s| s.send_to(buf, target))
        })
        .await
    }

    /// Receives a datagram into `buf`'s room: its length and sender. `buf`
    /// is a [`Bytes`] buffer, as Heph's `recv_from` takes it: a byte slice
    /// or array (all of it), or a `Vec<u8>`'s spare capacity, which grows
    /// its length by what came. A datagram longer than the room is cut to
    /// it.
    ///
    /// # Errors
    ///
    /// The OS error; `InvalidInput` for a buffer with no room (a vector
    /// full to its capacity), before any system call, so no datagram is
    /// taken and lost.
    pub fn recv_from<B: Bytes>(
        &mut self,
        buf: B,
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> {
        RecvBytes::datagram(&mut self.io, One(buf), Fill::Recv, "recv_from", with_sender)
    }

    /// Sets the default peer, for [`UdpSocket::send`] and
    /// [`UdpSocket::recv`]; datagrams from others are dropped.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        self.io
            .get()
            .connect(addr)
            .map_err(|err| with_addr("connect", addr, err))
    }

    /// Sends `buf` to the connected peer.
    pub async fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_io(Direction::Write, cx, |s| s.send(buf))).await
    }

    /// Receives a datagram from the connected peer into `buf`'s room, as
    /// [`UdpSocket::recv_from`] does.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::recv_from`].
    pub fn recv<B: Bytes>(&mut self, buf: B) -> impl Future<Output = io::Result<usize>> {
        RecvBytes::datagram(&mut self.io, One(buf), Fill::Recv, "recv", stream_io::count)
    }

    /// Receives a datagram into `buf`'s room without taking it: the next
    /// receive gets it again. Returns its length (up to the room's) and
    /// sender.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::recv_from`].
    pub fn peek_from<B: Bytes>(
        &mut self,
        buf: B,
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> {
        RecvBytes::datagram(&mut self.io, One(buf), Fill::Peek, "peek_from", with_sender)
    }

    /// Receives a datagram from the connected peer into `buf`'s room
    /// without taking it.
    ///
    /// # Errors
    ///
    /// As [`UdpSocket::recv_from`].
    pub fn peek<B: Bytes>(&mut self, buf: B) -> impl Future<Output = io::Result<usize>> {
        RecvBytes::datagram(&mut self.io, One(buf), Fill::Peek, "peek", stream_io::count)
    }

    /// Sends the buffers as one datagram to `target` (one system call, no
    /// copy into one buffer first).
    pub async fn send_to_vectored(
        &mut self,
        bufs: &[IoSlice<'_>],
        target: SocketAddr,
    ) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io.poll_io(Direction::Write, cx, |s| {
                sys::send_vectored(s.as_raw_fd(), bufs, Some(target))
            })
        })
        .await
    }

    /// Sends the buffers as one datagram to the connected peer.
    pub async fn send_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io.poll_io(Direction::Write, cx, |s| {
                sys::send_vectored(s.as_raw_fd(), bufs, None)
            })
        })
        .await
    }

    /// Receives a datagram into the buffers, in order: its length and
    /// sender.
    pub async fn recv_from_vectored(
        &mut self,
        bufs: &mut [IoSliceMut<'_>],
    ) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| {
            self.io.poll_io(Direction::Read, cx, |s| {
                let (len, from) = sys::recv_vectored(s.as_raw_fd(), bufs)?;
                let from = from.ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "datagram from a non-IP address")
                })?;
                Ok((len, from))
            })
        })
        .await
    }

    /// Receives a datagram from the connected peer into the buffers.
    pub async fn recv_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        poll_fn(|cx| {
            self.io.poll_io(Direction::Read, cx, |s| {
                sys::recv_vectored(s.as_raw_fd(), bufs).map(|(len, _)| len)
            })
        })
        .await
    }

    /// Takes the socket's pending error (`SO_ERROR`), e.g. the
    /// "connection refused" an ICMP message left for a connected socket.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The CPU of the socket's datagrams (`SO_INCOMING_CPU`), if known:
    /// where the kernel handled the last one it received, or, until one
    /// comes, the CPU set when the socket was made. A thread-local socket
    /// made on a worker pinned to a CPU
    /// ([`RuntimeRef::cpu`](crate::RuntimeRef::cpu)) is set to that CPU,
    /// which in a group of sockets sharing a port (`SO_REUSEPORT`) steers
    /// the datagrams the kernel handles there to it.
    ///
    /// # Errors
    ///
    /// `ENOPROTOOPT` from a kernel without the option (before Linux 3.19).
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::net::UdpSocket;
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let socket: UdpSocket<ThreadSafe> =
    ///         UdpSocket::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     // Thread-safe sockets are not steered: their actors run anywhere.
    ///     assert_eq!(socket.incoming_cpu()?, None);
    ///     Ok::<_, std::io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn incoming_cpu(&self) -> io::Result<Option<usize>> {
        sys::incoming_cpu(self.io.get().as_fd())
    }
}

/// A datagram's length and its sender, which must have an IP address.
fn with_sender(len: usize, from: Option<SocketAddr>) -> io::Result<(usize, SocketAddr)> {
    let from = from.ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "datagram from a non-IP address")
    })?;
    Ok((len, from))
}

// Nothing in a socket is pinned (its futures borrow it), whatever the mode.
impl<RT: SocketMode> Unpin for UdpSocket<RT> {}

impl<RT: SocketMode> fmt::Debug for UdpSocket<RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
