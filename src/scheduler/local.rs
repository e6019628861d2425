//! The scheduler of one worker's thread-local processes.
//!
//! Processes live in a slab; a process key is its slot index plus the slot's
//! generation, so a stale wake-up for a finished process never runs the
//! process that took its slot. Local processes are woken through the
//! worker's [`WorkerShared`] (its own thread's queue, or its channel from
//! other threads), because wakers may run on any thread.
//!
//! A process and its waker state share one allocation, a [`LocalCell`]:
//! the scheduler holds one reference, each waker another. The process in
//! it is only ever touched on the worker's thread, and is dropped there
//! (in place) before the scheduler lets go of the cell, so a waker that
//! outlives it on another thread holds only the waker state. An actor's
//! inbox lives in the cell too ([`spawn_actor`]): the inbox holds one
//! reference to the cell for all its ends, given up when the last of them
//! (the actor's references, its context, the process's owner) is gone.

use std::cell::{RefCell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{self, Poll, Wake, Waker};

use log::error;

use crate::Priority;
use crate::inbox;
use crate::scheduler::{CensusTally, Process, budget, rank};
use crate::supervisor::panic_message;
use crate::trace::{self, RunKind};
use crate::worker::WorkerShared;

pub(crate) struct LocalScheduler {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    wake: Arc<WorkerShared>,
    /// The live processes by name and kind, for the metrics.
    census: CensusTally,
}

struct Slot {
    generation: u32,
    /// The process's entry in the census.
    census: u32,
    /// The slot's process, while it is not done.
    cell: Option<Arc<dyn LocalRun>>,
}

/// A local process with its waker state, and `X`: what lives as long as
/// the cell (an actor's inbox, or nothing).
struct LocalCell<P, X = ()> {
    /// Set once, when the cell joins the scheduler (before any waker of
    /// it exists).
    key: AtomicU64,
    /// Set while the process is queued to run.
    scheduled: AtomicBool,
    wake: Arc<WorkerShared>,
    /// The process, `None` once it is done or dropped. Touched only on the
    /// worker's thread, by the scheduler, one run at a time.
    process: UnsafeCell<Option<P>>,
    extra: X,
}

// SAFETY: other threads reach a `LocalCell` only through a `Waker` or,
// for an actor's inbox in `extra`, through the inbox's ends (the scheduler
// and its cells never leave the worker's thread). A waker uses `key`,
// `scheduled` and `wake`, which are `Sync`; the inbox's ends carry their
// own `Send`/`Sync` bounds (a sender leaves the thread only if its
// messages may). Either may drop the last reference. `process` is set to
// `None` on the worker's thread before the scheduler drops its own
// reference (`run` when done, `drain`, and `LocalScheduler`'s `Drop`), so
// no `P` is ever accessed or dropped on another thread; the process owns
// its inbox, whose owner closes and empties it when the process is
// dropped, so an inbox dropped with the cell on another thread holds no
// messages either.
unsafe impl<P, X: CellExtra> Send for LocalCell<P, X> {}
// SAFETY: as for `Send`: shared access from other threads is limited to
// the `Sync` fields and to the inbox through its ends.
unsafe impl<P, X: CellExtra> Sync for LocalCell<P, X> {}

/// What a `LocalCell` may hold besides its process: the argument of its
/// `Send` and `Sync` holds for these only.
trait CellExtra: 'static {}

/// Nothing: a plain future's cell.
impl CellExtra for () {}

/// An actor's inbox, closed and emptied by its owner when the process is
/// dropped.
impl<M: 'static> CellExtra for inbox::Storage<M> {}

/// What the scheduler does with a cell, whatever its process type. Called
/// on the worker's thread only.
trait LocalRun {
    /// Runs the process once; `Ready` when it is done (or gone).
    ///
    /// # Safety
    ///
    /// `self` is in the `Arc` a slot of the scheduler holds, and that
    /// slot keeps it through the call: the waker of the run borrows that
    /// reference instead of counting one of its own.
    unsafe fn run(&self) -> Poll<()>;

    /// Drops the process in place. A panic in its destructor is logged
    /// with the process's name, not passed on: the worker goes on, and
    /// every other process still gets dropped on this thread (the promise
    /// of `LocalCell`). The process is `None` afterwards either way: an
    /// assignment whose drop of the old value panics still stores the new
    /// one.
    fn drop_process(&self);

    /// Schedules the process, as its waker does.
    fn wake_local(&self);
}

impl<P: Process + 'static, X: CellExtra> LocalRun for LocalCell<P, X> {
    #[inline]
    unsafe fn run(&self) -> Poll<()> {
        // Cleared before running: a wake-up during the run schedules again.
        let _ = self.scheduled.swap(false, Ordering::AcqRel);
        // SAFETY: the caller's slot holds an `Arc` of this cell through the
        // call; this one borrows its count (it is never dropped), so no
        // count is taken and given back on every run. A clone of the
        // waker counts its own reference as usual.
        let cell = ManuallyDrop::new(unsafe { Arc::from_raw(std::ptr::from_ref(self)) });
        let waker = ManuallyDrop::new(Waker::from(ManuallyDrop::into_inner(cell)));
        let mut cx = task::Context::from_waker(&waker);
        let process = self.process.get();
        // SAFETY: the slot holds the cell, so `process` points into live
        // memory until the end of this function. Only the worker's thread
        // touches `process`, and it runs one process at a time and never
        // re-enters a run (see `LocalCell`), so this is the only reference
        // to it.
        let process = unsafe { &mut *process };
        match process {
            Some(process) => trace::run(process, RunKind::ThreadLocal, |process| {
                budget::with_budget(|| process.run(&mut cx))
            }),
            None => Poll::Ready(()),
        }
    }

    fn drop_process(&self) {
        // SAFETY: as in `run`: on the worker's thread, not during a run of
        // this process (the scheduler drops a process only after its run
        // returned, or when the worker ends), so this is the only reference.
        let process = unsafe { &mut *self.process.get() };
        // The name is worked out only if the destructor panics.
        let name = process.as_ref().map(P::name_fn);
        // Dropped in place: a process does not move once it ran. A panic
        // in the destructor still leaves `None`.
        if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(|| *process = None)) {
            error!(process = name.map_or("?", |name| name()), panic = panic_message(&*panic); "dropping a finished process panicked");
        }
    }

    fn wake_local(&self) {
        self.schedule();
    }
}

