//! The remote slot pool (`hearth::remote`) against the physical limit of
//! its transport, in the same run.
//!
//! The pool's jobs here are trivial (`echo`: a `u64` in, the same `u64`
//! out), so what is measured is the pool itself: the engine's queue and
//! dispatch, the frames, the pipes and the worker's serve loop. Each
//! workload is set next to the raw round-trip rate of the same transport
//! with nothing on it but `cat`, with the same number of messages in
//! flight:
//!
//! - `local/...`: a [`Pool`] over [`Host::local`] (this bench binary,
//!   started with `--remote-worker`, is the worker) with 1 or 2 slots at
//!   window 1 or 16, against a plain pipe to a `cat` child process.
//! - `ssh/...`: a [`Pool`] with one slot over [`Transport::Ssh`] to a
//!   private sshd on loopback (`tests/util/sshd.rs`; the worker is again
//!   this binary), at window 1 or 16, against a persistent
//!   `ssh -F CONFIG node1 cat`. Without `/usr/sbin/sshd` or `ssh` (or when
//!   the server does not start) the ssh workloads are skipped, and the
//!   output says so.
//!
//! The baseline writes frames of [`FRAME_LEN`] bytes, about the size of
//! the pool's `JOB` and `RESULT` frames for a `u64`, and reads them back
//! with blocking I/O. "1 in flight" writes a frame and waits for it; "16
//! in flight" keeps 16 frames outstanding and, like the pool's dispatch,
//! refills what came back in one write. Window-1
//! pools are compared with the baseline at 1 in flight, window-16 pools
//! with the baseline at 16 in flight: with 2 slots the pool has twice as
//! many jobs in flight as the one pipe it is compared with (and two worker
//! processes), so its ratio may exceed 1.
//!
//! # Method
//!
//! The machine's speed drifts (2-5x within minutes), so each workload runs
//! a number of rounds (default 9, see [`DEFAULT_ROUNDS`]); each round runs
//! the pool and the baseline once, alternating which goes first, with the
//! same number of jobs (round trips). The pool is built and warmed before the first round
//! (maps until every slot finished its handshake), and the baseline's
//! process started and warmed the same way, so slot and process start-up
//! are never timed; the processes live through every round of the
//! workload. A pool run is one [`Pool::map`] call (inputs encoded, jobs
//! dispatched, every output decoded, in input order) and every output is
//! checked; a baseline run checks every frame that comes back. The table
//! gives the median rate of each side, the ratio of the medians
//! (hearth/baseline, 1 is the transport's limit) and the median of the
//! per-round ratios.
//!
//! # Usage
//!
//! ```text
//! cargo bench --bench remote                  # everything
//! cargo bench --bench remote -- local         # names containing any of these
//! cargo bench --bench remote -- --rounds 9
//! ```
//!
//! Run without `--bench` (as `cargo test --benches` does) the binary only
//! makes a smoke run: 200 jobs per side, one round.
//!
//! No process is left behind: pools are shut down (their workers exit on
//! `SHUTDOWN`), the baseline's `cat` or ssh gets its stdin closed and is
//! waited for (killed if it does not exit), and the private sshd is killed
//! with everything below it when the ssh workloads are done.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    unused_results
)]

// The loopback sshd of the ssh tests; the bench uses only part of it.
#[path = "common/config.rs"]
mod config;
#[path = "../tests/util/procs.rs"]
#[allow(dead_code, unreachable_pub)]
mod procs;
#[path = "../tests/util/sshd.rs"]
#[allow(dead_code, unreachable_pub)]
mod sshd;

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use hearth::remote::{self, Handlers, Host, Pool, Target, Transport};

use config::{Config, median, median_f64};
use sshd::Sshd;

/// Default number of rounds per workload: more than the usual 5, with
/// shorter runs, because the round-trip rate of two processes on this kind
/// of machine is bimodal (a hand-off on one core or a wake-up across cores,
/// several times slower) and a median needs enough runs to land in the
/// common mode.
const DEFAULT_ROUNDS: usize = 9;

