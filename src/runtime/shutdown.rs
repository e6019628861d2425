//! The shutdown state of a runtime, shared by all its threads.
//!
//! Graceful shutdown (an unhandled SIGINT, SIGTERM or SIGQUIT, or a call to
//! `shutdown`) sets the `stopping` flag and wakes every actor. From then on
//! `is_stopping` returns true, and `receive_next` reports
//! [`NoMessages`](crate::NoMessages) once an actor's inbox is empty and the
//! runtime has gone quiet (see [`Quiescence`]), which ends the usual
//! receive loops in order. Actors still running when the grace period ends
//! are dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Quiescence;

#[derive(Default)]
pub(crate) struct Shutdown {
    stopping: AtomicBool,
    /// Set by `shutdown()` calls, picked up by the coordinator.
    requested: AtomicBool,
    /// Whether the stopping runtime has gone quiet; inboxes of idle actors
    /// hold it.
    pub(crate) quiescence: Arc<Quiescence>,
}

impl Shutdown {
    #[inline]
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
