//! Runs every example and checks its output, like a user would see it.
//!
//! The example binaries live next to the test binary's directory
//! (`target/<profile>/examples/`); each test first asks cargo to build its
//! example, which is a quick no-op when it is up to date (as after `cargo
//! test`) and keeps the binary from being stale or missing otherwise (as
//! after `cargo test --test examples`).

#[path = "util/build.rs"]
mod build;
#[path = "util/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "util/sshd.rs"]
#[allow(dead_code)]
mod sshd;

/// The HTTP server on hyper (feature `hyper`).
#[cfg(feature = "hyper")]
#[path = "examples/http_server.rs"]
mod http_server;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Last guard against a hanging example; none should take more than a second.
const TIMEOUT: Duration = Duration::from_mins(1);

#[test]
fn hello_world() {
    let output = run_example("hello_world");
    assert_eq!(output.stdout, "Hello, World!\n", "{output}");
}

#[test]
fn rpc() {
    let output = run_example("rpc");
    let want = "2 + 3 = 5\n40 + 2 = 42\n-7 + 7 = 0\n84 / 2 = 42\n1 / 0: no answer\n";
    assert_eq!(output.stdout, want, "{output}");
}

#[test]
fn sync_actor() {
    let output = run_example("sync_actor");
    let want = [(10, 4), (100, 25), (1_000, 168), (100_000, 9592)]
        .map(|(below, count)| {
            format!(
                "sync-actor-1: counting primes below {below}\n\
                 there are {count} primes below {below}\n"
            )
        })
        .concat();
    assert_eq!(output.stdout, want, "{output}");
}

#[test]
fn restart_supervisor() {
    let output = run_example("restart_supervisor");
    let want = "connect attempt 1 failed\nconnect attempt 2 failed\nconnect attempt 3 failed\n\
                connect attempt 4 failed\nparse attempt 1 panicked\nparse attempt 2 panicked\n";
    assert_eq!(output.stdout, want, "{output}");

    // The supervisor's log lines, in order: `(level, reason)` of each.
    let log: Vec<(&str, &str)> = output
        .stderr
        .lines()
        .filter(|line| line.contains("hearth::supervisor:"))
        .map(|line| {
            let level = if line.contains("restarting it") && line.contains(" WARN ") {
                "restart"
            } else if line.contains("restart budget") && line.contains(" ERROR ") {
                "give up"
            } else {
                "unexpected"
            };
            let reason = line
                .split("reason=\"")
                .nth(1)
                .and_then(|r| r.split('"').next());
            (level, reason.unwrap_or("<no reason>"))
        })
        .collect();
    let want = [
        ("restart", "connect attempt 1: connection refused"),
        ("restart", "connect attempt 2: connection refused"),
        ("restart", "connect attempt 3: connection refused"),
        ("give up", "connect attempt 4: connection refused"),
        ("restart", "panic: parse attempt 1: unexpected end of input"),
        ("give up", "panic: parse attempt 2: unexpected end of input"),
    ];
    assert_eq!(log, want, "{output}");
    // The connect supervisor says what the actor serves in every line.
    let about = output
        .stderr
        .lines()
        .filter(|line| line.contains("actor=connect"))
        .filter(|line| line.contains("about=\"database at db:5432\""))
        .count();
    assert_eq!(about, 4, "{output}");
}

