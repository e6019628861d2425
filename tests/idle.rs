//! Idle is idle: a runtime whose actors all wait (with far timers armed)
//! uses no CPU.
//!
//! Its own test binary, so no other test's threads are counted: the CPU
//! time of every runtime thread (named `worker-N` and `sync-actor-N`) is
//! read from `/proc/self/task` before and after a quiet period.

use std::fs;
use std::sync::mpsc;
use std::time::Duration;

use hearth::actor::{Context, SyncContext, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::timer::Deadline;
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

/// CPU clock ticks (user + system) used so far by the runtime's threads.
fn runtime_cpu_ticks() -> u64 {
    let mut total = 0;
    for entry in fs::read_dir("/proc/self/task").unwrap() {
        let path = entry.unwrap().path();
        let Ok(comm) = fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let comm = comm.trim();
        if !(comm.starts_with("worker-") || comm.starts_with("sync-actor-")) {
            continue;
        }
        let Ok(stat) = fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name; utime and stime are
        // fields 14 and 15 of the whole line.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    total
}

/// Waits for a message, with a far timer armed.
async fn waiting_local(mut ctx: Context<(), ThreadLocal>, ready: mpsc::Sender<&'static str>) {
    let rt = ctx.runtime_ref().clone();
    ready.send("local").unwrap();
    while let Ok(Ok(())) = Deadline::after(rt.clone(), FAR, ctx.receive_next()).await {}
}

/// Waits for a message, with a far (shared) timer armed.
async fn waiting_shared(mut ctx: Context<(), ThreadSafe>, ready: mpsc::Sender<&'static str>) {
    let rt = ctx.runtime_ref().clone();
    ready.send("shared").unwrap();
    while let Ok(Ok(())) = Deadline::after(rt.clone(), FAR, ctx.receive_next()).await {}
}

/// A timer far beyond the test.
const FAR: Duration = Duration::from_hours(1);

fn waiting_sync(mut ctx: SyncContext<()>, ready: mpsc::Sender<&'static str>) {
    ready.send("sync").unwrap();
    while ctx.receive_next().is_ok() {}
}

#[test]
fn idle_runtime_uses_no_cpu() {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (refs_tx, refs_rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let sync_ref = runtime
        .spawn_sync_actor(
            NoSupervisor,
            actor_fn(waiting_sync),
            ready_tx.clone(),
            ActorOptions::default(),
        )
        .unwrap();
    let shared_ref = runtime.spawn(
        NoSupervisor,
        actor_fn(waiting_shared),
        ready_tx.clone(),
        ActorOptions::default(),
    );
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let actor_ref = rt.spawn_local(
            NoSupervisor,
            actor_fn(waiting_local),
            ready_tx,
            ActorOptions::default(),
        );
        refs_tx.send(actor_ref).map_err(|err| err.to_string())
    });
    std::thread::scope(|s| {
        let handle = s.spawn(|| runtime.start());
        // Every actor is running and waiting for a message.
        let mut ready: Vec<_> = ready_rx.iter().take(4).collect();
        ready.sort_unstable();
        assert_eq!(ready, ["local", "local", "shared", "sync"]);
        let local_refs: Vec<_> = refs_rx.iter().take(2).collect();

        let before = runtime_cpu_ticks();
        // The measurement window, not synchronisation.
        std::thread::sleep(Duration::from_millis(500));
        let used = runtime_cpu_ticks() - before;
        // A tick is 10 ms; one may land on the edge of the window.
        assert!(used <= 1, "idle runtime used {used} CPU ticks in 500 ms");

        drop((local_refs, shared_ref, sync_ref));
        handle.join().unwrap().unwrap();
    });
}
