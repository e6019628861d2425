//! The slot an rpc's response travels in: one value from one sender (the
//! [`RpcResponse`](super::RpcResponse)) to one receiver (the caller's
//! future), with no lock.
//!
//! One atomic word says what each side has done; each side touches the
//! value and the waker only when the word says the other side cannot:
//!
//! - `VALUE`: the sender wrote the value (before setting the bit, with
//!   release), and never touches it again; the receiver takes it after
//!   seeing the bit (with acquire).
//! - `SENDER_GONE`: the sender is done, with or without a value.
//! - `RECEIVER_GONE`: the receiver is gone; a sender that then finds its
//!   own `VALUE` set takes the value back.
//! - `WAKER`: the receiver's waker is in its cell. The receiver writes the
//!   cell only while the bit is clear, and clears it only with a
//!   compare-and-swap that fails once the sender is done; the sender reads
//!   the cell (by reference) only if the bit was set when it finished. So
//!   the two never write the cell at the same time.
//!
//! This replaced a mutex around the same fields: an rpc took four lock and
//! unlock pairs (two of them in the destructors).

use std::cell::UnsafeCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{self, Poll, Waker};

const VALUE: usize = 1;
const SENDER_GONE: usize = 2;
const RECEIVER_GONE: usize = 4;
const WAKER: usize = 8;

struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cells are reached by one side at a time, as the state word
// arbitrates (see the module documentation); the value moves from one
// thread to the other, hence `T: Send`. A `Waker` is `Send` and `Sync`.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as for `Send`: shared access never makes two threads use a cell
// at once, except two reads of the waker.
unsafe impl<T: Send> Sync for Inner<T> {}

/// The sending side.
pub(crate) struct Sender<T> {
    /// `None` once it sent.
    inner: Option<Arc<Inner<T>>>,
}

/// The receiving side.
pub(crate) struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

/// Why no value came.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) struct SenderGone;

/// A new slot's two sides.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        waker: UnsafeCell::new(None),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner },
    )
}

impl<T> Sender<T> {
    /// Sends `value`; hands it back if the receiver is gone.
    pub(crate) fn send(mut self, value: T) -> Result<(), T> {
        let Some(inner) = self.inner.take() else {
            return Err(value);
        };
        // SAFETY: only the sender writes the value cell, once, and the
        // receiver reads it only after seeing `VALUE`, which is not set yet.
        unsafe { *inner.value.get() = Some(value) };
        let prev = inner.state.fetch_or(VALUE | SENDER_GONE, Ordering::AcqRel);
        if prev & RECEIVER_GONE != 0 {
            // SAFETY: the receiver was gone before `VALUE` was set, so it
            // never reads the cell again: the value is ours to take back.
            let value = unsafe { (*inner.value.get()).take() };
            return value.map_or(Ok(()), Err);
        }
        wake_if_waiting(&inner, prev);
        Ok(())
    }

    /// Returns true while the receiver waits (or may still).
    pub(crate) fn is_connected(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|inner| inner.state.load(Ordering::Acquire) & RECEIVER_GONE == 0)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let prev = inner.state.fetch_or(SENDER_GONE, Ordering::AcqRel);
            wake_if_waiting(&inner, prev);
        }
    }
}

/// Wakes the receiver if its waker was in place when the sender finished
/// (`prev`, the state before).
fn wake_if_waiting<T>(inner: &Inner<T>, prev: usize) {
    if prev & WAKER != 0 && prev & RECEIVER_GONE == 0 {
        // SAFETY: `WAKER` was set when the sender finished, and the
        // receiver changes the cell only after clearing `WAKER` with a
        // compare-and-swap that fails now that the sender is done: the cell
        // is only read, here and maybe by the receiver's `will_wake`.
        if let Some(waker) = unsafe { (*inner.waker.get()).as_ref() } {
            waker.wake_by_ref();
        }
    }
}

