//! Actor groups: delivery to all and to one.

use std::sync::mpsc;

use hearth::FutureOptions;
use hearth::actor::{SyncContext, actor_fn};
use hearth::actor_ref::TrySendError;
use hearth::supervisor::NoSupervisor;
use hearth::{ActorGroup, ActorOptions, Delivery, Runtime};

use crate::block_on;

fn collector(mut ctx: SyncContext<u32>, (id, out): (usize, mpsc::Sender<(usize, u32)>)) {
    while let Ok(msg) = ctx.receive_next() {
        out.send((id, msg)).unwrap();
    }
}

#[test]
fn to_all_and_round_robin_to_one() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let mut group = ActorGroup::empty();
    assert!(group.is_empty());
    assert!(matches!(
        group.try_send(0, Delivery::ToOne),
        Err(TrySendError::Stopped(0))
    ));
    for id in 0..3 {
        let actor_ref = runtime
            .spawn_sync_actor(
                NoSupervisor,
                actor_fn(collector),
                (id, tx.clone()),
                ActorOptions::default(),
            )
            .unwrap();
        group.add_unique(actor_ref.clone());
        group.add_unique(actor_ref); // Not added twice.
    }
    drop(tx);
    assert_eq!(group.len(), 3);
    group.try_send(100, Delivery::ToAll).unwrap();
    for n in 0..6 {
        group.try_send(n, Delivery::ToOne).unwrap();
    }
    assert_eq!(block_on(group.send_to_all(200)).unwrap(), 3);
    drop(group);
    runtime.start().unwrap();
    let mut per_actor = vec![Vec::new(); 3];
    for (id, msg) in rx {
        per_actor[id].push(msg);
    }
    // Each got the broadcasts and two of the round-robin messages.
    for (id, msgs) in per_actor.iter().enumerate() {
        assert_eq!(msgs.len(), 4, "actor {id}: {msgs:?}");
        assert_eq!(msgs[0], 100);
        assert_eq!(msgs[3], 200);
    }
    let mut one: Vec<u32> = per_actor.iter().flat_map(|m| m[1..3].to_vec()).collect();
    one.sort_unstable();
    assert_eq!(one, [0, 1, 2, 3, 4, 5]);
}

fn stop_now(_: SyncContext<u32>) {}

#[test]
fn to_one_skips_stopped_members_and_remove_stopped() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let stopped = runtime
        .spawn_sync_actor(
            NoSupervisor,
            actor_fn(stop_now),
            (),
            ActorOptions::default(),
        )
        .unwrap();
    let alive = runtime
        .spawn_sync_actor(
            NoSupervisor,
            actor_fn(collector),
            (1, tx),
            ActorOptions::default(),
        )
        .unwrap();
    block_on(stopped.join());
    let mut group = ActorGroup::new([stopped.clone(), alive.clone()]);
    for n in 0..4 {
        group.try_send(n, Delivery::ToOne).unwrap();
    }
    group.remove_stopped();
    assert_eq!(group.actor_refs(), std::slice::from_ref(&alive));
    group.remove(&alive);
    assert!(group.is_empty());
    drop((group, alive, stopped));
    runtime.start().unwrap();
    assert_eq!(rx.iter().map(|(_, n)| n).collect::<Vec<_>>(), [0, 1, 2, 3]);
}

/// A wrapper message, so a mapped reference has something to convert.
struct Wrapped(u32);

impl From<Wrapped> for u32 {
    fn from(wrapped: Wrapped) -> u32 {
        wrapped.0
    }
}

/// Groups are built from iterators, extended, made unique over mapped
/// references too, and members are removed by the actor they reach.
#[test]
fn collect_extend_unique_and_remove_by_actor() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let actors: Vec<_> = (0..3)
        .map(|id| {
            runtime
                .spawn_sync_actor(
                    NoSupervisor,
                    actor_fn(collector),
                    (id, tx.clone()),
                    ActorOptions::default(),
                )
                .unwrap()
        })
        .collect();
    drop(tx);
    // A mapped reference sends to the actor it was made from.
    let mapped: hearth::ActorRef<Wrapped> = actors[0].clone().map();
    assert!(mapped.sends_to(&actors[0]));
    assert!(actors[0].sends_to(&mapped));
    assert!(!mapped.sends_to(&actors[1]));
    let mut group: ActorGroup<u32> = actors.iter().cloned().collect();
    group.extend([actors[0].clone(), actors[1].clone()]);
    assert_eq!(group.len(), 5);
    group.make_unique();
    assert_eq!(group.len(), 3);
    group.add_unique(actors[2].clone());
    assert_eq!(group.len(), 3);
    group.remove(&actors[1]);
    assert_eq!(group.len(), 2);
    group.try_send(7, Delivery::ToAll).unwrap();
    mapped.try_send(Wrapped(8)).unwrap();
    drop((group, actors, mapped));
    runtime.start().unwrap();
    let mut got: Vec<(usize, u32)> = rx.iter().collect();
    got.sort_unstable();
    assert_eq!(got, [(0, 7), (0, 8), (2, 7)]);
}

/// Answers each request with twice its number.
async fn doubler(
    mut ctx: hearth::actor::Context<hearth::actor_ref::RpcMessage<u32, u32>, hearth::ThreadSafe>,
) {
    while let Ok(msg) = ctx.receive_next().await {
        let _ = msg.handle(|n| n * 2);
    }
}

/// An rpc to every member gathers their answers in the members' order; a
/// member that stopped answers with an error.
#[test]
fn rpc_to_every_member_gathers_the_answers() {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let mut group: ActorGroup<_> = (0..3)
        .map(|_| runtime.spawn(NoSupervisor, actor_fn(doubler), (), ActorOptions::default()))
        .collect();
    let stopped = runtime
        .spawn_sync_actor(
            NoSupervisor,
            actor_fn(stop_now),
            (),
            ActorOptions::default(),
        )
        .unwrap();
    block_on(stopped.join());
    // A member of another message type through a mapping that never
    // converts: it reports the rpc's failure, not a panic.
    group.add(stopped.try_map_fn(|_| Err(())));
    let (tx, rx) = mpsc::channel();
    runtime.spawn_future(
        async move {
            tx.send(group.rpc(21u32).await).unwrap();
        },
        FutureOptions::default(),
    );
    runtime.start().unwrap();
    let answers = rx.recv().unwrap();
    assert_eq!(answers.len(), 4);
    assert!(answers[..3].iter().all(|a| *a == Ok(42)), "{answers:?}");
    assert!(answers[3].is_err(), "{answers:?}");
}
