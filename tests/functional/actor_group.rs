//! Actor groups: delivery to all and to one.

use std::sync::mpsc;

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
