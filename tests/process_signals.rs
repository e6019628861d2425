//! Process signals, end to end, with real signals sent to real processes.
//!
//! `harness = false`: this binary is both the test driver and the program
//! under test. Run without `HEARTH_SIGNAL_SCENARIO` it runs every scenario
//! by starting itself again as a child with that variable set, waits for the
//! child's readiness lines on stdout, sends signals with `kill(2)` and checks
//! what the child prints and how it exits. As a child it builds the runtime
//! on its main thread before anything else, so every thread has the signals
//! blocked, as a real program would.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};
use std::{env, panic, process, thread};

use hearth::actor::{Context, SyncContext, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Runtime, RuntimeRef, Signal, ThreadLocal, ThreadSafe};

const SCENARIO_ENV: &str = "HEARTH_SIGNAL_SCENARIO";
/// Last guard against a child that never answers; never reached when the
/// runtime works.
const GUARD: Duration = Duration::from_secs(30);

fn main() {
    if let Ok(scenario) = env::var(SCENARIO_ENV) {
        process::exit(child::run(&scenario));
    }
    let tests: &[(&str, fn())] = &[
        (
            "usr1_reaches_every_kind_of_receiver",
            usr1_reaches_every_kind_of_receiver,
        ),
        (
            "usr2_logs_metrics_and_snapshot_agrees",
            usr2_logs_metrics_and_snapshot_agrees,
        ),
        (
            "sigterm_without_receivers_is_graceful",
            sigterm_without_receivers_is_graceful,
        ),
        (
            "actor_ignoring_stop_is_cut_off_at_grace",
            actor_ignoring_stop_is_cut_off_at_grace,
        ),
        (
            "children_start_with_the_mask_cleared_when_asked",
            children_start_with_the_mask_cleared_when_asked,
        ),
        (
            "two_sigints_stop_at_once_with_130",
            two_sigints_stop_at_once_with_130,
        ),
        ("burst_of_1000_usr1", burst_of_1000_usr1),
        (
            "worker_panic_is_an_error_within_a_second",
            worker_panic_is_an_error_within_a_second,
        ),
        (
            "panicking_signal_conversions_are_logged_not_fatal",
            panicking_signal_conversions_are_logged_not_fatal,
        ),
        (
            "sigint_is_an_interrupt_unless_stop_signals_end_cleanly",
            sigint_is_an_interrupt_unless_stop_signals_end_cleanly,
        ),
        (
            "server_receiving_signals_stops_on_sigterm_not_usr2",
            server_receiving_signals_stops_on_sigterm_not_usr2,
        ),
        (
            "stop_signals_no_receiver_takes_stop_the_runtime",
            stop_signals_no_receiver_takes_stop_the_runtime,
        ),
        (
            "sigterm_reaches_futures_waiting_for_the_shutdown",
            sigterm_reaches_futures_waiting_for_the_shutdown,
        ),
    ];
    let filter: Vec<String> = env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match panic::catch_unwind(test) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    process::exit(if failed == 0 { 0 } else { 101 });
}

/// A child process running one scenario, with its output read line by line.
struct Scenario {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Scenario {
    fn start(name: &str) -> Scenario {
        let mut child = Command::new(env::current_exe().unwrap())
            .env(SCENARIO_ENV, name)
            .env("HEARTH_LOG", "info")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Scenario {
            child,
            stdout,
            stderr,
            stderr_seen: Vec::new(),
        }
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: `kill` has no memory-safety preconditions; the pid is our
        // own child, which we have not reaped yet.
        let res = unsafe { libc::kill(libc::pid_t::try_from(self.child.id()).unwrap(), signal) };
        assert_eq!(res, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// The next stdout line.
    #[track_caller]
    fn line(&mut self) -> String {
        match self.stdout.recv_timeout(GUARD) {
            Ok(line) => line,
            Err(err) => panic!(
                "no line on stdout ({err}); stderr so far: {:?}",
                self.drain_stderr()
            ),
        }
    }

    /// The next `n` stdout lines, sorted.
    #[track_caller]
    fn lines(&mut self, n: usize) -> Vec<String> {
        let mut lines: Vec<String> = (0..n).map(|_| self.line()).collect();
        lines.sort();
        lines
    }

    /// Waits for a stderr line containing `needle`.
    #[track_caller]
    fn stderr_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + GUARD;
        loop {
            if let Some(line) = self.stderr_seen.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.stderr_seen.push(line),
                Err(err) => panic!(
                    "no stderr line with {needle:?} ({err}); got {:?}",
                    self.stderr_seen
                ),
            }
        }
    }

