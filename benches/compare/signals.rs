//! The `signal-latency` workload: how long a process signal takes to reach
//! the actor (task) that subscribed to it.
//!
//! In a child process of its own (see `child.rs`: signal dispositions and
//! masks are process-wide), a plain sender thread sends SIGUSR1 to the
//! process `n` times with `kill(getpid(), SIGUSR1)`, one at a time: it
//! notes the time, sends the signal, and waits until the subscribed actor
//! (task) reports, through a std channel, the time at which it received
//! the signal; only then does it send the next one, so no two signals are
//! ever pending together (they would coalesce). The child prints every
//! latency in nanoseconds, the parent reports their p50 and p99
//! (nearest-rank) in microseconds. The signal is process-directed, as one
//! from another process would be (`raise` would direct it at the sending
//! thread only).
//!
//! hearth: building the runtime blocks SIGUSR1 (with the other handled
//! signals) in every thread, and the coordinator reads it from a
//! `signalfd`. `local`: a thread-local actor on one worker, subscribed
//! with [`RuntimeRef::receive_signals`]: the coordinator hands the signal
//! to the worker, which delivers it to the actor's inbox. `2-workers`: a
//! thread-safe actor on two workers, subscribed with
//! [`Runtime::receive_signals`](hearth::Runtime::receive_signals): the
//! coordinator sends it to the actor's inbox itself. tokio: a task on a
//! `current_thread` runtime (or a multi-thread runtime with two workers)
//! awaiting `tokio::signal::unix::signal(SignalKind::user_defined1())`,
//! whose handler writes to a pipe the runtime's driver polls.
//!
//! The actor (task) tells the sender it is ready once it has subscribed,
//! so the first signal cannot come before anyone listens for it.

use std::io;
use std::sync::mpsc;
use std::time::Instant;

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{RuntimeRef, Signal};

use super::child::{self, Family, Flavour, Side};
use super::{CAPACITY, Figures, options, run_tokio};

/// The figures of the workload.
pub(super) const LABELS: &[&str] = &["p50 (µs)", "p99 (µs)"];

/// hearth, a thread-local actor on one worker.
pub(super) fn hearth_local(n: u64) -> Figures {
    percentiles(Side::Hearth, Flavour::Local, n)
}

/// hearth, a thread-safe actor on two workers.
pub(super) fn hearth_shared(n: u64) -> Figures {
    percentiles(Side::Hearth, Flavour::Shared, n)
}

/// tokio, a `current_thread` runtime.
pub(super) fn tokio_local(n: u64) -> Figures {
    percentiles(Side::Tokio, Flavour::Local, n)
}

/// tokio, a multi-thread runtime with two workers.
pub(super) fn tokio_shared(n: u64) -> Figures {
    percentiles(Side::Tokio, Flavour::Shared, n)
}

/// Runs the child and turns its latencies into p50 and p99, in µs.
fn percentiles(side: Side, flavour: Flavour, n: u64) -> Figures {
    let mut latencies = child::run(Family::Signal, side, flavour, n)?;
    if latencies.len() as u64 != n || n == 0 {
        return Err(format!(
            "expected {n} latencies from the child, got {}",
            latencies.len()
        ));
    }
    latencies.sort_by(f64::total_cmp);
    Ok(vec![
        nearest_rank(&latencies, 50) / 1000.0,
        nearest_rank(&latencies, 99) / 1000.0,
    ])
}

