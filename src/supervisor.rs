//! Supervisors: what happens when an actor fails.
//!
//! When an actor returns an error or panics, its supervisor decides: restart
//! it (with a new argument) or stop it. Panics are caught per actor, so a
//! failing actor never takes its worker thread down.
//!
//! - [`NoSupervisor`] logs the failure and stops the actor.
//! - [`RestartSupervisor`] restarts the actor, at most a number of times
//!   within a time window, then logs why it gives up and stops it.
//! - Any `FnMut(E) -> SupervisorStrategy<Arg>` closure is a supervisor too,
//!   and the [`Supervisor`] trait (asynchronous actors) and
//!   [`SyncSupervisor`] trait (synchronous actors) can be implemented for
//!   custom policies.
//!
//! As in Heph, a supervisor is generic over what it supervises: a
//! [`Supervisor<NA>`] is told the typed error of the actor `NA` makes
//! ([`Supervisor::decide`]) and the typed error of `NA`'s own
//! [`NewActor::new`] when creating the actor fails
//! ([`Supervisor::decide_on_restart_error`]), so it can match on both.
//!
//! # Examples
//!
//! A supervisor of a connection actor: it restarts the actor after a lost
//! connection, stops it on a bad request, and gives up when the address
//! cannot be resolved at a (re)start.
//!
//! ```
//! use std::fmt;
//!
//! use hearth::actor::{Actor, NewActor};
//! use hearth::supervisor::{Supervisor, SupervisorStrategy};
//!
//! /// Why the actor failed.
//! #[derive(Debug)]
//! enum ClientError {
//!     ConnectionLost,
//!     BadRequest,
//! }
//!
//! /// Why creating the actor failed (logged by the default methods, so it
//! /// implements `Display`).
//! #[derive(Debug)]
//! struct NoAddress(String);
//!
//! impl fmt::Display for NoAddress {
//!     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
//!         write!(f, "no address for {}", self.0)
//!     }
//! }
//!
//! struct ClientSupervisor {
//!     host: String,
//! }
//!
//! impl<NA> Supervisor<NA> for ClientSupervisor
//! where
//!     NA: NewActor<Argument = String, Error = NoAddress>,
//!     NA::Actor: Actor<Error = ClientError>,
//! {
//!     fn decide(&mut self, err: ClientError) -> SupervisorStrategy<String> {
//!         match err {
//!             ClientError::ConnectionLost => SupervisorStrategy::Restart(self.host.clone()),
//!             ClientError::BadRequest => SupervisorStrategy::Stop,
//!         }
//!     }
//!
//!     fn decide_on_restart_error(&mut self, err: NoAddress) -> SupervisorStrategy<String> {
//!         eprintln!("cannot start the client: {err}");
//!         SupervisorStrategy::Stop
//!     }
//!
//!     fn second_restart_error(&mut self, err: NoAddress) {
//!         eprintln!("cannot start the client again: {err}");
//!     }
//! }
//! # let _ = (ClientSupervisor { host: String::new() }, ClientError::ConnectionLost, ClientError::BadRequest);
//! ```

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use log::{error, warn};

use crate::actor::{Actor, NewActor, SyncActor};

/// The decision of a [`Supervisor`] or [`SyncSupervisor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorStrategy<Arg> {
    /// Start a new incarnation of the actor with this argument. The inbox,
    /// and every [`ActorRef`](crate::ActorRef) to the actor, stay valid.
    Restart(Arg),
    /// Stop the actor.
    Stop,
}

/// Decides what happens to an asynchronous actor made by `NA` that failed
/// (returned an error, panicked, or could not be created).
///
/// Generic over the [`NewActor`] as Heph's is: [`Supervisor::decide`] gets
/// the error type of `NA`'s actor, [`Supervisor::decide_on_restart_error`]
/// and [`Supervisor::second_restart_error`] that of `NA` itself, and a
/// restart takes `NA`'s argument type. One type may supervise several
/// kinds of actors by implementing it for each (or for every `NA` whose
/// types fit, as [`RestartSupervisor`] does).
///
/// Only `decide` has no default: a failed creation and a panic are
/// logged and stop the actor unless the supervisor says otherwise.
/// Synchronous actors have their own trait, [`SyncSupervisor`].
pub trait Supervisor<NA: NewActor> {
    /// The actor returned `err`.
    fn decide(&mut self, err: <NA::Actor as Actor>::Error) -> SupervisorStrategy<NA::Argument>;

    /// The actor panicked with `panic`. By default the panic is logged and
    /// the actor stopped.
    fn decide_on_panic(
        &mut self,
        panic: Box<dyn Any + Send + 'static>,
    ) -> SupervisorStrategy<NA::Argument> {
        log_panic(&*panic);
        SupervisorStrategy::Stop
    }

