//! The scheduler of one worker's thread-local processes.
//!
//! Processes live in a slab; a process key is its slot index plus the slot's
//! generation, so a stale wake-up for a finished process never runs the
//! process that took its slot. The ready queue is the worker's channel in
//! [`WorkerWake`], because wakers may run on any thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{self, Wake, Waker};

use crate::scheduler::{Process, budget};
use crate::worker::WorkerWake;

pub(crate) struct LocalScheduler {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    wake: Arc<WorkerWake>,
}

struct Slot {
    generation: u32,
    entry: Option<Entry>,
    /// The waker state of the slot's last process, reused by the next one
    /// when no waker of the old one is left (saves an allocation per
    /// process).
    spare: Option<Arc<LocalTask>>,
}

struct Entry {
    /// `None` while the process is running.
    process: Option<Box<dyn Process>>,
    task: Arc<LocalTask>,
}

/// The waker of a local process.
struct LocalTask {
    key: u64,
    scheduled: AtomicBool,
    wake: Arc<WorkerWake>,
}

impl Wake for LocalTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.wake.schedule_local(self.key);
        }
    }
}

fn key(index: u32, generation: u32) -> u64 {
    u64::from(generation) << 32 | u64::from(index)
}

/// Outcome of [`LocalScheduler::take`].
pub(crate) struct Taken {
    process: Box<dyn Process>,
    waker: Waker,
    key: u64,
}

impl LocalScheduler {
    pub(crate) fn new(wake: Arc<WorkerWake>) -> LocalScheduler {
        LocalScheduler {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            wake,
        }
    }

    /// Number of processes not yet done.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Adds a process and schedules it to run.
    pub(crate) fn add(&mut self, process: Box<dyn Process>) {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len())
                    .expect("more than 2^32 processes on one worker");
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                    spare: None,
                });
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        let key = key(index, slot.generation);
        let fresh = LocalTask {
            key,
            scheduled: AtomicBool::new(true),
            wake: self.wake.clone(),
        };
        let task = match slot.spare.take() {
            // No waker of the previous process is left: only this
            // scheduler sees it.
            Some(mut spare) => match Arc::get_mut(&mut spare) {
                Some(task) => {
                    *task = fresh;
                    spare
                }
                None => Arc::new(fresh),
            },
            None => Arc::new(fresh),
        };
        slot.entry = Some(Entry {
            process: Some(process),
            task,
        });
        self.live += 1;
        self.wake.live.store(self.live, Ordering::Relaxed);
        self.wake.schedule_local(key);
    }

    /// Takes the process with `key` out to run it, if it still exists and is
    /// not running.
    pub(crate) fn take(&mut self, key: u64) -> Option<Taken> {
        let index = (key & u64::from(u32::MAX)) as usize;
        let generation = (key >> 32) as u32;
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let entry = slot.entry.as_mut()?;
        let process = entry.process.take()?;
        // Cleared before running: a wake-up during the run schedules again.
        let _ = entry.task.scheduled.swap(false, Ordering::AcqRel);
        let waker = Waker::from(entry.task.clone());
        Some(Taken {
            process,
            waker,
            key,
        })
    }

    /// Puts a process back after it ran, or removes it if it is done.
    fn put_back(
        &mut self,
        key: u64,
        process: Box<dyn Process>,
        done: bool,
    ) -> Option<Box<dyn Process>> {
        let index = (key & u64::from(u32::MAX)) as usize;
        let slot = &mut self.slots[index];
        if done {
            slot.spare = slot.entry.take().map(|entry| entry.task);
            slot.generation = slot.generation.wrapping_add(1);
            self.free.push(index as u32);
            self.live -= 1;
            self.wake.live.store(self.live, Ordering::Relaxed);
            Some(process)
        } else {
            if let Some(entry) = slot.entry.as_mut() {
                entry.process = Some(process);
            }
            None
        }
    }

    /// Wakes every process, e.g. to let them see that the runtime is
    /// shutting down.
    pub(crate) fn wake_all(&self) {
        for entry in self.slots.iter().filter_map(|slot| slot.entry.as_ref()) {
            entry.task.wake_by_ref();
        }
    }

    /// Drops every process (the worker is stopping). Returns them so the
    /// caller can drop them without the scheduler borrowed.
    pub(crate) fn drain(&mut self) -> Vec<Box<dyn Process>> {
        let processes = self
            .slots
            .iter_mut()
            .filter_map(|slot| slot.entry.take().and_then(|entry| entry.process))
            .collect();
        self.live = 0;
        self.wake.live.store(0, Ordering::Relaxed);
        processes
    }
}

/// Runs one process of `scheduler` (given by `key`). The scheduler is only
/// borrowed to take the process out and to put it back, so the process may
/// spawn new processes while it runs.
pub(crate) fn run(scheduler: &std::cell::RefCell<LocalScheduler>, key: u64) {
    let Some(Taken {
        mut process,
        waker,
        key,
    }) = scheduler.borrow_mut().take(key)
    else {
        return;
    };
    let mut cx = task::Context::from_waker(&waker);
    let done = budget::with_budget(|| process.run(&mut cx)).is_ready();
    let finished = scheduler.borrow_mut().put_back(key, process, done);
    // Dropped outside the borrow: dropping an actor may drop actor
    // references, spawn nothing, but can run arbitrary user `Drop` code.
    drop(finished);
}
