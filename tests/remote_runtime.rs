//! The remote pool inside a runtime: the coordinator drives the slots,
//! actors await results or get them as messages, the pool ends with the
//! runtime.
//!
//! `harness = false`: started with `--remote-worker` this binary is the
//! worker; otherwise it runs the tests.

#[path = "util/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "util/runner.rs"]
mod runner;

use std::env;
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth::FutureOptions;
use hearth::actor::{Context, actor_fn};
use hearth::remote::{self, Handlers, Host, JobDone, JobFailure, Pool, RemotePool, Target};
use hearth::supervisor::NoSupervisor;
use hearth::timer::Timer;
use hearth::{ActorOptions, Runtime, ThreadSafe};

fn handlers() -> Handlers {
    Handlers::new()
        .add("square", |x: u64| x.checked_mul(x).ok_or("overflow"))
        .add("sleep_ms", |ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok::<_, String>(ms)
        })
}

fn main() -> ExitCode {
    if remote::is_remote_worker() {
        return remote::serve(handlers());
    }
    if env::var_os("HEARTH_LOG").is_some() {
        hearth::log::init();
    }
    let tests: &[(&str, fn())] = &[
        ("actors_await_results", actors_await_results),
        ("results_as_messages", results_as_messages),
        (
            "graceful_shutdown_finishes_running_jobs",
            graceful_shutdown_finishes_running_jobs,
        ),
        (
            "unknown_target_is_an_error_at_once",
            unknown_target_is_an_error_at_once,
        ),
        (
            "panicking_outcome_conversion_leaves_the_coordinator_running",
            panicking_outcome_conversion_leaves_the_coordinator_running,
        ),
    ];
    let tests: Vec<runner::Test<'_>> = tests
        .iter()
        .map(|(name, test)| (*name, test as &dyn Fn()))
        .collect();
    runner::run(&tests, procs::children, String::new)
}

fn runtime_with_pool(slots: usize, window: usize) -> (Runtime, RemotePool) {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let pool = runtime
        .remote_pool(Pool::builder().host(Host::local(slots)).window(window))
        .unwrap();
    (runtime, pool)
}

/// Four futures on two workers each await 250 jobs; every output is right
/// and the runtime ends (closing its slots) once they are done.
fn actors_await_results() {
    let (mut runtime, pool) = runtime_with_pool(2, 4);
    let outputs = Arc::new(Mutex::new(Vec::new()));
    for caller in 0..4u64 {
        let (pool, outputs) = (pool.clone(), outputs.clone());
        runtime.spawn_future(
            async move {
                for i in 0..250 {
                    let x = caller * 1000 + i;
                    let out = pool.call::<u64, u64>("square", &x).await;
                    outputs.lock().unwrap().push((x, out));
                }
            },
            FutureOptions::default(),
        );
    }
    runtime.start().unwrap();
    let outputs = outputs.lock().unwrap();
    assert_eq!(outputs.len(), 1000);
    for (x, out) in outputs.iter() {
        assert_eq!(*out, Ok(x * x), "job {x}");
    }
    let metrics = pool.metrics();
    assert_eq!((metrics.jobs_done, metrics.jobs_failed), (1000, 0));
    assert_eq!((metrics.slots_total, metrics.slots_alive), (2, 0));
}

/// What the collector saw: (tag, output) per job, and the pool's metrics
/// as the runtime reported them at the end.
type Collected = Arc<Mutex<(Vec<(u64, Result<u64, JobFailure>)>, Option<(usize, usize)>)>>;

async fn collector(mut ctx: Context<JobDone<u64>, ThreadSafe>, (expect, seen): (usize, Collected)) {
    let mut count = 0;
    while count < expect {
        let Ok(done) = ctx.receive_next().await else {
            break;
        };
        seen.lock().unwrap().0.push((done.tag, done.report.result));
        count += 1;
    }
    let metrics = ctx.runtime().metrics();
    let pool = &metrics.remote_pools[0];
    seen.lock().unwrap().1 = Some((pool.jobs_done, pool.slots_total));
}

