//! The shutdown state of a runtime, shared by all its threads.
//!
//! Graceful shutdown (an unhandled SIGINT, SIGTERM or SIGQUIT, or a call to
//! `shutdown`) sets the `stopping` flag and wakes every actor. From then on
//! `receive_next` reports [`NoMessages`](crate::NoMessages) once an actor's
//! inbox is empty, which ends the usual receive loop, and
//! `is_stopping` returns true. Actors still running when the grace period
//! ends are dropped.

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub(crate) struct Shutdown {
    stopping: AtomicBool,
    /// Set by `shutdown()` calls, picked up by the coordinator.
    requested: AtomicBool,
}

impl Shutdown {
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Records a request; true if it is the first.
    pub(crate) fn request(&self) -> bool {
        !self.requested.swap(true, Ordering::AcqRel)
    }

    /// Returns true (once) if a shutdown was requested.
    pub(crate) fn take_request(&self) -> bool {
        self.requested.swap(false, Ordering::AcqRel)
    }
}