/// Jobs (round trips) per run in a smoke run.
const SMOKE_JOBS: usize = 200;

/// Bytes per frame of the `cat` baseline: about the pool's frames for an
/// `echo` job, 18 to 22 bytes for its `JOB` (9 bytes of header, the job id,
/// the handler name, the `u64` payload) and 14 to 18 for its `RESULT`.
const FRAME_LEN: usize = 20;

/// Longest a single run (or a warm-up) may take before the benchmark gives
/// up on it, e.g. on a pool that stalls.
const RUN_LIMIT: Duration = Duration::from_mins(2);

/// Longest the warm-up waits for every slot of a pool to finish its
/// handshake (an ssh login included).
const WARM_LIMIT: Duration = Duration::from_secs(30);

/// Time given to a pool's workers to exit after `SHUTDOWN`, and to a
/// baseline process to exit after its stdin closed, before they are killed.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// The host alias of the private sshd the ssh workloads log in to.
const SSH_HOST: &str = "node1";

/// Process id of the private sshd while it runs (0 otherwise), for the
/// watchdog, which kills it before giving up on a stalled run.
static SSHD_PID: AtomicU32 = AtomicU32::new(0);

/// The worker's handlers: one trivial job.
fn handlers() -> Handlers {
    Handlers::new().add("echo", |x: u64| Ok::<_, String>(x))
}

/// How a workload reaches its workers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Via {
    /// This binary as a local child process; baseline: a pipe to `cat`.
    Local,
    /// This binary behind the loopback sshd; baseline: `ssh ... cat`.
    Ssh,
}

/// One pool configuration and its baseline.
#[derive(Debug)]
struct Workload {
    /// Name, matched by the command line filters.
    name: &'static str,
    /// Where its workers run, and so its baseline.
    via: Via,
    /// Slots of the pool.
    slots: usize,
    /// Jobs in flight per slot; also the baseline's frames in flight.
    window: usize,
    /// Jobs (and baseline round trips) per run of a benchmark.
    jobs: usize,
}

/// Every workload, in the order they run.
const WORKLOADS: &[Workload] = &[
    Workload {
        name: "local/1-slot/window-1",
        via: Via::Local,
        slots: 1,
        window: 1,
        jobs: 10_000,
    },
    Workload {
        name: "local/1-slot/window-16",
        via: Via::Local,
        slots: 1,
        window: 16,
        jobs: 50_000,
    },
    Workload {
        name: "local/2-slots/window-1",
        via: Via::Local,
        slots: 2,
        window: 1,
        jobs: 10_000,
    },
    Workload {
        name: "local/2-slots/window-16",
        via: Via::Local,
        slots: 2,
        window: 16,
        jobs: 50_000,
    },
    Workload {
        name: "ssh/1-slot/window-1",
        via: Via::Ssh,
        slots: 1,
        window: 1,
        jobs: 5_000,
    },
    Workload {
        name: "ssh/1-slot/window-16",
        via: Via::Ssh,
        slots: 1,
        window: 16,
        jobs: 25_000,
    },
];

