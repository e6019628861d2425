//! Actor groups of actors that the test polls itself
//! (`test::init_local_actor`): delivery to all and to one, membership and
//! joins, one step at a time.

use std::cell::UnsafeCell;
use std::pin::Pin;
use std::task::Poll;

use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::TrySendError;
use hearth::test::{init_local_actor, poll_actor, poll_future};
use hearth::{ActorGroup, ActorRef, Delivery, ThreadLocal};

use super::{assert_send, assert_sync};

/// An actor polled by the test, boxed so it can be dropped.
type Polled = Pin<Box<dyn hearth::actor::Actor<Error = String>>>;

/// Receives `expected`, in order, then returns.
async fn expects(mut ctx: Context<usize, ThreadLocal>, expected: Vec<usize>) -> Result<(), String> {
    for want in expected {
        let got = ctx.receive_next().await.map_err(|err| err.to_string())?;
        if got != want {
            return Err(format!("got {got}, expected {want}"));
        }
    }
    Ok(())
}

/// `n` actors that each expect `expected`, and their references.
fn expecting(n: usize, expected: &[usize]) -> (Vec<Polled>, Vec<ActorRef<usize>>) {
    (0..n)
        .map(|_| {
            let (actor, actor_ref) =
                init_local_actor(actor_fn(expects), expected.to_vec()).unwrap();
            (Box::pin(actor) as Polled, actor_ref)
        })
        .unzip()
}

#[track_caller]
fn assert_all_done(actors: Vec<Polled>) {
    for mut actor in actors {
        assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
    }
}

#[test]
fn groups_are_send_and_sync_whatever_the_message() {
    assert_send::<ActorGroup<UnsafeCell<()>>>();
    assert_sync::<ActorGroup<UnsafeCell<()>>>();
}

#[test]
fn an_empty_group_takes_nothing() {
    let group = ActorGroup::<usize>::empty();
    assert!(group.is_empty());
    assert_eq!(group.len(), 0);
    assert_eq!(
        group.try_send(1, Delivery::ToAll),
        Err(TrySendError::Stopped(1))
    );
    assert_eq!(
        group.try_send(1, Delivery::ToOne),
        Err(TrySendError::Stopped(1))
    );
}

#[test]
fn to_all_reaches_members_however_they_joined() {
    let (mut actors, refs) = expecting(3, &[123, 456]);
    let mut group = ActorGroup::new(refs);
    let (more, more_refs) = expecting(2, &[123, 456]);
    actors.extend(more);
    group.extend(more_refs);
    let (one, mut one_ref) = expecting(1, &[123, 456]);
    actors.extend(one);
    group.add(one_ref.pop().unwrap());
    let (from_one, mut from_one_ref) = expecting(1, &[123, 456]);
    let single = ActorGroup::from(from_one_ref.pop().unwrap());
    assert_eq!((group.len(), single.len()), (6, 1));
    let collected: ActorGroup<usize> = group.actor_refs().iter().cloned().collect();
    assert_eq!(collected.len(), 6);
    group.try_send(123, Delivery::ToAll).unwrap();
    single.try_send(123, Delivery::ToAll).unwrap();
    group.try_send(456, Delivery::ToAll).unwrap();
    single.try_send(456, Delivery::ToAll).unwrap();
    assert_all_done(actors);
    assert_all_done(from_one);
}

#[test]
fn to_one_goes_round_the_members() {
    let (actors, refs) = expecting(10, &[7]);
    let group = ActorGroup::new(refs);
    for mut actor in actors {
        assert!(poll_actor(actor.as_mut()).is_pending());
        group.try_send(7, Delivery::ToOne).unwrap();
        assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
    }
}

#[test]
fn add_unique_and_make_unique_keep_one_reference_per_actor() {
    let (actors, refs) = expecting(3, &[123]);
    let mut unique = ActorGroup::empty();
    let mut doubled = ActorGroup::empty();
    for actor_ref in &refs {
        unique.add_unique(actor_ref.clone());
        unique.add_unique(actor_ref.clone());
        doubled.add(actor_ref.clone());
        doubled.add(actor_ref.clone());
    }
    for actor_ref in refs.iter().rev() {
        unique.add_unique(actor_ref.clone());
        doubled.add(actor_ref.clone());
    }
    assert_eq!((unique.len(), doubled.len()), (3, 9));
    doubled.make_unique();
    assert_eq!(doubled.len(), 3);
    // One copy each: a second would make an actor fail.
    doubled.try_send(123, Delivery::ToAll).unwrap();
    assert_all_done(actors);
    let mut none = ActorGroup::<()>::empty();
    none.make_unique();
    assert!(none.is_empty());
}

#[test]
fn remove_and_remove_disconnected() {
    let (actors, refs) = expecting(3, &[1]);
    let mut group = ActorGroup::new(refs.clone());
    let (_stranger, stranger) = expecting(1, &[1]);
    group.remove(&stranger[0]);
    assert_eq!(group.len(), 3);
    // Every member runs: none goes.
    group.remove_disconnected();
    assert_eq!(group.len(), 3);
    let mut left = actors.len();
    for actor in actors {
        drop(actor);
        left -= 1;
        group.remove_disconnected();
        assert_eq!(group.len(), left);
    }
    let mut group = ActorGroup::new(refs.clone());
    for (i, actor_ref) in refs.iter().enumerate() {
        group.remove(actor_ref);
        assert_eq!(group.len(), refs.len() - i - 1);
    }
}

/// Returns at once.
async fn returns(_: Context<usize, ThreadLocal>) -> Result<(), String> {
    Ok(())
}

#[test]
fn join_all_waits_for_every_member() {
    for n in [1, 2, 5, 10] {
        for first_half in [true, false] {
            let (actors, refs): (Vec<Polled>, Vec<ActorRef<usize>>) = (0..n)
                .map(|_| {
                    let (actor, actor_ref) = init_local_actor(actor_fn(returns), ()).unwrap();
                    (Box::pin(actor) as Polled, actor_ref)
                })
                .unzip();
            let group = ActorGroup::new(refs);
            let mut joined = Box::pin(group.join_all());
            assert!(poll_future(joined.as_mut()).is_pending());
            let (now, later): (Vec<_>, Vec<_>) = actors
                .into_iter()
                .enumerate()
                .partition(|(i, _)| (i % 2 == 0) == first_half);
            assert_all_done(now.into_iter().map(|(_, actor)| actor).collect());
            if !later.is_empty() {
                assert!(poll_future(joined.as_mut()).is_pending());
            }
            assert_all_done(later.into_iter().map(|(_, actor)| actor).collect());
            assert_eq!(poll_future(joined.as_mut()), Poll::Ready(()));
        }
    }
}
