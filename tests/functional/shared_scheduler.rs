//! The scheduler of thread-safe actors: a task made ready on a worker runs
//! next on that worker (its LIFO slot), but a pair of actors that keep
//! waking each other cannot starve the others, and work queued behind a
//! blocked worker is taken by an idle one. New actors run newest first, so
//! a tree of actors is walked depth first, yet a stream of new actors
//! cannot starve one woken earlier.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use hearth::FutureOptions;
use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

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
async fn bystander<RT>(
    mut ctx: Context<(), RT>,
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
    ctx.runtime().spawn_future(
        async move {
            let _ = ran_tx.send(());
        },
        FutureOptions::default(),
    );
    // A second spawn moves the first out of the LIFO slot into the
    // worker's queue, where it can be stolen.
    ctx.runtime()
        .spawn_future(async {}, FutureOptions::default());
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

/// Counts the nodes of a tree alive at once: spawned and not yet done.
#[derive(Default)]
struct Alive {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Alive {
    fn spawned(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn done(&self) {
        let _ = self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Children per node of the tree.
const FANOUT: u64 = 10;

/// A node's argument: leaves below it, the count of nodes alive, its
/// parent (none at the root) and where the root reports the sum.
type NodeArg = (
    u64,
    Arc<Alive>,
    Option<ActorRef<u64>>,
    Option<mpsc::Sender<u64>>,
);

/// A link's argument: its number, the stop flag and the actors link
/// [`WARM_UP`] wakes.
type LinkArg = (u64, Arc<AtomicBool>, ActorRef<()>, ActorRef<()>);

/// A node of a tree of `size` leaves: spawns its children, sums what they
/// send and sends the sum up (to `up`, or to the test at the root).
async fn node(mut ctx: Context<u64, ThreadSafe>, (size, alive, up, root): NodeArg) {
    let sum = if size == 1 {
        1
    } else {
        for _ in 0..FANOUT {
            alive.spawned();
            let child = (size / FANOUT, alive.clone(), Some(ctx.actor_ref()), None);
            spawn_node(ctx.runtime(), child);
        }
        let mut sum = 0;
        for _ in 0..FANOUT {
            sum += ctx.receive_next().await.unwrap_or(0);
        }
        sum
    };
    alive.done();
    if let Some(up) = up {
        let _ = up.send(sum).await;
    }
    if let Some(root) = root {
        let _ = root.send(sum);
    }
}

/// Spawns a node (outside `node`: proving that function's future `Send`
/// inside its own body is a cycle for rustc).
fn spawn_node(rt: &ThreadSafe, arg: NodeArg) {
    let _ = rt.spawn(NoSupervisor, actor_fn(node), arg, ActorOptions::default());
}

#[test]
fn a_tree_of_actors_is_walked_depth_first() {
    // 10,000 leaves, 11,111 nodes. Walked breadth first, every leaf would
    // be alive at once; depth first, about a path's worth of siblings,
    // and a few subtrees more (the oldest new actor is taken now and then,
    // so that none waits for ever): under 300.
    let alive = Arc::new(Alive::default());
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    alive.spawned();
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(node),
        (10_000, alive.clone(), None, Some(tx)),
        ActorOptions::default(),
    );
    runtime.start().unwrap();
    assert_eq!(rx.recv_timeout(LIMIT), Ok(10_000));
    let most = alive.most.load(Ordering::SeqCst);
    assert!(most <= 1_000, "{most} nodes alive at once");
}

/// A thread-local node, as [`node`].
async fn local_node(mut ctx: Context<u64, ThreadLocal>, (size, alive, up, root): NodeArg) {
    let sum = if size == 1 {
        1
    } else {
        for _ in 0..FANOUT {
            alive.spawned();
            let child = (size / FANOUT, alive.clone(), Some(ctx.actor_ref()), None);
            let _ = ctx.runtime().spawn_local(
                NoSupervisor,
                actor_fn(local_node),
                child,
                ActorOptions::default(),
            );
        }
        let mut sum = 0;
        for _ in 0..FANOUT {
            sum += ctx.receive_next().await.unwrap_or(0);
        }
        sum
    };
    alive.done();
    if let Some(up) = up {
        let _ = up.send(sum).await;
    }
    if let Some(root) = root {
        let _ = root.send(sum);
    }
}

#[test]
fn a_tree_of_thread_local_actors_is_walked_depth_first() {
    let alive = Arc::new(Alive::default());
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    alive.spawned();
    let root = (10_000, alive.clone(), None, Some(tx));
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(local_node),
            root.clone(),
            ActorOptions::default(),
        );
        Ok::<(), String>(())
    });
    runtime.start().unwrap();
    assert_eq!(rx.recv_timeout(LIMIT), Ok(10_000));
    let most = alive.most.load(Ordering::SeqCst);
    // Breadth first: 11,111. A thread-local parent woken by its children
    // waits in the worker's queue behind up to a run's budget of new
    // actors, so more subtrees are open at once than on the thread-safe
    // side (whose woken parents take the LIFO slot): about 1,100.
    assert!(most <= 3_000, "{most} nodes alive at once");
}

/// A link of an endless chain of new actors: each spawns the next and
/// ends, until `stop`. Link [`WARM_UP`] wakes `a` and then `b` from the
/// worker's thread: `b` takes the LIFO slot and `a` goes to the worker's
/// queue, below the chain's new links.
async fn link(mut ctx: Context<(), ThreadSafe>, (count, stop, a, b): LinkArg) {
    if stop.load(Ordering::SeqCst) {
        return;
    }
    if count == WARM_UP {
        let _ = a.try_send(());
        let _ = b.try_send(());
    }
    spawn_link(ctx.runtime(), (count + 1, stop, a, b));
}

/// Spawns a link (outside `link`, as `spawn_node`).
fn spawn_link(rt: &ThreadSafe, arg: LinkArg) {
    let _ = rt.spawn(NoSupervisor, actor_fn(link), arg, ActorOptions::default());
}

/// Ends at its one message.
async fn take_one<RT>(mut ctx: Context<(), RT>) {
    let _ = ctx.receive_next().await;
}

#[test]
fn a_stream_of_new_actors_does_not_starve_one_woken_earlier() {
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let a = runtime.spawn(
        NoSupervisor,
        actor_fn(bystander),
        (stop.clone(), done_tx),
        ActorOptions::default(),
    );
    let b = runtime.spawn(
        NoSupervisor,
        actor_fn(take_one),
        (),
        ActorOptions::default(),
    );
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(link),
        (0, stop.clone(), a, b),
        ActorOptions::default(),
    );
    let watcher = std::thread::spawn(move || {
        let outcome = done_rx.recv_timeout(LIMIT);
        // Ends the chain (and so the runtime) if the woken actor never ran.
        stop.store(true, Ordering::SeqCst);
        outcome
    });
    runtime.start().unwrap();
    watcher
        .join()
        .unwrap()
        .expect("the actor woken before the chain's new links never ran");
}

