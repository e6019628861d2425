//! The `hearth` command, run as a user would: local runs, output modes,
//! exit statuses, Ctrl+C, and runs over the private loopback sshd.

#[path = "cli/each_host.rs"]
mod each_host;
#[path = "util/gates.rs"]
#[allow(dead_code)]
mod gates;
#[path = "cli/install.rs"]
mod install;
#[path = "cli/logins.rs"]
mod logins;
#[path = "cli/pdsh.rs"]
mod pdsh;
#[path = "util/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "cli/semaphore.rs"]
mod semaphore;
#[path = "util/sshd.rs"]
#[allow(dead_code)]
mod sshd;
#[path = "cli/streams.rs"]
mod streams;
#[path = "cli/throttle.rs"]
mod throttle;
#[path = "cli/world.rs"]
mod world;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use std::{env, fs, thread};

use sshd::Sshd;

const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

/// Last guard against a hanging run.
const TIMEOUT: Duration = Duration::from_mins(2);

/// A unique `HEARTH_CLI_RUN=..` tag for the environment of one run, to
/// find every process it started.
fn run_tag() -> String {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    format!(
        "HEARTH_CLI_RUN={}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    )
}

fn command(args: &[impl AsRef<OsStr>], tag: &str) -> Command {
    let mut cmd = Command::new(HEARTH);
    let (key, value) = tag.split_once('=').unwrap();
    let _ = cmd.args(args).env(key, value).env_remove("HEARTH_LOG");
    cmd
}

/// Runs `hearth ARGS` with `stdin` as input; checks nothing it started is
/// left afterwards.
fn hearth(args: &[impl AsRef<OsStr>], stdin: impl AsRef<[u8]>) -> Output {
    let tag = run_tag();
    let mut child = command(args, &tag)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run hearth");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.as_ref().to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = wait_output(child);
    writer.join().unwrap();
    assert_eq!(left_behind(&tag), Vec::<String>::new());
    output
}

/// Waits for the exit (at most [`TIMEOUT`]) and collects the output. A
/// hearth still running then is killed (its slots end with their input)
/// before the test fails, so it does not outlive the test.
fn wait_output(child: Child) -> Output {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let (tx, rx) = mpsc::channel();
    let _ = thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: kill(2) on our own child, not yet waited for (the
            // waiting thread has not returned), so the pid is still its.
            let _ = unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("hearth did not exit in time");
        }
    }
}

