//! TCP listener and stream, for thread-local or thread-safe actors (see
//! [`SocketMode`]).

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::task::Poll;

use mio::Interest;

use super::mode::private::Io;
use super::server::Counted;
use super::stalled::StalledWrite;
use super::{SocketAccess, SocketMode, stream_io, with_addr};
use crate::ThreadLocal;
use crate::worker::sources::Direction;

/// A TCP listener: on the worker of the actor that made it
/// (`TcpListener<ThreadLocal>`, the default), or on the runtime's shared
/// poll for thread-safe actors (`TcpListener<ThreadSafe>`, see
/// [`SocketMode`]). The streams it accepts are of the same mode.
///
/// # Examples
///
/// ```
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::{TcpListener, TcpStream};
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
///
/// async fn ping(mut ctx: Context<(), ThreadLocal>) -> std::io::Result<()> {
///     let mut listener = TcpListener::bind(ctx.runtime(), "127.0.0.1:0".parse().unwrap())?;
///     let addr = listener.local_addr()?;
///     let mut client = TcpStream::connect(ctx.runtime(), addr).await?;
///     let (mut server, _) = listener.accept().await?;
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok(())
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().build()?;
/// runtime.run_on_workers(|mut rt: RuntimeRef| {
///     let _ = rt.spawn_local(NoSupervisor, actor_fn(ping), (), ActorOptions::default());
/// });
/// runtime.start()
/// # }
/// ```
///
/// The same from a thread-safe actor, whose listener and streams are
/// `Send`:
///
/// ```
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::{TcpListener, TcpStream};
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, ThreadSafe};
///
/// async fn ping(mut ctx: Context<(), ThreadSafe>) -> std::io::Result<()> {
///     let mut listener = TcpListener::bind(ctx.runtime(), "127.0.0.1:0".parse().unwrap())?;
///     let addr = listener.local_addr()?;
///     let mut client = TcpStream::connect(ctx.runtime(), addr).await?;
///     let (mut server, _): (TcpStream<ThreadSafe>, _) = listener.accept().await?;
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok(())
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().build()?;
/// let _ = runtime.spawn(NoSupervisor, actor_fn(ping), (), ActorOptions::default());
/// runtime.start()
/// # }
/// ```
pub struct TcpListener<RT: SocketMode = ThreadLocal> {
    io: RT::Io<mio::net::TcpListener>,
}

impl<RT: SocketMode> TcpListener<RT> {
    /// Binds a listener to `addr` (port 0 picks a free port), for the
    /// actors of `rt`'s kind.
    ///
    /// # Errors
    ///
    /// The OS error, with the address, e.g. `bind 127.0.0.1:80: Permission
    /// denied (os error 13)`.
    pub fn bind<A>(rt: &mut A, addr: SocketAddr) -> io::Result<TcpListener<RT>>
    where
        A: SocketAccess<RT>,
    {
        let listener =
            mio::net::TcpListener::bind(addr).map_err(|err| with_addr("bind", addr, err))?;
        TcpListener::register(rt.socket_handle(), listener)
    }

    /// Takes over a listening std listener (one bound with options of the
    /// application's, or passed by systemd: see
    /// [`crate::systemd::listeners`]), for the actors of `rt`'s kind; it is
    /// made non-blocking.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    pub fn from_std<A>(rt: &mut A, listener: std::net::TcpListener) -> io::Result<TcpListener<RT>>
    where
        A: SocketAccess<RT>,
    {
        listener.set_nonblocking(true)?;
        TcpListener::register(
            rt.socket_handle(),
            mio::net::TcpListener::from_std(listener),
        )
    }

    /// Registers a listening, non-blocking socket (on this worker, or on
    /// the shared poll).
    pub(crate) fn register(
        rt: &RT::Handle,
        listener: mio::net::TcpListener,
    ) -> io::Result<TcpListener<RT>> {
        Ok(TcpListener {
            io: RT::register(rt, listener, Interest::READABLE)?,
        })
    }

