//! The process's stop signals for a blocking [`Pool`] that watches them
//! ([`PoolBuilder::stop_on_signals`](super::PoolBuilder::stop_on_signals)):
//! the runtime's rule, taken from the coordinator's policy itself
//! (`coordinator/policy.rs`), so that a runtime, its pools and a blocking
//! pool behave alike: the first stop signal (SIGINT, SIGTERM, SIGQUIT)
//! drains, the pool starting no new job while the running ones finish;
//! the next kills the slots.
//!
//! With [`StopRule::GnuParallel`], GNU parallel's rule instead: the first
//! stop signal kills, and SIGHUP (watched then too) drains.
//!
//! The signals are read from a `signalfd` registered on the pool's poll
//! (`sys::ProcessSignals`), so they are seen whenever the pool is driven:
//! during a run, and during its shutdown.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use log::{debug, error};

use super::Pool;
use crate::Signal;
use crate::coordinator::policy::{Action, Event, Policy};
use crate::remote::PoolMetrics;
use crate::remote::engine::Hook;
use crate::sys::ProcessSignals;

/// What a stop signal did to a pool that watches them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopStep {
    /// The first: the pool starts no new job from now on (the queued ones
    /// are reported cancelled); the running ones finish and are reported.
    Drain,
    /// The next: the pool kills its slots; the jobs not done are reported
    /// cancelled.
    Kill,
}

impl fmt::Display for StopStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopStep::Drain => "drain",
            StopStep::Kill => "kill",
        })
    }
}

/// The rule a pool's stop signals follow
/// ([`PoolBuilder::stop_rule`](super::PoolBuilder::stop_rule)).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopRule {
    /// A runtime's: the first stop signal (SIGINT, SIGTERM, SIGQUIT)
    /// drains, the next kills; SIGHUP keeps its default action.
    #[default]
    Runtime,
    /// GNU parallel's: the first stop signal kills the slots at once (the
    /// jobs not done are reported cancelled), and SIGHUP drains (no new
    /// job starts; the running ones finish).
    GnuParallel,
}

/// Told of each stop signal and what it did.
pub(crate) type OnStopSignal = Hook<dyn Fn(Signal, StopStep, &PoolMetrics) + Send + Sync>;

/// A pool's watch over the stop signals.
pub(crate) struct Watch {
    pub(super) signals: ProcessSignals,
    policy: Policy,
    rule: StopRule,
    on_signal: OnStopSignal,
}

impl Watch {
    /// Blocks the stop signals for the calling thread (and the threads it
    /// starts from now on) and reads them from a `signalfd`.
    pub(crate) fn new(on_signal: OnStopSignal, rule: StopRule) -> std::io::Result<Watch> {
        let signals = match rule {
            StopRule::Runtime => ProcessSignals::stop_signals()?,
            StopRule::GnuParallel => ProcessSignals::stop_signals_and_hangup()?,
        };
        Ok(Watch {
            signals,
            rule,
            // No grace period: a pool's drain lasts as long as its jobs.
            policy: Policy::new(Duration::MAX, false),
            on_signal,
        })
    }
}

impl Pool {
    /// Reads the pending stop signals and applies the rule to each.
    pub(super) fn take_signals(&mut self) {
        let Some(watch) = self.signals.as_mut() else {
            return;
        };
        loop {
            let signal = match watch.signals.receive() {
                Ok(Some(signal)) => signal,
                Ok(None) => return,
                Err(err) => {
                    error!(error:% = err; "remote pool: unable to read process signals");
                    return;
                }
            };
            let event = Event::StopSignal {
                signal,
                receivers: 0,
            };
            let step = match (watch.rule, signal) {
                (StopRule::GnuParallel, Signal::Hangup) => StopStep::Drain,
                (StopRule::GnuParallel, _) => StopStep::Kill,
                (StopRule::Runtime, _) => match watch.policy.on(event, Instant::now()) {
                    Action::Drain => StopStep::Drain,
                    Action::Force(_) => StopStep::Kill,
                    action => {
                        debug!(signal:% = signal, action:? = action; "remote pool: signal ignored");
                        continue;
                    }
                },
            };
            let control = &self.control;
            let _ = control.signalled.set(signal);
            match step {
                StopStep::Drain => control.stop.store(true, Ordering::SeqCst),
                StopStep::Kill => control.kill.store(true, Ordering::SeqCst),
            }
            (watch.on_signal.0)(signal, step, &control.stats.snapshot());
        }
    }
}
