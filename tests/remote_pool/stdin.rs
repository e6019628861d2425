//! A job's stdin over the slot's own connection (`Files::stdin`): every
//! byte reaches the job, on this machine's slots and on a host reached
//! through a launcher alike, in memory or spilled to a file on the
//! worker; a command run by the job reads it through a pipe; and a run
//! holds the stdin of only as many jobs as its slots need.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hearth::remote::{Files, Host, Inputs, JobReport, Order, Pool, Target, Transport};

use super::runner;

/// FNV-1a of `bytes`.
pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Bytes of stdin `i`: empty, small, several chunks, past the worker's
/// spill bound.
fn block(i: usize) -> Vec<u8> {
    let len = [0, 1, 700 * 1024, 5 * 1024 * 1024 + 3][i % 4] + i;
    (0..len).map(|b| (b * 7 + i).to_le_bytes()[0]).collect()
}

/// A pool of this machine's slots, and one of a host through a launcher
/// (which the pool treats as remote).
fn pools() -> [(&'static str, Pool); 2] {
    let far = Transport::Command {
        template: vec!["env".to_owned(), "{bin}".to_owned()],
        bin: runner::exe(),
    };
    [
        (
            "local",
            Pool::builder().host(Host::local(2)).build().unwrap(),
        ),
        (
            "far",
            Pool::builder()
                .host(Host::new("far", 2, far))
                .build()
                .unwrap(),
        ),
    ]
}

/// Twelve jobs with stdin of every size: each job read its own bytes,
/// whole; a job without one reads none.
pub(crate) fn stdin_goes_with_its_job() {
    for (name, mut pool) in pools() {
        let jobs: Vec<((), Files)> = (0..12)
            .map(|i| ((), Files::new().stdin(block(i))))
            .collect();
        let mut reports = Vec::new();
        pool.run(
            &Target::Any,
            "stdin_digest",
            Inputs::with_files(jobs),
            Order::Submission,
            |_, report: JobReport<Option<(u64, u64)>>| {
                reports.push(report);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(reports.len(), 12, "{name}");
        for (i, report) in reports.iter().enumerate() {
            let bytes = block(i);
            let want = Some((bytes.len() as u64, fnv(&bytes)));
            assert_eq!(report.result.as_ref().ok(), Some(&want), "{name} job {i}");
        }
        let plain = pool.map(&Target::Any, "stdin_digest", vec![()]).unwrap();
        let plain: Vec<Option<(u64, u64)>> = plain.into_iter().map(Result::unwrap).collect();
        assert_eq!(plain, vec![None], "{name}: no stdin");
        pool.shutdown(Duration::from_secs(5));
    }
}

/// A command reads the job's stdin on its own: `wc -c` counts it all,
/// over a pipe (`test -p`); one that reads a little and exits, or reads
/// nothing, ends the job at once without an error.
pub(crate) fn commands_read_the_jobs_stdin() {
    for (name, mut pool) in pools() {
        let big = block(3);
        let cases = [
            (
                "test -p /dev/stdin && wc -c",
                big.clone(),
                format!("{}\n", big.len()),
            ),
            ("head -c 5 | wc -c", big.clone(), "5\n".to_owned()),
            (
                "echo nothing read",
                big.clone(),
                "nothing read\n".to_owned(),
            ),
            ("wc -l", b"a\nb\n".to_vec(), "2\n".to_owned()),
        ];
        let jobs: Vec<(String, Files)> = cases
            .iter()
            .map(|(script, bytes, _)| ((*script).to_owned(), Files::new().stdin(bytes.clone())))
            .collect();
        let mut reports = Vec::new();
        pool.run(
            &Target::Any,
            "sh_stdin",
            Inputs::with_files(jobs),
            Order::Submission,
            |_, report: JobReport<Option<i32>>| {
                reports.push(report);
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        for ((script, _, want), report) in cases.iter().zip(&reports) {
            assert_eq!(
                report.result.as_ref().ok(),
                Some(&Some(0)),
                "{name} {script}: {report:?}"
            );
            let out = String::from_utf8_lossy(&report.stdout);
            assert_eq!(out.trim_start(), want.as_str(), "{name} {script}");
        }
        pool.shutdown(Duration::from_secs(5));
    }
}

/// Fed jobs with stdin are taken only as the slots need them: while 2
/// slots run, the feeder (a channel of 1) is never more than a handful of
/// jobs ahead of the reports. Without the bound the pool took every job
/// sent at once, and held every block.
pub(crate) fn stdin_blocks_are_taken_as_slots_need_them() {
    let mut pool = Pool::builder().host(Host::local(2)).build().unwrap();
    let (feeder, feed) = pool.feed::<String>(1);
    let reported = Arc::new(AtomicUsize::new(0));
    let most_ahead = Arc::new(AtomicUsize::new(0));
    let (seen, most) = (reported.clone(), most_ahead.clone());
    let producer = std::thread::spawn(move || {
        for sent in 1..=40 {
            let files = Files::new().stdin(vec![b'x'; 10_000]);
            let script = "wc -c >/dev/null".to_owned();
            feeder.send_with_files(&script, files).unwrap();
            let ahead = sent - seen.load(Ordering::SeqCst).min(sent);
            let _ = most.fetch_max(ahead, Ordering::SeqCst);
        }
    });
    let mut done = 0;
    pool.run(
        &Target::Any,
        "sh_stdin",
        feed,
        Order::Completion,
        |_, report: JobReport<Option<i32>>| {
            assert_eq!(report.result.as_ref().ok(), Some(&Some(0)), "{report:?}");
            done += 1;
            let _ = reported.fetch_add(1, Ordering::SeqCst);
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    producer.join().unwrap();
    assert_eq!(done, 40);
    // 2 jobs on the slots, 1 in the channel, 1 being sent.
    let ahead = most_ahead.load(Ordering::SeqCst);
    assert!(
        ahead <= 4,
        "the feeder ran {ahead} jobs ahead of the reports"
    );
    pool.shutdown(Duration::from_secs(5));
}
