//! Worker threads: each runs thread-local processes and a share of the
//! thread-safe ones, on its own `mio::Poll`.
//!
//! The runtime creates workers in two steps: [`prepare`] makes the parts
//! other threads need before any worker runs (the [`WorkerShared`]), [`start`]
//! spawns the thread. A worker holds the write end of a pipe whose read end
//! the coordinator watches: when the thread ends, normally or by a panic,
//! the pipe closes and the coordinator joins the thread.

use std::io;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use mio::unix::pipe;
use mio::{Poll, Token};

use crate::Error;
use crate::runtime::RuntimeShared;

mod control;
#[cfg(feature = "test")]
pub(crate) mod local_worker;
pub(crate) mod shared_sources;
pub(crate) mod sources;
mod thread_main;
mod wake;

pub(crate) use control::{Control, WorkerFn};
pub(crate) use wake::{OwnReady, WorkerShared};

/// Token of the worker's waker on its own poll.
const WAKER: Token = Token(usize::MAX);

/// Token of the runtime's shared poll (the sockets of thread-safe actors,
/// `shared_sources.rs`) on each worker's poll.
const SHARED_POLL: Token = Token(usize::MAX - 1);

/// Registers the runtime's shared poll on a worker's `registry`
/// (edge-triggered, as every source).
fn watch_shared_poll(registry: &mio::Registry, shared: &RuntimeShared) -> io::Result<()> {
    let fd = shared.io.fd();
    registry.register(
        &mut mio::unix::SourceFd(&fd),
        SHARED_POLL,
        mio::Interest::READABLE,
    )
}

/// A worker that is prepared but not yet started: every descriptor its
/// thread needs is made here, on the building thread, so a thread that
/// first runs once the process's descriptor table is full (a server's
/// first connections took the rest) starts all the same.
pub(crate) struct Prepared {
    id: usize,
    poll: Poll,
    /// A copy of `poll`'s registry, for the worker's I/O sources.
    registry: mio::Registry,
    wake: Arc<WorkerShared>,
    ready_rx: Receiver<u64>,
}

impl Prepared {
    pub(crate) fn wake(&self) -> Arc<WorkerShared> {
        self.wake.clone()
    }
}

/// Creates the poll, waker and ready queue of worker `id`.
pub(crate) fn prepare(id: usize) -> io::Result<Prepared> {
    let poll = Poll::new()?;
    let registry = poll.registry().try_clone()?;
    let waker = mio::Waker::new(poll.registry(), WAKER)?;
    let (ready_tx, ready_rx) = crossbeam_channel::unbounded();
    let wake = Arc::new(WorkerShared::new(id, ready_tx, waker));
    Ok(Prepared {
        id,
        poll,
        registry,
        wake,
        ready_rx,
    })
}

/// The runtime's handle to a running worker thread.
pub(crate) struct WorkerHandle {
    id: usize,
    control: Sender<Control>,
    wake: Arc<WorkerShared>,
    handle: thread::JoinHandle<Result<(), Error>>,
    /// Read end of the pipe closed when the thread ends; taken by the
    /// coordinator.
    pipe: Option<pipe::Receiver>,
}

impl WorkerHandle {
    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// Sends a control message and wakes the worker. Returns false if the
    /// worker has already stopped.
    pub(crate) fn send(&self, msg: Control) -> bool {
        if self.control.send(msg).is_err() {
            return false;
        }
        self.wake.wake_poll();
        true
    }

    /// The worker's poll count (see [`WorkerShared::pulse`]).
    pub(crate) fn pulse(&self) -> u64 {
        self.wake.pulse()
    }

    /// True once the worker ran what it was given before the start.
    pub(crate) fn is_started(&self) -> bool {
        self.wake.is_started()
    }

    pub(crate) fn take_pipe(&mut self) -> Option<pipe::Receiver> {
        self.pipe.take()
    }

    /// Waits for the thread to end; a panic becomes an error naming the
    /// worker and the panic message.
    pub(crate) fn join(self) -> Result<(), Error> {
        match self.handle.join() {
            Ok(result) => result,
            Err(panic) => {
                let msg = crate::supervisor::panic_message(&*panic).to_owned();
                Err(Error::worker_panic(self.id, msg))
            }
        }
    }
}

/// Spawns the thread of a prepared worker.
pub(crate) fn start(
    prepared: Prepared,
    shared: Arc<RuntimeShared>,
    cpu: Option<usize>,
) -> io::Result<WorkerHandle> {
    let (pipe_tx, pipe_rx) = pipe::new()?;
    let (control_tx, control_rx) = crossbeam_channel::unbounded();
    let id = prepared.id;
    let wake = prepared.wake.clone();
    let handle = thread::Builder::new()
        .name(format!("worker-{id}"))
        .spawn(move || {
            // Dropped when this closure ends or unwinds: closes the pipe.
            let _alive = pipe_tx;
            thread_main::run(prepared, shared, control_rx, cpu)
        })?;
    Ok(WorkerHandle {
        id,
        control: control_tx,
        wake,
        handle,
        pipe: Some(pipe_rx),
    })
}
