//! The liveness exchange: a worker that stops answering is found without a
//! job time limit, a pool that is away between or inside its runs keeps
//! its workers, and a worker whose pool falls silent ends its job and
//! itself.

use std::io::Read;
use std::ops::ControlFlow;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::{env, fs, thread};

// A fake pool speaking raw frames to a worker process: through the hidden
// test-support path (the codec is not part of hearth's API).
use hearth::remote::test_support::wire::{self, Frame, FrameDecoder};
use hearth::remote::{self, Host, JobReport, Order, Pool, SlotFailure, SlotLost, Target};

use super::{gates, procs, squares, temp_dir};

/// The slots a pool lost, as its `on_slot_lost` told them.
type Lost = Arc<Mutex<Vec<SlotLost>>>;

/// A pool of `slots` local slots with `slot_timeout`, recording the slots
/// it loses in the returned list.
fn pool(slots: usize, slot_timeout: Duration) -> (Pool, Lost) {
    let lost = Lost::default();
    let record = lost.clone();
    let pool = Pool::builder()
        .host(Host::local(slots))
        .slot_timeout(slot_timeout)
        .max_attempts(5)
        .on_slot_lost(move |slot| record.lock().unwrap().push(slot.clone()))
        .build()
        .unwrap();
    (pool, lost)
}

/// A worker stopped with SIGSTOP in the middle of a job (as a frozen
/// process or host would be) answers no ping: without any job time limit,
/// its slot is declared dead once silent for the slot timeout, the pool
/// says so once, and the job runs again on a slot that answers. (Before
/// the liveness exchange, the run waited for ever.)
pub(crate) fn stopped_worker_is_found_and_its_job_runs_again() {
    let dir = temp_dir("stopped");
    let limit = Duration::from_secs(2);
    let (mut pool, lost) = pool(2, limit);
    let mut reports = Vec::new();
    pool.run(
        &Target::Any,
        "freeze_once",
        [(dir.join("frozen"), 1u64)],
        Order::Submission,
        |_, report: JobReport<u64>| {
            reports.push(report);
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    let report = &reports[0];
    assert_eq!(report.result, Ok(2), "{report:?}");
    assert_eq!((report.attempts, report.retries), (2, 0), "{report:?}");
    let lost = lost.lock().unwrap();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].failed.failure, SlotFailure::Silent { limit });
    assert_eq!((lost[0].requeued, lost[0].ended), (1, 0), "{lost:?}");
    assert_eq!(lost[0].host, "local");
    assert!(
        lost[0]
            .failed
            .to_string()
            .contains("no answer for 2s (the slot timeout)"),
        "{lost:?}"
    );
    drop(lost);
    squares(&mut pool, 10);
    pool.shutdown(Duration::from_secs(10));
    let _ = fs::remove_dir_all(dir);
}

/// The same with the host's only slot: with no other slot to tell a
/// stopped worker from a stuck connection, the pool takes the connection
/// for stuck; a local host has none to log in again, and its slot starts
/// again as before. (Taking it for stuck used to switch the host to
/// starting its slots through an ssh master, which a local host cannot
/// have: every start failed with "worker exited (exit status: 1)" and the
/// slot was given up with the job not run.)
pub(crate) fn stopped_only_worker_of_a_local_host_starts_again() {
    let dir = temp_dir("stopped-only");
    let limit = Duration::from_secs(2);
    let (mut pool, lost) = pool(1, limit);
    let out = pool
        .map::<_, u64>(&Target::Any, "freeze_once", [(dir.join("frozen"), 1u64)])
        .unwrap();
    assert_eq!(out, [Ok(2)]);
    let lost = lost.lock().unwrap();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].failed.failure, SlotFailure::Silent { limit });
    drop(lost);
    squares(&mut pool, 10);
    let metrics = pool.metrics();
    assert_eq!(
        (metrics.slots_alive, metrics.slots_dead),
        (1, 0),
        "{metrics:?}"
    );
    pool.shutdown(Duration::from_secs(10));
    let _ = fs::remove_dir_all(dir);
}

