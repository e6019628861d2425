//! `hearth map` as a drop-in for GNU parallel: each test runs GNU parallel
//! and `hearth map` with the same options on the same input and compares
//! their stdout and exit status (and joblogs, result files).
//!
//! GNU parallel runs with `--will-cite`, `PARALLEL_SHELL=/bin/sh` (hearth
//! too: both would take the shell that started them, `shell_of_the_caller`
//! compares that) and `HOME` set to an empty directory, so no
//! `~/.parallel` is read. Without GNU parallel each test prints `skipped:
//! GNU parallel is not installed` and passes, unless
//! `HEARTH_REQUIRE_PARALLEL=1` (as in CI), where that is a failure.

#![cfg(feature = "cli")]

#[path = "parallel_compat/color.rs"]
mod color;
#[path = "parallel_compat/hosts.rs"]
mod hosts;
#[path = "parallel_compat/killed.rs"]
mod killed;
#[path = "parallel_compat/named.rs"]
mod named;
#[path = "parallel_compat/options.rs"]
mod options;
#[path = "parallel_compat/perl.rs"]
mod perl;
#[path = "parallel_compat/pipe.rs"]
mod pipe;
#[path = "parallel_compat/pipe_part.rs"]
mod pipe_part;
#[path = "util/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "parallel_compat/semaphore.rs"]
mod semaphore;
#[path = "parallel_compat/settled.rs"]
mod settled;
#[path = "parallel_compat/slots.rs"]
mod slots;
#[path = "util/sshd.rs"]
#[allow(dead_code)]
mod sshd;
#[path = "parallel_compat/templates.rs"]
mod templates;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use std::{env, fs, thread};

const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

/// Where GNU parallel is, or `None` (after saying so) to skip.
fn parallel() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let path = env::var_os("PATH").unwrap_or_default();
        env::split_paths(&path)
            .map(|dir| dir.join("parallel"))
            .find(|p| {
                Command::new(p)
                    .arg("--version")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .output()
                    .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"GNU parallel"))
            })
    });
    match found {
        Some(path) => Some(path),
        None if env::var_os("HEARTH_REQUIRE_PARALLEL").is_some_and(|v| v == "1") => {
            panic!("GNU parallel is not installed, and HEARTH_REQUIRE_PARALLEL=1")
        }
        None => {
            // Past the harness's capture: a skipped test shows as `ok`.
            let test = std::thread::current().name().unwrap_or("?").to_owned();
            let line = format!("skipped: {test}: GNU parallel is not installed\n");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            None
        }
    }
}

/// An empty directory for GNU parallel's `HOME`, under cargo's temporary
/// directory for tests (in `target/`), as [`scratch`]'s are: one a run,
/// never in `/tmp`.
fn empty_home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("hearth-compat-home-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// A fresh directory for one test's files, under cargo's temporary
/// directory for tests (in `target/`), not the system's: a run leaves
/// nothing in `/tmp`.
fn scratch(name: &str) -> PathBuf {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "hearth-compat-{name}-{}-{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `program ARGS` in `dir` with `stdin`; a last guard kills it after
/// two minutes.
fn run(cmd: Command, stdin: &[u8]) -> Output {
    try_run(cmd, stdin, Duration::from_mins(2)).expect("did not exit in time")
}

/// [`run`], `None` (the process killed) past `limit`.
fn try_run(mut cmd: Command, stdin: &[u8], limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let _ = thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: kill(2) on our own child, not yet waited for.
            let _ = unsafe { libc::kill(pid, libc::SIGKILL) };
            return None;
        }
    };
    writer.join().unwrap();
    Some(output)
}

/// GNU parallel with `args`. GNU parallel 20221122 itself now and then
/// hangs (`--pipe --bin`, in its fifos: about one run in a hundred here):
/// a run that takes more than a minute is killed and run again, up to
/// three times. hearth's runs are never retried.
fn gnu(parallel: &Path, args: &[&OsStr], stdin: &[u8], dir: &Path) -> Output {
    (0..3)
        .find_map(|_| {
            try_run(
                gnu_command(parallel, args, dir),
                stdin,
                Duration::from_mins(1),
            )
        })
        .expect("GNU parallel hung three times")
}

/// GNU parallel with `args` and no input, its command changed by `more`.
fn gnu_with(
    parallel: &Path,
    args: &[&OsStr],
    dir: &Path,
    more: impl FnOnce(Command) -> Command,
) -> Output {
    run(more(gnu_command(parallel, args, dir)), b"")
}

fn gnu_command(parallel: &Path, args: &[&OsStr], dir: &Path) -> Command {
    let mut cmd = Command::new(parallel);
    let _ = cmd
        .arg("--will-cite")
        .args(args)
        .current_dir(dir)
        .env("HOME", empty_home())
        .env("PARALLEL_SHELL", "/bin/sh")
        .env_remove("PARALLEL");
    cmd
}

/// `hearth map` with `args`.
fn hearth(args: &[&OsStr], stdin: &[u8], dir: &Path) -> Output {
    run(hearth_command(args, dir), stdin)
}

/// `hearth map` with `args` and no input, its command changed by `more`.
fn hearth_with(args: &[&OsStr], dir: &Path, more: impl FnOnce(Command) -> Command) -> Output {
    run(more(hearth_command(args, dir)), b"")
}

fn hearth_command(args: &[&OsStr], dir: &Path) -> Command {
    let mut cmd = Command::new(HEARTH);
    // GNU parallel's HOME and no $PARALLEL: no profile, as for it.
    let _ = cmd
        .arg("map")
        .args(args)
        .current_dir(dir)
        .env("HOME", empty_home())
        .env("PARALLEL_SHELL", "/bin/sh")
        .env_remove("PARALLEL")
        .env_remove("HEARTH_LOG");
    cmd
}

/// `args` run by `tool` in `dir` with `stdin`: GNU parallel (at
/// `parallel`) for `"parallel"`, `hearth map` for any other.
fn run_by(tool: &str, parallel: &Path, args: &[&str], stdin: &[u8], dir: &Path) -> Output {
    let os: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    if tool == "parallel" {
        gnu(parallel, &os, stdin, dir)
    } else {
        hearth(&os, stdin, dir)
    }
}

