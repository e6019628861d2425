//! The pool's engine: slots, the shared queue, dispatch, retries and
//! shutdown, with no poll loop of its own.
//!
//! Whoever drives it owns a `mio::Poll` and calls, in a loop:
//! [`Engine::do_due_work`] (start slots, hand out jobs, enforce deadlines), poll
//! with [`Engine::next_deadline`] as the timeout, then [`Engine::event`] for
//! each of the engine's tokens. Two drivers exist: the blocking
//! [`Pool`](crate::remote::Pool) on its own poll, and the runtime's
//! coordinator, which polls the slots' pipes next to its threads and
//! signals.
//!
//! This file holds the engine's state, the driver's calls, and the
//! conversation with ready slots (jobs out, frames in); `jobs.rs` keeps
//! the jobs and their queues, `slots.rs` supervises the slots (starts,
//! deadlines, failures, restarts), `gate.rs` holds the jobs of this
//! machine's slots back while a [`Throttle`](crate::remote::Throttle) says
//! the machine is too busy, `liveness.rs` pings them and judges
//! their silence, `stopping.rs` keeps the killed srun processes not gone
//! yet without waiting for them, and `failure.rs` (next to this module) says why a slot
//! failed.
//!
//! Failure semantics (the design's): a slot pulls the next job when it has
//! room (its window); a slot failure (the process exits, a pipe closes,
//! garbage or an oversized frame, a handshake past its deadline, silence
//! past the slot timeout) kills that slot's process and puts every job it
//! had in flight back at the head of the queue, in the order sent: the
//! running one with one more attempt, up to `max_attempts`, the ones that
//! waited behind it without using one (they never started). A failure of
//! the job's own run (its handler's error or panic, its time limit passed
//! while the worker answers, an output `failed_output` calls failed) is
//! final, or runs again within `retries`; a job's deadline counts from its
//! start, and an answer still arriving is not late while its bytes keep
//! coming. A dead slot is respawned with back-off, unless it can never
//! start ([`SlotFailure::is_permanent`], or five failed starts in a row).
//! Jobs whose every eligible slot is dead for good end with
//! [`JobFailure::NotRun`]. No job is lost, no result delivered twice: a job
//! leaves the engine exactly once, through [`Engine::finish`].

mod gate;
mod jobs;
mod liveness;
mod slots;
mod stopping;
mod time_limit;
mod window;

use std::sync::Arc;
use std::time::{Duration, Instant};

use log::debug;
use mio::Registry;

use crate::remote::mux::Mux;
use crate::remote::slot::{Stage, TOKENS_PER_SLOT};
use crate::remote::stats::{PoolStats, decr, incr};
use crate::remote::transfer::{self, Download};
use crate::remote::wire::{self, Frame, JobError};
use crate::remote::{Files, Host, JobFailure, JobReport, SlotFailure, SlotInfo, SlotLost};

pub(crate) use jobs::{Completed, Reply, eligible_slots};
pub(crate) use window::{ADAPTIVE_MAX, WindowPolicy};

use jobs::{Jobs, cancelled};
use slots::SlotEntry;

/// Bytes of a slot's stdout read at most in one go; then the other
/// slots, and the driver, have their turn.
const READ_BUDGET: usize = 1024 * 1024;

/// Bytes of streamed output waiting for the driver to take them
/// ([`Engine::take_completed`]) beyond which the slots' stdout is not
/// read: the workers wait (their pipes full), the driver's memory does not
/// grow.
const MAX_OUTPUT_WAITING: usize = 4 * 1024 * 1024;

/// The settings of a pool.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) window: WindowPolicy,
    pub(crate) timeout: Option<Duration>,
    /// A time limit of this percentage of the median run time of the
    /// jobs that succeeded.
    pub(crate) timeout_of_median: Option<f64>,
    /// At most this many jobs in flight over all the slots.
    pub(crate) max_running: Option<usize>,
    /// At most one ssh started per this time (`--ssh-delay`).
    pub(crate) ssh_delay: Option<Duration>,
    pub(crate) handshake_timeout: Duration,
    /// How long a ready slot may be silent before it is dead.
    pub(crate) slot_timeout: Duration,
    pub(crate) max_attempts: u32,
    /// Runs again of a job whose own run failed.
    pub(crate) retries: u32,
    /// Which outputs are failures of the job's own run, for `retries`.
    pub(crate) failed_output: Option<FailedOutput>,
    /// Told of each slot lost while it served.
    pub(crate) on_slot_lost: Option<OnSlotLost>,
    pub(crate) max_frame: usize,
    /// Environment variables sent to every slot for its jobs.
    pub(crate) env: Vec<(String, String)>,
    /// When the slots on this machine may start jobs, if limited.
    pub(crate) throttle: Option<crate::remote::Throttle>,
    /// Sent to every slot on another machine before its first job.
    pub(crate) base_files: Option<Arc<Files>>,
    /// How a worker stops a job past its time limit.
    pub(crate) term_sequence: crate::remote::TermSequence,
}

