//! Metrics: snapshots readable in code, and the log records written on
//! SIGUSR2.
//!
//! [`RuntimeMetrics`] is a snapshot taken on demand
//! ([`RuntimeRef::metrics`](crate::RuntimeRef::metrics) and friends). On
//! SIGUSR2 the coordinator logs `target: "metrics"` records: its own, one
//! for the thread-safe processes, one per server (TCP, Unix) and worker, one per
//! sync actor thread and remote pool; and it asks every worker to log its
//! own.
//!
//! The records go through the `log` crate: they are written only where a
//! logger is installed (`hearth::log::init()`, or any `log`
//! implementation). Durations are milliseconds, in fields named `_ms`.

use std::fmt;
use std::time::{Duration, Instant};

use log::info;

use crate::net::ServerSnapshot;
use crate::remote::PoolMetrics;
use crate::runtime::RuntimeShared;
use crate::signal::Signal;
use crate::sys;
use crate::worker::WorkerShared;

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
    /// The live thread-safe actors and futures, by name.
    pub thread_safe: Vec<ProcessCount>,
    /// One entry per worker thread.
    pub workers: Vec<WorkerMetrics>,
    /// One entry per [`TcpServer`](crate::net::TcpServer) whose listeners
    /// ran.
    pub tcp_servers: Vec<TcpServerMetrics>,
    /// One entry per [`UnixServer`](crate::net::UnixServer) whose listeners
    /// ran.
    pub unix_servers: Vec<UnixServerMetrics>,
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
    /// Live thread-local actors.
    pub actors: usize,
    /// Live thread-local futures.
    pub futures: usize,
    /// The live thread-local actors and futures, by name.
    pub processes: Vec<ProcessCount>,
}

/// The connections of one [`TcpServer`](crate::net::TcpServer).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TcpServerMetrics {
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    /// One entry per worker that ran one of its listeners, by worker id;
    /// a server of thread-safe connections has one entry, worker 0, as
    /// its connections run on any worker.
    pub workers: Vec<ServerWorkerMetrics>,
}

/// The connections of one [`UnixServer`](crate::net::UnixServer).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UnixServerMetrics {
    /// The path of its socket, or `@name` for an abstract address.
    pub path: String,
    /// One entry per worker that ran one of its listeners, by worker id.
    pub workers: Vec<ServerWorkerMetrics>,
}

/// The connections of a [`TcpServer`](crate::net::TcpServer) on one
/// worker (the name it had before Unix servers came).
pub type TcpServerWorkerMetrics = ServerWorkerMetrics;

/// The connections of a [`TcpServer`](crate::net::TcpServer) or
/// [`UnixServer`](crate::net::UnixServer) on one worker.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct ServerWorkerMetrics {
    /// Worker id, starting at 1; 0 for the thread-safe connections of a
    /// [`TcpServer`](crate::net::TcpServer), which run on any worker.
    pub worker: usize,
    /// Connections started on the worker (after the listeners balanced
    /// them over the workers).
    pub accepted: usize,
    /// Of those, still open.
    pub open: usize,
    /// Of those, closed.
    pub closed: usize,
    /// Accepts that failed (a peer that gave up first, or a listener
    /// error).
    pub accept_errors: usize,
}

impl TcpServerMetrics {
    /// Connections started, over all workers.
    pub fn accepted(&self) -> usize {
        self.workers.iter().map(|w| w.accepted).sum()
    }

    /// Connections open now, over all workers.
    pub fn open(&self) -> usize {
        self.workers.iter().map(|w| w.open).sum()
    }

    /// Connections closed, over all workers.
    pub fn closed(&self) -> usize {
        self.workers.iter().map(|w| w.closed).sum()
    }
}

impl UnixServerMetrics {
    /// Connections started, over all workers.
    pub fn accepted(&self) -> usize {
        self.workers.iter().map(|w| w.accepted).sum()
    }

    /// Connections open now, over all workers.
    pub fn open(&self) -> usize {
        self.workers.iter().map(|w| w.open).sum()
    }

    /// Connections closed, over all workers.
    pub fn closed(&self) -> usize {
        self.workers.iter().map(|w| w.closed).sum()
    }
}

/// What kind of process a [`ProcessCount`] counts.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProcessKind {
    /// An actor (with its inbox and supervisor).
    Actor,
    /// A plain future.
    Future,
}

impl ProcessKind {
    /// `actor` or `future`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessKind::Actor => "actor",
            ProcessKind::Future => "future",
        }
    }
}

