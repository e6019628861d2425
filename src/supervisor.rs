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
//!   and the [`Supervisor`] trait can be implemented for custom policies.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use log::{error, warn};

/// The decision of a [`Supervisor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorStrategy<Arg> {
    /// Start a new incarnation of the actor with this argument. The inbox,
    /// and every [`ActorRef`](crate::ActorRef) to the actor, stay valid.
    Restart(Arg),
    /// Stop the actor.
    Stop,
}

/// Decides what happens to an actor that failed with an error of type `E`
/// (or panicked); `Arg` is the actor's argument type.
pub trait Supervisor<E, Arg> {
    /// The actor returned `err`.
    fn decide(&mut self, err: E) -> SupervisorStrategy<Arg>;

    /// The actor panicked with `panic`. By default the panic is logged and
    /// the actor stopped.
    fn decide_on_panic(&mut self, panic: Box<dyn Any + Send + 'static>) -> SupervisorStrategy<Arg> {
        error!(actor = current_actor(), panic = panic_message(&*panic); "actor panicked, stopping it");
        SupervisorStrategy::Stop
    }

    /// Creating the actor failed with `err` (its
    /// [`NewActor::new`](crate::actor::NewActor::new), at its first start
    /// or at a restart). `Restart` tries once more with the argument given;
    /// if that fails too, [`Supervisor::second_restart_error`] is told and
    /// the actor stops. By default the error is logged and the actor
    /// stopped.
    fn decide_on_restart_error(&mut self, err: &dyn fmt::Display) -> SupervisorStrategy<Arg> {
        error!(actor = current_actor(), error:% = err; "creating the actor failed, stopping it");
        SupervisorStrategy::Stop
    }

    /// Creating the actor failed again, right after
    /// [`Supervisor::decide_on_restart_error`] asked for a restart: the
    /// actor stops (no loop of failing creations). By default the error is
    /// logged.
    fn second_restart_error(&mut self, err: &dyn fmt::Display) {
        error!(actor = current_actor(), error:% = err; "creating the actor failed again, stopping it");
    }
}

impl<F, E, Arg> Supervisor<E, Arg> for F
where
    F: FnMut(E) -> SupervisorStrategy<Arg>,
{
    fn decide(&mut self, err: E) -> SupervisorStrategy<Arg> {
        self(err)
    }
}

/// A supervisor that logs the actor's error or panic and stops it.
#[derive(Copy, Clone, Debug, Default)]
pub struct NoSupervisor;

impl<E: fmt::Display, Arg> Supervisor<E, Arg> for NoSupervisor {
    fn decide(&mut self, err: E) -> SupervisorStrategy<Arg> {
        warn!(actor = current_actor(), error:% = err; "actor failed, stopping it");
        SupervisorStrategy::Stop
    }
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

impl<E: fmt::Display, Arg: Clone> Supervisor<E, Arg> for RestartSupervisor<Arg> {
    fn decide(&mut self, err: E) -> SupervisorStrategy<Arg> {
        self.next(&err)
    }

    fn decide_on_panic(&mut self, panic: Box<dyn Any + Send + 'static>) -> SupervisorStrategy<Arg> {
        let msg = format!("panic: {}", panic_message(&*panic));
        self.next(&msg)
    }

    /// A failed creation counts against the restart budget, as a failure
    /// of the actor does.
    fn decide_on_restart_error(&mut self, err: &dyn fmt::Display) -> SupervisorStrategy<Arg> {
        let msg = format!("creating it failed: {err}");
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
