//! The remote binary: a host without hearth at the path it took is told
//! what to do, and `--install-worker` copies the running hearth there
//! over the first slot's own connection (same system and architecture
//! only). The hosts are this machine: hearth runs from a copy whose file
//! is removed once it started, so no host has it at that path.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use super::{HEARTH, assert_exit, run_tag, scratch, sshd, stderr, stdout, wait_output};

/// Runs a copy of hearth whose file is gone once it started, with `args`
/// and `HOME` set to `home`.
fn hearth_gone(dir: &Path, home: &Path, args: &[&str]) -> Output {
    let copy = dir.join("hearth-copy");
    // Copied by `cp`: a file this process had open for writing could be
    // inherited by a child another test forks meanwhile, and running it
    // would fail with "text file busy" while that child lives.
    let copied = std::process::Command::new("cp")
        .arg(HEARTH)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(copied.success());
    let tag = run_tag();
    let (key, value) = tag.split_once('=').unwrap();
    let child = std::process::Command::new(&copy)
        .args(args)
        .env(key, value)
        .env("HOME", home)
        .env_remove("HEARTH_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Started: its own file is no longer needed.
    fs::remove_file(&copy).unwrap();
    wait_output(child)
}

/// The installed copies under a home directory (not the lock of a slot
/// killed while it held it: the next one takes it over).
fn installed(home: &Path) -> Vec<PathBuf> {
    fs::read_dir(home.join(".cache/hearth"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_none_or(|e| e != "lock"))
                .collect()
        })
        .unwrap_or_default()
}

/// No hearth at the path it took: the slots fail as a missing binary, and
/// hearth says how to fix it (install it, --remote-bin, --install-worker).
#[test]
fn missing_worker_says_how_to_fix_it() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let dir = scratch("install-missing");
    let output = hearth_gone(
        &dir,
        &dir,
        &["map", "--ssh", &ssh, "-S", "node1", "echo", ":::", "a"],
    );
    assert_exit(&output, 255);
    let err = stderr(&output);
    let copy = dir.join("hearth-copy");
    assert!(
        err.contains("worker binary missing or not executable (exit 127)")
            && err.contains(&format!(
                "hearth map: hearth is not at {} on the hosts above: install it there at that \
                 path, give its path there with --remote-bin PATH, or let hearth copy itself \
                 there with --install-worker",
                copy.display()
            )),
        "{err}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// `--install-worker`: the hosts get a copy (one: the slots of a host
/// share it, and both hosts are this machine here), the jobs run on it,
/// one ssh connection per host (its slots share it) and no more; a second
/// run finds the copy.
#[test]
fn install_worker_copies_hearth_over_the_slots_connection() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let dir = scratch("install");
    // The test sshd gives its sessions this home.
    let home = sshd.config_path().parent().unwrap().join("home");
    let _ = fs::remove_dir_all(home.join(".cache"));
    for round in 0..2 {
        let connections = sshd.log_count("Connection from");
        let output = hearth_gone(
            &dir,
            &dir,
            &[
                "map",
                "--ssh",
                &ssh,
                "-S",
                "node1,node2",
                "--install-worker",
                "--tag-host",
                "echo",
                ":::",
                "a",
                "b",
                "c",
                "d",
            ],
        );
        assert_exit(&output, 0);
        let mut lines: Vec<String> = stdout(&output)
            .lines()
            .map(|l| l.split('\t').nth(1).unwrap().to_owned())
            .collect();
        lines.sort();
        assert_eq!(lines, ["a", "b", "c", "d"], "round {round}");
        // What happened, should this fail (it did once, under load).
        let said = || format!("stderr: {}\nsshd: {}", stderr(&output), sshd.log_tail(40));
        assert_eq!(
            sshd.log_count("Connection from") - connections,
            2,
            "round {round}: one connection per host\n{}",
            said()
        );
        // A slot whose copy was cut short when the run ended (the other
        // host's, when the first did every job) removes its temporary
        // file as its connection closes, which may be a moment after
        // hearth's exit.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut copies = installed(&home);
        while copies.len() > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            copies = installed(&home);
        }
        assert_eq!(copies.len(), 1, "{copies:?}\n{}", said());
        assert_eq!(
            fs::metadata(&copies[0]).unwrap().len(),
            fs::metadata(HEARTH).unwrap().len()
        );
    }
    let _ = fs::remove_dir_all(home.join(".cache"));
    let _ = fs::remove_dir_all(&dir);
}

/// A host of another architecture gets no copy: a permanent failure that
/// says which it is and what to do. (An ssh stand-in runs the command
/// here with a `uname` that answers sparc64.)
#[test]
fn install_worker_refuses_another_architecture() {
    let write_script = |path: &Path, text: &str| {
        // Written by a child, for the reason `hearth_gone` gives.
        let written = std::process::Command::new("sh")
            .args(["-c", "cat > \"$0\" && chmod 755 \"$0\""])
            .arg(path)
            .stdin(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child.stdin.take().unwrap().write_all(text.as_bytes())?;
                child.wait()
            })
            .unwrap();
        assert!(written.success());
    };
    let dir = scratch("install-arch");
    let fake = dir.join("bin");
    fs::create_dir_all(&fake).unwrap();
    write_script(
        &fake.join("uname"),
        "#!/bin/sh\ncase $1 in -m) echo sparc64 ;; *) echo Linux ;; esac\n",
    );
    let ssh = dir.join("fake-ssh");
    write_script(
        &ssh,
        &format!(
            "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in -o|-p|-F) shift 2 ;; -*) shift ;; \
             *) break ;; esac; done\nshift\nPATH={}:$PATH exec sh -c \"$*\"\n",
            fake.display()
        ),
    );
    let output = hearth_gone(
        &dir,
        &dir,
        &[
            "map",
            "--ssh",
            ssh.to_str().unwrap(),
            "-S",
            "far",
            "--install-worker",
            "echo",
            ":::",
            "a",
        ],
    );
    assert_exit(&output, 255);
    let err = stderr(&output);
    assert!(
        err.contains(&format!(
            "cannot install the worker: the host runs Linux sparc64, this hearth is built for \
             Linux {}",
            std::env::consts::ARCH
        )),
        "{err}"
    );
    assert!(installed(&dir).is_empty());
    let _ = fs::remove_dir_all(&dir);
}
