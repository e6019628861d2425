//! The remote slot pool: persistent worker processes, reached over ssh or any
//! other command, that run named jobs for the runtime.
//!
//! A *slot* is one child process speaking the hearth worker protocol on its
//! stdin and stdout. The pool keeps a number of slots alive, feeds them jobs
//! from one shared queue and retries the jobs of a slot that dies. The room is
//! built in stages; its files, in the order data flows through them:
//!
//! - `wire.rs`: the protocol itself (crate-private: its frames are no one
//!   else's business). The frame layout, the messages, an incremental
//!   decoder for non-blocking pipes and blocking helpers for the worker
//!   side. Pure code, no I/O of its own beyond the helpers' `Read`/`Write`.
//!   What users see of it: a job's own [`JobError`], and a [`WireError`]
//!   in a worker's [`ServeError`].
//! - `transport.rs`: how a slot's process is started: the local
//!   binary, `ssh HOST BIN --remote-worker`, `srun` or a command template.
//!   [`Slurm`] (`slurm.rs`) holds the srun options, the allocation mode
//!   and the start line through which a Slurm slot reports its node.
//! - `slot.rs`: one slot's state machine: the handshake, its window of
//!   jobs in flight, its stderr drained to the log.
//! - `engine/`: the shared queue, dispatch to slots with room, attempts
//!   and back-off, deadlines, the start gate of this machine's slots
//!   ([`Throttle`], `throttle.rs`: its load and memory); no poll loop of
//!   its own. Why a slot failed
//!   is a [`SlotFailure`] (`failure.rs`), classified where it is seen.
//! - [`Pool`] (`pool.rs`, its run loop `pool/run.rs`): the engine on a
//!   `mio::Poll` of its own, driven by blocking calls, with results in
//!   input or completion order; `delivery.rs` hands a run's [`Event`]s out
//!   in its [`Order`], holding what waits (`held.rs`: in memory, in
//!   temporary files past a bound); [`Feeder`] (`feed.rs`) gives it
//!   inputs while it runs, and `keepalive.rs` pings its slots while its
//!   caller is away. [`RemotePool`]
//!   (`handle.rs`) is the same engine driven by a runtime's coordinator,
//!   for actors.
//! - [`serve`](serve()): the worker side, a loop that answers jobs with the
//!   application's named [`Handlers`] when started with `--remote-worker`;
//!   a handler streams its output through its [`JobContext`] (`job.rs`);
//!   a keeper thread beside the loop (`serve/keeper.rs`) that answers the
//!   pool's pings during a job and ends the worker when the pool is gone.

mod connector;
mod delivery;
pub(crate) mod engine;
mod failure;
mod feed;
mod handle;
mod handlers;
mod held;
mod host;
mod install;
mod job;
mod keepalive;
mod login;
mod mux;
mod outcome;
mod pool;
mod serve;
mod slot;
mod slurm;
mod stats;
mod term_sequence;
mod throttle;
mod transfer;
mod transport;
pub(crate) mod wire;

pub(crate) use handle::{PoolShared, cancelled_report};
pub(crate) use stats::PoolStats;

pub use delivery::Event;
pub use failure::{FailedSlot, Reason, SlotFailure, SlotLost};
pub use feed::{Feed, FeedError, Feeder, Inputs};
pub use handle::{JobDone, JobFuture, RemotePool};
pub use handlers::Handlers;
pub use host::{Host, HostState, Target};
pub use job::{JobContext, JobStdin, Stream};
pub use outcome::{JobFailure, JobReport, PoolError, SlotInfo};
pub use pool::{
    DEFAULT_MAX_HELD_BYTES, DEFAULT_SLOT_TIMEOUT, Order, Pool, PoolBuilder, PoolControl, StopRule,
    StopStep,
};
pub use serve::{REMOTE_WORKER_FLAG, ServeError, is_remote_worker, serve, serve_on};
pub use slurm::{Slurm, SlurmAllocation};
pub use stats::{HostMetrics, PoolMetrics};
pub use term_sequence::TermSequence;
pub use throttle::{DEFAULT_THROTTLE_INTERVAL, Throttle};
pub use transfer::Files;
pub use transport::Transport;
pub use wire::{JobError, JobErrorKind, WireError, Workdir};

/// Not part of hearth's API: the protocol's codec, for hearth's own tests
/// of fake workers and fake pools that run as processes of their own and
/// speak raw frames (the tests that can run in-process are in the crate).
/// It may change or go at any time.
#[doc(hidden)]
pub mod test_support {
    /// The protocol's codec (`wire.rs`).
    pub mod wire {
        pub use crate::remote::wire::{
            DEFAULT_MAX_FRAME, Frame, FrameDecoder, MAGIC, VERSION, encode, read_frame, write_frame,
        };
    }
}
