//! Files to the hosts and back: `hearth map --trc` against `parallel --trc`
//! and plain rsync, over the same private sshd, in the same run.
//!
//! Two workloads, each over 2 hosts (`node1` and `node2`, two aliases of
//! the private sshd on loopback, `tests/util/sshd.rs`), 2 slots per host:
//!
//! - `small`: 10,000 files of 1 KiB;
//! - `large`: one file of 1 GiB.
//!
//! Each file goes to a host, a job there copies it to `FILE.out`, which
//! comes back, and both are removed from the host:
//!
//! - `hearth`: `hearth map --ssh "ssh -F CONFIG" -S node1,node2 -j 2 --trc
//!   {}.out -- 'cat {} > {}.out'`, the file names on stdin: the files go
//!   over each slot's own connection as frames, no login per file.
//! - `parallel`: `parallel --ssh "ssh -F CONFIG" -S 2/node1,2/node2 --trc
//!   {}.out 'cat {} > {}.out'`, the same names on stdin: an rsync (over a
//!   new ssh login) to send each file, one ssh login for the job, an rsync
//!   to bring `FILE.out` back, one more login to clean up.
//! - `rsync`: no jobs, only the copying, as a floor: per host (both at
//!   once) one `rsync -a` of its half of the files there and one of the
//!   same files back, then an ssh `rm -r`; 3 logins per host.
//!
//! GNU parallel moves files far slower than the others (four ssh logins
//! per file), so it gets at most [`PARALLEL_FILES`] of the small files
//! (4 in a smoke run); what is compared is files per second and MB/s.
//!
//! A run counts only if it exits 0 and every `FILE.out` here has the
//! file's size (and, for `large`, its bytes); they are removed between
//! runs. Figures: files per second (files sent, each also coming back) and
//! MB/s (bytes sent plus bytes brought back, over the wall-clock time of
//! the whole command or, for rsync, of its commands).
//!
//! # Usage
//!
//! ```text
//! cargo bench --bench transfer
//! cargo bench --bench transfer -- --rounds 3 small
//! ```
//!
//! Without `--bench` (as `cargo test --benches` runs it) it makes a smoke
//! run: 20 files of 1 KiB and one of 1 MiB, one round. Without GNU
//! parallel, rsync or a private sshd it is skipped (exit status 0).

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    unused_results
)]

#[path = "common/config.rs"]
#[allow(dead_code)]
mod config;
#[path = "../tests/util/procs.rs"]
#[allow(dead_code, unreachable_pub)]
mod procs;
#[path = "../tests/util/sshd.rs"]
#[allow(dead_code, unreachable_pub)]
mod sshd;

use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use config::{Config, median};
use sshd::Sshd;

/// The `hearth` command, built by cargo for this bench.
const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

/// The ssh hosts: two aliases of the private sshd.
const HOSTS: [&str; 2] = ["node1", "node2"];

/// Default number of rounds of a benchmark run.
const DEFAULT_ROUNDS: usize = 3;

/// The most files parallel gets in a benchmark run.
const PARALLEL_FILES: usize = 100;

/// The job on each file.
const JOB: &str = "cat {} > {}.out";

/// One set of files.
#[derive(Debug)]
struct Workload {
    name: &'static str,
    files: usize,
    size: usize,
}

/// The tools compared.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Tool {
    Hearth,
    Parallel,
    Rsync,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Hearth => "hearth map --trc",
            Tool::Parallel => "parallel --trc",
            Tool::Rsync => "rsync there and back",
        }
    }
}

