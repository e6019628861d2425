//! [`RuntimeRef`], the handle to the worker thread an actor runs on, and
//! [`ThreadLocal`], the runtime access of thread-local actors.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;
use std::sync::Arc;

use crate::ActorRef;
use crate::actor::NewActor;
use crate::metrics::RuntimeMetrics;
use crate::runtime::shared::RuntimeShared;
use crate::runtime::{ActorOptions, FutureOptions, ShuttingDown, ThreadSafe};
use crate::scheduler::{self, ActorProcess, FutureProcess, LocalScheduler};
use crate::signal::{self, Signal};
use crate::supervisor::Supervisor;
use crate::timer::store::Timers;
use crate::worker::sources::IoRegistry;

/// A handle to the worker thread the caller runs on: spawns thread-local
/// actors (which stay on this thread) and thread-safe ones.
///
/// Given to functions passed to
/// [`Runtime::run_on_workers`](crate::Runtime::run_on_workers) and reached
/// from thread-local actors through `ctx.runtime()`. Not `Send`: it belongs
/// to its thread.
#[derive(Clone)]
pub struct RuntimeRef {
    pub(crate) internals: Rc<WorkerInternals>,
}

/// Delivers a signal to a thread-local receiver; false once its actor has
/// stopped.
pub(crate) type LocalSignalReceiver = Box<dyn Fn(Signal) -> bool>;

/// The state of one worker that its processes can reach.
pub(crate) struct WorkerInternals {
    pub(crate) id: usize,
    /// The CPU the worker's thread is pinned to, if it is.
    pub(crate) cpu: Option<usize>,
    pub(crate) local: RefCell<LocalScheduler>,
    pub(crate) shared: Arc<RuntimeShared>,
    /// Thread-local signal receivers: deliver a signal, false once the
    /// actor has stopped.
    pub(crate) signal_receivers: RefCell<Vec<LocalSignalReceiver>>,
    /// Timers of the worker's thread-local actors.
    pub(crate) timers: RefCell<Timers>,
    /// I/O sources registered on the worker's poll, and their wakers.
    pub(crate) io: RefCell<IoRegistry>,
    pub(crate) registry: mio::Registry,
}

impl RuntimeRef {
    pub(crate) fn new(internals: WorkerInternals) -> RuntimeRef {
        RuntimeRef {
            internals: Rc::new(internals),
        }
    }

    /// Spawns a thread-local actor on this worker. The actor never moves to
    /// another thread, so it need not be `Send`.
    pub fn spawn_local<S, NA>(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message>
    where
        S: Supervisor<NA> + 'static,
        NA: NewActor<RuntimeAccess = ThreadLocal> + 'static,
        NA::Actor: 'static,
        NA::Message: 'static,
    {
        let rt = ThreadLocal { rt: self.clone() };
        let shared = self.internals.shared.clone();
        // The inbox lives in the process's allocation.
        let capacity = options.inbox_capacity();
        let priority = options.priority();
        scheduler::local::spawn_actor(&self.internals.local, capacity, priority, |inbox, slot| {
            let actor_ref = ActorRef::from_sender(inbox.sender());
            *slot = Some(ActorProcess::new(
                supervisor, new_actor, arg, inbox, rt, shared,
            ));
            actor_ref
        })
    }

    /// Spawns a thread-local actor as [`RuntimeRef::spawn_local`] does,
    /// unless creating it fails: the error of its first `NewActor::new` is
    /// returned here (Heph's `try_spawn_local`) instead of going to its
    /// supervisor, and nothing is spawned. The supervisor decides about
    /// later failures, restarts included.
    ///
    /// # Errors
    ///
    /// What the first `NewActor::new` returned.
    pub fn try_spawn_local<S, NA>(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<NA::Message>, NA::Error>
    where
        S: Supervisor<NA> + 'static,
        NA: NewActor<RuntimeAccess = ThreadLocal> + 'static,
        NA::Actor: 'static,
        NA::Message: 'static,
    {
        let rt = ThreadLocal { rt: self.clone() };
        let shared = self.internals.shared.clone();
        let capacity = options.inbox_capacity();
        let priority = options.priority();
        scheduler::local::spawn_actor(&self.internals.local, capacity, priority, |inbox, slot| {
            let actor_ref = ActorRef::from_sender(inbox.sender());
            // Without a process in the slot nothing is scheduled, and the
            // inbox (closed with the process) frees the cell.
            *slot = Some(ActorProcess::new_or_error(
                supervisor, new_actor, arg, inbox, rt, shared,
            )?);
            Ok(actor_ref)
        })
    }

    /// Spawns a future on this worker, run with the priority of `options`
    /// as an actor of that priority would be. A panic in it is caught and
    /// logged.
    ///
    /// The runtime runs until the future has returned; it learns of a
    /// graceful shutdown by awaiting
    /// [`shutting_down`](RuntimeRef::shutting_down) (see [`ShuttingDown`]
    /// for how long the runtime waits for it).
    pub fn spawn_local_future<Fut>(&mut self, future: Fut, options: FutureOptions)
    where
        Fut: Future<Output = ()> + 'static,
    {
        self.internals
            .local
            .borrow_mut()
            .add(FutureProcess::new(future), options.priority());
    }

    /// Spawns a thread-safe actor, see [`ThreadSafe::spawn`].
    pub fn spawn<S, NA>(
        &mut self,
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
        self.thread_safe()
            .spawn(supervisor, new_actor, arg, options)
    }

    /// Spawns a thread-safe actor unless creating it fails, see
    /// [`ThreadSafe::try_spawn`].
    ///
    /// # Errors
    ///
    /// What the first `NewActor::new` returned.
    pub fn try_spawn<S, NA>(
        &mut self,
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
        self.thread_safe()
            .try_spawn(supervisor, new_actor, arg, options)
    }

    /// Spawns a thread-safe future with `options`, see
    /// [`ThreadSafe::spawn_future`].
    pub fn spawn_future<Fut>(&mut self, future: Fut, options: FutureOptions)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.thread_safe().spawn_future(future, options);
    }

    /// A handle to spawn thread-safe actors from any thread.
    pub fn thread_safe(&self) -> ThreadSafe {
        ThreadSafe {
            shared: self.internals.shared.clone(),
        }
    }

    /// Makes `actor_ref` receive the process signals (see [`Signal`]),
    /// delivered by this worker without waiting: a receiver whose inbox is
    /// full misses a signal. Its message type converts from [`Signal`]
    /// with [`From`], or with [`TryFrom`] for an actor that takes only
    /// some signals (the others pass it by).
    pub fn receive_signals<M>(&mut self, actor_ref: ActorRef<M>)
    where
        M: TryFrom<Signal> + 'static,
    {
        let guard = self
            .internals
            .shared
            .signal_receivers
            .add_local(actor_ref.stopped_flag(), crate::signal::takes::<M>());
        // The guard lives as long as this closure: when the worker ends and
        // drops it, the registration no longer counts as a live receiver.
        let deliver = move |signal| {
            let _registered = &guard;
            signal::deliver(&actor_ref, signal)
        };
        self.internals
            .signal_receivers
            .borrow_mut()
            .push(Box::new(deliver));
    }

    /// Begins a graceful shutdown of the runtime, as an unhandled SIGTERM
    /// would: see [`Runtime::start`](crate::Runtime::start).
    pub fn shutdown(&self) {
        self.internals.shared.request_shutdown();
    }

    /// Returns true once a graceful shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        self.internals.shared.shutdown.is_stopping()
    }

