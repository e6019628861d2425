//! hearth started as `pdsh` (a link of that name) beside pdsh itself,
//! over the private sshd: the same command lines, read with pdsh's getopt
//! rules, print the same lines and exit with the same status.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::stdout;
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
        let sshd = Sshd::start_or_skip(&["node1", "node2", "node3", "node4"])?;
        let pdsh = pdsh()?;
        let link = sshd.scratch(name).join("pdsh");
        std::os::unix::fs::symlink(super::HEARTH, &link).unwrap();
        Some(Both { sshd, pdsh, link })
    }

    /// pdsh, over the private sshd (through `PDSH_SSH_ARGS`), with `args`,
    /// `env` (an empty value unsets) and `stdin`.
    fn theirs(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
        let config = self.sshd.config_path().display().to_string();
        let mut cmd = Command::new(self.pdsh);
        let _ = cmd
            .args(args)
            .env("PDSH_RCMD_TYPE", "ssh")
            .env("PDSH_SSH_ARGS", format!("-F {config} -l%u %h"));
        with_env(&mut cmd, env);
        output(cmd, stdin)
    }

    /// hearth started as `pdsh`, over the private sshd (through `--ssh`,
    /// unless `env` sets pdsh's ssh variables), with `args`, `env` (an
    /// empty value unsets) and `stdin`.
    fn ours(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
        let ssh = self.sshd.ssh_command().join(" ");
        let mut cmd = Command::new(&self.link);
        if !env
            .iter()
            .any(|(name, _)| name.starts_with("PDSH_SSH_ARGS"))
        {
            let _ = cmd.args(["--ssh", &ssh]);
        }
        let _ = cmd
            .args(args)
            .env_remove("HEARTH_LOG")
            .env("PDSH_RCMD_TYPE", "ssh");
        with_env(&mut cmd, env);
        output(cmd, stdin)
    }

    /// The same words to both: the same lines on stdout (in any order)
    /// and the same exit status.
    #[track_caller]
    fn same(&self, args: &[&str], env: &[(&str, &str)]) -> (Output, Output) {
        self.same_with_stdin(args, env, "")
    }

    /// [`Both::same`], both given `stdin`.
    #[track_caller]
    fn same_with_stdin(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: &str,
    ) -> (Output, Output) {
        let theirs = self.theirs(args, env, stdin);
        let ours = self.ours(args, env, stdin);
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

/// `env` set in `cmd`'s environment; an empty value unsets.
fn with_env(cmd: &mut Command, env: &[(&str, &str)]) {
    for (name, value) in env {
        let _ = if value.is_empty() {
            cmd.env_remove(name)
        } else {
            cmd.env(name, value)
        };
    }
}

/// Runs `cmd` with `stdin` written to it; its output.
fn output(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let output = super::wait_output(child);
    writer.join().unwrap();
    output
}

/// The user the private sshd lets in.
fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A command line and its environment.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

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

/// pdsh's host lists: `^FILE` in -x and `-^FILE` in -w, regular
/// expressions that keep (`/RE/`) or drop (`-/RE/`, `-x /RE/`) hosts, a
/// `-x HOST` that leaves out `user@HOST`, host files with several hosts a
/// line and comments, `-w -` from stdin, hosts separated by whitespace,
/// and `ssh:` before a host.
#[test]
fn host_lists_as_pdsh_reads_them() {
    let Some(both) = Both::start("host-lists") else {
        return;
    };
    let dir = both.sshd.scratch("host-list-files");
    let out = dir.join("out");
    std::fs::write(&out, "node2, node3 # two of them\n# none\n").unwrap();
    let lines = dir.join("lines");
    std::fs::write(&lines, "node1 node2 # the first two\n\nnode3,node4\n").unwrap();
    let (out, lines) = (out.display().to_string(), lines.display().to_string());
    let user = user();
    let (out_hat, lines_hat) = (format!("^{out}"), format!("^{lines}"));
    let at_range = format!("{user}@node[1-2]");
    let ssh_at = format!("ssh:{user}@node[1-2]");
    let minus_hat = format!("node[1-4],-^{out}");
    let cases: Vec<Vec<&str>> = vec![
        vec!["-w", "node[1-4]", "-x", &out_hat, "echo", "a"],
        vec!["-w", &minus_hat, "echo", "b"],
        vec!["-w", "node[1-4]", "-x", "/node[23]/", "echo", "c"],
        vec!["-w", "node[1-4],-/node[23]/", "echo", "d"],
        vec!["-w", "node[1-4],/node[23]/", "echo", "e"],
        vec!["-w", &at_range, "-x", "node2", "echo", "f"],
        vec!["-w", &lines_hat, "echo", "g"],
        vec!["-w", "node1 node2", "echo", "h"],
        vec!["-w", "ssh:node1", "echo", "i"],
        vec!["-w", &ssh_at, "echo", "j"],
    ];
    for args in cases {
        let (_, ours) = both.same(&args, &[]);
        assert!(!ours.stdout.is_empty(), "{args:?}");
    }
    let _ = both.same_with_stdin(&["-w", "-", "echo", "k"], &[], "node1\nnode3\n");
    let _ = both.same(&["echo", "l"], &[("WCOLL", &lines)]);
}

/// `-l USER` is for the hosts given without a user: `user@host` keeps its
/// own, as in pdsh (`-l nobody -w root@node1 whoami` prints root).
#[test]
fn a_user_in_the_host_list_wins_over_dash_l() {
    let Some(both) = Both::start("users") else {
        return;
    };
    let user = user();
    let at = format!("{user}@node1");
    let (_, ours) = both.same(&["-l", "nobody", "-w", &at, "whoami"], &[]);
    assert_eq!(stdout(&ours), format!("node1: {user}\n"));
    let _ = both.same(&["-l", &user, "-w", "node[1-2]", "whoami"], &[]);
}

/// `-u 0` (no command timeout) and `-t 0` (the default connect timeout)
/// are pdsh's, not usage errors.
#[test]
fn zero_timeouts_are_none() {
    let Some(both) = Both::start("zero-timeouts") else {
        return;
    };
    let (_, ours) = both.same(&["-u", "0", "-t", "0", "-w", "node1", "echo", "ok"], &[]);
    assert_eq!(stdout(&ours), "node1: ok\n");
    let _ = both.same(&["-u0", "-t0", "-w", "node1", "echo", "ok"], &[]);
}

/// pdsh's environment variables: the ssh options of `$PDSH_SSH_ARGS`
/// (its `%u` and `%h` aside) and `$PDSH_SSH_ARGS_APPEND`, `$DSHPATH`
/// for the command's PATH, `$PDSH_COMMAND_TIMEOUT` and
/// `$PDSH_CONNECT_TIMEOUT` as -u and -t, `$FANOUT` as -f.
#[test]
fn environment_variables_as_pdsh_reads_them() {
    let Some(both) = Both::start("environment") else {
        return;
    };
    let config = both.sshd.config_path().display().to_string();
    let template = format!("-F {config} -l%u %h");
    let append = format!("-F {config}");
    let env_cases: [Case<'_>; 6] = [
        (
            &["-w", "node[1-2]", "echo", "a"],
            &[("PDSH_SSH_ARGS", &template)],
        ),
        (
            &["-w", "node1", "echo", "b"],
            &[("PDSH_SSH_ARGS", ""), ("PDSH_SSH_ARGS_APPEND", &append)],
        ),
        (
            &["-w", "node1", "echo", "c"],
            &[
                ("PDSH_SSH_ARGS", "-2 -a -x -l%u %h"),
                ("PDSH_SSH_ARGS_APPEND", &append),
            ],
        ),
        (
            &["-w", "node1", "echo $PATH"],
            &[("DSHPATH", "/opt/none:/bin:/usr/bin")],
        ),
        (
            &["-w", "node1", "echo", "d"],
            &[("PDSH_CONNECT_TIMEOUT", "5")],
        ),
        (
            &["-S", "-w", "node1", "sleep 60; echo never"],
            &[("PDSH_COMMAND_TIMEOUT", "1")],
        ),
    ];
    for (args, env) in env_cases {
        let _ = both.same(args, env);
    }
    // $FANOUT=1: one host at a time, so every `mkdir` finds the lock
    // free (two at once, one of them would fail).
    let lock = both
        .sshd
        .scratch("fanout")
        .join("lock")
        .display()
        .to_string();
    let command = format!("mkdir {lock} && sleep 0.2 && rmdir {lock} && echo done");
    let (_, ours) = both.same(&["-S", "-w", "node[1-3]", &command], &[("FANOUT", "1")]);
    assert_eq!(sorted(&ours), ["node1: done", "node2: done", "node3: done"]);
}

/// pdsh's own answers: usage errors exit 1, `-V` a version line (exit 0),
/// `-q` the settings and the hosts (exit 0, nothing run), `-h` the usage
/// on stderr (exit 1, as pdsh's).
#[test]
fn usage_version_query_and_help_as_pdsh() {
    let Some(both) = Both::start("answers") else {
        return;
    };
    for args in [
        &["-w", "node1", "-Z", "echo"][..],
        &["-w"],
        &["-w", "node1", "-f", "x", "echo"],
        &["-R", "rsh", "-w", "node1", "echo"],
        &["echo", "no hosts"],
    ] {
        let (theirs, ours) = both.same(args, &[("WCOLL", "")]);
        assert_eq!(theirs.status.code(), Some(1), "{args:?}");
        assert!(!ours.stderr.is_empty(), "{args:?}");
    }
    let (theirs, ours) = (both.theirs(&["-V"], &[], ""), both.ours(&["-V"], &[], ""));
    assert_eq!(ours.status.code(), theirs.status.code());
    assert!(stdout(&ours).starts_with("pdsh-"), "{}", stdout(&ours));
    assert!(
        stdout(&ours).contains("rcmd modules: ssh"),
        "{}",
        stdout(&ours)
    );
    let query = [
        "-q",
        "-l",
        "bob",
        "-w",
        "node[1-3],root@node4",
        "-x",
        "node2",
    ];
    let (theirs, ours) = (both.theirs(&query, &[], ""), both.ours(&query, &[], ""));
    assert_eq!(ours.status.code(), theirs.status.code());
    let out = stdout(&ours);
    for line in [
        "-- DSH-specific options --",
        "Remote username\t\tbob",
        "Rcmd type\t\tssh",
        "Display hostname labels\tYes",
        "-- Target nodes --\nnode[1,3-4]\n",
    ] {
        assert!(out.contains(line), "{line:?} not in {out}");
        assert!(stdout(&theirs).contains(line.split(['\t', '\n']).next().unwrap()));
    }
    // The hosts as pdsh ranges them (they were listed one by one), and
    // the connect timeout's default.
    let line = |out: &str, start: &str| {
        out.lines()
            .skip_while(|line| !line.starts_with(start))
            .nth(usize::from(start.starts_with("--")))
            .map(str::to_owned)
    };
    for start in ["-- Target nodes --", "Connect timeout"] {
        assert_eq!(
            line(&out, start),
            line(&stdout(&theirs), start),
            "{start}: {out}"
        );
    }
    let (theirs, ours) = (both.theirs(&["-h"], &[], ""), both.ours(&["-h"], &[], ""));
    assert_eq!(ours.status.code(), theirs.status.code());
    let usage = String::from_utf8_lossy(&ours.stderr);
    assert!(
        usage.starts_with("Usage: pdsh [-options] command ...\n"),
        "{usage}"
    );
    assert!(
        usage.contains("\n-S                return largest"),
        "{usage}"
    );
}

/// The lines of stderr that pdsh itself writes (`pdsh@HOST: ...`), sorted.
fn pdsh_lines(output: &Output) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.starts_with("pdsh@"))
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

