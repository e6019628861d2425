//! Many short-lived actors, each receiving one message.

use hearth::FutureOptions;

use super::{
    Arc, AtomicU64, CAPACITY, Context, Done, Instant, NoSupervisor, Ordering, Outcome, RuntimeRef,
    actor_fn, check_sum, options, run_hearth, run_tokio_local, run_tokio_shared,
};

/// What the spawned actors (tasks) report to: the last one to finish
/// checks the result and reports the time.
struct Tally {
    /// Actors in the run.
    n: u64,
    /// When the run started.
    start: Instant,
    /// Numbers received so far.
    count: AtomicU64,
    /// Sum of the numbers received so far.
    sum: AtomicU64,
}

impl Tally {
    /// A tally of `n` actors, starting the clock.
    fn new(n: u64) -> Arc<Tally> {
        Arc::new(Tally {
            n,
            start: Instant::now(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        })
    }

    /// Adds `i`; returns the outcome once all `n` numbers are in.
    fn add(&self, i: u64) -> Option<Outcome> {
        let _ = self.sum.fetch_add(i, Ordering::Relaxed);
        // Release: publishes the `sum` above; acquire: the last `add`
        // sees every other `add`'s `sum` (one release sequence on `count`).
        let count = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if count < self.n {
            return None;
        }
        let elapsed = self.start.elapsed();
        let sum = self.sum.load(Ordering::Relaxed);
        Some(check_sum("spawned actors", count, sum, self.n).map(|()| elapsed))
    }
}

/// hearth, thread-local actors spawned by a future on one worker.
pub(super) fn hearth_local(n: u64) -> Outcome {
    run_hearth(1, |runtime, done| {
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let mut spawner = rt.clone();
            rt.spawn_local_future(
                async move {
                    let tally = Tally::new(n);
                    for i in 0..n {
                        let actor_ref = spawner.spawn_local(
                            NoSupervisor,
                            actor_fn(receive_one),
                            (tally.clone(), done.clone()),
                            options(CAPACITY),
                        );
                        if let Err(err) = actor_ref.send(i).await {
                            let _ = done.send(Err(format!("sending to actor {i}: {err}")));
                            return;
                        }
                    }
                },
                FutureOptions::default(),
            );
            Ok::<(), String>(())
        });
    })
}

/// hearth, thread-safe actors spawned by a future on two workers.
pub(super) fn hearth_shared(n: u64) -> Outcome {
    run_hearth(2, |runtime, done| {
        let spawner = runtime.thread_safe();
        runtime.spawn_future(
            async move {
                let tally = Tally::new(n);
                for i in 0..n {
                    let actor_ref = spawner.spawn(
                        NoSupervisor,
                        actor_fn(receive_one),
                        (tally.clone(), done.clone()),
                        options(CAPACITY),
                    );
                    if let Err(err) = actor_ref.send(i).await {
                        let _ = done.send(Err(format!("sending to actor {i}: {err}")));
                        return;
                    }
                }
            },
            FutureOptions::default(),
        );
    })
}

/// A spawned actor: receives one number and adds it to the tally.
async fn receive_one<RT>(mut ctx: Context<u64, RT>, (tally, done): (Arc<Tally>, Done)) {
    let outcome = match ctx.receive_next().await {
        Ok(i) => tally.add(i),
        Err(err) => Some(Err(format!("spawned actor: {err}"))),
    };
    if let Some(outcome) = outcome {
        let _ = done.send(outcome);
    }
}

/// tokio, a `current_thread` runtime.
pub(super) fn tokio_local(n: u64) -> Outcome {
    run_tokio_local(tokio_spawn(n))
}

/// tokio, a multi-thread runtime with two workers.
pub(super) fn tokio_shared(n: u64) -> Outcome {
    run_tokio_shared(tokio_spawn(n))
}

/// The tokio driver: spawns the tasks and sends each its number.
async fn tokio_spawn(n: u64) -> Outcome {
    let tally = Tally::new(n);
    let (done, outcome) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..n {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
        let tally = tally.clone();
        let done = done.clone();
        let _task = tokio::spawn(async move {
            let outcome = match rx.recv().await {
                Some(i) => tally.add(i),
                None => Some(Err("spawned task: channel closed".to_owned())),
            };
            if let Some(outcome) = outcome {
                let _ = done.send(outcome);
            }
        });
        tx.send(i)
            .await
            .map_err(|err| format!("sending to task {i}: {err}"))?;
    }
    drop(done);
    let mut outcome = outcome;
    outcome
        .recv()
        .await
        .ok_or_else(|| "the tasks stopped without reporting a result".to_owned())?
}

/// tokio's fastest form, `current_thread`: a oneshot per task.
pub(super) fn fast_tokio_local(n: u64) -> Outcome {
    run_tokio_local(fast_tokio_spawn(n))
}

/// tokio's fastest form, multi-thread with two workers.
pub(super) fn fast_tokio_shared(n: u64) -> Outcome {
    run_tokio_shared(fast_tokio_spawn(n))
}

/// The tokio driver: each task gets its number through a oneshot.
async fn fast_tokio_spawn(n: u64) -> Outcome {
    let tally = Tally::new(n);
    let (done, outcome) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..n {
        let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
        let tally = tally.clone();
        let done = done.clone();
        let _task = tokio::spawn(async move {
            let outcome = match rx.await {
                Ok(i) => tally.add(i),
                Err(_) => Some(Err("spawned task: channel closed".to_owned())),
            };
            if let Some(outcome) = outcome {
                let _ = done.send(outcome);
            }
        });
        tx.send(i)
            .map_err(|_| format!("sending to task {i}: it stopped"))?;
    }
    drop(done);
    let mut outcome = outcome;
    outcome
        .recv()
        .await
        .ok_or_else(|| "the tasks stopped without reporting a result".to_owned())?
}
