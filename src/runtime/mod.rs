//! [`Runtime`]: spawn the first actors, then [`start`](Runtime::start) it.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mio::Poll;

use log::debug;

use crate::actor::{NewActor, SyncActor};
use crate::coordinator::{self, CoordinatedPool, Coordinator};
use crate::error::BoxError;
use crate::metrics::RuntimeMetrics;
use crate::remote::{PoolBuilder, PoolError, PoolShared, RemotePool};
use crate::signal::Signal;
use crate::supervisor::{Supervisor, SyncSupervisor};
use crate::sync_worker::{self, SyncWorkerHandle};
use crate::sys::ProcessSignals;
use crate::worker::{Control, WorkerFn, WorkerHandle};
use crate::{ActorRef, Error, Setup, inbox};

mod access;
mod options;
mod quiescence;
mod runtime_ref;
mod shared;
mod shutdown;
mod spawn;

pub use access::{Access, IntoAccess};
pub use options::{ActorOptions, FutureOptions, Priority};
pub use runtime_ref::{RuntimeRef, ThreadLocal};
pub use shared::ThreadSafe;
pub use shutdown::ShuttingDown;
pub use spawn::Spawn;

pub(crate) use quiescence::Quiescence;
pub(crate) use runtime_ref::WorkerInternals;
#[cfg(feature = "test")]
pub(crate) use shared::CurrentGuard;
pub(crate) use shared::{RuntimeShared, SharedOptions, enter, with_current};

/// What a function given to [`Runtime::run_on_workers`] returns: `()`, or
/// `Result<(), E>` for an error `E` that converts into a boxed
/// `std::error::Error + Send + Sync` (any such error, `String`, `&str`).
pub trait WorkerResult: private::Sealed {
    /// The result, with the error boxed.
    #[doc(hidden)]
    fn into_result(self) -> Result<(), BoxError>;
}

