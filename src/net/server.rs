//! [`TcpServer`]: a listener per worker on one port, an actor per
//! connection; here the server of thread-local connections, and what both
//! kinds share (`server_thread_safe.rs` has the other).
//!
//! The kernel spreads new connections over the listeners (`SO_REUSEPORT`)
//! by a hash of their addresses, which is uneven: 50 connections often
//! land 29 and 21 on two workers, and the busier worker then holds every
//! client back. So each listener knows how many of the server's
//! connections are open on every worker; a listener that accepts a
//! connection while another worker has fewer open hands the socket, not
//! yet registered anywhere, to that worker's listener, which registers it
//! on its own poll and starts the connection actor there. Connections stay
//! within one of each other per worker.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use log::{debug, warn};

use super::server_stats::{ListenerStats, ServerStats};
use super::{SocketMode, TcpListener, TcpStream, with_addr};
use crate::actor::{Actor, Context, NewActor};
use crate::supervisor::Supervisor;
use crate::{ActorOptions, ThreadLocal, sys};

/// A TCP server of thread-local connections (see below for thread-safe
/// ones): spawn it (a [`NewActor`]) on every worker with
/// [`Runtime::run_on_workers`](crate::Runtime::run_on_workers); each
/// listener actor binds its own socket on the server's address
/// (`SO_REUSEPORT`, so the kernel spreads connections over the workers) and
/// starts a thread-local actor per connection, with the connection
/// supervisor. The listeners keep the number of open connections per worker
/// even (within one): a connection accepted on a worker that has more than
/// another is handed to the other's listener before it is registered. The
/// listener actors have a supervisor of their own, given when they are
/// spawned.
///
/// On a graceful shutdown of the runtime the listeners stop accepting and
/// return; connection actors finish by themselves (see
/// [`Context::until_stopping`]).
///
/// # Thread-local or thread-safe connections
///
/// The connection actor's runtime access chooses the server's mode (the
/// type parameter `RT`, inferred by [`TcpServer::setup`]):
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
///   more adds a socket on the same port), and a connection runs on
///   whichever worker is free when it has work: its socket is on the
///   runtime's shared poll, which every worker polls. A worker held up by
///   a long request, by a blocking call or by another program taking its
///   CPU no longer holds up the connections it accepted. This costs a lock
///   and a second poll per wake-up, and the connection's memory moves
///   between cores with it. Choose it when request costs are uneven, when
///   the machine is shared, or when tail latency matters more than the
///   last percent of throughput; the connection actor (and what it holds
///   across an `.await`) must then be `Send`.
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
    pub(super) shared: Arc<Shared>,
    pub(super) supervisor: S,
    pub(super) new_actor: NA,
    pub(super) options: ActorOptions,
    _mode: PhantomData<fn() -> RT>,
}

pub(super) struct Shared {
    pub(super) addr: SocketAddr,
    /// The socket bound by `setup`, taken by the first listener.
    bound: Mutex<Option<std::net::TcpListener>>,
    /// The running listeners, one per worker.
    listeners: Mutex<Vec<Arc<Desk>>>,
    /// Connections and accept errors per worker, for the metrics.
    pub(super) stats: Arc<ServerStats>,
}

/// What the other listeners see of one listener.
pub(super) struct Desk {
    /// Open connections of the server on this listener's worker.
    open: AtomicUsize,
    /// The server's counters on this worker.
    pub(super) stats: Arc<ListenerStats>,
    /// Connections handed over by other listeners.
    handed: Mutex<Handed>,
    /// The listener actor, to wake when a connection is handed over.
    waker: Mutex<Option<Waker>>,
}

/// A connection not yet registered on any worker, with its peer's address.
pub(super) type Conn = (mio::net::TcpStream, SocketAddr);

/// The connections handed to a listener.
#[derive(Default)]
struct Handed {
    conns: Vec<Conn>,
    /// Set when the listener stopped: it takes no more.
    closed: bool,
}

impl Desk {
    /// A listener's desk, counting into `stats`.
    pub(super) fn new(stats: Arc<ListenerStats>) -> Desk {
        Desk {
            open: AtomicUsize::new(0),
            stats,
            handed: Mutex::new(Handed::default()),
            waker: Mutex::new(None),
        }
    }

