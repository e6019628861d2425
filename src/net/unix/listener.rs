//! Unix stream listener.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{self, Poll};

use mio::Interest;

use super::UnixStream;
use super::socket_file::{SocketFile, bind_error, describe};
use crate::RuntimeRef;
use crate::net::mode::private::Io;
use crate::net::source::Registered;
use crate::worker::sources::Direction;

/// A Unix stream listener, registered on the worker of the actor that made
/// it.
///
/// A listener bound to a path by [`UnixListener::bind`] made the socket
/// file there and removes it when it is dropped (if the path still names
/// that file); binding to a path that exists fails, see
/// [`remove_stale_socket`](crate::net::remove_stale_socket).
///
/// # Examples
///
/// ```
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::{UnixListener, UnixStream};
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
///
/// async fn ping(mut ctx: Context<(), ThreadLocal>) -> std::io::Result<()> {
///     let path = std::env::temp_dir().join(format!("hearth-doc-{}.sock", std::process::id()));
///     let mut listener = UnixListener::bind(ctx.runtime(), &path)?;
///     let mut client = UnixStream::connect(ctx.runtime(), &path).await?;
///     let (mut server, _) = listener.accept().await?;
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     drop(listener);
///     assert!(!path.exists(), "the listener removed its socket file");
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
pub struct UnixListener {
    io: Registered<mio::net::UnixListener>,
    /// The socket file `bind` made, removed after the socket is closed.
    _file: Option<SocketFile>,
}

impl UnixListener {
    /// Binds a listener to the file system path `path`, which must not
    /// exist.
    ///
    /// # Errors
    ///
    /// The OS error, with the path, e.g. `bind /run/app.sock: Address
    /// already in use (os error 98): the file exists; ...` (see
    /// [`remove_stale_socket`](crate::net::remove_stale_socket)).
    pub fn bind<P: AsRef<Path>>(rt: &mut RuntimeRef, path: P) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let listener = mio::net::UnixListener::bind(path).map_err(|err| bind_error(path, err))?;
        UnixListener::register_created(rt, listener)
    }

    /// Binds a listener to `addr`: a path, or on Linux an abstract name
    /// (`SocketAddr::from_abstract_name`, no file in the file system, freed
    /// by the kernel when the socket closes).
    ///
    /// # Errors
    ///
    /// The OS error, with the address.
    pub fn bind_addr(rt: &mut RuntimeRef, addr: &SocketAddr) -> io::Result<UnixListener> {
        let listener =
            mio::net::UnixListener::bind_addr(addr).map_err(|err| match addr.as_pathname() {
                Some(path) => bind_error(path, err),
                None => io::Error::new(err.kind(), format!("bind {}: {err}", describe(addr))),
            })?;
        UnixListener::register_created(rt, listener)
    }

    /// Takes over a listening std listener (one bound elsewhere, or passed
    /// by systemd: see [`crate::systemd::listeners`]); it is made
    /// non-blocking. Its socket file, if any, is not removed by hearth.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    pub fn from_std(
        rt: &mut RuntimeRef,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        UnixListener::register(rt, mio::net::UnixListener::from_std(listener), None)
    }

    /// Registers a listener this process bound: its file is ours.
    fn register_created(
        rt: &RuntimeRef,
        listener: mio::net::UnixListener,
    ) -> io::Result<UnixListener> {
        let file = SocketFile::created(&listener.local_addr()?);
        UnixListener::register(rt, listener, file)
    }

    /// Registers a bound, listening, non-blocking listener (a server's).
    pub(crate) fn register(
        rt: &RuntimeRef,
        listener: mio::net::UnixListener,
        file: Option<SocketFile>,
    ) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: Registered::new(rt, listener, Interest::READABLE)?,
            _file: file,
        })
    }

    /// Accepts a connection; the stream is registered on this worker. The
    /// address of the peer is usually unnamed (clients seldom bind).
    pub async fn accept(&mut self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| {
            let rt = self.io.handle().clone();
            self.poll_accept_unregistered(cx).map(|result| {
                let (stream, addr) = result?;
                Ok((UnixStream::register_counted(&rt, stream, None)?, addr))
            })
        })
        .await
    }

    /// Accepts a connection without registering it anywhere yet, so it can
    /// still be handed to another worker.
    pub(crate) fn poll_accept_unregistered(
        &mut self,
        cx: &mut task::Context<'_>,
    ) -> Poll<io::Result<(mio::net::UnixStream, SocketAddr)>> {
        self.io
            .poll_io(Direction::Read, cx, |listener| listener.accept())
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}
