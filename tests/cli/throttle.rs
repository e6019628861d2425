//! `--load` and `--memfree`: no job starts on this machine's slots while it
//! is loaded or short of memory, and below half the memory floor its
//! youngest job is killed. The machine's state is read from files the
//! tests write (`--proc-dir`, laid out as `/proc`), never from the real
//! `/proc`, and the tests follow hearth's readings in its debug log.
//!
//! GNU parallel cannot be fed such files, so these tests hold hearth to
//! its documented behaviour instead (`man parallel`, 20221122):
//!
//! > --load max-load: Only start jobs if load is less than max-load. Do
//! > not start new jobs on a given computer unless the number of running
//! > processes on the computer is less than max-load. max-load uses the
//! > same syntax as --jobs, so 100% for one per CPU is a valid setting.
//!
//! > --memfree size: Minimum memory free when starting another job. The
//! > size can be postfixed with K, M, G, T, P, k, m, g, t, or p. [...] If
//! > less than size bytes are free, no more jobs will be started. If less
//! > than 50% size bytes are free, the youngest job will be killed.
//!
//! (The joblog of a job killed for memory is compared with GNU parallel's
//! own in `tests/parallel_compat/killed.rs`.)

use std::fs;
use std::path::Path;
use std::sync::mpsc::TryRecvError;

use super::{Running, scratch};

/// Writes `name` in `dir` whole (a reader sees the old or the new text).
fn set(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!("{name}.new"));
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, dir.join(name)).unwrap();
}

/// `loadavg` with `running` threads running (hearth's reader one of them).
fn loadavg(running: u32) -> String {
    format!("9.00 9.00 9.00 {running}/300 4242\n")
}

/// `meminfo` with `kib` KiB available.
fn meminfo(kib: u64) -> String {
    format!("MemTotal:       16000000 kB\nMemFree:          100 kB\nMemAvailable:   {kib} kB\n")
}

/// `hearth map ARGS` with its debug log, its stdin closed.
fn start(args: &[&str]) -> Running {
    let mut run = Running::streaming_with(args, &[("HEARTH_LOG", "debug")]);
    run.close_input();
    run
}

/// The jobs' lines, sorted.
fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

/// While 4 other processes run, `--load 2` starts nothing: hearth reads
/// the load, and again a second later, and no job has started; once the
/// load falls, every job runs.
#[test]
fn load_holds_the_jobs_until_the_machine_is_less_busy() {
    let dir = scratch("load");
    set(&dir, "loadavg", &loadavg(5));
    let proc_dir = dir.display().to_string();
    let run = start(&[
        "map",
        "--proc-dir",
        &proc_dir,
        "--load",
        "2",
        "-j",
        "2",
        "-u",
        "echo ran {}",
        ":::",
        "a",
        "b",
        "c",
    ]);
    run.stderr_line("this machine read running=Some(4)");
    run.stderr_line("this machine read running=Some(4)");
    assert_eq!(
        run.lines.try_recv(),
        Err(TryRecvError::Empty),
        "a job started while the load was at its limit"
    );
    set(&dir, "loadavg", &loadavg(1));
    let (status, lines, err) = run.wait();
    assert!(status.success(), "{status:?}: {err}");
    assert_eq!(sorted(lines), ["ran a", "ran b", "ran c"], "{err}");
    let _ = fs::remove_dir_all(&dir);
}

/// With less memory available than `--memfree`, nothing starts; once
/// there is enough, every job runs.
#[test]
fn memfree_holds_the_jobs_until_memory_is_available() {
    let dir = scratch("memfree");
    set(&dir, "meminfo", &meminfo(700));
    let proc_dir = dir.display().to_string();
    let run = start(&[
        "map",
        "--proc-dir",
        &proc_dir,
        "--memfree",
        "1M",
        "-u",
        "echo ran {}",
        ":::",
        "a",
        "b",
    ]);
    let low = format!("available=Some({})", 700 * 1024);
    run.stderr_line(&low);
    run.stderr_line(&low);
    assert_eq!(
        run.lines.try_recv(),
        Err(TryRecvError::Empty),
        "a job started with less memory than --memfree"
    );
    set(&dir, "meminfo", &meminfo(4_000_000));
    let (status, lines, err) = run.wait();
    assert!(status.success(), "{status:?}: {err}");
    assert_eq!(sorted(lines), ["ran a", "ran b"], "{err}");
    let _ = fs::remove_dir_all(&dir);
}