    /// A future that resolves once the runtime begins a graceful shutdown
    /// (at once if it has): how a future spawned with
    /// [`spawn_local_future`](RuntimeRef::spawn_local_future) or
    /// [`spawn_future`](RuntimeRef::spawn_future) learns that it should
    /// finish. `Send`, so it may move into a thread-safe future. See
    /// [`ShuttingDown`] for what the runtime does with futures that are
    /// still running.
    pub fn shutting_down(&self) -> ShuttingDown {
        ShuttingDown::new(self.internals.shared.clone())
    }

    /// A snapshot of the runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::collect(&self.internals.shared)
    }

    /// The id of this worker thread, starting at 1.
    pub fn worker_id(&self) -> usize {
        self.internals.id
    }

    /// The CPU this worker's thread is pinned to
    /// ([`Setup::auto_cpu_affinity`](crate::Setup::auto_cpu_affinity)), or
    /// `None` when it is not pinned (not asked for, or pinning failed).
    /// The TCP and UDP sockets of the worker's thread-local actors tell the
    /// kernel about it (see [`TcpListener`](crate::net::TcpListener)).
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::{Runtime, RuntimeRef};
    ///
    /// # fn main() -> Result<(), hearth::Error> {
    /// let mut runtime = Runtime::setup().num_threads(1).auto_cpu_affinity().build()?;
    /// runtime.run_on_workers(|rt: RuntimeRef| {
    ///     // Pinned, unless the system does not say which CPUs may be used.
    ///     println!("worker {} runs on CPU {:?}", rt.worker_id(), rt.cpu());
    /// });
    /// runtime.start()
    /// # }
    /// ```
    pub fn cpu(&self) -> Option<usize> {
        self.internals.cpu
    }

    /// Counts a server in the runtime's metrics (once per server).
    pub(crate) fn add_server(&self, stats: &Arc<crate::net::ServerStats>) {
        self.internals.shared.add_server(stats);
    }

    /// The name of the runtime.
    pub fn name(&self) -> &str {
        &self.internals.shared.name
    }
}

impl fmt::Debug for RuntimeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeRef")
            .field("worker_id", &self.internals.id)
            .finish()
    }
}

/// The runtime access of thread-local actors (`Context<M, ThreadLocal>`):
/// dereferences to the [`RuntimeRef`] of the actor's worker.
#[derive(Clone, Debug)]
pub struct ThreadLocal {
    rt: RuntimeRef,
}

impl ThreadLocal {
    /// The access of a thread-local actor of `rt`'s worker.
    #[cfg(feature = "test")]
    pub(crate) fn new(rt: RuntimeRef) -> ThreadLocal {
        ThreadLocal { rt }
    }
}

impl Deref for ThreadLocal {
    type Target = RuntimeRef;

    fn deref(&self) -> &RuntimeRef {
        &self.rt
    }
}

impl DerefMut for ThreadLocal {
    fn deref_mut(&mut self) -> &mut RuntimeRef {
        &mut self.rt
    }
}
