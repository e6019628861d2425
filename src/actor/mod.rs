//! Actors: what they are and how they are made.
//!
//! An actor is an async function that takes a [`Context`] (plus an optional
//! argument) and returns `()` or `Result<(), E>`. [`actor_fn`] turns such a
//! function into a [`NewActor`], which the runtime uses to start the actor
//! and, when its supervisor asks for it, to restart it. Synchronous actors
//! ([`SyncActor`]) are plain functions taking a [`SyncContext`]; each runs on
//! a thread of its own and may block.
//!
//! Three kinds of asynchronous actors exist, told apart by the runtime access
//! type `RT` of their context: [`ThreadLocal`](crate::ThreadLocal) actors
//! stay on the worker thread that spawned them (they need not be `Send`),
//! [`ThreadSafe`](crate::ThreadSafe) actors run on any worker.

use std::any::type_name;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{self, Poll};

mod context;
mod sync;

pub use context::{Context, ReceiveMessage};
pub use sync::{SyncActor, SyncContext};

pub(crate) use sync::run_sync_actor;

/// What an actor function returns: `()` for actors that cannot fail, or
/// `Result<(), E>`.
pub trait ActorResult {
    /// The error type, [`Infallible`] for `()`.
    type Error;

    /// Converts into a `Result`.
    fn into_result(self) -> Result<(), Self::Error>;
}

impl ActorResult for () {
    type Error = Infallible;

    fn into_result(self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl<E> ActorResult for Result<(), E> {
    type Error = E;

    fn into_result(self) -> Result<(), E> {
        self
    }
}

/// A running actor: a future whose output is an [`ActorResult`].
///
/// Implemented for every such future; there is no need to implement it by
/// hand.
pub trait Actor {
    /// The error the actor can return.
    type Error;

    /// Polls the actor, see [`Future::poll`].
    fn try_poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Result<(), Self::Error>>;
}

impl<Fut> Actor for Fut
where
    Fut: Future,
    Fut::Output: ActorResult,
{
    type Error = <Fut::Output as ActorResult>::Error;

    fn try_poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll(cx).map(ActorResult::into_result)
    }
}

/// Creates actors: used by the runtime to start an actor, and to restart it
/// when its supervisor says so.
///
/// Made from an async function with [`actor_fn`] (whose creation cannot
/// fail), or implemented by hand for an actor whose creation can: a
/// failed `new` is reported to the actor's supervisor
/// ([`Supervisor::decide_on_restart_error`](crate::supervisor::Supervisor::decide_on_restart_error)),
/// at the first start as at a restart.
///
/// # Examples
///
/// An actor that needs a file to exist before it starts:
///
/// ```
/// use std::path::PathBuf;
/// use hearth::actor::{Context, NewActor};
/// use hearth::ThreadSafe;
///
/// #[derive(Clone)]
/// struct NewTailer;
///
/// impl NewActor for NewTailer {
///     type Message = ();
///     type Argument = PathBuf;
///     type Actor = std::future::Ready<()>;
///     type Error = std::io::Error;
///     type RuntimeAccess = ThreadSafe;
///
///     fn new(&mut self, _: Context<(), ThreadSafe>, path: PathBuf) -> Result<Self::Actor, std::io::Error> {
///         let _metadata = std::fs::metadata(&path)?;
///         Ok(std::future::ready(()))
///     }
/// }
/// # let _ = NewTailer;
/// ```
pub trait NewActor {
    /// The type of messages the actor receives.
    type Message;
    /// The argument given to each new incarnation of the actor.
    type Argument;
    /// The actor itself.
    type Actor: Actor;
    /// Why creating the actor can fail
    /// ([`Infallible`] when it cannot).
    type Error: fmt::Display;
    /// How the actor reaches the runtime: [`ThreadLocal`](crate::ThreadLocal)
    /// or [`ThreadSafe`](crate::ThreadSafe).
    type RuntimeAccess;

