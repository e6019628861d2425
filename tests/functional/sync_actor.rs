//! Sync actors: blocking code on a thread of its own.

use std::sync::mpsc;

use hearth::actor::{Context, SyncContext, actor_fn};
use hearth::actor_ref::RpcMessage;
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal};

fn squarer(mut ctx: SyncContext<RpcMessage<u64, u64>>) {
    while let Ok(msg) = ctx.receive_next() {
        // Blocking work is fine here.
        std::thread::yield_now();
        let _ = msg.handle(|n| n * n);
    }
}

async fn driver(
    _: Context<(), ThreadLocal>,
    (squarer, out): (ActorRef<RpcMessage<u64, u64>>, mpsc::Sender<u64>),
) {
    for n in 1..=10 {
        out.send(squarer.rpc(n).await.unwrap()).unwrap();
    }
}

#[test]
fn thread_local_actor_drives_sync_actor() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let squarer = runtime
        .spawn_sync_actor(NoSupervisor, actor_fn(squarer), (), ActorOptions::default())
        .unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(driver),
            (squarer, tx),
            ActorOptions::default(),
        );
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    assert_eq!(
        rx.iter().collect::<Vec<_>>(),
        (1..=10).map(|n| n * n).collect::<Vec<_>>()
    );
}

fn finishes_at_once(_: SyncContext<()>, done: mpsc::Sender<()>) {
    done.send(()).unwrap();
}

/// A sync actor that is done before the coordinator registered its pipe is
/// still joined (start does not hang).
#[test]
fn sync_actor_finished_before_start_is_noticed() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let actor_ref = runtime
        .spawn_sync_actor(
            NoSupervisor,
            actor_fn(finishes_at_once),
            tx,
            ActorOptions::default(),
        )
        .unwrap();
    rx.recv().unwrap();
    crate::block_on(actor_ref.join());
    runtime.start().unwrap();
}

fn echo_back(mut ctx: SyncContext<(u32, ActorRef<u32>)>) -> Result<(), String> {
    while let Ok((n, reply)) = ctx.receive_next() {
        // `block_on` lets a sync actor use the async API (back-pressure).
        ctx.block_on(reply.send(n + 1))
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

async fn ping(
    mut ctx: Context<u32, ThreadLocal>,
    (echo, out): (ActorRef<(u32, ActorRef<u32>)>, mpsc::Sender<u32>),
) {
    echo.send((1, ctx.actor_ref())).await.unwrap();
    let reply = ctx.receive_next().await.unwrap();
    out.send(reply).unwrap();
}

#[test]
fn sync_actor_sends_with_block_on() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let echo = runtime
        .spawn_sync_actor(
            NoSupervisor,
            actor_fn(echo_back),
            (),
            ActorOptions::default(),
        )
        .unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(ping),
            (echo, tx),
            ActorOptions::default(),
        );
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    assert_eq!(rx.recv().unwrap(), 2);
}
