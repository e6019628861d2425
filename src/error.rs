//! The runtime's error type.

use std::error::Error as StdError;
use std::fmt;
use std::io::{self, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use crate::Signal;

/// An error of the application's, boxed (the source of a runtime error).
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

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
    SharedPoll(io::Error),
    WorkerPoll {
        id: usize,
        err: io::Error,
    },
    WorkerPanic {
        id: usize,
        msg: String,
    },
    WorkerFunction {
        id: usize,
        err: BoxError,
    },
    SyncWorker {
        id: usize,
        msg: String,
    },
    SyncWorkerPanic {
        id: usize,
        msg: String,
    },
    Signals(io::Error),
    Interrupted(Signal),
    Forced(Signal),
    /// The future of `block_on` ended without an output.
    NoOutput,
    GraceExpired(Duration, String),
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

    pub(crate) fn shared_poll(err: io::Error) -> Error {
        Error {
            kind: Kind::SharedPoll(err),
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

    /// `err` is the function's own error (or its panic's message), kept
    /// as the `source`.
    pub(crate) fn worker_function(id: usize, err: BoxError) -> Error {
        Error {
            kind: Kind::WorkerFunction { id, err },
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

    pub(crate) fn signals(err: io::Error) -> Error {
        Error {
            kind: Kind::Signals(err),
        }
    }

    pub(crate) fn interrupted(signal: Signal) -> Error {
        Error {
            kind: Kind::Interrupted(signal),
        }
    }

    pub(crate) fn forced(signal: Signal) -> Error {
        Error {
            kind: Kind::Forced(signal),
        }
    }

    pub(crate) fn no_output() -> Error {
        Error {
            kind: Kind::NoOutput,
        }
    }

    /// `left` says what was still running, e.g. `2 thread-local actors
    /// echo on worker 1`.
    pub(crate) fn grace_expired(grace: Duration, left: String) -> Error {
        Error {
            kind: Kind::GraceExpired(grace, left),
        }
    }

    /// Returns true if the runtime stopped because of an interrupt (SIGINT)
    /// the application did not handle, or was stopped at once by a second
    /// signal.
    pub fn is_interrupted(&self) -> bool {
        matches!(self.kind, Kind::Interrupted(_) | Kind::Forced(_))
    }

    /// The exit status a program should end with for this error: `128 + N`
    /// for a stop caused by signal N (130 for SIGINT), 1 otherwise. A runtime
    /// that ended without error exits with 0. See [`exit_code`].
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            // The signals hearth stops on are all below 32: the sum fits.
            Kind::Interrupted(signal) | Kind::Forced(signal) => {
                u8::try_from(128 + signal.number()).unwrap_or(1)
            }
            _ => 1,
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
            Kind::SharedPoll(err) => {
                write!(f, "error creating the poll of thread-safe sockets: {err}")
            }
            Kind::WorkerPoll { id, err } => write!(f, "error polling on worker thread {id}: {err}"),
            Kind::WorkerPanic { id, msg } => write!(f, "worker thread {id} panicked: {msg}"),
            Kind::WorkerFunction { id, err } => {
                write!(f, "error running function on worker thread {id}: {err}")
            }
            Kind::SyncWorker { id, msg } => write!(f, "sync actor thread {id} failed: {msg}"),
            Kind::SyncWorkerPanic { id, msg } => {
                write!(f, "sync actor thread {id} panicked: {msg}")
            }
            Kind::Signals(err) => write!(f, "unable to set up process signal handling: {err}"),
            Kind::Interrupted(signal) => write!(f, "runtime stopped after {signal}"),
            Kind::Forced(signal) => write!(f, "runtime stopped at once by a second {signal}"),
            Kind::NoOutput => f.write_str(
                "the future given to block_on ended without an output: it panicked, or the \
                 runtime stopped before it finished (see the log)",
            ),
            Kind::GraceExpired(grace, left) => write!(
                f,
                "graceful shutdown did not finish within the grace period of {grace:?}: \
                 still running were {left}; they were stopped, so the shutdown was not clean \
                 (make them return when `is_stopping` is true, wrap their waits in \
                 `until_stopping`, have futures await `shutting_down()`, or raise \
                 `Setup::grace_period`)"
            ),
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
            | Kind::SharedPoll(err)
            | Kind::WorkerPoll { err, .. }
            | Kind::Signals(err) => Some(err),
            Kind::WorkerFunction { err, .. } => Some(&**err),
            _ => None,
        }
    }
}

/// Turns the result of [`Runtime::start`](crate::Runtime::start) into the
/// exit status of the process: 0 when it ended cleanly, 130 after an
/// interrupt (SIGINT) the application did not handle, `128 + N` when a
/// second signal N stopped it at once, 1 for other errors, which are
/// printed to standard error.
///
/// # Examples
///
/// ```no_run
/// use std::process::ExitCode;
///
/// fn main() -> ExitCode {
///     let runtime = match hearth::Runtime::setup().build() {
///         Ok(runtime) => runtime,
///         Err(err) => return hearth::exit_code(Err(err)),
///     };
///     hearth::exit_code(runtime.start())
/// }
/// ```
pub fn exit_code(result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if !err.is_interrupted() {
                // A closed stderr loses the line, not the exit code.
                let _ = writeln!(std::io::stderr().lock(), "error: {err}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}
