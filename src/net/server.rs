//! The engine of [`TcpServer`](super::TcpServer) and
//! [`UnixServer`](super::UnixServer): a listener actor per worker, an actor
//! per connection, the connections kept even over the workers, graceful
//! shutdown and metrics, over any socket kind ([`Kind`]). This file has the
//! servers of thread-local connections and what both modes share;
//! `server_thread_safe.rs` has the listener of thread-safe connections
//! (TCP only), which balances nothing by hand.
//!
//! Where the listeners' sockets come from ([`Sockets`]):
//!
//! - *Per worker* (a TCP server bound by `setup`): one socket per worker on
//!   the same port (`SO_REUSEPORT`); the kernel spreads new connections
//!   over them by a hash of their addresses.
//! - *Shared* (a Unix path, which `SO_REUSEPORT` cannot share, and any
//!   socket the application or systemd hands over, of which there is one):
//!   every listener registers a duplicate of the one socket's descriptor
//!   on its own poll. A new connection wakes every worker's listener; the
//!   first to accept takes it and the others find nothing (`EAGAIN`),
//!   which costs a wake-up per idle worker and is why TCP servers bind a
//!   socket per worker when they can.
//!
//! Either way the spread is uneven (50 connections often land 29 and 21 on
//! two workers, and with a shared socket the least busy worker wakes first
//! and takes most), and the busier worker then holds every client back. So
//! each listener knows how many of the server's connections are open on
//! every worker; a listener that accepts a connection while another worker
//! has fewer open hands the socket, not yet registered anywhere, to that
//! worker's listener, which registers it on its own poll and starts the
//! connection actor there. Connections stay within one of each other per
//! worker.
//!
//! When the runtime stops, the listeners stop accepting and return; the
//! first closes a shared socket (and removes the socket file its server
//! made), so new clients are refused at once instead of waiting in a
//! backlog nobody accepts from.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{self, Poll, Waker};
use std::time::Duration;

use log::{debug, warn};

use super::SocketMode;
use super::mode::private::SealedMode;
use super::server_stats::{ListenerStats, ServerAddr, ServerStats};
use super::unix::socket_file::SocketFile;
use crate::actor::{Context, NewActor};
use crate::signal::Signal;
use crate::supervisor::Supervisor;
use crate::timer::Timer;
use crate::{ActorOptions, ThreadLocal};

/// A kind of socket a server listens on: how to register its listener,
/// accept, and register a connection for its actor.
pub(crate) trait Kind: Sized + 'static {
    /// The runtime access of the connection actors, and so where the
    /// listener and the connections are registered.
    type Mode: SocketMode;
    /// The listener, registered on a worker.
    type Listener;
    /// A bound, listening socket, not yet registered.
    type Socket: Send + 'static;
    /// An accepted connection, not yet registered.
    type Raw: Send + 'static;
    /// The address of a connection's peer, for the logs.
    type Peer: fmt::Debug + Send + 'static;
    /// The stream a connection actor gets.
    type Stream: 'static;

    /// The listener actors' name (in the metrics and logs).
    const NAME: &'static str;

    /// A second descriptor of `socket`, for another worker's listener.
    fn duplicate(socket: &Self::Socket) -> io::Result<Self::Socket>;

    /// Registers a listening socket (on this worker, or on the shared
    /// poll).
    fn register_listener(rt: &Handle<Self>, socket: Self::Socket) -> io::Result<Self::Listener>;

    /// Accepts a connection, without registering it.
    fn poll_accept(
        listener: &mut Self::Listener,
        cx: &mut task::Context<'_>,
    ) -> Poll<io::Result<(Self::Raw, Self::Peer)>>;

    /// Registers a connection (on this worker, or on the shared poll),
    /// counted where it was started.
    fn register_stream(
        rt: &Handle<Self>,
        raw: Self::Raw,
        counted: Counted,
    ) -> io::Result<Self::Stream>;
}