/// Processes carrying `tag` in their environment, once those killed have
/// had time to die: a job's grandchild gets its SIGKILL with its worker's
/// process group, but nobody waits for it, so its end can lag behind
/// hearth's exit a little. Polls for up to 10 s.
fn left_behind(tag: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = procs::tagged(tag);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A fresh, empty directory for one test's files.
fn scratch(name: &str) -> std::path::PathBuf {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let dir = env::temp_dir().join(format!(
        "hearth-cli-{name}-{}-{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn numbers(n: usize) -> String {
    (1..=n).map(|i| i.to_string() + "\n").collect()
}

/// hearth's own error: exit 255, and stderr says `says`.
#[track_caller]
fn assert_own_error(output: &Output, says: &str) {
    assert_exit(output, 255);
    assert!(stderr(output).contains(says), "{}", stderr(output));
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

#[test]
fn thousand_inputs_in_order() {
    let output = hearth(&["map", "--", "echo", "{}"], numbers(1000));
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), numbers(1000));
}

#[test]
fn unordered_prints_the_same_set() {
    let output = hearth(
        &["map", "--unordered", "-j", "4", "--", "echo"],
        numbers(1000),
    );
    assert_exit(&output, 0);
    let mut lines: Vec<u32> = stdout(&output)
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, (1..=1000).collect::<Vec<_>>());
}

#[test]
fn json_is_one_object_per_line() {
    let output = hearth(
        &[
            "map", "--json", "--arg", "a b", "--arg", "it's", "--", "echo", "{}",
        ],
        "",
    );
    assert_exit(&output, 0);
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("not JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["input"], "a b");
    assert_eq!(lines[0]["stdout"], "a b\n");
    assert_eq!(lines[1]["input"], "it's");
    assert_eq!(lines[1]["stdout"], "it's\n");
    for line in &lines {
        assert_eq!(line["exit"], 0);
        assert_eq!(line["host"], "local");
        assert_eq!(line["attempts"], 1);
        assert!(line["ms"].is_u64(), "{line}");
    }
}

#[test]
fn tag_prefixes_lines_with_the_input() {
    let output = hearth(
        &[
            "map",
            "--tag",
            "--",
            "printf",
            "'x\\ny\\n'",
            ":::",
            "a",
            "b",
        ],
        "",
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "a\tx\na\ty\nb\tx\nb\ty\n");
}

#[test]
fn failed_jobs_exit_with_their_number_and_are_named() {
    let output = hearth(&["map", "--", "exit $(( {} % 2 ))"], numbers(6));
    assert_exit(&output, 3);
    assert!(
        stderr(&output).contains("3 of 6 jobs failed: #1 (exit 1), #3 (exit 1), #5 (exit 1)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn fail_fast_starts_no_new_jobs() {
    let output = hearth(
        &[
            "map",
            "-j",
            "1",
            "--fail-fast",
            "--",
            "test {} -ne 3 && echo {}",
        ],
        numbers(100),
    );
    assert_exit(&output, 1);
    assert_eq!(stdout(&output), "1\n2\n");
    assert!(
        stderr(&output).contains("97 of 100 jobs were not run (--fail-fast after a failure)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn usage_errors_exit_255() {
    let output = hearth(&["map", "--bogus", "--", "echo"], "1\n");
    assert_exit(&output, 255);
    assert!(stderr(&output).contains("unexpected argument '--bogus'"));
    let output = hearth(&["map", "--timeout", "ten", "--", "echo"], "1\n");
    assert_own_error(&output, "is not a duration");
    // An option after the command's first word is the command's.
    let output = hearth(&["map", "--bogus", "echo", "--tag"], "1\n");
    assert_exit(&output, 255);
    // Without a command the inputs are the commands, as in GNU parallel
    // (`tests/parallel_compat.rs`); but --pipe needs one.
    let output = hearth(&["map", "--pipe"], "1\n");
    assert_own_error(
        &output,
        "--pipe and --pipe-part need a command to pipe into",
    );
}

/// Every job gets `$PARALLEL_TMP`, as in GNU parallel: a free name of
/// its own in the temporary directory, whose file is removed when the job
/// ends.
#[test]
fn every_job_has_a_scratch_name() {
    let dir = Scratch::new("parallel-tmp");
    let names = dir.0.join("names");
    let script = format!(
        "test ! -e \"$PARALLEL_TMP\" && echo {{}} > \"$PARALLEL_TMP\" && cat \"$PARALLEL_TMP\" \
         && echo \"$PARALLEL_TMP\" >> {}",
        names.display()
    );
    let output = hearth(&["map", "-j2", &script, ":::", "a", "b", "c"], "");
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "a\nb\nc\n");
    let mut seen: Vec<String> = fs::read_to_string(&names)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for name in &seen {
        assert!(!std::path::Path::new(name).exists(), "{name} left");
    }
}

/// GNU parallel's profiles and `$PARALLEL` come before the command line:
/// an option there that hearth map lacks, or a quote not closed, is said
/// and left out, and the run goes on as the command line says; the
/// command line's options win over the profile's.
#[test]
fn profiles_that_do_not_fit_are_left_out() {
    let home = Scratch::new("profile-home");
    fs::create_dir_all(home.0.join(".parallel")).unwrap();
    fs::write(home.0.join(".parallel/config"), "-k\n--tag\n").unwrap();
    let run = |parallel: &str, args: &[&str]| {
        let mut cmd = Command::new(HEARTH);
        let _ = cmd
            .arg("map")
            .args(args)
            .env("HOME", &home.0)
            .env("PARALLEL", parallel)
            .env_remove("HEARTH_LOG");
        wait_output(
            cmd.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    // The config's -k and --tag, and the command line's --unordered.
    let output = run("", &["--unordered", "echo", ":::", "a"]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "a\ta\n");
    let output = run("--memsuspend 1G", &["echo", ":::", "a"]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "a\n");
    assert!(stderr(&output).contains("are left out") && stderr(&output).contains("--memsuspend"));
    let output = run("--tagstring 'x", &["echo", ":::", "a"]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "a\ta\n");
    assert!(
        stderr(&output).contains("$PARALLEL: cannot split"),
        "{}",
        stderr(&output)
    );
    // A bare -l (one line a job) still takes the profiles.
    let output = run("", &["-l", "echo", ":::", "a", "b"]);
    assert_eq!(stdout(&output), "a\ta\nb\tb\n");
}

/// `--joblog -` is stdout, as in GNU parallel: its header first, then
/// each job's line after its output.
#[test]
fn joblog_on_stdout() {
    let output = hearth(
        &["map", "-j1", "--joblog", "-", "echo", ":::", "a", "b"],
        "",
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("Seq\tHost\tStarttime"), "{out}");
    assert_eq!((lines[1], lines[3]), ("a", "b"), "{out}");
    assert!(
        lines[2].starts_with("1\t:\t") && lines[2].ends_with("\techo a"),
        "{out}"
    );
    assert!(
        lines[4].starts_with("2\t:\t") && lines[4].ends_with("\techo b"),
        "{out}"
    );
    assert!(!std::path::Path::new("-").exists());
}

/// GNU parallel's `--max-line-length-allowed` prints the longest line
/// the system runs and exits; `--show-limits` prints it and `-s`'s limit,
/// then runs.
#[test]
fn limits_of_command_lines_are_printed() {
    let output = hearth(&["map", "--max-line-length-allowed"], "");
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "131071\n");
    let output = hearth(
        &["map", "--show-limits", "-s", "1000", "echo", ":::", "a"],
        "",
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert!(
        out.starts_with("Maximal size of command: 131071\nMaximal usable size of command: 1000\n")
            && out.ends_with("press CTRL-D or CTRL-C\na\n"),
        "{out}"
    );
    // Above GNU parallel's limit, -s is that limit, with a warning.
    let output = hearth(
        &["map", "--show-limits", "-s", "100000", "true", ":::", "a"],
        "",
    );
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("usable size of command: 63664\n"));
    assert!(
        stderr(&output).contains("using -s 63664"),
        "{}",
        stderr(&output)
    );
}

/// An option's name may be shortened as long as it names one option, as
/// in GNU parallel; one that names several says which.
#[test]
fn shortened_option_names() {
    let output = hearth(
        &["map", "--tagstr", "<{}>", "--dry", "echo", ":::", "a"],
        "",
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "<a>\techo a\n");
    let output = hearth(&["map", "--pip", "cat"], "");
    assert_own_error(
        &output,
        "--pip is the start of several options (--pipe, --pipe-part)",
    );
}

/// As with GNU parallel and xargs, the command may follow hearth's options
/// without `--`; what follows its first word is the command's, options
/// too (it used to be a usage error).
#[test]
fn command_without_double_dash() {
    let output = hearth(&["map", "-j", "2", "echo", "{}", "--tag"], "1\n2\n");
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "1 --tag\n2 --tag\n");
    let output = hearth(&["map", "--tag", "echo", ":::", "a", "b"], "");
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "a\ta\nb\tb\n");
}

#[test]
fn pool_failure_exits_255_and_says_why() {
    let output = hearth(
        &[
            "map",
            "--ssh",
            "/nonexistent/ssh",
            "-S",
            "node1",
            "--",
            "echo",
        ],
        "1\n2\n",
    );
    assert_exit(&output, 255);
    let err = stderr(&output);
    // The slots may die before the inputs are read ("those after line 0
    // were not run") or after ("2 of 2 jobs did not run"): both say why.
    assert!(
        err.contains("the pool failed: ")
            && err.contains("cannot start worker (/nonexistent/ssh HOST")
            && err.contains("No such file or directory"),
        "{err}"
    );
    assert_eq!(stdout(&output), "");
}

#[test]
fn version_and_help() {
    let output = hearth(&["--version"], "");
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        format!("hearth {}\n", env!("CARGO_PKG_VERSION"))
    );
    // hearth map's (hearth started as `parallel` is hearth map): scripts
    // ask `parallel --version` whether GNU parallel's options are there.
    for args in [["map", "--version"], ["map", "-V"]] {
        let output = hearth(&args, "");
        assert_exit(&output, 0);
        assert_eq!(
            stdout(&output),
            format!(
                "hearth {}, a drop-in for GNU parallel 20221122\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }
    let output = hearth(&["map", "--help"], "");
    assert_exit(&output, 0);
    for option in [
        "--hosts",
        "--slots",
        "--ssh",
        "--remote-bin",
        "--timeout",
        "--attempts",
    ] {
        assert!(
            stdout(&output).contains(option),
            "{option} missing from --help"
        );
    }
}

/// A `hearth map` whose stdout is read line by line.
struct Running {
    child: Child,
    /// Its stdin, while the test still writes inputs.
    input: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    errors: mpsc::Receiver<String>,
    tag: String,
}

/// Sends the lines of `pipe` to the returned channel.
fn line_reader(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    let _ = thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    lines
}

impl Running {
    /// Starts `hearth ARGS` with `stdin` as its whole input.
    fn start(args: &[&str], stdin: &str) -> Running {
        let mut run = Running::streaming(args);
        run.send(stdin);
        run.close_input();
        run
    }

    /// Starts `hearth ARGS` with its stdin open for [`Running::send`].
    fn streaming(args: &[&str]) -> Running {
        Running::streaming_with(args, &[])
    }

    /// As [`Running::streaming`], with `env` set (`HEARTH_LOG` too).
    fn streaming_with(args: &[&str], env: &[(&str, &str)]) -> Running {
        let tag = run_tag();
        let mut cmd = command(args, &tag);
        for (name, value) in env {
            let _ = cmd.env(name, value);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run hearth");
        let input = child.stdin.take();
        let lines = line_reader(child.stdout.take().unwrap());
        let errors = line_reader(child.stderr.take().unwrap());
        Running {
            child,
            input,
            lines,
            errors,
            tag,
        }
    }

    /// Writes `text` to hearth's stdin.
    fn send(&mut self, text: &str) {
        let input = self.input.as_mut().expect("stdin already closed");
        input.write_all(text.as_bytes()).unwrap();
        input.flush().unwrap();
    }

    /// Closes hearth's stdin: the end of its inputs.
    fn close_input(&mut self) {
        drop(self.input.take());
    }

    /// Waits for a stderr line containing `text`.
    fn stderr_line(&self, text: &str) -> String {
        loop {
            let line = self
                .errors
                .recv_timeout(TIMEOUT)
                .expect("no such stderr line");
            if line.contains(text) {
                return line;
            }
        }
    }

    fn line(&self) -> String {
        self.lines.recv_timeout(TIMEOUT).expect("no output")
    }

    fn interrupt(&self) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    }

    /// Waits for the exit; returns the status, the rest of stdout and
    /// stderr.
    fn wait(self) -> (ExitStatus, Vec<String>, String) {
        let Running {
            child,
            input,
            lines,
            errors,
            tag,
        } = self;
        let output = wait_output(child);
        // Still open if the test left it so: hearth ended without its end.
        drop(input);
        let rest: Vec<String> = lines.iter().collect();
        let err: Vec<String> = errors.iter().collect();
        assert_eq!(left_behind(&tag), Vec::<String>::new());
        (output.status, rest, err.join("\n"))
    }
}

#[test]
fn ctrl_c_once_finishes_running_jobs() {
    // Job 1 answers at once (the pool is up); the others take a while.
    let script = "if [ {} = 1 ]; then echo first; else sleep 0.5; echo {}; fi";
    let run = Running::start(&["map", "-j", "2", "--", script], &numbers(40));
    assert_eq!(run.line(), "first");
    run.interrupt();
    let (status, rest, err) = run.wait();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("hearth: interrupted: running="), "{err}");
    assert!(err.contains("(interrupted)"), "{err}");
    // What ran is printed whole and in order: 2, 3, ... k.
    let expected: Vec<String> = (2..2 + rest.len()).map(|i| i.to_string()).collect();
    assert_eq!(rest, expected);
    assert!(rest.len() < 39, "every job ran: {rest:?}");
}

/// Inputs from stdin run as they are read: each line's output comes
/// before the next line is written.
#[test]
fn stdin_inputs_run_as_they_are_read() {
    let mut run = Running::streaming(&["map", "-j", "2", "--", "echo"]);
    for i in 1..=5 {
        run.send(&format!("{i}\n"));
        assert_eq!(run.line(), i.to_string());
    }
    run.close_input();
    let (status, rest, err) = run.wait();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(rest, Vec::<String>::new());
}

/// Ctrl+C while hearth waits for more input ends the run at once, and says
/// how far it read.
#[test]
fn ctrl_c_while_reading_stdin_ends_the_run() {
    let mut run = Running::streaming(&["map", "--", "echo"]);
    run.send("1\n");
    assert_eq!(run.line(), "1");
    run.interrupt();
    let (status, rest, err) = run.wait();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("stopped reading the inputs; those after job 1 were not run"),
        "{err}"
    );
    assert_eq!(rest, Vec::<String>::new());
}

/// Every slot dead while stdin is still open and idle: the run ends at
/// once with the pool's failure, instead of waiting for a line.
#[test]
fn dead_pool_ends_a_run_waiting_for_stdin() {
    let run = Running::streaming(&[
        "map",
        "-S",
        "h1",
        "--launcher",
        "env {bin}",
        "--remote-bin",
        "/nonexistent/hearth",
        "--",
        "echo",
    ]);
    let (status, rest, err) = run.wait();
    assert_eq!(status.code(), Some(255), "{err}");
    assert!(err.contains("worker binary missing"), "{err}");
    assert!(err.contains("every slot is dead"), "{err}");
    assert_eq!(rest, Vec::<String>::new());
}

/// A run that stops early (here --fail-fast) says from which line on the
/// inputs were not run: the lines it read ahead but never took count
/// among them.
#[test]
fn stopped_run_says_which_inputs_did_not_run() {
    let output = hearth(
        &["map", "-j", "1", "--fail-fast", "--", "test {} -ne 3"],
        numbers(20_000),
    );
    assert_exit(&output, 1);
    let err = stderr(&output);
    let taken: usize = err
        .split_once("1 of ")
        .and_then(|(_, rest)| rest.split_once(" jobs failed"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no tally in {err}"));
    assert!(
        err.contains(&format!("those after job {taken} were not run")),
        "{err}"
    );
}

#[test]
fn ctrl_c_twice_kills_the_slots() {
    let script = "if [ {} = 1 ]; then echo first; else sleep 60; fi";
    let run = Running::start(&["map", "-j", "2", "--", script], &numbers(10));
    assert_eq!(run.line(), "first");
    let start = Instant::now();
    run.interrupt();
    // Two signals sent at once may merge into one: the second goes after
    // the first was seen, as a user's second Ctrl+C would.
    let _ = run.stderr_line("hearth: interrupted: running=");
    run.interrupt();
    let (status, rest, err) = run.wait();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("killing the slots"), "{err}");
    assert_eq!(rest, Vec::<String>::new());
    // Far less than the jobs' 60 s: nothing waited for them (and
    // `wait` checked that no `sleep` is left).
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
}

/// The private sshd with hosts `node1` and `node2`, or `None` when the
/// test is skipped (see [`Sshd::start_or_skip`]).
fn sshd() -> Option<Sshd> {
    Sshd::start_or_skip(&["node1", "node2"])
}

#[test]
fn ssh_two_hosts_two_thousand_inputs() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "-j",
            "2",
            "--tag-host",
            "--",
            "echo",
        ],
        numbers(2000),
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    let values: Vec<String> = out
        .lines()
        .map(|l| l.split_once('\t').unwrap().1.to_owned())
        .collect();
    assert_eq!(
        values,
        (1..=2000).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    for host in ["node1\t", "node2\t"] {
        assert!(
            out.lines().any(|l| l.starts_with(host)),
            "{host} did no job"
        );
    }
}

#[test]
fn ssh_job_killing_its_worker_once_yields_every_output_once() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let markers = sshd.scratch("markers");
    fs::create_dir_all(&markers).unwrap();
    // Every 25th input kills its slot's worker ($PPID of the job's shell)
    // on the first attempt.
    let script = format!(
        "if [ $(( {{}} % 25 )) = 0 ] && mkdir {}/m{{}} 2>/dev/null; then kill -9 $PPID; sleep 5; fi; echo {{}}",
        markers.display()
    );
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "-j",
            "2",
            "--",
            &script,
        ],
        numbers(200),
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), numbers(200));
    assert_eq!(fs::read_dir(&markers).unwrap().count(), 8);
}

