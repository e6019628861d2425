//! `hearth map --nonall` / `--onall` and `hearth run` over the private
//! sshd's two hosts: the command (or every input) once on every host, the
//! output grouped and tagged per host, an unreachable host said and
//! counted, the others run.

use super::{assert_exit, hearth, sshd, stderr, stdout};

/// `--nonall --tag`: the command once on each host, each host's lines
/// together and tagged with it; each ran on the one slot of its own host
/// (GNU parallel runs one job at a time on each: node1's slot is 1,
/// node2's 2).
#[test]
fn nonall_runs_once_on_every_host_grouped_and_tagged() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "--nonall",
            "--tag",
            "echo slot $PARALLEL_JOBSLOT; echo second",
        ],
        "",
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("node1\tslot "), "{out}");
    assert_eq!(lines[1], "node1\tsecond", "{out}");
    assert!(lines[2].starts_with("node2\tslot "), "{out}");
    assert_eq!(lines[3], "node2\tsecond", "{out}");
    let slot = |line: &str| line.rsplit(' ').next().unwrap().parse::<u32>().unwrap();
    assert_eq!(slot(lines[0]), 1, "{out}");
    assert_eq!(slot(lines[2]), 2, "{out}");
}

/// `--onall`: every input on every host, grouped per host in input order;
/// the exit status counts the hosts where a job failed (two hosts: 2, as
/// GNU parallel, which runs each host's jobs as one), and the summary
/// names host and job.
#[test]
fn onall_runs_every_input_on_every_host_and_counts_each() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "--onall",
            "--tag",
            "echo {}; exit {}",
            ":::",
            "0",
            "1",
            "2",
        ],
        "",
    );
    assert_exit(&output, 2);
    assert_eq!(
        stdout(&output),
        "node1\t0\nnode1\t1\nnode1\t2\nnode2\t0\nnode2\t1\nnode2\t2\n"
    );
    let err = stderr(&output);
    assert!(
        err.contains("4 of 6 jobs failed: node1 #2 (exit 1), node1 #3 (exit 2), node2 #2"),
        "{err}"
    );
}

/// A host that cannot be reached is said as such and counts as a failed
/// job; the other host runs the command.
#[test]
fn nonall_unreachable_host_is_said_and_the_others_run() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "closed,node1",
            "--nonall",
            "--tag",
            "echo",
            "x",
        ],
        "",
    );
    assert_exit(&output, 1);
    assert_eq!(stdout(&output), "node1\tx\n");
    let err = stderr(&output);
    assert!(
        err.contains("hearth map: closed: could not be reached: ssh could not connect")
            && err.contains("Connection refused"),
        "{err}"
    );
}

/// `hearth run` with a pdsh range: `host: ` before each line, a summary
/// of the hosts that failed, the exit status their number.
#[test]
fn run_prefixes_lines_with_the_host_and_sums_up_failures() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let output = hearth(
        &[
            "run",
            "--ssh",
            &ssh,
            "-S",
            "node[1-2]",
            "--",
            "echo",
            "hello",
        ],
        "",
    );
    assert_exit(&output, 0);
    let mut lines: Vec<String> = stdout(&output).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["node1: hello", "node2: hello"]);
    assert_eq!(stderr(&output), "");
    let output = hearth(
        &[
            "run",
            "--ssh",
            &ssh,
            "-S",
            "node[1-2],closed",
            "echo out; echo err >&2; [ $PARALLEL_JOBSLOT -gt 2 ] && exit 3; true",
        ],
        "",
    );
    assert_exit(&output, 2);
    let mut lines: Vec<String> = stdout(&output).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["node1: out", "node2: out"]);
    let err = stderr(&output);
    for said in [
        "node1: err\n",
        "node2: err\n",
        "hearth run: closed: could not be reached: ssh could not connect",
        "hearth run: node2: exit 3\n",
        "hearth run: 2 of 3 hosts failed: closed, node2\n",
    ] {
        assert!(err.contains(said), "{said:?} not in: {err}");
    }
}

/// Inputs with --nonall, bad ranges: usage errors that say what to do.
#[test]
fn nonall_with_inputs_and_bad_ranges_are_usage_errors() {
    let output = hearth(&["map", "--nonall", "echo", ":::", "a"], "");
    assert_exit(&output, 255);
    assert!(
        stderr(&output)
            .contains("--nonall runs the command once on every host and takes no inputs"),
        "{}",
        stderr(&output)
    );
    let output = hearth(&["run", "-S", "node[3-1]", "true"], "");
    super::assert_own_error(&output, "the range 3-1 runs backwards");
}

