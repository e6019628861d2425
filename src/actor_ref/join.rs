//! Waiting for an actor to stop: [`Join`], borrowed from an [`ActorRef`],
//! and [`JoinHandle`], which is not a sender.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{self, Poll};

use super::ActorRef;
use crate::inbox::Watcher;
use crate::runtime::{Quiescence, RuntimeShared};

/// [`Future`] behind [`ActorRef::join`].
///
/// A task waiting here during a graceful shutdown counts as idle, as one
/// waiting in `receive_next` does (see
/// [`Context::receive_next`](crate::actor::Context::receive_next)): it
/// cannot send anything before the actor stops.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Join<'r, M> {
    actor_ref: &'r ActorRef<M>,
    /// Its registration with the actor's inbox, once it waited.
    joiner: Option<u64>,
}

impl<'r, M> Join<'r, M> {
    pub(super) fn new(actor_ref: &'r ActorRef<M>) -> Join<'r, M> {
        Join {
            actor_ref,
            joiner: None,
        }
    }
}

impl<M> Future for Join<'_, M> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        let this = &mut *self;
        poll_joining(cx, |cx, idle| {
            this.actor_ref.poll_join(cx, &mut this.joiner, idle)
        })
    }
}

impl<M> Drop for Join<'_, M> {
    fn drop(&mut self) {
        if let Some(joiner) = self.joiner.take() {
            self.actor_ref.cancel_join(joiner);
        }
    }
}

impl<M> fmt::Debug for Join<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").finish_non_exhaustive()
    }
}

/// Waits for an actor to stop, without being one of its senders: see
/// [`ActorRef::join_handle`]. Resolves once the actor has stopped
/// (returned, failed for good, or was dropped with its worker).
///
/// A task waiting here during a graceful shutdown counts as idle, as one
/// waiting in `receive_next` does.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct JoinHandle {
    target: Box<dyn JoinTarget>,
    joiner: Option<u64>,
}

/// An inbox to watch, whatever its message type.
trait JoinTarget: Send + Sync {
    fn poll_join(
        &self,
        cx: &mut task::Context<'_>,
        joiner: &mut Option<u64>,
        idle: Option<&Arc<Quiescence>>,
    ) -> (Poll<()>, bool);
    fn cancel_join(&self, joiner: u64);
    fn is_closed(&self) -> bool;
}

impl<M: Send> JoinTarget for Watcher<M> {
    fn poll_join(
        &self,
        cx: &mut task::Context<'_>,
        joiner: &mut Option<u64>,
        idle: Option<&Arc<Quiescence>>,
    ) -> (Poll<()>, bool) {
        Watcher::poll_join(self, cx, joiner, idle)
    }

    fn cancel_join(&self, joiner: u64) {
        Watcher::cancel_join(self, joiner);
    }

    fn is_closed(&self) -> bool {
        Watcher::is_closed(self)
    }
}

impl JoinHandle {
    pub(super) fn new<M: Send + 'static>(watcher: Watcher<M>) -> JoinHandle {
        JoinHandle {
            target: Box::new(watcher),
            joiner: None,
        }
    }

    /// Returns true once the actor has stopped.
    pub fn is_finished(&self) -> bool {
        self.target.is_closed()
    }
}

impl Future for JoinHandle {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        let this = &mut *self;
        poll_joining(cx, |cx, idle| {
            this.target.poll_join(cx, &mut this.joiner, idle)
        })
    }
}

impl Drop for JoinHandle {
    fn drop(&mut self) {
        if let Some(joiner) = self.joiner.take() {
            self.target.cancel_join(joiner);
        }
    }
}

impl fmt::Debug for JoinHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Polls a join with `poll`; on a runtime's thread a wait during its
/// shutdown counts idle (and pokes the coordinator the first time).
fn poll_joining(
    cx: &mut task::Context<'_>,
    mut poll: impl FnMut(&mut task::Context<'_>, Option<&Arc<Quiescence>>) -> (Poll<()>, bool),
) -> Poll<()> {
    let on_runtime = crate::runtime::with_current(|shared: &RuntimeShared| {
        let (ready, became_idle) = poll(cx, shared.idle_in());
        if became_idle {
            shared.poke_quiescence();
        }
        ready
    });
    on_runtime.unwrap_or_else(|| poll(cx, None).0)
}
