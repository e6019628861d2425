//! What every thread of a runtime shares, and [`ThreadSafe`], the runtime
//! access of thread-safe actors.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::actor::NewActor;
use crate::metrics::RuntimeMetrics;
use crate::net::ServerStats;
use crate::remote::PoolStats;
use crate::runtime::Quiescence;
use crate::runtime::shutdown::{Shutdown, ShuttingDown};
use crate::runtime::{ActorOptions, FutureOptions};
use crate::scheduler::{ActorProcess, FutureProcess, SharedScheduler};
use crate::signal::{Signal, SignalReceivers};
use crate::supervisor::Supervisor;
use crate::sync_worker::SyncWorkerInfo;
use crate::sys::ThreadClock;
use crate::timer::store::{TimerKey, Timers};
use crate::trace::TraceFile;
use crate::worker::WorkerShared;
use crate::worker::shared_sources::SharedSources;
use crate::{ActorRef, inbox};

/// State shared by all threads of a runtime.
pub(crate) struct RuntimeShared {
    pub(crate) name: String,
    pub(crate) scheduler: SharedScheduler,
    pub(crate) started_at: Instant,
    pub(crate) workers: Vec<Arc<WorkerShared>>,
    sync_workers: Mutex<Vec<Arc<SyncWorkerInfo>>>,
    /// Sync actor threads still running.
    sync_alive: AtomicUsize,
    pub(crate) shutdown: Shutdown,
    pub(crate) signal_receivers: SignalReceivers,
    /// Wakes the coordinator's poll (shutdown requests).
    coordinator_waker: mio::Waker,
    /// CPU clock of the coordinator thread, set by `start`.
    pub(crate) coordinator_clock: OnceLock<ThreadClock>,
    /// Timers of thread-safe actors, watched by every worker.
    timers: Mutex<Timers>,
    /// Sockets of thread-safe actors, on the poll every worker watches.
    pub(crate) io: SharedSources,
    /// Counters of the remote pools the coordinator drives.
    pub(crate) remote_pools: Mutex<Vec<Arc<PoolStats>>>,
    /// Counters of the TCP and Unix servers whose listeners ran.
    pub(crate) servers: Mutex<Vec<Arc<ServerStats>>>,
    /// How long a write may wait for room once the runtime is stopping
    /// (`Setup::stalled_write_limit`).
    pub(crate) stalled_write_limit: Duration,
    /// Whether worker threads grow their heap ahead of need
    /// (`Setup::grow_heap_ahead`).
    pub(crate) grow_heap_ahead: bool,
    /// An unhandled stop signal is the program's normal end
    /// (`Setup::stop_signals_end_cleanly`).
    pub(crate) stop_signals_end_cleanly: bool,
    /// Where the workers trace their runs (`Setup::trace`).
    pub(crate) trace: Option<Arc<TraceFile>>,
}

/// The settings of a [`Setup`](crate::Setup) that the runtime's threads
/// read.
#[derive(Default)]
pub(crate) struct SharedOptions {
    pub(crate) stalled_write_limit: Duration,
    pub(crate) grow_heap_ahead: bool,
    pub(crate) stop_signals_end_cleanly: bool,
    pub(crate) trace: Option<Arc<TraceFile>>,
}

impl RuntimeShared {
    pub(crate) fn new(
        name: String,
        workers: Vec<Arc<WorkerShared>>,
        coordinator_waker: mio::Waker,
        io: SharedSources,
        options: SharedOptions,
    ) -> Self {
        let SharedOptions {
            stalled_write_limit,
            grow_heap_ahead,
            stop_signals_end_cleanly,
            trace,
        } = options;
        RuntimeShared {
            name,
            scheduler: SharedScheduler::new(workers.clone()),
            started_at: Instant::now(),
            workers,
            sync_workers: Mutex::new(Vec::new()),
            sync_alive: AtomicUsize::new(0),
            shutdown: Shutdown::default(),
            signal_receivers: SignalReceivers::default(),
            coordinator_waker,
            coordinator_clock: OnceLock::new(),
            timers: Mutex::new(Timers::default()),
            io,
            remote_pools: Mutex::new(Vec::new()),
            servers: Mutex::new(Vec::new()),
            stalled_write_limit,
            grow_heap_ahead,
            stop_signals_end_cleanly,
            trace,
        }
    }

    pub(crate) fn sync_workers(&self) -> MutexGuard<'_, Vec<Arc<SyncWorkerInfo>>> {
        self.sync_workers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn timers(&self) -> MutexGuard<'_, Timers> {
        self.timers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a shared timer. If it is the new earliest one, a sleeping worker
    /// is woken to shorten its poll timeout.
    pub(crate) fn add_timer(&self, deadline: Instant, waker: Waker) -> TimerKey {
        let mut timers = self.timers();
        let earliest = timers.next().is_none_or(|next| deadline < next);
        let key = timers.add(deadline, waker);
        drop(timers);
        if earliest {
            for worker in &self.workers {
                if worker.notify() {
                    break;
                }
            }
        }
        key
    }

