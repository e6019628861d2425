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
        })
    }

    /// Reads into `buf`; 0 means the peer closed its side.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        // A short read drained the socket: the next read waits for an
        // event rather than asking the kernel again.
        let drained = move |n: &usize| *n > 0 && *n < len;
        poll_fn(|cx| {
            self.io
                .poll_io_drained(Direction::Read, cx, |s| s.read(buf), drained)
        })
        .await
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
        let len = buf.len();
        // A short write filled the socket's buffer.
        let full = move |n: &usize| *n < len;
        let mut stalled = StalledWrite::default();
        poll_fn(|cx| {
            let poll = self
                .io
                .poll_io_drained(Direction::Write, cx, |s| s.write(buf), full);
            self.give_up_if_stalled(poll, &mut stalled, cx)
        })
        .await
    }

    /// A write that has to wait fails once the runtime is stopping and it
    /// waited too long (see [`StalledWrite`]).
    fn give_up_if_stalled(
        &self,
        poll: Poll<io::Result<usize>>,
        stalled: &mut StalledWrite,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<io::Result<usize>> {
        match poll {
            Poll::Pending => match stalled.poll_give_up(self.io.runtime(), cx) {
                Some(err) => Poll::Ready(Err(err)),
                None => Poll::Pending,
            },
            ready => ready,
        }
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
        poll_fn(|cx| {
            let poll = self
                .io
                .poll_io(Direction::Write, cx, |s| s.write_vectored(bufs));
            self.give_up_if_stalled(poll, &mut stalled, cx)
        })
        .await
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

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
