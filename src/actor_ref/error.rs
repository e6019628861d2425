//! Errors of sending to an actor.

use std::fmt;

/// Error returned by [`ActorRef::try_send`](crate::ActorRef::try_send). The
/// message is handed back, except when a mapped reference refused it.
#[derive(Copy, Clone, Eq, PartialEq)]
pub enum TrySendError<M> {
    /// The actor's inbox is full. Retry later or use
    /// [`send`](crate::ActorRef::send), which waits for room.
    Full(M),
    /// The actor has stopped; no message will ever be received.
    Stopped(M),
    /// The message could not be converted to the actor's message type by a
    /// mapped reference (see [`ActorRef::try_map`](crate::ActorRef::try_map)):
    /// it was not meant for this actor, and has been dropped.
    Rejected,
}

impl<M> TrySendError<M> {
    /// Returns the message that was not sent, if it was handed back.
    pub fn into_inner(self) -> Option<M> {
        match self {
            TrySendError::Full(msg) | TrySendError::Stopped(msg) => Some(msg),
            TrySendError::Rejected => None,
        }
    }

    /// Returns true if the inbox was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Returns true if the actor has stopped.
    pub fn is_stopped(&self) -> bool {
        matches!(self, TrySendError::Stopped(_))
    }
}

impl<M> fmt::Debug for TrySendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Stopped(_) => f.write_str("Stopped(..)"),
            TrySendError::Rejected => f.write_str("Rejected"),
        }
    }
}

impl<M> fmt::Display for TrySendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => {
                f.write_str("unable to send message: the actor's inbox is full")
            }
            TrySendError::Stopped(_) => {
                f.write_str("unable to send message: the actor has stopped")
            }
            TrySendError::Rejected => f.write_str(
                "unable to send message: it cannot be converted to the actor's message type",
            ),
        }
    }
}

impl<M> std::error::Error for TrySendError<M> {}

/// Error returned by [`ActorRef::send`](crate::ActorRef::send). The message is
/// handed back, except when a mapped reference refused it.
#[derive(Copy, Clone, Eq, PartialEq)]
pub enum SendError<M> {
    /// The actor has stopped; no message will ever be received.
    Stopped(M),
    /// The message could not be converted to the actor's message type by a
    /// mapped reference (see [`ActorRef::try_map`](crate::ActorRef::try_map)):
    /// it was not meant for this actor, and has been dropped.
    Rejected,
}

impl<M> SendError<M> {
    /// Returns the message that was not sent, if it was handed back.
    pub fn into_inner(self) -> Option<M> {
        match self {
            SendError::Stopped(msg) => Some(msg),
            SendError::Rejected => None,
        }
    }
}

impl<M> fmt::Debug for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Stopped(_) => f.write_str("Stopped(..)"),
            SendError::Rejected => f.write_str("Rejected"),
        }
    }
}

impl<M> fmt::Display for SendError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Stopped(_) => f.write_str("unable to send message: the actor has stopped"),
            SendError::Rejected => f.write_str(
                "unable to send message: it cannot be converted to the actor's message type",
            ),
        }
    }
}

impl<M> std::error::Error for SendError<M> {}

/// Error returned by [`ActorRef::rpc`](crate::ActorRef::rpc).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum RpcError {
    /// The request could not be delivered: the actor has stopped (or the
    /// request was rejected by a mapped reference).
    SendError,
    /// The request was dropped without a response: the actor dropped it, or
    /// stopped with the request still in its inbox.
    NoResponse,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpcError::SendError => {
                f.write_str("rpc failed: unable to send the request: the actor has stopped")
            }
            RpcError::NoResponse => {
                f.write_str("rpc failed: the actor dropped the request without responding")
            }
        }
    }
}

impl std::error::Error for RpcError {}
