//! GNU parallel and `hearth map` on the private sshd's two hosts (`-S
//! node1,node2`, the same `--ssh` for both): `--nonall` and `--onall`
//! print the same, tagged or not, with the same exit status.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::{parallel, same};
use crate::sshd::Sshd;

/// The private sshd, or `None` to skip (GNU parallel missing too).
pub(crate) fn sshd() -> Option<Sshd> {
    parallel()?;
    Sshd::start_or_skip(&["node1", "node2"])
}

#[test]
fn nonall_and_onall_on_two_hosts() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let hosts = ["--ssh", &ssh, "-S", "node1,node2", "-k"];
    let with = |more: &[&'static str]| {
        let mut args: Vec<&str> = hosts.to_vec();
        args.extend_from_slice(more);
        args
    };
    same(&with(&["--nonall", "echo a; echo b"]), b"");
    same(&with(&["--nonall", "--tag", "echo a; echo b"]), b"");
    // A command that fails everywhere: one failed job per host.
    same(&with(&["--nonall", "--tag", "echo x; exit 3"]), b"");
    same(
        &with(&["--onall", "--tag", "echo", ":::", "a", "b", "c"]),
        b"",
    );
    same(&with(&["--onall", "echo {}-{#}", ":::", "a", "b"]), b"");
}

/// A host that cannot be reached: the other's output, one failed job.
#[test]
fn nonall_with_an_unreachable_host() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    same(
        &[
            "--ssh",
            &ssh,
            "-S",
            "closed,node1",
            "--nonall",
            "--tag",
            "echo x",
        ],
        b"",
    );
}

/// `--trc`, `--transferfile`, `--basefile`, `--env` and `--workdir` on
/// the two hosts:
/// the same output and exit status, and the same files here afterwards
/// (each run in a directory of its own prepared alike). The remote side
/// is this machine: each job's working directory is made unique, so the
/// two runs never see each other's files.
#[test]
fn files_environment_and_working_directory() {
    let Some(sshd) = sshd() else { return };
    let Some(parallel) = parallel() else { return };
    let ssh = sshd.ssh_command().join(" ");
    // Not the login directory: the remote side is this machine.
    let remote = super::scratch("trc-remote");
    let remote = remote.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &[
            "--wd",
            remote,
            "--env",
            "HEARTH_COMPAT_VALUE",
            "--trc",
            "{.}.out",
            "--tag",
            "ls -l {} | cut -c1-10; tr a-z A-Z < {} > {.}.out; echo $HEARTH_COMPAT_VALUE",
            ":::",
            "f1.txt",
            "f2.txt",
            "sub/f3.txt",
        ],
        &[
            "--wd",
            remote,
            "--basefile",
            "tool.sh",
            "--bf",
            "sub/f3.txt",
            "--cleanup",
            "--tf",
            "{}",
            "--tag",
            "sh tool.sh {}; cat sub/f3.txt",
            ":::",
            "f1.txt",
            "f2.txt",
        ],
        &[
            "--wd",
            "...",
            "--tf",
            "{}",
            "--return",
            "{}.n",
            "wc -c < {} > {}.n; cat {}",
            ":::",
            "f1.txt",
            "f2.txt",
        ],
    ];
    for args in cases {
        let mut all = vec!["--ssh", &ssh, "-S", "node1,node2", "-k"];
        all.extend_from_slice(args);
        let os: Vec<&std::ffi::OsStr> = all.iter().map(std::ffi::OsStr::new).collect();
        let prepare = |name: &str| {
            let dir = super::scratch(name);
            fs::write(dir.join("f1.txt"), "one\n").unwrap();
            fs::write(dir.join("f2.txt"), "two two\n").unwrap();
            fs::set_permissions(dir.join("f2.txt"), fs::Permissions::from_mode(0o640)).unwrap();
            fs::create_dir_all(dir.join("sub")).unwrap();
            fs::write(dir.join("sub/f3.txt"), "three\n").unwrap();
            fs::write(dir.join("tool.sh"), "tr a-z A-Z < \"$1\"\n").unwrap();
            dir
        };
        let (theirs_dir, ours_dir) = (prepare("trc-gnu"), prepare("trc-hearth"));
        let with_value = |mut cmd: Command| {
            let _ = cmd.env("HEARTH_COMPAT_VALUE", "passed along");
            cmd
        };
        let theirs = super::gnu_with(parallel, &os, &theirs_dir, with_value);
        let ours = super::hearth_with(&os, &ours_dir, with_value);
        assert_eq!(
            (ours.status.code(), String::from_utf8_lossy(&ours.stdout)),
            (
                theirs.status.code(),
                String::from_utf8_lossy(&theirs.stdout)
            ),
            "{all:?}\n--- hearth map: {}\n--- GNU parallel: {}",
            super::shown(&ours),
            super::shown(&theirs)
        );
        assert_eq!(super::tree(&ours_dir), super::tree(&theirs_dir), "{all:?}");
        let _ = fs::remove_dir_all(&theirs_dir);
        let _ = fs::remove_dir_all(&ours_dir);
    }
    // Cleaned up there: only the directories the files were in are left.
    let left: Vec<_> = super::tree(std::path::Path::new(remote));
    assert_eq!(left, Vec::new(), "{left:?}");
    let _ = fs::remove_dir_all(remote);
}
