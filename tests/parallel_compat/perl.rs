//! `{= perl =}` and `{=N perl =}` against GNU parallel itself: `$_`, the
//! positions, `@arg`, `$job->seq()`, `total_jobs()`, `Q()`, `uq()`,
//! `skip()`, values with spaces, quotes and newlines, state kept between
//! jobs, with `-N`, `-v`, `--tagstring`, `-q` and `--dry-run`; and
//! `--filter`.

use super::{both, same, same_joblog};

#[test]
fn perl_expressions_change_the_input() {
    same(&["-k", "echo", "{= s/a/b/ =}", ":::", "abc", "xyz"], b"");
    same(&["-k", "echo", "x{= $_ = uc($_) =}y", ":::", "ab"], b"");
    same(&["-k", "echo", "{}{= $_ = length($_) =}", ":::", "ab"], b"");
    same(
        &[
            "-k",
            "echo",
            "{=1 s/a/b/ =}",
            "{=2 $_ .= '!' =}",
            ":::",
            "a",
            ":::",
            "c",
        ],
        b"",
    );
    same(
        &["-k", "echo", "{=-1 $_ = 'last' =}", ":::", "a", ":::", "b"],
        b"",
    );
    same(
        &[
            "-k",
            "-N2",
            "echo",
            "{= $_ = uc($_) =}",
            ":::",
            "a",
            "b",
            "c",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "-N2",
            "echo",
            "{= $_ = $arg[2] =}",
            ":::",
            "a",
            "b",
            "c",
            "d",
        ],
        b"",
    );
    same(&["-k", "echo", "{= $_ = undef =}.", ":::", "a"], b"");
    // Input from stdin, and state kept between jobs, one at a time.
    same(&["-k", "-j1", "echo", "{= $n++; $_ .= $n =}"], b"a\nb\nc\n");
}

#[test]
fn perl_values_are_quoted_unless_told_not_to() {
    same(&["-k", "-v", "echo", "{= $_ .= ' x' =}", ":::", "a"], b"");
    same(
        &["-k", "-v", "echo", "{= $_ .= ' x'; uq() =}", ":::", "a"],
        b"",
    );
    same(&["-k", "echo", "{= $_ = \"a\\nb\" =}", ":::", "a"], b"");
    same(
        &[
            "-k",
            "echo",
            "{= $_ = Q($_) =}",
            ":::",
            "a b",
            "a'b",
            "a$b",
            "ab",
            "",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "--dry-run",
            "echo",
            "{= $_ = Q($_) =}",
            ":::",
            "a'b",
            "a$b",
            "ab",
        ],
        b"",
    );
    same(&["-k", "-q", "echo", "{= s/a/b c/ =}", ":::", "a"], b"");
    same(
        &["-k", "--tagstring", "{= $_ = uc =}", "echo", ":::", "ab"],
        b"",
    );
}

#[test]
fn perl_sees_the_jobs_numbers_and_can_skip_jobs() {
    same(
        &["-k", "echo", "{= $_ = $job->seq() * 10 =}", ":::", "a", "b"],
        b"",
    );
    same(&["-k", "echo", "{= $_ = seq() =}", ":::", "a", "b"], b"");
    same(
        &[
            "-k",
            "echo",
            "{= $_ = total_jobs() =}",
            ":::",
            "a",
            "b",
            "c",
        ],
        b"",
    );
    // A skipped job fails with exit value -2 without running: it counts
    // in the exit status, in the joblog and for --halt.
    same(
        &[
            "-k",
            "echo",
            "{#}{= skip() if $_ eq 'b' =}",
            ":::",
            "a",
            "b",
            "c",
        ],
        b"",
    );
    same(&["-k", "echo", "{= skip() =}", ":::", "a", "b", "c"], b"");
    // A dry run prints a skipped job too, and counts it as failed.
    same(
        &[
            "--dry-run",
            "-k",
            "echo",
            "{= skip() if $_ eq 'b' =}",
            ":::",
            "a",
            "b",
            "c",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "--halt",
            "now,fail=1",
            "-j1",
            "echo",
            "{= skip() if $_ eq 'a' =}",
            ":::",
            "a",
            "b",
        ],
        b"",
    );
    same_joblog(
        &[
            "-k",
            "echo",
            "{= skip() if $_ eq 'b' =}",
            ":::",
            "a",
            "b",
            "c",
        ],
        |_| {},
    );
}

#[test]
fn perl_that_fails_stops_the_run() {
    // Code that does not compile: nothing runs, exit 255, as in GNU
    // parallel. Code that dies: the run stops (GNU parallel exits 25).
    same(&["-k", "echo", "{= s/(/x/ =}", ":::", "a"], b"");
    let Some((theirs, ours)) = both(&["-k", "echo", "{= die 'boom' =}", ":::", "a"], b"") else {
        return;
    };
    assert!(theirs.stdout.is_empty() && ours.stdout.is_empty());
    assert_ne!(theirs.status.code(), Some(0));
    assert_eq!(ours.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&ours.stderr).contains("boom"));
}

