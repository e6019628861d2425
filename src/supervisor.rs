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

    /// What [`RestartSupervisor::log_as`] set, if it was called.
    pub fn about(&self) -> Option<&str> {
        self.description.as_deref()
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

/// Defines a supervisor type that restarts its actor with the same
/// argument, Heph's `restart_supervisor!`: a named type to write in
/// signatures and statics, over a [`RestartSupervisor`] with the budget
/// the macro was given.
///
/// The forms, each with an optional visibility before the name:
///
/// - `restart_supervisor!(Name, "actor name")`: for actors whose argument
///   is `()`.
/// - `restart_supervisor!(Name, "actor name", Arg)`: the argument type;
///   `()`, a type, or a tuple of types.
/// - `restart_supervisor!(Name, "actor name", Arg, max_restarts, within)`:
///   with the budget (a `usize` and a `Duration`; by default
///   [`RestartSupervisor::DEFAULT_MAX_RESTARTS`] within
///   [`RestartSupervisor::DEFAULT_WINDOW`]).
/// - `restart_supervisor!(Name, "actor name", Arg, max_restarts, within,
///   ": format {}", args.0, ...)`: with a format string added to the actor
///   name in the logs and its arguments, where `args` is the supervisor's
///   argument (`args`, `args.0`, `args.1.name`).
///
/// The type has `Name::new(..)`, taking the argument (nothing for `()`,
/// each element of a tuple of two to six as an argument of its own, and a
/// longer tuple as one), and the constants `Name::MAX_RESTARTS` and
/// `Name::MAX_DURATION`. It supervises any actor (and sync actor) whose
/// argument is `Arg` and whose errors implement `Display`, and decides as
/// [`RestartSupervisor`] does: at most `MAX_RESTARTS` restarts within
/// `MAX_DURATION`, then the actor is stopped. Its log lines carry the
/// actor name and the format's text as their `about` key.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use hearth::restart_supervisor;
///
/// restart_supervisor!(
///     pub ConnectionSupervisor,
///     "connection",
///     (String, u16),
///     3,
///     Duration::from_secs(30),
///     " to {}:{}",
///     args.0,
///     args.1,
/// );
///
/// let supervisor = ConnectionSupervisor::new("db.local".to_owned(), 5432);
/// assert_eq!(ConnectionSupervisor::MAX_RESTARTS, 3);
/// assert_eq!(supervisor.about(), "connection to db.local:5432");
/// ```
#[macro_export]
macro_rules! restart_supervisor {
    ($vis:vis $name:ident, $actor:expr $(,)?) => {
        $crate::restart_supervisor!($vis $name, $actor, ());
    };
    // `()` or a tuple.
    ($vis:vis $name:ident, $actor:expr, ( $($arg:ty),* ) $(, $($options:tt)*)?) => {
        $crate::__restart_supervisor_options!(
            [$vis $name, $actor, ( $($arg),* )] $($($options)*)?
        );
    };
    // One type.
    ($vis:vis $name:ident, $actor:expr, $arg:ty $(, $($options:tt)*)?) => {
        $crate::__restart_supervisor_options!([$vis $name, $actor, ($arg)] $($($options)*)?);
    };
}

/// Reads the optional budget and log format of [`restart_supervisor!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __restart_supervisor_options {
    ([$($head:tt)*]) => {
        $crate::__restart_supervisor_type!(
            [$($head)*]
            $crate::supervisor::RestartSupervisor::<()>::DEFAULT_MAX_RESTARTS,
            $crate::supervisor::RestartSupervisor::<()>::DEFAULT_WINDOW,
            ""
        );
    };
    ([$($head:tt)*] $max:expr, $within:expr $(,)?) => {
        $crate::__restart_supervisor_type!([$($head)*] $max, $within, "");
    };
    ([$($head:tt)*] $max:expr, $within:expr, $format:expr $(, args $(. $field:tt)*)* $(,)?) => {
        $crate::__restart_supervisor_type!(
            [$($head)*] $max, $within, $format $(, args $(. $field)*)*
        );
    };
}

