//! The bounded inbox of an actor: many senders, one receiving actor.
//!
//! An inbox is created when an actor is spawned and lives as long as the
//! actor, across restarts: the process driving the actor holds the [`Owner`],
//! each incarnation of the actor gets a [`Receiver`] and every
//! [`ActorRef`](crate::ActorRef) holds a [`Sender`]. When the owner is dropped
//! (the actor stopped for good) the inbox closes: queued messages are dropped,
//! waiting senders get their message back and joiners are woken.
//!
//! The state sits behind one mutex. Wakers are always called, and messages
//! always dropped, after the lock is released, so user code (a `Drop` impl, a
//! waker) never runs while the inbox is locked.
//!
//! A receiver fed steadily takes its messages in batches: when its own
//! batch is empty it locks the inbox once and takes every queued message
//! (swapping the two queues' buffers, so nothing is copied), then receives
//! from the batch without the lock. It makes its batch (a box of its own)
//! the second time it finds a backlog (see [`refill`]); until then it
//! takes one message per lock. A batch counts against the capacity
//! (`State::taken`) until its last message is taken, so the bound holds
//! exactly, and room is handed to waiting senders a batch at a time. With
//! senders on other threads this turns a lock (and a cache line moving
//! between cores) per message into two per batch.

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{self, Poll, Waker};

mod handle;
#[cfg(test)]
mod tests;

use handle::Handle;
pub(crate) use handle::Storage;

use crate::runtime::Quiescence;

/// Error returned by [`Context::try_receive_next`](crate::actor::Context::try_receive_next).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum RecvError {
    /// The inbox is empty, but senders may still send.
    Empty,
    /// The inbox is empty and every sender is gone: no message will arrive.
    Disconnected,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("inbox is empty"),
            RecvError::Disconnected => {
                f.write_str("inbox is empty and all actor references are gone")
            }
        }
    }
}

impl std::error::Error for RecvError {}

/// Error returned when waiting for a message while the inbox is empty and no
/// [`ActorRef`](crate::ActorRef) is left to send one.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct NoMessages;

impl fmt::Display for NoMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no messages: the inbox is empty and all actor references are gone")
    }
}

impl std::error::Error for NoMessages {}

/// The inbox itself, wherever it is stored (see [`Storage`]).
pub(crate) struct Shared<M> {
    state: Mutex<State<M>>,
    /// Number of live [`Sender`]s.
    senders: AtomicUsize,
}

struct State<M> {
    queue: VecDeque<M>,
    /// At most `u32::MAX` (a larger capacity is held there): with `taken`
    /// in one word, the inbox is no larger than before batches.
    capacity: u32,
    /// Messages the receiver took as its last batch: they count against
    /// the capacity until its last one is taken (see the module's notes).
    taken: u32,
    /// Set when the owner is dropped: the actor stopped for good.
    closed: bool,
    /// Set once the receiver found more than one message queued: the
    /// second time, it takes a batch (see [`refill`]).
    backlog_seen: bool,
    /// The inbox closes when its receiver is dropped, not with its owner
    /// (see [`closing_with_receiver`]). Only with the `test` feature: a
    /// worker's actors have an owner. Here, beside the other flags, it
    /// takes no room of its own.
    #[cfg(feature = "test")]
    closes_with_receiver: bool,
    /// Waker of the receiving actor, set while it waits for a message.
    receiver: Option<Waker>,
    /// Allocated by the first sender that waits for room, the first task
    /// that waits for the actor to stop or the first stop watcher: most
    /// inboxes never have any, and a million actors are smaller without.
    waiters: Option<Box<Waiters>>,
}

/// Who waits on or watches an inbox, other than its actor.
#[derive(Default)]
struct Waiters {
    /// Senders waiting for room, oldest first.
    send: VecDeque<(u64, Waker)>,
    next_id: u64,
    /// Tasks waiting for the actor to stop.
    join: Vec<Joiner>,
    /// Set when the inbox closes; made on demand (see
    /// [`Sender::stopped_flag`]) for watchers that cannot name `M`.
    stopped: Option<Arc<AtomicBool>>,
    /// Set while the actor waits idle on this empty inbox in a stopping
    /// runtime, counted there; whoever takes it counts the actor busy
    /// again (see `crate::runtime::Quiescence`).
    idle: Option<Arc<Quiescence>>,
}

