//! Metrics: snapshots readable in code, and the log records written on
//! SIGUSR2.
//!
//! [`RuntimeMetrics`] is a snapshot taken on demand
//! ([`RuntimeRef::metrics`](crate::RuntimeRef::metrics) and friends). On
//! SIGUSR2 the coordinator logs one `target: "metrics"` record with its own
//! fields and one per sync actor thread, and asks every worker to log its
//! own.

use std::time::{Duration, Instant};

use log::info;

use crate::remote::PoolMetrics;
use crate::runtime::RuntimeShared;
use crate::signal::Signal;
use crate::sys;
use crate::worker::WorkerWake;

/// A snapshot of a runtime's numbers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Name of the runtime.
    pub name: String,
    /// Version of hearth.
    pub version: &'static str,
    /// Host name of the machine.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Time since the runtime was built.
    pub uptime: Duration,
    /// Number of worker threads.
    pub worker_threads: usize,
    /// Number of sync actor threads started.
    pub sync_actors: usize,
    /// The process signals the runtime handles.
    pub process_signals: Vec<Signal>,
    /// Number of actors that receive process signals.
    pub process_signal_receivers: usize,
    /// CPU time of the coordinator thread (`None` before `start`).
    pub cpu_time: Option<Duration>,
    /// CPU time of the whole process.
    pub total_cpu_time: Duration,
    /// True once a graceful shutdown has begun.
    pub shutting_down: bool,
    /// One entry per worker thread.
    pub workers: Vec<WorkerMetrics>,
    /// One entry per sync actor thread.
    pub sync_workers: Vec<SyncWorkerMetrics>,
    /// One entry per remote pool of the runtime.
    pub remote_pools: Vec<PoolMetrics>,
}

/// The numbers of one worker thread.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Worker id, starting at 1.
    pub id: usize,
    /// Thread-local processes ready to run.
    pub scheduler_ready: usize,
    /// Thread-local processes waiting for an event.
    pub scheduler_inactive: usize,
    /// Timers armed on the worker.
    pub timers_total: usize,
    /// Time until the next timer fires, if any.
    pub timers_next: Option<Duration>,
    /// CPU time of the thread (`None` once it ended).
    pub cpu_time: Option<Duration>,
}

/// The numbers of one sync actor thread.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncWorkerMetrics {
    /// Sync worker id, starting at 1.
    pub id: usize,
    /// Name of the actor it runs.
    pub actor: &'static str,
    /// True while the thread runs.
    pub alive: bool,
    /// CPU time of the thread (`None` once it ended).
    pub cpu_time: Option<Duration>,
}

impl RuntimeMetrics {
    pub(crate) fn collect(shared: &RuntimeShared) -> RuntimeMetrics {
        let workers: Vec<WorkerMetrics> = shared
            .workers
            .iter()
            .map(|w| WorkerMetrics::of(w))
            .collect();
        let sync_workers: Vec<SyncWorkerMetrics> = shared
            .sync_workers()
            .iter()
            .map(|info| info.metrics())
            .collect();
        RuntimeMetrics {
            name: shared.name.clone(),
            version: env!("CARGO_PKG_VERSION"),
            host: sys::host_name().unwrap_or_else(|_| "unknown".to_owned()),
            pid: std::process::id(),
            ppid: std::os::unix::process::parent_id(),
            uptime: shared.started_at.elapsed(),
            worker_threads: workers.len(),
            sync_actors: sync_workers.len(),
            process_signals: Signal::ALL.to_vec(),
            process_signal_receivers: shared.signal_receivers.live(),
            cpu_time: shared
                .coordinator_clock
                .get()
                .and_then(|clock| clock.elapsed().ok()),
            total_cpu_time: sys::process_cpu_time().unwrap_or_default(),
            shutting_down: shared.shutdown.is_stopping(),
            workers,
            sync_workers,
            remote_pools: shared
                .remote_pools
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|stats| stats.snapshot())
                .collect(),
        }
    }

    /// Logs the coordinator's record (`target: "metrics"`).
    pub(crate) fn log_coordinator(&self) {
        let signals: Vec<&str> = self.process_signals.iter().map(|s| s.as_str()).collect();
        info!(
            target: "metrics",
            name:% = self.name,
            version = self.version,
            host:% = self.host,
            pid = self.pid,
            ppid = self.ppid,
            uptime:? = self.uptime,
            worker_threads = self.worker_threads,
            sync_actors = self.sync_actors,
            process_signals:% = signals.join(","),
            process_signal_receivers = self.process_signal_receivers,
            cpu_time:? = self.cpu_time.unwrap_or_default(),
            total_cpu_time:? = self.total_cpu_time,
            shutting_down = self.shutting_down;
            "coordinator metrics"
        );
    }
}

impl WorkerMetrics {
    pub(crate) fn of(worker: &WorkerWake) -> WorkerMetrics {
        let ready = worker.ready_len();
        let live = worker.live.load(std::sync::atomic::Ordering::Relaxed);
        WorkerMetrics {
            id: worker.id,
            scheduler_ready: ready,
            scheduler_inactive: live.saturating_sub(ready),
            timers_total: worker.timers.load(std::sync::atomic::Ordering::Relaxed),
            timers_next: worker
                .next_timer()
                .map(|next| next.saturating_duration_since(Instant::now())),
            cpu_time: worker.clock.get().and_then(|clock| clock.elapsed().ok()),
        }
    }

    /// Logs the worker's record (`target: "metrics"`).
    pub(crate) fn log(&self) {
        info!(
            target: "metrics",
            worker_id = self.id,
            scheduler_ready = self.scheduler_ready,
            scheduler_inactive = self.scheduler_inactive,
            timers_total = self.timers_total,
            timers_next:? = self.timers_next,
            cpu_time:? = self.cpu_time.unwrap_or_default();
            "worker metrics"
        );
    }
}

impl SyncWorkerMetrics {
    /// Logs the sync worker's record (`target: "metrics"`).
    pub(crate) fn log(&self) {
        info!(
            target: "metrics",
            sync_worker_id = self.id,
            actor = self.actor,
            alive = self.alive,
            cpu_time:? = self.cpu_time.unwrap_or_default();
            "sync actor metrics"
        );
    }
}
