//! Slot supervision: each slot's place in the pool ([`SlotEntry`]), when
//! it starts and starts again, its deadlines (handshake, the running
//! job's time limit), and what happens when it fails: its process is
//! killed, why is diagnosed (`failure.rs`), its jobs go back to the queue
//! or end, and it is restarted with back-off or given up for good.

use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::Registry;

use super::liveness::{ping_due, silent_at};
use super::window::{Window, WindowPolicy};
use super::{Engine, Phase, Settings, after};
use crate::remote::Transport;
use crate::remote::failure::{Ending, diagnose};
use crate::remote::mux::{Gate, MASTER_CHECK, MasterFailure};
use crate::remote::slot::{Counters, Slot, Stage, TOKENS_PER_SLOT};
use crate::remote::stats::{decr, incr};
use crate::remote::wire::Frame;
use crate::remote::{FailedSlot, Host, JobFailure, SlotFailure, SlotLost};

/// How long a failed slot that closed its stdout gets to exit with its own
/// status before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(2);
/// How often the status of such a slot is checked.
const EXIT_CHECK: Duration = Duration::from_millis(5);

/// Starts after this many failed starts in a row make a slot dead for good.
const MAX_FAILED_STARTS: u32 = 5;

/// How long a slot of a host none of whose slots ever started keeps
/// trying: a host that refuses connections (it may be booting) gets its
/// five quick starts, one whose every start times out (down, or a
/// firewall that drops the packets: ssh's 10 s each, 50 s in all) is
/// given up once its starts took this long (GNU parallel and pdsh give up
/// after the first).
const UNREACHED_PATIENCE: Duration = Duration::from_secs(10);

/// A slot's place in the pool, alive or not.
pub(super) struct SlotEntry {
    pub(super) host: usize,
    /// Its place among its host's slots, from 0.
    in_host: usize,
    /// Times it was started: a restart takes the next place (see
    /// [`placement`]).
    starts: usize,
    label: String,
    pub(super) slot: Option<Slot>,
    /// When to start (again).
    respawn_at: Option<Instant>,
    /// Failed starts in a row (before a handshake completed).
    pub(super) failed_starts: u32,
    /// It once took jobs (its host can be reached).
    pub(super) ready_once: bool,
    /// When it first started (or its host's login first failed for it).
    first_start: Option<Instant>,
    /// Set when the slot is dead for good: why.
    pub(super) dead: Option<FailedSlot>,
    /// `SHUTDOWN` sent: its end of stdout is the slot exiting, not a failure.
    closing: bool,
    /// Due to start, it waits for its host's master to log in, since
    /// then (it counts as up under `max_running` meanwhile).
    pub(super) master_wait: Option<Instant>,
    /// A failed slot that closed its stdout, until its exit status is known
    /// (see [`Slot::is_exiting`]).
    exiting: Option<Exiting>,
    /// Jobs sent ahead to it, learnt over its starts (see `window.rs`).
    pub(super) window: Window,
    /// The `PING` sent when the worker answered `HELLO`, and when, until
    /// its `PONG`: a round trip of the link.
    pub(super) rtt_probe: Option<(u64, Instant)>,
    /// Its first job in flight was sent while it had none (its time
    /// includes a round trip).
    pub(super) head_sent_idle: bool,
    /// When it last ran out of jobs, on the engine's count of such ends
    /// ([`Engine::freed`]); `None` until a job of it ended (see
    /// [`offer_order`]).
    pub(super) freed_at: Option<u64>,
}

struct Exiting {
    slot: Slot,
    failure: SlotFailure,
    /// When to stop waiting for the status and kill it.
    deadline: Instant,
}

impl SlotEntry {
    /// The slots of `hosts`, in order, each due to start at `now`.
    pub(super) fn all(hosts: &[Host], now: Instant, window: WindowPolicy) -> Vec<SlotEntry> {
        hosts
            .iter()
            .enumerate()
            .flat_map(|(host, h)| {
                (1..=h.slots).map(move |index| SlotEntry {
                    host,
                    in_host: index - 1,
                    starts: 0,
                    label: format!("{}:{index}", h.name),
                    slot: None,
                    respawn_at: Some(now),
                    failed_starts: 0,
                    ready_once: false,
                    first_start: None,
                    dead: None,
                    closing: false,
                    master_wait: None,
                    exiting: None,
                    window: Window::new(window.for_transport(&h.transport)),
                    rtt_probe: None,
                    head_sent_idle: false,
                    freed_at: None,
                })
            })
            .collect()
    }