    fn drain_stderr(&mut self) -> Vec<String> {
        while let Ok(line) = self.stderr.try_recv() {
            self.stderr_seen.push(line);
        }
        self.stderr_seen.clone()
    }

    /// Waits for the child to exit; also collects the rest of its output.
    #[track_caller]
    fn wait(&mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + GUARD;
        let mut rest = Vec::new();
        // Stdout closes when the child exits: wait on it, not on time.
        loop {
            match self
                .stdout
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => rest.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "child did not exit; stdout {rest:?}; stderr {:?}",
                        self.drain_stderr()
                    )
                }
            }
        }
        let status = self.child.wait().unwrap();
        self.stderr_seen.extend(self.stderr.iter());
        (status, rest)
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines<R: std::io::Read + Send + 'static>(pipe: R) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let _ = thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn usr1_reaches_every_kind_of_receiver() {
    let mut child = Scenario::start("relay");
    assert_eq!(
        child.lines(4),
        [
            "ready local 1",
            "ready local 2",
            "ready shared",
            "ready sync"
        ]
    );
    child.signal(libc::SIGUSR1);
    assert_eq!(
        child.lines(4),
        [
            "local 1 got SIGUSR1",
            "local 2 got SIGUSR1",
            "shared got SIGUSR1",
            "sync got SIGUSR1"
        ]
    );
    child.signal(libc::SIGHUP);
    assert_eq!(
        child.lines(4),
        [
            "local 1 got SIGHUP",
            "local 2 got SIGHUP",
            "shared got SIGHUP",
            "sync got SIGHUP"
        ]
    );
    // The receivers handle SIGTERM by returning; then the runtime is done.
    child.signal(libc::SIGTERM);
    assert_eq!(
        child.lines(4),
        [
            "local 1 got SIGTERM",
            "local 2 got SIGTERM",
            "shared got SIGTERM",
            "sync got SIGTERM"
        ]
    );
    let (status, rest) = child.wait();
    assert_eq!(status.code(), Some(0), "{:?}", child.stderr_seen);
    assert!(rest.is_empty(), "{rest:?}");
}

/// Parses `key=value` pairs of a log line.
fn fields(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .collect()
}

#[allow(clippy::too_many_lines)] // One scenario, its checks in the order the output comes.
fn usr2_logs_metrics_and_snapshot_agrees() {
    let mut child = Scenario::start("metrics");
    assert_eq!(child.lines(2), ["ready", "ready sync"]);
    child.signal(libc::SIGUSR2);
    let snapshot = child.line();
    let coordinator = child.stderr_line("coordinator metrics");
    let log = fields(&coordinator);
    assert!(
        coordinator.contains(" metrics: "),
        "target must be metrics: {coordinator}"
    );
    let snap = fields(&snapshot);
    let pid = child.child.id().to_string();
    let ppid = process::id().to_string();
    for (key, log_key, want) in [
        ("name", "name", "metrics"),
        ("version", "version", env!("CARGO_PKG_VERSION")),
        ("pid", "pid", pid.as_str()),
        ("ppid", "ppid", ppid.as_str()),
        ("worker_threads", "worker_threads", "2"),
        ("sync_actors", "sync_actors", "1"),
        (
            "process_signals",
            "signals",
            "SIGINT,SIGTERM,SIGQUIT,SIGHUP,SIGUSR1,SIGUSR2",
        ),
        ("process_signal_receivers", "signal_receivers", "1"),
    ] {
        let logged = log.get(log_key).copied().map(|v| {
            if log_key == "signals" {
                v.split(',')
                    .map(|s| format!("SIG{s}"))
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                v.to_owned()
            }
        });
        assert_eq!(
            logged.as_deref(),
            Some(want),
            "log field {log_key}: {coordinator}"
        );
        assert_eq!(
            snap.get(key).copied(),
            Some(want),
            "snapshot field {key}: {snapshot}"
        );
    }
    for key in ["host", "uptime", "cpu_time", "total_cpu_time"] {
        assert!(
            snap.contains_key(key),
            "snapshot field {key} missing: {snapshot}"
        );
    }
    // One unit per kind of figure: milliseconds, as plain numbers.
    for key in ["host", "uptime_ms", "cpu_time_ms", "total_cpu_time_ms"] {
        assert!(
            log.contains_key(key),
            "log field {key} missing: {coordinator}"
        );
    }
    for key in ["uptime_ms", "cpu_time_ms", "total_cpu_time_ms"] {
        assert!(log[key].parse::<f64>().is_ok(), "{key}: {coordinator}");
    }
    assert_eq!(log["host"], snap["host"]);
    for id in ["1", "2"] {
        let line = child.stderr_line(&format!("worker metrics worker_id={id} "));
        let worker = fields(&line);
        for key in [
            "actors",
            "futures",
            "scheduler_ready",
            "scheduler_inactive",
            "timers_total",
            "timers_next_ms",
            "cpu_time_ms",
            "processes",
        ] {
            assert!(
                worker.contains_key(key),
                "worker {id} field {key} missing: {line}"
            );
        }
        assert!(!line.contains("Some("), "debug formatting: {line}");
        // Each worker runs one actor, named after its function.
        assert_eq!(worker["actors"], "1", "{line}");
        let name = if id == "1" {
            "metrics_reporter"
        } else {
            "quiet_forever"
        };
        assert_eq!(worker["processes"], format!("{name}:1"), "{line}");
    }
    let thread_safe = child.stderr_line("thread-safe metrics");
    assert_eq!(
        fields(&thread_safe).get("actors").copied(),
        Some("0"),
        "{thread_safe}"
    );
    assert!(
        coordinator.len() < 300,
        "{} characters: {coordinator}",
        coordinator.len()
    );
    let sync = child.stderr_line("sync actor metrics");
    assert_eq!(fields(&sync).get("alive").copied(), Some("true"), "{sync}");
    child.signal(libc::SIGTERM);
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(0), "{:?}", child.stderr_seen);
}