impl<T> Receiver<T> {
    /// The value once it came, or `SenderGone` if the sender went without
    /// one; otherwise registers `cx`'s waker.
    pub(crate) fn poll_recv(&mut self, cx: &mut task::Context<'_>) -> Poll<Result<T, SenderGone>> {
        let inner = &*self.inner;
        let mut state = inner.state.load(Ordering::Acquire);
        loop {
            if state & VALUE != 0 {
                // SAFETY: the sender wrote the value before setting `VALUE`
                // (seen here with acquire) and never touches it again; this
                // is the only receiver.
                let value = unsafe { (*inner.value.get()).take() };
                return Poll::Ready(value.ok_or(SenderGone));
            }
            if state & SENDER_GONE != 0 {
                return Poll::Ready(Err(SenderGone));
            }
            if state & WAKER != 0 {
                // SAFETY: the sender only reads the cell, and only once it
                // is done; reading it here is a read too.
                let same = unsafe { (*inner.waker.get()).as_ref() }
                    .is_some_and(|waker| waker.will_wake(cx.waker()));
                if same {
                    return Poll::Pending;
                }
                // Take the cell back, unless the sender finished meanwhile.
                if let Err(actual) = inner.state.compare_exchange(
                    state,
                    state & !WAKER,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    state = actual;
                    continue;
                }
            }
            // SAFETY: `WAKER` is clear, so the sender does not read the
            // cell (it reads it only if it saw `WAKER` set when it
            // finished); this is the only receiver.
            unsafe { *inner.waker.get() = Some(cx.waker().clone()) };
            let prev = inner.state.fetch_or(WAKER, Ordering::AcqRel);
            if prev & (VALUE | SENDER_GONE) == 0 {
                return Poll::Pending;
            }
            // The sender finished before it could see the waker: look again.
            state = prev | WAKER;
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // A value already there is dropped with the slot.
        let _ = self.inner.state.fetch_or(RECEIVER_GONE, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::task::{self, Poll, Wake, Waker};
    use std::thread;

    use super::{SenderGone, channel};

    /// Counts its wake-ups.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            let _ = self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn count_waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn value_sent_before_and_after_the_first_poll() {
        let (count, waker) = count_waker();
        let mut cx = task::Context::from_waker(&waker);
        let (tx, mut rx) = channel();
        tx.send(7).unwrap();
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Ok(7)));
        let (tx, mut rx) = channel();
        assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        tx.send(8).unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Ok(8)));
    }

    #[test]
    fn sender_gone_without_a_value_wakes_and_ends() {
        let (count, waker) = count_waker();
        let mut cx = task::Context::from_waker(&waker);
        let (tx, mut rx) = channel::<u8>();
        assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        drop(tx);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Err(SenderGone)));
    }

    #[test]
    fn a_gone_receiver_gets_the_value_handed_back() {
        let (tx, rx) = channel();
        assert!(tx.is_connected());
        drop(rx);
        assert!(!tx.is_connected());
        assert_eq!(tx.send(String::from("late")), Err(String::from("late")));
    }

    #[test]
    fn a_new_waker_replaces_the_old_one() {
        let (first, first_waker) = count_waker();
        let (second, second_waker) = count_waker();
        let (tx, mut rx) = channel();
        assert!(
            rx.poll_recv(&mut task::Context::from_waker(&first_waker))
                .is_pending()
        );
        assert!(
            rx.poll_recv(&mut task::Context::from_waker(&second_waker))
                .is_pending()
        );
        tx.send(1).unwrap();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
    }

    /// Sender and receiver on two threads, racing: every value arrives
    /// exactly once, every drop is clean (run under `AddressSanitizer` in CI).
    #[test]
    fn races_between_threads_lose_nothing() {
        let rounds = if cfg!(miri) { 50 } else { 5_000 };
        for round in 0..rounds {
            let (tx, mut rx) = channel::<Box<usize>>();
            let start = Arc::new(Barrier::new(2));
            let go = start.clone();
            let drop_instead = round % 3 == 0;
            let sender = thread::spawn(move || {
                let _ = go.wait();
                if drop_instead {
                    drop(tx);
                } else {
                    let _ = tx.send(Box::new(round));
                }
            });
            let _ = start.wait();
            let (count, waker) = count_waker();
            let mut cx = task::Context::from_waker(&waker);
            let got = loop {
                match rx.poll_recv(&mut cx) {
                    Poll::Ready(result) => break result,
                    Poll::Pending => thread::yield_now(),
                }
            };
            sender.join().unwrap();
            if drop_instead {
                assert_eq!(got, Err(SenderGone));
            } else {
                assert_eq!(got.map(|v| *v), Ok(round));
            }
            assert!(count.0.load(Ordering::SeqCst) <= 1);
            // Receivers dropped while the sender sends.
            let (tx, rx) = channel::<Box<usize>>();
            let dropper = thread::spawn(move || drop(rx));
            let _ = tx.send(Box::new(round));
            dropper.join().unwrap();
        }
    }
}
