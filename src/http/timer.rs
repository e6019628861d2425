//! [`HyperTimer`]: hyper's [`hyper::rt::Timer`] on hearth's timers, for
//! hyper's timeouts (the HTTP/1 header-read timeout, HTTP/2 keep-alive).
//!
//! hyper keeps its timer behind an `Arc` that it may share between threads
//! and wants `Send + Sync` sleeps, so the sleeps are timers of the
//! runtime's shared store ([`ThreadSafe`] access), which every worker
//! watches: a sleep fires wherever the connection that made it is polled,
//! and a dropped one is removed at once.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::Sleep;

use crate::timer::Timer;
use crate::{RuntimeRef, ThreadSafe};

/// hyper's [`Timer`](hyper::rt::Timer) on hearth's timers: give it to a
/// hyper connection builder (`http1::Builder::timer`,
/// `http2::Builder::timer`) to enable hyper's timeouts.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
/// use hearth::actor::{actor_fn, Context};
/// use hearth::http::HyperTimer;
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
/// use hyper::rt::Timer;
///
/// async fn nap(mut ctx: Context<(), ThreadLocal>) {
///     // What hyper does with the timer a builder was given.
///     let timer = HyperTimer::new(ctx.runtime());
///     let start = Instant::now();
///     timer.sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().build()?;
/// runtime.run_on_workers(|mut rt: RuntimeRef| {
///     let _ = rt.spawn_local(NoSupervisor, actor_fn(nap), (), ActorOptions::default());
/// });
/// runtime.start()
/// # }
/// ```
///
/// With hyper's HTTP/1 server, where it also enables the header-read
/// timeout (30 s unless set): `http1::Builder::new().timer(timer)
/// .header_read_timeout(Duration::from_secs(10))`.
#[derive(Clone)]
pub struct HyperTimer {
    rt: ThreadSafe,
}

impl HyperTimer {
    /// A timer of the runtime that `rt` belongs to.
    pub fn new(rt: &RuntimeRef) -> HyperTimer {
        HyperTimer {
            rt: rt.thread_safe(),
        }
    }

    /// A timer of the runtime that `rt` belongs to, from any thread.
    pub fn thread_safe(rt: ThreadSafe) -> HyperTimer {
        HyperTimer { rt }
    }
}

impl fmt::Debug for HyperTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTimer")
            .field("runtime", &self.rt.name())
            .finish()
    }
}

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(HyperSleep {
            timer: Timer::after(self.rt.clone(), duration),
        })
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(HyperSleep {
            timer: Timer::at(self.rt.clone(), deadline),
        })
    }

    /// Moves the deadline of one of this timer's sleeps in place (hyper
    /// resets its header-read timeout for every request).
    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(ours) => ours.get_mut().timer.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A sleep of [`HyperTimer`]: hyper's [`Sleep`] on a hearth [`Timer`].
pub struct HyperSleep {
    timer: Timer<ThreadSafe>,
}

impl HyperSleep {
    /// When the sleep ends.
    pub fn deadline(&self) -> Instant {
        self.timer.deadline()
    }
}

impl fmt::Debug for HyperSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperSleep")
            .field("deadline", &self.timer.deadline())
            .finish()
    }
}

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().timer).poll(cx).map(|_| ())
    }
}

impl Sleep for HyperSleep {}