fn sigterm_without_receivers_is_graceful() {
    let mut child = Scenario::start("graceful");
    assert_eq!(
        child.lines(4),
        [
            "ready local 1",
            "ready local 2",
            "ready shared",
            "ready sync"
        ]
    );
    child.signal(libc::SIGTERM);
    // Every actor sees the shutdown and returns by itself.
    assert_eq!(
        child.lines(4),
        [
            "local 1 stopped",
            "local 2 stopped",
            "shared stopped",
            "sync stopped"
        ]
    );
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(0), "{:?}", child.stderr_seen);
    let _ = child.stderr_line("no signal receivers, shutting down the runtime");
    // The grace period is 60 s: had it run out, the guard would have fired
    // first and the log would say so.
    assert!(
        !child.stderr_seen.iter().any(|l| l.contains("grace period")),
        "{:?}",
        child.stderr_seen
    );
}

/// Futures spawned on the runtime (thread-local on each worker, one
/// thread-safe) wait for `shutting_down()`; an unhandled SIGTERM wakes
/// them, and the runtime waits for them to return.
fn sigterm_reaches_futures_waiting_for_the_shutdown() {
    let mut child = Scenario::start("futures");
    assert_eq!(
        child.lines(3),
        [
            "waiting local future 1",
            "waiting local future 2",
            "waiting thread-safe future"
        ]
    );
    child.signal(libc::SIGTERM);
    assert_eq!(
        child.lines(3),
        [
            "local future 1 saw the shutdown",
            "local future 2 saw the shutdown",
            "thread-safe future saw the shutdown"
        ]
    );
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(0), "{:?}", child.stderr_seen);
    assert!(
        !child.stderr_seen.iter().any(|l| l.contains("grace period")),
        "{:?}",
        child.stderr_seen
    );
}

/// A `TcpServer`'s listener registered with `receive_signals` (its
/// `ServerMessage` takes the stop signals with `TryFrom`, as Heph's
/// server message does; Heph documents its `TryFrom<Signal>` as
/// "Converts `Signal::Interrupt`, `Signal::Terminate` and `Signal::Quit`,
/// fails for all other signals"): `SIGUSR2` passes it by and it goes on serving;
/// `SIGTERM` stops it, and with it the runtime, without the runtime's own
/// shutdown (it had a receiver for the signal).
fn server_receiving_signals_stops_on_sigterm_not_usr2() {
    use std::io::Read;
    let mut child = Scenario::start("server_signals");
    let line = child.line();
    let addr = line.strip_prefix("listening on ").unwrap().to_owned();
    let greeting = |addr: &str| {
        let mut text = String::new();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let _ = stream.read_to_string(&mut text).unwrap();
        text
    };
    assert_eq!(greeting(&addr), "hello\n");
    child.signal(libc::SIGUSR2);
    // The coordinator relays the signal before it logs the metrics.
    let _ = child.stderr_line("metrics");
    assert_eq!(greeting(&addr), "hello\n");
    child.signal(libc::SIGTERM);
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(0), "{:?}", child.stderr_seen);
    let stderr = child.drain_stderr();
    assert!(
        !stderr.iter().any(|l| l.contains("no signal receivers")),
        "{stderr:?}"
    );
}

