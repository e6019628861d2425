//! The service watchdog: when systemd sets `WATCHDOG_USEC` (and
//! `WATCHDOG_PID` names this process, or is unset), the service must send
//! `WATCHDOG=1` at least that often or be killed and, with `Restart=`,
//! started again. The coordinator pings at half the interval, from its
//! poll loop (a deadline next to the grace period's), so no thread of its
//! own.
//!
//! A ping says the whole runtime is well, not just the coordinator, so it
//! is withheld while a worker is stuck: one that has not come back to its
//! poll for the interval or longer (an actor that blocks its thread, an
//! endless loop). Each worker counts its polls (`WorkerShared::pulse`: odd
//! while it is in its poll, idle, even while it runs actors); a worker
//! whose count stayed even and unchanged over the interval is stuck. The
//! counts are read at each ping, so a worker is found stuck between one
//! and one and a half intervals after it stopped, and systemd, which waits
//! for an interval after the last ping, acts half an interval to an
//! interval later. A worker that comes back lets the pings resume. Sync
//! actor threads run blocking code by design and are not watched.

use std::time::{Duration, Instant};

/// What the workers' poll counts say at a ping.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Tick {
    /// Not time to ping yet.
    NotYet,
    /// Every worker came back to its poll recently: ping.
    Ping,
    /// Worker `worker` has not come back to its poll for `stuck_for`.
    Withhold { worker: usize, stuck_for: Duration },
}

/// The watchdog's interval and what it last saw of each worker.
#[derive(Debug)]
pub(crate) struct Watchdog {
    interval: Duration,
    next: Instant,
    /// By worker id: the last poll count seen, and since when it is that.
    seen: Vec<Option<(u64, Instant)>>,
}

impl Watchdog {
    /// A watchdog of `interval`, whose first ping is due `now`.
    pub(crate) fn new(interval: Duration, now: Instant) -> Watchdog {
        Watchdog {
            interval,
            next: now,
            seen: Vec::new(),
        }
    }

    /// How often systemd wants a ping.
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// When the next ping is due.
    pub(crate) fn deadline(&self) -> Instant {
        self.next
    }

    /// At `now`, with the poll counts of the live workers (`(id, count)`):
    /// whether to ping. A ping or a withheld ping makes the next one due
    /// half an interval later.
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        pulses: impl Iterator<Item = (usize, u64)>,
    ) -> Tick {
        if now < self.next {
            return Tick::NotYet;
        }
        self.next = now + self.interval / 2;
        let mut verdict = Tick::Ping;
        for (worker, count) in pulses {
            if self.seen.len() <= worker {
                self.seen.resize(worker + 1, None);
            }
            let seen = &mut self.seen[worker];
            let in_poll = count % 2 == 1;
            match seen {
                Some((last, since)) if *last == count && !in_poll => {
                    let stuck_for = now.saturating_duration_since(*since);
                    if stuck_for >= self.interval && verdict == Tick::Ping {
                        verdict = Tick::Withhold { worker, stuck_for };
                    }
                }
                _ => *seen = Some((count, now)),
            }
        }
        verdict
    }
}

/// The watchdog interval that `WATCHDOG_USEC` and `WATCHDOG_PID` ask of
/// process `pid`: `Ok(None)` without a watchdog (unset, or meant for
/// another process), `Err` with what is wrong for a value that does not
/// parse.
pub(crate) fn interval_from(
    usec: Option<&str>,
    watchdog_pid: Option<&str>,
    pid: u32,
) -> Result<Option<Duration>, String> {
    let Some(usec) = usec else {
        return Ok(None);
    };
    if let Some(value) = watchdog_pid {
        match value.parse::<u32>() {
            Ok(owner) if owner == pid => {}
            Ok(_) => return Ok(None),
            Err(err) => return Err(format!("WATCHDOG_PID={value:?} is not a process id: {err}")),
        }
    }
    match usec.parse::<u64>() {
        Ok(0) => Err("WATCHDOG_USEC=0: no interval".to_owned()),
        Ok(usec) => Ok(Some(Duration::from_micros(usec))),
        Err(err) => Err(format!(
            "WATCHDOG_USEC={usec:?} is not a number of microseconds: {err}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: Duration = Duration::from_secs(1);

    #[test]
    fn pings_at_half_the_interval() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(I, start);
        assert_eq!(watchdog.tick(start, [(1, 0)].into_iter()), Tick::Ping);
        assert_eq!(watchdog.deadline(), start + I / 2);
        let early = start + I / 4;
        assert_eq!(watchdog.tick(early, [(1, 0)].into_iter()), Tick::NotYet);
        let due = start + I / 2;
        assert_eq!(watchdog.tick(due, [(1, 2)].into_iter()), Tick::Ping);
    }

    #[test]
    fn a_worker_in_its_poll_is_never_stuck() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(I, start);
        for step in 0..10 {
            let now = start + I / 2 * step;
            // Odd: asleep in its poll the whole time.
            assert_eq!(watchdog.tick(now, [(1, 7), (2, 3)].into_iter()), Tick::Ping);
        }
    }

    #[test]
    fn a_worker_away_from_its_poll_for_the_interval_withholds_the_ping() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(I, start);
        let at = |halves: u32| start + I / 2 * halves;
        assert_eq!(
            watchdog.tick(at(0), [(1, 4), (2, 9)].into_iter()),
            Tick::Ping
        );
        // Worker 1 ran a turn, then stopped coming back (count stays 6).
        assert_eq!(
            watchdog.tick(at(1), [(1, 6), (2, 9)].into_iter()),
            Tick::Ping
        );
        assert_eq!(
            watchdog.tick(at(2), [(1, 6), (2, 9)].into_iter()),
            Tick::Ping
        );
        assert_eq!(
            watchdog.tick(at(3), [(1, 6), (2, 11)].into_iter()),
            Tick::Withhold {
                worker: 1,
                stuck_for: I
            }
        );
        assert!(matches!(
            watchdog.tick(at(4), [(1, 6), (2, 11)].into_iter()),
            Tick::Withhold { worker: 1, .. }
        ));
        // Back in its poll: pings resume.
        assert_eq!(
            watchdog.tick(at(5), [(1, 7), (2, 11)].into_iter()),
            Tick::Ping
        );
    }

    #[test]
    fn reads_the_environment_values() {
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(interval_from(None, None, 10), Ok(None));
        assert_eq!(interval_from(Some("30000000"), None, 10), Ok(ms(30_000)));
        assert_eq!(interval_from(Some("500000"), Some("10"), 10), Ok(ms(500)));
        // Meant for another process (a parent that ran us).
        assert_eq!(interval_from(Some("500000"), Some("11"), 10), Ok(None));
        assert!(interval_from(Some("soon"), None, 10).is_err());
        assert!(interval_from(Some("0"), None, 10).is_err());
        assert!(interval_from(Some("500000"), Some("me"), 10).is_err());
    }
}
