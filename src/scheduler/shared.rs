//! The scheduler of thread-safe processes, shared by all workers.
//!
//! Every worker thread has a run queue of its own, a stack of the tasks
//! spawned on it and not yet run, and a LIFO slot; one global queue (the
//! injector) takes what becomes ready on other threads (the coordinator,
//! sync actors, threads outside the runtime). A task woken on a worker's
//! thread (by an actor running there) goes to that worker's LIFO slot and
//! runs next, so a request and its answer stay on one worker with no
//! notification at all; the task it displaces goes to the worker's queue,
//! and a sleeping worker is woken to steal it. A task spawned on a
//! worker's thread goes on top of its stack of new tasks, so a tree of
//! actors is walked depth first and only a path of it waits at a time. A
//! worker takes work from its LIFO slot (at most [`LIFO_LIMIT`] times in a
//! row, so a pair of actors that keep waking each other cannot starve the
//! rest), then its stack of new tasks (newest first, with turns for its
//! queue and for the oldest new task: see [`NewFirst`]), its queue (with a
//! look at the injector every [`INJECTOR_EVERY`] tasks), then the injector, then steals from another
//! worker: half of its queue, or the oldest of its new tasks (the roots of
//! the largest subtrees). Keeping tasks on the worker that made them also
//! keeps their memory on the thread that allocated it.
//!
//! Priorities: tasks of normal priority take the path above. A task of high
//! priority made ready goes to a queue of its own (`high`) that every
//! worker looks at before anything else; one of low priority to another
//! (`low`), which a worker takes from when it finds no other task, and
//! once in every [`LOW_EVERY`] tasks it takes so that low tasks are never
//! starved.
//!
//! A task is the process and its scheduling state in one allocation. Its
//! state word makes sure it is queued at most once and never runs on two
//! workers at the same time:
//!
//! - `NOTIFIED`: woken and queued (or, while running, to be queued again);
//! - `RUNNING`: a worker is running it;
//! - `COMPLETE`: done; wake-ups are ignored.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{self, Wake, Waker};

use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};
use log::error;

use crate::Priority;
use crate::scheduler::new_first::{NewFirst, Pick};
use crate::scheduler::{Census, CensusTally};
use crate::scheduler::{Process, budget};
use crate::supervisor::panic_message;
use crate::trace::{self, RunKind};
use crate::worker::WorkerShared;

const NOTIFIED: u8 = 0b001;
const RUNNING: u8 = 0b010;
const COMPLETE: u8 = 0b100;

/// Runs in a row from a worker's LIFO slot before the slot's task goes to
/// the back of the worker's queue.
const LIFO_LIMIT: u32 = 16;

/// A worker looks at the injector before its own queue once per this many
/// tasks, so tasks woken from other threads are not starved by a busy
/// worker's own queue.
const INJECTOR_EVERY: u32 = 31;

/// A worker takes a low-priority task before the others once per this many
/// tasks.
const LOW_EVERY: u32 = 16;

/// The shared run queues and the count of live thread-safe processes.
pub(crate) struct SharedScheduler {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tasks made ready outside the workers' threads.
    injector: Injector<TaskRef>,
    /// Tasks of high priority, from any thread: taken first.
    high: Injector<TaskRef>,
    /// Tasks of low priority, from any thread: taken last.
    low: Injector<TaskRef>,
    /// The other end of every worker's queue, by worker index.
    stealers: Vec<Stealer<TaskRef>>,
    /// The other end of every worker's stack of new tasks (its oldest
    /// first), by worker index.
    spawn_stealers: Vec<Stealer<TaskRef>>,
    /// The workers' queues and stacks until their threads take them.
    queues: Mutex<Vec<Option<WorkerQueues>>>,
    /// Thread-safe processes not yet done.
    live: AtomicUsize,
    /// Every task not yet done, to wake them all at shutdown and to drop
    /// what is left when the runtime ends: one shard per worker (for the
    /// tasks spawned on its thread) and one for other threads.
    shards: Vec<Mutex<Registry>>,
    /// Workers to wake when a task becomes ready, by worker index.
    workers: Vec<Arc<WorkerShared>>,
    /// The live thread-safe processes by name and kind.
    census: Arc<Census>,
}

