//! The pool's engine: slots, the shared queue, dispatch, retries and
//! shutdown, with no poll loop of its own.
//!
//! Whoever drives it owns a `mio::Poll` and calls, in a loop:
//! [`Engine::tick`] (start slots, hand out jobs, enforce deadlines), poll
//! with [`Engine::next_deadline`] as the timeout, then [`Engine::event`] for
//! each of the engine's tokens. Two drivers exist: the blocking
//! [`Pool`](crate::remote::Pool) on its own poll, and the runtime's
//! coordinator, which polls the slots' pipes next to its threads and
//! signals.
//!
//! Failure semantics (the design's): a slot pulls the next job when it has
//! room (its window); a transport failure (the process exits, a pipe
//! closes, garbage or an oversized frame, a job or handshake past its
//! deadline) kills that slot's process and puts every job it had in flight
//! back at the head of the queue, in the order sent: the running one with
//! one more attempt, up to `max_attempts`, the ones that waited behind it
//! without using one (they never started); a job's deadline counts from
//! its start, and an answer still arriving is not late while its bytes
//! keep coming; an error of the job's own code is final; a dead slot is
//! respawned with back-off, unless it can never start (missing binary,
//! authentication refused, another protocol version, five failed starts in
//! a row). Jobs whose every eligible slot is dead for good end with
//! [`JobFailure::NotRun`]. No job is lost, no result delivered twice: a job
//! leaves the engine exactly once, through [`Engine::finish`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::Registry;

use crate::remote::slot::{Counters, Slot, Stage, TOKENS_PER_SLOT};
use crate::remote::stats::{PoolStats, decr, incr};
use crate::remote::wire::{self, Frame, JobError, WireError};
use crate::remote::{Host, JobFailure, JobReport, PoolError, SlotInfo, Target};

/// The settings of a pool.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) window: usize,
    pub(crate) timeout: Option<Duration>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) max_frame: usize,
}

/// Where a job's outcome goes.
pub(crate) enum Reply {
    /// Into [`Engine::take_completed`], with this tag.
    Collect(usize),
    /// To this function, called on the driving thread.
    Call(Box<dyn FnOnce(JobReport) + Send>),
}

/// Where the pool is in its life.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
enum Phase {
    Running,
    /// No new jobs; the ones in flight finish, then the slots are closed.
    Draining,
    /// `SHUTDOWN` sent; waiting for the slots to exit.
    Closing,
}

struct JobState {
    handler: Arc<str>,
    payload: Vec<u8>,
    queue: usize,
    attempts: u32,
    history: Vec<String>,
    submitted: Instant,
    /// When its current attempt started running, as far as the pool can
    /// tell: when it was sent to an idle slot, or when the slot answered
    /// the job before it (a slot runs its jobs one at a time, in order).
    started: Option<Instant>,
    reply: Reply,
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

/// A slot's place in the pool, alive or not.
struct SlotEntry {
    host: usize,
    label: String,
    slot: Option<Slot>,
    /// When to start (again).
    respawn_at: Option<Instant>,
    /// Failed starts in a row (before a handshake completed).
    failed_starts: u32,
    /// Set when the slot is dead for good: why.
    dead: Option<String>,
    /// `SHUTDOWN` sent: its end of stdout is the slot exiting, not a failure.
    closing: bool,
    /// A failed slot that closed its stdout, until its exit status is known
    /// (see [`Slot::is_exiting`]).
    exiting: Option<Exiting>,
}

struct Exiting {
    slot: Slot,
    failure: Failure,
    /// When to stop waiting for the status and kill it.
    deadline: Instant,
}

/// How long a failed slot that closed its stdout gets to exit with its own
/// status before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(2);
/// How often the status of such a slot is checked.
const EXIT_CHECK: Duration = Duration::from_millis(5);

/// Why a slot failed when its worker closed its stdout between frames
/// (retire adds how the process ended).
const WORKER_EXITED: &str = "worker exited";

/// Starts after this many failed starts in a row make a slot dead for good.
const MAX_FAILED_STARTS: u32 = 5;

pub(crate) struct Engine {
    hosts: Vec<Host>,
    slots: Vec<SlotEntry>,
    settings: Settings,
    jobs: JobTable,
    next_id: usize,
    queues: Vec<Queue>,
    completed: Vec<(usize, JobReport)>,
    stats: Arc<PoolStats>,
    /// Token of the first slot's first pipe.
    base: usize,
    /// No dispatch: queued jobs are cancelled (a `map` told to stop).
    paused: bool,
    /// While set, no job but this one is handed out; the others stay
    /// queued (see [`Engine::hold_for`]).
    hold_for: Option<usize>,
    phase: Phase,
    frames: Vec<Frame>,
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

impl Engine {
    /// An engine whose slots use the tokens from `base` on; the slots start
    /// at the first [`Engine::tick`].
    pub(crate) fn new(
        hosts: Vec<Host>,
        settings: Settings,
        stats: Arc<PoolStats>,
        base: usize,
    ) -> Engine {
        let now = Instant::now();
        let slots = hosts
            .iter()
            .enumerate()
            .flat_map(|(host, h)| {
                (1..=h.slots).map(move |index| SlotEntry {
                    host,
                    label: format!("{}:{index}", h.name),
                    slot: None,
                    respawn_at: Some(now),
                    failed_starts: 0,
                    dead: None,
                    closing: false,
                    exiting: None,
                })
            })
            .collect();
        Engine {
            hosts,
            slots,
            settings,
            jobs: JobTable::default(),
            next_id: 0,
            queues: Vec::new(),
            completed: Vec::new(),
            stats,
            base,
            paused: false,
            hold_for: None,
            phase: Phase::Running,
            frames: Vec::new(),
        }
    }