    /// Counts a connection started on this listener (not handed over): its
    /// place in the count, to keep with its stream.
    pub(super) fn count(self: &Arc<Desk>) -> Counted {
        let _ = self.open.fetch_add(1, Ordering::AcqRel);
        self.stats.accepted();
        Counted(self.clone())
    }

    /// Hands `conn` to this listener; gives it back if the listener stopped.
    fn hand(&self, conn: Conn) -> Result<(), Conn> {
        let mut handed = lock(&self.handed);
        if handed.closed {
            return Err(conn);
        }
        handed.conns.push(conn);
        drop(handed);
        if let Some(waker) = lock(&self.waker).take() {
            waker.wake();
        }
        Ok(())
    }
}

/// A connection's place in its worker's count of open connections (see
/// [`Desk::open`]); the count goes down when it is dropped, with the
/// connection's stream.
pub(crate) struct Counted(Arc<Desk>);

impl Drop for Counted {
    fn drop(&mut self) {
        let _ = self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.stats.closed();
    }
}

/// Locks `mutex`, ignoring poisoning (nothing panics while these are held).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// The socket to listen on: the one `setup` bound, or a new one on the
    /// same port for the listeners after the first.
    pub(super) fn socket(&self) -> io::Result<std::net::TcpListener> {
        let bound = lock(&self.bound).take();
        match bound {
            Some(socket) => Ok(socket),
            None => {
                sys::reuse_port_listener(self.addr).map_err(|err| with_addr("bind", self.addr, err))
            }
        }
    }

    /// Where a connection accepted by `me` should go: `me`, or the desk of
    /// a listener with fewer open connections, whose count it joins.
    fn place(&self, me: &Arc<Desk>) -> Arc<Desk> {
        let listeners = lock(&self.listeners);
        let target = listeners
            .iter()
            .min_by_key(|desk| desk.open.load(Ordering::Acquire))
            .filter(|desk| desk.open.load(Ordering::Acquire) < me.open.load(Ordering::Acquire))
            .unwrap_or(me)
            .clone();
        let _ = target.open.fetch_add(1, Ordering::AcqRel);
        target
    }

    /// Removes `me` from the running listeners.
    fn leave(&self, me: &Arc<Desk>) {
        lock(&self.listeners).retain(|desk| !Arc::ptr_eq(desk, me));
    }
}

/// Message to a listener actor of a [`TcpServer`].
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ServerMessage {
    /// Stop accepting connections and return.
    Stop,
}

impl<S, NA, RT> TcpServer<S, NA, RT>
where
    RT: SocketMode,
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream<RT>> + Clone + 'static,
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
        let listener =
            sys::reuse_port_listener(addr).map_err(|err| with_addr("bind", addr, err))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            addr,
            bound: Mutex::new(Some(listener)),
            listeners: Mutex::new(Vec::new()),
            stats: Arc::new(ServerStats::new(addr)),
        });
        Ok(TcpServer {
            shared,
            supervisor,
            new_actor,
            options,
            _mode: PhantomData,
        })
    }
}

impl<S, NA, RT: SocketMode> TcpServer<S, NA, RT> {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }
}

impl<S: Clone, NA: Clone, RT: SocketMode> Clone for TcpServer<S, NA, RT> {
    fn clone(&self) -> Self {
        TcpServer {
            shared: self.shared.clone(),
            supervisor: self.supervisor.clone(),
            new_actor: self.new_actor.clone(),
            options: self.options,
            _mode: PhantomData,
        }
    }
}

impl<S, NA, RT: SocketMode> fmt::Debug for TcpServer<S, NA, RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("addr", &self.shared.addr)
            .finish()
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
        Ok(Box::pin(listen(ctx, self.clone())))
    }

    fn name() -> &'static str {
        "TcpServer"
    }
}

/// What woke the listener.
enum Event {
    Stop,
    /// A connection another listener handed over.
    Handed(Conn),
    Accepted(io::Result<Conn>),
}

