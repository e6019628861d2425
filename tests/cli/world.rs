//! The job's world over the private sshd's two hosts: `--env`,
//! `--workdir` (a directory, `...`), and files sent with each job and
//! brought back over the slot's own connection (`--transfer`,
//! `--return`, `--cleanup`, `--trc`).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::{assert_exit, command, run_tag, scratch, sshd, stderr, stdout, wait_output};

/// Runs `hearth ARGS` in `dir` with `env` set.
fn hearth_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = command(args, &run_tag());
    let _ = cmd.current_dir(dir).stdin(std::process::Stdio::null());
    for (name, value) in env {
        let _ = cmd.env(name, value);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child)
}

/// Files of 0 bytes to 3 MiB, one of mode 0750, sent to the two hosts,
/// each job's result brought back, everything removed there afterwards;
/// the jobs ran in `--workdir` with `--env`'s variable (an unset one is
/// not sent).
#[test]
fn files_go_with_the_jobs_and_come_back() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let here = scratch("trc");
    let remote = scratch("trc-remote");
    let sizes = [0usize, 1, 300_000, 3 * 1024 * 1024 + 5];
    for (i, size) in sizes.iter().enumerate() {
        let data: Vec<u8> = (0..*size)
            .map(|b| u8::try_from(b % 251).unwrap() ^ u8::try_from(i).unwrap())
            .collect();
        fs::write(here.join(format!("in{i}.bin")), data).unwrap();
    }
    fs::set_permissions(here.join("in2.bin"), fs::Permissions::from_mode(0o750)).unwrap();
    let output = hearth_in(
        &here,
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "--wd",
            remote.to_str().unwrap(),
            "--env",
            "HEARTH_WORLD",
            "--env",
            "HEARTH_NOT_SET",
            "--trc",
            "{.}.back",
            "cp {} {.}.back; stat -c %a {}; echo \"$HEARTH_WORLD ${HEARTH_NOT_SET-unset} $PWD\"",
            ":::",
            "in0.bin",
            "in1.bin",
            "in2.bin",
            "in3.bin",
        ],
        &[("HEARTH_WORLD", "from here")],
    );
    assert_exit(&output, 0);
    let lines: Vec<String> = stdout(&output).lines().map(String::from).collect();
    let said = format!("from here unset {}", remote.display());
    assert_eq!(
        lines,
        ["644", &said, "644", &said, "750", &said, "644", &said].map(String::from),
        "{}",
        stderr(&output)
    );
    for i in 0..sizes.len() {
        let sent = fs::read(here.join(format!("in{i}.bin"))).unwrap();
        let back = fs::read(here.join(format!("in{i}.back"))).unwrap();
        assert!(
            sent == back,
            "file {i}: {} bytes back of {}",
            back.len(),
            sent.len()
        );
    }
    let left: Vec<_> = fs::read_dir(&remote).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = fs::remove_dir_all(&here);
    let _ = fs::remove_dir_all(&remote);
}

/// `--workdir ...`: each job in a fresh directory, removed after it.
#[test]
fn temporary_workdir_is_removed() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let here = scratch("wd-temp");
    let output = hearth_in(
        &here,
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "--wd",
            "...",
            "pwd",
            ":::",
            "a",
            "b",
            "c",
        ],
        &[],
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    let dirs: std::collections::BTreeSet<&str> = out.lines().collect();
    assert_eq!(dirs.len(), 3, "{out}");
    for dir in dirs {
        assert!(dir.contains("/hearth-"), "{dir}");
        assert!(!std::path::Path::new(dir).exists(), "{dir} left behind");
    }
    let _ = fs::remove_dir_all(&here);
}

/// A file to send that is not there fails its job, which does not run;
/// the other jobs run.
#[test]
fn missing_file_fails_its_job() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let here = scratch("transfer-missing");
    fs::write(here.join("there.txt"), "x").unwrap();
    let output = hearth_in(
        &here,
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1",
            "--wd",
            "...",
            "--transfer",
            "cat",
            ":::",
            "there.txt",
            "gone.txt",
        ],
        &[],
    );
    assert_exit(&output, 1);
    assert_eq!(stdout(&output), "x");
    let err = stderr(&output);
    assert!(
        err.contains("job 2 (gone.txt): job failed: cannot send gone.txt: No such file"),
        "{err}"
    );
    let _ = fs::remove_dir_all(&here);
}

/// Options that do not go together, or bad values: usage errors.
#[test]
fn world_usage_errors() {
    let here = scratch("world-usage");
    for (args, says) in [
        (
            &["map", "--cleanup", "echo", ":::", "a"][..],
            "--cleanup removes the files of --transfer, --return, --basefile and --tmpl: give one",
        ),
        (
            &["map", "--onall", "--trc", "x", "echo", ":::", "a"][..],
            "--transfer, --return and --trc go with jobs that run once",
        ),
        (
            &["map", "--env", "A=B", "echo", ":::", "a"][..],
            "--env \"A=B\": give a variable's name",
        ),
        (
            &["map", "--workdir", "", "echo", ":::", "a"][..],
            "--workdir is empty",
        ),
        (
            &["map", "--basefile", "nowhere.sh", "echo", ":::", "a"][..],
            "--basefile nowhere.sh: No such file",
        ),
        (
            &["map", "--bf", ".", "echo", ":::", "a"][..],
            "--basefile .: not a file",
        ),
        (
            &["map", "--wd", "...", "--bf", "x.sh", "echo", ":::", "a"][..],
            "--basefile x.sh with --workdir ...: each job runs in a fresh directory",
        ),
    ] {
        let output = hearth_in(&here, args, &[]);
        assert_exit(&output, 255);
        assert!(
            stderr(&output).contains(says),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let _ = fs::remove_dir_all(&here);
}
