//! [`TcpServer`]: a listener per worker on one port, or on one socket
//! handed over (by systemd), and an actor per connection.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{self, Poll};

use super::server::{self, Counted, Kind, Server, ServerMessage, Sockets};
use super::server_stats::ServerAddr;
use super::{TcpListener, TcpStream, with_addr};
use crate::actor::{Actor, Context, NewActor};
use crate::supervisor::Supervisor;
use crate::{ActorOptions, RuntimeRef, ThreadLocal, sys};

/// A TCP server: spawn it (a [`NewActor`]) on every worker with
/// [`Runtime::run_on_workers`](crate::Runtime::run_on_workers); each
/// listener actor accepts connections and starts a thread-local actor per
/// connection, with the connection supervisor. The listener actors have a
/// supervisor of their own, given when they are spawned.
///
/// - [`TcpServer::setup`] binds the address: each listener then has its own
///   socket on the server's port (`SO_REUSEPORT`, so the kernel spreads
///   connections over the workers).
/// - [`TcpServer::from_listener`] serves a socket bound elsewhere, such as
///   one passed by systemd ([`crate::systemd::listeners`]): the listeners
///   share that one socket, each through a duplicate of its descriptor.
///   Every new connection then wakes every listener and one takes it.
///
/// Either way the listeners keep the number of open connections per worker
/// even (within one): a connection accepted on a worker that has more than
/// another is handed to the other's listener before it is registered.
///
/// On a graceful shutdown of the runtime the listeners stop accepting and
/// return; connection actors finish by themselves (see
/// [`Context::until_stopping`]).
///
/// # Examples
///
/// ```no_run
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::{TcpServer, TcpStream};
/// use hearth::supervisor::{NoSupervisor, RestartSupervisor};
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
///
/// async fn hello(_: Context<(), ThreadLocal>, mut stream: TcpStream) -> std::io::Result<()> {
///     stream.write_all(b"hello\n").await
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let mut runtime = Runtime::setup().use_all_cores().build()?;
///     let addr = "127.0.0.1:7000".parse()?;
///     let server = TcpServer::setup(addr, NoSupervisor, actor_fn(hello), ActorOptions::default())?;
///     println!("listening on {}", server.local_addr());
///     runtime.run_on_workers(move |mut rt: RuntimeRef| {
///         let _ = rt.spawn_local(RestartSupervisor::new(()), server.clone(), (), ActorOptions::default());
///     });
///     Ok(runtime.start()?)
/// }
/// ```
pub struct TcpServer<S, NA> {
    server: Server<Tcp, S, NA>,
    addr: SocketAddr,
}

/// TCP sockets, for the server engine.
pub(crate) struct Tcp;

impl Kind for Tcp {
    type Listener = TcpListener;
    type Socket = std::net::TcpListener;
    type Raw = mio::net::TcpStream;
    type Peer = SocketAddr;
    type Stream = TcpStream;

    const NAME: &'static str = "TcpServer";

    fn duplicate(socket: &std::net::TcpListener) -> io::Result<std::net::TcpListener> {
        socket.try_clone()
    }

    fn register_listener(
        rt: &mut RuntimeRef,
        socket: std::net::TcpListener,
    ) -> io::Result<TcpListener> {
        TcpListener::from_std(rt, socket)
    }

    fn poll_accept(
        listener: &mut TcpListener,
        cx: &mut task::Context<'_>,
    ) -> Poll<io::Result<(mio::net::TcpStream, SocketAddr)>> {
        listener.poll_accept_unregistered(cx)
    }

    fn register_stream(
        rt: &RuntimeRef,
        raw: mio::net::TcpStream,
        counted: Counted,
    ) -> io::Result<TcpStream> {
        TcpStream::register_counted(rt, raw, Some(counted))
    }
}

impl<S, NA> TcpServer<S, NA>
where
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream> + Clone + 'static,
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    /// Binds the server's address now (port 0 picks a free port, which all
    /// listeners then share), so a bad address is reported here and
    /// connections are queued from this moment on.
    ///
    /// # Errors
    ///
    /// The OS error with the address, e.g. `bind 127.0.0.1:80: Permission
    /// denied (os error 13)`.
    pub fn setup(
        addr: SocketAddr,
        supervisor: S,
        new_actor: NA,
        options: ActorOptions,
    ) -> io::Result<Self> {
        let listener =
            sys::reuse_port_listener(addr).map_err(|err| with_addr("bind", addr, err))?;
        let addr = listener.local_addr()?;
        let sockets = Sockets::PerWorker {
            first: std::sync::Mutex::new(Some(listener)),
            bind: Box::new(move || {
                sys::reuse_port_listener(addr).map_err(|err| with_addr("bind", addr, err))
            }),
        };
        let server = Server::new(
            ServerAddr::Tcp(addr),
            sockets,
            None,
            supervisor,
            new_actor,
            options,
        );
        Ok(TcpServer { server, addr })
    }

    /// Serves `listener`, a listening TCP socket bound elsewhere: one passed
    /// by systemd ([`crate::systemd::listeners`]), or one the application
    /// bound with options of its own. Every worker's listener accepts from
    /// it. It is made non-blocking and close-on-exec.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `listener` is not a listening TCP
    /// socket (`listen` not called, or a socket of another kind), with what
    /// it is; the OS error if its flags cannot be set.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::actor::{actor_fn, Context};
    /// use hearth::net::{TcpServer, TcpStream};
    /// use hearth::supervisor::NoSupervisor;
    /// use hearth::{ActorOptions, ThreadLocal};
    ///
    /// async fn hello(_: Context<(), ThreadLocal>, mut stream: TcpStream) -> std::io::Result<()> {
    ///     stream.write_all(b"hello\n").await
    /// }
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let server = TcpServer::from_listener(listener, NoSupervisor, actor_fn(hello), ActorOptions::default())?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_listener(
        listener: std::net::TcpListener,
        supervisor: S,
        new_actor: NA,
        options: ActorOptions,
    ) -> io::Result<Self> {
        let info = sys::socket_info(listener.as_fd())?;
        if !matches!(info.domain, libc::AF_INET | libc::AF_INET6)
            || info.ty != libc::SOCK_STREAM
            || !info.listening
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a TcpServer needs a listening TCP socket, and this is {}",
                    info.describe()
                ),
            ));
        }
        listener.set_nonblocking(true)?;
        sys::set_cloexec(listener.as_fd())?;
        let addr = listener.local_addr()?;
        let sockets = Sockets::Shared(std::sync::Mutex::new(Some(listener)));
        let server = Server::new(
            ServerAddr::Tcp(addr),
            sockets,
            None,
            supervisor,
            new_actor,
            options,
        );
        Ok(TcpServer { server, addr })
    }
}

impl<S, NA> TcpServer<S, NA> {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl<S: Clone, NA: Clone> Clone for TcpServer<S, NA> {
    fn clone(&self) -> Self {
        TcpServer {
            server: self.server.clone(),
            addr: self.addr,
        }
    }
}

impl<S, NA> fmt::Debug for TcpServer<S, NA> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl<S, NA> NewActor for TcpServer<S, NA>
where
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream> + Clone + 'static,
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + 'static,
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
        Tcp::NAME
    }
}
