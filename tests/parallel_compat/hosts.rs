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
    // Which login and host run the job.
    same(
        &with(&["--nonall", "echo $PARALLEL_SSHLOGIN $PARALLEL_SSHHOST"]),
        b"",
    );
    // `--plus`'s strings of the login and host that run the job, in the
    // command and in the tag.
    same(
        &with(&[
            "--plus",
            "--nonall",
            "--tagstring",
            "{host}",
            "echo {sshlogin} {host}",
        ]),
        b"",
    );
    // The exit status counts the hosts where something failed.
    same(&with(&["--onall", "exit {}", ":::", "0", "3", "4"]), b"");
    // No results: the outputs are printed, as GNU parallel prints them.
    let results = super::scratch("onall-results").join("res");
    let results = results.to_str().unwrap();
    let mut args: Vec<&str> = hosts.to_vec();
    args.extend_from_slice(&["--onall", "--results", results, "echo {}", ":::", "a", "b"]);
    same(&args, b"");
    assert!(!std::path::Path::new(results).exists());
    // A table of results is left there empty, as GNU parallel leaves it.
    let table = super::scratch("nonall-table").join("out.csv");
    fs::write(&table, "old\n").unwrap();
    let mut args: Vec<&str> = hosts.to_vec();
    args.extend_from_slice(&["--nonall", "--results", table.to_str().unwrap(), "echo hi"]);
    let os: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let ours = super::hearth_with(&os, &super::scratch("nonall-table-run"), |cmd| cmd);
    assert_eq!(
        (ours.status.code(), &ours.stdout[..]),
        (Some(0), &b"hi\nhi\n"[..]),
        "{}",
        super::shown(&ours)
    );
    assert_eq!(fs::read(&table).unwrap(), b"");
    // GNU parallel, run the same way, leaves its table empty too.
    if let Some(parallel) = parallel() {
        fs::write(&table, "old\n").unwrap();
        let dir = super::scratch("nonall-table-gnu");
        let theirs = super::gnu_with(parallel, &os, &dir, |cmd| cmd);
        assert_eq!(
            (
                theirs.status.code(),
                &theirs.stdout[..],
                fs::read(&table).unwrap()
            ),
            (Some(0), &b"hi\nhi\n"[..], Vec::new()),
            "{}",
            super::shown(&theirs)
        );
    }
}

/// `--retries` runs a failed job again on another host, while there is
/// one it did not fail on: jobs that fail on node1 succeed on node2.
#[test]
fn retries_go_to_another_host() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    same(
        &[
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "-j1",
            "-k",
            "--retries",
            "2",
            "test $PARALLEL_SSHHOST = node2 && echo ok {}",
            ":::",
            "a",
            "b",
            "c",
            "d",
        ],
        b"",
    );
}

/// `-j` is how many hosts run at once under `--nonall` and `--onall`, and
/// each host runs one job at a time: with `-j1` a rolling run, with no
/// two jobs at once (the hosts share this machine's files).
#[test]
fn one_job_at_a_time_per_host_and_j_hosts_at_once() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let dir = super::scratch("rolling");
    let lock = dir.join("lock");
    let script = format!(
        "mkdir {l} 2>/dev/null || echo overlap; sleep 0.3; rmdir {l}; echo done",
        l = lock.display()
    );
    let hosts = ["--ssh", &ssh, "-S", "node1,node2", "-k"];
    let mut nonall: Vec<&str> = hosts.to_vec();
    nonall.extend_from_slice(&["-j1", "--nonall", &script]);
    same(&nonall, b"");
    let script = format!("{script} {{}}");
    let mut onall: Vec<&str> = hosts.to_vec();
    onall.extend_from_slice(&["-j1", "--onall", &script, ":::", "a", "b"]);
    same(&onall, b"");
    let _ = fs::remove_dir_all(&dir);
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

/// `--env` as GNU parallel takes it: `A,B` names two variables, and the
/// name of an exported bash function (`export -f`) sends the function.
#[test]
fn env_lists_and_bash_functions() {
    let Some(sshd) = sshd() else { return };
    let Some(parallel) = parallel() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let args = [
        "--ssh",
        &ssh,
        "-S",
        "node1",
        "-k",
        "--env",
        "HEARTH_A,HEARTH_B",
        "--env",
        "greet",
        "greet {}; echo $HEARTH_A $HEARTH_B",
        ":::",
        "x",
        "y",
    ];
    let os: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let exported = |mut cmd: Command| {
        let _ = cmd
            .env("PARALLEL_SHELL", "/bin/bash")
            .env("HEARTH_A", "a")
            .env("HEARTH_B", "b")
            .env("BASH_FUNC_greet%%", "() {  echo \"hello $1\"\n}");
        cmd
    };
    let dir = super::scratch("env-functions");
    let theirs = super::gnu_with(parallel, &os, &dir, exported);
    let ours = super::hearth_with(&os, &dir, exported);
    let _ = fs::remove_dir_all(&dir);
    succeeded_as_gnu(&ours, &theirs, "hello x\na b\nhello y\na b\n");
}

