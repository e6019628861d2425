//! How many jobs a slot is sent ahead (its window), fixed or adapted to
//! its link.
//!
//! A slot runs its jobs one at a time; the window only pipelines: jobs
//! sent behind the running one wait at the worker, so that it starts the
//! next as soon as it answers one, instead of idling for a round trip
//! while the answer travels to the pool and the next job back. How many
//! it takes to hide a round trip depends on the link and the jobs: about
//! `1 + rtt / job time`. A fixed window (`PoolBuilder::window`, `hearth
//! map --window`) is what the user asked for. An adaptive one starts
//! small and grows while the slot *runs dry*: its last job in flight is
//! answered while jobs wait in the queue (the worker idles for a round
//! trip), and that round trip is a large part of what the jobs in the
//! window took ([`DRY_SHARE`]). It then grows to what hides the round
//! trip, `1 + rtt / job time`, at least doubling, up to its bound: a
//! link of 20 ms and jobs of 50 µs reach the bound at the first time the
//! slot runs dry instead of six round trips later. A
//! slot of jobs that run long next to the round trip stays small: a job
//! sent ahead to one slot cannot be taken by another that is free, which
//! matters at the end of a run of long jobs. Every slot adapts but a
//! local one, which keeps the start (see [`WindowPolicy::for_transport`]):
//! srun relays a Slurm slot's frames through its step daemons, tens of
//! milliseconds a round trip, and a command template may be anything.
//!
//! The round trip is measured once per slot start, from a `PING` sent
//! when the worker answers `HELLO` to its `PONG` (the worker answers at
//! once, so this is the link and the two processes); a job's time from
//! the pool's view: from its start (the
//! dispatch to an idle slot, or the answer to the job before it) to its
//! answer, less the round trip when it was sent to an idle slot. The
//! window is the slot's place's, not its process's: a slot started again
//! keeps what it learnt.

use std::time::Duration;

use crate::remote::Transport;

/// The window of a pool's slots, as the pool was built.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum WindowPolicy {
    /// Always this many jobs in flight per slot.
    Fixed(usize),
    /// From `start`, doubling while the slot runs dry, up to `max`.
    Adaptive {
        /// The window of a new slot.
        start: usize,
        /// The largest window.
        max: usize,
    },
}

impl WindowPolicy {
    /// The policy of a slot started with `transport`: an adaptive window
    /// adapts but on a local pipe, which keeps its start: its round trip
    /// is short, and one measured on a busy machine is no measure of it.
    /// A Slurm step's is not short: srun relays its frames through the
    /// step daemons (1,000 `echo` jobs on 4 slots of a private cluster
    /// took 9.2 s at window 1 and 1.1 s at window 16).
    pub(crate) fn for_transport(self, transport: &Transport) -> WindowPolicy {
        match (self, transport) {
            (WindowPolicy::Adaptive { start, .. }, Transport::Local { .. }) => {
                WindowPolicy::Fixed(start.max(1))
            }
            _ => self,
        }
    }

    /// The largest window a slot may have.
    pub(crate) fn max(self) -> usize {
        match self {
            WindowPolicy::Fixed(size) => size,
            WindowPolicy::Adaptive { max, .. } => max,
        }
    }
}

/// The default bound of an adaptive window.
pub(crate) const ADAPTIVE_MAX: usize = 64;

/// The share of a cycle (the window's jobs, then the round trip during
/// which the worker idles) that the round trip may take before the window
/// grows: 1/4, so a slot that grows no more keeps its worker busy at
/// least 80% of the time.
const DRY_SHARE: u32 = 4;

/// A slot's window and what it learnt of its link.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    policy: WindowPolicy,
    size: usize,
    /// The slot's round trip, once measured.
    rtt: Option<Duration>,
    /// A job's time at the worker, a moving average of the answers.
    job_time: Option<Duration>,
}

impl Window {
    /// The window of a new slot.
    pub(crate) fn new(policy: WindowPolicy) -> Window {
        let size = match policy {
            WindowPolicy::Fixed(size) => size,
            WindowPolicy::Adaptive { start, max } => start.min(max),
        };
        Window {
            policy,
            size: size.max(1),
            rtt: None,
            job_time: None,
        }
    }

    /// Jobs in flight the slot may have now.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// A round trip of the slot's link was measured.
    pub(crate) fn round_trip(&mut self, rtt: Duration) {
        self.rtt = Some(self.rtt.map_or(rtt, |old| old.min(rtt)));
    }

    /// A job was answered `took` after its start; `sent_to_idle` if it was
    /// sent to a slot with nothing in flight (its time includes a round
    /// trip).
    pub(crate) fn answered(&mut self, took: Duration, sent_to_idle: bool) {
        let sample = if sent_to_idle {
            took.saturating_sub(self.rtt.unwrap_or_default())
        } else {
            took
        };
        // An average over about four answers.
        self.job_time = Some(match self.job_time {
            Some(old) => (old * 3 + sample) / 4,
            None => sample,
        });
    }

