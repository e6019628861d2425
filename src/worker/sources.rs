//! The I/O sources of a worker: which actor to wake when its `mio::Poll`
//! reports a socket ready.
//!
//! Each registered source has a slot holding the wakers of the task waiting
//! to read and the task waiting to write. Tokens carry the slot's
//! generation, so an event for a source that was dropped (and whose slot was
//! reused) wakes nobody. Sources are edge-triggered, and the slot keeps a
//! readiness bit per direction: set by events (and at registration), cleared
//! by `WouldBlock` or by a short read or write, which shows the socket was
//! drained or filled. A task only makes the system call while the bit is
//! set; otherwise it registers its waker and waits for the next event. Since
//! events are dispatched on the same thread between runs, a readiness change
//! after the bit was cleared always comes as a new event. This saves the
//! `read` that would only say `WouldBlock` after each message.
//!
//! A short read drains the data, not the end: a peer that sends a few bytes
//! and closes gives one event for both, and after the short read the socket
//! still has its end-of-file to report (`read` returns 0), with no further
//! event to come. So the closed and error states of an event are kept apart
//! from the readiness bits and stay set: a short read or write clears only
//! the bit, and only `WouldBlock`, which says the kernel has nothing at
//! all, clears both. The same holds for writes to a peer that went away:
//! the next write makes its system call and gets the error.

use std::task::Waker;

use mio::Token;
use mio::event::Event;

/// Which way a task waits on a source. (`pub` for the sockets' sealed
/// traits, in a private module.)
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Direction {
    Read,
    Write,
}

#[derive(Default)]
pub(crate) struct IoRegistry {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

#[derive(Default)]
struct Slot {
    generation: u32,
    in_use: bool,
    read: Option<Waker>,
    write: Option<Waker>,
    /// Not known to be drained (readable) / full (writable).
    readable: bool,
    writable: bool,
    /// An event said the read (write) side is closed or in error: the next
    /// system call in that direction returns at once, drained or not.
    read_ended: bool,
    write_ended: bool,
}

/// What one event says of a source.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub(crate) struct Readiness {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    pub(crate) read_closed: bool,
    pub(crate) write_closed: bool,
    pub(crate) error: bool,
}

impl Readiness {
    pub(crate) fn of(event: &Event) -> Readiness {
        Readiness {
            readable: event.is_readable(),
            writable: event.is_writable(),
            read_closed: event.is_read_closed(),
            write_closed: event.is_write_closed(),
            error: event.is_error(),
        }
    }
}

fn split(token: Token) -> (usize, u32) {
    (token.0 & 0xFFFF_FFFF, (token.0 >> 32) as u32)
}

