//! Unit tests of the inbox: single-threaded semantics and concurrent use.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{self, Poll, Wake, Waker};
use std::thread;

use super::{NoMessages, RecvError, SendFailure, new};

fn cap(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        let _ = self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn count_waker() -> (Arc<CountWaker>, Waker) {
    let count = Arc::new(CountWaker::default());
    (count.clone(), Waker::from(count))
}

fn send_now<M>(sender: &super::Sender<M>, msg: M) -> Result<(), SendFailure> {
    let mut slot = Some(msg);
    sender.try_send_from(&mut || slot.take())
}

#[test]
fn fifo_order_and_capacity() {
    let owner = new::<u32>(cap(3));
    let sender = owner.sender();
    let mut receiver = owner.receiver();
    for i in 0..3 {
        send_now(&sender, i).unwrap();
    }
    assert_eq!(send_now(&sender, 3), Err(SendFailure::Full));
    assert_eq!(receiver.len(), 3);
    for i in 0..3 {
        assert_eq!(receiver.try_recv(), Ok(i));
    }
    assert_eq!(receiver.try_recv(), Err(RecvError::Empty));
}

#[test]
fn disconnected_when_all_senders_gone() {
    let owner = new::<u32>(cap(2));
    let mut receiver = owner.receiver();
    let sender = owner.sender();
    let sender2 = sender.clone();
    send_now(&sender, 1).unwrap();
    drop(sender);
    drop(sender2);
    // Queued messages are still delivered first.
    assert_eq!(receiver.try_recv(), Ok(1));
    assert_eq!(receiver.try_recv(), Err(RecvError::Disconnected));
    let (_, waker) = count_waker();
    let mut cx = task::Context::from_waker(&waker);
    assert_eq!(receiver.poll_recv(&mut cx), Poll::Ready(Err(NoMessages)));
}

#[test]
fn receiver_woken_by_send_and_by_last_sender_drop() {
    let owner = new::<u32>(cap(2));
    let mut receiver = owner.receiver();
    let sender = owner.sender();
    let (count, waker) = count_waker();
    let mut cx = task::Context::from_waker(&waker);
    assert_eq!(receiver.poll_recv(&mut cx), Poll::Pending);
    send_now(&sender, 7).unwrap();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(receiver.poll_recv(&mut cx), Poll::Ready(Ok(7)));
    assert_eq!(receiver.poll_recv(&mut cx), Poll::Pending);
    drop(sender);
    assert_eq!(count.0.load(Ordering::SeqCst), 2);
    assert_eq!(receiver.poll_recv(&mut cx), Poll::Ready(Err(NoMessages)));
}

#[test]
fn send_after_owner_dropped_is_stopped() {
    let owner = new::<u32>(cap(1));
    let sender = owner.sender();
    assert!(!sender.is_closed());
    drop(owner);
    assert!(sender.is_closed());
    assert_eq!(send_now(&sender, 1), Err(SendFailure::Stopped));
}

/// A message type that counts drops, to check no message is leaked.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        let _ = self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn owner_drop_while_full_drops_messages_and_wakes_waiting_senders() {
    let drops = Arc::new(AtomicUsize::new(0));
    let owner = new::<Counted>(cap(2));
    let sender = owner.sender();
    send_now(&sender, Counted(drops.clone())).ok().unwrap();
    send_now(&sender, Counted(drops.clone())).ok().unwrap();

    let (count, waker) = count_waker();
    let mut cx = task::Context::from_waker(&waker);
    let mut slot = Some(Counted(drops.clone()));
    let mut waiter = None;
    let poll = sender.poll_send_from(&mut || slot.take(), &mut waiter, &mut cx);
    assert!(poll.is_pending());
    assert!(waiter.is_some() && slot.is_some());

    drop(owner);
    assert_eq!(drops.load(Ordering::SeqCst), 2, "queued messages dropped");
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "waiting sender woken");
    let poll = sender.poll_send_from(&mut || slot.take(), &mut waiter, &mut cx);
    assert_eq!(poll, Poll::Ready(Err(SendFailure::Stopped)));
    // The waiting message was handed back, not sent or dropped.
    assert!(slot.is_some());
    drop(slot);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[test]