/// Serves as a worker when started by a pool (`--remote-worker`); runs
/// the benchmark otherwise.
fn main() -> ExitCode {
    if remote::is_remote_worker() {
        init_log();
        return remote::serve(handlers());
    }
    init_log();
    let config = match Config::from_args(std::env::args().skip(1), DEFAULT_ROUNDS) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("remote: {err}");
            eprintln!("usage: remote [--bench] [--rounds N] [NAME_SUBSTRING ...]");
            return ExitCode::FAILURE;
        }
    };
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("remote: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Logs of the pool (a slot that fails, a worker's stderr) on standard
/// error: warnings and errors only, unless `HEARTH_LOG` says otherwise.
fn init_log() {
    if std::env::var_os(hearth::log::LEVEL_ENV).is_some() {
        hearth::log::init();
    } else {
        hearth::log::init_with_level(log::LevelFilter::Warn);
    }
}

/// Runs the selected workloads and prints the table. Every process started
/// here is gone when it returns, on success or error.
fn run(config: &Config) -> Result<(), String> {
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| config.selects(w.name))
        .collect();
    if selected.is_empty() {
        return Err(format!("no workload matches {:?}", config.filters));
    }
    if config.bench {
        println!(
            "hearth remote pool vs its transport (trivial jobs): {} round(s) per workload, \
             alternating which goes first;",
            config.rounds
        );
        println!("slot start-up excluded (pools and baseline processes are warmed before timing).");
    } else {
        println!("remote: smoke run ({SMOKE_JOBS} jobs, no `--bench` argument)");
    }

    let mut reports = Vec::with_capacity(selected.len());
    let local: Vec<&Workload> = selected
        .iter()
        .copied()
        .filter(|w| w.via == Via::Local)
        .collect();
    if !local.is_empty() {
        let mut cat = Echo::spawn(Command::new("cat"), "pipe to cat")?;
        for workload in local {
            reports.push(measure(workload, config, &Transport::local(), &mut cat)?);
        }
        cat.close()?;
    }

    let ssh: Vec<&Workload> = selected
        .iter()
        .copied()
        .filter(|w| w.via == Via::Ssh)
        .collect();
    let mut ssh_skipped = None;
    if !ssh.is_empty() {
        match Sshd::start(&[SSH_HOST]) {
            Ok(server) => {
                SSHD_PID.store(server.pid(), Ordering::SeqCst);
                let result = measure_ssh(&server, &ssh, config);
                SSHD_PID.store(0, Ordering::SeqCst);
                // Dropping the server kills it and every process below it.
                drop(server);
                reports.extend(result?);
            }
            Err(why) => ssh_skipped = Some(why),
        }
    }
    print_table(&reports);
    if let Some(why) = ssh_skipped {
        println!();
        println!("ssh: skipped, no private sshd: {why}");
    }
    Ok(())
}

/// Runs the ssh workloads against the private sshd `server`.
fn measure_ssh(
    server: &Sshd,
    workloads: &[&Workload],
    config: &Config,
) -> Result<Vec<Report>, String> {
    let bin = std::env::current_exe().map_err(|e| format!("the bench's own path: {e}"))?;
    let transport = Transport::Ssh {
        ssh: server.ssh_command(),
        bin: bin.display().to_string(),
        connect_timeout: Duration::from_secs(10),
    };
    // The same options as the pool's slots (`Transport::Ssh`), running
    // `cat` instead of the worker.
    let mut ssh = server.ssh_command().into_iter();
    let mut command = Command::new(ssh.next().unwrap_or_else(|| "ssh".to_owned()));
    let _ = command.args(ssh).args([
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        SSH_HOST,
        "cat",
    ]);
    let mut cat = Echo::spawn(command, "ssh cat")?;
    let mut reports = Vec::with_capacity(workloads.len());
    for workload in workloads {
        reports.push(measure(workload, config, &transport, &mut cat)?);
    }
    cat.close()?;
    Ok(reports)
}

/// The measurements of one workload.
#[derive(Debug)]
struct Report {
    /// The workload's name.
    name: &'static str,
    /// Jobs (round trips) per run.
    jobs: usize,
    /// The baseline's name and frames in flight, e.g. `pipe to cat, 16 in
    /// flight`.
    baseline: String,
    /// Time of each pool run.
    hearth: Vec<Duration>,
    /// Time of each baseline run, same rounds.
    cat: Vec<Duration>,
}