struct Registry {
    tasks: Vec<Option<Registered>>,
    /// The shard's way into the scheduler's census.
    census: CensusTally,
    free: Vec<usize>,
    /// Set once the runtime ended: new processes are dropped at once, so
    /// their inboxes close and references report the actor stopped.
    closed: bool,
}

/// A task in the registry, with its entry in the census.
struct Registered {
    task: TaskRef,
    census: u32,
}

impl Registry {
    fn new(census: &Arc<Census>) -> Registry {
        Registry {
            tasks: Vec::new(),
            census: CensusTally::new(census.clone()),
            free: Vec::new(),
            closed: false,
        }
    }
}

/// A task of any process type, as the queues and the registry hold it.
pub(crate) type TaskRef = Arc<dyn Task>;

/// What the scheduler does with a task, whatever its process type.
pub(crate) trait Task: Send + Sync {
    /// Runs the process once (see [`SharedScheduler::run`]).
    fn run(self: Arc<Self>, scheduler: &SharedScheduler);

    /// Wakes the task, as its waker does.
    fn wake_task(self: Arc<Self>);

    /// Drops the process unless it is running; true if it did.
    fn close(&self) -> bool;
}

/// A thread-safe process and its scheduling state.
struct SharedTask<P> {
    state: AtomicU8,
    priority: Priority,
    scheduler: Weak<Inner>,
    /// Registry shard and index.
    shard: usize,
    index: usize,
    /// The process; it does not move from here until it is dropped (in
    /// place, by assigning `None`).
    process: Mutex<Option<P>>,
}

/// How a ready task is to be queued.
#[derive(Clone, Copy, PartialEq)]
enum Ready {
    /// Woken: runs next if made ready on a worker's thread.
    Next,
    /// Spawned: on top of the worker's stack of new tasks if spawned on a
    /// worker's thread.
    Spawned,
    /// Yielded (woken while it ran): behind what is already queued.
    Later,
}

thread_local! {
    /// The worker queue of this thread, if it is a worker's.
    static LOCAL: RefCell<Option<LocalQueue>> = const { RefCell::new(None) };
}

/// A worker's queue of woken tasks and its stack of new ones.
type WorkerQueues = (Deque<TaskRef>, Deque<TaskRef>);

/// A worker thread's own run queue and LIFO slot.
struct LocalQueue {
    inner: Arc<Inner>,
    /// Worker index.
    index: usize,
    queue: Deque<TaskRef>,
    /// Tasks spawned on this thread and not yet run, newest on top.
    spawned: Deque<TaskRef>,
    lifo: Option<TaskRef>,
    /// Runs from the LIFO slot in a row.
    lifo_streak: u32,
    /// The order of `spawned`.
    new_first: NewFirst,
    /// Tasks taken, to look at the injector first now and then.
    ticks: u32,
}

/// The current thread as a worker of a scheduler; while it lives, tasks made
/// ready on this thread go to the worker's queue. Dropping it moves what is
/// left there to the injector.
pub(crate) struct Attached(());

impl SharedScheduler {
    pub(crate) fn new(workers: Vec<Arc<WorkerShared>>) -> SharedScheduler {
        let queues: Vec<WorkerQueues> = workers
            .iter()
            .map(|_| (Deque::new_fifo(), Deque::new_lifo()))
            .collect();
        let stealers = queues.iter().map(|(queue, _)| queue.stealer()).collect();
        let spawn_stealers = queues
            .iter()
            .map(|(_, spawned)| spawned.stealer())
            .collect();
        let census = Arc::new(Census::default());
        let shards = (0..=workers.len())
            .map(|_| Mutex::new(Registry::new(&census)))
            .collect();
        SharedScheduler {
            inner: Arc::new(Inner {
                injector: Injector::new(),
                high: Injector::new(),
                low: Injector::new(),
                stealers,
                spawn_stealers,
                queues: Mutex::new(queues.into_iter().map(Some).collect()),
                live: AtomicUsize::new(0),
                shards,
                workers,
                census,
            }),
        }
    }

    /// Makes the current thread the thread of worker `wake`: tasks made
    /// ready here go to its own queue until the returned guard is dropped.
    pub(crate) fn attach(&self, wake: &Arc<WorkerShared>) -> Attached {
        let index = self
            .inner
            .workers
            .iter()
            .position(|worker| Arc::ptr_eq(worker, wake));
        let queue = index.and_then(|index| lock(&self.inner.queues)[index].take());
        if let (Some(index), Some((queue, spawned))) = (index, queue) {
            let local = LocalQueue {
                inner: self.inner.clone(),
                index,
                queue,
                spawned,
                lifo: None,
                lifo_streak: 0,
                new_first: NewFirst::default(),
                ticks: 0,
            };
            LOCAL.with(|slot| *slot.borrow_mut() = Some(local));
        }
        Attached(())
    }

