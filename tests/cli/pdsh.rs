//! hearth started as `pdsh` (a link of that name) beside pdsh itself,
//! over the private sshd: the same command lines, read with pdsh's getopt
//! rules, print the same lines and exit with the same status.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::{sshd, stdout};
use crate::sshd::Sshd;

/// pdsh itself, if installed (Debian package `pdsh`): `None`, said on
/// stderr, to skip; a failure instead with `HEARTH_REQUIRE_PDSH=1` (as in
/// CI).
pub(super) fn pdsh() -> Option<&'static str> {
    let found = Command::new("pdsh")
        .arg("-V")
        .output()
        .is_ok_and(|out| out.status.success() || !out.stderr.is_empty());
    if found {
        Some("pdsh")
    } else if std::env::var_os("HEARTH_REQUIRE_PDSH").is_some_and(|v| v == "1") {
        panic!("pdsh is not installed, and HEARTH_REQUIRE_PDSH=1")
    } else {
        let test = std::thread::current().name().unwrap_or("?").to_owned();
        eprintln!("skipped: {test}: pdsh is not installed");
        None
    }
}

/// The private sshd, pdsh and hearth linked as `pdsh`, side by side.
struct Both {
    sshd: Sshd,
    pdsh: &'static str,
    link: PathBuf,
}

impl Both {
    /// `None` (said) when sshd or pdsh is missing and not required.
    fn start(name: &str) -> Option<Both> {
        let sshd = sshd()?;
        let pdsh = pdsh()?;
        let link = sshd.scratch(name).join("pdsh");
        std::os::unix::fs::symlink(super::HEARTH, &link).unwrap();
        Some(Both { sshd, pdsh, link })
    }

    /// pdsh, over the private sshd (through `PDSH_SSH_ARGS`), with `args`
    /// and `env`.
    fn theirs(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let config = self.sshd.config_path().display().to_string();
        Command::new(self.pdsh)
            .args(args)
            .env("PDSH_RCMD_TYPE", "ssh")
            .env("PDSH_SSH_ARGS", format!("-F {config} -l%u %h"))
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// hearth started as `pdsh`, over the private sshd (through `--ssh`),
    /// with `args` and `env`.
    fn ours(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let ssh = self.sshd.ssh_command().join(" ");
        Command::new(&self.link)
            .args(["--ssh", &ssh])
            .args(args)
            .env_remove("HEARTH_LOG")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// The same words to both: the same lines on stdout (in any order)
    /// and the same exit status.
    #[track_caller]
    fn same(&self, args: &[&str], env: &[(&str, &str)]) -> (Output, Output) {
        let (theirs, ours) = (self.theirs(args, env), self.ours(args, env));
        assert_eq!(
            sorted(&ours),
            sorted(&theirs),
            "{args:?}: pdsh said {}; hearth said {}",
            String::from_utf8_lossy(&theirs.stderr),
            String::from_utf8_lossy(&ours.stderr)
        );
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{args:?}: pdsh said {}; hearth said {}",
            String::from_utf8_lossy(&theirs.stderr),
            String::from_utf8_lossy(&ours.stderr)
        );
        (theirs, ours)
    }
}

/// The lines of stdout, sorted.
fn sorted(output: &Output) -> Vec<String> {
    let mut lines: Vec<String> = stdout(output).lines().map(String::from).collect();
    lines.sort();
    lines
}

/// pdsh's `-S` is a flag wherever it stands, alone or in a bundle, and
/// its options end at the command's first word (whose own `-n` is its
/// own): `-w node1 -S cat /etc/hostname` once made `cat` a host.
#[test]
fn options_are_read_as_pdshs_getopt_reads_them() {
    let Some(both) = Both::start("getopt") else {
        return;
    };
    let cases: &[&[&str]] = &[
        &["-w", "node1", "-S", "cat", "/etc/hostname"],
        &["-w", "node1", "-S", "exit 3"],
        &["-w", "node1", "-S", "node2", "echo", "hi"],
        &["-SNw", "node1", "exit 4"],
        &["-NS", "-w", "node1", "echo", "-n", "hi"],
        &["-Sw", "node1", "echo", "bundled"],
        &["-Swnode1", "-N", "echo", "attached"],
        &["-b", "-d", "-wnode[1-2]", "--", "echo", "-e", "a"],
        &["-w", "node1", "-l", "root", "-f1", "echo", "-S", "-w", "x"],
    ];
    for args in cases {
        let _ = both.same(args, &[]);
    }
}
