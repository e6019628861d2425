//! The shutdown policy of a runtime, in one place: a phase, and one
//! transition function from what the coordinator sees to what it does next.
//!
//! | phase          | event                                 | next phase     | the coordinator                                               |
//! |----------------|---------------------------------------|----------------|---------------------------------------------------------------|
//! | running        | stop signal, no receiver              | draining       | drains: pools take no jobs, threads told `Shutdown`          |
//! | running        | stop signal, receivers                | running        | relays it only: the receivers decide                          |
//! | running        | shutdown requested                    | draining       | drains                                                        |
//! | draining       | stop signal (SIGINT, SIGTERM, SIGQUIT)| forced         | stops now: slots killed, threads told `Stop`, exit 128 + N   |
//! | draining       | shutdown requested                    | draining       | nothing more                                                  |
//! | failed         | stop signal                           | forced         | stops now                                                     |
//! | running, draining | a thread failed (the first)        | failed         | pools drain, threads told `Stop`; `start` returns the error   |
//! | failed         | another thread failed                 | failed         | logs it                                                       |
//! | draining, failed | grace period over                   | forced         | stops now, naming what still ran                              |
//! | running, draining, failed | every thread ended         | closing pools  | pools drain: running jobs finish, slots get `SHUTDOWN`       |
//! | closing pools  | the first stop signal or request      | closing pools  | nothing more: the pools drain already                         |
//! | closing pools  | a second stop signal                  | forced         | kills the slots                                               |
//! | closing pools  | grace period over                     | done           | kills the slots                                               |
//! | closing pools  | every pool closed                     | done           | returns                                                       |
//! | any            | poll failed                           | forced         | stops now with the poll's error                               |
//!
//! A blocking remote pool that watches the stop signals
//! (`remote/pool/signals.rs`) feeds them to this same function, so it
//! follows the stop signal rows above: the first drains, the next forces.
//!
//! Every action but nothing is a step towards the end: at the first, the
//! coordinator tells the service manager `STOPPING=1` (see
//! [`crate::systemd`]; nothing without `NOTIFY_SOCKET`).
//!
//! A shutdown's grace period counts from when it began; closing the pools
//! after the threads ended by themselves gets a grace period of its own.
//! What `start` returns: the first thread's error if one failed; after a
//! forced stop, why it was forced; after a drain caused by SIGINT, the
//! interrupt (exit 130), unless the runtime was built to take stop signals
//! as its normal end (`Setup::stop_signals_end_cleanly`); otherwise `Ok`.

use std::time::{Duration, Instant};

use crate::signal::Signal;

/// Where the runtime is in its life.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Phase {
    Running,
    /// A graceful shutdown: actors finish, then the threads end.
    Draining {
        cause: Cause,
        until: Option<Instant>,
    },
    /// A thread failed: the others are told to stop at once.
    Failed {
        until: Option<Instant>,
    },
    /// Every thread ended; the remote pools finish their jobs and close.
    /// `drained`: a drain came first (its cause decides the result).
    ClosingPools {
        until: Option<Instant>,
        drained: Option<Cause>,
    },
    /// Stopped without waiting.
    Forced,
}

/// Why a graceful shutdown began.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Cause {
    /// A stop signal that no actor receives.
    Signal(Signal),
    /// A `shutdown` call.
    Requested,
}

/// What the coordinator saw.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Event {
    /// A stop signal (SIGINT, SIGTERM, SIGQUIT); `receivers` actors
    /// receive signals.
    StopSignal { signal: Signal, receivers: usize },
    /// `shutdown` was called.
    ShutdownRequested,
    /// A thread ended with an error.
    ThreadFailed,
    /// Every worker and sync actor thread has ended.
    ThreadsDone,
    /// Every remote pool has closed (only looked at once the threads are
    /// done).
    PoolsClosed,
    /// The time is `now`: a deadline may have passed.
    Tick(Instant),
    /// The coordinator's poll failed.
    PollFailed,
}

/// What the coordinator does next.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Action {
    Nothing,
    /// Pools take no more jobs; threads are told `Shutdown`; actors woken.
    Drain,
    /// Pools take no more jobs; threads are told `Stop`.
    StopThreads,
    /// The threads are done: pools finish their jobs and close.
    ClosePools,
    /// Stop now: kill the slots, tell the threads `Stop`, wait a moment
    /// for them and return.
    Force(Forced),
    /// Kill the slots that are left and return.
    KillPoolsAndReturn,
    /// Return.
    Return,
}

/// Why a stop was forced.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Forced {
    /// A second stop signal.
    Signal(Signal),
    /// The grace period ended.
    GraceOver,
    /// The coordinator's poll failed.
    PollFailed,
}

/// The phase and the grace period it counts with.
#[derive(Debug)]
pub(crate) struct Policy {
    phase: Phase,
    grace: Duration,
    /// A thread failed (the result is its error).
    failed: bool,
    /// A drain caused by a stop signal ends cleanly, even for SIGINT.
    signals_end_cleanly: bool,
}