/// A receiver that takes only SIGUSR1 (its `TryFrom<Signal>` refuses the
/// others) gets that one; SIGTERM, which no receiver takes, is the
/// runtime's: a graceful shutdown, as without receivers (it used to count
/// as handled, and nothing stopped the process).
fn stop_signals_no_receiver_takes_stop_the_runtime() {
    let mut child = Scenario::start("reload_only");
    assert_eq!(child.line(), "ready reload");
    child.signal(libc::SIGUSR1);
    assert_eq!(child.line(), "reload");
    child.signal(libc::SIGTERM);
    let (status, rest) = child.wait();
    assert_eq!(rest, ["reload stopped"], "{:?}", child.stderr_seen);
    assert_eq!(status.code(), Some(0), "{:?}", child.stderr_seen);
    let _ = child.stderr_line("no signal receivers, shutting down the runtime");
}

/// A child process of a program with a runtime inherits the signals the
/// runtime blocks (bash keeps them blocked); `clear_mask_in_child` gives
/// it none.
fn children_start_with_the_mask_cleared_when_asked() {
    let mut child = Scenario::start("children");
    let inherited = child.line();
    assert!(
        inherited.starts_with("SigBlk:") && !inherited.ends_with("0000000000000000"),
        "{inherited}"
    );
    assert_eq!(child.line(), "SigBlk:\t0000000000000000");
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(0), "{:?}", child.stderr_seen);
}

fn actor_ignoring_stop_is_cut_off_at_grace() {
    let mut child = Scenario::start("stubborn_short_grace");
    assert_eq!(child.line(), "ready");
    child.signal(libc::SIGTERM);
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(1), "{:?}", child.stderr_seen);
    let _ = child.stderr_line("grace period over, stopping the remaining actors");
    let error = child
        .stderr_line("error: graceful shutdown did not finish within the grace period of 300ms");
    // It says what was left, and why the exit status is not 0.
    assert!(
        error.contains("still running were 1 thread-safe actor stubborn_actor;"),
        "{error}"
    );
    assert!(error.contains("the shutdown was not clean"), "{error}");
}

fn two_sigints_stop_at_once_with_130() {
    let mut child = Scenario::start("stubborn_long_grace");
    assert_eq!(child.line(), "ready");
    child.signal(libc::SIGINT);
    let _ = child.stderr_line("shutting down the runtime");
    child.signal(libc::SIGINT);
    // The grace period is 60 s; the second SIGINT must not wait for it.
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(130), "{:?}", child.stderr_seen);
    let _ = child.stderr_line("second stop signal during shutdown, stopping now");
}

fn burst_of_1000_usr1() {
    let mut child = Scenario::start("burst");
    assert_eq!(
        child.lines(3),
        ["ready local 1", "ready local 2", "ready sync"]
    );
    for _ in 0..1000 {
        child.signal(libc::SIGUSR1);
    }
    // SIGUSR2 is read after any SIGUSR1 still pending (lower numbers first):
    // when a receiver reports, it has seen every SIGUSR1 it will get.
    child.signal(libc::SIGUSR2);
    let reports = child.lines(3);
    for report in &reports {
        let (who, count) = report.rsplit_once(" usr1=").unwrap();
        let count: u32 = count.parse().unwrap();
        assert!((1..=1000).contains(&count), "{who} got {count} SIGUSR1");
    }
    // Still answering.
    child.signal(libc::SIGTERM);
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(0), "{:?}", child.stderr_seen);
}

fn worker_panic_is_an_error_within_a_second() {
    let mut child = Scenario::start("worker_panic");
    let line = child.line();
    let (msg, elapsed) = line.rsplit_once(" after_ms=").unwrap();
    assert_eq!(
        msg,
        "start returned: worker thread 1 panicked: injected worker failure"
    );
    let elapsed: u64 = elapsed.parse().unwrap();
    assert!(
        elapsed < 1000,
        "start took {elapsed} ms to notice the dead worker"
    );
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(1));
}

