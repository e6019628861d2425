//! GNU parallel's options for quoting, showing and filtering, against
//! GNU parallel itself: `-q`, `-v`, `-t` (`--verbose`), `-r`, `--trim`,
//! `-E`, `-L`, `-l`, `--max-lines`, `--arg-sep`, `--arg-file-sep`,
//! `--nice`, the `--number-of-*` counts, options given twice, `{}` in a
//! longer word with `-N`, and `--skip-first-line`.

use super::{both, same, same_in, same_joblog, shown};

#[test]
fn quoted_commands_keep_their_words() {
    same(&["-k", "-q", "echo", "a  b", ":::", "1"], b"");
    same(
        &["-k", "-q", "printf", "[%s]\\n", "x{}y  z", ":::", "a b"],
        b"",
    );
    same(
        &["-k", "-q", "sh", "-c", "echo $0 $1", ":::", "a", "b"],
        b"",
    );
    // GNU parallel's --dry-run gives {%} the slots as a run would, which
    // depends on when its jobs end: the slots are seen with -j1 only.
    same(
        &[
            "-k",
            "--dry-run",
            "-q",
            "echo",
            "a {#} b",
            "it's {}",
            ":::",
            "x'y",
            "p q",
        ],
        b"",
    );
    same(
        &[
            "-k", "-j1", "-q", "echo", "{%}", "a {%} b", "it's {}", ":::", "x'y", "p q",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "-q",
            "-X",
            "--dry-run",
            "echo",
            "x {}",
            ":::",
            "a",
            "b",
        ],
        b"",
    );
}

#[test]
fn verbose_shows_each_command_line() {
    same(&["-k", "-v", "--tag", "echo", ":::", "a", "b"], b"");
    same(&["-k", "-v", "-v", "true", ":::", "a"], b"");
    same(&["-k", "-v", "--dry-run", "echo", ":::", "a"], b"");
    same(&["-k", "-v", "-u", "echo", ":::", "a"], b"");
    same(
        &["-k", "-v", "--line-buffer", "-j1", "echo {%}", ":::", "a"],
        b"",
    );
    same(&["-k", "-v", "--pipe", "-N", "2", "cat"], b"1\n2\n3\n");
    // -t and --verbose: on stderr, stdout untouched. One job at a time:
    // GNU parallel prints the line as a job starts, hearth as its output
    // does, and with jobs side by side the two orders differ.
    for flag in ["-t", "--verbose"] {
        let args = ["-k", "-j1", flag, "echo {}; echo {} >&2", ":::", "a", "b"];
        same(&args, b"");
        let Some((theirs, ours)) = both(&args, b"") else {
            return;
        };
        assert_eq!(
            String::from_utf8_lossy(&ours.stderr),
            String::from_utf8_lossy(&theirs.stderr),
            "{args:?}\n--- hearth map: {}\n--- GNU parallel: {}",
            shown(&ours),
            shown(&theirs)
        );
    }
}

#[test]
fn blank_inputs_trimming_and_an_end_of_inputs() {
    let blanks = b"a\n\nb\n \nc\n";
    same(&["-k", "echo", "x{}"], blanks);
    same(&["-k", "-r", "echo", "x{}"], blanks);
    same(&["-k", "--no-run-if-empty", "echo", "x{}"], blanks);
    same(&["-k", "-r", "echo", "x{}", ":::", "", "a", " "], b"");
    let columns = b" a , b \n\tc\t,d\n";
    same(&["-k", "--colsep", ",", "echo", "[{1}][{2}]"], columns);
    for trim in ["n", "l", "r", "lr", "rl"] {
        same(
            &["-k", "--trim", trim, "echo", "[{}]", ":::", " a ", "\tb\t"],
            b"",
        );
        same(
            &["-k", "--trim", trim, "--colsep", ",", "echo", "[{1}][{2}]"],
            columns,
        );
    }
    same(&["-k", "--trim", "x", "echo", ":::", "a"], b"");
    same(&["-k", "-E", "b", "echo", ":::", "a", "b", "c"], b"");
    same(&["-k", "--eof", "3", "echo"], b"1\n2\n3\n4\n");
    // An empty end of inputs is none.
    same(&["-k", "-E", "", "echo", ":::", "a", "", "b"], b"");
    same(&["-k", "-E", "", "echo"], b"a\n\nb\n");
}

