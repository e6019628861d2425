//! The body of a worker thread: run ready processes, then poll.
//!
//! Each turn of the loop handles control messages, runs ready local
//! processes and thread-safe ones (passes over both until a pass finds
//! none or the turn has run [`RUN_BATCH`]), and then polls: without
//! waiting if more work is ready, otherwise until a waker or an event
//! wakes the poll. A turn that ran work handed over by
//! another thread [`linger`]s first, since more usually follows. Once the
//! runtime has started, the
//! worker returns when it has no local processes left, no thread-safe
//! process is alive anywhere and no sync actor thread (which could spawn
//! one) is running.

use std::cell::RefCell;
use std::io;
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use log::{debug, trace, warn};
use mio::Events;

use crate::metrics::WorkerMetrics;
use crate::runtime::{RuntimeShared, WorkerInternals};
use crate::scheduler::{self, LocalScheduler, rank};
use crate::supervisor::panic_message;
use crate::sys::{self, ProcessSignals, ThreadClock};
use crate::timer::store::Timers;
use crate::trace::{self, WakeCause};
use crate::worker::sources::IoRegistry;
use crate::worker::{
    Control, OwnReady, Prepared, SHARED_POLL, WAKER, WorkerFn, WorkerShared, watch_shared_poll,
};
use crate::{Error, RuntimeRef};

/// Processes run per queue between two polls.
const RUN_BATCH: usize = 64;

pub(super) fn run(
    prepared: Prepared,
    shared: Arc<RuntimeShared>,
    control: Receiver<Control>,
    cpu: Option<usize>,
) -> Result<(), Error> {
    let Prepared {
        id,
        mut poll,
        registry,
        wake,
        ready_rx,
    } = prepared;
    let cpu = set_up_thread(id, &wake, &shared, cpu);
    watch_shared_poll(poll.registry(), &shared).map_err(|err| Error::worker_poll(id, err))?;
    let rt = RuntimeRef::new(WorkerInternals {
        id,
        cpu,
        local: RefCell::new(LocalScheduler::new(wake.clone())),
        shared: shared.clone(),
        signal_receivers: RefCell::new(Vec::new()),
        timers: RefCell::new(Timers::default()),
        io: RefCell::new(IoRegistry::default()),
        registry,
    });
    // Dropped after `_drain`: wakes while the processes are dropped still
    // find the queue.
    let own_ready = OwnReady::attach(wake.clone());
    let _attached = shared.scheduler.attach(&wake);
    let _drain = DrainOnExit(rt.clone());
    let _current = crate::runtime::enter(&shared);
    let _tracing = shared
        .trace
        .as_ref()
        .map(|file| trace::start_on_this_thread(file.clone(), id));
    let mut events = Events::with_capacity(64);
    let mut due = Vec::new();
    let mut started = false;
    // Processes alive (local, thread-safe) when last looked at, to poke the
    // coordinator when some end during a shutdown.
    let mut last_live = (usize::MAX, usize::MAX);
    debug!(worker = id; "worker thread started");

    loop {
        while let Ok(msg) = control.try_recv() {
            if handle_control(msg, &rt, &wake, &mut started)?.is_break() {
                return Ok(());
            }
        }

        let from_elsewhere = run_ready(&rt, &own_ready, &ready_rx);

        // A process that ended in a stopping runtime may have left it quiet.
        if shared.shutdown.is_stopping() {
            let live = (rt.internals.local.borrow().live(), shared.scheduler.live());
            if live != last_live {
                last_live = live;
                shared.poke_quiescence();
            }
        }

        // A live sync actor may still spawn thread-safe actors: stay for it.
        if started
            && rt.internals.local.borrow().live() == 0
            && shared.scheduler.live() == 0
            && shared.sync_alive() == 0
        {
            debug!(worker = id; "worker thread done: no more processes");
            return Ok(());
        }

        let has_work = || {
            !own_ready.is_empty()
                || !ready_rx.is_empty()
                || shared.scheduler.has_ready()
                || !control.is_empty()
        };
        // Work that came from other threads is likely to be followed by
        // more (a caller waiting for its answer, a store answering): look
        // again for a moment before paying for a sleep and a wake-up.
        let timeout = if has_work() || (from_elsewhere && linger(&has_work, &poll)) {
            Some(Duration::ZERO)
        } else {
            wake.prepare_sleep();
            if has_work() {
                wake.awake();
                Some(Duration::ZERO)
            } else {
                let timeout = until_next_timer(&rt, &wake);
                trace!(worker = id, timeout:? = timeout; "worker going to sleep");
                timeout
            }
        };
        wake.count_poll();
        let polled = poll.poll(&mut events, timeout);
        wake.count_poll();
        match polled {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(Error::worker_poll(id, err)),
        }
        wake.awake();
        dispatch(&rt, &events, &mut due).map_err(|err| Error::worker_poll(id, err))?;
    }
}