/// Builds and warms the workload's pool, runs the rounds against `cat`,
/// then shuts the pool down.
fn measure(
    workload: &Workload,
    config: &Config,
    transport: &Transport,
    cat: &mut Echo,
) -> Result<Report, String> {
    let jobs = if config.bench {
        workload.jobs
    } else {
        SMOKE_JOBS
    };
    let host = match workload.via {
        Via::Local => Host::local(workload.slots),
        Via::Ssh => Host::new(SSH_HOST, workload.slots, transport.clone()),
    };
    let mut pool = Pool::builder()
        .name(workload.name)
        .host(host)
        .window(workload.window)
        .handshake_timeout(WARM_LIMIT)
        .build()
        .map_err(|err| format!("{}: building the pool: {err}", workload.name))?;
    let result = rounds(workload, config, jobs, &mut pool, cat);
    // Graceful: `SHUTDOWN` to every slot, the workers exit; whatever is
    // left after the wait is killed.
    pool.shutdown(EXIT_WAIT);
    result
}

/// Warms both sides, then runs `config.rounds` interleaved rounds.
fn rounds(
    workload: &Workload,
    config: &Config,
    jobs: usize,
    pool: &mut Pool,
    cat: &mut Echo,
) -> Result<Report, String> {
    let name = workload.name;
    let window = workload.window;
    watchdog(name, "warm-up", || warm(pool, workload))?;
    let _ = watchdog(name, "baseline warm-up", || {
        cat.round_trips(jobs.min(1_000), window)
    })?;
    let mut report = Report {
        name,
        jobs,
        baseline: format!("{}, {window} in flight", cat.name),
        hearth: Vec::with_capacity(config.rounds),
        cat: Vec::with_capacity(config.rounds),
    };
    for round in 0..config.rounds {
        let mut hearth = || watchdog(name, "hearth", || pool_run(pool, jobs));
        let (hearth, cat) = if round % 2 == 0 {
            let hearth = hearth()?;
            (
                hearth,
                watchdog(name, "baseline", || cat.round_trips(jobs, window))?,
            )
        } else {
            let cat = watchdog(name, "baseline", || cat.round_trips(jobs, window))?;
            (hearth()?, cat)
        };
        eprintln!(
            "{:<24} round {}/{}: hearth {:>9.0} jobs/s, {} {:>9.0}/s, ratio {:>5.2}",
            name,
            round + 1,
            config.rounds,
            rate(jobs, hearth),
            report.baseline,
            rate(jobs, cat),
            rate(jobs, hearth) / rate(jobs, cat),
        );
        report.hearth.push(hearth);
        report.cat.push(cat);
    }
    Ok(report)
}

/// Runs small maps until every slot of the pool finished its handshake, so
/// that no slot starts (a process, an ssh login) inside a timed run.
fn warm(pool: &mut Pool, workload: &Workload) -> Result<(), String> {
    let deadline = Instant::now() + WARM_LIMIT;
    let jobs = workload.slots * workload.window * 4;
    loop {
        let _ = pool_run(pool, jobs)?;
        let alive: usize = pool.host_states().iter().map(|h| h.alive).sum();
        if alive == workload.slots {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "only {alive} of {} slot(s) ready after {WARM_LIMIT:?}",
                workload.slots
            ));
        }
        // The first slot answered while the others still start: give them
        // the CPU rather than spin on maps.
        thread::sleep(Duration::from_millis(5));
    }
}

/// One timed run of the pool: `jobs` echo jobs through one `map`, every
/// output checked afterwards.
fn pool_run(pool: &mut Pool, jobs: usize) -> Result<Duration, String> {
    let start = Instant::now();
    let outputs = pool
        .map::<u64, u64>(&Target::Any, "echo", 0..jobs as u64)
        .map_err(|err| format!("map: {err}"))?;
    let elapsed = start.elapsed();
    if outputs.len() != jobs {
        return Err(format!("{} outputs for {jobs} jobs", outputs.len()));
    }
    for (i, output) in outputs.into_iter().enumerate() {
        match output {
            Ok(x) if x == i as u64 => {}
            Ok(x) => return Err(format!("job {i} answered {x}")),
            Err(err) => return Err(format!("job {i} failed: {err}")),
        }
    }
    Ok(elapsed)
}

