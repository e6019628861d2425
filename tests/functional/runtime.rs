//! Building, starting and stopping a runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use hearth::FutureOptions;
use hearth::actor::{Context, NewActor, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Runtime, RuntimeRef, Setup, Spawn, ThreadLocal, ThreadSafe};

#[test]
fn zero_threads_is_an_error() {
    let err = Runtime::setup().num_threads(0).build().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("at least 1, got 0"), "{msg}");
}

#[test]
fn too_many_threads_is_an_error() {
    let err = Runtime::setup()
        .num_threads(Setup::MAX_THREADS + 1)
        .build()
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("at most {}", Setup::MAX_THREADS)),
        "{msg}"
    );
}

#[test]
fn setup_options() {
    let setup = Runtime::setup()
        .use_all_cores()
        .auto_cpu_affinity()
        .name("named");
    assert!(setup.get_threads() >= 1);
    let runtime = setup.build().unwrap();
    assert_eq!(runtime.name(), "named");
    // Nothing spawned: start returns at once.
    runtime.start().unwrap();
}

/// The CPUs the calling thread may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: all zeroes is the empty `cpu_set_t`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is valid for writes of the
    // size passed, its own.
    let res = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &raw mut set) };
    assert_eq!(
        res,
        0,
        "sched_getaffinity: {}",
        std::io::Error::last_os_error()
    );
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: every index is below `CPU_SETSIZE`.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Restricts the calling thread to `cpus`.
fn restrict_to(cpus: &[usize]) {
    // SAFETY: all zeroes is the empty `cpu_set_t`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: every index is an allowed CPU, so below `CPU_SETSIZE`:
        // `CPU_SET` writes inside `set`.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; `set` is initialised and the
    // size passed is its own.
    let res = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set) };
    assert_eq!(
        res,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn auto_cpu_affinity_pins_workers_to_the_allowed_cpus() {
    // On a thread of its own, restricted as `taskset -c` would restrict a
    // program: to the last allowed CPU (not CPU 0 where there are two or
    // more), and then to all but the first. (With a single CPU this only
    // shows that the workers are pinned to it.)
    std::thread::spawn(|| {
        let all = allowed_cpus();
        let last = *all.last().unwrap();
        for allowed in [vec![last], all[all.len().min(2) - 1..].to_vec()] {
            restrict_to(&allowed);
            let (tx, rx) = mpsc::channel();
            let mut runtime = Runtime::setup()
                .num_threads(3)
                .auto_cpu_affinity()
                .build()
                .unwrap();
            runtime.run_on_workers(move |rt: RuntimeRef| {
                tx.send((rt.worker_id(), allowed_cpus())).unwrap();
                Ok::<(), String>(())
            });
            runtime.start().unwrap();
            let mut pinned: Vec<_> = rx.iter().collect();
            pinned.sort();
            let expected: Vec<_> = (0..3)
                .map(|i| (i + 1, vec![allowed[i % allowed.len()]]))
                .collect();
            assert_eq!(pinned, expected, "allowed: {allowed:?}");
        }
    })
    .join()
    .unwrap();
}

#[test]
fn dropping_an_unstarted_runtime_stops_its_workers() {
    let runtime = Runtime::setup().num_threads(2).build().unwrap();
    drop(runtime); // Must not hang.
}

async fn count_messages(mut ctx: Context<usize, ThreadLocal>, total: Arc<AtomicUsize>) {
    while let Ok(n) = ctx.receive_next().await {
        let _ = total.fetch_add(n, Ordering::SeqCst);
    }
}

#[test]
fn start_returns_when_all_actors_are_done() {
    let total = Arc::new(AtomicUsize::new(0));
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let t = total.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let actor_ref = rt.spawn_local(
            NoSupervisor,
            actor_fn(count_messages),
            t,
            ActorOptions::default(),
        );
        actor_ref
            .try_send(rt.worker_id())
            .map_err(|err| err.to_string())
    });
    runtime.start().unwrap();
    // Worker ids 1 and 2.
    assert_eq!(total.load(Ordering::SeqCst), 3);
}

#[test]
fn run_on_workers_error_is_returned_by_start() {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    runtime.run_on_workers(|rt: RuntimeRef| {
        if rt.worker_id() == 2 {
            Err("no database")
        } else {
            Ok(())
        }
    });
    let err = runtime.start().unwrap_err();
    assert_eq!(
        err.to_string(),
        "error running function on worker thread 2: no database"
    );
}

