//! `--color`, `--ctag` and `--ctagstring` against GNU parallel itself:
//! the same bytes on stdout and stderr, colours, tags, carriage returns
//! and all.
//!
//! GNU parallel asks `tput` for its clear-to-end-of-line and reset
//! sequences; with `TERM=dumb` there are none and it falls back to the
//! ones hearth writes, so the comparison holds on a terminal too.

use std::fs;
use std::process::Command;

/// Both with `args` (no stdin, `TERM=dumb`) print the same on stdout
/// and stderr and exit alike.
#[track_caller]
fn same_colors(args: &[&str]) {
    compare(args, true);
}

/// Both with `args` print the same on stdout and exit alike; on stderr
/// GNU parallel's bytes start hearth's (which then sums up the failures).
#[track_caller]
fn same_colors_failing(args: &[&str]) {
    compare(args, false);
}

#[track_caller]
fn compare(args: &[&str], whole_stderr: bool) {
    let Some(parallel) = super::parallel() else {
        return;
    };
    let os: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let dumb = |mut cmd: Command| {
        let _ = cmd.env("TERM", "dumb");
        cmd
    };
    let dir = super::scratch("color");
    let theirs = super::gnu_with(parallel, &os, &dir, dumb);
    let ours = super::hearth_with(&os, &dir, dumb);
    let _ = fs::remove_dir_all(&dir);
    // `--files`' names are random: `./parXXXXX.par` is `./par.par`.
    let named = |line: &str| {
        if line.starts_with("./par") && line.rsplit('.').next() == Some("par") {
            "./par.par".to_owned()
        } else {
            line.to_owned()
        }
    };
    let seen = |out: &std::process::Output, stderr: &[u8]| {
        let stdout = out.stdout.escape_ascii().to_string();
        let stdout: Vec<String> = stdout.split("\\n").map(named).collect();
        (
            out.status.code(),
            stdout.join("\\n"),
            stderr.escape_ascii().to_string(),
        )
    };
    let ours_stderr = match ours.stderr.get(..theirs.stderr.len()) {
        Some(start) if !whole_stderr => start,
        _ => &ours.stderr,
    };
    assert_eq!(
        seen(&ours, ours_stderr),
        seen(&theirs, &theirs.stderr),
        "{args:?}\n--- hearth map: {}\n--- GNU parallel: {}",
        super::shown(&ours),
        super::shown(&theirs)
    );
}

#[test]
fn color_gives_each_job_its_colour() {
    same_colors(&["-k", "--color", "echo", ":::", "a", "b", "c", "d"]);
    // Jobs past the table's 307 colours start it again.
    let many: Vec<String> = (1..=310).map(|n| n.to_string()).collect();
    let mut args = vec!["-k", "--color", "echo"];
    args.push(":::");
    args.extend(many.iter().map(String::as_str));
    same_colors(&args);
}

#[test]
fn colored_lines_reset_at_returns_and_get_their_last_newline() {
    same_colors(&["-k", "--color", "printf 'x\\ry\\n\\nz'", ":::", "a"]);
    same_colors(&[
        "-k",
        "--ctag",
        "printf 'x\\ry\\nz'; printf e >&2",
        ":::",
        "a",
        "b",
    ]);
}

#[test]
fn ctag_and_ctagstring_colour_the_tags() {
    same_colors(&["-k", "--ctag", "echo", ":::", "a", "b"]);
    same_colors(&["-k", "--ctagstring", "{}-{#}", "echo", ":::", "a", "b"]);
    // With the plain forms: --ctag adds colour to --tag, --tagstring wins
    // over --ctagstring.
    same_colors(&["-k", "--ctag", "--tag", "echo", ":::", "a"]);
    same_colors(&[
        "-k",
        "--ctagstring",
        "c",
        "--tagstring",
        "t",
        "echo",
        ":::",
        "a",
    ]);
}

#[test]
fn color_with_verbose_and_line_buffer() {
    // -v's command line is a line of the job's output, coloured as it.
    same_colors(&["-k", "-v", "--color", "echo", ":::", "a", "b"]);
    // Whole lines coloured; a last one without its newline is left plain.
    same_colors(&["--lb", "--ctag", "printf 'x\\ny'", ":::", "a"]);
}

#[test]
fn nothing_is_coloured_ungrouped_or_in_files() {
    same_colors(&["-u", "--color", "echo", ":::", "a"]);
    same_colors(&[
        "--color", "--files", "--tmpdir", ".", "printf x", ":::", "a",
    ]);
}

#[test]
fn color_failed_colours_failed_jobs_red() {
    same_colors_failing(&["-k", "--cf", "echo {}; exit {}", ":::", "0", "1", "0"]);
    same_colors_failing(&[
        "-k",
        "--color-failed",
        "--color",
        "echo {}; exit {}",
        ":::",
        "0",
        "1",
    ]);
    // The command line of -v and stderr are the job's, in its colour.
    same_colors_failing(&[
        "-k",
        "--cf",
        "-v",
        "echo {}; echo e >&2; exit {}",
        ":::",
        "1",
    ]);
    // Plain lines that did not fail still end with a newline; returns too.
    same_colors_failing(&[
        "-k",
        "--cf",
        "--tag",
        "printf '{}\\r{}'; exit {}",
        ":::",
        "0",
        "1",
    ]);
    // Lines printed before the job ends are never red.
    same_colors_failing(&["-k", "--cf", "--lb", "echo {}; exit {}", ":::", "0", "1"]);
    // A job killed by a signal has exit status 0 to GNU parallel: plain.
    same_colors_failing(&["-k", "--cf", "echo {}; kill -9 $$", ":::", "0"]);
}

/// GNU parallel colours no output of --nonall and --onall.
#[test]
fn nothing_is_coloured_on_each_host() {
    same_colors(&["--nonall", "-S", ":", "--color", "echo a"]);
    same_colors(&["--onall", "-S", ":", "--ctag", "echo", ":::", "a"]);
}

/// `--dry-run` and `--shellquote` lines are tagged and coloured as the
/// jobs' output would be; with `--dry-run`, `--shellquote` quotes nothing.
#[test]
fn dry_runs_are_tagged_and_coloured() {
    same_colors(&["--dry-run", "-k", "--color", "echo", ":::", "a", "b"]);
    same_colors(&["--dry-run", "-k", "--tag", "echo", ":::", "a", "b"]);
    same_colors(&["--dry-run", "-k", "--ctagstring", "x{}", "echo", ":::", "a"]);
    same_colors(&["--shellquote", "-k", "--tag", "--color", "echo", ":::", "a"]);
    same_colors(&[
        "--dry-run",
        "--shellquote",
        "-k",
        "--tag",
        "echo",
        ":::",
        "a b",
    ]);
}
