//! [`TcpServer`]: a listener per worker on one port, or on one socket
//! handed over (by systemd), and an actor per connection, thread-local or
//! thread-safe; the TCP [`Kind`] of the server engine (`server.rs`, and
//! `server_thread_safe.rs` for thread-safe connections).

use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{self, Poll};

use super::server::{self, Counted, Handle, Kind, Server, ServerMessage, Sockets};
use super::server_stats::ServerAddr;
use super::{SocketMode, TcpListener, TcpStream, server_thread_safe, with_addr};
use crate::actor::{Context, NewActor};
use crate::supervisor::Supervisor;
use crate::{ActorOptions, ThreadLocal, ThreadSafe, sys};

/// A TCP server of thread-local connections (see below for thread-safe
/// ones): spawn it (a [`NewActor`]) on every worker with
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
/// # Thread-local or thread-safe connections
///
/// The connection actor's runtime access chooses the server's mode (the
/// type parameter `RT`, inferred by [`TcpServer::setup`] and
/// [`TcpServer::from_listener`]):
///
/// - Thread-local (`Context<_, ThreadLocal>` and a [`TcpStream`]): the
///   listeners are thread-local actors, one per worker, spawned with
///   [`RuntimeRef::spawn_local`](crate::RuntimeRef::spawn_local), and a
///   connection stays on the worker that started it. Its socket is on that
///   worker's own poll, and waking it takes no lock and no atomic
///   operation: the cheaper of the two per request. Choose it when the
///   connections' work is short and even and the workers have their CPUs
///   to themselves, as for an echo or a cache server on a dedicated host.
/// - Thread-safe (`Context<_, ThreadSafe>` and a `TcpStream<ThreadSafe>`):
///   the listener is a thread-safe actor, spawned with
///   [`Runtime::spawn`](crate::Runtime::spawn) or
///   [`ThreadSafe::spawn`](crate::ThreadSafe::spawn) (once is enough; each
///   more adds a socket on the same port, or a duplicate of the socket of
///   `from_listener`), and a connection runs on whichever worker is free
///   when it has work: its socket is on the runtime's shared poll, which
///   every worker polls. A worker held up by a long request, by a blocking
///   call or by another program taking its CPU no longer holds up the
///   connections it accepted. This costs a lock and a second poll per
///   wake-up, and the connection's memory moves between cores with it.
///   Choose it when request costs are uneven, when the machine is shared
///   (the clients too: a load of one client thread is served by one
///   worker while the client has the other core, where thread-local
///   connections keep both workers half busy, each waking for its own),
///   or when tail latency matters more than the last percent of
///   throughput; the connection actor (and what it holds across an
///   `.await`) must then be `Send`. Its metrics have one entry, worker 0.
///   The examples' servers use it.
///
/// `BENCHMARKS.md` has the two modes side by side, under the TCP echo and
/// the HTTP workloads.
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
///
/// The same server with thread-safe connections: the connection actor's
/// context and stream say so, and the server is spawned once, as a
/// thread-safe actor.
///
/// ```no_run
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::{TcpServer, TcpStream};
/// use hearth::supervisor::{NoSupervisor, RestartSupervisor};
/// use hearth::{ActorOptions, Runtime, ThreadSafe};
///
/// async fn hello(_: Context<(), ThreadSafe>, mut stream: TcpStream<ThreadSafe>) -> std::io::Result<()> {
///     stream.write_all(b"hello\n").await
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let mut runtime = Runtime::setup().use_all_cores().auto_cpu_affinity().build()?;
///     let addr = "127.0.0.1:7000".parse()?;
///     let server = TcpServer::setup(addr, NoSupervisor, actor_fn(hello), ActorOptions::default())?;
///     println!("listening on {}", server.local_addr());
///     let _ = runtime.spawn(RestartSupervisor::new(()), server, (), ActorOptions::default());
///     Ok(runtime.start()?)
/// }
/// ```
pub struct TcpServer<S, NA, RT: SocketMode = ThreadLocal> {
    server: Server<Tcp<RT>, S, NA>,
    addr: SocketAddr,
}

/// TCP sockets for connection actors of runtime access `RT`, for the
/// server engine.
pub(crate) struct Tcp<RT>(PhantomData<RT>);