/// The listener actor.
async fn listen<S, NA>(
    mut ctx: Context<ServerMessage, ThreadLocal>,
    server: TcpServer<S, NA>,
) -> io::Result<()>
where
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream> + Clone + 'static,
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    let addr = server.shared.addr;
    let socket = server.shared.socket()?;
    let mut listener = TcpListener::<ThreadLocal>::from_std(ctx.runtime(), socket)?;
    let worker = ctx.runtime().worker_id();
    // A restarted listener starts a new count at 0 while its worker's
    // earlier connections are still open: it gets a few more new ones until
    // those close.
    ctx.runtime().add_tcp_server(&server.shared.stats);
    let me = Arc::new(Desk::new(server.shared.stats.on_worker(worker)));
    lock(&server.shared.listeners).push(me.clone());
    let _leave = Leave {
        shared: &server.shared,
        me: &me,
    };
    debug!(worker = worker, addr:% = addr; "listening");
    loop {
        let event = poll_fn(|cx| {
            if ctx.is_stopping() {
                return Poll::Ready(Event::Stop);
            }
            // `NoMessages` only means nobody can send a `Stop`: keep going.
            if let Poll::Ready(Ok(ServerMessage::Stop)) = pin!(ctx.receive_next()).poll(cx) {
                return Poll::Ready(Event::Stop);
            }
            // The waker first: a hand-over after the check wakes us.
            *lock(&me.waker) = Some(cx.waker().clone());
            if let Some(conn) = lock(&me.handed).conns.pop() {
                return Poll::Ready(Event::Handed(conn));
            }
            listener.poll_accept_unregistered(cx).map(Event::Accepted)
        })
        .await;
        match event {
            Event::Stop => {
                debug!(worker = worker, addr:% = addr; "listener stopped accepting");
                // Connections handed over before the stop still get their
                // actor, as if accepted a moment earlier.
                let handed = {
                    let mut handed = lock(&me.handed);
                    handed.closed = true;
                    std::mem::take(&mut handed.conns)
                };
                for conn in handed {
                    start_connection(&mut ctx, &server, &me, conn);
                }
                return Ok(());
            }
            Event::Handed(conn) => {
                debug!(worker = worker, peer:% = conn.1; "connection handed over");
                start_connection(&mut ctx, &server, &me, conn);
            }
            Event::Accepted(Ok(conn)) => {
                debug!(worker = worker, peer:% = conn.1; "accepted connection");
                let target = server.shared.place(&me);
                if Arc::ptr_eq(&target, &me) {
                    start_connection(&mut ctx, &server, &me, conn);
                } else if let Err(conn) = target.hand(conn) {
                    // That listener stopped meanwhile: keep the connection.
                    let _ = target.open.fetch_sub(1, Ordering::AcqRel);
                    let _ = me.open.fetch_add(1, Ordering::AcqRel);
                    start_connection(&mut ctx, &server, &me, conn);
                }
            }
            // The peer gave up before we accepted: not the listener's problem.
            Event::Accepted(Err(err))
                if matches!(
                    err.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                ) =>
            {
                me.stats.accept_failed();
                warn!(worker = worker, error:% = err; "connection failed before accept");
            }
            Event::Accepted(Err(err)) => {
                me.stats.accept_failed();
                return Err(io::Error::new(
                    err.kind(),
                    format!("accept on {addr}: {err}"),
                ));
            }
        }
    }
}

/// Takes a listener out of its server's list when it returns or fails.
struct Leave<'a> {
    shared: &'a Shared,
    me: &'a Arc<Desk>,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.shared.leave(self.me);
        lock(&self.me.handed).closed = true;
    }
}

/// Registers a connection counted on `me` (its count was raised when it
/// was placed) on this worker and starts its actor.
fn start_connection<S, NA>(
    ctx: &mut Context<ServerMessage, ThreadLocal>,
    server: &TcpServer<S, NA>,
    me: &Arc<Desk>,
    (stream, peer): Conn,
) where
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream> + Clone + 'static,
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    me.stats.accepted();
    let counted = Counted(me.clone());
    match TcpStream::<ThreadLocal>::register_counted(ctx.runtime(), stream, Some(counted)) {
        Ok(stream) => {
            let _ = ctx.runtime().spawn_local(
                server.supervisor.clone(),
                server.new_actor.clone(),
                stream,
                server.options,
            );
        }
        // The stream (and its count) is dropped: the peer sees the
        // connection closed.
        Err(err) => warn!(peer:% = peer, error:% = err; "unable to register connection"),
    }
}
