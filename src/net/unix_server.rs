//! [`UnixServer`]: the [`TcpServer`](super::TcpServer) of Unix stream
//! sockets: one socket, shared by a listener per worker, and an actor per
//! connection.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{self, Poll};

use super::server::{self, Counted, Kind, Server, ServerMessage, Sockets};
use super::server_stats::ServerAddr;
use super::unix::socket_file::{SocketFile, bind_error, describe};
use super::{UnixListener, UnixStream};
use crate::actor::{Context, NewActor};
use crate::supervisor::Supervisor;
use crate::{ActorOptions, RuntimeRef, ThreadLocal, sys};

/// A Unix socket server: spawn it (a [`NewActor`]) on every worker with
/// [`Runtime::run_on_workers`](crate::Runtime::run_on_workers), as a
/// [`TcpServer`](super::TcpServer); each listener actor accepts
/// connections and starts a thread-local actor per connection, which gets
/// a [`UnixStream`]. Supervision, the even spread of connections over the
/// workers, graceful shutdown and metrics
/// ([`RuntimeMetrics::unix_servers`](crate::metrics::RuntimeMetrics::unix_servers))
/// are the `TcpServer`'s. Its connection actors are thread-local: Unix
/// sockets have no thread-safe mode (see [`net`](super)).
///
/// A Unix path cannot be bound twice (there is no `SO_REUSEPORT` for it),
/// so the server binds one socket and every worker's listener accepts from
/// it through a duplicate of its descriptor: a new connection wakes every
/// listener and one takes it.
///
/// # The socket file
///
/// [`UnixServer::setup`] refuses a path that exists (a live server's, a
/// file of another kind, or the file of a server that died: call
/// [`remove_stale_socket`](super::remove_stale_socket) first to remove the
/// last kind only). The server removes the file it made when the runtime
/// stops (new clients then find no server at once) or, at the latest, when
/// the last copy of the server is dropped; if the path no longer names
/// that file (someone else's socket took its place) it is left alone. A
/// socket from [`UnixServer::from_listener`] (systemd's, for one) is never
/// removed: its owner does that.
///
/// # Examples
///
/// ```
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::{UnixServer, UnixStream};
/// use hearth::supervisor::{NoSupervisor, RestartSupervisor};
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
///
/// async fn hello(_: Context<(), ThreadLocal>, mut stream: UnixStream) -> std::io::Result<()> {
///     stream.write_all(b"hello\n").await
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let path = std::env::temp_dir().join(format!("hearth-doc-server-{}.sock", std::process::id()));
/// let mut runtime = Runtime::setup().num_threads(2).build()?;
/// let server = UnixServer::setup(&path, NoSupervisor, actor_fn(hello), ActorOptions::default())?;
/// runtime.run_on_workers(move |mut rt: RuntimeRef| {
///     let _ = rt.spawn_local(RestartSupervisor::new(()), server.clone(), (), ActorOptions::default());
/// });
/// let client = path.clone();
/// let rt = runtime.thread_safe();
/// std::thread::spawn(move || {
///     use std::io::Read;
///     let mut stream = std::os::unix::net::UnixStream::connect(&client).unwrap();
///     let mut hello = String::new();
///     stream.read_to_string(&mut hello).unwrap();
///     assert_eq!(hello, "hello\n");
///     rt.shutdown();
/// });
/// runtime.start()?;
/// assert!(!path.exists(), "the server removed its socket file");
/// # Ok(())
/// # }
/// ```
pub struct UnixServer<S, NA> {
    server: Server<Unix, S, NA>,
    addr: SocketAddr,
}

/// Unix stream sockets, for the server engine.
pub(crate) struct Unix;

impl Kind for Unix {
    type Mode = ThreadLocal;
    type Listener = UnixListener;
    type Socket = std::os::unix::net::UnixListener;
    type Raw = mio::net::UnixStream;
    type Peer = SocketAddr;
    type Stream = UnixStream;

    const NAME: &'static str = "UnixServer";

    fn duplicate(
        socket: &std::os::unix::net::UnixListener,
    ) -> io::Result<std::os::unix::net::UnixListener> {
        socket.try_clone()
    }

    fn register_listener(
        rt: &RuntimeRef,
        socket: std::os::unix::net::UnixListener,
    ) -> io::Result<UnixListener> {
        // The server owns the socket file, not each listener.
        UnixListener::register(rt, mio::net::UnixListener::from_std(socket), None)
    }

    fn poll_accept(
        listener: &mut UnixListener,
        cx: &mut task::Context<'_>,
    ) -> Poll<io::Result<(mio::net::UnixStream, SocketAddr)>> {
        listener.poll_accept_unregistered(cx)
    }

    fn register_stream(
        rt: &RuntimeRef,
        raw: mio::net::UnixStream,
        counted: Counted,
    ) -> io::Result<UnixStream> {
        UnixStream::register_counted(rt, raw, Some(counted))
    }
}

