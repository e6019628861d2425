//! The per-command `rpc` of `hearth-rpc` (a) alone, for profilers: a
//! connection-like actor makes `n` calls, one after the other, to a store
//! actor owning a [`Store`], and checks every answer. `local`: both on one
//! worker; `cross`: the store on worker 1, the caller on worker 2, as half
//! the connections of the server are; `shared`: one worker, the store a
//! thread-safe actor, as in `hearth-rpc-shared` (a'). No sockets and no timing: run it
//! under `valgrind --tool=callgrind` (instruction counts hold still on a
//! busy machine) or `perf stat`.
//!
//! ```text
//! redis --rpc-cost local 100000
//! ```

use std::process::ExitCode;
use std::sync::{Arc, Mutex, mpsc};

use bytes::Bytes;
use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::RpcMessage;
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

use super::resp::Reply;
use super::store::{Command, Store};

/// The first argument of this mode; then `local|cross` and the count.
pub(crate) const FLAG: &str = "--rpc-cost";

/// What the store actor receives.
type Call = RpcMessage<Command, Reply>;

/// The mode's `main`: `args` are `local|cross` and the number of calls.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let parsed = match args {
        [place, n] => n
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| (place.as_str(), n)),
        _ => None,
    };
    let result = match parsed {
        Some(("local", n)) => run(1, n, false),
        Some(("cross", n)) => run(2, n, false),
        Some(("shared", n)) => run(1, n, true),
        _ => Err(format!(
            "usage: redis {FLAG} local|cross|shared CALLS (got {args:?})"
        )),
    };
    match result {
        Ok(()) => {
            println!("{} calls answered", args[1]);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("redis {FLAG}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The store on worker 1 (thread-safe if `shared`), the caller on the
/// last worker; `n` calls.
fn run(workers: usize, n: u64, shared: bool) -> Result<(), String> {
    let mut runtime = Runtime::setup()
        .num_threads(workers)
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    let (made, store) = mpsc::channel::<ActorRef<Call>>();
    let store = Arc::new(Mutex::new(store));
    let (done, outcome) = mpsc::channel();
    if shared {
        let store = runtime.spawn(NoSupervisor, actor_fn(shared_store), (), options());
        made.send(store)
            .map_err(|_| "the store's receiver is gone".to_owned())?;
    }
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        if rt.worker_id() == 1 && !shared {
            let store = rt.spawn_local(NoSupervisor, actor_fn(store_actor), (), options());
            made.send(store).map_err(|_| "the caller's worker ended")?;
        }
        if rt.worker_id() == workers {
            let store = store
                .lock()
                .map_err(|_| "a poisoned lock")?
                .recv()
                .map_err(|_| "worker 1 made no store")?;
            let _ = rt.spawn_local(
                NoSupervisor,
                actor_fn(caller),
                (store, n, done.clone()),
                options(),
            );
        }
        Ok::<(), &'static str>(())
    });
    runtime
        .start()
        .map_err(|err| format!("running the runtime: {err}"))?;
    outcome
        .recv()
        .map_err(|_| "the caller ended without a word".to_owned())?
}

fn options() -> ActorOptions {
    ActorOptions::default()
}

/// Owns the store until the caller is done.
async fn store_actor(mut ctx: Context<Call, ThreadLocal>) {
    let mut store = Store::default();
    while let Ok(call) = ctx.receive_next().await {
        drop(call.handle(|command| store.execute(command)));
    }
}

/// [`store_actor`], thread-safe.
async fn shared_store(mut ctx: Context<Call, ThreadSafe>) {
    let mut store = Store::default();
    while let Ok(call) = ctx.receive_next().await {
        drop(call.handle(|command| store.execute(command)));
    }
}

/// Sets one key, then gets it `n - 1` times.
async fn caller(
    _: Context<(), ThreadLocal>,
    (store, n, done): (ActorRef<Call>, u64, mpsc::Sender<Result<(), String>>),
) {
    let key = Bytes::from_static(b"key:__rand_int__");
    let value = Bytes::from_static(b"xxx");
    let mut outcome = Ok(());
    for i in 0..n {
        let (command, wanted) = match i {
            0 => (Command::Set(key.clone(), value.clone()), Reply::Ok),
            _ => (Command::Get(key.clone()), Reply::Value(Some(value.clone()))),
        };
        match store.rpc(command).await {
            Ok(reply) if reply == wanted => {}
            answer => {
                outcome = Err(format!("call {i}: wanted {wanted:?}, got {answer:?}"));
                break;
            }
        }
    }
    let _ = done.send(outcome);
}