#[allow(clippy::too_many_lines)] // The set-up, the rounds and the table, in the order they run.
fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args().skip(1), DEFAULT_ROUNDS) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("transfer: {err}");
            eprintln!("usage: transfer [--bench] [--rounds N] [small|large]");
            return ExitCode::FAILURE;
        }
    };
    for tool in ["parallel", "rsync"] {
        let found = Command::new(tool)
            .arg("--version")
            .env("HOME", std::env::temp_dir())
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            println!("transfer: skipped, no `{tool}`");
            return ExitCode::SUCCESS;
        }
    }
    let server = match Sshd::start(&HOSTS) {
        Ok(server) => server,
        Err(why) => {
            println!("transfer: skipped, no private sshd: {why}");
            return ExitCode::SUCCESS;
        }
    };
    let workloads = if config.bench {
        [
            Workload {
                name: "small",
                files: 10_000,
                size: 1024,
            },
            Workload {
                name: "large",
                files: 1,
                size: 1 << 30,
            },
        ]
    } else {
        [
            Workload {
                name: "small",
                files: 20,
                size: 1024,
            },
            Workload {
                name: "large",
                files: 1,
                size: 1 << 20,
            },
        ]
    };
    let scratch = server.scratch("transfer-here");
    let mut failed = false;
    println!(
        "{:<8} {:<22} {:>6} {:>10} {:>10} {:>10}   runs",
        "workload", "tool", "files", "time", "files/s", "MB/s"
    );
    for workload in workloads.iter().filter(|w| config.selects(w.name)) {
        let dir = scratch.join(workload.name);
        let names = match make_files(&dir, workload) {
            Ok(names) => names,
            Err(err) => {
                eprintln!("transfer: {err}");
                return ExitCode::FAILURE;
            }
        };
        let mut times: Vec<(Tool, Vec<Duration>)> = [Tool::Hearth, Tool::Parallel, Tool::Rsync]
            .iter()
            .map(|&t| (t, Vec::new()))
            .collect();
        let parallel_files = if config.bench { PARALLEL_FILES } else { 4 };
        for round in 0..config.rounds {
            // The order turns every round: the tools see the same drift.
            let n = times.len();
            for i in 0..n {
                let slot = (i + round) % n;
                let tool = times[slot].0;
                let names = match tool {
                    Tool::Parallel => &names[..names.len().min(parallel_files)],
                    _ => &names[..],
                };
                match run_once(tool, &server, &dir, names, workload) {
                    Ok(time) => times[slot].1.push(time),
                    Err(err) => {
                        failed = true;
                        eprintln!("transfer: {} {}: {err}", workload.name, tool.name());
                    }
                }
            }
        }
        for (tool, runs) in &times {
            if runs.is_empty() {
                continue;
            }
            let files = match tool {
                Tool::Parallel => workload.files.min(parallel_files),
                _ => workload.files,
            };
            let time = median(runs);
            let secs = time.as_secs_f64().max(1e-9);
            #[allow(clippy::cast_precision_loss)] // Counts and sizes far below 2^53: exact as f64.
            let (bytes, files_f64) = ((2 * files * workload.size) as f64, files as f64);
            println!(
                "{:<8} {:<22} {:>6} {:>9.2}s {:>10.1} {:>10.1}   {}",
                workload.name,
                tool.name(),
                files,
                secs,
                files_f64 / secs,
                bytes / secs / 1e6,
                runs.len()
            );
        }
        let _ = fs::remove_dir_all(&dir);
    }
    drop(server);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Makes the workload's files in `dir` (bytes that differ per file);
/// their names relative to `dir`.
fn make_files(dir: &Path, workload: &Workload) -> Result<Vec<String>, String> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).map_err(|e| format!("creating {dir:?}: {e}"))?;
    let mut names = Vec::with_capacity(workload.files);
    for i in 0..workload.files {
        let name = format!("f{i:05}");
        let mut file = fs::File::create(dir.join(&name)).map_err(|e| format!("{name}: {e}"))?;
        let mut chunk = vec![0u8; workload.size.min(1 << 20)];
        let mut left = workload.size;
        let mut seed = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        while left > 0 {
            for byte in &mut chunk {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *byte = seed.to_le_bytes()[0];
            }
            let n = left.min(chunk.len());
            file.write_all(&chunk[..n])
                .map_err(|e| format!("{name}: {e}"))?;
            left -= n;
        }
        names.push(name);
    }
    Ok(names)
}

/// Runs `tool` once over the files `names` in `dir`: its wall-clock time,
/// or why the run does not count. Removes what it brought back.
fn run_once(
    tool: Tool,
    server: &Sshd,
    dir: &Path,
    names: &[String],
    workload: &Workload,
) -> Result<Duration, String> {
    let ssh = server.ssh_command().join(" ");
    let input = names.iter().fold(String::new(), |mut input, name| {
        let _ = writeln!(input, "{name}");
        input
    });
    let start = Instant::now();
    match tool {
        Tool::Hearth => {
            let mut cmd = Command::new(HEARTH);
            let _ = cmd.args(["map", "--ssh", &ssh, "-S", &HOSTS.join(","), "-j", "2"]);
            let _ = cmd.args(["--trc", "{}.out", "--", JOB]);
            run_with_input(cmd, dir, &input)?;
        }
        Tool::Parallel => {
            let mut cmd = Command::new("parallel");
            let hosts: Vec<String> = HOSTS.iter().map(|h| format!("2/{h}")).collect();
            let _ = cmd
                .args(["--will-cite", "--ssh", &ssh, "-S", &hosts.join(",")])
                .args(["--trc", "{}.out", JOB])
                .env("HOME", server.scratch("parallel-home"))
                .env_remove("PARALLEL");
            run_with_input(cmd, dir, &input)?;
        }
        Tool::Rsync => rsync_there_and_back(&ssh, dir, names)?,
    }
    let time = start.elapsed();
    check_returned(tool, dir, names, workload)?;
    Ok(time)
}