/// The baseline: a process that writes back what it reads (`cat`, locally
/// or behind ssh), with blocking pipes.
#[derive(Debug)]
struct Echo {
    /// What it is, for the output.
    name: &'static str,
    /// The `cat` or `ssh` process.
    child: Child,
    /// Its stdin, where frames go; `None` once closed.
    stdin: Option<ChildStdin>,
    /// Its stdout, where they come back.
    stdout: ChildStdout,
    /// Read buffer: bytes read and not yet taken as whole frames at the
    /// front.
    buf: Vec<u8>,
    /// Frames waiting to be written.
    out: Vec<u8>,
}

impl Echo {
    /// Starts `command` with piped stdin and stdout (stderr inherited).
    fn spawn(mut command: Command, name: &'static str) -> Result<Echo, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {name} ({command:?}): {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{name}: child process without pipes"));
        };
        Ok(Echo {
            name,
            child,
            stdin: Some(stdin),
            stdout,
            buf: vec![0; 64 * 1024],
            out: Vec::with_capacity(FRAME_LEN * 64),
        })
    }

    /// Sends `n` frames through the process and reads each one back,
    /// keeping up to `in_flight` outstanding; returns the time taken.
    /// Frames that came back are replaced in one write. Every frame is
    /// checked (its sequence number, in order).
    fn round_trips(&mut self, n: usize, in_flight: usize) -> Result<Duration, String> {
        let name = self.name;
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("{name}: already closed"))?;
        let start = Instant::now();
        let (mut sent, mut received, mut filled) = (0, 0, 0);
        while received < n {
            self.out.clear();
            while sent < n && sent - received < in_flight {
                push_frame(&mut self.out, sent as u64);
                sent += 1;
            }
            if !self.out.is_empty() {
                stdin
                    .write_all(&self.out)
                    .map_err(|e| format!("{name}: writing: {e}"))?;
            }
            let got = self
                .stdout
                .read(&mut self.buf[filled..])
                .map_err(|e| format!("{name}: reading: {e}"))?;
            if got == 0 {
                return Err(format!("{name}: closed its stdout"));
            }
            filled += got;
            let whole = filled / FRAME_LEN;
            for (i, frame) in self.buf[..whole * FRAME_LEN]
                .chunks_exact(FRAME_LEN)
                .enumerate()
            {
                let expected = (received + i) as u64;
                if frame_seq(frame) != Some(expected) {
                    return Err(format!("{name}: frame {expected} came back as {frame:?}"));
                }
            }
            received += whole;
            self.buf.copy_within(whole * FRAME_LEN..filled, 0);
            filled -= whole * FRAME_LEN;
        }
        Ok(start.elapsed())
    }

    /// Closes stdin and waits for the process to exit (killed after
    /// [`EXIT_WAIT`]).
    fn close(mut self) -> Result<(), String> {
        match self.finish() {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(format!("{} exited with {status}", self.name)),
            None => Err(format!("{} did not exit; killed", self.name)),
        }
    }

    /// Closes stdin and reaps the process; its exit status, or `None` if it
    /// had to be killed.
    fn finish(&mut self) -> Option<std::process::ExitStatus> {
        drop(self.stdin.take());
        let deadline = Instant::now() + EXIT_WAIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return None;
                }
            }
        }
    }
}

impl Drop for Echo {
    /// Never leaves the process behind (a no-op after [`Echo::close`]).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.finish();
        }
    }
}

/// Appends one baseline frame: the sequence number (8 bytes, little
/// endian), filler, and a newline, [`FRAME_LEN`] bytes in all.
fn push_frame(out: &mut Vec<u8>, seq: u64) {
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&[b'.'; FRAME_LEN - 9]);
    out.push(b'\n');
}

