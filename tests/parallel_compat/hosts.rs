//! GNU parallel and `hearth map` on the private sshd's two hosts (`-S
//! node1,node2`, the same `--ssh` for both): `--nonall` and `--onall`
//! print the same, tagged or not, with the same exit status.

use super::{parallel, same};
use crate::sshd::Sshd;

/// The private sshd, or `None` to skip (GNU parallel missing too).
fn sshd() -> Option<Sshd> {
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