/// How many live processes of one name and kind there are.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub struct ProcessCount {
    /// The actor's name ([`NewActor::name`](crate::actor::NewActor::name)),
    /// or the future's type name.
    pub name: &'static str,
    /// Actor or future.
    pub kind: ProcessKind,
    /// How many are alive.
    pub count: usize,
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
        let (mut tcp_servers, mut unix_servers) = (Vec::new(), Vec::new());
        for stats in shared
            .servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            match stats.snapshot() {
                ServerSnapshot::Tcp(server) => tcp_servers.push(server),
                ServerSnapshot::Unix(server) => unix_servers.push(server),
            }
        }
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
            thread_safe: shared.scheduler.census().counts(),
            workers,
            tcp_servers,
            unix_servers,
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

    /// Logs the coordinator's records (`target: "metrics"`): its own, the
    /// thread-safe processes', and one per server (TCP, Unix) and worker.
    pub(crate) fn log_coordinator(&self) {
        let signals: Vec<&str> = self
            .process_signals
            .iter()
            .map(|s| s.as_str().trim_start_matches("SIG"))
            .collect();
        info!(
            target: "metrics",
            name:% = self.name,
            version = self.version,
            host:% = self.host,
            pid = self.pid,
            ppid = self.ppid,
            uptime_ms = self.uptime.as_millis(),
            worker_threads = self.worker_threads,
            sync_actors = self.sync_actors,
            signals:% = signals.join(","),
            signal_receivers = self.process_signal_receivers,
            cpu_time_ms:% = Millis(self.cpu_time.unwrap_or_default()),
            total_cpu_time_ms:% = Millis(self.total_cpu_time),
            shutting_down = self.shutting_down;
            "coordinator metrics"
        );
        let (actors, futures) = by_kind(&self.thread_safe);
        info!(
            target: "metrics",
            actors = actors,
            futures = futures,
            processes:% = Names(&self.thread_safe);
            "thread-safe metrics"
        );
        for server in &self.tcp_servers {
            for worker in &server.workers {
                info!(
                    target: "metrics",
                    addr:% = server.addr,
                    worker_id = worker.worker,
                    accepted = worker.accepted,
                    open = worker.open,
                    closed = worker.closed,
                    accept_errors = worker.accept_errors;
                    "tcp server metrics"
                );
            }
        }
        for server in &self.unix_servers {
            for worker in &server.workers {
                info!(
                    target: "metrics",
                    path:% = server.path,
                    worker_id = worker.worker,
                    accepted = worker.accepted,
                    open = worker.open,
                    closed = worker.closed,
                    accept_errors = worker.accept_errors;
                    "unix server metrics"
                );
            }
        }
    }
}

impl RuntimeMetrics {
    /// What is still running, for the report at the end of a grace period:
    /// e.g. `2 thread-local actors echo on worker 1, 1 sync actor logger`.
    pub(crate) fn still_running(&self) -> String {
        let mut parts = Vec::new();
        for worker in &self.workers {
            for count in &worker.processes {
                parts.push(format!(
                    "{} {} on worker {}",
                    plural(
                        count.count,
                        &format!("thread-local {}", count.kind.as_str())
                    ),
                    count.name,
                    worker.id
                ));
            }
        }
        for count in &self.thread_safe {
            parts.push(format!(
                "{} {}",
                plural(count.count, &format!("thread-safe {}", count.kind.as_str())),
                count.name
            ));
        }
        for sync in self.sync_workers.iter().filter(|s| s.alive) {
            parts.push(format!("1 sync actor {} (thread {})", sync.actor, sync.id));
        }
        if parts.is_empty() {
            // Threads that ended while the report was made.
            return "no actors (the threads were ending)".to_owned();
        }
        parts.join(", ")
    }
}

/// `1 thing` or `n things`.
fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// The actors and the futures among `counts`.
fn by_kind(counts: &[ProcessCount]) -> (usize, usize) {
    let of = |kind| {
        counts
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.count)
            .sum()
    };
    (of(ProcessKind::Actor), of(ProcessKind::Future))
}

/// A duration in milliseconds, with microseconds as decimals.
struct Millis(Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}", self.0.as_secs_f64() * 1000.0)
    }
}

/// Process counts as `name:count,...` (`-` for none), the most numerous
/// first, at most ten names and how many more.
struct Names<'a>(&'a [ProcessCount]);

impl fmt::Display for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 10;
        if self.0.is_empty() {
            return f.write_str("-");
        }
        let mut counts: Vec<&ProcessCount> = self.0.iter().collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(b.name)));
        for (i, count) in counts.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{}", count.name, count.count)?;
        }
        if counts.len() > SHOWN {
            write!(f, ",+{} more", counts.len() - SHOWN)?;
        }
        Ok(())
    }
}

impl WorkerMetrics {
    pub(crate) fn of(worker: &WorkerShared) -> WorkerMetrics {
        let ready = worker.ready_len();
        let live = worker.live.load(std::sync::atomic::Ordering::Relaxed);
        let processes = worker.census.counts();
        let (actors, futures) = by_kind(&processes);
        WorkerMetrics {
            id: worker.id,
            scheduler_ready: ready,
            scheduler_inactive: live.saturating_sub(ready),
            timers_total: worker.timers.load(std::sync::atomic::Ordering::Relaxed),
            timers_next: worker
                .next_timer()
                .map(|next| next.saturating_duration_since(Instant::now())),
            cpu_time: worker.clock.get().and_then(|clock| clock.elapsed().ok()),
            actors,
            futures,
            processes,
        }
    }

    /// Logs the worker's record (`target: "metrics"`).
    pub(crate) fn log(&self) {
        let timers_next_ms = match self.timers_next {
            Some(next) => Millis(next).to_string(),
            None => "none".to_owned(),
        };
        info!(
            target: "metrics",
            worker_id = self.id,
            actors = self.actors,
            futures = self.futures,
            scheduler_ready = self.scheduler_ready,
            scheduler_inactive = self.scheduler_inactive,
            timers_total = self.timers_total,
            timers_next_ms:% = timers_next_ms,
            cpu_time_ms:% = Millis(self.cpu_time.unwrap_or_default()),
            processes:% = Names(&self.processes);
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
            cpu_time_ms:% = Millis(self.cpu_time.unwrap_or_default());
            "sync actor metrics"
        );
    }
}
