//! Four senders, one receiver checking count and sum.

use hearth::FutureOptions;

use super::{
    ActorRef, CAPACITY, Context, Done, FAN_IN_SENDERS, Instant, NoSupervisor, Outcome, RuntimeRef,
    actor_fn, check_sum, options, run_hearth, run_tokio_local, run_tokio_shared,
};

/// The numbers sender `sender` sends: its share of `0..n`.
fn share(sender: u64, n: u64) -> std::ops::Range<u64> {
    let per = n / FAN_IN_SENDERS;
    let start = sender * per;
    let end = if sender == FAN_IN_SENDERS - 1 {
        n
    } else {
        start + per
    };
    start..end
}

/// hearth, thread-local actors on one worker.
pub(super) fn hearth_local(n: u64) -> Outcome {
    run_hearth(1, |runtime, done| {
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let mut spawner = rt.clone();
            rt.spawn_local_future(
                async move {
                    let start = Instant::now();
                    let sink = spawner.spawn_local(
                        NoSupervisor,
                        actor_fn(sink),
                        (n, start, done),
                        options(CAPACITY),
                    );
                    for sender in 0..FAN_IN_SENDERS {
                        spawner.spawn_local_future(
                            send_share(sink.clone(), share(sender, n)),
                            FutureOptions::default(),
                        );
                    }
                },
                FutureOptions::default(),
            );
            Ok::<(), String>(())
        });
    })
}

/// hearth, thread-safe actors on two workers.
pub(super) fn hearth_shared(n: u64) -> Outcome {
    run_hearth(2, |runtime, done| {
        let spawner = runtime.thread_safe();
        runtime.spawn_future(
            async move {
                let start = Instant::now();
                let sink = spawner.spawn(
                    NoSupervisor,
                    actor_fn(sink),
                    (n, start, done),
                    options(CAPACITY),
                );
                for sender in 0..FAN_IN_SENDERS {
                    spawner.spawn_future(
                        send_share(sink.clone(), share(sender, n)),
                        FutureOptions::default(),
                    );
                }
            },
            FutureOptions::default(),
        );
    })
}

/// A sender: sends its share of the numbers to the sink.
async fn send_share(sink: ActorRef<u64>, numbers: std::ops::Range<u64>) {
    for i in numbers {
        if sink.send(i).await.is_err() {
            // The sink checks the count.
            return;
        }
    }
}

/// The sink: counts and sums what it receives until every sender is
/// done, then reports the time.
async fn sink<RT>(mut ctx: Context<u64, RT>, (n, start, done): (u64, Instant, Done)) {
    let mut count = 0;
    let mut sum = 0u64;
    while let Ok(i) = ctx.receive_next().await {
        count += 1;
        sum = sum.wrapping_add(i);
    }
    let elapsed = start.elapsed();
    let _ = done.send(check_sum("sink", count, sum, n).map(|()| elapsed));
}

/// tokio, a `current_thread` runtime.
pub(super) fn tokio_local(n: u64) -> Outcome {
    run_tokio_local(tokio_fan_in(n))
}

/// tokio, a multi-thread runtime with two workers.
pub(super) fn tokio_shared(n: u64) -> Outcome {
    run_tokio_shared(tokio_fan_in(n))
}

/// The tokio driver: spawns the senders and is the sink.
async fn tokio_fan_in(n: u64) -> Outcome {
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
    for sender in 0..FAN_IN_SENDERS {
        let tx = tx.clone();
        let numbers = share(sender, n);
        let _sender = tokio::spawn(async move {
            for i in numbers {
                if tx.send(i).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut count = 0;
    let mut sum = 0u64;
    while let Some(i) = rx.recv().await {
        count += 1;
        sum = sum.wrapping_add(i);
    }
    let elapsed = start.elapsed();
    check_sum("sink", count, sum, n).map(|()| elapsed)
}

/// tokio's fastest form, `current_thread`: one unbounded channel.
pub(super) fn fast_tokio_local(n: u64) -> Outcome {
    run_tokio_local(fast_tokio_fan_in(n))
}

/// tokio's fastest form, multi-thread with two workers.
pub(super) fn fast_tokio_shared(n: u64) -> Outcome {
    run_tokio_shared(fast_tokio_fan_in(n))
}

/// The tokio driver on an unbounded channel.
async fn fast_tokio_fan_in(n: u64) -> Outcome {
    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    for sender in 0..FAN_IN_SENDERS {
        let tx = tx.clone();
        let numbers = share(sender, n);
        let _sender = tokio::spawn(async move {
            for i in numbers {
                if tx.send(i).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut count = 0;
    let mut sum = 0u64;
    while let Some(i) = rx.recv().await {
        count += 1;
        sum = sum.wrapping_add(i);
    }
    let elapsed = start.elapsed();
    check_sum("sink", count, sum, n).map(|()| elapsed)
}
