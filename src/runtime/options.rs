//! Options for spawning actors (inbox capacity and priority) and futures
//! (priority).

use std::num::NonZeroUsize;

/// Options for spawning an actor.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use hearth::ActorOptions;
///
/// let options = ActorOptions::default().with_inbox_capacity(NonZeroUsize::new(1024).unwrap());
/// assert_eq!(options.inbox_capacity().get(), 1024);
/// ```
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ActorOptions {
    inbox_capacity: NonZeroUsize,
    priority: Priority,
}

/// How much of its worker's time an actor or future gets when others are
/// ready to run too, see [`ActorOptions::with_priority`] and
/// [`FutureOptions::with_priority`].
///
/// Between two polls of its events, a worker runs up to 128 ready
/// thread-local processes of high priority, then up to 64 of normal
/// priority, then up to 16 of low priority (64 when no process of a higher
/// priority was ready): under load a high-priority actor runs about twice
/// as often as a normal one and eight times as often as a low one, and
/// none is starved. Thread-safe processes of high priority are taken
/// before any other thread-safe process by whichever worker looks for work
/// first; those of low priority when a worker finds no other, or once in
/// every 16 it takes. Priority decides who runs first, never whether a
/// process runs: a low-priority actor with the worker to itself runs as
/// fast as any.
///
/// # Examples
///
/// ```
/// use hearth::{ActorOptions, Priority};
///
/// let options = ActorOptions::default().with_priority(Priority::High);
/// assert_eq!(options.priority(), Priority::High);
/// assert_eq!(ActorOptions::default().priority(), Priority::Normal);
/// // Ordered by what runs first.
/// assert!(Priority::High > Priority::Normal && Priority::Normal > Priority::Low);
/// ```
#[derive(Clone, Copy, Debug, Default, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Priority {
    /// Runs after the others: batch work, clean-ups, statistics.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Runs before the others: latency-sensitive work, such as accepting
    /// connections or answering health checks.
    High,
}

/// Heph's names of the priorities, which are constants of a struct there:
/// code written for Heph (`Priority::HIGH`) compiles as it is.
impl Priority {
    /// [`Priority::Low`].
    pub const LOW: Priority = Priority::Low;
    /// [`Priority::Normal`].
    pub const NORMAL: Priority = Priority::Normal;
    /// [`Priority::High`].
    pub const HIGH: Priority = Priority::High;
}

impl ActorOptions {
    /// Default inbox capacity: 64 messages.
    pub const DEFAULT_INBOX_CAPACITY: NonZeroUsize = NonZeroUsize::new(64).unwrap();

    /// Sets how many messages the actor's inbox holds before senders must
    /// wait ([`ActorRef::send`](crate::ActorRef::send)) or fail
    /// ([`ActorRef::try_send`](crate::ActorRef::try_send)).
    #[must_use]
    pub const fn with_inbox_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.inbox_capacity = capacity;
        self
    }

    /// The inbox capacity.
    pub const fn inbox_capacity(&self) -> NonZeroUsize {
        self.inbox_capacity
    }

    /// Sets the actor's priority (see [`Priority`]; [`Priority::Normal`]
    /// by default), honoured by the schedulers of thread-local and of
    /// thread-safe actors.
    #[must_use]
    pub const fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// The priority.
    pub const fn priority(&self) -> Priority {
        self.priority
    }
}

impl Default for ActorOptions {
    fn default() -> ActorOptions {
        ActorOptions {
            inbox_capacity: Self::DEFAULT_INBOX_CAPACITY,
            priority: Priority::Normal,
        }
    }
}

/// Options for spawning a future
/// ([`RuntimeRef::spawn_local_future`](crate::RuntimeRef::spawn_local_future),
/// [`ThreadSafe::spawn_future`](crate::ThreadSafe::spawn_future)), as
/// Heph's `FutureOptions`: the future's [`Priority`], which the
/// schedulers honour for futures as they do for actors.
///
/// # Examples
///
/// ```
/// use hearth::{FutureOptions, Priority, Runtime, RuntimeRef};
///
/// # fn main() -> Result<(), hearth::Error> {
/// let mut runtime = Runtime::setup().num_threads(1).build()?;
/// runtime.run_on_workers(|mut rt: RuntimeRef| {
///     // A clean-up that may wait while the worker has other work.
///     let options = FutureOptions::default().with_priority(Priority::Low);
///     rt.spawn_local_future(async { println!("cleaned up") }, options);
/// });
/// runtime.start()
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct FutureOptions {
    priority: Priority,
}

impl FutureOptions {
    /// Sets the future's priority (see [`Priority`]; [`Priority::Normal`]
    /// by default), honoured by the schedulers of thread-local and of
    /// thread-safe futures as for actors.
    #[must_use]
    pub const fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// The priority.
    pub const fn priority(&self) -> Priority {
        self.priority
    }
}