    /// True if the slot has no job in flight.
    pub(super) fn is_idle(&self) -> bool {
        // A failed slot waiting for its exit holds jobs until it is retired.
        self.slot.as_ref().is_none_or(|s| s.in_flight.is_empty())
            && self
                .exiting
                .as_ref()
                .is_none_or(|e| e.slot.in_flight.is_empty())
    }

    /// True if no process of the slot is left.
    pub(super) fn is_gone(&self) -> bool {
        self.slot.is_none() && self.exiting.is_none()
    }

    /// The earliest deadline of the slot: its handshake, its running job
    /// (unless it overran and the pool waits for the worker's answer; then
    /// the end of the job's stop), its
    /// next ping and its silence limit, its restart (while the pool is
    /// `running`), or the next look at a failed slot's exit.
    pub(super) fn next_deadline(&self, running: bool, slot_timeout: Duration) -> Option<Instant> {
        let slot = self.slot.as_ref();
        let stage = slot.map(|s| match s.stage {
            Stage::Hello(d) | Stage::Session(d) | Stage::Base(d) => d,
            Stage::Ready => ping_due(s, slot_timeout).min(silent_at(s, slot_timeout)),
        });
        let jobs = slot
            .filter(|s| s.overdue.is_none())
            .into_iter()
            .flat_map(|s| s.in_flight.iter().filter_map(|(_, d)| *d));
        // The end of a job's stop counts once its worker answered; until
        // then its ping and silence deadlines drive the slot (a past `by`
        // with nothing to do would spin the driver).
        let stopped = (slot.and_then(|s| s.stopping.as_ref()))
            .filter(|stop| stop.answered)
            .map(|stop| stop.by);
        let respawn = self
            .respawn_at
            .filter(|_| running && self.dead.is_none() && self.slot.is_none());
        let exiting = self
            .exiting
            .as_ref()
            .map(|e| e.deadline.min(Instant::now() + EXIT_CHECK));
        stage
            .into_iter()
            .chain(jobs)
            .chain(stopped)
            .chain(respawn)
            .chain(exiting)
            .min()
    }
}

/// True while some slot marked in `eligible` is not dead for good.
pub(super) fn can_run(slots: &[SlotEntry], eligible: &[bool]) -> bool {
    slots
        .iter()
        .zip(eligible)
        .any(|(entry, eligible)| *eligible && entry.dead.is_none())
}

/// Why the slots marked in `eligible` died.
pub(super) fn dead_reasons(slots: &[SlotEntry], eligible: &[bool]) -> Vec<FailedSlot> {
    slots
        .iter()
        .zip(eligible)
        .filter(|(_, eligible)| **eligible)
        .filter_map(|(entry, _)| entry.dead.clone())
        .collect()
}

/// The `SESSION_INIT` of slot `number` of `host`: the pool's variables
/// (the host's own win) and the host's working directory.
fn session_frame(settings: &Settings, host: &Host, number: u32) -> Frame {
    let slot_timeout = settings.slot_timeout.as_millis();
    Frame::SessionInit {
        handlers: Vec::new(),
        config: Vec::new(),
        slot_timeout_ms: u64::try_from(slot_timeout).unwrap_or(u64::MAX).max(1),
        slot: number,
        env: (settings.env.iter())
            .filter(|(name, _)| !host.env.iter().any(|(n, _)| n == name))
            .chain(&host.env)
            .cloned()
            .collect(),
        workdir: host.workdir.clone(),
    }
}

/// Where the slot `in_host` of its host starts, the time after `starts`
/// earlier starts: its own place first, then one further each restart. A
/// Slurm slot's place names its node of the allocation, so a slot whose
/// node crashed comes back on the next node instead of waiting for the
/// dead one for ever.
fn placement(in_host: usize, starts: usize) -> usize {
    in_host.wrapping_add(starts.saturating_sub(1))
}

