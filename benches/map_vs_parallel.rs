//! `hearth map` against GNU parallel on the same trivial jobs, in the same
//! run.
//!
//! Every tool runs `echo {}` once per input, for the inputs `1` to `N` on
//! its stdin, and every run's stdout must be exactly `1\n2\n...N\n` (both
//! tools keep the input order: `hearth map` by default, parallel with
//! `-k`). A run that exits non-zero, loses an output, duplicates one or
//! prints anything else is reported as a failure, never as a figure.
//!
//! The tools, over 2 hosts × 2 slots (`node1` and `node2`, two aliases of a
//! private sshd on loopback, `tests/util/sshd.rs`):
//!
//! - `hearth map`: `hearth map --ssh "ssh -F CONFIG" -S node1,node2 -j 2 --
//!   echo {}`. hearth starts one worker process per slot, each behind its
//!   own ssh connection, and keeps them for the whole run: a job is a frame
//!   to a worker that is already there, which runs `sh -c 'echo 7'`.
//! - `parallel`: `parallel -k --ssh "ssh -F CONFIG" -S 2/node1,2/node2 echo
//!   {}`: one new ssh connection (TCP, key exchange, login) per job.
//! - `parallel + ControlMaster`: the same, with `-o ControlMaster=auto -o
//!   ControlPath=DIR/cm-%r@%n:%p -o ControlPersist=60` in the ssh command:
//!   the first job on a host starts a master connection, the others open a
//!   session on it (still one ssh client process and one remote login
//!   shell per job). The control path is per host alias (`%n`), as it
//!   would be for two real hosts (`%h` is `127.0.0.1` for both aliases, so
//!   they would share one master). Each run ends its masters with `ssh -O
//!   exit`, so every run pays for its own connections, as hearth's does.
//!
//! And a local line, clearly apart (no ssh): `hearth map -j 4 -- echo {}`
//! against `parallel -k -j 4 echo {}`.
//!
//! GNU parallel makes far fewer jobs per second than hearth, so it gets
//! fewer jobs per run (see [`Tool::jobs`]); what is compared is jobs per
//! second: `N` over the wall-clock time of the whole command, from its
//! start to its exit. That includes each tool's start-up (hearth: its ssh
//! logins and worker handshakes; parallel: starting perl), about the same
//! for both, so a bigger share of hearth's shorter runs: if anything, the
//! rates understate hearth's steady state.
//!
//! parallel runs with `--will-cite` and with `HOME` set to an empty
//! directory, so neither the user's `~/.parallel` (its config) is read nor
//! anything written there; on the hosts, the sshd sets `HOME` to an empty
//! directory too. The user's `~/.ssh` is never read: every ssh command
//! has `-F CONFIG`.
//!
//! # Method
//!
//! Each round runs every tool once, the ssh tools first, then the local
//! ones; the order within each group is reversed every other round, so the
//! tools see the same drift in machine speed. The table gives the median
//! rate of each tool over the rounds, its minimum and maximum, and
//! hearth's rate over each parallel variant's: the ratio of the medians
//! and the median of the per-round ratios (above 1 hearth is faster).
//!
//! # Usage
//!
//! ```text
//! cargo bench --bench map_vs_parallel
//! cargo bench --bench map_vs_parallel -- --rounds 5
//! ```
//!
//! Run without `--bench` (as `cargo test --benches` does) the binary only
//! makes a smoke run: a few jobs per tool, one round. Without GNU parallel
//! everything is skipped, without a private sshd (no `/usr/sbin/sshd` or
//! `ssh`) the ssh tools are; the output says so and the exit status is 0.
//!
//! No process is left behind: after each run the bench waits until no
//! process of the run is left (the tool's children, the workers, the
//! ssh clients and masters, the remote sessions), and kills and reports
//! what is still there after [`EXIT_WAIT`]; the private sshd is killed with
//! everything below it, and its temp directory (the control sockets and
//! parallel's `HOME` included) removed, at the end.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    unused_results
)]

// The loopback sshd of the ssh tests; the bench uses only part of it.
#[path = "../tests/util/procs.rs"]
#[allow(dead_code, unreachable_pub)]
mod procs;
#[path = "../tests/util/sshd.rs"]
#[allow(dead_code, unreachable_pub)]
mod sshd;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sshd::Sshd;

