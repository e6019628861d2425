//! Synchronous actors: plain functions on a thread of their own, free to
//! block (file I/O, a blocking client library, heavy computation).
//!
//! The runtime starts one thread per sync actor (see
//! [`Runtime::spawn_sync_actor`](crate::Runtime::spawn_sync_actor)); the
//! thread runs the actor under its supervisor until it stops for good.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::task::{self, Poll, Wake, Waker};
use std::thread::{self, Thread};

use log::error;

use crate::ActorRef;
use crate::inbox::{self, NoMessages, RecvError};
use crate::runtime::RuntimeShared;
use crate::supervisor::{self, SupervisorStrategy, SyncSupervisor, panic_message};

/// A synchronous actor, made from a function with
/// [`actor_fn`](crate::actor::actor_fn).
pub trait SyncActor {
    /// The type of messages the actor receives.
    type Message;
    /// The argument given to each new incarnation of the actor.
    type Argument;
    /// The error the actor can return.
    type Error;

    /// Runs the actor to completion.
    fn run(&self, ctx: SyncContext<Self::Message>, arg: Self::Argument) -> Result<(), Self::Error>;

    /// The name of the actor, used in logs.
    fn name() -> &'static str {
        super::short_type_name::<Self>()
    }
}

/// The context of a synchronous actor: blocking access to its inbox.
pub struct SyncContext<M> {
    inbox: inbox::Receiver<M>,
    /// Unparks this thread when a message arrives.
    waker: Waker,
    shared: Arc<RuntimeShared>,
}

struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl<M> SyncContext<M> {
    pub(crate) fn new(inbox: inbox::Receiver<M>, shared: Arc<RuntimeShared>) -> SyncContext<M> {
        let waker = Waker::from(Arc::new(Unparker(thread::current())));
        SyncContext {
            inbox,
            waker,
            shared,
        }
    }

    /// Receives the next message, blocking the thread until one arrives.
    ///
    /// # Errors
    ///
    /// [`NoMessages`] when the inbox is empty and no message can arrive any
    /// more: every [`ActorRef`] to this actor is gone, or the runtime is
    /// shutting down and has gone quiet (see
    /// [`Context::receive_next`](crate::actor::Context::receive_next)).
    pub fn receive_next(&mut self) -> Result<M, NoMessages> {
        let mut cx = task::Context::from_waker(&self.waker);
        loop {
            let idle_in = self.shared.idle_in();
            match self.inbox.poll_recv_idle(&mut cx, idle_in) {
                (Poll::Ready(result), _) => return result,
                // The coordinator unparks sync actor threads when the
                // shutdown begins and when the stopping runtime goes quiet.
                (Poll::Pending, _) if self.shared.shutdown.quiescence.is_quiet() => {
                    self.inbox.stop_waiting();
                    return Err(NoMessages);
                }
                // Spurious wake-ups are fine: the loop checks again. An unpark
                // that comes before the park makes the park return at once.
                (Poll::Pending, became_idle) => {
                    if became_idle {
                        self.shared.poke_quiescence();
                    }
                    thread::park();
                }
            }
        }
    }

    /// Returns true once the runtime is shutting down gracefully.
    pub fn is_stopping(&self) -> bool {
        self.shared.shutdown.is_stopping()
    }

    /// Receives the next message without blocking.
    ///
    /// # Errors
    ///
    /// [`RecvError::Empty`] if no message is waiting,
    /// [`RecvError::Disconnected`] if none is waiting and every
    /// [`ActorRef`] to this actor is gone.
    pub fn try_receive_next(&mut self) -> Result<M, RecvError> {
        self.inbox.try_recv()
    }

    /// A reference to this actor.
    pub fn actor_ref(&self) -> ActorRef<M> {
        ActorRef::from_sender(self.inbox.sender())
    }

    /// Runs `future` to completion on this thread, e.g. to send to another
    /// actor with back-pressure ([`ActorRef::send`]) or make an
    /// [`rpc`](ActorRef::rpc) call.
    pub fn block_on<Fut: std::future::Future>(&mut self, future: Fut) -> Fut::Output {
        let waker = Waker::from(Arc::new(Unparker(thread::current())));
        let mut cx = task::Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(output) => return output,
                Poll::Pending => thread::park(),
            }
        }
    }
}

impl<M> fmt::Debug for SyncContext<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncContext").finish_non_exhaustive()
    }
}

/// The body of a sync actor's thread: runs the actor, asks the supervisor on
/// failure, restarts or stops. Returns an error message if the supervisor
/// itself panicked (the runtime reports it).
pub(crate) fn run_sync_actor<S, A>(
    mut supervisor: S,
    actor: A,
    mut arg: A::Argument,
    inbox: inbox::Owner<A::Message>,
    shared: Arc<RuntimeShared>,
) -> Result<(), String>
where
    S: SyncSupervisor<A>,
    A: SyncActor,
{
    let name = A::name();
    loop {
        let ctx = SyncContext::new(inbox.receiver(), shared.clone());
        let result = panic::catch_unwind(AssertUnwindSafe(|| actor.run(ctx, arg)));
        let decision = match result {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(err)) => panic::catch_unwind(AssertUnwindSafe(|| {
                supervisor::with_actor(name, || supervisor.decide(err))
            })),
            Err(panic) => panic::catch_unwind(AssertUnwindSafe(|| {
                supervisor::with_actor(name, || supervisor.decide_on_panic(panic))
            })),
        };
        match decision {
            Ok(SupervisorStrategy::Restart(new_arg)) => arg = new_arg,
            Ok(SupervisorStrategy::Stop) => return Ok(()),
            Err(panic) => {
                let msg = panic_message(&*panic).to_owned();
                error!(actor = name, panic:% = msg; "supervisor of sync actor panicked, stopping the actor");
                return Err(format!("supervisor of sync actor {name} panicked: {msg}"));
            }
        }
    }
}
