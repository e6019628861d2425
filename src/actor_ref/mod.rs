//! References to actors: send messages, make requests, wait for the end.
//!
//! An [`ActorRef`] is the only way to reach an actor. It is cheap to clone
//! and, when the message type is `Send`, can be moved between threads and
//! used from any actor kind (thread-local, thread-safe, sync) or from plain
//! threads. [`ActorGroup`] holds several references for broadcast or
//! round-robin delivery.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{self, Poll};

use crate::inbox::{self, SendFailure};
use crate::runtime::Quiescence;
use crate::scheduler::budget;

mod error;
mod group;
mod join;
mod oneshot;
pub(crate) mod rpc;

pub use error::{RpcError, SendError, TrySendError};
pub use group::{ActorGroup, Delivery};
pub use join::{Join, JoinHandle};
pub use rpc::{RpcMessage, RpcResponse};

/// A reference to an actor, used to send it messages of type `M`.
///
/// # Examples
///
/// ```
/// use hearth::actor::{actor_fn, Context};
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, Runtime, ThreadSafe};
///
/// async fn greeter(mut ctx: Context<String, ThreadSafe>) {
///     while let Ok(name) = ctx.receive_next().await {
///         println!("Hello, {name}!");
///     }
/// }
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().num_threads(1).build()?;
/// let actor_ref = runtime.spawn(NoSupervisor, actor_fn(greeter), (), ActorOptions::default());
/// actor_ref.try_send("World".to_owned()).expect("inbox has room");
/// drop(actor_ref); // The actor stops once all references are gone.
/// runtime.start()
/// # }
/// ```
pub struct ActorRef<M> {
    kind: Kind<M>,
}

enum Kind<M> {
    /// Sends straight into the actor's inbox.
    Direct(inbox::Sender<M>),
    /// Converts the message first (see [`ActorRef::map`]).
    Mapped(Arc<dyn MappedRef<M> + Send + Sync>),
}

impl<M> ActorRef<M> {
    pub(crate) fn from_sender(sender: inbox::Sender<M>) -> ActorRef<M> {
        ActorRef {
            kind: Kind::Direct(sender),
        }
    }

    /// Sends `msg` without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the inbox is full, [`TrySendError::Stopped`]
    /// if the actor stopped (the message is handed back in both cases),
    /// [`TrySendError::Rejected`] if a mapped reference could not convert it.
    pub fn try_send<Msg: Into<M>>(&self, msg: Msg) -> Result<(), TrySendError<M>> {
        #[cfg(feature = "test")]
        if crate::test::lose_message() {
            return Ok(());
        }
        let mut slot = Some(msg.into());
        match self.try_send_from(&mut || slot.take()) {
            Ok(()) => Ok(()),
            Err(failure) => Err(match (failure, slot) {
                (SendFailure::Full, Some(msg)) => TrySendError::Full(msg),
                (SendFailure::Stopped, Some(msg)) => TrySendError::Stopped(msg),
                _ => TrySendError::Rejected,
            }),
        }
    }

