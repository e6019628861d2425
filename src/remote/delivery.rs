//! What a run hands its caller, and when: the jobs' output and reports
//! ([`Event`]s) in the run's [`Order`].
//!
//! - [`Order::Submission`]: job after job in input order. With
//!   `hold_head` false (the run's [`Order::SubmissionLive`] when the pool
//!   runs no failed job again), the first job not reported, the *head*,
//!   streams: its output goes out as it comes; otherwise it is held until
//!   it ends, as the others, so that only its last run's output goes out.
//!   The later jobs' output and reports wait until they are the head.
//! - [`Order::Completion`]: job after job as they end: a job's output is
//!   held until it ends, then handed on whole, with its report.
//! - [`Order::Arrival`]: the output of every job as it comes, each report
//!   as its job ends.
//!
//! [`Delivery`] keeps what waits: reports, counted against the run's bound
//! (`max_held_bytes`; past it the pool runs the head alone, see
//! `Engine::hold_for`), and output, in memory within the same bound and
//! in temporary files past it (`held.rs`). The number of jobs taken ahead
//! of the reports is bounded elsewhere (the run's `max_ahead`).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::remote::held::{Budget, Held};
use crate::remote::{FailedSlot, JobFailure, JobReport, Order, SlotInfo, Stream};

/// What a run hands its caller ([`Pool::run_raw`](crate::remote::Pool::run_raw)).
///
/// Which events come when depends on the run's [`Order`]: in
/// [`Order::Submission`] and [`Order::Completion`] a job's events come
/// together (its output, then its report); in [`Order::Arrival`] the
/// output of jobs running at the same time comes mixed, chunk by chunk.
/// A job's output comes in the order it was produced, and its
/// [`Event::Done`] after all of it. Every job's [`Event::Ended`] comes at
/// once when it ends, whatever the order: before its `Done`, and before
/// the `Done`s of earlier jobs it waits for.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Job `index` ended, at once, whatever the run's order: its report,
    /// which [`Event::Done`] hands on again in the run's order. For what
    /// should not wait for the jobs before it, such as stopping a run at
    /// its first failure ([`JobReport::peek`] reads the output).
    Ended {
        /// The job's index among the run's inputs, from 0.
        index: usize,
        /// How it ended.
        report: &'a JobReport,
    },
    /// A chunk of what job `index` streamed
    /// ([`JobContext::write`](crate::remote::JobContext::write)).
    Output {
        /// The job's index among the run's inputs, from 0.
        index: usize,
        /// The stream the bytes are of.
        stream: Stream,
        /// The bytes.
        bytes: &'a [u8],
        /// The slot the job ran on.
        slot: &'a SlotInfo,
    },
    /// Job `index` ended: its report. No output of it follows.
    Done {
        /// The job's index among the run's inputs, from 0.
        index: usize,
        /// How it ended, with its output value.
        report: JobReport,
    },
}

/// Tells the engine that a job's output goes out as it comes, from its run
/// `run` on (see `Engine::mark_live`); false if that run is void.
pub(crate) type MarkLive<'a> = dyn FnMut(usize, u32) -> bool + 'a;

/// The caller's callback.
pub(crate) type OnEvent<'a> = dyn FnMut(Event<'_>) -> ControlFlow<()> + 'a;

/// A job taken and not handed on yet.
#[derive(Default)]
struct Entry {
    /// Its id in the engine.
    id: usize,
    /// Its output held back.
    output: Held,
    /// The run the held output is of, and the slot that sent it.
    run: u32,
    slot: Option<Arc<SlotInfo>>,
    report: Option<JobReport>,
    /// Its output goes out as it comes (the engine was told).
    live: bool,
    /// Handed on, out of input order ([`Order::Completion`]).
    gone: bool,
}

/// The events of a run waiting for their turn; see the module docs.
pub(crate) struct Delivery {
    order: Order,
    /// The head's output waits for its report too (a failed run may run
    /// again, and only the last one's output is to go out).
    hold_head: bool,
    /// The jobs taken from the oldest not handed on ([`Order::Arrival`]
    /// keeps none).
    waiting: VecDeque<Entry>,
    /// The run's index of the first entry of `waiting`.
    first: usize,
    /// Reports in `waiting`.
    held: usize,
    /// Their bytes, as [`report_bytes`] counts them.
    held_bytes: usize,
    /// The memory held output may take.
    budget: Budget,
}