/// 1,000 jobs report to an actor with a small inbox (deliveries wait for
/// room); every tag arrives once with its output.
fn results_as_messages() {
    let (mut runtime, pool) = runtime_with_pool(2, 8);
    let seen: Collected = Arc::default();
    let collector_ref = runtime.spawn(
        NoSupervisor,
        actor_fn(collector),
        (1000, seen.clone()),
        ActorOptions::default().with_inbox_capacity(NonZeroUsize::new(8).unwrap()),
    );
    runtime.spawn_future(
        async move {
            for tag in 0..1000u64 {
                pool.submit_to(&Target::Any, "square", &tag, tag, collector_ref.clone())
                    .unwrap();
            }
        },
        FutureOptions::default(),
    );
    runtime.start().unwrap();
    let seen = seen.lock().unwrap();
    let mut tags: Vec<u64> = seen.0.iter().map(|(tag, _)| *tag).collect();
    tags.sort_unstable();
    assert_eq!(tags, (0..1000).collect::<Vec<_>>());
    for (tag, out) in &seen.0 {
        assert_eq!(*out, Ok(tag * tag), "job {tag}");
    }
    assert_eq!(seen.1, Some((1000, 2)));
}

/// A graceful shutdown while two long jobs run and ten wait: the two finish
/// with their output, the ten are cancelled, the slots exit.
fn graceful_shutdown_finishes_running_jobs() {
    let (mut runtime, pool) = runtime_with_pool(2, 1);
    let outputs = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..12 {
        let (pool, outputs) = (pool.clone(), outputs.clone());
        runtime.spawn_future(
            async move {
                let out = pool.call::<u64, u64>("sleep_ms", &1000).await;
                outputs.lock().unwrap().push(out);
            },
            FutureOptions::default(),
        );
    }
    let rt = runtime.thread_safe();
    runtime.spawn_future(
        async move {
            // Wait (bounded) until both slots run a job, then shut down.
            for _ in 0..3000 {
                if pool.metrics().jobs_in_flight == 2 {
                    break;
                }
                Timer::after(rt.clone(), Duration::from_millis(10)).await;
            }
            assert_eq!(pool.metrics().jobs_in_flight, 2);
            rt.shutdown();
        },
        FutureOptions::default(),
    );
    runtime.start().unwrap();
    let outputs = outputs.lock().unwrap();
    assert_eq!(outputs.len(), 12);
    let finished = outputs.iter().filter(|o| **o == Ok(1000)).count();
    let cancelled = outputs
        .iter()
        .filter(|o| matches!(o, Err(JobFailure::Cancelled(_))))
        .count();
    assert_eq!((finished, cancelled), (2, 10), "{outputs:?}");
}

/// A job for a host the pool does not have fails at submission.
fn unknown_target_is_an_error_at_once() {
    let (runtime, pool) = runtime_with_pool(1, 1);
    let err = pool
        .call_on::<u64, u64>(&Target::Host("db9".into()), "square", &3)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no host matches host \"db9\"; the pool's hosts are: local"
    );
    runtime.start().unwrap();
}

/// The message of [`picky_collector`]: its conversion from a job's outcome
/// panics for tag 0 (the application's code, run where the pool delivers).
struct Picky(u64);

impl From<JobDone<u64>> for Picky {
    fn from(done: JobDone<u64>) -> Picky {
        assert!(done.tag != 0, "conversion panic on purpose");
        Picky(done.tag)
    }
}

async fn picky_collector(mut ctx: Context<Picky, ThreadSafe>, seen: Arc<Mutex<Vec<u64>>>) {
    if let Ok(Picky(tag)) = ctx.receive_next().await {
        seen.lock().unwrap().push(tag);
    }
}

/// A panic converting an outcome into the actor's message took the
/// coordinator down (and `start` with it); now it is logged, that outcome
/// is not delivered, and the others are.
fn panicking_outcome_conversion_leaves_the_coordinator_running() {
    let (mut runtime, pool) = runtime_with_pool(1, 1);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let collector_ref = runtime.spawn(
        NoSupervisor,
        actor_fn(picky_collector),
        seen.clone(),
        ActorOptions::default(),
    );
    runtime.spawn_future(
        async move {
            for tag in 0..2u64 {
                pool.submit_to(&Target::Any, "square", &tag, tag, collector_ref.clone())
                    .unwrap();
            }
        },
        FutureOptions::default(),
    );
    runtime.start().unwrap();
    assert_eq!(*seen.lock().unwrap(), [1]);
}
