//! When a stopping runtime has gone quiet: the rule that ends receive loops
//! in order during a graceful shutdown.
//!
//! During a graceful shutdown an actor waiting in `receive_next` on an
//! empty inbox is *idle*: it cannot send anything until a message comes.
//! Its `receive_next` does not end at once, because another actor still
//! running (a connection finishing the requests it read) may be about to
//! send to it. It ends when the runtime is *quiet*: every live process
//! (thread-local, thread-safe, sync) is idle and no remote job still has an
//! outcome to deliver to an actor. Then nothing inside the runtime can send
//! another message, and every idle actor gets
//! [`NoMessages`](crate::NoMessages). Servers thereby drain in order: the
//! connections finish, then the actors they call, without a hand-written
//! protocol.
//!
//! The bookkeeping:
//!
//! - An actor becomes idle under its inbox's lock, when the inbox is empty
//!   ([`Quiescence::idle`]); the idle mark is kept in the inbox. Whoever
//!   takes the mark back counts the actor busy again
//!   ([`Quiescence::busy`]): a sender queuing a message (at send time, not
//!   when the actor next runs, so an actor with a message on its way never
//!   counts as idle), or the actor itself when its wait ends.
//! - Every change that may make the runtime quiet (an actor becoming idle,
//!   a process ending, an outcome delivered) pokes the coordinator
//!   ([`Quiescence::poke`]), which compares the idle count with the live
//!   processes ([`Quiescence::is_quiet_with`]); once quiet, it latches
//!   [`Quiescence::is_quiet`] and wakes every actor.
//! - The comparison reads counters that other threads change meanwhile. A
//!   busy count only grows by a process that is itself busy (spawning, or
//!   sending to an idle actor), so a process that is busy when the idle
//!   count is read keeps the two apart. To miss no actor made busy between
//!   the reads, each `busy` bumps an epoch first, and a comparison that
//!   saw the epoch move says "not quiet"; the change's own poke makes the
//!   coordinator look again.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The idle and outstanding counts of a stopping runtime, and whether it
/// has gone quiet.
#[derive(Debug, Default)]
pub(crate) struct Quiescence {
    /// Actors idle in `receive_next` (or a sync actor's) on an empty inbox.
    idle: AtomicUsize,
    /// Bumped whenever an idle actor becomes busy.
    epoch: AtomicUsize,
    /// Remote job outcomes still to be delivered to an actor's inbox.
    outstanding: AtomicUsize,
    /// Set by a change that may make the runtime quiet; cleared by the
    /// coordinator before it looks.
    poked: AtomicBool,
    /// Latched by the coordinator once the stopping runtime went quiet.
    quiet: AtomicBool,
}

impl Quiescence {
    /// An actor became idle (its inbox is empty). Poke afterwards.
    pub(crate) fn idle(&self) {
        let _ = self.idle.fetch_add(1, Ordering::SeqCst);
    }

    /// An idle actor became busy: a message was queued for it, or its wait
    /// ended.
    pub(crate) fn busy(&self) {
        let _ = self.epoch.fetch_add(1, Ordering::SeqCst);
        let _ = self.idle.fetch_sub(1, Ordering::SeqCst);
    }

    /// An outcome will be delivered to an actor later.
    pub(crate) fn outcome_owed(&self) {
        let _ = self.outstanding.fetch_add(1, Ordering::SeqCst);
    }

    /// An owed outcome was delivered (or dropped). Poke afterwards.
    pub(crate) fn outcome_paid(&self) {
        let _ = self.outstanding.fetch_sub(1, Ordering::SeqCst);
    }

    /// Records a change that may make the runtime quiet; true if the
    /// coordinator must be woken to look (no poke was pending).
    pub(crate) fn poke(&self) -> bool {
        !self.poked.swap(true, Ordering::SeqCst)
    }

    /// Takes a pending poke (the coordinator, before it looks).
    pub(crate) fn take_poke(&self) -> bool {
        self.poked.swap(false, Ordering::SeqCst)
    }

    /// True once the stopping runtime went quiet: idle actors stop waiting.
    pub(crate) fn is_quiet(&self) -> bool {
        self.quiet.load(Ordering::Acquire)
    }

    /// Latches quiet.
    pub(crate) fn set_quiet(&self) {
        self.quiet.store(true, Ordering::Release);
    }

    /// True if every one of the `live` processes that `live` counts is
    /// idle and no outcome is owed. `live` is read after the idle count,
    /// between two reads of the epoch.
    pub(crate) fn is_quiet_with(&self, live: impl FnOnce() -> usize) -> bool {
        let epoch = self.epoch.load(Ordering::SeqCst);
        let idle = self.idle.load(Ordering::SeqCst);
        let outstanding = self.outstanding.load(Ordering::SeqCst);
        let live = live();
        let unchanged = self.epoch.load(Ordering::SeqCst) == epoch;
        unchanged && outstanding == 0 && idle >= live
    }
}

#[cfg(test)]
mod tests {
    use super::Quiescence;

    #[test]
    fn quiet_when_every_live_process_is_idle() {
        let q = Quiescence::default();
        q.idle();
        assert!(!q.is_quiet_with(|| 2), "one of two is busy");
        q.idle();
        assert!(q.is_quiet_with(|| 2));
        q.busy();
        assert!(!q.is_quiet_with(|| 2), "a message made one busy");
        assert!(q.is_quiet_with(|| 1), "the busy one ended");
    }

    #[test]
    fn an_owed_outcome_keeps_it_busy() {
        let q = Quiescence::default();
        q.idle();
        q.outcome_owed();
        assert!(!q.is_quiet_with(|| 1));
        q.outcome_paid();
        assert!(q.is_quiet_with(|| 1));
    }

    #[test]
    fn an_actor_made_busy_while_looking_is_not_missed() {
        let q = Quiescence::default();
        q.idle();
        q.idle();
        // Between the reads of the idle count and of the live count, one
        // idle actor is sent a message and the process that sent it ends.
        let quiet = q.is_quiet_with(|| {
            q.busy();
            2
        });
        assert!(!quiet);
    }

    #[test]
    fn pokes_coalesce_until_taken() {
        let q = Quiescence::default();
        assert!(q.poke());
        assert!(!q.poke());
        assert!(q.take_poke());
        assert!(!q.take_poke());
        assert!(q.poke());
    }
}
