//! A runtime that traces itself: a few actors pass a token around a ring
//! and tick on timers; the runtime writes each run to a trace file, and the
//! example turns it into Chrome's trace-event JSON for Perfetto.
//!
//! ```sh
//! cargo run --example trace [DIR]     # writes DIR/hearth.trace and DIR/hearth.json
//! # then open hearth.json at https://ui.perfetto.dev
//! hearth trace DIR/hearth.trace > again.json   # the same, from the command line
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hearth::FutureOptions;
use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::timer::Interval;
use hearth::{ActorOptions, ActorRef, Runtime, ThreadSafe};

/// Laps of the token around the ring.
const LAPS: u32 = 200;
/// Actors in the ring.
const RING: usize = 4;

fn main() -> ExitCode {
    hearth::log::init();
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let trace = dir.join("hearth.trace");
    let json = dir.join("hearth.json");
    let mut runtime = match Runtime::setup()
        .name("trace")
        .num_threads(2)
        .trace(&trace)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return hearth::exit_code(Err(err)),
    };
    // The ring: each member passes the token on to the next.
    let last = runtime.spawn(NoSupervisor, actor_fn(ender), (), ActorOptions::default());
    let mut next = last;
    for _ in 0..RING {
        next = runtime.spawn(
            NoSupervisor,
            actor_fn(member),
            next,
            ActorOptions::default(),
        );
    }
    let first = next;
    let rt = runtime.thread_safe();
    runtime.spawn_future(
        async move {
            let mut tick = Interval::every(rt, Duration::from_millis(1));
            for lap in 0..LAPS {
                tick.tick().await;
                if first.send(lap).await.is_err() {
                    return;
                }
            }
        },
        FutureOptions::default(),
    );
    if let Err(err) = runtime.start() {
        return hearth::exit_code(Err(err));
    }
    let converted = std::fs::File::open(&trace)
        .and_then(|input| std::fs::File::create(&json).map(|out| (input, out)))
        .and_then(|(input, out)| hearth::trace::to_chrome_json(input, out));
    match converted {
        Ok(()) => {
            println!("trace: {}", trace.display());
            println!(
                "chrome trace-event JSON: {} (open it at https://ui.perfetto.dev)",
                json.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: converting {}: {err}", trace.display());
            ExitCode::FAILURE
        }
    }
}

/// Passes every lap number on to `next`.
async fn member(mut ctx: Context<u32, ThreadSafe>, next: ActorRef<u32>) {
    while let Ok(lap) = ctx.receive_next().await {
        if next.send(lap).await.is_err() {
            return;
        }
    }
}

/// The end of the ring: counts the laps.
async fn ender(mut ctx: Context<u32, ThreadSafe>) {
    let mut laps = 0;
    while ctx.receive_next().await.is_ok() {
        laps += 1;
    }
    println!("{laps} laps around a ring of {RING}");
}