/// What registers the sockets of kind `K`: a `RuntimeRef` for thread-local
/// connections, a `ThreadSafe` for thread-safe ones.
pub(crate) type Handle<K> = <<K as Kind>::Mode as SealedMode>::Handle;

/// Where the listeners get their sockets.
pub(crate) enum Sockets<T> {
    /// A socket per worker: the first listener takes the one bound by
    /// `setup`, the others bind their own with `bind`.
    PerWorker {
        first: Mutex<Option<T>>,
        bind: Box<dyn Fn() -> io::Result<T> + Send + Sync>,
    },
    /// One socket for all: each listener registers a duplicate. `None` once
    /// the server stopped.
    Shared(Mutex<Option<T>>),
}

/// The engine of a server over sockets of kind `K`.
pub(crate) struct Server<K: Kind, S, NA> {
    pub(super) shared: Arc<Shared<K>>,
    pub(super) supervisor: S,
    pub(super) new_actor: NA,
    pub(super) options: ActorOptions,
}

pub(super) struct Shared<K: Kind> {
    pub(super) addr: ServerAddr,
    sockets: Sockets<K::Socket>,
    /// The socket file the server made (after `sockets`: removed after
    /// they are closed).
    file: Mutex<Option<SocketFile>>,
    /// The running listeners, one per worker.
    listeners: Mutex<Vec<Arc<Desk<K>>>>,
    /// Connections and accept errors per worker, for the metrics.
    pub(super) stats: Arc<ServerStats>,
}

/// What the other listeners see of one listener.
struct Desk<K: Kind> {
    load: Arc<Load>,
    /// Connections handed over by other listeners.
    handed: Mutex<Handed<K>>,
    /// The listener actor, to wake when a connection is handed over.
    waker: Mutex<Option<Waker>>,
}

/// The connections of a server on one worker (or, for thread-safe
/// connections, on all).
pub(super) struct Load {
    /// Open connections of the server on this listener's worker.
    open: AtomicUsize,
    /// The server's counters on this worker.
    stats: Arc<ListenerStats>,
}

impl Load {
    /// An empty count, counting into `stats`.
    pub(super) fn new(stats: Arc<ListenerStats>) -> Arc<Load> {
        Arc::new(Load {
            open: AtomicUsize::new(0),
            stats,
        })
    }

    /// Counts a connection started here whose place in the count was
    /// already taken (by [`Shared::place`]): its place, to keep with its
    /// stream.
    fn started(self: &Arc<Load>) -> Counted {
        self.stats.accepted();
        Counted(self.clone())
    }

    /// Counts a connection started here: its place, to keep with its
    /// stream.
    pub(super) fn count(self: &Arc<Load>) -> Counted {
        let _ = self.open.fetch_add(1, Ordering::AcqRel);
        self.started()
    }
}

/// A connection not yet registered anywhere, with its peer's address.
pub(super) type Conn<K> = (<K as Kind>::Raw, <K as Kind>::Peer);

/// The connections handed to a listener.
struct Handed<K: Kind> {
    conns: Vec<Conn<K>>,
    /// Set when the listener stopped: it takes no more.
    closed: bool,
}