/// The `hearth` command, built by cargo for this bench.
const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

/// GNU parallel, looked up in `PATH`.
const PARALLEL: &str = "parallel";

/// The ssh hosts: two aliases of the private sshd.
const HOSTS: [&str; 2] = ["node1", "node2"];

/// Slots (jobs at a time) per ssh host, for every tool.
const SLOTS_PER_HOST: usize = 2;

/// Slots of the local tools.
const LOCAL_SLOTS: usize = 4;

/// Default number of rounds of a benchmark run.
const DEFAULT_ROUNDS: usize = 3;

/// Longest a single run may take; a run still going is killed (its whole
/// process group) and reported as a failure.
const RUN_LIMIT: Duration = Duration::from_mins(10);

/// Time given to the processes of a finished run (workers, ssh clients,
/// remote sessions) to exit before they are killed and reported.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// One command compared.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Tool {
    /// `hearth map` over the two ssh hosts.
    HearthSsh,
    /// GNU parallel over the two ssh hosts, a new connection per job.
    ParallelSsh,
    /// GNU parallel over the two ssh hosts through ssh `ControlMaster`.
    ParallelCm,
    /// `hearth map` with local slots only.
    HearthLocal,
    /// GNU parallel with local jobs only.
    ParallelLocal,
    /// `xargs -P 4`: the same `sh -c` jobs with no transport and no
    /// bookkeeping, the local spawn limit (its output is not in input order).
    XargsLocal,
}

/// The ssh tools, in the order of even rounds.
const SSH_TOOLS: [Tool; 3] = [Tool::HearthSsh, Tool::ParallelSsh, Tool::ParallelCm];

/// The local tools, in the order of even rounds.
const LOCAL_TOOLS: [Tool; 3] = [Tool::HearthLocal, Tool::ParallelLocal, Tool::XargsLocal];

impl Tool {
    /// Name in the output.
    fn label(self) -> &'static str {
        match self {
            Tool::HearthSsh => "hearth map, ssh",
            Tool::ParallelSsh => "parallel, ssh",
            Tool::ParallelCm => "parallel + ControlMaster, ssh",
            Tool::HearthLocal => "hearth map, local",
            Tool::ParallelLocal => "parallel, local",
            Tool::XargsLocal => "xargs -P 4, local (spawn limit)",
        }
    }

    /// True for the tools that run on the ssh hosts.
    fn is_ssh(self) -> bool {
        matches!(self, Tool::HearthSsh | Tool::ParallelSsh | Tool::ParallelCm)
    }

    /// Jobs per run: a few seconds of work or more for each tool at its
    /// rate on the 2-core development machine; a handful in a smoke run.
    fn jobs(self, bench: bool) -> usize {
        match (self, bench) {
            (Tool::HearthSsh | Tool::HearthLocal | Tool::XargsLocal, true) => 2_000,
            (Tool::ParallelSsh, true) => 200,
            (Tool::ParallelCm, true) => 500,
            (Tool::ParallelLocal, true) => 1_000,
            (Tool::ParallelSsh, false) => 8,
            (_, false) => 20,
        }
    }

    /// The command line of one run (its inputs come on stdin).
    fn command(self, setup: &Setup<'_>) -> Command {
        let ssh_hosts = HOSTS.join(",");
        let parallel_hosts = HOSTS
            .iter()
            .map(|h| format!("{SLOTS_PER_HOST}/{h}"))
            .collect::<Vec<_>>()
            .join(",");
        let slots = SLOTS_PER_HOST.to_string();
        let local_slots = LOCAL_SLOTS.to_string();
        let mut command;
        match self {
            Tool::HearthSsh => {
                command = Command::new(HEARTH);
                let _ = command.args(["map", "--ssh", &setup.ssh, "-S", &ssh_hosts, "-j", &slots]);
            }
            Tool::HearthLocal => {
                command = Command::new(HEARTH);
                let _ = command.args(["map", "-j", &local_slots]);
            }
            Tool::ParallelSsh | Tool::ParallelCm => {
                command = setup.parallel();
                let ssh = if self == Tool::ParallelCm {
                    &setup.ssh_cm
                } else {
                    &setup.ssh
                };
                let _ = command.args(["--ssh", ssh, "-S", &parallel_hosts]);
            }
            Tool::ParallelLocal => {
                command = setup.parallel();
                let _ = command.args(["-j", &local_slots]);
            }
            Tool::XargsLocal => {
                // One `sh -c 'echo N'` per input, as the others run.
                command = Command::new("xargs");
                let _ = command.args(["-P", &local_slots, "-I{}", "sh", "-c", "echo {}"]);
                return command;
            }
        }
        if matches!(self, Tool::HearthSsh | Tool::HearthLocal) {
            let _ = command.arg("--");
        }
        let _ = command.args(["echo", "{}"]);
        command
    }
}