impl<P, X> LocalCell<P, X> {
    /// A cell without its process yet, not in the scheduler yet. Written
    /// into its allocation in place: `Arc::new` would build it on the
    /// stack and copy it, and the process put in it later is written in
    /// place too (a process is often hundreds of bytes: the actor's future
    /// is in it).
    fn allocate(wake: Arc<WorkerShared>, extra: X) -> Arc<LocalCell<P, X>> {
        let mut cell = Arc::<LocalCell<P, X>>::new_uninit();
        let _ = Arc::get_mut(&mut cell)
            .expect("a new Arc is unique")
            .write(LocalCell {
                key: AtomicU64::new(0),
                // Queued by `join`.
                scheduled: AtomicBool::new(true),
                wake,
                process: UnsafeCell::new(None),
                extra,
            });
        // SAFETY: written just above.
        unsafe { cell.assume_init() }
    }

    #[inline]
    fn schedule(&self) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.wake.schedule_local(self.key.load(Ordering::Relaxed));
        }
    }
}

impl<P: Process + 'static, X: CellExtra> Wake for LocalCell<P, X> {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}

/// Generations wrap at 2^30: the key's top two bits carry the priority.
const GENERATION_MASK: u32 = (1 << 30) - 1;

/// A process's key: its slot, the slot's generation and its priority
/// (see [`rank`]).
fn key(index: u32, generation: u32, priority: Priority) -> u64 {
    rank::with_rank(
        u64::from(generation & GENERATION_MASK) << 32 | u64::from(index),
        priority,
    )
}