    pub(crate) fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// True while some slot marked in `eligible` is not dead for good.
    pub(crate) fn can_run(&self, eligible: &[bool]) -> bool {
        self.slots
            .iter()
            .zip(eligible)
            .any(|(entry, eligible)| *eligible && entry.dead.is_none())
    }

    /// Jobs the slots hold at once when every window is full.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len() * self.settings.window
    }

    pub(crate) fn stats(&self) -> &Arc<PoolStats> {
        &self.stats
    }

    /// Queues a job for the slots marked in `eligible` (see
    /// [`eligible_slots`]) and returns its id. A pool that is stopping
    /// cancels it at once.
    pub(crate) fn submit(
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
        self.jobs.push(
            id,
            JobState {
                handler,
                payload,
                queue,
                attempts: 0,
                history: Vec::new(),
                submitted: Instant::now(),
                started: None,
                reply,
            },
        );
        if self.phase != Phase::Running || self.paused {
            self.finish(id, Err(cancelled()), None);
            return id;
        }
        self.queues[queue].jobs.push_back(id);
        incr(&self.stats.queued);
        id
    }

    /// Outcomes of [`Reply::Collect`] jobs, since the last call.
    pub(crate) fn take_completed(&mut self) -> std::vec::Drain<'_, (usize, JobReport)> {
        self.completed.drain(..)
    }

    /// True if outcomes wait in [`Engine::take_completed`].
    pub(crate) fn has_completed(&self) -> bool {
        !self.completed.is_empty()
    }

    /// Stops handing out jobs and cancels the queued ones (`true`), or
    /// takes jobs again (`false`).
    pub(crate) fn pause(&mut self, paused: bool) {
        self.paused = paused;
        if paused {
            self.cancel_queued();
        }
    }

    /// Hands out no job but `id` from now on (`Some`), wherever it waits in
    /// the queue, or every job again (`None`). The other jobs stay queued;
    /// the ones in flight finish. A run in input order holds its jobs this
    /// way while too many reports wait for job `id`: that job is never held
    /// back, and once it is reported the others go on.
    pub(crate) fn hold_for(&mut self, id: Option<usize>) {
        self.hold_for = id;
    }

    /// Begins a graceful stop: no new jobs, queued ones cancelled, the ones
    /// in flight finish; then every slot gets `SHUTDOWN` (in [`tick`]).
    ///
    /// [`tick`]: Engine::tick
    pub(crate) fn drain(&mut self) {
        if self.phase == Phase::Running {
            debug!(pool:% = self.stats.name; "remote pool draining");
            self.phase = Phase::Draining;
            self.cancel_queued();
        }
    }

    /// True once the pool stopped and every slot process exited.
    pub(crate) fn is_closed(&self) -> bool {
        self.phase == Phase::Closing
            && self
                .slots
                .iter()
                .all(|e| e.slot.is_none() && e.exiting.is_none())
    }