impl Policy {
    pub(crate) fn new(grace: Duration, signals_end_cleanly: bool) -> Policy {
        Policy {
            phase: Phase::Running,
            grace,
            failed: false,
            signals_end_cleanly,
        }
    }

    #[cfg(test)]
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// The deadline the coordinator must wake up for, if any.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Draining { until, .. }
            | Phase::Failed { until }
            | Phase::ClosingPools { until, .. } => until,
            Phase::Running | Phase::Forced => None,
        }
    }

    /// The transition: the next phase, and what to do.
    pub(crate) fn on(&mut self, event: Event, now: Instant) -> Action {
        let until = now.checked_add(self.grace);
        let (next, action) = match (self.phase, event) {
            (Phase::Forced, _) => (Phase::Forced, Action::Nothing),
            (_, Event::PollFailed) => (Phase::Forced, Action::Force(Forced::PollFailed)),
            (phase, Event::StopSignal { signal, receivers }) => {
                on_stop_signal(phase, signal, receivers, until)
            }
            (phase, Event::ShutdownRequested) => on_shutdown_requested(phase, until),
            (phase, Event::ThreadFailed) => {
                self.failed = true;
                on_thread_failed(phase, until)
            }
            (phase, Event::ThreadsDone) => on_threads_done(phase, until),
            (Phase::ClosingPools { .. }, Event::PoolsClosed) => (self.phase, Action::Return),
            (phase, Event::PoolsClosed) => (phase, Action::Nothing),
            (phase, Event::Tick(now)) => on_tick(phase, now),
        };
        self.phase = next;
        action
    }

    /// What `start` returns when it returns without a forced stop and no
    /// thread failed: the interrupt of an unhandled SIGINT, else clean.
    pub(crate) fn interrupted_by(&self) -> Option<Signal> {
        if self.failed || self.signals_end_cleanly {
            return None;
        }
        match self.phase {
            Phase::Draining {
                cause: Cause::Signal(Signal::Interrupt),
                ..
            }
            | Phase::ClosingPools {
                drained: Some(Cause::Signal(Signal::Interrupt)),
                ..
            } => Some(Signal::Interrupt),
            _ => None,
        }
    }
}

// The rows of the transition table, one function per event; `until` is the
// end of a grace period that would start now. `Policy::on` handles the
// forced phase and a failed poll first.

fn on_stop_signal(
    phase: Phase,
    signal: Signal,
    receivers: usize,
    until: Option<Instant>,
) -> (Phase, Action) {
    match phase {
        Phase::Running if receivers == 0 => (
            Phase::Draining {
                cause: Cause::Signal(signal),
                until,
            },
            Action::Drain,
        ),
        // An actor receives it: the application decides.
        Phase::Running => (Phase::Running, Action::Nothing),
        // The first signal after the threads ended: remembered as the
        // drain's cause.
        Phase::ClosingPools {
            until,
            drained: None,
        } => (
            Phase::ClosingPools {
                until,
                drained: Some(Cause::Signal(signal)),
            },
            Action::Nothing,
        ),
        Phase::Draining { .. } | Phase::Failed { .. } | Phase::ClosingPools { .. } => {
            (Phase::Forced, Action::Force(Forced::Signal(signal)))
        }
        Phase::Forced => (Phase::Forced, Action::Nothing),
    }
}

fn on_shutdown_requested(phase: Phase, until: Option<Instant>) -> (Phase, Action) {
    match phase {
        Phase::Running => (
            Phase::Draining {
                cause: Cause::Requested,
                until,
            },
            Action::Drain,
        ),
        Phase::ClosingPools {
            until,
            drained: None,
        } => (
            Phase::ClosingPools {
                until,
                drained: Some(Cause::Requested),
            },
            Action::Nothing,
        ),
        phase => (phase, Action::Nothing),
    }
}

fn on_thread_failed(phase: Phase, until: Option<Instant>) -> (Phase, Action) {
    match phase {
        Phase::Running => (Phase::Failed { until }, Action::StopThreads),
        // The grace period already running goes on.
        Phase::Draining { until, .. } => (Phase::Failed { until }, Action::StopThreads),
        phase => (phase, Action::Nothing),
    }
}

fn on_threads_done(phase: Phase, until: Option<Instant>) -> (Phase, Action) {
    let drained = match phase {
        Phase::Running | Phase::Failed { .. } => None,
        Phase::Draining { cause, .. } => Some(cause),
        phase @ (Phase::ClosingPools { .. } | Phase::Forced) => return (phase, Action::Nothing),
    };
    (Phase::ClosingPools { until, drained }, Action::ClosePools)
}

fn on_tick(phase: Phase, now: Instant) -> (Phase, Action) {
    match phase {
        Phase::Draining { until, .. } | Phase::Failed { until }
            if until.is_some_and(|until| now >= until) =>
        {
            (Phase::Forced, Action::Force(Forced::GraceOver))
        }
        Phase::ClosingPools { until, .. } if until.is_some_and(|until| now >= until) => {
            (phase, Action::KillPoolsAndReturn)
        }
        phase => (phase, Action::Nothing),
    }
}

#[cfg(test)]
mod tests;
