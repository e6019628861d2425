//! [`Runtime`]: spawn the first actors, then [`start`](Runtime::start) it.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use log::debug;

use crate::actor::{Actor, NewActor, SyncActor};
use crate::coordinator::Coordinator;
use crate::supervisor::Supervisor;
use crate::sync_worker::{self, SyncWorkerHandle};
use crate::worker::{Control, WorkerFn, WorkerHandle};
use crate::{ActorRef, Error, Setup, inbox};

mod options;
mod runtime_ref;
mod shared;

pub use options::ActorOptions;
pub use runtime_ref::{RuntimeRef, ThreadLocal};
pub use shared::ThreadSafe;

pub(crate) use runtime_ref::WorkerInternals;
pub(crate) use shared::RuntimeShared;

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
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
///
/// async fn greeter(mut ctx: Context<&'static str, ThreadLocal>) {
///     if let Ok(name) = ctx.receive_next().await {
///         println!("Hello, {name}!");
///     }
/// }
///
/// fn setup(mut rt: RuntimeRef) -> Result<(), String> {
///     let actor_ref = rt.spawn_local(NoSupervisor, actor_fn(greeter), (), ActorOptions::default());
///     actor_ref.try_send("World").map_err(|err| err.to_string())
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

    pub(crate) fn from_parts(shared: Arc<RuntimeShared>, workers: Vec<WorkerHandle>) -> Runtime {
        Runtime {
            shared,
            workers,
            sync_workers: Vec::new(),
        }
    }

    /// Runs `f` once on every worker thread, with that worker's
    /// [`RuntimeRef`], typically to spawn thread-local actors.
    ///
    /// The functions run as soon as the workers get to them; an error
    /// returned by one stops the runtime, and [`Runtime::start`] returns it.
    pub fn run_on_workers<F, E>(&mut self, f: F)
    where
        F: FnOnce(RuntimeRef) -> Result<(), E> + Send + Clone + 'static,
        E: fmt::Display,
    {
        for worker in &self.workers {
            let f = f.clone();
            let f: WorkerFn = Box::new(move |rt| f(rt).map_err(|err| err.to_string()));
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
        S: Supervisor<<NA::Actor as Actor>::Error, NA::Argument> + Send + 'static,
        NA: NewActor<RuntimeAccess = ThreadSafe> + Send + 'static,
        NA::Actor: Send + 'static,
        NA::Message: Send + 'static,
    {
        self.thread_safe()
            .spawn(supervisor, new_actor, arg, options)
    }

    /// Spawns a thread-safe future, see [`ThreadSafe::spawn_future`].
    pub fn spawn_future<Fut>(&mut self, future: Fut)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.thread_safe().spawn_future(future);
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
        S: Supervisor<A::Error, A::Argument> + Send + 'static,
        A: SyncActor + Send + 'static,
        A::Argument: Send + 'static,
        A::Message: Send + 'static,
    {
        let id = self.sync_workers.len() + 1;
        let inbox = inbox::new(options.inbox_capacity());
        let actor_ref = ActorRef::from_sender(inbox.sender());
        let handle = sync_worker::start(id, supervisor, actor, arg, inbox)
            .map_err(Error::start_sync_worker)?;
        self.sync_workers.push(handle);
        Ok(actor_ref)
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

    /// Test hook: makes worker `id` panic outside any actor.
    #[doc(hidden)]
    pub fn __inject_worker_panic(&self, id: usize, msg: &str) {
        if let Some(worker) = self.workers.iter().find(|w| w.id() == id) {
            let _ = worker.send(Control::Panic(msg.to_owned()));
        }
    }

    /// Runs the runtime on the calling thread, which becomes the
    /// coordinator, until every actor has stopped.
    ///
    /// # Errors
    ///
    /// The first error of a thread: a worker or sync actor thread that
    /// panicked, a function of [`Runtime::run_on_workers`] that failed, or a
    /// poll that failed. The other threads are stopped first.
    pub fn start(mut self) -> Result<(), Error> {
        debug!(runtime:% = self.shared.name, workers = self.workers.len(), sync_actors = self.sync_workers.len(); "starting runtime");
        let workers = std::mem::take(&mut self.workers);
        let sync_workers = std::mem::take(&mut self.sync_workers);
        Coordinator::new(workers, sync_workers)?.run()
    }
}

impl Drop for Runtime {
    /// A runtime dropped without being started stops its workers.
    fn drop(&mut self) {
        for worker in &self.workers {
            let _ = worker.send(Control::Stop);
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.shared.name)
            .field("workers", &self.workers.len())
            .field("sync_actors", &self.sync_workers.len())
            .finish()
    }
}
