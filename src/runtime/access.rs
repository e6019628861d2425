//! [`Access`]: what timers (and other runtime services) need from the
//! runtime access of an actor, implemented for [`ThreadLocal`],
//! [`ThreadSafe`] and [`RuntimeRef`].
//!
//! Thread-local access uses the timers of the worker the actor runs on;
//! thread-safe access uses the runtime's shared timers, which every worker
//! watches.

use std::task::Waker;
use std::time::Instant;

use crate::runtime::{RuntimeRef, ThreadLocal, ThreadSafe};
use crate::timer::store::TimerKey;

/// Access to the runtime for timers: implemented by [`ThreadLocal`],
/// [`ThreadSafe`] and [`RuntimeRef`]. Sealed.
pub trait Access: Clone + private::Sealed {}

/// What the timers take as their runtime access: an [`Access`] itself
/// (`ctx.runtime_ref().clone()`), or a reference to one (`ctx.runtime()`,
/// a `&mut ThreadLocal` or `&mut RuntimeRef`, as Heph's timers take it),
/// which is cloned, so the timer does not keep the actor's context
/// borrowed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use hearth::actor::{actor_fn, Context};
/// use hearth::supervisor::NoSupervisor;
/// use hearth::timer::Timer;
/// use hearth::{ActorOptions, Runtime, ThreadLocal};
///
/// async fn napper(mut ctx: Context<(), ThreadLocal>) {
///     // Heph's form: a reference to the context's runtime access.
///     Timer::after(ctx.runtime(), Duration::from_millis(1)).await;
///     // hearth's form: a clone of it.
///     Timer::after(ctx.runtime_ref().clone(), Duration::from_millis(1)).await;
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().build()?;
/// runtime.run_on_workers(|mut rt: hearth::RuntimeRef| {
///     let _ = rt.spawn_local(NoSupervisor, actor_fn(napper), (), ActorOptions::default());
/// });
/// runtime.start()
/// # }
/// ```
pub trait IntoAccess<RT: Access> {
    /// The runtime access.
    fn into_access(self) -> RT;
}

impl<RT: Access> IntoAccess<RT> for RT {
    fn into_access(self) -> RT {
        self
    }
}

impl<RT: Access> IntoAccess<RT> for &RT {
    fn into_access(self) -> RT {
        self.clone()
    }
}

impl<RT: Access> IntoAccess<RT> for &mut RT {
    fn into_access(self) -> RT {
        self.clone()
    }
}

pub(crate) mod private {
    use super::{Instant, TimerKey, Waker};

    /// The hidden methods of [`Access`](super::Access).
    pub trait Sealed {
        /// Adds a timer waking `waker` at `deadline`.
        fn add_timer(&self, deadline: Instant, waker: Waker) -> TimerKey;
        /// Updates the waker of a timer; false if it fired already.
        fn update_timer(&self, key: TimerKey, waker: &Waker) -> bool;
        /// Removes a timer.
        fn remove_timer(&self, key: TimerKey);
    }
}

impl Access for RuntimeRef {}

impl private::Sealed for RuntimeRef {
    fn add_timer(&self, deadline: Instant, waker: Waker) -> TimerKey {
        self.internals.timers.borrow_mut().add(deadline, waker)
    }

    fn update_timer(&self, key: TimerKey, waker: &Waker) -> bool {
        self.internals.timers.borrow_mut().update(key, waker)
    }

    fn remove_timer(&self, key: TimerKey) {
        self.internals.timers.borrow_mut().remove(key);
    }
}

impl Access for ThreadLocal {}

impl private::Sealed for ThreadLocal {
    fn add_timer(&self, deadline: Instant, waker: Waker) -> TimerKey {
        (**self).add_timer(deadline, waker)
    }

    fn update_timer(&self, key: TimerKey, waker: &Waker) -> bool {
        (**self).update_timer(key, waker)
    }

    fn remove_timer(&self, key: TimerKey) {
        (**self).remove_timer(key);
    }
}

impl Access for ThreadSafe {}

impl private::Sealed for ThreadSafe {
    fn add_timer(&self, deadline: Instant, waker: Waker) -> TimerKey {
        self.shared.add_timer(deadline, waker)
    }

    fn update_timer(&self, key: TimerKey, waker: &Waker) -> bool {
        self.shared.timers().update(key, waker)
    }

    fn remove_timer(&self, key: TimerKey) {
        self.shared.timers().remove(key);
    }
}