fn waiting_sender_woken_when_room_appears() {
    let owner = new::<u32>(cap(1));
    let sender = owner.sender();
    let mut receiver = owner.receiver();
    send_now(&sender, 1).unwrap();
    let (count, waker) = count_waker();
    let mut cx = task::Context::from_waker(&waker);
    let mut slot = Some(2);
    let mut waiter = None;
    assert!(
        sender
            .poll_send_from(&mut || slot.take(), &mut waiter, &mut cx)
            .is_pending()
    );
    assert_eq!(receiver.try_recv(), Ok(1));
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        sender.poll_send_from(&mut || slot.take(), &mut waiter, &mut cx),
        Poll::Ready(Ok(()))
    );
    assert_eq!(receiver.try_recv(), Ok(2));
}

#[test]
fn cancelled_waiter_passes_room_on() {
    let owner = new::<u32>(cap(1));
    let sender = owner.sender();
    let mut receiver = owner.receiver();
    send_now(&sender, 1).unwrap();
    let (count_a, waker_a) = count_waker();
    let (count_b, waker_b) = count_waker();
    let (mut slot_a, mut waiter_a) = (Some(2), None);
    let (mut slot_b, mut waiter_b) = (Some(3), None);
    let mut cx_a = task::Context::from_waker(&waker_a);
    let mut cx_b = task::Context::from_waker(&waker_b);
    assert!(
        sender
            .poll_send_from(&mut || slot_a.take(), &mut waiter_a, &mut cx_a)
            .is_pending()
    );
    assert!(
        sender
            .poll_send_from(&mut || slot_b.take(), &mut waiter_b, &mut cx_b)
            .is_pending()
    );
    // Room appears: A (first in line) is woken...
    assert_eq!(receiver.try_recv(), Ok(1));
    assert_eq!(count_a.0.load(Ordering::SeqCst), 1);
    assert_eq!(count_b.0.load(Ordering::SeqCst), 0);
    // ...but A gives up without sending: B must be woken in its place.
    sender.cancel_send(waiter_a.unwrap());
    assert_eq!(count_b.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        sender.poll_send_from(&mut || slot_b.take(), &mut waiter_b, &mut cx_b),
        Poll::Ready(Ok(()))
    );
    assert_eq!(receiver.try_recv(), Ok(3));
}

#[test]
fn rejected_by_producer() {
    let owner = new::<u32>(cap(1));
    let sender = owner.sender();
    assert_eq!(
        sender.try_send_from(&mut || None),
        Err(SendFailure::Rejected)
    );
    assert_eq!(owner.receiver().try_recv(), Err(RecvError::Empty));
}

#[test]
fn join_resolves_when_owner_dropped() {
    let owner = new::<u32>(cap(1));
    let sender = owner.sender();
    let (count, waker) = count_waker();
    let mut cx = task::Context::from_waker(&waker);
    let mut joiner = None;
    assert!(sender.poll_join(&mut cx, &mut joiner, None).0.is_pending());
    drop(owner);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(sender.poll_join(&mut cx, &mut joiner, None).0.is_ready());
}

/// Blocks on `poll` with a thread-parking waker.
fn block_on<T>(mut poll: impl FnMut(&mut task::Context<'_>) -> Poll<T>) -> T {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = task::Context::from_waker(&waker);
    loop {
        match poll(&mut cx) {
            Poll::Ready(value) => return value,
            Poll::Pending => thread::park(),
        }
    }
}

#[test]
fn concurrent_senders_with_back_pressure() {
    const SENDERS: usize = 4;
    let per_sender: u64 = if cfg!(miri) { 100 } else { 20_000 };
    let owner = new::<u64>(cap(8));
    let mut receiver = owner.receiver();
    let handles: Vec<_> = (0..SENDERS)
        .map(|s| {
            let sender = owner.sender();
            thread::spawn(move || {
                for i in 0..per_sender {
                    let mut slot = Some(s as u64 * per_sender + i);
                    let mut waiter = None;
                    block_on(|cx| sender.poll_send_from(&mut || slot.take(), &mut waiter, cx))
                        .unwrap();
                }
            })
        })
        .collect();
    let mut sum = 0u64;
    let mut count = 0u64;
    let mut last_per_sender = [None; SENDERS];
    while let Ok(n) = block_on(|cx| receiver.poll_recv(cx)) {
        let s = usize::try_from(n / per_sender).unwrap();
        // Per-sender FIFO order.
        assert!(last_per_sender[s] < Some(n));
        last_per_sender[s] = Some(n);
        sum += n;
        count += 1;
    }
    for handle in handles {
        handle.join().unwrap();
    }
    let total = SENDERS as u64 * per_sender;
    assert_eq!(count, total);
    assert_eq!(sum, total * (total - 1) / 2);
}

#[test]
fn concurrent_senders_when_receiver_stops() {
    let owner = new::<u64>(cap(4));
    let mut receiver = owner.receiver();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let sender = owner.sender();
            thread::spawn(move || {
                let mut sent = 0;
                loop {
                    let mut slot = Some(1);
                    let mut waiter = None;
                    match block_on(|cx| sender.poll_send_from(&mut || slot.take(), &mut waiter, cx))
                    {
                        Ok(()) => sent += 1,
                        Err(failure) => {
                            assert_eq!(failure, SendFailure::Stopped);
                            assert_eq!(slot, Some(1), "message handed back");
                            return sent;
                        }
                    }
                }
            })
        })
        .collect();
    let mut received = 0;
    while received < 1000 {
        if block_on(|cx| receiver.poll_recv(cx)).is_ok() {
            received += 1;
        }
    }
    drop(receiver);
    drop(owner);
    let sent: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // Every sender saw the stop; what was sent was either received or
    // queued when the inbox closed (at most its capacity).
    assert!((1000..=1000 + 4).contains(&sent), "sent {sent}");
}

