//! The numbers of a pool: counters the pool's loop keeps up to date, read
//! from any thread as a [`PoolMetrics`] snapshot and logged on SIGUSR2.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use log::info;

use crate::remote::{Host, SlotInfo};

/// Live counters of one pool, written by the thread that drives the pool.
#[derive(Debug)]
pub(crate) struct PoolStats {
    pub(crate) name: String,
    pub(crate) queued: AtomicUsize,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) done: AtomicUsize,
    pub(crate) failed: AtomicUsize,
    pub(crate) retried: AtomicUsize,
    /// Reports a run in input order holds back, and their bytes.
    held: AtomicUsize,
    held_bytes: AtomicUsize,
    /// Streamed output a run holds back, in memory and in files.
    output_held: AtomicUsize,
    output_in_files: AtomicU64,
    pub(crate) hosts: Vec<HostStats>,
}

/// Live counters of one host of a pool.
#[derive(Debug)]
pub(crate) struct HostStats {
    pub(crate) name: String,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) slots: usize,
    pub(crate) alive: AtomicUsize,
    pub(crate) busy: AtomicUsize,
    pub(crate) dead: AtomicUsize,
    pub(crate) done: AtomicUsize,
    pub(crate) failed: AtomicUsize,
    /// Why a slot of the host failed last, `host:slot: reason`.
    pub(crate) last_failure: Mutex<Option<String>>,
    /// Slots whose job waits in a scheduler's queue (Slurm).
    pub(crate) pending: AtomicUsize,
    /// Of the pending slots, those srun said wait in the queue.
    pub(crate) queued: AtomicUsize,
    /// The workers of the slots that completed `HELLO`, by slot.
    pub(crate) workers: Mutex<Vec<Arc<SlotInfo>>>,
}

impl PoolStats {
    pub(crate) fn new(name: String, hosts: &[Host]) -> PoolStats {
        PoolStats {
            name,
            queued: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            retried: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            held_bytes: AtomicUsize::new(0),
            output_held: AtomicUsize::new(0),
            output_in_files: AtomicU64::new(0),
            hosts: hosts
                .iter()
                .map(|host| HostStats {
                    name: host.name.clone(),
                    tags: host.tags.clone(),
                    slots: host.slots,
                    alive: AtomicUsize::new(0),
                    busy: AtomicUsize::new(0),
                    dead: AtomicUsize::new(0),
                    done: AtomicUsize::new(0),
                    failed: AtomicUsize::new(0),
                    last_failure: Mutex::new(None),
                    pending: AtomicUsize::new(0),
                    queued: AtomicUsize::new(0),
                    workers: Mutex::new(Vec::new()),
                })
                .collect(),
        }
    }

    /// Records the reports a run in input order holds back.
    pub(crate) fn set_held(&self, reports: usize, bytes: usize) {
        self.held.store(reports, Ordering::Relaxed);
        self.held_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Records the streamed output a run holds back: bytes in memory and
    /// in temporary files.
    pub(crate) fn set_output_held(&self, in_memory: usize, in_files: u64) {
        self.output_held.store(in_memory, Ordering::Relaxed);
        self.output_in_files.store(in_files, Ordering::Relaxed);
    }

    /// A guard that clears the held reports when dropped: at the end of
    /// a run, also one left by a panic in its callback.
    pub(crate) fn held_until_dropped(self: &Arc<Self>) -> HeldReports {
        HeldReports(self.clone())
    }

    /// A snapshot of the counters.
    pub(crate) fn snapshot(&self) -> PoolMetrics {
        let hosts: Vec<HostMetrics> = self.hosts.iter().map(HostStats::snapshot).collect();
        PoolMetrics {
            name: self.name.clone(),
            slots_total: hosts.iter().map(|h| h.slots).sum(),
            slots_alive: hosts.iter().map(|h| h.alive).sum(),
            slots_busy: hosts.iter().map(|h| h.busy).sum(),
            slots_dead: hosts.iter().map(|h| h.dead).sum(),
            jobs_queued: load(&self.queued),
            jobs_in_flight: load(&self.in_flight),
            jobs_done: load(&self.done),
            jobs_failed: load(&self.failed),
            jobs_retried: load(&self.retried),
            reports_held: load(&self.held),
            reports_held_bytes: load(&self.held_bytes),
            output_held_bytes: load(&self.output_held),
            output_held_in_files: self.output_in_files.load(Ordering::Relaxed),
            hosts,
        }
    }
}

/// See [`PoolStats::held_until_dropped`].
pub(crate) struct HeldReports(Arc<PoolStats>);

impl Drop for HeldReports {
    fn drop(&mut self) {
        self.0.set_held(0, 0);
        self.0.set_output_held(0, 0);
    }
}

impl HostStats {
    fn snapshot(&self) -> HostMetrics {
        HostMetrics {
            name: self.name.clone(),
            tags: self.tags.clone(),
            slots: self.slots,
            alive: load(&self.alive),
            busy: load(&self.busy),
            dead: load(&self.dead),
            jobs_done: load(&self.done),
            jobs_failed: load(&self.failed),
            last_failure: self
                .last_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            pending: load(&self.pending),
            queued: load(&self.queued),
            workers: {
                let workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
                let mut workers: Vec<SlotInfo> = workers.iter().map(|w| (**w).clone()).collect();
                workers.sort_by_key(|w| slot_number(&w.label));
                workers
            },
        }
    }