impl Delivery {
    /// Events in `order`; the head's output held too if `hold_head`; held
    /// output in memory up to `max_held_bytes`.
    pub(crate) fn new(order: Order, hold_head: bool, max_held_bytes: usize) -> Delivery {
        let order = match order {
            Order::SubmissionLive => Order::Submission,
            order => order,
        };
        Delivery {
            order,
            hold_head,
            waiting: VecDeque::new(),
            first: 0,
            held: 0,
            held_bytes: 0,
            budget: Budget::new(max_held_bytes),
        }
    }

    /// Records the next job taken (index `first + len`), by engine id.
    pub(crate) fn taken(&mut self, id: usize) {
        if self.order != Order::Arrival {
            self.waiting.push_back(Entry {
                id,
                ..Entry::default()
            });
        }
    }

    /// A chunk of job `index`'s output, of its run `run`: handed on now,
    /// or held.
    ///
    /// # Errors
    ///
    /// Holding it failed (its temporary file).
    pub(crate) fn output(
        &mut self,
        index: usize,
        (run, stream, data, slot): (u32, Stream, Vec<u8>, Arc<SlotInfo>),
        mark_live: &mut MarkLive<'_>,
        on_event: &mut OnEvent<'_>,
    ) -> io::Result<ControlFlow<()>> {
        let event = Event::Output {
            index,
            stream,
            bytes: &data,
            slot: &slot,
        };
        if self.order == Order::Arrival {
            return Ok(on_event(event));
        }
        let Some(entry) = index
            .checked_sub(self.first)
            .and_then(|offset| self.waiting.get_mut(offset))
        else {
            return Ok(ControlFlow::Continue(()));
        };
        let head = index == self.first;
        if head && self.order == Order::Submission && !self.hold_head {
            if !entry.live {
                if !mark_live(entry.id, run) {
                    // Of a run that failed since: not to go out.
                    return Ok(ControlFlow::Continue(()));
                }
                entry.live = true;
            }
            return Ok(on_event(event));
        }
        if entry.run != run {
            entry.output.clear(&mut self.budget);
            entry.run = run;
        }
        entry.slot = Some(slot);
        entry.output.push(stream, data, &mut self.budget)?;
        Ok(ControlFlow::Continue(()))
    }

    /// Job `index` runs again: what it held is void.
    pub(crate) fn restarted(&mut self, index: usize) {
        if let Some(entry) = index
            .checked_sub(self.first)
            .and_then(|offset| self.waiting.get_mut(offset))
        {
            entry.output.clear(&mut self.budget);
        }
    }

    /// The report of job `index`: handed on now with what it held, or held
    /// until the jobs before it are. A report of a job not waiting (already
    /// reported, or never taken) is dropped.
    ///
    /// # Errors
    ///
    /// Reading a held output back failed.
    pub(crate) fn done(
        &mut self,
        index: usize,
        report: JobReport,
        mark_live: &mut MarkLive<'_>,
        on_event: &mut OnEvent<'_>,
    ) -> io::Result<ControlFlow<()>> {
        if self.order == Order::Arrival {
            let ended = on_event(Event::Ended {
                index,
                report: &report,
            });
            return Ok(merge(ended, on_event(Event::Done { index, report })));
        }
        let Some(offset) = index.checked_sub(self.first) else {
            return Ok(ControlFlow::Continue(()));
        };
        let Some(entry) = self.waiting.get_mut(offset) else {
            return Ok(ControlFlow::Continue(()));
        };
        if entry.report.is_some() || entry.gone {
            return Ok(ControlFlow::Continue(()));
        }
        let ended = on_event(Event::Ended {
            index,
            report: &report,
        });
        if self.order == Order::Completion {
            let mut flow = merge(ended, hand_on(entry, index, &mut self.budget, on_event)?);
            entry.gone = true;
            flow = merge(flow, on_event(Event::Done { index, report }));
            while self.waiting.front().is_some_and(|e| e.gone) {
                let _ = self.waiting.pop_front();
                self.first += 1;
            }
            return Ok(flow);
        }
        self.held += 1;
        self.held_bytes += report_bytes(&report);
        entry.report = Some(report);
        Ok(merge(ended, self.advance(mark_live, on_event)?))
    }