/// What the commands need to know about this run's private sshd.
#[derive(Debug)]
struct Setup<'a> {
    /// The private sshd; `None` when the ssh tools are skipped.
    server: Option<&'a Sshd>,
    /// `ssh -F CONFIG`, as one string for `--ssh`.
    ssh: String,
    /// `ssh -F CONFIG` plus the `ControlMaster` options.
    ssh_cm: String,
    /// The client config, for `ssh -O exit`.
    config: PathBuf,
    /// The `ControlPath` template (with `%r`, `%n` and `%p`).
    control_path: String,
    /// parallel's `HOME`: an empty directory.
    parallel_home: PathBuf,
    /// Strings that mark a process of a run in its command line: the
    /// private sshd's temp directory (the `-F CONFIG` of every ssh client,
    /// the control sockets of the masters) and the hearth binary (workers).
    markers: Vec<String>,
}

impl Setup<'_> {
    /// GNU parallel with the options every parallel run has: no citation
    /// notice, outputs in input order, an empty `HOME`.
    fn parallel(&self) -> Command {
        let mut command = Command::new(PARALLEL);
        let _ = command
            .args(["--will-cite", "-k"])
            .env("HOME", &self.parallel_home)
            .env_remove("PARALLEL")
            .env_remove("PARALLEL_HOME");
        command
    }

    /// Ends the `ControlMaster` connections of the ssh hosts, if any: `ssh
    /// -O exit` through each control socket.
    fn exit_masters(&self) {
        for host in HOSTS {
            let _ = Command::new("ssh")
                .arg("-F")
                .arg(&self.config)
                .args(["-o", &format!("ControlPath={}", self.control_path)])
                .args(["-O", "exit", host])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Logins the private sshd accepted so far (`Accepted publickey` in
    /// its log); 0 without a server.
    fn logins(&self) -> usize {
        self.server
            .map_or(0, |server| server.log_count("Accepted publickey"))
    }

    /// The processes a run may have left: the descendants of the private
    /// sshd (remote sessions, shells, workers) and every process whose
    /// command line has a marker, except this one and the sshd listener.
    fn leftovers(&self) -> Vec<procs::Proc> {
        let me = std::process::id();
        let all = procs::processes();
        let sshd_pid = self.server.map(Sshd::pid);
        let mut below_sshd = HashSet::new();
        if let Some(root) = sshd_pid {
            let _ = below_sshd.insert(root);
            loop {
                let before = below_sshd.len();
                for p in &all {
                    if below_sshd.contains(&p.ppid) {
                        let _ = below_sshd.insert(p.pid);
                    }
                }
                if below_sshd.len() == before {
                    break;
                }
            }
        }
        all.into_iter()
            .filter(|p| p.pid != me && Some(p.pid) != sshd_pid)
            .filter(|p| {
                below_sshd.contains(&p.pid)
                    || self.markers.iter().any(|m| p.cmdline.contains(m.as_str()))
            })
            .collect()
    }

    /// Waits until no process of a finished run is left (at most
    /// [`EXIT_WAIT`]); kills what is still there and says what it was.
    fn check_clean(&self) -> Result<(), String> {
        let deadline = Instant::now() + EXIT_WAIT;
        loop {
            let left = self.leftovers();
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                for p in &left {
                    let _ = procs::signal(p.pid, libc::SIGKILL);
                }
                let list: Vec<String> = left.iter().map(|p| p.to_string()).collect();
                return Err(format!(
                    "{} process(es) left {EXIT_WAIT:?} after the run (killed): {}",
                    left.len(),
                    list.join("; ")
                ));
            }
            // Poll interval while the run's processes exit.
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("map_vs_parallel: {err}");
            eprintln!("usage: map_vs_parallel [--bench] [--rounds N]");
            return ExitCode::FAILURE;
        }
    };
    if let Err(why) = check_parallel() {
        println!("map_vs_parallel: skipped, no GNU parallel: {why}");
        return ExitCode::SUCCESS;
    }
    let scratch =
        std::env::temp_dir().join(format!("hearth-map-vs-parallel-{}", std::process::id()));
    let server = match Sshd::start(&HOSTS) {
        Ok(server) => Some(server),
        Err(why) => {
            println!("map_vs_parallel: ssh tools skipped, no private sshd: {why}");
            None
        }
    };
    let result = run(&config, server.as_ref(), &scratch);
    // Dropping the server kills it and every process below it, and
    // removes its temp directory.
    drop(server);
    let _ = std::fs::remove_dir_all(&scratch);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("map_vs_parallel: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Checks that `parallel` is GNU parallel (moreutils has another
/// `parallel`).
fn check_parallel() -> Result<(), String> {
    let home = std::env::temp_dir();
    let output = Command::new(PARALLEL)
        .args(["--will-cite", "--version"])
        .env("HOME", home)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running `{PARALLEL} --version`: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.starts_with("GNU parallel") {
        Ok(())
    } else {
        Err(format!(
            "`{PARALLEL} --version` ({}) does not say GNU parallel",
            output.status
        ))
    }
}

/// Runs the rounds and prints the table; `server` is the private sshd (the
/// ssh tools are skipped without it), `scratch` a directory for parallel's
/// `HOME` when there is no server.
#[allow(clippy::too_many_lines)] // The rounds and the table, in the order they print.
fn run(config: &Config, server: Option<&Sshd>, scratch: &Path) -> Result<(), String> {
    let setup = match server {
        Some(server) => {
            let ssh = server.ssh_command().join(" ");
            let control_path = format!("{}/cm-%r@%n:%p", server.scratch("cm").display());
            let dir = server
                .config_path()
                .parent()
                .ok_or("the sshd config has no directory")?;
            Setup {
                ssh_cm: format!(
                    "{ssh} -o ControlMaster=auto -o ControlPath={control_path} \
                     -o ControlPersist=60"
                ),
                ssh,
                config: server.config_path().to_owned(),
                control_path,
                parallel_home: server.scratch("parallel-home"),
                server: Some(server),
                markers: vec![dir.display().to_string(), HEARTH.to_owned()],
            }
        }
        None => {
            let home = scratch.join("parallel-home");
            std::fs::create_dir_all(&home).map_err(|e| format!("creating {home:?}: {e}"))?;
            Setup {
                ssh: String::new(),
                ssh_cm: String::new(),
                config: PathBuf::new(),
                control_path: String::new(),
                parallel_home: home,
                server: None,
                markers: vec![HEARTH.to_owned()],
            }
        }
    };
    let mut groups: Vec<&[Tool]> = Vec::new();
    if server.is_some() {
        groups.push(&SSH_TOOLS);
    }
    groups.push(&LOCAL_TOOLS);

    if config.bench {
        println!(
            "hearth map vs GNU parallel, `echo {{}}` per input: {} round(s), the order of the \
             tools reversed every other round;",
            config.rounds
        );
        println!(
            "ssh: {} hosts × {SLOTS_PER_HOST} slots ({}) on a private loopback sshd; local: \
             -j {LOCAL_SLOTS}; rates are jobs over the whole command's wall-clock time.",
            HOSTS.len(),
            HOSTS.join(", ")
        );
    } else {
        println!("map_vs_parallel: smoke run (a few jobs per tool, no `--bench` argument)");
    }

    let mut reports: Vec<Report> = groups
        .iter()
        .flat_map(|group| group.iter())
        .map(|&tool| Report {
            tool,
            jobs: tool.jobs(config.bench),
            rates: Vec::with_capacity(config.rounds),
            failures: Vec::new(),
        })
        .collect();
    for round in 0..config.rounds {
        for group in &groups {
            let mut order = group.to_vec();
            if round % 2 == 1 {
                order.reverse();
            }
            for tool in order {
                let report = reports
                    .iter_mut()
                    .find(|r| r.tool == tool)
                    .ok_or("a tool without a report")?;
                let outcome = run_once(tool, &setup, report.jobs);
                match &outcome {
                    Ok(run) => eprintln!(
                        "round {}/{}: {:<30} {:>5} jobs in {:>8.3} s: {:>8.1} jobs/s, \
                         {} ssh login(s)",
                        round + 1,
                        config.rounds,
                        tool.label(),
                        report.jobs,
                        run.time.as_secs_f64(),
                        rate(report.jobs, run.time),
                        run.logins,
                    ),
                    Err(err) => eprintln!(
                        "round {}/{}: {:<30} FAILED: {err}",
                        round + 1,
                        config.rounds,
                        tool.label()
                    ),
                }
                match outcome {
                    Ok(run) => report.rates.push(Some(rate(report.jobs, run.time))),
                    Err(err) => {
                        report.rates.push(None);
                        report.failures.push(format!("round {}: {err}", round + 1));
                    }
                }
            }
        }
    }
    print_table(&reports);
    if server.is_none() {
        println!("The ssh tools were skipped: no private sshd.");
    }
    let failures: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.failures
                .iter()
                .map(move |f| format!("{}: {f}", r.tool.label()))
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} failed run(s):\n  {}",
            failures.len(),
            failures.join("\n  ")
        ))
    }
}

