//! The counters of a [`TcpServer`](super::TcpServer) or
//! [`UnixServer`](super::UnixServer): connections accepted, open and
//! closed, and accept errors, per worker. Written by the server's listeners
//! and connections, read by the metrics from any thread.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::metrics::{ServerWorkerMetrics, TcpServerMetrics, UnixServerMetrics};

/// The address of a server, for its metrics and logs.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum ServerAddr {
    Tcp(SocketAddr),
    /// A Unix socket's path, or `@name` for an abstract one.
    Unix(String),
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAddr::Tcp(addr) => addr.fmt(f),
            ServerAddr::Unix(path) => f.write_str(path),
        }
    }
}

/// The metrics of one server, by its kind.
pub(crate) enum ServerSnapshot {
    Tcp(TcpServerMetrics),
    Unix(UnixServerMetrics),
}

/// The counters of one server, shared by its listeners and the runtime.
#[derive(Debug)]
pub(crate) struct ServerStats {
    addr: ServerAddr,
    /// One entry per worker that ran a listener, kept when it stops.
    workers: Mutex<Vec<Arc<ListenerStats>>>,
}

/// The counters of one server on one worker.
#[derive(Debug)]
pub(crate) struct ListenerStats {
    worker: usize,
    /// Connections started on this worker.
    accepted: AtomicUsize,
    /// Of those, the ones whose stream was dropped.
    closed: AtomicUsize,
    /// Accepts that failed.
    accept_errors: AtomicUsize,
}

impl ServerStats {
    pub(crate) fn new(addr: ServerAddr) -> ServerStats {
        ServerStats {
            addr,
            workers: Mutex::new(Vec::new()),
        }
    }

    /// The counters of `worker` (a restarted listener keeps counting).
    pub(crate) fn on_worker(&self, worker: usize) -> Arc<ListenerStats> {
        let mut workers = lock(&self.workers);
        if let Some(stats) = workers.iter().find(|s| s.worker == worker) {
            return stats.clone();
        }
        let stats = Arc::new(ListenerStats {
            worker,
            accepted: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
            accept_errors: AtomicUsize::new(0),
        });
        workers.push(stats.clone());
        workers.sort_by_key(|s| s.worker);
        stats
    }

    pub(crate) fn snapshot(&self) -> ServerSnapshot {
        let workers = lock(&self.workers)
            .iter()
            .map(|s| {
                // Read `closed` first: a connection closing meanwhile never
                // makes `open` negative.
                let closed = s.closed.load(Ordering::Acquire);
                let accepted = s.accepted.load(Ordering::Acquire);
                ServerWorkerMetrics {
                    worker: s.worker,
                    accepted,
                    open: accepted.saturating_sub(closed),
                    closed,
                    accept_errors: s.accept_errors.load(Ordering::Relaxed),
                }
            })
            .collect();
        match &self.addr {
            ServerAddr::Tcp(addr) => ServerSnapshot::Tcp(TcpServerMetrics {
                addr: *addr,
                workers,
            }),
            ServerAddr::Unix(path) => ServerSnapshot::Unix(UnixServerMetrics {
                path: path.clone(),
                workers,
            }),
        }
    }
}

impl ListenerStats {
    pub(crate) fn accepted(&self) {
        let _ = self.accepted.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn closed(&self) {
        let _ = self.closed.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn accept_failed(&self) {
        let _ = self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
