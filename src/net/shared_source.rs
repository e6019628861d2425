//! A `mio` source registered on the runtime's shared poll: the sockets of
//! thread-safe actors, which any worker may use and any worker wakes (see
//! `worker/shared_sources.rs`).

use std::io;
use std::sync::Arc;
use std::task::{self, Poll};
use std::time::Duration;

use mio::{Interest, Token, event};

use super::mode::private::Io;
use crate::ThreadSafe;
use crate::worker::shared_sources::SharedSlot;
use crate::worker::sources::Direction;

/// An I/O source registered on the shared poll; deregistered when dropped.
/// (`pub` for [`SealedMode::Io`](super::mode::private::SealedMode::Io),
/// in a private module.)
pub struct SharedRegistered<S: event::Source> {
    source: S,
    token: Token,
    slot: Arc<SharedSlot>,
    rt: ThreadSafe,
}

impl<S: event::Source> SharedRegistered<S> {
    pub(crate) fn new(rt: &ThreadSafe, mut source: S, interest: Interest) -> io::Result<Self> {
        let (token, slot) = rt.shared.io.register(&mut source, interest)?;
        Ok(SharedRegistered {
            source,
            token,
            slot,
            rt: rt.clone(),
        })
    }
}

impl<S: event::Source> Io<S> for SharedRegistered<S> {
    type Handle = ThreadSafe;

    fn get(&self) -> &S {
        &self.source
    }

    fn handle(&self) -> &ThreadSafe {
        &self.rt
    }

    fn is_stopping(&self) -> bool {
        self.rt.shared.shutdown.is_stopping()
    }

    fn stalled_write_limit(&self) -> Duration {
        self.rt.shared.stalled_write_limit
    }

    fn poll_io_drained<T>(
        &mut self,
        direction: Direction,
        cx: &mut task::Context<'_>,
        mut op: impl FnMut(&mut S) -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        let mut seen = self.slot.seen(direction);
        loop {
            if !seen.is_ready() {
                // Ready since (an event came before the waker was in
                // place): try again rather than wait for another.
                seen = self.slot.wait(direction, cx.waker());
                if !seen.is_ready() {
                    return Poll::Pending;
                }
            }
            match op(&mut self.source) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    // Not cleared if an event came during the call: then
                    // the word says ready again and the call is retried.
                    let _ = self.slot.would_block(direction, seen);
                    seen = self.slot.seen(direction);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Ok(value) => {
                    if drained(&value) {
                        self.slot.drained(direction, seen);
                    }
                    return Poll::Ready(Ok(value));
                }
                result => return Poll::Ready(result),
            }
        }
    }
}

impl<S: event::Source> std::fmt::Debug for SharedRegistered<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRegistered")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl<S: event::Source> Drop for SharedRegistered<S> {
    fn drop(&mut self) {
        self.rt.shared.io.deregister(&mut self.source, self.token);
    }
}
