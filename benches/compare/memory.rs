//! The `spawn-memory` workload: the resident memory an actor costs while it
//! waits for a message.
//!
//! In a child process of its own (see `child.rs`), a driver actor (task)
//! reads `VmRSS` from `/proc/self/status`, spawns `n` actors (tasks) that
//! each wait for one message, and waits until every one of them has
//! started and is waiting: each counts itself down in a shared counter
//! when it starts, and the last one notifies the driver through the
//! runtime (a message to the driver actor; a `tokio::sync::Notify`). The
//! driver then reads `VmRSS` again: the growth divided by `n` is the
//! figure, in bytes per actor. It includes everything the actors need to
//! be reachable: hearth's actor, inbox (of [`CAPACITY`] messages) and the
//! driver's `ActorRef` to it; tokio's task, its mpsc channel (of
//! [`CAPACITY`] messages) and the driver's `Sender`. Every actor also
//! holds one reference to the shared counter. Then the driver sends each
//! actor its number and waits until all have it (same counter and
//! notification), checking count and sum, and the child exits.
//!
//! hearth's `local` flavour spawns thread-local actors from a thread-local
//! driver on one worker, `2-workers` thread-safe ones from a thread-safe
//! driver on two workers; tokio's driver is a task on a `current_thread`
//! runtime or a multi-thread runtime with two workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorRef, RuntimeRef, ThreadLocal, ThreadSafe};

use super::child::{self, Family, Flavour, Side};
use super::{CAPACITY, Figures, check_sum, options, run_tokio};

/// The figure of the workload.
pub(super) const LABELS: &[&str] = &["B/actor"];

/// hearth, thread-local actors on one worker.
pub(super) fn hearth_local(n: u64) -> Figures {
    child::run(Family::Memory, Side::Hearth, Flavour::Local, n)
}

/// hearth, thread-safe actors on two workers.
pub(super) fn hearth_shared(n: u64) -> Figures {
    child::run(Family::Memory, Side::Hearth, Flavour::Shared, n)
}

/// tokio, a `current_thread` runtime.
pub(super) fn tokio_local(n: u64) -> Figures {
    child::run(Family::Memory, Side::Tokio, Flavour::Local, n)
}

/// tokio, a multi-thread runtime with two workers.
pub(super) fn tokio_shared(n: u64) -> Figures {
    child::run(Family::Memory, Side::Tokio, Flavour::Shared, n)
}

/// The child process's part: bytes per actor.
pub(super) fn child(side: Side, flavour: Flavour, n: u64) -> Figures {
    if n == 0 {
        return Err("the number of actors must be positive".to_owned());
    }
    let bytes_per_actor = match side {
        Side::Hearth => hearth(flavour, n)?,
        Side::Tokio => {
            let runtime = flavour.tokio_runtime()?;
            run_tokio(&runtime, tokio_driver(n))?
        }
    };
    Ok(vec![bytes_per_actor])
}

/// Where a hearth driver reports bytes per actor.
type Report = mpsc::Sender<Result<f64, String>>;

/// Runs the hearth driver on a runtime of `flavour`.
fn hearth(flavour: Flavour, n: u64) -> Result<f64, String> {
    let mut runtime = flavour.hearth_runtime()?;
    let (report, result) = mpsc::channel();
    match flavour {
        Flavour::Local => runtime.run_on_workers(move |mut rt: RuntimeRef| {
            // The inbox holds both notifications, so they never wait.
            let _ = rt.spawn_local(
                NoSupervisor,
                actor_fn(driver_local),
                (n, report),
                options(2),
            );
            Ok::<(), String>(())
        }),
        Flavour::Shared => {
            let _ = runtime.spawn(
                NoSupervisor,
                actor_fn(driver_shared),
                (n, report),
                options(2),
            );
        }
    }
    runtime
        .start()
        .map_err(|err| format!("running the runtime: {err}"))?;
    result
        .try_recv()
        .map_err(|_| "the driver stopped without reporting a result".to_owned())?
}

/// The count-down shared by the driver and the actors (tasks) it spawns,
/// and the driver's means to be notified (`N`).
struct Waiting<N> {
    /// Actors that have not started yet.
    to_start: AtomicU64,
    /// Actors that have not received their number yet.
    to_receive: AtomicU64,
    /// Sum of the numbers received.
    sum: AtomicU64,
    /// Notifies the driver.
    notify: N,
}

impl<N> Waiting<N> {
    /// The count-down of `n` actors.
    fn new(n: u64, notify: N) -> Arc<Waiting<N>> {
        Arc::new(Waiting {
            to_start: AtomicU64::new(n),
            to_receive: AtomicU64::new(n),
            sum: AtomicU64::new(0),
            notify,
        })
    }