/// Tells whether an output is a failure of its job's own run.
pub(crate) type FailedOutput = Hook<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// Told of a slot lost while it served.
pub(crate) type OnSlotLost = Hook<dyn Fn(&SlotLost) + Send + Sync>;

/// A function among a pool's settings; `Debug` shows only that it is set.
pub(crate) struct Hook<F: ?Sized>(pub(crate) std::sync::Arc<F>);

impl<F: ?Sized> Clone for Hook<F> {
    fn clone(&self) -> Self {
        Hook(self.0.clone())
    }
}

impl<F: ?Sized> std::fmt::Debug for Hook<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<function>")
    }
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

pub(crate) struct Engine {
    hosts: Vec<Host>,
    slots: Vec<SlotEntry>,
    settings: Settings,
    jobs: Jobs,
    stats: Arc<PoolStats>,
    /// Token of the first slot's first pipe.
    base: usize,
    /// No dispatch: queued jobs are cancelled (a `map` told to stop).
    paused: bool,
    /// While set, no job but this one is handed out; the others stay
    /// queued (see [`Engine::hold_for`]).
    hold_for: Option<usize>,
    /// The start gate of this machine's slots, with a throttle (see
    /// `gate.rs`).
    gate: Option<gate::Gate>,
    phase: Phase,
    frames: Vec<Frame>,
    /// Killed slots whose srun is not gone yet (see `stopping.rs`).
    stopping: Vec<crate::remote::slot::Slot>,
    /// The jobs' time limit as it stands (see `time_limit.rs`).
    time_limit: time_limit::TimeLimit,
    /// Jobs ended on a slot that then had none in flight, counted: the
    /// clock of [`SlotEntry::freed_at`].
    freed: u64,
    /// The order in which [`Engine::dispatch`] offers jobs to the slots
    /// (kept to reuse its memory).
    offer_order: Vec<usize>,
    /// The ssh hosts' shared connections (see `mux.rs`); last, so that
    /// the slots are gone before their masters end.
    mux: Mux,
}

impl Engine {
    /// An engine whose slots use the tokens from `base` on; the slots start
    /// at the first [`Engine::do_due_work`].
    pub(crate) fn new(
        hosts: Vec<Host>,
        settings: Settings,
        stats: Arc<PoolStats>,
        base: usize,
    ) -> Engine {
        let slots = SlotEntry::all(&hosts, Instant::now(), settings.window);
        let mux = Mux::new(&hosts, settings.ssh_delay);
        let gate = settings
            .throttle
            .clone()
            .filter(crate::remote::Throttle::limits)
            .map(gate::Gate::new);
        let time_limit = time_limit::TimeLimit::new(settings.timeout, settings.timeout_of_median);
        Engine {
            hosts,
            slots,
            settings,
            time_limit,
            jobs: Jobs::default(),
            stats,
            base,
            paused: false,
            hold_for: None,
            gate,
            phase: Phase::Running,
            frames: Vec::new(),
            stopping: Vec::new(),
            freed: 0,
            offer_order: Vec::new(),
            mux,
        }
    }

    pub(crate) fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// True while some slot marked in `eligible` is not dead for good.
    pub(crate) fn can_run(&self, eligible: &[bool]) -> bool {
        slots::can_run(&self.slots, eligible)
    }

    /// Runs again of a job whose own run failed (the pool's setting).
    pub(crate) fn retries(&self) -> u32 {
        self.settings.retries
    }