/// Fills `order` with the slots in the order they are offered jobs, as
/// GNU parallel hands out its job slots (`{%}`): first the idle slots
/// that ran jobs, the one that ran out of jobs first first, then the
/// slots that never ran one, in order, then the busy ones (a window
/// longer than one job), in order. While a slot of this machine is still
/// in its first start (not one that waits to start, under `max_running`),
/// no slot of its host is offered a job: the first
/// jobs go to slots 1, 2, 3 .. in order, whichever of them is ready
/// first, and a job that ends quickly does not hand its slot to a job
/// meant for a fresh slot (these slots start in milliseconds; a failed
/// first start ends the wait).
pub(super) fn offer_order(slots: &[SlotEntry], hosts: &[Host], order: &mut Vec<usize>) {
    let mut starting = vec![false; hosts.len()];
    for entry in slots {
        if crate::remote::transfer::is_shared(&hosts[entry.host].transport)
            && entry.starts > 0
            && !entry.ready_once
            && entry.dead.is_none()
            && entry.failed_starts == 0
        {
            starting[entry.host] = true;
        }
    }
    order.clear();
    order.extend((0..slots.len()).filter(|&index| !starting[slots[index].host]));
    order.sort_by_key(|&index| {
        let entry = &slots[index];
        match (entry.is_idle(), entry.freed_at) {
            (true, Some(freed)) => (0, freed),
            (true, None) => (1, index as u64),
            (false, _) => (2, index as u64),
        }
    });
}

impl Engine {
    /// Starts the slots whose (re)start time has come; the slots of an ssh
    /// host through its master (see `mux.rs`), which is started first and
    /// waited for.
    pub(super) fn start_slots(&mut self, registry: &Registry, now: Instant) {
        self.mux.update(now);
        let mut up = self.slots_up();
        for index in 0..self.slots.len() {
            let entry = &self.slots[index];
            if entry.slot.is_some()
                || entry.exiting.is_some()
                || entry.dead.is_some()
                || entry.respawn_at.is_none_or(|at| at > now)
            {
                continue;
            }
            if entry.master_wait.is_none() && self.waits_for_room(index, up) {
                continue;
            }
            let entry = &mut self.slots[index];
            if entry.master_wait.is_none() {
                up += 1;
            }
            let host_index = entry.host;
            let host = &self.hosts[host_index];
            let control =
                match self
                    .mux
                    .gate(host_index, host, now, self.settings.handshake_timeout)
                {
                    Gate::Direct => None,
                    Gate::Through(socket) => Some(socket),
                    Gate::Wait => {
                        entry.respawn_at = Some(now + MASTER_CHECK);
                        let _ = entry.master_wait.get_or_insert(now);
                        continue;
                    }
                    Gate::Failed(failure) => {
                        entry.master_wait = None;
                        entry.respawn_at = None;
                        let _ = entry.first_start.get_or_insert(now);
                        self.master_failed(index, &failure);
                        continue;
                    }
                };
            // --ssh-delay: an ssh session (or login) waits its turn.
            if matches!(host.transport, Transport::Ssh { .. })
                && let Some(at) = self.mux.pace.not_before(now)
            {
                entry.respawn_at = Some(at);
                continue;
            }
            entry.respawn_at = None;
            entry.master_wait = None;
            entry.closing = false;
            entry.rtt_probe = None;
            entry.starts += 1;
            let _ = entry.first_start.get_or_insert(now);
            let deadline = after(now, self.settings.handshake_timeout);
            let counters = Counters {
                stats: self.stats.clone(),
                host: entry.host,
            };
            let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let session = session_frame(&self.settings, host, number);
            match Slot::spawn(
                host,
                control.as_deref(),
                counters,
                (
                    entry.label.clone(),
                    number,
                    placement(entry.in_host, entry.starts),
                ),
                session,
                registry,
                self.base + index * TOKENS_PER_SLOT,
                deadline,
                self.settings.max_frame,
            ) {
                Ok(slot) => self.slot_started(index, slot, now),
                Err(err) => self.not_spawned(index, &err),
            }
        }
        // The slots due now were told; the next one due logs in again.
        self.mux.clear_failed();
        self.park_idle_slots(now, up);
    }

    /// Slot `index` started `slot`.
    fn slot_started(&mut self, index: usize, slot: Slot, now: Instant) {
        let entry = &mut self.slots[index];
        let host = &self.hosts[entry.host];
        if matches!(host.transport, Transport::Ssh { .. }) {
            self.mux.pace.started(now);
        }
        debug!(slot:% = entry.label, transport:% = host.transport; "slot started");
        entry.slot = Some(slot);
    }

    /// The slots up under `max_running`: started (or exiting), or waiting
    /// for their host's master to log in.
    pub(super) fn slots_up(&self) -> usize {
        self.slots
            .iter()
            .filter(|entry| !entry.is_gone() || entry.master_wait.is_some())
            .count()
    }