/// A task waiting for the actor to stop.
struct Joiner {
    id: u64,
    waker: Waker,
    /// Set while it counts idle in a stopping runtime; counted busy again
    /// when the actor stops (at that moment, so that it never counts idle
    /// while it is about to run) or when it stops waiting.
    idle: Option<Arc<Quiescence>>,
}

impl Joiner {
    fn end_idle(&mut self) {
        if let Some(quiescence) = self.idle.take() {
            quiescence.busy();
        }
    }
}

impl<M> State<M> {
    /// The waiters, allocated if need be.
    fn waiters(&mut self) -> &mut Waiters {
        self.waiters.get_or_insert_with(Box::default)
    }

    /// Counts the actor busy again if it waited idle (a message came for
    /// it, or its wait ended).
    #[inline]
    fn end_idle(&mut self) {
        if let Some(waiters) = &mut self.waiters
            && let Some(quiescence) = waiters.idle.take()
        {
            quiescence.busy();
        }
    }

    /// Takes the oldest sender waiting for room.
    fn pop_send_waiter(&mut self) -> Option<Waker> {
        let (_, waker) = self.waiters.as_mut()?.send.pop_front()?;
        Some(waker)
    }

    /// True if a message fits.
    #[inline]
    fn has_room(&self) -> bool {
        self.queue.len() + (self.taken as usize) < self.capacity as usize
    }

    /// Room for this many more messages.
    fn room(&self) -> usize {
        (self.capacity as usize).saturating_sub(self.queue.len() + self.taken as usize)
    }

    /// Takes up to [`ROOM_WAKERS`] of the senders waiting for room, at most
    /// one per free place; the flag says whether more wait while there is
    /// room left for them (the caller takes those after waking these).
    fn take_room_wakers(&mut self) -> (RoomWakers, bool) {
        let mut wakers = RoomWakers::default();
        let room = self.room();
        let Some(waiters) = self.waiters.as_mut() else {
            return (wakers, false);
        };
        let n = room.min(waiters.send.len()).min(ROOM_WAKERS);
        for slot in wakers.0.iter_mut().take(n) {
            *slot = waiters.send.pop_front().map(|(_, waker)| waker);
        }
        let more = n == ROOM_WAKERS && room > n && !waiters.send.is_empty();
        (wakers, more)
    }

    /// Queues a message (the caller checked the room). The first one
    /// allocates the queue, at most 64 messages' worth up front.
    fn push(&mut self, msg: M) {
        if self.queue.capacity() == 0 {
            self.queue.reserve_exact(self.capacity.min(64) as usize);
        }
        self.queue.push_back(msg);
        // At send time, not when the actor next runs: an actor with a
        // message on its way never counts as idle.
        self.end_idle();
    }
}

/// How many senders waiting for room are woken per lock of the inbox.
const ROOM_WAKERS: usize = 4;

/// Senders to wake once the lock is released (see
/// [`State::take_room_wakers`]).
#[derive(Default)]
struct RoomWakers([Option<Waker>; ROOM_WAKERS]);