#[test]
fn lines_per_job() {
    let five = b"1\n2\n3\n4\n5\n";
    for packing in [
        &["-L", "2"][..],
        &["-l", "2"],
        &["--max-lines", "2"],
        &["-N", "2"],
        &["-n", "2"],
    ] {
        for command in [&["echo"][..], &["echo", "x{}y"], &["echo", "{}", "x{.}"]] {
            let mut args = vec!["-k"];
            args.extend_from_slice(packing);
            args.extend_from_slice(command);
            same(&args, five);
            args.extend([":::", "a.1", "b.2", "c"]);
            same(&args, b"");
        }
    }
    // With -m, -X or --xargs, -N and -L say how many inputs a job takes.
    for filling in ["-m", "-X", "--xargs"] {
        same(
            &["-k", filling, "-N2", "echo", "x{}y", ":::", "a", "b", "c"],
            b"",
        );
        same(&["-k", filling, "-L2", "echo"], five);
    }
    // -n 0 is -N 0: the command without its input.
    same(&["-k", "-n0", "echo", "x", ":::", "a", "b"], b"");
    same(&["-k", "--max-args", "0", "echo", "x"], five);
    // -l alone is one line a job, whatever follows it.
    same(&["-k", "-l", "echo"], five);
    same(&["-k", "-l", "-k", "echo"], five);
}

#[test]
fn separators_of_the_inputs_can_be_renamed() {
    same(
        &["-k", "--arg-sep", ",,", "echo", ",,", "a", "b", ":::", "c"],
        b"",
    );
    same(
        &[
            "-k",
            "--arg-sep",
            ",,",
            "echo",
            ",,",
            "a",
            "b",
            ",,+",
            "1",
            "2",
        ],
        b"",
    );
    same(
        &["-k", "--arg-file-sep", "//", "echo", "//", "-"],
        b"x\ny\n",
    );
    same(
        &["-k", "--arg-file-sep", "//", "echo", ":::", "a", "//+", "-"],
        b"x\ny\n",
    );
}

#[test]
fn niceness_and_counts_of_processors() {
    same(&["-k", "--nice", "5", "nice; echo {}", ":::", "a"], b"");
    same(
        &["-k", "--nice", "7", "echo {} | (nice; cat)", ":::", "a"],
        b"",
    );
    same(&["-k", "--nice", "50", "nice", ":::", "a"], b"");
    for count in [
        "--number-of-cores",
        "--number-of-cpus",
        "--number-of-threads",
        "--number-of-sockets",
    ] {
        same(&[count], b"");
    }
}

#[test]
fn options_given_twice_are_taken() {
    same(&["-k", "--keep-order", "echo", ":::", "a", "b"], b"");
    same(&["-j", "1", "-j", "2", "-k", "echo", ":::", "a", "b"], b"");
    same(&["--tag", "--tag", "-k", "echo", ":::", "a", "b"], b"");
}

