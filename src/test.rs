//! Testing actors and futures without worker threads (the `test` feature).
//!
//! A [`TestRuntime`] is a runtime of one worker driven by the calling
//! thread: a test creates an actor with it ([`TestRuntime::actor`]) and
//! polls it one step at a time ([`TestActor::poll`]), sending it messages
//! in between through its reference; or runs a future to its end
//! ([`TestRuntime::block_on`]), with real timers and sockets and with the
//! actors it spawns running alongside. [`inbox`] makes an actor reference
//! whose messages the test reads, to see what an actor sent.
//! [`set_message_loss`] makes sends lose a share of their messages, to test
//! that actors cope with lost messages.
//!
//! Enable it for your tests only:
//!
//! ```toml
//! [dev-dependencies]
//! hearth = { version = "0.1", features = ["test"] }
//! ```
//!
//! # Examples
//!
//! ```
//! use hearth::actor::{actor_fn, Context};
//! use hearth::test::{inbox, TestRuntime};
//! use hearth::{ActorRef, ThreadLocal};
//!
//! /// Doubles each number and passes it on.
//! async fn doubler(mut ctx: Context<u64, ThreadLocal>, out: ActorRef<u64>) {
//!     while let Ok(n) = ctx.receive_next().await {
//!         let _ = out.send(n * 2).await;
//!     }
//! }
//!
//! let rt = TestRuntime::new().unwrap();
//! let (out, sent) = inbox(8);
//! let (mut actor, actor_ref) = rt.actor(actor_fn(doubler), out).unwrap();
//! // Nothing to do yet: it waits for a message.
//! assert!(actor.poll().is_pending());
//! actor_ref.try_send(21u64).unwrap();
//! assert!(actor.was_woken());
//! assert!(actor.poll().is_pending());
//! assert_eq!(sent.drain(), [42]);
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::num::NonZeroUsize;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::{self, Poll, Wake, Waker};
use std::time::Duration;

use crate::actor::{Actor, Context, NewActor};
use crate::inbox;
use crate::worker::local_worker::LocalWorker;
use crate::{ActorRef, RuntimeRef, ThreadLocal, ThreadSafe};

/// An actor made by a test runtime, and a reference to it.
pub type Created<NA> = (
    TestActor<<NA as NewActor>::Actor, <NA as NewActor>::Message>,
    ActorRef<<NA as NewActor>::Message>,
);

/// A runtime of one worker, driven by the calling thread (see the module
/// documentation). Not `Send`: it belongs to the thread that made it.
pub struct TestRuntime {
    worker: LocalWorker,
}

impl TestRuntime {
    /// A runtime for this thread.
    ///
    /// # Errors
    ///
    /// The poll or waker could not be made (out of file descriptors).
    pub fn new() -> io::Result<TestRuntime> {
        Ok(TestRuntime {
            worker: LocalWorker::new()?,
        })
    }

    /// The runtime's handle, to spawn actors that run alongside
    /// ([`TestRuntime::run_until_idle`], [`TestRuntime::block_on`]).
    pub fn runtime_ref(&self) -> RuntimeRef {
        self.worker.runtime_ref().clone()
    }

    /// The runtime's thread-safe handle.
    pub fn thread_safe(&self) -> ThreadSafe {
        self.worker.runtime_ref().thread_safe()
    }

    /// Creates a thread-local actor without spawning it, and a reference
    /// to it (as spawning gives one): the test polls it with
    /// [`TestActor::poll`]. Once every reference is gone, the actor's
    /// `receive_next` ends as it would on a worker.
    ///
    /// # Errors
    ///
    /// What the actor's `NewActor::new` returned.
    pub fn actor<NA>(&self, mut new_actor: NA, arg: NA::Argument) -> Result<Created<NA>, NA::Error>
    where
        NA: NewActor<RuntimeAccess = ThreadLocal>,
    {
        let owner = inbox::new(NonZeroUsize::new(64).unwrap_or(NonZeroUsize::MIN));
        let rt = ThreadLocal::new(self.runtime_ref());
        let shared = self.worker.runtime_ref().internals.shared.clone();
        let ctx = Context::new(owner.receiver(), rt, shared);
        let actor_ref = ActorRef::from_sender(owner.sender());
        let actor = new_actor.new(ctx, arg)?;
        Ok((TestActor::new(actor, owner), actor_ref))
    }

    /// Creates a thread-safe actor without spawning it, as
    /// [`TestRuntime::actor`] does.
    ///
    /// # Errors
    ///
    /// What the actor's `NewActor::new` returned.
    pub fn thread_safe_actor<NA>(
        &self,
        mut new_actor: NA,
        arg: NA::Argument,
    ) -> Result<Created<NA>, NA::Error>
    where
        NA: NewActor<RuntimeAccess = ThreadSafe>,
    {
        let owner = inbox::new(NonZeroUsize::new(64).unwrap_or(NonZeroUsize::MIN));
        let shared = self.worker.runtime_ref().internals.shared.clone();
        let ctx = Context::new(owner.receiver(), self.thread_safe(), shared);
        let actor_ref = ActorRef::from_sender(owner.sender());
        let actor = new_actor.new(ctx, arg)?;
        Ok((TestActor::new(actor, owner), actor_ref))
    }

