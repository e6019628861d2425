//! A `mio` source registered on the poll of the worker that owns it.

use std::io;
use std::task::{self, Poll};

use mio::{Interest, Token, event};

use crate::RuntimeRef;
use crate::worker::sources::Direction;

/// An I/O source registered with a worker; deregistered when dropped.
pub(crate) struct Registered<S: event::Source> {
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

    pub(crate) fn get(&self) -> &S {
        &self.source
    }

    pub(crate) fn runtime(&self) -> &RuntimeRef {
        &self.rt
    }

    /// Runs the non-blocking operation `op` if the source may be ready in
    /// `direction`, until it does not return `WouldBlock`; when it is not
    /// ready registers the task to be woken by the next event.
    pub(crate) fn poll_io<T>(
        &mut self,
        direction: Direction,
        cx: &mut task::Context<'_>,
        op: impl FnMut(&mut S) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        self.poll_io_drained(direction, cx, op, |_| false)
    }

    /// [`Registered::poll_io`], where `drained` tells from a result that the
    /// source has no more to give (a short read or write): the next call
    /// waits for an event instead of making a system call that would only
    /// say `WouldBlock`.
    pub(crate) fn poll_io_drained<T>(
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

impl<S: event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        let _ = self.rt.internals.registry.deregister(&mut self.source);
        if let Ok(mut io) = self.rt.internals.io.try_borrow_mut() {
            io.remove(self.token);
        }
    }
}
