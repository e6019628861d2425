//! The stop signals and a remote pool: one rule, first signal drains,
//! second kills, for a runtime's pool and for a blocking [`Pool`] that
//! watches them (`PoolBuilder::stop_on_signals`), checked by the same test.
//!
//! `harness = false`: signals are the process's, so each case runs in a
//! child process of its own (this binary, with `HEARTH_SIGNAL_CASE` set);
//! started with `--remote-worker` the binary is the pool's worker.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use std::{env, fs};

use hearth::FutureOptions;
use hearth::remote::{
    self, Handlers, Host, JobFailure, JobReport, Order, Pool, PoolMetrics, StopStep, Target,
};
use hearth::{Runtime, Signal};

/// A last guard for every wait.
const GUARD: Duration = Duration::from_mins(1);

/// Jobs of each case: the first runs until told to go (or killed), the
/// others wait behind it on the pool's one slot.
const JOBS: usize = 6;

fn handlers() -> Handlers {
    // The first job writes its worker's pid to `DIR/started` and waits for
    // `DIR/go`; the others answer at once.
    Handlers::new().add(
        "job",
        |(dir, first): (PathBuf, bool)| -> Result<u32, String> {
            if !first {
                return Ok(0);
            }
            fs::write(dir.join("started"), std::process::id().to_string())
                .map_err(|err| err.to_string())?;
            wait_for(|| dir.join("go").exists().then_some(()))
                .ok_or_else(|| "never told to go".to_owned())?;
            Ok(1)
        },
    )
}

