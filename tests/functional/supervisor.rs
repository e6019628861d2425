//! Supervisors: restart budgets, panics, custom supervisors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use hearth::actor::{Actor, Context, NewActor, SyncActor, SyncContext, actor_fn};
use hearth::supervisor::{RestartSupervisor, Supervisor, SupervisorStrategy, SyncSupervisor};
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

async fn always_panics(_: Context<(), ThreadLocal>, runs: Arc<AtomicUsize>) {
    let _ = runs.fetch_add(1, Ordering::SeqCst);
    panic!("always fails");
}

async fn counts(mut ctx: Context<u32, ThreadLocal>, out: mpsc::Sender<u32>) {
    while let Ok(n) = ctx.receive_next().await {
        out.send(n).unwrap();
    }
}

#[test]
fn panicking_actor_restarted_exactly_budget_times_while_worker_runs_others() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let r = runs.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let supervisor = RestartSupervisor::new(r.clone())
            .max_restarts(3)
            .within(Duration::from_mins(1));
        let _ = rt.spawn_local(
            supervisor,
            actor_fn(always_panics),
            r,
            ActorOptions::default(),
        );
        let other = rt.spawn_local(
            hearth::supervisor::NoSupervisor,
            actor_fn(counts),
            tx,
            ActorOptions::default(),
        );
        for n in 0..10u32 {
            other.try_send(n).map_err(|err| err.to_string())?;
        }
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    // The first run plus 3 restarts.
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    assert_eq!(rx.iter().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
}

async fn fails_until(
    _: Context<(), ThreadSafe>,
    (attempt, succeed_at, runs): (usize, usize, Arc<AtomicUsize>),
) -> Result<(), String> {
    let _ = runs.fetch_add(1, Ordering::SeqCst);
    if attempt < succeed_at {
        Err(format!("attempt {attempt} failed"))
    } else {
        Ok(())
    }
}

/// A custom supervisor: restarts with the next attempt number.
struct NextAttempt {
    attempt: usize,
    succeed_at: usize,
    runs: Arc<AtomicUsize>,
    errors: Vec<String>,
    log: mpsc::Sender<Vec<String>>,
}

impl<NA> Supervisor<NA> for NextAttempt
where
    NA: NewActor<Argument = (usize, usize, Arc<AtomicUsize>)>,
    NA::Actor: Actor<Error = String>,
{
    fn decide(&mut self, err: String) -> SupervisorStrategy<(usize, usize, Arc<AtomicUsize>)> {
        self.errors.push(err);
        self.attempt += 1;
        self.log.send(self.errors.clone()).unwrap();
        SupervisorStrategy::Restart((self.attempt, self.succeed_at, self.runs.clone()))
    }
}

#[test]
fn custom_supervisor_restarts_with_new_argument() {
    let runs = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let supervisor = NextAttempt {
        attempt: 0,
        succeed_at: 3,
        runs: runs.clone(),
        errors: Vec::new(),
        log: tx,
    };
    let _ = runtime.spawn(
        supervisor,
        actor_fn(fails_until),
        (0, 3, runs.clone()),
        ActorOptions::default(),
    );
    runtime.start().unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 4);
    assert_eq!(
        rx.iter().last().unwrap(),
        ["attempt 0 failed", "attempt 1 failed", "attempt 2 failed"]
    );
}

#[test]
fn closure_supervisor_and_error_budget() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut runtime = Runtime::setup().build().unwrap();
    let r = runs.clone();
    // Restarts on every error, but with an argument that succeeds.
    let supervisor = move |_err: String| SupervisorStrategy::Restart((1, 1, r.clone()));
    let _ = runtime.spawn(
        supervisor,
        actor_fn(fails_until),
        (0, 1, runs.clone()),
        ActorOptions::default(),
    );
    // A restart supervisor on an actor that always fails: stops after 2.
    let r = runs.clone();
    let budget = RestartSupervisor::new((0, 100, r.clone())).max_restarts(2);
    let _ = runtime.spawn(
        budget,
        actor_fn(fails_until),
        (0, 100, r),
        ActorOptions::default(),
    );
    runtime.start().unwrap();
    // 2 runs for the first actor, 3 for the second.
    assert_eq!(runs.load(Ordering::SeqCst), 5);
}