    /// Sends `msg`, waiting for room in the inbox if it is full
    /// (back-pressure).
    ///
    /// # Errors
    ///
    /// [`SendError::Stopped`] if the actor stopped before or while waiting
    /// (the message is handed back), [`SendError::Rejected`] if a mapped
    /// reference could not convert it.
    pub fn send<Msg: Into<M>>(&self, msg: Msg) -> SendValue<'_, M> {
        // Decided once per message, however many polls sending it takes.
        #[cfg(feature = "test")]
        if crate::test::lose_message() {
            return SendValue {
                actor_ref: self,
                msg: None,
                waiter: Some(LOST),
            };
        }
        SendValue {
            actor_ref: self,
            msg: Some(msg.into()),
            waiter: None,
        }
    }

    /// Sends a request and waits for the actor's response.
    ///
    /// The actor receives an [`RpcMessage`] (converted into `M`) and answers
    /// with [`RpcResponse::respond`].
    ///
    /// # Errors
    ///
    /// [`RpcError::SendError`] if the actor stopped before receiving the
    /// request, [`RpcError::NoResponse`] if it dropped the request without
    /// responding.
    pub async fn rpc<Req, Res>(&self, request: Req) -> Result<Res, RpcError>
    where
        M: From<RpcMessage<Req, Res>>,
    {
        let (msg, response) = rpc::new_call(request);
        if self.send(M::from(msg)).await.is_err() {
            return Err(RpcError::SendError);
        }
        response.await
    }

    /// Waits until the actor has stopped (returned, failed for good, or was
    /// dropped with its worker).
    pub fn join(&self) -> Join<'_, M> {
        Join::new(self)
    }

    /// A handle that waits for the actor to stop without being a sender:
    /// unlike an `ActorRef`, it does not keep the actor's receive loop
    /// going. Drop the references, then await the handle (tokio's
    /// `drop(tx); handle.await`).
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::actor::{actor_fn, Context};
    /// use hearth::supervisor::NoSupervisor;
    /// use hearth::{ActorOptions, Runtime, ThreadSafe};
    ///
    /// async fn sum(mut ctx: Context<u64, ThreadSafe>) {
    ///     let mut total = 0;
    ///     while let Ok(n) = ctx.receive_next().await {
    ///         total += n;
    ///     }
    ///     assert_eq!(total, 6);
    /// }
    ///
    /// # fn main() -> Result<(), hearth::Error> {
    /// let mut runtime = Runtime::setup().build()?;
    /// let summer = runtime.spawn(NoSupervisor, actor_fn(sum), (), ActorOptions::default());
    /// let done = summer.join_handle();
    /// runtime.spawn_future(async move {
    ///     for n in 1..=3u64 {
    ///         summer.send(n).await.unwrap();
    ///     }
    ///     drop(summer); // The last sender: the actor's loop ends.
    ///     done.await;
    ///     println!("summed");
    /// }, hearth::FutureOptions::default());
    /// runtime.start()
    /// # }
    /// ```
    pub fn join_handle(&self) -> JoinHandle
    where
        M: Send + 'static,
    {
        match &self.kind {
            Kind::Direct(sender) => JoinHandle::new(sender.watcher()),
            Kind::Mapped(mapped) => mapped.join_handle(),
        }
    }

    /// Returns true if this reference and `other` deliver to the same
    /// actor, whatever their message types (a mapped reference delivers to
    /// the actor of the reference it was made from).
    ///
    /// # Examples
    ///
    /// ```
    /// # use hearth::ActorRef;
    /// fn same(actor: ActorRef<u64>) {
    ///     let mapped: ActorRef<u8> = actor.clone().map();
    ///     assert!(mapped.sends_to(&actor));
    /// }
    /// # let _ = same;
    /// ```
    pub fn sends_to<Other>(&self, other: &ActorRef<Other>) -> bool {
        self.inbox_addr() == other.inbox_addr()
    }

    /// The identity of the inbox this reference delivers to.
    fn inbox_addr(&self) -> *const () {
        match &self.kind {
            Kind::Direct(sender) => sender.inbox_addr(),
            Kind::Mapped(mapped) => mapped.inbox_addr(),
        }
    }

    /// Returns true if the actor has stopped.
    pub fn is_stopped(&self) -> bool {
        match &self.kind {
            Kind::Direct(sender) => sender.is_closed(),
            Kind::Mapped(mapped) => mapped.is_stopped(),
        }
    }

    /// Returns true while the actor runs (and so may receive messages):
    /// the opposite of [`ActorRef::is_stopped`], under Heph's name.
    pub fn is_connected(&self) -> bool {
        !self.is_stopped()
    }

    /// Changes the message type of the reference: messages of type `Msg` are
    /// converted into `M` with [`From`] when sent.
    pub fn map<Msg>(self) -> ActorRef<Msg>
    where
        M: From<Msg> + Send + 'static,
        Msg: Send + 'static,
    {
        self.mapped(|msg| Some(M::from(msg)))
    }

    /// Changes the message type of the reference: messages of type `Msg` are
    /// converted into `M` with [`TryFrom`]; a message that does not convert
    /// is refused with [`TrySendError::Rejected`] / [`SendError::Rejected`].
    pub fn try_map<Msg>(self) -> ActorRef<Msg>
    where
        M: TryFrom<Msg> + Send + 'static,
        Msg: Send + 'static,
    {
        self.mapped(|msg| M::try_from(msg).ok())
    }

    /// Changes the message type of the reference: messages of type `Msg` are
    /// converted into `M` with `map` when sent (a function or a closure).
    ///
    /// # Examples
    ///
    /// ```
    /// # use hearth::ActorRef;
    /// fn lengths(actor: ActorRef<usize>) -> ActorRef<&'static str> {
    ///     actor.map_fn(|text: &str| text.len())
    /// }
    /// # let _ = lengths;
    /// ```
    pub fn map_fn<Msg, F>(self, map: F) -> ActorRef<Msg>
    where
        F: Fn(Msg) -> M + Send + Sync + 'static,
        M: Send + 'static,
        Msg: Send + 'static,
    {
        self.mapped(move |msg| Some(map(msg)))
    }

    /// Changes the message type of the reference with a conversion that may
    /// fail: a message for which `map` returns an error is refused with
    /// [`TrySendError::Rejected`] / [`SendError::Rejected`] (the error
    /// itself is dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::num::NonZeroU32;
    /// # use hearth::ActorRef;
    /// fn counts(actor: ActorRef<NonZeroU32>) -> ActorRef<u32> {
    ///     actor.try_map_fn(|n: u32| NonZeroU32::try_from(n))
    /// }
    /// # let _ = counts;
    /// ```
    pub fn try_map_fn<Msg, F, E>(self, map: F) -> ActorRef<Msg>
    where
        F: Fn(Msg) -> Result<M, E> + Send + Sync + 'static,
        M: Send + 'static,
        Msg: Send + 'static,
    {
        self.mapped(move |msg| map(msg).ok())
    }

    /// A mapped reference over this one, with a conversion that returns
    /// `None` for messages the actor does not take.
    fn mapped<Msg, F>(self, convert: F) -> ActorRef<Msg>
    where
        F: Fn(Msg) -> Option<M> + Send + Sync + 'static,
        M: Send + 'static,
        Msg: Send + 'static,
    {
        ActorRef {
            kind: Kind::Mapped(Arc::new(Mapped {
                inner: self,
                convert,
                message: PhantomData,
            })),
        }
    }

    /// A flag set once the actor has stopped.
    pub(crate) fn stopped_flag(&self) -> Arc<AtomicBool> {
        match &self.kind {
            Kind::Direct(sender) => sender.stopped_flag(),
            Kind::Mapped(mapped) => mapped.stopped_flag(),
        }
    }

    fn try_send_from(&self, produce: &mut dyn FnMut() -> Option<M>) -> Result<(), SendFailure> {
        match &self.kind {
            Kind::Direct(sender) => sender.try_send_from(produce),
            Kind::Mapped(mapped) => mapped.try_send_from(produce),
        }
    }

    fn poll_send_from(
        &self,
        produce: &mut dyn FnMut() -> Option<M>,
        waiter: &mut Option<u64>,
        cx: &mut task::Context<'_>,
    ) -> Poll<Result<(), SendFailure>> {
        match &self.kind {
            Kind::Direct(sender) => sender.poll_send_from(produce, waiter, cx),
            Kind::Mapped(mapped) => mapped.poll_send_from(produce, waiter, cx),
        }
    }

    fn cancel_send(&self, waiter: u64) {
        match &self.kind {
            Kind::Direct(sender) => sender.cancel_send(waiter),
            Kind::Mapped(mapped) => mapped.cancel_send(waiter),
        }
    }

    pub(super) fn poll_join(
        &self,
        cx: &mut task::Context<'_>,
        joiner: &mut Option<u64>,
        idle: Option<&Arc<Quiescence>>,
    ) -> (Poll<()>, bool) {
        match &self.kind {
            Kind::Direct(sender) => sender.poll_join(cx, joiner, idle),
            Kind::Mapped(mapped) => mapped.poll_join(cx, joiner, idle),
        }
    }

    pub(super) fn cancel_join(&self, joiner: u64) {
        match &self.kind {
            Kind::Direct(sender) => sender.cancel_join(joiner),
            Kind::Mapped(mapped) => mapped.cancel_join(joiner),
        }
    }
}