    /// Hands on the head's events while it has its report, then lets the
    /// new head stream.
    fn advance(
        &mut self,
        mark_live: &mut MarkLive<'_>,
        on_event: &mut OnEvent<'_>,
    ) -> io::Result<ControlFlow<()>> {
        let mut flow = ControlFlow::Continue(());
        while let Some(head) = self.waiting.front_mut() {
            let index = self.first;
            let Some(report) = head.report.take() else {
                // It runs: it streams from now on, what it held first.
                if !self.hold_head && !head.output.is_empty() {
                    if mark_live(head.id, head.run) {
                        head.live = true;
                        flow = merge(flow, hand_on(head, index, &mut self.budget, on_event)?);
                    } else {
                        head.output.clear(&mut self.budget);
                    }
                }
                break;
            };
            flow = merge(flow, hand_on(head, index, &mut self.budget, on_event)?);
            self.held -= 1;
            self.held_bytes -= report_bytes(&report);
            let _ = self.waiting.pop_front();
            self.first += 1;
            flow = merge(flow, on_event(Event::Done { index, report }));
        }
        Ok(flow)
    }

    /// Reports waiting for an earlier job.
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Their bytes.
    pub(crate) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Bytes of held output, in memory and in temporary files.
    pub(crate) fn held_output(&self) -> (usize, u64) {
        (self.budget.in_memory(), self.budget.in_files())
    }