impl WorkerResult for () {
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> WorkerResult for Result<(), E> {
    fn into_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

mod private {
    /// Only the runtime's own implementations of [`super::WorkerResult`].
    pub trait Sealed {}

    impl Sealed for () {}

    impl<E> Sealed for Result<(), E> {}
}

/// The hearth runtime: worker threads, sync actor threads and the
/// coordinator.
///
/// Made with [`Runtime::setup`]. Worker threads start right away and run
/// what is spawned; [`Runtime::start`] turns the calling thread into the
/// coordinator and returns once every actor has stopped.
///
/// # Examples
///
/// ```
/// use hearth::actor::{actor_fn, Context};
/// use hearth::actor_ref::TrySendError;
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
///
/// async fn greeter(mut ctx: Context<&'static str, ThreadLocal>) {
///     if let Ok(name) = ctx.receive_next().await {
///         println!("Hello, {name}!");
///     }
/// }
///
/// fn setup(mut rt: RuntimeRef) -> Result<(), TrySendError<&'static str>> {
///     let actor_ref = rt.spawn_local(NoSupervisor, actor_fn(greeter), (), ActorOptions::default());
///     actor_ref.try_send("World")
/// }
///
/// fn main() -> Result<(), hearth::Error> {
///     let mut runtime = Runtime::setup().num_threads(2).build()?;
///     runtime.run_on_workers(setup);
///     runtime.start()
/// }
/// ```
pub struct Runtime {
    shared: Arc<RuntimeShared>,
    workers: Vec<WorkerHandle>,
    sync_workers: Vec<SyncWorkerHandle>,
    /// The coordinator's poll and signals, made at build time: the poll's
    /// waker must exist before any `shutdown` call, and the signals must be
    /// blocked before the first thread starts.
    coordinator: Option<(Poll, ProcessSignals)>,
    grace: Duration,
    /// Remote pools, handed to the coordinator by `start`.
    pools: Vec<CoordinatedPool>,
}

impl Runtime {
    /// Starts configuring a runtime.
    pub fn setup() -> Setup {
        Setup::new()
    }

    /// A runtime with the default setup (see [`Setup`]).
    ///
    /// # Errors
    ///
    /// If a thread cannot be started.
    pub fn new() -> Result<Runtime, Error> {
        Setup::new().build()
    }

    pub(crate) fn from_parts(
        shared: Arc<RuntimeShared>,
        workers: Vec<WorkerHandle>,
        coordinator: (Poll, ProcessSignals),
        grace: Duration,
    ) -> Runtime {
        Runtime {
            shared,
            workers,
            sync_workers: Vec::new(),
            coordinator: Some(coordinator),
            grace,
            pools: Vec::new(),
        }
    }

    /// Runs `f` once on every worker thread, with that worker's
    /// [`RuntimeRef`], typically to spawn thread-local actors.
    ///
    /// `f` returns nothing, or a `Result` whose error is any
    /// `std::error::Error + Send + Sync` (or a `String` or `&str`). The
    /// functions run as soon as the workers get to them; an error returned
    /// by one (or a panic) stops the runtime, and [`Runtime::start`]
    /// returns it, with the function's error as its `source`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::actor::{actor_fn, Context};
    /// use hearth::supervisor::NoSupervisor;
    /// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
    ///
    /// async fn greeter(mut ctx: Context<&'static str, ThreadLocal>) {
    ///     if let Ok(name) = ctx.receive_next().await {
    ///         println!("Hello, {name}!");
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), hearth::Error> {
    /// let mut runtime = Runtime::setup().build()?;
    /// // Nothing to go wrong: no `Result` needed.
    /// runtime.run_on_workers(|mut rt: RuntimeRef| {
    ///     let _ = rt.spawn_local(NoSupervisor, actor_fn(greeter), (), ActorOptions::default());
    /// });
    /// // Errors of any kind, with `?`.
    /// runtime.run_on_workers(|mut rt: RuntimeRef| {
    ///     let greeter = rt.spawn_local(NoSupervisor, actor_fn(greeter), (), ActorOptions::default());
    ///     greeter.try_send("World")?;
    ///     Ok::<_, hearth::actor_ref::TrySendError<&'static str>>(())
    /// });
    /// runtime.start()
    /// # }
    /// ```
    pub fn run_on_workers<F, R>(&mut self, f: F)
    where
        F: FnOnce(RuntimeRef) -> R + Send + Clone + 'static,
        R: WorkerResult,
    {
        for worker in &self.workers {
            let f = f.clone();
            let f: WorkerFn = Box::new(move |rt| f(rt).into_result());
            let _ = worker.send(Control::Run(f));
        }
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

    /// Spawns a synchronous actor on a thread of its own.
    ///
    /// # Errors
    ///
    /// If the thread cannot be started.
    pub fn spawn_sync_actor<S, A>(
        &mut self,
        supervisor: S,
        actor: A,
        arg: A::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<A::Message>, Error>
    where
        S: SyncSupervisor<A> + Send + 'static,
        A: SyncActor + Send + 'static,
        A::Argument: Send + 'static,
        A::Message: Send + 'static,
    {
        let id = self.sync_workers.len() + 1;
        let inbox = inbox::new(options.inbox_capacity());
        let actor_ref = ActorRef::from_sender(inbox.sender());
        let shared = self.shared.clone();
        let handle = sync_worker::start(id, supervisor, actor, arg, inbox, shared)
            .map_err(Error::start_sync_worker)?;
        self.sync_workers.push(handle);
        Ok(actor_ref)
    }

    /// Makes `actor_ref` receive the process signals (see [`Signal`]); for
    /// sync actors and any actor known before `start`. Delivered by the
    /// coordinator without waiting: a receiver whose inbox is full misses a
    /// signal.
    pub fn receive_signals<M>(&mut self, actor_ref: ActorRef<M>)
    where
        M: TryFrom<Signal> + Send + 'static,
    {
        self.shared
            .signal_receivers
            .add_shared(actor_ref.try_map(), crate::signal::takes::<M>());
    }

    /// Adds a pool of persistent remote worker slots, driven by the
    /// coordinator: the slots' pipes are polled next to the threads and
    /// signals, the slots start when the runtime starts, and the pool ends
    /// with the runtime (see [`RemotePool`] for the shutdown). Its numbers
    /// are part of [`Runtime::metrics`] and of the SIGUSR2 log.
    ///
    /// # Errors
    ///
    /// [`PoolError::NoSlots`](crate::remote::PoolError::NoSlots) for a pool
    /// without slots.
    pub fn remote_pool(&mut self, builder: PoolBuilder) -> Result<RemotePool, PoolError> {
        let index = self.pools.len();
        let name = format!("pool-{}", index + 1);
        let engine = builder.into_engine(coordinator::remote_token_base(index), &name)?;
        let stats = engine.stats().clone();
        let shared = Arc::new(PoolShared::new(
            engine.hosts().to_vec(),
            self.thread_safe(),
            stats.clone(),
        ));
        self.shared
            .remote_pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(stats);
        self.pools.push(CoordinatedPool {
            engine,
            shared: shared.clone(),
        });
        Ok(RemotePool::new(shared))
    }

    /// A snapshot of the runtime's metrics.
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::collect(&self.shared)
    }

    /// A handle to spawn thread-safe actors, usable from any thread.
    pub fn thread_safe(&self) -> ThreadSafe {
        ThreadSafe {
            shared: self.shared.clone(),
        }
    }

    /// The name of the runtime.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Makes worker `id` panic outside any actor, to test what an
    /// application does when a worker dies (the `test` feature).
    #[cfg(feature = "test")]
    pub fn inject_worker_panic(&self, id: usize, msg: &str) {
        if let Some(worker) = self.workers.iter().find(|w| w.id() == id) {
            let _ = worker.send(Control::Panic(msg.to_owned()));
        }
    }

    /// Runs `future` on the runtime and returns its output: the calling
    /// thread becomes the coordinator, as with [`Runtime::start`], and once
    /// the future is done the runtime shuts down gracefully (the other
    /// actors finish as in any graceful shutdown). For tools, clients and
    /// tests that want a value out of the runtime.
    ///
    /// # Errors
    ///
    /// What [`Runtime::start`] returns; and when the future ended without
    /// an output (it panicked, or a forced stop dropped it), an error
    /// saying so.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::actor::{actor_fn, Context};
    /// use hearth::actor_ref::RpcMessage;
    /// use hearth::supervisor::NoSupervisor;
    /// use hearth::{ActorOptions, Runtime, ThreadSafe};
    ///
    /// async fn adder(mut ctx: Context<RpcMessage<(u64, u64), u64>, ThreadSafe>) {
    ///     while let Ok(msg) = ctx.receive_next().await {
    ///         let _ = msg.handle(|(a, b)| a + b);
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), hearth::Error> {
    /// let mut runtime = Runtime::setup().build()?;
    /// let adder = runtime.spawn(NoSupervisor, actor_fn(adder), (), ActorOptions::default());
    /// let sum = runtime.block_on(async move { adder.rpc((40, 2)).await })?;
    /// assert_eq!(sum, Ok(42));
    /// # Ok(())
    /// # }
    /// ```
    pub fn block_on<Fut>(mut self, future: Fut) -> Result<Fut::Output, Error>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let output = Arc::new(std::sync::Mutex::new(None));
        let slot = output.clone();
        let rt = self.thread_safe();
        self.spawn_future(
            async move {
                let value = future.await;
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
                rt.shutdown();
            },
            FutureOptions::default(),
        );
        self.start()?;
        let value = output.lock().unwrap_or_else(|p| p.into_inner()).take();
        value.ok_or_else(Error::no_output)
    }

    /// Runs the runtime on the calling thread, which becomes the
    /// coordinator, until every actor has stopped.
    ///
    /// # Shutdown and exit status
    ///
    /// SIGINT, SIGTERM or SIGQUIT with no signal receiver, or a `shutdown`
    /// call, start a graceful shutdown: every actor is woken,
    /// `is_stopping` returns true, and `receive_next` reports
    /// [`NoMessages`](crate::NoMessages) once an inbox is empty and the
    /// runtime has gone quiet (see
    /// [`Context::receive_next`](crate::actor::Context::receive_next)), and
    /// spawned futures awaiting
    /// [`RuntimeRef::shutting_down`](crate::RuntimeRef::shutting_down) or
    /// [`ThreadSafe::shutting_down`] resume.
    /// Actors and futures still running after the grace period
    /// ([`Setup::grace_period`], 5 s by default) are stopped, and the error
    /// names them. A second SIGINT, SIGTERM or SIGQUIT during the shutdown
    /// stops the runtime at once. With signal receivers, the application
    /// decides. Once every thread ended, the remote pools finish their
    /// running jobs and close, within a grace period of their own.
    ///
    /// A program should exit with 0 after `Ok`, with 130 after an interrupt
    /// it did not handle and with 1 after other errors:
    /// [`exit_code`](crate::exit_code) does that mapping.
    ///
    /// # Errors
    ///
    /// - the first error of a thread: a worker or sync actor thread that
    ///   panicked, a function of [`Runtime::run_on_workers`] that failed, or
    ///   a poll that failed; the other threads are stopped first;
    /// - [`Error::is_interrupted`]: an unhandled SIGINT stopped the runtime
    ///   (gracefully), or a second signal stopped it at once;
    /// - the grace period ended before every actor did.
    #[allow(clippy::missing_panics_doc)] // Only `start` takes the parts, and it takes the runtime.
    pub fn start(mut self) -> Result<(), Error> {
        debug!(runtime:% = self.shared.name, workers = self.workers.len(), sync_actors = self.sync_workers.len(); "starting runtime");
        let workers = std::mem::take(&mut self.workers);
        let sync_workers = std::mem::take(&mut self.sync_workers);
        let (poll, signals) = self
            .coordinator
            .take()
            .expect("coordinator parts taken twice");
        let shared = self.shared.clone();
        let pools = std::mem::take(&mut self.pools);
        Coordinator::new(
            poll,
            signals,
            shared,
            self.grace,
            workers,
            sync_workers,
            pools,
        )?
        .run()
    }
}

impl Drop for Runtime {
    /// A runtime dropped without being started stops its workers.
    fn drop(&mut self) {
        if self.coordinator.is_none() {
            // Started: the coordinator took care of everything.
            return;
        }
        self.shared.shutdown.set_stopping();
        for worker in &self.workers {
            let _ = worker.send(Control::Stop);
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        // Nothing will run them any more: close their inboxes.
        self.shared.scheduler.drop_all();
        self.shared.signal_receivers.clear();
        // Sync actors see the stop once their inbox is empty; they are not
        // waited for.
        for sync_worker in &self.sync_workers {
            sync_worker.unpark();
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.shared.name)
            .field("workers", &self.workers.len())
            .field("sync_actors", &self.sync_workers.len())
            .finish_non_exhaustive()
    }
}
