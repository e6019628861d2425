//! `restart_supervisor!`: the forms of its arguments, its budget and what
//! it decides, for actors and sync actors on a runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hearth::actor::{Actor, Context, NewActor, SyncContext, actor_fn};
use hearth::restart_supervisor;
use hearth::supervisor::{RestartSupervisor, Supervisor, SupervisorStrategy};
use hearth::{ActorOptions, Runtime, ThreadSafe};

const DEFAULT_MAX: usize = RestartSupervisor::<()>::DEFAULT_MAX_RESTARTS;
const DEFAULT_WINDOW: Duration = RestartSupervisor::<()>::DEFAULT_WINDOW;

#[test]
fn the_forms_of_the_argument() {
    restart_supervisor!(Unit, "unit actor");
    restart_supervisor!(UnitToo, "unit actor", ());
    restart_supervisor!(One, "one", String);
    restart_supervisor!(Two, "two", (String, usize));
    restart_supervisor!(Three, "three", (String, usize, u8));
    restart_supervisor!(Four, "four", (String, usize, u8, &'static str));
    restart_supervisor!(Five, "five", (String, usize, u8, &'static str, u8));
    restart_supervisor!(Six, "six", (String, usize, u8, u8, u8, u8));
    restart_supervisor!(Seven, "seven", (String, usize, u8, u8, u8, u8, u8));
    let _ = (Unit::new(), UnitToo::new(), One::new("a".to_owned()));
    let _ = Two::new("a".to_owned(), 1);
    let _ = Three::new("a".to_owned(), 1, 2);
    let _ = Four::new("a".to_owned(), 1, 2, "b");
    let _ = Five::new("a".to_owned(), 1, 2, "b", 3);
    let _ = Six::new("a".to_owned(), 1, 2, 3, 4, 5);
    // Longer tuples are one argument.
    let _ = Seven::new(("a".to_owned(), 1, 2, 3, 4, 5, 6));
    assert_eq!(
        (Unit::MAX_RESTARTS, Unit::MAX_DURATION),
        (DEFAULT_MAX, DEFAULT_WINDOW)
    );
    assert_eq!(
        (One::MAX_RESTARTS, Two::MAX_DURATION),
        (DEFAULT_MAX, DEFAULT_WINDOW)
    );
    assert_eq!(Two::new("a".to_owned(), 1).about(), "two");
}

#[test]
fn budget_and_log_format() {
    restart_supervisor!(pub Budget, "budget", (), 2, Duration::from_secs(10));
    restart_supervisor!(BudgetOne, "budget", usize, 2, Duration::from_secs(10),);
    restart_supervisor!(
        Logged,
        "logged",
        (),
        2,
        Duration::from_secs(10),
        ": log extra",
    );
    restart_supervisor!(
        LoggedOne,
        "logged",
        usize,
        2,
        Duration::from_secs(10),
        ": log extra: {}",
        args
    );
    restart_supervisor!(
        LoggedTwo,
        "logged",
        (u8, (u16, &'static str)),
        2,
        Duration::from_secs(10),
        " ({}, {}, {})",
        args.0,
        args.1.0,
        args.1.1,
    );
    assert_eq!(
        (Budget::MAX_RESTARTS, Budget::MAX_DURATION),
        (2, Duration::from_secs(10))
    );
    assert_eq!(
        (BudgetOne::MAX_RESTARTS, Logged::MAX_DURATION),
        (2, Duration::from_secs(10))
    );
    assert_eq!(Budget::new().about(), "budget");
    assert_eq!(BudgetOne::new(1).about(), "budget");
    assert_eq!(Logged::new().about(), "logged: log extra");
    assert_eq!(LoggedOne::new(123).about(), "logged: log extra: 123");
    assert_eq!(
        LoggedTwo::new(1, (2, "three")).about(),
        "logged (1, 2, three)"
    );
}

async fn fails(_: Context<(), ThreadSafe>, _: bool) -> Result<(), &'static str> {
    Err("error 1")
}

/// An actor whose creation fails.
struct FailsToStart;

impl NewActor for FailsToStart {
    type Message = ();
    type Argument = bool;
    type Actor = std::future::Ready<Result<(), &'static str>>;
    type Error = &'static str;
    type RuntimeAccess = ThreadSafe;

    fn new(&mut self, _: Context<(), ThreadSafe>, _: bool) -> Result<Self::Actor, &'static str> {
        Err("error 2")
    }
}

fn decide<NA: NewActor, S: Supervisor<NA>>(
    _: &NA,
    supervisor: &mut S,
    err: <NA::Actor as Actor>::Error,
) -> SupervisorStrategy<NA::Argument> {
    supervisor.decide(err)
}

fn decide_on_restart_error<NA: NewActor, S: Supervisor<NA>>(
    _: &NA,
    supervisor: &mut S,
    err: NA::Error,
) -> SupervisorStrategy<NA::Argument> {
    supervisor.decide_on_restart_error(err)
}

#[test]
fn decides_within_its_budget() {
    restart_supervisor!(Once, "once", bool, 1, Duration::from_mins(1));
    let actor = actor_fn(fails);
    let mut supervisor = Once::new(true);
    assert_eq!(
        decide(&actor, &mut supervisor, "error 1"),
        SupervisorStrategy::Restart(true)
    );
    assert_eq!(
        decide(&actor, &mut supervisor, "error 1"),
        SupervisorStrategy::Stop
    );
    // A failed creation counts against the same budget.
    let mut supervisor = Once::new(false);
    let new_actor = FailsToStart;
    assert_eq!(
        decide_on_restart_error(&new_actor, &mut supervisor, "error 2"),
        SupervisorStrategy::Restart(false)
    );
    assert_eq!(
        decide_on_restart_error(&new_actor, &mut supervisor, "error 2"),
        SupervisorStrategy::Stop
    );
    Supervisor::<FailsToStart>::second_restart_error(&mut supervisor, "error 2");
}

#[test]
fn restarts_counted_in_an_empty_window_are_forgotten() {
    restart_supervisor!(Forgets, "forgets", bool, 1, Duration::ZERO);
    let actor = actor_fn(fails);
    let mut supervisor = Forgets::new(true);
    for _ in 0..3 {
        // The clock moves on between two errors.
        let before = std::time::Instant::now();
        while before.elapsed().is_zero() {
            std::hint::spin_loop();
        }
        assert_eq!(
            decide(&actor, &mut supervisor, "error 1"),
            SupervisorStrategy::Restart(true)
        );
    }
}

async fn counts_runs(_: Context<(), ThreadSafe>, runs: Arc<AtomicUsize>) -> Result<(), String> {
    let run = runs.fetch_add(1, Ordering::SeqCst);
    Err(format!("run {run} failed"))
}

fn sync_counts_runs(_: SyncContext<()>, runs: Arc<AtomicUsize>) -> Result<(), String> {
    let run = runs.fetch_add(1, Ordering::SeqCst);
    Err(format!("sync run {run} failed"))
}

#[test]
fn supervises_actors_and_sync_actors_on_a_runtime() {
    restart_supervisor!(
        Twice,
        "counter",
        Arc<AtomicUsize>,
        2,
        Duration::from_mins(1)
    );
    let runs = Arc::new(AtomicUsize::new(0));
    let sync_runs = Arc::new(AtomicUsize::new(0));
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let _ = runtime.spawn(
        Twice::new(runs.clone()),
        actor_fn(counts_runs),
        runs.clone(),
        ActorOptions::default(),
    );
    let _ = runtime
        .spawn_sync_actor(
            Twice::new(sync_runs.clone()),
            actor_fn(sync_counts_runs),
            sync_runs.clone(),
            ActorOptions::default(),
        )
        .unwrap();
    runtime.start().unwrap();
    // The first run and two restarts.
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(sync_runs.load(Ordering::SeqCst), 3);
}