/// Failures said as pdsh says them on stderr (`pdsh@HOST: node1: ssh
/// exited with exit code 3`, `... command timeout`), and output that
/// `dshbak` groups as it groups pdsh's.
#[test]
fn failures_are_said_as_pdsh_says_them() {
    let Some(both) = Both::start("failures") else {
        return;
    };
    let cases: &[&[&str]] = &[
        &["-w", "node[1-2]", "exit 3"],
        &["-S", "-w", "closed,node1", "true"],
        &["-S", "-u", "1", "-w", "node1", "sleep 60"],
        &["-S", "-w", "node1", "kill -9 $$"],
        &["-S", "-w", "node1", "kill -9 $PPID"],
        &["-w", "node1", "echo fine"],
    ];
    for args in cases {
        let (theirs, ours) = both.same(args, &[]);
        assert_eq!(
            pdsh_lines(&ours),
            pdsh_lines(&theirs),
            "{args:?}: hearth said {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        // pdsh's lines only, no hearth's own besides them.
        let said = String::from_utf8_lossy(&ours.stderr);
        assert!(
            !said.lines().any(|line| line.starts_with("hearth")),
            "{args:?}: {said}"
        );
    }
    let args = ["-w", "node[1-3]", "echo a; echo b; hostname >/dev/null"];
    let (theirs, ours) = both.same(&args, &[]);
    let dshbak = |output: &Output| {
        let mut cmd = Command::new("dshbak");
        let _ = cmd.arg("-c");
        stdout(&self::output(cmd, &stdout(output)))
    };
    assert_eq!(dshbak(&ours), dshbak(&theirs));
}

/// pdsh's `%h`, `%u`, `%n` and `%%` are replaced in the command, GNU
/// parallel's `{}` and `{1}` are not: a command is pdsh's, word for word
/// (`find -exec ... {} ;` and awk's `{print}` reach the host intact).
#[test]
fn percent_escapes_and_braces_as_pdsh_sends_them() {
    let Some(both) = Both::start("escapes") else {
        return;
    };
    let cases: &[&[&str]] = &[
        &[
            "-w",
            "node2,node1",
            "echo %u %h %n %% x%hx {} {1} {.} '{print}'",
        ],
        &["-w", "node1", "echo a b | awk '{print $2}'"],
        &["-w", "node1", "-l", "root", "echo", "%u@%h", "%%h"],
        // A host named twice runs twice, as in pdsh.
        &["-w", "node2,node1,node1", "echo %h %n"],
    ];
    for args in cases {
        let _ = both.same(args, &[]);
    }
}

/// pdsh's exec module (`-R exec`, or `$PDSH_RCMD_TYPE=exec`): the command
/// runs here once per host, without a shell (each word one argument),
/// `%h` the host's name, `%u` the user (`-l`'s), `%n` the rank; failures
/// are said with the command's name, and `-S` gives the largest status.
#[test]
fn the_exec_module_runs_the_command_here_per_host() {
    let Some(pdsh) = pdsh() else { return };
    let dir = super::scratch("pdsh-exec");
    let link = dir.join("pdsh");
    std::os::unix::fs::symlink(super::HEARTH, &link).unwrap();
    let run = |program: &Path, args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(program);
        let _ = cmd
            .args(args)
            .env_remove("HEARTH_LOG")
            .env_remove("PDSH_RCMD_TYPE");
        with_env(&mut cmd, env);
        output(cmd, "")
    };
    let cases: &[Case<'_>] = &[
        (
            &[
                "-R", "exec", "-w", "h2,h1,a3", "echo", "%u %h", "%n", "%%", "x%hx", "{}",
            ],
            &[],
        ),
        (
            &[
                "-R",
                "exec",
                "-w",
                "h[1-2]",
                "sh",
                "-c",
                "echo $0; exit 3",
                "%h",
            ],
            &[],
        ),
        (
            &["-S", "-w", "h[1-3]", "-x", "h2", "sh", "-c", "exit 4"],
            &[("PDSH_RCMD_TYPE", "exec")],
        ),
        (
            &["-R", "exec", "-w", "h1,me@h2", "-l", "bob", "echo", "%u"],
            &[],
        ),
        (
            &[
                "-R", "exec", "-N", "-w", "h1", "printf", "%s\\n", "a  b", "",
            ],
            &[],
        ),
        // Values are arguments, never shell code; arguments end at the
        // first empty one.
        (
            &[
                "-R",
                "exec",
                "-l",
                "a;echo INJECT",
                "-w",
                "h1",
                "echo",
                "%u",
            ],
            &[],
        ),
        (&["-R", "exec", "-w", "a'b", "echo", "%h", "x%hx"], &[]),
        (
            &["-R", "exec", "-w", "h1", "printf", "[%s]", "x", "", "y"],
            &[],
        ),
        // The module named before the hosts, and said by -q.
        (&["-w", "exec:h1,exec:h2", "echo", "%h"], &[]),
        (&["-R", "exec", "-w", "h1", "-q"], &[]),
        (&["-w", "h1", "-q"], &[("PDSH_RCMD_TYPE", "exec")]),
    ];
    for (args, env) in cases {
        let theirs = run(Path::new(pdsh), args, env);
        let ours = run(&link, args, env);
        if args.contains(&"-q") {
            // The settings: the module's line (the paths differ).
            let rcmd = |out: &Output| {
                stdout(out)
                    .lines()
                    .find(|line| line.starts_with("Rcmd type"))
                    .map(str::to_owned)
            };
            assert_eq!(rcmd(&ours), rcmd(&theirs), "{args:?}");
            continue;
        }
        assert_eq!(
            (sorted(&ours), ours.status.code(), pdsh_lines(&ours)),
            (sorted(&theirs), theirs.status.code(), pdsh_lines(&theirs)),
            "{args:?}: pdsh said {}; hearth said {}",
            String::from_utf8_lossy(&theirs.stderr),
            String::from_utf8_lossy(&ours.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A command for the exec module that shows how many hosts run at once:
/// each host's run marks itself in `run/`, writes how many marks it saw
/// to `seen/HOST`, and waits until `fanout` marks are there at once (or
/// every host is marked or done), so that a run that never has `fanout`
/// hosts at once never ends (its last guard fails it), and one that has
/// more shows it.
const GATHER: &str = r#"
dir=$1 total=$2 fanout=$3 host=$4
: > "$dir/run/$host"
ls "$dir/run" | wc -l > "$dir/seen/$host"
tries=0
while :; do
    running=$(ls "$dir/run" | wc -l)
    echo "$running" >> "$dir/seen/$host"
    [ "$running" -ge "$fanout" ] && break
    [ $((running + $(ls "$dir/done" | wc -l))) -ge "$total" ] && break
    tries=$((tries + 1))
    [ "$tries" -gt 3000 ] && { echo "never $fanout at once"; exit 9; }
    sleep 0.02
done
rm "$dir/run/$host"
: > "$dir/done/$host"
echo ran
"#;

/// Runs `program` (pdsh, or hearth as pdsh) with the exec module over
/// `total` hosts and `args` (`-f N`), `env` set: `fanout` hosts must run
/// at once, never more. Returns what went wrong, if anything.
fn check_fanout(
    program: &Path,
    total: usize,
    fanout: usize,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<(), String> {
    let dir = super::scratch("pdsh-fanout");
    for sub in ["run", "seen", "done"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    let hosts = format!("h[1-{total}]");
    let (dir_arg, total_arg, fanout_arg) = (
        dir.display().to_string(),
        total.to_string(),
        fanout.to_string(),
    );
    let mut cmd = Command::new(program);
    let _ = cmd
        .args(["-R", "exec", "-S", "-w", &hosts])
        .args(args)
        .args(["sh", "-c", GATHER, "sh"])
        .args([&dir_arg, &total_arg, &fanout_arg, "%h"])
        .env_remove("HEARTH_LOG")
        .env_remove("FANOUT")
        .env_remove("PDSH_RCMD_TYPE");
    with_env(&mut cmd, env);
    let out = output(cmd, "");
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.code() != Some(0) || stdout(&out).lines().count() != total {
        return Err(format!(
            "{}: exit {:?}, {}; {said}",
            program.display(),
            out.status.code(),
            stdout(&out)
        ));
    }
    let most = (1..=total)
        .flat_map(|host| {
            let seen = std::fs::read_to_string(dir.join("seen").join(format!("h{host}"))).unwrap();
            seen.lines()
                .map(|n| n.trim().parse::<usize>().unwrap())
                .collect::<Vec<_>>()
        })
        .max();
    let _ = std::fs::remove_dir_all(&dir);
    match most {
        Some(most) if most == fanout => Ok(()),
        _ => Err(format!(
            "{}: at most {most:?} hosts at once, not {fanout}",
            program.display()
        )),
    }
}

/// pdsh's fanout: at most -f hosts (else `$FANOUT`, else 32) run the
/// command at once, and as many as that do; hearth once started every
/// host at once without -f. pdsh itself, if installed, passes the same
/// check.
#[test]
fn the_fanout_bounds_the_hosts_run_at_once() {
    let dir = super::scratch("pdsh-fanout-link");
    let link = dir.join("pdsh");
    std::os::unix::fs::symlink(super::HEARTH, &link).unwrap();
    let mut programs = vec![link];
    programs.extend(pdsh().map(PathBuf::from));
    for program in &programs {
        check_fanout(program, 7, 3, &["-f", "3"], &[]).unwrap();
        check_fanout(program, 5, 2, &[], &[("FANOUT", "2")]).unwrap();
        check_fanout(program, 4, 1, &["-f1"], &[("FANOUT", "3")]).unwrap();
        check_fanout(program, 34, 32, &[], &[]).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The exec module's failures as pdsh's: a program that cannot start
/// (`execvp ... failed`, exit 255, not the shell's 127 or 126), one a
/// signal killed (said, and 0 for -S), and one past -u (`command
/// timeout`, how it ended, and 254 for -S).
#[test]
fn exec_module_failures_as_pdsh_says_them() {
    let Some(pdsh) = pdsh() else { return };
    let dir = super::scratch("pdsh-exec-failures");
    let link = dir.join("pdsh");
    std::os::unix::fs::symlink(super::HEARTH, &link).unwrap();
    let not_executable = dir.join("plain");
    std::fs::write(&not_executable, "echo\n").unwrap();
    let plain = not_executable.display().to_string();
    let cases: &[&[&str]] = &[
        &["-w", "h1,h2", "no-such-command-here", "%h"],
        &["-S", "-w", "h1,h2", "no-such-command-here", "%h"],
        &["-S", "-w", "h1", &plain],
        &["-S", "-w", "h1", "sh", "-c", "kill -9 $$"],
        &["-w", "h1", "sh", "-c", "kill -15 $$"],
        &["-S", "-u", "1", "-w", "h1,h2", "sleep", "60"],
        &[
            "-S",
            "-u",
            "1",
            "-w",
            "h1",
            "sh",
            "-c",
            "trap 'exit 7' TERM; sleep 60 & wait",
        ],
    ];
    let run = |program: &Path, args: &[&str]| {
        let mut cmd = Command::new(program);
        let _ = cmd
            .args(["-R", "exec"])
            .args(args)
            .env_remove("HEARTH_LOG")
            .env_remove("PDSH_RCMD_TYPE");
        output(cmd, "")
    };
    // pdsh's own lines, and the labelled ones its program wrote (`h1:
    // pdsh@ME: execvp ...`), without the pid pdsh names as it stops one.
    let said = |out: &Output| {
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|line| line.contains("pdsh@") && !line.starts_with("sending signal"))
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    for args in cases {
        let (theirs, ours) = (run(Path::new(pdsh), args), run(&link, args));
        assert_eq!(
            (sorted(&ours), ours.status.code(), said(&ours)),
            (sorted(&theirs), theirs.status.code(), said(&theirs)),
            "{args:?}: pdsh said {}; hearth said {}",
            String::from_utf8_lossy(&theirs.stderr),
            String::from_utf8_lossy(&ours.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Output lines and pdsh's own lines label a host up to its first dot
/// when the hosts share their domain (`node1.example.com` is `node1`),
/// but not an address, nor hosts of different domains; hearth once
/// labelled every host in full.
#[test]
fn labels_drop_the_domain_the_hosts_share() {
    let Some(pdsh) = pdsh() else { return };
    let dir = super::scratch("pdsh-labels");
    let link = dir.join("pdsh");
    std::os::unix::fs::symlink(super::HEARTH, &link).unwrap();
    let cases: &[&[&str]] = &[
        &[
            "-S",
            "-w",
            "u@h1.x.com,h2.x.com,h3",
            "sh",
            "-c",
            "echo x; exit 2",
        ],
        &["-w", "h1.a.com,h2.b.com", "echo", "%h"],
        &["-w", "10.0.0.1,10.0.0.2", "echo", "%h"],
        &["-w", "h1.x.com", "no-such-command-here"],
    ];
    for args in cases {
        let run = |program: &Path| {
            let mut cmd = Command::new(program);
            let _ = cmd
                .args(["-R", "exec"])
                .args(*args)
                .env_remove("HEARTH_LOG")
                .env_remove("PDSH_RCMD_TYPE");
            output(cmd, "")
        };
        let (theirs, ours) = (run(Path::new(pdsh)), run(&link));
        assert_eq!(
            (sorted(&ours), ours.status.code(), pdsh_lines(&ours)),
            (sorted(&theirs), theirs.status.code(), pdsh_lines(&theirs)),
            "{args:?}: pdsh said {}; hearth said {}",
            String::from_utf8_lossy(&theirs.stderr),
            String::from_utf8_lossy(&ours.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bad host range of -w or -x names the option given (it said `-S`,
/// which started as pdsh is the -S of the exit status), a bad -u says
/// what to write, an empty -l is said as such; usage errors exit 1, as
/// pdsh's.
#[test]
fn bad_host_ranges_and_timeouts_name_their_option() {
    let dir = super::scratch("pdsh-bad-input");
    let link = dir.join("pdsh");
    std::os::unix::fs::symlink(super::HEARTH, &link).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["-w", "h[1-", "echo"], "-w \"h[1-\": a [ without its ]"),
        (
            &["-w", "h1", "-x", "h]", "echo"],
            "-x \"h]\": a ] without its [",
        ),
        (
            &["-u", "-1", "-w", "h1", "echo"],
            "a duration cannot be negative",
        ),
        // It was read as the host group `@h1`.
        (&["-l", "", "-w", "h1", "echo"], "-l is empty"),
    ];
    for (args, says) in cases {
        let mut cmd = Command::new(&link);
        let _ = cmd
            .args(["-R", "exec"])
            .args(*args)
            .env_remove("HEARTH_LOG")
            .env_remove("PDSH_RCMD_TYPE");
        let out = output(cmd, "");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains(says), "{args:?}: {said}");
        assert!(!said.contains("panicked"), "{args:?}: {said}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