async fn fails_with_str(_: Context<(), ThreadLocal>) -> Result<(), &'static str> {
    Err("err")
}

/// What `supervisor` decides for an error of the actor `_new_actor` makes.
fn decide<NA, S>(
    _new_actor: &NA,
    supervisor: &mut S,
    err: <NA::Actor as Actor>::Error,
) -> SupervisorStrategy<NA::Argument>
where
    NA: NewActor,
    S: Supervisor<NA>,
{
    supervisor.decide(err)
}

#[test]
fn restart_supervisor_window_forgets_old_restarts() {
    let new_actor = actor_fn(fails_with_str);
    let mut supervisor = RestartSupervisor::new(())
        .max_restarts(1)
        .within(Duration::ZERO);
    // With a zero window every earlier restart has expired by the next error.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(
            decide(&new_actor, &mut supervisor, "err"),
            SupervisorStrategy::Restart(())
        );
    }
    let mut strict = RestartSupervisor::new(())
        .max_restarts(1)
        .within(Duration::from_hours(1));
    assert_eq!(
        decide(&new_actor, &mut strict, "err"),
        SupervisorStrategy::Restart(())
    );
    assert_eq!(
        decide(&new_actor, &mut strict, "err"),
        SupervisorStrategy::Stop
    );
    assert_eq!(strict.restarts(), 1);
}

fn sync_panics(_: SyncContext<()>, runs: Arc<AtomicUsize>) {
    let _ = runs.fetch_add(1, Ordering::SeqCst);
    panic!("sync actor fails");
}

#[test]
fn sync_actor_panics_restarted_by_budget() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut runtime = Runtime::setup().build().unwrap();
    let supervisor = RestartSupervisor::new(runs.clone())
        .max_restarts(2)
        .within(Duration::from_mins(1));
    let _ = runtime
        .spawn_sync_actor(
            supervisor,
            actor_fn(sync_panics),
            runs.clone(),
            ActorOptions::default(),
        )
        .unwrap();
    runtime.start().unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

/// A supervisor that panics: reported as an error of the runtime for sync
/// actors, logged for others, never silently lost.
struct PanickingSupervisor;

impl<A> SyncSupervisor<A> for PanickingSupervisor
where
    A: SyncActor<Argument = Arc<AtomicUsize>, Error = std::convert::Infallible>,
{
    fn decide(&mut self, err: std::convert::Infallible) -> SupervisorStrategy<Arc<AtomicUsize>> {
        match err {}
    }

    fn decide_on_panic(
        &mut self,
        _: Box<dyn std::any::Any + Send>,
    ) -> SupervisorStrategy<Arc<AtomicUsize>> {
        panic!("supervisor bug");
    }
}

#[test]
fn panicking_sync_supervisor_is_reported() {
    let mut runtime = Runtime::setup().build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let _ = runtime
        .spawn_sync_actor(
            PanickingSupervisor,
            actor_fn(sync_panics),
            runs,
            ActorOptions::default(),
        )
        .unwrap();
    let err = runtime.start().unwrap_err();
    assert_eq!(
        err.to_string(),
        "sync actor thread 1 failed: supervisor of sync actor sync_panics panicked: supervisor bug"
    );
}

/// Why [`FlakyNew`] could not create its actor: a typed error, which the
/// supervisor gets as it is (not as text).
#[derive(Debug, PartialEq, Eq)]
enum NewError {
    /// Worth another try.
    NoDatabase { attempt: usize },
    /// Not worth another try.
    BadConfig { attempt: usize },
}