/// The outcome of a run that counts.
#[derive(Debug)]
struct Run {
    /// Wall-clock time from the start of the command to its exit.
    time: Duration,
    /// ssh logins the private sshd accepted during the run (0 for the
    /// local tools).
    logins: usize,
}

/// Runs `tool` once on the inputs `1..=jobs`: its time and logins, or why
/// the run does not count (non-zero exit, wrong output, an ssh tool with no
/// login, time limit, a process left behind). Cleans up after the run in
/// every case.
fn run_once(tool: Tool, setup: &Setup<'_>, jobs: usize) -> Result<Run, String> {
    let logins_before = setup.logins();
    let input: String = (1..=jobs).map(|i| i.to_string() + "\n").collect();
    let mut command = tool.command(setup);
    let _ = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, killed as a whole after the time limit.
        .process_group(0);
    let start = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("starting {command:?}: {e}"))?;
    let pid = child.id();
    let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let expected = input.clone();
    let writer = thread::spawn(move || {
        // A tool that exits early closes the pipe: the write error is not
        // the failure to report, the exit status and the output are.
        let _ = stdin.write_all(input.as_bytes());
    });
    let out_reader = thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let err_reader = thread::spawn(move || {
        let mut err = Vec::new();
        let _ = stderr.read_to_end(&mut err);
        err
    });
    let (exited, wait) = mpsc::channel::<(std::io::Result<ExitStatus>, Instant)>();
    let _waiter = thread::spawn(move || {
        let status = child.wait();
        let _ = exited.send((status, Instant::now()));
    });
    let (status, end, timed_out) = match wait.recv_timeout(RUN_LIMIT) {
        Ok((status, end)) => (status, end, false),
        Err(_) => {
            kill_group(pid);
            let (status, end) = wait
                .recv()
                .map_err(|_| "the waiting thread is gone".to_owned())?;
            (status, end, true)
        }
    };
    let time = end - start;
    if tool == Tool::ParallelCm {
        setup.exit_masters();
    }
    // The tool is gone; a process of its group still holding the pipes
    // (none should) must not block the readers.
    kill_group(pid);
    let _ = writer.join();
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let clean = setup.check_clean();

    let stderr_tail = match tail(&String::from_utf8_lossy(&err), 5) {
        tail if tail.is_empty() => "(empty)".to_owned(),
        tail => tail,
    };
    if timed_out {
        return Err(format!(
            "no exit after {RUN_LIMIT:?} (killed); stderr: {stderr_tail}"
        ));
    }
    let status = status.map_err(|e| format!("waiting for the tool: {e}"))?;
    let out = String::from_utf8_lossy(&out);
    if !status.success() {
        return Err(format!(
            "{status}; {}; stderr: {stderr_tail}",
            describe_output(&out, jobs)
        ));
    }
    // xargs prints in the order jobs end: compare as sorted lines.
    let in_order = if tool == Tool::XargsLocal {
        let mut lines: Vec<usize> = out.lines().filter_map(|l| l.parse().ok()).collect();
        lines.sort_unstable();
        let sorted: String = lines.iter().map(|n| n.to_string() + "\n").collect();
        sorted == expected && out.lines().count() == jobs
    } else {
        out == expected
    };
    if !in_order {
        return Err(format!(
            "wrong output: {}; stderr: {stderr_tail}",
            describe_output(&out, jobs)
        ));
    }
    clean?;
    let logins = setup.logins() - logins_before;
    if tool.is_ssh() && logins == 0 {
        return Err("the sshd accepted no login: the jobs did not run over ssh".to_owned());
    }
    Ok(Run { time, logins })
}

