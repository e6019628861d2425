//! `shutting_down()`: spawned futures learn that the runtime began a
//! graceful shutdown, the runtime waits for them to finish, and a waiter
//! outside the runtime (another thread, a waker of its own) is woken too.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::task::{self, Wake, Waker};
use std::thread;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::timer::Timer;
use hearth::{
    ActorOptions, ActorRef, FutureOptions, Runtime, RuntimeRef, ShuttingDown, ThreadSafe,
};

use super::{assert_send, assert_sync, block_on};

/// Last guard against a hang; never reached when the runtime works.
const GUARD: Duration = Duration::from_secs(30);

/// Waits for the shutdown; tells `waiting` once it has found it not begun
/// (its first poll was pending), so the test knows the waker path runs.
async fn wait_for_shutdown(mut stopping: ShuttingDown, who: String, waiting: mpsc::Sender<String>) {
    let mut told = false;
    poll_fn(|cx| {
        let poll = Pin::new(&mut stopping).poll(cx);
        if poll.is_pending() && !told {
            told = true;
            let _ = waiting.send(who.clone());
        }
        poll
    })
    .await;
}

/// Collects what the futures send after they saw the shutdown; its
/// receive loop ends once the stopping runtime is quiet.
async fn collector(mut ctx: Context<String, ThreadSafe>, got: mpsc::Sender<Vec<String>>) {
    let mut seen = Vec::new();
    while let Ok(msg) = ctx.receive_next().await {
        seen.push(msg);
    }
    seen.sort();
    let _ = got.send(seen);
}

/// Every kind of spawned future waits for the shutdown, then reports to an
/// actor; one does so only after a timer, so the runtime has to wait for
/// it. The actor gets every report before its receive loop ends, and the
/// runtime ends cleanly.
#[test]
fn spawned_futures_see_the_shutdown_and_the_runtime_waits_for_them() {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let (got_tx, got) = mpsc::channel();
    let sink: ActorRef<String> = runtime.spawn(
        NoSupervisor,
        actor_fn(collector),
        got_tx,
        ActorOptions::default(),
    );
    let (waiting_tx, waiting) = mpsc::channel();

    // From the runtime, before it starts: a thread-safe future that
    // reports after a timer.
    let handle = runtime.thread_safe();
    let (stopping, to, w) = (handle.shutting_down(), sink.clone(), waiting_tx.clone());
    let rt = handle.clone();
    runtime.spawn_future(
        async move {
            wait_for_shutdown(stopping, "runtime".into(), w).await;
            Timer::after(rt, Duration::from_millis(20)).await;
            let _ = to.send("runtime, after a timer".to_owned()).await;
        },
        FutureOptions::default(),
    );
    // From every worker: a thread-local and a thread-safe future.
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let id = rt.worker_id();
        let (stopping, to, w) = (rt.shutting_down(), sink.clone(), waiting_tx.clone());
        rt.spawn_local_future(
            async move {
                wait_for_shutdown(stopping, format!("local {id}"), w).await;
                let _ = to.send(format!("local {id}")).await;
            },
            FutureOptions::default(),
        );
        let (stopping, to, w) = (rt.shutting_down(), sink.clone(), waiting_tx.clone());
        rt.spawn_future(
            async move {
                wait_for_shutdown(stopping, format!("thread-safe {id}"), w).await;
                let _ = to.send(format!("thread-safe {id}")).await;
            },
            FutureOptions::default(),
        );
    });
    let running = thread::spawn(move || runtime.start());

    let mut ready: Vec<String> = (0..5)
        .map(|_| waiting.recv_timeout(GUARD).expect("a future waits"))
        .collect();
    ready.sort();
    assert_eq!(
        ready,
        [
            "local 1",
            "local 2",
            "runtime",
            "thread-safe 1",
            "thread-safe 2"
        ]
    );
    handle.shutdown();
    let seen = got.recv_timeout(GUARD).expect("the collector ended");
    assert_eq!(
        seen,
        [
            "local 1",
            "local 2",
            "runtime, after a timer",
            "thread-safe 1",
            "thread-safe 2"
        ]
    );
    running
        .join()
        .unwrap()
        .expect("the runtime ended cleanly, within its grace period");
    // Made after the shutdown: ready at once.
    assert!(handle.shutting_down().is_stopping());
    block_on(handle.shutting_down());
}

