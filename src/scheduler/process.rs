//! Processes: the units the schedulers run.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{self, Poll};

use log::{error, trace};

use crate::actor::{Actor, Context, NewActor};
use crate::inbox;
use crate::metrics::ProcessKind;
use crate::runtime::RuntimeShared;
use crate::supervisor::{self, Supervisor, SupervisorStrategy, panic_message};

/// Something a scheduler can run until it is done.
pub(crate) trait Process {
    /// Works out the name for logs and metrics: a function, so that the
    /// name (shortened from a type name, which takes a search through the
    /// string) is worked out only where it is needed, not at every spawn.
    fn name_fn(&self) -> fn() -> &'static str;

    /// Name for logs.
    fn name(&self) -> &'static str {
        (self.name_fn())()
    }

    /// Tells processes of different types apart for the census without
    /// working out their names: the full type name, a constant.
    fn type_key(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Actor or plain future, for the metrics.
    fn kind(&self) -> ProcessKind {
        ProcessKind::Future
    }

    /// Actor or plain future, for the metrics.
    /// Runs the process once. `Ready` means it is done and can be dropped.
    /// Never panics: panics of user code are caught here.
    fn run(&mut self, cx: &mut task::Context<'_>) -> Poll<()>;
}

/// An actor under supervision. Owns the actor's inbox, so the inbox lives
/// across restarts and closes when the process is dropped.
pub(crate) struct ActorProcess<S, NA: NewActor> {
    supervisor: S,
    new_actor: NA,
    inbox: inbox::Owner<NA::Message>,
    rt: NA::RuntimeAccess,
    shared: Arc<RuntimeShared>,
    /// The actor's future, in the process's own allocation (one allocation
    /// per actor instead of two). Pinned there: see [`ActorProcess::actor`].
    /// `new` returns the process unboxed: the local scheduler writes it into
    /// its cell, the shared one into its task's allocation, both before it
    /// is first run.
    actor: Option<NA::Actor>,
}

impl<S, NA> ActorProcess<S, NA>
where
    S: Supervisor<NA>,
    NA: NewActor,
    NA::RuntimeAccess: Clone,
{
    /// The process of a new actor. If creating the actor fails (and its
    /// supervisor gives up), the process has no actor: its first run ends
    /// it, closing the inbox.
    pub(crate) fn new(
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        inbox: inbox::Owner<NA::Message>,
        rt: NA::RuntimeAccess,
        shared: Arc<RuntimeShared>,
    ) -> Self {
        let mut process = ActorProcess {
            supervisor,
            new_actor,
            inbox,
            rt,
            shared,
            actor: None,
        };
        // Not yet pinned anywhere: a plain assignment.
        process.actor = process.create(arg);
        process
    }

    /// The process of a new actor whose first creation must succeed (the
    /// `try_spawn` functions): its error is handed back, not given to the
    /// supervisor, and the inbox closes with the process. A creation that
    /// panicked is logged and leaves the process without an actor, as with
    /// [`ActorProcess::new`].
    pub(crate) fn new_or_error(
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        inbox: inbox::Owner<NA::Message>,
        rt: NA::RuntimeAccess,
        shared: Arc<RuntimeShared>,
    ) -> Result<Self, NA::Error> {
        let mut process = ActorProcess {
            supervisor,
            new_actor,
            inbox,
            rt,
            shared,
            actor: None,
        };
        match process.try_new(arg) {
            Some(Ok(actor)) => process.actor = Some(actor),
            Some(Err(err)) => return Err(err),
            None => {}
        }
        Ok(process)
    }

    /// Creates an incarnation of the actor with `arg`. A failed creation is
    /// the supervisor's to decide (`decide_on_restart_error`), and one more
    /// attempt may follow; a second failure stops the actor. A panic in the
    /// creation or the supervisor stops it too. `None`: no actor.
    fn create(&mut self, arg: NA::Argument) -> Option<NA::Actor> {
        let err = match self.try_new(arg)? {
            Ok(actor) => return Some(actor),
            Err(err) => err,
        };
        let supervisor = &mut self.supervisor;
        let decision = panic::catch_unwind(AssertUnwindSafe(|| {
            supervisor::with_actor(NA::name(), || supervisor.decide_on_restart_error(err))
        }));
        let arg = match decision {
            Ok(SupervisorStrategy::Restart(arg)) => arg,
            Ok(SupervisorStrategy::Stop) => return None,
            Err(panic) => {
                error!(actor = NA::name(), panic = panic_message(&*panic); "supervisor panicked, stopping the actor");
                return None;
            }
        };
        match self.try_new(arg)? {
            Ok(actor) => Some(actor),
            Err(err) => {
                let supervisor = &mut self.supervisor;
                let told = panic::catch_unwind(AssertUnwindSafe(|| {
                    supervisor::with_actor(NA::name(), || supervisor.second_restart_error(err));
                }));
                if let Err(panic) = told {
                    error!(actor = NA::name(), panic = panic_message(&*panic); "supervisor panicked");
                }
                None
            }
        }
    }

    /// Calls `NewActor::new` with a new context; `None` if it panicked (the
    /// panic is logged).
    fn try_new(&mut self, arg: NA::Argument) -> Option<Result<NA::Actor, NA::Error>> {
        let ctx = Context::new(self.inbox.receiver(), self.rt.clone(), self.shared.clone());
        let new_actor = &mut self.new_actor;
        match panic::catch_unwind(AssertUnwindSafe(|| new_actor.new(ctx, arg))) {
            Ok(created) => Some(created),
            Err(panic) => {
                error!(actor = NA::name(), panic = panic_message(&*panic); "creating the actor panicked, stopping it");
                None
            }
        }
    }

    /// The actor, pinned.
    fn actor(&mut self) -> Option<Pin<&mut NA::Actor>> {
        // SAFETY: a process is run only where it stays until it is dropped:
        // the local scheduler puts it in its cell's `Arc`, the shared one in
        // its task's `Arc`, both before its first run, and both drop it
        // there in place (by assigning `None`); only the `Arc`s move. So
        // `self.actor` does not move once polled. The actor is never moved
        // out of `self.actor` either: it is dropped in place (`drop_actor`)
        // or replaced by assignment, which drops the old one in place too.
        self.actor
            .as_mut()
            .map(|actor| unsafe { Pin::new_unchecked(actor) })
    }

    /// Drops the actor in place, catching a panic in its destructor.
    fn drop_actor(&mut self) {
        let actor = &mut self.actor;
        // If the destructor panics, the assignment still leaves `None`.
        if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(|| *actor = None)) {
            error!(actor = NA::name(), panic = panic_message(&*panic); "dropping failed actor panicked");
        }
    }
}

