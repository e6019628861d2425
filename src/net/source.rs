//! A `mio` source registered on the poll of the worker that owns it: the
//! sockets of thread-local actors.

use std::io;
use std::task::{self, Poll};
use std::time::Duration;

use mio::{Interest, Token, event};

use super::mode::private::Io;
use crate::RuntimeRef;
use crate::worker::sources::Direction;

/// An I/O source registered with a worker; deregistered when dropped.
/// (`pub` for [`SealedMode::Io`](super::mode::private::SealedMode::Io),
/// in a private module.)
pub struct Registered<S: event::Source> {
    source: S,
    token: Token,
    rt: RuntimeRef,
}

impl<S: event::Source> Registered<S> {
    pub(crate) fn new(rt: &RuntimeRef, mut source: S, interest: Interest) -> io::Result<Self> {
        let token = rt.internals.io.borrow_mut().add();
        if let Err(err) = rt.internals.registry.register(&mut source, token, interest) {
            rt.internals.io.borrow_mut().remove(token);
            return Err(err);
        }
        Ok(Registered {
            source,
            token,
            rt: rt.clone(),
        })
    }
}

impl<S: event::Source> Io<S> for Registered<S> {
    type Handle = RuntimeRef;

    fn get(&self) -> &S {
        &self.source
    }

    fn handle(&self) -> &RuntimeRef {
        &self.rt
    }

    fn is_stopping(&self) -> bool {
        self.rt.internals.shared.shutdown.is_stopping()
    }

    fn stalled_write_limit(&self) -> Duration {
        self.rt.internals.shared.stalled_write_limit
    }

    fn poll_io_drained<T>(
        &mut self,
        direction: Direction,
        cx: &mut task::Context<'_>,
        mut op: impl FnMut(&mut S) -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        let mut io = self.rt.internals.io.borrow_mut();
        if !io.is_ready(self.token, direction) {
            io.set_waker(self.token, direction, cx.waker());
            return Poll::Pending;
        }
        drop(io);
        loop {
            match op(&mut self.source) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    let mut io = self.rt.internals.io.borrow_mut();
                    io.would_block(self.token, direction);
                    io.set_waker(self.token, direction, cx.waker());
                    return Poll::Pending;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Ok(value) => {
                    if drained(&value) {
                        let mut io = self.rt.internals.io.borrow_mut();
                        io.drained(self.token, direction);
                    }
                    return Poll::Ready(Ok(value));
                }
                result => return Poll::Ready(result),
            }
        }
    }
}

impl<S: event::Source> std::fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl<S: event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        let _ = self.rt.internals.registry.deregister(&mut self.source);
        if let Ok(mut io) = self.rt.internals.io.try_borrow_mut() {
            io.remove(self.token);
        }
    }
}
