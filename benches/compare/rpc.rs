//! The `rpc` workload: a caller makes `n` request/response calls, one at a
//! time, to a server that answers each number with the number plus one;
//! every answer is checked.
//!
//! hearth: [`ActorRef::rpc`] sends an [`RpcMessage`] (the request and its
//! one-shot [`RpcResponse`](hearth::actor_ref::RpcResponse)) to the server
//! actor's inbox and waits for the response. tokio: an mpsc channel of
//! `(request, oneshot::Sender)` pairs and a `oneshot` per call, the usual
//! way to do request/response between tasks.

use std::time::Instant;

use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::RpcMessage;
use hearth::supervisor::NoSupervisor;
use hearth::{ActorRef, RuntimeRef, ThreadLocal, ThreadSafe};

use super::{CAPACITY, Done, Outcome, options, run_hearth, run_tokio_local, run_tokio_shared};

/// What the server actor receives: a number to answer with its successor.
type Call = RpcMessage<u64, u64>;

/// hearth, thread-local actors on one worker.
pub(super) fn hearth_local(n: u64) -> Outcome {
    run_hearth(1, |runtime, done| {
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let _ = rt.spawn_local(
                NoSupervisor,
                actor_fn(caller_local),
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
            actor_fn(caller_shared),
            (n, done),
            options(CAPACITY),
        );
    })
}

/// The thread-local caller: spawns the server, times the calls.
async fn caller_local(mut ctx: Context<(), ThreadLocal>, (n, done): (u64, Done)) {
    let start = Instant::now();
    let server = ctx
        .runtime()
        .spawn_local(NoSupervisor, actor_fn(server), (), options(CAPACITY));
    let outcome = calls(&server, n).await.map(|()| start.elapsed());
    let _ = done.send(outcome);
}

/// The thread-safe caller: spawns the server, times the calls.
async fn caller_shared(mut ctx: Context<(), ThreadSafe>, (n, done): (u64, Done)) {
    let start = Instant::now();
    let server = ctx
        .runtime()
        .spawn(NoSupervisor, actor_fn(server), (), options(CAPACITY));
    let outcome = calls(&server, n).await.map(|()| start.elapsed());
    let _ = done.send(outcome);
}

/// Makes the `n` calls and checks every answer. When the caller is done
/// it drops the only reference to the server, whose `receive_next` then
/// reports that no message can come: the server stops, and the runtime
/// with it.
async fn calls(server: &ActorRef<Call>, n: u64) -> Result<(), String> {
    for i in 0..n {
        let answer = server
            .rpc(i)
            .await
            .map_err(|err| format!("call {i}: {err}"))?;
        if answer != i + 1 {
            return Err(format!("call {i}: got answer {answer}"));
        }
    }
    Ok(())
}

/// Answers every call with the number plus one.
async fn server<RT>(mut ctx: Context<Call, RT>) {
    while let Ok(call) = ctx.receive_next().await {
        // Fails only if the caller stopped waiting; it then fails the run.
        let _ = call.handle(|i| i + 1);
    }
}

/// tokio, a `current_thread` runtime.
pub(super) fn tokio_local(n: u64) -> Outcome {
    run_tokio_local(tokio_calls(n))
}

/// tokio, a multi-thread runtime with two workers.
pub(super) fn tokio_shared(n: u64) -> Outcome {
    run_tokio_shared(tokio_calls(n))
}

/// The tokio caller: spawns the server task, times and checks the calls.
async fn tokio_calls(n: u64) -> Outcome {
    use tokio::sync::{mpsc, oneshot};

    let start = Instant::now();
    let (server, mut requests) = mpsc::channel::<(u64, oneshot::Sender<u64>)>(CAPACITY);
    let _server = tokio::spawn(async move {
        while let Some((i, reply)) = requests.recv().await {
            let _ = reply.send(i + 1);
        }
    });
    for i in 0..n {
        let (reply, answer) = oneshot::channel();
        server
            .send((i, reply))
            .await
            .map_err(|err| format!("call {i}: {err}"))?;
        let answer = answer.await.map_err(|err| format!("call {i}: {err}"))?;
        if answer != i + 1 {
            return Err(format!("call {i}: got answer {answer}"));
        }
    }
    Ok(start.elapsed())
}

/// tokio's fastest form, `current_thread`: an unbounded channel of
/// requests, a oneshot per reply.
pub(super) fn fast_tokio_local(n: u64) -> Outcome {
    run_tokio_local(fast_tokio_calls(n))
}

/// tokio's fastest form, multi-thread with two workers.
pub(super) fn fast_tokio_shared(n: u64) -> Outcome {
    run_tokio_shared(fast_tokio_calls(n))
}

/// The tokio caller on an unbounded request channel.
async fn fast_tokio_calls(n: u64) -> Outcome {
    use tokio::sync::{mpsc, oneshot};

    let start = Instant::now();
    let (server, mut requests) = mpsc::unbounded_channel::<(u64, oneshot::Sender<u64>)>();
    let _server = tokio::spawn(async move {
        while let Some((i, reply)) = requests.recv().await {
            let _ = reply.send(i + 1);
        }
    });
    for i in 0..n {
        let (reply, answer) = oneshot::channel();
        server
            .send((i, reply))
            .map_err(|err| format!("call {i}: {err}"))?;
        let answer = answer.await.map_err(|err| format!("call {i}: {err}"))?;
        if answer != i + 1 {
            return Err(format!("call {i}: got answer {answer}"));
        }
    }
    Ok(start.elapsed())
}