impl<S, NA> UnixServer<S, NA>
where
    S: Supervisor<NA> + Clone + 'static,
    NA: NewActor<Argument = UnixStream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    /// Binds the server's socket at `path` now, so a path in use is
    /// reported here and connections are queued from this moment on. The
    /// path must not exist (see [the socket file](#the-socket-file)).
    ///
    /// # Errors
    ///
    /// The OS error with the path, e.g. `bind /run/app.sock: Address
    /// already in use (os error 98): the file exists; ...`.
    pub fn setup<P: AsRef<Path>>(
        path: P,
        supervisor: S,
        new_actor: NA,
        options: ActorOptions,
    ) -> io::Result<Self> {
        let path = path.as_ref();
        let listener =
            std::os::unix::net::UnixListener::bind(path).map_err(|err| bind_error(path, err))?;
        UnixServer::bound(listener, supervisor, new_actor, options)
    }

    /// [`UnixServer::setup`] on `addr`: a path, or on Linux an abstract
    /// name (`SocketAddr::from_abstract_name`), which leaves no file.
    ///
    /// # Errors
    ///
    /// The OS error with the address.
    pub fn setup_addr(
        addr: &SocketAddr,
        supervisor: S,
        new_actor: NA,
        options: ActorOptions,
    ) -> io::Result<Self> {
        let listener =
            std::os::unix::net::UnixListener::bind_addr(addr).map_err(|err| {
                match addr.as_pathname() {
                    Some(path) => bind_error(path, err),
                    None => io::Error::new(err.kind(), format!("bind {}: {err}", describe(addr))),
                }
            })?;
        UnixServer::bound(listener, supervisor, new_actor, options)
    }

    /// A server on a socket this process just bound: its file is ours.
    fn bound(
        listener: std::os::unix::net::UnixListener,
        supervisor: S,
        new_actor: NA,
        options: ActorOptions,
    ) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let file = SocketFile::created(&addr);
        listener.set_nonblocking(true)?;
        Ok(UnixServer::new(
            listener, addr, file, supervisor, new_actor, options,
        ))
    }

    /// Serves `listener`, a listening Unix stream socket bound elsewhere:
    /// one passed by systemd ([`crate::systemd::listeners`]), or one the
    /// application bound itself. It is made non-blocking and close-on-exec;
    /// its file, if any, is left alone.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `listener` is not a listening
    /// Unix stream socket, with what it is; the OS error if its flags
    /// cannot be set.
    pub fn from_listener(
        listener: std::os::unix::net::UnixListener,
        supervisor: S,
        new_actor: NA,
        options: ActorOptions,
    ) -> io::Result<Self> {
        let info = sys::socket_info(listener.as_fd())?;
        if info.domain != libc::AF_UNIX || info.ty != libc::SOCK_STREAM || !info.listening {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a UnixServer needs a listening Unix stream socket, and this is {}",
                    info.describe()
                ),
            ));
        }
        listener.set_nonblocking(true)?;
        sys::set_cloexec(listener.as_fd())?;
        let addr = listener.local_addr()?;
        Ok(UnixServer::new(
            listener, addr, None, supervisor, new_actor, options,
        ))
    }

    fn new(
        listener: std::os::unix::net::UnixListener,
        addr: SocketAddr,
        file: Option<SocketFile>,
        supervisor: S,
        new_actor: NA,
        options: ActorOptions,
    ) -> Self {
        let sockets = Sockets::Shared(std::sync::Mutex::new(Some(listener)));
        let server = Server::new(
            ServerAddr::Unix(describe(&addr)),
            sockets,
            file,
            supervisor,
            new_actor,
            options,
        );
        UnixServer { server, addr }
    }
}

impl<S, NA> UnixServer<S, NA> {
    /// The address the server listens on.
    pub fn local_addr(&self) -> &SocketAddr {
        &self.addr
    }
}

impl<S: Clone, NA: Clone> Clone for UnixServer<S, NA> {
    fn clone(&self) -> Self {
        UnixServer {
            server: self.server.clone(),
            addr: self.addr.clone(),
        }
    }
}

impl<S, NA> fmt::Debug for UnixServer<S, NA> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixServer")
            .field("addr", &describe(&self.addr))
            .finish_non_exhaustive()
    }
}

impl<S, NA> NewActor for UnixServer<S, NA>
where
    S: Supervisor<NA> + Clone + 'static,
    NA: NewActor<Argument = UnixStream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    type Message = ServerMessage;
    type Argument = ();
    type Actor = Pin<Box<dyn Future<Output = io::Result<()>>>>;
    type Error = std::convert::Infallible;
    type RuntimeAccess = ThreadLocal;

    fn new(
        &mut self,
        ctx: Context<ServerMessage, ThreadLocal>,
        (): (),
    ) -> Result<Self::Actor, Self::Error> {
        Ok(server::listener(ctx, self.server.clone()))
    }

    fn name() -> &'static str {
        Unix::NAME
    }
}
