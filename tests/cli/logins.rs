//! Hosts as GNU parallel users write them, over the private sshd: login
//! files (`--sshloginfile`), `N/host` for N slots, `user@host` and
//! `host:port` passed to ssh, and a malformed host as a usage error.

use std::fs;

use super::{assert_exit, hearth, scratch, sshd, stderr, stdout};

/// A login file with comments, blank lines, `N/host` and `:`: each host
/// gets its slots (node1 2, node2 1, this machine 1), numbered in order.
#[test]
fn login_file_gives_hosts_and_their_slots() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let dir = scratch("slf");
    let file = dir.join("hosts");
    fs::write(
        &file,
        "# the test's hosts\n2/node1\n\n  1/node2  \n# and here\n1/:\n",
    )
    .unwrap();
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "--slf",
            file.to_str().unwrap(),
            "--tag-host",
            "--",
            "echo {%}",
        ],
        super::numbers(300),
    );
    assert_exit(&output, 0);
    let out = stdout(&output);
    let mut seen = std::collections::BTreeSet::new();
    for line in out.lines() {
        let (host, slot) = line.split_once('\t').unwrap();
        let _ = seen.insert((host.to_owned(), slot.parse::<u32>().unwrap()));
    }
    for (host, slot) in &seen {
        let allowed: &[u32] = match host.as_str() {
            "node1" => &[1, 2],
            "node2" => &[3],
            "local" => &[4],
            _ => panic!("host {host}: {out}"),
        };
        assert!(allowed.contains(slot), "{host} ran slot {slot}: {out}");
    }
    let _ = fs::remove_dir_all(&dir);
}

/// `user@host` goes to ssh as the login (a user the server refuses is
/// refused), `host:port` as ssh's port (the server's own port works, a
/// closed one is refused on that port).
#[test]
fn user_and_port_go_to_ssh() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let me = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let good = format!("{}@node1:{}", me.trim(), sshd.port());
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            &good,
            "--tag-host",
            "echo",
            ":::",
            "x",
        ],
        "",
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), format!("{good}\tx\n"));
    let output = hearth(
        &[
            "map",
            "--ssh",
            &ssh,
            "-S",
            "nobody@node1",
            "echo",
            ":::",
            "x",
        ],
        "",
    );
    assert_exit(&output, 255);
    let err = stderr(&output);
    assert!(
        err.contains("authentication refused") && err.contains("nobody@"),
        "{err}"
    );
    let output = hearth(
        &["map", "--ssh", &ssh, "-S", "node1:9", "echo", ":::", "x"],
        "",
    );
    assert_exit(&output, 255);
    let err = stderr(&output);
    assert!(err.contains("port 9: Connection refused"), "{err}");
}

/// `user@` with no host is a usage error before any slot starts (it was a
/// pool that failed, after ssh tried to reach a host named `user@`).
#[test]
fn malformed_host_is_a_usage_error() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let connections = sshd.log_count("Connection from");
    for (host, says) in [
        ("root@", "bad host \"root@\": no host after the @"),
        ("node1:ssh", "\"ssh\" is not a port"),
        ("0/node1", "give 1 to 1024 slots"),
    ] {
        let output = hearth(&["map", "--ssh", &ssh, "-S", host, "echo", ":::", "x"], "");
        assert_exit(&output, 255);
        let err = stderr(&output);
        assert!(err.contains(says), "{host}: {err}");
        assert!(!err.contains("pool failed"), "{host}: {err}");
    }
    assert_eq!(sshd.log_count("Connection from"), connections);
}

/// `--ssh-delay`: at most one ssh started per delay: the two hosts'
/// logins and their slots' sessions start at least the delay apart (the
/// times of the debug log), and the command runs as usual. GNU parallel's
/// manual (20221122), which this follows (a timing, so not compared
/// side by side): "--ssh-delay duration: Delay starting next ssh by
/// duration. GNU parallel will not start another ssh for the next
/// duration."
#[test]
fn ssh_delay_spaces_the_sshs_it_starts() {
    let Some(sshd) = sshd() else { return };
    let ssh = sshd.ssh_command().join(" ");
    let args = [
        "map",
        "--ssh",
        &ssh,
        "-S",
        "node1,node2",
        "-j",
        "1",
        "--ssh-delay",
        "0.3",
        "--nonall",
        "echo",
        "hi",
    ];
    let output = super::command(&args, &super::run_tag())
        .env("HEARTH_LOG", "debug")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "hi\nhi\n");
    let err = stderr(&output);
    // The seconds of the day of a log line (`2026-12-07T10:20:30.123456Z`).
    let seconds = |line: &str| -> f64 {
        let time = &line[line.find('T').unwrap() + 1..line.find('Z').unwrap()];
        let mut parts = time.split(':').map(|p| p.parse::<f64>().unwrap());
        let (h, m, s) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        h * 3600.0 + m * 60.0 + s
    };
    let started: Vec<f64> = err
        .lines()
        .filter(|l| l.contains("ssh master logging in") || l.contains("slot started"))
        .map(seconds)
        .collect();
    // A login and a session on each host (--nonall: the command once on
    // every host, so every host's slot starts).
    assert_eq!(started.len(), 4, "{err}");
    // The log's times are taken after each ssh was spawned, which takes
    // longer one time than another: a generous margin for that.
    for pair in started.windows(2) {
        assert!(pair[1] - pair[0] >= 0.2, "{started:?}\n{err}");
    }
    assert!(started[3] - started[0] >= 0.8, "{started:?}\n{err}");
}
