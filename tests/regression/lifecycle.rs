//! Runtime lifecycle bugs found in review: hangs after the first error,
//! workers leaving while sync actors could still spawn work, a broken
//! registry after the runtime ended, leaks of a dropped runtime, and an
//! overflowing grace period.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use hearth::FutureOptions;
use hearth::actor::{Context, SyncContext, actor_fn};
use hearth::actor_ref::RpcMessage;
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, Signal, ThreadSafe};

/// Runs `f` on a thread; `None` if it did not finish within the guard (a
/// hang: the bug).
fn within_guard<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    let _ = thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20)).ok()
}

fn sync_loop(mut ctx: SyncContext<u64>) {
    while ctx.receive_next().is_ok() {}
}

async fn holds_ref(mut ctx: Context<(), ThreadSafe>, _sync: ActorRef<u64>) {
    while ctx.receive_next().await.is_ok() {}
}

/// The first error stopped the workers only: a sync actor referenced by a
/// thread-safe actor kept `start` waiting forever.
#[test]
fn first_error_with_referenced_sync_actor_does_not_hang() {
    let result = within_guard(|| {
        let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
        let sync_ref = runtime
            .spawn_sync_actor(
                NoSupervisor,
                actor_fn(sync_loop),
                (),
                ActorOptions::default(),
            )
            .unwrap();
        let holder = runtime.spawn(
            NoSupervisor,
            actor_fn(holds_ref),
            sync_ref,
            ActorOptions::default(),
        );
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            if rt.worker_id() == 2 {
                return Err("worker 2 setup failed".to_owned());
            }
            let holder = holder.clone();
            rt.spawn_local_future(
                async move {
                    let _keep = holder;
                    std::future::pending::<()>().await;
                },
                FutureOptions::default(),
            );
            Ok(())
        });
        runtime.start().map_err(|err| err.to_string())
    });
    assert_eq!(
        result,
        Some(Err(
            "error running function on worker thread 2: worker 2 setup failed".to_owned()
        ))
    );
}

#[derive(Debug)]
struct SignalMsg(#[allow(dead_code)] Signal);

impl From<Signal> for SignalMsg {
    fn from(signal: Signal) -> SignalMsg {
        SignalMsg(signal)
    }
}

fn sync_signal_loop(mut ctx: SyncContext<SignalMsg>) {
    while ctx.receive_next().is_ok() {}
}

/// Same with the reference held by the runtime's signal receivers.
#[test]
fn worker_panic_with_signal_receiving_sync_actor_does_not_hang() {
    let result = within_guard(|| {
        let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
        let sync_ref = runtime
            .spawn_sync_actor(
                NoSupervisor,
                actor_fn(sync_signal_loop),
                (),
                ActorOptions::default(),
            )
            .unwrap();
        runtime.receive_signals(sync_ref);
        runtime.inject_worker_panic(1, "boom");
        runtime.start().map_err(|err| err.to_string())
    });
    assert_eq!(
        result,
        Some(Err("worker thread 1 panicked: boom".to_owned()))
    );
}

async fn doubler(mut ctx: Context<RpcMessage<u64, u64>, ThreadSafe>) {
    while let Ok(msg) = ctx.receive_next().await {
        let _ = msg.handle(|n| n * 2);
    }
}

/// Spawns a thread-safe actor once the runtime has started (and its only
/// worker has nothing to do), then calls it.
fn late_spawner(mut ctx: SyncContext<()>, rt: ThreadSafe) -> Result<(), String> {
    // The coordinator's clock is set when `start` begins.
    while rt.metrics().cpu_time.is_none() {
        thread::yield_now();
    }
    let doubler = rt.spawn(NoSupervisor, actor_fn(doubler), (), ActorOptions::default());
    let answer = ctx
        .block_on(doubler.rpc(21u64))
        .map_err(|err| err.to_string())?;
    if answer == 42 {
        Ok(())
    } else {
        Err(format!("wrong answer {answer}"))
    }
}

/// Workers used to stop once they had no actors, even while a sync actor
/// could still spawn thread-safe ones, which then never ran.
#[test]
fn sync_actor_spawning_after_start_is_served() {
    let result = within_guard(|| {
        let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
        let rt = runtime.thread_safe();
        let _ = runtime
            .spawn_sync_actor(
                NoSupervisor,
                actor_fn(late_spawner),
                rt,
                ActorOptions::default(),
            )
            .unwrap();
        runtime.start().map_err(|err| err.to_string())
    });
    assert_eq!(result, Some(Ok(())));
}

async fn quick(_: Context<u64, ThreadSafe>) {}

/// Spawning through a `ThreadSafe` handle after the runtime ended panicked
/// (stale registry index) or left an actor that never ran nor stopped.
#[test]
fn spawn_after_the_runtime_ended_reports_stopped() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let rt = runtime.thread_safe();
    let _ = runtime.spawn(NoSupervisor, actor_fn(quick), (), ActorOptions::default());
    runtime.start().unwrap();
    for _ in 0..2 {
        let late = rt.spawn(NoSupervisor, actor_fn(quick), (), ActorOptions::default());
        assert!(late.is_stopped());
        assert!(late.try_send(1u64).unwrap_err().is_stopped());
    }
}

async fn waiter(mut ctx: Context<u64, ThreadSafe>) {
    while ctx.receive_next().await.is_ok() {}
}

/// A runtime dropped without `start` leaked its thread-safe actors: their
/// inboxes never closed, so `join` never returned.
#[test]
fn dropped_runtime_stops_its_thread_safe_actors() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let actor_ref = runtime.spawn(NoSupervisor, actor_fn(waiter), (), ActorOptions::default());
    drop(runtime);
    assert!(actor_ref.is_stopped());
}

/// `Duration::MAX` as grace period ("no limit") overflowed an `Instant`.
#[test]
fn grace_period_max_means_no_limit() {
    let result = within_guard(|| {
        let runtime = Runtime::setup()
            .num_threads(1)
            .grace_period(Duration::MAX)
            .build()
            .unwrap();
        runtime.thread_safe().shutdown();
        runtime.start().map_err(|err| err.to_string())
    });
    assert_eq!(result, Some(Ok(())));
}

/// A worker function holding the only other reference to a sync actor is
/// dropped once it ran (on every worker): the sync actor's receive loop
/// then ends and `start` returns (Heph's issue 294).
#[test]
fn worker_functions_are_dropped_after_they_ran() {
    let done = within_guard(|| {
        let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
        let sync = runtime
            .spawn_sync_actor(
                NoSupervisor,
                actor_fn(sync_loop),
                (),
                ActorOptions::default(),
            )
            .unwrap();
        runtime.run_on_workers(move |_: RuntimeRef| sync.try_send(1u64));
        runtime.start()
    });
    done.expect("start hung: a worker function kept the sync actor's reference")
        .unwrap();
}