/// Sends on a channel when woken.
struct Notify(mpsc::SyncSender<()>);

impl Wake for Notify {
    fn wake(self: Arc<Self>) {
        let _ = self.0.try_send(());
    }
}

/// A waiter polled with a waker of its own (not a process's, as inside a
/// combinator or another executor), on a thread outside the runtime, is
/// woken when the shutdown begins.
#[test]
fn a_waiter_with_its_own_waker_is_woken() {
    assert_send::<ShuttingDown>();
    assert_sync::<ShuttingDown>();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let handle = runtime.thread_safe();
    // Something to keep the runtime running until the shutdown.
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(|mut ctx: Context<(), ThreadSafe>| async move {
            while ctx.receive_next().await.is_ok() {}
        }),
        (),
        ActorOptions::default(),
    );
    let (woken_tx, woken) = mpsc::sync_channel(1);
    let waker = Waker::from(Arc::new(Notify(woken_tx)));
    let mut cx = task::Context::from_waker(&waker);
    let mut stopping = handle.shutting_down();
    assert!(Pin::new(&mut stopping).poll(&mut cx).is_pending());
    let running = thread::spawn(move || runtime.start());
    // Still pending while the runtime runs.
    assert!(Pin::new(&mut stopping).poll(&mut cx).is_pending());
    assert!(woken.try_recv().is_err(), "woken before the shutdown");
    handle.shutdown();
    woken.recv_timeout(GUARD).expect("woken by the shutdown");
    assert!(Pin::new(&mut stopping).poll(&mut cx).is_ready());
    running.join().unwrap().expect("the runtime ended cleanly");
}

/// Waits for `stopping` on a thread of its own, outside the runtime;
/// tells `waiting` once it waits, and the returned channel once it is
/// done.
fn wait_outside(stopping: ShuttingDown, waiting: mpsc::Sender<String>) -> mpsc::Receiver<()> {
    let (done_tx, done) = mpsc::channel();
    let _ = thread::spawn(move || {
        block_on(wait_for_shutdown(stopping, "outside".into(), waiting));
        let _ = done_tx.send(());
    });
    done
}

/// A runtime that ends because every process returned wakes the waiters
/// it leaves behind.
#[test]
fn a_runtime_that_ends_by_itself_wakes_its_waiters() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let stopping = runtime.thread_safe().shutting_down();
    let (gate_tx, gate) = mpsc::channel::<()>();
    runtime.spawn_future(
        async move {
            // Holds the runtime until the waiter below waits; blocking its
            // worker is fine for this.
            let _ = gate.recv();
        },
        FutureOptions::default(),
    );
    let running = thread::spawn(move || runtime.start());
    let (waiting_tx, waiting) = mpsc::channel();
    let waiter = wait_outside(stopping, waiting_tx);
    assert_eq!(waiting.recv_timeout(GUARD).as_deref(), Ok("outside"));
    gate_tx.send(()).unwrap();
    running.join().unwrap().expect("the runtime ended cleanly");
    waiter
        .recv_timeout(GUARD)
        .expect("the waiter outside was woken");
}

/// A runtime dropped without being started wakes its waiters too.
#[test]
fn dropping_an_unstarted_runtime_wakes_its_waiters() {
    let runtime = Runtime::setup().num_threads(1).build().unwrap();
    let stopping = runtime.thread_safe().shutting_down();
    assert!(!stopping.is_stopping());
    let (waiting_tx, waiting) = mpsc::channel();
    let waiter = wait_outside(stopping, waiting_tx);
    assert_eq!(waiting.recv_timeout(GUARD).as_deref(), Ok("outside"));
    drop(runtime);
    waiter
        .recv_timeout(GUARD)
        .expect("the waiter outside was woken");
}