/// The function's own error type, kept as the runtime error's source.
#[derive(Debug)]
struct NoDatabase;

impl std::fmt::Display for NoDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no database at db:5432")
    }
}

impl std::error::Error for NoDatabase {}

#[test]
fn run_on_workers_error_of_any_type_is_the_source() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    runtime.run_on_workers(|_: RuntimeRef| -> Result<(), NoDatabase> { Err(NoDatabase) });
    let err = runtime.start().unwrap_err();
    let source = std::error::Error::source(&err).expect("the function's error");
    assert!(source.downcast_ref::<NoDatabase>().is_some(), "{source}");
    assert_eq!(
        err.to_string(),
        "error running function on worker thread 1: no database at db:5432"
    );
}

#[test]
fn worker_panic_outside_actors_is_an_error_not_a_hang() {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    // Keep the runtime busy with an actor that never stops by itself: it
    // holds a reference to itself.
    runtime.run_on_workers(|mut rt: RuntimeRef| {
        let _ = rt.spawn_local(NoSupervisor, actor_fn(forever), (), ActorOptions::default());
        Ok::<_, String>(())
    });
    runtime.inject_worker_panic(1, "injected failure");
    let err = runtime.start().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(
        err.to_string(),
        "worker thread 1 panicked: injected failure"
    );
}

async fn forever(mut ctx: Context<(), ThreadLocal>) {
    let _self_ref = ctx.actor_ref();
    while ctx.receive_next().await.is_ok() {}
}

#[test]
fn actor_panic_does_not_take_down_the_worker() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(panicker),
            (),
            ActorOptions::default(),
        );
        let after = rt.spawn_local(
            NoSupervisor,
            actor_fn(reporter),
            tx,
            ActorOptions::default(),
        );
        after
            .try_send("still running")
            .map_err(|err| err.to_string())
    });
    runtime.start().unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(1)).unwrap(),
        "still running"
    );
}

async fn panicker(_: Context<(), ThreadLocal>) {
    panic!("actor panic on purpose");
}

async fn reporter(mut ctx: Context<&'static str, ThreadLocal>, tx: mpsc::Sender<&'static str>) {
    while let Ok(msg) = ctx.receive_next().await {
        tx.send(msg).unwrap();
    }
}

#[test]
fn futures_local_and_thread_safe() {
    let count = Arc::new(AtomicUsize::new(0));
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let c = count.clone();
    runtime.spawn_future(
        async move {
            let _ = c.fetch_add(1, Ordering::SeqCst);
        },
        FutureOptions::default(),
    );
    let c = count.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let c2 = c.clone();
        rt.spawn_local_future(
            async move {
                let _ = c2.fetch_add(10, Ordering::SeqCst);
            },
            FutureOptions::default(),
        );
        rt.spawn_future(
            async move {
                let _ = c.fetch_add(100, Ordering::SeqCst);
            },
            FutureOptions::default(),
        );
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1 + 2 * 10 + 2 * 100);
}

/// 100,000 actors spawned and completed on 2 workers.
#[test]
fn hundred_thousand_actors() {
    const PER_WORKER: usize = 50_000;
    let done = Arc::new(AtomicUsize::new(0));
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let d = done.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        for i in 0..PER_WORKER {
            let actor_ref = rt.spawn_local(
                NoSupervisor,
                actor_fn(count_messages),
                d.clone(),
                ActorOptions::default(),
            );
            actor_ref.try_send(i % 2).map_err(|err| err.to_string())?;
            let _ = d.fetch_add(1, Ordering::SeqCst);
        }
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    // Each worker: PER_WORKER spawns + PER_WORKER / 2 ones sent.
    assert_eq!(
        done.load(Ordering::SeqCst),
        2 * (PER_WORKER + PER_WORKER / 2)
    );
}

async fn summer(mut ctx: Context<u64, ThreadSafe>, result: mpsc::Sender<(u64, u64)>) {
    let (mut sum, mut count) = (0, 0);
    while let Ok(n) = ctx.receive_next().await {
        sum += n;
        count += 1;
    }
    result.send((sum, count)).unwrap();
}

async fn sender(_: Context<(), ThreadSafe>, (sink, first, n): (hearth::ActorRef<u64>, u64, u64)) {
    for i in first..first + n {
        sink.send(i).await.unwrap();
    }
}