impl std::fmt::Display for NewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NewError::NoDatabase { attempt } => write!(f, "no database (attempt {attempt})"),
            NewError::BadConfig { attempt } => write!(f, "bad configuration (attempt {attempt})"),
        }
    }
}

/// Why the actor [`FlakyNew`] makes failed.
#[derive(Debug, PartialEq, Eq)]
enum ActorError {
    LostDatabase,
}

impl std::fmt::Display for ActorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("lost the database")
    }
}

/// Creates an actor only on the attempts `succeed_on` lists (counted from
/// 1 over every `new`, first start and restarts alike); the others fail
/// with `NoDatabase`, but those `fatal_on` lists fail with `BadConfig`.
#[derive(Clone)]
struct FlakyNew {
    attempts: Arc<AtomicUsize>,
    succeed_on: &'static [usize],
    fatal_on: &'static [usize],
    ran: mpsc::Sender<usize>,
}

impl NewActor for FlakyNew {
    type Message = ();
    type Argument = ();
    type Actor =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ActorError>> + Send>>;
    type Error = NewError;
    type RuntimeAccess = ThreadSafe;

    fn new(&mut self, _: Context<(), ThreadSafe>, (): ()) -> Result<Self::Actor, NewError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fatal_on.contains(&attempt) {
            return Err(NewError::BadConfig { attempt });
        }
        if !self.succeed_on.contains(&attempt) {
            return Err(NewError::NoDatabase { attempt });
        }
        let ran = self.ran.clone();
        Ok(Box::pin(async move {
            ran.send(attempt).unwrap();
            // The first incarnation fails, to be restarted.
            if attempt == 2 {
                Err(ActorError::LostDatabase)
            } else {
                Ok(())
            }
        }))
    }
}

/// What a supervisor was told, in order.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    Decide(ActorError),
    RestartError(NewError),
    SecondRestartError(NewError),
}

/// A supervisor written as for Heph: generic over the `NewActor`, it
/// matches on the actor's error and on the creation's error, both typed.
#[derive(Clone, Default)]
struct Told(Arc<std::sync::Mutex<Vec<Event>>>);

impl<NA> Supervisor<NA> for Told
where
    NA: NewActor<Argument = (), Error = NewError>,
    NA::Actor: Actor<Error = ActorError>,
{
    fn decide(&mut self, err: ActorError) -> SupervisorStrategy<()> {
        let decision = match err {
            ActorError::LostDatabase => SupervisorStrategy::Restart(()),
        };
        self.0.lock().unwrap().push(Event::Decide(err));
        decision
    }

    fn decide_on_restart_error(&mut self, err: NewError) -> SupervisorStrategy<()> {
        let decision = match err {
            NewError::NoDatabase { .. } => SupervisorStrategy::Restart(()),
            NewError::BadConfig { .. } => SupervisorStrategy::Stop,
        };
        self.0.lock().unwrap().push(Event::RestartError(err));
        decision
    }

    fn second_restart_error(&mut self, err: NewError) {
        self.0.lock().unwrap().push(Event::SecondRestartError(err));
    }
}

/// A creation that fails is the supervisor's to decide, at the first start
/// and at a restart; one more attempt may follow, and a second failure in
/// a row stops the actor.
#[test]
fn failed_actor_creation_goes_to_the_supervisor() {
    let mut runtime = Runtime::setup().build().unwrap();
    let (ran_tx, ran_rx) = mpsc::channel();
    let told = Told::default();
    let new_actor = FlakyNew {
        attempts: Arc::new(AtomicUsize::new(0)),
        // 1 fails, 2 runs and fails, 3 and 4 fail: stopped.
        succeed_on: &[2],
        fatal_on: &[],
        ran: ran_tx,
    };
    let actor = runtime.spawn(told.clone(), new_actor, (), ActorOptions::default());
    runtime.start().unwrap();
    assert!(actor.is_stopped());
    assert_eq!(ran_rx.iter().collect::<Vec<_>>(), [2]);
    assert_eq!(
        *told.0.lock().unwrap(),
        [
            Event::RestartError(NewError::NoDatabase { attempt: 1 }),
            Event::Decide(ActorError::LostDatabase),
            Event::RestartError(NewError::NoDatabase { attempt: 3 }),
            Event::SecondRestartError(NewError::NoDatabase { attempt: 4 }),
        ]
    );
}

