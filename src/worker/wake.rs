//! Waking a worker thread from any thread.
//!
//! A worker sleeps in `mio::Poll::poll`. Anything that gives it work (a
//! process woken from another thread, a control message, a thread-safe
//! process becoming ready) pushes to a queue and then calls
//! [`WorkerShared::notify`]. The worker announces that it is about to sleep
//! with [`WorkerShared::prepare_sleep`], checks its queues once more and only
//! then polls. Both sides put a sequentially consistent fence between their
//! write and their read, so either the worker sees the new work or the
//! notifier sees the sleeping worker and wakes its poll: no wake-up is lost,
//! and a busy worker is never sent a needless system call.
//!
//! Local processes woken on their own worker's thread (an actor sending to
//! another actor of the same worker, a spawn) skip all of that: they go to
//! a plain queue of the thread ([`OwnReady`]), with no atomic operation and
//! no notification, since the worker is awake by definition. That queue is
//! one per priority rank (see `scheduler::rank`): the key says which. It
//! lives in the worker's [`WorkerShared`], where a waker finds it without
//! a second thread-local look-up, and only the worker's thread touches it
//! (a thread-local pointer says which thread that is).

use std::cell::{Cell, UnsafeCell};
use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::scheduler::Census;
use crate::scheduler::new_first::{NewFirst, Pick};
use crate::scheduler::rank::{NORMAL_RANK, RANKS, rank_of};
use crate::sys::ThreadClock;

/// The [`OwnReady`] queues: one per rank, and the stack of new processes.
const QUEUES: usize = RANKS + 1;

/// Index of the stack of new processes of normal priority among the
/// [`OwnReady`] queues.
const SPAWNED: usize = RANKS;

/// The parts of a worker that other threads use: to wake it, and to read
/// its numbers for the metrics.
pub(crate) struct WorkerShared {
    /// Worker id, starting at 1.
    pub(crate) id: usize,
    /// What other threads use to hand the worker work, on cache lines of
    /// its own.
    doorbell: Doorbell,
    /// Number of local processes, kept by the local scheduler.
    pub(crate) live: AtomicUsize,
    /// The local processes by name and kind, kept by the local scheduler.
    pub(crate) census: Arc<Census>,
    /// Length of the worker's [`OwnReady`] queues, for the metrics and to
    /// tell whether they are empty.
    own_ready: AtomicUsize,
    /// The [`OwnReady`] queues: local processes woken on the worker's
    /// thread (and those woken elsewhere, once the worker took them from
    /// its channel), by key, a queue per priority rank, and last the stack
    /// of new processes of normal priority (see [`OwnReady::pop`]). Touched only on
    /// the thread whose `OWNER` this is, and never while a reference
    /// made from it is alive (no code that could reach it again runs
    /// while one is: see [`WorkerShared::own_queues`]).
    own_queues: UnsafeCell<[VecDeque<u64>; QUEUES]>,
    /// CPU clock of the worker thread, set when it starts.
    pub(crate) clock: OnceLock<ThreadClock>,
    /// Number of local timers, updated before each sleep.
    pub(crate) timers: AtomicUsize,
    /// Next local timer as nanoseconds after `created`, `u64::MAX` if none.
    next_timer: AtomicU64,
    created: Instant,
    /// Entries into and exits from `Poll::poll`: odd while the worker is in
    /// its poll. Written by the worker only; read by the service watchdog
    /// to tell a stuck worker (even and unchanging) from an idle one.
    polls: AtomicU64,
    /// The worker handled `Control::Started`: it ran what was given to it
    /// before the runtime started.
    started: AtomicBool,
}

impl WorkerShared {
    pub(crate) fn new(id: usize, ready: Sender<u64>, waker: mio::Waker) -> WorkerShared {
        WorkerShared {
            id,
            doorbell: Doorbell {
                ready,
                sleeping: AtomicBool::new(false),
                waker,
            },
            live: AtomicUsize::new(0),
            census: Arc::default(),
            own_ready: AtomicUsize::new(0),
            own_queues: UnsafeCell::new(Default::default()),
            clock: OnceLock::new(),
            timers: AtomicUsize::new(0),
            next_timer: AtomicU64::new(u64::MAX),
            created: Instant::now(),
            polls: AtomicU64::new(0),
            started: AtomicBool::new(false),
        }
    }

    /// Counts an entry into or an exit from the worker's poll. Called by
    /// the worker thread only (a load and a store, no atomic
    /// read-modify-write).
    pub(crate) fn count_poll(&self) {
        let polls = self.polls.load(Ordering::Relaxed);
        self.polls.store(polls.wrapping_add(1), Ordering::Relaxed);
    }

