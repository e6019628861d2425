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
//! Heph's free functions are here under their names too:
//! [`init_local_actor`] and [`init_actor`] make an actor without a
//! runtime to run it, which the test polls with [`poll_actor`] (and
//! futures with [`poll_future`], streams with [`poll_next`]);
//! [`join`], [`join_many`] and [`join_all`] block the test's thread until
//! actors running elsewhere stopped; [`spawn_sync_actor`] starts a
//! synchronous actor on a thread of its own; [`size_of_actor`] and
//! [`size_of_actor_val`] tell what an actor costs.
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
use std::time::{Duration, Instant};

use crate::actor::{Actor, Context, NewActor, SyncActor};
use crate::inbox;
use crate::supervisor::SyncSupervisor;
use crate::sync_worker;
use crate::worker::local_worker::LocalWorker;
use crate::{ActorGroup, ActorOptions, ActorRef, RuntimeRef, ThreadLocal, ThreadSafe};

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

/// An actor made by [`init_local_actor`] or [`init_actor`], not yet
/// polled, and a reference to it.
pub type Initialised<NA> = (<NA as NewActor>::Actor, ActorRef<<NA as NewActor>::Message>);

thread_local! {
    /// The runtime of the actors made by [`init_local_actor`] and
    /// [`init_actor`] on this thread.
    static THREAD_RUNTIME: TestRuntime =
        TestRuntime::new().expect("hearth::test: creating the test runtime's poll and waker");
}

/// Creates a thread-local actor without spawning it, and a reference to it,
/// as Heph's function of the same name: the test polls the actor itself
/// with [`poll_actor`] and sends it messages through the reference.
///
/// The actor belongs to a runtime of the calling thread that runs nothing by
/// itself; wake-ups are not recorded (use [`TestRuntime::actor`] to see
/// them). Its inbox holds [`ActorOptions::DEFAULT_INBOX_CAPACITY`]
/// messages and closes when the actor returns or is dropped: its
/// references then see it stopped ([`ActorRef::is_connected`] is false)
/// and its joiners are done, as on a worker.
///
/// # Errors
///
/// What the actor's `NewActor::new` returned.
///
/// # Panics
///
/// The first call on a thread makes the thread's runtime; if its poll or
/// waker cannot be made (out of file descriptors), it panics.
///
/// # Examples
///
/// ```
/// use std::pin::pin;
/// use std::task::Poll;
///
/// use hearth::actor::{actor_fn, Context};
/// use hearth::test::{init_local_actor, poll_actor};
/// use hearth::ThreadLocal;
///
/// async fn sum(mut ctx: Context<u32, ThreadLocal>, count: usize) -> Result<(), String> {
///     let mut total = 0;
///     for _ in 0..count {
///         total += ctx.receive_next().await.map_err(|err| err.to_string())?;
///     }
///     if total == 6 { Ok(()) } else { Err(format!("sum {total}")) }
/// }
///
/// let (actor, actor_ref) = init_local_actor(actor_fn(sum), 3).unwrap();
/// let mut actor = pin!(actor);
/// actor_ref.try_send(1u32).unwrap();
/// assert!(poll_actor(actor.as_mut()).is_pending());
/// actor_ref.try_send(2u32).unwrap();
/// actor_ref.try_send(3u32).unwrap();
/// assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
/// assert!(!actor_ref.is_connected());
/// ```
pub fn init_local_actor<NA>(
    mut new_actor: NA,
    arg: NA::Argument,
) -> Result<Initialised<NA>, NA::Error>
where
    NA: NewActor<RuntimeAccess = ThreadLocal>,
{
    let (receiver, sender) = inbox::closing_with_receiver(ActorOptions::DEFAULT_INBOX_CAPACITY);
    let ctx = THREAD_RUNTIME.with(|rt| {
        let rt_ref = rt.worker.runtime_ref();
        let shared = rt_ref.internals.shared.clone();
        Context::new(receiver, ThreadLocal::new(rt_ref.clone()), shared)
    });
    let actor = new_actor.new(ctx, arg)?;
    Ok((actor, ActorRef::from_sender(sender)))
}