/// A receiver's `From<Signal>` that panics, on a worker (thread-local
/// receiver) and on the coordinator (thread-safe receiver), took that
/// thread down; now it is logged, the receiver is dropped and the others
/// still get their signals.
fn panicking_signal_conversions_are_logged_not_fatal() {
    let mut child = Scenario::start("panicky_conversion");
    assert_eq!(
        child.lines(3),
        ["ready bad local", "ready bad shared", "ready good"]
    );
    child.signal(libc::SIGUSR1);
    assert_eq!(child.line(), "good got SIGUSR1");
    let logged = child.stderr_line("converting a signal into its receiver's message panicked");
    assert!(logged.contains("conversion panic on purpose"), "{logged}");
    // Both bad receivers: one on a worker, one on the coordinator.
    let _ = child.stderr_line("bad local stopped");
    let _ = child.stderr_line("bad shared stopped");
    let conversions = child
        .stderr_seen
        .iter()
        .filter(|l| l.contains("converting a signal into its receiver's message panicked"))
        .count();
    assert_eq!(conversions, 2, "{:?}", child.stderr_seen);
    child.signal(libc::SIGTERM);
    assert_eq!(child.line(), "good got SIGTERM");
    let (status, _) = child.wait();
    assert_eq!(status.code(), Some(0), "{:?}", child.stderr_seen);
}

/// An unhandled SIGINT drains and exits 130; with
/// `Setup::stop_signals_end_cleanly` the same drain exits 0.
fn sigint_is_an_interrupt_unless_stop_signals_end_cleanly() {
    for (scenario, code) in [("graceful", 130), ("graceful_clean_exit", 0)] {
        let mut child = Scenario::start(scenario);
        let _ = child.lines(4);
        child.signal(libc::SIGINT);
        let _ = child.lines(4);
        let (status, _) = child.wait();
        assert_eq!(
            status.code(),
            Some(code),
            "{scenario}: {:?}",
            child.stderr_seen
        );
    }
}

/// The programs under test.
mod child {
    use super::{
        ActorOptions, Context, Duration, Instant, NoSupervisor, Runtime, RuntimeRef, Signal,
        SyncContext, ThreadLocal, ThreadSafe, actor_fn, panic, process,
    };
    use hearth::ShuttingDown;
    use std::future::Future;

    /// Messages of the test actors: signals, plus a go-ahead sent once the
    /// actor is registered as a signal receiver.
    #[derive(Debug)]
    pub(super) enum Msg {
        Registered,
        Signal(Signal),
    }

    impl From<Signal> for Msg {
        fn from(signal: Signal) -> Msg {
            Msg::Signal(signal)
        }
    }

    pub(super) fn run(scenario: &str) -> i32 {
        hearth::log::init();
        let grace = match scenario {
            "stubborn_short_grace" => Duration::from_millis(300),
            _ => Duration::from_mins(1),
        };
        // First thing: the runtime blocks the signals for every thread.
        let mut setup = Runtime::setup()
            .name(scenario)
            .num_threads(2)
            .grace_period(grace);
        if scenario == "graceful_clean_exit" {
            setup = setup.stop_signals_end_cleanly();
        }
        let mut runtime = setup.build().unwrap();
        match scenario {
            "relay" => relay(&mut runtime),
            "metrics" => metrics(&mut runtime),
            "graceful" | "graceful_clean_exit" => graceful(&mut runtime),
            "stubborn_short_grace" | "stubborn_long_grace" => stubborn(&mut runtime),
            "burst" => burst(&mut runtime),
            "worker_panic" => return worker_panic(runtime),
            "panicky_conversion" => panicky_conversion(&mut runtime),
            "children" => return children(),
            "server_signals" => server_signals(&mut runtime),
            "reload_only" => reload_only(&mut runtime),
            "futures" => futures(&mut runtime),
            other => panic!("unknown scenario {other}"),
        }
        let code = hearth::exit_code(runtime.start());
        // `ExitCode` hides its number; map back the ones the tests expect.
        if code == process::ExitCode::SUCCESS {
            0
        } else if code == process::ExitCode::from(130) {
            130
        } else {
            1
        }
    }

    /// A message that is a reload request: SIGUSR1 only.
    pub(super) struct Reload;

    impl TryFrom<Signal> for Reload {
        type Error = Signal;

        fn try_from(signal: Signal) -> Result<Reload, Signal> {
            match signal {
                Signal::User1 => Ok(Reload),
                other => Err(other),
            }
        }
    }

    async fn reloader(mut ctx: Context<Reload, ThreadSafe>) {
        println!("ready reload");
        while ctx.receive_next().await.is_ok() {
            println!("reload");
        }
        println!("reload stopped");
    }

    /// A thread-safe actor that takes SIGUSR1 alone.
    fn reload_only(runtime: &mut Runtime) {
        let reloader = runtime.spawn(
            NoSupervisor,
            actor_fn(reloader),
            (),
            ActorOptions::default(),
        );
        runtime.receive_signals(reloader);
    }