/// hearth's run printed `want` and exited 0, and GNU parallel's printed
/// and exited the same.
#[track_caller]
fn succeeded_as_gnu(ours: &std::process::Output, theirs: &std::process::Output, want: &str) {
    assert_eq!(
        (ours.status.code(), String::from_utf8_lossy(&ours.stdout)),
        (Some(0), want.into()),
        "{}",
        super::shown(ours)
    );
    assert_eq!(
        (ours.status.code(), &ours.stdout),
        (theirs.status.code(), &theirs.stdout),
        "{}",
        super::shown(theirs)
    );
}

/// `$PARALLEL_SSH` is the ssh command when `--ssh` is not given, and
/// `-j` counts from the CPUs `N/host` gives a host: with `1/node1 -j2`
/// two jobs run there at once (each waits for the other's file).
#[test]
fn parallel_ssh_and_j_over_cpus_of_a_host() {
    let Some(sshd) = sshd() else { return };
    let Some(parallel) = parallel() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let dir = super::scratch("meet");
    let meet = format!(
        "touch {d}/{{}}; n=0; until [ -e {d}/$(echo {{}} | tr ab ba) ]; do \
         n=$((n+1)); [ $n -gt 1000 ] && exit 7; sleep 0.01; done; echo met {{}}",
        d = dir.display()
    );
    let args = ["-S", "1/node1", "-j2", "-k", &meet, ":::", "a", "b"];
    let os: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let with_ssh = |mut cmd: Command| {
        let _ = cmd.env("PARALLEL_SSH", &ssh);
        cmd
    };
    let theirs = super::gnu_with(parallel, &os, &dir, with_ssh);
    for file in ["a", "b"] {
        let _ = fs::remove_file(dir.join(file));
    }
    let ours = super::hearth_with(&os, &dir, with_ssh);
    let _ = fs::remove_dir_all(&dir);
    succeeded_as_gnu(&ours, &theirs, "met a\nmet b\n");
}

/// A host given with its own ssh command (`-S "ssh -F cfg node1"`, here
/// without `--ssh`): it is reached with that command, its whole text is
/// its name in tags and `$PARALLEL_SSHLOGIN`, and its last word's host is
/// `$PARALLEL_SSHHOST` and `{host}`; `N/` before it counts as for a name.
#[test]
fn hosts_with_their_own_ssh_command() {
    let Some(sshd) = sshd() else { return };
    let ssh: Vec<String> = sshd
        .ssh_command()
        .iter()
        .map(|word| shlex::try_quote(word).unwrap().into_owned())
        .collect();
    let ssh = ssh.join(" ");
    let hosts = format!("{ssh} node1,2/{ssh} -o LogLevel=ERROR node2");
    let with = |more: &[&'static str]| {
        let mut args: Vec<&str> = vec!["-S", &hosts, "-k"];
        args.extend_from_slice(more);
        args
    };
    same(
        &with(&[
            "--plus",
            "--onall",
            "--tag",
            "echo {} {host} $PARALLEL_SSHHOST $PARALLEL_SSHLOGIN",
            ":::",
            "a",
            "b",
        ]),
        b"",
    );
    same(&with(&["--nonall", "--tag", "exit 2"]), b"");
    same(&with(&["-j3", "echo {}", ":::", "x", "y", "z"]), b"");
    // `,,` is a comma of the ssh command, not between two hosts.
    let ciphers = format!("{ssh} -o Ciphers=aes128-ctr,,aes256-ctr node1");
    same(
        &[
            "-S",
            &ciphers,
            "--tag",
            "echo $PARALLEL_SSHLOGIN",
            ":::",
            "a",
        ],
        b"",
    );
}

/// GNU parallel's host lists: a host given twice is one, `--onall` and
/// `--nonall` run on the hosts in the order of their names, and `--slf -`
/// reads the hosts from the standard input.
#[test]
fn repeated_sorted_and_piped_hosts() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let tagged = |hosts: &'static str, more: &[&'static str]| {
        let mut args: Vec<&str> = vec!["--ssh", &ssh, "-k", "--tag"];
        args.extend_from_slice(&["-S", hosts]);
        args.extend_from_slice(more);
        same(&args, b"");
    };
    tagged("node2,node1", &["--onall", "echo", ":::", "a", "b"]);
    tagged("node1,node2,node1", &["--nonall", "echo x"]);
    tagged("1/node1,2/node1", &["--nonall", "echo x"]);
    same(
        &[
            "--ssh", &ssh, "--slf", "-", "--nonall", "-k", "--tag", "echo x",
        ],
        b"# the hosts\nnode2\n\nnode1\n",
    );
}

