//! Jobs the run kills, in the joblog, against GNU parallel: one past
//! `--timeout` and one killed by the `--memfree` guard are logged with
//! Exitval -1 and the signal GNU parallel logs them with; one killed by
//! `--halt now` is not logged at all. For `--memfree` the free memory is
//! a file each tool reads: hearth's through its hidden `--proc-dir`, GNU
//! parallel's through an `awk` ahead on its `PATH` that answers its
//! reading of `/proc/meminfo` from the file.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use std::{env, thread};

use super::{gnu_command, hearth_command, joblog_rows, parallel, same_joblog, scratch};

#[test]
fn jobs_past_their_timeout() {
    same_joblog(
        &["-k", "--timeout", "1", "sleep {}", ":::", "0.1", "30"],
        |_| {},
    );
}

/// A job past `--timeout` gets `SIGTERM` first, as under GNU parallel: one
/// that traps it prints its cleanup; `--termseq` names the signals. The
/// joblog says what ended it, as GNU parallel's: the exit status of a
/// trap that exited, else the signal.
#[test]
fn a_job_past_its_timeout_may_trap_sigterm() {
    same_joblog(
        &[
            "-k",
            "--timeout",
            "1",
            "trap 'echo cleanup {}; exit 3' TERM; echo started {}; sleep 30",
            ":::",
            "a",
            "b",
        ],
        |_| {},
    );
    same_joblog(
        &[
            "-k",
            "--timeout",
            "1",
            "--termseq",
            "INT,200,KILL,25",
            "trap 'echo int {}' INT; sleep 30; echo after {}",
            ":::",
            "a",
        ],
        |_| {},
    );
    // Ended by the sequence's SIGKILL: signal 9 in the joblog.
    same_joblog(
        &[
            "--timeout",
            "1",
            "--termseq",
            "INT,200,KILL,25",
            "trap '' INT; sleep 30; echo {}",
            ":::",
            "b",
        ],
        |_| {},
    );
}

/// The failed job halts the run at once and the sleeping one is killed:
/// neither tool logs it.
#[test]
fn jobs_killed_by_halt_now() {
    same_joblog(
        &[
            "-j2",
            "--halt",
            "now,fail=1",
            "sleep {}; test {} = 30",
            ":::",
            "0",
            "30",
        ],
        |_| {},
    );
}

/// Writes `name` in `dir` whole (a reader sees the old text or the new).
fn set(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!("{name}.new"));
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, dir.join(name)).unwrap();
}

/// The free memory both tools read: `kib` KiB.
fn set_memory(dir: &Path, kib: u64) {
    set(
        &dir.join("proc"),
        "meminfo",
        &format!("MemTotal: 16000000 kB\nMemFree: 100 kB\nMemAvailable: {kib} kB\n"),
    );
    set(dir, "free-kib", &format!("{kib}\n"));
}

/// A job starts with memory to spare, then the memory falls below half of
/// `--memfree`: both kill the job and log it the same.
#[test]
fn a_job_killed_for_memory() {
    let Some(parallel) = parallel() else { return };
    let mut seen = Vec::new();
    for tool in ["parallel", "hearth"] {
        let dir = scratch("memfree");
        fs::create_dir_all(dir.join("proc")).unwrap();
        fs::create_dir_all(dir.join("bin")).unwrap();
        // GNU parallel reads the free memory with awk on /proc/meminfo.
        let awk = dir.join("bin/awk");
        fs::write(
            &awk,
            format!(
                "#!/bin/sh\nfor a; do [ \"$a\" = /proc/meminfo ] && exec cat '{}'; done\n\
                 exec /usr/bin/awk \"$@\"\n",
                dir.join("free-kib").display()
            ),
        )
        .unwrap();
        fs::set_permissions(&awk, fs::Permissions::from_mode(0o755)).unwrap();
        set_memory(&dir, 4_000_000);
        let args = [
            "--joblog",
            "log",
            "--memfree",
            "1G",
            "touch {}; sleep 30",
            ":::",
            "started",
        ];
        let os: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let mut cmd: Command = if tool == "parallel" {
            let path = env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![dir.join("bin")];
            dirs.extend(env::split_paths(&path));
            let mut cmd = gnu_command(parallel, &os, &dir);
            let _ = cmd.env("PATH", env::join_paths(dirs).unwrap());
            cmd
        } else {
            let mut cmd = hearth_command(
                &[OsStr::new("--proc-dir"), dir.join("proc").as_os_str()],
                &dir,
            );
            let _ = cmd.args(&os);
            cmd
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The job has started: now the memory falls.
        let deadline = Instant::now() + Duration::from_mins(1);
        while !dir.join("started").exists() {
            if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!("{tool}: the job did not start: {output:?}");
            }
            thread::sleep(Duration::from_millis(10));
        }
        set_memory(&dir, 100);
        let output = child.wait_with_output().unwrap();
        seen.push((output.status.code(), joblog_rows(&dir.join("log"))));
        let _ = fs::remove_dir_all(&dir);
    }
    assert_eq!(seen[1], seen[0], "hearth map, then GNU parallel");
}
