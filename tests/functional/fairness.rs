//! Scheduling fairness: an actor that is always ready cannot starve others.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};

/// Receives its own messages forever (its inbox is never empty), until told
/// to stop by the flag.
async fn busy(mut ctx: Context<(), ThreadLocal>, stop: Arc<AtomicBool>) {
    let me = ctx.actor_ref();
    me.try_send(()).unwrap();
    while !stop.load(Ordering::SeqCst) {
        ctx.receive_next().await.unwrap();
        me.try_send(()).unwrap();
    }
}

async fn bystander(
    mut ctx: Context<(), ThreadLocal>,
    (stop, out): (Arc<AtomicBool>, mpsc::Sender<()>),
) {
    let _ = ctx.receive_next().await;
    stop.store(true, Ordering::SeqCst);
    out.send(()).unwrap();
}

#[test]
fn always_ready_actor_does_not_starve_others() {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        // The busy actor is spawned (and scheduled) first.
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(busy),
            stop.clone(),
            ActorOptions::default(),
        );
        let other = rt.spawn_local(
            NoSupervisor,
            actor_fn(bystander),
            (stop, tx),
            ActorOptions::default(),
        );
        other.try_send(()).map_err(|err| err.to_string())
    });
    // Without a budget the busy actor would never yield and this would hang.
    runtime.start().unwrap();
    rx.recv().unwrap();
}
