//! A group of actor references with broadcast or round-robin delivery.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::rpc::{self, RpcMessage};
use super::{ActorRef, RpcError, SendError, TrySendError};

/// How [`ActorGroup::try_send`] delivers a message.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Delivery {
    /// A copy to every actor in the group.
    ToAll,
    /// To one actor, chosen round robin; full or stopped actors are skipped.
    ToOne,
}

/// A group of [`ActorRef`]s.
///
/// # Examples
///
/// ```
/// use hearth::{ActorGroup, ActorRef, Delivery};
///
/// fn notify(a: ActorRef<u32>, b: ActorRef<u32>) {
///     let group = ActorGroup::new([a, b]);
///     group.try_send(1, Delivery::ToOne).unwrap(); // to `a`
///     group.try_send(2, Delivery::ToOne).unwrap(); // to `b`
///     group.try_send(3, Delivery::ToAll).unwrap(); // to both
/// }
/// # let _ = notify;
/// ```
pub struct ActorGroup<M> {
    actor_refs: Vec<ActorRef<M>>,
    /// Index of the member that gets the next to-one message.
    next: AtomicUsize,
}

impl<M> ActorGroup<M> {
    /// An empty group.
    pub const fn empty() -> ActorGroup<M> {
        ActorGroup {
            actor_refs: Vec::new(),
            next: AtomicUsize::new(0),
        }
    }

