//! A worker driven by the calling thread instead of a thread of its own:
//! the [`test`](crate::test) module's runtime. The same building blocks as
//! a worker thread's loop (`thread_main`), one turn at a time.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Receiver;
use mio::{Events, Poll};

use super::shared_sources::SharedSources;
use super::thread_main::{dispatch, run_ready, until_next_timer};
use super::{OwnReady, Prepared, WorkerShared, prepare, watch_shared_poll};
use crate::RuntimeRef;
use crate::runtime::{CurrentGuard, RuntimeShared, SharedOptions, WorkerInternals, enter};
use crate::scheduler::{Attached, LocalScheduler};
use crate::timer::store::Timers;
use crate::worker::sources::IoRegistry;

/// A worker on the calling thread, with a runtime of its own (one worker,
/// no coordinator thread).
pub(crate) struct LocalWorker {
    // Declared first, dropped first: the processes go before the queues
    // they may wake into.
    rt: RuntimeRef,
    own_ready: OwnReady,
    ready_rx: Receiver<u64>,
    wake: Arc<WorkerShared>,
    poll: Poll,
    events: Events,
    _attached: Attached,
    _current: CurrentGuard,
    /// The coordinator's poll: only its waker is used (shutdown requests,
    /// which nobody acts on here).
    _coordinator: Poll,
}

impl LocalWorker {
    pub(crate) fn new() -> io::Result<LocalWorker> {
        let Prepared {
            id,
            poll,
            registry,
            wake,
            ready_rx,
        } = prepare(1)?;
        let coordinator = Poll::new()?;
        let waker = mio::Waker::new(coordinator.registry(), crate::coordinator::WAKER)?;
        let options = SharedOptions {
            stalled_write_limit: crate::Setup::DEFAULT_STALLED_WRITE_LIMIT,
            ..SharedOptions::default()
        };
        let shared = Arc::new(RuntimeShared::new(
            "test".to_owned(),
            vec![wake.clone()],
            waker,
            SharedSources::new()?,
            options,
        ));
        watch_shared_poll(poll.registry(), &shared)?;
        let rt = RuntimeRef::new(WorkerInternals {
            id,
            cpu: None,
            local: RefCell::new(LocalScheduler::new(wake.clone())),
            shared: shared.clone(),
            signal_receivers: RefCell::new(Vec::new()),
            timers: RefCell::new(Timers::default()),
            io: RefCell::new(IoRegistry::default()),
            registry,
        });
        Ok(LocalWorker {
            own_ready: OwnReady::attach(wake.clone()),
            _attached: shared.scheduler.attach(&wake),
            _current: enter(&shared),
            rt,
            ready_rx,
            wake,
            poll,
            events: Events::with_capacity(64),
            _coordinator: coordinator,
        })
    }

    pub(crate) fn runtime_ref(&self) -> &RuntimeRef {
        &self.rt
    }

    /// True if a process is ready to run.
    pub(crate) fn has_ready(&self) -> bool {
        !self.own_ready.is_empty()
            || !self.ready_rx.is_empty()
            || self.rt.internals.shared.scheduler.has_ready()
    }

    /// Runs the ready processes (up to a batch of each kind).
    pub(crate) fn run_ready(&self) {
        let _ = run_ready(&self.rt, &self.own_ready, &self.ready_rx);
    }

    /// Polls for I/O and timers, waiting at most `wait` (and no longer than
    /// until the next timer), and wakes what they make ready.
    pub(crate) fn poll_events(&mut self, wait: Option<Duration>) -> io::Result<()> {
        let timeout = match (wait, until_next_timer(&self.rt, &self.wake)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
        let mut due = Vec::new();
        dispatch(&self.rt, &self.events, &mut due)
    }

    /// A waker that wakes this worker's poll.
    pub(crate) fn waker(&self) -> std::task::Waker {
        std::task::Waker::from(Arc::new(PollWaker(self.wake.clone())))
    }
}

/// Wakes a worker's poll (for a future the test runtime polls itself).
struct PollWaker(Arc<WorkerShared>);

impl std::task::Wake for PollWaker {
    fn wake(self: Arc<Self>) {
        self.0.wake_poll();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.wake_poll();
    }
}

impl Drop for LocalWorker {
    fn drop(&mut self) {
        // As a worker thread does when it ends: its processes go, closing
        // their inboxes.
        if let Ok(mut local) = self.rt.internals.local.try_borrow_mut() {
            drop(local.drain());
        }
        self.rt.internals.shared.scheduler.drop_all();
    }
}