impl RoomWakers {
    fn wake(self) {
        for waker in self.0.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl<M> Shared<M> {
    /// Wakes the senders waiting for room, as many as fit, after the lock
    /// `state` is released.
    fn wake_for_room<'a>(&'a self, mut state: MutexGuard<'a, State<M>>) {
        loop {
            let (wakers, more) = state.take_room_wakers();
            drop(state);
            wakers.wake();
            if !more {
                return;
            }
            state = self.lock();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // The only user code run under the lock is the conversion of a
        // mapped reference, called before the message is queued: if it
        // panics, the state is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why a send did not happen.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum SendFailure {
    /// No room (only from [`Sender::try_send_from`]).
    Full,
    /// The inbox is closed: the actor stopped.
    Stopped,
    /// The producer refused to make a message.
    Rejected,
}

impl<M> Shared<M> {
    /// An empty, open inbox holding at most `capacity` messages.
    fn new(capacity: NonZeroUsize) -> Shared<M> {
        Shared {
            state: Mutex::new(State {
                // Allocated by the first message: many actors never get one.
                queue: VecDeque::new(),
                capacity: u32::try_from(capacity.get()).unwrap_or(u32::MAX),
                taken: 0,
                closed: false,
                backlog_seen: false,
                #[cfg(feature = "test")]
                closes_with_receiver: false,
                receiver: None,
                waiters: None,
            }),
            senders: AtomicUsize::new(0),
        }
    }
}

/// Creates a new inbox, in a box of its own, holding at most `capacity`
/// messages.
pub(crate) fn new<M>(capacity: NonZeroUsize) -> Owner<M> {
    Owner {
        shared: Storage::boxed(Shared::new(capacity)),
    }
}

/// Creates an inbox that closes when its receiver is dropped (the actor's
/// context: the actor returned or was dropped), for an actor that a test
/// polls by itself, without an owner to close its inbox
/// (`test::init_local_actor`).
#[cfg(feature = "test")]
pub(crate) fn closing_with_receiver<M>(capacity: NonZeroUsize) -> (Receiver<M>, Sender<M>) {
    let shared = Shared::new(capacity);
    shared.lock().closes_with_receiver = true;
    let owner = Owner {
        shared: Storage::boxed(shared),
    };
    // The owner's drop leaves such an inbox open.
    (owner.receiver(), owner.sender())
}

/// Creates the storage of an inbox holding at most `capacity` messages, to
/// be embedded in a larger allocation; [`embedded_owner`] makes its owner.
pub(crate) fn embedded<M>(capacity: NonZeroUsize) -> Storage<M> {
    Storage::new(Shared::new(capacity))
}

/// The owner of the embedded inbox at `storage` (see [`embedded`]).
///
/// # Safety
///
/// As for [`Storage::first_handle`]: called once per storage, after its
/// release was set, with a pointer that may reach the whole allocation it
/// is in, and the storage stays where it is, alive, until its release is
/// called.
pub(crate) unsafe fn embedded_owner<M>(storage: *const Storage<M>) -> Owner<M> {
    Owner {
        // SAFETY: passed on to the caller.
        shared: unsafe { Storage::first_handle(storage) },
    }
}

/// The owning end of an inbox, held by the process that drives the actor.
/// Dropping it closes the inbox.
pub(crate) struct Owner<M> {
    shared: Handle<M>,
}

impl<M> Owner<M> {
    /// A receiver for a (new incarnation of the) actor.
    pub(crate) fn receiver(&self) -> Receiver<M> {
        Receiver {
            shared: self.shared.clone(),
            batch: None,
        }
    }

    /// A new sender.
    pub(crate) fn sender(&self) -> Sender<M> {
        new_sender(&self.shared)
    }
}

impl<M> Drop for Owner<M> {
    fn drop(&mut self) {
        #[cfg(feature = "test")]
        if self.shared.lock().closes_with_receiver {
            return;
        }
        self.close();
    }
}

impl<M> Owner<M> {
    /// Closes the inbox, as dropping the owner does (the actor stopped):
    /// its messages are dropped, senders and joiners woken. For the test
    /// runtime, whose actor stops before its owner is dropped; closing
    /// again does nothing more.
    pub(crate) fn close(&self) {
        close(&self.shared);
    }
}

/// Closes the inbox (see [`Owner::close`]).
fn close<M>(shared: &Handle<M>) {
    let mut state = shared.lock();
    state.closed = true;
    if let Some(stopped) = state.waiters.as_ref().and_then(|w| w.stopped.as_ref()) {
        stopped.store(true, Ordering::Release);
    }
    let queue = std::mem::take(&mut state.queue);
    // An idle receiver or joiner is busy from now on: the actor stopped.
    state.end_idle();
    let waiters = state.waiters.take();
    let receiver = state.receiver.take();
    drop(state);
    drop(queue);
    drop(receiver);
    if let Some(waiters) = waiters {
        for (_, waker) in waiters.send {
            waker.wake();
        }
        for mut joiner in waiters.join {
            joiner.end_idle();
            joiner.waker.wake();
        }
    }
}

fn new_sender<M>(shared: &Handle<M>) -> Sender<M> {
    let _ = shared.senders.fetch_add(1, Ordering::Relaxed);
    Sender {
        shared: shared.clone(),
    }
}

/// A receiver's batch: boxed, one word while there is none (the box of a
/// collection, on purpose).
#[allow(clippy::box_collection)]
type Batch<M> = Option<Box<VecDeque<M>>>;

/// The receiving end, used by the actor itself. Dropping it does not close
/// the inbox (the actor may be restarted with a new receiver): the
/// messages of its batch go back to the front of the queue.
pub(crate) struct Receiver<M> {
    shared: Handle<M>,
    /// Messages taken from the queue in one lock, oldest first; still
    /// counted in the inbox's `taken` (see the module's notes). Boxed, and
    /// made only for an actor that met a backlog twice (see [`refill`]):
    /// most actors never take a batch, and a million of them are a word
    /// each larger, not a `VecDeque`.
    batch: Batch<M>,
}

impl<M> Receiver<M> {
    /// Takes the next message without waiting.
    pub(crate) fn try_recv(&mut self) -> Result<M, RecvError> {
        match next_message(&self.shared, &mut self.batch) {
            Ok(msg) => Ok(msg),
            Err(state) if state.closed || self.shared.senders.load(Ordering::Acquire) == 0 => {
                Err(RecvError::Disconnected)
            }
            Err(_) => Err(RecvError::Empty),
        }
    }

    /// Takes the next message without waiting and without taking a batch,
    /// through a shared reference (for [`crate::test::TestInbox`], which
    /// never takes batches).
    #[cfg(feature = "test")]
    pub(crate) fn try_recv_one(&self) -> Option<M> {
        debug_assert!(self.batch.as_ref().is_none_or(|batch| batch.is_empty()));
        let mut state = self.shared.lock();
        let msg = state.queue.pop_front()?;
        state.end_idle();
        self.shared.wake_for_room(state);
        Some(msg)
    }

    /// Takes the next message, or registers `cx`'s waker to be woken when one
    /// arrives or the last sender goes away.
    #[inline]
    pub(crate) fn poll_recv(&mut self, cx: &mut task::Context<'_>) -> Poll<Result<M, NoMessages>> {
        let mut state = match next_message(&self.shared, &mut self.batch) {
            Ok(msg) => return Poll::Ready(Ok(msg)),
            Err(state) => state,
        };
        // Checked under the lock, as in `poll_recv_idle`.
        if state.closed || self.shared.senders.load(Ordering::Acquire) == 0 {
            state.end_idle();
            return Poll::Ready(Err(NoMessages));
        }
        match &mut state.receiver {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// [`Receiver::poll_recv`]. With `idle` given (the runtime is
    /// stopping), an actor that has to wait is counted idle there, if its
    /// inbox is still empty (a message that came meanwhile has woken it);
    /// returns `(Pending, true)` when it was not counted idle before (the
    /// caller then pokes the coordinator). A returned message or end counts
    /// it busy again.
    pub(crate) fn poll_recv_idle(
        &mut self,
        cx: &mut task::Context<'_>,
        idle: Option<&Arc<Quiescence>>,
    ) -> (Poll<Result<M, NoMessages>>, bool) {
        let poll = self.poll_recv(cx);
        let (Poll::Pending, Some(quiescence)) = (&poll, idle) else {
            return (poll, false);
        };
        let mut state = self.shared.lock();
        // A message or the end that came since was told to the waker
        // `poll_recv` registered: not idle.
        if !state.queue.is_empty()
            || state.closed
            || self.shared.senders.load(Ordering::Acquire) == 0
        {
            return (Poll::Pending, false);
        }
        let waiters = state.waiters();
        if waiters.idle.is_some() {
            return (Poll::Pending, false);
        }
        quiescence.idle();
        waiters.idle = Some(quiescence.clone());
        (Poll::Pending, true)
    }

    /// The actor no longer waits (its receive future was dropped, or it
    /// stops waiting because the runtime went quiet): counts it busy if it
    /// was idle.
    pub(crate) fn stop_waiting(&self) {
        self.shared.lock().end_idle();
    }

    /// A new sender for this inbox.
    pub(crate) fn sender(&self) -> Sender<M> {
        new_sender(&self.shared)
    }

    /// Number of messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.shared.lock().queue.len() + self.batch.as_ref().map_or(0, |batch| batch.len())
    }

    /// True if no message waits and none can come (every sender is gone,
    /// or the inbox closed).
    #[cfg(feature = "test")]
    pub(crate) fn is_disconnected(&self) -> bool {
        let state = self.shared.lock();
        self.batch.as_ref().is_none_or(|batch| batch.is_empty())
            && state.queue.is_empty()
            && (state.closed || self.shared.senders.load(Ordering::Acquire) == 0)
    }
}

impl<M> Drop for Receiver<M> {
    fn drop(&mut self) {
        #[cfg(feature = "test")]
        if self.shared.lock().closes_with_receiver {
            close(&self.shared);
        }
        // An empty batch holds no room (see `pop_batch`).
        let Some(batch) = self.batch.as_mut().filter(|batch| !batch.is_empty()) else {
            return;
        };
        let mut state = self.shared.lock();
        state.taken = 0;
        if state.closed {
            // The owner dropped the queue; the batch goes too, unlocked.
            drop(state);
            batch.clear();
            return;
        }
        // Back to the front of the queue, in order, for the next receiver.
        while let Some(msg) = batch.pop_back() {
            state.queue.push_front(msg);
        }
        self.shared.wake_for_room(state);
    }
}

/// The sending end, held by actor references.
pub(crate) struct Sender<M> {
    shared: Handle<M>,
}

impl<M> Sender<M> {
    /// Sends the message made by `produce` without waiting. `produce` is
    /// called (under the lock) only when there is room; it returns `None` to
    /// refuse. On `Full` and `Stopped` it was not called.
    pub(crate) fn try_send_from(
        &self,
        produce: &mut dyn FnMut() -> Option<M>,
    ) -> Result<(), SendFailure> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(SendFailure::Stopped);
        }
        if !state.has_room() {
            return Err(SendFailure::Full);
        }
        let Some(msg) = produce() else {
            return Err(SendFailure::Rejected);
        };
        state.push(msg);
        let receiver = state.receiver.take();
        drop(state);
        wake(receiver);
        Ok(())
    }

    /// Sends the message made by `produce`, or registers `cx`'s waker (under
    /// `waiter`) to be woken when there is room. `produce` is only called when
    /// there is room; it returns `None` to refuse.
    #[inline]
    pub(crate) fn poll_send_from(
        &self,
        produce: &mut dyn FnMut() -> Option<M>,
        waiter: &mut Option<u64>,
        cx: &mut task::Context<'_>,
    ) -> Poll<Result<(), SendFailure>> {
        let mut state = self.shared.lock();
        if state.closed {
            *waiter = None;
            return Poll::Ready(Err(SendFailure::Stopped));
        }
        if state.has_room() {
            if let Some(id) = waiter.take()
                && let Some(waiters) = state.waiters.as_mut()
            {
                waiters.send.retain(|(w, _)| *w != id);
            }
            let Some(msg) = produce() else {
                let next = pass_on_room(&mut state);
                drop(state);
                wake(next);
                return Poll::Ready(Err(SendFailure::Rejected));
            };
            state.push(msg);
            let receiver = state.receiver.take();
            drop(state);
            wake(receiver);
            return Poll::Ready(Ok(()));
        }
        let waiters = state.waiters();
        let registered = waiter.and_then(|id| waiters.send.iter_mut().find(|(w, _)| *w == id));
        match registered {
            // Kept if it would wake the same task.
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => {
                let id = waiters.next_id;
                waiters.next_id += 1;
                waiters.send.push_back((id, cx.waker().clone()));
                *waiter = Some(id);
            }
        }
        Poll::Pending
    }

    /// Cancels a registration made by [`Sender::poll_send_from`] (the send
    /// future was dropped). If this waiter had already been woken for room it
    /// did not use, the next waiter is woken instead, so no wake-up is lost.
    pub(crate) fn cancel_send(&self, waiter: u64) {
        let mut state = self.shared.lock();
        let removed = state.waiters.as_mut().is_some_and(|waiters| {
            let before = waiters.send.len();
            waiters.send.retain(|(w, _)| *w != waiter);
            waiters.send.len() != before
        });
        let next = if removed {
            None
        } else {
            pass_on_room(&mut state)
        };
        drop(state);
        wake(next);
    }

    /// Polls for the actor having stopped, registering `cx`'s waker under
    /// `joiner` (an id given on the first call). With `idle` given (the
    /// runtime is stopping), a waiting joiner is counted idle there; returns
    /// `(Pending, true)` when it was not before (the caller then pokes the
    /// coordinator).
    pub(crate) fn poll_join(
        &self,
        cx: &mut task::Context<'_>,
        joiner: &mut Option<u64>,
        idle: Option<&Arc<Quiescence>>,
    ) -> (Poll<()>, bool) {
        poll_join(&self.shared, cx, joiner, idle)
    }

    /// Cancels a registration made by [`Sender::poll_join`] (the join
    /// future was dropped), counting the joiner busy if it was idle.
    pub(crate) fn cancel_join(&self, joiner: u64) {
        cancel_join(&self.shared, joiner);
    }

    /// Returns true if the actor has stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// A flag that is set once the actor has stopped, readable without
    /// knowing the message type.
    pub(crate) fn stopped_flag(&self) -> Arc<AtomicBool> {
        // Under the lock, so the flag starts in the right state even if the
        // inbox is closing right now.
        let mut state = self.shared.lock();
        let closed = state.closed;
        state
            .waiters()
            .stopped
            .get_or_insert_with(|| Arc::new(AtomicBool::new(closed)))
            .clone()
    }

    /// Returns true if both senders send to the same inbox.
    pub(crate) fn same_inbox(&self, other: &Sender<M>) -> bool {
        self.shared.ptr_eq(&other.shared)
    }

    /// The inbox's identity, comparable across message types.
    pub(crate) fn inbox_addr(&self) -> *const () {
        self.shared.addr()
    }

    /// A watcher of this inbox: it waits for the actor to stop without
    /// being a sender (the actor's receive loop does not wait for it).
    pub(crate) fn watcher(&self) -> Watcher<M> {
        Watcher {
            shared: self.shared.clone(),
        }
    }
}

/// Holds an inbox without sending to it: waits for its actor to stop.
pub(crate) struct Watcher<M> {
    shared: Handle<M>,
}

impl<M> Watcher<M> {
    /// See [`Sender::poll_join`].
    pub(crate) fn poll_join(
        &self,
        cx: &mut task::Context<'_>,
        joiner: &mut Option<u64>,
        idle: Option<&Arc<Quiescence>>,
    ) -> (Poll<()>, bool) {
        poll_join(&self.shared, cx, joiner, idle)
    }

    /// See [`Sender::cancel_join`].
    pub(crate) fn cancel_join(&self, joiner: u64) {
        cancel_join(&self.shared, joiner);
    }

    /// Returns true if the actor has stopped.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }
}

/// Polls for the actor having stopped, registering `cx`'s waker under
/// `joiner` (an id given on the first call). With `idle` given (the
/// runtime is stopping), a waiting joiner is counted idle there; returns
/// `(Pending, true)` when it was not before (the caller then pokes the
/// coordinator).
fn poll_join<M>(
    shared: &Handle<M>,
    cx: &mut task::Context<'_>,
    joiner: &mut Option<u64>,
    idle: Option<&Arc<Quiescence>>,
) -> (Poll<()>, bool) {
    let mut state = shared.lock();
    if state.closed {
        // Its registration went with the close.
        *joiner = None;
        return (Poll::Ready(()), false);
    }
    let waiters = state.waiters();
    let index = match joiner.and_then(|id| waiters.join.iter().position(|j| j.id == id)) {
        Some(index) => index,
        None => {
            let id = waiters.next_id;
            waiters.next_id += 1;
            waiters.join.push(Joiner {
                id,
                waker: cx.waker().clone(),
                idle: None,
            });
            *joiner = Some(id);
            waiters.join.len() - 1
        }
    };
    let entry = &mut waiters.join[index];
    // Kept if it would wake the same task.
    entry.waker.clone_from(cx.waker());
    let mut became_idle = false;
    if let Some(quiescence) = idle
        && entry.idle.is_none()
    {
        quiescence.idle();
        entry.idle = Some(quiescence.clone());
        became_idle = true;
    }
    (Poll::Pending, became_idle)
}

/// Cancels a registration made by [`Sender::poll_join`] (the join
/// future was dropped), counting the joiner busy if it was idle.
fn cancel_join<M>(shared: &Handle<M>, joiner: u64) {
    let mut state = shared.lock();
    if let Some(waiters) = state.waiters.as_mut()
        && let Some(index) = waiters.join.iter().position(|j| j.id == joiner)
    {
        let mut entry = waiters.join.swap_remove(index);
        entry.end_idle();
        drop(state);
        drop(entry);
    }
}

/// The receiver's next message: from its `batch` without the lock (the
/// batch's last frees the batch's room for the senders), else from the
/// queue (see [`refill`]), waking senders waiting for the room it frees.
/// With none queued: the inbox, still locked, for the caller to see why.
#[inline]
fn next_message<'a, M>(
    shared: &'a Shared<M>,
    batch: &mut Batch<M>,
) -> Result<M, MutexGuard<'a, State<M>>> {
    if let Some(taken) = batch.as_mut()
        && let Some(msg) = taken.pop_front()
    {
        if taken.is_empty() {
            let mut state = shared.lock();
            state.taken = 0;
            shared.wake_for_room(state);
        }
        return Ok(msg);
    }
    let mut state = shared.lock();
    let Some(msg) = refill(batch, &mut state) else {
        return Err(state);
    };
    if state.waiters.is_some() {
        shared.wake_for_room(state);
    }
    Ok(msg)
}