#[test]
fn ssh_unreachable_host_leaves_the_work_to_the_others() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let output = hearth(
        &["map", "--ssh", &ssh, "-S", "closed,node1", "--", "echo"],
        numbers(300),
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), numbers(300));
}

/// A host that stops answering (its sshd frozen with SIGSTOP) fails its
/// slot once ssh's keep-alive gives up (hearth sets it to about a minute;
/// the test's own, shorter `-o` options win), and the job runs again on a
/// slot that answers instead of hanging the run.
#[test]
fn ssh_frozen_host_fails_its_slot_and_the_job_runs_again() {
    let Some(sshd) = sshd() else { return };
    let dir = sshd.scratch("frozen");
    fs::create_dir_all(&dir).unwrap();
    let started = dir.join("started");
    let mut ssh = sshd.ssh_command();
    ssh.extend(["-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2"].map(String::from));
    let ssh = ssh.join(" ");
    // The first attempt marks its start and waits; the second answers. The
    // sleep is this test run's own (other runs of the suite may be going
    // on at the same time on the machine).
    let sleep = format!("sleep 300.{}", std::process::id());
    let script = format!(
        "if [ -e {0} ]; then echo again-{{}}; else touch {0}; exec {sleep}; fi",
        started.display()
    );
    let mut run = Running::streaming(&["map", "--ssh", &ssh, "-S", "node1,node2", "--", &script]);
    run.send("a\n");
    run.close_input();
    let sleeping = gates::poll_for(TIMEOUT, || {
        procs::processes()
            .into_iter()
            .find(|p| p.comm == "sleep" && p.cmdline == sleep)
    })
    .expect("the first attempt never started");
    // Its sshd: the nearest ancestor named sshd*.
    let all = procs::processes();
    let mut at = sleeping.ppid;
    let server = loop {
        let parent = all
            .iter()
            .find(|p| p.pid == at)
            .expect("the job's sshd is gone");
        if parent.comm.starts_with("sshd") {
            break parent.clone();
        }
        at = parent.ppid;
    };
    assert!(procs::signal(server.pid, libc::SIGSTOP), "{server}");
    let line = run.line();
    assert!(procs::signal(server.pid, libc::SIGCONT), "{server}");
    assert_eq!(line, "again-a");
    let (status, rest, err) = run.wait();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(rest, Vec::<String>::new());
}

