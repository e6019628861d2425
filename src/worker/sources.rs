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

use std::task::Waker;

use mio::Token;
use mio::event::Event;

/// Which way a task waits on a source.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Direction {
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
    fn live_slot(&mut self, token: Token) -> Option<&mut Slot> {
        let (index, generation) = split(token);
        self.slots
            .get_mut(index)
            .filter(|s| s.in_use && s.generation == generation)
    }

    /// True unless the source is known not to be ready in `direction`.
    pub(crate) fn is_ready(&mut self, token: Token, direction: Direction) -> bool {
        self.live_slot(token).is_none_or(|slot| match direction {
            Direction::Read => slot.readable,
            Direction::Write => slot.writable,
        })
    }

    /// Marks the source as not ready in `direction` (it said `WouldBlock`,
    /// or a short read or write showed it drained or full).
    pub(crate) fn clear_ready(&mut self, token: Token, direction: Direction) {
        if let Some(slot) = self.live_slot(token) {
            match direction {
                Direction::Read => slot.readable = false,
                Direction::Write => slot.writable = false,
            }
        }
    }

    /// Sets the waker to call when the source becomes ready in `direction`.
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
        let Some(slot) = self.live_slot(event.token()) else {
            return;
        };
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            slot.readable = true;
            wakers.extend(slot.read.take());
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            slot.writable = true;
            wakers.extend(slot.write.take());
        }
    }
}
