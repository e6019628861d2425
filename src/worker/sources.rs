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
    read: Side,
    write: Side,
}

impl Slot {
    fn side(&mut self, direction: Direction) -> &mut Side {
        match direction {
            Direction::Read => &mut self.read,
            Direction::Write => &mut self.write,
        }
    }
}

/// One direction of a source: the task waiting on it, and what the events
/// said of it.
#[derive(Default)]
struct Side {
    waker: Option<Waker>,
    /// Not known to be drained (read) / full (write).
    ready: bool,
    /// An event said this side is closed or in error: the next system call
    /// in this direction returns at once, drained or not.
    ended: bool,
}

/// What one event says of a source.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub(crate) struct Readiness {
    pub(crate) read: SideReadiness,
    pub(crate) write: SideReadiness,
    /// The source is in error: both sides end.
    pub(crate) error: bool,
}

/// What one event says of one direction of a source.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub(crate) struct SideReadiness {
    /// Readable (writable).
    pub(crate) ready: bool,
    /// The peer closed this side (read), or it can write no more (write).
    pub(crate) closed: bool,
}

impl Readiness {
    pub(crate) fn of(event: &Event) -> Readiness {
        Readiness {
            read: SideReadiness {
                ready: event.is_readable(),
                closed: event.is_read_closed(),
            },
            write: SideReadiness {
                ready: event.is_writable(),
                closed: event.is_write_closed(),
            },
            error: event.is_error(),
        }
    }
}

/// The slot index and generation in `token`: its low and high 32 bits.
fn split(token: Token) -> (u32, u32) {
    #[allow(clippy::cast_possible_truncation)] // Masked and shifted to 32 bits: they fit.
    let parts = ((token.0 & 0xFFFF_FFFF) as u32, (token.0 >> 32) as u32);
    parts
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
        slot.read.ready = true;
        slot.write.ready = true;
        Token((slot.generation as usize) << 32 | index as usize)
    }

    /// Releases the token of a dropped source.
    pub(crate) fn remove(&mut self, token: Token) {
        let (index, generation) = split(token);
        if let Some(slot) = self.slots.get_mut(index as usize)
            && slot.in_use
            && slot.generation == generation
        {
            *slot = Slot {
                generation: generation.wrapping_add(1),
                ..Slot::default()
            };
            self.free.push(index);
        }
    }

    /// The slot of a source that is still registered under `token`.
    #[inline]
    fn live_slot(&mut self, token: Token) -> Option<&mut Slot> {
        let (index, generation) = split(token);
        self.slots
            .get_mut(index as usize)
            .filter(|s| s.in_use && s.generation == generation)
    }

    /// True unless the source is known not to be ready in `direction`.
    #[inline]
    pub(crate) fn is_ready(&mut self, token: Token, direction: Direction) -> bool {
        self.live_slot(token).is_none_or(|slot| {
            let side = slot.side(direction);
            side.ready || side.ended
        })
    }

    /// Marks the source as not ready in `direction`: it said `WouldBlock`,
    /// so it has nothing, not even an end or an error, until the next event.
    #[inline]
    pub(crate) fn would_block(&mut self, token: Token, direction: Direction) {
        if let Some(slot) = self.live_slot(token) {
            let side = slot.side(direction);
            (side.ready, side.ended) = (false, false);
        }
    }

    /// Marks the data of the source as drained (a short read) or its room
    /// as filled (a short write) in `direction`. An end or an error that an
    /// event reported is still to be returned, so it stays.
    #[inline]
    pub(crate) fn drained(&mut self, token: Token, direction: Direction) {
        if let Some(slot) = self.live_slot(token) {
            slot.side(direction).ready = false;
        }
    }

    /// Sets the waker to call when the source becomes ready in `direction`.
    #[inline]
    pub(crate) fn set_waker(&mut self, token: Token, direction: Direction, waker: &Waker) {
        let Some(slot) = self.live_slot(token) else {
            return;
        };
        match &mut slot.side(direction).waker {
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
        for (side, seen) in [
            (&mut slot.read, readiness.read),
            (&mut slot.write, readiness.write),
        ] {
            let ended = seen.closed || readiness.error;
            if seen.ready || ended {
                side.ready = true;
                side.ended |= ended;
                wakers.extend(side.waker.take());
            }
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
            read: SideReadiness {
                ready: true,
                closed: true,
            },
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
            read: SideReadiness {
                ready: true,
                closed: false,
            },
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
            write: SideReadiness {
                ready: true,
                closed: false,
            },
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
            read: SideReadiness {
                ready: false,
                closed: true,
            },
            ..Readiness::default()
        };
        assert_eq!(event(&mut registry, token, closed), 1);
        assert!(registry.is_ready(token, Direction::Read));
        // A dropped source's token wakes nobody.
        registry.remove(token);
        assert_eq!(event(&mut registry, token, closed), 0);
    }
}
