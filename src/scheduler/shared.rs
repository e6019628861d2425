//! The scheduler of thread-safe processes, shared by all workers.
//!
//! Ready tasks sit in one multi-producer, multi-consumer queue; any worker
//! may take and run them. A task's state word makes sure it is queued at
//! most once and never runs on two workers at the same time:
//!
//! - `NOTIFIED`: woken and queued (or, while running, to be queued again);
//! - `RUNNING`: a worker is running it;
//! - `COMPLETE`: done; wake-ups are ignored.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{self, Wake, Waker};

use crossbeam_channel::{Receiver, Sender};

use crate::scheduler::{Process, budget};
use crate::worker::WorkerWake;

const NOTIFIED: u8 = 0b001;
const RUNNING: u8 = 0b010;
const COMPLETE: u8 = 0b100;

/// The shared run queue and the count of live thread-safe processes.
pub(crate) struct SharedScheduler {
    inner: Arc<Inner>,
}

struct Inner {
    ready_tx: Sender<Arc<SharedTask>>,
    ready_rx: Receiver<Arc<SharedTask>>,
    /// Thread-safe processes not yet done.
    live: AtomicUsize,
    /// Every task not yet done, to wake them all at shutdown and to drop
    /// what is left when the runtime ends.
    tasks: Mutex<Registry>,
    /// Workers to wake when a task becomes ready.
    workers: Vec<Arc<WorkerWake>>,
}

#[derive(Default)]
struct Registry {
    tasks: Vec<Option<Arc<SharedTask>>>,
    free: Vec<usize>,
    /// Set once the runtime ended: new processes are dropped at once, so
    /// their inboxes close and references report the actor stopped.
    closed: bool,
}

/// A thread-safe process and its scheduling state.
pub(crate) struct SharedTask {
    state: AtomicU8,
    process: Mutex<Option<Box<dyn Process + Send>>>,
    scheduler: Weak<Inner>,
    /// Index in the registry.
    index: usize,
}

impl SharedScheduler {
    pub(crate) fn new(workers: Vec<Arc<WorkerWake>>) -> SharedScheduler {
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded();
        SharedScheduler {
            inner: Arc::new(Inner {
                ready_tx,
                ready_rx,
                live: AtomicUsize::new(0),
                tasks: Mutex::new(Registry::default()),
                workers,
            }),
        }
    }