impl<RT: SocketMode> Kind for Tcp<RT> {
    type Mode = RT;
    type Listener = TcpListener<RT>;
    type Socket = std::net::TcpListener;
    type Raw = mio::net::TcpStream;
    type Peer = SocketAddr;
    type Stream = TcpStream<RT>;

    const NAME: &'static str = "TcpServer";

    fn duplicate(socket: &std::net::TcpListener) -> io::Result<std::net::TcpListener> {
        socket.try_clone()
    }

    fn register_listener(
        rt: &Handle<Self>,
        socket: std::net::TcpListener,
    ) -> io::Result<TcpListener<RT>> {
        // Non-blocking already: `setup` and `from_listener` made it so.
        TcpListener::register(rt, mio::net::TcpListener::from_std(socket))
    }

    fn poll_accept(
        listener: &mut TcpListener<RT>,
        cx: &mut task::Context<'_>,
    ) -> Poll<io::Result<(mio::net::TcpStream, SocketAddr)>> {
        listener.poll_accept_unregistered(cx)
    }

    fn register_stream(
        rt: &Handle<Self>,
        raw: mio::net::TcpStream,
        counted: Counted,
    ) -> io::Result<TcpStream<RT>> {
        TcpStream::register_counted(rt, raw, Some(counted))
    }
}

impl<S, NA, RT> TcpServer<S, NA, RT>
where
    RT: SocketMode,
    S: Supervisor<NA> + Clone + 'static,
    NA: NewActor<Argument = TcpStream<RT>, RuntimeAccess = RT> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    /// Binds the server's address now (port 0 picks a free port, which all
    /// listeners then share), so a bad address is reported here and
    /// connections are queued from this moment on. The connection actor
    /// `new_actor` chooses the server's mode (see [`TcpServer`]).
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
        // A port another server listens on is in use, though it would
        // share it.
        sys::port_free(addr).map_err(|err| with_addr("bind", addr, err))?;
        let listener =
            sys::reuse_port_listener(addr).map_err(|err| with_addr("bind", addr, err))?;
        let addr = listener.local_addr()?;
        let sockets = Sockets::PerWorker {
            first: std::sync::Mutex::new(Some(listener)),
            // Its error as the system's: `Shared::socket` names the address.
            bind: Box::new(move || sys::reuse_port_listener(addr)),
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
    /// bound with options of its own, in the mode `new_actor` chooses (see
    /// [`TcpServer`]). Every worker's listener accepts from it (a
    /// thread-safe server's one listener, from the shared poll). It is made
    /// non-blocking and close-on-exec.
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

impl<S, NA, RT: SocketMode> TcpServer<S, NA, RT> {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl<S: Clone, NA: Clone, RT: SocketMode> Clone for TcpServer<S, NA, RT> {
    fn clone(&self) -> Self {
        TcpServer {
            server: self.server.clone(),
            addr: self.addr,
        }
    }
}

impl<S, NA, RT: SocketMode> fmt::Debug for TcpServer<S, NA, RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl<S, NA> NewActor for TcpServer<S, NA>
where
    S: Supervisor<NA> + Clone + 'static,
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
        Tcp::<ThreadLocal>::NAME
    }
}

impl<S, NA> NewActor for TcpServer<S, NA, ThreadSafe>
where
    S: Supervisor<NA> + Clone + Send + Sync + 'static,
    NA: NewActor<Argument = TcpStream<ThreadSafe>, RuntimeAccess = ThreadSafe>
        + Clone
        + Send
        + Sync
        + 'static,
    NA::Actor: Send + 'static,
    NA::Message: Send + 'static,
{
    type Message = ServerMessage;
    type Argument = ();
    type Actor = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;
    type Error = std::convert::Infallible;
    type RuntimeAccess = ThreadSafe;

    fn new(
        &mut self,
        ctx: Context<ServerMessage, ThreadSafe>,
        (): (),
    ) -> Result<Self::Actor, Self::Error> {
        Ok(Box::pin(server_thread_safe::listen(
            ctx,
            self.server.clone(),
        )))
    }

    fn name() -> &'static str {
        Tcp::<ThreadSafe>::NAME
    }
}