/// Polls `found` every 5 ms until it returns something, at most [`GUARD`].
fn wait_for<T>(mut found: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + GUARD;
    loop {
        if let Some(value) = found() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// What a case does after the first signal.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Then {
    /// Lets the running job finish.
    Finish,
    /// Sends a second signal.
    SignalAgain,
}

/// Sends this process SIGINT once the first job runs, then (once the pool
/// has drained: no job queued) either lets that job finish or sends SIGINT
/// again. Returns the pid of the first job's worker.
fn signaller(
    dir: &Path,
    then: Then,
    metrics: impl Fn() -> PoolMetrics + Send + 'static,
) -> thread::JoinHandle<u32> {
    let dir = dir.to_path_buf();
    thread::spawn(move || {
        let pid: u32 = wait_for(|| fs::read_to_string(dir.join("started")).ok()?.parse().ok())
            .expect("the first job never ran");
        raise(libc::SIGINT);
        wait_for(|| (metrics().jobs_queued == 0).then_some(()))
            .expect("the first signal did not drain the pool");
        match then {
            Then::Finish => fs::write(dir.join("go"), b"").unwrap(),
            Then::SignalAgain => raise(libc::SIGINT),
        }
        pid
    })
}

fn raise(signal: libc::c_int) {
    // SAFETY: kill(2) on this very process, whose threads all block the
    // signal (the pool or runtime blocked it before they started).
    assert_eq!(unsafe { libc::kill(libc::getpid(), signal) }, 0);
}

/// The inputs of the jobs.
fn inputs(dir: &Path) -> Vec<(PathBuf, bool)> {
    (0..JOBS).map(|i| (dir.to_path_buf(), i == 0)).collect()
}

/// The one test of the rule, for either kind of pool: the first SIGINT
/// drains (the running job finishes, the queued ones are cancelled), a
/// second kills the slots (the running job is cancelled and its worker is
/// gone).
fn first_signal_drains_second_kills(run: fn(&Path, Then) -> Vec<Result<u32, JobFailure>>) {
    for then in [Then::Finish, Then::SignalAgain] {
        let dir = env::temp_dir().join(format!("hearth-signals-{}-{then:?}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let outputs = run(&dir, then);
        assert_eq!(outputs.len(), JOBS, "{outputs:?}");
        let cancelled = |o: &Result<u32, JobFailure>| matches!(o, Err(JobFailure::Cancelled(_)));
        match then {
            Then::Finish => assert_eq!(outputs[0], Ok(1), "{outputs:?}"),
            Then::SignalAgain => assert!(cancelled(&outputs[0]), "{outputs:?}"),
        }
        assert!(outputs[1..].iter().all(cancelled), "{outputs:?}");
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Checks that the process `pid` is gone.
fn assert_gone(pid: u32) {
    let pid = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "the first job's worker {pid} is still there");
}

/// A blocking pool that watches the signals.
fn with_blocking_pool(dir: &Path, then: Then) -> Vec<Result<u32, JobFailure>> {
    let steps = Arc::new(Mutex::new(Vec::new()));
    let seen = steps.clone();
    let mut pool = Pool::builder()
        .host(Host::local(1))
        .stop_on_signals(move |signal, step, _| seen.lock().unwrap().push((signal, step)))
        .build()
        .unwrap();
    let control = pool.control();
    let signaller = signaller(dir, then, move || control.metrics());
    let mut outputs = vec![Err(JobFailure::Cancelled("no report".to_owned())); JOBS];
    pool.run(
        &Target::Any,
        "job",
        inputs(dir),
        Order::Submission,
        |index, report: JobReport<u32>| {
            outputs[index] = report.result;
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    let pid = signaller.join().unwrap();
    let expected = match then {
        Then::Finish => vec![(Signal::Interrupt, StopStep::Drain)],
        Then::SignalAgain => vec![
            (Signal::Interrupt, StopStep::Drain),
            (Signal::Interrupt, StopStep::Kill),
        ],
    };
    assert_eq!(*steps.lock().unwrap(), expected);
    assert_eq!(pool.control().signalled(), Some(Signal::Interrupt));
    if then == Then::SignalAgain {
        assert_gone(pid);
    }
    pool.shutdown(Duration::from_secs(10));
    outputs
}

/// A runtime's pool, which the runtime's coordinator drives.
fn with_runtime_pool(dir: &Path, then: Then) -> Vec<Result<u32, JobFailure>> {
    let mut runtime = Runtime::setup().build().unwrap();
    let pool = runtime
        .remote_pool(Pool::builder().host(Host::local(1)))
        .unwrap();
    let outputs = Arc::new(Mutex::new(vec![None; JOBS]));
    for (index, input) in inputs(dir).into_iter().enumerate() {
        let (pool, outputs) = (pool.clone(), outputs.clone());
        runtime.spawn_future(
            async move {
                let out = pool.call::<_, u32>("job", &input).await;
                outputs.lock().unwrap()[index] = Some(out);
            },
            FutureOptions::default(),
        );
    }
    let metrics = pool.clone();
    let signaller = signaller(dir, then, move || metrics.metrics());
    let result = runtime.start();
    // Interrupted: 130 after a drain and after the second SIGINT alike.
    assert_eq!(result.map_err(|err| err.exit_code()), Err(130));
    let pid = signaller.join().unwrap();
    if then == Then::SignalAgain {
        assert_gone(pid);
    }
    let outputs = outputs.lock().unwrap();
    outputs
        .iter()
        .map(|o| {
            // A forced stop may end the runtime before a job's future
            // records its cancellation.
            o.clone()
                .unwrap_or_else(|| Err(JobFailure::Cancelled("not recorded".to_owned())))
        })
        .collect()
}

fn main() -> ExitCode {
    if remote::is_remote_worker() {
        return remote::serve(handlers());
    }
    if env::var_os("HEARTH_LOG").is_some() {
        hearth::log::init();
    }
    if let Ok(case) = env::var("HEARTH_SIGNAL_CASE") {
        match case.as_str() {
            "blocking_pool" => first_signal_drains_second_kills(with_blocking_pool),
            "runtime_pool" => first_signal_drains_second_kills(with_runtime_pool),
            other => panic!("no case {other}"),
        }
        return ExitCode::SUCCESS;
    }
    let filter: Vec<String> = env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for case in ["blocking_pool", "runtime_pool"] {
        let name = format!("first_signal_drains_second_kills_{case}");
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let status = Command::new(env::current_exe().unwrap())
            .env("HEARTH_SIGNAL_CASE", case)
            .status()
            .unwrap();
        if status.success() {
            println!("test {name} ... ok");
            passed += 1;
        } else {
            println!("test {name} ... FAILED ({status})");
            failed += 1;
        }
    }
    let result = if failed == 0 { "ok" } else { "FAILED" };
    println!("\ntest result: {result}. {passed} passed; {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
