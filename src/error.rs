//! The runtime's error type.

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// An error of the runtime: setting it up, starting it, or a thread that
/// failed while it ran.
///
/// Displayed as `context: cause`, in lower case, e.g.
/// `worker thread 2 panicked: index out of bounds`.
pub struct Error {
    kind: Kind,
}

enum Kind {
    Setup(String),
    StartWorker(io::Error),
    StartSyncWorker(io::Error),
    Coordinator(io::Error),
    WorkerPoll { id: usize, err: io::Error },
    WorkerPanic { id: usize, msg: String },
    WorkerFunction { id: usize, msg: String },
    SyncWorker { id: usize, msg: String },
    SyncWorkerPanic { id: usize, msg: String },
}

impl Error {
    pub(crate) fn setup(msg: String) -> Error {
        Error {
            kind: Kind::Setup(msg),
        }
    }

    pub(crate) fn start_worker(err: io::Error) -> Error {
        Error {
            kind: Kind::StartWorker(err),
        }
    }

    pub(crate) fn start_sync_worker(err: io::Error) -> Error {
        Error {
            kind: Kind::StartSyncWorker(err),
        }
    }

    pub(crate) fn coordinator(err: io::Error) -> Error {
        Error {
            kind: Kind::Coordinator(err),
        }
    }

    pub(crate) fn worker_poll(id: usize, err: io::Error) -> Error {
        Error {
            kind: Kind::WorkerPoll { id, err },
        }
    }

    pub(crate) fn worker_panic(id: usize, msg: String) -> Error {
        Error {
            kind: Kind::WorkerPanic { id, msg },
        }
    }

    pub(crate) fn worker_function(id: usize, msg: String) -> Error {
        Error {
            kind: Kind::WorkerFunction { id, msg },
        }
    }

    pub(crate) fn sync_worker(id: usize, msg: String) -> Error {
        Error {
            kind: Kind::SyncWorker { id, msg },
        }
    }

    pub(crate) fn sync_worker_panic(id: usize, msg: String) -> Error {
        Error {
            kind: Kind::SyncWorkerPanic { id, msg },
        }
    }

    /// Returns true if the error is a thread (worker or sync actor) that
    /// panicked.
    pub fn is_panic(&self) -> bool {
        matches!(
            self.kind,
            Kind::WorkerPanic { .. } | Kind::SyncWorkerPanic { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Setup(msg) => write!(f, "invalid runtime setup: {msg}"),
            Kind::StartWorker(err) => write!(f, "error starting worker thread: {err}"),
            Kind::StartSyncWorker(err) => write!(f, "error starting sync actor thread: {err}"),
            Kind::Coordinator(err) => write!(f, "error in coordinator: {err}"),
            Kind::WorkerPoll { id, err } => write!(f, "error polling on worker thread {id}: {err}"),
            Kind::WorkerPanic { id, msg } => write!(f, "worker thread {id} panicked: {msg}"),
            Kind::WorkerFunction { id, msg } => {
                write!(f, "error running function on worker thread {id}: {msg}")
            }
            Kind::SyncWorker { id, msg } => write!(f, "sync actor thread {id} failed: {msg}"),
            Kind::SyncWorkerPanic { id, msg } => {
                write!(f, "sync actor thread {id} panicked: {msg}")
            }
        }
    }
}

impl fmt::Debug for Error {
    /// Same as `Display`, so `fn main() -> Result<(), hearth::Error>` prints
    /// a readable message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.kind {
            Kind::StartWorker(err)
            | Kind::StartSyncWorker(err)
            | Kind::Coordinator(err)
            | Kind::WorkerPoll { err, .. } => Some(err),
            _ => None,
        }
    }
}
