//! How much a run in input order holds back behind a slow job: the
//! reports that finish behind it wait in memory, bounded in bytes by
//! `PoolBuilder::max_held_bytes`.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;
use std::{panic, thread};

use super::{gates, inputs::guarded};
use hearth::remote::{Host, JobReport, Order, Pool, PoolControl, PoolMetrics, Target};

/// Output of every job but the first.
const OUTPUT: usize = 256 << 10;

/// Bound of the run's held reports.
const MAX_HELD: usize = 4 * OUTPUT;

/// Jobs of the run.
const JOBS: u64 = 24;

/// Watches the metrics of `control`'s pool until `settled` holds of them
/// (at most 60 s), then sets `flag` to let the waiting first job end
/// either way, so that the run ends; the thread returns those metrics.
fn release_when(
    control: &PoolControl,
    flag: &Path,
    settled: impl Fn(&PoolMetrics) -> bool + Send + 'static,
) -> thread::JoinHandle<Option<PoolMetrics>> {
    let (control, flag) = (control.clone(), flag.to_path_buf());
    thread::spawn(move || {
        let seen = gates::poll_for(Duration::from_mins(1), || {
            Some(control.metrics()).filter(|m| settled(m))
        });
        std::fs::write(&flag, b"").unwrap();
        seen
    })
}

/// Behind a first job that waits, the other slot's reports of 256 KiB each
/// pile up to the bound and no further: the pool then starts no job but
/// the waiting one (it used to run every job and hold all their outputs).
/// Once that job ends, every output comes, whole and in input order.
pub fn held_reports_are_bounded_in_bytes() {
    let dir = super::temp_dir("held");
    let flag = dir.join("flag");
    let mut pool = Pool::builder()
        .host(Host::local(2))
        .max_held_bytes(MAX_HELD)
        .build()
        .unwrap();
    let inputs: Vec<(Option<PathBuf>, u64)> = (0..JOBS)
        .map(|x| match x {
            0 => (Some(flag.clone()), 16),
            _ => (None, OUTPUT as u64 + x),
        })
        .collect();
    let control = pool.control();
    // Past the bound with only the waiting job in flight: held, or (had
    // the pool not held its jobs) every other job done.
    let watcher = release_when(&control, &flag, |m| {
        m.reports_held_bytes > MAX_HELD && m.jobs_in_flight == 1
    });
    let out = guarded(&control, "the run did not end", || {
        pool.map::<_, Vec<u8>>(&Target::Any, "wait_then_big", inputs)
    })
    .unwrap();
    let held = watcher
        .join()
        .unwrap()
        .expect("the reports never passed the bound");
    // Over the bound by one report at most: the other slot (window 1) had
    // one job in flight when its reports passed the bound.
    assert!(
        held.jobs_done <= MAX_HELD / OUTPUT + 1,
        "{} jobs were done behind the waiting one",
        held.jobs_done
    );
    assert!(held.jobs_queued > 0, "{held:?}");
    assert!(held.reports_held_bytes <= MAX_HELD + 2 * OUTPUT, "{held:?}");
    assert_eq!(out.len() as u64, JOBS);
    for (x, output) in out.into_iter().enumerate() {
        let len = if x == 0 { 16 } else { OUTPUT + x };
        assert_eq!(output.map(|o| o.len()), Ok(len), "job {x}");
    }
    let after = pool.metrics();
    assert_eq!((after.reports_held, after.reports_held_bytes), (0, 0));
    pool.shutdown(Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(dir);
}

/// A run whose callback panics while reports are held leaves no held
/// reports in the pool's metrics (they stayed until the next run).
pub fn held_counters_clear_when_a_callback_panics() {
    let dir = super::temp_dir("held-panic");
    let flag = dir.join("flag");
    let mut pool = Pool::builder().host(Host::local(2)).build().unwrap();
    let inputs: Vec<(Option<PathBuf>, u64)> = (0..6)
        .map(|x| match x {
            0 => (Some(flag.clone()), 16),
            _ => (None, 10),
        })
        .collect();
    let control = pool.control();
    let watcher = release_when(&control, &flag, |m| m.reports_held == 5);
    let abandoned = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        pool.run(
            &Target::Any,
            "wait_then_big",
            inputs,
            Order::Submission,
            |_, _: JobReport<Vec<u8>>| -> ControlFlow<()> { panic!("the caller gives up") },
        )
    }));
    assert!(abandoned.is_err());
    assert!(watcher.join().unwrap().is_some(), "five reports never held");
    let after = pool.metrics();
    assert_eq!((after.reports_held, after.reports_held_bytes), (0, 0));
    pool.shutdown(Duration::from_secs(10));
    let _ = std::fs::remove_dir_all(dir);
}