#[test]
fn replacement_strings_of_the_users_own() {
    same(
        &[
            "-k",
            "--rpl",
            "{ext} s:.*\\.::",
            "echo",
            "{ext}",
            "{1ext}",
            "{-1ext}",
            ":::",
            "a.txt",
            ":::",
            "b.gz",
        ],
        b"",
    );
    // Over one of GNU parallel's own, and longest first.
    same(
        &["-k", "--rpl", "{} s/a/b/", "echo", "{}", ":::", "aaa"],
        b"",
    );
    same(
        &[
            "-k",
            "--rpl",
            "XX $_=uc",
            "--rpl",
            "XXY $_=lc",
            "echo",
            "XX",
            "XXY",
            ":::",
            "aB",
        ],
        b"",
    );
    // A number before the code is a position, as in GNU parallel's own
    // definitions.
    same(
        &[
            "-k",
            "--rpl",
            "{#} 1 $_=$job->seq()*2",
            "echo",
            "{#}",
            ":::",
            "a",
            "b",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "-N2",
            "--rpl",
            "{x} 1 $_=uc",
            "echo",
            "{x}",
            ":::",
            "a",
            "b",
        ],
        b"",
    );
}

#[test]
fn perl_values_are_bytes_whatever_the_code_does() {
    // Wide characters go as UTF-8, as GNU parallel prints them.
    same(
        &["-k", "echo", "{= $_ = \"\\x{263A}\" . $_ =}", ":::", "a"],
        b"",
    );
    same(&["-k", "echo", "{= $_ = \"\\xe9\" =}", ":::", "a"], b"");
    // The code's own $\ and $, and prints do not reach the command lines
    // (GNU parallel's output breaks on the first two).
    let Some(parallel) = super::parallel() else {
        return;
    };
    let dir = super::scratch("perl-bytes");
    let args = [
        "-k",
        "echo",
        "{= $\\ = 'X'; $, = 'Y'; print 'noise'; $_ = uc =}",
        ":::",
        "ab",
        "cd",
    ];
    let ours = super::run_by("hearth", parallel, &args, b"", &dir);
    assert_eq!(ours.stdout, b"AB\nCD\n", "{}", super::shown(&ours));
    assert_eq!(ours.status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--filter`: a job runs only if every filter, its replacement strings
/// replaced as they are, is true as Perl; one filtered out keeps its
/// number and counts as skipped (exit -2 in the joblog, a failure in the
/// exit status); code that dies or does not compile is false.
#[test]
fn filters_run_only_the_jobs_they_pass() {
    same(
        &[
            "-k",
            "--filter",
            "\"{}\" ne \"b\"",
            "echo",
            "{#}",
            "{}",
            ":::",
            "a",
            "b",
            "c",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "--filter",
            "{1} < {2}",
            "--filter",
            "{2} < 3",
            "echo",
            "{1}{2}",
            ":::",
            "1",
            "2",
            "3",
            ":::",
            "1",
            "2",
            "3",
        ],
        b"",
    );
    same(
        &[
            "-k", "--filter", "{#} % 2", "echo", ":::", "a", "b", "c", "d",
        ],
        b"",
    );
    same(&["--filter", "die 'boom'", "echo", ":::", "a"], b"");
    same(&["--filter", "(", "echo", ":::", "a"], b"");
    same(
        &["-k", "--filter", "'{}' ne 'a b'", "echo", ":::", "a b", "c"],
        b"",
    );
    same(&["-k", "--filter", "{} > 1", "echo"], b"1\n2\n3\n");
}

/// `--filter` as GNU parallel evaluates it: with the number of jobs, under
/// `use strict`, and a `{= =}` that dies stopping the run.
#[test]
fn filters_see_the_total_and_strict_perl() {
    // The number of jobs, in a replacement string and in code.
    same(
        &[
            "--plus",
            "-k",
            "--filter",
            "{#} == {##}",
            "echo",
            ":::",
            "a",
            "b",
            "c",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "--filter",
            "{= $_ = total_jobs() =} == 3",
            "echo",
            ":::",
            "a",
            "b",
            "c",
        ],
        b"",
    );
    // Under `use strict`: an unquoted word is an error, so false.
    same(
        &[
            "-k",
            "--filter",
            "{} =~ /b/",
            "echo",
            ":::",
            "abc",
            "bcd",
            "1b",
        ],
        b"",
    );
    // A {= =} in a filter that dies stops the run (GNU parallel exits
    // 25, hearth 255: its own error).
    let Some((theirs, ours)) = both(
        &[
            "-k",
            "--filter",
            "{= die 'boom' =} 1",
            "echo",
            ":::",
            "a",
            "b",
        ],
        b"",
    ) else {
        return;
    };
    assert!(theirs.stdout.is_empty() && ours.stdout.is_empty());
    assert_eq!(ours.status.code(), Some(255), "{}", super::shown(&ours));
    assert_ne!(theirs.status.code(), Some(0));
    // --dry-run prints every job, filtered or not, and counts those
    // filtered out as failed, as GNU parallel does.
    same(
        &[
            "--dry-run",
            "-k",
            "--filter",
            "{} > 1",
            "echo",
            ":::",
            "1",
            "2",
        ],
        b"",
    );
    same_joblog(
        &[
            "-k",
            "--filter",
            "\"{}\" ne \"b\"",
            "echo",
            ":::",
            "a",
            "b",
            "c",
        ],
        |_| {},
    );
}