    /// Number of sync actor threads still running.
    pub(crate) fn sync_alive(&self) -> usize {
        self.sync_alive.load(Ordering::Acquire)
    }

    /// A sync actor thread starts.
    pub(crate) fn sync_started(&self) {
        let _ = self.sync_alive.fetch_add(1, Ordering::AcqRel);
    }

    /// A sync actor thread ended: idle workers may now be able to stop.
    pub(crate) fn sync_ended(&self) {
        if self.sync_alive.fetch_sub(1, Ordering::AcqRel) == 1 {
            for worker in &self.workers {
                worker.wake_poll();
            }
        }
    }

    /// Wakes the coordinator's poll (remote pool submissions).
    pub(crate) fn wake_coordinator(&self) {
        if let Err(err) = self.coordinator_waker.wake() {
            log::error!(error:% = err; "unable to wake the coordinator");
        }
    }

    /// Counts a server in the metrics, once.
    pub(crate) fn add_server(&self, stats: &Arc<ServerStats>) {
        let mut servers = self
            .servers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !servers.iter().any(|known| Arc::ptr_eq(known, stats)) {
            servers.push(stats.clone());
        }
    }

    /// Tells the coordinator that the stopping runtime may have gone quiet
    /// (an actor became idle, a process ended, an outcome was delivered).
    pub(crate) fn poke_quiescence(&self) {
        if self.shutdown.quiescence.poke() {
            self.wake_coordinator();
        }
    }

    /// Where a task that has to wait (for a message, or for an actor to
    /// stop) counts itself idle: the quiescence of a stopping runtime that
    /// has not gone quiet yet.
    pub(crate) fn idle_in(&self) -> Option<&Arc<Quiescence>> {
        let quiescence = &self.shutdown.quiescence;
        (self.shutdown.is_stopping() && !quiescence.is_quiet()).then_some(quiescence)
    }

    /// Number of live processes of every kind: thread-local ones on each
    /// worker, thread-safe ones, sync actors.
    pub(crate) fn live_processes(&self) -> usize {
        let local: usize = self
            .workers
            .iter()
            .map(|worker| worker.live.load(Ordering::SeqCst))
            .sum();
        local + self.scheduler.live() + self.sync_alive()
    }

    /// Asks the coordinator to begin a graceful shutdown.
    pub(crate) fn request_shutdown(&self) {
        if self.shutdown.request()
            && let Err(err) = self.coordinator_waker.wake()
        {
            log::error!(error:% = err; "unable to wake the coordinator for shutdown");
        }
    }
}

thread_local! {
    /// The runtime whose worker or sync actor thread this is.
    static CURRENT: RefCell<Option<Arc<RuntimeShared>>> = const { RefCell::new(None) };
}

/// Makes `shared` the runtime of this thread (a worker or sync actor
/// thread) until the returned guard is dropped.
pub(crate) fn enter(shared: &Arc<RuntimeShared>) -> CurrentGuard {
    CURRENT.with(|current| *current.borrow_mut() = Some(shared.clone()));
    CurrentGuard(())
}

/// Calls `f` with the runtime of this thread, if it is one's.
pub(crate) fn with_current<T>(f: impl FnOnce(&RuntimeShared) -> T) -> Option<T> {
    let shared = CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()?;
    Some(f(&shared))
}

/// Clears the runtime of this thread when dropped.
pub(crate) struct CurrentGuard(());

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| current.borrow_mut().take());
    }
}

/// The runtime access of thread-safe actors (`Context<M, ThreadSafe>`):
/// spawn more thread-safe actors and futures from any thread.
///
/// Cheap to clone; `Send` and `Sync`.
#[derive(Clone)]
pub struct ThreadSafe {
    pub(crate) shared: Arc<RuntimeShared>,
}