    /// Kills every slot now; every job not done is cancelled.
    pub(crate) fn kill_all(&mut self, registry: &Registry) {
        self.phase = Phase::Closing;
        self.cancel_queued();
        for index in 0..self.slots.len() {
            let entry = &mut self.slots[index];
            entry.respawn_at = None;
            let reason = format!("{}: the pool was stopped", entry.label);
            // A failed slot waiting for its exit still holds its jobs.
            if let Some(mut exiting) = entry.exiting.take() {
                let _ = exiting.slot.kill(registry);
                self.cancel_in_flight(&mut exiting.slot, &reason);
            }
            let Some(mut slot) = self.slots[index].slot.take() else {
                continue;
            };
            let _ = slot.kill(registry);
            self.slot_gone(index, &slot);
            self.cancel_in_flight(&mut slot, &reason);
        }
    }

    /// Ends the jobs `slot` holds as cancelled, with `reason`.
    fn cancel_in_flight(&mut self, slot: &mut Slot, reason: &str) {
        for (job, _) in slot.in_flight.drain(..) {
            decr(&self.stats.in_flight);
            // One that waited behind the running one never started.
            if let Some(state) = self.jobs.get_mut(job)
                && state.started.is_none()
            {
                state.attempts = state.attempts.saturating_sub(1);
            }
            self.finish(job, Err(JobFailure::Cancelled(reason.to_owned())), None);
        }
    }

    /// Starts due slots, hands out jobs, enforces deadlines, fails jobs no
    /// slot can run, and closes the slots of a drained pool.
    pub(crate) fn tick(&mut self, registry: &Registry) {
        let now = Instant::now();
        self.reap_exiting(registry, now);
        if self.phase == Phase::Running {
            self.start_slots(registry, now);
        }
        if self.paused || self.phase != Phase::Running {
            self.cancel_queued();
        } else {
            for (index, failure) in self.dispatch(now) {
                self.fail_slot(registry, index, failure);
            }
        }
        self.check_timeouts(registry, now);
        self.fail_unrunnable();
        if self.phase == Phase::Draining && self.slots.iter().all(slot_idle) {
            self.close_slots(registry);
        }
    }