/// Kills the process group `pid` leads, if any of it is left.
fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals that process group.
        let _ = unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

/// What is wrong with the output of a run of `jobs` inputs: how many lines
/// it has, which inputs are missing or repeated, what else is there.
fn describe_output(out: &str, jobs: usize) -> String {
    let lines: Vec<&str> = out.lines().collect();
    let mut seen = vec![0usize; jobs + 1];
    let mut other = Vec::new();
    for line in &lines {
        match line.parse::<usize>() {
            Ok(n) if (1..=jobs).contains(&n) => seen[n] += 1,
            _ => other.push(*line),
        }
    }
    let missing: Vec<usize> = (1..=jobs).filter(|&n| seen[n] == 0).collect();
    let repeated = (1..=jobs).filter(|&n| seen[n] > 1).count();
    let mut text = format!(
        "{} line(s) for {jobs} inputs, {} missing, {repeated} repeated, {} other",
        lines.len(),
        missing.len(),
        other.len()
    );
    if let Some(first) = missing.first() {
        let _ = write!(text, " (first missing: {first})");
    }
    if let Some(first) = other.first() {
        let _ = write!(text, " (first other: {first:?})");
    }
    if missing.is_empty() && repeated == 0 && other.is_empty() && lines.len() == jobs {
        text.push_str(", out of order");
    }
    text
}