#[test]
fn inbox_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<super::Sender<u32>>();
    assert_send_sync::<super::Receiver<u32>>();
}

/// How many times [`count_release`] was called.
static RELEASED: AtomicUsize = AtomicUsize::new(0);

/// An embedded inbox's release that counts its calls.
///
/// # Safety
///
/// None needed: it does not touch the storage.
unsafe fn count_release(_storage: *const ()) {
    let _ = RELEASED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn embedded_inbox_is_released_once_by_its_last_end() {
    let mut storage = Box::new(super::embedded::<u32>(cap(4)));
    storage.set_release(count_release);
    let at = std::ptr::from_ref(&*storage);
    // SAFETY: once, after the release was set; the box stays until the end
    // of the test, after the release was called.
    let owner = unsafe { super::embedded_owner(at) };
    let mut receiver = owner.receiver();
    let sender = owner.sender();
    send_now(&sender, 7).unwrap();
    assert_eq!(receiver.try_recv(), Ok(7));
    drop(owner);
    drop(receiver);
    assert_eq!(RELEASED.load(Ordering::SeqCst), 0, "a sender is left");
    // The last end goes on another thread.
    thread::spawn(move || {
        assert_eq!(send_now(&sender, 8), Err(SendFailure::Stopped));
        drop(sender);
    })
    .join()
    .unwrap();
    assert_eq!(RELEASED.load(Ordering::SeqCst), 1);
    drop(storage);
    assert_eq!(RELEASED.load(Ordering::SeqCst), 1);
}

/// Makes `receiver` meet a backlog once: the next backlog it finds, it
/// takes as a batch.
fn prime(sender: &super::Sender<u32>, receiver: &mut super::Receiver<u32>) {
    send_now(sender, 1000).unwrap();
    send_now(sender, 1001).unwrap();
    assert_eq!(receiver.try_recv(), Ok(1000));
    assert_eq!(receiver.try_recv(), Ok(1001));
}

#[test]
fn a_first_backlog_is_received_a_message_at_a_time() {
    let owner = new::<u32>(cap(4));
    let sender = owner.sender();
    let mut receiver = owner.receiver();
    for i in 0..4 {
        send_now(&sender, i).unwrap();
    }
    // No batch yet: each message received frees its place.
    assert_eq!(receiver.try_recv(), Ok(0));
    assert_eq!(receiver.try_recv(), Ok(1));
    send_now(&sender, 4).unwrap();
    send_now(&sender, 5).unwrap();
    assert_eq!(send_now(&sender, 6), Err(SendFailure::Full));
    for i in 2..6 {
        assert_eq!(receiver.try_recv(), Ok(i));
    }
}

#[test]
fn a_batch_counts_against_the_capacity_until_its_last_message() {
    let owner = new::<u32>(cap(4));
    let sender = owner.sender();
    let mut receiver = owner.receiver();
    prime(&sender, &mut receiver);
    for i in 0..4 {
        send_now(&sender, i).unwrap();
    }
    // The first receive takes 0 and the other three as a batch: one place
    // is free, not four.
    assert_eq!(receiver.try_recv(), Ok(0));
    assert_eq!(receiver.len(), 3);
    send_now(&sender, 4).unwrap();
    assert_eq!(send_now(&sender, 5), Err(SendFailure::Full));
    assert_eq!(receiver.try_recv(), Ok(1));
    assert_eq!(receiver.try_recv(), Ok(2));
    assert_eq!(send_now(&sender, 5), Err(SendFailure::Full));
    // The batch's last message frees its room.
    assert_eq!(receiver.try_recv(), Ok(3));
    assert_eq!(receiver.len(), 1);
    for i in 5..8 {
        send_now(&sender, i).unwrap();
    }
    assert_eq!(send_now(&sender, 8), Err(SendFailure::Full));
    for i in 4..8 {
        assert_eq!(receiver.try_recv(), Ok(i));
    }
    assert_eq!(receiver.try_recv(), Err(RecvError::Empty));
}

#[test]
fn a_dropped_receiver_gives_its_batch_back_in_order() {
    let owner = new::<u32>(cap(8));
    let sender = owner.sender();
    let mut first = owner.receiver();
    prime(&sender, &mut first);
    for i in 0..5 {
        send_now(&sender, i).unwrap();
    }
    assert_eq!(first.try_recv(), Ok(0));
    send_now(&sender, 5).unwrap();
    drop(first);
    // A restarted actor's receiver gets the rest, oldest first, and the
    // room of the dropped batch is free.
    let mut second = owner.receiver();
    assert_eq!(second.len(), 5);
    for i in 6..9 {
        send_now(&sender, i).unwrap();
    }
    assert_eq!(send_now(&sender, 9), Err(SendFailure::Full));
    for i in 1..9 {
        assert_eq!(second.try_recv(), Ok(i));
    }
}

#[test]
fn a_dropped_receiver_with_a_batch_of_a_stopped_actor_drops_it() {
    let drops = Arc::new(AtomicUsize::new(0));
    let owner = new::<Counted>(cap(4));
    let sender = owner.sender();
    let mut receiver = owner.receiver();
    for _ in 0..2 {
        for _ in 0..3 {
            send_now(&sender, Counted(drops.clone())).ok().unwrap();
        }
        drop(receiver.try_recv().ok().unwrap());
        if receiver.batch.is_none() {
            // The first backlog: no batch, the other two taken one by one.
            drop(receiver.try_recv().ok().unwrap());
            drop(receiver.try_recv().ok().unwrap());
        }
    }
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    drop(owner);
    // The batch is the receiver's: its two messages go with it.
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    drop(receiver);
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}

#[test]
fn every_waiting_sender_is_woken_when_a_batch_frees_room() {
    let owner = new::<u32>(cap(8));
    let sender = owner.sender();
    let mut receiver = owner.receiver();
    prime(&sender, &mut receiver);
    for i in 0..8 {
        send_now(&sender, i).unwrap();
    }
    // More waiting senders than are woken per lock.
    let waiting: Vec<_> = (0..6)
        .map(|i| {
            let (count, waker) = count_waker();
            let mut slot = Some(100 + i);
            let mut waiter = None;
            let mut cx = task::Context::from_waker(&waker);
            assert!(
                sender
                    .poll_send_from(&mut || slot.take(), &mut waiter, &mut cx)
                    .is_pending()
            );
            (count, waker, slot, waiter)
        })
        .collect();
    // Taking 0 frees one place: the oldest waiter alone is woken.
    assert_eq!(receiver.try_recv(), Ok(0));
    let woken = || {
        waiting
            .iter()
            .filter(|(count, ..)| count.0.load(Ordering::SeqCst) == 1)
            .count()
    };
    assert_eq!(woken(), 1);
    for i in 1..8 {
        assert_eq!(receiver.try_recv(), Ok(i));
    }
    // The batch ran out: eight places, six waiters, all woken.
    assert_eq!(woken(), 6);
    for (_, waker, mut slot, mut waiter) in waiting {
        let mut cx = task::Context::from_waker(&waker);
        assert_eq!(
            sender.poll_send_from(&mut || slot.take(), &mut waiter, &mut cx),
            Poll::Ready(Ok(()))
        );
    }
    for i in 0..6 {
        assert_eq!(receiver.try_recv(), Ok(100 + i));
    }
}
