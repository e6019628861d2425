//! Reports held back for input order.
//!
//! A run in input order ([`Order::Submission`](crate::remote::Order)) can
//! report a job only once every job before it was reported: the reports
//! that finish behind a slow job wait in memory. [`InOrder`] keeps them,
//! counts their bytes, and names the job they all wait for, so that the
//! pool can stop starting other jobs while too many bytes wait (see
//! `Engine::hold_for`). The number of jobs taken ahead of the reports is
//! bounded elsewhere (the run's `max_ahead`); this bounds the bytes.

use std::collections::VecDeque;

use crate::remote::{FailedSlot, JobFailure, JobReport};

/// The jobs of a run from the first one not reported on, each with its
/// engine id and, once it finished, its report.
#[derive(Debug, Default)]
pub(crate) struct InOrder {
    waiting: VecDeque<(usize, Option<JobReport>)>,
    /// The run's index of the first entry of `waiting`.
    first: usize,
    /// Reports in `waiting`.
    held: usize,
    /// Their bytes, as [`report_bytes`] counts them.
    held_bytes: usize,
}

impl InOrder {
    /// Records the next job taken (index `first + len`), by engine id.
    pub(crate) fn taken(&mut self, id: usize) {
        self.waiting.push_back((id, None));
    }

    /// Records the report of the job at `index`; a report of a job not
    /// waiting (already reported, or never taken) is dropped.
    pub(crate) fn arrived(&mut self, index: usize, report: JobReport) {
        let Some(offset) = index.checked_sub(self.first) else {
            return;
        };
        if let Some((_, place @ None)) = self.waiting.get_mut(offset) {
            self.held += 1;
            self.held_bytes += report_bytes(&report);
            *place = Some(report);
        }
    }

    /// The next report in input order with its index, if it is in.
    pub(crate) fn next_ready(&mut self) -> Option<(usize, JobReport)> {
        let report = self.waiting.front_mut()?.1.take()?;
        let _ = self.waiting.pop_front();
        let index = self.first;
        self.first += 1;
        self.held -= 1;
        self.held_bytes -= report_bytes(&report);
        Some((index, report))
    }

    /// Reports waiting for an earlier job.
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Their bytes.
    pub(crate) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// The engine id of the job every held report waits for: the first
    /// one not reported (`None` if every job taken was reported).
    pub(crate) fn head(&self) -> Option<usize> {
        self.waiting.front().map(|(id, _)| *id)
    }
}

/// What a held report takes in memory, near enough: the report and its
/// output or the text of its failure (a handler's error may be as large
/// as an output).
fn report_bytes(report: &JobReport) -> usize {
    // Failures are rare: their text is counted as shown.
    let text = |slots: &[FailedSlot]| slots.iter().map(|s| s.to_string().len()).sum::<usize>();
    let content = match &report.result {
        Ok(bytes) => bytes.capacity(),
        Err(JobFailure::Job(err)) => err.message.len(),
        Err(JobFailure::Exhausted { history: lines } | JobFailure::NotRun { reasons: lines }) => {
            text(lines)
        }
        Err(JobFailure::BadOutput(why) | JobFailure::Cancelled(why)) => why.len(),
        Err(JobFailure::TimedOut { .. }) => 0,
    };
    size_of::<JobReport>() + content
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::remote::SlotFailure;
    use crate::remote::wire::{JobError, JobErrorKind};

    fn report(len: usize) -> JobReport {
        JobReport {
            result: Ok(vec![1; len]),
            host: None,
            attempts: 1,
            retries: 0,
            elapsed: Duration::ZERO,
            run_time: Duration::ZERO,
            slot: None,
        }
    }

    /// A run that took the jobs of these engine ids, in this order.
    fn taken(ids: &[usize]) -> InOrder {
        let mut in_order = InOrder::default();
        for &id in ids {
            in_order.taken(id);
        }
        in_order
    }

    #[test]
    fn reports_leave_in_input_order_and_their_bytes_with_them() {
        let mut in_order = taken(&[10, 11, 12]);
        assert_eq!(in_order.head(), Some(10));
        in_order.arrived(2, report(1000));
        in_order.arrived(1, report(500));
        assert!(in_order.next_ready().is_none(), "job 0 is not in");
        assert_eq!(in_order.held(), 2);
        let base = size_of::<JobReport>();
        assert_eq!(in_order.held_bytes(), 2 * base + 1500);
        in_order.arrived(
            0,
            JobReport {
                result: Err(JobFailure::Cancelled("stop".to_owned())),
                ..report(0)
            },
        );
        assert_eq!(in_order.held_bytes(), 3 * base + 1504);
        let indexes: Vec<usize> = std::iter::from_fn(|| in_order.next_ready())
            .map(|(index, _)| index)
            .collect();
        assert_eq!(indexes, [0, 1, 2]);
        assert_eq!((in_order.held(), in_order.held_bytes()), (0, 0));
        assert_eq!(in_order.head(), None);
    }

    #[test]
    fn a_report_twice_or_of_no_job_taken_is_dropped() {
        let mut in_order = taken(&[0, 1]);
        in_order.arrived(1, report(10));
        in_order.arrived(1, report(99));
        in_order.arrived(7, report(99));
        assert_eq!(in_order.held(), 1);
        in_order.arrived(0, report(0));
        assert_eq!(in_order.next_ready().map(|(i, _)| i), Some(0));
        let (index, second) = in_order.next_ready().unwrap();
        assert_eq!((index, second.result.unwrap().len()), (1, 10));
        // Index 0 again, after it was reported.
        in_order.arrived(0, report(5));
        assert_eq!(in_order.held(), 0);
    }

    /// An error of a job's own code counts as much as an output (it used
    /// to count as nothing, so large errors were held without bound).
    #[test]
    fn failures_count_their_text() {
        let mut in_order = taken(&[0, 1, 2]);
        let failed = |failure| JobReport {
            result: Err(failure),
            ..report(0)
        };
        let error = JobError::new(JobErrorKind::Failed, "e".repeat(1000));
        in_order.arrived(1, failed(JobFailure::Job(error)));
        // Shown as `a: xxx...` (300 bytes) and `b: yyy...` (200 bytes).
        let history = vec![
            FailedSlot::new("a", SlotFailure::BadStream("x".repeat(297))),
            FailedSlot::new("b", SlotFailure::BadStream("y".repeat(197))),
        ];
        in_order.arrived(2, failed(JobFailure::Exhausted { history }));
        let base = size_of::<JobReport>();
        assert_eq!(in_order.held_bytes(), 2 * base + 1500);
    }

    #[test]
    fn head_is_the_first_job_not_reported() {
        let mut in_order = taken(&[4, 5]);
        in_order.arrived(0, report(1));
        let _ = in_order.next_ready();
        assert_eq!(in_order.head(), Some(5));
    }
}