impl<M> Clone for ActorRef<M> {
    fn clone(&self) -> ActorRef<M> {
        let kind = match &self.kind {
            Kind::Direct(sender) => Kind::Direct(sender.clone()),
            Kind::Mapped(mapped) => Kind::Mapped(mapped.clone()),
        };
        ActorRef { kind }
    }
}

impl<M> PartialEq for ActorRef<M> {
    /// Two references are equal if they reach the same actor the same way.
    fn eq(&self, other: &ActorRef<M>) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Direct(a), Kind::Direct(b)) => a.same_inbox(b),
            (Kind::Mapped(a), Kind::Mapped(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl<M> Eq for ActorRef<M> {}

impl<M> fmt::Debug for ActorRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Direct(_) => "direct",
            Kind::Mapped(_) => "mapped",
        };
        f.debug_struct("ActorRef")
            .field("kind", &kind)
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

/// Sending through a mapped reference: converts `Msg` into the actor's own
/// message type, which this trait hides.
trait MappedRef<Msg> {
    fn try_send_from(&self, produce: &mut dyn FnMut() -> Option<Msg>) -> Result<(), SendFailure>;
    fn poll_send_from(
        &self,
        produce: &mut dyn FnMut() -> Option<Msg>,
        waiter: &mut Option<u64>,
        cx: &mut task::Context<'_>,
    ) -> Poll<Result<(), SendFailure>>;
    fn cancel_send(&self, waiter: u64);
    fn poll_join(
        &self,
        cx: &mut task::Context<'_>,
        joiner: &mut Option<u64>,
        idle: Option<&Arc<Quiescence>>,
    ) -> (Poll<()>, bool);
    fn cancel_join(&self, joiner: u64);
    fn join_handle(&self) -> JoinHandle;
    fn inbox_addr(&self) -> *const ();
    fn is_stopped(&self) -> bool;
    fn stopped_flag(&self) -> Arc<AtomicBool>;
}

struct Mapped<M, Msg, F> {
    inner: ActorRef<M>,
    convert: F,
    /// The conversion takes `Msg`: the reference holds none.
    message: PhantomData<fn(Msg)>,
}

impl<M, Msg, F> MappedRef<Msg> for Mapped<M, Msg, F>
where
    M: Send + 'static,
    F: Fn(Msg) -> Option<M>,
{
    fn try_send_from(&self, produce: &mut dyn FnMut() -> Option<Msg>) -> Result<(), SendFailure> {
        let convert = &self.convert;
        self.inner
            .try_send_from(&mut || produce().and_then(convert))
    }

    fn poll_send_from(
        &self,
        produce: &mut dyn FnMut() -> Option<Msg>,
        waiter: &mut Option<u64>,
        cx: &mut task::Context<'_>,
    ) -> Poll<Result<(), SendFailure>> {
        let convert = &self.convert;
        self.inner
            .poll_send_from(&mut || produce().and_then(convert), waiter, cx)
    }

    fn cancel_send(&self, waiter: u64) {
        self.inner.cancel_send(waiter);
    }

    fn poll_join(
        &self,
        cx: &mut task::Context<'_>,
        joiner: &mut Option<u64>,
        idle: Option<&Arc<Quiescence>>,
    ) -> (Poll<()>, bool) {
        self.inner.poll_join(cx, joiner, idle)
    }

    fn cancel_join(&self, joiner: u64) {
        self.inner.cancel_join(joiner);
    }

    fn join_handle(&self) -> JoinHandle {
        self.inner.join_handle()
    }

    fn inbox_addr(&self) -> *const () {
        self.inner.inbox_addr()
    }

    fn is_stopped(&self) -> bool {
        self.inner.is_stopped()
    }

    fn stopped_flag(&self) -> Arc<AtomicBool> {
        self.inner.stopped_flag()
    }
}

/// [`Future`] behind [`ActorRef::send`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct SendValue<'r, M> {
    actor_ref: &'r ActorRef<M>,
    msg: Option<M>,
    /// Registration with the inbox while waiting for room; [`LOST`] for a
    /// message lost on purpose (`test::set_message_loss`), whose send
    /// completes at once (no field of its own: a send future is part of
    /// every actor that awaits one).
    waiter: Option<u64>,
}