/// A pdsh command line, run by pdsh (over the same ssh, through
/// `PDSH_SSH_ARGS`) and by `hearth run` with the same words: the same
/// lines, in any order (both print them as they come).
#[test]
fn pdsh_command_lines_print_what_pdsh_prints() {
    let Some(sshd) = sshd() else { return };
    let Some(pdsh) = super::pdsh::pdsh() else {
        return;
    };
    let config = sshd.config_path().display().to_string();
    let ssh = sshd.ssh_command().join(" ");
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".to_owned());
    let dir = sshd.scratch("pdsh-hosts");
    std::fs::create_dir_all(&dir).unwrap();
    let wcoll = dir.join("hosts");
    std::fs::write(&wcoll, "node1\n# a comment\nnode2\n").unwrap();
    let wcoll = wcoll.display().to_string();
    let hat = format!("^{wcoll}");
    let user_at = format!("{user}@node2");
    let cases: Vec<Vec<&str>> = vec![
        vec!["-w", "node[1-2]", "echo", "hello"],
        vec!["-N", "-w", "node[1-2]", "echo hi; echo there"],
        vec!["-w", "node[1-2]", "-x", "node2", "echo", "one"],
        vec!["-w", "node[1-2],-node1", "echo", "two"],
        vec![
            "-R", "ssh", "-l", &user, "-t", "5", "-u", "30", "-w", "node1", "echo", "x",
        ],
        vec!["-w", &hat, "echo", "from a file"],
        vec!["-w", &user_at, "echo", "as the user"],
        vec!["-f", "1", "-w", "node[1-2]", "echo", "fanned"],
    ];
    let sorted = |out: &[u8]| {
        let mut lines: Vec<String> = String::from_utf8_lossy(out)
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    // The same words to pdsh and to `hearth run`: their outputs.
    let both = |args: &[&str]| {
        let theirs = std::process::Command::new(pdsh)
            .args(args)
            .env("PDSH_RCMD_TYPE", "ssh")
            .env("PDSH_SSH_ARGS", format!("-F {config} -l%u %h"))
            .output()
            .unwrap();
        let mut ours_args = vec!["run", "--ssh", &ssh];
        ours_args.extend(args.iter().copied());
        (theirs, hearth(&ours_args, ""))
    };
    for args in &cases {
        let (theirs, ours) = both(args);
        assert_exit(&ours, 0);
        assert_eq!(
            sorted(&ours.stdout),
            sorted(&theirs.stdout),
            "{args:?}: pdsh said {}",
            String::from_utf8_lossy(&theirs.stderr)
        );
    }
    // pdsh's -S (another option after it): the largest exit status, where
    // hearth's own is the number of hosts that failed.
    for (args, status) in [
        (vec!["-S", "-w", "node[1-2]", "exit 3"], 3),
        (vec!["-S", "-w", "node[1-2]", "true"], 0),
        (vec!["-w", "node[1-2]", "exit 3"], 2),
    ] {
        let (theirs, ours) = both(&args);
        assert_exit(&ours, status);
        if args[0] == "-S" {
            assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        }
        // hearth started as `pdsh` (a link) exits as pdsh does, -S or not.
        let link = dir.join("pdsh");
        if !link.exists() {
            std::os::unix::fs::symlink(super::HEARTH, &link).unwrap();
        }
        let as_pdsh = std::process::Command::new(&link)
            .args(["--ssh", &ssh])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(as_pdsh.status.code(), theirs.status.code(), "{args:?}");
    }
    // $WCOLL when no host is named.
    let ours = super::command(&["run", "--ssh", &ssh, "echo", "w"], &super::run_tag())
        .env("WCOLL", &wcoll)
        .output()
        .unwrap();
    assert_exit(&ours, 0);
    assert_eq!(sorted(&ours.stdout), ["node1: w", "node2: w"]);
    // Every host left out: a usage error that says so.
    let output = hearth(&["run", "-w", "node1", "-x", "node1", "true"], "");
    super::assert_own_error(&output, "no hosts are left once -x");
}

/// pdsh's `-f 1`, a rolling run: on three hosts (two over ssh, one this
/// machine, all sharing its files) each command takes a directory as a
/// lock and holds it a while. One host at a time, every `mkdir` finds the
/// lock free; two at once, one of them fails.
#[test]
fn fanout_of_one_runs_one_host_at_a_time() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let lock = sshd.scratch("fanout").join("lock").display().to_string();
    let command = format!("mkdir {lock} && sleep 0.2 && rmdir {lock} && echo done");
    let output = hearth(
        &[
            "run",
            "--ssh",
            &ssh,
            "-f",
            "1",
            "-S",
            "node1,node2,:",
            &command,
        ],
        "",
    );
    assert_exit(&output, 0);
    let mut lines: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["local: done", "node1: done", "node2: done"],
        "{}",
        stderr(&output)
    );
    // A fanout of 0 is a usage error.
    let output = hearth(&["run", "-f", "0", "-S", ":", "true"], "");
    assert_exit(&output, 255);
}

/// `hearth run` never runs the command twice on a host: a host whose
/// connection dies before any output is a failed host (255 with -S, as
/// pdsh's ssh that died), not tried again on another of its slots;
/// `--attempts` asks for more.
#[test]
fn run_tries_each_host_once() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let dir = sshd.scratch("run-once");
    let count = dir.join("count").display().to_string();
    // The job's shell kills its worker, the slot's end of the connection.
    let command = format!("echo ran >> {count}; kill -KILL $PPID");
    let output = hearth(&["run", "--ssh", &ssh, "-S", "-w", "node1", &command], "");
    assert_exit(&output, 255);
    let ran = std::fs::read_to_string(&count).unwrap();
    assert_eq!(ran, "ran\n", "{}", stderr(&output));
    assert!(stderr(&output).contains("node1"), "{}", stderr(&output));
    std::fs::remove_file(&count).unwrap();
    let output = hearth(
        &[
            "run",
            "--ssh",
            &ssh,
            "--attempts",
            "2",
            "-S",
            "-w",
            "node1",
            &command,
        ],
        "",
    );
    assert_exit(&output, 255);
    let ran = std::fs::read_to_string(&count).unwrap();
    assert_eq!(ran, "ran\nran\n", "{}", stderr(&output));
}
