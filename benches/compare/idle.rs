//! The `idle` workload: the CPU time a runtime uses while nothing happens.
//!
//! In a child process of its own (see `child.rs`), the runtime runs one
//! actor (task) waiting for a message with a timeout of one hour: an idle
//! actor and one far timer. Once the actor (task) is about to wait, it
//! hands a way to reach it to a measuring thread. That thread waits until
//! the runtime has settled (every other thread of the process asleep, see
//! [`wait_until_asleep`]), reads the CPU time (user + system, from the
//! process's and its own CPU clocks, see [`cpu_clock`]) of the process and
//! of itself, sleeps for the interval
//! ([`INTERVAL_MS`], [`SMOKE_INTERVAL_MS`] in a smoke run), reads both
//! again and sends the actor (task) its message, which ends it and the
//! runtime. The figure, in microseconds, is the process's CPU time over
//! the interval less the measuring thread's own: the CPU time of every
//! other thread, the runtime's (see [`cpu_over`]).
//!
//! hearth: the actor awaits `Deadline::after(rt, 1 h, ctx.receive_next())`;
//! `local`: a thread-local actor on one worker (its timer lives on the
//! worker), `2-workers`: a thread-safe actor on two workers (its timer
//! lives in the runtime's shared timers, which every worker watches).
//! tokio: a task awaiting `tokio::time::timeout(1 h, receiver.recv())` on
//! a `current_thread` runtime or a multi-thread runtime with two workers.

use std::io;
use std::mem::MaybeUninit;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::timer::Deadline;
use hearth::{Access, ActorRef, RuntimeRef};

use super::child::{self, Family, Flavour, Side};
use super::{CAPACITY, Figures, options, run_tokio};

/// The figure of the workload.
pub(super) const LABELS: &[&str] = &["CPU (µs)"];

/// Measured interval of a benchmark run, in milliseconds.
pub(super) const INTERVAL_MS: u64 = 2_000;

/// Measured interval of a smoke run, in milliseconds.
pub(super) const SMOKE_INTERVAL_MS: u64 = 100;

/// The idle actor's (task's) timeout: far beyond any run.
const FAR: Duration = Duration::from_hours(1);

/// hearth, a thread-local actor on one worker.
pub(super) fn hearth_local(ms: u64) -> Figures {
    child::run(Family::Idle, Side::Hearth, Flavour::Local, ms)
}

/// hearth, a thread-safe actor on two workers.
pub(super) fn hearth_shared(ms: u64) -> Figures {
    child::run(Family::Idle, Side::Hearth, Flavour::Shared, ms)
}

/// tokio, a `current_thread` runtime.
pub(super) fn tokio_local(ms: u64) -> Figures {
    child::run(Family::Idle, Side::Tokio, Flavour::Local, ms)
}

/// tokio, a multi-thread runtime with two workers.
pub(super) fn tokio_shared(ms: u64) -> Figures {
    child::run(Family::Idle, Side::Tokio, Flavour::Shared, ms)
}

/// The child process's part: the CPU time over `ms` milliseconds, in µs.
pub(super) fn child(side: Side, flavour: Flavour, ms: u64) -> Figures {
    let interval = Duration::from_millis(ms);
    let cpu = match side {
        Side::Hearth => hearth(flavour, interval)?,
        Side::Tokio => tokio(flavour, interval)?,
    };
    Ok(vec![cpu])
}

/// The hearth side: the runtime runs on this thread (as coordinator).
fn hearth(flavour: Flavour, interval: Duration) -> Result<f64, String> {
    let mut runtime = flavour.hearth_runtime()?;
    let (ready, ready_wait) = mpsc::channel();
    match flavour {
        Flavour::Local => runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let _ = rt.spawn_local(NoSupervisor, actor_fn(idle), ready, options(CAPACITY));
            Ok::<(), String>(())
        }),
        Flavour::Shared => {
            let _ = runtime.spawn(NoSupervisor, actor_fn(idle), ready, options(CAPACITY));
        }
    }
    let measurer = std::thread::spawn(move || {
        let actor: ActorRef<()> = ready_wait
            .recv()
            .map_err(|_| "the idle actor stopped before it was ready".to_owned())?;
        let cpu = cpu_over(interval);
        // Ends the actor, and with it the runtime.
        actor
            .try_send(())
            .map_err(|err| format!("waking the idle actor: {err}"))?;
        cpu
    });
    let run = runtime
        .start()
        .map_err(|err| format!("running the runtime: {err}"));
    let cpu = measurer
        .join()
        .map_err(|_| "the measuring thread panicked".to_owned())?;
    run?;
    cpu
}

/// The idle actor: hands its reference to the measuring thread, then waits
/// for one message with a far deadline.
async fn idle<RT: Access>(mut ctx: Context<(), RT>, ready: mpsc::Sender<ActorRef<()>>) {
    let rt = ctx.runtime_ref().clone();
    if ready.send(ctx.actor_ref()).is_err() {
        return;
    }
    // Passing the deadline (after an hour) is impossible within the
    // child's time limit; either way the actor stops.
    let _ = Deadline::after(rt, FAR, ctx.receive_next()).await;
}

