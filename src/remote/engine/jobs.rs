//! The engine's job bookkeeping: every job not done, by id
//! ([`JobTable`]), the queues of jobs waiting for a slot (one per target),
//! which job a slot takes next, the output a job streams (collected into
//! its report, or handed on as it comes), and the outcomes waiting to be
//! collected.
//!
//! A job enters with [`Jobs::add`] and leaves with [`Jobs::remove`],
//! which only [`Engine::finish`](super::Engine::finish) calls: that single
//! exit is how "no result twice" holds.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crate::remote::{
    FailedSlot, Files, Host, JobFailure, JobReport, PoolError, SlotInfo, Stream, Target,
};

/// Where a job's outcome goes.
pub(crate) enum Reply {
    /// Into [`Engine::take_completed`](super::Engine::take_completed),
    /// with this tag; its streamed output is collected into the report.
    Collect(usize),
    /// Into [`Engine::take_completed`](super::Engine::take_completed),
    /// with this tag, and so is its streamed output, chunk by chunk, as it
    /// comes ([`Completed::Output`]); `live` if the taker hands every
    /// chunk on at once (see [`JobState::live`]).
    Stream { tag: usize, live: bool },
    /// To this function, called on the driving thread; its streamed output
    /// is collected into the report.
    Call(Box<dyn FnOnce(JobReport) + Send>),
}

/// What [`Engine::take_completed`](super::Engine::take_completed) hands
/// out for a job, by tag.
#[derive(Debug)]
pub(crate) enum Completed {
    /// A chunk of a [`Reply::Stream`] job's output, from its run `run`
    /// (see [`JobState::run`]) on slot `slot`.
    Output {
        run: u32,
        stream: Stream,
        data: Vec<u8>,
        slot: Arc<SlotInfo>,
    },
    /// The output a [`Reply::Stream`] job sent so far is void: its run
    /// failed (its slot, or on its own) and it runs again from the start.
    Restarted,
    /// The job's outcome: it left the engine.
    Done(JobReport),
}

/// The output a job that is not streamed sent, for its report.
#[derive(Default)]
pub(super) struct Collected {
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
    /// More came than the limit: the rest was dropped.
    pub(super) over: bool,
}

/// One job not done.
pub(super) struct JobState {
    pub(super) handler: Arc<str>,
    pub(super) payload: Vec<u8>,
    /// Its queue in [`Jobs::queues`].
    queue: usize,
    /// Attempts started.
    pub(super) attempts: u32,
    /// The slot failures its attempts met.
    pub(super) history: Vec<FailedSlot>,
    /// Runs again after a failure of its own.
    pub(super) retries: u32,
    /// The hosts where its own run failed: it runs again elsewhere while
    /// another host may run it (GNU parallel's `--retries`).
    pub(super) failed_hosts: Vec<usize>,
    pub(super) submitted: Instant,
    /// When its current attempt started running, as far as the pool can
    /// tell: when it was sent to an idle slot, or when the slot answered
    /// the job before it (a slot runs its jobs one at a time, in order).
    pub(super) started: Option<Instant>,
    pub(super) reply: Reply,
    /// Its run's number: one more each time the output it streamed so far
    /// becomes void (it runs again). Chunks carry it, so that a chunk of a
    /// run that failed is never taken for the next one's.
    pub(super) run: u32,
    /// Its current run sent output.
    pub(super) sent_output: bool,
    /// Its output is handed on as it comes, from the start or since
    /// [`Engine::mark_live`](super::Engine::mark_live): a run that sent
    /// output is not run again after its slot fails (the output would be
    /// handed on twice), and the output of a run that failed on its own
    /// stays handed on when it runs again.
    pub(super) live: bool,
    /// Its output, unless streamed.
    pub(super) collected: Collected,
    /// The files it needs on its slot's host and makes there.
    pub(super) files: Option<Arc<Files>>,
    /// Why a file it made did not come back whole, in its current run.
    pub(super) transfer_error: Option<String>,
}

impl JobState {
    /// True if output of its current run went out as it came.
    pub(super) fn output_went_out(&self) -> bool {
        self.live && self.sent_output
    }
}