/// The `waiter` of a [`SendValue`] whose message was lost on purpose: no
/// registration, as no inbox counts that far.
#[cfg(feature = "test")]
const LOST: u64 = u64::MAX;

impl<M> Unpin for SendValue<'_, M> {}

impl<M> Future for SendValue<'_, M> {
    type Output = Result<(), SendError<M>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.msg.is_none() {
            // Lost on purpose: sent, as far as the sender knows.
            #[cfg(feature = "test")]
            if this.waiter == Some(LOST) {
                this.waiter = None;
                return Poll::Ready(Ok(()));
            }
            // Polled after completion.
            return Poll::Ready(Err(SendError::Rejected));
        }
        // Sending takes part in the fairness budget, so a sender whose
        // target always has room still yields to others.
        if !budget::consume() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let msg = &mut this.msg;
        match this
            .actor_ref
            .poll_send_from(&mut || msg.take(), &mut this.waiter, cx)
        {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(failure)) => Poll::Ready(Err(match (failure, this.msg.take()) {
                (SendFailure::Stopped, Some(msg)) => SendError::Stopped(msg),
                _ => SendError::Rejected,
            })),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<M> Drop for SendValue<'_, M> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            #[cfg(feature = "test")]
            if waiter == LOST {
                return;
            }
            self.actor_ref.cancel_send(waiter);
        }
    }
}

impl<M> fmt::Debug for SendValue<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendValue").finish_non_exhaustive()
    }
}