/// The slot index and generation in `key`.
fn slot_of(key: u64) -> (u32, u32) {
    let key = rank::without_rank(key);
    // The index is the low 32 bits; the generation the next 30, below the
    // rank that `without_rank` cleared.
    #[allow(clippy::cast_possible_truncation)] // Masked and shifted to 32 bits: they fit.
    let parts = ((key & u64::from(u32::MAX)) as u32, (key >> 32) as u32);
    parts
}

impl LocalScheduler {
    pub(crate) fn new(wake: Arc<WorkerShared>) -> LocalScheduler {
        LocalScheduler {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            census: CensusTally::new(wake.census.clone()),
            wake,
        }
    }

    /// Number of processes not yet done.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Adds a process and schedules it to run with `priority`.
    pub(crate) fn add<P: Process + 'static>(&mut self, process: P, priority: Priority) {
        let cell = LocalCell::<P>::allocate(self.wake.clone(), ());
        // SAFETY: on the worker's thread; the cell is in no scheduler yet
        // and has no waker, so nothing else touches its process.
        unsafe { *cell.process.get() = Some(process) };
        self.join(cell, priority);
    }

    /// Gives `cell`, whose process is set, a slot, and schedules it to run
    /// with `priority`.
    fn join<P: Process + 'static, X: CellExtra>(
        &mut self,
        cell: Arc<LocalCell<P, X>>,
        priority: Priority,
    ) {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len())
                    .expect("more than 2^32 processes on one worker");
                self.slots.push(Slot {
                    generation: 0,
                    census: 0,
                    cell: None,
                });
                index
            }
        };
        // SAFETY: on the worker's thread; the cell joins the scheduler now,
        // so none of its wakers has run it yet.
        let census = match unsafe { &*cell.process.get() } {
            Some(process) => {
                self.census
                    .started(process.type_key(), process.name_fn(), process.kind())
            }
            None => u32::MAX,
        };
        let slot = &mut self.slots[index as usize];
        slot.census = census;
        let key = key(index, slot.generation, priority);
        cell.key.store(key, Ordering::Relaxed);
        slot.cell = Some(cell);
        crate::scheduler::note_allocated(size_of::<LocalCell<P, X>>());
        self.live += 1;
        self.wake.live.store(self.live, Ordering::Relaxed);
        // New: on top of the worker's stack of new processes (see
        // `OwnReady::pop`).
        self.wake.schedule_new(key);
    }

    /// The process with `key`, if it still exists: a pointer to its
    /// cell, which the slot keeps alive until the process is removed (no
    /// count is taken: see `run`).
    #[inline]
    fn get(&self, key: u64) -> Option<*const dyn LocalRun> {
        let (index, generation) = slot_of(key);
        let slot = self.slots.get(index as usize)?;
        if slot.generation != generation {
            return None;
        }
        slot.cell.as_ref().map(Arc::as_ptr)
    }

    /// Removes the finished process with `key`; returns its cell, whose
    /// process the caller drops outside the scheduler's borrow.
    fn remove(&mut self, key: u64) -> Option<Arc<dyn LocalRun>> {
        let (index, _) = slot_of(key);
        let slot = self.slots.get_mut(index as usize)?;
        let cell = slot.cell.take()?;
        slot.generation = slot.generation.wrapping_add(1) & GENERATION_MASK;
        self.census.ended(slot.census);
        self.free.push(index);
        self.live -= 1;
        self.wake.live.store(self.live, Ordering::Relaxed);
        Some(cell)
    }

    /// Wakes every process, e.g. to let them see that the runtime is
    /// shutting down.
    pub(crate) fn wake_all(&self) {
        for cell in self.slots.iter().filter_map(|slot| slot.cell.as_ref()) {
            cell.wake_local();
        }
    }

    /// Takes every process out (the worker is stopping); dropping the
    /// returned [`Drained`] drops them, without the scheduler borrowed.
    pub(crate) fn drain(&mut self) -> Drained {
        let census = &self.census;
        let cells = self
            .slots
            .iter_mut()
            .filter_map(|slot| {
                let cell = slot.cell.take()?;
                census.ended(slot.census);
                Some(cell)
            })
            .collect();
        self.live = 0;
        self.wake.live.store(0, Ordering::Relaxed);
        Drained(cells)
    }
}