/// The jobs not done, by id. Ids are handed out in order and jobs mostly
/// end in order, so a deque indexed from the oldest live id does without
/// hashing; ended jobs leave a `None` until every older one ended too.
#[derive(Default)]
struct JobTable {
    /// Id of `jobs[0]`.
    first: usize,
    jobs: VecDeque<Option<JobState>>,
}

impl JobTable {
    /// Adds job `id`, the next id after the last one pushed.
    fn push(&mut self, id: usize, job: JobState) {
        if self.jobs.is_empty() {
            self.first = id;
        }
        debug_assert_eq!(id, self.first + self.jobs.len());
        self.jobs.push_back(Some(job));
    }

    fn get_mut(&mut self, id: usize) -> Option<&mut JobState> {
        let index = id.checked_sub(self.first)?;
        self.jobs.get_mut(index)?.as_mut()
    }

    fn remove(&mut self, id: usize) -> Option<JobState> {
        let index = id.checked_sub(self.first)?;
        let job = self.jobs.get_mut(index)?.take();
        while matches!(self.jobs.front(), Some(None)) {
            let _ = self.jobs.pop_front();
            self.first += 1;
        }
        job
    }
}

/// Jobs waiting for the slots of one target.
struct Queue {
    eligible: Vec<bool>,
    jobs: VecDeque<usize>,
}

/// The jobs of an engine: the table, the queues, the outcomes collected.
#[derive(Default)]
pub(super) struct Jobs {
    table: JobTable,
    next_id: usize,
    queues: Vec<Queue>,
    completed: Vec<(usize, Completed)>,
    /// Bytes of [`Completed::Output`] in `completed`.
    output_waiting: usize,
    /// Jobs with [`JobState::failed_hosts`]: without any, taking a job
    /// asks nothing of the hosts.
    avoiding: usize,
}

/// The slots' hosts, and which slots are alive, for a job that avoids
/// the hosts where it failed.
pub(super) struct SlotHosts {
    /// The host of each slot.
    pub(super) host: Vec<usize>,
    /// Each slot is alive (not dead for good).
    pub(super) alive: Vec<bool>,
}

impl SlotHosts {
    /// True if a job that failed on `failed` hosts is better left to
    /// another slot than slot `index`: it failed on this slot's host, and
    /// a live slot of a host it did not fail on is `eligible` for it.
    fn avoids(&self, failed: &[usize], eligible: &[bool], index: usize) -> bool {
        let Some(here) = self.host.get(index) else {
            return false;
        };
        failed.contains(here)
            && (0..eligible.len()).any(|slot| {
                eligible[slot]
                    && self.alive.get(slot).copied().unwrap_or(false)
                    && self.host.get(slot).is_some_and(|h| !failed.contains(h))
            })
    }
}