    /// The worker's poll count: odd while it is in its poll.
    pub(crate) fn pulse(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// Marks the worker as started (it handled `Control::Started`).
    pub(crate) fn set_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// True once the worker handled `Control::Started`.
    pub(crate) fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Records the worker's timers for the metrics.
    pub(crate) fn set_timers(&self, count: usize, next: Option<Instant>) {
        self.timers.store(count, Ordering::Relaxed);
        let nanos = next.map_or(u64::MAX, |next| {
            u64::try_from(next.saturating_duration_since(self.created).as_nanos())
                .unwrap_or(u64::MAX)
        });
        self.next_timer.store(nanos, Ordering::Relaxed);
    }

    /// The worker's next timer, as recorded by [`WorkerShared::set_timers`].
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        match self.next_timer.load(Ordering::Relaxed) {
            u64::MAX => None,
            nanos => Some(self.created + Duration::from_nanos(nanos)),
        }
    }

    /// The worker's own ready queues.
    ///
    /// # Safety
    ///
    /// Called on the worker's thread only (the thread `OWNER` points to
    /// this on), and the reference is gone before anything could call this
    /// again: its users only push to or pop from a queue, running no other
    /// code meanwhile.
    #[inline]
    #[allow(clippy::mut_from_ref)] // Exclusive by the contract above.
    unsafe fn own_queues(&self) -> &mut [VecDeque<u64>; QUEUES] {
        // SAFETY: as the caller guarantees, this is the only reference.
        unsafe { &mut *self.own_queues.get() }
    }

    /// Schedules a local process of this worker.
    #[inline]
    pub(crate) fn schedule_local(&self, key: u64) {
        if OwnReady::push(self, key) {
            return;
        }
        // The receiver lives as long as the worker; after the worker ended
        // there is nothing to schedule on.
        if self.doorbell.ready.send(key).is_ok() {
            let _ = self.notify();
        }
    }

    /// Schedules the new local process with `key`: on the worker's thread,
    /// one of normal priority goes on top of the stack of new processes.
    pub(crate) fn schedule_new(&self, key: u64) {
        if !OwnReady::push_new(self, key) {
            self.schedule_local(key);
        }
    }

    /// Adds `delta` to the length of the worker's [`OwnReady`] queues.
    /// Called by the worker thread only (a load and a store, no atomic
    /// read-modify-write).
    fn count_own_ready(&self, delta: isize) {
        let len = self.own_ready.load(Ordering::Relaxed);
        self.own_ready
            .store(len.wrapping_add_signed(delta), Ordering::Relaxed);
    }

    /// Number of local processes waiting to run, for the metrics.
    pub(crate) fn ready_len(&self) -> usize {
        self.doorbell.ready.len() + self.own_ready.load(Ordering::Relaxed)
    }

    /// Wakes the worker if it sleeps. Call after making work visible.
    /// Returns true if the worker was asleep.
    pub(crate) fn notify(&self) -> bool {
        fence(Ordering::SeqCst);
        if self.doorbell.sleeping.load(Ordering::Relaxed)
            && self.doorbell.sleeping.swap(false, Ordering::AcqRel)
        {
            self.wake_poll();
            true
        } else {
            false
        }
    }

    /// Wakes the worker's poll unconditionally.
    pub(crate) fn wake_poll(&self) {
        if let Err(err) = self.doorbell.waker.wake() {
            log::error!(worker = self.id, error:% = err; "unable to wake worker thread");
        }
    }

    /// Marks the worker as going to sleep; the worker must check its queues
    /// after this and before polling.
    pub(crate) fn prepare_sleep(&self) {
        self.doorbell.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Marks the worker as awake.
    pub(crate) fn awake(&self) {
        if self.doorbell.sleeping.load(Ordering::Relaxed) {
            self.doorbell.sleeping.store(false, Ordering::Relaxed);
        }
    }
}

/// The fields of a [`WorkerShared`] that every wake from another thread
/// reads, apart from those the worker writes as it runs (its queues and
/// counters): sharing a cache line with those, each wake from elsewhere
/// took the line from the worker's core, and the worker took it back at
/// its next push or pop.
#[repr(align(128))]
struct Doorbell {
    /// Ready queue of the worker's local scheduler (process keys).
    ready: Sender<u64>,
    /// True while the worker is in, or about to enter, `Poll::poll`.
    /// Written only when it changes, so that the wakes that find the
    /// worker awake read a line that stays in their cache.
    sleeping: AtomicBool,
    waker: mio::Waker,
}

// SAFETY: `own_queues` is touched only on the worker's own thread (see
// `WorkerShared::own_queues`); everything else is atomic or immutable, or
// `Sync` itself. The queues hold plain keys, which may be dropped with the
// last reference on any thread.
unsafe impl Sync for WorkerShared {}

thread_local! {
    /// The worker whose thread this is (null on other threads).
    static OWNER: Cell<*const WorkerShared> = const { Cell::new(ptr::null()) };
}

/// The ready queue of the local processes woken on their worker's own
/// thread. Held by the worker loop: the thread is the worker's while it
/// exists, and the queue is emptied when it is dropped.
///
/// Not `Send`: it stays on the thread it made the worker's.
pub(crate) struct OwnReady {
    wake: std::sync::Arc<WorkerShared>,
    /// The order of the stack of new processes.
    new_first: Cell<NewFirst>,
    _thread: std::marker::PhantomData<*const ()>,
}

impl OwnReady {
    /// Makes the current thread the thread of `wake`'s worker.
    pub(crate) fn attach(wake: std::sync::Arc<WorkerShared>) -> OwnReady {
        OWNER.with(|owner| owner.set(std::sync::Arc::as_ptr(&wake)));
        // SAFETY: this is the worker's thread now; nothing else holds the
        // queues.
        unsafe { wake.own_queues() }
            .iter_mut()
            .for_each(VecDeque::clear);
        wake.own_ready.store(0, Ordering::Relaxed);
        OwnReady {
            wake,
            new_first: Cell::new(NewFirst::default()),
            _thread: std::marker::PhantomData,
        }
    }