impl IoRegistry {
    /// Reserves a token for a new source.
    pub(crate) fn add(&mut self) -> Token {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len()).expect("more than 2^32 I/O sources");
                self.slots.push(Slot::default());
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.in_use = true;
        // Unknown yet: try the system call once.
        slot.readable = true;
        slot.writable = true;
        Token((slot.generation as usize) << 32 | index as usize)
    }

    /// Releases the token of a dropped source.
    pub(crate) fn remove(&mut self, token: Token) {
        let (index, generation) = split(token);
        if let Some(slot) = self.slots.get_mut(index)
            && slot.in_use
            && slot.generation == generation
        {
            *slot = Slot {
                generation: generation.wrapping_add(1),
                ..Slot::default()
            };
            self.free.push(index as u32);
        }
    }

    /// The slot of a source that is still registered under `token`.
    #[inline]
    fn live_slot(&mut self, token: Token) -> Option<&mut Slot> {
        let (index, generation) = split(token);
        self.slots
            .get_mut(index)
            .filter(|s| s.in_use && s.generation == generation)
    }

    /// True unless the source is known not to be ready in `direction`.
    #[inline]
    pub(crate) fn is_ready(&mut self, token: Token, direction: Direction) -> bool {
        self.live_slot(token).is_none_or(|slot| match direction {
            Direction::Read => slot.readable || slot.read_ended,
            Direction::Write => slot.writable || slot.write_ended,
        })
    }

    /// Marks the source as not ready in `direction`: it said `WouldBlock`,
    /// so it has nothing, not even an end or an error, until the next event.
    #[inline]
    pub(crate) fn would_block(&mut self, token: Token, direction: Direction) {
        if let Some(slot) = self.live_slot(token) {
            match direction {
                Direction::Read => (slot.readable, slot.read_ended) = (false, false),
                Direction::Write => (slot.writable, slot.write_ended) = (false, false),
            }
        }
    }

    /// Marks the data of the source as drained (a short read) or its room
    /// as filled (a short write) in `direction`. An end or an error that an
    /// event reported is still to be returned, so it stays.
    #[inline]
    pub(crate) fn drained(&mut self, token: Token, direction: Direction) {
        if let Some(slot) = self.live_slot(token) {
            match direction {
                Direction::Read => slot.readable = false,
                Direction::Write => slot.writable = false,
            }
        }
    }

    /// Sets the waker to call when the source becomes ready in `direction`.
    #[inline]
    pub(crate) fn set_waker(&mut self, token: Token, direction: Direction, waker: &Waker) {
        let Some(slot) = self.live_slot(token) else {
            return;
        };
        let current = match direction {
            Direction::Read => &mut slot.read,
            Direction::Write => &mut slot.write,
        };
        match current {
            Some(current) if current.will_wake(waker) => {}
            current => *current = Some(waker.clone()),
        }
    }

    /// Takes the wakers an event makes ready.
    pub(crate) fn ready(&mut self, event: &Event, wakers: &mut Vec<Waker>) {
        self.ready_with(event.token(), Readiness::of(event), wakers);
    }

    /// Takes the wakers that `readiness` of the source under `token` makes
    /// ready.
    pub(crate) fn ready_with(
        &mut self,
        token: Token,
        readiness: Readiness,
        wakers: &mut Vec<Waker>,
    ) {
        let Some(slot) = self.live_slot(token) else {
            return;
        };
        let read_ended = readiness.read_closed || readiness.error;
        if readiness.readable || read_ended {
            slot.readable = true;
            slot.read_ended |= read_ended;
            wakers.extend(slot.read.take());
        }
        let write_ended = readiness.write_closed || readiness.error;
        if readiness.writable || write_ended {
            slot.writable = true;
            slot.write_ended |= write_ended;
            wakers.extend(slot.write.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(registry: &mut IoRegistry, token: Token, readiness: Readiness) -> usize {
        let mut wakers = Vec::new();
        registry.ready_with(token, readiness, &mut wakers);
        wakers.len()
    }

    #[test]
    fn short_read_keeps_an_end_that_came_with_the_data() {
        let mut registry = IoRegistry::default();
        let token = registry.add();
        // Data and the peer's close in one event.
        let both = Readiness {
            readable: true,
            read_closed: true,
            ..Readiness::default()
        };
        let _ = event(&mut registry, token, both);
        registry.drained(token, Direction::Read);
        assert!(
            registry.is_ready(token, Direction::Read),
            "the end of the stream is still to be read"
        );
        // Reading the end (0) does not say WouldBlock: still ready.
        assert!(registry.is_ready(token, Direction::Read));
        // Only WouldBlock clears it.
        registry.would_block(token, Direction::Read);
        assert!(!registry.is_ready(token, Direction::Read));
    }

    #[test]
    fn short_read_of_data_alone_waits_for_the_next_event() {
        let mut registry = IoRegistry::default();
        let token = registry.add();
        let data = Readiness {
            readable: true,
            ..Readiness::default()
        };
        let _ = event(&mut registry, token, data);
        registry.drained(token, Direction::Read);
        assert!(!registry.is_ready(token, Direction::Read));
    }

    #[test]
    fn short_write_keeps_an_error_that_came_with_the_room() {
        let mut registry = IoRegistry::default();
        let token = registry.add();
        let error = Readiness {
            writable: true,
            error: true,
            ..Readiness::default()
        };
        let _ = event(&mut registry, token, error);
        registry.drained(token, Direction::Write);
        assert!(registry.is_ready(token, Direction::Write));
        // An error ends both directions.
        registry.drained(token, Direction::Read);
        assert!(registry.is_ready(token, Direction::Read));
    }

    #[test]
    fn events_wake_the_waiting_tasks() {
        let mut registry = IoRegistry::default();
        let token = registry.add();
        registry.would_block(token, Direction::Read);
        registry.set_waker(token, Direction::Read, std::task::Waker::noop());
        let closed = Readiness {
            read_closed: true,
            ..Readiness::default()
        };
        assert_eq!(event(&mut registry, token, closed), 1);
        assert!(registry.is_ready(token, Direction::Read));
        // A dropped source's token wakes nobody.
        registry.remove(token);
        assert_eq!(event(&mut registry, token, closed), 0);
    }
}