#[test]
fn linked_sources_and_appended_joblogs() {
    same(
        &[
            "-k", "--link", "echo", ":::", "a", "b", "c", ":::", "1", "2",
        ],
        b"",
    );
    same(
        &[
            "-k", "--xapply", "echo", "{2}{1}", ":::", "a", "b", ":::", "1", "2", "3", ":::", "x",
        ],
        b"",
    );
    same(
        &[
            "-k", "--link", "--header", ":", "echo", "{x}{y}", ":::", "x", "1", "2", "3", ":::",
            "y", "a", "b",
        ],
        b"",
    );
    same(
        &["-k", "--link", "echo", "::::", "-", ":::", "a", "b"],
        b"1\n2\n3\n",
    );
    // --joblog +FILE: made without a header when missing, appended to.
    if let Some(parallel) = super::parallel() {
        let args = ["--joblog", "+log", "-k", "echo", ":::", "a", "b"];
        for tool in ["parallel", "hearth"] {
            let dir = super::scratch("joblog-plus");
            let output = super::run_by(tool, parallel, &args, b"", &dir);
            assert!(output.status.success(), "{tool}: {}", shown(&output));
            let log = std::fs::read_to_string(dir.join("log")).unwrap();
            let seqs: Vec<&str> = log.lines().filter_map(|l| l.split('\t').next()).collect();
            assert_eq!(seqs, ["1", "2"], "{tool}: {log}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    super::same_joblog(&["--joblog", "+log", "-k", "echo", ":::", "c"], |dir| {
        std::fs::write(
            dir.join("log"),
            "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n\
             1\t:\t1765000000.000\t     0.001\t0\t2\t0\t0\techo a\n",
        )
        .unwrap();
    });
    // The progress bar's total: taken (the bar shows on a terminal only).
    same(&["-k", "--total-jobs", "3", "--bar", "echo"], b"1\n2\n3\n");
}

#[test]
fn sources_without_values_take_part_with_an_empty_one() {
    let dir = super::scratch("empty-source");
    let empty = dir.join("empty");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.display().to_string();
    for args in [
        &["-k", "echo", ":::", "a", "b", ":::"][..],
        &["-k", "echo", "x{}x", ":::"],
        &["-k", "echo", "{1}-{2}", ":::", ":::", "a"],
        &["-k", "echo", "{1}-{2}", "::::", &empty, ":::", "a"],
        &["-k", "echo", "x{}x", ":::", "a", ":::+"],
        &["-k", "echo", "{1}-{2}-{3}", ":::", "a", ":::", ":::+", "b"],
        &["-k", "echo", "{1}-{2}", ":::", "a", "b", ":::+"],
        &[
            "-k", "echo", "{1}-{2}", ":::", "a", "b", "c", ":::+", "1", "2",
        ],
    ] {
        same(args, b"");
    }
    same(&["-k", "echo"], b"");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_inputs_in_the_command_and_the_older_replace() {
    same(&["-k", "-N0", "echo", "x", ":::", "a", "b"], b"");
    same(
        &["-k", "-N", "0", "--tag", "echo", "x", ":::", "a", "b"],
        b"",
    );
    same(&["-k", "-N0", "echo", "{#}", "{}", ":::", "a", "b"], b"");
    same(&["-k", "-N0", "echo", "x"], b"1\n2\n3\n");
    same(&["-k", "--replace=XX", "echo", "XX-XX", ":::", "a"], b"");
}

#[test]
fn plus_replacement_strings() {
    // {0%}: the slot as wide as the number of slots (one job at a time, or
    // one job: the slot GNU parallel picks is then known).
    same(
        &["-k", "-j1", "--plus", "echo", "{0%}", ":::", "a", "b"],
        b"",
    );
    same(
        &["-k", "-j12", "--plus", "echo", "{0%}-{%}", ":::", "a"],
        b"",
    );
    same(
        &[
            "-k",
            "-j100",
            "--plus",
            "--tagstring",
            "{0%}",
            "echo",
            ":::",
            "a",
        ],
        b"",
    );
    same(
        &[
            "-k",
            "-j12",
            "--plus",
            "--dry-run",
            "echo",
            "{0%}",
            ":::",
            "a",
        ],
        b"",
    );
    let values = [
        "a/b.c.d.e",
        "x.tar.gz",
        "noext",
        "/r/.hid",
        "a.b/c",
        "",
        ".",
        "a..b",
        "d/",
    ];
    for string in [
        "{+/}", "{+.}", "{+..}", "{+...}", "{..}", "{...}", "{/..}", "{/...}", "{1..}", "{-1+.}",
        "{##}", "{0#}",
    ] {
        let mut args = vec!["-k", "--plus", "echo", string, ":::"];
        args.extend(values);
        same(&args, b"");
    }
    // The edits in the manner of bash, on {} and after a position.
    for string in [
        "{:-def}", "{:2}", "{:1:2}", "{#a}", "{%z}", "{/a/X}", "{//a/X}", "{^a}", "{^^a}", "{,A}",
        "{,,A}", "{1:-d}", "{/a./_}", "{-1^^a}",
    ] {
        same(
            &[
                "-k", "--plus", "echo", string, ":::", "abcaz", "", "Az", "0", "a b",
            ],
            b"",
        );
    }
    // {##} and {0#} read every input first, from stdin too.
    let twelve = (1..=12)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    same(
        &["-k", "--plus", "echo", "{0#}/{##}", "{}"],
        twelve.as_bytes(),
    );
    same(
        &[
            "-k",
            "--plus",
            "--tagstring",
            "{##}",
            "echo",
            "x",
            ":::",
            "a",
            "b",
        ],
        b"",
    );
}

#[test]
fn files_hold_each_jobs_output() {
    let Some(parallel) = super::parallel() else {
        return;
    };
    let mut seen = Vec::new();
    for tool in ["parallel", "hearth"] {
        let dir = super::scratch("files");
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let tmp_arg = tmp.display().to_string();
        let words = [
            "-k",
            "--files",
            "--tmpdir",
            &tmp_arg,
            "--tag",
            "echo {}; echo x{}; echo err >&2",
            ":::",
            "a",
            "b",
            "",
        ];
        let output = super::run_by(tool, parallel, &words, b"", &dir);
        assert!(output.status.success(), "{tool}: {}", shown(&output));
        let mut jobs = Vec::new();
        for line in String::from_utf8(output.stdout.clone()).unwrap().lines() {
            let (tag, path) = line.split_once('\t').unwrap();
            let path = std::path::Path::new(path);
            assert_eq!(path.parent(), Some(tmp.as_path()), "{tool}: {line}");
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(
                name.starts_with("par")
                    && path.extension().is_some_and(|e| e == "par")
                    && name.len() == 12,
                "{tool}: {name}"
            );
            jobs.push((tag.to_owned(), std::fs::read_to_string(path).unwrap()));
        }
        seen.push(jobs);
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert_eq!(seen[1], seen[0], "hearth map, then GNU parallel");
    assert_eq!(seen[1].len(), 3);
}

#[test]
fn shellquote_prints_what_the_shell_reads_back() {
    same(
        &["-k", "--shellquote", ":::", "a b", "it's", "x", "$HOME"],
        b"",
    );
    same(&["-k", "--shellquote"], b"a b\n$HOME\n");
    same(&["--shellquote", "--shellquote", ":::", "a b"], b"");
    same(&["--shellquote", "echo", ":::", "a b"], b"");
    same(
        &[
            "-k",
            "--shellquote",
            "--shellquote",
            "echo",
            "{}",
            ":::",
            "a b",
            "c",
        ],
        b"",
    );
}

#[test]
fn retry_failed_runs_the_failed_lines_of_the_joblog_again() {
    let log = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n\
               1\t:\t1765000000.000\t     0.001\t0\t2\t0\t0\techo 0; exit 0\n\
               2\t:\t1765000000.000\t     0.001\t0\t2\t1\t0\techo 1; exit 1\n\
               3\t:\t1765000000.000\t     0.001\t0\t2\t2\t0\techo 2; exit 2\n\
               4\t:\t1765000000.000\t     0.001\t0\t0\t0\t9\tkill -9 $$\n\
               3\t:\t1765000000.000\t     0.001\t0\t2\t0\t0\techo 2\n";
    let prepare = |dir: &std::path::Path| std::fs::write(dir.join("log"), log).unwrap();
    super::same_joblog(&["-k", "--retry-failed"], prepare);
    // The command and inputs given are not used.
    super::same_joblog(&["-k", "--retry-failed", "echo", "no", ":::", "x"], prepare);
}

/// `--timeout N%`: no limit until a job succeeded, then N% of the
/// successes' median run time, which a job already running is held to
/// too: the first job (a long sleep) is killed once the quick ones beside
/// it succeeded. Ratios far from the line: the quick jobs sleep 0.3 s, so
/// their limit is 3 s, which a loaded machine's delays (tens of
/// milliseconds to start a shell) do not reach, as they reached the 10 ms
/// or so of jobs that did not sleep at all.
#[test]
fn timeout_of_the_median_run_time() {
    same_joblog(
        &[
            "-k",
            "-j2",
            "--timeout",
            "1000%",
            "sleep {}; echo {}",
            ":::",
            "100",
            "0.3",
            "0.3",
            "0.3",
            "0.3",
            "0.3",
        ],
        |_| {},
    );
    same(
        &[
            "-k",
            "-j1",
            "--timeout",
            "1000%",
            "sleep {}; echo {}",
            ":::",
            "0.3",
            "0.3",
            "0.3",
            "100",
            "0.3",
        ],
        b"",
    );
}

/// `--skip-first-line`: the first line of the first input source is no
/// input (a `:::` list's first value), stdin's first line is in no block
/// of `--pipe` (nor in `--group-by`'s groups), and each file of
/// `--pipe-part` is cut from its second line.
#[test]
fn first_line_skipped() {
    let lines = b"h\na\nb\n";
    same(&["--skip-first-line", "-k", "echo"], lines);
    same(&["--skip-first-line", "-k", "echo", ":::", "a", "b"], b"");
    same(
        &[
            "--skip-first-line",
            "-k",
            "echo",
            "::::",
            "-",
            ":::",
            "x",
            "y",
        ],
        lines,
    );
    same(&["--skip-first-line", "--pipe", "-k", "cat"], lines);
    // The first record, as -d and -0 end them.
    same(&["--skip-first-line", "-k", "-d", ",", "echo"], b"a,b,c");
    same(&["--skip-first-line", "-k", "-0", "echo"], b"a\nb\0c\0");
    same(
        &[
            "--skip-first-line",
            "--group-by",
            "1",
            "-kN1",
            "echo ==; cat",
        ],
        b"h\na\t1\na\t2\nb\t3\n",
    );
    let numbers: String = (1..=20).map(|i| i.to_string() + "\n").collect();
    same_in(
        &[("n.txt", numbers.as_bytes())],
        &[
            "--skip-first-line",
            "--pipe-part",
            "--bt",
            "1",
            "--block",
            "10",
            "-k",
            "echo ==; cat",
            "::::",
            "n.txt",
        ],
        b"",
    );
}

/// `--plus`'s edits of shortest and longest matches, its anchored
/// replacements and its strings of Perl code.
#[test]
fn plus_matches_and_strings_of_code() {
    // Shortest and longest matches, anchored replacements: GNU
    // parallel's own examples.
    for string in [
        "{%.z.*z}",
        "{%%.z.*z}",
        "{#z.*z.}",
        "{##z.*z.}",
        "{%\\..*}",
        "{%%\\..*}",
        "{/#a/X}",
        "{/%a/X}",
    ] {
        same(
            &[
                "-k",
                "--plus",
                "echo",
                string,
                ":::",
                "foo.z.z.z",
                "z.z.z.foo",
                "a.b.c",
                "aba",
            ],
            b"",
        );
    }
    // The strings of Perl code: the jobs of inputs in ascending order, of
    // inputs that all differ (the others skipped, failed in the status);
    // {slot} is {%}.
    let abc = [":::", "A", "B", "C", ":::", "A", "B", "C"];
    same(&with(&["-k", "--plus", "echo", "{choose_k}"], &abc), b"");
    same(&with(&["-k", "--plus", "echo", "{uniq}"], &abc), b"");
    same(&["-k", "-j1", "--plus", "echo", "{slot}", ":::", "a"], b"");
}

/// `args` and then `more`.
fn with<'a>(args: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    [args, more].concat()
}

/// `--workdir` with replacement strings: each job in its own directory,
/// made if missing (relative to where the run starts); the inputs still
/// go to the command, and `-v` shows the command without the directory.
#[test]
fn a_working_directory_per_job() {
    same(&["-k", "--wd", "sub/{}", "pwd; echo", ":::", "a", "b"], b"");
    same(
        &["-k", "-v", "--wd", "sub/{#}", "echo", ":::", "a", "b"],
        b"",
    );
    same(&["-k", "--workdir", "x{}", "ls -a", ":::", "1"], b"");
}

/// Found running GNU parallel's own examples side by side: a replacement
/// string in the command's first word quotes nothing (the input is the
/// command); `-N0` runs `{= =}` once on an empty value; `pQ()` and the
/// date functions; every file after `::::+` is linked.
#[test]
fn man_page_examples() {
    same(&["-k", "{}", ":::", "echo a b", "echo c"], b"");
    same(&["{} f"], b"echo e\n");
    same(&["--dryrun", "x{} y A={}", ":::", "echo a b"], b"");
    same(&["--dryrun", "A={} {}", ":::", "a b"], b"");
    same(
        &[
            "-k",
            "-N0",
            "echo",
            "a{= $_=\"x\" =}b",
            "{= $_=$job->seq() =}",
        ],
        b"1\n2\n",
    );
    same(
        &[
            "-k",
            "echo",
            "{= $_=pQ($_) =}",
            "{= $_=length(yyyy_mm_dd()).length(yyyymmddhhmmss()) =}",
            ":::",
            "a$b\"c",
        ],
        b"",
    );
    let dir = super::scratch("linked-files");
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let (first, second, numbers) = (
        file("1", "a\nb\n"),
        file("2", "b\nc\n"),
        file("n", "1\n2\n"),
    );
    same(&["-k", "echo", "{1} - {2}", "::::+", &first, &second], b"");
    same(
        &["-k", "echo", ":::", "x", "y", "::::+", &numbers, &first],
        b"",
    );
    same(&["-k", "echo", "::::", &numbers, &first], b"");
    let _ = std::fs::remove_dir_all(&dir);
}