impl Drop for LocalScheduler {
    fn drop(&mut self) {
        // Normally drained already; this keeps `LocalCell`'s promise that no
        // process outlives the scheduler's hold on it.
        drop(self.drain());
    }
}

/// Processes taken out of a scheduler; dropped (in place, on this thread)
/// when this is dropped.
pub(crate) struct Drained(Vec<Arc<dyn LocalRun>>);

impl Drop for Drained {
    fn drop(&mut self) {
        for cell in self.0.drain(..) {
            cell.drop_process();
        }
    }
}

/// Runs one process of `scheduler` (given by `key`). The scheduler is only
/// borrowed to find the process and to remove it when done, so the process
/// may spawn new processes while it runs.
// One caller, the worker's loop, and its hottest call: left to itself the
// compiler stopped inlining it when that loop grew (callgrind: 20
// instructions more per rpc).
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn run(scheduler: &std::cell::RefCell<LocalScheduler>, key: u64) {
    let Some(cell) = scheduler.borrow().get(key) else {
        return;
    };
    // SAFETY: the cell is in the `Arc` of the slot of `key`, which only
    // `remove` below (after the run) and the scheduler's drain take out,
    // and a drain never happens during a run: it runs when the worker
    // ends, outside any run (a panic out of a run has left it by then).
    if unsafe { (*cell).run() }.is_ready() {
        let finished = scheduler.borrow_mut().remove(key);
        // Dropped outside the borrow: dropping an actor can run arbitrary
        // user `Drop` code.
        if let Some(cell) = finished {
            cell.drop_process();
        }
    }
}

/// Spawns an actor's process on the worker of `scheduler`, with
/// `priority`, with its inbox (of `capacity` messages) in the same
/// allocation: `build` gets the
/// inbox's owner and puts the process in the slot it is given (in the
/// cell: a process is often hundreds of bytes, better not moved), and what
/// it returns is returned. The scheduler is not borrowed while `build`
/// runs (it runs user code that may spawn). If `build` leaves the slot
/// empty, nothing is spawned.
pub(crate) fn spawn_actor<P, M, T>(
    scheduler: &RefCell<LocalScheduler>,
    capacity: NonZeroUsize,
    priority: Priority,
    build: impl FnOnce(inbox::Owner<M>, &mut Option<P>) -> T,
) -> T
where
    P: Process + 'static,
    M: 'static,
{
    let wake = scheduler.borrow().wake.clone();
    let mut storage = inbox::embedded(capacity);
    storage.set_release(release_cell::<P, M>);
    let cell = LocalCell::<P, _>::allocate(wake, storage);
    // One count for all the inbox's ends, given up by the last of them
    // (`release_cell` finds it from the inbox's address).
    let hold = Arc::into_raw(cell.clone());
    // SAFETY: `hold` points to the live cell; the field's address is taken
    // without a reference, so it may reach the whole cell.
    let storage = unsafe { &raw const (*hold).extra };
    // SAFETY: once per storage, after its release was set, with a pointer
    // derived from the cell's; the storage is a field of the cell, which
    // does not move and stays alive until the release gives up the hold
    // made just above.
    let owner = unsafe { inbox::embedded_owner(storage) };
    let built = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: on the worker's thread; the cell is in no scheduler yet
        // and has no waker, so nothing else touches its process while
        // `build` (or anything it calls) holds this.
        let slot = unsafe { &mut *cell.process.get() };
        build(owner, slot)
    }));
    match built {
        Ok(built) => {
            // SAFETY: as above; the slot is no longer borrowed.
            if unsafe { (*cell.process.get()).is_some() } {
                scheduler.borrow_mut().join(cell, priority);
            }
            built
        }
        Err(panic) => {
            // A process made before the panic holds the inbox's owner, and
            // so the cell: dropped here (on this thread), or the cell
            // would never be freed nor the inbox closed.
            cell.drop_process();
            panic::resume_unwind(panic)
        }
    }
}

