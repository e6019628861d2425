//! Process signals as messages, and the relay policy.
//!
//! The coordinator receives the process signals listed in [`Signal`] and
//! relays each one to every actor that asked for them (see
//! [`RuntimeRef::receive_signals`](crate::RuntimeRef::receive_signals)).
//!
//! Policy (the whole table is in the coordinator's `policy` module):
//!
//! - SIGINT, SIGTERM and SIGQUIT (the stop signals, see
//!   [`Signal::should_stop`]) with no receiver start a graceful shutdown of
//!   the runtime (see [`Runtime::start`](crate::Runtime::start)). With
//!   receivers, they decide, e.g. by calling `shutdown`.
//! - A second stop signal while shutting down stops the runtime now.
//! - SIGUSR2 also makes the runtime log its metrics.
//!
//! Child processes: the runtime (and a remote pool, and a remote worker)
//! receive signals through a `signalfd`, so the signals they handle are
//! blocked on their threads, and a child process inherits that mask
//! through `exec` (std's `Command` does not clear it). A program that does
//! not clear it itself (bash, `sleep`, most programs) then never sees
//! `SIGINT` or `SIGTERM`. Spawn children from a hearth program with
//! [`clear_mask_in_child`]; the jobs of `JobContext::run_command` get it
//! already.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::ActorRef;
use crate::actor_ref::TrySendError;

/// Makes the child process `command` spawns start with no signal
/// blocked (see the module's doc: otherwise it inherits the signals this
/// process blocks to receive them as messages).
///
/// # Examples
///
/// ```
/// use std::process::Command;
///
/// let mut command = Command::new("sh");
/// command.args(["-c", "grep SigBlk /proc/self/status"]);
/// hearth::signal::clear_mask_in_child(&mut command);
/// let output = command.output().unwrap();
/// assert_eq!(output.stdout, b"SigBlk:\t0000000000000000\n");
/// ```
pub fn clear_mask_in_child(command: &mut std::process::Command) {
    crate::sys::clear_signal_mask_in_child(command);
}

/// A process signal, delivered as a message to actors that asked for them.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGINT: interrupt, e.g. Ctrl+C in a terminal.
    Interrupt,
    /// SIGTERM: polite request to terminate (`kill PID`).
    Terminate,
    /// SIGQUIT: quit.
    Quit,
    /// SIGHUP: the terminal hung up; by convention, reload configuration.
    Hangup,
    /// SIGUSR1: user-defined.
    User1,
    /// SIGUSR2: user-defined; hearth also logs its metrics.
    User2,
}

impl Signal {
    /// All signals hearth handles.
    pub const ALL: [Signal; 6] = [
        Signal::Interrupt,
        Signal::Terminate,
        Signal::Quit,
        Signal::Hangup,
        Signal::User1,
        Signal::User2,
    ];

    /// Returns true for the signals that ask the process to stop: SIGINT,
    /// SIGTERM and SIGQUIT.
    pub fn should_stop(self) -> bool {
        matches!(self, Signal::Interrupt | Signal::Terminate | Signal::Quit)
    }

