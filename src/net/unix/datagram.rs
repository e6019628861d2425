//! Unix datagram socket.
//!
//! A datagram sent with `send_to` to a receiver whose queue is full gets
//! `EAGAIN`, and the kernel tells a waiting sender when that receiver has
//! room only if the sender is connected to it. For an unconnected sender
//! the failed send itself makes its own socket report writable again (the
//! buffer it had taken for the datagram is given back), so waiting for
//! write readiness, as every other send does, wakes at once, fails again
//! and spins on a core for as long as the receiver is full. Unconnected
//! sends (`send_to`, `send_to_addr`) therefore wait on a timer instead
//! (1 ms, doubling up to 64 ms) and try again; connected sends (`send`)
//! wait for readiness, which the kernel reports only once the peer has
//! room.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token, event};

use super::socket_file::{SocketFile, bind_error, describe};
use crate::RuntimeRef;
use crate::bytes::Bytes;
use crate::net::mode::private::Io;
use crate::net::source::Registered;
use crate::net::stream_io::{self, Fill, One, RecvBytes};
use crate::timer::Timer;
use crate::worker::sources::Direction;

/// A Unix datagram socket, registered on the worker of the actor that made
/// it: the counterpart of [`UdpSocket`](crate::net::UdpSocket).
///
/// A socket bound to a path by [`UnixDatagram::bind`] made the file there
/// and removes it when dropped (if the path still names that file).
///
/// # Examples
///
/// ```
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::UnixDatagram;
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
///
/// async fn pair(mut ctx: Context<(), ThreadLocal>) -> std::io::Result<()> {
///     let (mut a, mut b) = UnixDatagram::pair(ctx.runtime())?;
///     a.send(b"one").await?;
///     a.send(b"two").await?;
///     let mut buf = [0; 16];
///     let n = b.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"one", "datagrams keep their bounds");
///     let n = b.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"two");
///     Ok(())
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().build()?;
/// runtime.run_on_workers(|mut rt: RuntimeRef| {
///     let _ = rt.spawn_local(NoSupervisor, actor_fn(pair), (), ActorOptions::default());
/// });
/// runtime.start()
/// # }
/// ```
pub struct UnixDatagram {
    io: Registered<FdSource<std::os::unix::net::UnixDatagram>>,
    /// The socket file `bind` made, removed after the socket is closed.
    _file: Option<SocketFile>,
}

/// A std socket as a `mio` source, by its descriptor.
struct FdSource<T>(T);

impl<T: AsRawFd> event::Source for FdSource<T> {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

impl<T: AsRawFd> AsRawFd for FdSource<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// The first wait of an unconnected send whose receiver is full.
const FIRST_RETRY: Duration = Duration::from_millis(1);
/// The longest.
const LAST_RETRY: Duration = Duration::from_millis(64);

impl UnixDatagram {
    /// Binds a socket to the file system path `path`, which must not exist.
    ///
    /// # Errors
    ///
    /// The OS error, with the path (see
    /// [`UnixListener::bind`](crate::net::UnixListener::bind)).
    pub fn bind<P: AsRef<Path>>(rt: &mut RuntimeRef, path: P) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        let socket =
            std::os::unix::net::UnixDatagram::bind(path).map_err(|err| bind_error(path, err))?;
        UnixDatagram::register_created(rt, socket)
    }

    /// Binds a socket to `addr`: a path, or on Linux an abstract name.
    ///
    /// # Errors
    ///
    /// The OS error, with the address.
    pub fn bind_addr(rt: &mut RuntimeRef, addr: &SocketAddr) -> io::Result<UnixDatagram> {
        let socket = std::os::unix::net::UnixDatagram::bind_addr(addr).map_err(|err| match addr
            .as_pathname()
        {
            Some(path) => bind_error(path, err),
            None => io::Error::new(err.kind(), format!("bind {}: {err}", describe(addr))),
        })?;
        UnixDatagram::register_created(rt, socket)
    }

    /// A socket bound to no address, to send to others (their answers
    /// cannot reach it unless it is connected).
    pub fn unbound(rt: &mut RuntimeRef) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(rt, std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// A pair of connected sockets, both registered on this worker.
    pub fn pair(rt: &mut RuntimeRef) -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((
            UnixDatagram::from_std(rt, a)?,
            UnixDatagram::from_std(rt, b)?,
        ))
    }