/// An embedded inbox's release: gives up its hold on the cell it is in.
///
/// # Safety
///
/// `storage` is the address of the `extra` field of a
/// `LocalCell<P, inbox::Storage<M>>`, derived from the cell's pointer made
/// by `Arc::into_raw` (the inbox's hold), which is not yet given up.
unsafe fn release_cell<P, M>(storage: *const ()) {
    let offset = std::mem::offset_of!(LocalCell<P, inbox::Storage<M>>, extra);
    // SAFETY: the field is `offset` bytes into the cell, and `storage` may
    // reach the whole cell (derived from its pointer), as the caller
    // guarantees.
    let cell = unsafe { storage.byte_sub(offset) }.cast::<LocalCell<P, inbox::Storage<M>>>();
    // SAFETY: `cell` is the pointer `Arc::into_raw` made for the hold.
    drop(unsafe { Arc::from_raw(cell) });
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::num::NonZeroUsize;
    use std::sync::{Arc, mpsc};
    use std::task::{self, Poll};

    use super::{LocalScheduler, run, spawn_actor};
    use crate::Priority;
    use crate::inbox;
    use crate::scheduler::Process;
    use crate::scheduler::test_process::PanicsOnDrop;
    use crate::worker::{OwnReady, WorkerShared};

    /// Receives messages until it has `wanted` of them.
    struct Counting {
        /// Held as an actor's process holds it: dropping it closes the
        /// inbox.
        _inbox: inbox::Owner<u32>,
        receiver: inbox::Receiver<u32>,
        got: Vec<u32>,
        wanted: usize,
        done: mpsc::Sender<Vec<u32>>,
    }

    impl Process for Counting {
        fn name_fn(&self) -> fn() -> &'static str {
            || "counting"
        }

        fn run(&mut self, cx: &mut task::Context<'_>) -> Poll<()> {
            while let Poll::Ready(Ok(msg)) = self.receiver.poll_recv(cx) {
                self.got.push(msg);
                if self.got.len() == self.wanted {
                    let _ = self.done.send(std::mem::take(&mut self.got));
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        }
    }

    /// An actor's process and its inbox in one cell: messages sent from
    /// another thread reach it, it is removed when done, and the cell is
    /// freed only when the last sender (on the other thread) is gone. Run
    /// under Miri as well, which checks the cell's memory is neither used
    /// after it is freed nor leaked.
    #[test]
    fn actor_with_embedded_inbox_outlived_by_its_sender() {
        let poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), mio::Token(0)).unwrap();
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded();
        let wake = Arc::new(WorkerShared::new(1, ready_tx, waker));
        let own = OwnReady::attach(wake.clone());
        let scheduler = RefCell::new(LocalScheduler::new(wake));
        let (done_tx, done_rx) = mpsc::channel();
        let capacity = NonZeroUsize::new(2).unwrap();
        let sender = spawn_actor(&scheduler, capacity, Priority::Normal, |owner, slot| {
            let sender = owner.sender();
            *slot = Some(Counting {
                receiver: owner.receiver(),
                _inbox: owner,
                got: Vec::new(),
                wanted: 3,
                done: done_tx,
            });
            sender
        });
        assert_eq!(scheduler.borrow().live(), 1);
        // First run: no message yet.
        let key = own
            .pop(crate::scheduler::rank::rank(Priority::Normal))
            .expect("the new process is queued");
        run(&scheduler, key);
        assert_eq!(scheduler.borrow().live(), 1);
        // Messages from another thread wake it through the worker's channel.
        let (sent_tx, sent_rx) = mpsc::channel();
        let other = std::thread::spawn(move || {
            for msg in 1..=3 {
                let mut slot = Some(msg);
                // Room for 2: the third waits for the run below.
                while sender.try_send_from(&mut || slot.take()).is_err() {
                    std::thread::yield_now();
                }
                let _ = sent_tx.send(msg);
            }
            // Kept until the process is gone: then it is the cell's last
            // reference but the inbox's own.
            sender
        });
        let mut result = None;
        while result.is_none() {
            if let Ok(key) = ready_rx.recv() {
                run(&scheduler, key);
            }
            result = done_rx.try_recv().ok();
        }
        assert_eq!(result, Some(vec![1, 2, 3]));
        assert_eq!(sent_rx.iter().count(), 3);
        assert_eq!(scheduler.borrow().live(), 0);
        let sender = other.join().unwrap();
        // The actor stopped: its inbox is closed, and the cell still there.
        let mut slot = Some(4);
        assert_eq!(
            sender.try_send_from(&mut || slot.take()),
            Err(inbox::SendFailure::Stopped)
        );
        drop(sender);
        drop(scheduler);
        drop(own);
    }

    /// A process that keeps its inbox's owner (and so the inbox open).
    struct Holds(inbox::Owner<u32>);

    impl Process for Holds {
        fn name_fn(&self) -> fn() -> &'static str {
            || "holds"
        }

        fn run(&mut self, _: &mut task::Context<'_>) -> Poll<()> {
            let _ = &self.0;
            Poll::Pending
        }
    }

    fn test_scheduler() -> (RefCell<LocalScheduler>, OwnReady) {
        let poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), mio::Token(0)).unwrap();
        let (ready_tx, _ready_rx) = crossbeam_channel::unbounded();
        let wake = Arc::new(WorkerShared::new(1, ready_tx, waker));
        let own = OwnReady::attach(wake.clone());
        (RefCell::new(LocalScheduler::new(wake)), own)
    }

    /// A process whose destructor panics while the worker drops its
    /// processes does not keep the others from being dropped (closing
    /// their inboxes).
    #[test]
    fn a_panicking_destructor_does_not_stop_the_drain() {
        let (scheduler, own) = test_scheduler();
        scheduler.borrow_mut().add(PanicsOnDrop, Priority::Normal);
        let capacity = NonZeroUsize::new(1).unwrap();
        let sender = spawn_actor(&scheduler, capacity, Priority::Normal, |owner, slot| {
            let sender = owner.sender();
            *slot = Some(Holds(owner));
            sender
        });
        let drained = scheduler.borrow_mut().drain();
        drop(drained);
        assert!(
            sender.is_closed(),
            "the actor after the panicking one was not dropped"
        );
        drop(scheduler);
        drop(own);
    }

    /// The race the cell's reference count is there for: the last sender
    /// dropped on another thread at the moment the worker drops the
    /// process (and with it the inbox's owner). Whoever comes last frees
    /// the cell, once. Run under `AddressSanitizer` in CI (and under Miri by
    /// hand), which catch a use after free, a double free or a leak.
    #[test]
    fn last_sender_dropped_elsewhere_while_the_worker_drops_the_cell() {
        let rounds = if cfg!(miri) { 20 } else { 2000 };
        let (scheduler, own) = test_scheduler();
        let capacity = NonZeroUsize::new(1).unwrap();
        for round in 0..rounds {
            let sender = spawn_actor(&scheduler, capacity, Priority::Normal, |owner, slot| {
                let sender = owner.sender();
                *slot = Some(Holds(owner));
                sender
            });
            let start = Arc::new(std::sync::Barrier::new(2));
            let go = start.clone();
            let other = std::thread::spawn(move || {
                let _ = go.wait();
                // A send races the close too.
                let _ = sender.try_send_from(&mut || Some(round));
                drop(sender);
            });
            let _ = start.wait();
            drop(scheduler.borrow_mut().drain());
            other.join().unwrap();
        }
        assert_eq!(scheduler.borrow().live(), 0);
        drop(scheduler);
        drop(own);
    }

    /// A panic in `build` after it made the process drops that process
    /// (closing its inbox) and passes the panic on.
    #[test]
    fn a_panic_after_the_process_is_built_drops_it() {
        let (scheduler, own) = test_scheduler();
        let capacity = NonZeroUsize::new(1).unwrap();
        let mut escaped = None;
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            spawn_actor(&scheduler, capacity, Priority::Normal, |owner, slot| {
                escaped = Some(owner.sender());
                *slot = Some(Holds(owner));
                panic!("after building");
            })
        }));
        assert!(panicked.is_err());
        assert!(escaped.expect("build ran").is_closed());
        assert_eq!(scheduler.borrow().live(), 0);
        drop(scheduler);
        drop(own);
    }
}
