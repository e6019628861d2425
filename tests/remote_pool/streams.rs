//! Output streamed by the jobs (`JobContext::write`): handed out as it
//! comes by `Pool::run_raw`, in input order with what waits held in
//! memory and in temporary files, of any size; collected, up to a limit,
//! by the calls that return values.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use super::{gates, inputs::guarded};
use hearth::remote::{
    Event, Host, JobFailure, JobReport, Order, Pool, PoolMetrics, Stream, Target,
};

/// What a run handed out, event by event: `(index, bytes)` for output,
/// `(index, None)` for a report.
type Log = Vec<(usize, Option<Vec<u8>>)>;

/// Runs `stream` jobs (`(flag, len, byte)`) with `run_raw` in `order`,
/// logging the events (and the report of each job).
fn run_streams(
    pool: &mut Pool,
    inputs: Vec<(Option<PathBuf>, u64, u8)>,
    order: Order,
) -> (Log, Vec<JobReport>) {
    let control = pool.control();
    let (mut log, mut reports): (Log, Vec<JobReport>) = (Vec::new(), Vec::new());
    guarded(&control, "the streaming run hung", || {
        pool.run_raw(&Target::Any, "stream", inputs, order, |event| {
            match event {
                Event::Output {
                    index,
                    stream,
                    bytes,
                    slot,
                } => {
                    assert_eq!(stream, Stream::Stdout);
                    assert!(slot.label.starts_with("local:"), "{slot:?}");
                    log.push((index, Some(bytes.to_vec())));
                }
                Event::Done { index, report } => {
                    log.push((index, None));
                    reports.push(report);
                }
                _ => {}
            }
            ControlFlow::Continue(())
        })
    })
    .unwrap();
    (log, reports)
}

/// The log with each job's run of events merged: `(index, bytes, done)`,
/// one entry per stretch of events of one job.
fn stretches(log: &Log) -> Vec<(usize, Vec<u8>, bool)> {
    let mut out: Vec<(usize, Vec<u8>, bool)> = Vec::new();
    for (index, bytes) in log {
        match out.last_mut() {
            Some((last, _, false)) if last == index => {}
            _ => out.push((*index, Vec::new(), false)),
        }
        let entry = out.last_mut().unwrap();
        match bytes {
            Some(bytes) => entry.1.extend_from_slice(bytes),
            None => entry.2 = true,
        }
    }
    out
}

