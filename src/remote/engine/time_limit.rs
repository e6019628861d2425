//! A job's time limit: fixed ([`PoolBuilder::timeout`]), or a share of
//! the median run time of the jobs that succeeded before
//! ([`PoolBuilder::timeout_of_median`], GNU parallel's `--timeout 200%`),
//! or the smaller of the two when both are given.
//!
//! The median is of the last [`KEPT`] successes (GNU parallel's first
//! level of its remedian; it counts jobs that exited 0, as the pool counts
//! outputs its `failed_output` does not call failed). Until a job
//! succeeded there is no median, and no limit of this kind. When the
//! median changes, the running jobs' deadlines follow it, as GNU
//! parallel measures each running job against the limit of the moment.
//!
//! [`PoolBuilder::timeout`]: crate::remote::PoolBuilder::timeout
//! [`PoolBuilder::timeout_of_median`]: crate::remote::PoolBuilder::timeout_of_median

use std::collections::VecDeque;
use std::time::Duration;

/// Successes whose run times make the median.
const KEPT: usize = 999;

/// The time limit of the jobs of a pool, as it stands.
#[derive(Debug)]
pub(crate) struct TimeLimit {
    fixed: Option<Duration>,
    /// `percent / 100`, when the limit follows the median.
    share: Option<f64>,
    recent: VecDeque<Duration>,
    median: Option<Duration>,
}

impl TimeLimit {
    /// A limit of `fixed`, and of `percent`% of the median if given.
    pub(crate) fn new(fixed: Option<Duration>, percent: Option<f64>) -> TimeLimit {
        TimeLimit {
            fixed,
            share: percent
                .filter(|p| p.is_finite() && *p > 0.0)
                .map(|p| p / 100.0),
            recent: VecDeque::new(),
            median: None,
        }
    }

    /// The limit now, if there is one.
    pub(crate) fn current(&self) -> Option<Duration> {
        let of_median = match (self.share, self.median) {
            // In whole milliseconds, up (a limit is said in messages).
            (Some(share), Some(median)) => {
                // A share too large for a duration is no limit at all.
                let limit = Duration::try_from_secs_f64(median.as_secs_f64() * share)
                    .unwrap_or(Duration::MAX);
                let ms = u64::try_from(limit.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
                Some(Duration::from_millis(ms))
            }
            _ => None,
        };
        match (self.fixed, of_median) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True if the limit follows the median of successes.
    pub(crate) fn follows_median(&self) -> bool {
        self.share.is_some()
    }

    /// A job succeeded after `run`; true if the limit changed.
    pub(crate) fn succeeded(&mut self, run: Duration) -> bool {
        if self.share.is_none() {
            return false;
        }
        if self.recent.len() == KEPT {
            let _ = self.recent.pop_front();
        }
        self.recent.push_back(run);
        let mut sorted: Vec<Duration> = self.recent.iter().copied().collect();
        let middle = (sorted.len() - 1) / 2;
        let (_, median, _) = sorted.select_nth_unstable(middle);
        let changed = self.median != Some(*median);
        self.median = Some(*median);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn no_limit_of_the_median_before_a_success() {
        let mut limit = TimeLimit::new(None, Some(200.0));
        assert_eq!(limit.current(), None);
        assert!(limit.succeeded(10 * MS));
        assert_eq!(limit.current(), Some(20 * MS));
    }

    #[test]
    fn the_median_of_the_successes_and_the_smaller_of_two_limits() {
        let mut limit = TimeLimit::new(Some(50 * MS), Some(300.0));
        assert_eq!(limit.current(), Some(50 * MS));
        for run in [10, 30, 20] {
            let _ = limit.succeeded(run * MS);
        }
        // The median is 20 ms: 60 ms, above the fixed 50 ms.
        assert_eq!(limit.current(), Some(50 * MS));
        for run in [5, 5, 5] {
            let _ = limit.succeeded(run * MS);
        }
        // 10 20 30 5 5 5: the lower middle, 5 ms: 15 ms.
        assert_eq!(limit.current(), Some(15 * MS));
        // The same median again: no change.
        assert!(!limit.succeeded(5 * MS));
    }

    #[test]
    fn only_the_last_successes_count() {
        let mut limit = TimeLimit::new(None, Some(100.0));
        for _ in 0..KEPT {
            let _ = limit.succeeded(1000 * MS);
        }
        for _ in 0..KEPT {
            let _ = limit.succeeded(MS);
        }
        assert_eq!(limit.current(), Some(MS));
    }

    #[test]
    fn limits_of_the_median_are_whole_milliseconds_up() {
        let mut limit = TimeLimit::new(None, Some(150.0));
        let _ = limit.succeeded(Duration::from_micros(1001));
        assert_eq!(limit.current(), Some(2 * MS));
    }

    #[test]
    fn a_share_too_large_for_a_duration_is_no_panic() {
        let mut limit = TimeLimit::new(None, Some(1e300));
        let _ = limit.succeeded(Duration::from_secs(1));
        assert!(
            limit
                .current()
                .is_some_and(|t| t > Duration::from_secs(1 << 40))
        );
    }

    #[test]
    fn a_fixed_limit_alone_stays() {
        let mut limit = TimeLimit::new(Some(MS), None);
        assert!(!limit.succeeded(10 * MS));
        assert_eq!(limit.current(), Some(MS));
        assert!(!limit.follows_median());
        assert_eq!(TimeLimit::new(None, Some(0.0)).current(), None);
    }
}