/// With the receiver's `batch` empty (its room freed when its last message
/// was taken) and the inbox locked: takes the oldest queued message, and
/// the rest of the queue as the new batch.
///
/// An actor that never had a backlog has no batch: the first time it finds
/// more than one message queued it only notes it, the second time it makes
/// its batch. So the many short-lived actors that get a burst of messages
/// once (the nodes of a tree gathering their children's answers) stay as
/// small as before, and an actor fed steadily by others (a sink, a store
/// called from every connection) takes its messages a batch at a time.
#[inline]
fn refill<M>(batch: &mut Batch<M>, state: &mut State<M>) -> Option<M> {
    debug_assert_eq!(state.taken, 0);
    let msg = state.queue.pop_front()?;
    if !state.queue.is_empty() {
        if let Some(batch) = batch {
            take_batch(batch, state);
        } else if state.backlog_seen {
            take_batch(batch.insert(Box::default()), state);
        } else {
            state.backlog_seen = true;
        }
    }
    state.end_idle();
    Some(msg)
}

/// Swaps the queued messages into the empty `batch` (the two buffers trade
/// places: nothing is copied or allocated) and counts them taken.
#[inline]
fn take_batch<M>(batch: &mut VecDeque<M>, state: &mut State<M>) {
    std::mem::swap(&mut state.queue, batch);
    // At most the capacity, which is a `u32`.
    state.taken = u32::try_from(batch.len()).unwrap_or(u32::MAX);
}

/// If there is room, takes the next send waiter to wake.
fn pass_on_room<M>(state: &mut State<M>) -> Option<Waker> {
    if state.has_room() {
        state.pop_send_waiter()
    } else {
        None
    }
}

#[inline]
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl<M> Clone for Sender<M> {
    fn clone(&self) -> Sender<M> {
        new_sender(&self.shared)
    }
}

impl<M> Drop for Sender<M> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Last sender: a receiver waiting for a message must learn that
            // none will come.
            let receiver = self.shared.lock().receiver.take();
            wake(receiver);
        }
    }
}

impl<M> fmt::Debug for Sender<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}