    /// Greets each connection with a line and closes it.
    async fn greet(
        _ctx: Context<(), ThreadSafe>,
        mut stream: hearth::net::TcpStream<ThreadSafe>,
    ) -> std::io::Result<()> {
        stream.write_all(b"hello\n").await
    }

    /// A TCP server whose listener receives the process signals.
    fn server_signals(runtime: &mut Runtime) {
        let server = hearth::net::TcpServer::setup(
            "127.0.0.1:0".parse().unwrap(),
            NoSupervisor,
            actor_fn(greet),
            ActorOptions::default(),
        )
        .unwrap();
        let addr = server.local_addr();
        let listener = runtime.spawn(NoSupervisor, server, (), ActorOptions::default());
        runtime.receive_signals(listener);
        println!("listening on {addr}");
    }

    /// Prints the signal mask of a bash started from the runtime's thread,
    /// as std's `Command` leaves it and with `clear_mask_in_child`.
    fn children() -> i32 {
        for clear in [false, true] {
            let mut bash = std::process::Command::new("bash");
            let _ = bash.args(["-c", "grep SigBlk /proc/self/status; true"]);
            if clear {
                hearth::signal::clear_mask_in_child(&mut bash);
            }
            let output = bash.output().unwrap();
            print!("{}", String::from_utf8_lossy(&output.stdout));
        }
        0
    }

    /// Prints each signal; returns on a stop signal.
    fn report(who: &str, msg: Msg) -> bool {
        match msg {
            Msg::Registered => println!("ready {who}"),
            Msg::Signal(signal) => {
                println!("{who} got {signal}");
                return !signal.should_stop();
            }
        }
        true
    }

    async fn local_receiver(mut ctx: Context<Msg, ThreadLocal>) {
        let who = format!("local {}", ctx.runtime().worker_id());
        while let Ok(msg) = ctx.receive_next().await {
            if !report(&who, msg) {
                return;
            }
        }
    }

    async fn shared_receiver(mut ctx: Context<Msg, ThreadSafe>) {
        while let Ok(msg) = ctx.receive_next().await {
            if !report("shared", msg) {
                return;
            }
        }
    }

    fn sync_receiver(mut ctx: SyncContext<Msg>) {
        while let Ok(msg) = ctx.receive_next() {
            if !report("sync", msg) {
                return;
            }
        }
    }

    fn add_local_receiver(mut rt: RuntimeRef) -> Result<(), String> {
        let actor_ref = rt.spawn_local(
            NoSupervisor,
            actor_fn(local_receiver),
            (),
            ActorOptions::default(),
        );
        rt.receive_signals(actor_ref.clone());
        actor_ref
            .try_send(Msg::Registered)
            .map_err(|err| err.to_string())
    }

    fn relay(runtime: &mut Runtime) {
        runtime.run_on_workers(add_local_receiver);
        let shared = runtime.spawn(
            NoSupervisor,
            actor_fn(shared_receiver),
            (),
            ActorOptions::default(),
        );
        runtime.thread_safe().receive_signals(shared.clone());
        shared.try_send(Msg::Registered).unwrap();
        let sync = runtime
            .spawn_sync_actor(
                NoSupervisor,
                actor_fn(sync_receiver),
                (),
                ActorOptions::default(),
            )
            .unwrap();
        runtime.receive_signals(sync.clone());
        sync.try_send(Msg::Registered).unwrap();
    }

    async fn metrics_reporter(mut ctx: Context<Msg, ThreadLocal>) {
        while let Ok(msg) = ctx.receive_next().await {
            match msg {
                Msg::Registered => println!("ready"),
                Msg::Signal(Signal::User2) => {
                    let m = ctx.runtime().metrics();
                    let signals: Vec<&str> = m.process_signals.iter().map(|s| s.as_str()).collect();
                    println!(
                        "snapshot name={} version={} host={} pid={} ppid={} uptime={:?} worker_threads={} \
                         sync_actors={} process_signals={} process_signal_receivers={} cpu_time={:?} \
                         total_cpu_time={:?} workers={}",
                        m.name,
                        m.version,
                        m.host,
                        m.pid,
                        m.ppid,
                        m.uptime,
                        m.worker_threads,
                        m.sync_actors,
                        signals.join(","),
                        m.process_signal_receivers,
                        m.cpu_time,
                        m.total_cpu_time,
                        m.workers.len()
                    );
                }
                Msg::Signal(signal) if signal.should_stop() => {
                    ctx.runtime().shutdown();
                    return;
                }
                Msg::Signal(_) => {}
            }
        }
    }