    /// Creating the actor failed with `err` (its
    /// [`NewActor::new`], at its first start or at a restart). `Restart`
    /// tries once more with the argument given; if that fails too,
    /// [`Supervisor::second_restart_error`] is told and the actor stops.
    /// By default the error is logged and the actor stopped.
    fn decide_on_restart_error(&mut self, err: NA::Error) -> SupervisorStrategy<NA::Argument> {
        error!(actor = current_actor(), error:% = err; "creating the actor failed, stopping it");
        SupervisorStrategy::Stop
    }

    /// Creating the actor failed again with `err`, right after
    /// [`Supervisor::decide_on_restart_error`] asked for a restart: the
    /// actor stops (no loop of failing creations). By default the error is
    /// logged.
    fn second_restart_error(&mut self, err: NA::Error) {
        error!(actor = current_actor(), error:% = err; "creating the actor failed again, stopping it");
    }
}

/// Decides what happens to a synchronous actor `A` that returned an error
/// or panicked (Heph's trait of the same name). A synchronous actor is a
/// function: its creation cannot fail, so there is no restart error.
pub trait SyncSupervisor<A: SyncActor> {
    /// The actor returned `err`.
    fn decide(&mut self, err: A::Error) -> SupervisorStrategy<A::Argument>;

    /// The actor panicked with `panic`. By default the panic is logged and
    /// the actor stopped.
    fn decide_on_panic(
        &mut self,
        panic: Box<dyn Any + Send + 'static>,
    ) -> SupervisorStrategy<A::Argument> {
        log_panic(&*panic);
        SupervisorStrategy::Stop
    }
}

/// A closure supervises any actor whose error it takes; failed creations
/// and panics get the defaults (logged, the actor stopped).
impl<F, NA> Supervisor<NA> for F
where
    NA: NewActor,
    F: FnMut(<NA::Actor as Actor>::Error) -> SupervisorStrategy<NA::Argument>,
{
    fn decide(&mut self, err: <NA::Actor as Actor>::Error) -> SupervisorStrategy<NA::Argument> {
        self(err)
    }
}

/// A closure supervises any synchronous actor whose error it takes.
impl<F, A> SyncSupervisor<A> for F
where
    A: SyncActor,
    F: FnMut(A::Error) -> SupervisorStrategy<A::Argument>,
{
    fn decide(&mut self, err: A::Error) -> SupervisorStrategy<A::Argument> {
        self(err)
    }
}

/// A supervisor that logs the actor's error or panic and stops it.
///
/// Unlike Heph's, it takes actors that can fail, as long as their error
/// implements `Display` (it is logged).
#[derive(Copy, Clone, Debug, Default)]
pub struct NoSupervisor;

impl<NA> Supervisor<NA> for NoSupervisor
where
    NA: NewActor,
    <NA::Actor as Actor>::Error: fmt::Display,
{
    fn decide(&mut self, err: <NA::Actor as Actor>::Error) -> SupervisorStrategy<NA::Argument> {
        log_stop(&err)
    }
}

impl<A> SyncSupervisor<A> for NoSupervisor
where
    A: SyncActor,
    A::Error: fmt::Display,
{
    fn decide(&mut self, err: A::Error) -> SupervisorStrategy<A::Argument> {
        log_stop(&err)
    }
}

/// Logs an actor's error and stops it ([`NoSupervisor`]).
fn log_stop<Arg>(err: &dyn fmt::Display) -> SupervisorStrategy<Arg> {
    warn!(actor = current_actor(), error:% = err; "actor failed, stopping it");
    SupervisorStrategy::Stop
}

/// Logs an actor's panic (the default of `decide_on_panic`).
fn log_panic(panic: &(dyn Any + Send)) {
    error!(actor = current_actor(), panic = panic_message(panic); "actor panicked, stopping it");
}

/// A supervisor that restarts the actor with a clone of its argument, at most
/// `max_restarts` times within `window`; past that it logs why and stops the
/// actor. The default budget is 5 restarts within 5 seconds.
///
/// Errors and panics count alike; each restart is logged as a warning.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hearth::supervisor::RestartSupervisor;
///
/// // Its argument, its budget and what its log lines say, in one place.
/// let supervisor = RestartSupervisor::new("config.toml")
///     .max_restarts(3)
///     .within(Duration::from_secs(60))
///     .log_as("config watcher of /etc/app");
/// # drop(supervisor);
/// ```
#[derive(Clone, Debug)]
pub struct RestartSupervisor<Arg> {
    arg: Arg,
    max_restarts: usize,
    window: Duration,
    /// Said in its log lines, after the actor's name.
    description: Option<std::borrow::Cow<'static, str>>,
    /// When each restart within the current window happened.
    restarts: VecDeque<Instant>,
}