/// The trace example traces itself and writes the trace as Chrome's JSON,
/// with the runs of its ring's actors in it.
#[test]
fn trace() {
    let dir = std::env::temp_dir().join(format!("hearth-example-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = run_example_with("trace", &[dir.as_os_str()]);
    assert!(
        output.stdout.starts_with("200 laps around a ring of 4\n"),
        "{output}"
    );
    let json = std::fs::read_to_string(dir.join("hearth.json")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(json.starts_with("{\"displayTimeUnit\":\"ns\",\"traceEvents\":["));
    let member_runs = json
        .matches("{\"name\":\"member\",\"cat\":\"thread-safe\",\"ph\":\"X\"")
        .count();
    // Every member ran (one run may take several laps' messages), and so
    // did the end of the ring.
    assert!(member_runs >= 4, "{member_runs} runs of the members");
    assert!(json.contains("{\"name\":\"ender\",\"cat\":\"thread-safe\""));
}

/// The signals example reacts to signals sent to it while it runs.
#[test]
fn signals() {
    let mut example = Running::start("signals", &[]);
    let next_two = || {
        let mut two = [example.line(), example.line()];
        two.sort();
        two
    };
    let pid = example.child.id();
    assert_eq!(
        next_two(),
        [
            format!("worker 1: waiting for signals (pid {pid})"),
            format!("worker 2: waiting for signals (pid {pid})")
        ]
    );
    example.kill("-USR1");
    assert_eq!(
        next_two(),
        [
            "got signal: SIGUSR1 (worker 1)",
            "got signal: SIGUSR1 (worker 2)"
        ]
    );
    example.kill("-TERM");
    assert_eq!(
        next_two(),
        [
            "got signal: SIGTERM (worker 1)",
            "got signal: SIGTERM (worker 2)"
        ]
    );
    let (status, stderr) = example.wait();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("shutting down the runtime"), "{stderr}");
}

#[test]
fn remote_pool() {
    let output = run_example("remote_pool");
    assert!(
        output
            .stdout
            .starts_with("submitting 10000 jobs to 4 slots"),
        "{output}"
    );
    assert!(
        output
            .stdout
            .contains("\ndone=10000 failed=0 cancelled=0 retried=0\n"),
        "{output}"
    );
    assert!(
        output.stdout.contains("\nhost=local slots=4 jobs=10000\n"),
        "{output}"
    );
}

/// The example over two ssh hosts of the private loopback sshd (skipped
/// without sshd unless `HEARTH_REQUIRE_SSHD=1`).
#[test]
fn remote_pool_over_ssh() {
    let Some(sshd) = sshd::Sshd::start_or_skip(&["node1", "node2"]) else {
        return;
    };
    let ssh = sshd.ssh_command().join(" ");
    let args = [
        "--jobs",
        "2000",
        "--slots",
        "2",
        "--ssh",
        &ssh,
        "--ssh-host",
        "node1",
        "--ssh-host",
        "node2",
    ];
    let mut example = Running::start("remote_pool", &args);
    assert!(
        example
            .line()
            .starts_with("submitting 2000 jobs to 4 slots")
    );
    let (status, stderr) = example.wait();
    assert!(status.success(), "{stderr}");
    let stdout: Vec<String> = example.lines.iter().collect();
    assert_eq!(
        remote_pool_summary(&stdout.join("\n")),
        (2000, 0, 0),
        "{stdout:?}"
    );
    let jobs: u64 = stdout
        .iter()
        .filter_map(|l| l.strip_prefix("host=node"))
        .map(|l| l.rsplit_once("jobs=").unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(jobs, 2000, "{stdout:?}");
    assert_eq!(left_behind(&example), Vec::<String>::new());
}

/// The summary line's numbers: done, failed, cancelled.
fn remote_pool_summary(stdout: &str) -> (u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("done="))
        .unwrap_or_else(|| panic!("no summary in {stdout:?}"));
    let field = |name: &str| -> u64 {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
    };
    (field("done="), field("failed="), field("cancelled="))
}

/// Processes started by the `example` run (its environment tag), still
/// running anywhere.
fn left_behind(example: &Running) -> Vec<String> {
    procs::tagged(&example.tag)
}

/// SIGINT: no new jobs, the running ones finish, the slots exit, 130.
#[test]
fn remote_pool_interrupted() {
    let mut example = Running::start(
        "remote_pool",
        &["--jobs", "200", "--slots", "2", "--sleep-ms", "200"],
    );
    assert!(example.line().starts_with("submitting 200 jobs"));
    // The check below sees the example's processes while they run.
    assert!(!left_behind(&example).is_empty());
    // SIGUSR2: the pool's numbers are in the metrics log, per host too.
    example.kill("-USR2");
    let pool = example.stderr_line("remote pool metrics");
    assert!(
        pool.contains("pool=pool-1") && pool.contains("slots_total=2"),
        "{pool}"
    );
    let host = example.stderr_line("remote pool host metrics");
    assert!(
        host.contains("host=local") && host.contains("slots=2"),
        "{host}"
    );
    example.kill("-INT");
    let (status, stderr) = example.wait();
    assert_eq!(status.code(), Some(130), "{status}: {stderr}");
    // The process exited: the reader thread ends at the end of stdout.
    let stdout: Vec<String> = example.lines.iter().collect();
    let (done, failed, cancelled) = remote_pool_summary(&stdout.join("\n"));
    assert_eq!((done + cancelled, failed), (200, 0), "{stdout:?}");
    assert!(cancelled > 0, "{stdout:?}");
    assert_eq!(left_behind(&example), Vec::<String>::new());
}

/// Two SIGINTs: the slots are killed at once, 130.
#[test]
fn remote_pool_interrupted_twice() {
    let mut example = Running::start(
        "remote_pool",
        &["--jobs", "100", "--slots", "2", "--sleep-ms", "60000"],
    );
    assert!(example.line().starts_with("submitting 100 jobs"));
    example.kill("-INT");
    // Two signals sent at once may merge into one: the second goes after
    // the runtime saw the first, as a user's second Ctrl+C would.
    let _ = example.stderr_line("shutting down the runtime");
    example.kill("-INT");
    let (status, stderr) = example.wait();
    // If the runtime ended before the second signal came (nothing was
    // running), `start` has given the signals back to their default
    // action and the second one ends the process before it prints its
    // summary: 130 to a shell too.
    if status.signal() == Some(libc::SIGINT) {
        assert_eq!(left_behind(&example), Vec::<String>::new());
        return;
    }
    assert_eq!(status.code(), Some(130), "{status}: {stderr}");
    // The process exited: the reader thread ends at the end of stdout.
    let stdout: Vec<String> = example.lines.iter().collect();
    let (done, failed, cancelled) = remote_pool_summary(&stdout.join("\n"));
    // Submitters that had not run yet when the runtime stopped submitted
    // nothing: no job finished, none failed, the others were cancelled.
    assert_eq!((done, failed), (0, 0), "{stdout:?}");
    assert!(cancelled <= 100, "{stdout:?}");
    assert_eq!(left_behind(&example), Vec::<String>::new());
}

/// A running example whose stdout is read line by line and whose stderr is
/// collected; killed when dropped.
struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
    stderr_closed: mpsc::Receiver<()>,
    /// The lines of stderr as they come (all of it is also in `stderr`).
    stderr_lines: mpsc::Receiver<String>,
    /// `HEARTH_EXAMPLE_RUN=<unique>` in the environment of the example and
    /// of every process it starts.
    tag: String,
}

impl Running {
    fn start(name: &str, args: &[&str]) -> Running {
        Running::start_bin(build::example(name), args)
    }

    /// Runs the example binary `bin`.
    fn start_bin(bin: std::path::PathBuf, args: &[&str]) -> Running {
        use std::io::{BufRead, BufReader};
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("{}-{run}", std::process::id());
        let mut child = Command::new(&bin)
            .args(args)
            .env("HEARTH_EXAMPLE_RUN", &tag)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("HEARTH_LOG", "info")
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", bin.display()));
        let (line_tx, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let _ = thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (done, stderr_closed) = mpsc::channel();
        let (err_tx, stderr_lines) = mpsc::channel();
        let err = BufReader::new(child.stderr.take().unwrap());
        let stderr = Some(thread::spawn(move || {
            let mut all = String::new();
            for line in err.lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
                let _ = err_tx.send(line);
            }
            let _ = done.send(());
            all
        }));
        Running {
            child,
            lines,
            stderr,
            stderr_closed,
            stderr_lines,
            tag: format!("HEARTH_EXAMPLE_RUN={tag}"),
        }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(TIMEOUT)
            .expect("no output from the example")
    }

    /// Waits for a line of stderr containing `text`.
    fn stderr_line(&self, text: &str) -> String {
        loop {
            let line = self
                .stderr_lines
                .recv_timeout(TIMEOUT)
                .unwrap_or_else(|_| panic!("no stderr line with {text:?}"));
            if line.contains(text) {
                return line;
            }
        }
    }

    fn kill(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits for the exit; returns the status and all of stderr.
    fn wait(&mut self) -> (std::process::ExitStatus, String) {
        self.stderr_closed
            .recv_timeout(TIMEOUT)
            .expect("example did not exit");
        let status = self.child.wait().unwrap();
        (status, self.stderr.take().unwrap().join().unwrap())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Round trips on `stream`, checking each echo.
fn echo_round_trips(stream: &mut (impl Read + std::io::Write), client: u8, n: usize) {
    let mut got = [0; 64];
    for i in 0..n {
        let msg = [client.wrapping_add(i.to_le_bytes()[0]); 64];
        stream.write_all(&msg).unwrap();
        stream.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
    }
}

#[test]
fn echo_server_graceful_shutdown() {
    let mut server = Running::start("echo_server", &["127.0.0.1:0"]);
    let line = server.line();
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let mut clients: Vec<std::net::TcpStream> = (0..10)
        .map(|_| {
            let stream = std::net::TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream
        })
        .collect();
    for (i, client) in clients.iter_mut().enumerate() {
        echo_round_trips(client, u8::try_from(i).unwrap(), 100);
    }
    server.kill("-USR2");
    server.kill("-TERM");
    // Every client got all its echoes above; now the server closes them.
    for client in &mut clients {
        let mut rest = Vec::new();
        assert_eq!(
            client.read_to_end(&mut rest).unwrap(),
            0,
            "EOF after the echoes"
        );
    }
    let (status, stderr) = server.wait();
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains("worker_threads="),
        "metrics on SIGUSR2: {stderr}"
    );
    assert!(stderr.contains("shutting down the runtime"), "{stderr}");
}

/// The echo server on a Unix socket: echoes, metrics under its path, and
/// a graceful stop that removes the socket file it made.
#[test]
fn echo_server_on_a_unix_socket() {
    let dir = std::env::temp_dir().join(format!("hearth-example-echo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let mut server = Running::start("echo_server", &[path.to_str().unwrap()]);
    assert_eq!(server.line(), format!("listening on {}", path.display()));
    let mut clients: Vec<std::os::unix::net::UnixStream> = (0..4)
        .map(|_| {
            let stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream
        })
        .collect();
    for (i, client) in clients.iter_mut().enumerate() {
        echo_round_trips(client, u8::try_from(i).unwrap(), 100);
    }
    server.kill("-USR2");
    let metrics = server.stderr_line("unix server metrics");
    assert!(
        metrics.contains(&format!("path={}", path.display())),
        "{metrics}"
    );
    server.kill("-TERM");
    for client in &mut clients {
        let mut rest = Vec::new();
        assert_eq!(
            client.read_to_end(&mut rest).unwrap(),
            0,
            "EOF after the echoes"
        );
    }
    let (status, stderr) = server.wait();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!path.exists(), "the server removed its socket file");
    // A path that exists is refused, with what to do.
    std::fs::write(&path, b"not a socket").unwrap();
    let output = Command::new(build::example("echo_server"))
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("remove_stale_socket"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn echo_server_bad_address() {
    let output = Command::new(build::example("echo_server"))
        .arg("not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid address \"not-an-address\""),
        "{stderr}"
    );
}

/// What an example printed; displayed in assertion messages.
struct Output {
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n--- stdout\n{}--- stderr\n{}---",
            self.stdout, self.stderr
        )
    }
}

/// Builds and runs example `name`, and checks that it exits successfully.
#[track_caller]
fn run_example(name: &str) -> Output {
    run_example_with(name, &[])
}

/// Runs example `name` with `args` to its end, as [`run_example`] does.
fn run_example_with(name: &str, args: &[&std::ffi::OsStr]) -> Output {
    let bin = build::example(name);
    let mut child = Command::new(&bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Same log level and panic report as for a user without settings.
        .env("HEARTH_LOG", "info")
        .env("RUST_BACKTRACE", "0")
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", bin.display()));

    // Read both pipes on threads of their own, so a full pipe cannot block
    // the example; each thread reports when its pipe closed.
    let (done, pipes_closed) = mpsc::channel();
    let stdout = read_to_end(child.stdout.take().unwrap(), done.clone());
    let stderr = read_to_end(child.stderr.take().unwrap(), done);
    // The pipes close when the example exits.
    let deadline = Instant::now() + TIMEOUT;
    let mut timed_out = false;
    for _ in 0..2 {
        if pipes_closed
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_err()
        {
            timed_out = true;
            let _ = child.kill();
            break;
        }
    }
    let status = child.wait().expect("cannot wait for the example");
    let output = Output {
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    assert!(
        !timed_out,
        "example {name} still ran after {TIMEOUT:?}, killed it{output}"
    );
    assert!(status.success(), "example {name} failed: {status}{output}");
    output
}

fn read_to_end<R: Read + Send + 'static>(
    mut pipe: R,
    done: mpsc::Sender<()>,
) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let result = pipe.read_to_end(&mut buf);
        let _ = done.send(());
        result.expect("cannot read the example's output");
        String::from_utf8(buf).expect("example's output is not UTF-8")
    })
}