    fn metrics(runtime: &mut Runtime) {
        let _ = runtime
            .spawn_sync_actor(
                NoSupervisor,
                actor_fn(sync_until_stopped),
                "sync",
                ActorOptions::default(),
            )
            .unwrap();
        runtime.run_on_workers(|mut rt: RuntimeRef| {
            if rt.worker_id() == 1 {
                let actor_ref = rt.spawn_local(
                    NoSupervisor,
                    actor_fn(metrics_reporter),
                    (),
                    ActorOptions::default(),
                );
                rt.receive_signals(actor_ref.clone());
                actor_ref
                    .try_send(Msg::Registered)
                    .map_err(|err| err.to_string())?;
            } else {
                // Keeps worker 2 running, so it logs its metrics too.
                let _ = rt.spawn_local(
                    NoSupervisor,
                    actor_fn(quiet_forever),
                    (),
                    ActorOptions::default(),
                );
            }
            Ok::<_, String>(())
        });
    }

    /// Runs until the runtime shuts down; keeps a reference to itself so it
    /// does not stop for lack of senders.
    fn sync_until_stopped(mut ctx: SyncContext<()>, who: &'static str) {
        let _me = ctx.actor_ref();
        println!("ready {who}");
        while ctx.receive_next().is_ok() {}
        println!("{who} stopped");
    }

    async fn local_until_stopped(mut ctx: Context<(), ThreadLocal>) {
        let _me = ctx.actor_ref();
        let who = format!("local {}", ctx.runtime().worker_id());
        println!("ready {who}");
        while ctx.receive_next().await.is_ok() {}
        assert!(ctx.is_stopping());
        println!("{who} stopped");
    }

    async fn shared_until_stopped(mut ctx: Context<(), ThreadSafe>) {
        let _me = ctx.actor_ref();
        println!("ready shared");
        while ctx.receive_next().await.is_ok() {}
        println!("shared stopped");
    }

    fn graceful(runtime: &mut Runtime) {
        runtime.run_on_workers(|mut rt: RuntimeRef| {
            let _ = rt.spawn_local(
                NoSupervisor,
                actor_fn(local_until_stopped),
                (),
                ActorOptions::default(),
            );
            Ok::<_, String>(())
        });
        let _ = runtime.spawn(
            NoSupervisor,
            actor_fn(shared_until_stopped),
            (),
            ActorOptions::default(),
        );
        let _ = runtime
            .spawn_sync_actor(
                NoSupervisor,
                actor_fn(sync_until_stopped),
                "sync",
                ActorOptions::default(),
            )
            .unwrap();
    }

    /// Waits for the shutdown, saying `waiting {who}` once it waits and
    /// `{who} saw the shutdown` after.
    async fn until_shutdown(mut stopping: ShuttingDown, who: String) {
        let mut said = false;
        std::future::poll_fn(|cx| {
            let poll = std::pin::Pin::new(&mut stopping).poll(cx);
            if poll.is_pending() && !said {
                said = true;
                println!("waiting {who}");
            }
            poll
        })
        .await;
        println!("{who} saw the shutdown");
    }

    fn futures(runtime: &mut Runtime) {
        runtime.run_on_workers(|mut rt: RuntimeRef| {
            let who = format!("local future {}", rt.worker_id());
            let stopping = rt.shutting_down();
            rt.spawn_local_future(
                until_shutdown(stopping, who),
                hearth::FutureOptions::default(),
            );
        });
        let stopping = runtime.thread_safe().shutting_down();
        runtime.spawn_future(
            until_shutdown(stopping, "thread-safe future".to_owned()),
            hearth::FutureOptions::default(),
        );
    }

    /// Ignores the shutdown: never returns.
    async fn stubborn_actor(_: Context<(), ThreadSafe>) {
        println!("ready");
        std::future::pending::<()>().await;
    }

    fn stubborn(runtime: &mut Runtime) {
        let _ = runtime.spawn(
            NoSupervisor,
            actor_fn(stubborn_actor),
            (),
            ActorOptions::default(),
        );
    }

    async fn local_counter(mut ctx: Context<Msg, ThreadLocal>) {
        let who = format!("local {}", ctx.runtime().worker_id());
        let mut usr1 = 0;
        while let Ok(msg) = ctx.receive_next().await {
            match msg {
                Msg::Registered => println!("ready {who}"),
                Msg::Signal(Signal::User1) => usr1 += 1,
                Msg::Signal(Signal::User2) => println!("{who} usr1={usr1}"),
                Msg::Signal(signal) if signal.should_stop() => return,
                Msg::Signal(_) => {}
            }
        }
    }