/// Creates a thread-safe actor without spawning it, and a reference to it,
/// as [`init_local_actor`] does for thread-local ones (Heph's function of
/// the same name).
///
/// # Errors
///
/// What the actor's `NewActor::new` returned.
///
/// # Panics
///
/// As [`init_local_actor`].
pub fn init_actor<NA>(mut new_actor: NA, arg: NA::Argument) -> Result<Initialised<NA>, NA::Error>
where
    NA: NewActor<RuntimeAccess = ThreadSafe>,
{
    let (receiver, sender) = inbox::closing_with_receiver(ActorOptions::DEFAULT_INBOX_CAPACITY);
    let ctx = THREAD_RUNTIME.with(|rt| {
        let shared = rt.worker.runtime_ref().internals.shared.clone();
        Context::new(receiver, rt.thread_safe(), shared)
    });
    let actor = new_actor.new(ctx, arg)?;
    Ok((actor, ActorRef::from_sender(sender)))
}

/// Starts a synchronous actor on a thread of its own, outside any runtime
/// (Heph's function of the same name): the test sends it messages through
/// the reference and waits for its end with [`SyncActorThread::join`].
/// The actor is supervised as on a runtime.
///
/// # Errors
///
/// The thread could not be started.
///
/// # Panics
///
/// As [`init_local_actor`].
///
/// # Examples
///
/// ```
/// use hearth::actor::{actor_fn, SyncContext};
/// use hearth::supervisor::NoSupervisor;
/// use hearth::test::spawn_sync_actor;
/// use hearth::ActorOptions;
///
/// fn sum(mut ctx: SyncContext<u64>, count: usize) -> Result<(), String> {
///     let total: u64 = (0..count).map_while(|_| ctx.receive_next().ok()).sum();
///     if total == 3 { Ok(()) } else { Err(format!("sum {total}")) }
/// }
///
/// let (thread, actor_ref) =
///     spawn_sync_actor(NoSupervisor, actor_fn(sum), 2, ActorOptions::default()).unwrap();
/// actor_ref.try_send(1u64).unwrap();
/// actor_ref.try_send(2u64).unwrap();
/// thread.join().unwrap();
/// ```
pub fn spawn_sync_actor<S, A>(
    supervisor: S,
    actor: A,
    arg: A::Argument,
    options: ActorOptions,
) -> Result<(SyncActorThread, ActorRef<A::Message>), crate::Error>
where
    S: SyncSupervisor<A> + Send + 'static,
    A: SyncActor + Send + 'static,
    A::Argument: Send + 'static,
    A::Message: Send + 'static,
{
    let inbox = inbox::new(options.inbox_capacity());
    let actor_ref = ActorRef::from_sender(inbox.sender());
    let shared = THREAD_RUNTIME.with(|rt| rt.worker.runtime_ref().internals.shared.clone());
    let handle = sync_worker::start(0, supervisor, actor, arg, inbox, shared)
        .map_err(crate::Error::start_sync_worker)?;
    Ok((SyncActorThread { handle }, actor_ref))
}

/// The thread of a synchronous actor started by [`spawn_sync_actor`].
pub struct SyncActorThread {
    handle: sync_worker::SyncWorkerHandle,
}

impl SyncActorThread {
    /// Waits for the actor to end (it returned, or its supervisor stopped
    /// it) and its thread with it.
    ///
    /// # Errors
    ///
    /// The thread ended with an error: a panic outside the actor (in its
    /// supervisor).
    pub fn join(self) -> Result<(), crate::Error> {
        self.handle.join()
    }
}

impl fmt::Debug for SyncActorThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncActorThread").finish_non_exhaustive()
    }
}