/// Four jobs stream 3 to 6 MiB each on three slots while the first waits:
/// the first job's output goes out as it comes, the others' wait, in
/// memory up to the bound (1 MiB) and in temporary files past it, then come
/// whole, job after job, in input order, byte for byte.
pub fn streamed_outputs_come_whole_in_input_order_in_bounded_memory() {
    const MIB: u64 = 1 << 20;
    const MIB_LEN: usize = 1 << 20;
    let dir = super::temp_dir("streams");
    let flag = dir.join("flag");
    let mut pool = Pool::builder()
        .host(Host::local(3))
        .max_held_bytes(MIB_LEN)
        .build()
        .unwrap();
    let inputs = vec![
        (Some(flag.clone()), 3 * MIB, b'a'),
        (None, 6 * MIB, b'b'),
        (None, 5 * MIB, b'c'),
        (None, 4 * MIB, b'd'),
    ];
    // The first job ends once the others' output went to files.
    let control = pool.control();
    let watcher = {
        let flag = flag.clone();
        thread::spawn(move || {
            let seen = gates::poll_for(Duration::from_mins(1), || {
                Some(control.metrics()).filter(|m| m.output_held_in_files >= 4 * MIB)
            });
            std::fs::write(&flag, b"").unwrap();
            seen
        })
    };
    let (log, reports) = run_streams(&mut pool, inputs, Order::Submission);
    let seen: Option<PoolMetrics> = watcher.join().unwrap();
    let seen = seen.expect("the waiting outputs never went to temporary files");
    assert!(
        seen.output_held_bytes <= MIB_LEN,
        "{} bytes held in memory",
        seen.output_held_bytes
    );
    let got: Vec<(usize, usize, bool)> = stretches(&log)
        .into_iter()
        .map(|(index, bytes, done)| {
            let byte = b"abcd"[index];
            assert!(bytes.iter().all(|&b| b == byte), "job {index}'s bytes");
            (index, bytes.len(), done)
        })
        .collect();
    let mib = MIB_LEN;
    assert_eq!(
        got,
        [
            (0, 3 * mib, true),
            (1, 6 * mib, true),
            (2, 5 * mib, true),
            (3, 4 * mib, true)
        ]
    );
    for report in &reports {
        assert!(report.stdout.is_empty(), "handed out, not collected");
    }
    let metrics = pool.metrics();
    assert_eq!(
        (metrics.output_held_bytes, metrics.output_held_in_files),
        (0, 0)
    );
    pool.shutdown(Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(&dir);
}

/// As jobs finish, each job's output comes whole before its report; as
/// it arrives, every byte of every job comes before its report.
pub fn streamed_outputs_in_completion_and_arrival_order() {
    let mut pool = Pool::builder()
        .host(Host::local(3))
        .max_held_bytes(64 << 10)
        .build()
        .unwrap();
    let inputs = || -> Vec<(Option<PathBuf>, u64, u8)> {
        (0..6u8)
            .map(|i| (None, 300_000 + u64::from(i), b'a' + i))
            .collect()
    };
    let (log, _) = run_streams(&mut pool, inputs(), Order::Completion);
    let whole = stretches(&log);
    assert_eq!(
        whole.len(),
        6,
        "one stretch per job: {:?}",
        whole.iter().map(|w| w.0).collect::<Vec<_>>()
    );
    for (index, bytes, done) in whole {
        assert!(done);
        assert_eq!(
            bytes,
            vec![b'a' + u8::try_from(index).unwrap(); 300_000 + index]
        );
    }
    let (log, _) = run_streams(&mut pool, inputs(), Order::Arrival);
    for index in 0..6 {
        let events: Vec<&Option<Vec<u8>>> = log
            .iter()
            .filter(|(i, _)| *i == index)
            .map(|(_, e)| e)
            .collect();
        assert!(matches!(events.last(), Some(None)), "report last");
        let bytes: usize = events.iter().filter_map(|e| e.as_ref()).map(Vec::len).sum();
        assert_eq!(bytes, 300_000 + index);
    }
    pool.shutdown(Duration::from_secs(10));
}

/// `map` and `run` collect what a job streams, up to 16 MiB: a report
/// holds it, and more fails the job with a clear error, the rest dropped
/// (never all of it held).
pub fn collected_output_has_a_limit_and_a_clear_error() {
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let inputs: Vec<(Option<PathBuf>, u64, u8)> = vec![(None, 17 << 20, b'x'), (None, 1000, b'y')];
    let out = pool
        .map::<_, u64>(&Target::Any, "stream", inputs.clone())
        .unwrap();
    match &out[0] {
        Err(err @ JobFailure::OutputTooLarge { limit }) => {
            assert_eq!(*limit, 16 << 20);
            assert!(
                err.to_string()
                    .contains("take large outputs as they come (Pool::run_raw)"),
                "{err}"
            );
        }
        other => panic!("expected a job with too much output, got {other:?}"),
    }
    assert_eq!(out[1], Ok(1000));
    let mut collected = Vec::new();
    pool.run(
        &Target::Any,
        "stream",
        &inputs[1..],
        Order::Submission,
        |_, report: JobReport<u64>| {
            collected.push((report.result, report.stdout));
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(collected, [(Ok(1000), vec![b'y'; 1000])]);
    pool.shutdown(Duration::from_secs(10));
}

/// The job streaming as it runs (the head of a run in input order) loses
/// its slot after part of its output went out (the job crashes once the
/// caller has its first bytes): it is not run again, which would send that
/// part twice; it fails saying so.
pub fn slot_lost_after_live_output_ends_the_job() {
    let (runs, marker, dir) = crash_files("live-output");
    let flag = dir.join("flag");
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let mut out = 0;
    let mut failure = None;
    pool.run_raw(
        &Target::Any,
        "stream_then_crash",
        [(runs.clone(), marker, Some(flag.clone()), 100_000u64)],
        Order::SubmissionLive,
        |event| {
            match event {
                Event::Output { bytes, .. } => {
                    out += bytes.len();
                    std::fs::write(&flag, b"").unwrap();
                }
                Event::Done { report, .. } => failure = report.result.err(),
                _ => {}
            }
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(out, 100_000);
    match failure {
        Some(err @ JobFailure::OutputCut { .. }) => {
            assert!(err.to_string().contains("not run again"), "{err}");
        }
        other => panic!("expected a job cut short, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 1);
    pool.shutdown(Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A job whose output is held (as jobs finish) loses its slot: its output
/// so far is dropped, it runs again, and only the second run's comes out.
pub fn slot_lost_while_output_is_held_runs_the_job_again() {
    lost_slot_with_held_output_runs_again("held-output", Order::Completion);
}

/// The same for the first job of a run in input order: its output is held
/// too (as GNU parallel's `--keep-order`), so its slot's loss runs it again
/// (a Slurm step killed mid-run of `hearth map` lost such a job).
pub fn slot_lost_under_the_head_in_input_order_runs_it_again() {
    lost_slot_with_held_output_runs_again("held-head", Order::Submission);
}

fn lost_slot_with_held_output_runs_again(name: &str, order: Order) {
    let (runs, marker, dir) = crash_files(name);
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let mut out = 0;
    let mut result = None;
    pool.run_raw(
        &Target::Any,
        "stream_then_crash",
        [(runs.clone(), marker, None::<PathBuf>, 100_000u64)],
        order,
        |event| {
            match event {
                Event::Output { bytes, .. } => out += bytes.len(),
                Event::Done { report, .. } => result = Some(report.result),
                _ => {}
            }
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    let expected: Vec<u8> = postcard::to_stdvec(&100_000u64).unwrap();
    assert_eq!(result, Some(Ok(expected)));
    assert_eq!(out, 100_000);
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 2);
    pool.shutdown(Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run counter file and a crash marker in a fresh directory.
fn crash_files(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = super::temp_dir(name);
    (dir.join("runs"), dir.join("crashed"), dir)
}