    /// True if slot `index`, not up, does not start now though due: under
    /// `max_running` slots start only as jobs need them, at most that many
    /// up at once (`up` now), as pdsh's fanout opens at most that many
    /// connections: none while no queued job may run on it.
    pub(super) fn waits_for_room(&self, index: usize, up: usize) -> bool {
        self.settings
            .max_running
            .is_some_and(|max| up >= max || !self.jobs.queued_for(index))
    }

    /// Under `max_running`, with `up` slots up and slots due that wait
    /// for room with a job for them: closes as many idle slots that no
    /// queued job may run on (`SHUTDOWN`), which start again when a job
    /// needs them. With one job per host (pdsh's fanout), a host's slot
    /// ends with its job, and the next host's starts.
    fn park_idle_slots(&mut self, now: Instant, up: usize) {
        let Some(max) = self.settings.max_running else {
            return;
        };
        let mut waiting = (0..self.slots.len())
            .filter(|&index| {
                let entry = &self.slots[index];
                entry.is_gone()
                    && entry.dead.is_none()
                    && entry.master_wait.is_none()
                    && entry.respawn_at.is_some_and(|at| at <= now)
                    && self.jobs.queued_for(index)
            })
            .count()
            .saturating_sub(max.saturating_sub(up));
        for index in 0..self.slots.len() {
            if waiting == 0 {
                break;
            }
            let queued = self.jobs.queued_for(index);
            let entry = &mut self.slots[index];
            let Some(slot) = entry.slot.as_mut() else {
                continue;
            };
            if entry.closing || queued || slot.stage != Stage::Ready || !slot.in_flight.is_empty() {
                continue;
            }
            debug!(slot:% = entry.label; "slot closed to make room for another");
            let _ = slot.send(&Frame::Shutdown);
            slot.close_stdin();
            entry.closing = true;
            entry.respawn_at = Some(now);
            waiting -= 1;
        }
    }

    /// Slot `index`'s process could not be started: restarted with
    /// back-off when resources ran short, dead for good otherwise.
    fn not_spawned(&mut self, index: usize, err: &std::io::Error) {
        let entry = &mut self.slots[index];
        let transport = self.hosts[entry.host].transport.to_string();
        let error = err.to_string();
        let short = is_shortage(err);
        let failure = if short {
            SlotFailure::NoResources { transport, error }
        } else {
            SlotFailure::CannotStart { transport, error }
        };
        let failed = FailedSlot::new(&entry.label, failure);
        warn!(slot:% = entry.label; "{}", failed.reason());
        self.stats.hosts[entry.host].set_last_failure(failed.to_string());
        if short {
            self.plan_restart(index, false, failed);
        } else {
            entry.dead = Some(failed);
            incr(&self.stats.hosts[entry.host].dead);
        }
    }

    /// Slot `index` did not start: its host's master could not log in
    /// (see `mux.rs`). Said as the slot's own ssh would have ended, and
    /// restarted with back-off, or dead for good, as such a slot.
    fn master_failed(&mut self, index: usize, failure: &MasterFailure) {
        let entry = &self.slots[index];
        let host = &self.hosts[entry.host];
        let failed = if let Some(error) = &failure.spawn_error {
            FailedSlot::new(
                &entry.label,
                SlotFailure::CannotStart {
                    transport: host.transport.to_string(),
                    error: error.clone(),
                },
            )
        } else if let Some(within) = failure.timed_out {
            FailedSlot::new(&entry.label, SlotFailure::NoHandshake { within })
        } else {
            let ending = Ending {
                status: failure.status,
                by_itself: true,
                handshaken: false,
                stderr: &failure.stderr,
                transport: &host.transport,
            };
            diagnose(
                &entry.label,
                SlotFailure::WorkerExited { status: None },
                &ending,
            )
        };
        warn!(slot:% = entry.label; "slot failed: {}", failed.reason());
        self.stats.hosts[entry.host].set_last_failure(failed.to_string());
        self.plan_restart(index, false, failed);
    }

