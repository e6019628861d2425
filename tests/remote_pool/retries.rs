//! `PoolBuilder::retries`: a job whose own run failed (an error of its
//! handler, its time limit passed, an output called failed) runs again,
//! on any slot, up to that many more times; the last run's outcome is the
//! job's.

use std::fs;
use std::ops::ControlFlow;
use std::time::Duration;

use hearth::remote::JobErrorKind;
use hearth::remote::{Host, JobFailure, JobReport, Order, Pool, Target};

use super::temp_dir;

/// Runs `handler` once on `input` in `pool`; returns the report.
fn run_one<I: serde::Serialize, O: serde::de::DeserializeOwned>(
    pool: &mut Pool,
    handler: &str,
    input: I,
) -> JobReport<O> {
    let mut reports = Vec::new();
    pool.run(
        &Target::Any,
        handler,
        [input],
        Order::Submission,
        |_, report: JobReport<O>| {
            reports.push(report);
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    reports.pop().unwrap()
}

/// Two failed runs and a third that succeeds, with two retries: the
/// third's output, after three attempts. Five failures: the third run's
/// error, after two retries, and no fourth run.
pub(crate) fn retries_run_a_failed_job_again() {
    let dir = temp_dir("retries");
    let mut pool = Pool::builder()
        .host(Host::local(2))
        .retries(2)
        .build()
        .unwrap();
    let report = run_one::<_, u64>(&mut pool, "fail_times", (dir.join("twice"), 2u64));
    assert_eq!(report.result, Ok(3), "{report:?}");
    assert_eq!((report.attempts, report.retries), (3, 2), "{report:?}");
    let report = run_one::<_, u64>(&mut pool, "fail_times", (dir.join("always"), 5u64));
    match &report.result {
        Err(JobFailure::Job(err)) => {
            assert_eq!(err.kind, JobErrorKind::Failed);
            assert_eq!(err.message, "failing run 3");
        }
        other => panic!("expected the third run's error, got {other:?}"),
    }
    assert_eq!((report.attempts, report.retries), (3, 2), "{report:?}");
    let runs = fs::read_to_string(dir.join("always")).unwrap();
    assert_eq!(runs.lines().count(), 3, "{runs:?}");
    // Without retries, an error is final at once.
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let report = run_one::<_, u64>(&mut pool, "fail_times", (dir.join("once"), 1u64));
    assert!(
        matches!(report.result, Err(JobFailure::Job(_))),
        "{report:?}"
    );
    assert_eq!((report.attempts, report.retries), (1, 0), "{report:?}");
    let _ = fs::remove_dir_all(dir);
}

/// A job past its time limit is its own failure too: with one retry it
/// runs twice, each run killed at its limit, and ends timed out.
pub(crate) fn retries_run_a_timed_out_job_again() {
    let dir = temp_dir("retries-timeout");
    let marks = dir.join("starts");
    let limit = Duration::from_millis(300);
    let mut pool = Pool::builder()
        .host(Host::local(1))
        .timeout(limit)
        .retries(1)
        .build()
        .unwrap();
    let report = run_one::<_, ()>(&mut pool, "mark_then_hang", marks.clone());
    assert_eq!(
        report.result,
        Err(JobFailure::TimedOut {
            after: limit,
            returned: None
        }),
        "{report:?}"
    );
    assert_eq!((report.attempts, report.retries), (2, 1), "{report:?}");
    let starts = fs::read_to_string(&marks).unwrap();
    assert_eq!(starts.lines().count(), 2, "{starts:?}");
    let _ = fs::remove_dir_all(dir);
}

/// An output that `failed_output` calls failed (here: a run number below
/// 3, as a command's non-zero exit status would be) runs again.
pub(crate) fn failed_output_is_retried_too() {
    let dir = temp_dir("retries-output");
    let mut pool = Pool::builder()
        .host(Host::local(1))
        .retries(5)
        .failed_output(|output| postcard::from_bytes::<u64>(output).is_ok_and(|run| run < 3))
        .build()
        .unwrap();
    let report = run_one::<_, u64>(&mut pool, "count_runs", dir.join("runs"));
    assert_eq!(report.result, Ok(3), "{report:?}");
    assert_eq!((report.attempts, report.retries), (3, 2), "{report:?}");
    let _ = fs::remove_dir_all(dir);
}
