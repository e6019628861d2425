//! Sync actor threads: one thread per synchronous actor.
//!
//! Started by [`Runtime::spawn_sync_actor`](crate::Runtime::spawn_sync_actor).
//! Like a worker, the thread holds the write end of a pipe the coordinator
//! watches, so its end is noticed even when it comes before the coordinator
//! registered the pipe (a closed pipe is readable from the moment it is
//! registered).

use std::io;
use std::thread;

use mio::unix::pipe;

use crate::Error;
use crate::actor::{SyncActor, run_sync_actor};
use crate::inbox;
use crate::supervisor::{Supervisor, panic_message};

/// The runtime's handle to a sync actor thread.
pub(crate) struct SyncWorkerHandle {
    id: usize,
    handle: thread::JoinHandle<Result<(), String>>,
    pipe: Option<pipe::Receiver>,
}

impl SyncWorkerHandle {
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    pub(crate) fn take_pipe(&mut self) -> Option<pipe::Receiver> {
        self.pipe.take()
    }

    /// Waits for the thread to end.
    pub(crate) fn join(self) -> Result<(), Error> {
        match self.handle.join() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(msg)) => Err(Error::sync_worker(self.id, msg)),
            Err(panic) => Err(Error::sync_worker_panic(
                self.id,
                panic_message(&*panic).to_owned(),
            )),
        }
    }
}

/// Spawns the thread of sync actor `id`.
pub(crate) fn start<S, A>(
    id: usize,
    supervisor: S,
    actor: A,
    arg: A::Argument,
    inbox: inbox::Owner<A::Message>,
) -> io::Result<SyncWorkerHandle>
where
    S: Supervisor<A::Error, A::Argument> + Send + 'static,
    A: SyncActor + Send + 'static,
    A::Argument: Send + 'static,
    A::Message: Send + 'static,
{
    let (pipe_tx, pipe_rx) = pipe::new()?;
    let handle = thread::Builder::new()
        .name(format!("sync-actor-{id}"))
        .spawn(move || {
            // Dropped when this closure ends or unwinds: closes the pipe.
            let _alive = pipe_tx;
            log::debug!(sync_worker = id, actor = A::name(); "sync actor thread started");
            run_sync_actor(supervisor, actor, arg, inbox)
        })?;
    Ok(SyncWorkerHandle {
        id,
        handle,
        pipe: Some(pipe_rx),
    })
}
