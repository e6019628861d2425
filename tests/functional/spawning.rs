//! Spawning as Heph users write it: `try_spawn_local` and `try_spawn`
//! hand back a failed first creation, priorities by their constant names,
//! wake-ups from threads outside the runtime, panics of actors and futures
//! (in their run and in their destructor) caught without stopping the
//! runtime.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{self, Poll, Waker};
use std::thread;

use hearth::actor::{Context, NewActor, SyncContext, actor_fn};
use hearth::supervisor::{NoSupervisor, Supervisor, SupervisorStrategy};
use hearth::{ActorOptions, FutureOptions, Priority, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

#[test]
fn priorities_by_heph_names() {
    assert!(Priority::HIGH > Priority::NORMAL && Priority::NORMAL > Priority::LOW);
    assert_eq!(Priority::default(), Priority::NORMAL);
    assert_eq!(
        [Priority::LOW, Priority::NORMAL, Priority::HIGH],
        [Priority::Low, Priority::Normal, Priority::High]
    );
}

/// Why a creation failed.
#[derive(Debug, PartialEq)]
struct NoStart(u32);

impl fmt::Display for NoStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "creation {} failed", self.0)
    }
}

/// Makes actors of runtime access `RT` that count their runs; the creations
/// numbered in `fails` fail.
struct Starts<RT> {
    creations: Arc<AtomicUsize>,
    fails: &'static [usize],
    runs: Arc<AtomicUsize>,
    rt: std::marker::PhantomData<fn(RT)>,
}

impl<RT> Starts<RT> {
    fn new(fails: &'static [usize]) -> Starts<RT> {
        Starts {
            creations: Arc::default(),
            fails,
            runs: Arc::default(),
            rt: std::marker::PhantomData,
        }
    }
}

impl<RT> NewActor for Starts<RT> {
    type Message = ();
    type Argument = ();
    type Actor = std::future::Ready<()>;
    type Error = NoStart;
    type RuntimeAccess = RT;

    fn new(&mut self, _: Context<(), RT>, (): ()) -> Result<Self::Actor, NoStart> {
        let creation = self.creations.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fails.contains(&creation) {
            return Err(NoStart(u32::try_from(creation).unwrap()));
        }
        let _ = self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(std::future::ready(()))
    }
}

/// Restarts after a failed creation and counts what it was told.
#[derive(Clone, Default)]
struct Retries(Arc<AtomicUsize>);

impl<NA: NewActor<Argument = ()>> Supervisor<NA> for Retries {
    fn decide(&mut self, _: <NA::Actor as hearth::actor::Actor>::Error) -> SupervisorStrategy<()> {
        SupervisorStrategy::Stop
    }

    fn decide_on_restart_error(&mut self, _: NA::Error) -> SupervisorStrategy<()> {
        let _ = self.0.fetch_add(1, Ordering::SeqCst);
        SupervisorStrategy::Restart(())
    }
}

#[test]
fn try_spawn_hands_back_a_failed_first_creation() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let told = Retries::default();
    let failing = Starts::<ThreadSafe>::new(&[1]);
    let (creations, runs) = (failing.creations.clone(), failing.runs.clone());
    let err = runtime
        .try_spawn(told.clone(), failing, (), ActorOptions::default())
        .unwrap_err();
    assert_eq!(err, NoStart(1));
    // Once, not retried: the supervisor was not asked.
    assert_eq!(creations.load(Ordering::SeqCst), 1);
    let working = Starts::<ThreadSafe>::new(&[]);
    let working_runs = working.runs.clone();
    let actor_ref = runtime
        .thread_safe()
        .try_spawn(told.clone(), working, (), ActorOptions::default())
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let local_told = told.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let failing = Starts::<ThreadLocal>::new(&[1]);
        let first = rt.try_spawn_local(local_told.clone(), failing, (), ActorOptions::default());
        let working = Starts::<ThreadLocal>::new(&[]);
        let runs = working.runs.clone();
        let second = rt.try_spawn_local(local_told.clone(), working, (), ActorOptions::default());
        let third = rt.try_spawn(
            local_told.clone(),
            Starts::<ThreadSafe>::new(&[1]),
            (),
            ActorOptions::default(),
        );
        tx.send((first.map(|_| ()), second.is_ok(), runs, third.map(|_| ())))
            .unwrap();
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    let (first, second, local_runs, third) = rx.recv().unwrap();
    assert_eq!(first, Err(NoStart(1)));
    assert!(second);
    assert_eq!(third, Err(NoStart(1)));
    assert_eq!(local_runs.load(Ordering::SeqCst), 1);
    assert_eq!(working_runs.load(Ordering::SeqCst), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert!(actor_ref.is_stopped());
    assert_eq!(told.0.load(Ordering::SeqCst), 0);
    // `spawn` gives the same failure to the supervisor, which restarts.
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let failing = Starts::<ThreadSafe>::new(&[1]);
    let runs = failing.runs.clone();
    let _ = runtime.spawn(told.clone(), failing, (), ActorOptions::default());
    runtime.start().unwrap();
    assert_eq!(
        (told.0.load(Ordering::SeqCst), runs.load(Ordering::SeqCst)),
        (1, 1)
    );
}

/// The waker of a waiting future, and whether it was woken.
type Waiting = Mutex<(Option<Waker>, bool)>;

/// A future woken once by a thread of its own, after it first waited.
#[derive(Clone)]
struct WokenFromOutside(Arc<(Waiting, Condvar)>);

