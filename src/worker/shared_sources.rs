//! The I/O sources of thread-safe sockets: registered on one `mio::Poll`
//! that all workers share (the *shared poll*), so that whichever worker
//! polls it wakes the actor, wherever that actor runs next.
//!
//! The shared poll's own descriptor is registered (edge-triggered) on every
//! worker's poll under the token `SHARED_POLL`; a worker that sees it polls
//! the shared poll without waiting ([`SharedSources::poll`]) and wakes the
//! tasks its events make ready. The lock around the shared poll is the
//! right to poll it: a worker that finds it taken leaves the events to the
//! worker holding it and tells it so (`missed`), and that worker polls once
//! more before it goes on: the edge that woke the first worker may have
//! come after the holder's `epoll_wait`, and no worker's poll reports it
//! again. See `doc/design.md`, "Thread-safe sockets", for why the
//! sources share one poll rather than live on a worker's.
//!
//! Readiness follows the rules of the workers' own sources
//! (`worker/sources.rs`): a bit per direction, set by events, cleared by
//! `WouldBlock` or by a short read or write; an end or an error an event
//! reported stays until `WouldBlock`. What changes is that the event and
//! the system call may now happen at the same time on two threads: an
//! event that comes while a task's `read` is saying `WouldBlock` must not
//! be cleared by that `WouldBlock`. So each direction's word carries a
//! count of the events (a tick) next to its bits, and a task clears the
//! bits only if the tick is still the one it saw before its system call;
//! otherwise it tries again. A task that has to wait stores its waker and
//! then looks at the word once more, and an event sets the word before it
//! takes the waker (both under the slot's waker lock), so an event is
//! either seen by the task or wakes it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Token};

use super::sources::{Direction, Readiness};

/// Events taken from the shared poll per system call; a full batch is
/// followed by another poll, as the edge that woke the worker is gone.
const EVENTS: usize = 256;

/// A direction's word: not known to be drained or full.
const READY: u32 = 0b01;
/// A direction's word: an event said it ended (closed or in error).
const ENDED: u32 = 0b10;
/// A direction's word: one event more.
const TICK: u32 = 0b100;

/// The sources registered on the shared poll, and the poll.
pub(crate) struct SharedSources {
    /// The shared poll and its events; holding the lock is the right to
    /// poll.
    poll: Mutex<(Poll, Events)>,
    /// To register sources without the poll's lock.
    registry: Registry,
    /// The shared poll's descriptor, registered on every worker's poll.
    fd: RawFd,
    /// The registered sources by token.
    slots: Mutex<Slab>,
    /// A worker was woken for the shared poll while another held it.
    missed: AtomicBool,
}

/// The readiness and wakers of one registered source, shared by the
/// socket and the shared poll's table.
#[derive(Debug)]
pub(crate) struct SharedSlot {
    read: AtomicU32,
    write: AtomicU32,
    wakers: Mutex<Wakers>,
}

#[derive(Debug, Default)]
struct Wakers {
    read: Option<Waker>,
    write: Option<Waker>,
}

/// A direction's word as seen before a system call.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Seen(u32);

impl Seen {
    /// True unless the source is known not to be ready.
    #[inline]
    pub(crate) fn is_ready(self) -> bool {
        self.0 & (READY | ENDED) != 0
    }
}

#[derive(Default)]
struct Slab {
    slots: Vec<Entry>,
    free: Vec<u32>,
}

#[derive(Default)]
struct Entry {
    generation: u32,
    slot: Option<Arc<SharedSlot>>,
}