impl<Arg> RestartSupervisor<Arg> {
    /// Default number of restarts allowed within [`Self::DEFAULT_WINDOW`].
    pub const DEFAULT_MAX_RESTARTS: usize = 5;
    /// Default window in which restarts are counted.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5);

    /// A supervisor that restarts the actor with `arg`.
    pub fn new(arg: Arg) -> RestartSupervisor<Arg> {
        RestartSupervisor {
            arg,
            max_restarts: Self::DEFAULT_MAX_RESTARTS,
            window: Self::DEFAULT_WINDOW,
            description: None,
            restarts: VecDeque::new(),
        }
    }

    /// Says `description` in every line this supervisor logs (as the
    /// `about` key), e.g. which connection or file the actor serves, so a
    /// restart in the log says more than the actor's name.
    #[must_use]
    pub fn log_as(mut self, description: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the number of restarts allowed within the window.
    #[must_use]
    pub fn max_restarts(mut self, max_restarts: usize) -> Self {
        self.max_restarts = max_restarts;
        self
    }

    /// Sets the window in which restarts are counted.
    #[must_use]
    pub fn within(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Number of restarts counted in the current window.
    pub fn restarts(&self) -> usize {
        self.restarts.len()
    }

    fn next(&mut self, reason: &dyn fmt::Display) -> SupervisorStrategy<Arg>
    where
        Arg: Clone,
    {
        let now = Instant::now();
        while let Some(first) = self.restarts.front() {
            if now.duration_since(*first) > self.window {
                let _ = self.restarts.pop_front();
            } else {
                break;
            }
        }
        let about = self.description.as_deref().unwrap_or("-");
        if self.restarts.len() >= self.max_restarts {
            error!(
                actor = current_actor(), about = about,
                reason:% = reason, restarts = self.restarts.len(), window:? = self.window;
                "actor failed, stopping it: restart budget of {} within {:?} used up",
                self.max_restarts, self.window
            );
            return SupervisorStrategy::Stop;
        }
        self.restarts.push_back(now);
        warn!(
            actor = current_actor(), about = about,
            reason:% = reason, restart = self.restarts.len(), max_restarts = self.max_restarts;
            "actor failed, restarting it ({}/{} within {:?})",
            self.restarts.len(), self.max_restarts, self.window
        );
        SupervisorStrategy::Restart(self.arg.clone())
    }
}

impl<NA> Supervisor<NA> for RestartSupervisor<NA::Argument>
where
    NA: NewActor,
    NA::Argument: Clone,
    <NA::Actor as Actor>::Error: fmt::Display,
{
    fn decide(&mut self, err: <NA::Actor as Actor>::Error) -> SupervisorStrategy<NA::Argument> {
        self.next(&err)
    }

    fn decide_on_panic(
        &mut self,
        panic: Box<dyn Any + Send + 'static>,
    ) -> SupervisorStrategy<NA::Argument> {
        let msg = format!("panic: {}", panic_message(&*panic));
        self.next(&msg)
    }

    /// A failed creation counts against the restart budget, as a failure
    /// of the actor does.
    fn decide_on_restart_error(&mut self, err: NA::Error) -> SupervisorStrategy<NA::Argument> {
        let msg = format!("creating it failed: {err}");
        self.next(&msg)
    }
}

impl<A> SyncSupervisor<A> for RestartSupervisor<A::Argument>
where
    A: SyncActor,
    A::Argument: Clone,
    A::Error: fmt::Display,
{
    fn decide(&mut self, err: A::Error) -> SupervisorStrategy<A::Argument> {
        self.next(&err)
    }

    fn decide_on_panic(
        &mut self,
        panic: Box<dyn Any + Send + 'static>,
    ) -> SupervisorStrategy<A::Argument> {
        let msg = format!("panic: {}", panic_message(&*panic));
        self.next(&msg)
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(msg) = panic.downcast_ref::<&'static str>() {
        msg
    } else if let Some(msg) = panic.downcast_ref::<String>() {
        msg
    } else {
        "<non-string panic payload>"
    }
}

thread_local! {
    /// Name of the actor whose supervisor is deciding, for the logs.
    static CURRENT_ACTOR: std::cell::Cell<&'static str> = const { std::cell::Cell::new("unknown") };
}

/// Runs `f` (a supervisor call) with `name` as the current actor, so the
/// built-in supervisors can name the actor in their logs.
pub(crate) fn with_actor<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT_ACTOR.with(|current| current.replace(name));
    let result = f();
    CURRENT_ACTOR.with(|current| current.set(previous));
    result
}

/// Name of the actor whose supervisor is deciding (`"unknown"` outside a
/// supervisor call).
fn current_actor() -> &'static str {
    CURRENT_ACTOR.with(std::cell::Cell::get)
}