impl WokenFromOutside {
    /// The future, and the thread that wakes it once it has a waker.
    fn new() -> (WokenFromOutside, thread::JoinHandle<()>) {
        let shared = Arc::new((Mutex::new((None::<Waker>, false)), Condvar::new()));
        let waker_side = shared.clone();
        let thread = thread::spawn(move || {
            let (lock, cond) = &*waker_side;
            let mut state = cond
                .wait_while(lock.lock().unwrap(), |(waker, _)| waker.is_none())
                .unwrap();
            state.1 = true;
            state.0.take().unwrap().wake();
        });
        (WokenFromOutside(shared), thread)
    }
}

impl Future for WokenFromOutside {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        let (lock, cond) = &*self.0;
        let mut state = lock.lock().unwrap();
        if state.1 {
            return Poll::Ready(());
        }
        state.0 = Some(cx.waker().clone());
        cond.notify_all();
        Poll::Pending
    }
}

async fn waits_local(_: Context<(), ThreadLocal>, future: WokenFromOutside) {
    future.await;
}

async fn waits_safe(_: Context<(), ThreadSafe>, future: WokenFromOutside) {
    future.await;
}

fn waits_sync(mut ctx: SyncContext<()>, future: WokenFromOutside) {
    ctx.block_on(future);
}

#[test]
fn a_thread_outside_the_runtime_wakes_every_kind_of_actor() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let (local, local_thread) = WokenFromOutside::new();
    let (safe, safe_thread) = WokenFromOutside::new();
    let (sync, sync_thread) = WokenFromOutside::new();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(waits_local),
            local.clone(),
            ActorOptions::default(),
        );
        Ok::<_, String>(())
    });
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(waits_safe),
        safe,
        ActorOptions::default(),
    );
    let _ = runtime
        .spawn_sync_actor(
            NoSupervisor,
            actor_fn(waits_sync),
            sync,
            ActorOptions::default(),
        )
        .unwrap();
    runtime.start().unwrap();
    for thread in [local_thread, safe_thread, sync_thread] {
        thread.join().unwrap();
    }
}

async fn panics_local(_: Context<(), ThreadLocal>, ran: Arc<AtomicBool>) {
    ran.store(true, Ordering::SeqCst);
    panic!("actor panic on purpose");
}

async fn panics_safe(_: Context<(), ThreadSafe>, ran: Arc<AtomicBool>) {
    ran.store(true, Ordering::SeqCst);
    panic!("actor panic on purpose");
}

async fn runs_local(_: Context<(), ThreadLocal>, ran: Arc<AtomicBool>) {
    ran.store(true, Ordering::SeqCst);
}

async fn runs_safe(_: Context<(), ThreadSafe>, ran: Arc<AtomicBool>) {
    ran.store(true, Ordering::SeqCst);
}

/// Done at once; its destructor panics.
struct PanicsWhenDropped(Arc<AtomicBool>);

impl Future for PanicsWhenDropped {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut task::Context<'_>) -> Poll<()> {
        self.0.store(true, Ordering::SeqCst);
        Poll::Ready(())
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("destructor panic on purpose");
    }
}

/// An actor function whose actor panics when dropped.
fn drop_panics_local(_: Context<(), ThreadLocal>, ran: Arc<AtomicBool>) -> PanicsWhenDropped {
    PanicsWhenDropped(ran)
}

fn drop_panics_safe(_: Context<(), ThreadSafe>, ran: Arc<AtomicBool>) -> PanicsWhenDropped {
    PanicsWhenDropped(ran)
}

async fn panics(ran: Arc<AtomicBool>) {
    std::future::ready(()).await;
    ran.store(true, Ordering::SeqCst);
    panic!("future panic on purpose");
}

async fn runs(ran: Arc<AtomicBool>) {
    std::future::ready(()).await;
    ran.store(true, Ordering::SeqCst);
}

#[test]
fn panics_of_actors_and_futures_are_caught_and_the_others_run() {
    let flags: Vec<Arc<AtomicBool>> = (0..16).map(|_| Arc::default()).collect();
    let high = ActorOptions::default().with_priority(Priority::HIGH);
    let low = ActorOptions::default().with_priority(Priority::LOW);
    let f_high = FutureOptions::default().with_priority(Priority::HIGH);
    let f_low = FutureOptions::default().with_priority(Priority::LOW);
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let f = flags.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(NoSupervisor, actor_fn(panics_local), f[0].clone(), high);
        let _ = rt.spawn_local(NoSupervisor, actor_fn(runs_local), f[1].clone(), low);
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(drop_panics_local),
            f[2].clone(),
            high,
        );
        let _ = rt.spawn_local(NoSupervisor, actor_fn(runs_local), f[3].clone(), low);
        rt.spawn_local_future(panics(f[4].clone()), f_high);
        rt.spawn_local_future(runs(f[5].clone()), f_low);
        rt.spawn_local_future(PanicsWhenDropped(f[6].clone()), f_high);
        rt.spawn_local_future(runs(f[7].clone()), f_low);
        Ok::<_, String>(())
    });
    let _ = runtime.spawn(NoSupervisor, actor_fn(panics_safe), flags[8].clone(), high);
    let _ = runtime.spawn(NoSupervisor, actor_fn(runs_safe), flags[9].clone(), low);
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(drop_panics_safe),
        flags[10].clone(),
        high,
    );
    let _ = runtime.spawn(NoSupervisor, actor_fn(runs_safe), flags[11].clone(), low);
    runtime.spawn_future(panics(flags[12].clone()), f_high);
    runtime.spawn_future(runs(flags[13].clone()), f_low);
    runtime.spawn_future(PanicsWhenDropped(flags[14].clone()), f_high);
    runtime.spawn_future(runs(flags[15].clone()), f_low);
    runtime.start().unwrap();
    let ran: Vec<usize> = (0..16)
        .filter(|&i| flags[i].load(Ordering::SeqCst))
        .collect();
    assert_eq!(ran, (0..16).collect::<Vec<_>>());
}
