//! The timer store of a worker (and the shared one of thread-safe actors):
//! deadlines ordered in a B-tree, so the next deadline is the first key,
//! and a cancelled timer is removed at once (it costs nothing later).

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::{Duration, Instant};

/// Identifies a timer in its store.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Ord, PartialOrd)]
pub struct TimerKey(Instant, u64);

#[derive(Default)]
pub(crate) struct Timers {
    entries: BTreeMap<TimerKey, Waker>,
    next_id: u64,
}

impl Timers {
    /// Adds a timer that wakes `waker` at `deadline`.
    pub(crate) fn add(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let key = TimerKey(deadline, self.next_id);
        self.next_id += 1;
        let _ = self.entries.insert(key, waker);
        key
    }

    /// Replaces the waker of a timer; false if it already fired.
    pub(crate) fn update(&mut self, key: TimerKey, waker: &Waker) -> bool {
        match self.entries.get_mut(&key) {
            Some(current) => {
                if !current.will_wake(waker) {
                    current.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    /// Removes a timer (fired or not).
    pub(crate) fn remove(&mut self, key: TimerKey) {
        let _ = self.entries.remove(&key);
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.entries
            .first_key_value()
            .map(|(TimerKey(deadline, _), _)| *deadline)
    }

    /// Time until the earliest deadline (zero if it passed).
    pub(crate) fn next_in(&self, now: Instant) -> Option<Duration> {
        self.next()
            .map(|deadline| deadline.saturating_duration_since(now))
    }

    /// Removes every timer due at `now`, returning their wakers.
    pub(crate) fn expire(&mut self, now: Instant, due: &mut Vec<Waker>) {
        while let Some(entry) = self.entries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;
    use std::time::{Duration, Instant};

    use super::Timers;

    #[test]
    fn expire_in_deadline_order_and_removal() {
        let mut timers = Timers::default();
        let now = Instant::now();
        let late = timers.add(now + Duration::from_secs(3), Waker::noop().clone());
        let _early = timers.add(now + Duration::from_secs(1), Waker::noop().clone());
        let cancelled = timers.add(now + Duration::from_secs(2), Waker::noop().clone());
        assert_eq!(timers.next(), Some(now + Duration::from_secs(1)));
        timers.remove(cancelled);
        assert_eq!(timers.len(), 2);
        let mut due = Vec::new();
        timers.expire(now + Duration::from_secs(2), &mut due);
        assert_eq!(due.len(), 1);
        assert_eq!(timers.next(), Some(now + Duration::from_secs(3)));
        assert!(timers.update(late, Waker::noop()));
        timers.expire(now + Duration::from_secs(3), &mut due);
        assert_eq!(due.len(), 2);
        assert!(!timers.update(late, Waker::noop()));
        assert_eq!(timers.next(), None);
    }
}