    /// Creates a new actor.
    ///
    /// # Errors
    ///
    /// Why the actor could not be created; the runtime hands it to the
    /// actor's supervisor.
    #[allow(clippy::wrong_self_convention)] // Heph's name, kept for its users.
    fn new(
        &mut self,
        ctx: Context<Self::Message, Self::RuntimeAccess>,
        arg: Self::Argument,
    ) -> Result<Self::Actor, Self::Error>;

    /// The name of the actor, used in logs.
    fn name() -> &'static str {
        short_type_name::<Self>()
    }
}

/// An actor made from a function, see [`actor_fn`].
pub struct ActorFn<F, Args> {
    f: F,
    _args: PhantomData<fn(Args)>,
}

/// Turns a function into an actor: a [`NewActor`] for async functions taking
/// a [`Context`], a [`SyncActor`] for functions taking a [`SyncContext`].
///
/// The function takes the context and optionally one argument (use a tuple
/// or struct for more).
///
/// # Examples
///
/// ```
/// use hearth::actor::{actor_fn, Context, SyncContext};
/// use hearth::ThreadLocal;
///
/// async fn counter(mut ctx: Context<u64, ThreadLocal>, start: u64) -> Result<(), String> {
///     let mut total = start;
///     while let Ok(n) = ctx.receive_next().await {
///         total = total.checked_add(n).ok_or("overflow")?;
///     }
///     Ok(())
/// }
///
/// fn logger(mut ctx: SyncContext<String>) {
///     while let Ok(line) = ctx.receive_next() {
///         eprintln!("{line}");
///     }
/// }
///
/// let _counter = actor_fn(counter);
/// let _logger = actor_fn(logger);
/// ```
///
/// # State shared by every actor made from it
///
/// The function may be a closure: what it captures is shared by every
/// actor it makes (each restart, each connection of a
/// [`TcpServer`](crate::net::TcpServer)), which is how a connection actor
/// reaches a store actor, a pool or a configuration. Clone the captured
/// value into each actor; the closure's name in the metrics and logs is
/// that of the function it is written in (`main::{{closure}}`).
///
/// ```
/// use std::io;
///
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::{TcpServer, TcpStream};
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, ActorRef, ThreadLocal};
///
/// async fn connection(
///     _: Context<(), ThreadLocal>,
///     mut stream: TcpStream,
///     log: ActorRef<String>,
/// ) -> io::Result<()> {
///     let peer = stream.peer_addr()?;
///     let _ = log.try_send(format!("connection from {peer}"));
///     stream.write_all(b"hello\n").await
/// }
///
/// fn server(log: ActorRef<String>) -> io::Result<impl Clone> {
///     let new_connection = actor_fn(move |ctx, stream| connection(ctx, stream, log.clone()));
///     TcpServer::setup("127.0.0.1:0".parse().unwrap(), NoSupervisor, new_connection, ActorOptions::default())
/// }
/// # let _ = server;
/// ```
pub const fn actor_fn<F, Args>(f: F) -> ActorFn<F, Args>
where
    F: ActorFunction<Args>,
{
    ActorFn {
        f,
        _args: PhantomData,
    }
}

/// The function shapes [`actor_fn`] accepts. Sealed.
pub trait ActorFunction<Args>: private::Sealed<Args> {}

mod private {
    pub trait Sealed<Args> {}
}

impl<F, M, RT, Fut> private::Sealed<(Context<M, RT>,)> for F
where
    F: FnMut(Context<M, RT>) -> Fut,
    Fut: Future,
    Fut::Output: ActorResult,
{
}
impl<F, M, RT, Fut> ActorFunction<(Context<M, RT>,)> for F
where
    F: FnMut(Context<M, RT>) -> Fut,
    Fut: Future,
    Fut::Output: ActorResult,
{
}

impl<F, M, RT, A, Fut> private::Sealed<(Context<M, RT>, A)> for F
where
    F: FnMut(Context<M, RT>, A) -> Fut,
    Fut: Future,
    Fut::Output: ActorResult,
{
}
impl<F, M, RT, A, Fut> ActorFunction<(Context<M, RT>, A)> for F
where
    F: FnMut(Context<M, RT>, A) -> Fut,
    Fut: Future,
    Fut::Output: ActorResult,
{
}

