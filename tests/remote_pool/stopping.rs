//! A job past its time limit is stopped by its worker (`CANCEL`): the
//! processes of its command get the pool's `TermSequence` (`SIGTERM`
//! first, as GNU parallel's `--termseq`), what they print meanwhile is
//! its output, and the slot serves on without a restart; only a handler
//! that does not stop is killed with its worker.

use std::ops::ControlFlow;
use std::time::Duration;

use super::inputs::guarded;
use hearth::remote::{Event, Host, JobFailure, Order, Pool, Stream, Target, TermSequence};

/// The limit of the runs here.
const LIMIT: Duration = Duration::from_millis(500);

/// A pool of one local slot with the time limit and `sequence`.
fn pool(sequence: Option<&str>) -> Pool {
    let builder = Pool::builder().host(Host::local(1)).timeout(LIMIT);
    let builder = match sequence {
        Some(seq) => builder.term_sequence(seq.parse::<TermSequence>().unwrap()),
        None => builder,
    };
    builder.build().unwrap()
}

/// A time-out after which the job returned `value` (its command's exit
/// code, or `None` for one a signal ended).
fn stopped_with<T: serde::Serialize>(value: T) -> JobFailure {
    JobFailure::TimedOut {
        after: LIMIT,
        returned: Some(postcard::to_allocvec(&value).unwrap()),
    }
}

/// The pid of the slot's worker.
fn worker_pid(pool: &mut Pool) -> u32 {
    let out = pool.map::<u64, u32>(&Target::Any, "pid", [0]).unwrap();
    *out[0].as_ref().unwrap()
}

/// Runs `sh -c script` as one job (`sh_stdin`); its stdout and result.
fn run_script(pool: &mut Pool, script: &str) -> (String, Result<(), JobFailure>) {
    let control = pool.control();
    let (mut stdout, mut result) = (Vec::new(), None);
    guarded(&control, "the stopped job's run hung", || {
        pool.run_raw(
            &Target::Any,
            "sh_stdin",
            [script.to_owned()],
            Order::Submission,
            |event| {
                match event {
                    Event::Output {
                        bytes,
                        stream: Stream::Stdout,
                        ..
                    } => stdout.extend_from_slice(bytes),
                    Event::Done { report, .. } => result = Some(report.result.map(|_| ())),
                    _ => {}
                }
                ControlFlow::Continue(())
            },
        )
    })
    .unwrap();
    (String::from_utf8(stdout).unwrap(), result.unwrap())
}

/// A job that traps `SIGTERM` cleans up when it passes its time limit,
/// and its cleanup's output is its output; it ends timed out, and the
/// same worker runs the next job.
pub fn a_job_past_its_time_limit_gets_sigterm_and_its_slot_serves_on() {
    let mut pool = pool(None);
    let before = worker_pid(&mut pool);
    let (stdout, result) = run_script(
        &mut pool,
        "trap 'echo cleanup; exit 3' TERM; echo started; sleep 30",
    );
    assert_eq!(stdout, "started\ncleanup\n");
    // Its trap's exit status is what it returned.
    assert_eq!(result, Err(stopped_with(Some(3))));
    assert_eq!(worker_pid(&mut pool), before, "the slot was started again");
    pool.shutdown(Duration::from_secs(10));
}

/// The pool's sequence is the one sent: `SIGINT` here, which the job
/// traps.
pub fn the_pools_term_sequence_is_the_one_sent() {
    let mut pool = pool(Some("INT,5000"));
    let (stdout, result) = run_script(&mut pool, "trap 'echo interrupted; exit 0' INT; sleep 30");
    assert_eq!(stdout, "interrupted\n");
    assert_eq!(result, Err(stopped_with(Some(0))));
    pool.shutdown(Duration::from_secs(10));
}

/// A command that ignores `SIGTERM` (its `sleep` too, which inherits the
/// ignored signal) is ended by the sequence's `SIGKILL`, which reaches
/// the grandchild; the worker lives on.
pub fn a_command_that_ignores_sigterm_ends_by_sigkill() {
    let mut pool = pool(None);
    let before = worker_pid(&mut pool);
    let (stdout, result) = run_script(&mut pool, "trap '' TERM; echo deaf; sleep 30; echo never");
    assert_eq!(stdout, "deaf\n");
    // Ended by a signal: no exit code.
    assert_eq!(result, Err(stopped_with(None::<i32>)));
    assert_eq!(worker_pid(&mut pool), before, "the slot was started again");
    pool.shutdown(Duration::from_secs(10));
}

/// A handler that runs no command sees the request and returns: timed
/// out all the same, and its worker serves on.
pub fn a_handler_that_sees_the_cancel_returns_and_its_slot_serves_on() {
    let mut pool = pool(None);
    let before = worker_pid(&mut pool);
    let out = pool
        .map::<u64, u64>(&Target::Any, "until_cancelled", [7])
        .unwrap();
    assert_eq!(out, [Err(stopped_with(7u64))]);
    assert_eq!(worker_pid(&mut pool), before, "the slot was started again");
    pool.shutdown(Duration::from_secs(10));
}

/// A command that closed its outputs still gets the sequence: its end is
/// waited for past the pipes' (it used to be killed with its worker).
pub fn a_command_without_outputs_is_stopped_too() {
    let mut pool = pool(None);
    let before = worker_pid(&mut pool);
    let (stdout, result) = run_script(&mut pool, "echo quiet; exec >/dev/null 2>&1; sleep 30");
    assert_eq!(stdout, "quiet\n");
    assert_eq!(result, Err(stopped_with(None::<i32>)));
    assert_eq!(worker_pid(&mut pool), before, "the slot was started again");
    pool.shutdown(Duration::from_secs(10));
}
