//! The context of an asynchronous actor: its inbox and its way to the runtime.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{self, Poll};

use crate::ActorRef;
use crate::inbox::{self, NoMessages, RecvError};
use crate::runtime::{RuntimeShared, Shutdown};
use crate::scheduler::budget;

/// The context an actor runs in: gives access to its inbox, a reference to
/// itself and the runtime (`RT` is [`ThreadLocal`](crate::ThreadLocal) or
/// [`ThreadSafe`](crate::ThreadSafe)).
pub struct Context<M, RT> {
    inbox: inbox::Receiver<M>,
    rt: RT,
    shared: Arc<RuntimeShared>,
}

impl<M, RT> Context<M, RT> {
    pub(crate) fn new(
        inbox: inbox::Receiver<M>,
        rt: RT,
        shared: Arc<RuntimeShared>,
    ) -> Context<M, RT> {
        Context { inbox, rt, shared }
    }

    /// Returns true once the runtime is shutting down gracefully (after an
    /// unhandled SIGINT/SIGTERM/SIGQUIT or a `shutdown` call). The actor
    /// should finish what it is doing and return.
    pub fn is_stopping(&self) -> bool {
        self.shared.shutdown.is_stopping()
    }

    /// Receives the next message without waiting.
    ///
    /// # Errors
    ///
    /// [`RecvError::Empty`] if no message is waiting,
    /// [`RecvError::Disconnected`] if none is waiting and every
    /// [`ActorRef`] to this actor is gone.
    pub fn try_receive_next(&mut self) -> Result<M, RecvError> {
        self.inbox.try_recv()
    }

    /// Receives the next message, waiting for one if the inbox is empty.
    ///
    /// The future resolves to [`NoMessages`] when the inbox is empty and no
    /// message can arrive any more: every [`ActorRef`] to this actor is gone,
    /// or the runtime is shutting down. That is the usual signal for an
    /// actor to return.
    pub fn receive_next(&mut self) -> ReceiveMessage<'_, M> {
        ReceiveMessage {
            inbox: &self.inbox,
            shutdown: &self.shared.shutdown,
        }
    }

    /// Runs `future` until it completes, or until the runtime begins a
    /// graceful shutdown, whichever comes first: `None` means the runtime
    /// is stopping (and `future` was dropped).
    ///
    /// Use it around waits that should not hold up a shutdown, e.g. reading
    /// the next request of a connection.
    pub async fn until_stopping<Fut: Future>(&self, future: Fut) -> Option<Fut::Output> {
        let mut future = pin!(future);
        // Every actor is woken when the shutdown begins, so checking on each
        // poll is enough.
        poll_fn(|cx| {
            if self.shared.shutdown.is_stopping() {
                return Poll::Ready(None);
            }
            future.as_mut().poll(cx).map(Some)
        })
        .await
    }

    /// Number of messages waiting in the inbox.
    pub fn pending_messages(&self) -> usize {
        self.inbox.len()
    }

    /// A reference to this actor.
    pub fn actor_ref(&self) -> ActorRef<M> {
        ActorRef::from_sender(self.inbox.sender())
    }

    /// Access to the runtime, e.g. to spawn more actors.
    pub fn runtime(&mut self) -> &mut RT {
        &mut self.rt
    }

    /// Shared access to the runtime.
    pub fn runtime_ref(&self) -> &RT {
        &self.rt
    }
}

impl<M, RT> fmt::Debug for Context<M, RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

/// [`Future`] behind [`Context::receive_next`].
///
/// Takes part in the scheduler's fairness budget: after a number of messages
/// received in one run the actor yields to others, even when more messages
/// are waiting.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ReceiveMessage<'ctx, M> {
    inbox: &'ctx inbox::Receiver<M>,
    shutdown: &'ctx Shutdown,
}

impl<M> Future for ReceiveMessage<'_, M> {
    type Output = Result<M, NoMessages>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        if !budget::consume() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match self.inbox.poll_recv(cx) {
            // The waker stays registered: a message that arrives is still
            // received by a later call.
            Poll::Pending if self.shutdown.is_stopping() => Poll::Ready(Err(NoMessages)),
            poll => poll,
        }
    }
}

impl<M> fmt::Debug for ReceiveMessage<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiveMessage").finish_non_exhaustive()
    }
}