impl<K: Kind> Desk<K> {
    /// Hands `conn` to this listener; gives it back if the listener stopped.
    fn hand(&self, conn: Conn<K>) -> Result<(), Conn<K>> {
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
/// [`Load::open`]); the count goes down when it is dropped, with the
/// connection's stream.
pub(crate) struct Counted(Arc<Load>);

impl Drop for Counted {
    fn drop(&mut self) {
        let _ = self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.stats.closed();
    }
}

/// Locks `mutex`, ignoring poisoning (nothing panics while these are held).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl<K: Kind> Shared<K> {
    /// A socket for a new listener. An error for want of descriptors or
    /// memory is the system's own, for [`socket_later`] to know.
    pub(super) fn socket(&self) -> io::Result<K::Socket> {
        let said = |what: &str, err: io::Error| {
            if is_shortage(&err) {
                err
            } else {
                io::Error::new(err.kind(), format!("{what} {}: {err}", self.addr))
            }
        };
        match &self.sockets {
            Sockets::PerWorker { first, bind } => match lock(first).take() {
                Some(socket) => Ok(socket),
                None => bind().map_err(|err| said("bind", err)),
            },
            Sockets::Shared(socket) => match &*lock(socket) {
                Some(socket) => {
                    K::duplicate(socket).map_err(|err| said("duplicate the socket of", err))
                }
                None => Err(io::Error::other(format!(
                    "the socket of {} is closed: the server stopped",
                    self.addr
                ))),
            },
        }
    }

    /// The runtime is stopping: closes the sockets no listener holds and
    /// removes the socket file, so new clients are refused now.
    pub(super) fn close(&self) {
        match &self.sockets {
            Sockets::PerWorker { first, .. } => drop(lock(first).take()),
            Sockets::Shared(socket) => drop(lock(socket).take()),
        }
        drop(lock(&self.file).take());
    }

    /// Where a connection accepted by `me` should go: `me`, or the desk of
    /// a listener with fewer open connections, whose count it joins.
    fn place(&self, me: &Arc<Desk<K>>) -> Arc<Desk<K>> {
        let listeners = lock(&self.listeners);
        let open = |desk: &Arc<Desk<K>>| desk.load.open.load(Ordering::Acquire);
        let target = listeners
            .iter()
            .min_by_key(|desk| open(desk))
            .filter(|desk| open(desk) < open(me))
            .unwrap_or(me)
            .clone();
        let _ = target.load.open.fetch_add(1, Ordering::AcqRel);
        target
    }

    /// Removes `me` from the running listeners.
    fn leave(&self, me: &Arc<Desk<K>>) {
        lock(&self.listeners).retain(|desk| !Arc::ptr_eq(desk, me));
    }
}

/// Message to a listener actor of a [`TcpServer`](super::TcpServer) or
/// [`UnixServer`](super::UnixServer).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ServerMessage {
    /// Stop accepting connections and return.
    Stop,
}

/// The signals that stop a process ([`Signal::should_stop`]: `SIGINT`,
/// `SIGTERM`, `SIGQUIT`) are [`ServerMessage::Stop`]; the others are not a
/// server's, so a listener registered with `receive_signals` stops on the
/// first and lets the others pass.
///
/// # Examples
///
/// ```
/// use hearth::Signal;
/// use hearth::net::ServerMessage;
///
/// assert_eq!(ServerMessage::try_from(Signal::Terminate), Ok(ServerMessage::Stop));
/// assert!(ServerMessage::try_from(Signal::User2).is_err());
/// ```
impl TryFrom<Signal> for ServerMessage {
    type Error = Signal;

    fn try_from(signal: Signal) -> Result<ServerMessage, Signal> {
        if signal.should_stop() {
            Ok(ServerMessage::Stop)
        } else {
            Err(signal)
        }
    }
}

impl<K: Kind, S, NA> Server<K, S, NA> {
    /// A server on `sockets`, known in logs and metrics as `addr`; `file`
    /// is the socket file it made, removed when it stops.
    pub(crate) fn new(
        addr: ServerAddr,
        sockets: Sockets<K::Socket>,
        file: Option<SocketFile>,
        supervisor: S,
        new_actor: NA,
        options: ActorOptions,
    ) -> Self {
        let shared = Arc::new(Shared {
            stats: Arc::new(ServerStats::new(addr.clone())),
            addr,
            sockets,
            file: Mutex::new(file),
            listeners: Mutex::new(Vec::new()),
        });
        Server {
            shared,
            supervisor,
            new_actor,
            options,
        }
    }
}

impl<K: Kind, S: Clone, NA: Clone> Clone for Server<K, S, NA> {
    fn clone(&self) -> Self {
        Server {
            shared: self.shared.clone(),
            supervisor: self.supervisor.clone(),
            new_actor: self.new_actor.clone(),
            options: self.options,
        }
    }
}

