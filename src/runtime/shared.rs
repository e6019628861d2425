//! What every thread of a runtime shares, and [`ThreadSafe`], the runtime
//! access of thread-safe actors.

use std::future::Future;
use std::sync::Arc;

use crate::actor::{Actor, NewActor};
use crate::runtime::ActorOptions;
use crate::scheduler::{ActorProcess, FutureProcess, SharedScheduler};
use crate::supervisor::Supervisor;
use crate::{ActorRef, inbox};

/// State shared by all threads of a runtime.
pub(crate) struct RuntimeShared {
    pub(crate) name: String,
    pub(crate) scheduler: SharedScheduler,
}

/// The runtime access of thread-safe actors (`Context<M, ThreadSafe>`):
/// spawn more thread-safe actors and futures from any thread.
///
/// Cheap to clone; `Send` and `Sync`.
#[derive(Clone)]
pub struct ThreadSafe {
    pub(crate) shared: Arc<RuntimeShared>,
}

impl ThreadSafe {
    /// Spawns a thread-safe actor, run by whichever worker is free.
    pub fn spawn<S, NA>(
        &self,
        supervisor: S,
        new_actor: NA,
        arg: NA::Argument,
        options: ActorOptions,
    ) -> ActorRef<NA::Message>
    where
        S: Supervisor<<NA::Actor as Actor>::Error, NA::Argument> + Send + 'static,
        NA: NewActor<RuntimeAccess = ThreadSafe> + Send + 'static,
        NA::Actor: Send + 'static,
        NA::Message: Send + 'static,
    {
        let inbox = inbox::new(options.inbox_capacity());
        let actor_ref = ActorRef::from_sender(inbox.sender());
        let process = ActorProcess::new(supervisor, new_actor, arg, inbox, self.clone());
        self.shared.scheduler.add(Box::new(process));
        actor_ref
    }

    /// Spawns a thread-safe future, run by whichever worker is free. A panic
    /// in it is caught and logged.
    pub fn spawn_future<Fut>(&self, future: Fut)
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shared
            .scheduler
            .add(Box::new(FutureProcess::new(future)));
    }

    /// The name of the runtime.
    pub fn name(&self) -> &str {
        &self.shared.name
    }
}

impl std::fmt::Debug for ThreadSafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadSafe")
            .field("runtime", &self.shared.name)
            .finish()
    }
}
