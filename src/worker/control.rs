//! Messages from the runtime and the coordinator to a worker thread.

use std::fmt;

use crate::RuntimeRef;

/// A function run on a worker, see
/// [`Runtime::run_on_workers`](crate::Runtime::run_on_workers).
pub(crate) type WorkerFn = Box<dyn FnOnce(RuntimeRef) -> Result<(), String> + Send>;

/// A control message.
pub(crate) enum Control {
    /// The runtime started: from now on the worker stops once it has no
    /// more processes.
    Started,
    /// Run a function with the worker's [`RuntimeRef`].
    Run(WorkerFn),
    /// Stop now: drop all local processes and return.
    Stop,
    /// Test hook: panic in the worker thread, outside any actor.
    Panic(String),
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Control::Started => f.write_str("Started"),
            Control::Run(_) => f.write_str("Run(..)"),
            Control::Stop => f.write_str("Stop"),
            Control::Panic(msg) => f.debug_tuple("Panic").field(msg).finish(),
        }
    }
}