/// A thread-local link, as [`link`]; link [`WARM_UP`] wakes `a` (queued
/// on the worker behind the chain's new links) and the unused `b`.
async fn local_link(mut ctx: Context<(), ThreadLocal>, (count, stop, a, b): LinkArg) {
    if stop.load(Ordering::SeqCst) {
        return;
    }
    if count == WARM_UP {
        let _ = a.try_send(());
    }
    let next = (count + 1, stop, a, b);
    let _ = ctx.runtime().spawn_local(
        NoSupervisor,
        actor_fn(local_link),
        next,
        ActorOptions::default(),
    );
}

#[test]
fn a_stream_of_new_thread_local_actors_does_not_starve_one_woken_earlier() {
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let chain_stop = stop.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let a = rt.spawn_local(
            NoSupervisor,
            actor_fn(bystander),
            (chain_stop.clone(), done_tx.clone()),
            ActorOptions::default(),
        );
        let b = rt.spawn_local(
            NoSupervisor,
            actor_fn(take_one),
            (),
            ActorOptions::default(),
        );
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(local_link),
            (0, chain_stop.clone(), a, b),
            ActorOptions::default(),
        );
        Ok::<(), String>(())
    });
    let watcher = std::thread::spawn(move || {
        let outcome = done_rx.recv_timeout(LIMIT);
        stop.store(true, Ordering::SeqCst);
        outcome
    });
    runtime.start().unwrap();
    watcher
        .join()
        .unwrap()
        .expect("the actor woken before the chain's new links never ran");
}

/// Receives its one message and counts itself done.
async fn one_message(mut ctx: Context<u64, ThreadLocal>, alive: Arc<Alive>) {
    let _ = ctx.receive_next().await;
    alive.done();
}

#[test]
fn actors_spawned_in_a_loop_do_not_all_wait_at_once() {
    // A future spawns 20,000 actors one after the other and sends each a
    // message; every run it makes up to a budget's worth. Those must run
    // about as fast as they are made: a spawner that got its turn back
    // after every few new actors had nearly all of them waiting at once.
    let alive = Arc::new(Alive::default());
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let counted = alive.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let mut spawner = rt.clone();
        let (alive, tx) = (counted.clone(), tx.clone());
        rt.spawn_local_future(
            async move {
                for i in 0..20_000_u64 {
                    alive.spawned();
                    let actor = spawner.spawn_local(
                        NoSupervisor,
                        actor_fn(one_message),
                        alive.clone(),
                        ActorOptions::default(),
                    );
                    actor.send(i).await.unwrap();
                }
                let _ = tx.send(());
            },
            FutureOptions::default(),
        );
        Ok::<(), String>(())
    });
    runtime.start().unwrap();
    assert_eq!(rx.recv_timeout(LIMIT), Ok(()));
    let most = alive.most.load(Ordering::SeqCst);
    assert!(most <= 2_000, "{most} actors waiting at once");
}
