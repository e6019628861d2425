//! Run queues: which processes are ready to run, and how they get there.
//!
//! A *process* is what the scheduler runs: an actor with its supervisor and
//! inbox ([`ActorProcess`]), or a plain future ([`FutureProcess`]). Each
//! worker has a [`LocalScheduler`] for thread-local processes; all workers
//! share one [`SharedScheduler`] for thread-safe processes. A process is
//! scheduled by its waker, which may be called from any thread; a process is
//! in a ready queue at most once at a time, and a wake-up that comes while it
//! runs makes it run again.

pub(crate) mod budget;
mod census;
mod heap_growth;
pub(crate) mod local;
pub(crate) mod new_first;
mod process;
pub(crate) mod rank;
mod shared;
#[cfg(test)]
mod test_process;

pub(crate) use census::{Census, CensusTally};
pub(crate) use heap_growth::{grow_ahead_on_this_thread, note_allocated};
pub(crate) use local::LocalScheduler;
pub(crate) use process::{ActorProcess, FutureProcess, Process};
#[cfg(feature = "test")]
pub(crate) use shared::Attached;
pub(crate) use shared::SharedScheduler;