/// What a worker thread sets up for itself before it runs anything: its CPU
/// clock, heap growth ahead of use, blocked process signals (the
/// coordinator takes them), and its CPU if pinned: the CPU it is pinned
/// to, if pinning worked.
fn set_up_thread(
    id: usize,
    wake: &WorkerShared,
    shared: &RuntimeShared,
    cpu: Option<usize>,
) -> Option<usize> {
    if let Ok(clock) = ThreadClock::current() {
        let _ = wake.clock.set(clock);
    }
    if shared.grow_heap_ahead {
        scheduler::grow_ahead_on_this_thread();
    }
    if let Err(err) = ProcessSignals::block_for_thread() {
        warn!(worker = id, error:% = err; "unable to block process signals");
    }
    let cpu = cpu?;
    match sys::set_cpu_affinity(cpu) {
        Ok(()) => {
            debug!(worker = id, cpu = cpu; "worker thread pinned to CPU");
            Some(cpu)
        }
        Err(err) => {
            warn!(worker = id, cpu = cpu, error:% = err; "unable to set CPU affinity");
            None
        }
    }
}

/// Handles one control message from the coordinator; breaks when the
/// worker is to stop at once. `started` becomes true on `Started`.
#[inline]
fn handle_control(
    msg: Control,
    rt: &RuntimeRef,
    wake: &WorkerShared,
    started: &mut bool,
) -> Result<ControlFlow<()>, Error> {
    let id = rt.internals.id;
    trace!(worker = id, msg:? = msg; "worker control message");
    match msg {
        Control::Started => {
            *started = true;
            // The coordinator tells the service manager once every worker
            // got here.
            wake.set_started();
            rt.internals.shared.wake_coordinator();
        }
        Control::Run(f) => run_function(id, f, rt)?,
        Control::Stop => {
            debug!(worker = id; "worker told to stop");
            return Ok(ControlFlow::Break(()));
        }
        Control::Shutdown => rt.internals.local.borrow().wake_all(),
        Control::Signal(signal) => {
            rt.internals
                .signal_receivers
                .borrow_mut()
                .retain(|deliver| deliver(signal));
        }
        Control::LogMetrics => WorkerMetrics::of(wake).log(),
        #[cfg(feature = "test")]
        Control::Panic(msg) => panic!("{msg}"),
    }
    Ok(ControlFlow::Continue(()))
}

/// How long a worker out of work keeps looking at its queues, after
/// running work that came from other threads, before it sleeps: a little
/// more than a wake-up of a sleeping thread costs.
const LINGER: Duration = Duration::from_micros(20);

/// Looks at the queues for [`LINGER`]: true as soon as `has_work`, or
/// as soon as the worker's `poll` has events. It spins between looks, and
/// every 32 looks checks the poll and yields the CPU, so that on a busy
/// machine the thread that is to hand it work can run.
///
/// The poll's events are work no queue shows: those of the sockets of
/// thread-safe actors (the shared poll's, on every worker's poll), whose
/// actors count as work from elsewhere. Without the check, a worker that
/// served a thread-safe connection lingered the full time before it saw
/// the connection's next request: one worker serving one thread-safe echo
/// connection took about twice as long per round trip.
fn linger(has_work: &dyn Fn() -> bool, poll: &mio::Poll) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..32 {
            if has_work() {
                return true;
            }
            std::hint::spin_loop();
        }
        if sys::wait_for_input(poll.as_raw_fd(), true, Duration::ZERO) == sys::Input::Data {
            return true;
        }
        if start.elapsed() >= LINGER {
            return false;
        }
        std::thread::yield_now();
    }
}

/// Runs the ready processes of one turn: passes of [`run_pass`] until one
/// finds nothing ready or the turn has run [`RUN_BATCH`] processes. A
/// thread-local actor calling a thread-safe one (or the other way round)
/// so runs both, request after answer, without a poll between them: one
/// pass runs the local processes before the thread-safe ones, and the
/// answer of the second wakes the first after its queue was passed. True
/// if any of the work came from another thread (a local process woken
/// elsewhere, or a thread-safe one).
pub(crate) fn run_ready(rt: &RuntimeRef, own_ready: &OwnReady, ready_rx: &Receiver<u64>) -> bool {
    let mut from_elsewhere = false;
    let mut ran = 0;
    loop {
        let (pass_ran, pass_from_elsewhere) = run_pass(rt, own_ready, ready_rx);
        from_elsewhere |= pass_from_elsewhere;
        ran += pass_ran;
        if pass_ran == 0 || ran >= RUN_BATCH {
            return from_elsewhere;
        }
    }
}