impl ThreadSafe {
    /// Spawns a thread-safe actor, run by whichever worker is free.
    ///
    /// Woken on a worker's thread (a message from an actor there), it runs
    /// next on that worker. So an actor that the actors of every worker
    /// call, such as a store or a cache, is best thread-safe: each call
    /// runs it on the caller's worker, where a thread-local one would make
    /// every caller on another worker wait for a round trip between the
    /// cores.
    ///
    /// # Actors that spawn themselves
    ///
    /// An `async fn` actor that spawns more of itself (a tree of actors)
    /// does not compile when the spawn is written in its own body: to know
    /// that its future is `Send`, the compiler would have to know it
    /// already (error E0283, "cannot satisfy `impl Future<Output = ()>:
    /// Send`"). Put the spawn in a plain function next to it: the compiler
    /// checks that function apart, and the actor calls it.
    ///
    /// ```
    /// use hearth::actor::{actor_fn, Context};
    /// use hearth::supervisor::NoSupervisor;
    /// use hearth::{ActorOptions, ActorRef, ThreadSafe};
    ///
    /// /// A node of a binary tree of `depth` levels; reports its leaves.
    /// async fn node(mut ctx: Context<u64, ThreadSafe>, (depth, parent): (u32, ActorRef<u64>)) {
    ///     if depth == 0 {
    ///         let _ = parent.send(1u64).await;
    ///         return;
    ///     }
    ///     for _ in 0..2 {
    ///         let _ = spawn_node(ctx.runtime_ref(), depth - 1, ctx.actor_ref());
    ///     }
    ///     let mut leaves = 0;
    ///     for _ in 0..2 {
    ///         leaves += ctx.receive_next().await.unwrap_or(0);
    ///     }
    ///     let _ = parent.send(leaves).await;
    /// }
    ///
    /// /// The spawn, out of `node`'s body.
    /// fn spawn_node(rt: &ThreadSafe, depth: u32, parent: ActorRef<u64>) -> ActorRef<u64> {
    ///     rt.spawn(NoSupervisor, actor_fn(node), (depth, parent), ActorOptions::default())
    /// }
    /// # let _ = spawn_node;
    /// ```
    pub fn spawn<S, NA>(
        &self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message>
    where
        S: Supervisor<NA> + Send + 'static,
        NA: NewActor<RuntimeAccess = ThreadSafe> + Send + 'static,
        NA::Actor: Send + 'static,
        NA::Message: Send + 'static,
    {
        let inbox = inbox::new(options.inbox_capacity());
        let actor_ref = ActorRef::from_sender(inbox.sender());
        let shared = self.shared.clone();
        let process = ActorProcess::new(supervisor, new_actor, arg, inbox, self.clone(), shared);
        self.shared.scheduler.add(process, options.priority());
        actor_ref
    }

    /// Spawns a thread-safe actor as [`ThreadSafe::spawn`] does, unless
    /// creating it fails: the error of its first `NewActor::new` is returned
    /// here (Heph's `try_spawn`) instead of going to its supervisor, and
    /// nothing is spawned. The supervisor decides about later failures,
    /// restarts included.
    ///
    /// # Errors
    ///
    /// What the first `NewActor::new` returned.
    pub fn try_spawn<S, NA>(
        &self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<NA::Message>, NA::Error>
    where
        S: Supervisor<NA> + Send + 'static,
        NA: NewActor<RuntimeAccess = ThreadSafe> + Send + 'static,
        NA::Actor: Send + 'static,
        NA::Message: Send + 'static,
    {
        let inbox = inbox::new(options.inbox_capacity());
        let actor_ref = ActorRef::from_sender(inbox.sender());
        let shared = self.shared.clone();
        let process =
            ActorProcess::new_or_error(supervisor, new_actor, arg, inbox, self.clone(), shared)?;
        self.shared.scheduler.add(process, options.priority());
        Ok(actor_ref)
    }

    /// Spawns a thread-safe future, run by whichever worker is free, with
    /// the priority of `options` (taken as a thread-safe actor of that
    /// priority is). A panic in it is caught and logged.
    ///
    /// The runtime runs until the future has returned; it learns of a
    /// graceful shutdown by awaiting
    /// [`shutting_down`](ThreadSafe::shutting_down) (see [`ShuttingDown`]
    /// for how long the runtime waits for it).
    pub fn spawn_future<Fut>(&self, future: Fut, options: FutureOptions)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shared
            .scheduler
            .add(FutureProcess::new(future), options.priority());
    }

    /// Makes `actor_ref` receive the process signals (see
    /// [`Signal`]). The coordinator delivers them without waiting: a
    /// receiver whose inbox is full misses a signal.
    pub fn receive_signals<M>(&self, actor_ref: ActorRef<M>)
    where
        M: TryFrom<Signal> + Send + 'static,
    {
        self.shared
            .signal_receivers
            .add_shared(actor_ref.try_map(), crate::signal::takes::<M>());
    }

    /// Begins a graceful shutdown of the runtime, as an unhandled SIGTERM
    /// would.
    pub fn shutdown(&self) {
        self.shared.request_shutdown();
    }

    /// Returns true once a graceful shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        self.shared.shutdown.is_stopping()
    }

    /// A future that resolves once the runtime begins a graceful shutdown
    /// (at once if it has), for thread-safe futures and for code on any
    /// thread: see [`ShuttingDown`].
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::Runtime;
    ///
    /// # fn main() -> Result<(), hearth::Error> {
    /// let mut runtime = Runtime::setup().build()?;
    /// let rt = runtime.thread_safe();
    /// let stopping = rt.shutting_down();
    /// let closing = async move {
    ///     stopping.await;
    ///     println!("closing up");
    /// };
    /// runtime.spawn_future(closing, hearth::FutureOptions::default());
    /// rt.shutdown();
    /// runtime.start()
    /// # }
    /// ```
    pub fn shutting_down(&self) -> ShuttingDown {
        ShuttingDown::new(self.shared.clone())
    }

    /// A snapshot of the runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::collect(&self.shared)
    }

    /// The name of the runtime.
    pub fn name(&self) -> &str {
        &self.shared.name
    }
}

impl std::fmt::Debug for ThreadSafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadSafe")
            .field("runtime", &self.shared.name)
            .finish()
    }
}