    /// Runs the spawned processes until none is ready, taking the I/O and
    /// timer events already there (without waiting for more).
    ///
    /// # Errors
    ///
    /// The poll failed.
    pub fn run_until_idle(&mut self) -> io::Result<()> {
        loop {
            self.worker.poll_events(Some(Duration::ZERO))?;
            if !self.worker.has_ready() {
                return Ok(());
            }
            self.worker.run_ready();
        }
    }

    /// Runs `future` to its end, with the spawned processes, the timers and
    /// the I/O of the runtime, waiting for events while nothing is ready.
    /// A future that waits for something that never comes (no timer, no
    /// socket, no message on its way) waits for ever, as it would on a
    /// worker.
    ///
    /// # Panics
    ///
    /// If the runtime's poll fails.
    pub fn block_on<Fut: Future>(&mut self, future: Fut) -> Fut::Output {
        let mut future = pin!(future);
        let woken = Arc::new(Flag {
            woken: AtomicBool::new(false),
            also: Some(self.worker.waker()),
        });
        let waker = Waker::from(woken.clone());
        let mut cx = task::Context::from_waker(&waker);
        loop {
            woken.woken.store(false, Ordering::Release);
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            self.worker.run_ready();
            // Woken meanwhile, or more to run: take what came, without
            // waiting. Otherwise wait: a wake-up of the future also wakes
            // the poll.
            let busy = woken.woken.load(Ordering::Acquire) || self.worker.has_ready();
            let wait = if busy { Some(Duration::ZERO) } else { None };
            self.worker
                .poll_events(wait)
                .expect("polling the test runtime");
        }
    }
}

impl fmt::Debug for TestRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRuntime").finish_non_exhaustive()
    }
}

/// A waker that records being woken, and wakes `also` (the test
/// runtime's poll, for `block_on`).
#[derive(Default)]
struct Flag {
    woken: AtomicBool,
    also: Option<Waker>,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Some(waker) = &self.also {
            waker.wake_by_ref();
        }
    }
}

/// An actor created by [`TestRuntime::actor`], polled by the test.
pub struct TestActor<A, M> {
    actor: Pin<Box<A>>,
    /// The actor's inbox: open until the actor returned (or the test
    /// actor is dropped), as on a worker.
    owner: inbox::Owner<M>,
    woken: Arc<Flag>,
}

impl<A: Actor, M> TestActor<A, M> {
    fn new(actor: A, owner: inbox::Owner<M>) -> TestActor<A, M> {
        TestActor {
            actor: Box::pin(actor),
            owner,
            woken: Arc::default(),
        }
    }

    /// Another reference to the actor, to send it messages.
    pub fn actor_ref(&self) -> ActorRef<M> {
        ActorRef::from_sender(self.owner.sender())
    }

    /// Runs the actor one step: until it waits (`Pending`) or ends
    /// (`Ready`, with its result).
    pub fn poll(&mut self) -> Poll<Result<(), A::Error>> {
        self.woken.woken.store(false, Ordering::Release);
        let waker = Waker::from(self.woken.clone());
        let mut cx = task::Context::from_waker(&waker);
        let polled = self.actor.as_mut().try_poll(&mut cx);
        if polled.is_ready() {
            // The actor returned: its inbox closes, its references see it
            // stopped and its joiners are done, as on a worker.
            self.owner.close();
        }
        polled
    }

    /// True if the actor was woken (a message came, a timer fired) since
    /// it was last polled: polling it again would get further.
    pub fn was_woken(&self) -> bool {
        self.woken.woken.load(Ordering::Acquire)
    }
}

impl<A, M> fmt::Debug for TestActor<A, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestActor").finish_non_exhaustive()
    }
}

/// An actor reference whose messages the test reads, with the
/// [`TestInbox`] that holds them: give the reference to the actor under
/// test and see what it sent. At most `capacity` messages wait; a full
/// inbox pushes back on senders as an actor's does.
pub fn inbox<M>(capacity: usize) -> (ActorRef<M>, TestInbox<M>) {
    let owner = inbox::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN));
    let actor_ref = ActorRef::from_sender(owner.sender());
    let receiver = owner.receiver();
    (actor_ref, TestInbox { receiver, owner })
}

/// The messages sent to the reference [`inbox`] made.
pub struct TestInbox<M> {
    receiver: inbox::Receiver<M>,
    /// Keeps the inbox open.
    owner: inbox::Owner<M>,
}

impl<M> TestInbox<M> {
    /// The next message, if one waits.
    pub fn try_recv(&self) -> Option<M> {
        self.receiver.try_recv_one()
    }

    /// Every message waiting, oldest first.
    pub fn drain(&self) -> Vec<M> {
        std::iter::from_fn(|| self.try_recv()).collect()
    }

