//! Timers: [`Timer`] fires at an instant, [`Deadline`] limits how long a
//! future may take, [`Interval`] ticks at a fixed period.
//!
//! Timers of thread-local actors live on their worker; those of thread-safe
//! actors in a store every worker watches. A worker computes its poll
//! timeout from the earliest deadline, so no thread wakes up unless a timer
//! is due (or other work arrived), and a dropped timer is removed at once.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use hearth::actor::{actor_fn, Context};
//! use hearth::supervisor::NoSupervisor;
//! use hearth::timer::{Deadline, Timer};
//! use hearth::{ActorOptions, Runtime, ThreadSafe};
//!
//! async fn napper(ctx: Context<(), ThreadSafe>) {
//!     Timer::after(ctx.runtime_ref().clone(), Duration::from_millis(10)).await;
//!     let slow = Timer::after(ctx.runtime_ref().clone(), Duration::from_secs(60));
//!     let limited = Deadline::after(ctx.runtime_ref().clone(), Duration::from_millis(10), slow);
//!     assert!(limited.await.is_err());
//! }
//!
//! # fn main() -> Result<(), hearth::Error> {
//! let mut runtime = Runtime::setup().build()?;
//! let _ = runtime.spawn(NoSupervisor, actor_fn(napper), (), ActorOptions::default());
//! runtime.start()
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};
use std::time::{Duration, Instant};

use crate::runtime::{Access, IntoAccess};

pub(crate) mod store;

use store::TimerKey;

/// Error of a [`Deadline`] (and output of a [`Timer`]): the deadline passed.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct DeadlinePassed;

impl fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline passed")
    }
}

impl std::error::Error for DeadlinePassed {}

impl From<DeadlinePassed> for std::io::Error {
    /// An I/O error of kind [`TimedOut`](std::io::ErrorKind::TimedOut), so
    /// a deadline on I/O composes with `?` in functions returning
    /// `io::Result`.
    fn from(passed: DeadlinePassed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, passed)
    }
}

/// A future that resolves once its deadline has passed.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Timer<RT: Access> {
    rt: RT,
    deadline: Instant,
    /// Set while registered with the runtime.
    key: Option<TimerKey>,
}

impl<RT: Access> Timer<RT> {
    /// A timer that fires at `deadline`. `rt` is the runtime access, or a
    /// reference to it (see [`IntoAccess`]).
    pub fn at(rt: impl IntoAccess<RT>, deadline: Instant) -> Timer<RT> {
        Timer {
            rt: rt.into_access(),
            deadline,
            key: None,
        }
    }

    /// A timer that fires after `duration`. `rt` is the runtime access, or
    /// a reference to it: `Timer::after(ctx.runtime(), d)` as in Heph (see
    /// [`IntoAccess`]).
    pub fn after(rt: impl IntoAccess<RT>, duration: Duration) -> Timer<RT> {
        let now = Instant::now();
        let deadline = now.checked_add(duration).unwrap_or_else(|| far_future(now));
        Timer::at(rt, deadline)
    }

    /// When the timer fires.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Returns true if the deadline has passed.
    pub fn has_passed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Limits `future` to this timer's deadline: a [`Deadline`] with the
    /// timer's runtime access and deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hearth::timer::Timer;
    /// use hearth::{Runtime, ThreadSafe};
    ///
    /// # fn main() -> Result<(), hearth::Error> {
    /// let runtime = Runtime::setup().build()?;
    /// let rt: ThreadSafe = runtime.thread_safe();
    /// let result = runtime.block_on(async move {
    ///     let timer = Timer::after(rt.clone(), Duration::from_millis(10));
    ///     timer.wrap(std::future::pending::<()>()).await
    /// })?;
    /// assert!(result.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn wrap<Fut>(self, future: Fut) -> Deadline<Fut, RT> {
        Deadline {
            timer: self,
            future: Box::pin(future),
        }
    }

    /// Moves the deadline (e.g. to reuse the timer).
    pub fn reset(&mut self, deadline: Instant) {
        self.unregister();
        self.deadline = deadline;
    }

    fn unregister(&mut self) {
        if let Some(key) = self.key.take() {
            self.rt.remove_timer(key);
        }
    }
}

/// An instant so far away it never comes, for durations that overflow.
fn far_future(now: Instant) -> Instant {
    now + Duration::from_hours(30 * 365 * 24)
}

impl<RT: Access> Future for Timer<RT> {
    type Output = DeadlinePassed;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<DeadlinePassed> {
        if self.has_passed() {
            self.unregister();
            return Poll::Ready(DeadlinePassed);
        }
        let registered = match self.key {
            Some(key) => self.rt.update_timer(key, cx.waker()),
            None => false,
        };
        if !registered {
            let key = self.rt.add_timer(self.deadline, cx.waker().clone());
            self.key = Some(key);
        }
        Poll::Pending
    }
}

impl<RT: Access> Unpin for Timer<RT> {}