    /// Takes over a std socket (bound elsewhere, or passed by systemd); it
    /// is made non-blocking. Its file, if any, is not removed by hearth.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    pub fn from_std(
        rt: &mut RuntimeRef,
        socket: std::os::unix::net::UnixDatagram,
    ) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::register(rt, socket, None)
    }

    fn register_created(
        rt: &RuntimeRef,
        socket: std::os::unix::net::UnixDatagram,
    ) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        let file = SocketFile::created(&socket.local_addr()?);
        UnixDatagram::register(rt, socket, file)
    }

    fn register(
        rt: &RuntimeRef,
        socket: std::os::unix::net::UnixDatagram,
        file: Option<SocketFile>,
    ) -> io::Result<UnixDatagram> {
        let io = Registered::new(
            rt,
            FdSource(socket),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(UnixDatagram { io, _file: file })
    }

    /// Sets the default peer, for [`UnixDatagram::send`] and
    /// [`UnixDatagram::recv`]; datagrams from others are dropped.
    ///
    /// # Errors
    ///
    /// The OS error, with the path.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let path = path.as_ref();
        self.io
            .get()
            .0
            .connect(path)
            .map_err(|err| io::Error::new(err.kind(), format!("connect {}: {err}", path.display())))
    }

    /// [`UnixDatagram::connect`] to `addr`: a path or an abstract name.
    ///
    /// # Errors
    ///
    /// The OS error, with the address.
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.io
            .get()
            .0
            .connect_addr(addr)
            .map_err(|err| io::Error::new(err.kind(), format!("connect {}: {err}", describe(addr))))
    }

    /// Sends `buf` as one datagram to the socket at `path`. Waits while the
    /// receiver's queue is full, trying again on a timer (1 ms, doubling up
    /// to 64 ms): the kernel does not tell an unconnected sender when the
    /// receiver has room. Connect the socket to be woken at once instead.
    pub async fn send_to<P: AsRef<Path>>(&mut self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.send_unconnected(|s| s.send_to(buf, path)).await
    }

    /// Sends `buf` as one datagram to `addr`: a path or an abstract name.
    pub async fn send_to_addr(&mut self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.send_unconnected(|s| s.send_to_addr(buf, addr)).await
    }

    /// Runs an unconnected send: the system call, and while it says
    /// `WouldBlock` a timer before the next try (see the module's notes:
    /// a readiness event would come at once and mean nothing).
    async fn send_unconnected(
        &mut self,
        mut send: impl FnMut(&std::os::unix::net::UnixDatagram) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut retry: Option<Timer<RuntimeRef>> = None;
        let mut wait = FIRST_RETRY;
        poll_fn(|cx| {
            loop {
                if let Some(timer) = &mut retry {
                    if Pin::new(timer).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    retry = None;
                }
                match send(&self.io.get().0) {
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                        retry = Some(Timer::after(self.io.handle().clone(), wait));
                        wait = (wait * 2).min(LAST_RETRY);
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    result => return Poll::Ready(result),
                }
            }
        })
        .await
    }

    /// Receives a datagram; returns its length and sender (unnamed if the
    /// sender is not bound).
    pub async fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.io.poll_io(Direction::Read, cx, |s| s.0.recv_from(buf))).await
    }

    /// Sends `buf` to the connected peer, waiting while its queue is full.
    pub async fn send(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.io.poll_io(Direction::Write, cx, |s| s.0.send(buf))).await
    }

    /// Receives a datagram from the connected peer into `buf`'s room.
    /// `buf` is a [`Bytes`] buffer, as Heph's `recv` takes it: a byte
    /// slice or array (all of it), or a `Vec<u8>`'s spare capacity, which
    /// grows its length by what came. A datagram longer than the room is
    /// cut to it.
    ///
    /// # Errors
    ///
    /// The OS error; `InvalidInput` for a buffer with no room (a vector
    /// full to its capacity), before any system call, so no datagram is
    /// taken and lost.
    pub fn recv<B: Bytes>(&mut self, buf: B) -> impl Future<Output = io::Result<usize>> {
        RecvBytes::datagram(&mut self.io, One(buf), Fill::Recv, "recv", stream_io::count)
    }

    /// Receives a datagram from the connected peer into `buf`'s room
    /// without taking it: the next receive gets it again. As Heph's
    /// `peek`.
    ///
    /// # Errors
    ///
    /// As [`UnixDatagram::recv`].
    pub fn peek<B: Bytes>(&mut self, buf: B) -> impl Future<Output = io::Result<usize>> {
        RecvBytes::datagram(&mut self.io, One(buf), Fill::Peek, "peek", stream_io::count)
    }

    /// Shuts down the read side, the write side, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().0.shutdown(how)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().0.local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().0.peer_addr()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