    /// Kills slot `index` now, a failed one waiting for its exit too, and
    /// cancels their jobs; it is not started again.
    pub(super) fn kill_slot(&mut self, registry: &Registry, index: usize) {
        let entry = &mut self.slots[index];
        entry.respawn_at = None;
        let reason = format!("{}: the pool was stopped", entry.label);
        // A failed slot waiting for its exit still holds its jobs.
        if let Some(mut exiting) = entry.exiting.take() {
            let _ = exiting.slot.kill(registry);
            self.cancel_in_flight(&mut exiting.slot, &reason);
            self.stop_later(exiting.slot);
        }
        let Some(mut slot) = self.slots[index].slot.take() else {
            return;
        };
        let _ = slot.kill(registry);
        self.slot_gone(index, &slot);
        self.cancel_in_flight(&mut slot, &reason);
        self.stop_later(slot);
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
    pub(super) fn fail_slot(&mut self, registry: &Registry, index: usize, failure: SlotFailure) {
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
    pub(super) fn reap_exiting(&mut self, registry: &Registry, now: Instant) {
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

    /// Kills the slot's process, says why it failed, puts its jobs back,
    /// and plans a restart (or declares the slot dead for good).
    fn retire(&mut self, registry: &Registry, index: usize, mut slot: Slot, failure: SlotFailure) {
        let by_itself = slot.has_exited();
        let status = slot.kill(registry);
        let entry = &self.slots[index];
        if entry.closing && matches!(failure, SlotFailure::WorkerExited { .. }) {
            debug!(slot:% = entry.label; "slot closed");
            self.stop_later(slot);
            return;
        }
        let handshaken = slot.stage == Stage::Ready;
        let ending = Ending {
            status,
            by_itself,
            handshaken,
            stderr: &slot.stderr_tail,
            transport: &self.hosts[entry.host].transport,
        };
        let failed = diagnose(&entry.label, failure, &ending);
        let (host, jobs) = (entry.host, slot.in_flight.len());
        warn!(slot:% = entry.label, jobs = jobs; "slot failed: {}", failed.reason());
        self.stats.hosts[host].set_last_failure(failed.to_string());
        let requeued = self.requeue_in_flight(&mut slot, &failed);
        if handshaken && let Some(hook) = &self.settings.on_slot_lost {
            (hook.0)(&SlotLost {
                host: self.hosts[host].name.clone(),
                failed: failed.clone(),
                requeued,
                ended: jobs - requeued,
            });
        }
        self.plan_restart(index, handshaken, failed);
        self.stop_later(slot);
    }

    /// Puts the jobs of a failed slot back at the head of the queue, in
    /// the order they were sent; the running one has used an attempt (past
    /// `max_attempts` it fails with its history), the ones behind it have
    /// not. While the pool stops they are cancelled instead. Returns how
    /// many went back.
    fn requeue_in_flight(&mut self, slot: &mut Slot, failed: &FailedSlot) -> usize {
        let mut requeued = 0;
        for (id, _) in slot.in_flight.drain(..).rev() {
            decr(&self.stats.in_flight);
            let Some(job) = self.jobs.get_mut(id) else {
                continue;
            };
            // A job that waited behind the running one never started: the
            // slot's failure is not one of its attempts.
            let ran = job.started.is_some();
            if ran {
                job.history.push(failed.clone());
            }
            // Its output went out as it came: run again, it would go out
            // twice.
            if ran && job.output_went_out() {
                let failure = JobFailure::OutputCut {
                    slot: failed.clone(),
                };
                self.finish(id, Err(failure), None);
                continue;
            }
            let stopping = self.phase != Phase::Running || self.paused;
            if ran && !stopping && job.history.len() >= self.settings.max_attempts as usize {
                let history = job.history.clone();
                self.finish(id, Err(JobFailure::Exhausted { history }), None);
                continue;
            }
            let why = || format!("{failed}; not retried, the pool is stopping");
            requeued += usize::from(self.put_back(id, ran, why));
        }
        requeued
    }

    /// Puts job `id`, taken from a slot that ends, back at the head of its
    /// queue: `ran` if it was running (a retry), not if it waited behind
    /// the running one (its attempt is given back). While the pool stops
    /// it is cancelled instead, `why`. Returns true if it went back.
    fn put_back(&mut self, id: usize, ran: bool, why: impl FnOnce() -> String) -> bool {
        let retry = self.phase == Phase::Running && !self.paused;
        let Some(job) = self.jobs.get_mut(id) else {
            return false;
        };
        if !ran {
            job.attempts = job.attempts.saturating_sub(1);
        }
        if !retry {
            self.finish(id, Err(JobFailure::Cancelled(why())), None);
            return false;
        }
        // Its run time counts from its next start.
        job.started = None;
        if ran {
            self.jobs.restart_output(id);
        }
        self.jobs.queue_front(id);
        incr(&self.stats.queued);
        if ran {
            incr(&self.stats.retried);
        }
        true
    }

    /// Ends the job that overran its time limit on slot `index` and did
    /// not stop when its worker, which answers, was asked (see
    /// [`Engine::end_running_job`]): it ends timed out, or runs again
    /// within the pool's retries.
    pub(super) fn end_overrun_job(&mut self, registry: &Registry, index: usize) {
        let entry = &mut self.slots[index];
        let Some(stop) = entry.slot.as_mut().and_then(|slot| slot.stopping.take()) else {
            return;
        };
        info!(slot:% = entry.label; "a job ran past its time limit and did not stop within its termination sequence; its worker was killed to end it");
        self.end_running_job(registry, index, "which timed out", stop.failure);
    }

    /// Ends the job running on slot `index`, a failure of its own (it
    /// timed out, it was killed for memory): the slot's process is killed
    /// (the only way to stop a handler), the job ends with `failure` (or
    /// runs again, within the pool's retries), the jobs behind it go back
    /// to the queue without using an attempt (`why` the job before them
    /// ended, should they be cancelled instead), and the slot starts again
    /// at once: nothing is wrong with it.
    pub(super) fn end_running_job(
        &mut self,
        registry: &Registry,
        index: usize,
        why: &str,
        failure: JobFailure,
    ) {
        let Some(mut slot) = self.slots[index].slot.take() else {
            return;
        };
        self.slot_gone(index, &slot);
        let _ = slot.kill(registry);
        let entry = &mut self.slots[index];
        if self.phase == Phase::Running {
            entry.respawn_at = Some(Instant::now());
        }
        let (host, info, label) = (entry.host, slot.info.clone(), entry.label.clone());
        let mut in_flight = slot.in_flight.drain(..);
        let running = in_flight.next();
        let waiting: Vec<usize> = in_flight.map(|(id, _)| id).collect();
        for id in waiting.into_iter().rev() {
            decr(&self.stats.in_flight);
            let why = || {
                format!(
                    "{label}: killed to end the job before it, {why}; not retried, the pool is stopping"
                )
            };
            let _ = self.put_back(id, false, why);
        }
        if let Some((id, _)) = running {
            decr(&self.stats.in_flight);
            if !self.retry_own_failure(id, host) {
                self.finish(id, Err(failure), Some((host, info)));
            }
        }
        self.stop_later(slot);
    }

    /// Restarts a failed slot with back-off, or gives it up for good when
    /// its failure is permanent or it failed to start too often.
    fn plan_restart(&mut self, index: usize, handshaken: bool, failed: FailedSlot) {
        let host = self.slots[index].host;
        let reached = (self.slots.iter()).any(|entry| entry.host == host && entry.ready_once);
        let entry = &mut self.slots[index];
        if !handshaken {
            entry.failed_starts += 1;
        }
        let out_of_patience = !reached
            && !handshaken
            && entry
                .first_start
                .is_some_and(|first| first.elapsed() >= UNREACHED_PATIENCE);
        if failed.failure.is_permanent()
            || entry.failed_starts >= MAX_FAILED_STARTS
            || out_of_patience
        {
            info!(slot:% = entry.label; "slot dead for good: {}", failed.reason());
            entry.dead = Some(failed);
            incr(&self.stats.hosts[entry.host].dead);
        } else if self.phase == Phase::Running {
            entry.respawn_at = Some(Instant::now() + backoff(entry.failed_starts, index));
        }
    }

    /// Fails slots whose handshake or job is past its deadline.
    pub(super) fn check_timeouts(&mut self, registry: &Registry, now: Instant) {
        for index in 0..self.slots.len() {
            let expired = |slot: &Slot| {
                let handshake = match slot.stage {
                    Stage::Hello(deadline) | Stage::Session(deadline) | Stage::Base(deadline) => {
                        deadline <= now
                    }
                    Stage::Ready => false,
                };
                // An overrun job already waits for its worker's answer.
                handshake
                    || slot.overdue.is_none()
                        && slot
                            .in_flight
                            .iter()
                            .any(|(_, deadline)| deadline.is_some_and(|d| d <= now))
            };
            // The answer may be in the pipe already, unread while the
            // driver was busy (a slow callback, a full stdout): read it
            // before calling the job (or the handshake) late.
            if self.slots[index].slot.as_ref().is_some_and(expired) {
                let before = self.slots[index].slot.as_ref().map(Slot::bytes_read);
                self.read_slot(registry, index, true);
                // Part of an answer came and the rest is on its way (a
                // worker writes a result once its job is done; a large one
                // takes more than one pipe's worth): not late while bytes
                // keep coming.
                if let Some(slot) = self.slots[index].slot.as_mut()
                    && slot.inside_a_frame()
                    && before.is_some_and(|b| slot.bytes_read() > b)
                {
                    let limit = self.time_limit.current().map(|t| after(now, t));
                    for (_, deadline) in &mut slot.in_flight {
                        if deadline.is_some_and(|d| d <= now) {
                            *deadline = limit;
                        }
                    }
                }
            }
            let Some(slot) = self.slots[index].slot.as_mut() else {
                continue;
            };
            let failure = match slot.stage {
                Stage::Hello(deadline) | Stage::Session(deadline) if deadline <= now => {
                    Some(slot.start_timeout(self.settings.handshake_timeout))
                }
                // Sent again, they would take as long again.
                Stage::Base(deadline) if deadline <= now => Some(SlotFailure::BaseFiles(
                    "not placed in time (the handshake's time limit, and 1 MB/s for \
                     their size): is the link that slow? give the pool a longer handshake \
                     time limit"
                        .to_owned(),
                )),
                Stage::Ready
                    if slot.overdue.is_none()
                        && slot
                            .in_flight
                            .iter()
                            .any(|(_, d)| d.is_some_and(|d| d <= now)) =>
                {
                    // Its job overran: its worker is asked to stop it, and
                    // pinged: is the worker still there? Its answer says
                    // (see `liveness.rs`).
                    let after = self.time_limit.current().unwrap_or_default();
                    let failure = JobFailure::TimedOut {
                        after,
                        returned: None,
                    };
                    slot.stop_running_job(now, &self.settings.term_sequence, failure)
                        .err()
                        .map(|err| SlotFailure::WriteFailed(err.to_string()))
                }
                _ => None,
            };
            if let Some(failure) = failure {
                self.fail_slot(registry, index, failure);
                continue;
            }
            // Alive, but its job did not stop in time: killed with it.
            if self.slots[index]
                .slot
                .as_ref()
                .and_then(|slot| slot.stopping.as_ref())
                .is_some_and(|stop| stop.answered && stop.by <= now)
            {
                self.end_overrun_job(registry, index);
            }
        }
    }

    /// Sends `SHUTDOWN` to every slot that takes jobs; kills the ones still
    /// starting when they are not within their handshake.
    pub(super) fn close_slots(&mut self, registry: &Registry) {
        self.phase = Phase::Closing;
        for index in 0..self.slots.len() {
            let entry = &mut self.slots[index];
            entry.respawn_at = None;
            entry.closing = true;
            if let Some(mut exiting) = entry.exiting.take() {
                let _ = exiting.slot.kill(registry);
                self.stop_later(exiting.slot);
            }
            let entry = &mut self.slots[index];
            let Some(slot) = entry.slot.as_mut() else {
                continue;
            };
            if slot.stage == Stage::Ready {
                let _ = slot.send(&Frame::Shutdown);
                slot.close_stdin();
            } else if let Some(mut slot) = entry.slot.take() {
                let _ = slot.kill(registry);
                self.stop_later(slot);
            }
        }
        debug!(pool:% = self.stats.name; "remote pool closing its slots");
    }
}

/// True if starting a process failed for want of resources that may come
/// back: descriptors (the process's or the system's), processes, memory.
fn is_shortage(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::EAGAIN | libc::ENOMEM)
    )
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
    let jitter = base.mul_f64(f64::from(u16::try_from(nanos % 1000).unwrap_or(0)) / 4000.0);
    base + jitter
}

#[cfg(test)]
mod tests {
    use super::placement;

    /// A slot starts at its own place, and each restart moves it one
    /// further: with a Slurm allocation of 3 nodes, slot 2 of its host (on
    /// the third node) comes back on the first after its node crashed.
    #[test]
    fn a_restarted_slot_takes_the_next_place() {
        assert_eq!(placement(2, 1), 2);
        assert_eq!(placement(2, 2), 3);
        assert_eq!(placement(2, 3), 4);
        assert_eq!(placement(0, 1), 0);
    }
}