impl<RT: Access> Drop for Timer<RT> {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl<RT: Access> fmt::Debug for Timer<RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// A future with a deadline: resolves to the future's output, or to
/// [`DeadlinePassed`] if the deadline comes first (the future is then
/// dropped when the `Deadline` is).
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Deadline<Fut, RT: Access> {
    timer: Timer<RT>,
    future: Pin<Box<Fut>>,
}

impl<Fut, RT: Access> Deadline<Fut, RT> {
    /// Limits `future` to finish by `deadline`. `rt` is the runtime access,
    /// or a reference to it (see [`IntoAccess`]).
    pub fn at(rt: impl IntoAccess<RT>, deadline: Instant, future: Fut) -> Deadline<Fut, RT> {
        Deadline {
            timer: Timer::at(rt, deadline),
            future: Box::pin(future),
        }
    }

    /// Limits `future` to finish within `timeout`. `rt` is the runtime
    /// access, or a reference to it (see [`IntoAccess`]).
    pub fn after(rt: impl IntoAccess<RT>, timeout: Duration, future: Fut) -> Deadline<Fut, RT> {
        Deadline {
            timer: Timer::after(rt, timeout),
            future: Box::pin(future),
        }
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.timer.deadline()
    }

    /// Returns true if the deadline has passed.
    pub fn has_passed(&self) -> bool {
        self.timer.has_passed()
    }

    /// The limited future.
    pub fn get_ref(&self) -> &Fut {
        &self.future
    }

    /// The limited future, as Heph's `get_mut` gives it: for a future
    /// that may move after it was polled (`Unpin`); any other is reached
    /// pinned, with [`Deadline::get_pin_mut`].
    pub fn get_mut(&mut self) -> &mut Fut
    where
        Fut: Unpin,
    {
        self.future.as_mut().get_mut()
    }

    /// The limited future, pinned (it may have been polled): for any
    /// future, where [`Deadline::get_mut`] needs an `Unpin` one.
    pub fn get_pin_mut(&mut self) -> Pin<&mut Fut> {
        self.future.as_mut()
    }

    /// The limited future, without its deadline, as Heph's `into_inner`
    /// gives it: for a future that may move after it was polled (`Unpin`);
    /// any other comes pinned, from [`Deadline::into_pin`].
    pub fn into_inner(self) -> Fut
    where
        Fut: Unpin,
    {
        *Pin::into_inner(self.future)
    }

    /// The limited future, without its deadline, pinned (it may have been
    /// polled): for any future, where [`Deadline::into_inner`] needs an
    /// `Unpin` one.
    pub fn into_pin(self) -> Pin<Box<Fut>> {
        self.future
    }
}

impl<Fut: Future, RT: Access> Future for Deadline<Fut, RT> {
    type Output = Result<Fut::Output, DeadlinePassed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(output) = self.future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        Pin::new(&mut self.timer).poll(cx).map(Err)
    }
}

impl<Fut, RT: Access> Unpin for Deadline<Fut, RT> {}

impl<Fut, RT: Access> fmt::Debug for Deadline<Fut, RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("deadline", &self.timer.deadline)
            .finish_non_exhaustive()
    }
}

/// Ticks at a fixed period: `interval.tick().await` resolves at each tick.
///
/// The first tick comes one period after creation. Ticks missed because the
/// actor was busy are skipped, not delivered in a burst: the next tick is
/// then one period after the late one.
pub struct Interval<RT: Access> {
    timer: Timer<RT>,
    period: Duration,
}

impl<RT: Access> Interval<RT> {
    /// An interval ticking every `period`. A zero period is raised to one
    /// millisecond, so the interval cannot busy-loop the worker. `rt` is
    /// the runtime access, or a reference to it (see [`IntoAccess`]).
    pub fn every(rt: impl IntoAccess<RT>, period: Duration) -> Interval<RT> {
        let period = period.max(Duration::from_millis(1));
        Interval {
            timer: Timer::after(rt, period),
            period,
        }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// When the next tick is due.
    pub fn next_deadline(&self) -> Instant {
        self.timer.deadline()
    }

    /// Waits for the next tick; resolves to the instant it was due.
    pub fn tick(&mut self) -> Tick<'_, RT> {
        Tick { interval: self }
    }

    /// Polls for the next tick: the instant it was due, once it has come.
    pub fn poll_tick(&mut self, cx: &mut task::Context<'_>) -> Poll<Instant> {
        match Pin::new(&mut self.timer).poll(cx) {
            Poll::Ready(DeadlinePassed) => {
                let due = self.timer.deadline();
                let now = Instant::now();
                let mut next = due + self.period;
                if next <= now {
                    next = now + self.period;
                }
                self.timer.reset(next);
                Poll::Ready(due)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An interval is an endless stream of ticks (the instants they were
/// due), for code written against `futures`' `Stream`.
impl<RT: Access> futures_core::Stream for Interval<RT> {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Option<Instant>> {
        self.poll_tick(cx).map(Some)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl<RT: Access> Unpin for Interval<RT> {}

impl<RT: Access> fmt::Debug for Interval<RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interval")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

/// [`Future`] behind [`Interval::tick`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct Tick<'i, RT: Access> {
    interval: &'i mut Interval<RT>,
}

impl<RT: Access> Future for Tick<'_, RT> {
    type Output = Instant;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Instant> {
        self.interval.poll_tick(cx)
    }
}