    /// The earliest time [`Engine::tick`] has work to do.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let running = self.phase == Phase::Running;
        self.slots
            .iter()
            .flat_map(|entry| {
                let slot = entry.slot.as_ref();
                let stage = slot.and_then(|s| match s.stage {
                    Stage::Hello(d) | Stage::Session(d) => Some(d),
                    Stage::Ready => None,
                });
                let jobs = slot
                    .into_iter()
                    .flat_map(|s| s.in_flight.iter().filter_map(|(_, d)| *d));
                let respawn = entry
                    .respawn_at
                    .filter(|_| running && entry.dead.is_none() && entry.slot.is_none());
                let exiting = entry
                    .exiting
                    .as_ref()
                    .map(|e| e.deadline.min(Instant::now() + EXIT_CHECK));
                stage.into_iter().chain(jobs).chain(respawn).chain(exiting)
            })
            .min()
    }

    /// Handles readiness of one of the engine's tokens.
    pub(crate) fn event(&mut self, registry: &Registry, token: usize) {
        let offset = token.wrapping_sub(self.base);
        let (index, kind) = (offset / TOKENS_PER_SLOT, offset % TOKENS_PER_SLOT);
        let Some(slot) = self.slots.get_mut(index).and_then(|e| e.slot.as_mut()) else {
            return;
        };
        let failure = match kind {
            0 => {
                // The frames that came before a bad byte or the end of the
                // stream are this slot's: handled here, never left for the
                // next slot's read.
                let read = slot.read_frames(&mut self.frames);
                let mut frames = std::mem::take(&mut self.frames);
                let mut failure = None;
                for frame in frames.drain(..) {
                    if let Err(reason) = self.handle_frame(index, frame) {
                        failure = Some(reason);
                        break;
                    }
                }
                self.frames = frames;
                failure.or_else(|| match read {
                    Ok(eof) => eof.then(|| Failure::retry(WORKER_EXITED)),
                    Err(err) => Some(Failure::from_wire(err)),
                })
            }
            1 => {
                slot.drain_stderr();
                None
            }
            _ => slot
                .flush()
                .err()
                .map(|err| Failure::retry(format!("writing to the worker: {err}"))),
        };
        if let Some(failure) = failure {
            self.fail_slot(registry, index, failure);
        }
    }

    /// Hands a job's outcome to its reply. The only way out of the engine.
    /// `host`: the host whose slot answered, and that slot's worker.
    fn finish(
        &mut self,
        id: usize,
        result: Result<Vec<u8>, JobFailure>,
        host: Option<(usize, Option<Arc<SlotInfo>>)>,
    ) {
        let Some(job) = self.jobs.remove(id) else {
            return;
        };
        incr(&self.stats.done);
        if result.is_err() {
            incr(&self.stats.failed);
        }
        let (host, slot) = host.unzip();
        if let Some(stats) = host.and_then(|h| self.stats.hosts.get(h)) {
            incr(&stats.done);
            if result.is_err() {
                incr(&stats.failed);
            }
        }
        let report = JobReport {
            result,
            host: host.map(|h| self.hosts[h].name.clone()),
            attempts: job.attempts,
            elapsed: job.submitted.elapsed(),
            run_time: job.started.map(|d| d.elapsed()).unwrap_or_default(),
            slot: slot.flatten(),
        };
        match job.reply {
            Reply::Collect(tag) => self.completed.push((tag, report)),
            Reply::Call(reply) => reply(report),
        }
    }

    fn cancel_queued(&mut self) {
        let ids: Vec<usize> = self
            .queues
            .iter_mut()
            .flat_map(|q| q.jobs.drain(..))
            .collect();
        for id in ids {
            decr(&self.stats.queued);
            self.finish(id, Err(cancelled()), None);
        }
    }

    /// Starts the slots whose (re)start time has come.
    fn start_slots(&mut self, registry: &Registry, now: Instant) {
        for (index, entry) in self.slots.iter_mut().enumerate() {
            if entry.slot.is_some()
                || entry.exiting.is_some()
                || entry.dead.is_some()
                || entry.respawn_at.is_none_or(|at| at > now)
            {
                continue;
            }
            entry.respawn_at = None;
            let host = &self.hosts[entry.host];
            let deadline = after(now, self.settings.handshake_timeout);
            let counters = Counters {
                stats: self.stats.clone(),
                host: entry.host,
            };
            match Slot::spawn(
                host,
                counters,
                entry.label.clone(),
                registry,
                self.base + index * TOKENS_PER_SLOT,
                deadline,
                self.settings.max_frame,
            ) {
                Ok(slot) => {
                    debug!(slot:% = entry.label, transport:% = host.transport; "slot started");
                    entry.slot = Some(slot);
                }
                Err(err) => {
                    let reason = format!("cannot start worker ({}): {err}", host.transport);
                    warn!(slot:% = entry.label; "{reason}");
                    self.stats.hosts[entry.host]
                        .set_last_failure(format!("{}: {reason}", entry.label));
                    entry.dead = Some(reason);
                    incr(&self.stats.hosts[entry.host].dead);
                }
            }
        }
    }

    /// Gives queued jobs to ready slots with room; returns the slots whose
    /// pipe failed while writing (a transport failure).
    fn dispatch(&mut self, now: Instant) -> Vec<(usize, Failure)> {
        let mut broken = Vec::new();
        let mut too_large = Vec::new();
        if self.queues.iter().all(|q| q.jobs.is_empty()) {
            return broken;
        }
        for index in 0..self.slots.len() {
            let entry = &mut self.slots[index];
            let Some(slot) = entry.slot.as_mut() else {
                continue;
            };
            let was_busy = !slot.in_flight.is_empty();
            let mut queued = false;
            while slot.stage == Stage::Ready && slot.in_flight.len() < self.settings.window {
                let Some(id) = next_job(&mut self.queues, index, self.hold_for) else {
                    break;
                };
                decr(&self.stats.queued);
                let Some(job) = self.jobs.get_mut(id) else {
                    continue;
                };
                match slot.queue_job(id as u64, &job.handler, &job.payload) {
                    Ok(()) => {
                        job.attempts += 1;
                        // Behind other jobs, it waits: its clock starts
                        // when their results are in.
                        let deadline = if slot.in_flight.is_empty() {
                            job.started = Some(now);
                            self.settings.timeout.map(|t| after(now, t))
                        } else {
                            job.started = None;
                            None
                        };
                        slot.in_flight.push((id, deadline));
                        incr(&self.stats.in_flight);
                        queued = true;
                    }
                    // Too large to send: a problem of the job, not of the
                    // slot, and final.
                    Err(err) => too_large.push((id, err.to_string())),
                }
            }
            if !was_busy && !slot.in_flight.is_empty() {
                incr(&self.stats.hosts[entry.host].busy);
            }
            // One write for the whole batch.
            if queued && let Err(err) = slot.flush() {
                broken.push((
                    index,
                    Failure::retry(format!("writing to the worker: {err}")),
                ));
            }
        }
        for (id, err) in too_large {
            let err = JobError::new(wire::JobErrorKind::BadPayload, err);
            self.finish(id, Err(JobFailure::Job(err)), None);
        }
        broken
    }

    /// Handles one frame from slot `index`; an error is a transport failure.
    fn handle_frame(&mut self, index: usize, frame: Frame) -> Result<(), Failure> {
        let entry = &mut self.slots[index];
        let Some(slot) = entry.slot.as_mut() else {
            return Ok(());
        };
        match (slot.stage, frame) {
            (Stage::Hello(_), Frame::HelloAck { version, host, pid }) => {
                if version != u32::from(wire::VERSION) {
                    return Err(Failure::permanent(format!(
                        "protocol version mismatch: this side speaks version {}, the worker version {version}; \
                         run the same version of hearth on both ends",
                        wire::VERSION
                    )));
                }
                debug!(slot:% = slot.label, host:% = host, pid = pid; "slot handshake done");
                slot.set_remote(host, pid);
                let deadline = after(Instant::now(), self.settings.handshake_timeout);
                slot.stage = Stage::Session(deadline);
                let init = Frame::SessionInit {
                    handlers: Vec::new(),
                    config: Vec::new(),
                };
                slot.send(&init).map_err(Failure::from_wire)
            }
            (Stage::Session(_), Frame::SessionAck { .. }) => {
                slot.stage = Stage::Ready;
                entry.failed_starts = 0;
                incr(&self.stats.hosts[entry.host].alive);
                Ok(())
            }
            (Stage::Ready, Frame::Result { id, outcome }) => {
                let Some(pos) = slot.in_flight.iter().position(|(job, _)| *job as u64 == id) else {
                    return Err(Failure::retry(format!(
                        "result for job {id}, which this slot does not run"
                    )));
                };
                let (job, _) = slot.in_flight.remove(pos);
                // The worker starts the next job once this result is out.
                if let Some((next, deadline)) = slot.in_flight.first_mut()
                    && let Some(next) = self.jobs.get_mut(*next)
                    && next.started.is_none()
                {
                    let now = Instant::now();
                    next.started = Some(now);
                    *deadline = self.settings.timeout.map(|t| after(now, t));
                }
                let host = entry.host;
                if slot.in_flight.is_empty() {
                    decr(&self.stats.hosts[host].busy);
                }
                decr(&self.stats.in_flight);
                let outcome = outcome.map_err(|mut err| {
                    if err.kind == wire::JobErrorKind::UnknownHandler {
                        err.message = format!("{} on host {}", err.message, self.hosts[host].name);
                    }
                    JobFailure::Job(err)
                });
                let info = slot.info.clone();
                self.finish(job, outcome, Some((host, info)));
                Ok(())
            }
            (_, frame) => Err(Failure::retry(format!(
                "unexpected {} from the worker",
                frame.name()
            ))),
        }
    }

    /// Counts a slot out of the host's alive and busy slots.
    fn slot_gone(&self, index: usize, slot: &Slot) {
        let host = &self.stats.hosts[self.slots[index].host];
        if slot.stage == Stage::Ready {
            decr(&host.alive);
        }
        if !slot.in_flight.is_empty() {
            decr(&host.busy);
        }
    }

    /// Takes a failed slot out of service: at once, or once its exit
    /// status is known (a worker that closed its stdout is given
    /// [`EXIT_WAIT`] to exit by itself, unless it was told to).
    fn fail_slot(&mut self, registry: &Registry, index: usize, failure: Failure) {
        let Some(mut slot) = self.slots[index].slot.take() else {
            return;
        };
        self.slot_gone(index, &slot);
        let told_to_exit = self.slots[index].closing && slot.stage == Stage::Ready;
        if !told_to_exit && slot.is_exiting() {
            slot.deregister(registry);
            self.slots[index].exiting = Some(Exiting {
                slot,
                failure,
                deadline: Instant::now() + EXIT_WAIT,
            });
            return;
        }
        self.retire(registry, index, slot, failure);
    }

    /// Retires the exiting slots whose status is known or whose wait is
    /// over.
    fn reap_exiting(&mut self, registry: &Registry, now: Instant) {
        for index in 0..self.slots.len() {
            let entry = &mut self.slots[index];
            let ready = entry
                .exiting
                .as_mut()
                .is_some_and(|e| e.deadline <= now || e.slot.has_exited());
            if ready && let Some(exiting) = entry.exiting.take() {
                self.retire(registry, index, exiting.slot, exiting.failure);
            }
        }
    }

    /// Kills the slot's process, puts its jobs back, and plans a restart
    /// (or declares the slot dead for good).
    fn retire(&mut self, registry: &Registry, index: usize, mut slot: Slot, failure: Failure) {
        let exited_by_itself = slot.has_exited();
        let status = slot.kill(registry);
        let entry = &self.slots[index];
        if entry.closing && failure.reason == WORKER_EXITED {
            debug!(slot:% = entry.label; "slot closed");
            return;
        }
        let handshaken = slot.stage == Stage::Ready;
        let mut reason = failure.reason;
        let mut permanent = failure.permanent;
        if !handshaken {
            // How the process ended tells whether trying again can help.
            match status.and_then(|s| s.code()) {
                Some(code @ (126 | 127)) => {
                    permanent = true;
                    reason = format!(
                        "worker binary missing or not executable (exit {code}): {}; \
                         install it there or give its path",
                        self.hosts[entry.host].transport
                    );
                }
                Some(255)
                    if slot
                        .stderr_tail
                        .iter()
                        .any(|l| l.contains("Permission denied")) =>
                {
                    permanent = true;
                    reason = format!(
                        "authentication refused: {}; check that `ssh HOST true` logs in without a password",
                        slot.stderr_tail.join(" | ")
                    );
                }
                Some(255)
                    if slot
                        .stderr_tail
                        .iter()
                        .any(|l| l.contains("Could not resolve hostname")) =>
                {
                    permanent = true;
                    reason = format!(
                        "unknown host: {}; check the host name",
                        slot.stderr_tail.join(" | ")
                    );
                }
                _ => {}
            }
        } else if reason.starts_with(WORKER_EXITED) {
            // Mid-session, the way the worker ended is the news.
            reason = match status {
                Some(status) if exited_by_itself => format!("{reason} ({status})"),
                _ => format!("{reason}: closed its stdout but kept running; killed"),
            };
        }
        if (!handshaken || reason.starts_with(WORKER_EXITED))
            && let Some(last) = slot.stderr_tail.last()
            && !reason.contains(last.as_str())
        {
            reason = format!("{reason} (stderr: {last})");
        }
        let label = entry.label.clone();
        // Of the slot as a whole: a job ran too long.
        let slot_reason = if failure.timed_out {
            format!("a job {reason}")
        } else {
            reason.clone()
        };
        warn!(slot:% = label, jobs = slot.in_flight.len(); "slot failed: {slot_reason}");
        self.stats.hosts[entry.host].set_last_failure(format!("{label}: {slot_reason}"));
        let retry = self.phase == Phase::Running && !self.paused;
        // Back to the head of the queue in the order they were sent.
        for (id, _) in slot.in_flight.drain(..).rev() {
            decr(&self.stats.in_flight);
            let Some(job) = self.jobs.get_mut(id) else {
                continue;
            };
            // A job that waited behind the running one never started: the
            // slot's failure is not one of its attempts.
            let ran = job.started.is_some();
            if ran {
                job.history.push(format!("{label}: {reason}"));
            } else {
                job.attempts = job.attempts.saturating_sub(1);
            }
            if !retry {
                let why = format!("{label}: {reason}; not retried, the pool is stopping");
                self.finish(id, Err(JobFailure::Cancelled(why)), None);
            } else if ran && job.attempts >= self.settings.max_attempts {
                let history = job.history.clone();
                self.finish(id, Err(JobFailure::Exhausted { history }), None);
            } else {
                // Its run time counts from its next start.
                job.started = None;
                self.queues[job.queue].jobs.push_front(id);
                incr(&self.stats.queued);
                if ran {
                    incr(&self.stats.retried);
                }
            }
        }
        let entry = &mut self.slots[index];
        if !handshaken {
            entry.failed_starts += 1;
        }
        if permanent || entry.failed_starts >= MAX_FAILED_STARTS {
            info!(slot:% = entry.label; "slot dead for good: {reason}");
            entry.dead = Some(reason);
            incr(&self.stats.hosts[entry.host].dead);
        } else if self.phase == Phase::Running {
            entry.respawn_at = Some(Instant::now() + backoff(entry.failed_starts, index));
        }
    }

    /// Fails slots whose handshake or job is past its deadline.
    fn check_timeouts(&mut self, registry: &Registry, now: Instant) {
        for index in 0..self.slots.len() {
            let expired = |slot: &Slot| {
                let handshake = match slot.stage {
                    Stage::Hello(deadline) | Stage::Session(deadline) => deadline <= now,
                    Stage::Ready => false,
                };
                handshake
                    || slot
                        .in_flight
                        .iter()
                        .any(|(_, deadline)| deadline.is_some_and(|d| d <= now))
            };
            // The answer may be in the pipe already, unread while the
            // driver was busy (a slow callback, a full stdout): read it
            // before calling the job (or the handshake) late.
            if self.slots[index].slot.as_ref().is_some_and(expired) {
                let before = self.slots[index].slot.as_ref().map(Slot::bytes_read);
                self.event(registry, self.base + index * TOKENS_PER_SLOT);
                // Part of an answer came and the rest is on its way (a
                // worker writes a result once its job is done; a large one
                // takes more than one pipe's worth): not late while bytes
                // keep coming.
                if let Some(slot) = self.slots[index].slot.as_mut()
                    && slot.inside_a_frame()
                    && before.is_some_and(|b| slot.bytes_read() > b)
                {
                    let limit = self.settings.timeout.map(|t| after(now, t));
                    for (_, deadline) in &mut slot.in_flight {
                        if deadline.is_some_and(|d| d <= now) {
                            *deadline = limit;
                        }
                    }
                }
            }
            let Some(slot) = self.slots[index].slot.as_ref() else {
                continue;
            };
            let failure = match slot.stage {
                Stage::Hello(deadline) | Stage::Session(deadline) if deadline <= now => Some(
                    Failure::retry(slot.start_timeout_reason(self.settings.handshake_timeout)),
                ),
                _ => slot
                    .in_flight
                    .iter()
                    .find(|(_, deadline)| deadline.is_some_and(|d| d <= now))
                    .map(|_| Failure {
                        timed_out: true,
                        ..Failure::retry(format!(
                            "timed out after {:?}",
                            self.settings.timeout.unwrap_or_default()
                        ))
                    }),
            };
            if let Some(failure) = failure {
                self.fail_slot(registry, index, failure);
            }
        }
    }

    /// Ends the queued jobs whose every eligible slot is dead for good.
    fn fail_unrunnable(&mut self) {
        for queue in 0..self.queues.len() {
            if self.queues[queue].jobs.is_empty() {
                continue;
            }
            let eligible = &self.queues[queue].eligible;
            if self.can_run(eligible) {
                continue;
            }
            let reasons: Vec<String> = self
                .slots
                .iter()
                .zip(eligible)
                .filter(|(_, eligible)| **eligible)
                .map(|(e, _)| format!("{}: {}", e.label, e.dead.as_deref().unwrap_or("")))
                .collect();
            let ids: Vec<usize> = self.queues[queue].jobs.drain(..).collect();
            for id in ids {
                decr(&self.stats.queued);
                let reasons = reasons.clone();
                self.finish(id, Err(JobFailure::NotRun { reasons }), None);
            }
        }
    }

    /// Sends `SHUTDOWN` to every slot that takes jobs; kills the ones still
    /// starting when they are not within their handshake.
    fn close_slots(&mut self, registry: &Registry) {
        self.phase = Phase::Closing;
        for index in 0..self.slots.len() {
            let entry = &mut self.slots[index];
            entry.respawn_at = None;
            entry.closing = true;
            if let Some(mut exiting) = entry.exiting.take() {
                let _ = exiting.slot.kill(registry);
            }
            let Some(slot) = entry.slot.as_mut() else {
                continue;
            };
            if slot.stage == Stage::Ready {
                let _ = slot.send(&Frame::Shutdown);
                slot.close_stdin();
            } else if let Some(mut slot) = entry.slot.take() {
                let _ = slot.kill(registry);
            }
        }
        debug!(pool:% = self.stats.name; "remote pool closing its slots");
    }
}

