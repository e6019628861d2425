//! The shutdown state of a runtime, shared by all its threads, and
//! [`ShuttingDown`], the future that tells spawned futures (and any other
//! code) that a graceful shutdown has begun.
//!
//! Graceful shutdown (an unhandled SIGINT, SIGTERM or SIGQUIT, or a call to
//! `shutdown`) sets the `stopping` flag and wakes every actor. From then on
//! `is_stopping` returns true, and `receive_next` reports
//! [`NoMessages`](crate::NoMessages) once an actor's inbox is empty and the
//! runtime has gone quiet (see [`Quiescence`]), which ends the usual
//! receive loops in order. Actors still running when the grace period ends
//! are dropped.
//!
//! Setting the flag also wakes the waiters of [`ShuttingDown`]: each keeps
//! its waker here, under a lock that `set_stopping` takes after it set the
//! flag, and a waiter checks the flag again under that lock before it
//! leaves its waker. So a waiter either sees the flag or is woken, whatever
//! task or thread polls it: a future inside a combinator with wakers of its
//! own, or a thread outside the runtime, is woken as surely as a process
//! polled by a worker (which the wake-up of every process would reach
//! anyway).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{self, Poll, Waker};

use super::{Quiescence, RuntimeShared};

#[derive(Default)]
pub(crate) struct Shutdown {
    stopping: AtomicBool,
    /// Set by `shutdown()` calls, picked up by the coordinator.
    requested: AtomicBool,
    /// Whether the stopping runtime has gone quiet; inboxes of idle actors
    /// hold it.
    pub(crate) quiescence: Arc<Quiescence>,
    /// The wakers of pending [`ShuttingDown`] futures.
    waiters: Mutex<Waiters>,
}

/// Wakers by slot; a free slot is reused by the next waiter.
#[derive(Default)]
struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Shutdown {
    #[inline]
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Marks the runtime stopping and wakes every [`ShuttingDown`] waiter.
    /// Idempotent: later calls find no waiter left.
    pub(crate) fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
        // Under the lock after the store: a waiter that registers later
        // sees the flag (it checks again under the lock).
        let waiters = std::mem::take(&mut *self.waiters());
        for waker in waiters.slots.into_iter().flatten() {
            waker.wake();
        }
    }

    /// Records a request; true if it is the first.
    pub(crate) fn request(&self) -> bool {
        !self.requested.swap(true, Ordering::AcqRel)
    }

    /// Returns true (once) if a shutdown was requested.
    pub(crate) fn take_request(&self) -> bool {
        self.requested.swap(false, Ordering::AcqRel)
    }

    fn waiters(&self) -> MutexGuard<'_, Waiters> {
        self.waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps `waker` in `slot` (a new slot if `None`) to be woken when the
    /// runtime begins stopping; false, keeping nothing, if it has begun.
    fn wait(&self, slot: &mut Option<usize>, waker: &Waker) -> bool {
        let mut waiters = self.waiters();
        if self.is_stopping() {
            // `set_stopping` emptied the slots, or is about to.
            *slot = None;
            return false;
        }
        match *slot {
            Some(at) => match &mut waiters.slots[at] {
                Some(kept) if kept.will_wake(waker) => {}
                kept => *kept = Some(waker.clone()),
            },
            None => {
                let at = if let Some(at) = waiters.free.pop() {
                    waiters.slots[at] = Some(waker.clone());
                    at
                } else {
                    waiters.slots.push(Some(waker.clone()));
                    waiters.slots.len() - 1
                };
                *slot = Some(at);
            }
        }
        true
    }

    /// Gives `slot` back (a waiter dropped before the shutdown).
    fn stop_waiting(&self, slot: usize) {
        let mut waiters = self.waiters();
        // After `set_stopping` the slots are gone, and nobody takes new
        // ones: nothing to give back.
        if let Some(kept) = waiters.slots.get_mut(slot)
            && kept.take().is_some()
        {
            waiters.free.push(slot);
        }
    }
}