#[test]
fn launcher_template_starts_the_slots() {
    let output = hearth(
        &[
            "map",
            "-S",
            "h1,h2",
            "--launcher",
            "env {bin}",
            "--tag-host",
            "--",
            "echo",
        ],
        "x\n",
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert!(out == "h1\tx\n" || out == "h2\tx\n", "{out}");
}

#[test]
fn version_mismatch_is_one_clear_error() {
    // A "worker" of another protocol version: the magic, version 4 (from
    // before a job's stdin travelled with it), an empty frame, then it
    // waits for the end of its stdin.
    let dir = env::temp_dir().join(format!("hearth-cli-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let script = dir.join("old-hearth.sh");
    fs::write(
        &script,
        "printf 'HRTH\\004\\000\\000\\000\\000'\ncat >/dev/null\n",
    )
    .unwrap();
    let launcher = format!("sh {}", script.display());
    let output = hearth(
        &["map", "-S", "old", "--launcher", &launcher, "--", "echo"],
        "1\n",
    );
    let _ = fs::remove_dir_all(&dir);
    assert_exit(&output, 255);
    let err = stderr(&output);
    assert!(
        err.contains(
            "protocol version mismatch: this side speaks version 7, the peer version 4; \
             run the same version of hearth on both ends"
        ),
        "{err}"
    );
}

#[test]
fn ssh_refused_host_is_one_clear_error() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let output = hearth(&["map", "--ssh", &ssh, "-S", "denied", "--", "echo"], "1\n");
    assert_exit(&output, 255);
    let err = stderr(&output);
    assert!(
        err.contains("authentication refused")
            && err.contains("Permission denied")
            && err.contains("check that `ssh HOST true` logs in without a password"),
        "{err}"
    );
}

/// A host ssh does not trust (its key is not the one in `known_hosts`):
/// permanent, so the run fails at once (one connection for the host, whose
/// slots share it, and no retries), with ssh's own words and the
/// pool-failure status.
#[test]
fn ssh_host_key_mismatch_is_one_clear_error() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let connections = sshd.log_count("Connection from");
    let output = hearth(
        &[
            "map", "--ssh", &ssh, "-S", "badkey", "-j", "2", "--", "echo",
        ],
        "1\n2\n",
    );
    assert_exit(&output, 255);
    let err = stderr(&output);
    assert!(
        err.contains("the pool failed: ")
            && err.contains("badkey:1, badkey:2: host key rejected: ")
            && err.contains("Host key verification failed.")
            && !err.contains("exited"),
        "{err}"
    );
    assert_eq!(sshd.log_count("Connection from") - connections, 1, "{err}");
}

/// The control directory of the ssh masters of a `hearth map` run
/// tagged `tag` (found through a master's `ControlPath`), once one is up.
fn control_dir(tag: &str) -> std::path::PathBuf {
    let found = gates::poll_for(TIMEOUT, || {
        procs::tagged(tag).into_iter().find_map(|cmd| {
            if !cmd.contains("ControlMaster=yes") {
                return None;
            }
            let socket = cmd
                .split(' ')
                .find_map(|w| w.strip_prefix("ControlPath="))?;
            std::path::Path::new(socket).parent().map(|d| d.to_owned())
        })
    });
    found.expect("no ssh master for the run")
}

/// A run stopped with two Ctrl+C (its slots killed) ends the ssh masters
/// of its hosts and removes their control directory; so does a run that
/// ends by itself. (`Running::wait` checks that no master, which carries
/// the run's tag, is left.)
#[test]
fn ssh_masters_and_their_directory_end_with_the_run() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let script = "if [ {} = 1 ]; then echo first; else sleep 60; fi";
    let run = Running::start(
        &["map", "--ssh", &ssh, "-S", "node1", "-j", "2", "--", script],
        &numbers(10),
    );
    assert_eq!(run.line(), "first");
    let dir = control_dir(&run.tag);
    assert!(dir.is_dir(), "{}", dir.display());
    run.interrupt();
    let _ = run.stderr_line("hearth: interrupted: running=");
    run.interrupt();
    let (status, _, err) = run.wait();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(!dir.exists(), "{} left behind", dir.display());

    let run = Running::start(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1",
            "--",
            "echo {}; sleep 0.1",
        ],
        &numbers(3),
    );
    assert_eq!(run.line(), "1");
    let dir = control_dir(&run.tag);
    let (status, rest, err) = run.wait();
    assert!(status.success(), "{err}");
    assert_eq!(rest, ["2", "3"]);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn ssh_missing_remote_binary_is_one_clear_error() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1",
            "--remote-bin",
            "/nonexistent/hearth",
            "--",
            "echo",
        ],
        "1\n",
    );
    assert_exit(&output, 255);
    let err = stderr(&output);
    assert!(
        err.contains("worker binary missing or not executable (exit 127)")
            && err.contains("/nonexistent/hearth")
            && err.contains("install it there or give its path"),
        "{err}"
    );
}

