//! Actors that receive process signals.
//!
//! Run with `cargo run --example signals`, then from another terminal:
//!
//! ```sh
//! kill -USR1 PID   # every actor prints: got signal: SIGUSR1
//! kill -USR2 PID   # the runtime logs its metrics to stderr
//! kill -TERM PID   # (or Ctrl+C) the actors stop and the program exits 0
//! ```

use std::process::ExitCode;

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Runtime, RuntimeRef, Signal, ThreadLocal};

fn main() -> ExitCode {
    // Prints the runtime's logs, including the metrics on SIGUSR2.
    hearth::log::init();
    // Build the runtime first: it blocks the signals for every thread it
    // starts, so only its coordinator sees them.
    let mut runtime = match Runtime::setup().name("signals").num_threads(2).build() {
        Ok(runtime) => runtime,
        Err(err) => return hearth::exit_code(Err(err)),
    };
    runtime.run_on_workers(add_printer);
    // 0 when the actors stopped by themselves, 130 after an unhandled
    // interrupt (we handle them here, so that does not happen).
    hearth::exit_code(runtime.start())
}

/// One signal printer per worker thread.
fn add_printer(mut rt: RuntimeRef) {
    let printer = rt.spawn_local(NoSupervisor, actor_fn(printer), (), ActorOptions::default());
    rt.receive_signals(printer);
    println!(
        "worker {}: waiting for signals (pid {})",
        rt.worker_id(),
        std::process::id()
    );
}

async fn printer(mut ctx: Context<Signal, ThreadLocal>) {
    let worker = ctx.runtime().worker_id();
    while let Ok(signal) = ctx.receive_next().await {
        println!("got signal: {signal} (worker {worker})");
        match signal {
            Signal::User2 => {
                // The same numbers the runtime logs, read in code.
                let metrics = ctx.runtime().metrics();
                println!(
                    "metrics: worker_threads={} signal_receivers={} uptime={:?}",
                    metrics.worker_threads, metrics.process_signal_receivers, metrics.uptime
                );
            }
            signal if signal.should_stop() => {
                // We handle the signal: stop this actor and ask the whole
                // runtime to shut down gracefully.
                ctx.runtime().shutdown();
                return;
            }
            _ => {}
        }
    }
}