/// What woke the listener.
enum Event<K: Kind> {
    Stop,
    /// A connection another listener handed over.
    Handed(Conn<K>),
    Accepted(io::Result<Conn<K>>),
}

/// The listener actor of a server of thread-local connections: the actor
/// its `NewActor` makes.
pub(crate) fn listener<K, S, NA>(
    ctx: Context<ServerMessage, ThreadLocal>,
    server: Server<K, S, NA>,
) -> std::pin::Pin<Box<dyn Future<Output = io::Result<()>>>>
where
    K: Kind<Mode = ThreadLocal>,
    S: Supervisor<NA> + Clone + 'static,
    NA: NewActor<Argument = K::Stream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    Box::pin(listen(ctx, server))
}

async fn listen<K, S, NA>(
    mut ctx: Context<ServerMessage, ThreadLocal>,
    server: Server<K, S, NA>,
) -> io::Result<()>
where
    K: Kind<Mode = ThreadLocal>,
    S: Supervisor<NA> + Clone + 'static,
    NA: NewActor<Argument = K::Stream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    let addr = server.shared.addr.clone();
    let worker = ctx.runtime().worker_id();
    // Out of descriptors for now (another worker's listener took the last
    // ones before this one ran): wait as an accept that ran out waits.
    let socket = loop {
        match server.shared.socket() {
            Ok(socket) => break socket,
            Err(err) if socket_later(&addr, worker, &err) && !ctx.is_stopping() => {
                let _passed = Timer::after(ctx.runtime_ref().clone(), ACCEPT_PAUSE).await;
            }
            Err(err) => return Err(err),
        }
    };
    let mut listener = K::register_listener(ctx.runtime(), socket)?;
    // A restarted listener starts a new count at 0 while its worker's
    // earlier connections are still open: it gets a few more new ones until
    // those close.
    ctx.runtime().add_server(&server.shared.stats);
    let me = Arc::new(Desk::<K> {
        load: Load::new(server.shared.stats.on_worker(worker)),
        handed: Mutex::new(Handed {
            conns: Vec::new(),
            closed: false,
        }),
        waker: Mutex::new(None),
    });
    lock(&server.shared.listeners).push(me.clone());
    let _leave = Leave {
        shared: &server.shared,
        me: &me,
    };
    debug!(worker = worker, addr:% = addr, server = K::NAME; "listening");
    loop {
        let event: Event<K> = poll_fn(|cx| {
            if stop_asked(&mut ctx, cx) {
                return Poll::Ready(Event::Stop);
            }
            // The waker first: a hand-over after the check wakes us.
            *lock(&me.waker) = Some(cx.waker().clone());
            if let Some(conn) = lock(&me.handed).conns.pop() {
                return Poll::Ready(Event::Handed(conn));
            }
            K::poll_accept(&mut listener, cx).map(Event::Accepted)
        })
        .await;
        match event {
            Event::Stop => {
                debug!(worker = worker, addr:% = addr; "listener stopped accepting");
                if ctx.is_stopping() {
                    server.shared.close();
                }
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
                debug!(worker = worker, peer:? = conn.1; "connection handed over");
                start_connection(&mut ctx, &server, &me, conn);
            }
            Event::Accepted(Ok(conn)) => {
                debug!(worker = worker, peer:? = conn.1; "accepted connection");
                let target = server.shared.place(&me);
                if Arc::ptr_eq(&target, &me) {
                    start_connection(&mut ctx, &server, &me, conn);
                } else if let Err(conn) = target.hand(conn) {
                    // That listener stopped meanwhile: keep the connection.
                    let _ = target.load.open.fetch_sub(1, Ordering::AcqRel);
                    let _ = me.load.open.fetch_add(1, Ordering::AcqRel);
                    start_connection(&mut ctx, &server, &me, conn);
                }
            }
            Event::Accepted(Err(err)) => {
                if accept_failed(&me.load, &addr, worker, err)? {
                    let _passed = Timer::after(ctx.runtime_ref().clone(), ACCEPT_PAUSE).await;
                }
            }
        }
    }
}

