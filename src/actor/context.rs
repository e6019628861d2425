//! The context of an asynchronous actor: its inbox and its way to the runtime.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{self, Poll};

use crate::ActorRef;
use crate::inbox::{self, NoMessages, RecvError};
use crate::runtime::RuntimeShared;
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
    /// message can arrive any more: every [`ActorRef`] to this actor is
    /// gone, or the runtime is shutting down and has gone quiet. That is the
    /// usual signal for an actor to return.
    ///
    /// # Shutdown
    ///
    /// During a graceful shutdown an actor waiting here on an empty inbox
    /// is *idle*. Its wait does not end at once: another actor still
    /// running (a connection answering the requests it had read) may be
    /// about to send to it. It ends once every live actor, future and sync
    /// actor of the runtime is idle the same way (or has stopped) and no
    /// remote job still owes an actor its outcome: then nothing can send
    /// another message, and every idle actor gets `NoMessages`. So a server
    /// written with `while let Ok(msg) = ctx.receive_next().await` drains
    /// in order: its connections finish, then the actors they call. A
    /// process that never becomes idle (one that ignores the shutdown)
    /// keeps the others waiting until the grace period ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::actor::{actor_fn, Context};
    /// use hearth::supervisor::NoSupervisor;
    /// use hearth::{ActorOptions, Runtime, ThreadSafe};
    ///
    /// async fn counter(mut ctx: Context<u64, ThreadSafe>) {
    ///     let mut total = 0;
    ///     // Ends when the senders are gone, or when a stopping runtime is
    ///     // quiet; messages already sent are received first.
    ///     while let Ok(n) = ctx.receive_next().await {
    ///         total += n;
    ///     }
    ///     assert_eq!(total, 3);
    /// }
    ///
    /// # fn main() -> Result<(), hearth::Error> {
    /// let mut runtime = Runtime::setup().build()?;
    /// let actor_ref = runtime.spawn(NoSupervisor, actor_fn(counter), (), ActorOptions::default());
    /// actor_ref.try_send(1u64).unwrap();
    /// actor_ref.try_send(2u64).unwrap();
    /// runtime.thread_safe().shutdown();
    /// runtime.start()
    /// # }
    /// ```
    pub fn receive_next(&mut self) -> ReceiveMessage<'_, M> {
        ReceiveMessage {
            inbox: &mut self.inbox,
            shared: &self.shared,
            idle: false,
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
    inbox: &'ctx mut inbox::Receiver<M>,
    shared: &'ctx RuntimeShared,
    /// Counted idle in the stopping runtime's quiescence.
    idle: bool,
}

impl<M> Future for ReceiveMessage<'_, M> {
    type Output = Result<M, NoMessages>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        if !budget::consume() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // The usual case first: a message, or a runtime that is not
        // stopping.
        match self.inbox.poll_recv(cx) {
            Poll::Ready(result) => {
                // `poll_recv_idle` counted it busy again, if it was idle.
                self.idle = false;
                Poll::Ready(result)
            }
            Poll::Pending if !self.shared.shutdown.is_stopping() => Poll::Pending,
            Poll::Pending => self.wait_while_stopping(cx),
        }
    }
}

impl<M> ReceiveMessage<'_, M> {
    /// Waits on an empty inbox in a stopping runtime: counted idle until
    /// the runtime goes quiet, then `NoMessages`.
    #[cold]
    #[inline(never)]
    fn wait_while_stopping(&mut self, cx: &mut task::Context<'_>) -> Poll<Result<M, NoMessages>> {
        let shared = self.shared;
        let (poll, became_idle) = self.inbox.poll_recv_idle(cx, shared.idle_in());
        match poll {
            Poll::Ready(result) => {
                self.idle = false;
                Poll::Ready(result)
            }
            // The waker stays registered: a message that arrives is still
            // received by a later call.
            Poll::Pending if shared.shutdown.quiescence.is_quiet() => {
                self.inbox.stop_waiting();
                self.idle = false;
                Poll::Ready(Err(NoMessages))
            }
            Poll::Pending => {
                if became_idle {
                    self.idle = true;
                    shared.poke_quiescence();
                }
                Poll::Pending
            }
        }
    }
}

impl<M> Drop for ReceiveMessage<'_, M> {
    fn drop(&mut self) {
        if self.idle {
            self.inbox.stop_waiting();
        }
    }
}

impl<M> fmt::Debug for ReceiveMessage<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiveMessage").finish_non_exhaustive()
    }
}