/// A job past `--timeout` is logged as GNU parallel logs a job it killed:
/// Exitval -1, Signal 15 (it was logged with Signal 0).
#[test]
fn joblog_shows_a_timed_out_job_as_killed() {
    let dir = env::temp_dir().join(format!("hearth-cli-joblog-killed-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let joblog = dir.join("jobs.tsv");
    let output = hearth(
        &[
            "map",
            "--joblog",
            joblog.to_str().unwrap(),
            "--timeout",
            "1",
            "sleep",
        ],
        "30\n",
    );
    assert_exit(&output, 1);
    let log = fs::read_to_string(&joblog).unwrap();
    let _ = fs::remove_dir_all(&dir);
    let row: Vec<&str> = log.lines().nth(1).unwrap_or_default().split('\t').collect();
    assert_eq!(
        (row.first(), row.get(6), row.get(7), row.get(8)),
        (Some(&"1"), Some(&"-1"), Some(&"15"), Some(&"sleep 30")),
        "{log}"
    );
}

#[test]
fn joblog_has_one_line_per_job() {
    let dir = env::temp_dir().join(format!("hearth-cli-joblog-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let joblog = dir.join("jobs.tsv");
    let output = hearth(
        &[
            "map",
            "--joblog",
            joblog.to_str().unwrap(),
            "--",
            "exit $(( {} - 1 ))",
        ],
        "1\n2\n",
    );
    assert_exit(&output, 1);
    let log = fs::read_to_string(&joblog).unwrap();
    let _ = fs::remove_dir_all(&dir);
    let lines: Vec<Vec<&str>> = log.lines().map(|l| l.split('\t').collect()).collect();
    // GNU parallel's columns: the tools that read its joblog read hearth's.
    assert_eq!(
        lines[0],
        [
            "Seq",
            "Host",
            "Starttime",
            "JobRuntime",
            "Send",
            "Receive",
            "Exitval",
            "Signal",
            "Command"
        ]
    );
    assert_eq!(lines.len(), 3, "{log}");
    for (line, (seq, exit)) in lines[1..].iter().zip([("1", "0"), ("2", "1")]) {
        assert_eq!(
            (line[0], line[1], line[4], line[5], line[6], line[7]),
            (seq, ":", "0", "0", exit, "0"),
            "{log}"
        );
        assert!(line[2].parse::<f64>().unwrap() > 1.7e9, "{log}");
        assert_eq!(line[3].len(), 10, "{log}");
        assert!(line[3].trim().parse::<f64>().is_ok(), "{log}");
        assert_eq!(line[8], format!("exit $(( {seq} - 1 ))"));
    }
}

/// A scratch directory for one test, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = env::temp_dir().join(format!("hearth-cli-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn lines(&self, file: &str) -> usize {
        fs::read_to_string(self.0.join(file)).map_or(0, |text| text.lines().count())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A job past its --timeout is killed once and fails as timed out (it was
/// run again up to --attempts times, its side effects with it).
#[test]
fn timed_out_job_runs_once_and_is_named() {
    let dir = Scratch::new("timeout");
    let script = format!("echo {{}} >> {}/starts; exec sleep 60", dir.0.display());
    let output = hearth(
        &["map", "--timeout", "300ms", "--", &script, ":::", "a"],
        "",
    );
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("#1 (timed out after 300ms)"), "{err}");
    assert_eq!(dir.lines("starts"), 1, "{err}");
}

/// --retries N runs a job that exited non-zero until it ran N times in
/// all (GNU parallel's count); --json shows the retries beside the
/// attempts, and the last run's exit.
#[test]
fn retries_run_a_failed_job_again() {
    let dir = Scratch::new("retries");
    // Exits 0 from its third run on (the runs counted in `file`).
    let script = |file: &str| {
        format!(
            "echo {{}} >> {0}/{file}; [ $(wc -l < {0}/{file}) -ge 3 ]",
            dir.0.display()
        )
    };
    let run = |retries: &str, file: &str| -> (Output, serde_json::Value) {
        let args = ["map", "--retries", retries, "--json", "--"];
        let output = hearth(&[&args[..], &[&script(file), ":::", "a"]].concat(), "");
        let line = serde_json::from_str(stdout(&output).trim()).unwrap();
        (output, line)
    };
    let (output, line) = run("2", "short");
    assert_exit(&output, 1);
    assert_eq!(
        (&line["exit"], &line["attempts"], &line["retries"]),
        (&1.into(), &2.into(), &1.into()),
        "{line}"
    );
    assert_eq!(dir.lines("short"), 2);
    // One run in all: none again.
    let (output, line) = run("1", "once");
    assert_exit(&output, 1);
    assert_eq!(dir.lines("once"), 1, "{line}");
    // 0: as many runs as it takes.
    let (output, _) = run("0", "until");
    assert_exit(&output, 0);
    assert_eq!(dir.lines("until"), 3);
    let (output, line) = run("5", "enough");
    assert_exit(&output, 0);
    assert_eq!(
        (&line["exit"], &line["attempts"], &line["retries"]),
        (&0.into(), &3.into(), &2.into()),
        "{line}"
    );
    assert_eq!(dir.lines("enough"), 3);
}

/// A worker stopped in the middle of its job (SIGSTOP, as a frozen host
/// would be) is found without --timeout once silent for --slot-timeout:
/// hearth map says so at once, with the slot, why and its jobs, and the
/// job runs again on a slot that answers.
#[test]
fn stopped_worker_is_said_and_its_job_runs_again() {
    let dir = Scratch::new("stopped");
    // The first run stops its worker (the shell's parent); the next one
    // answers.
    let script = format!(
        "if mkdir {}/once 2>/dev/null; then kill -STOP $PPID; exec sleep 60; fi; echo again-{{}}",
        dir.0.display()
    );
    let output = hearth(
        &[
            "map",
            "-j",
            "2",
            "--slot-timeout",
            "2s",
            "--",
            &script,
            ":::",
            "a",
        ],
        "",
    );
    let err = stderr(&output);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "again-a\n");
    assert!(
        err.contains("hearth map: slot local:")
            && err.contains(
                " of host local lost: no answer for 2s (the slot timeout): the worker, its host \
                 or the network stopped; declared dead; 1 job back in the queue"
            ),
        "{err}"
    );
    assert_eq!(err.matches("lost:").count(), 1, "{err}");
}

#[test]
fn worker_started_by_hand_says_why_it_stops() {
    let output = hearth(&["worker"], "junk\n");
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output),
        "remote worker: its input is not hearth frames at byte 0 (got \"junk\\n\"): it serves \
         a hearth pool on stdin and stdout and is started by the pool (hearth map, Pool), not \
         by hand\n"
    );
}

#[test]
fn closed_stderr_does_not_crash_the_run() {
    let tag = run_tag();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    // `#`: the input is a comment, not a second argument of `exit` (bash
    // says that is too many, on stderr).
    let child = command(&["map", "-j", "1", "--", "exit 3 #", ":::", "a", "b"], &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(writer))
        .spawn()
        .expect("cannot run hearth");
    let output = wait_output(child);
    // Every job ran and failed, said on a stderr nobody reads: exit 2 (two
    // failed jobs), not a panic (101).
    assert_exit(&output, 2);
    assert_eq!(left_behind(&tag), Vec::<String>::new());
}

#[test]
fn remote_worker_flag_counts_only_as_the_first_argument() {
    // In a job's command it is the job's own word.
    let output = hearth(&["map", "--", "echo", "--remote-worker", ":::", "a"], "");
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "--remote-worker a\n");
}

