//! [`Spawn`]: one trait for whatever can spawn actors, so code generic over
//! thread-local and thread-safe actors can spawn either.

use crate::ActorRef;
use crate::actor::{Context, NewActor};
use crate::runtime::{ActorOptions, RuntimeRef, ThreadLocal, ThreadSafe};
use crate::supervisor::Supervisor;

/// Spawns actors of runtime access `RT` ([`ThreadLocal`] or
/// [`ThreadSafe`]) made by `NA` and supervised by `S`.
///
/// Implemented by [`RuntimeRef`] and [`ThreadLocal`] (both kinds of actor),
/// [`Runtime`](crate::Runtime) and [`ThreadSafe`] (thread-safe actors) and
/// an actor's [`Context`] (whatever its runtime access spawns), so a
/// function can spawn from any of them:
///
/// ```
/// use hearth::actor::{actor_fn, Context};
/// use hearth::Spawn;
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, ActorRef, Runtime, ThreadSafe};
///
/// async fn worker(mut ctx: Context<u32, ThreadSafe>) {
///     while ctx.receive_next().await.is_ok() {}
/// }
///
/// /// Starts `n` workers from any spawner.
/// fn start<Sp, F, Fut>(spawner: &mut Sp, new_actor: F, n: usize) -> Vec<ActorRef<u32>>
/// where
///     Sp: Spawn<NoSupervisor, hearth::actor::ActorFn<F, (Context<u32, ThreadSafe>,)>, ThreadSafe>,
///     F: FnMut(Context<u32, ThreadSafe>) -> Fut + Clone,
///     Fut: std::future::Future<Output = ()>,
/// {
///     (0..n)
///         .map(|_| spawner.spawn(NoSupervisor, actor_fn(new_actor.clone()), (), ActorOptions::default()))
///         .collect()
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().build()?;
/// let mut thread_safe = runtime.thread_safe();
/// let workers = start(&mut thread_safe, worker, 3);
/// assert_eq!(workers.len(), 3);
/// // The runtime itself, before it starts.
/// let more = start(&mut runtime, worker, 2);
/// assert_eq!(more.len(), 2);
/// # drop(workers);
/// # drop(more);
/// # runtime.start()
/// # }
/// ```
pub trait Spawn<S, NA, RT>
where
    NA: NewActor<RuntimeAccess = RT>,
{
    /// Spawns the actor `new_actor` makes with `arg`, supervised by
    /// `supervisor`.
    fn spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message>;

    /// Spawns the actor `new_actor` makes with `arg` unless making it
    /// fails: the error of that first `NewActor::new` is returned (Heph's
    /// `try_spawn`) and nothing is spawned; `spawn` gives it to the
    /// supervisor instead.
    ///
    /// # Errors
    ///
    /// What the first `NewActor::new` returned.
    fn try_spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<NA::Message>, NA::Error>;
}

impl<S, NA> Spawn<S, NA, ThreadLocal> for RuntimeRef
where
    S: Supervisor<NA> + 'static,
    NA: NewActor<RuntimeAccess = ThreadLocal> + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    fn spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message> {
        self.spawn_local(supervisor, new_actor, arg, options)
    }

    fn try_spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<NA::Message>, NA::Error> {
        self.try_spawn_local(supervisor, new_actor, arg, options)
    }
}

impl<S, NA> Spawn<S, NA, ThreadSafe> for RuntimeRef
where
    S: Supervisor<NA> + Send + 'static,
    NA: NewActor<RuntimeAccess = ThreadSafe> + Send + 'static,
    NA::Actor: Send + 'static,
    NA::Message: Send + 'static,
{
    fn spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message> {
        RuntimeRef::spawn(self, supervisor, new_actor, arg, options)
    }

    fn try_spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<NA::Message>, NA::Error> {
        RuntimeRef::try_spawn(self, supervisor, new_actor, arg, options)
    }
}

impl<S, NA, RT> Spawn<S, NA, RT> for ThreadLocal
where
    NA: NewActor<RuntimeAccess = RT>,
    RuntimeRef: Spawn<S, NA, RT>,
{
    fn spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message> {
        Spawn::spawn(&mut **self, supervisor, new_actor, arg, options)
    }

    fn try_spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<NA::Message>, NA::Error> {
        Spawn::try_spawn(&mut **self, supervisor, new_actor, arg, options)
    }
}

impl<S, NA> Spawn<S, NA, ThreadSafe> for ThreadSafe
where
    S: Supervisor<NA> + Send + 'static,
    NA: NewActor<RuntimeAccess = ThreadSafe> + Send + 'static,
    NA::Actor: Send + 'static,
    NA::Message: Send + 'static,
{
    fn spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message> {
        ThreadSafe::spawn(self, supervisor, new_actor, arg, options)
    }

    fn try_spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<NA::Message>, NA::Error> {
        ThreadSafe::try_spawn(self, supervisor, new_actor, arg, options)
    }
}

impl<S, NA> Spawn<S, NA, ThreadSafe> for crate::Runtime
where
    S: Supervisor<NA> + Send + 'static,
    NA: NewActor<RuntimeAccess = ThreadSafe> + Send + 'static,
    NA::Actor: Send + 'static,
    NA::Message: Send + 'static,
{
    fn spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message> {
        crate::Runtime::spawn(self, supervisor, new_actor, arg, options)
    }

    fn try_spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<NA::Message>, NA::Error> {
        crate::Runtime::try_spawn(self, supervisor, new_actor, arg, options)
    }
}

impl<M, RTA, S, NA, RT> Spawn<S, NA, RT> for Context<M, RTA>
where
    NA: NewActor<RuntimeAccess = RT>,
    RTA: Spawn<S, NA, RT>,
{
    fn spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message> {
        Spawn::spawn(self.runtime(), supervisor, new_actor, arg, options)
    }

    fn try_spawn(
        &mut self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> Result<ActorRef<NA::Message>, NA::Error> {
        Spawn::try_spawn(self.runtime(), supervisor, new_actor, arg, options)
    }
}
