//! The order in which a worker takes the processes spawned on its thread:
//! newest first, so a tree of actors is walked depth first and only a path
//! of it waits at a time, with two rules that keep it fair. One policy for
//! both schedulers: the local one (`worker::wake::OwnReady`) and the shared
//! one (`scheduler::shared`).

/// New processes a worker takes in a row while processes woken earlier
/// wait. As many as one run of a spawning actor can make (its budget,
/// `budget::PER_RUN`): with fewer, an actor spawning in a loop (and so
/// woken again after each run) makes more per turn than the worker runs,
/// and every one of them waits at once (100,000 actors spawned in a loop
/// took five times as long with 4).
pub(crate) const SPAWNED_LIMIT: u32 = crate::scheduler::budget::PER_RUN;

/// Of this many new processes a worker takes, one is the oldest waiting,
/// not the newest: a stream of new processes (an actor that spawns its
/// successor) cannot keep one spawned earlier from ever starting.
pub(crate) const OLDEST_EVERY: u32 = 64;

/// What a worker with new processes waiting takes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The newest new process.
    Newest,
    /// The oldest new process.
    Oldest,
    /// The oldest of the processes woken earlier.
    Woken,
}

/// A worker's count of the new processes it took.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NewFirst {
    /// Taken in a row while woken processes waited.
    streak: u32,
    /// Taken in all, to take the oldest once in every [`OLDEST_EVERY`].
    taken: u32,
}

impl NewFirst {
    /// What to take, new processes waiting; `woken_wait`: processes woken
    /// earlier wait too.
    pub(crate) fn pick(&mut self, woken_wait: bool) -> Pick {
        if woken_wait && self.streak >= SPAWNED_LIMIT {
            self.streak = 0;
            return Pick::Woken;
        }
        self.streak += 1;
        self.taken = self.taken.wrapping_add(1);
        if self.taken.is_multiple_of(OLDEST_EVERY) {
            Pick::Oldest
        } else {
            Pick::Newest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{NewFirst, OLDEST_EVERY, Pick, SPAWNED_LIMIT};

    #[test]
    fn newest_first_with_a_turn_for_the_woken_and_the_oldest() {
        let mut order = NewFirst::default();
        let picks: Vec<Pick> = (0..=SPAWNED_LIMIT).map(|_| order.pick(true)).collect();
        let oldest = usize::try_from(OLDEST_EVERY).unwrap() - 1;
        for (i, pick) in picks.iter().enumerate() {
            let expected = if i == picks.len() - 1 {
                Pick::Woken
            } else if (i + 1) % (oldest + 1) == 0 {
                Pick::Oldest
            } else {
                Pick::Newest
            };
            assert_eq!(*pick, expected, "pick {i}");
        }
        // Nothing woken waits: new processes only, whatever the streak.
        let mut order = NewFirst::default();
        assert!((0..1_000).all(|_| order.pick(false) != Pick::Woken));
    }
}