    /// Jobs the slots hold at once when every window is full (at its
    /// largest, for an adaptive one: only an ssh slot's adapts, the others
    /// keep their start).
    pub(crate) fn capacity(&self) -> usize {
        self.slots
            .iter()
            .map(|entry| {
                let transport = &self.hosts[entry.host].transport;
                self.settings.window.for_transport(transport).max()
            })
            .sum()
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
        (handler, payload, files): (Arc<str>, Vec<u8>, Option<Arc<Files>>),
        reply: Reply,
    ) -> usize {
        let id = self.jobs.add(eligible, handler, payload, reply);
        if let Some(job) = self.jobs.get_mut(id) {
            job.files = files;
        }
        if self.phase != Phase::Running || self.paused {
            self.finish(id, Err(cancelled()), None);
            return id;
        }
        self.jobs.queue_back(id);
        incr(&self.stats.queued);
        id
    }

    /// Outcomes of [`Reply::Collect`] and [`Reply::Stream`] jobs, and the
    /// output of the latter, since the last call.
    pub(crate) fn take_completed(&mut self) -> std::vec::Drain<'_, (usize, Completed)> {
        self.jobs.take_completed()
    }

    /// Notes that the output of job `id` is handed on as it comes from now
    /// on, chunks of its run `run` first (see [`Completed::Output`]): a
    /// slot failure after it sent output ends it instead of running it
    /// again. Returns false if that run is void already: its chunk is
    /// stale, and not to be handed on.
    pub(crate) fn mark_live(&mut self, id: usize, run: u32) -> bool {
        match self.jobs.get_mut(id) {
            // It ended with that run.
            None => true,
            Some(job) if job.run == run => {
                job.live = true;
                true
            }
            Some(_) => false,
        }
    }

    /// True if outcomes wait in [`Engine::take_completed`].
    pub(crate) fn has_completed(&self) -> bool {
        self.jobs.has_completed()
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
    /// in flight finish; then every slot gets `SHUTDOWN` (in
    /// [`Engine::do_due_work`]).
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
            && self.slots.iter().all(SlotEntry::is_gone)
            && self.stopping.is_empty()
    }

    /// Kills every slot now; every job not done is cancelled.
    pub(crate) fn kill_all(&mut self, registry: &Registry) {
        self.phase = Phase::Closing;
        self.cancel_queued();
        for index in 0..self.slots.len() {
            self.kill_slot(registry, index);
        }
        self.mux.close();
    }

    /// Does what is due now: reads the slots left unread, starts the slots
    /// due to (re)start, hands queued jobs to ready slots with room,
    /// enforces handshake and job deadlines, pings quiet slots and fails
    /// silent ones, ends the jobs no slot can run, and closes the slots of
    /// a drained pool. The driver calls it before each poll.
    pub(crate) fn do_due_work(&mut self, registry: &Registry) {
        self.read_unread(registry);
        let now = Instant::now();
        self.reap_exiting(registry, now);
        self.reap_stopping(now);
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
        if self.gate.is_some() {
            self.tend_gate(registry, now);
        }
        self.check_timeouts(registry, now);
        self.check_liveness(registry, now);
        self.fail_unrunnable();
        if self.phase == Phase::Draining && self.slots.iter().all(SlotEntry::is_idle) {
            self.close_slots(registry);
        }
        if self.phase == Phase::Closing && self.slots.iter().all(SlotEntry::is_gone) {
            self.mux.close();
        }
    }

    /// The earliest time [`Engine::do_due_work`] has work to do.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.reads_waiting() {
            return Some(Instant::now());
        }
        let running = self.phase == Phase::Running;
        let slot_timeout = self.settings.slot_timeout;
        let gate = self
            .gate
            .as_ref()
            .and_then(|gate| gate.next_deadline(running && !self.jobs.none_queued()));
        // A slot that waits for room under `max_running` starts when a
        // job ends or comes, not at a time.
        let up = self.slots_up();
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| {
                // (Asked only of a slot that is down: the others' restart
                // time does not count.)
                let due = running
                    && (!entry.is_gone()
                        || entry.master_wait.is_some()
                        || !self.waits_for_room(index, up));
                entry.next_deadline(due, slot_timeout)
            })
            .chain(self.stopping_deadline(Instant::now()))
            .chain(gate)
            .min()
    }

    /// Handles readiness of one of the engine's tokens.
    pub(crate) fn event(&mut self, registry: &Registry, token: usize) {
        let offset = token.wrapping_sub(self.base);
        let (index, kind) = (offset / TOKENS_PER_SLOT, offset % TOKENS_PER_SLOT);
        let Some(slot) = self.slots.get_mut(index).and_then(|e| e.slot.as_mut()) else {
            return;
        };
        let end = match kind {
            0 => return self.read_slot(registry, index, false),
            1 => {
                slot.drain_stderr();
                None
            }
            _ => slot
                .flush()
                .err()
                .map(|err| SlotFailure::WriteFailed(err.to_string())),
        };
        self.end_slot(registry, index, end);
    }

    /// Reads slot `index`'s stdout (at most [`READ_BUDGET`] bytes) and
    /// handles the frames. Unless `force`d (a verdict on the slot waits
    /// for what it sent), not while [`MAX_OUTPUT_WAITING`] bytes of output
    /// wait for the driver: the slot is read again once they are taken.
    pub(super) fn read_slot(&mut self, registry: &Registry, index: usize, force: bool) {
        let room = self.jobs.output_waiting() < MAX_OUTPUT_WAITING;
        let Some(slot) = self.slots.get_mut(index).and_then(|e| e.slot.as_mut()) else {
            return;
        };
        if !force && !room {
            slot.unread = true;
            return;
        }
        // The frames that came before a bad byte or the end of the stream
        // are this slot's: handled here, never left for the next slot's
        // read.
        let read = slot.read_frames(&mut self.frames, READ_BUDGET);
        let mut frames = std::mem::take(&mut self.frames);
        let mut end = None;
        for frame in frames.drain(..) {
            if let Err(why) = self.handle_frame(index, frame) {
                end = Some(why);
                break;
            }
        }
        self.frames = frames;
        let end = end.or_else(|| match read {
            Ok(eof) => eof.then_some(SlotFailure::WorkerExited { status: None }),
            Err(failure) => Some(failure),
        });
        self.end_slot(registry, index, end);
    }

    /// Reads the slots whose stdout was left unread, while there is room.
    fn read_unread(&mut self, registry: &Registry) {
        for index in 0..self.slots.len() {
            if !self.reads_waiting() {
                return;
            }
            if self.slots[index].slot.as_ref().is_some_and(|s| s.unread) {
                self.read_slot(registry, index, false);
            }
        }
    }

    /// True if a slot's stdout was left unread and there is room to read it.
    fn reads_waiting(&self) -> bool {
        self.jobs.output_waiting() < MAX_OUTPUT_WAITING
            && self
                .slots
                .iter()
                .any(|e| e.slot.as_ref().is_some_and(|s| s.unread))
    }

    /// Fails slot `index` for `end`, if any.
    fn end_slot(&mut self, registry: &Registry, index: usize, end: Option<SlotFailure>) {
        if let Some(failure) = end {
            self.fail_slot(registry, index, failure);
        }
    }

    /// Keeps the slots' workers hearing from the pool while its driver is
    /// away (a blocking pool's caller busy between runs or in a report):
    /// pings the ready slots whose ping is due; reads nothing, fails
    /// nothing (the driver does when it is back).
    pub(crate) fn keep_alive(&mut self) {
        let now = Instant::now();
        let slot_timeout = self.settings.slot_timeout;
        for slot in self.slots.iter_mut().filter_map(|e| e.slot.as_mut()) {
            if slot.stage == Stage::Ready && liveness::ping_due(slot, slot_timeout) <= now {
                let _ = slot.ping(now);
            }
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
        let Some(mut job) = self.jobs.remove(id) else {
            return;
        };
        let collected = std::mem::take(&mut job.collected);
        let result = match result {
            Ok(_) if collected.over => Err(JobFailure::OutputTooLarge {
                limit: self.settings.max_frame,
            }),
            result => result,
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
            retries: job.retries,
            elapsed: job.submitted.elapsed(),
            run_time: job.started.map(|d| d.elapsed()).unwrap_or_default(),
            slot: slot.flatten(),
            stdout: collected.stdout,
            stderr: collected.stderr,
        };
        match job.reply {
            Reply::Collect(tag) | Reply::Stream { tag, .. } => self.jobs.collect(tag, report),
            Reply::Call(reply) => reply(report),
        }
    }

    /// Cancels every queued job.
    fn cancel_queued(&mut self) {
        for id in self.jobs.take_queued() {
            decr(&self.stats.queued);
            self.finish(id, Err(cancelled()), None);
        }
    }

    /// Ends the queued jobs whose every eligible slot is dead for good.
    fn fail_unrunnable(&mut self) {
        let slots = &self.slots;
        let unrunnable = self
            .jobs
            .take_unrunnable(|eligible| slots::can_run(slots, eligible));
        for (eligible, ids) in unrunnable {
            let reasons = slots::dead_reasons(&self.slots, &eligible);
            for id in ids {
                decr(&self.stats.queued);
                let reasons = reasons.clone();
                self.finish(id, Err(JobFailure::NotRun { reasons }), None);
            }
        }
    }

    /// Each slot's host and whether it is alive, for the jobs that avoid
    /// the hosts where they failed.
    fn slot_hosts(&self) -> jobs::SlotHosts {
        jobs::SlotHosts {
            host: self.slots.iter().map(|entry| entry.host).collect(),
            alive: self
                .slots
                .iter()
                .map(|entry| entry.dead.is_none())
                .collect(),
        }
    }

    /// Room under `max_running`, if the pool has one: how many more jobs
    /// may be in flight.
    fn room_under_max(&self) -> Option<usize> {
        self.settings.max_running.map(|max| {
            let running: usize = self
                .slots
                .iter()
                .filter_map(|entry| entry.slot.as_ref())
                .map(|slot| slot.in_flight.len())
                .sum();
            max.saturating_sub(running)
        })
    }

    /// Gives queued jobs to ready slots with room; returns the slots whose
    /// pipe failed while writing (a transport failure).
    fn dispatch(&mut self, now: Instant) -> Vec<(usize, SlotFailure)> {
        let mut broken = Vec::new();
        let mut too_large = Vec::new();
        if self.jobs.none_queued() {
            return broken;
        }
        let mut room = self.room_under_max();
        // Asked of the hosts only while a job avoids some (`--retries`): the
        // dispatch of every other run allocates nothing for it.
        let slot_hosts = self.jobs.avoids_hosts().then(|| self.slot_hosts());
        let mut order = std::mem::take(&mut self.offer_order);
        slots::offer_order(&self.slots, &self.hosts, &mut order);
        for &index in &order {
            let entry = &mut self.slots[index];
            let Some(slot) = entry.slot.as_mut() else {
                continue;
            };
            let was_busy = !slot.in_flight.is_empty();
            let mut queued = false;
            // A slot of the pool's own machine shares its files (a job's
            // stdin still goes to it).
            let shared = transfer::is_shared(&self.hosts[entry.host].transport);
            // Behind the start gate: a throttled pool's slot on this machine.
            let gated = shared && self.gate.is_some();
            // A job with files or stdin runs alone on its slot: they come
            // right before it, and nothing waits behind it.
            // Under `max_running` a job waits in the queue, not behind
            // another on a slot, where it would hold room without running.
            let window = match self.settings.max_running {
                Some(_) => 1,
                None => entry.window.size(),
            };
            while slot.stage == Stage::Ready && slot.in_flight.len() < window && !slot.exclusive {
                if gated && !self.gate.as_mut().is_some_and(|gate| gate.open(now)) {
                    break;
                }
                if room == Some(0) {
                    break;
                }
                let Some(id) = self
                    .jobs
                    .next_for(index, self.hold_for, slot_hosts.as_ref())
                else {
                    break;
                };
                decr(&self.stats.queued);
                let Some(job) = self.jobs.get_mut(id) else {
                    continue;
                };
                let files = job.files.as_ref().and_then(|f| Files::for_slot(f, shared));
                if files.is_some() && !slot.in_flight.is_empty() {
                    self.jobs.queue_front(id);
                    incr(&self.stats.queued);
                    break;
                }
                let sent = match &files {
                    Some(files) => slot
                        .queue_upload(id as u64, files, &job.handler, &job.payload)
                        .map(|()| slot.exclusive = true),
                    None => slot
                        .queue_job(id as u64, &job.handler, &job.payload)
                        .map_err(|err| err.to_string()),
                };
                match sent {
                    Ok(()) => {
                        if gated && let Some(gate) = self.gate.as_mut() {
                            gate.handed();
                        }
                        job.attempts += 1;
                        // Behind other jobs, it waits: its clock starts
                        // when their results are in.
                        let deadline = if slot.in_flight.is_empty() {
                            job.started = Some(now);
                            entry.head_sent_idle = true;
                            self.time_limit.current().map(|t| after(now, t))
                        } else {
                            job.started = None;
                            None
                        };
                        slot.in_flight.push((id, deadline));
                        incr(&self.stats.in_flight);
                        queued = true;
                        if let Some(room) = &mut room {
                            *room -= 1;
                        }
                    }
                    // Too large to send, or a file that cannot be read: a
                    // problem of the job, not of the slot, and final.
                    Err(err) => too_large.push((id, err)),
                }
            }
            if !was_busy && !slot.in_flight.is_empty() {
                incr(&self.stats.hosts[entry.host].busy);
            }
            // One write for the whole batch.
            if queued && let Err(err) = slot.flush() {
                broken.push((index, SlotFailure::WriteFailed(err.to_string())));
            }
        }
        self.offer_order = order;
        for (id, err) in too_large {
            let kind = if err.starts_with("cannot send") {
                wire::JobErrorKind::Failed
            } else {
                wire::JobErrorKind::BadPayload
            };
            self.finish(id, Err(JobFailure::Job(JobError::new(kind, err))), None);
        }
        broken
    }

    /// True if `outcome` is a failure of the job's own run that
    /// [`Settings::retries`] may run again: an error its handler returned
    /// or a panic, a time limit passed, a kill for memory, or an output
    /// [`Settings::failed_output`] calls failed. (An unknown handler or a payload too large fails the same way
    /// again.)
    fn is_own_failure(&self, outcome: &Result<Vec<u8>, JobFailure>) -> bool {
        match outcome {
            Err(JobFailure::Job(err)) => matches!(
                err.kind,
                wire::JobErrorKind::Failed | wire::JobErrorKind::Panicked
            ),
            Err(JobFailure::TimedOut { .. } | JobFailure::LowMemory { .. }) => true,
            Err(_) => false,
            Ok(output) => self
                .settings
                .failed_output
                .as_ref()
                .is_some_and(|f| (f.0)(output)),
        }
    }

    /// Queues job `id`, whose own run failed, to run again at the head of
    /// its queue, if it has retries left and the pool runs; false if not
    /// (the failure is then its outcome).
    fn retry_own_failure(&mut self, id: usize, host: usize) -> bool {
        if self.settings.retries == 0 || self.phase != Phase::Running || self.paused {
            return false;
        }
        let Some(job) = self.jobs.get_mut(id) else {
            return false;
        };
        if job.retries >= self.settings.retries {
            return false;
        }
        job.retries += 1;
        job.started = None;
        debug!(job = id, retry = job.retries; "remote job failed; running it again");
        // Another host next, while one may run it (GNU parallel's rule).
        self.jobs.failed_on(id, host);
        self.jobs.restart_output(id);
        self.jobs.queue_front(id);
        incr(&self.stats.queued);
        incr(&self.stats.retried);
        true
    }

    /// Handles one frame from slot `index`; an error ends the slot.
    fn handle_frame(&mut self, index: usize, frame: Frame) -> Result<(), SlotFailure> {
        let entry = &mut self.slots[index];
        let Some(slot) = entry.slot.as_mut() else {
            return Ok(());
        };
        match (slot.stage, frame) {
            (Stage::Hello(_), Frame::HelloAck { version, host, pid }) => {
                if version != u32::from(wire::VERSION) {
                    return Err(SlotFailure::VersionMismatch {
                        ours: u32::from(wire::VERSION),
                        theirs: version,
                    });
                }
                debug!(slot:% = slot.label, host:% = host, pid = pid; "slot handshake done");
                slot.set_remote(host, pid);
                let now = Instant::now();
                slot.stage = Stage::Session(after(now, self.settings.handshake_timeout));
                // Its `SESSION_INIT` went out behind `HELLO`. A `PING` now,
                // to a worker that is up, measures the link's round trip
                // for the window.
                let seq = slot
                    .ping(now)
                    .map_err(|err| SlotFailure::WriteFailed(err.to_string()))?;
                entry.rtt_probe = Some((seq, now));
                Ok(())
            }
            (Stage::Base(_), Frame::BaseAck { error }) if !error.is_empty() => {
                Err(SlotFailure::BaseFiles(format!("{error} (on the host)")))
            }
            (stage @ Stage::Session(_), Frame::SessionAck { .. })
            | (stage @ Stage::Base(_), Frame::BaseAck { .. }) => {
                // The base files first, to a slot on another machine.
                let shared = transfer::is_shared(&self.hosts[entry.host].transport);
                let base = self.settings.base_files.as_ref().filter(|_| !shared);
                if let (Stage::Session(_), Some(base)) = (stage, base) {
                    slot.queue_base(base).map_err(|err| {
                        SlotFailure::BaseFiles(format!("{err} (on this machine)"))
                    })?;
                    // Their time on top of the handshake's, at 1 MB/s.
                    let sending = Duration::from_secs(base.send_size() / 1_000_000);
                    let limit = self.settings.handshake_timeout + sending;
                    slot.stage = Stage::Base(after(Instant::now(), limit));
                    return slot
                        .flush()
                        .map_err(|err| SlotFailure::WriteFailed(err.to_string()));
                }
                if let Stage::Base(_) = stage {
                    debug!(slot:% = slot.label; "base files placed");
                }
                slot.stage = Stage::Ready;
                entry.failed_starts = 0;
                entry.ready_once = true;
                incr(&self.stats.hosts[entry.host].alive);
                Ok(())
            }
            (Stage::Ready, Frame::Result { id, outcome }) => self.on_result(index, id, outcome),
            (Stage::Ready, Frame::Output { id, stream, data }) => {
                // Only the running job (the first sent) streams.
                let running = slot.in_flight.first().map(|(job, _)| *job);
                let Some(job) = running.filter(|job| *job as u64 == id) else {
                    return Err(SlotFailure::Protocol(format!(
                        "output for job {id}, which this slot does not run now"
                    )));
                };
                let Some(info) = slot.info.clone() else {
                    return Err(SlotFailure::Protocol("output before HELLO_ACK".to_owned()));
                };
                let limit = self.settings.max_frame;
                let _ = self.jobs.output(job, stream, data, &info, limit);
                Ok(())
            }
            (
                Stage::Ready,
                frame @ (Frame::File { .. } | Frame::FileData { .. } | Frame::FileEnd { .. }),
            ) => self.on_file_frame(index, frame),
            (Stage::Ready | Stage::Base(_), Frame::Pong { seq }) => {
                // The worker answers at once: a round trip of the link.
                if let Some((probe, sent)) = entry.rtt_probe
                    && probe == seq
                {
                    entry.rtt_probe = None;
                    entry.window.round_trip(sent.elapsed());
                }
                // Alive since its job passed its time limit: the job's
                // overrun is its own, and its worker stops it.
                if let Some(overdue) = slot.overdue
                    && seq >= overdue
                    && let Some(stop) = slot.stopping.as_mut()
                {
                    stop.answered = true;
                }
                Ok(())
            }
            (_, frame) => Err(SlotFailure::Protocol(format!(
                "unexpected {} from the worker",
                frame.name()
            ))),
        }
    }

    /// A job's result from slot `index`: the slot's next job starts, and
    /// the job ends or, after a failure of its own, runs again.
    fn on_result(
        &mut self,
        index: usize,
        id: u64,
        outcome: Result<Vec<u8>, JobError>,
    ) -> Result<(), SlotFailure> {
        let entry = &mut self.slots[index];
        let Some(slot) = entry.slot.as_mut() else {
            return Ok(());
        };
        let Some(pos) = slot.in_flight.iter().position(|(job, _)| *job as u64 == id) else {
            return Err(SlotFailure::Protocol(format!(
                "result for job {id}, which this slot does not run"
            )));
        };
        let (job, _) = slot.in_flight.remove(pos);
        // A job stopped past its time limit failed, whatever it returned.
        let stopped = match slot.stopping.take() {
            Some(stop) if pos == 0 => Some(stop.failure),
            other => {
                slot.stopping = other;
                None
            }
        };
        if pos == 0 {
            // The running job answered, late or not.
            slot.overdue = None;
            if let Some(started) = self.jobs.get_mut(job).and_then(|j| j.started) {
                entry
                    .window
                    .answered(started.elapsed(), entry.head_sent_idle);
            }
            entry.head_sent_idle = false;
            // The worker idles until the next job comes.
            if slot.in_flight.is_empty() && entry.window.ran_dry(!self.jobs.none_queued()) {
                debug!(slot:% = slot.label, window = entry.window.size(); "slot ran dry; its window grows");
            }
        }
        if slot.in_flight.is_empty() {
            slot.exclusive = false;
            self.freed += 1;
            entry.freed_at = Some(self.freed);
        }
        // A file that did not come back whole is the job's failure.
        slot.download = None;
        let brought_back = self
            .jobs
            .get_mut(job)
            .and_then(|state| state.transfer_error.take());
        // The worker starts the next job once this result is out.
        if let Some((next, deadline)) = slot.in_flight.first_mut()
            && let Some(next) = self.jobs.get_mut(*next)
            && next.started.is_none()
        {
            let now = Instant::now();
            next.started = Some(now);
            *deadline = self.time_limit.current().map(|t| after(now, t));
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
        let outcome = match (stopped, outcome, brought_back) {
            // What it returned once stopped goes with the failure.
            (Some(JobFailure::TimedOut { after, .. }), Ok(returned), _) => {
                Err(JobFailure::TimedOut {
                    after,
                    returned: Some(returned),
                })
            }
            (Some(failure), _, _) => Err(failure),
            (None, Ok(_), Some(why)) => Err(JobFailure::Job(JobError::new(
                wire::JobErrorKind::Failed,
                why,
            ))),
            (None, outcome, _) => outcome,
        };
        let info = slot.info.clone();
        if self.time_limit.follows_median()
            && outcome.is_ok()
            && !self.is_own_failure(&outcome)
            && let Some(started) = self.jobs.started(job)
            && self.time_limit.succeeded(started.elapsed())
        {
            self.follow_time_limit();
        }
        // The output is looked at only when it may run again.
        let retried = self.settings.retries > 0
            && self.is_own_failure(&outcome)
            && self.retry_own_failure(job, host);
        if !retried {
            self.finish(job, outcome, Some((host, info)));
        }
        Ok(())
    }

    /// Gives each running job the deadline of the time limit as it now
    /// stands (one that overran already is left to its worker's answer).
    fn follow_time_limit(&mut self) {
        let limit = self.time_limit.current();
        for entry in &mut self.slots {
            let Some(slot) = entry.slot.as_mut() else {
                continue;
            };
            if slot.overdue.is_some() {
                continue;
            }
            if let Some((id, deadline)) = slot.in_flight.first_mut()
                && let Some(started) = self.jobs.started(*id)
            {
                *deadline = limit.map(|t| after(started, t));
            }
        }
    }

    /// A file the running job of slot `index` brings back: its start, a
    /// chunk or its end. A file that fails is the job's failure.
    fn on_file_frame(&mut self, index: usize, frame: Frame) -> Result<(), SlotFailure> {
        let Some(slot) = self.slots[index].slot.as_mut() else {
            return Ok(());
        };
        let running = slot.in_flight.first().map(|(job, _)| *job);
        let Some(job) = running.and_then(|id| self.jobs.get_mut(id)) else {
            return Err(SlotFailure::Protocol(format!(
                "{} while no job runs",
                frame.name()
            )));
        };
        let failed = match frame {
            Frame::File {
                path, mode, size, ..
            } => {
                let started = match &job.files {
                    Some(files) => Download::start(files, &path, mode, size),
                    None => Err(format!(
                        "the worker sent back {path:?}, which the job did not ask for"
                    )),
                };
                started.map(|download| slot.download = Some(download))
            }
            Frame::FileData { data, .. } => match slot.download.as_mut() {
                Some(download) => download.write(&data),
                None => Ok(()),
            },
            Frame::FileEnd { crc, .. } => match slot.download.take() {
                Some(download) => download.finish(crc),
                None => Ok(()),
            },
            _ => Ok(()),
        };
        if let Err(why) = failed {
            slot.download = None;
            let _ = job.transfer_error.get_or_insert(why);
        }
        Ok(())
    }
}

/// `now + duration`, or a century from now for durations too large to add
/// (a "no limit" setting).
pub(crate) fn after(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .or_else(|| now.checked_add(Duration::from_hours(100 * 365 * 24)))
        .unwrap_or(now)
}
