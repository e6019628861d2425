//! Actor priorities: under load a worker runs high-priority actors more
//! often and low-priority ones less often, without starving any, for
//! thread-local and thread-safe actors alike.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, FutureOptions, Priority, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

/// Iterations of the high-priority actor before it stops them all.
const HIGH_ITERATIONS: u64 = 200_000;

struct Busy {
    count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// Stops everyone after this many iterations of its own.
    stop_after: Option<u64>,
}

/// Receives its own messages (its inbox is never empty) until the flag is
/// set, counting them.
async fn busy(mut ctx: Context<(), ThreadLocal>, busy: Busy) {
    let me = ctx.actor_ref();
    me.try_send(()).unwrap();
    while !busy.stop.load(Ordering::SeqCst) {
        ctx.receive_next().await.unwrap();
        let done = busy.count.fetch_add(1, Ordering::Relaxed) + 1;
        if busy.stop_after.is_some_and(|limit| done >= limit) {
            busy.stop.store(true, Ordering::SeqCst);
        }
        me.try_send(()).unwrap();
    }
}

/// Runs three busy processes on one worker, one per priority (low
/// first), each spawned by `spawn`; once the high one made its
/// iterations, checks that the shares went by priority and that the low
/// one was not starved (`what` names the processes).
fn shares_by_priority(what: &str, spawn: fn(&mut RuntimeRef, Priority, Busy)) {
    let stop = Arc::new(AtomicBool::new(false));
    let counts: [Arc<AtomicU64>; 3] = Default::default();
    let priorities = [Priority::Low, Priority::Normal, Priority::High];
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let (stop2, counts2) = (stop.clone(), counts.clone());
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        // Spawned lowest first: without priorities they would run in turn.
        for (priority, count) in priorities.into_iter().zip(counts2) {
            let busy = Busy {
                count,
                stop: stop2.clone(),
                stop_after: (priority == Priority::High).then_some(HIGH_ITERATIONS),
            };
            spawn(&mut rt, priority, busy);
        }
    });
    runtime.start().unwrap();
    let [low, normal, high] = counts.map(|count| count.load(Ordering::Relaxed));
    assert!(high >= HIGH_ITERATIONS, "{high}");
    // Shares of a turn 128 : 64 : 16 (runs of a process's budget each).
    assert!(
        high > normal * 3 / 2 && normal > low * 3,
        "runs of the {what} by priority: high {high}, normal {normal}, low {low}"
    );
    assert!(low > 0, "the low-priority {what} starved");
}

#[test]
fn thread_local_actors_run_in_proportion_to_their_priority() {
    shares_by_priority("actors", |rt, priority, busy_actor| {
        let options = ActorOptions::default().with_priority(priority);
        let _ = rt.spawn_local(NoSupervisor, actor_fn(busy), busy_actor, options);
    });
}

/// Notes its name in the order of first runs.
async fn note(
    _: Context<(), ThreadSafe>,
    (name, order): (&'static str, Arc<Mutex<Vec<&'static str>>>),
) {
    order.lock().unwrap().push(name);
}

#[test]
fn thread_safe_actors_are_taken_by_priority() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let order2 = order.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        // Neither first nor last in spawn order: taken first (or last) by
        // priority only, whether the queue is first-in-first-out or a stack.
        let spawned = [
            ("normal 1", Priority::Normal),
            ("high", Priority::High),
            ("low", Priority::Low),
            ("normal 2", Priority::Normal),
        ];
        for (name, priority) in spawned {
            let options = ActorOptions::default().with_priority(priority);
            let _ = rt.spawn(
                NoSupervisor,
                actor_fn(note),
                (name, order2.clone()),
                options,
            );
        }
    });
    runtime.start().unwrap();
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 4, "{order:?}");
    assert_eq!(order.first(), Some(&"high"), "{order:?}");
    assert_eq!(order.last(), Some(&"low"), "{order:?}");
}

/// Gives way once: wakes itself and returns `Pending` the first time it is
/// polled, so the process goes back to its run queue.
struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Counts its runs, giving way after each, until the flag is set; the one
/// with `stop_after` sets it after that many runs of its own.
async fn busy_future(busy: Busy) {
    while !busy.stop.load(Ordering::SeqCst) {
        let done = busy.count.fetch_add(1, Ordering::Relaxed) + 1;
        if busy.stop_after.is_some_and(|limit| done >= limit) {
            busy.stop.store(true, Ordering::SeqCst);
        }
        YieldNow(false).await;
    }
}

#[test]
fn thread_local_futures_run_in_proportion_to_their_priority() {
    shares_by_priority("futures", |rt, priority, busy| {
        let options = FutureOptions::default().with_priority(priority);
        rt.spawn_local_future(busy_future(busy), options);
    });
}

#[test]
fn thread_safe_futures_are_taken_by_priority() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let order2 = order.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        // Neither first nor last in spawn order: taken first (or last) by
        // priority only, whether the queue is first-in-first-out or a stack.
        let spawned = [
            ("normal 1", Priority::Normal),
            ("high", Priority::High),
            ("low", Priority::Low),
            ("normal 2", Priority::Normal),
        ];
        for (name, priority) in spawned {
            let order = order2.clone();
            let options = FutureOptions::default().with_priority(priority);
            rt.spawn_future(async move { order.lock().unwrap().push(name) }, options);
        }
    });
    runtime.start().unwrap();
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 4, "{order:?}");
    assert_eq!(order.first(), Some(&"high"), "{order:?}");
    assert_eq!(order.last(), Some(&"low"), "{order:?}");
}

#[test]
fn future_options_default_to_normal_priority() {
    assert_eq!(FutureOptions::default().priority(), Priority::Normal);
    let options = FutureOptions::default().with_priority(Priority::High);
    assert_eq!(options.priority(), Priority::High);
}