    /// The live thread-safe processes by name and kind.
    pub(crate) fn census(&self) -> &Census {
        &self.inner.census
    }

    /// Number of thread-safe processes not yet done.
    pub(crate) fn live(&self) -> usize {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Returns true if a task is waiting to run that this thread could take.
    pub(crate) fn has_ready(&self) -> bool {
        let own = with_local(Arc::as_ptr(&self.inner), |local| {
            local.lifo.is_some() || !local.queue.is_empty() || !local.spawned.is_empty()
        });
        own == Some(true)
            || !self.inner.injector.is_empty()
            || !self.inner.high.is_empty()
            || !self.inner.low.is_empty()
            || self
                .inner
                .stealers
                .iter()
                .chain(&self.inner.spawn_stealers)
                .any(|stealer| !stealer.is_empty())
    }

    /// Adds a process with `priority` and schedules it.
    pub(crate) fn add<P: Process + Send + 'static>(&self, process: P, priority: Priority) {
        let shard = with_local(Arc::as_ptr(&self.inner), |local| local.index)
            .unwrap_or(self.inner.workers.len());
        let mut registry = lock(&self.inner.shards[shard]);
        if registry.closed {
            drop(registry);
            drop(process);
            return;
        }
        let _ = self.inner.live.fetch_add(1, Ordering::AcqRel);
        let census = registry
            .census
            .started(process.type_key(), process.name_fn(), process.kind());
        let index = registry.free.pop().unwrap_or_else(|| {
            registry.tasks.push(None);
            registry.tasks.len() - 1
        });
        // Written into its allocation in place, as a local process is (see
        // `LocalScheduler::add`).
        let mut task = Arc::<SharedTask<P>>::new_uninit();
        let _ = Arc::get_mut(&mut task)
            .expect("a new Arc is unique")
            .write(SharedTask {
                state: AtomicU8::new(NOTIFIED),
                priority,
                scheduler: Arc::downgrade(&self.inner),
                shard,
                index,
                process: Mutex::new(Some(process)),
            });
        // SAFETY: written just above.
        let task: TaskRef = unsafe { task.assume_init() };
        registry.tasks[index] = Some(Registered {
            task: task.clone(),
            census,
        });
        drop(registry);
        crate::scheduler::note_allocated(size_of::<SharedTask<P>>());
        schedule_on(
            task,
            priority,
            Arc::as_ptr(&self.inner),
            Ready::Spawned,
            || Some(self.inner.clone()),
        );
    }

    /// Takes the next ready task, if any: on a worker's thread from its LIFO
    /// slot, its queue, the injector or another worker's queue; elsewhere
    /// from the injector or a worker's queue.
    pub(crate) fn next(&self) -> Option<TaskRef> {
        let inner = &self.inner;
        if let Some(task) = take(&inner.high) {
            return Some(task);
        }
        let task = match with_local(Arc::as_ptr(inner), LocalQueue::next) {
            Some(task) => task,
            None => inner.steal(None),
        };
        task.or_else(|| take(&inner.low))
    }

    /// Runs a task taken with [`SharedScheduler::next`].
    pub(crate) fn run(&self, task: TaskRef) {
        task.run(self);
    }

    /// Wakes every task, e.g. to let them see that the runtime is shutting
    /// down.
    pub(crate) fn wake_all(&self) {
        let tasks: Vec<TaskRef> = self
            .inner
            .shards
            .iter()
            .flat_map(|shard| {
                lock(shard)
                    .tasks
                    .iter()
                    .flatten()
                    .map(|registered| registered.task.clone())
                    .collect::<Vec<_>>()
            })
            .collect();
        for task in tasks {
            task.wake_task();
        }
    }