/// Command line settings.
#[derive(Debug)]
struct Config {
    /// True when started by `cargo bench` (full sizes), false for a smoke run.
    bench: bool,
    /// Rounds of the run.
    rounds: usize,
}

impl Config {
    /// Reads `--bench` and `--rounds N`; other arguments (from `cargo test
    /// -- ...`) are ignored.
    fn from_args(args: impl Iterator<Item = String>) -> Result<Config, String> {
        let mut bench = false;
        let mut rounds = None;
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => bench = true,
                "--rounds" => {
                    let value = args.next().ok_or("`--rounds` needs a value")?;
                    rounds = Some(parse_rounds(&value)?);
                }
                _ if arg.starts_with("--rounds=") => {
                    rounds = Some(parse_rounds(&arg["--rounds=".len()..])?);
                }
                _ => {}
            }
        }
        let rounds = rounds.unwrap_or(if bench { DEFAULT_ROUNDS } else { 1 });
        Ok(Config { bench, rounds })
    }
}

/// A positive number of rounds.
fn parse_rounds(value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid number of rounds: {value:?}"))
}

/// The measurements of one tool.
#[derive(Debug)]
struct Report {
    tool: Tool,
    /// Jobs per run.
    jobs: usize,
    /// Jobs per second of each round; `None` for a failed run.
    rates: Vec<Option<f64>>,
    /// Why runs failed, one line each.
    failures: Vec<String>,
}

impl Report {
    /// The rates of the runs that succeeded, sorted.
    fn sorted_rates(&self) -> Vec<f64> {
        let mut rates: Vec<f64> = self.rates.iter().flatten().copied().collect();
        rates.sort_by(f64::total_cmp);
        rates
    }

    /// The median rate, unless a run failed (then there is no figure).
    fn median(&self) -> Option<f64> {
        if !self.failures.is_empty() {
            return None;
        }
        median(&self.sorted_rates())
    }
}