/// One pass over the queues: the local processes by priority rank (those
/// woken on other threads first join the queues of their rank, up to
/// [`RUN_BATCH`] of them), each rank up to its share of the turn
/// ([`rank::turn_share`]), then up to [`RUN_BATCH`] thread-safe ones.
/// The number of processes run, and whether any of the work came from
/// another thread.
fn run_pass(rt: &RuntimeRef, own_ready: &OwnReady, ready_rx: &Receiver<u64>) -> (usize, bool) {
    let mut from_elsewhere = false;
    for _ in 0..RUN_BATCH {
        let Ok(key) = ready_rx.try_recv() else { break };
        from_elsewhere = true;
        own_ready.queue(key);
    }
    let mut ran = 0;
    for rank in 0..rank::RANKS {
        let share = rank::turn_share(rank, RUN_BATCH, ran > 0);
        for _ in 0..share {
            let Some(key) = own_ready.pop(rank) else {
                break;
            };
            scheduler::local::run(&rt.internals.local, key);
            ran += 1;
        }
    }
    let shared = &rt.internals.shared;
    for _ in 0..RUN_BATCH {
        let Some(task) = shared.scheduler.next() else {
            break;
        };
        from_elsewhere = true;
        shared.scheduler.run(task);
        ran += 1;
    }
    (ran, from_elsewhere)
}

/// How long the worker may sleep: until its next timer, local or shared
/// (`None`: no timer). Records the local timers for the metrics.
pub(crate) fn until_next_timer(rt: &RuntimeRef, wake: &WorkerShared) -> Option<Duration> {
    let now = Instant::now();
    let timers = rt.internals.timers.borrow();
    wake.set_timers(timers.len(), timers.next());
    let local = timers.next_in(now);
    drop(timers);
    let shared_next = rt.internals.shared.timers().next_in(now);
    match (local, shared_next) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Wakes the tasks that the poll's `events` (and the timers now due) make
/// ready; an event of the shared poll makes the worker poll that too.
///
/// # Errors
///
/// Polling the shared poll failed.
pub(crate) fn dispatch(
    rt: &RuntimeRef,
    events: &Events,
    due: &mut Vec<std::task::Waker>,
) -> io::Result<()> {
    let mut shared_poll = false;
    let mut io = rt.internals.io.borrow_mut();
    for event in events {
        match event.token() {
            // Being woken by the waker needs no handling: that was the
            // point.
            WAKER => {}
            SHARED_POLL => shared_poll = true,
            _ => io.ready(event, due),
        }
    }
    drop(io);
    if shared_poll {
        rt.internals.shared.io.poll(due)?;
    }
    trace::woke(WakeCause::Io, due.len());
    let by_io = due.len();
    expire_timers(rt, &rt.internals.shared, due, by_io);
    Ok(())
}

/// Runs a function given to [`Runtime::run_on_workers`]: its error, or its
/// panic, is the worker's error.
///
/// [`Runtime::run_on_workers`]: crate::Runtime::run_on_workers
fn run_function(id: usize, f: WorkerFn, rt: &RuntimeRef) -> Result<(), Error> {
    match panic::catch_unwind(AssertUnwindSafe(|| f(rt.clone()))) {
        Ok(result) => result.map_err(|err| Error::worker_function(id, err)),
        Err(panic) => Err(Error::worker_function(
            id,
            format!("it panicked: {}", panic_message(&*panic)).into(),
        )),
    }
}

/// Wakes the actors whose timers are due, local and shared, and those in
/// `due` already (the first `by_io`, woken by I/O).
fn expire_timers(
    rt: &RuntimeRef,
    shared: &RuntimeShared,
    due: &mut Vec<std::task::Waker>,
    by_io: usize,
) {
    let now = Instant::now();
    rt.internals.timers.borrow_mut().expire(now, due);
    // Shared timers: whichever worker comes first takes the due ones.
    if shared.timers().next().is_some_and(|next| next <= now) {
        shared.timers().expire(now, due);
    }
    trace::woke(WakeCause::Timers, due.len() - by_io);
    for waker in due.drain(..) {
        waker.wake();
    }
}

/// Drops the worker's local processes when the thread ends, also by a
/// panic: this closes their inboxes (so joiners and senders learn of it)
/// and breaks the reference cycle between processes and the `RuntimeRef`.
struct DrainOnExit(RuntimeRef);

impl Drop for DrainOnExit {
    fn drop(&mut self) {
        // The worker no longer delivers signals to its receivers.
        if let Ok(mut receivers) = self.0.internals.signal_receivers.try_borrow_mut() {
            receivers.clear();
        }
        let processes = match self.0.internals.local.try_borrow_mut() {
            Ok(mut local) => local.drain(),
            Err(_) => return,
        };
        drop(processes);
    }
}