/// Runs `cmd` in `dir` with `input` on stdin; an error with its stderr if
/// it fails.
fn run_with_input(mut cmd: Command, dir: &Path, input: &str) -> Result<(), String> {
    let mut child = cmd
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {cmd:?}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let input = input.to_owned();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting: {e}"))?;
    let _ = writer.join();
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        Err(format!("{}: {}", out.status, tail.join(" | ")))
    }
}

/// Per host, both at once: its half of the files there with rsync, back
/// as `FILE.out` with rsync, then removed there.
fn rsync_there_and_back(ssh: &str, dir: &Path, names: &[String]) -> Result<(), String> {
    let back = dir.join("rsync-back");
    let results: Vec<Result<(), String>> = thread::scope(|scope| {
        let handles: Vec<_> = HOSTS
            .iter()
            .enumerate()
            .map(|(h, host)| {
                let back = &back;
                scope.spawn(move || -> Result<(), String> {
                    let list = names.iter().skip(h).step_by(HOSTS.len()).fold(
                        String::new(),
                        |mut list, name| {
                            let _ = writeln!(list, "{name}");
                            list
                        },
                    );
                    if list.is_empty() {
                        return Ok(());
                    }
                    let list_file = dir.join(format!("rsync-list-{host}"));
                    fs::write(&list_file, list).map_err(|e| e.to_string())?;
                    let remote = format!("{host}:rsync-{host}/");
                    let mut there = Command::new("rsync");
                    let _ = there
                        .args(["-a", "-e", ssh, "--files-from"])
                        .arg(&list_file)
                        .arg(".")
                        .arg(&remote)
                        .current_dir(dir);
                    run_plain(there)?;
                    fs::create_dir_all(back).map_err(|e| format!("{back:?}: {e}"))?;
                    let mut home = Command::new("rsync");
                    let _ = home
                        .args(["-a", "-e", ssh, &remote])
                        .arg(back.join(host))
                        .current_dir(dir);
                    run_plain(home)?;
                    let mut rm = Command::new("sh");
                    let _ = rm.args(["-c", &format!("{ssh} {host} rm -r rsync-{host}")]);
                    run_plain(rm)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panicked".to_owned())))
            .collect()
    });
    let _: Vec<()> = results.into_iter().collect::<Result<_, String>>()?;
    // Back under the names the jobs give them, as the other tools leave
    // them.
    for host in HOSTS {
        let from = back.join(host);
        if !from.exists() {
            continue;
        }
        for entry in fs::read_dir(&from).map_err(|e| format!("{from:?}: {e}"))? {
            let entry = entry.map_err(|e| e.to_string())?;
            let name = entry.file_name().to_string_lossy().into_owned();
            fs::rename(entry.path(), dir.join(format!("{name}.out"))).map_err(|e| e.to_string())?;
        }
    }
    let _ = fs::remove_dir_all(&back);
    Ok(())
}

/// Runs a command to its end; an error with its stderr if it fails.
fn run_plain(mut cmd: Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Every `FILE.out` is here with the file's size (and, for one large
/// file, its bytes); removes them.
fn check_returned(
    tool: Tool,
    dir: &Path,
    names: &[String],
    workload: &Workload,
) -> Result<(), String> {
    let mut wrong = Vec::new();
    for name in names {
        let out: PathBuf = dir.join(format!("{name}.out"));
        let size = fs::metadata(&out).map(|m| usize::try_from(m.len()).unwrap_or(usize::MAX));
        if size.as_ref().ok() != Some(&workload.size) {
            wrong.push(format!("{name}.out: {size:?}"));
        } else if workload.files == 1 && !same_bytes(&dir.join(name), &out) {
            wrong.push(format!("{name}.out: other bytes"));
        }
        let _ = fs::remove_file(&out);
    }
    for list in HOSTS.map(|h| dir.join(format!("rsync-list-{h}"))) {
        let _ = fs::remove_file(list);
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: {} of {} files not back as sent: {}",
            tool.name(),
            wrong.len(),
            names.len(),
            wrong.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ))
    }
}

/// True if the two files have the same bytes.
fn same_bytes(sent: &Path, back: &Path) -> bool {
    use std::io::Read;
    let (Ok(mut sent), Ok(mut back)) = (fs::File::open(sent), fs::File::open(back)) else {
        return false;
    };
    let (mut sent_buf, mut back_buf) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        match (sent.read(&mut sent_buf), back.read(&mut back_buf)) {
            (Ok(0), Ok(0)) => return true,
            (Ok(n), Ok(m)) if n == m && sent_buf[..n] == back_buf[..m] => {}
            // Reads of regular files give whole chunks until the end.
            _ => return false,
        }
    }
}