/// Prints the table of rates and hearth's ratios.
fn print_table(reports: &[Report]) {
    println!();
    println!(
        "| {:<30} | {:>6} | {:>14} | {:>19} | {:>13} | {:>11} |",
        "tool", "jobs", "jobs/s median", "jobs/s min-max", "hearth/tool", "round ratio"
    );
    println!(
        "|{:-<32}|{:->8}|{:->16}|{:->21}|{:->15}|{:->13}|",
        ":", ":", ":", ":", ":", ":"
    );
    for report in reports {
        let hearth = reports.iter().find(|r| {
            r.tool
                == if report.tool.is_ssh() {
                    Tool::HearthSsh
                } else {
                    Tool::HearthLocal
                }
        });
        let (median_text, range) = match report.median() {
            Some(median) => {
                let rates = report.sorted_rates();
                (
                    format!("{median:.1}"),
                    format!(
                        "{:.1}-{:.1}",
                        rates.first().copied().unwrap_or_default(),
                        rates.last().copied().unwrap_or_default()
                    ),
                )
            }
            None => (
                "FAILED".to_owned(),
                format!("{}/{} failed", report.failures.len(), report.rates.len()),
            ),
        };
        let (ratio, round_ratio) = match hearth {
            Some(hearth) => ratios(hearth, report),
            None => (None, None),
        };
        println!(
            "| {:<30} | {:>6} | {:>14} | {:>19} | {:>13} | {:>11} |",
            report.tool.label(),
            report.jobs,
            median_text,
            range,
            ratio.map_or("-".to_owned(), |r| format!("{r:.2}")),
            round_ratio.map_or("-".to_owned(), |r| format!("{r:.2}")),
        );
    }
    println!();
    println!(
        "hearth/tool: hearth's median rate over the tool's (ssh tools against hearth over ssh, \
         local against local);"
    );
    println!("round ratio: median of the per-round ratios. Above 1 hearth is faster.");
    let ssh: Vec<&Report> = reports.iter().filter(|r| r.tool.is_ssh()).collect();
    if let Some(hearth) = ssh.iter().find(|r| r.tool == Tool::HearthSsh) {
        println!();
        for tool in [Tool::ParallelSsh, Tool::ParallelCm] {
            if let Some(other) = ssh.iter().find(|r| r.tool == tool) {
                let (ratio, _) = ratios(hearth, other);
                println!(
                    "hearth/{}: {}",
                    match tool {
                        Tool::ParallelCm => "parallel+ControlMaster",
                        _ => "parallel",
                    },
                    ratio.map_or("- (a run failed)".to_owned(), |r| format!("{r:.1}")),
                );
            }
        }
        // The transport should vanish: hearth over ssh against spawning
        // the same jobs locally with no transport at all.
        if let Some(xargs) = reports.iter().find(|r| r.tool == Tool::XargsLocal) {
            let (ratio, _) = ratios(hearth, xargs);
            println!(
                "hearth over ssh / xargs -P 4 locally (the spawn limit): {}",
                ratio.map_or("- (a run failed)".to_owned(), |r| format!("{r:.2}")),
            );
        }
    }
}

/// hearth's rate over `other`'s: the ratio of the medians and the median
/// of the per-round ratios; `None` when a run of either failed.
fn ratios(hearth: &Report, other: &Report) -> (Option<f64>, Option<f64>) {
    let (Some(h), Some(o)) = (hearth.median(), other.median()) else {
        return (None, None);
    };
    let mut per_round: Vec<f64> = hearth
        .rates
        .iter()
        .zip(&other.rates)
        .filter_map(|(h, o)| Some(h.as_ref()? / o.as_ref()?))
        .collect();
    per_round.sort_by(f64::total_cmp);
    (Some(h / o), median(&per_round))
}

/// Jobs per second.
#[allow(clippy::cast_precision_loss)] // Counts far below 2^53: exact as f64.
fn rate(jobs: usize, time: Duration) -> f64 {
    jobs as f64 / time.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// Median of sorted values; `None` for none.
fn median(sorted: &[f64]) -> Option<f64> {
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[mid]),
        _ => Some(f64::midpoint(sorted[mid - 1], sorted[mid])),
    }
}

/// The last `lines` lines of `text`, joined with ` | `.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}
