//! [`LocalExecutor`]: hyper's [`hyper::rt::Executor`] that spawns on the
//! worker it was made on, for the tasks of an HTTP/2 connection (one per
//! stream); [`ThreadSafeExecutor`], the same for thread-safe connection
//! actors, whose streams run on any worker.

use std::fmt;
use std::future::Future;

use crate::scheduler::FutureProcess;
use crate::{FutureOptions, Priority, RuntimeRef, ThreadSafe};

/// hyper's [`Executor`](hyper::rt::Executor) on a hearth worker: every
/// future hyper hands it (an HTTP/2 connection runs each request's stream
/// as one) becomes a thread-local future of that worker, next to the
/// connection actor that made the executor. The futures need not be
/// `Send`, so neither do the services' futures and bodies.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use hearth::actor::{actor_fn, Context};
/// use hearth::http::LocalExecutor;
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
/// use hyper::rt::Executor;
///
/// async fn spawner(mut ctx: Context<(), ThreadLocal>) {
///     // What an HTTP/2 connection does with each stream.
///     let executor = LocalExecutor::new(ctx.runtime());
///     let ran = Rc::new(Cell::new(false)); // not `Send`: fine
///     let flag = ran.clone();
///     executor.execute(async move { flag.set(true) });
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().build()?;
/// runtime.run_on_workers(|mut rt: RuntimeRef| {
///     let _ = rt.spawn_local(NoSupervisor, actor_fn(spawner), (), ActorOptions::default());
/// });
/// runtime.start()
/// # }
/// ```
///
/// With hyper's HTTP/2 server: `http2::Builder::new(LocalExecutor::new(rt))
/// .timer(HyperTimer::new(rt)).serve_connection(stream, service)`.
#[derive(Clone)]
pub struct LocalExecutor {
    rt: RuntimeRef,
}

impl LocalExecutor {
    /// An executor spawning on the worker of `rt`.
    pub fn new(rt: &RuntimeRef) -> LocalExecutor {
        LocalExecutor { rt: rt.clone() }
    }
}

impl fmt::Debug for LocalExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalExecutor")
            .field("worker_id", &self.rt.worker_id())
            .finish()
    }
}

impl<Fut> hyper::rt::Executor<Fut> for LocalExecutor
where
    Fut: Future<Output = ()> + 'static,
{
    fn execute(&self, future: Fut) {
        self.rt
            .internals
            .local
            .borrow_mut()
            .add(FutureProcess::new(future), Priority::Normal);
    }
}

/// hyper's [`Executor`](hyper::rt::Executor) for thread-safe connection
/// actors: every future hyper hands it becomes a thread-safe future of the
/// runtime, run by whichever worker is free, like the connection itself.
/// The futures (and so the services' futures and bodies) must be `Send`.
///
/// # Examples
///
/// ```
/// use hearth::actor::{actor_fn, Context};
/// use hearth::http::ThreadSafeExecutor;
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, ThreadSafe};
/// use hyper::rt::Executor;
///
/// async fn spawner(ctx: Context<(), ThreadSafe>) {
///     // What an HTTP/2 connection does with each stream.
///     let executor = ThreadSafeExecutor::new(ctx.runtime_ref().clone());
///     executor.execute(async { /* a stream */ });
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().build()?;
/// let _ = runtime.spawn(NoSupervisor, actor_fn(spawner), (), ActorOptions::default());
/// runtime.start()
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ThreadSafeExecutor {
    rt: ThreadSafe,
}

impl ThreadSafeExecutor {
    /// An executor spawning thread-safe futures on `rt`'s runtime.
    pub fn new(rt: ThreadSafe) -> ThreadSafeExecutor {
        ThreadSafeExecutor { rt }
    }
}

impl<Fut> hyper::rt::Executor<Fut> for ThreadSafeExecutor
where
    Fut: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, future: Fut) {
        self.rt.spawn_future(future, FutureOptions::default());
    }
}
