//! Actor priorities: under load a worker runs high-priority actors more
//! often and low-priority ones less often, without starving any, for
//! thread-local and thread-safe actors alike.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Priority, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

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

#[test]
fn thread_local_actors_run_in_proportion_to_their_priority() {
    let stop = Arc::new(AtomicBool::new(false));
    let counts: [Arc<AtomicU64>; 3] = Default::default();
    let priorities = [Priority::Low, Priority::Normal, Priority::High];
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let (stop2, counts2) = (stop.clone(), counts.clone());
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        // Spawned lowest first: without priorities they would run in turn.
        for (priority, count) in priorities.into_iter().zip(counts2) {
            let busy_actor = Busy {
                count,
                stop: stop2.clone(),
                stop_after: (priority == Priority::High).then_some(HIGH_ITERATIONS),
            };
            let options = ActorOptions::default().with_priority(priority);
            let _ = rt.spawn_local(NoSupervisor, actor_fn(busy), busy_actor, options);
        }
    });
    runtime.start().unwrap();
    let [low, normal, high] = counts.map(|count| count.load(Ordering::Relaxed));
    assert!(high >= HIGH_ITERATIONS, "{high}");
    // Shares of a turn 128 : 64 : 16 (runs of a process's budget each).
    assert!(
        high > normal * 3 / 2 && normal > low * 3,
        "iterations by priority: high {high}, normal {normal}, low {low}"
    );
    assert!(low > 0, "the low-priority actor starved");
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
        let spawned = [
            ("low", Priority::Low),
            ("normal 1", Priority::Normal),
            ("normal 2", Priority::Normal),
            ("high", Priority::High),
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