/// No lost wake-ups: 4 thread-safe senders send 250,000 numbers each to one
/// actor through a small inbox (so they wait for room all the time), on a
/// runtime with 4 workers.
#[test]
fn fan_in_million_messages() {
    const SENDERS: u64 = 4;
    const PER_SENDER: u64 = 250_000;
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(4).build().unwrap();
    let options = ActorOptions::default().with_inbox_capacity(16.try_into().unwrap());
    let sink = runtime.spawn(NoSupervisor, actor_fn(summer), tx, options);
    for s in 0..SENDERS {
        let arg = (sink.clone(), s * PER_SENDER, PER_SENDER);
        let _ = runtime.spawn(NoSupervisor, actor_fn(sender), arg, ActorOptions::default());
    }
    drop(sink);
    runtime.start().unwrap();
    let total = SENDERS * PER_SENDER;
    assert_eq!(rx.recv().unwrap(), (total * (total - 1) / 2, total));
}

/// The same through thread-local senders pinned to different workers.
#[test]
fn fan_in_from_thread_local_senders() {
    const PER_SENDER: u64 = 100_000;
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(4).build().unwrap();
    let options = ActorOptions::default().with_inbox_capacity(8.try_into().unwrap());
    let sink = runtime.spawn(NoSupervisor, actor_fn(summer), tx, options);
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let first = (rt.worker_id() as u64 - 1) * PER_SENDER;
        let sink = sink.clone();
        rt.spawn_local_future(
            async move {
                for i in first..first + PER_SENDER {
                    sink.send(i).await.unwrap();
                }
            },
            FutureOptions::default(),
        );
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    let total = 4 * PER_SENDER;
    assert_eq!(rx.recv().unwrap(), (total * (total - 1) / 2, total));
}

/// `block_on` gives the future's output back once the runtime is done.
#[test]
fn block_on_returns_the_output() {
    let runtime = Runtime::setup().num_threads(2).build().unwrap();
    let value = runtime
        .block_on(async { (1..=10u64).sum::<u64>() })
        .unwrap();
    assert_eq!(value, 55);
}

/// A future that panics has no output: an error says so.
#[test]
fn block_on_a_panicking_future_is_an_error() {
    let runtime = Runtime::setup().build().unwrap();
    let err = runtime
        .block_on(async {
            panic!("future panic on purpose");
        })
        .unwrap_err();
    assert!(err.to_string().contains("ended without an output"), "{err}");
}

/// Says it started, then ends.
async fn says_started<RT>(_: Context<(), RT>, started: mpsc::Sender<&'static str>) {
    let _ = started.send(
        std::any::type_name::<RT>()
            .rsplit("::")
            .next()
            .unwrap_or("?"),
    );
}

/// Spawns two actors through the one `Spawn` trait, whatever the spawner.
fn spawn_two<Sp, NA>(spawner: &mut Sp, new_actor: NA, arg: NA::Argument)
where
    NA: NewActor + Clone,
    NA::Argument: Clone,
    Sp: Spawn<NoSupervisor, NA, NA::RuntimeAccess>,
{
    for _ in 0..2 {
        let _ = spawner.spawn(
            NoSupervisor,
            new_actor.clone(),
            arg.clone(),
            ActorOptions::default(),
        );
    }
}

/// A thread-safe actor that spawns two more from its own context.
async fn spawns_from_its_context(
    mut ctx: Context<(), ThreadSafe>,
    started: mpsc::Sender<&'static str>,
) {
    spawn_two(&mut ctx, actor_fn(says_started::<ThreadSafe>), started);
}

/// Generic code spawns thread-local actors from a `RuntimeRef`,
/// thread-safe ones from a `ThreadSafe` handle and from an actor's
/// context, all through `Spawn`.
#[test]
fn one_spawn_trait_for_every_spawner() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let (tx, rx) = mpsc::channel();
    let local = tx.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        spawn_two(
            &mut rt,
            actor_fn(says_started::<ThreadLocal>),
            local.clone(),
        );
    });
    spawn_two(
        &mut runtime.thread_safe(),
        actor_fn(says_started::<ThreadSafe>),
        tx.clone(),
    );
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(spawns_from_its_context),
        tx,
        ActorOptions::default(),
    );
    runtime.start().unwrap();
    let mut started: Vec<&str> = rx.iter().collect();
    started.sort_unstable();
    assert_eq!(
        started,
        [
            "ThreadLocal",
            "ThreadLocal",
            "ThreadSafe",
            "ThreadSafe",
            "ThreadSafe",
            "ThreadSafe"
        ]
    );
}
