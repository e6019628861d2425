//! Messages from the runtime and the coordinator to a worker thread.

use std::fmt;

use crate::{RuntimeRef, Signal};

/// A function run on a worker, see
/// [`Runtime::run_on_workers`](crate::Runtime::run_on_workers).
pub(crate) type WorkerFn = Box<dyn FnOnce(RuntimeRef) -> Result<(), crate::error::BoxError> + Send>;

/// A control message.
pub(crate) enum Control {
    /// The runtime started: from now on the worker stops once it has no
    /// more processes.
    Started,
    /// Run a function with the worker's [`RuntimeRef`].
    Run(WorkerFn),
    /// Stop now: drop all local processes and return.
    Stop,
    /// The runtime is shutting down gracefully: wake every local process so
    /// it sees that.
    Shutdown,
    /// Deliver a process signal to the worker's signal receivers.
    Signal(Signal),
    /// Log the worker's metrics.
    LogMetrics,
    /// Panic in the worker thread, outside any actor (the `test` feature's
    /// `Runtime::inject_worker_panic`).
    #[cfg(feature = "test")]
    Panic(String),
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Control::Started => f.write_str("Started"),
            Control::Run(_) => f.write_str("Run(..)"),
            Control::Stop => f.write_str("Stop"),
            Control::Shutdown => f.write_str("Shutdown"),
            Control::Signal(signal) => f.debug_tuple("Signal").field(signal).finish(),
            Control::LogMetrics => f.write_str("LogMetrics"),
            #[cfg(feature = "test")]
            Control::Panic(msg) => f.debug_tuple("Panic").field(msg).finish(),
        }
    }
}