fn shown(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs both with `args` on `stdin` and returns (GNU parallel's, hearth's)
/// outputs; `None` to skip.
fn both(args: &[&str], stdin: &[u8]) -> Option<(Output, Output)> {
    let parallel = parallel()?;
    let dir = scratch("run");
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let theirs = gnu(parallel, &args, stdin, &dir);
    let ours = hearth(&args, stdin, &dir);
    let _ = fs::remove_dir_all(&dir);
    Some((theirs, ours))
}

/// Both print the same stdout and exit with the same status.
#[track_caller]
fn same(args: &[&str], stdin: &[u8]) {
    let Some((theirs, ours)) = both(args, stdin) else {
        return;
    };
    assert_eq!(
        (ours.status.code(), ours.stdout.escape_ascii().to_string()),
        (
            theirs.status.code(),
            theirs.stdout.escape_ascii().to_string()
        ),
        "{args:?}\n--- hearth map: {}\n--- GNU parallel: {}",
        shown(&ours),
        shown(&theirs)
    );
}

/// Without `PARALLEL_SHELL`, both run the jobs with the shell that
/// started them: bash's `[[ ]]` and `$BASH_VERSION` under bash; under
/// sh, `[[` is not found, in both. `PARALLEL_SHELL` names the shell
/// whatever started them.
#[test]
fn shell_of_the_caller() {
    let Some(parallel) = parallel() else { return };
    let command = r#"[[ {} == a* ]] && echo "{} ${BASH_VERSION:+bash}" || echo "not {}""#;
    for (caller, chosen) in [("bash", None), ("sh", None), ("sh", Some("bash"))] {
        let dir = scratch("caller-shell");
        let run_under = |program: &str| {
            let mut cmd = Command::new(caller);
            let _ = cmd
                // Not `exec`ed in place of the shell: it stays the caller.
                .args(["-c", r#""$@"; exit $?"#, caller, program])
                .current_dir(&dir)
                .env("HOME", empty_home())
                .env_remove("PARALLEL_SHELL")
                .env_remove("PARALLEL")
                .env_remove("HEARTH_LOG");
            if let Some(shell) = chosen {
                let _ = cmd.env("PARALLEL_SHELL", shell);
            }
            cmd
        };
        let mut theirs = run_under(parallel.to_str().unwrap());
        let _ = theirs.args(["--will-cite", "-k", command, ":::", "ab", "cd"]);
        let mut ours = run_under(HEARTH);
        let _ = ours.args(["map", command, ":::", "ab", "cd"]);
        let (theirs, ours) = (run(theirs, b""), run(ours, b""));
        assert_eq!(
            (ours.status.code(), String::from_utf8_lossy(&ours.stdout)),
            (
                theirs.status.code(),
                String::from_utf8_lossy(&theirs.stdout)
            ),
            "under {caller}, PARALLEL_SHELL {chosen:?}\n--- hearth map: {}\n--- GNU parallel: {}",
            shown(&ours),
            shown(&theirs)
        );
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Both print the same lines in any order, and exit with the same status.
#[track_caller]
fn same_lines(args: &[&str], stdin: &[u8]) {
    let Some((theirs, ours)) = both(args, stdin) else {
        return;
    };
    let sorted = |out: &Output| {
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(
        (ours.status.code(), sorted(&ours)),
        (theirs.status.code(), sorted(&theirs)),
        "{args:?}\n--- hearth map: {}\n--- GNU parallel: {}",
        shown(&ours),
        shown(&theirs)
    );
}

const PATHS: &[&str] = &[
    "a.b.c",
    "nodot",
    ".bashrc",
    "dir.d/file",
    "dir.d/.hid",
    "x/",
    "a/b/",
    "..",
    "/r",
    "/x/y.z/a.b.c",
    "sp ace/q.t",
];

fn with_list<'a>(args: &[&'a str], list: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.push(":::");
    all.extend_from_slice(list);
    all
}

#[test]
fn replacement_strings() {
    for command in [
        "echo {} {.} {/} {//} {/.} {#}",
        "echo {}",
        "echo",
        "echo x{}y{.}z",
        "echo {1} {1.} {1/} {1//} {1/.} {-1}",
    ] {
        let mut args = vec!["-k", command];
        args.push(":::");
        args.extend_from_slice(PATHS);
        same(&args, b"");
        let mut dry = vec!["--dry-run"];
        dry.extend_from_slice(&args);
        same(&dry, b"");
    }
}

#[test]
fn positional_strings_of_several_sources() {
    for command in [
        "echo {1} {2} {1.} {2/} {1//} {2/.} {-1} {-2} {3}",
        "echo {}",
        "echo",
        "echo {.} {/}",
    ] {
        same(
            &["-k", command, ":::", "a/b.c", "d e.f", ":::", "/x/y.z", "w"],
            b"",
        );
        same(
            &[
                "--dry-run",
                "-k",
                command,
                ":::",
                "a/b.c",
                "d e.f",
                ":::",
                "/x/y.z",
                "w",
            ],
            b"",
        );
    }
}

#[test]
fn quoting_of_values() {
    let values = [
        "a b",
        "it's",
        "'",
        "x$y",
        "",
        "a=b",
        "a,b",
        "a%b",
        "a@b",
        "a:b",
        "é",
        "tab\there",
        "*",
        "a;b",
        "$(echo hi)",
        "`echo hi`",
        "\\",
        "a\"b",
        "~",
        "!",
        "-n",
    ];
    let input: String = values.iter().map(|v| v.to_string() + "\n").collect();
    same(&["-k", "printf", "'<%s>\\n'"], input.as_bytes());
    same(&["-k", "printf '<%s>\\n' {} {.}"], input.as_bytes());
    same(
        &["-k", "--dry-run", "printf '<%s>\\n' {} {/}"],
        input.as_bytes(),
    );
    same(&with_list(&["-k", "--dry-run", "echo", "{}"], &values), b"");
}

#[test]
fn renamed_replacement_strings() {
    same(&["-k", "-I", ",,", "echo ,, {}", ":::", "a.b", "c"], b"");
    same(
        &[
            "-k",
            "--er",
            "XX",
            "--bnr",
            "BB",
            "--dnr",
            "DD",
            "--bner",
            "EE",
            "--seqreplace",
            "SS",
            "echo XX BB DD EE SS {.}",
            ":::",
            "a/b.c",
            "d.e",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "--extensionreplace",
            "XX",
            "--basenamereplace",
            "BB",
            "--dirnamereplace",
            "DD",
            "--basenameextensionreplace",
            "EE",
            "echo XX BB DD EE",
            ":::",
            "a/b.c",
        ],
        b"",
    );
}

/// `{%}` is the number of the slot that runs the job: between 1 and the
/// number of slots, and `PARALLEL_JOBSLOT` in the job's environment; `{#}`
/// is `PARALLEL_SEQ`.
#[test]
fn slot_and_sequence_numbers() {
    let Some(parallel) = parallel() else { return };
    let dir = scratch("slots");
    let args: Vec<&OsStr> = ["-j", "3", "echo {%} $PARALLEL_JOBSLOT {#} $PARALLEL_SEQ"]
        .iter()
        .map(OsStr::new)
        .collect();
    let input: String = (1..=30).map(|i| i.to_string() + "\n").collect();
    for output in [
        gnu(parallel, &args, input.as_bytes(), &dir),
        hearth(&args, input.as_bytes(), &dir),
    ] {
        assert!(output.status.success(), "{}", shown(&output));
        let text = String::from_utf8(output.stdout.clone()).unwrap();
        let mut seqs = Vec::new();
        for line in text.lines() {
            let words: Vec<u32> = line
                .split(' ')
                .take(4)
                .map(|w| w.parse().unwrap())
                .collect();
            assert!((1..=3).contains(&words[0]), "{text}");
            assert_eq!(words[0], words[1], "{text}");
            assert_eq!(words[2], words[3], "{text}");
            seqs.push(words[2]);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=30).collect::<Vec<_>>(), "{text}");
    }
}

/// `PARALLEL_JOBSLOT` is set whether or not the command holds `{%}` (it
/// was set only with `{%}`).
#[test]
fn jobslot_is_always_in_the_environment() {
    let Some(parallel) = parallel() else { return };
    let dir = scratch("jobslot");
    let args: Vec<&OsStr> = ["-j", "3", "echo $PARALLEL_JOBSLOT $PARALLEL_SEQ"]
        .iter()
        .map(OsStr::new)
        .collect();
    let input: String = (1..=30).map(|i| i.to_string() + "\n").collect();
    for output in [
        gnu(parallel, &args, input.as_bytes(), &dir),
        hearth(&args, input.as_bytes(), &dir),
    ] {
        assert!(output.status.success(), "{}", shown(&output));
        let text = String::from_utf8(output.stdout.clone()).unwrap();
        assert_eq!(text.lines().count(), 30, "{text}");
        for line in text.lines() {
            let slot: Option<u32> = line.split(' ').next().and_then(|w| w.parse().ok());
            assert!(slot.is_some_and(|s| (1..=3).contains(&s)), "{text}");
        }
    }
}

/// Two jobs running at once never share a slot number: each job holds a
/// lock named after its `{%}` while it runs.
#[test]
fn running_jobs_never_share_a_slot_number() {
    let dir = scratch("slot-locks");
    let script = format!(
        "mkdir {d}/slot-{{%}} || echo clash {{%}}; sleep 0.01; rmdir {d}/slot-{{%}}",
        d = dir.display()
    );
    let input: String = (1..=40).map(|i| i.to_string() + "\n").collect();
    let args: Vec<&OsStr> = ["-j", "4", script.as_str()]
        .into_iter()
        .map(OsStr::new)
        .collect();
    let output = hearth(&args, input.as_bytes(), &dir);
    assert!(output.status.success(), "{}", shown(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
}

#[test]
fn unordered_runs_print_the_same_lines() {
    let input: String = (1..=50).map(|i| i.to_string() + "\n").collect();
    same_lines(&["-j", "4", "echo {#}-{}"], input.as_bytes());
}

/// Writes `files` (name, content) into a fresh directory and runs both
/// there.
#[track_caller]
fn same_in(files: &[(&str, &[u8])], args: &[&str], stdin: &[u8]) {
    let Some(parallel) = parallel() else { return };
    let dir = scratch("files");
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
    let os: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let theirs = gnu(parallel, &os, stdin, &dir);
    let ours = hearth(&os, stdin, &dir);
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(
        (ours.status.code(), ours.stdout.escape_ascii().to_string()),
        (
            theirs.status.code(),
            theirs.stdout.escape_ascii().to_string()
        ),
        "{args:?}\n--- hearth map: {}\n--- GNU parallel: {}",
        shown(&ours),
        shown(&theirs)
    );
}

#[test]
fn several_sources_combine_and_link() {
    let files: &[(&str, &[u8])] = &[("fa", b"f1\nf2\n"), ("fb", b"g1\ng2\ng3\n")];
    for args in [
        &["-k", "echo", ":::", "a", "b", ":::", "1", "2", ":::", "x"][..],
        &[
            "-k", "echo", ":::", "a", "b", ":::+", "1", "2", "3", ":::", "x", "y",
        ],
        &["-k", "echo", ":::", "a", "b", "c", ":::+", "1", "2"],
        &["-k", "echo", "::::", "fa", "fb"],
        &["-k", "echo", "::::", "fa", "::::+", "fb"],
        &["-k", "echo", ":::", "a", "b", "::::", "fa"],
        &["-k", "-a", "fa", "-a", "fb", "echo"],
        &["-k", "-a", "fa", "echo", ":::", "x", "y"],
        &["-k", "--arg-file", "fb", "echo", "{}"],
        &["-k", "echo {2} {1}", ":::", "a", "b", "::::", "fb"],
    ] {
        same_in(files, args, b"");
    }
    // stdin as a source, and as the default.
    same_in(files, &["-k", "echo", ":::", "x", "::::", "-"], b"s1\ns2\n");
    same_in(files, &["-k", "-a", "-", "-a", "fa", "echo"], b"s1\ns2\n");
    same_in(files, &["-k", "echo", "::::", "-", ":::", "x"], b"s1\ns2\n");
}

/// A CR before a newline stays in the value, as GNU parallel reads it;
/// --colsep's trimming takes it off the last column, a header's line
/// drops it.
#[test]
fn carriage_returns_before_newlines_stay() {
    let crlf: &[u8] = b"x\ty\r\na\tb\r\nc\r\n";
    let files: &[(&str, &[u8])] = &[("crlf", crlf)];
    for args in [
        &["-k", "echo", "[{}]", "::::", "crlf"][..],
        &["-k", "-d", "\\n", "echo", "[{}]", "::::", "crlf"],
        &[
            "-k",
            "--colsep",
            "\\t",
            "echo",
            "[{1}][{2}]",
            "::::",
            "crlf",
        ],
        &[
            "-k", "--colsep", "\\t", "--trim", "n", "echo", "[{2}]", "::::", "crlf",
        ],
        &["-k", "--header", ":", "echo", "[{y}]", "::::", "crlf"],
        &["-k", "--header", "0", "echo", "[{2}]", "::::", "crlf"],
    ] {
        same_in(files, args, b"");
    }
    same(&["-k", "echo", "[{}]"], crlf);
}

#[test]
fn columns_and_headers() {
    let tsv: &[u8] = b"name\tage\nann\t3\nbob smith\t4\n";
    let files: &[(&str, &[u8])] = &[("h.tsv", tsv)];
    for args in [
        &[
            "-k",
            "--header",
            ":",
            "--colsep",
            "\\t",
            "echo {name} is {age}",
            "::::",
            "h.tsv",
        ][..],
        &[
            "-k", "--header", ":", "--colsep", "\\t", "echo", "::::", "h.tsv",
        ],
        // --header without --colsep splits on tabs, untrimmed.
        &["-k", "--header", ":", "echo [{name}] {2}", "::::", "h.tsv"],
        &["-k", "--header", ":", "echo", "[{1}]", ":::", "x", " y\tz "],
        &["-k", "--colsep", "\\t", "echo {2} {1} {}", "::::", "h.tsv"],
        &["-k", "-C", "\\t", "echo {3}x", "::::", "h.tsv"],
        &[
            "-k",
            "--header",
            ":",
            "echo {A} {B.}",
            ":::",
            "A",
            "a1",
            "a2.x",
            ":::",
            "B",
            "b.1",
        ],
        &["-k", "--colsep", ",+", "echo {2} {1}", ":::", "a,,b", "c,d"],
        &[
            "-k",
            "--colsep",
            " ",
            "echo {1}-{2}-{3}-{4}",
            ":::",
            "a b  c",
            " x",
            "y ",
        ],
        // Any --header but 0 is one header input a source, whatever it
        // says (a number of lines, a regex), as GNU parallel takes it
        // without --pipe; 0 is none, the columns still split on tabs.
        &["-k", "--header", "1", "echo {name}/{age}", "::::", "h.tsv"],
        &["-k", "--header", "2", "echo {age}", "::::", "h.tsv"],
        &[
            "-k",
            "--header",
            "name.*\\n",
            "echo {name}",
            "::::",
            "h.tsv",
        ],
        &["-k", "--header", "0", "echo {2}", "::::", "h.tsv"],
        &[
            "-k", "--header", "1", "echo", ":::", "a", "b", "::::", "h.tsv",
        ],
    ] {
        same_in(files, args, b"");
    }
}

#[test]
fn delimiters() {
    same(&["-k", "-0", "echo \"<{}>\""], b"a b\0c\nd\0\0e");
    same(&["-k", "--null", "echo"], b"x\0y");
    same(&["-k", "-d", ":", "echo \"<{}>\""], b"a:b:c\n");
    same(&["-k", "-d", ":", "echo"], b"a:b:");
    same(&["-k", "-d", "XY", "echo"], b"aXYbXYc");
    same(&["-k", "-d", "\\t", "echo"], b"a\tb\n");
    same(&["-k", "--delimiter", "\\n", "echo"], b"a\n\nb\n");
    same(&["-k", "echo \"<{}>\""], b"a\n\nb");
}

#[test]
fn several_inputs_per_job() {
    let five = ["a", "b", "c", "d", "e"];
    let seven = ["1", "2", "3", "4", "5", "6", "7"];
    for (args, list) in [
        (&["-k", "-N2", "echo {} {1} {2}"][..], &five[..]),
        (&["-k", "-N2", "echo"], &five),
        (&["-k", "-N", "3", "echo {3}-{1}"], &seven),
        (&["-k", "-n2", "echo"], &five),
        (&["-k", "-n2", "echo {} x"], &five),
        (&["-k", "--max-args", "3", "echo"], &seven),
        (&["-k", "-j2", "-X", "echo pre{}post"], &five),
        (&["-k", "-j4", "-X", "echo x{}"], &five),
        (&["-k", "-j3", "-X", "echo x{}"], &seven),
        (&["-k", "-j3", "-m", "echo"], &seven),
        (&["-k", "-j1", "-m", "echo pre{}post"], &five),
        (&["-k", "-j3", "-n2", "-X", "echo x{}"], &seven),
        (&["-k", "-j2", "--xargs", "echo"], &five),
        (
            &["-k", "-j1", "-s", "14", "-m", "echo"],
            &["aa", "bb", "cc", "dd", "ee"],
        ),
        (
            &["-k", "-j1", "-s", "13", "-m", "echo"],
            &["aa", "bb", "cc", "dd", "ee"],
        ),
        (&["-k", "-j1", "-s", "12", "-X", "echo 'x{}'"], &five),
        (
            &["-k", "-j2", "-X", "echo {.}"],
            &["a.1", "b.2", "c", "d", "e"],
        ),
        (&["-k", "-N2", "echo {1}-{2}-{3}"], &five),
    ] {
        same(&with_list(args, list), b"");
        let mut dry = vec!["--dry-run"];
        dry.extend_from_slice(args);
        same(&with_list(&dry, list), b"");
    }
    // Several sources and columns: the fields of the records, in order.
    same(
        &[
            "-k",
            "-N2",
            "echo {1}-{2}",
            ":::",
            "a",
            "b",
            ":::",
            "1",
            "2",
        ],
        b"",
    );
    same(
        &[
            "-k", "-j3", "-m", "echo", ":::", "a", "b", "c", ":::", "1", "2",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "--colsep",
            ",",
            "-N2",
            "echo {1}-{2}-{3}",
            ":::",
            "a,b",
            "c,d",
            "e,f",
        ],
        b"",
    );
}

/// --retries N runs a failing job N times in all (each run's output
/// printed with -u), as GNU parallel counts them.
#[test]
fn retries_count_the_runs_in_all() {
    for runs in ["1", "2", "3"] {
        same(
            &["-u", "--retries", runs, "echo try {}; exit 1", ":::", "a"],
            b"",
        );
        same(
            &[
                "-k",
                "--retries",
                runs,
                "echo try {}; exit {}",
                ":::",
                "1",
                "0",
            ],
            b"",
        );
    }
}

/// Without a command, each job's inputs are its command line: words
/// after `:::`, lines of stdin (a file of commands), several inputs
/// joined by spaces; quoted whole with `-q`.
#[test]
fn inputs_are_the_commands_without_a_command() {
    same(&["-k", ":::", "echo a", "echo b"], b"");
    same(&["-k", ":::", "echo", "printf", ":::", "a", "b"], b"");
    same(&["-k", "-N2", ":::", "echo", "a", "echo", "b"], b"");
    same(&["-k"], b"echo a\nexit 3\necho 'b  c'\n");
    same(&["--dry-run", ":::", "echo  x"], b"");
    same(&["-k", "--tag", ":::", "echo x"], b"");
    same(&["-q", ":::", "echo x"], b"");
    // --pipe needs a command to read the blocks.
    same(&["--pipe"], b"1\n");
}

/// A long input fills lines up to `-s`, the last ones spread over the
/// slots, as GNU parallel fills them.
#[test]
fn lines_filled_up_to_the_limit() {
    let input: String = (1..=3000).map(|i| i.to_string() + "\n").collect();
    for args in [
        &["-k", "-j3", "-s", "1000", "-m", "echo"][..],
        &["-k", "-j3", "-s", "2000", "-X", "echo x{}y"],
        &["-k", "-j2", "-s", "1500", "--xargs", "echo"],
    ] {
        let mut dry = vec!["--dry-run"];
        dry.extend_from_slice(args);
        same(&dry, input.as_bytes());
        same(args, input.as_bytes());
    }
}

/// Without `-s`, and with an `-s` above GNU parallel's limit (which it
/// takes instead, with a warning), the lines are as long as GNU
/// parallel's: the same jobs.
#[test]
fn lines_filled_up_to_gnu_parallels_limit() {
    let input: String = (1..=40_000).map(|i| i.to_string() + "\n").collect();
    for args in [
        &["-k", "-j1", "-X", "echo"][..],
        &["-k", "-j2", "-m", "echo"],
        &["-k", "-j1", "--xargs", "-s", "100000", "echo"],
    ] {
        let mut dry = vec!["--dry-run"];
        dry.extend_from_slice(args);
        same(&dry, input.as_bytes());
    }
}

/// `-s` without `-m` or `-X` bounds each job's command line; a line that
/// does not fit is "Command line too long", exit 255, whatever the mode
/// (at the first input here: GNU parallel runs the jobs before a later
/// one or not, as its timing goes).
#[test]
fn command_lines_too_long_stop_the_run() {
    let long = "a".repeat(33);
    for args in [
        &["-s", "100", "echo", ":::", "a", "b"][..],
        &["-k", "-s", "20", "-N2", "echo", ":::", "aaa", "bbb", "ccc"],
        &["-s", "20", "echo", ":::", &long, "b"],
        &["-X", "-s", "20", "echo", ":::", &long],
        &["-m", "-s", "20", "echo", ":::", &long, "b"],
    ] {
        same(args, b"");
    }
}

#[test]
fn shuffled_jobs_are_the_same_jobs() {
    let input: String = (1..=100).map(|i| i.to_string() + "\n").collect();
    same_lines(&["--shuf", "echo"], input.as_bytes());
    same_lines(
        &["--shuf", "echo", ":::", "a", "b", ":::", "1", "2", "3"],
        b"",
    );
}

/// `--halt now` stops at a failure at once, though a job before it in
/// input order still runs: the running job is killed, and neither its
/// output nor (with -k) any after it is printed; without -k the failed
/// job's own is. The first job runs until it is killed.
#[test]
fn halt_now_does_not_wait_for_earlier_jobs() {
    let forever = "if [ {} = a ]; then echo start; until [ -e never ]; do sleep 0.01; done; fi; \
                   echo {}; exit 1";
    same(
        &[
            "-k",
            "-j2",
            "--halt",
            "now,fail=1",
            forever,
            ":::",
            "a",
            "b",
        ],
        b"",
    );
    same(
        &[
            "--no-keep-order",
            "-j2",
            "--halt",
            "now,fail=1",
            forever,
            ":::",
            "a",
            "b",
        ],
        b"",
    );
    // success too, and the run's status is the halt's.
    let success = "if [ {} = a ]; then until [ -e never ]; do sleep 0.01; done; fi; echo {}";
    same(
        &[
            "-k",
            "-j2",
            "--halt",
            "now,success=1",
            success,
            ":::",
            "a",
            "b",
        ],
        b"",
    ); // Nor are they in the joblog (--resume runs them again).
    same_joblog(
        &[
            "-k",
            "-j2",
            "--halt",
            "now,fail=1",
            forever,
            ":::",
            "a",
            "b",
        ],
        |_| {},
    );
}

#[test]
fn halt_conditions_and_exit_statuses() {
    let statuses = ["0", "3", "0", "5", "7", "0"];
    for halt in [
        "now,fail=1",
        "soon,fail=1",
        "soon,fail=2",
        "now,fail=2",
        "now,success=2",
        "soon,success=1",
        "soon,done=2",
        "soon,fail=50%",
        "soon,fail=30%",
        "now,done=3%",
        "1",
        "2",
        "-1",
        "never",
        "0",
    ] {
        same(
            &with_list(
                &["-k", "-j1", "--halt", halt, "echo {}; exit {}"],
                &statuses,
            ),
            b"",
        );
    }
    same(
        &with_list(
            &["-k", "-j1", "--halt-on-error", "1", "echo {}; exit {}"],
            &statuses,
        ),
        b"",
    );
    // done=1: the job's own status; done=N met while none failed: 101,
    // GNU parallel's.
    for (halt, statuses) in [
        ("now,done=1", &["3", "0"][..]),
        ("now,done=1", &["0", "3"]),
        ("now,done=2", &["0", "0", "3"]),
        ("soon,done=3", &["0", "0", "0", "3"]),
        ("soon,done=3", &["0", "4", "0", "3"]),
    ] {
        same(
            &with_list(&["-k", "-j1", "--halt", halt, "echo {}; exit {}"], statuses),
            b"",
        );
    }
    // --fail-fast is --halt soon,fail=1.
    let Some((theirs, ours)) = both(
        &with_list(
            &["-k", "-j1", "--halt", "soon,fail=1", "echo {}; exit {}"],
            &statuses,
        ),
        b"",
    ) else {
        return;
    };
    let fail_fast = hearth(
        &with_list(&["-k", "-j1", "--fail-fast", "echo {}; exit {}"], &statuses)
            .iter()
            .map(OsStr::new)
            .collect::<Vec<_>>(),
        b"",
        &env::temp_dir(),
    );
    assert_eq!(fail_fast.stdout, theirs.stdout);
    assert_eq!(fail_fast.status.code(), theirs.status.code());
    assert_eq!(ours.status.code(), theirs.status.code());
}

/// The exit status is the number of failed jobs, 101 for more than 100.
#[test]
fn exit_status_counts_the_failed_jobs() {
    let input: String = (1..=150).map(|i| i.to_string() + "\n").collect();
    same(&["-k", "test {} -gt 4"], input.as_bytes());
    same(&["-k", "test {} -gt 40"], input.as_bytes());
    same(&["-k", "test {} -gt 100"], input.as_bytes());
    same(&["-k", "test {} -gt 1000"], input.as_bytes());
    same(&["-k", "exit 0"], input.as_bytes());
    // Killed by a signal: failed.
    same(&["-k", "kill -9 $$"], b"1\n2\n");
}

#[test]
fn slots_as_gnu_parallel_counts_jobs() {
    let input: String = (1..=20).map(|i| i.to_string() + "\n").collect();
    for slots in ["1", "3", "50%", "200%", "+1", "-1", "0"] {
        same(&["-k", "-j", slots, "echo"], input.as_bytes());
        same(&["-k", "--jobs", slots, "echo"], input.as_bytes());
        same(&["-k", "-P", slots, "echo"], input.as_bytes());
    }
    // A file that holds the number (GNU parallel's procfile).
    same_in(
        &[("procfile", b"1\n")],
        &["-k", "-j", "procfile", "echo {%} {}"],
        input.as_bytes(),
    );
}

/// `--delay` hands the slots one job per delay: job N starts no sooner
/// than N - 1 delays after the run began (a lower bound, which a loaded
/// machine cannot break).
#[test]
fn delay_spaces_the_starts() {
    same_lines(&["--delay", "0.1", "echo", ":::", "a", "b", "c"], b"");
    let dir = scratch("delay");
    let args: Vec<&OsStr> = [
        "--delay",
        "0.3",
        "-j",
        "4",
        "echo {#} $(date +%s.%N)",
        ":::",
        "1",
        "2",
        "3",
        "4",
    ]
    .into_iter()
    .map(OsStr::new)
    .collect();
    let began = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let output = hearth(&args, b"", &dir);
    assert!(output.status.success(), "{}", shown(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(text.lines().count(), 4, "{text}");
    for line in text.lines() {
        let (seq, start) = line.split_once(' ').unwrap();
        let seq: f64 = seq.parse().unwrap();
        let start: f64 = start.parse().unwrap();
        assert!(start - began >= (seq - 1.0) * 0.3 - 0.01, "{began}: {text}");
    }
}

/// A joblog's lines by Seq, with the columns that do not depend on time:
/// Seq, Host, Send, Receive, Exitval, Signal, Command.
fn joblog_rows(path: &Path) -> (String, Vec<Vec<String>>) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_owned();
    let mut rows: Vec<Vec<String>> = lines
        .map(|line| {
            let columns: Vec<&str> = line.splitn(9, '\t').collect();
            assert_eq!(columns.len(), 9, "{text}");
            assert!(columns[2].parse::<f64>().unwrap() > 1.7e9, "{text}");
            assert_eq!(columns[3].len(), 10, "{text}");
            assert!(columns[3].trim().parse::<f64>().is_ok(), "{text}");
            [0, 1, 4, 5, 6, 7, 8]
                .iter()
                .map(|&i| columns[i].to_owned())
                .collect()
        })
        .collect();
    rows.sort_by_key(|row| row[0].parse::<usize>().unwrap());
    (header, rows)
}

/// Runs both with `args` and `--joblog LOG` (in `dir`, prepared by
/// `prepare`), and compares stdout, status and the joblogs.
#[track_caller]
fn same_joblog(args: &[&str], prepare: impl Fn(&Path)) {
    same_joblog_on(args, b"", prepare);
}

/// As [`same_joblog`], with `stdin`.
#[track_caller]
fn same_joblog_on(args: &[&str], stdin: &[u8], prepare: impl Fn(&Path)) {
    let Some(parallel) = parallel() else { return };
    let mut outcomes = Vec::new();
    for tool in ["parallel", "hearth"] {
        let dir = scratch("joblog");
        prepare(&dir);
        let mut all = vec!["--joblog", "log"];
        all.extend_from_slice(args);
        let output = run_by(tool, parallel, &all, stdin, &dir);
        let log = joblog_rows(&dir.join("log"));
        let _ = fs::remove_dir_all(&dir);
        outcomes.push((
            output.status.code(),
            output.stdout.escape_ascii().to_string(),
            log,
        ));
    }
    assert_eq!(
        outcomes[1], outcomes[0],
        "{args:?}: hearth map, then GNU parallel"
    );
}

#[test]
fn joblog_is_gnu_parallels() {
    same_joblog(
        &["-k", "echo {}; exit {}", ":::", "0", "3", "0", "1"],
        |_| {},
    );
    same_joblog(&["-k", "kill -9 $$", ":::", "a"], |_| {});
    same_joblog(&["-k", "printf 'x\\ty' {}", ":::", "a b", "it's"], |_| {});
}

#[test]
fn resume_skips_what_the_joblog_shows() {
    // A log from an earlier run: jobs 1 and 3 done, 3 failed.
    let earlier = |dir: &Path| {
        fs::write(
            dir.join("log"),
            "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n\
             1\t:\t1796567190.751\t     0.001\t0\t2\t0\t0\techo 0; exit 0\n\
             3\t:\t1796567190.755\t     0.001\t0\t2\t3\t0\techo 3; exit 3\n",
        )
        .unwrap();
    };
    let args = ["-k", "-j1", "echo {}; exit {}", ":::", "0", "5", "3", "0"];
    let mut resume = vec!["--resume"];
    resume.extend_from_slice(&args);
    same_joblog(&resume, earlier);
    let mut failed = vec!["--resume-failed"];
    failed.extend_from_slice(&args);
    same_joblog(&failed, earlier);
    // No joblog yet: every job runs.
    same_joblog(&resume, |_| {});
    // A dry run shows only the jobs that would run.
    let log = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n\
               1\t:\t1796567190.751\t     0.001\t0\t2\t0\t0\techo 0; exit 0\n\
               3\t:\t1796567190.755\t     0.001\t0\t2\t3\t0\techo 3; exit 3\n";
    let mut dry = vec!["--dry-run", "--resume", "--joblog", "log"];
    dry.extend_from_slice(&args);
    same_in(&[("log", log.as_bytes())], &dry, b"");
}

/// Every file under `dir`, with its contents (none if there is no `dir`).
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    if !dir.exists() {
        return files;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((name, fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Writes `files` (name, content) into a fresh directory, runs both there
/// with `args` (whose `--results` is `out`) on `stdin`, and compares their
/// statuses, stdouts and the trees under `out`.
#[track_caller]
fn same_results_tree_in(files: &[(&str, &[u8])], args: &[&str], stdin: &[u8]) {
    let Some(parallel) = parallel() else { return };
    let mut seen = Vec::new();
    for tool in ["parallel", "hearth"] {
        let dir = scratch("results");
        for (name, content) in files {
            fs::write(dir.join(name), content).unwrap();
        }
        let output = run_by(tool, parallel, args, stdin, &dir);
        let files: Vec<(String, String)> = tree(&dir.join("out"))
            .into_iter()
            .map(|(name, content)| (name, content.escape_ascii().to_string()))
            .collect();
        seen.push((
            output.status.code(),
            output.stdout.escape_ascii().to_string(),
            files,
        ));
        let _ = fs::remove_dir_all(&dir);
    }
    assert_eq!(seen[1], seen[0], "{args:?}: hearth map, then GNU parallel");
}

/// `--results` with replacement strings: each job's stdout in the file
/// its name gives, `.err` and `.seq` beside it, or in the directory of a
/// name that ends with `/`; with -N, a job's fields numbered by their
/// sources.
#[test]
fn results_named_with_replacement_strings() {
    for args in [
        &[
            "--results",
            "out/{1}/{2}.txt",
            "echo",
            ":::",
            "A",
            "B",
            ":::",
            "C",
            "D",
        ][..],
        &["--results", "out/{}/", "echo", ":::", "a", "b"],
        &["--results", "out/x{#}", "echo", ":::", "a", "b"],
        &["--results", "out", "-N2", "echo", ":::", "a", "b", "c"],
        &[
            "--results",
            "out",
            "-N2",
            "echo",
            ":::",
            "a",
            "b",
            ":::",
            "c",
            "d",
        ],
    ] {
        same_results_tree_in(&[], args, b"");
    }
    // --header without --colsep: the columns, split on tabs, by name.
    same_results_tree_in(
        &[],
        &["--header", ":", "--results", "out", "echo", "{x}"],
        b"x\ty\n1\t2\n",
    );
}

#[test]
fn results_are_laid_out_as_gnu_parallels() {
    let Some(parallel) = parallel() else { return };
    // A tab in a value is `\t` in its directory's name.
    same_results_tree_in(
        &[],
        &["-k", "--results", "out", "echo", ":::", "t\tu", "v\\tw"],
        b"",
    );
    for args in [
        &[
            "-k",
            "--results",
            "out",
            "echo {}; echo err {} >&2",
            ":::",
            "a",
            "b c",
            "x/y",
            "a\\b",
        ][..],
        &[
            "-k", "--res", "out", "echo", ":::", "a", "b", ":::", "1", "2",
        ],
        &[
            "-k",
            "--results",
            "out",
            "--colsep",
            ",",
            "echo",
            ":::",
            "a,b",
        ],
    ] {
        let mut seen = Vec::new();
        for tool in ["parallel", "hearth"] {
            let dir = scratch("results");
            let output = run_by(tool, parallel, args, b"", &dir);
            seen.push((
                output.status.code(),
                output.stdout.clone(),
                tree(&dir.join("out")),
            ));
            let _ = fs::remove_dir_all(&dir);
        }
        assert_eq!(seen[1], seen[0], "{args:?}: hearth map, then GNU parallel");
    }
    // The names of --header : for the directories.
    let header = [
        "--header",
        ":",
        "--results",
        "out",
        "echo {a} {b}",
        ":::",
        "a",
        "I",
        "II",
        ":::",
        "b",
        "III",
    ];
    let mut seen = Vec::new();
    for tool in ["parallel", "hearth"] {
        let dir = scratch("results-header");
        let output = run_by(tool, parallel, &header, b"", &dir);
        seen.push((output.status.code(), tree(&dir.join("out"))));
        let _ = fs::remove_dir_all(&dir);
    }
    assert_eq!(
        seen[1], seen[0],
        "--header :: hearth map, then GNU parallel"
    );
}

/// Runs both with `args`, whose `--results` is `name` (a file, or `-.csv`
/// .. for stdout), and compares the files (or stdout), less the start
/// times and run times, which depend on the clock.
#[track_caller]
fn same_results_file(args: &[&str], name: &str) {
    same_results_file_in(&[], args, b"", name);
}

/// As [`same_results_file`], with `files` (name, content) written first
/// and `stdin`.
#[track_caller]
fn same_results_file_in(files: &[(&str, &[u8])], args: &[&str], stdin: &[u8], name: &str) {
    let Some(parallel) = parallel() else { return };
    let times = regex::bytes::Regex::new(
        r"(?m)(^\d+[,\t][^,\t]*[,\t])\d+\.\d+([,\t])\d+\.\d+|(\x22Starttime\x22: )\d+\.\d+(, \x22JobRuntime\x22: )\d+\.\d+",
    )
    .unwrap();
    let mut seen = Vec::new();
    for tool in ["parallel", "hearth"] {
        let dir = scratch("results-file");
        for (file, content) in files {
            fs::write(dir.join(file), content).unwrap();
        }
        let mut all = vec!["-k", "--results", name];
        all.extend_from_slice(args);
        let output = run_by(tool, parallel, &all, stdin, &dir);
        // On stdout, the file is all there is.
        let (file, stdout) = if name.starts_with("-.") {
            (output.stdout.clone(), Vec::new())
        } else {
            (fs::read(dir.join(name)).unwrap_or_default(), output.stdout)
        };
        let rows = times.replace_all(&file, b"${1}${3}T${2}${4}T".as_slice());
        seen.push((
            output.status.code(),
            stdout.escape_ascii().to_string(),
            rows.escape_ascii().to_string(),
        ));
        let _ = fs::remove_dir_all(&dir);
    }
    assert_eq!(
        seen[1], seen[0],
        "{name} {args:?}: hearth map, then GNU parallel"
    );
}

/// The one-file forms of `--results`: CSV, TSV and JSON lines, in a file
/// or on stdout, with the columns' names of `--header :`.
#[test]
fn results_files_are_gnu_parallels() {
    let quoting = [
        "echo {}; echo err {} >&2; exit 2",
        ":::",
        "a",
        "b c",
        "say \"hi\"",
        "x,y",
        "t\tu",
        "back\\slash",
    ];
    for name in [
        "out.csv", "out.tsv", "out.json", "OUT.JSON", "-.csv", "-.tsv", "-.json",
    ] {
        same_results_file(&quoting, name);
        same_results_file(&["echo {1} {2}", ":::", "a", "b", ":::", "1", "2"], name);
    }
    let header = [
        "--header",
        ":",
        "echo {x} {y}",
        ":::",
        "x",
        "1",
        "2",
        ":::",
        "y",
        "3",
    ];
    same_results_file(&header, "out.csv");
    same_results_file(&header, "out.json");
    same_results_file(
        &["--colsep", ",", "echo {2}", ":::", "a,b", "c,d"],
        "out.json",
    );
    same_results_file(&["-N", "2", "echo", ":::", "a", "b", "c"], "out.json");
}

#[test]
fn tags_and_tagstrings() {
    same(
        &["-k", "--tag", "printf 'x\\ny\\n'", ":::", "a", "b c"],
        b"",
    );
    same(&["-k", "--tag", "echo", ":::", "a", "b", ":::", "1"], b"");
    same(
        &[
            "-k",
            "--tagstring",
            "{1}-{#}:",
            "echo",
            ":::",
            "a",
            "b",
            ":::",
            "1",
        ],
        b"",
    );
    same(
        &["-k", "--tagstring", "<{.}>", "echo", ":::", "a.x", "it's"],
        b"",
    );
    same(&["-k", "--tag", "--colsep", ",", "echo", ":::", "a,b"], b"");
    // A tag string without a replacement string is that text alone: the
    // inputs are not appended to it as they are to a command.
    same(&["-k", "--tagstring", "t", "echo", ":::", "a", "b"], b"");
    // A carriage return starts a tagged line too, as a newline does.
    same(&["-k", "--tag", "printf 'x\\ry\\n'", ":::", "a"], b"");
    same(&["-k", "--tag", "printf 'x\\r\\n'", ":::", "a", "b"], b"");
    // An empty one is no tag, not an empty tag and its tab.
    same(&["-k", "--tagstring", "", "echo", ":::", "a"], b"");
    // With --tag, a tag string wins.
    same(
        &["-k", "--tag", "--tagstring", "T{}", "echo", ":::", "a"],
        b"",
    );
    // A last line without its newline gets none.
    same(&["-k", "--tag", "printf", "{}", ":::", "a", "b"], b"");
    same(&["-k", "--tag", "printf 'x\\ny'", ":::", "a", "b"], b"");
    // GNU parallel's printf escapes in a tag string.
    same(
        &[
            "-k",
            "--tagstring",
            "{}\\t{#}\\101",
            "echo",
            ":::",
            "a",
            "b",
        ],
        b"",
    );
    // \8 is no octal: the digit, as in Perl.
    same(&["-k", "--tagstring", "{}\\8\\1", "echo", ":::", "a"], b"");
}

/// --line-buffer prints whole lines of running jobs as they come, a tag
/// before each; -u prints bytes as they come, with no tags and whatever
/// -k says, as GNU parallel does. Where timing decides the order, the
/// same lines.
#[test]
fn line_buffer_and_ungroup_print_the_same_lines() {
    let input: String = (1..=30).map(|i| i.to_string() + "\n").collect();
    for option in ["--line-buffer", "--lb", "--ungroup", "-u", "--group"] {
        same_lines(&[option, "-j4", "echo {}; echo again {}"], input.as_bytes());
        same_lines(
            &[option, "-j4", "--tag", "echo {}; echo again {}"],
            input.as_bytes(),
        );
    }
    same(
        &["-k", "--lb", "-j4", "echo {}; echo again {}"],
        input.as_bytes(),
    );
    // A line left without its end comes at the job's end, tagged, with
    // no newline added.
    same(
        &["-k", "--lb", "--tag", "printf 'a{}\\nb{}'", ":::", "1", "2"],
        b"",
    );
    // -u: no tags; -k has no say.
    same(&["-u", "--tag", "-j1", "echo {}", ":::", "a", "b"], b"");
    same(&["-u", "-k", "-j1", "printf {}", ":::", "a", "b"], b"");
}

#[test]
fn progress_options_are_taken() {
    for option in ["--bar", "--eta", "--progress"] {
        same(&["-k", option, "echo", ":::", "a", "b"], b"");
    }
}
