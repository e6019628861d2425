//! Options for spawning actors.

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
}

impl ActorOptions {
    /// Default inbox capacity: 64 messages.
    pub const DEFAULT_INBOX_CAPACITY: NonZeroUsize = NonZeroUsize::new(64).unwrap();

    /// Sets how many messages the actor's inbox holds before senders must
    /// wait ([`ActorRef::send`](crate::ActorRef::send)) or fail
    /// ([`ActorRef::try_send`](crate::ActorRef::try_send)).
    pub const fn with_inbox_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.inbox_capacity = capacity;
        self
    }

    /// The inbox capacity.
    pub const fn inbox_capacity(&self) -> NonZeroUsize {
        self.inbox_capacity
    }
}

impl Default for ActorOptions {
    fn default() -> ActorOptions {
        ActorOptions {
            inbox_capacity: Self::DEFAULT_INBOX_CAPACITY,
        }
    }
}