    /// The signal's number (`libc::SIGINT` etc.).
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Quit => libc::SIGQUIT,
            Signal::Hangup => libc::SIGHUP,
            Signal::User1 => libc::SIGUSR1,
            Signal::User2 => libc::SIGUSR2,
        }
    }

    /// The signal's name, e.g. `SIGINT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Quit => "SIGQUIT",
            Signal::Hangup => "SIGHUP",
            Signal::User1 => "SIGUSR1",
            Signal::User2 => "SIGUSR2",
        }
    }

    pub(crate) fn from_mio(signal: mio_signals::Signal) -> Signal {
        match signal {
            mio_signals::Signal::Interrupt => Signal::Interrupt,
            mio_signals::Signal::Terminate => Signal::Terminate,
            mio_signals::Signal::Quit => Signal::Quit,
            mio_signals::Signal::User1 => Signal::User1,
            mio_signals::Signal::User2 => Signal::User2,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signal receivers registered on a runtime.
///
/// Receivers of thread-safe actors, sync actors and runtime-level
/// registrations are delivered to by the coordinator; thread-local ones by
/// their worker. Every registration, wherever it lives, also leaves its
/// liveness here, so the coordinator can count the live receivers when it
/// applies the shutdown policy: a registration is dead once its actor
/// stopped, or (thread-local ones) once the worker that delivers to it ended.
#[derive(Default)]
pub(crate) struct SignalReceivers {
    shared: Mutex<Vec<ActorRef<Signal>>>,
    registrations: Mutex<Vec<Liveness>>,
}

struct Liveness {
    /// The signals its message type takes ([`takes`]): a stop signal it
    /// refuses leaves the shutdown to the runtime.
    takes: u8,
    /// Set by the actor's inbox when it closes.
    actor_stopped: Arc<AtomicBool>,
    /// Set when the worker holding a thread-local registration drops it.
    dropped: Option<Arc<AtomicBool>>,
}

impl Liveness {
    fn is_live(&self) -> bool {
        !self.actor_stopped.load(Ordering::Acquire)
            && !self
                .dropped
                .as_ref()
                .is_some_and(|dropped| dropped.load(Ordering::Acquire))
    }
}

/// Held next to a thread-local registration; marks it dead when dropped
/// (the worker ended).
pub(crate) struct RegistrationGuard(Arc<AtomicBool>);

impl Drop for RegistrationGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The signals a receiver of messages `M` takes, as bits of
/// [`Signal::ALL`]'s order: those its `TryFrom` converts. A conversion
/// that panics takes nothing (it is logged when a signal comes).
pub(crate) fn takes<M: TryFrom<Signal>>() -> u8 {
    let mut takes = 0;
    for (bit, signal) in Signal::ALL.into_iter().enumerate() {
        let converts = std::panic::catch_unwind(|| M::try_from(signal).is_ok());
        if converts.unwrap_or(false) {
            takes |= 1 << bit;
        }
    }
    takes
}

/// `signal`'s bit in a [`takes`] mask.
fn bit(signal: Signal) -> u8 {
    let at = Signal::ALL.iter().position(|s| *s == signal).unwrap_or(0);
    1 << at
}

impl SignalReceivers {
    /// Adds a receiver the coordinator delivers to, whose message type
    /// `takes` the signals of that mask ([`takes`]).
    pub(crate) fn add_shared(&self, actor_ref: ActorRef<Signal>, takes: u8) {
        let actor_stopped = actor_ref.stopped_flag();
        lock(&self.registrations).push(Liveness {
            takes,
            actor_stopped,
            dropped: None,
        });
        lock(&self.shared).push(actor_ref);
    }

    /// Adds the liveness of a thread-local registration that `takes` the
    /// signals of that mask; the worker keeps the returned guard as long
    /// as it delivers to the actor.
    pub(crate) fn add_local(&self, actor_stopped: Arc<AtomicBool>, takes: u8) -> RegistrationGuard {
        let dropped = Arc::new(AtomicBool::new(false));
        lock(&self.registrations).push(Liveness {
            takes,
            actor_stopped,
            dropped: Some(dropped.clone()),
        });
        RegistrationGuard(dropped)
    }

    /// Number of live registrations.
    pub(crate) fn live(&self) -> usize {
        let mut registrations = lock(&self.registrations);
        registrations.retain(Liveness::is_live);
        registrations.len()
    }

    /// Number of live registrations that take `signal`: with none, a stop
    /// signal is the runtime's to act on.
    pub(crate) fn live_for(&self, signal: Signal) -> usize {
        let mut registrations = lock(&self.registrations);
        registrations.retain(Liveness::is_live);
        registrations
            .iter()
            .filter(|registration| registration.takes & bit(signal) != 0)
            .count()
    }

    /// Delivers `signal` to the shared receivers. A receiver whose inbox is
    /// full misses it (signals coalesce); one that stopped is removed.
    pub(crate) fn deliver_shared(&self, signal: Signal) {
        lock(&self.shared).retain(|actor_ref| deliver(actor_ref, signal));
    }

    /// Forgets the shared receivers (the runtime is ending), dropping their
    /// references.
    pub(crate) fn clear(&self) {
        let shared = std::mem::take(&mut *lock(&self.shared));
        drop(shared);
    }
}

/// Delivers `signal` to `actor_ref` without waiting; false if the actor has
/// stopped and should be forgotten. A signal the receiver's message type
/// does not take (its [`TryFrom`] fails, or a mapped reference rejects it)
/// is not delivered, and the receiver stays for the signals it takes: a
/// server that stops on `SIGTERM` goes on through `SIGUSR2`. The
/// conversion into the receiver's message type is the application's code:
/// a panic in it is logged and the receiver is forgotten (it would panic
/// again), on whichever thread delivers, so neither a worker nor the
/// coordinator goes down with it.
pub(crate) fn deliver<M: TryFrom<Signal>>(actor_ref: &ActorRef<M>, signal: Signal) -> bool {
    let sent =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match M::try_from(signal) {
            Ok(msg) => actor_ref.try_send(msg),
            Err(_) => Err(TrySendError::Rejected),
        }));
    let sent = match sent {
        Ok(sent) => sent,
        Err(panic) => {
            log::error!(
                signal:% = signal,
                panic = crate::supervisor::panic_message(&*panic);
                "converting a signal into its receiver's message panicked; the receiver gets no more signals"
            );
            return false;
        }
    };
    match sent {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            log::debug!(signal:% = signal; "signal receiver's inbox is full, signal coalesced");
            true
        }
        Err(TrySendError::Stopped(_)) => false,
        Err(TrySendError::Rejected) => {
            log::debug!(signal:% = signal; "signal receiver does not take this signal");
            true
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