/// A job script that prints `first {}` and waits for `DIR/go` on its first
/// run (marked by `DIR/{}.ran`), and prints `again {}` on a later one.
fn once_then_again(dir: &Path) -> String {
    format!(
        "if [ -e {d}/{{}}.ran ]; then echo again {{}}; else touch {d}/{{}}.ran; echo first {{}}; \
         i=0; while [ ! -e {d}/go ]; do i=$((i+1)); if [ $i -gt 6000 ]; then exit 9; fi; \
         sleep 0.01; done; echo end {{}}; fi",
        d = dir.display()
    )
}

/// Below half of `--memfree`, the youngest job is killed and, with
/// `--retries`, runs again once there is memory: `b`, started after `a`,
/// runs again, and `a` goes on.
#[test]
fn memory_below_half_the_floor_kills_the_youngest_job() {
    let dir = scratch("memfree-kill");
    set(&dir, "meminfo", &meminfo(4_000_000));
    let proc_dir = dir.display().to_string();
    let script = once_then_again(&dir);
    let run = start(&[
        "map",
        "--proc-dir",
        &proc_dir,
        "--memfree",
        "1M",
        "--retries",
        "2",
        "-j",
        "2",
        "--delay",
        "0.3",
        "-u",
        &script,
        ":::",
        "a",
        "b",
    ]);
    let mut first = vec![run.line(), run.line()];
    first.sort();
    assert_eq!(first, ["first a", "first b"]);
    set(&dir, "meminfo", &meminfo(100));
    run.stderr_line("killing its youngest job");
    set(&dir, "meminfo", &meminfo(4_000_000));
    fs::write(dir.join("go"), "").unwrap();
    let (status, lines, err) = run.wait();
    assert!(status.success(), "{status:?}: {err}");
    assert!(lines.contains(&"again b".to_owned()), "{lines:?}\n{err}");
    assert!(!lines.contains(&"end b".to_owned()), "{lines:?}\n{err}");
    let _ = fs::remove_dir_all(&dir);
}

/// Without `--retries` the killed job fails, saying why; the joblog shows
/// it as GNU parallel logs a job it killed: Exitval -1, Signal 15.
#[test]
fn a_job_killed_for_memory_fails_without_retries() {
    let dir = scratch("memfree-fail");
    set(&dir, "meminfo", &meminfo(4_000_000));
    let proc_dir = dir.display().to_string();
    let script = once_then_again(&dir);
    let joblog = dir.join("log").display().to_string();
    let run = start(&[
        "map",
        "--proc-dir",
        &proc_dir,
        "--memfree",
        "1M",
        "--joblog",
        &joblog,
        "-u",
        &script,
        ":::",
        "a",
    ]);
    assert_eq!(run.line(), "first a");
    set(&dir, "meminfo", &meminfo(100));
    let (status, lines, err) = run.wait();
    assert_eq!(status.code(), Some(1), "{lines:?}\n{err}");
    assert!(
        err.contains("killed: this machine had 100 KiB of memory available"),
        "{err}"
    );
    assert_eq!(lines, Vec::<String>::new());
    let log = fs::read_to_string(&joblog).unwrap();
    let row: Vec<&str> = log.lines().nth(1).unwrap_or_default().split('\t').collect();
    assert_eq!(
        (row.first(), row.get(6), row.get(7)),
        (Some(&"1"), Some(&"-1"), Some(&"15")),
        "{log}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Slots on other machines are not held (a launcher's, here started on
/// this machine all the same): the jobs run at any load, and hearth says
/// that the options change nothing.
#[test]
fn other_machines_slots_are_not_held() {
    let dir = scratch("load-remote");
    set(&dir, "loadavg", &loadavg(50));
    let proc_dir = dir.display().to_string();
    let run = start(&[
        "map",
        "-S",
        "node1",
        "--launcher",
        "{bin}",
        "--proc-dir",
        &proc_dir,
        "--load",
        "1",
        "-u",
        "echo ran {}",
        ":::",
        "a",
        "b",
    ]);
    let (status, lines, err) = run.wait();
    assert!(status.success(), "{status:?}: {err}");
    assert_eq!(sorted(lines), ["ran a", "ran b"]);
    assert!(
        err.contains("--load and --memfree hold back the slots of this machine"),
        "{err}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// A machine whose state cannot be read is an error before any job, not
/// a run that waits for ever.
#[test]
fn an_unreadable_machine_is_an_error() {
    let dir = scratch("load-none");
    let proc_dir = dir.display().to_string();
    let (status, lines, err) = start(&[
        "map",
        "--proc-dir",
        &proc_dir,
        "--load",
        "4",
        "echo",
        ":::",
        "a",
    ])
    .wait();
    assert_eq!(status.code(), Some(255), "{lines:?}\n{err}");
    assert!(err.contains("loadavg"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}