    /// The engine id of the job every held report waits for: the first
    /// one not reported, in input order (`None` if every job taken was
    /// reported, or the run is not in input order).
    pub(crate) fn head(&self) -> Option<usize> {
        match self.order {
            Order::Submission | Order::SubmissionLive => self.waiting.front().map(|entry| entry.id),
            Order::Completion | Order::Arrival => None,
        }
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("order", &self.order)
            .field("first", &self.first)
            .field("waiting", &self.waiting.len())
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

/// Hands on what `entry`, job `index`, held.
fn hand_on(
    entry: &mut Entry,
    index: usize,
    budget: &mut Budget,
    on_event: &mut OnEvent<'_>,
) -> io::Result<ControlFlow<()>> {
    let mut flow = ControlFlow::Continue(());
    let Some(slot) = entry.slot.clone() else {
        return Ok(flow);
    };
    entry.output.hand_on(budget, |stream, bytes| {
        let event = Event::Output {
            index,
            stream,
            bytes,
            slot: &slot,
        };
        flow = merge(flow, on_event(event));
    })?;
    Ok(flow)
}

/// Breaks if either breaks: a caller that asked to stop once is heard,
/// and still gets every event.
fn merge(a: ControlFlow<()>, b: ControlFlow<()>) -> ControlFlow<()> {
    if a.is_break() || b.is_break() {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
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
        Err(JobFailure::OutputCut { slot }) => slot.to_string().len(),
        Err(JobFailure::BadOutput(why) | JobFailure::Cancelled(why)) => why.len(),
        Err(
            JobFailure::TimedOut { .. }
            | JobFailure::LowMemory { .. }
            | JobFailure::OutputTooLarge { .. },
        ) => 0,
    };
    size_of::<JobReport>() + content + report.stdout.capacity() + report.stderr.capacity()
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
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    fn slot() -> Arc<SlotInfo> {
        Arc::new(SlotInfo {
            label: "local:1".to_owned(),
            host: "local".to_owned(),
            number: 1,
            node: "here".to_owned(),
            pid: 1,
            slurm_job: None,
        })
    }

    /// A delivery under test: what it handed on, and which jobs it told
    /// the engine were live.
    struct Run {
        delivery: Delivery,
        /// `out 0 "bytes"` and `done 0` lines.
        events: Vec<String>,
        marked: Vec<(usize, u32)>,
        /// What the engine says of a run marked live.
        current: bool,
    }

    impl Run {
        /// A run in `order` that took the jobs of these engine ids.
        fn new(order: Order, hold_head: bool, budget: usize, ids: &[usize]) -> Run {
            let mut delivery = Delivery::new(order, hold_head, budget);
            for &id in ids {
                delivery.taken(id);
            }
            Run {
                delivery,
                events: Vec::new(),
                marked: Vec::new(),
                current: true,
            }
        }

        fn out(&mut self, index: usize, run: u32, bytes: &str) {
            let (events, marked, current) = (&mut self.events, &mut self.marked, self.current);
            let mut mark = |id, run| {
                marked.push((id, run));
                current
            };
            let chunk = (run, Stream::Stdout, bytes.as_bytes().to_vec(), slot());
            let flow = self
                .delivery
                .output(index, chunk, &mut mark, &mut |event| log(events, event))
                .unwrap();
            assert!(flow.is_continue());
        }

        fn done(&mut self, index: usize, report: JobReport) {
            let (events, marked, current) = (&mut self.events, &mut self.marked, self.current);
            let mut mark = |id, run| {
                marked.push((id, run));
                current
            };
            let _ = self
                .delivery
                .done(index, report, &mut mark, &mut |event| log(events, event))
                .unwrap();
        }

        /// The events since the last call, without the `Ended`s.
        fn taken_events(&mut self) -> Vec<String> {
            let mut events = std::mem::take(&mut self.events);
            events.retain(|event| !event.starts_with("ended"));
            events
        }

        /// The events since the last call, the `Ended`s too.
        fn taken_ends(&mut self) -> Vec<String> {
            std::mem::take(&mut self.events)
        }
    }

    /// Logs an event; an `Ended` (which comes before its `Done`, at once)
    /// as `ended N`, left out of the logs of the tests that follow the
    /// order of the others (see [`Run::taken_ends`]).
    fn log(events: &mut Vec<String>, event: Event<'_>) -> ControlFlow<()> {
        events.push(match event {
            Event::Output { index, bytes, .. } => {
                format!("out {index} {}", String::from_utf8_lossy(bytes))
            }
            Event::Done { index, .. } => format!("done {index}"),
            Event::Ended { index, .. } => format!("ended {index}"),
        });
        ControlFlow::Continue(())
    }

    /// A job's `Ended` comes as it ends, before the jobs before it are
    /// done; its `Done` in the run's order. In completion and arrival
    /// order, right before its `Done`. A report twice has no second.
    #[test]
    fn ends_come_at_once_whatever_the_order() {
        let mut run = Run::new(Order::Submission, false, 1 << 20, &[10, 11]);
        run.done(1, report(0));
        assert_eq!(run.taken_ends(), ["ended 1"]);
        run.done(1, report(0));
        run.done(0, report(0));
        assert_eq!(run.taken_ends(), ["ended 0", "done 0", "done 1"]);
        for order in [Order::Completion, Order::Arrival] {
            let mut run = Run::new(order, false, 1 << 20, &[10, 11]);
            run.done(1, report(0));
            run.done(0, report(0));
            assert_eq!(
                run.taken_ends(),
                ["ended 1", "done 1", "ended 0", "done 0"],
                "{order:?}"
            );
        }
    }

    #[test]
    fn reports_leave_in_input_order_and_their_bytes_with_them() {
        let mut run = Run::new(Order::Submission, false, 1 << 20, &[10, 11, 12]);
        assert_eq!(run.delivery.head(), Some(10));
        run.done(2, report(1000));
        run.done(1, report(500));
        assert_eq!(run.taken_events(), Vec::<String>::new(), "job 0 is not in");
        assert_eq!(run.delivery.held(), 2);
        let base = size_of::<JobReport>();
        assert_eq!(run.delivery.held_bytes(), 2 * base + 1500);
        run.done(
            0,
            JobReport {
                result: Err(JobFailure::Cancelled("stop".to_owned())),
                ..report(0)
            },
        );
        assert_eq!(run.taken_events(), ["done 0", "done 1", "done 2"]);
        assert_eq!((run.delivery.held(), run.delivery.held_bytes()), (0, 0));
        assert_eq!(run.delivery.head(), None);
    }

    #[test]
    fn a_report_twice_or_of_no_job_taken_is_dropped() {
        let mut run = Run::new(Order::Submission, false, 1 << 20, &[0, 1]);
        run.done(1, report(10));
        run.done(1, report(99));
        run.done(7, report(99));
        assert_eq!(run.delivery.held(), 1);
        run.done(0, report(0));
        assert_eq!(run.taken_events(), ["done 0", "done 1"]);
        // Index 0 again, after it was reported.
        run.done(0, report(5));
        assert_eq!(run.delivery.held(), 0);
        assert_eq!(run.taken_events(), Vec::<String>::new());
    }

    /// An error of a job's own code counts as much as an output (it used
    /// to count as nothing, so large errors were held without bound).
    #[test]
    fn failures_count_their_text() {
        let mut run = Run::new(Order::Submission, false, 1 << 20, &[0, 1, 2]);
        let failed = |failure| JobReport {
            result: Err(failure),
            ..report(0)
        };
        let error = JobError::new(JobErrorKind::Failed, "e".repeat(1000));
        run.done(1, failed(JobFailure::Job(error)));
        // Shown as `a: xxx...` (300 bytes) and `b: yyy...` (200 bytes).
        let history = vec![
            FailedSlot::new("a", SlotFailure::BadStream("x".repeat(297))),
            FailedSlot::new("b", SlotFailure::BadStream("y".repeat(197))),
        ];
        run.done(2, failed(JobFailure::Exhausted { history }));
        let base = size_of::<JobReport>();
        assert_eq!(run.delivery.held_bytes(), 2 * base + 1500);
    }

    /// The head's output goes out as it comes (the engine told it is
    /// live); a later job's waits, then goes out whole when that job is
    /// the head, before what it streams from then on.
    #[test]
    fn the_head_streams_and_the_others_wait_their_turn() {
        let mut run = Run::new(Order::Submission, false, 1 << 20, &[10, 11, 12]);
        run.out(0, 0, "a1");
        run.out(1, 0, "b1");
        run.out(0, 0, "a2");
        run.out(2, 0, "c1");
        assert_eq!(run.taken_events(), ["out 0 a1", "out 0 a2"]);
        assert_eq!(run.marked, [(10, 0)]);
        run.out(1, 0, "b2");
        run.done(0, report(0));
        assert_eq!(run.taken_events(), ["done 0", "out 1 b1", "out 1 b2"]);
        assert_eq!(run.marked, [(10, 0), (11, 0)]);
        run.out(1, 0, "b3");
        run.done(2, report(0));
        run.done(1, report(0));
        assert_eq!(
            run.taken_events(),
            ["out 1 b3", "done 1", "out 2 c1", "done 2"]
        );
        assert_eq!(run.delivery.held_output(), (0, 0));
    }

    /// With retries, the head's output waits for its report too: a failed
    /// run's output is dropped when the job runs again.
    #[test]
    fn held_head_output_of_a_run_that_failed_is_dropped() {
        let mut run = Run::new(Order::Submission, true, 1 << 20, &[10]);
        run.out(0, 0, "first run");
        run.delivery.restarted(0);
        run.out(0, 1, "second run");
        assert_eq!(run.taken_events(), Vec::<String>::new());
        run.done(0, report(0));
        assert_eq!(run.taken_events(), ["out 0 second run", "done 0"]);
        assert!(run.marked.is_empty(), "never live: {:?}", run.marked);
    }

    /// A chunk of a run the engine already made void does not go out.
    #[test]
    fn stale_chunks_of_the_head_are_dropped() {
        let mut run = Run::new(Order::Submission, false, 1 << 20, &[10]);
        run.current = false;
        run.out(0, 0, "void");
        assert_eq!(run.taken_events(), Vec::<String>::new());
        run.current = true;
        run.out(0, 1, "kept");
        assert_eq!(run.taken_events(), ["out 0 kept"]);
    }

    /// As jobs end, each whole: output held until its report.
    #[test]
    fn completion_order_hands_each_job_on_whole() {
        let mut run = Run::new(Order::Completion, false, 4, &[10, 11]);
        run.out(0, 0, "a1");
        run.out(1, 0, "b1");
        run.out(0, 0, "a2 past the budget");
        assert_eq!(run.taken_events(), Vec::<String>::new());
        assert_eq!(run.delivery.held_output(), (2, 20));
        run.done(1, report(0));
        assert_eq!(run.taken_events(), ["out 1 b1", "done 1"]);
        run.done(0, report(0));
        assert_eq!(
            run.taken_events(),
            ["out 0 a1", "out 0 a2 past the budget", "done 0"]
        );
        assert_eq!(run.delivery.held_output(), (0, 0));
        assert!(run.marked.is_empty());
    }

    #[test]
    fn arrival_order_hands_everything_on_at_once() {
        let mut run = Run::new(Order::Arrival, false, 0, &[10, 11]);
        run.out(1, 0, "b");
        run.out(0, 0, "a");
        run.done(1, report(0));
        assert_eq!(run.taken_events(), ["out 1 b", "out 0 a", "done 1"]);
    }
}