    fn sync_counter(mut ctx: SyncContext<Msg>) {
        let mut usr1 = 0;
        while let Ok(msg) = ctx.receive_next() {
            match msg {
                Msg::Registered => println!("ready sync"),
                Msg::Signal(Signal::User1) => usr1 += 1,
                Msg::Signal(Signal::User2) => println!("sync usr1={usr1}"),
                Msg::Signal(signal) if signal.should_stop() => return,
                Msg::Signal(_) => {}
            }
        }
    }

    fn burst(runtime: &mut Runtime) {
        // Room for every signal: none is dropped for a full inbox, so the
        // counts show only the kernel's coalescing.
        let options = ActorOptions::default().with_inbox_capacity(4096.try_into().unwrap());
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let actor_ref = rt.spawn_local(NoSupervisor, actor_fn(local_counter), (), options);
            rt.receive_signals(actor_ref.clone());
            actor_ref
                .try_send(Msg::Registered)
                .map_err(|err| err.to_string())
        });
        let sync = runtime
            .spawn_sync_actor(NoSupervisor, actor_fn(sync_counter), (), options)
            .unwrap();
        runtime.receive_signals(sync.clone());
        sync.try_send(Msg::Registered).unwrap();
    }

    /// Never stops by itself: holds a reference to itself.
    async fn quiet_forever(mut ctx: Context<(), ThreadLocal>) {
        let _me = ctx.actor_ref();
        while ctx.receive_next().await.is_ok() {}
    }

    fn worker_panic(mut runtime: Runtime) -> i32 {
        runtime.run_on_workers(|mut rt: RuntimeRef| {
            let _ = rt.spawn_local(
                NoSupervisor,
                actor_fn(quiet_forever),
                (),
                ActorOptions::default(),
            );
            Ok::<_, String>(())
        });
        let started = Instant::now();
        runtime.inject_worker_panic(1, "injected worker failure");
        let err = runtime.start().unwrap_err();
        println!(
            "start returned: {err} after_ms={}",
            started.elapsed().as_millis()
        );
        i32::from(err.exit_code())
    }

    /// A message whose conversion from a signal panics for SIGUSR1.
    pub(super) enum BadMsg {
        Registered,
        Signal,
    }

    impl From<Signal> for BadMsg {
        fn from(signal: Signal) -> BadMsg {
            assert!(signal != Signal::User1, "conversion panic on purpose");
            BadMsg::Signal
        }
    }

    async fn bad_local(mut ctx: Context<BadMsg, ThreadLocal>) {
        while let Ok(msg) = ctx.receive_next().await {
            if let BadMsg::Registered = msg {
                println!("ready bad local");
            }
        }
        // No more senders: the runtime forgot it as a receiver.
        eprintln!("bad local stopped");
    }

    async fn bad_shared(mut ctx: Context<BadMsg, ThreadSafe>) {
        while let Ok(msg) = ctx.receive_next().await {
            if let BadMsg::Registered = msg {
                println!("ready bad shared");
            }
        }
        eprintln!("bad shared stopped");
    }

    async fn good_receiver(mut ctx: Context<Msg, ThreadLocal>) {
        while let Ok(msg) = ctx.receive_next().await {
            if !report("good", msg) {
                return;
            }
        }
    }

    fn panicky_conversion(runtime: &mut Runtime) {
        runtime.run_on_workers(|mut rt: RuntimeRef| {
            if rt.worker_id() == 1 {
                let bad = rt.spawn_local(
                    NoSupervisor,
                    actor_fn(bad_local),
                    (),
                    ActorOptions::default(),
                );
                rt.receive_signals(bad.clone());
                bad.try_send(BadMsg::Registered)
                    .map_err(|err| err.to_string())
            } else {
                let good = rt.spawn_local(
                    NoSupervisor,
                    actor_fn(good_receiver),
                    (),
                    ActorOptions::default(),
                );
                rt.receive_signals(good.clone());
                good.try_send(Msg::Registered)
                    .map_err(|err| err.to_string())
            }
        });
        let bad = runtime.spawn(
            NoSupervisor,
            actor_fn(bad_shared),
            (),
            ActorOptions::default(),
        );
        runtime.thread_safe().receive_signals(bad.clone());
        assert!(
            bad.try_send(BadMsg::Registered).is_ok(),
            "bad shared receiver did not take its first message"
        );
    }
}