    /// Queues the new process `key` if this is `wake`'s worker thread (on
    /// the stack of new ones if of normal priority); false otherwise.
    fn push_new(wake: &WorkerShared, key: u64) -> bool {
        if !ptr::eq(OWNER.with(Cell::get), wake) {
            return false;
        }
        // SAFETY: on the worker's thread (checked just above); the
        // reference ends with the push.
        let queues = unsafe { wake.own_queues() };
        let rank = rank_of(key);
        let queue = if rank == NORMAL_RANK { SPAWNED } else { rank };
        queues[queue].push_back(key);
        wake.count_own_ready(1);
        true
    }

    /// Queues `key` if this is `wake`'s worker thread; false otherwise.
    #[inline]
    fn push(wake: &WorkerShared, key: u64) -> bool {
        if !ptr::eq(OWNER.with(Cell::get), wake) {
            return false;
        }
        // SAFETY: on the worker's thread (checked just above); the
        // reference ends with the push.
        let queues = unsafe { wake.own_queues() };
        queues[rank_of(key)].push_back(key);
        wake.count_own_ready(1);
        true
    }

    /// Queues `key`, taken from the worker's channel (woken on another
    /// thread), behind the keys of its rank.
    pub(crate) fn queue(&self, key: u64) {
        // SAFETY: an `OwnReady` is used on its worker's thread only (it is
        // not `Send`); the reference ends with the push.
        let queues = unsafe { self.wake.own_queues() };
        queues[rank_of(key)].push_back(key);
        self.wake.count_own_ready(1);
    }

    /// The next key of priority rank `rank` to run, if any. In the normal
    /// rank, new processes come newest first (so a tree of actors is walked
    /// depth first, and only a path of it waits at a time), except that a
    /// process woken earlier and the oldest new process get their turns
    /// (see [`NewFirst`]).
    #[inline]
    pub(crate) fn pop(&self, rank: usize) -> Option<u64> {
        // SAFETY: as in `queue`.
        let queues = unsafe { self.wake.own_queues() };
        if rank == NORMAL_RANK && !queues[SPAWNED].is_empty() {
            return self.pop_normal_or_new();
        }
        let key = queues[rank].pop_front();
        if key.is_some() {
            self.wake.count_own_ready(-1);
        }
        key
    }

    /// [`OwnReady::pop`] of the normal rank while new processes wait.
    #[inline(never)]
    fn pop_normal_or_new(&self) -> Option<u64> {
        // SAFETY: as in `queue`.
        let queues = unsafe { self.wake.own_queues() };
        let mut order = self.new_first.get();
        let key = match order.pick(!queues[NORMAL_RANK].is_empty()) {
            Pick::Newest => queues[SPAWNED].pop_back(),
            Pick::Oldest => queues[SPAWNED].pop_front(),
            Pick::Woken => queues[NORMAL_RANK].pop_front(),
        };
        self.new_first.set(order);
        if key.is_some() {
            self.wake.count_own_ready(-1);
        }
        key
    }

    /// True if no key is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.wake.own_ready.load(Ordering::Relaxed) == 0
    }
}

impl Drop for OwnReady {
    fn drop(&mut self) {
        OWNER.with(|owner| owner.set(ptr::null()));
        // SAFETY: as in `queue`.
        *unsafe { self.wake.own_queues() } = Default::default();
        self.wake.own_ready.store(0, Ordering::Relaxed);
    }
}
