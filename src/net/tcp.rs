//! TCP listener and stream, for thread-local or thread-safe actors (see
//! [`SocketMode`]), and the stream of a listener's connections
//! ([`Incoming`]).

use std::fmt;
use std::fs::File;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::pin::Pin;
use std::task::Poll;

use mio::Interest;

use super::mode::private::Io;
use super::server::Counted;
use super::stalled::StalledWrite;
use super::{SocketAccess, SocketMode, stream_io, with_addr};
use crate::bytes::{Bytes, BytesVectored};
use crate::worker::sources::Direction;
use crate::{ThreadLocal, sys};

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

    /// Accepts a connection if one is waiting, without waiting for one:
    /// [`io::ErrorKind::WouldBlock`] when none is. The stream is registered
    /// as the listener is (on this worker, or on the shared poll).
    ///
    /// The kernel is asked each time, so a connection that came since the
    /// worker last polled is found.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::{TcpListener, TcpStream};
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let mut listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     let addr = listener.local_addr()?;
    ///     // Nobody has connected yet.
    ///     let err = listener.try_accept().unwrap_err();
    ///     assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    ///
    ///     let _client = TcpStream::connect(&mut rt, addr).await?;
    ///     // Wait for one connection, then take the others already waiting.
    ///     let mut streams = vec![listener.accept().await?.0];
    ///     loop {
    ///         match listener.try_accept() {
    ///             Ok((stream, _)) => streams.push(stream),
    ///             Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
    ///             Err(err) => return Err(err),
    ///         }
    ///     }
    ///     assert_eq!(streams.len(), 1);
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_accept(&mut self) -> io::Result<(TcpStream<RT>, SocketAddr)> {
        let (stream, addr) = loop {
            match self.io.get().accept() {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                result => break result?,
            }
        };
        Ok((TcpStream::register(self.io.handle(), stream)?, addr))
    }

    /// The connections as they come, as a stream: each item is what
    /// [`TcpListener::accept`] returns, and a failed accept does not end
    /// it. It implements `futures`' `Stream`, and has an async
    /// [`Incoming::next`] of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::{TcpListener, TcpStream};
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let mut listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     let addr = listener.local_addr()?;
    ///     let _client = TcpStream::connect(&mut rt, addr).await?;
    ///     let mut incoming = listener.incoming();
    ///     while let Some(conn) = incoming.next().await {
    ///         let (stream, peer) = conn?;
    ///         assert_eq!(stream.peer_addr()?, peer);
    ///         break; // An actor would start an actor per connection and go on.
    ///     }
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn incoming(&mut self) -> Incoming<'_, RT> {
        Incoming { listener: self }
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

    /// Sets the time-to-live (`IP_TTL`) of the packets of the connections
    /// it accepts from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::TcpListener;
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     listener.set_ttl(100)?;
    ///     assert_eq!(listener.ttl()?, 100);
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The time-to-live (`IP_TTL`): see [`TcpListener::set_ttl`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::TcpListener;
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     // The system's default (`net.ipv4.ip_default_ttl`), usually 64.
    ///     assert!(listener.ttl()? > 0);
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// The CPU the kernel steers this listener's connections from
    /// (`SO_INCOMING_CPU`), if any. A thread-local listener made on a
    /// worker pinned to a CPU
    /// ([`Setup::auto_cpu_affinity`](crate::Setup::auto_cpu_affinity),
    /// [`RuntimeRef::cpu`](crate::RuntimeRef::cpu)) has that CPU: in a
    /// group of listeners sharing a port (as [`TcpServer`](super::TcpServer)'s
    /// are), a connection whose packets the kernel handles on that CPU goes
    /// to it. `None` when unset.
    ///
    /// # Errors
    ///
    /// `ENOPROTOOPT` from a kernel without the option (before Linux 3.19).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::TcpListener;
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     // Thread-safe sockets are not steered: their actors run anywhere.
    ///     assert_eq!(listener.incoming_cpu()?, None);
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn incoming_cpu(&self) -> io::Result<Option<usize>> {
        sys::incoming_cpu(self.io.get().as_fd())
    }
}