    /// A group of the given references.
    pub fn new<I: IntoIterator<Item = ActorRef<M>>>(actor_refs: I) -> ActorGroup<M> {
        ActorGroup {
            actor_refs: actor_refs.into_iter().collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Number of actors in the group.
    pub fn len(&self) -> usize {
        self.actor_refs.len()
    }

    /// Returns true if the group is empty.
    pub fn is_empty(&self) -> bool {
        self.actor_refs.is_empty()
    }

    /// Adds an actor to the group.
    pub fn add(&mut self, actor_ref: ActorRef<M>) {
        self.actor_refs.push(actor_ref);
    }

    /// Adds an actor to the group unless a member already delivers to it
    /// (see [`ActorRef::sends_to`]).
    pub fn add_unique(&mut self, actor_ref: ActorRef<M>) {
        if !self.actor_refs.iter().any(|m| m.sends_to(&actor_ref)) {
            self.actor_refs.push(actor_ref);
        }
    }

    /// Removes members that deliver to the same actor as an earlier member,
    /// so each actor gets one copy of a to-all message.
    pub fn make_unique(&mut self) {
        let mut kept: Vec<ActorRef<M>> = Vec::with_capacity(self.actor_refs.len());
        for member in self.actor_refs.drain(..) {
            if !kept.iter().any(|k| k.sends_to(&member)) {
                kept.push(member);
            }
        }
        self.actor_refs = kept;
    }

    /// Removes every member that delivers to the actor of `actor_ref`.
    pub fn remove(&mut self, actor_ref: &ActorRef<M>) {
        self.actor_refs.retain(|member| !member.sends_to(actor_ref));
    }

    /// Removes every actor that has stopped.
    pub fn remove_stopped(&mut self) {
        self.actor_refs.retain(|member| !member.is_stopped());
    }

    /// Removes every actor that has stopped (Heph's name for
    /// [`ActorGroup::remove_stopped`]).
    pub fn remove_disconnected(&mut self) {
        self.remove_stopped();
    }

    /// The members of the group.
    pub fn actor_refs(&self) -> &[ActorRef<M>] {
        &self.actor_refs
    }

    /// Sends `msg` without waiting, delivered as `delivery` says.
    ///
    /// With [`Delivery::ToOne`] the members are tried round robin, starting
    /// after the last one that got a message; the first with room gets it.
    /// With [`Delivery::ToAll`] every member with room gets a copy.
    ///
    /// # Errors
    ///
    /// When no member took the message: [`TrySendError::Full`] if some member
    /// was full, [`TrySendError::Stopped`] if all have stopped or the group is
    /// empty. For `ToAll`, members that were full or stopped are skipped;
    /// [`ActorGroup::send_to_all`] waits for room instead.
    pub fn try_send(&self, msg: M, delivery: Delivery) -> Result<(), TrySendError<M>>
    where
        M: Clone,
    {
        match delivery {
            Delivery::ToOne => self.try_send_to_one(msg),
            Delivery::ToAll => self.try_send_to_all(msg),
        }
    }

    /// Sends `msg` to one member, round robin, skipping full and stopped ones.
    ///
    /// # Errors
    ///
    /// See [`ActorGroup::try_send`].
    pub fn try_send_to_one(&self, mut msg: M) -> Result<(), TrySendError<M>> {
        let n = self.actor_refs.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut any_full = false;
        for i in 0..n {
            match self.actor_refs[(start + i) % n].try_send(msg) {
                Ok(()) => {
                    if i != 0 {
                        let _ = self.next.fetch_add(i, Ordering::Relaxed);
                    }
                    return Ok(());
                }
                Err(TrySendError::Full(m)) => {
                    any_full = true;
                    msg = m;
                }
                Err(TrySendError::Stopped(m)) => msg = m,
                Err(TrySendError::Rejected) => return Err(TrySendError::Rejected),
            }
        }
        Err(if any_full {
            TrySendError::Full(msg)
        } else {
            TrySendError::Stopped(msg)
        })
    }

    /// Sends a copy of `msg` to every member with room.
    ///
    /// # Errors
    ///
    /// See [`ActorGroup::try_send`].
    pub fn try_send_to_all(&self, msg: M) -> Result<(), TrySendError<M>>
    where
        M: Clone,
    {
        let mut delivered = false;
        let mut any_full = false;
        for member in &self.actor_refs {
            match member.try_send(msg.clone()) {
                Ok(()) => delivered = true,
                Err(TrySendError::Full(_)) => any_full = true,
                Err(_) => {}
            }
        }
        match (delivered, any_full) {
            (true, _) => Ok(()),
            (false, true) => Err(TrySendError::Full(msg)),
            (false, false) => Err(TrySendError::Stopped(msg)),
        }
    }

    /// Sends a copy of `msg` to every member, waiting for room where an inbox
    /// is full. Returns how many members got it (stopped ones are skipped).
    ///
    /// # Errors
    ///
    /// [`SendError::Stopped`] if no member got the message.
    pub async fn send_to_all(&self, msg: M) -> Result<usize, SendError<M>>
    where
        M: Clone,
    {
        let mut delivered = 0;
        for member in &self.actor_refs {
            if member.send(msg.clone()).await.is_ok() {
                delivered += 1;
            }
        }
        if delivered == 0 {
            Err(SendError::Stopped(msg))
        } else {
            Ok(delivered)
        }
    }

    /// Waits until every member has stopped.
    pub async fn join_all(&self) {
        for member in &self.actor_refs {
            member.join().await;
        }
    }

    /// Sends `request` to every member and gathers their answers, in the
    /// members' order: each is the member's response, or why it gave none.
    /// The requests all go out before the first answer is awaited, so the
    /// members work on them at the same time.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::actor::{actor_fn, Context};
    /// use hearth::actor_ref::RpcMessage;
    /// use hearth::supervisor::NoSupervisor;
    /// use hearth::{ActorGroup, ActorOptions, Runtime, ThreadSafe};
    ///
    /// async fn doubler(mut ctx: Context<RpcMessage<u64, u64>, ThreadSafe>) {
    ///     while let Ok(msg) = ctx.receive_next().await {
    ///         let _ = msg.handle(|n| n * 2);
    ///     }
    /// }
    ///
    /// # fn main() -> Result<(), hearth::Error> {
    /// let mut runtime = Runtime::setup().build()?;
    /// let group: ActorGroup<_> = (0..3)
    ///     .map(|_| runtime.spawn(NoSupervisor, actor_fn(doubler), (), ActorOptions::default()))
    ///     .collect();
    /// runtime.spawn_future(async move {
    ///     let answers = group.rpc(21u64).await;
    ///     assert!(answers.iter().all(|a| *a == Ok(42)));
    /// }, hearth::FutureOptions::default());
    /// runtime.start()
    /// # }
    /// ```
    pub async fn rpc<Req, Res>(&self, request: Req) -> Vec<Result<Res, RpcError>>
    where
        M: From<RpcMessage<Req, Res>>,
        Req: Clone,
    {
        let mut pending = Vec::with_capacity(self.actor_refs.len());
        for member in &self.actor_refs {
            let (msg, response) = rpc::new_call(request.clone());
            let sent = member.send(M::from(msg)).await.is_ok();
            pending.push(sent.then_some(response));
        }
        let mut answers = Vec::with_capacity(pending.len());
        for response in pending {
            answers.push(match response {
                Some(response) => response.await,
                None => Err(RpcError::SendError),
            });
        }
        answers
    }
}

impl<M> FromIterator<ActorRef<M>> for ActorGroup<M> {
    fn from_iter<I: IntoIterator<Item = ActorRef<M>>>(iter: I) -> ActorGroup<M> {
        ActorGroup::new(iter)
    }
}

impl<M> Extend<ActorRef<M>> for ActorGroup<M> {
    fn extend<I: IntoIterator<Item = ActorRef<M>>>(&mut self, iter: I) {
        self.actor_refs.extend(iter);
    }
}

impl<M> Default for ActorGroup<M> {
    fn default() -> ActorGroup<M> {
        ActorGroup::empty()
    }
}

impl<M> Clone for ActorGroup<M> {
    fn clone(&self) -> ActorGroup<M> {
        ActorGroup {
            actor_refs: self.actor_refs.clone(),
            next: AtomicUsize::new(self.next.load(Ordering::Relaxed)),
        }
    }
}

impl<M> From<ActorRef<M>> for ActorGroup<M> {
    fn from(actor_ref: ActorRef<M>) -> ActorGroup<M> {
        ActorGroup::new([actor_ref])
    }
}

impl<M> fmt::Debug for ActorGroup<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorGroup")
            .field("actor_refs", &self.actor_refs)
            .finish_non_exhaustive()
    }
}