    /// The slot's last job in flight was answered while `queued` jobs
    /// wait: grows the window if the round trip the worker now idles is
    /// too large a share of its cycle. Returns true if it grew.
    pub(crate) fn ran_dry(&mut self, queued: bool) -> bool {
        let WindowPolicy::Adaptive { max, .. } = self.policy else {
            return false;
        };
        let Some(rtt) = self.rtt else {
            return false;
        };
        if !queued || self.size >= max {
            return false;
        }
        let jobs = self.job_time.unwrap_or_default() * u32::try_from(self.size).unwrap_or(u32::MAX);
        if rtt * DRY_SHARE <= jobs {
            return false;
        }
        let hides = match self.job_time {
            Some(job) if !job.is_zero() => {
                let ratio = rtt.as_nanos() / job.as_nanos();
                usize::try_from(ratio)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1)
            }
            _ => max,
        };
        self.size = hides.max(self.size * 2).min(max);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Window, WindowPolicy};

    const ADAPTIVE: WindowPolicy = WindowPolicy::Adaptive { start: 1, max: 64 };

    /// A slot of jobs of `job` each on a link of `rtt`, as the engine
    /// sees it: `rounds` times, the window is filled, its jobs answered
    /// one after the other (the first sent to an idle slot), and the slot
    /// runs dry with jobs queued. Returns the window after each round.
    fn run(policy: WindowPolicy, rtt: Duration, job: Duration, rounds: usize) -> Vec<usize> {
        let mut window = Window::new(policy);
        window.round_trip(rtt);
        let mut sizes = Vec::new();
        for _ in 0..rounds {
            for i in 0..window.size() {
                if i == 0 {
                    window.answered(rtt + job, true);
                } else {
                    window.answered(job, false);
                }
            }
            let _ = window.ran_dry(true);
            sizes.push(window.size());
        }
        sizes
    }

    #[test]
    fn a_long_link_grows_the_window_to_its_bound() {
        let ms = Duration::from_millis;
        // 20 ms round trips, 1 ms jobs: 21 jobs hide the round trip, then
        // doubling while it is more than a quarter of the cycle.
        assert_eq!(run(ADAPTIVE, ms(20), ms(1), 5), [21, 42, 64, 64, 64]);
        // 50 ms, 2 ms jobs: the same.
        assert_eq!(run(ADAPTIVE, ms(50), ms(2), 4), [26, 52, 64, 64]);
    }

    #[test]
    fn jobs_far_shorter_than_the_link_take_the_bound_at_once() {
        let us = Duration::from_micros;
        // 20 ms round trips, 50 µs jobs: 401 would hide it.
        assert_eq!(run(ADAPTIVE, us(20_000), us(50), 3), [64, 64, 64]);
    }

    #[test]
    fn growth_stops_once_the_round_trip_is_a_small_share() {
        let ms = Duration::from_millis;
        // 2 ms round trips, 1 ms jobs: 12 jobs take 6 times the round trip.
        assert_eq!(run(ADAPTIVE, ms(2), ms(1), 6), [3, 6, 12, 12, 12, 12]);
    }

    #[test]
    fn short_links_and_long_jobs_keep_a_window_of_one() {
        let us = Duration::from_micros;
        // A pipe: 50 µs round trips, 1 ms jobs.
        assert_eq!(run(ADAPTIVE, us(50), us(1000), 5), [1; 5]);
        // ssh at 20 ms, jobs of a second.
        let long = run(
            ADAPTIVE,
            Duration::from_millis(20),
            Duration::from_secs(1),
            5,
        );
        assert_eq!(long, [1; 5]);
    }

    #[test]
    fn a_fixed_window_never_changes() {
        let ms = Duration::from_millis;
        assert_eq!(run(WindowPolicy::Fixed(3), ms(50), ms(1), 4), [3; 4]);
        assert_eq!(run(WindowPolicy::Fixed(1), ms(50), ms(1), 4), [1; 4]);
    }

    #[test]
    fn nothing_queued_or_no_round_trip_yet_is_no_reason_to_grow() {
        let ms = Duration::from_millis;
        let mut window = Window::new(ADAPTIVE);
        window.answered(ms(1), true);
        assert!(
            !window.ran_dry(true),
            "grew before a round trip was measured"
        );
        window.round_trip(ms(20));
        assert!(!window.ran_dry(false), "grew with nothing queued");
        assert!(window.ran_dry(true));
        // 1 + 20 ms / 1 ms.
        assert_eq!(window.size(), 21);
    }

    #[test]
    fn every_slot_but_a_local_one_adapts() {
        let ssh = crate::remote::Transport::ssh("hearth");
        assert_eq!(ADAPTIVE.for_transport(&ssh), ADAPTIVE);
        let slurm = crate::remote::Transport::slurm("hearth");
        assert_eq!(ADAPTIVE.for_transport(&slurm), ADAPTIVE);
        let local = crate::remote::Transport::local();
        assert_eq!(ADAPTIVE.for_transport(&local), WindowPolicy::Fixed(1));
        let fixed = WindowPolicy::Fixed(8);
        assert_eq!(fixed.for_transport(&ssh), fixed);
    }

    #[test]
    fn the_start_and_bound_are_kept() {
        let ms = Duration::from_millis;
        let policy = WindowPolicy::Adaptive { start: 4, max: 10 };
        assert_eq!(run(policy, ms(50), ms(1), 3), [10, 10, 10]);
        // 5 ms, 1 ms jobs: 6 hide the round trip, but the window at least
        // doubles.
        assert_eq!(run(policy, ms(5), ms(1), 2), [8, 10]);
        assert_eq!(
            Window::new(WindowPolicy::Adaptive { start: 0, max: 4 }).size(),
            1
        );
    }
}
