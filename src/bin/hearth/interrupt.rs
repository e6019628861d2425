//! Ctrl+C (SIGINT) and SIGTERM for `hearth map`: the first prints a status
//! line and stops starting jobs (the running ones finish); a second within
//! a second kills the slots.
//!
//! The signals are blocked in every thread and taken with `sigwait` by a
//! thread of their own, so no signal handler is needed. The worker
//! processes are in their own process groups: a Ctrl+C in the terminal
//! reaches only `hearth`, which decides how they end.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hearth::remote::{PoolControl, PoolMetrics};

/// How close a second Ctrl+C must follow the first to kill the slots.
const KILL_WITHIN: Duration = Duration::from_secs(1);

/// Blocks SIGINT and SIGTERM for the calling thread and the threads it
/// starts from now on. Call it first, before any other thread exists.
/// Child processes do not inherit the block: the standard library resets
/// the signal mask when it spawns them.
pub fn block() -> io::Result<libc::sigset_t> {
    // SAFETY: `sigset_t` is a plain C struct; `sigemptyset` initialises it
    // before use, `sigaddset` gets valid signal numbers, and
    // `pthread_sigmask` only changes this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let _ = libc::sigemptyset(&mut set);
        let _ = libc::sigaddset(&mut set, libc::SIGINT);
        let _ = libc::sigaddset(&mut set, libc::SIGTERM);
        let err = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        Ok(set)
    }
}

/// Starts the thread that waits for the signals in `set` and acts on the
/// pool through `control`; the returned flag is set on the first signal.
pub fn watch(set: libc::sigset_t, control: PoolControl) -> io::Result<Arc<AtomicBool>> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    let _ = std::thread::Builder::new()
        .name("hearth-signals".to_owned())
        .spawn(move || {
            let mut last: Option<Instant> = None;
            loop {
                let mut signal = 0;
                // SAFETY: `set` is an initialised signal set and `signal` a
                // valid place for the result.
                if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                    continue;
                }
                flag.store(true, Ordering::SeqCst);
                let now = Instant::now();
                if last.is_some_and(|at| now.duration_since(at) <= KILL_WITHIN) {
                    say!("hearth: interrupted again: killing the slots");
                    control.kill();
                } else {
                    say!(
                        "hearth: interrupted: {}; finishing the running jobs, starting no new ones \
                         (Ctrl+C again within a second kills them)",
                        status_line(&control.metrics())
                    );
                    control.stop_starting();
                }
                last = Some(now);
            }
        })?;
    Ok(interrupted)
}

/// `running=R done=D queued=Q; node1: running=.. done=..; ...`
fn status_line(metrics: &PoolMetrics) -> String {
    let hosts: Vec<String> = metrics
        .hosts
        .iter()
        .map(|h| {
            let pending = if h.pending > 0 {
                format!(" pending={}", h.pending)
            } else {
                String::new()
            };
            format!(
                "{}: running={} done={} slots alive={}/{}{pending}",
                h.name, h.busy, h.jobs_done, h.alive, h.slots
            )
        })
        .collect();
    format!(
        "running={} done={} queued={}; {}",
        metrics.jobs_in_flight,
        metrics.jobs_done,
        metrics.jobs_queued,
        hosts.join("; ")
    )
}