fn split(token: Token) -> (usize, u32) {
    // The high half of a token made by this table: a u32 by construction.
    let generation = u32::try_from(token.0 >> 32).unwrap_or(u32::MAX);
    (token.0 & 0xFFFF_FFFF, generation)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SharedSources {
    /// Creates the shared poll.
    pub(crate) fn new() -> io::Result<SharedSources> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let fd = poll.as_raw_fd();
        Ok(SharedSources {
            poll: Mutex::new((poll, Events::with_capacity(EVENTS))),
            registry,
            fd,
            slots: Mutex::new(Slab::default()),
            missed: AtomicBool::new(false),
        })
    }

    /// The shared poll's descriptor, to register on a worker's poll.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    /// Registers `source` on the shared poll.
    pub(crate) fn register(
        &self,
        source: &mut impl Source,
        interest: Interest,
    ) -> io::Result<(Token, Arc<SharedSlot>)> {
        let slot = Arc::new(SharedSlot::new());
        let token = lock(&self.slots).add(slot.clone());
        if let Err(err) = self.registry.register(source, token, interest) {
            lock(&self.slots).remove(token);
            return Err(err);
        }
        Ok((token, slot))
    }

    /// Deregisters `source`, registered under `token`. An event for it that
    /// a worker took from the poll before wakes nobody: the token's slot is
    /// gone (or reused under another generation).
    pub(crate) fn deregister(&self, source: &mut impl Source, token: Token) {
        let _ = self.registry.deregister(source);
        lock(&self.slots).remove(token);
    }

    /// Polls the shared poll without waiting and adds the wakers its events
    /// make ready to `wakers`. If another thread is polling it, that
    /// thread polls once more when it is done, for the events this caller
    /// was woken for.
    ///
    /// Never inlined: inlined into a worker's dispatch of its own events
    /// (the path of every thread-local socket) it made that function three
    /// times the size, and a thread-local TCP echo round trip 6
    /// instructions dearer (callgrind).
    #[inline(never)]
    pub(crate) fn poll(&self, wakers: &mut Vec<Waker>) -> io::Result<()> {
        let Some(mut guard) = self.take() else {
            return Ok(());
        };
        loop {
            self.poll_locked(&mut guard, wakers)?;
            match self.release(guard) {
                Some(again) => guard = again,
                None => return Ok(()),
            }
        }
    }

    /// The right to poll; `None` if another thread has it, which is then
    /// told to poll again (`missed`).
    fn take(&self) -> Option<PollGuard<'_>> {
        if let Ok(guard) = self.poll.try_lock() {
            return Some(guard);
        }
        // The holder's `epoll_wait` may have come before the event that
        // woke this thread; edge-triggered, the worker polls will not
        // report it again. So the holder looks again once it is done.
        self.missed.store(true, Ordering::SeqCst);
        // It may have let go before it could see the flag.
        self.poll.try_lock().ok()
    }

    /// Gives up the right to poll, or keeps it (`Some`) when another
    /// thread missed its turn meanwhile: then the caller polls again.
    fn release<'a>(&'a self, guard: PollGuard<'a>) -> Option<PollGuard<'a>> {
        drop(guard);
        if !self.missed.swap(false, Ordering::SeqCst) {
            return None;
        }
        let again = self.poll.try_lock().ok();
        if again.is_none() {
            // Taken by a third thread after all: it looks again in turn.
            self.missed.store(true, Ordering::SeqCst);
        }
        again
    }

    /// Takes the shared poll's events and applies them to their slots.
    fn poll_locked(&self, guard: &mut PollGuard<'_>, wakers: &mut Vec<Waker>) -> io::Result<()> {
        let (poll, events) = &mut **guard;
        loop {
            match poll.poll(events, Some(Duration::ZERO)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            let slots = lock(&self.slots);
            let mut count = 0;
            for event in events.iter() {
                count += 1;
                if let Some(slot) = slots.get(event.token()) {
                    slot.ready(Readiness::of(event), wakers);
                }
            }
            if count < EVENTS {
                return Ok(());
            }
        }
    }
}

/// The right to poll the shared poll.
type PollGuard<'a> = MutexGuard<'a, (Poll, Events)>;

impl Slab {
    fn add(&mut self, slot: Arc<SharedSlot>) -> Token {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index =
                    u32::try_from(self.slots.len()).expect("more than 2^32 thread-safe sources");
                self.slots.push(Entry::default());
                index
            }
        };
        let entry = &mut self.slots[index as usize];
        entry.slot = Some(slot);
        Token((entry.generation as usize) << 32 | index as usize)
    }

    fn remove(&mut self, token: Token) {
        let (index, generation) = split(token);
        if let Some(entry) = self.slots.get_mut(index)
            && entry.generation == generation
            && entry.slot.take().is_some()
        {
            entry.generation = generation.wrapping_add(1);
            // An index from `split`: at most 32 bits.
            self.free.push(u32::try_from(index).unwrap_or(u32::MAX));
        }
    }

    fn get(&self, token: Token) -> Option<&SharedSlot> {
        let (index, generation) = split(token);
        let entry = self.slots.get(index)?;
        (entry.generation == generation)
            .then_some(entry.slot.as_deref())
            .flatten()
    }
}

impl SharedSlot {
    fn new() -> SharedSlot {
        SharedSlot {
            // Unknown yet: try the system call once.
            read: AtomicU32::new(READY),
            write: AtomicU32::new(READY),
            wakers: Mutex::new(Wakers::default()),
        }
    }