#[test]
fn jobs_start_with_no_signal_blocked() {
    // hearth map blocks SIGINT and SIGTERM for its own threads; its slots
    // and their jobs must not inherit that. Under each shell: dash clears
    // the mask it was given, bash keeps it (and passed the test only by
    // luck while jobs ran under dash).
    for shell in ["/bin/sh", "/bin/bash"] {
        let tag = run_tag();
        let child = command(
            &["map", "--", "grep SigBlk /proc/self/status #", ":::", "a"],
            &tag,
        )
        .env("PARALLEL_SHELL", shell)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run hearth");
        let output = wait_output(child);
        assert_exit(&output, 0);
        assert_eq!(stdout(&output), "SigBlk:\t0000000000000000\n", "{shell}");
    }
}

#[test]
fn bad_option_values_are_usage_errors_that_say_what_to_do() {
    let cases: &[(&[&str], &str)] = &[
        (&["--timeout", "0"], "a time limit must be more than 0"),
        (&["--timeout", "0ms"], "a time limit must be more than 0"),
        (&["-S", "h1", "--launcher", ""], "--launcher is empty"),
        (&["-S", "h1", "--launcher", "  "], "--launcher is empty"),
        (&["-S", "h1", "--remote-bin", ""], "--remote-bin is empty"),
        (&["-S", "h1", "--ssh", "ssh -o 'Proxy"], "unclosed quote"),
        // A negative number is the option's value, said wrong as such (it
        // used to be "unexpected argument '-1'").
        (&["--timeout", "-1"], "invalid value '-1' for '--timeout"),
        (&["--retries", "-1"], "invalid value '-1' for '--retries"),
        (&["--attempts", "-2"], "invalid value '-2' for '--attempts"),
        (&["--delay", "-1"], "invalid value '-1' for '--delay"),
        (
            &["--slot-timeout", "-5"],
            "invalid value '-5' for '--slot-timeout",
        ),
        // Said in words, not as Rust's conversion error.
        (&["--delay", "-1"], "a duration cannot be negative"),
        (&["--timeout", "1e400"], "is not a duration hearth can wait"),
    ];
    for (options, message) in cases {
        let mut args = vec!["map"];
        args.extend_from_slice(options);
        args.extend(["--", "echo"]);
        let output = hearth(&args, "1\n");
        assert_exit(&output, 255);
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "", "{args:?}");
    }
}

/// A bad line of an sshloginfile is said with the file's name (it was
/// said as if given with -S); nothing runs.
#[test]
fn a_bad_sshloginfile_line_names_its_file() {
    let dir = scratch("bad-slf");
    let file = dir.join("logins");
    fs::write(&file, "# hosts\nnode1\n5/\n").unwrap();
    let path = file.display().to_string();
    let output = hearth(&["map", "--slf", &path, "--", "echo"], "1\n");
    assert_own_error(&output, &format!("--sshloginfile {path}: host \"5/\""));
    assert_eq!(stdout(&output), "");
    let output = hearth(&["map", "--slf", &path, "-S", "7/", "--", "echo"], "1\n");
    assert_own_error(&output, "host \"7/\"");
    assert!(
        !stderr(&output).contains("--sshloginfile"),
        "{}",
        stderr(&output)
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Command-line options are split as a shell would: a quoted word keeps
/// its spaces.
#[test]
fn launcher_words_are_split_like_a_shell() {
    let output = hearth(
        &[
            "map",
            "-S",
            "h1",
            "--launcher",
            "env 'GREETING=hello there' {bin}",
            "--",
            "echo \"$GREETING\"",
        ],
        "x\n",
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "hello there x\n");
}

/// An input too long for one argument fails its job with a message that
/// says why, and the messages show the start of the input, not all of it.
#[test]
fn input_too_long_for_an_argument_is_named_briefly() {
    let input = "x".repeat(200_000);
    let output = hearth(&["map", "--", "echo"], format!("{input}\nshort\n"));
    assert_exit(&output, 1);
    assert_eq!(stdout(&output), "short\n");
    let err = stderr(&output);
    assert!(
        err.contains("more than the system takes as one argument"),
        "{err}"
    );
    assert!(err.contains("(200000 bytes)"), "{err}");
    assert!(err.len() < 2_000, "{} bytes of messages", err.len());
}

/// Several `:::` lists combine, every value of one with every value of
/// the next, as in GNU parallel (a second list was a usage error).
#[test]
fn input_lists_combine() {
    let output = hearth(&["map", "--", "echo", ":::", "a", "b", ":::", "1", "2"], "");
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "a 1\na 2\nb 1\nb 2\n");
}

/// Inputs are bytes, as file names are: a line of stdin or a `:::` value
/// that is not UTF-8 runs as it is, and is tagged as it is (such a line
/// used to stop the run). Only JSON, which holds text, shows U+FFFD. A
/// carriage return before the newline stays in the value, as in GNU
/// parallel's.
#[test]
fn inputs_that_are_not_utf8_run_as_they_are() {
    let output = hearth(
        &["map", "--tag", "--", "printf '%s|'"],
        b"fine\r\nb\xffd\nit's\n",
    );
    assert_exit(&output, 0);
    assert_eq!(
        output.stdout.escape_ascii().to_string(),
        b"fine\r\tfine\rfine\r\t|b\xffd\tb\xffd|it's\tit's|"
            .escape_ascii()
            .to_string()
    );
    let listed = [
        OsStr::new("map"),
        OsStr::new("echo"),
        OsStr::from_bytes(b"caf\xe9:"),
        OsStr::new(":::"),
        OsStr::from_bytes(b"a\xfeb"),
    ];
    let output = hearth(&listed, "");
    assert_exit(&output, 0);
    assert_eq!(output.stdout, b"caf\xe9: a\xfeb\n");
    let output = hearth(&["map", "--json", "echo"], b"q\xff\n");
    assert_exit(&output, 0);
    let job: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(job["input"], "q\u{fffd}");
}

#[test]
fn joblog_that_cannot_be_written_fails_the_run_not_the_output() {
    let output = hearth(
        &[
            "map",
            "--joblog",
            "/dev/full",
            "--",
            "echo",
            ":::",
            "a",
            "b",
        ],
        "",
    );
    // Every output is there; the incomplete log is said and fails the run.
    assert_eq!(stdout(&output), "a\nb\n");
    assert_exit(&output, 255);
    assert!(
        stderr(&output).contains(
            "hearth map: cannot write the joblog /dev/full: No space left on device (os error \
             28); it is incomplete"
        ),
        "{}",
        stderr(&output)
    );
}

/// No inputs is a run that did nothing: exit 0 and say nothing, as GNU
/// parallel and `xargs -r` do (it was a usage error, exit 2, so `find ...
/// | hearth map gzip {}` failed a `set -e` script whenever nothing
/// matched).
#[test]
fn no_inputs_is_a_run_that_did_nothing() {
    let cases: &[&[&str]] = &[
        &["map", "echo", "{}"],
        &["map", "--", "echo", "{}", ":::"],
        &["map", "--tag", "--joblog", "/dev/null", "echo", ":::"],
    ];
    for args in cases {
        let output = hearth(args, "");
        assert_exit(&output, 0);
        assert_eq!(stdout(&output), "", "{args:?}");
        assert_eq!(stderr(&output), "", "{args:?}");
    }
}

/// `--arg` takes any value, one that begins with `-` too, as `:::` and
/// stdin do (`--arg -n` was the unknown option `-n`, and the hint it gave,
/// `-- -n`, made `-n` the command).
#[test]
fn arg_values_may_begin_with_a_dash() {
    let output = hearth(
        &[
            "map", "-j", "1", "--arg", "-n", "--arg", "--tag", "--arg", "-", "--", "printf",
            "'%s|'",
        ],
        "",
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "-n|--tag|-|");
}

/// A GNU parallel option that `hearth map` lacks is named as such, with
/// the nearest option of hearth's when there is one; no tip sends the
/// user astray (clap's "use '-- --halt'" made `--halt` the command, and
/// it answered `--resume` with "a similar argument exists: '--slurm'").
#[test]
fn gnu_parallel_options_that_hearth_lacks_are_named() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--tmux"],
            "--tmux is an option of GNU parallel that hearth map does not have",
        ),
        (
            &["--rpl", "{:(\\d+)} substr($_,0,$$1)=''"],
            "tags with arguments (a regular expression with groups) are GNU parallel's",
        ),
        (
            &["--memsuspend", "1G"],
            "--memsuspend is an option of GNU parallel that hearth map does not have",
        ),
        (
            &["--latest-line"],
            "--latest-line is an option of GNU parallel that hearth map does not have",
        ),
        (
            &["--csv"],
            "--csv is an option of GNU parallel that hearth map does not have",
        ),
    ];
    for (options, message) in cases {
        let mut args = vec!["map"];
        args.extend_from_slice(options);
        args.extend(["echo", ":::", "a"]);
        let output = hearth(&args, "");
        assert_exit(&output, 255);
        let err = stderr(&output);
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("as a value, use '--"), "{args:?}: {err}");
        assert!(!err.contains("--slurm"), "{args:?}: {err}");
        assert_eq!(stdout(&output), "", "{args:?}");
    }
    // Not GNU parallel's: the error, without the tip that misleads.
    let output = hearth(&["map", "--bogus", "echo", ":::", "a"], "");
    assert_exit(&output, 255);
    let err = stderr(&output);
    assert!(err.contains("unexpected argument '--bogus' found"), "{err}");
    assert!(!err.contains("GNU parallel"), "{err}");
    assert!(!err.contains("as a value, use '--"), "{err}");
}

