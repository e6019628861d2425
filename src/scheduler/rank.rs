//! Priorities in the run queues: a thread-local process's priority travels
//! in its key (so a waker on any thread routes it without looking the
//! process up), and a worker takes its ready processes by rank, each rank
//! with its own share of a turn (the weights are documented on
//! [`Priority`]).

use crate::Priority;

/// Number of ranks, and so of ready queues per worker.
pub(crate) const RANKS: usize = 3;

/// The rank of [`Priority::Normal`].
pub(crate) const NORMAL_RANK: usize = rank(Priority::Normal);

/// Bits of a key below the rank: the slot index (32) and the generation.
const RANK_SHIFT: u32 = 62;

/// The rank of a priority: the order in which a worker takes its queues.
pub(crate) const fn rank(priority: Priority) -> usize {
    match priority {
        Priority::High => 0,
        Priority::Normal => 1,
        Priority::Low => 2,
    }
}

/// `key` with the rank of `priority` in its top bits.
pub(crate) const fn with_rank(key: u64, priority: Priority) -> u64 {
    key | (rank(priority) as u64) << RANK_SHIFT
}

/// The rank carried by `key`.
pub(crate) const fn rank_of(key: u64) -> usize {
    (key >> RANK_SHIFT) as usize
}

/// `key` without its rank.
pub(crate) const fn without_rank(key: u64) -> u64 {
    key & ((1 << RANK_SHIFT) - 1)
}

/// How many processes of each rank a worker runs per turn: the high rank
/// twice the normal one's share, the low rank a quarter of it while the
/// others had work, all of it when they had none.
pub(crate) const fn turn_share(rank: usize, batch: usize, others_ran: bool) -> usize {
    match rank {
        0 => batch * 2,
        1 => batch,
        _ if others_ran => batch / 4,
        _ => batch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_carries_its_rank() {
        let key = u64::from(u32::MAX >> 2) << 32 | 7;
        for priority in [Priority::High, Priority::Normal, Priority::Low] {
            let ranked = with_rank(key, priority);
            assert_eq!(rank_of(ranked), rank(priority));
            assert_eq!(without_rank(ranked), key);
        }
    }

    #[test]
    fn ranks_run_in_priority_order() {
        assert!(rank(Priority::High) < rank(Priority::Normal));
        assert!(rank(Priority::Normal) < rank(Priority::Low));
        assert_eq!(rank(Priority::Low), RANKS - 1);
    }
}