/// The connections of a [`TcpListener`] as they come: see
/// [`TcpListener::incoming`]. A `futures_core::Stream` that never ends; a
/// failed accept is an item, after which it goes on.
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'l, RT: SocketMode = ThreadLocal> {
    listener: &'l mut TcpListener<RT>,
}

impl<RT: SocketMode> Incoming<'_, RT> {
    /// Waits for the next connection: always `Some`, the `Option` is
    /// `Stream`'s, so that `while let Some(..)` reads as for any stream.
    ///
    /// # Examples
    ///
    /// See [`TcpListener::incoming`].
    pub async fn next(&mut self) -> Option<io::Result<(TcpStream<RT>, SocketAddr)>> {
        Some(self.listener.accept().await)
    }
}

impl<RT: SocketMode> futures_core::Stream for Incoming<'_, RT> {
    type Item = io::Result<(TcpStream<RT>, SocketAddr)>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        self.listener.poll_accept(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl<RT: SocketMode> fmt::Debug for Incoming<'_, RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("listener", &self.listener)
            .finish()
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

    /// Takes over a connected std stream (one connected with options of
    /// the application's, or inherited), for the actors of `rt`'s kind;
    /// it is made non-blocking.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    pub fn from_std<A>(rt: &mut A, stream: std::net::TcpStream) -> io::Result<TcpStream<RT>>
    where
        A: SocketAccess<RT>,
    {
        stream.set_nonblocking(true)?;
        TcpStream::register(rt.socket_handle(), mio::net::TcpStream::from_std(stream))
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
    pub fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> {
        stream_io::read(&mut self.io, buf)
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
    pub fn read_exact(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<()>> {
        stream_io::read_exact(&mut self.io, buf)
    }

    /// Reads into `buf`'s room without taking the bytes (`MSG_PEEK`): the
    /// next read gets them again. `buf` is a [`Bytes`] buffer: a byte
    /// slice or array (all of it), or a `Vec<u8>`'s spare capacity, which
    /// grows its length by what came, as Heph's `peek` takes it. Waits for
    /// data as [`TcpStream::read`] does; 0 means the peer closed its side.
    ///
    /// # Errors
    ///
    /// The OS error; `InvalidInput` for a buffer with no room (a vector
    /// full to its capacity: its initialised bytes are not the room).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::{TcpListener, TcpStream};
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let mut listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     let mut client = TcpStream::connect(&mut rt, listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     client.write_all(b"GET / HTTP/1.1\r\n").await?;
    ///     // Look at the first bytes to choose a protocol, then read as usual.
    ///     let mut head = [0; 4];
    ///     let n = server.peek(&mut head).await?;
    ///     assert_eq!(&head[..n], &b"GET "[..n]);
    ///     let mut line = [0; 16];
    ///     server.read_exact(&mut line).await?;
    ///     assert_eq!(&line, b"GET / HTTP/1.1\r\n");
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn peek<B: Bytes>(&mut self, buf: B) -> impl Future<Output = io::Result<usize>> {
        stream_io::RecvBytes::once(
            &mut self.io,
            stream_io::One(buf),
            stream_io::Fill::Peek,
            "peek",
            stream_io::count,
        )
    }

    /// Reads into the buffers, in order, with one system call (`readv`),
    /// returning how much; 0 means the peer closed its side. The read
    /// counterpart of [`TcpStream::write_vectored`], e.g. to read a fixed
    /// header and the start of a body in one call.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::{TcpListener, TcpStream};
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let mut listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     let mut client = TcpStream::connect(&mut rt, listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     client.write_all(b"headbody").await?;
    ///     let (mut head, mut body) = ([0; 4], [0; 16]);
    ///     let mut bufs = [io::IoSliceMut::new(&mut head), io::IoSliceMut::new(&mut body)];
    ///     let mut n = server.read_vectored(&mut bufs).await?;
    ///     while n < 8 {
    ///         n += server.read(&mut body[n - 4..]).await?;
    ///     }
    ///     assert_eq!((&head, &body[..4]), (b"head", &b"body"[..]));
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn read_vectored(
        &mut self,
        bufs: &mut [IoSliceMut<'_>],
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::read_vectored(&mut self.io, bufs)
    }

    /// Writes some of `buf`, returning how much.
    ///
    /// # Errors
    ///
    /// The OS error; and [`io::ErrorKind::TimedOut`] once a graceful
    /// shutdown began and the peer took no data for
    /// [`Setup::stalled_write_limit`](crate::Setup::stalled_write_limit).
    pub fn write(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> {
        stream_io::write(&mut self.io, buf)
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
    pub fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all(&mut self.io, buf)
    }

    /// Writes some of `bufs` with one system call, returning how much.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`].
    pub fn write_vectored(
        &mut self,
        bufs: &[IoSlice<'_>],
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::write_vectored(&mut self.io, bufs)
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
    pub fn write_all_vectored(
        &mut self,
        bufs: &mut [IoSlice<'_>],
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all_vectored(&mut self.io, bufs)
    }

    /// Receives into `buf`'s room (a `Vec<u8>`'s spare capacity, which
    /// grows its length by what came; all of a slice), as Heph's `recv`:
    /// how many bytes, 0 when the peer closed its side. Pass `&mut buf` to
    /// keep the buffer. The same read as [`TcpStream::read`], into memory
    /// that need not be initialised.
    ///
    /// # Errors
    ///
    /// The OS error; `InvalidInput` for a buffer with no room (a vector
    /// full to its capacity), before any system call, as its 0 would read
    /// as the end.
    pub fn recv<B: Bytes>(&mut self, buf: B) -> impl Future<Output = io::Result<usize>> {
        stream_io::RecvBytes::once(
            &mut self.io,
            stream_io::One(buf),
            stream_io::Fill::Recv,
            "recv",
            stream_io::count,
        )
    }

    /// Receives at least `n` bytes into `buf`'s room, as Heph's `recv_n`,
    /// in as many receives as it takes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the peer closed its side first (a vector keeps
    /// the bytes that came); `InvalidInput` if `buf` has room for fewer
    /// than `n` bytes; the OS error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::{TcpListener, TcpStream};
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let mut listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     let mut client = TcpStream::connect(&mut rt, listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     client.send_all(b"Hello world").await?;
    ///     let mut buf = Vec::with_capacity(64);
    ///     buf.extend_from_slice(b">> ");
    ///     // Appended after what the vector holds.
    ///     server.recv_n(&mut buf, 11).await?;
    ///     assert_eq!(buf, b">> Hello world");
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_n<B: Bytes>(&mut self, buf: B, n: usize) -> impl Future<Output = io::Result<()>> {
        stream_io::RecvBytes::at_least(
            &mut self.io,
            stream_io::One(buf),
            n,
            stream_io::Fill::Recv,
            "recv_n",
        )
    }

    /// Receives into the rooms of `bufs`, in order, with one system call,
    /// as Heph's `recv_vectored`: how many bytes, 0 when the peer closed
    /// its side.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::recv`].
    pub fn recv_vectored<B: BytesVectored>(
        &mut self,
        bufs: B,
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::RecvBytes::once(
            &mut self.io,
            bufs,
            stream_io::Fill::Recv,
            "recv_vectored",
            stream_io::count,
        )
    }

    /// Receives at least `n` bytes into the rooms of `bufs`, in order, as
    /// Heph's `recv_n_vectored`.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::recv_n`].
    pub fn recv_n_vectored<B: BytesVectored>(
        &mut self,
        bufs: B,
        n: usize,
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::RecvBytes::at_least(
            &mut self.io,
            bufs,
            n,
            stream_io::Fill::Recv,
            "recv_n_vectored",
        )
    }

    /// [`TcpStream::peek`] into the rooms of `bufs`, in order, as Heph's
    /// `peek_vectored`.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::peek`].
    pub fn peek_vectored<B: BytesVectored>(
        &mut self,
        bufs: B,
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::RecvBytes::once(
            &mut self.io,
            bufs,
            stream_io::Fill::Peek,
            "peek_vectored",
            stream_io::count,
        )
    }

    /// Sends some of `buf`, as Heph's `send`: [`TcpStream::write`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`].
    pub fn send(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> {
        stream_io::write(&mut self.io, buf)
    }

    /// Sends all of `buf`, as Heph's `send_all`: [`TcpStream::write_all`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write_all`].
    pub fn send_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all(&mut self.io, buf)
    }

    /// Sends some of `bufs` with one system call, as Heph's
    /// `send_vectored`: [`TcpStream::write_vectored`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`].
    pub fn send_vectored(
        &mut self,
        bufs: &[IoSlice<'_>],
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::write_vectored(&mut self.io, bufs)
    }

    /// Sends all of `bufs`, as Heph's `send_all_vectored`:
    /// [`TcpStream::write_all_vectored`].
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write_all`].
    pub fn send_all_vectored(
        &mut self,
        bufs: &mut [IoSlice<'_>],
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all_vectored(&mut self.io, bufs)
    }

    /// Sends at most `length` bytes of `file`, from byte `offset` on, with
    /// `sendfile(2)`: the kernel copies them from the page cache to the
    /// socket, not through the program's memory. Returns how many bytes
    /// it sent, which may be fewer (as much as the socket had room for);
    /// 0 when `offset` is at or past the end of the file (or `length` is
    /// 0). Waits for room when the socket has none. The file's own
    /// position is neither used nor moved, so one open file can be sent
    /// to many streams at once.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`]; `InvalidInput` for an offset past
    /// `i64::MAX`; `EINVAL` for a `file` that `sendfile` cannot read from
    /// (a pipe or socket, or a file opened only for writing).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use std::io;
    ///
    /// use hearth::net::TcpStream;
    ///
    /// async fn serve(stream: &mut TcpStream) -> io::Result<()> {
    ///     let file = File::open("index.html")?;
    ///     // The first 100 bytes, however many calls that takes.
    ///     let mut sent = 0;
    ///     while sent < 100 {
    ///         match stream.send_file(&file, sent as u64, 100 - sent).await? {
    ///             0 => break, // The file is shorter.
    ///             n => sent += n,
    ///         }
    ///     }
    ///     Ok(())
    /// }
    /// # let _ = serve;
    /// ```
    pub fn send_file(
        &mut self,
        file: &File,
        offset: u64,
        length: usize,
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::send_file(&mut self.io, file, offset, length)
    }

    /// Sends exactly `length` bytes of `file` from byte `offset` on, with
    /// as many [`TcpStream::send_file`] calls as that takes: for a range
    /// of a file (an HTTP range request).
    ///
    /// # Errors
    ///
    /// As [`TcpStream::send_file`]; `UnexpectedEof` if the file ends
    /// before `offset + length` (what was sent until then stays sent).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use std::io;
    ///
    /// use hearth::net::TcpStream;
    ///
    /// async fn serve(stream: &mut TcpStream) -> io::Result<()> {
    ///     let file = File::open("video.mp4")?;
    ///     // Bytes 1000 to 1999.
    ///     stream.send_file_all(&file, 1000, 1000).await?;
    ///     Ok(())
    /// }
    /// # let _ = serve;
    /// ```
    pub fn send_file_all(
        &mut self,
        file: &File,
        offset: u64,
        length: usize,
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::send_file_all(&mut self.io, file, offset, length)
    }

    /// Sends all of `file`, from its first byte to its end, with as many
    /// [`TcpStream::send_file`] calls as that takes; returns how many bytes
    /// were sent. A file that grows meanwhile is sent until the end it has
    /// when a call finds no more.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::send_file`]; what was sent before an error stays
    /// sent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use std::io;
    ///
    /// use hearth::net::TcpStream;
    ///
    /// async fn serve(stream: &mut TcpStream) -> io::Result<()> {
    ///     let file = File::open("index.html")?;
    ///     let len = file.metadata()?.len();
    ///     let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
    ///     stream.write_all(head.as_bytes()).await?;
    ///     let sent = stream.send_entire_file(&file).await?;
    ///     assert_eq!(sent, len);
    ///     Ok(())
    /// }
    /// # let _ = serve;
    /// ```
    pub fn send_entire_file(&mut self, file: &File) -> impl Future<Output = io::Result<u64>> {
        stream_io::send_entire_file(&mut self.io, file)
    }

    /// Shuts down the read side, the write side, or both. A connection
    /// the peer already reset (`ENOTCONN`) is shut down already: that is
    /// not an error, as tokio treats it.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self.io.get().shutdown(how) {
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
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

    /// Sets `SO_KEEPALIVE`: the kernel probes a connection that has been
    /// idle (for two hours by default, `net.ipv4.tcp_keepalive_time`) and
    /// ends it with an error if the peer does not answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::io;
    /// # use hearth::net::TcpStream;
    /// fn idle_peers_end(stream: &TcpStream) -> io::Result<()> {
    ///     stream.set_keepalive(true)?;
    ///     assert!(stream.keepalive()?);
    ///     Ok(())
    /// }
    /// # let _ = idle_peers_end;
    /// ```
    pub fn set_keepalive(&self, keepalive: bool) -> io::Result<()> {
        sys::set_keepalive_to(self.io.get().as_raw_fd(), keepalive)
    }

    /// Returns `SO_KEEPALIVE`.
    pub fn keepalive(&self) -> io::Result<bool> {
        sys::keepalive(self.io.get().as_raw_fd())
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// Sets the time-to-live (`IP_TTL`) of the packets sent from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::{TcpListener, TcpStream};
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let mut listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     let client = TcpStream::connect(&mut rt, listener.local_addr()?).await?;
    ///     let _accepted = listener.accept().await?;
    ///     client.set_ttl(100)?;
    ///     assert_eq!(client.ttl()?, 100);
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// The time-to-live (`IP_TTL`): see [`TcpStream::set_ttl`]. A stream
    /// accepted from a listener starts with the listener's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::{TcpListener, TcpStream};
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let mut listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     let client = TcpStream::connect(&mut rt, listener.local_addr()?).await?;
    ///     let (server, _) = listener.accept().await?;
    ///     // The system's default (`net.ipv4.ip_default_ttl`), usually 64.
    ///     assert!(client.ttl()? > 0);
    ///     // An accepted stream starts with its listener's.
    ///     assert_eq!(server.ttl()?, listener.ttl()?);
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// The CPU of the stream's packets (`SO_INCOMING_CPU`), if known: the
    /// CPU on which the kernel handled the last packet it received, or,
    /// until one comes, the CPU set when the stream was made. A
    /// thread-local stream made or accepted on a worker pinned to a CPU
    /// ([`RuntimeRef::cpu`](crate::RuntimeRef::cpu)) is set to that CPU.
    ///
    /// # Errors
    ///
    /// `ENOPROTOOPT` from a kernel without the option (before Linux 3.19).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::{TcpListener, TcpStream};
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = Runtime::setup().build()?;
    /// let mut rt = runtime.thread_safe();
    /// runtime.block_on(async move {
    ///     let mut listener: TcpListener<ThreadSafe> =
    ///         TcpListener::bind(&mut rt, "127.0.0.1:0".parse().unwrap())?;
    ///     let mut client = TcpStream::connect(&mut rt, listener.local_addr()?).await?;
    ///     let (mut server, _) = listener.accept().await?;
    ///     client.write_all(b"hi").await?;
    ///     let mut buf = [0; 2];
    ///     server.read_exact(&mut buf).await?;
    ///     // The kernel handled the packet on some CPU.
    ///     assert!(server.incoming_cpu()?.is_some());
    ///     Ok::<_, io::Error>(())
    /// })??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn incoming_cpu(&self) -> io::Result<Option<usize>> {
        sys::incoming_cpu(self.io.get().as_fd())
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
