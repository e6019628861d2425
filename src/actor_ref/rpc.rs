//! Request/response between actors: [`RpcMessage`] carries the request and a
//! one-shot [`RpcResponse`] to answer it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{self, Poll};

use super::RpcError;
use super::oneshot::{self, Receiver, Sender};

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

/// The way to answer an [`RpcMessage`]. Dropping it without responding makes
/// the caller's [`rpc`](crate::ActorRef::rpc) fail with
/// [`RpcError::NoResponse`].
pub struct RpcResponse<Res> {
    sender: Sender<Res>,
}

impl<Res> RpcResponse<Res> {
    /// Sends the response to the caller.
    ///
    /// # Errors
    ///
    /// Hands the response back if the caller stopped waiting.
    pub fn respond(self, response: Res) -> Result<(), Res> {
        self.sender.send(response)
    }

    /// Returns true if the caller is still waiting for the response.
    pub fn is_connected(&self) -> bool {
        self.sender.is_connected()
    }
}

impl<Res> fmt::Debug for RpcResponse<Res> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcResponse").finish_non_exhaustive()
    }
}

/// The caller's side: resolves to the response.
pub(crate) struct ResponseFuture<Res> {
    receiver: Receiver<Res>,
}

pub(crate) fn new_call<Req, Res>(request: Req) -> (RpcMessage<Req, Res>, ResponseFuture<Res>) {
    let (sender, receiver) = oneshot::channel();
    let msg = RpcMessage {
        request,
        response: RpcResponse { sender },
    };
    (msg, ResponseFuture { receiver })
}

impl<Res> Future for ResponseFuture<Res> {
    type Output = Result<Res, RpcError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        self.receiver
            .poll_recv(cx)
            .map(|result| result.map_err(|oneshot::SenderGone| RpcError::NoResponse))
    }
}

/// Implements [`From`] for a variant of an actor's message enum, Heph's
/// `from_message!`, so senders pass the variant's content and
/// [`ActorRef::rpc`](crate::ActorRef::rpc) finds its request's variant:
///
/// - `from_message!(Message::Variant(Type))`: `Message: From<Type>`, for a
///   variant holding a `Type`.
/// - `from_message!(Message::Variant(Request) -> Response)`:
///   `Message: From<RpcMessage<Request, Response>>`, for a variant holding
///   that request; with several request types
///   (`Message::Variant(A, B) -> Response`) the request is their tuple.
///
/// # Examples
///
/// ```
/// use hearth::actor_ref::RpcMessage;
/// use hearth::from_message;
///
/// enum Message {
///     Log(String),
///     Count(RpcMessage<String, usize>),
///     Add(RpcMessage<(u32, u32), u32>),
/// }
///
/// from_message!(Message::Log(String));
/// from_message!(Message::Count(String) -> usize);
/// from_message!(Message::Add(u32, u32) -> u32);
///
/// fn what(msg: Message) -> String {
///     match msg {
///         Message::Log(text) => text,
///         Message::Count(call) => call.request,
///         Message::Add(call) => format!("{:?}", call.request),
///     }
/// }
///
/// assert_eq!(what(Message::from("hello".to_owned())), "hello");
/// ```
#[macro_export]
macro_rules! from_message {
    ($message:ident :: $variant:ident ( $content:ty )) => {
        impl ::std::convert::From<$content> for $message {
            fn from(content: $content) -> $message {
                $message::$variant(content)
            }
        }
    };
    ($message:ident :: $variant:ident ( $($request:ty),+ ) -> $response:ty) => {
        impl ::std::convert::From<$crate::actor_ref::RpcMessage<( $($request),+ ), $response>>
            for $message
        {
            fn from(call: $crate::actor_ref::RpcMessage<( $($request),+ ), $response>) -> $message {
                $message::$variant(call)
            }
        }
    };
}