/// `--group-by` takes no separators of its own, groups stdin only, and
/// says what is wrong with its value or its Perl code.
#[test]
fn group_by_mistakes_are_named() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--group-by", "1", "--recend", "x"],
            "cannot be used with '--recend",
        ),
        (
            &["--group-by", "1", "--rrs"],
            "cannot be used with '--remove-rec-sep",
        ),
        (&["--group-by", ""], "--group-by needs a column"),
        (&["--group-by", "1 s/(/"], "the Perl code does not compile"),
        (
            &["--group-by", "name"],
            "no column 'name' in the header (a b)",
        ),
    ];
    for (options, message) in cases {
        let mut args = vec!["map", "--pipe", "--colsep", " "];
        args.extend_from_slice(options);
        args.push("cat");
        let output = hearth(&args, "a b\n1 2\n");
        assert_exit(&output, 255);
        let err = stderr(&output);
        assert!(err.contains(message), "{args:?}: {err}");
        assert_eq!(stdout(&output), "", "{args:?}");
    }
    let output = hearth(
        &[
            "map",
            "--pipe-part",
            "--group-by",
            "1",
            "cat",
            "::::",
            "/dev/null",
        ],
        "",
    );
    assert_own_error(&output, "give --pipe, not --pipe-part");
}

/// `--filter` mistakes: the slot, which is not known when a job is
/// chosen, and the number of jobs with `--pipe`, which is not known
/// before the end of stdin.
#[test]
fn filter_mistakes_are_named() {
    let output = hearth(
        &["map", "-j1", "--filter", "{%} == 1", "echo", ":::", "a"],
        "",
    );
    assert_own_error(&output, "{%} (the slot) is not known");
    assert_eq!(stdout(&output), "");
    let output = hearth(
        &["map", "--pipe", "--plus", "--filter", "{##} > 0", "cat"],
        "1\n",
    );
    assert_own_error(&output, "in --filter need the number of jobs");
}

/// Jobs that `--filter` or `skip()` skip count as failed in the exit
/// status (as in GNU parallel) but are said apart from the ones that
/// failed.
#[test]
fn skipped_jobs_are_said_apart_from_failed_ones() {
    let output = hearth(
        &[
            "map",
            "-k",
            "--filter",
            "\"{}\" ne \"b\"",
            "echo {}; test {} != c",
            ":::",
            "a",
            "b",
            "c",
        ],
        "",
    );
    assert_exit(&output, 2);
    assert_eq!(stdout(&output), "a\nc\n");
    let err = stderr(&output);
    assert!(err.contains("1 of 3 jobs skipped (--filter"), "{err}");
    assert!(err.contains("1 of 3 jobs failed: #3 (exit 1)"), "{err}");
}

/// `--block-timeout`: a stream that stops for a while has the block read
/// so far cut (its whole records) and run before the stream goes on;
/// without it the block would wait for more input or the end of stdin.
/// GNU parallel's manual (20221122), which this follows (a stream that
/// waits is a matter of timing, so it is checked here alone; the side by
/// side comparison is in `tests/parallel_compat/pipe.rs`): "If it takes
/// longer than duration to read a full block, use the partial block read
/// so far."
#[test]
fn a_worker_killed_mid_job_takes_its_jobs_processes_with_it() {
    // The first run starts a sleep in the background and kills its own
    // worker: the sleep, left in the worker's process group, used to live
    // on while the job ran again on a fresh slot (`hearth` checks that
    // nothing of the run is left behind).
    let dir = scratch("killed-worker");
    let marker = dir.join("ran");
    let script = format!(
        "true {{}}; if [ -e {m} ]; then echo again; else touch {m}; sleep 300 & kill -9 $PPID; wait; fi",
        m = marker.display()
    );
    let output = hearth(&["map", "-j1", &script, ":::", "x"], "");
    let _ = fs::remove_dir_all(&dir);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "again\n");
}