/// Defines the type of [`restart_supervisor!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __restart_supervisor_type {
    (
        [$vis:vis $name:ident, $actor:expr, ( $($arg:ty),* )]
        $max:expr, $within:expr, $format:expr $(, args $(. $field:tt)*)*
    ) => {
        #[doc = ::std::concat!(
            "Restarts ", $actor, " with the same argument, at most `",
            ::std::stringify!($max), "` times within `", ::std::stringify!($within), "`."
        )]
        #[derive(Clone, Debug)]
        $vis struct $name($crate::supervisor::RestartSupervisor<( $($arg),* )>);

        #[allow(dead_code, unused_qualifications)]
        impl $name {
            /// The restarts allowed within [`Self::MAX_DURATION`].
            $vis const MAX_RESTARTS: usize = $max;
            /// The window in which restarts are counted.
            $vis const MAX_DURATION: ::std::time::Duration = $within;

            $crate::__restart_supervisor_new!($vis ( $($arg),* ) [$actor, $format $(, args $(. $field)*)*]);

            /// The actor name and the format's text, said in the log lines.
            $vis fn about(&self) -> &str {
                self.0.about().unwrap_or_default()
            }

            fn with_args(args: ( $($arg),* ), about: ::std::string::String) -> $name {
                $name(
                    $crate::supervisor::RestartSupervisor::new(args)
                        .max_restarts(Self::MAX_RESTARTS)
                        .within(Self::MAX_DURATION)
                        .log_as(about),
                )
            }
        }

        impl<NA> $crate::supervisor::Supervisor<NA> for $name
        where
            NA: $crate::actor::NewActor<Argument = ( $($arg),* )>,
            <NA::Actor as $crate::actor::Actor>::Error: ::std::fmt::Display,
        {
            fn decide(
                &mut self,
                err: <NA::Actor as $crate::actor::Actor>::Error,
            ) -> $crate::supervisor::SupervisorStrategy<NA::Argument> {
                $crate::supervisor::Supervisor::<NA>::decide(&mut self.0, err)
            }

            fn decide_on_panic(
                &mut self,
                panic: ::std::boxed::Box<dyn ::std::any::Any + ::std::marker::Send + 'static>,
            ) -> $crate::supervisor::SupervisorStrategy<NA::Argument> {
                $crate::supervisor::Supervisor::<NA>::decide_on_panic(&mut self.0, panic)
            }

            fn decide_on_restart_error(
                &mut self,
                err: NA::Error,
            ) -> $crate::supervisor::SupervisorStrategy<NA::Argument> {
                $crate::supervisor::Supervisor::<NA>::decide_on_restart_error(&mut self.0, err)
            }

            fn second_restart_error(&mut self, err: NA::Error) {
                $crate::supervisor::Supervisor::<NA>::second_restart_error(&mut self.0, err);
            }
        }

        impl<A> $crate::supervisor::SyncSupervisor<A> for $name
        where
            A: $crate::actor::SyncActor<Argument = ( $($arg),* )>,
            A::Error: ::std::fmt::Display,
        {
            fn decide(&mut self, err: A::Error) -> $crate::supervisor::SupervisorStrategy<A::Argument> {
                $crate::supervisor::SyncSupervisor::<A>::decide(&mut self.0, err)
            }

            fn decide_on_panic(
                &mut self,
                panic: ::std::boxed::Box<dyn ::std::any::Any + ::std::marker::Send + 'static>,
            ) -> $crate::supervisor::SupervisorStrategy<A::Argument> {
                $crate::supervisor::SyncSupervisor::<A>::decide_on_panic(&mut self.0, panic)
            }
        }
    };
}

/// The `new` of [`restart_supervisor!`]'s type: its parameters follow the
/// argument type's shape.
#[doc(hidden)]
#[macro_export]
macro_rules! __restart_supervisor_new {
    ($vis:vis () [$($about:tt)*]) => {
        /// The supervisor.
        $vis fn new() -> Self {
            let args = ();
            Self::with_args(args, $crate::__restart_supervisor_about!(args, $($about)*))
        }
    };
    ($vis:vis ($a0:ty) [$($about:tt)*]) => {
        /// The supervisor, restarting with `arg`.
        $vis fn new(arg: $a0) -> Self {
            let args = arg;
            let about = $crate::__restart_supervisor_about!(args, $($about)*);
            Self::with_args(args, about)
        }
    };
    ($vis:vis ($a0:ty, $a1:ty) [$($about:tt)*]) => {
        /// The supervisor, restarting with the tuple of its arguments.
        $vis fn new(a0: $a0, a1: $a1) -> Self {
            let args = (a0, a1);
            let about = $crate::__restart_supervisor_about!(args, $($about)*);
            Self::with_args(args, about)
        }
    };
    ($vis:vis ($a0:ty, $a1:ty, $a2:ty) [$($about:tt)*]) => {
        /// The supervisor, restarting with the tuple of its arguments.
        $vis fn new(a0: $a0, a1: $a1, a2: $a2) -> Self {
            let args = (a0, a1, a2);
            let about = $crate::__restart_supervisor_about!(args, $($about)*);
            Self::with_args(args, about)
        }
    };
    ($vis:vis ($a0:ty, $a1:ty, $a2:ty, $a3:ty) [$($about:tt)*]) => {
        /// The supervisor, restarting with the tuple of its arguments.
        $vis fn new(a0: $a0, a1: $a1, a2: $a2, a3: $a3) -> Self {
            let args = (a0, a1, a2, a3);
            let about = $crate::__restart_supervisor_about!(args, $($about)*);
            Self::with_args(args, about)
        }
    };
    ($vis:vis ($a0:ty, $a1:ty, $a2:ty, $a3:ty, $a4:ty) [$($about:tt)*]) => {
        /// The supervisor, restarting with the tuple of its arguments.
        $vis fn new(a0: $a0, a1: $a1, a2: $a2, a3: $a3, a4: $a4) -> Self {
            let args = (a0, a1, a2, a3, a4);
            let about = $crate::__restart_supervisor_about!(args, $($about)*);
            Self::with_args(args, about)
        }
    };
    ($vis:vis ($a0:ty, $a1:ty, $a2:ty, $a3:ty, $a4:ty, $a5:ty) [$($about:tt)*]) => {
        /// The supervisor, restarting with the tuple of its arguments.
        $vis fn new(a0: $a0, a1: $a1, a2: $a2, a3: $a3, a4: $a4, a5: $a5) -> Self {
            let args = (a0, a1, a2, a3, a4, a5);
            let about = $crate::__restart_supervisor_about!(args, $($about)*);
            Self::with_args(args, about)
        }
    };
    // Seven or more: the tuple itself.
    ($vis:vis ( $($arg:ty),* ) [$($about:tt)*]) => {
        /// The supervisor, restarting with `args`.
        $vis fn new(args: ( $($arg),* )) -> Self {
            let about = $crate::__restart_supervisor_about!(args, $($about)*);
            Self::with_args(args, about)
        }
    };
}

/// The `about` text of [`restart_supervisor!`]'s type: the actor name and
/// the format, with `args` (the `new` function's binding, named by the
/// caller of that macro) in its arguments.
#[doc(hidden)]
#[macro_export]
macro_rules! __restart_supervisor_about {
    ($args:ident, $actor:expr, $format:expr $(, args $(. $field:tt)*)*) => {
        ::std::format!(::std::concat!("{}", $format), $actor $(, $args $(. $field)*)*)
    };
}