/// A remote job killed by a signal is logged as GNU parallel logs it:
/// its wrapper over ssh exits 128 + the signal, so the joblog says exit
/// 143 and signal 0 (on this machine, exit 0 and signal 15).
#[test]
fn joblog_of_a_remote_job_killed_by_a_signal() {
    let Some(logged) = remote_joblog("signal", &["-j1", "kill -{} $$", ":::", "TERM", "KILL"])
    else {
        return;
    };
    assert_eq!(logged[1..], ["1 node1 143 0", "2 node1 137 0"]);
}

/// A remote job stopped past `--timeout` is logged as GNU parallel logs
/// it: it ends the job's ssh, so the joblog says exit 255 and signal 0,
/// whether the job trapped the signal and exited or died of it (hearth's
/// slots are logged in: a job never times out during a login).
#[test]
fn joblog_of_a_remote_job_timed_out() {
    let Some(logged) = remote_joblog(
        "timeout",
        &[
            "-j2",
            // Long enough for GNU parallel's ssh to log in: killed while it
            // logs in, ssh dies of the signal (-1 15).
            "--timeout",
            "3",
            "{} sleep 10 & wait",
            ":::",
            "trap 'exit 3' TERM;",
            "",
        ],
    ) else {
        return;
    };
    let mut rows = logged[1..].to_vec();
    rows.sort();
    assert_eq!(rows, ["1 node1 255 0", "2 node1 255 0"]);
}

/// Runs hearth and GNU parallel with `args` on the private sshd's node1
/// and a joblog, checks that their exit statuses and joblogs agree (Seq,
/// Host, Exitval and Signal, in GNU parallel's order of lines) and
/// returns hearth's joblog rows; `name` names their scratch directories.
/// None if there is no sshd or GNU parallel.
fn remote_joblog(name: &str, args: &[&str]) -> Option<Vec<String>> {
    let sshd = sshd()?;
    let parallel = parallel()?;
    let ssh = sshd.ssh_command().join(" ");
    let logged = |dir: &std::path::Path| -> Vec<String> {
        let log = fs::read_to_string(dir.join("log")).unwrap_or_default();
        // Seq, Host, Exitval and Signal: the times differ.
        log.lines()
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                [0, 1, 6, 7]
                    .map(|i| fields.get(i).copied().unwrap_or(""))
                    .join(" ")
            })
            .collect()
    };
    let mut all = vec!["--ssh", &ssh, "-S", "node1", "--joblog", "log"];
    all.extend_from_slice(args);
    let os: Vec<&std::ffi::OsStr> = all.iter().map(std::ffi::OsStr::new).collect();
    let theirs_dir = super::scratch(&format!("{name}-log-gnu"));
    // The usual user's shell runs GNU parallel's ssh for each job (as the
    // last command of `bash -c`, ssh itself gets --termseq's signals and
    // exits 255; under dash, the shell dies of them).
    let theirs = super::gnu_with(parallel, &os, &theirs_dir, |mut cmd| {
        let _ = cmd.env("PARALLEL_SHELL", "/bin/bash");
        cmd
    });
    let dir = super::scratch(&format!("{name}-log"));
    let ours = super::hearth_with(&os, &dir, |cmd| cmd);
    // GNU parallel writes the rows as jobs end; hearth too, but two jobs
    // may end in either order.
    let sorted = |mut rows: Vec<String>| {
        rows[1..].sort();
        rows
    };
    assert_eq!(
        (ours.status.code(), sorted(logged(&dir))),
        (theirs.status.code(), sorted(logged(&theirs_dir))),
        "{}\n{}",
        super::shown(&ours),
        super::shown(&theirs)
    );
    let rows = logged(&dir);
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&theirs_dir);
    Some(rows)
}

/// GNU parallel's host groups in `-S`: `@g1/node1` puts node1 in group
/// g1, and `@g2` alone keeps the hosts of group g2 (every host is in the
/// group of its own name too).
#[test]
fn host_groups_keep_their_hosts() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    for keep in ["@g2", "@g1", "@node1+g2"] {
        same(
            &[
                "--ssh",
                &ssh,
                "-S",
                "@g1/node1,@g1+g2/node2",
                "-S",
                keep,
                "--nonall",
                "-k",
                "--tag",
                "echo $PARALLEL_SSHHOST",
            ],
            b"",
        );
    }
}