#[test]
fn a_block_timeout_shorter_than_a_read_still_reads() {
    // Shorter than one pass of the reading loop: every block used to be
    // cut before a byte was read, at full speed, for ever.
    let output = hearth(
        &["map", "--pipe", "--block-timeout", "10ns", "-k", "cat"],
        "x\ny\n",
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "x\ny\n");
}

#[test]
fn block_timeout_cuts_a_waiting_stream() {
    // Options, stdin in two parts, the first block's lines, the others'.
    type Case<'a> = (
        &'a [&'a str],
        &'a [u8],
        &'a [u8],
        &'a [&'a str],
        &'a [&'a str],
    );
    let cases: [Case<'_>; 2] = [
        (
            &[],
            b"a\nb\npart",
            b"ial\nc\n",
            &["a", "b"],
            &["c", "partial"],
        ),
        (
            &["--group-by", "1"],
            b"a\t1\na\t2\nb\t3\n",
            b"b\t4\nc\t5\n",
            &["a\t1", "a\t2"],
            &["b\t3", "b\t4", "c\t5"],
        ),
    ];
    for (extra, first, rest, first_block, others) in cases {
        let tag = run_tag();
        let mut args = vec!["map", "--pipe", "--bt", "0.2", "-k"];
        args.extend_from_slice(extra);
        args.push("echo ==; cat");
        let mut child = command(&args, &tag)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run hearth");
        let mut input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in output.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        input.write_all(first).unwrap();
        // The first block's job answers while stdin is still open.
        let mut got = Vec::new();
        while got.len() < 1 + first_block.len() {
            match lines.recv_timeout(TIMEOUT) {
                Ok(line) => got.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("{args:?}: no block cut while stdin waits; got {got:?}");
                }
            }
        }
        assert_eq!(got[0], "==", "{args:?}");
        assert_eq!(&got[1..], first_block, "{args:?}");
        input.write_all(rest).unwrap();
        drop(input);
        let status = child.wait().unwrap();
        reader.join().unwrap();
        assert!(status.success(), "{args:?}: {status}");
        // The rest, in one block or more (as the timeout falls).
        let mut after: Vec<String> = lines.try_iter().filter(|line| line != "==").collect();
        after.sort();
        assert_eq!(after, others, "{args:?}");
        assert_eq!(left_behind(&tag), Vec::<String>::new());
    }
}

/// A replacement string that hearth does not know is a usage error, never
/// left in the command (`convert {} {.}.png` used to run with `{.}` as it
/// is, and the run exited 0).
#[test]
fn unknown_replacement_strings_are_usage_errors() {
    let cases = [
        (
            "echo {..}",
            "{..} is not a replacement string hearth map knows",
        ),
        (
            "echo {+/}",
            "{+/} is not a replacement string hearth map knows",
        ),
        ("echo {= s/(/x/ =}", "{= s/(/x/ =}: Unmatched ( in regex"),
        ("echo {=0 $_ =}", "inputs count from 1"),
        ("echo {0}", "positional replacement strings count from {1}"),
    ];
    for (command, message) in cases {
        let output = hearth(&["map", command, ":::", "a"], "");
        assert_exit(&output, 255);
        assert!(
            stderr(&output).contains(message),
            "{command}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "", "{command}");
    }
    // The command's own braces are its own.
    let output = hearth(
        &["map", "echo '{print $1}' '{a,b}' '{1..3}'", ":::", "a"],
        "",
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "{print $1} {a,b} {1..3} a\n");
}

/// `{%}` numbers the slots over all hosts, as GNU parallel's: with two
/// ssh hosts of 2 slots each, node1's jobs run in slots 1 and 2 and
/// node2's in 3 and 4 (they were claimed on each machine, so two hosts
/// could share numbers), and the job sees it in `PARALLEL_JOBSLOT` too.
#[test]
fn ssh_slots_are_numbered_over_all_hosts() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    // Every job waits until a job of node2 (slot 3 or 4) has started, so
    // node1's slots cannot take every input before node2's are up: jobs
    // run one per slot (--window 1) and node1's wait. The hosts share
    // this machine's files. A minute is only the guard of a broken run.
    let dir = env::temp_dir().join(format!("hearth-cli-slots-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let dir_text = dir.to_str().unwrap();
    let job = format!(
        "touch {dir_text}/s$PARALLEL_JOBSLOT; n=0; \
         until [ -e {dir_text}/s3 ] || [ -e {dir_text}/s4 ] || [ $n -ge 6000 ]; \
         do sleep 0.01; n=$((n + 1)); done; echo {{%}} $PARALLEL_JOBSLOT"
    );
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "-j",
            "2",
            "--window",
            "1",
            "--tag-host",
            "--",
            &job,
        ],
        numbers(8),
    );
    let _ = fs::remove_dir_all(&dir);
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert_eq!(out.lines().count(), 8, "{out}");
    let mut seen = std::collections::BTreeSet::new();
    for line in out.lines() {
        let (host, numbers) = line.split_once('\t').unwrap();
        let (slot, env) = numbers.split_once(' ').unwrap();
        assert_eq!(slot, env, "{out}");
        let slot: u32 = slot.parse().unwrap();
        let expected = if host == "node1" { 1..=2 } else { 3..=4 };
        assert!(expected.contains(&slot), "{host} ran slot {slot}:\n{out}");
        let _ = seen.insert((host.to_owned(), slot));
    }
    assert!(seen.iter().any(|(host, _)| host == "node2"), "{out}");
}

/// `hearth trace` turns a runtime's trace into Chrome's JSON, and says
/// what is wrong with a file that is not one.
#[test]
fn trace_converts_a_runtime_trace() {
    let dir = env::temp_dir().join(format!("hearth-cli-trace-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.trace");
    let runtime = hearth::Runtime::setup().trace(&path).build().unwrap();
    let answer = runtime.block_on(async { 6 * 7 }).unwrap();
    assert_eq!(answer, 42);
    let output = hearth(&["trace", path.to_str().unwrap()], "");
    assert_exit(&output, 0);
    let json = stdout(&output);
    assert!(
        json.starts_with("{\"displayTimeUnit\":\"ns\",\"traceEvents\":["),
        "{json}"
    );
    assert!(json.contains("\"ph\":\"X\""), "{json}");
    let output = hearth(&["trace", dir.join("missing").to_str().unwrap()], "");
    assert_own_error(&output, "hearth trace: cannot open");
    fs::write(dir.join("not-a-trace"), "hello").unwrap();
    let output = hearth(&["trace", dir.join("not-a-trace").to_str().unwrap()], "");
    assert_own_error(&output, "not a hearth trace");
    let _ = fs::remove_dir_all(&dir);
}
