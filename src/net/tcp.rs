//! TCP listener and stream.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::task::Poll;

use mio::Interest;

use super::server::Counted;
use super::source::Registered;
use super::stalled::StalledWrite;
use super::with_addr;
use crate::RuntimeRef;
use crate::worker::sources::Direction;

/// A TCP listener, registered on the worker of the actor that made it.
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
pub struct TcpListener {
    io: Registered<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds a listener to `addr` (port 0 picks a free port).
    ///
    /// # Errors
    ///
    /// The OS error, with the address, e.g. `bind 127.0.0.1:80: Permission
    /// denied (os error 13)`.
    pub fn bind(rt: &mut RuntimeRef, addr: SocketAddr) -> io::Result<TcpListener> {
        let listener =
            mio::net::TcpListener::bind(addr).map_err(|err| with_addr("bind", addr, err))?;
        TcpListener::register(rt, listener)
    }

    /// Takes over a listening std listener (one bound with options of the
    /// application's, or passed by systemd: see
    /// [`crate::systemd::listeners`]); it is made non-blocking.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    pub fn from_std(
        rt: &mut RuntimeRef,
        listener: std::net::TcpListener,
    ) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::register(rt, mio::net::TcpListener::from_std(listener))
    }

    fn register(rt: &RuntimeRef, listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            io: Registered::new(rt, listener, Interest::READABLE)?,
        })
    }

    /// Accepts a connection; the stream is registered on this worker.
    pub async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    pub(crate) fn poll_accept(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<(TcpStream, SocketAddr)>> {
        let rt = self.io.runtime().clone();
        self.poll_accept_unregistered(cx).map(|result| {
            let (stream, addr) = result?;
            Ok((TcpStream::register(&rt, stream)?, addr))
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

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// A TCP connection, registered on the worker of the actor that made it.
pub struct TcpStream {
    /// For a [`TcpServer`](super::TcpServer)'s connection: its place in the
    /// server's count of open connections per worker. Dropped before the
    /// socket, so a peer that sees the connection closed finds it no longer
    /// counted.
    _counted: Option<Counted>,
    io: Registered<mio::net::TcpStream>,
    /// The stalled-write limit of the `poll_write*` calls, kept from one
    /// call to the next while a write waits (the async writes keep their
    /// own, one per call).
    stalled: StalledWrite,
}

impl TcpStream {
    /// Connects to `addr`.
    ///
    /// # Errors
    ///
    /// The OS error, with the address, e.g. `connect 127.0.0.1:9: Connection
    /// refused (os error 111)`.
    pub async fn connect(rt: &mut RuntimeRef, addr: SocketAddr) -> io::Result<TcpStream> {
        let stream =
            mio::net::TcpStream::connect(addr).map_err(|err| with_addr("connect", addr, err))?;
        let mut stream = TcpStream::register(rt, stream)?;
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

    fn register(rt: &RuntimeRef, stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::register_counted(rt, stream, None)
    }

    /// Registers `stream` on this worker; `counted` (a server's count of
    /// the worker's connections) goes down when the stream is dropped.
    pub(crate) fn register_counted(
        rt: &RuntimeRef,
        stream: mio::net::TcpStream,
        counted: Option<Counted>,
    ) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Registered::new(rt, stream, Interest::READABLE | Interest::WRITABLE)?,
            _counted: counted,
            stalled: StalledWrite::default(),
        })
    }

    /// Reads into `buf`; 0 means the peer closed its side.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
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
        let len = buf.len();
        // A short read drained the socket: the next read waits for an
        // event rather than asking the kernel again.
        let drained = move |n: &usize| *n > 0 && *n < len;
        self.io
            .poll_io_drained(Direction::Read, cx, |s| s.read(buf), drained)
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
        let len = buf.len();
        let drained = move |n: &usize| *n > 0 && *n < len;
        self.io.poll_io_drained(
            Direction::Read,
            cx,
            |s| crate::sys::recv_uninit(s, buf),
            drained,
        )
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the peer closed before that.
    pub async fn read_exact(&mut self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// Writes some of `buf`, returning how much.
    ///
    /// # Errors
    ///
    /// The OS error; and [`io::ErrorKind::TimedOut`] once a graceful
    /// shutdown began and the peer took no data for
    /// [`Setup::stalled_write_limit`](crate::Setup::stalled_write_limit).
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut stalled = StalledWrite::default();
        poll_fn(|cx| write_some(&mut self.io, &mut stalled, cx, buf)).await
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
        write_some(&mut self.io, &mut self.stalled, cx, buf)
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`]; `WriteZero` if the socket took nothing.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Writes some of `bufs` with one system call, returning how much.
    ///
    /// # Errors
    ///
    /// As [`TcpStream::write`].
    pub async fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut stalled = StalledWrite::default();
        poll_fn(|cx| write_some_vectored(&mut self.io, &mut stalled, cx, bufs)).await
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
        write_some_vectored(&mut self.io, &mut self.stalled, cx, bufs)
    }

    /// Writes all of `bufs`, using vectored writes.
    pub async fn write_all_vectored(&mut self, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
        IoSlice::advance_slices(&mut bufs, 0);
        while !bufs.is_empty() {
            match self.write_vectored(bufs).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => IoSlice::advance_slices(&mut bufs, n),
            }
        }
        Ok(())
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

/// One write of some of `buf`, for [`TcpStream::write`] and
/// [`TcpStream::poll_write`].
fn write_some(
    io: &mut Registered<mio::net::TcpStream>,
    stalled: &mut StalledWrite,
    cx: &mut std::task::Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    let len = buf.len();
    // A short write filled the socket's buffer.
    let full = move |n: &usize| *n < len;
    let poll = io.poll_io_drained(Direction::Write, cx, |s| s.write(buf), full);
    give_up_if_stalled(io.runtime(), poll, stalled, cx)
}

/// One vectored write, for [`TcpStream::write_vectored`] and
/// [`TcpStream::poll_write_vectored`].
fn write_some_vectored(
    io: &mut Registered<mio::net::TcpStream>,
    stalled: &mut StalledWrite,
    cx: &mut std::task::Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>> {
    let poll = io.poll_io(Direction::Write, cx, |s| s.write_vectored(bufs));
    give_up_if_stalled(io.runtime(), poll, stalled, cx)
}

/// A write that has to wait fails once the runtime is stopping and it
/// waited too long (see [`StalledWrite`]); a write that is done (or failed)
/// ends the wait.
fn give_up_if_stalled(
    rt: &RuntimeRef,
    poll: Poll<io::Result<usize>>,
    stalled: &mut StalledWrite,
    cx: &mut std::task::Context<'_>,
) -> Poll<io::Result<usize>> {
    match poll {
        Poll::Pending => match stalled.poll_give_up(rt, cx) {
            Some(err) => {
                stalled.reset();
                Poll::Ready(Err(err))
            }
            None => Poll::Pending,
        },
        ready @ Poll::Ready(_) => {
            stalled.reset();
            ready
        }
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