    /// Drops every process not yet done, and every process added from now
    /// on (the runtime has ended). A process still running on a worker that
    /// did not stop is left alone.
    pub(crate) fn drop_all(&self) {
        let mut dropped = 0;
        for shard in &self.inner.shards {
            let mut registry = lock(shard);
            registry.closed = true;
            registry.free.clear();
            let tasks = std::mem::take(&mut registry.tasks);
            drop(registry);
            for Registered { task, census } in tasks.into_iter().flatten() {
                // A destructor that panics is logged; the process is gone
                // all the same (its slot holds `None`), and the others are
                // still dropped.
                let closed = match panic::catch_unwind(AssertUnwindSafe(|| task.close())) {
                    Ok(closed) => closed,
                    Err(panic) => {
                        error!(panic = panic_message(&*panic); "dropping a process panicked");
                        true
                    }
                };
                if closed {
                    dropped += 1;
                    lock(shard).census.ended(census);
                }
            }
        }
        let _ = self.inner.live.fetch_sub(dropped, Ordering::AcqRel);
        for injector in [&self.inner.injector, &self.inner.high, &self.inner.low] {
            while !matches!(injector.steal(), Steal::Empty) {}
        }
        for stealer in self.inner.stealers.iter().chain(&self.inner.spawn_stealers) {
            while !matches!(stealer.steal(), Steal::Empty) {}
        }
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        let Ok(Some(mut local)) = LOCAL.try_with(|slot| slot.borrow_mut().take()) else {
            return;
        };
        let mut moved = false;
        for task in local
            .lifo
            .take()
            .into_iter()
            .chain(std::iter::from_fn(|| local.queue.pop()))
            .chain(std::iter::from_fn(|| local.spawned.pop()))
        {
            local.inner.injector.push(task);
            moved = true;
        }
        if moved {
            local.inner.notify_one();
        }
    }
}

impl LocalQueue {
    fn next(&mut self) -> Option<TaskRef> {
        if let Some(task) = self.lifo.take() {
            if self.lifo_streak < LIFO_LIMIT {
                self.lifo_streak += 1;
                return Some(task);
            }
            self.queue.push(task);
        }
        self.lifo_streak = 0;
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks.is_multiple_of(LOW_EVERY)
            && let Some(task) = take(&self.inner.low)
        {
            return Some(task);
        }
        if self.ticks.is_multiple_of(INJECTOR_EVERY)
            && let Steal::Success(task) = self.inner.injector.steal_batch_and_pop(&self.queue)
        {
            return Some(task);
        }
        // New tasks newest first, so a tree of actors is walked depth
        // first and only a path of it waits at a time; but tasks woken
        // earlier, and the oldest new one, get their turns.
        if !self.spawned.is_empty() {
            let task = match self.new_first.pick(!self.queue.is_empty()) {
                Pick::Newest => self.spawned.pop(),
                Pick::Oldest => self.oldest_spawned(),
                Pick::Woken => self.queue.pop(),
            };
            if task.is_some() {
                return task;
            }
        }
        // A FIFO queue's pop is a locked add even when it finds nothing.
        if !self.queue.is_empty()
            && let Some(task) = self.queue.pop()
        {
            return Some(task);
        }
        self.inner.steal(Some((&self.queue, self.index)))
    }

