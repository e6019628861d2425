//! Panics in user code that runs outside an actor's own run: destructors of
//! finished thread-safe actors and futures, conversions into a signal
//! receiver's message type, functions run on the workers. Each took its
//! worker (or the coordinator) down; each is now logged and the runtime
//! goes on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{self, Poll};

use hearth::FutureOptions;
use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadSafe};

/// A value whose destructor panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("destructor panic on purpose");
    }
}

/// A future that is done at once and panics when dropped.
struct DoneThenPanics;

impl Future for DoneThenPanics {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut task::Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

impl Drop for DoneThenPanics {
    fn drop(&mut self) {
        panic!("future destructor panic on purpose");
    }
}

/// Returns at once, leaving its message (which panics when dropped) in
/// its inbox: dropping the finished actor's process drops it.
async fn leaves_its_message(_: Context<PanicsOnDrop, ThreadSafe>) {}

/// Counts a run: proof that the worker still runs actors afterwards.
async fn counts(_: Context<(), ThreadSafe>, runs: Arc<AtomicUsize>) {
    let _ = runs.fetch_add(1, Ordering::SeqCst);
}

/// Spawns thread-safe actors and futures whose destruction panics, then
/// more actors; `start` must end cleanly with every one of them run.
#[test]
fn panicking_destructors_of_thread_safe_processes_leave_the_worker_running() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let actor = runtime.spawn(
            NoSupervisor,
            actor_fn(leaves_its_message),
            (),
            ActorOptions::default(),
        );
        if let Err(err) = actor.try_send(PanicsOnDrop) {
            // Not delivered: handed back, and must not panic the test.
            std::mem::forget(err);
        }
        runtime.spawn_future(DoneThenPanics, FutureOptions::default());
        let _ = runtime.spawn(
            NoSupervisor,
            actor_fn(counts),
            runs.clone(),
            ActorOptions::default(),
        );
    }
    runtime
        .start()
        .expect("a panicking destructor took a worker down");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

/// The same for thread-local processes (already caught; kept so both
/// schedulers hold the promise).
#[test]
fn panicking_destructors_of_thread_local_processes_leave_the_worker_running() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        for _ in 0..3 {
            rt.spawn_local_future(DoneThenPanics, FutureOptions::default());
            let counted = counted.clone();
            rt.spawn_local_future(
                async move {
                    let _ = counted.fetch_add(1, Ordering::SeqCst);
                },
                FutureOptions::default(),
            );
        }
        Ok::<_, String>(())
    });
    runtime
        .start()
        .expect("a panicking destructor took a worker down");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

/// A function run on the workers that panics is an error of `start` that
/// says so, not a worker that dies without a word.
#[test]
fn panicking_worker_function_is_an_error_naming_the_panic() {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    runtime.run_on_workers(|rt: RuntimeRef| {
        assert!(rt.worker_id() != 2, "setup panic on purpose");
        Ok::<_, String>(())
    });
    let err = runtime.start().unwrap_err().to_string();
    assert!(
        err.contains("worker thread 2") && err.contains("setup panic on purpose"),
        "{err}"
    );
}

/// A message whose conversion into `u64` panics.
struct Refused;

impl From<Refused> for u64 {
    fn from(_: Refused) -> u64 {
        panic!("mapped conversion panic on purpose");
    }
}

async fn sums(mut ctx: Context<u64, ThreadSafe>, total: Arc<AtomicUsize>) {
    while let Ok(n) = ctx.receive_next().await {
        let _ = total.fetch_add(usize::try_from(n).unwrap(), Ordering::SeqCst);
    }
}

/// A conversion of a mapped reference runs in the sender, under the
/// receiver's inbox lock: its panic is the sending actor's (caught by its
/// supervisor), and the receiver's inbox still works for everyone else.
#[test]
fn panicking_mapped_conversion_fails_the_sender_only() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let total = Arc::new(AtomicUsize::new(0));
    let receiver = runtime.spawn(
        NoSupervisor,
        actor_fn(sums),
        total.clone(),
        ActorOptions::default(),
    );
    let mapped = receiver.clone().map::<Refused>();
    runtime.spawn_future(
        async move {
            let _ = mapped.try_send(Refused);
        },
        FutureOptions::default(),
    );
    runtime.spawn_future(
        async move {
            receiver.send(40u64).await.unwrap();
            receiver.send(2u64).await.unwrap();
        },
        FutureOptions::default(),
    );
    runtime.start().unwrap();
    assert_eq!(total.load(Ordering::SeqCst), 42);
}