impl Jobs {
    /// Takes in a job for the slots marked in `eligible` and returns its
    /// id; it is not queued yet (see [`Jobs::queue_back`]).
    pub(super) fn add(
        &mut self,
        eligible: &[bool],
        handler: Arc<str>,
        payload: Vec<u8>,
        reply: Reply,
    ) -> usize {
        let queue = match self.queues.iter().position(|q| q.eligible == eligible) {
            Some(queue) => queue,
            None => {
                self.queues.push(Queue {
                    eligible: eligible.to_vec(),
                    jobs: VecDeque::new(),
                });
                self.queues.len() - 1
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        let live = matches!(reply, Reply::Stream { live: true, .. });
        self.table.push(
            id,
            JobState {
                handler,
                payload,
                queue,
                attempts: 0,
                history: Vec::new(),
                retries: 0,
                failed_hosts: Vec::new(),
                submitted: Instant::now(),
                started: None,
                reply,
                run: 0,
                sent_output: false,
                live,
                collected: Collected::default(),
                files: None,
                transfer_error: None,
            },
        );
        id
    }

    pub(super) fn get_mut(&mut self, id: usize) -> Option<&mut JobState> {
        self.table.get_mut(id)
    }

    /// When job `id`'s run started, if it runs.
    pub(super) fn started(&self, id: usize) -> Option<std::time::Instant> {
        let index = id.checked_sub(self.table.first)?;
        self.table.jobs.get(index)?.as_ref()?.started
    }

    /// Takes job `id` out; the caller hands it its outcome.
    pub(super) fn remove(&mut self, id: usize) -> Option<JobState> {
        let job = self.table.remove(id);
        if job.as_ref().is_some_and(|job| !job.failed_hosts.is_empty()) {
            self.avoiding -= 1;
        }
        job
    }

    /// Queues job `id` behind the others of its queue.
    pub(super) fn queue_back(&mut self, id: usize) {
        if let Some(job) = self.table.get_mut(id) {
            self.queues[job.queue].jobs.push_back(id);
        }
    }

    /// Queues job `id` at the head of its queue (a job put back by a
    /// failed slot goes first).
    pub(super) fn queue_front(&mut self, id: usize) {
        if let Some(job) = self.table.get_mut(id) {
            self.queues[job.queue].jobs.push_front(id);
        }
    }

    /// True if a job that slot `index` may run waits in a queue.
    pub(super) fn queued_for(&self, index: usize) -> bool {
        self.queues
            .iter()
            .any(|q| !q.jobs.is_empty() && q.eligible.get(index).copied().unwrap_or(false))
    }

    /// True if no job waits in a queue.
    pub(super) fn none_queued(&self) -> bool {
        self.queues.iter().all(|q| q.jobs.is_empty())
    }

    /// Takes the next job slot `index` may run (see [`next_job`]): not
    /// one whose own run failed on the slot's host while a slot of another
    /// host it did not fail on may run it (`slots`).
    pub(super) fn next_for(
        &mut self,
        index: usize,
        hold_for: Option<usize>,
        slots: Option<&SlotHosts>,
    ) -> Option<usize> {
        let Some(slots) = slots.filter(|_| self.avoids_hosts()) else {
            return next_job(&mut self.queues, index, hold_for, |_, _| false);
        };
        let table = &self.table;
        next_job(&mut self.queues, index, hold_for, |eligible, id| {
            id.checked_sub(table.first)
                .and_then(|at| table.jobs.get(at)?.as_ref())
                .is_some_and(|job| slots.avoids(&job.failed_hosts, eligible, index))
        })
    }

    /// True while a job avoids the hosts where it failed: taking jobs
    /// then needs the slots' hosts ([`SlotHosts`]).
    pub(super) fn avoids_hosts(&self) -> bool {
        self.avoiding > 0
    }

    /// Job `id`'s own run failed on `host`: it runs again elsewhere if it
    /// can.
    pub(super) fn failed_on(&mut self, id: usize, host: usize) {
        if let Some(job) = self.table.get_mut(id)
            && !job.failed_hosts.contains(&host)
        {
            if job.failed_hosts.is_empty() {
                self.avoiding += 1;
            }
            job.failed_hosts.push(host);
        }
    }

    /// Empties every queue; returns the jobs that waited.
    pub(super) fn take_queued(&mut self) -> Vec<usize> {
        self.queues
            .iter_mut()
            .flat_map(|q| q.jobs.drain(..))
            .collect()
    }

    /// Empties the queues whose slots `can_run` says none may run; returns
    /// each one's eligible slots and the jobs that waited in it.
    pub(super) fn take_unrunnable(
        &mut self,
        can_run: impl Fn(&[bool]) -> bool,
    ) -> Vec<(Vec<bool>, Vec<usize>)> {
        self.queues
            .iter_mut()
            .filter(|q| !q.jobs.is_empty() && !can_run(&q.eligible))
            .map(|q| (q.eligible.clone(), q.jobs.drain(..).collect()))
            .collect()
    }

    /// Keeps the outcome of a [`Reply::Collect`] or [`Reply::Stream`] job.
    pub(super) fn collect(&mut self, tag: usize, report: JobReport) {
        self.completed.push((tag, Completed::Done(report)));
    }

    /// Hands on, or collects, a chunk of job `id`'s output from `slot`;
    /// collected output beyond `limit` bytes is dropped (and counted over).
    /// Returns false for a job not in the table.
    pub(super) fn output(
        &mut self,
        id: usize,
        stream: Stream,
        data: Vec<u8>,
        slot: &Arc<SlotInfo>,
        limit: usize,
    ) -> bool {
        let Some(job) = self.table.get_mut(id) else {
            return false;
        };
        job.sent_output = true;
        match job.reply {
            Reply::Stream { tag, .. } => {
                self.output_waiting += data.len();
                let output = Completed::Output {
                    run: job.run,
                    stream,
                    data,
                    slot: slot.clone(),
                };
                self.completed.push((tag, output));
            }
            Reply::Collect(_) | Reply::Call(_) => {
                let collected = &mut job.collected;
                let held = collected.stdout.len() + collected.stderr.len();
                if collected.over || held + data.len() > limit {
                    collected.over = true;
                    return true;
                }
                match stream {
                    Stream::Stdout => collected.stdout.extend_from_slice(&data),
                    Stream::Stderr => collected.stderr.extend_from_slice(&data),
                }
            }
        }
        true
    }

    /// Job `id` runs again: the output its run sent is void, unless it
    /// went out as it came (the output of a run that failed on its own
    /// stays out, as GNU parallel's `-u` prints every run). Chunks of it
    /// not taken yet are dropped, and a taker that holds some is told
    /// ([`Completed::Restarted`]).
    pub(super) fn restart_output(&mut self, id: usize) {
        let Some(job) = self.table.get_mut(id) else {
            return;
        };
        let had_output = job.sent_output;
        job.run += 1;
        job.transfer_error = None;
        job.sent_output = false;
        job.collected = Collected::default();
        let (Reply::Stream { tag, .. }, true, false) = (&job.reply, had_output, job.live) else {
            return;
        };
        let tag = *tag;
        let mut dropped = 0;
        self.completed.retain(|(t, item)| match item {
            Completed::Output { data, .. } if *t == tag => {
                dropped += data.len();
                false
            }
            _ => true,
        });
        self.output_waiting -= dropped;
        self.completed.push((tag, Completed::Restarted));
    }

    /// The outcomes collected since the last call.
    pub(super) fn take_completed(&mut self) -> std::vec::Drain<'_, (usize, Completed)> {
        self.output_waiting = 0;
        self.completed.drain(..)
    }

    /// Bytes of output waiting in [`Jobs::take_completed`].
    pub(super) fn output_waiting(&self) -> usize {
        self.output_waiting
    }

    /// True if outcomes wait to be taken.
    pub(super) fn has_completed(&self) -> bool {
        !self.completed.is_empty()
    }
}

/// Which slots (hosts × slots, in order) may run jobs for `target`.
pub(crate) fn eligible_slots(hosts: &[Host], target: &Target) -> Result<Vec<bool>, PoolError> {
    let eligible: Vec<bool> = hosts
        .iter()
        .flat_map(|host| std::iter::repeat_n(target.matches(host), host.slots))
        .collect();
    if eligible.contains(&true) {
        return Ok(eligible);
    }
    let hosts = hosts
        .iter()
        .map(|h| {
            if h.tags.is_empty() {
                h.name.clone()
            } else {
                format!("{} ({})", h.name, Target::Tags(h.tags.clone()))
            }
        })
        .collect();
    Err(PoolError::NoMatchingHost {
        target: target.to_string(),
        hosts,
    })
}

/// Takes the next job slot `index` may run from `queues`: the oldest at
/// the head of a queue the slot serves, or only job `hold_for` if set.
fn next_job(
    queues: &mut [Queue],
    index: usize,
    hold_for: Option<usize>,
    skip: impl Fn(&[bool], usize) -> bool,
) -> Option<usize> {
    let mut served = queues
        .iter_mut()
        .filter(|q| q.eligible.get(index).copied().unwrap_or(false));
    if let Some(held) = hold_for {
        // Anywhere in its queue: jobs put back by failed slots go to the
        // head in their own order, so the held one may be behind others.
        return served.find_map(|q| {
            let at = q.jobs.iter().position(|&id| id == held)?;
            q.jobs.remove(at)
        });
    }
    // The first job of each queue this slot should take (the head, unless
    // it is `skip`ped), the oldest of them.
    let (queue, at, _) = served
        .filter_map(|q| {
            let at = q.jobs.iter().position(|&id| !skip(&q.eligible, id))?;
            let id = q.jobs[at];
            Some((q, at, id))
        })
        .min_by_key(|(_, _, id)| *id)?;
    queue.jobs.remove(at)
}

/// Why a job the pool does not run any more was cancelled.
pub(super) fn cancelled() -> JobFailure {
    JobFailure::Cancelled("the pool is stopping and takes no new jobs".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(eligible: &[bool], jobs: &[usize]) -> Queue {
        Queue {
            eligible: eligible.to_vec(),
            jobs: jobs.iter().copied().collect(),
        }
    }

    #[test]
    fn oldest_job_at_a_served_head_comes_first() {
        let mut queues = [
            queue(&[true, false], &[3, 4]),
            queue(&[true, true], &[2, 9]),
        ];
        assert_eq!(next_job(&mut queues, 0, None, |_, _| false), Some(2));
        assert_eq!(next_job(&mut queues, 1, None, |_, _| false), Some(9));
        assert_eq!(next_job(&mut queues, 1, None, |_, _| false), None);
        assert_eq!(next_job(&mut queues, 0, None, |_, _| false), Some(3));
    }

    #[test]
    fn a_held_job_is_the_only_one_handed_out_wherever_it_waits() {
        // Put back behind job 5 by failed slots, job 7 is the one held for.
        let mut queues = [queue(&[true, true], &[5, 7, 8])];
        assert_eq!(next_job(&mut queues, 0, Some(7), |_, _| false), Some(7));
        assert_eq!(next_job(&mut queues, 1, Some(7), |_, _| false), None);
        assert_eq!(queues[0].jobs, [5, 8]);
        // Held for a job this slot may not run: nothing for it.
        let mut queues = [queue(&[false, true], &[1]), queue(&[true, true], &[2])];
        assert_eq!(next_job(&mut queues, 0, Some(1), |_, _| false), None);
        assert_eq!(next_job(&mut queues, 1, Some(1), |_, _| false), Some(1));
        assert_eq!(next_job(&mut queues, 1, None, |_, _| false), Some(2));
    }

    #[test]
    fn a_job_that_failed_on_a_host_goes_to_another_while_one_may_run_it() {
        let mut jobs = Jobs::default();
        let reply = || Reply::Collect(0);
        // Slots 0 and 1 on host 0, slot 2 on host 1.
        let all = [true, true, true];
        let a = jobs.add(&all, Arc::from("h"), Vec::new(), reply());
        let b = jobs.add(&all, Arc::from("h"), Vec::new(), reply());
        jobs.queue_back(a);
        jobs.queue_back(b);
        let slots = |alive: [bool; 3]| SlotHosts {
            host: vec![0, 0, 1],
            alive: alive.to_vec(),
        };
        jobs.failed_on(a, 0);
        // Host 0 takes the next job instead; host 1 takes the failed one.
        assert_eq!(jobs.next_for(0, None, Some(&slots([true; 3]))), Some(b));
        assert_eq!(jobs.next_for(2, None, Some(&slots([true; 3]))), Some(a));
        // With host 1 dead, host 0 runs it again.
        jobs.queue_front(a);
        assert_eq!(
            jobs.next_for(0, None, Some(&slots([true, true, false]))),
            Some(a)
        );
        // Failed on both: any host.
        jobs.queue_front(a);
        jobs.failed_on(a, 1);
        assert_eq!(jobs.next_for(1, None, Some(&slots([true; 3]))), Some(a));
        assert!(jobs.remove(a).is_some());
        assert_eq!(jobs.avoiding, 0);
    }

    #[test]
    fn a_job_leaves_the_table_once() {
        let mut jobs = Jobs::default();
        let reply = || Reply::Collect(0);
        let a = jobs.add(&[true], Arc::from("h"), Vec::new(), reply());
        let b = jobs.add(&[true], Arc::from("h"), Vec::new(), reply());
        jobs.queue_back(a);
        jobs.queue_back(b);
        assert!(jobs.remove(b).is_some());
        assert!(jobs.remove(b).is_none());
        // A queued id whose job left is skipped by whoever takes it.
        assert_eq!(jobs.take_queued(), [a, b]);
        assert!(jobs.remove(a).is_some());
        assert!(jobs.none_queued());
    }
}