/// A blocking pool that nobody drives for three slot timeouts, between
/// runs and inside a report of one, keeps its workers: its keep-alive
/// thread pings them (the workers would end themselves otherwise, and the
/// pool would take their silence for death).
pub(crate) fn idle_pool_keeps_its_workers() {
    let limit = Duration::from_secs(1);
    let (mut pool, lost) = pool(1, limit);
    let first = pool.map::<u64, u32>(&Target::Any, "pid", [0]).unwrap();
    let worker = first[0].clone().unwrap();
    // Away between runs (the time away is the point, not a wait) ...
    thread::sleep(3 * limit);
    // ... and in the report of the first job of a run.
    let mut pids = Vec::new();
    pool.run(
        &Target::Any,
        "pid",
        [0u64, 0],
        Order::Submission,
        |index, report: JobReport<u32>| {
            if index == 0 {
                thread::sleep(3 * limit);
            }
            pids.push(report.result);
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(pids, [Ok(worker), Ok(worker)], "the worker changed");
    assert_eq!(
        pool.map::<u64, u32>(&Target::Any, "pid", [0]).unwrap(),
        [Ok(worker)]
    );
    assert_eq!(*lost.lock().unwrap(), []);
    let metrics = pool.metrics();
    assert_eq!(metrics.hosts[0].last_failure, None, "{metrics:?}");
    pool.shutdown(Duration::from_secs(10));
}

/// The other way: a pool that falls silent (it keeps its pipes open but
/// sends nothing, as one cut off by the network would) is gone to its
/// worker after the slot timeout: the worker ends its running job, the
/// job's own processes with it, and itself, saying why.
pub(crate) fn worker_ends_itself_and_its_job_when_the_pool_falls_silent() {
    let dir = temp_dir("silent-pool");
    let pid_file = dir.join("sleep.pid");
    let mut worker = Command::new(env::current_exe().unwrap())
        .arg(remote::REMOTE_WORKER_FLAG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_worker = worker.stdin.take().unwrap();
    let mut from_worker = worker.stdout.take().unwrap();
    let max = wire::DEFAULT_MAX_FRAME;
    let mut decoder = FrameDecoder::new(max);
    let mut send = |frame: &Frame| wire::write_frame(&mut to_worker, frame, max).unwrap();
    send(&Frame::Hello {
        version: u32::from(wire::VERSION),
    });
    let ack = wire::read_frame(&mut from_worker, &mut decoder).unwrap();
    assert!(matches!(ack, Some(Frame::HelloAck { .. })), "{ack:?}");
    send(&Frame::SessionInit {
        handlers: Vec::new(),
        config: Vec::new(),
        slot_timeout_ms: 500,
        slot: 1,
        env: Vec::new(),
        workdir: None,
    });
    let ack = wire::read_frame(&mut from_worker, &mut decoder).unwrap();
    assert!(matches!(ack, Some(Frame::SessionAck { .. })), "{ack:?}");
    send(&Frame::Job {
        id: 1,
        handler: "sleep_child".to_owned(),
        payload: postcard::to_stdvec(&pid_file).unwrap(),
    });
    // The job runs, with a process of its own; from now on the pool says
    // nothing (its end of stdin stays open).
    let sleep_pid: u32 = gates::poll_for(Duration::from_secs(20), || {
        fs::read_to_string(&pid_file).ok()?.parse().ok()
    })
    .expect("the job never started its process");
    let status = gates::poll_for(Duration::from_secs(20), || worker.try_wait().unwrap())
        .expect("the worker outlived its silent pool");
    assert!(!status.success(), "{status}");
    let alive = || {
        procs::processes()
            .iter()
            .any(|p| p.pid == sleep_pid && p.state != 'Z')
    };
    assert!(
        gates::wait_until(Duration::from_secs(10), || !alive()).is_ok(),
        "the job's process {sleep_pid} outlived its worker"
    );
    let mut stderr = String::new();
    let _ = worker
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("nothing from the pool for 500ms (its slot timeout)"),
        "{stderr}"
    );
    drop(to_worker);
    let _ = fs::remove_dir_all(dir);
}