    /// An actor started; returns true for the last one, which notifies the
    /// driver.
    fn started(&self) -> bool {
        self.to_start.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// An actor received `i`; returns true for the last one, which
    /// notifies the driver.
    fn received(&self, i: u64) -> bool {
        let _ = self.sum.fetch_add(i, Ordering::Relaxed);
        // Release: publishes the `sum` above; acquire: the last one sees
        // every other's `sum` (one release sequence on `to_receive`), and
        // the driver, notified through the runtime, sees them all.
        self.to_receive.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Checks the numbers received, once the last one is in.
    fn check(&self, n: u64) -> Result<(), String> {
        let missing = self.to_receive.load(Ordering::Acquire);
        let sum = self.sum.load(Ordering::Relaxed);
        check_sum("waiting actors", n - missing, sum, n)
    }
}

/// hearth's count-down: the driver is notified with a message.
type HearthWaiting = Waiting<ActorRef<()>>;

/// The thread-local driver.
async fn driver_local(mut ctx: Context<(), ThreadLocal>, (n, report): (u64, Report)) {
    let outcome = match rss() {
        Ok(before) => {
            let waiting = Waiting::new(n, ctx.actor_ref());
            let actors: Vec<ActorRef<u64>> = (0..n)
                .map(|_| {
                    ctx.runtime().spawn_local(
                        NoSupervisor,
                        actor_fn(waiter),
                        waiting.clone(),
                        options(CAPACITY),
                    )
                })
                .collect();
            measure(&mut ctx, &waiting, before, actors, n).await
        }
        Err(err) => Err(err),
    };
    let _ = report.send(outcome);
}

/// The thread-safe driver.
async fn driver_shared(mut ctx: Context<(), ThreadSafe>, (n, report): (u64, Report)) {
    let outcome = match rss() {
        Ok(before) => {
            let waiting = Waiting::new(n, ctx.actor_ref());
            let actors: Vec<ActorRef<u64>> = (0..n)
                .map(|_| {
                    ctx.runtime().spawn(
                        NoSupervisor,
                        actor_fn(waiter),
                        waiting.clone(),
                        options(CAPACITY),
                    )
                })
                .collect();
            measure(&mut ctx, &waiting, before, actors, n).await
        }
        Err(err) => Err(err),
    };
    let _ = report.send(outcome);
}

/// The driver's part once the actors are spawned: waits until all have
/// started, reads `VmRSS`, sends every actor its number and waits until
/// all have it. Returns bytes per actor.
async fn measure<RT>(
    ctx: &mut Context<(), RT>,
    waiting: &HearthWaiting,
    before: u64,
    actors: Vec<ActorRef<u64>>,
    n: u64,
) -> Result<f64, String> {
    ctx.receive_next()
        .await
        .map_err(|err| format!("waiting for the actors to start: {err}"))?;
    let after = rss()?;
    for (i, actor) in (0..n).zip(actors) {
        actor
            .send(i)
            .await
            .map_err(|err| format!("sending to actor {i}: {err}"))?;
    }
    ctx.receive_next()
        .await
        .map_err(|err| format!("waiting for the actors to receive: {err}"))?;
    waiting.check(n)?;
    Ok(per_actor(before, after, n))
}

/// A waiting actor: counts itself as started, then waits for its number.
async fn waiter<RT>(mut ctx: Context<u64, RT>, waiting: Arc<HearthWaiting>) {
    if waiting.started() {
        // Fails only if the driver stopped, which fails the run anyway.
        let _ = waiting.notify.send(()).await;
    }
    if let Ok(i) = ctx.receive_next().await
        && waiting.received(i)
    {
        let _ = waiting.notify.send(()).await;
    }
}

/// The tokio driver, a task: the same steps as hearth's.
async fn tokio_driver(n: u64) -> Result<f64, String> {
    let before = rss()?;
    let waiting = Waiting::new(n, tokio::sync::Notify::new());
    let senders: Vec<tokio::sync::mpsc::Sender<u64>> = (0..n)
        .map(|_| {
            let (sender, mut receiver) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
            let waiting = waiting.clone();
            let _task = tokio::spawn(async move {
                if waiting.started() {
                    waiting.notify.notify_one();
                }
                if let Some(i) = receiver.recv().await
                    && waiting.received(i)
                {
                    waiting.notify.notify_one();
                }
            });
            sender
        })
        .collect();
    // `notify_one` leaves a permit if the driver is not waiting yet.
    waiting.notify.notified().await;
    let after = rss()?;
    for (i, sender) in (0..n).zip(senders) {
        sender
            .send(i)
            .await
            .map_err(|err| format!("sending to task {i}: {err}"))?;
    }
    waiting.notify.notified().await;
    waiting.check(n)?;
    Ok(per_actor(before, after, n))
}

/// Bytes per actor of a growth from `before` to `after` bytes.
#[allow(clippy::cast_precision_loss)] // Byte counts far below 2^53: exact as f64.
fn per_actor(before: u64, after: u64, n: u64) -> f64 {
    (after as f64 - before as f64) / n as f64
}

/// The resident memory of this process (`VmRSS`), in bytes.
fn rss() -> Result<u64, String> {
    status_bytes("VmRSS")
}

/// The peak resident memory of this process since it started (`VmHWM`, of
/// its own address space: unlike `getrusage`'s `ru_maxrss`, which a child
/// inherits from the parent it was forked from), in bytes.
pub(super) fn peak_rss() -> Result<u64, String> {
    status_bytes("VmHWM")
}

/// A field of `/proc/self/status` given in kB, in bytes.
fn status_bytes(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|err| format!("reading /proc/self/status: {err}"))?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    let kib = line
        .trim()
        .strip_suffix("kB")
        .and_then(|kib| kib.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("unexpected {field} line {line:?}"))?;
    Ok(kib * 1024)
}