/// The sequence number of a well-formed baseline frame.
fn frame_seq(frame: &[u8]) -> Option<u64> {
    let (seq, rest) = frame.split_first_chunk::<8>()?;
    let (last, filler) = rest.split_last()?;
    (*last == b'\n' && filler.iter().all(|&b| b == b'.')).then(|| u64::from_le_bytes(*seq))
}

/// Runs `f`; a run that hangs (a pool that stalls, a pipe nobody answers)
/// ends the whole benchmark after [`RUN_LIMIT`] instead of blocking it
/// forever. Before exiting it kills the private sshd; the pool's workers
/// and the `cat` processes exit when their stdin closes with this process.
fn watchdog<T>(
    workload: &str,
    side: &str,
    f: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    let (finished, wait) = mpsc::channel::<()>();
    let what = format!("{workload}: {side}");
    let _watchdog = thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(RUN_LIMIT) {
            eprintln!("remote: {what}: no result after {RUN_LIMIT:?}, giving up");
            let sshd = SSHD_PID.load(Ordering::SeqCst);
            if sshd != 0 {
                let _ = procs::signal(sshd, libc::SIGKILL);
            }
            std::process::exit(2);
        }
    });
    let outcome = f().map_err(|err| format!("{workload}: {side}: {err}"));
    drop(finished);
    outcome
}

/// Prints the table of rates.
fn print_table(reports: &[Report]) {
    if reports.is_empty() {
        return;
    }
    println!();
    println!(
        "| {:<24} | {:>7} | {:>13} | {:<26} | {:>13} | {:>14} | {:>11} | {:>17} | {:>17} |",
        "workload",
        "jobs",
        "hearth jobs/s",
        "baseline",
        "baseline rt/s",
        "hearth/baseline",
        "round ratio",
        "hearth min-max",
        "baseline min-max",
    );
    println!(
        "|{:-<26}|{:->9}|{:->15}|{:-<28}|{:->15}|{:->16}|{:->13}|{:->19}|{:->19}|",
        ":", ":", ":", ":", ":", ":", ":", ":", ":"
    );
    for report in reports {
        let hearth = rate(report.jobs, median(&report.hearth));
        let cat = rate(report.jobs, median(&report.cat));
        let mut ratios: Vec<f64> = report
            .hearth
            .iter()
            .zip(&report.cat)
            .map(|(h, c)| rate(report.jobs, *h) / rate(report.jobs, *c))
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "| {:<24} | {:>7} | {:>13.0} | {:<26} | {:>13.0} | {:>14.2} | {:>11.2} | {:>17} | {:>17} |",
            report.name,
            report.jobs,
            hearth,
            report.baseline,
            cat,
            hearth / cat,
            median_f64(&ratios),
            min_max(report.jobs, &report.hearth),
            min_max(report.jobs, &report.cat),
        );
    }
    println!();
    println!("jobs/s, rt/s: jobs (round trips) per second at the median time; hearth/baseline:");
    println!("ratio of those rates (1 = the transport's limit); round ratio: median of the");
    println!("per-round ratios; min-max: slowest and fastest run, in thousands per second.");
}

/// Jobs (round trips) per second.
#[allow(clippy::cast_precision_loss)] // Counts far below 2^53: exact as f64.
fn rate(jobs: usize, time: Duration) -> f64 {
    jobs as f64 / time.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// The lowest and highest rate of the runs, in thousands per second.
fn min_max(jobs: usize, times: &[Duration]) -> String {
    let slowest = times.iter().max().copied().unwrap_or_default();
    let fastest = times.iter().min().copied().unwrap_or_default();
    format!(
        "{:.1}-{:.1}k",
        rate(jobs, slowest) / 1000.0,
        rate(jobs, fastest) / 1000.0
    )
}