/// The `percent` percentile of sorted, non-empty values (nearest rank).
fn nearest_rank(sorted: &[f64], percent: usize) -> f64 {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The child process's part: every latency, in nanoseconds.
pub(super) fn child(side: Side, flavour: Flavour, n: u64) -> Figures {
    match side {
        Side::Hearth => hearth(flavour, n),
        Side::Tokio => tokio(flavour, n),
    }
}

/// The hearth side: the runtime runs on this thread (as coordinator), the
/// sender on a thread started after the runtime was built, so SIGUSR1 is
/// blocked there too.
fn hearth(flavour: Flavour, n: u64) -> Figures {
    let mut runtime = flavour.hearth_runtime()?;
    let (ready, ready_wait) = mpsc::channel();
    let (ack, acks) = mpsc::channel();
    match flavour {
        Flavour::Local => runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let receiver = rt.spawn_local(
                NoSupervisor,
                actor_fn(receiver),
                (n, ready, ack),
                options(CAPACITY),
            );
            rt.receive_signals(receiver);
            Ok::<(), String>(())
        }),
        Flavour::Shared => {
            let receiver = runtime.spawn(
                NoSupervisor,
                actor_fn(receiver),
                (n, ready, ack),
                options(CAPACITY),
            );
            // The coordinator reads no signal before `start`, so none can
            // reach the actor before this registration.
            runtime.receive_signals(receiver);
        }
    }
    let handle = runtime.thread_safe();
    let sender = std::thread::spawn(move || {
        let latencies = send_signals(n, &ready_wait, &acks);
        if latencies.is_err() {
            // The actor may still wait for a signal: end the runtime.
            handle.shutdown();
        }
        latencies
    });
    let run = runtime
        .start()
        .map_err(|err| format!("running the runtime: {err}"));
    let latencies = sender
        .join()
        .map_err(|_| "the sender thread panicked".to_owned())?;
    run?;
    latencies
}

/// The subscribed actor: reports when it is ready, then the time at which
/// each SIGUSR1 arrived, until it has `n` of them.
async fn receiver<RT>(
    mut ctx: Context<Signal, RT>,
    (n, ready, ack): (u64, mpsc::Sender<()>, mpsc::Sender<Instant>),
) {
    if ready.send(()).is_err() {
        return;
    }
    let mut received = 0;
    while received < n {
        match ctx.receive_next().await {
            Ok(Signal::User1) => {
                if ack.send(Instant::now()).is_err() {
                    return;
                }
                received += 1;
            }
            // Not sent by the benchmark.
            Ok(_) => {}
            // The sender failed and shut the runtime down.
            Err(_) => return,
        }
    }
}

/// The tokio side: the runtime's driver task is the subscribed task.
fn tokio(flavour: Flavour, n: u64) -> Figures {
    use tokio::signal::unix::{SignalKind, signal};

    let runtime = flavour.tokio_runtime()?;
    let (ready, ready_wait) = mpsc::channel();
    let (ack, acks) = mpsc::channel();
    let sender = std::thread::spawn(move || send_signals(n, &ready_wait, &acks));
    let received = run_tokio(&runtime, async move {
        let mut signals = signal(SignalKind::user_defined1())
            .map_err(|err| format!("subscribing to SIGUSR1: {err}"))?;
        ready
            .send(())
            .map_err(|_| "the sender thread stopped".to_owned())?;
        for i in 0..n {
            signals
                .recv()
                .await
                .ok_or_else(|| format!("signal {i}: the signal stream ended"))?;
            ack.send(Instant::now())
                .map_err(|_| "the sender thread stopped".to_owned())?;
        }
        Ok(())
    });
    let latencies = sender
        .join()
        .map_err(|_| "the sender thread panicked".to_owned())?;
    received?;
    latencies
}

/// The sender: waits until the receiver is ready, then sends `n` SIGUSR1
/// one at a time; returns each one's latency in nanoseconds.
fn send_signals(n: u64, ready: &mpsc::Receiver<()>, acks: &mpsc::Receiver<Instant>) -> Figures {
    ready
        .recv()
        .map_err(|_| "the receiver stopped before it was ready".to_owned())?;
    let pid = libc::pid_t::try_from(std::process::id())
        .map_err(|_| "the process id does not fit a pid_t".to_owned())?;
    let mut latencies = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for i in 0..n {
        let sent = Instant::now();
        // SAFETY: `kill` only takes integers and touches none of our
        // memory. SIGUSR1 cannot end the process: hearth's runtime blocks
        // it in every thread (its coordinator reads it from a signalfd),
        // and tokio installed its handler before the receiver said it was
        // ready.
        if unsafe { libc::kill(pid, libc::SIGUSR1) } != 0 {
            return Err(format!("signal {i}: kill: {}", io::Error::last_os_error()));
        }
        let received = acks
            .recv()
            .map_err(|_| format!("signal {i}: the receiver stopped"))?;
        latencies.push(received.saturating_duration_since(sent).as_secs_f64() * 1e9);
    }
    Ok(latencies)
}
