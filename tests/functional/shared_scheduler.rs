//! The scheduler of thread-safe actors: a task made ready on a worker runs
//! next on that worker (its LIFO slot), but a pair of actors that keep
//! waking each other cannot starve the others, and work queued behind a
//! blocked worker is taken by an idle one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, ThreadSafe};

/// Last guard against a hang; the tests never wait this long when they pass.
const LIMIT: Duration = Duration::from_mins(1);

/// Exchanges in the ping-pong before the bystander is woken.
const WARM_UP: u64 = 1_000;

/// A ball of the ping-pong: its count, who to return it to, and where to
/// report once the count reaches [`WARM_UP`].
struct Ball {
    count: u64,
    from: ActorRef<Ball>,
    report: Option<mpsc::Sender<()>>,
}

/// One side of an endless ping-pong: returns every ball with the count
/// plus one, until `stop` is set. Neither side keeps a reference to itself,
/// so once one side stops the other learns that no ball can come.
async fn side(mut ctx: Context<Ball, ThreadSafe>, stop: Arc<AtomicBool>) {
    while let Ok(ball) = ctx.receive_next().await {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let mut report = ball.report;
        if ball.count >= WARM_UP
            && let Some(report) = report.take()
        {
            let _ = report.send(());
        }
        let next = Ball {
            count: ball.count + 1,
            from: ctx.actor_ref(),
            report,
        };
        if ball.from.send(next).await.is_err() {
            return;
        }
    }
}

/// Sets `stop` when it gets its one message.
async fn bystander(
    mut ctx: Context<(), ThreadSafe>,
    (stop, done): (Arc<AtomicBool>, mpsc::Sender<()>),
) {
    if ctx.receive_next().await.is_ok() {
        stop.store(true, Ordering::SeqCst);
        let _ = done.send(());
    }
}

/// Starts the ping-pong on the worker's thread, so the pair wake each
/// other through the worker's LIFO slot.
async fn start_pair(
    mut ctx: Context<(), ThreadSafe>,
    (stop, warm): (Arc<AtomicBool>, mpsc::Sender<()>),
) {
    let a = ctx.runtime().spawn(
        NoSupervisor,
        actor_fn(side),
        stop.clone(),
        ActorOptions::default(),
    );
    let b = ctx
        .runtime()
        .spawn(NoSupervisor, actor_fn(side), stop, ActorOptions::default());
    let ball = Ball {
        count: 0,
        from: b,
        report: Some(warm),
    };
    let _ = a.send(ball).await;
}

#[test]
fn waking_pair_does_not_starve_a_task_woken_elsewhere() {
    let stop = Arc::new(AtomicBool::new(false));
    let (warm_tx, warm_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(start_pair),
        (stop.clone(), warm_tx),
        ActorOptions::default(),
    );
    let bystander = runtime.spawn(
        NoSupervisor,
        actor_fn(bystander),
        (stop.clone(), done_tx),
        ActorOptions::default(),
    );
    let waker = std::thread::spawn(move || {
        warm_rx
            .recv_timeout(LIMIT)
            .expect("the ping-pong never warmed up");
        // From a thread outside the runtime, while the pair keeps the
        // worker's LIFO slot busy.
        bystander.try_send(()).expect("bystander gone");
        let outcome = done_rx.recv_timeout(LIMIT);
        // Ends the pair (and so the runtime) if the bystander never ran.
        stop.store(true, Ordering::SeqCst);
        outcome
    });
    runtime.start().unwrap();
    waker
        .join()
        .unwrap()
        .expect("the bystander never ran while the pair ping-ponged");
}

/// Spawns a helper (queued on this worker) and then blocks this worker's
/// thread until the helper has run, which only another worker can do.
async fn blocker(mut ctx: Context<(), ThreadSafe>, result: mpsc::Sender<Result<(), String>>) {
    let (ran_tx, ran_rx) = mpsc::channel();
    ctx.runtime().spawn_future(async move {
        let _ = ran_tx.send(());
    });
    // A second spawn moves the first out of the LIFO slot into the
    // worker's queue, where it can be stolen.
    ctx.runtime().spawn_future(async {});
    let outcome = ran_rx
        .recv_timeout(LIMIT)
        .map_err(|_| "the helper queued behind a blocked worker never ran".to_owned());
    let _ = result.send(outcome);
}

#[test]
fn idle_worker_steals_from_a_blocked_one() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let _ = runtime.spawn(NoSupervisor, actor_fn(blocker), tx, ActorOptions::default());
    runtime.start().unwrap();
    rx.recv().unwrap().unwrap();
}