/// True when a listener is to stop accepting: the runtime is stopping, or
/// a [`ServerMessage::Stop`] came. Registers `cx` for the message
/// otherwise.
pub(super) fn stop_asked<RT>(
    ctx: &mut Context<ServerMessage, RT>,
    cx: &mut task::Context<'_>,
) -> bool {
    // `NoMessages` only means nobody can send a `Stop`: keep going.
    ctx.is_stopping()
        || matches!(
            pin!(ctx.receive_next()).poll(cx),
            Poll::Ready(Ok(ServerMessage::Stop))
        )
}

/// How long a listener waits before it accepts again after the process
/// or the system ran out of file descriptors or memory: long enough not to
/// spin on the connection that waits, short enough to serve again soon
/// after one closes.
pub(super) const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// True if a listener's socket could not be made for want of file
/// descriptors or memory, which may come back: the listener tries again
/// after [`ACCEPT_PAUSE`] (said here) instead of failing, so that a
/// listener that first runs once the others' connections took every
/// descriptor still listens once some close.
pub(super) fn socket_later(addr: &ServerAddr, worker: usize, err: &io::Error) -> bool {
    let short = is_shortage(err);
    if short {
        warn!(worker = worker, addr:% = addr, error:% = err; "cannot make the listener's socket now; trying again in {ACCEPT_PAUSE:?}");
    }
    short
}

/// True for the errors of a process or system out of file descriptors or
/// memory for now.
fn is_shortage(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// An accept that failed, counted on `load`: `Ok(false)` when only that
/// connection failed (its peer gave up before it was accepted, not the
/// listener's problem), `Ok(true)` when the process or the system is out
/// of file descriptors or memory for now (the listener pauses for
/// [`ACCEPT_PAUSE`] and accepts again: the connection waits in the
/// backlog, as a tokio or hyper server keeps serving), the listener's
/// error otherwise.
pub(super) fn accept_failed(
    load: &Load,
    addr: &ServerAddr,
    worker: usize,
    err: io::Error,
) -> io::Result<bool> {
    load.stats.accept_failed();
    match err.kind() {
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {
            warn!(worker = worker, error:% = err; "connection failed before accept");
            Ok(false)
        }
        _ if is_shortage(&err) => {
            warn!(worker = worker, addr:% = addr, error:% = err; "cannot accept now; accepting again in {ACCEPT_PAUSE:?}");
            Ok(true)
        }
        _ => Err(io::Error::new(
            err.kind(),
            format!("accept on {addr}: {err}"),
        )),
    }
}

/// Takes a listener out of its server's list when it returns or fails.
struct Leave<'a, K: Kind> {
    shared: &'a Shared<K>,
    me: &'a Arc<Desk<K>>,
}

impl<K: Kind> Drop for Leave<'_, K> {
    fn drop(&mut self) {
        self.shared.leave(self.me);
        lock(&self.me.handed).closed = true;
    }
}

/// Registers a connection counted on `me` (its count was raised when it
/// was placed) on this worker and starts its actor.
fn start_connection<K, S, NA>(
    ctx: &mut Context<ServerMessage, ThreadLocal>,
    server: &Server<K, S, NA>,
    me: &Arc<Desk<K>>,
    (raw, peer): Conn<K>,
) where
    K: Kind<Mode = ThreadLocal>,
    S: Supervisor<NA> + Clone + 'static,
    NA: NewActor<Argument = K::Stream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    let counted = me.load.started();
    match K::register_stream(ctx.runtime(), raw, counted) {
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
        Err(err) => warn!(peer:? = peer, error:% = err; "unable to register connection"),
    }
}