impl<F, M, R> private::Sealed<(SyncContext<M>,)> for F
where
    F: Fn(SyncContext<M>) -> R,
    R: ActorResult,
{
}
impl<F, M, R> ActorFunction<(SyncContext<M>,)> for F
where
    F: Fn(SyncContext<M>) -> R,
    R: ActorResult,
{
}

impl<F, M, A, R> private::Sealed<(SyncContext<M>, A)> for F
where
    F: Fn(SyncContext<M>, A) -> R,
    R: ActorResult,
{
}
impl<F, M, A, R> ActorFunction<(SyncContext<M>, A)> for F
where
    F: Fn(SyncContext<M>, A) -> R,
    R: ActorResult,
{
}

impl<F, M, RT, Fut> NewActor for ActorFn<F, (Context<M, RT>,)>
where
    F: FnMut(Context<M, RT>) -> Fut,
    Fut: Future,
    Fut::Output: ActorResult,
{
    type Message = M;
    type Argument = ();
    type Actor = Fut;
    type Error = Infallible;
    type RuntimeAccess = RT;

    fn new(&mut self, ctx: Context<M, RT>, (): ()) -> Result<Fut, Infallible> {
        Ok((self.f)(ctx))
    }

    fn name() -> &'static str {
        short_type_name::<F>()
    }
}

impl<F, M, RT, A, Fut> NewActor for ActorFn<F, (Context<M, RT>, A)>
where
    F: FnMut(Context<M, RT>, A) -> Fut,
    Fut: Future,
    Fut::Output: ActorResult,
{
    type Message = M;
    type Argument = A;
    type Actor = Fut;
    type Error = Infallible;
    type RuntimeAccess = RT;

    fn new(&mut self, ctx: Context<M, RT>, arg: A) -> Result<Fut, Infallible> {
        Ok((self.f)(ctx, arg))
    }

    fn name() -> &'static str {
        short_type_name::<F>()
    }
}

impl<F, M, R> SyncActor for ActorFn<F, (SyncContext<M>,)>
where
    F: Fn(SyncContext<M>) -> R,
    R: ActorResult,
{
    type Message = M;
    type Argument = ();
    type Error = R::Error;

    fn run(&self, ctx: SyncContext<M>, (): ()) -> Result<(), R::Error> {
        (self.f)(ctx).into_result()
    }

    fn name() -> &'static str {
        short_type_name::<F>()
    }
}

impl<F, M, A, R> SyncActor for ActorFn<F, (SyncContext<M>, A)>
where
    F: Fn(SyncContext<M>, A) -> R,
    R: ActorResult,
{
    type Message = M;
    type Argument = A;
    type Error = R::Error;

    fn run(&self, ctx: SyncContext<M>, arg: A) -> Result<(), R::Error> {
        (self.f)(ctx, arg).into_result()
    }

    fn name() -> &'static str {
        short_type_name::<F>()
    }
}

impl<F: Clone, Args> Clone for ActorFn<F, Args> {
    fn clone(&self) -> Self {
        ActorFn {
            f: self.f.clone(),
            _args: PhantomData,
        }
    }
}

impl<F, Args> std::fmt::Debug for ActorFn<F, Args> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ActorFn")
            .field(&short_type_name::<F>())
            .finish()
    }
}

/// The last path segment of a type name, without generic parameters:
/// `my_app::greeter_actor` becomes `greeter_actor`.
pub(crate) fn short_type_name<T: ?Sized>() -> &'static str {
    let full = type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    // A closure is named after the function it is written in:
    // `main::{{closure}}`, not a bare `{{closure}}`.
    let mut named = base;
    while let Some(outer) = named.strip_suffix("::{{closure}}") {
        named = outer;
    }
    let start = named.rfind("::").map_or(0, |at| at + 2);
    &base[start..]
}