/// `now + duration`, or a century from now for durations too large to add
/// (a "no limit" setting).
pub(crate) fn after(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// True if the slot has no job in flight.
fn slot_idle(entry: &SlotEntry) -> bool {
    // A failed slot waiting for its exit holds jobs until it is retired.
    entry.slot.as_ref().is_none_or(|s| s.in_flight.is_empty())
        && entry
            .exiting
            .as_ref()
            .is_none_or(|e| e.slot.in_flight.is_empty())
}

/// Takes the next job slot `index` may run from `queues`: the oldest at
/// the head of a queue the slot serves, or only job `hold_for` if set.
fn next_job(queues: &mut [Queue], index: usize, hold_for: Option<usize>) -> Option<usize> {
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
    let queue = served
        .filter(|q| !q.jobs.is_empty())
        .min_by_key(|q| q.jobs.front().copied())?;
    queue.jobs.pop_front()
}

fn cancelled() -> JobFailure {
    JobFailure::Cancelled("the pool is stopping and takes no new jobs".to_owned())
}

/// A transport failure of a slot.
struct Failure {
    reason: String,
    permanent: bool,
    /// A job ran past its time limit (the reason is then the job's own):
    /// the slot's failure is logged as "a job timed out".
    timed_out: bool,
}

impl Failure {
    fn retry(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            permanent: false,
            timed_out: false,
        }
    }

    fn permanent(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            permanent: true,
            timed_out: false,
        }
    }

    fn from_wire(err: WireError) -> Failure {
        match err {
            WireError::VersionMismatch { .. } => Failure::permanent(err.to_string()),
            WireError::Truncated { expected, got } => Failure::retry(format!(
                "{WORKER_EXITED} inside a frame: got {got} of its {expected} bytes"
            )),
            err => Failure::retry(err.to_string()),
        }
    }
}