    /// Accepts a connection; the stream is registered as the listener is
    /// (on this worker, or on the shared poll).
    pub async fn accept(&mut self) -> io::Result<(TcpStream<RT>, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<(TcpStream<RT>, SocketAddr)>> {
        self.poll_accept_unregistered(cx).map(|result| {
            let (stream, addr) = result?;
            Ok((TcpStream::register(self.io.handle(), stream)?, addr))
        })
    }

    /// Accepts a connection without registering it anywhere yet, so it can
    /// still be handed to another worker.
    pub(crate) fn poll_accept_unregistered(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<(mio::net::TcpStream, SocketAddr)>> {
        self.io
            .poll_io(Direction::Read, cx, |listener| listener.accept())
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }
}

impl<RT: SocketMode> fmt::Debug for TcpListener<RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// A TCP connection: on the worker of the actor that made it
/// (`TcpStream<ThreadLocal>`, the default), or on the runtime's shared poll
/// for thread-safe actors (`TcpStream<ThreadSafe>`, which is `Send`; see
/// [`SocketMode`]).
pub struct TcpStream<RT: SocketMode = ThreadLocal> {
    /// For a [`TcpServer`](super::TcpServer)'s connection: its place in the
    /// server's count of open connections. Dropped before the socket, so a
    /// peer that sees the connection closed finds it no longer counted.
    _counted: Option<Counted>,
    io: RT::Io<mio::net::TcpStream>,
    /// The stalled-write limit of the `poll_write*` calls, kept from one
    /// call to the next while a write waits (the async writes keep their
    /// own, one per call).
    stalled: StalledWrite<RT::Handle>,
}

impl<RT: SocketMode> TcpStream<RT> {
    /// Connects to `addr`, for the actors of `rt`'s kind.
    ///
    /// # Errors
    ///
    /// The OS error, with the address, e.g. `connect 127.0.0.1:9: Connection
    /// refused (os error 111)`.
    pub async fn connect<A>(rt: &mut A, addr: SocketAddr) -> io::Result<TcpStream<RT>>
    where
        A: SocketAccess<RT>,
    {
        let stream =
            mio::net::TcpStream::connect(addr).map_err(|err| with_addr("connect", addr, err))?;
        let mut stream = TcpStream::<RT>::register(rt.socket_handle(), stream)?;
        // The connection is established (or failed) once it is writable.
        poll_fn(|cx| {
            stream
                .io
                .poll_io(Direction::Write, cx, |s| match s.take_error()? {
                    Some(err) => Err(err),
                    None => match s.peer_addr() {
                        Ok(_) => Ok(()),
                        Err(err) if err.kind() == io::ErrorKind::NotConnected => {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        Err(err) => Err(err),
                    },
                })
        })
        .await
        .map_err(|err| with_addr("connect", addr, err))?;
        Ok(stream)
    }

    fn register(rt: &RT::Handle, stream: mio::net::TcpStream) -> io::Result<TcpStream<RT>> {
        TcpStream::register_counted(rt, stream, None)
    }

    /// Registers `stream` (on this worker, or on the shared poll);
    /// `counted` (a server's count of its connections) goes down when the
    /// stream is dropped.
    pub(crate) fn register_counted(
        rt: &RT::Handle,
        stream: mio::net::TcpStream,
        counted: Option<Counted>,
    ) -> io::Result<TcpStream<RT>> {
        Ok(TcpStream {
            io: RT::register(rt, stream, Interest::READABLE | Interest::WRITABLE)?,
            _counted: counted,
            stalled: StalledWrite::default(),
        })
    }

    /// Reads into `buf`; 0 means the peer closed its side.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        stream_io::read(&mut self.io, buf).await
    }

    /// Reads into `buf` if the socket has data (or its end) to give, or
    /// registers `cx` to be woken when it may have: the poll form of
    /// [`TcpStream::read`], for adapters to other I/O traits. `Ok(0)`
    /// means the peer closed its side.
    pub fn poll_read(
        &mut self,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        stream_io::poll_read(&mut self.io, cx, buf)
    }

    /// [`TcpStream::poll_read`] into memory that need not be initialised
    /// (the kernel writes what it returns): the first `n` bytes of `buf`
    /// are initialised when this returns `Ready(Ok(n))`.
    #[cfg(feature = "hyper")]
    pub(crate) fn poll_read_uninit(
        &mut self,
        cx: &mut std::task::Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        stream_io::poll_read_uninit(&mut self.io, cx, buf)
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the peer closed before that.
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        stream_io::read_exact(&mut self.io, buf).await
    }

    /// Writes some of `buf`, returning how much.
    ///
    /// # Errors
    ///
    /// The OS error; and [`io::ErrorKind::TimedOut`] once a graceful
    /// shutdown began and the peer took no data for
    /// [`Setup::stalled_write_limit`](crate::Setup::stalled_write_limit).
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        stream_io::write(&mut self.io, buf).await
    }

    /// Writes some of `buf` if the socket has room, returning how much, or
    /// registers `cx` to be woken when it may have: the poll form of
    /// [`TcpStream::write`], for adapters to other I/O traits.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`]. The stalled-write limit of a stopping
    /// runtime runs from the first call that had to wait until a call
    /// returns `Ready`, so a caller that polls again after each wake-up
    /// (as any future does) gives up at the same moment as the async
    /// write.
    pub fn poll_write(
        &mut self,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        stream_io::poll_write(&mut self.io, &mut self.stalled, cx, buf)
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`]; `WriteZero` if the socket took nothing.
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        stream_io::write_all(&mut self.io, buf).await
    }

    /// Writes some of `bufs` with one system call, returning how much.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`].
    pub async fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        stream_io::write_vectored(&mut self.io, bufs).await
    }

    /// The poll form of [`TcpStream::write_vectored`], as
    /// [`TcpStream::poll_write`] is of [`TcpStream::write`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::poll_write`].
    pub fn poll_write_vectored(
        &mut self,
        cx: &mut std::task::Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        stream_io::poll_write_vectored(&mut self.io, &mut self.stalled, cx, bufs)
    }

    /// Writes all of `bufs`, using vectored writes.
    pub async fn write_all_vectored(&mut self, bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        stream_io::write_all_vectored(&mut self.io, bufs).await
    }

    /// Shuts down the read side, the write side, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get().set_nodelay(nodelay)
    }

    /// Returns `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }
}

// Nothing in a stream is pinned (its futures borrow it), whatever the mode.
impl<RT: SocketMode> Unpin for TcpStream<RT> {}

impl<RT: SocketMode> Unpin for TcpListener<RT> {}

impl<RT: SocketMode> fmt::Debug for TcpStream<RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