impl<S, NA> Process for ActorProcess<S, NA>
where
    S: Supervisor<NA>,
    NA: NewActor,
    NA::RuntimeAccess: Clone,
{
    fn name_fn(&self) -> fn() -> &'static str {
        NA::name
    }

    fn kind(&self) -> ProcessKind {
        ProcessKind::Actor
    }

    fn run(&mut self, cx: &mut task::Context<'_>) -> Poll<()> {
        let Some(actor) = self.actor() else {
            return Poll::Ready(());
        };
        let decision = match panic::catch_unwind(AssertUnwindSafe(|| actor.try_poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(()))) => {
                trace!(actor = self.name(); "actor returned");
                return Poll::Ready(());
            }
            Ok(Poll::Ready(Err(err))) => {
                self.drop_actor();
                let supervisor = &mut self.supervisor;
                panic::catch_unwind(AssertUnwindSafe(|| {
                    supervisor::with_actor(NA::name(), || supervisor.decide(err))
                }))
            }
            Err(panic) => {
                self.drop_actor();
                let supervisor = &mut self.supervisor;
                panic::catch_unwind(AssertUnwindSafe(|| {
                    supervisor::with_actor(NA::name(), || supervisor.decide_on_panic(panic))
                }))
            }
        };
        match decision {
            Ok(SupervisorStrategy::Restart(arg)) => match self.create(arg) {
                Some(actor) => {
                    // `None` now: nothing pinned is overwritten.
                    self.actor = Some(actor);
                    // Run the new incarnation, but after others had a turn.
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                None => Poll::Ready(()),
            },
            Ok(SupervisorStrategy::Stop) => Poll::Ready(()),
            Err(panic) => {
                error!(actor = self.name(), panic = panic_message(&*panic); "supervisor panicked, stopping the actor");
                Poll::Ready(())
            }
        }
    }
}

/// A plain future, run to completion; a panic is logged.
pub(crate) struct FutureProcess<Fut> {
    future: Pin<Box<Fut>>,
}

impl<Fut> FutureProcess<Fut> {
    pub(crate) fn new(future: Fut) -> Self {
        FutureProcess {
            future: Box::pin(future),
        }
    }
}

impl<Fut: Future<Output = ()>> Process for FutureProcess<Fut> {
    fn name_fn(&self) -> fn() -> &'static str {
        crate::actor::short_type_name::<Fut>
    }

    fn run(&mut self, cx: &mut task::Context<'_>) -> Poll<()> {
        let future = &mut self.future;
        match panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                error!(future = self.name(), panic = panic_message(&*panic); "future panicked");
                Poll::Ready(())
            }
        }
    }
}
