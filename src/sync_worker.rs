//! Sync actor threads: one thread per synchronous actor.
//!
//! Started by [`Runtime::spawn_sync_actor`](crate::Runtime::spawn_sync_actor).
//! Like a worker, the thread holds the write end of a pipe the coordinator
//! watches, so its end is noticed even when it comes before the coordinator
//! registered the pipe (a closed pipe is readable from the moment it is
//! registered).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;

use mio::unix::pipe;

use crate::Error;
use crate::actor::{SyncActor, run_sync_actor};
use crate::inbox;
use crate::metrics::SyncWorkerMetrics;
use crate::runtime::RuntimeShared;
use crate::supervisor::{SyncSupervisor, panic_message};
use crate::sys::{ProcessSignals, ThreadClock};

/// The runtime's handle to a sync actor thread.
pub(crate) struct SyncWorkerHandle {
    id: usize,
    handle: thread::JoinHandle<Result<(), String>>,
    pipe: Option<pipe::Receiver>,
}

/// What others may read of a sync actor thread, for the metrics.
pub(crate) struct SyncWorkerInfo {
    id: usize,
    actor: &'static str,
    alive: AtomicBool,
    clock: OnceLock<ThreadClock>,
}

impl SyncWorkerInfo {
    pub(crate) fn metrics(&self) -> SyncWorkerMetrics {
        let alive = self.alive.load(Ordering::Acquire);
        SyncWorkerMetrics {
            id: self.id,
            actor: self.actor,
            alive,
            cpu_time: if alive {
                self.clock.get().and_then(|clock| clock.elapsed().ok())
            } else {
                None
            },
        }
    }
}

impl SyncWorkerHandle {
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    pub(crate) fn take_pipe(&mut self) -> Option<pipe::Receiver> {
        self.pipe.take()
    }

    /// Wakes the thread if it waits for a message, so it sees a shutdown.
    pub(crate) fn unpark(&self) {
        self.handle.thread().unpark();
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
    shared: Arc<RuntimeShared>,
) -> io::Result<SyncWorkerHandle>
where
    S: SyncSupervisor<A> + Send + 'static,
    A: SyncActor + Send + 'static,
    A::Argument: Send + 'static,
    A::Message: Send + 'static,
{
    let (pipe_tx, pipe_rx) = pipe::new()?;
    let info = Arc::new(SyncWorkerInfo {
        id,
        actor: A::name(),
        alive: AtomicBool::new(true),
        clock: OnceLock::new(),
    });
    shared.sync_workers().push(info.clone());
    shared.sync_started();
    let done = MarkDone(info.clone(), shared.clone());
    let spawned = thread::Builder::new()
        .name(format!("sync-actor-{id}"))
        .spawn(move || {
            // Dropped when this closure ends or unwinds: closes the pipe.
            let _alive = pipe_tx;
            let _mark_done = done;
            if let Ok(clock) = ThreadClock::current() {
                let _ = info.clock.set(clock);
            }
            if let Err(err) = ProcessSignals::block_for_thread() {
                log::warn!(sync_worker = id, error:% = err; "unable to block process signals");
            }
            log::debug!(sync_worker = id, actor = A::name(); "sync actor thread started");
            let _current = crate::runtime::enter(&shared);
            run_sync_actor(supervisor, actor, arg, inbox, shared)
        });
    // On error the closure, and with it `done`, was dropped: the count is
    // already undone.
    let handle = spawned?;
    Ok(SyncWorkerHandle {
        id,
        handle,
        pipe: Some(pipe_rx),
    })
}

/// Marks the sync actor thread as ended (for the metrics and the workers'
/// exit condition) when dropped.
struct MarkDone(Arc<SyncWorkerInfo>, Arc<RuntimeShared>);

impl Drop for MarkDone {
    fn drop(&mut self) {
        self.0.alive.store(false, Ordering::Release);
        self.1.sync_ended();
    }
}