    #[inline]
    fn word(&self, direction: Direction) -> &AtomicU32 {
        match direction {
            Direction::Read => &self.read,
            Direction::Write => &self.write,
        }
    }

    /// The word of `direction`, to decide whether to make the system call
    /// and to clear it after.
    #[inline]
    pub(crate) fn seen(&self, direction: Direction) -> Seen {
        Seen(self.word(direction).load(Ordering::Acquire))
    }

    /// The system call said `WouldBlock` after `seen`: the source has
    /// nothing, not even an end, unless an event came since. False if one
    /// did (the word is left as the event made it: try again).
    #[inline]
    pub(crate) fn would_block(&self, direction: Direction, seen: Seen) -> bool {
        self.clear(direction, seen, READY | ENDED)
    }

    /// A short read or write after `seen` drained the data or filled the
    /// room; an end or error an event reported stays. Nothing if an event
    /// came since.
    #[inline]
    pub(crate) fn drained(&self, direction: Direction, seen: Seen) {
        let _ = self.clear(direction, seen, READY);
    }

    #[inline]
    fn clear(&self, direction: Direction, seen: Seen, bits: u32) -> bool {
        let word = self.word(direction);
        let mut current = seen.0;
        loop {
            // Only the task clears bits; events add a tick. So the word
            // differs from what was seen only by an event.
            if current & !(READY | ENDED) != seen.0 & !(READY | ENDED) {
                return false;
            }
            match word.compare_exchange_weak(
                current,
                current & !bits,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }

    /// Stores the waker to call when the source becomes ready in
    /// `direction`, and returns the direction's word as it is now: if it
    /// says ready, an event came before the waker was in place, and the
    /// caller must not wait for another.
    #[inline]
    pub(crate) fn wait(&self, direction: Direction, waker: &Waker) -> Seen {
        let mut wakers = lock(&self.wakers);
        let current = match direction {
            Direction::Read => &mut wakers.read,
            Direction::Write => &mut wakers.write,
        };
        match current {
            Some(current) if current.will_wake(waker) => {}
            current => *current = Some(waker.clone()),
        }
        // Under the lock: an event that set the word after this load takes
        // the waker just stored.
        self.seen(direction)
    }

    /// Applies an event's `readiness` and takes the wakers it makes ready.
    pub(crate) fn ready(&self, readiness: Readiness, wakers: &mut Vec<Waker>) {
        let read_ended = readiness.read.closed || readiness.error;
        let read = readiness.read.ready || read_ended;
        let write_ended = readiness.write.closed || readiness.error;
        let write = readiness.write.ready || write_ended;
        if read {
            let bits = READY | if read_ended { ENDED } else { 0 };
            mark(&self.read, bits);
        }
        if write {
            let bits = READY | if write_ended { ENDED } else { 0 };
            mark(&self.write, bits);
        }
        if read || write {
            let mut waiting = lock(&self.wakers);
            if read {
                wakers.extend(waiting.read.take());
            }
            if write {
                wakers.extend(waiting.write.take());
            }
        }
    }
}

/// Sets `bits` in a direction's word and counts the event.
fn mark(word: &AtomicU32, bits: u32) {
    let _ = word.fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
        Some(current.wrapping_add(TICK) | bits)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::sources::SideReadiness;

    fn event(slot: &SharedSlot, readiness: Readiness) -> usize {
        let mut wakers = Vec::new();
        slot.ready(readiness, &mut wakers);
        wakers.len()
    }

    const DATA: Readiness = Readiness {
        read: SideReadiness {
            ready: true,
            closed: false,
        },
        write: SideReadiness {
            ready: false,
            closed: false,
        },
        error: false,
    };

    #[test]
    fn short_read_keeps_an_end_that_came_with_the_data() {
        let slot = SharedSlot::new();
        let both = Readiness {
            read: SideReadiness {
                ready: true,
                closed: true,
            },
            ..DATA
        };
        let _ = event(&slot, both);
        let seen = slot.seen(Direction::Read);
        slot.drained(Direction::Read, seen);
        let seen = slot.seen(Direction::Read);
        assert!(seen.is_ready(), "the end of the stream is still to be read");
        // Only WouldBlock clears it.
        assert!(slot.would_block(Direction::Read, seen));
        assert!(!slot.seen(Direction::Read).is_ready());
    }

    #[test]
    fn short_read_of_data_alone_waits_for_the_next_event() {
        let slot = SharedSlot::new();
        let _ = event(&slot, DATA);
        let seen = slot.seen(Direction::Read);
        slot.drained(Direction::Read, seen);
        assert!(!slot.seen(Direction::Read).is_ready());
    }

    #[test]
    fn short_write_keeps_an_error_that_came_with_the_room() {
        let slot = SharedSlot::new();
        let error = Readiness {
            write: SideReadiness {
                ready: true,
                closed: false,
            },
            error: true,
            ..Readiness::default()
        };
        let _ = event(&slot, error);
        let seen = slot.seen(Direction::Write);
        slot.drained(Direction::Write, seen);
        assert!(slot.seen(Direction::Write).is_ready());
        // An error ends both directions.
        let seen = slot.seen(Direction::Read);
        slot.drained(Direction::Read, seen);
        assert!(slot.seen(Direction::Read).is_ready());
    }

    /// The race of thread-safe sources: an event that comes between a
    /// task's look at the word and its `WouldBlock` is not cleared by it.
    #[test]
    fn an_event_during_the_system_call_is_not_cleared() {
        let slot = SharedSlot::new();
        let seen = slot.seen(Direction::Read);
        // The read runs; meanwhile another worker dispatches new data.
        let _ = event(&slot, DATA);
        assert!(
            !slot.would_block(Direction::Read, seen),
            "the WouldBlock predates the event"
        );
        assert!(slot.seen(Direction::Read).is_ready());
        // Same for a short read.
        let seen = slot.seen(Direction::Read);
        let _ = event(&slot, DATA);
        slot.drained(Direction::Read, seen);
        assert!(slot.seen(Direction::Read).is_ready());
    }

    #[test]
    fn an_event_before_the_waker_is_stored_is_seen_by_the_waiter() {
        let slot = SharedSlot::new();
        let seen = slot.seen(Direction::Read);
        assert!(slot.would_block(Direction::Read, seen));
        let _ = event(&slot, DATA);
        // Nobody was waiting: the waiter sees the word ready instead.
        assert!(slot.wait(Direction::Read, Waker::noop()).is_ready());
    }

    #[test]
    fn events_wake_the_waiting_tasks() {
        let slot = SharedSlot::new();
        let seen = slot.seen(Direction::Read);
        assert!(slot.would_block(Direction::Read, seen));
        assert!(!slot.wait(Direction::Read, Waker::noop()).is_ready());
        let closed = Readiness {
            read: SideReadiness {
                ready: false,
                closed: true,
            },
            ..Readiness::default()
        };
        assert_eq!(event(&slot, closed), 1);
        assert!(slot.seen(Direction::Read).is_ready());
        // A write event wakes no reader.
        assert!(slot.would_block(Direction::Read, slot.seen(Direction::Read)));
        assert!(!slot.wait(Direction::Read, Waker::noop()).is_ready());
        let room = Readiness {
            write: SideReadiness {
                ready: true,
                closed: false,
            },
            ..Readiness::default()
        };
        assert_eq!(event(&slot, room), 0);
    }

    /// A worker woken for the shared poll while another polls it must not
    /// lose its events when the holder's own poll came first.
    #[test]
    fn an_event_missed_while_another_thread_polls_is_polled_by_it() {
        let io = SharedSources::new().unwrap();
        let (mut ours, mut peer) = mio::net::UnixStream::pair().unwrap();
        let (_, slot) = io.register(&mut ours, Interest::READABLE).unwrap();
        assert!(slot.would_block(Direction::Read, slot.seen(Direction::Read)));
        let mut wakers = Vec::new();
        // One worker polls: nothing yet.
        let mut holder = io.take().unwrap();
        io.poll_locked(&mut holder, &mut wakers).unwrap();
        // Data comes; the other worker is woken, finds the poll taken.
        std::io::Write::write_all(&mut peer, b"x").unwrap();
        io.poll(&mut wakers).unwrap();
        assert!(!slot.seen(Direction::Read).is_ready());
        // The holder looks again before it lets go.
        let mut again = io.release(holder).expect("told to poll again");
        io.poll_locked(&mut again, &mut wakers).unwrap();
        assert!(slot.seen(Direction::Read).is_ready(), "the event was lost");
        assert!(io.release(again).is_none());
    }

    #[test]
    fn a_removed_token_finds_no_slot() {
        let mut slab = Slab::default();
        let token = slab.add(Arc::new(SharedSlot::new()));
        assert!(slab.get(token).is_some());
        slab.remove(token);
        assert!(slab.get(token).is_none());
        // Reused under another generation: the old token still finds none.
        let reused = slab.add(Arc::new(SharedSlot::new()));
        assert_ne!(reused, token);
        assert!(slab.get(token).is_none());
        assert!(slab.get(reused).is_some());
    }
}