/// A restart supervisor counts failed creations against its budget.
#[test]
fn restart_supervisor_retries_a_failed_creation_within_its_budget() {
    let mut runtime = Runtime::setup().build().unwrap();
    let (ran_tx, ran_rx) = mpsc::channel();
    let new_actor = FlakyNew {
        attempts: Arc::new(AtomicUsize::new(0)),
        succeed_on: &[2, 3],
        fatal_on: &[],
        ran: ran_tx,
    };
    let supervisor = RestartSupervisor::new(()).max_restarts(3);
    let _ = runtime.spawn(supervisor, new_actor, (), ActorOptions::default());
    runtime.start().unwrap();
    // Attempt 1 failed, 2 ran and failed, 3 ran and returned.
    assert_eq!(ran_rx.iter().collect::<Vec<_>>(), [2, 3]);
}

/// The supervisor matches on the creation's typed error: a fatal one stops
/// the actor at once, with no second attempt.
#[test]
fn supervisor_matches_on_the_typed_restart_error() {
    let mut runtime = Runtime::setup().build().unwrap();
    let (ran_tx, ran_rx) = mpsc::channel();
    let told = Told::default();
    let attempts = Arc::new(AtomicUsize::new(0));
    let new_actor = FlakyNew {
        attempts: attempts.clone(),
        // 1 fails (retried), 2 runs and fails (restarted), 3 is fatal.
        succeed_on: &[2],
        fatal_on: &[3],
        ran: ran_tx,
    };
    let actor = runtime.spawn(told.clone(), new_actor, (), ActorOptions::default());
    runtime.start().unwrap();
    assert!(actor.is_stopped());
    assert_eq!(ran_rx.iter().collect::<Vec<_>>(), [2]);
    assert_eq!(
        *told.0.lock().unwrap(),
        [
            Event::RestartError(NewError::NoDatabase { attempt: 1 }),
            Event::Decide(ActorError::LostDatabase),
            Event::RestartError(NewError::BadConfig { attempt: 3 }),
        ]
    );
    // Nothing more was tried.
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

/// Counts the sync actor's errors by kind and restarts it on the
/// retryable one, as a Heph `SyncSupervisor` would.
struct SyncTold(Arc<std::sync::Mutex<Vec<String>>>);

impl<A> SyncSupervisor<A> for SyncTold
where
    A: SyncActor<Argument = usize, Error = ActorError>,
{
    fn decide(&mut self, err: ActorError) -> SupervisorStrategy<usize> {
        let mut told = self.0.lock().unwrap();
        told.push(err.to_string());
        match err {
            ActorError::LostDatabase if told.len() < 3 => SupervisorStrategy::Restart(told.len()),
            ActorError::LostDatabase => SupervisorStrategy::Stop,
        }
    }
}

fn sync_loses_database(_: SyncContext<()>, run: usize) -> Result<(), ActorError> {
    let _ = run;
    Err(ActorError::LostDatabase)
}

#[test]
fn sync_supervisor_gets_the_typed_error() {
    let mut runtime = Runtime::setup().build().unwrap();
    let told = Arc::new(std::sync::Mutex::new(Vec::new()));
    let _ = runtime
        .spawn_sync_actor(
            SyncTold(told.clone()),
            actor_fn(sync_loses_database),
            0,
            ActorOptions::default(),
        )
        .unwrap();
    runtime.start().unwrap();
    assert_eq!(told.lock().unwrap().len(), 3);
}