/// Polls `actor` once, with a waker that does nothing (Heph's function of
/// the same name): `Pending` while it waits, `Ready` with its result once
/// it returned. To see wake-ups, use [`TestActor::poll`] and
/// [`TestActor::was_woken`].
pub fn poll_actor<A: Actor + ?Sized>(actor: Pin<&mut A>) -> Poll<Result<(), A::Error>> {
    actor.try_poll(&mut task::Context::from_waker(Waker::noop()))
}

/// Polls `future` once, with a waker that does nothing (Heph's function of
/// the same name).
pub fn poll_future<Fut: Future + ?Sized>(future: Pin<&mut Fut>) -> Poll<Fut::Output> {
    future.poll(&mut task::Context::from_waker(Waker::noop()))
}

/// Polls `stream` once for its next item, with a waker that does nothing
/// (Heph's function of the same name, for its async iterators): hearth's
/// streams ([`Interval`](crate::timer::Interval), a listener's incoming
/// connections) are `futures_core::Stream`s.
pub fn poll_next<S: futures_core::Stream + ?Sized>(stream: Pin<&mut S>) -> Poll<Option<S::Item>> {
    stream.poll_next(&mut task::Context::from_waker(Waker::noop()))
}

/// The size in bytes of the actors `NA` makes (Heph's function of the same
/// name): the state an actor keeps across its waits, which every spawned
/// actor allocates.
pub fn size_of_actor<NA: NewActor>() -> usize {
    std::mem::size_of::<NA::Actor>()
}

/// [`size_of_actor`] for the type of `new_actor`, whose type an actor
/// function's cannot be named (`size_of_actor_val(&actor_fn(my_actor))`).
pub fn size_of_actor_val<NA: NewActor>(new_actor: &NA) -> usize {
    let _ = new_actor;
    size_of_actor::<NA>()
}

/// What [`join`], [`join_many`] and [`join_all`] saw (Heph's type of the
/// same name).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[must_use = "a join may have timed out"]
pub enum JoinResult {
    /// Every actor stopped.
    Ok,
    /// The time was up with an actor still running.
    TimedOut,
}

impl JoinResult {
    /// Expects [`JoinResult::Ok`].
    ///
    /// # Panics
    ///
    /// On [`JoinResult::TimedOut`], saying so.
    #[track_caller]
    pub fn unwrap(self) {
        assert!(self == JoinResult::Ok, "joining actors timed out");
    }
}

/// Blocks the calling thread until the actor of `actor_ref` has stopped,
/// or `timeout` has passed (Heph's function of the same name). The actor
/// runs elsewhere: on a runtime's worker (a [`Runtime`](crate::Runtime)
/// started on another thread) or a sync actor's thread. Not for the
/// actors of a [`TestRuntime`] of this thread, which run only while the
/// test drives them.
pub fn join<M>(actor_ref: &ActorRef<M>, timeout: Duration) -> JoinResult {
    join_many(std::slice::from_ref(actor_ref), timeout)
}

/// [`join`] for several actors, with one `timeout` for them all.
pub fn join_many<M>(actor_refs: &[ActorRef<M>], timeout: Duration) -> JoinResult {
    let deadline = Instant::now().checked_add(timeout);
    for actor_ref in actor_refs {
        if block_until(actor_ref.join(), deadline).is_none() {
            return JoinResult::TimedOut;
        }
    }
    JoinResult::Ok
}

/// [`join`] for every actor of `group`, with one `timeout` for them all.
pub fn join_all<M>(group: &ActorGroup<M>, timeout: Duration) -> JoinResult {
    match block_until(group.join_all(), Instant::now().checked_add(timeout)) {
        Some(()) => JoinResult::Ok,
        None => JoinResult::TimedOut,
    }
}

/// Wakes the thread that blocks on a future.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it is ready (`Some`) or `deadline`
/// passed (`None`); no deadline (a timeout too large for the clock) waits
/// as long as it takes.
fn block_until<Fut: Future>(future: Fut, deadline: Option<Instant>) -> Option<Fut::Output> {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = task::Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        match deadline {
            None => std::thread::park(),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                std::thread::park_timeout(left);
            }
        }
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
/// [`ActorGroup`] or a mapped reference are sends
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