    /// Records the worker of a slot (replacing the slot's previous one).
    pub(crate) fn set_worker(&self, info: Arc<SlotInfo>) {
        let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        workers.retain(|w| w.label != info.label);
        workers.push(info);
    }

    /// Records why a slot of the host failed.
    pub(crate) fn set_last_failure(&self, reason: String) {
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
    }
}

/// The `N` of a slot label `host:N`, for sorting.
fn slot_number(label: &str) -> usize {
    label
        .rsplit_once(':')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

fn load(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::Relaxed)
}

/// Adds one to a counter.
pub(crate) fn incr(counter: &AtomicUsize) {
    let _ = counter.fetch_add(1, Ordering::Relaxed);
}

/// Takes one from a counter.
pub(crate) fn decr(counter: &AtomicUsize) {
    let _ = counter.fetch_sub(1, Ordering::Relaxed);
}

/// A snapshot of a remote pool's numbers (part of
/// [`RuntimeMetrics`](crate::metrics::RuntimeMetrics) and of
/// [`Pool::metrics`](crate::remote::Pool::metrics)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// The pool's name, `pool-N` in a runtime.
    pub name: String,
    /// Slots of every host.
    pub slots_total: usize,
    /// Slots that completed their handshake and take jobs.
    pub slots_alive: usize,
    /// Slots with at least one job in flight.
    pub slots_busy: usize,
    /// Slots dead for good.
    pub slots_dead: usize,
    /// Jobs waiting for a slot.
    pub jobs_queued: usize,
    /// Jobs sent to a slot and not answered yet.
    pub jobs_in_flight: usize,
    /// Jobs with a final outcome, output or failure.
    pub jobs_done: usize,
    /// Of `jobs_done`, the jobs without an output (job errors, exhausted
    /// attempts, cancelled, not run).
    pub jobs_failed: usize,
    /// Attempts started again after a slot failure.
    pub jobs_retried: usize,
    /// Reports of a [`Pool`](crate::remote::Pool) run in input order held
    /// back until the jobs before them end (see
    /// [`PoolBuilder::max_held_bytes`](crate::remote::PoolBuilder::max_held_bytes)).
    pub reports_held: usize,
    /// Their bytes.
    pub reports_held_bytes: usize,
    /// Bytes of streamed output a run holds back in memory until it may
    /// hand it on (at most
    /// [`PoolBuilder::max_held_bytes`](crate::remote::PoolBuilder::max_held_bytes)).
    pub output_held_bytes: usize,
    /// Bytes of streamed output held back in temporary files, past that.
    pub output_held_in_files: u64,
    /// The same per host.
    pub hosts: Vec<HostMetrics>,
}

/// The numbers of one host of a remote pool.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostMetrics {
    /// The host's name.
    pub name: String,
    /// The host's tags.
    pub tags: Vec<(String, String)>,
    /// Slots of the host.
    pub slots: usize,
    /// Slots that completed their handshake and take jobs.
    pub alive: usize,
    /// Slots with at least one job in flight.
    pub busy: usize,
    /// Slots dead for good.
    pub dead: usize,
    /// Jobs this host answered (outputs and job errors).
    pub jobs_done: usize,
    /// Of those, the jobs whose own code returned an error.
    pub jobs_failed: usize,
    /// Why a slot of the host failed last (`host:slot: reason`), if one
    /// did.
    pub last_failure: Option<String>,
    /// Slots whose job has not started yet (a Slurm host's: waiting in
    /// the queue, or allocated and starting).
    pub pending: usize,
    /// Of the pending slots, those known to wait in the scheduler's queue
    /// (srun said "queued and waiting for resources": the cluster has no
    /// room for them now); the others are allocated and starting, or
    /// srun has not said yet.
    pub queued: usize,
    /// The live slots' workers, in slot order: where each runs (for a
    /// Slurm host: the node and job id).
    pub workers: Vec<SlotInfo>,
}

impl PoolMetrics {
    /// Logs the pool's record, one per host and one per live slot (where
    /// its worker runs) (`target: "metrics"`).
    pub(crate) fn log(&self) {
        info!(
            target: "metrics",
            pool:% = self.name,
            slots_total = self.slots_total,
            slots_alive = self.slots_alive,
            slots_busy = self.slots_busy,
            slots_dead = self.slots_dead,
            jobs_queued = self.jobs_queued,
            jobs_in_flight = self.jobs_in_flight,
            jobs_done = self.jobs_done,
            jobs_failed = self.jobs_failed,
            jobs_retried = self.jobs_retried,
            reports_held = self.reports_held,
            reports_held_bytes = self.reports_held_bytes,
            output_held_bytes = self.output_held_bytes,
            output_held_in_files = self.output_held_in_files;
            "remote pool metrics"
        );
        for host in &self.hosts {
            info!(
                target: "metrics",
                pool:% = self.name,
                host:% = host.name,
                slots = host.slots,
                alive = host.alive,
                busy = host.busy,
                dead = host.dead,
                pending = host.pending,
                queued = host.queued,
                jobs_done = host.jobs_done,
                jobs_failed = host.jobs_failed;
                "remote pool host metrics"
            );
            for worker in &host.workers {
                info!(
                    target: "metrics",
                    pool:% = self.name,
                    slot:% = worker.label,
                    node:% = worker.node,
                    pid = worker.pid,
                    slurm_job:% = worker.slurm_job.as_deref().unwrap_or("-");
                    "remote pool slot"
                );
            }
        }
    }
}