/// The tokio side: the runtime's driver task is the idle task.
fn tokio(flavour: Flavour, interval: Duration) -> Result<f64, String> {
    let runtime = flavour.tokio_runtime()?;
    let (ready, ready_wait) = mpsc::channel();
    let measurer = std::thread::spawn(move || {
        let task: tokio::sync::mpsc::Sender<()> = ready_wait
            .recv()
            .map_err(|_| "the idle task stopped before it was ready".to_owned())?;
        let cpu = cpu_over(interval);
        task.try_send(())
            .map_err(|err| format!("waking the idle task: {err}"))?;
        cpu
    });
    let waited = run_tokio(&runtime, async move {
        let (wake, mut inbox) = tokio::sync::mpsc::channel::<()>(CAPACITY);
        ready
            .send(wake)
            .map_err(|_| "the measuring thread stopped".to_owned())?;
        match tokio::time::timeout(FAR, inbox.recv()).await {
            Ok(_) => Ok(()),
            Err(_) => Err("the far timer fired".to_owned()),
        }
    });
    let cpu = measurer
        .join()
        .map_err(|_| "the measuring thread panicked".to_owned())?;
    waited?;
    cpu
}

/// The CPU time of every thread of the process but the calling one over
/// `interval` of wall time, from the moment they are all asleep, in
/// microseconds.
///
/// The calling thread's own CPU time over the interval (reading the
/// clocks, going to sleep, waking up: some 20 µs on a virtual machine) is
/// taken out; what remains is the runtime's, plus the two clock reads
/// between the process's and the thread's (about a microsecond each).
fn cpu_over(interval: Duration) -> Result<f64, String> {
    wait_until_asleep()?;
    let process_before = cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    let thread_before = cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)?;
    std::thread::sleep(interval);
    let thread_after = cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)?;
    let process_after = cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)?;
    let process = process_after.saturating_sub(process_before);
    let thread = thread_after.saturating_sub(thread_before);
    Ok(process.saturating_sub(thread).as_secs_f64() * 1e6)
}

/// Longest [`wait_until_asleep`] waits for the runtime to settle.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// Waits until the runtime has settled: every thread of the process but
/// the calling one is asleep (not running or runnable, per
/// `/proc/self/task/*/stat`) and has not run (same CPU time, per
/// `/proc/self/task/*/schedstat`) since the previous look.
///
/// The actor (task) hands over its reference just before it waits, and
/// the runtime still has steps to take then: finish the actor's poll, arm
/// the timer, go to sleep (for hearth also start the coordinator). Those
/// are not idle time; without this wait they would be most of the figure.
/// The wait looks again after each `yield_now`, it does not sleep: it ends
/// as soon as the runtime is idle.
fn wait_until_asleep() -> Result<(), String> {
    let me = std::fs::read_link("/proc/thread-self")
        .map_err(|err| format!("reading /proc/thread-self: {err}"))?;
    let me = me
        .file_name()
        .and_then(|tid| tid.to_str())
        .ok_or("unexpected /proc/thread-self link")?
        .to_owned();
    let start = Instant::now();
    let mut previous = None;
    loop {
        let threads = other_threads(&me)?;
        let asleep = threads.iter().all(|(_, state, _)| *state != 'R');
        let cpu: Vec<(String, u64)> = threads
            .into_iter()
            .map(|(tid, _, cpu)| (tid, cpu))
            .collect();
        if asleep && previous.as_ref() == Some(&cpu) {
            return Ok(());
        }
        if start.elapsed() > SETTLE_LIMIT {
            return Err(format!(
                "the runtime did not settle within {SETTLE_LIMIT:?}"
            ));
        }
        previous = Some(cpu);
        std::thread::yield_now();
    }
}

/// Every thread of the process but `me`: its id, its state (`R` while
/// running or runnable) and the nanoseconds it has run.
fn other_threads(me: &str) -> Result<Vec<(String, char, u64)>, String> {
    let tasks = std::fs::read_dir("/proc/self/task")
        .map_err(|err| format!("listing /proc/self/task: {err}"))?;
    let mut threads = Vec::new();
    for task in tasks {
        let task = task.map_err(|err| format!("listing /proc/self/task: {err}"))?;
        let tid = task.file_name().to_string_lossy().into_owned();
        if tid == me {
            continue;
        }
        // A thread that ended in the meantime has no files left: skipped.
        let (Ok(stat), Ok(schedstat)) = (
            std::fs::read_to_string(task.path().join("stat")),
            std::fs::read_to_string(task.path().join("schedstat")),
        ) else {
            continue;
        };
        // The state follows the command name, which is in parentheses
        // and may itself contain spaces or parentheses.
        let state = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].trim_start().chars().next())
            .ok_or_else(|| format!("unexpected stat of thread {tid}: {stat:?}"))?;
        let cpu = schedstat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .ok_or_else(|| format!("unexpected schedstat of thread {tid}: {schedstat:?}"))?;
        threads.push((tid, state, cpu));
    }
    threads.sort();
    Ok(threads)
}

/// The CPU time (user + system) used so far by every thread of the
/// process (`CLOCK_PROCESS_CPUTIME_ID`, threads that ended included) or by
/// the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
///
/// These clocks include the calling thread's current time slice up to the
/// call. `getrusage(RUSAGE_THREAD)` does not (only what was accounted when
/// the thread last left the CPU), so the difference between it and
/// `getrusage(RUSAGE_SELF)` would put most of the measuring thread's own
/// time on the runtime's account.
fn cpu_clock(clock: libc::clockid_t) -> Result<Duration, String> {
    let mut now = MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: `now` is valid for writes of one `timespec`, which is all
    // `clock_gettime` writes.
    if unsafe { libc::clock_gettime(clock, now.as_mut_ptr()) } != 0 {
        return Err(format!("clock_gettime: {}", io::Error::last_os_error()));
    }
    // SAFETY: `clock_gettime` succeeded, so it filled in `now`.
    let now = unsafe { now.assume_init() };
    let secs = u64::try_from(now.tv_sec).map_err(|_| "negative CPU time".to_owned())?;
    let nanos = u32::try_from(now.tv_nsec).map_err(|_| "invalid CPU time".to_owned())?;
    Ok(Duration::new(secs, nanos))
}
