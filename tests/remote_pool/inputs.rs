//! How a run takes its inputs: from a list, as the slots need them, and
//! from a feed (`Pool::run_fed`), as they are sent while the run goes on.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use super::gates;
use hearth::remote::{
    Event, FeedError, Host, JobFailure, JobReport, Order, Pool, PoolControl, PoolError, Target,
    Transport,
};

/// Longest a test waits for a report or a feeder (a last guard).
const GUARD: Duration = Duration::from_mins(1);

/// Runs `run` (a run of the pool `control` belongs to) under a watchdog:
/// a run still going after [`GUARD`] is ended by killing the pool, and the
/// test fails, saying `what`.
pub fn guarded<T>(control: &PoolControl, what: &str, run: impl FnOnce() -> T) -> T {
    let (ended, watch) = mpsc::channel::<()>();
    let control = control.clone();
    let watchdog = thread::spawn(move || {
        let hung = watch.recv_timeout(GUARD).is_err();
        if hung {
            control.kill();
        }
        hung
    });
    let out = run();
    let _ = ended.send(());
    assert!(!watchdog.join().unwrap(), "{what}");
    out
}

/// Each input is sent only after the job of the one before it was
/// reported: the run takes inputs as they come, not once they all came.
pub fn inputs_run_as_they_come() {
    let mut pool = Pool::builder().host(Host::local(2)).build().unwrap();
    let (feeder, feed) = pool.feed::<u64>(4);
    let (reported_tx, reported) = mpsc::channel();
    let sender = thread::spawn(move || {
        for x in 0..50u64 {
            feeder.send(&x)?;
            if reported.recv_timeout(GUARD).is_err() {
                return Err(FeedError::Encode(format!("no report of input {x}")));
            }
        }
        Ok(())
    });
    let mut outputs = Vec::new();
    pool.run(
        &Target::Any,
        "square",
        feed,
        Order::Submission,
        |index, report: JobReport<u64>| {
            outputs.push((index, report.result));
            let _ = reported_tx.send(());
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    sender.join().unwrap().unwrap();
    let expected: Vec<(usize, Result<u64, JobFailure>)> = (0..50u64)
        .map(|x| (usize::try_from(x).unwrap(), Ok(x * x)))
        .collect();
    assert_eq!(outputs, expected);
    pool.shutdown(Duration::from_secs(10));
}

/// A run that stops (here: its callback breaks) takes no more inputs and
/// tells its feeder, which would otherwise send for ever; every input it
/// took is reported once.
pub fn stopped_run_closes_the_feed() {
    let mut pool = Pool::builder()
        .host(Host::local(2))
        .window(2)
        .build()
        .unwrap();
    let (feeder, feed) = pool.feed::<u64>(8);
    let sender = thread::spawn(move || {
        let mut sent = 0u64;
        loop {
            match feeder.send(&(sent % 1000)) {
                Ok(()) => sent += 1,
                Err(err) => return (sent, err),
            }
        }
    });
    let mut seen = Vec::new();
    pool.run(
        &Target::Any,
        "square",
        feed,
        Order::Completion,
        |index, _: JobReport<u64>| {
            seen.push(index);
            if index == 100 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .unwrap();
    let (sent, err) = sender.join().unwrap();
    assert_eq!(err, FeedError::Closed);
    seen.sort_unstable();
    let taken = seen.len();
    assert_eq!(
        seen,
        (0..taken).collect::<Vec<_>>(),
        "each input taken is reported once"
    );
    assert!(
        taken as u64 <= sent,
        "{taken} reports for {sent} inputs sent"
    );
    // The pool still works.
    let out = pool.map::<u64, u64>(&Target::Any, "square", [3]).unwrap();
    assert_eq!(out, [Ok(9)]);
    pool.shutdown(Duration::from_secs(10));
}

/// When no slot can run the jobs, a feed is not read to its end (it might
/// have none): the run ends and the feeder learns it.
pub fn feed_ends_when_no_slot_is_left() {
    let host = Host::new(
        "nowhere",
        1,
        Transport::local_bin("/nonexistent/hearth-worker"),
    );
    let mut pool = Pool::builder().host(host).build().unwrap();
    let (feeder, feed) = pool.feed::<u64>(8);
    let sender = thread::spawn(move || {
        let mut x = 0u64;
        loop {
            if let Err(err) = feeder.send(&x) {
                return err;
            }
            x += 1;
        }
    });
    let mut not_run = 0;
    pool.run(
        &Target::Any,
        "square",
        feed,
        Order::Submission,
        |_, report: JobReport<u64>| {
            assert!(
                matches!(report.result, Err(JobFailure::NotRun { .. })),
                "{:?}",
                report.result
            );
            not_run += 1;
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(sender.join().unwrap(), FeedError::Closed);
    // The slot may be dead before the first input is taken: then no job
    // is reported at all; taken ones are all reported as not run (above).
    assert!(not_run <= 8 + 4096, "{not_run} jobs taken");
}

/// A feed runs only on the pool that made it.
pub fn feed_of_another_pool_is_refused() {
    let maker = Pool::builder().host(Host::local(1)).build().unwrap();
    let mut other = Pool::builder().host(Host::local(1)).build().unwrap();
    let (_feeder, feed) = maker.feed::<u64>(1);
    let result = other.run(
        &Target::Any,
        "square",
        feed,
        Order::Submission,
        |_, _: JobReport<u64>| ControlFlow::Continue(()),
    );
    assert!(matches!(result, Err(PoolError::ForeignFeed)), "{result:?}");
    maker.shutdown(Duration::from_secs(10));
    other.shutdown(Duration::from_secs(10));
}

/// A run takes inputs only while fewer than 4096 of its jobs wait to be
/// reported: behind a job that does not end, a feeder that sends for ever
/// is held up (here after 4096 taken and 8 in the feed) instead of filling
/// the memory.
pub fn feed_is_held_up_behind_a_job_that_does_not_end() {
    const TAKEN: u64 = 4096;
    const CAPACITY: usize = 8;
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let control = pool.control();
    let (feeder, feed) = pool.feed::<u64>(CAPACITY);
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let sender = thread::spawn(move || {
        while feeder.send(&0).is_ok() {
            let _ = counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let bound = TAKEN + CAPACITY as u64;
    let watcher = thread::spawn(move || {
        let reached = gates::wait_until(GUARD, || sent.load(Ordering::SeqCst) >= bound);
        control.kill();
        (reached, sent)
    });
    let mut reports = 0u64;
    pool.run(
        &Target::Any,
        "hang",
        feed,
        Order::Submission,
        |_, _: JobReport<u64>| {
            reports += 1;
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    sender.join().unwrap();
    let (reached, sent) = watcher.join().unwrap();
    assert!(reached.is_ok(), "the feeder was held up early");
    assert_eq!(sent.load(Ordering::SeqCst), bound, "inputs sent");
    assert_eq!(reports, TAKEN, "jobs reported");
}

/// The run ends as soon as its last feeder is dropped, however the drop
/// falls against the run's loop (the feeder once woke the pool before it
/// let go of the channel, and a run could then sleep for ever).
pub fn last_feeder_dropped_ends_the_run() {
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    for round in 0..200u64 {
        let (feeder, feed) = pool.feed::<u64>(1);
        let (reported_tx, reported) = mpsc::channel::<()>();
        // Dropped once the run has nothing left to do but wait for more.
        let sender = thread::spawn(move || {
            let _ = feeder.send(&round);
            let _ = reported.recv_timeout(GUARD);
            // Not a synchronisation: time for the run to fall asleep, the
            // case that used to hang (the test holds without it).
            thread::sleep(Duration::from_millis(1));
        });
        let mut outputs = Vec::new();
        let what = format!("round {round}: the run missed the end of its inputs");
        guarded(&pool.control(), &what, || {
            pool.run(
                &Target::Any,
                "square",
                feed,
                Order::Submission,
                |_, report: JobReport<u64>| {
                    outputs.push(report.result);
                    let _ = reported_tx.send(());
                    ControlFlow::Continue(())
                },
            )
        })
        .unwrap();
        sender.join().unwrap();
        assert_eq!(outputs, [Ok(round * round)], "round {round}");
    }
    pool.shutdown(Duration::from_secs(10));
}

/// A list longer than the run takes at once, whose first job ends only
/// after the 4096th: the run takes more inputs once that burst of reports
/// made room (it once went to sleep with inputs left instead).
pub fn list_is_taken_again_after_a_burst_of_reports() {
    let dir = super::temp_dir("burst");
    let flag = dir.join("flag");
    let mut pool = Pool::builder().host(Host::local(2)).build().unwrap();
    // Job 0 waits on one slot for job 4095, which the other slot runs.
    let role = |x| match x {
        0 => "wait",
        4095 => "set",
        _ => "",
    };
    let inputs: Vec<(PathBuf, String, u64)> = (0..5000u64)
        .map(|x| (flag.clone(), role(x).to_owned(), x))
        .collect();
    let out = guarded(&pool.control(), "the run stopped taking inputs", || {
        pool.map::<_, u64>(&Target::Any, "flag", inputs)
    })
    .unwrap();
    assert_eq!(out, (0..5000).map(Ok).collect::<Vec<_>>());
    pool.shutdown(Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(dir);
}

/// Every slot dead while the feed is idle: the run ends without waiting
/// for an input, and the feeder learns it.
pub fn idle_feed_ends_when_no_slot_is_left() {
    let host = Host::new(
        "nowhere",
        1,
        Transport::local_bin("/nonexistent/hearth-worker"),
    );
    let mut pool = Pool::builder().host(host).build().unwrap();
    let (feeder, feed) = pool.feed::<u64>(8);
    let mut reports = 0;
    guarded(&pool.control(), "the run waited for an input", || {
        pool.run(
            &Target::Any,
            "square",
            feed,
            Order::Submission,
            |_, _: JobReport<u64>| {
                reports += 1;
                ControlFlow::Continue(())
            },
        )
    })
    .unwrap();
    assert_eq!(reports, 0);
    assert_eq!(feeder.send(&1), Err(FeedError::Closed));
}

/// A stopped run over a list still reports every input (as cancelled), but
/// takes them as far ahead as ever, not all at once (it used to read the
/// whole list, an endless one for ever, the moment it stopped).
pub fn stopped_list_is_taken_as_far_ahead_as_ever() {
    const INPUTS: usize = 20_000;
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let taken = std::cell::Cell::new(0usize);
    let inputs = (0..INPUTS as u64).inspect(|_| taken.set(taken.get() + 1));
    let mut most_ahead = 0;
    let mut cancelled = 0;
    let mut reports = 0;
    pool.run_raw(&Target::Any, "square", inputs, Order::Submission, |event| {
        if let Event::Done { index, report } = event {
            reports += 1;
            most_ahead = most_ahead.max(taken.get() - (index + 1));
            if matches!(report.result, Err(JobFailure::Cancelled(_))) {
                cancelled += 1;
            }
        }
        ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(reports, INPUTS);
    assert!(cancelled > INPUTS / 2, "{cancelled} cancelled");
    assert!(
        most_ahead <= 4096,
        "{most_ahead} inputs taken ahead of the reports"
    );
    pool.shutdown(Duration::from_secs(10));
}

/// The jobs of a run whose callback panicked still run; their late reports
/// are not taken for the next run's (they were: wrong outputs, or a panic
/// on an index below the next run's first).
pub fn late_reports_of_an_abandoned_run_are_dropped() {
    let mut pool = Pool::builder()
        .host(Host::local(2))
        .window(4)
        .build()
        .unwrap();
    let abandoned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.run(
            &Target::Any,
            "nap",
            [0u64, 300, 300, 300],
            Order::Completion,
            |_, _: JobReport<u64>| -> ControlFlow<()> { panic!("the caller gives up") },
        )
    }));
    assert!(abandoned.is_err());
    let out = pool
        .map::<u64, u64>(&Target::Any, "nap", [1, 2, 3, 4, 5, 6])
        .unwrap();
    assert_eq!(out, [Ok(1), Ok(2), Ok(3), Ok(4), Ok(5), Ok(6)]);
    pool.shutdown(Duration::from_secs(10));
}