    /// The oldest task of `spawned`: the worker's own stealer takes from
    /// that end.
    fn oldest_spawned(&self) -> Option<TaskRef> {
        loop {
            match self.inner.spawn_stealers[self.index].steal() {
                Steal::Success(task) => return Some(task),
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }
}

/// Runs `f` on this thread's worker queue if it belongs to the scheduler at
/// `inner`; `None` on other threads, or while the queue is in use.
fn with_local<T>(inner: *const Inner, f: impl FnOnce(&mut LocalQueue) -> T) -> Option<T> {
    LOCAL
        .try_with(|slot| {
            let mut slot = slot.try_borrow_mut().ok()?;
            let local = slot
                .as_mut()
                .filter(|local| ptr::eq(Arc::as_ptr(&local.inner), inner))?;
            Some(f(local))
        })
        .ok()
        .flatten()
}

/// Takes a task from `injector`, if it holds one.
fn take(injector: &Injector<TaskRef>) -> Option<TaskRef> {
    if injector.is_empty() {
        return None;
    }
    loop {
        match injector.steal() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => {}
        }
    }
}

/// Queues a ready task of `priority` of the scheduler `scheduler`.
fn schedule(task: TaskRef, priority: Priority, scheduler: &Weak<Inner>, ready: Ready) {
    schedule_on(task, priority, scheduler.as_ptr(), ready, || {
        scheduler.upgrade()
    });
}

/// Queues a ready task of `priority` of the scheduler at `inner`: of normal
/// priority, on this thread's worker queue if it is one of that
/// scheduler's workers, else on the injector of the scheduler `upgrade`
/// gives (none: the runtime is gone); of another priority, on that
/// priority's queue. Taking the
/// pointer and the upgrade apart spares the callers that hold the scheduler
/// itself a reference count change on a line every worker writes.
fn schedule_on(
    task: TaskRef,
    priority: Priority,
    inner: *const Inner,
    ready: Ready,
    upgrade: impl FnOnce() -> Option<Arc<Inner>>,
) {
    if priority != Priority::Normal {
        if let Some(inner) = upgrade() {
            match priority {
                Priority::High => inner.high.push(task),
                _ => inner.low.push(task),
            }
            inner.notify_one();
        }
        return;
    }
    let mut task = Some(task);
    let placed = with_local(inner, |local| {
        let Some(task) = task.take() else { return };
        let displaced = match ready {
            Ready::Next => local.lifo.replace(task),
            Ready::Later => Some(task),
            Ready::Spawned => {
                local.spawned.push(task);
                // Work another worker could take.
                local.inner.notify_one();
                return;
            }
        };
        if let Some(displaced) = displaced {
            local.queue.push(displaced);
            // Work another worker could take.
            local.inner.notify_one();
        }
    });
    if placed.is_none()
        && let Some(task) = task
        && let Some(inner) = upgrade()
    {
        inner.injector.push(task);
        inner.notify_one();
    }
}

/// Locks `mutex`, ignoring poisoning (the data stays consistent: no code
/// that can panic runs while these locks are held).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Inner {
    /// Takes a task from the injector or another worker's queue; with a
    /// queue given, moves a batch there.
    fn steal(&self, own: Option<(&Deque<TaskRef>, usize)>) -> Option<TaskRef> {
        loop {
            let mut retry = false;
            // An empty queue is passed over on a look at its ends, without
            // the fence a steal makes: most looks find nothing, and a push
            // racing the look is as if it came after the steal.
            let from_injector = match own {
                _ if self.injector.is_empty() => Steal::Empty,
                Some((queue, _)) => self.injector.steal_batch_and_pop(queue),
                None => self.injector.steal(),
            };
            match from_injector {
                Steal::Success(task) => return Some(task),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
            // Another worker's woken tasks first, then its new ones, the
            // oldest of those (the roots of the largest subtrees) first.
            let others = self
                .stealers
                .iter()
                .enumerate()
                .chain(self.spawn_stealers.iter().enumerate());
            for (index, stealer) in others {
                let stolen = match own {
                    Some((_, own_index)) if own_index == index => continue,
                    _ if stealer.is_empty() => continue,
                    Some((queue, _)) => stealer.steal_batch_and_pop(queue),
                    None => stealer.steal(),
                };
                match stolen {
                    Steal::Success(task) => return Some(task),
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// Wakes one sleeping worker, if any.
    fn notify_one(&self) {
        for worker in &self.workers {
            if worker.notify() {
                break;
            }
        }
    }

    /// Forgets a finished task (registry entry `index` of `shard`).
    fn finish(&self, task: &TaskRef, shard: usize, index: usize) {
        let mut registry = lock(&self.shards[shard]);
        // After `drop_all` the slot may be gone or reused.
        if let Some(slot) = registry.tasks.get_mut(index)
            && let Some(registered) = slot.take_if(|r| Arc::ptr_eq(&r.task, task))
        {
            registry.census.ended(registered.census);
            registry.free.push(index);
        }
        drop(registry);
        if self.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last thread-safe process is done: idle workers may now be
            // able to stop.
            for worker in &self.workers {
                worker.wake_poll();
            }
        }
    }
}

impl<P: Process + Send + 'static> Task for SharedTask<P> {
    fn run(self: Arc<Self>, scheduler: &SharedScheduler) {
        // Clears NOTIFIED: wake-ups from now on make it run again.
        let _ = self.state.swap(RUNNING, Ordering::AcqRel);
        let waker = Waker::from(self.clone());
        let mut cx = task::Context::from_waker(&waker);
        let mut guard = lock(&self.process);
        let Some(process) = guard.as_mut() else {
            return;
        };
        let ran = trace::run(process, RunKind::ThreadSafe, |process| {
            budget::with_budget(|| process.run(&mut cx))
        });
        if ran.is_ready() {
            self.state.store(COMPLETE, Ordering::Release);
            let name = process.name_fn();
            // Dropped in place: a process does not move once it ran. A
            // destructor that panics is logged and the worker goes on; the
            // assignment leaves `None` either way.
            if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(|| *guard = None)) {
                error!(process = name(), panic = panic_message(&*panic); "dropping a finished thread-safe process panicked");
            }
            drop(guard);
            drop(waker);
            let (shard, index) = (self.shard, self.index);
            scheduler.inner.finish(&(self as TaskRef), shard, index);
            return;
        }
        drop(guard);
        if self
            .state
            .compare_exchange(RUNNING, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Woken while running: yielded, or woken by itself.
            self.state.store(NOTIFIED, Ordering::Release);
            let inner = &scheduler.inner;
            let priority = self.priority;
            schedule_on(self, priority, Arc::as_ptr(inner), Ready::Later, || {
                Some(inner.clone())
            });
        }
    }

    fn wake_task(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn close(&self) -> bool {
        let Ok(mut process) = self.process.try_lock() else {
            return false;
        };
        if process.is_none() {
            return false;
        }
        self.state.store(COMPLETE, Ordering::Release);
        *process = None;
        true
    }
}

impl<P: Process + Send + 'static> Wake for SharedTask<P> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let prev = self.state.fetch_or(NOTIFIED, Ordering::AcqRel);
        if prev & (NOTIFIED | RUNNING | COMPLETE) == 0 {
            schedule(self.clone(), self.priority, &self.scheduler, Ready::Next);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, mpsc};
    use std::task::{self, Poll};
    use std::thread;

    use super::SharedScheduler;
    use crate::Priority;
    use crate::scheduler::test_process::PanicsOnDrop;
    use crate::scheduler::{FutureProcess, Process};

    /// A process that blocks its run until released.
    struct Blocking {
        started: mpsc::Sender<()>,
        release: mpsc::Receiver<()>,
    }

    impl Process for Blocking {
        fn name_fn(&self) -> fn() -> &'static str {
            || "blocking"
        }

        fn run(&mut self, _: &mut task::Context<'_>) -> Poll<()> {
            self.started.send(()).unwrap();
            self.release.recv().unwrap();
            Poll::Ready(())
        }
    }

    /// Regression: a task that completed after `drop_all` indexed the
    /// emptied registry and panicked its worker; a process added after it
    /// reused a stale free index.
    #[test]
    fn drop_all_while_a_task_runs() {
        let scheduler = Arc::new(SharedScheduler::new(Vec::new()));
        let (started, started_rx) = mpsc::channel();
        let (release_tx, release) = mpsc::channel();
        scheduler.add(FutureProcess::new(async {}), Priority::Normal);
        let quick = scheduler.next().unwrap();
        scheduler.run(quick); // Leaves a free index behind.
        scheduler.add(Blocking { started, release }, Priority::Normal);
        let task = scheduler.next().unwrap();
        let runner = {
            let scheduler = scheduler.clone();
            thread::spawn(move || scheduler.run(task))
        };
        started_rx.recv().unwrap();
        scheduler.drop_all();
        // The runtime ended: a new process is dropped at once.
        scheduler.add(FutureProcess::new(async {}), Priority::Normal);
        assert!(scheduler.next().is_none());
        release_tx.send(()).unwrap();
        runner
            .join()
            .expect("completing after drop_all must not panic");
        assert_eq!(scheduler.live(), 0);
    }

    /// A process whose destructor panics does not keep `drop_all` from
    /// dropping the others, and is counted as gone.
    #[test]
    fn drop_all_goes_on_after_a_panicking_destructor() {
        let scheduler = SharedScheduler::new(Vec::new());
        let (dropped_tx, dropped) = mpsc::channel::<()>();
        scheduler.add(PanicsOnDrop, Priority::Normal);
        scheduler.add(
            FutureProcess::new(async move {
                let _dropped_with_me = dropped_tx;
                std::future::pending::<()>().await;
            }),
            Priority::Normal,
        );
        scheduler.drop_all();
        assert!(
            dropped.recv().is_err(),
            "the second process was not dropped"
        );
        assert_eq!(scheduler.live(), 0);
    }
}
