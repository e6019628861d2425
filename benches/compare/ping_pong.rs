//! Two actors (tasks) sending a number back and forth; the reply is the
//! number plus one, and every reply is checked.

use super::{
    ActorRef, CAPACITY, Context, Done, Instant, NoSupervisor, Outcome, RuntimeRef, ThreadLocal,
    ThreadSafe, actor_fn, options, run_hearth, run_tokio_local, run_tokio_shared,
};

/// hearth, thread-local actors on one worker.
pub(super) fn hearth_local(n: u64) -> Outcome {
    run_hearth(1, |runtime, done| {
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let _ = rt.spawn_local(
                NoSupervisor,
                actor_fn(ping_local),
                (n, done),
                options(CAPACITY),
            );
            Ok::<(), String>(())
        });
    })
}

/// hearth, thread-safe actors on two workers.
pub(super) fn hearth_shared(n: u64) -> Outcome {
    run_hearth(2, |runtime, done| {
        let _ = runtime.spawn(
            NoSupervisor,
            actor_fn(ping_shared),
            (n, done),
            options(CAPACITY),
        );
    })
}

/// The thread-local ping actor: spawns pong, times the rounds.
async fn ping_local(mut ctx: Context<u64, ThreadLocal>, (n, done): (u64, Done)) {
    let start = Instant::now();
    let me = ctx.actor_ref();
    let pong = ctx
        .runtime()
        .spawn_local(NoSupervisor, actor_fn(pong), me, options(CAPACITY));
    let outcome = rounds(&mut ctx, &pong, n).await.map(|()| start.elapsed());
    let _ = done.send(outcome);
}

/// The thread-safe ping actor: spawns pong, times the rounds.
async fn ping_shared(mut ctx: Context<u64, ThreadSafe>, (n, done): (u64, Done)) {
    let start = Instant::now();
    let me = ctx.actor_ref();
    let pong = ctx
        .runtime()
        .spawn(NoSupervisor, actor_fn(pong), me, options(CAPACITY));
    let outcome = rounds(&mut ctx, &pong, n).await.map(|()| start.elapsed());
    let _ = done.send(outcome);
}

/// Sends `0..n` to pong one at a time, checking each reply.
async fn rounds<RT>(
    ctx: &mut Context<u64, RT>,
    pong: &ActorRef<u64>,
    n: u64,
) -> Result<(), String> {
    for i in 0..n {
        pong.send(i)
            .await
            .map_err(|err| format!("ping round {i}: {err}"))?;
        let reply = ctx
            .receive_next()
            .await
            .map_err(|err| format!("ping round {i}: {err}"))?;
        if reply != i + 1 {
            return Err(format!("ping round {i}: got reply {reply}"));
        }
    }
    Ok(())
}

/// Answers every number with its successor.
async fn pong<RT>(mut ctx: Context<u64, RT>, ping: ActorRef<u64>) {
    while let Ok(n) = ctx.receive_next().await {
        if ping.send(n + 1).await.is_err() {
            return;
        }
    }
}

/// tokio, a `current_thread` runtime.
pub(super) fn tokio_local(n: u64) -> Outcome {
    run_tokio_local(tokio_ping(n))
}

/// tokio, a multi-thread runtime with two workers.
pub(super) fn tokio_shared(n: u64) -> Outcome {
    run_tokio_shared(tokio_ping(n))
}

/// The tokio ping task: spawns pong, times and checks the rounds.
async fn tokio_ping(n: u64) -> Outcome {
    use tokio::sync::mpsc;

    let start = Instant::now();
    let (to_pong, mut pong_inbox) = mpsc::channel::<u64>(CAPACITY);
    let (to_ping, mut ping_inbox) = mpsc::channel::<u64>(CAPACITY);
    let _pong = tokio::spawn(async move {
        while let Some(n) = pong_inbox.recv().await {
            if to_ping.send(n + 1).await.is_err() {
                return;
            }
        }
    });
    for i in 0..n {
        to_pong
            .send(i)
            .await
            .map_err(|err| format!("ping round {i}: {err}"))?;
        let reply = ping_inbox
            .recv()
            .await
            .ok_or_else(|| format!("ping round {i}: pong stopped"))?;
        if reply != i + 1 {
            return Err(format!("ping round {i}: got reply {reply}"));
        }
    }
    Ok(start.elapsed())
}

/// tokio's fastest form, `current_thread`: unbounded channels.
pub(super) fn fast_tokio_local(n: u64) -> Outcome {
    run_tokio_local(fast_tokio_ping(n))
}

/// tokio's fastest form, multi-thread with two workers.
pub(super) fn fast_tokio_shared(n: u64) -> Outcome {
    run_tokio_shared(fast_tokio_ping(n))
}

/// The tokio ping task on unbounded channels (no back-pressure, no
/// waiting for room).
async fn fast_tokio_ping(n: u64) -> Outcome {
    use tokio::sync::mpsc;

    let start = Instant::now();
    let (to_pong, mut pong_inbox) = mpsc::unbounded_channel::<u64>();
    let (to_ping, mut ping_inbox) = mpsc::unbounded_channel::<u64>();
    let _pong = tokio::spawn(async move {
        while let Some(n) = pong_inbox.recv().await {
            if to_ping.send(n + 1).is_err() {
                return;
            }
        }
    });
    for i in 0..n {
        to_pong
            .send(i)
            .map_err(|err| format!("ping round {i}: {err}"))?;
        let reply = ping_inbox
            .recv()
            .await
            .ok_or_else(|| format!("ping round {i}: pong stopped"))?;
        if reply != i + 1 {
            return Err(format!("ping round {i}: got reply {reply}"));
        }
    }
    Ok(start.elapsed())
}
