//! Request/response between actors: [`RpcMessage`] carries the request and a
//! one-shot [`RpcResponse`] to answer it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{self, Poll, Waker};

use super::RpcError;

/// A request made with [`ActorRef::rpc`](crate::ActorRef::rpc): the request
/// value and the way to respond.
///
/// The actor's message type implements `From<RpcMessage<Req, Res>>`, usually
/// as one variant of a message enum.
pub struct RpcMessage<Req, Res> {
    /// The request.
    pub request: Req,
    /// Used to send the response back to the caller.
    pub response: RpcResponse<Res>,
}

impl<Req, Res> RpcMessage<Req, Res> {
    /// Answers the request with `f(request)`, a shorthand for handlers that
    /// need nothing else.
    ///
    /// # Errors
    ///
    /// Hands the response back if the caller stopped waiting.
    pub fn handle<F: FnOnce(Req) -> Res>(self, f: F) -> Result<(), Res> {
        let response = f(self.request);
        self.response.respond(response)
    }
}

impl<Req: fmt::Debug, Res> fmt::Debug for RpcMessage<Req, Res> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcMessage")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

struct Slot<Res> {
    value: Option<Res>,
    /// The responder was dropped (with or without a value).
    responder_gone: bool,
    /// The caller stopped waiting.
    caller_gone: bool,
    waker: Option<Waker>,
}

type Shared<Res> = Arc<Mutex<Slot<Res>>>;

fn lock<Res>(shared: &Shared<Res>) -> MutexGuard<'_, Slot<Res>> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The way to answer an [`RpcMessage`]. Dropping it without responding makes
/// the caller's [`rpc`](crate::ActorRef::rpc) fail with
/// [`RpcError::NoResponse`].
pub struct RpcResponse<Res> {
    shared: Shared<Res>,
}

impl<Res> RpcResponse<Res> {
    /// Sends the response to the caller.
    ///
    /// # Errors
    ///
    /// Hands the response back if the caller stopped waiting.
    pub fn respond(self, response: Res) -> Result<(), Res> {
        let mut slot = lock(&self.shared);
        if slot.caller_gone {
            return Err(response);
        }
        slot.value = Some(response);
        // `Drop` wakes the caller.
        Ok(())
    }

    /// Returns true if the caller is still waiting for the response.
    pub fn is_connected(&self) -> bool {
        !lock(&self.shared).caller_gone
    }
}

impl<Res> Drop for RpcResponse<Res> {
    fn drop(&mut self) {
        let mut slot = lock(&self.shared);
        slot.responder_gone = true;
        let waker = slot.waker.take();
        drop(slot);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<Res> fmt::Debug for RpcResponse<Res> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcResponse").finish_non_exhaustive()
    }
}

/// The caller's side: resolves to the response.
pub(crate) struct ResponseFuture<Res> {
    shared: Shared<Res>,
}

pub(crate) fn new_call<Req, Res>(request: Req) -> (RpcMessage<Req, Res>, ResponseFuture<Res>) {
    let shared = Arc::new(Mutex::new(Slot {
        value: None,
        responder_gone: false,
        caller_gone: false,
        waker: None,
    }));
    let msg = RpcMessage {
        request,
        response: RpcResponse {
            shared: shared.clone(),
        },
    };
    (msg, ResponseFuture { shared })
}

impl<Res> Future for ResponseFuture<Res> {
    type Output = Result<Res, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.shared);
        if let Some(value) = slot.value.take() {
            return Poll::Ready(Ok(value));
        }
        if slot.responder_gone {
            return Poll::Ready(Err(RpcError::NoResponse));
        }
        match &mut slot.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<Res> Drop for ResponseFuture<Res> {
    fn drop(&mut self) {
        let mut slot = lock(&self.shared);
        slot.caller_gone = true;
        let value = slot.value.take();
        drop(slot);
        drop(value);
    }
}