    /// Number of thread-safe processes not yet done.
    pub(crate) fn live(&self) -> usize {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Returns true if a task is waiting to run.
    pub(crate) fn has_ready(&self) -> bool {
        !self.inner.ready_rx.is_empty()
    }

    /// Adds a process and schedules it.
    pub(crate) fn add(&self, process: Box<dyn Process + Send>) {
        let mut registry = self.inner.registry();
        if registry.closed {
            drop(registry);
            drop(process);
            return;
        }
        let _ = self.inner.live.fetch_add(1, Ordering::AcqRel);
        let index = registry.free.pop().unwrap_or_else(|| {
            registry.tasks.push(None);
            registry.tasks.len() - 1
        });
        let task = Arc::new(SharedTask {
            state: AtomicU8::new(NOTIFIED),
            process: Mutex::new(Some(process)),
            scheduler: Arc::downgrade(&self.inner),
            index,
        });
        registry.tasks[index] = Some(task.clone());
        drop(registry);
        self.inner.push(task);
    }

    /// Takes the next ready task, if any.
    pub(crate) fn next(&self) -> Option<Arc<SharedTask>> {
        self.inner.ready_rx.try_recv().ok()
    }

    /// Runs a task taken with [`SharedScheduler::next`].
    pub(crate) fn run(&self, task: Arc<SharedTask>) {
        // Clears NOTIFIED: wake-ups from now on make it run again.
        let _ = task.state.swap(RUNNING, Ordering::AcqRel);
        let waker = Waker::from(task.clone());
        let mut cx = task::Context::from_waker(&waker);
        let mut guard = task
            .process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(process) = guard.as_mut() else {
            return;
        };
        if budget::with_budget(|| process.run(&mut cx)).is_ready() {
            task.state.store(COMPLETE, Ordering::Release);
            let process = guard.take();
            drop(guard);
            drop(process);
            let mut registry = self.inner.registry();
            // After `drop_all` the slot may be gone or reused.
            if let Some(slot) = registry.tasks.get_mut(task.index)
                && slot.as_ref().is_some_and(|t| Arc::ptr_eq(t, &task))
            {
                *slot = None;
                registry.free.push(task.index);
            }
            drop(registry);
            if self.inner.live.fetch_sub(1, Ordering::AcqRel) == 1 {
                // The last thread-safe process is done: idle workers may
                // now be able to stop.
                for worker in &self.inner.workers {
                    worker.wake_poll();
                }
            }
            return;
        }
        drop(guard);
        if task
            .state
            .compare_exchange(RUNNING, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Woken while running.
            task.state.store(NOTIFIED, Ordering::Release);
            self.inner.push(task);
        }
    }

    /// Wakes every task, e.g. to let them see that the runtime is shutting
    /// down.
    pub(crate) fn wake_all(&self) {
        let tasks: Vec<_> = self
            .inner
            .registry()
            .tasks
            .iter()
            .flatten()
            .cloned()
            .collect();
        for task in tasks {
            task.wake_by_ref();
        }
    }

    /// Drops every process not yet done, and every process added from now
    /// on (the runtime has ended). A process still running on a worker that
    /// did not stop is left alone.
    pub(crate) fn drop_all(&self) {
        let registry = std::mem::replace(
            &mut *self.inner.registry(),
            Registry {
                closed: true,
                ..Registry::default()
            },
        );
        let tasks = registry.tasks;
        let mut dropped = 0;
        for task in tasks.into_iter().flatten() {
            let process = match task.process.try_lock() {
                Ok(mut process) => process.take(),
                Err(_) => None,
            };
            if process.is_some() {
                dropped += 1;
                task.state.store(COMPLETE, Ordering::Release);
            }
            drop(process);
        }
        let _ = self.inner.live.fetch_sub(dropped, Ordering::AcqRel);
        while self.inner.ready_rx.try_recv().is_ok() {}
    }
}

impl Inner {
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, task: Arc<SharedTask>) {
        // Both ends live in `self`, so the send cannot fail.
        let _ = self.ready_tx.send(task);
        for worker in &self.workers {
            if worker.notify() {
                break;
            }
        }
    }
}

impl Wake for SharedTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let prev = self.state.fetch_or(NOTIFIED, Ordering::AcqRel);
        if prev & (NOTIFIED | RUNNING | COMPLETE) == 0
            && let Some(scheduler) = self.scheduler.upgrade()
        {
            scheduler.push(self.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, mpsc};
    use std::task::{self, Poll};
    use std::thread;

    use super::SharedScheduler;
    use crate::scheduler::{FutureProcess, Process};

    /// A process that blocks its run until released.
    struct Blocking {
        started: mpsc::Sender<()>,
        release: mpsc::Receiver<()>,
    }

    impl Process for Blocking {
        fn name(&self) -> &'static str {
            "blocking"
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
        scheduler.add(Box::new(FutureProcess::new(async {})));
        let quick = scheduler.next().unwrap();
        scheduler.run(quick); // Leaves a free index behind.
        scheduler.add(Box::new(Blocking { started, release }));
        let task = scheduler.next().unwrap();
        let runner = {
            let scheduler = scheduler.clone();
            thread::spawn(move || scheduler.run(task))
        };
        started_rx.recv().unwrap();
        scheduler.drop_all();
        // The runtime ended: a new process is dropped at once.
        scheduler.add(Box::new(FutureProcess::new(async {})));
        assert!(scheduler.next().is_none());
        release_tx.send(()).unwrap();
        runner
            .join()
            .expect("completing after drop_all must not panic");
        assert_eq!(scheduler.live(), 0);
    }
}