/// Back-off before restarting a slot: 100 ms doubling per failed start, at
/// most 5 s, plus up to 25% jitter (from the slot index and the clock) so
/// slots of one host do not all reconnect at once.
fn backoff(failed_starts: u32, index: usize) -> Duration {
    let base = Duration::from_millis(100)
        .saturating_mul(1 << failed_starts.min(6))
        .min(Duration::from_secs(5));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as usize
        ^ index.wrapping_mul(2_654_435_761);
    let jitter = base.mul_f64((nanos % 1000) as f64 / 4000.0);
    base + jitter
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
        assert_eq!(next_job(&mut queues, 0, None), Some(2));
        assert_eq!(next_job(&mut queues, 1, None), Some(9));
        assert_eq!(next_job(&mut queues, 1, None), None);
        assert_eq!(next_job(&mut queues, 0, None), Some(3));
    }

    #[test]
    fn a_held_job_is_the_only_one_handed_out_wherever_it_waits() {
        // Put back behind job 5 by failed slots, job 7 is the one held for.
        let mut queues = [queue(&[true, true], &[5, 7, 8])];
        assert_eq!(next_job(&mut queues, 0, Some(7)), Some(7));
        assert_eq!(next_job(&mut queues, 1, Some(7)), None);
        assert_eq!(queues[0].jobs, [5, 8]);
        // Held for a job this slot may not run: nothing for it.
        let mut queues = [queue(&[false, true], &[1]), queue(&[true, true], &[2])];
        assert_eq!(next_job(&mut queues, 0, Some(1)), None);
        assert_eq!(next_job(&mut queues, 1, Some(1)), Some(1));
        assert_eq!(next_job(&mut queues, 1, None), Some(2));
    }
}