/// A future that resolves once the runtime has begun a graceful shutdown:
/// an unhandled SIGINT, SIGTERM or SIGQUIT, a `shutdown` call
/// ([`RuntimeRef::shutdown`](crate::RuntimeRef::shutdown),
/// [`ThreadSafe::shutdown`](crate::ThreadSafe::shutdown)), or the first
/// error of a runtime thread; or once the runtime has ended without one
/// (every actor and future returned). At once if that has happened
/// already.
///
/// Made by [`RuntimeRef::shutting_down`](crate::RuntimeRef::shutting_down)
/// and [`ThreadSafe::shutting_down`](crate::ThreadSafe::shutting_down).
/// It is what a future spawned with `spawn_future` or `spawn_local_future`
/// awaits to learn of the shutdown, as actors see it in
/// [`Context::is_stopping`](crate::actor::Context::is_stopping) and
/// `receive_next`, and as a tokio task awaits `ctrl_c()` or a cancellation
/// token. It is `Send`, `Sync` and `Unpin`, and it wakes whoever polled it
/// last, on any thread: the future of a worker, a future inside a
/// combinator (`select`, a set of futures) or a thread outside the
/// runtime.
///
/// # The runtime waits for futures
///
/// A spawned future is a process of the runtime like an actor: the runtime
/// runs until it has returned, and during a graceful shutdown it waits for
/// it up to the grace period ([`Setup::grace_period`](crate::Setup::grace_period)).
/// A future that is still running then is dropped, and
/// [`Runtime::start`](crate::Runtime::start) returns an error that names
/// it. While a future runs, the stopping runtime is not quiet, so actors
/// waiting in `receive_next` on an empty inbox still get what it sends them
/// after it saw the shutdown (a last flush, a goodbye), and end after it.
/// Waiting here does not end the runtime by itself: a future that waits
/// for the shutdown keeps the runtime running until one begins, as any
/// future that has not returned does.
///
/// # Examples
///
/// A future that flushes a counter to an actor every 100 ms, and a last
/// time when the shutdown begins:
///
/// ```
/// use std::future::{poll_fn, Future};
/// use std::pin::Pin;
/// use std::task::Poll;
/// use std::time::Duration;
///
/// use hearth::actor::{actor_fn, Context};
/// use hearth::supervisor::NoSupervisor;
/// use hearth::timer::Interval;
/// use hearth::{ActorOptions, FutureOptions, Runtime, RuntimeRef, ThreadLocal};
///
/// async fn sink(mut ctx: Context<u64, ThreadLocal>) {
///     // Gets the last flush: the runtime waits for the future below.
///     while let Ok(count) = ctx.receive_next().await {
///         println!("flushed {count}");
///     }
/// }
///
/// fn setup(mut rt: RuntimeRef) {
///     let sink = rt.spawn_local(NoSupervisor, actor_fn(sink), (), ActorOptions::default());
///     let mut ticks = Interval::every(rt.clone(), Duration::from_millis(100));
///     let mut stopping = rt.shutting_down();
///     let flushing = async move {
///         let mut count = 0u64;
///         loop {
///             // Whichever comes first: a tick or the shutdown.
///             let stop = poll_fn(|cx| match Pin::new(&mut stopping).poll(cx) {
///                 Poll::Ready(()) => Poll::Ready(true),
///                 Poll::Pending => ticks.poll_tick(cx).map(|_| false),
///             })
///             .await;
///             count += 1;
///             let _ = sink.try_send(count);
///             if stop {
///                 break;
///             }
///         }
///     };
///     rt.spawn_local_future(flushing, FutureOptions::default());
///     // Nothing else to do here: stop at once.
///     rt.shutdown();
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().num_threads(1).build()?;
/// runtime.run_on_workers(setup);
/// runtime.start()
/// # }
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ShuttingDown {
    shared: Arc<RuntimeShared>,
    /// Where its waker is kept while it waits.
    slot: Option<usize>,
}

impl ShuttingDown {
    pub(crate) fn new(shared: Arc<RuntimeShared>) -> ShuttingDown {
        ShuttingDown { shared, slot: None }
    }

    /// Returns true once the shutdown has begun (what the future waits
    /// for), without waiting.
    pub fn is_stopping(&self) -> bool {
        self.shared.shutdown.is_stopping()
    }
}

impl Future for ShuttingDown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.shared.shutdown.is_stopping()
            || !this.shared.shutdown.wait(&mut this.slot, cx.waker())
        {
            this.slot = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for ShuttingDown {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.shared.shutdown.stop_waiting(slot);
        }
    }
}

impl fmt::Debug for ShuttingDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShuttingDown")
            .field("runtime", &self.shared.name)
            .field("stopping", &self.is_stopping())
            .field("waiting", &self.slot.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    use super::Shutdown;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            let _ = self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn stopping_wakes_every_waiter_once() {
        let shutdown = Shutdown::default();
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        let (mut a, mut b) = (None, None);
        assert!(shutdown.wait(&mut a, &first_waker));
        assert!(shutdown.wait(&mut b, &second_waker));
        // Polled again with the same waker: kept once.
        assert!(shutdown.wait(&mut a, &first_waker));
        assert_ne!(a, b);
        shutdown.set_stopping();
        shutdown.set_stopping();
        assert_eq!(first.0.load(Ordering::SeqCst), 1);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        // After the shutdown began nobody waits.
        assert!(!shutdown.wait(&mut a, &first_waker));
        assert_eq!(a, None);
        shutdown.stop_waiting(b.unwrap());
    }

    #[test]
    fn a_new_waker_replaces_the_old_and_a_dropped_waiter_gives_its_slot_back() {
        let shutdown = Shutdown::default();
        let (old, old_waker) = counting();
        let (new, new_waker) = counting();
        let mut slot = None;
        assert!(shutdown.wait(&mut slot, &old_waker));
        assert!(shutdown.wait(&mut slot, &new_waker));
        let at = slot.unwrap();
        shutdown.stop_waiting(at);
        // The slot is free, and reused.
        let (_, other_waker) = counting();
        let mut other = None;
        assert!(shutdown.wait(&mut other, &other_waker));
        assert_eq!(other, Some(at));
        shutdown.set_stopping();
        assert_eq!(old.0.load(Ordering::SeqCst), 0);
        assert_eq!(new.0.load(Ordering::SeqCst), 0, "it stopped waiting");
    }
}