    /// Number of messages waiting.
    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    /// True if no message waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if no message waits and every reference to the inbox is gone.
    pub fn is_disconnected(&self) -> bool {
        self.receiver.is_disconnected()
    }

    /// Another reference to the inbox.
    pub fn actor_ref(&self) -> ActorRef<M> {
        ActorRef::from_sender(self.owner.sender())
    }
}

impl<M> fmt::Debug for TestInbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestInbox")
            .field("waiting", &self.len())
            .finish()
    }
}

/// Percentage of the messages sent through an [`ActorRef`] that are lost on
/// purpose ([`set_message_loss`]), for the whole process.
static MESSAGE_LOSS: AtomicU8 = AtomicU8::new(0);

/// Makes `percent` percent of the messages sent through any [`ActorRef`]
/// of the process get lost, as Heph's function of the same name does, to
/// test that actors cope with lost messages; `0` (the default) loses none.
///
/// A lost message is dropped where it is sent, and the send reports
/// success: [`ActorRef::try_send`] returns `Ok`, [`ActorRef::send`]
/// completes with `Ok` at once, and an [`rpc`](ActorRef::rpc) whose
/// request is lost fails with
/// [`RpcError::NoResponse`](crate::actor_ref::RpcError::NoResponse), as
/// after an actor that dropped the request. Every send decides by itself,
/// at random: the share lost is `percent` on average. Sends through an
/// [`ActorGroup`](crate::ActorGroup) or a mapped reference are sends
/// through an `ActorRef` too; the runtime's own channels (a worker's
/// control messages, a remote pool's frames) are not touched.
///
/// # Notes
///
/// The setting is process-wide, as Heph's is: it holds for the actors of
/// every runtime in the process, on every thread, until it is set again.
/// The tests of one test binary run in parallel threads of one process, so
/// a test that loses messages belongs in a test binary of its own (a file
/// of `tests/`), or every test of its binary must cope with lost messages.
/// Without the `test` feature nothing is checked on a send; with it, a
/// send reads one atomic value while no loss is set.
///
/// # Errors
///
/// [`MessageLossError`] if `percent` is over 100; the setting is left as
/// it was.
///
/// # Examples
///
/// ```
/// use hearth::test::{inbox, set_message_loss};
///
/// let (actor_ref, sent) = inbox::<u32>(8);
/// set_message_loss(100).unwrap();
/// // Reported as sent, but lost.
/// actor_ref.try_send(1u32).unwrap();
/// assert!(sent.is_empty());
/// set_message_loss(0).unwrap();
/// actor_ref.try_send(2u32).unwrap();
/// assert_eq!(sent.drain(), [2]);
///
/// assert!(set_message_loss(101).is_err());
/// ```
pub fn set_message_loss(percent: u8) -> Result<(), MessageLossError> {
    if percent > 100 {
        return Err(MessageLossError { percent });
    }
    MESSAGE_LOSS.store(percent, Ordering::Relaxed);
    Ok(())
}

/// The percentage of messages lost on purpose, see [`set_message_loss`].
pub fn message_loss() -> u8 {
    MESSAGE_LOSS.load(Ordering::Relaxed)
}

/// The error of [`set_message_loss`]: a percentage over 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageLossError {
    percent: u8,
}

impl MessageLossError {
    /// The percentage that was refused.
    pub fn percent(&self) -> u8 {
        self.percent
    }
}

impl fmt::Display for MessageLossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "message loss of {}% is over 100%", self.percent)
    }
}

impl std::error::Error for MessageLossError {}

/// True if the message being sent is to be lost ([`set_message_loss`]).
/// While no loss is set, one relaxed load of an atomic value: an ordering
/// is not needed, a send that misses a change made meanwhile on another
/// thread is as good as one made just before it.
#[inline]
pub(crate) fn lose_message() -> bool {
    let percent = MESSAGE_LOSS.load(Ordering::Relaxed);
    percent != 0 && lose_at_random(percent)
}

/// True with a chance of `percent` in 100.
#[cold]
#[inline(never)]
fn lose_at_random(percent: u8) -> bool {
    random_below_100() < percent
}

thread_local! {
    /// State of this thread's random numbers for message loss (xorshift64*),
    /// seeded from std's per-process random keys and the thread's id.
    static LOSS_RANDOM: std::cell::Cell<u64> = std::cell::Cell::new(loss_seed());
}

/// A seed that differs between processes and between threads, never 0.
fn loss_seed() -> u64 {
    use std::hash::BuildHasher;
    let keys = std::collections::hash_map::RandomState::new();
    keys.hash_one(std::thread::current().id()) | 1
}

/// A random number in `0..100`.
fn random_below_100() -> u8 {
    LOSS_RANDOM.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        let random = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // The top 32 bits, scaled to 0..100 without a division.
        #[allow(clippy::cast_possible_truncation)] // Below 100.
        let below_100 = (((random >> 32) * 100) >> 32) as u8;
        below_100
    })
}
