//! `--pipe` against GNU parallel: stdin cut into blocks (`--block`, `-N`,
//! `--recend`, `--recstart`, `--regexp`), each the stdin of one job, with
//! the same outputs, exit statuses and joblogs; blocks larger than a
//! pipe's buffer, records longer than a block, blocks given as files or
//! named pipes (`--cat`, `--fifo`), and the same over the private sshd's
//! hosts.

use std::fmt::Write as _;

use std::fs;

use super::{
    parallel, run_by, same, same_in, same_joblog_on, same_lines, same_results_file_in,
    same_results_tree_in, scratch, shown,
};

/// `seq 1 n` as bytes.
fn seq(n: usize) -> Vec<u8> {
    (1..=n)
        .fold(String::new(), |mut s, i| {
            let _ = writeln!(s, "{i}");
            s
        })
        .into_bytes()
}

#[test]
fn blocks_of_lines() {
    let input = seq(100_000);
    same_lines(&["--pipe", "--block", "10k", "wc -l"], &input);
    // A stdin that never waits: --block-timeout changes nothing.
    same_lines(&["--pipe", "--block", "10k", "--bt", "5", "wc -l"], &input);
    same(&["--pipe", "--block", "10k", "-k", "wc -l"], &input);
    same(
        &["--spreadstdin", "--block-size", "64K", "-k", "wc -c"],
        &input,
    );
    same(&["--pipe", "-k", "-N", "1000", "wc -l"], &input);
    same(
        &["--pipe", "-k", "-N", "7000", "--block", "1k", "wc -l"],
        &input,
    );
    // The default block (1M): everything in one job.
    same(&["--pipe", "-k", "wc -l"], &input);
    // Sequence and slot numbers; `{}` is empty.
    same(
        &["--pipe", "-j1", "-k", "-N", "3", "echo {#} {%} {}; cat"],
        &seq(10),
    );
    same(&["--pipe", "-k", "-N", "3", "--tag", "wc -l"], &seq(10));
    same(
        &["--pipe", "-k", "-N", "3", "--dry-run", "echo {#}; wc -l"],
        &seq(10),
    );
    // Records that end anywhere: blocks of the block size, -N bytes.
    same(
        &["--pipe", "-k", "--recend", "", "--block", "4", "cat; echo"],
        b"abcdefghij",
    );
    same(
        &["--pipe", "-k", "--recend", "", "-N", "2", "cat; echo"],
        b"abcde",
    );
    // No input: no job.
    same(&["--pipe", "-k", "echo ran"], b"");
    // A last record without its newline.
    same(&["--pipe", "-k", "-N", "2", "cat; echo"], b"a\nb\nc");
}

#[test]
fn record_starts_ends_and_expressions() {
    let fasta = b">one\nACGT\nAC\n>two\nGG\n>three\nT\n>four\nCA\nTT\n";
    let cat = "echo BLOCK {#}; cat";
    same(&["--pipe", "-k", "--recstart", ">", "-N", "1", cat], fasta);
    same(&["--pipe", "-k", "--recstart", ">", "-N", "2", cat], fasta);
    same(
        &["--pipe", "-k", "--recstart", ">", "--block", "20", cat],
        fasta,
    );
    same(
        &[
            "--pipe",
            "-k",
            "--recstart",
            ">",
            "--recend",
            "\\n",
            "-N",
            "1",
            cat,
        ],
        b"a>b\n>c\nd>e\n",
    );
    same(
        &["--pipe", "-k", "--recstart", ">", "-N", "1", cat],
        b"a>b\n>c\nd>e\n",
    );
    same(
        &["--pipe", "-k", "--recend", ";", "-N", "1", "cat; echo"],
        b"a;b;c;d;",
    );
    same(
        &["--pipe", "-k", "--recend", "\\t", "-N", "2", "cat; echo"],
        b"a\tb\tc\td",
    );
    same(
        &[
            "--pipe",
            "-k",
            "--regexp",
            "--recend",
            "X+",
            "-N",
            "1",
            "cat; echo",
        ],
        b"aXXbXc",
    );
    same(
        &[
            "--pipe",
            "-k",
            "--regexp",
            "--recend",
            "[0-9]\\n",
            "--block",
            "8",
            "cat; echo .",
        ],
        b"ab1\ncd2\nef3\ngh4\nij5\n",
    );
}

#[test]
fn large_blocks_and_long_records() {
    // Blocks of 3 MiB, far more than a pipe's buffer, and their sums.
    let big: Vec<u8> = (0..400_000u32)
        .flat_map(|i| format!("line {i} {}\n", i * 7919 % 1000).into_bytes())
        .collect();
    same(&["--pipe", "-k", "--block", "3M", "cksum"], &big);
    // A record longer than the block: the block grows to hold it.
    let mut long = "x".repeat(50_000).into_bytes();
    long.push(b'\n');
    long.extend(seq(2000));
    same(&["--pipe", "-k", "--block", "1k", "wc -c"], &long);
}

#[test]
fn blocks_as_files_and_named_pipes() {
    let input = seq(10);
    for how in ["--cat", "--fifo"] {
        same(&["--pipe", "-k", "-N", "3", how, "wc -l < {}"], &input);
        same(
            &["--pipe", "-k", "-N", "4", how, "cat {}; echo {#}"],
            &input,
        );
        // `{}` not in the command: appended; with --cat the command's
        // stdin is empty (GNU parallel's --fifo job reads the block on its
        // stdin too, racing the pipe's writer for it).
        if how == "--cat" {
            same(
                &["--pipe", "-k", "-N", "4", how, "cat; echo x; cat"],
                &input,
            );
        }
        same(&["--pipe", "-k", "-N", "4", how, "echo x; cat"], &input);
        // -v shows the variable that names the file.
        same(
            &["--pipe", "-k", "-N", "5", "-v", how, "wc -c < {}"],
            &input,
        );
        same(
            &[
                "--pipe",
                "-k",
                "-N",
                "5",
                how,
                "test -n \"$PARALLEL_TMP\" && cat {}",
            ],
            &input,
        );
        // Without --pipe: it is implied, as in GNU parallel.
        same(&["-k", "-N", "4", how, "wc -l < {}; echo {#}"], &input);
        // Larger than a pipe holds, and over several slots.
        let big = seq(100_000);
        same(
            &["--pipe", "-k", "--block", "200k", how, "cksum < {}"],
            &big,
        );
        same_in(
            &[("a", &seq(1000))],
            &[
                "--pipe-part",
                "-k",
                "-a",
                "a",
                "--block",
                "1k",
                how,
                "wc -l < {}",
            ],
            b"",
        );
    }
}

#[test]
fn tee_gives_all_of_stdin_to_every_job() {
    same(
        &["--pipe", "--tee", "-k", "echo {}; wc -l", ":::", "a", "b"],
        &seq(3),
    );
    same(
        &["--pipe", "--tee", "-k", "-v", "grep {}", ":::", "1", "3"],
        &seq(5),
    );
    same(
        &[
            "--pipe",
            "--tee",
            "-k",
            "--tag",
            "grep -c {}",
            ":::",
            "1",
            "2",
        ],
        &seq(30),
    );
    same(
        &[
            "--pipe",
            "--tee",
            "-k",
            "cksum; echo {}",
            ":::",
            "a",
            "b",
            "c",
        ],
        &seq(100_000),
    );
    same_in(
        &[("args", b"x\ny\n")],
        &[
            "--pipe",
            "--tee",
            "-k",
            "echo {#} {}; wc -c",
            "::::",
            "args",
        ],
        &seq(10),
    );
    // No inputs: no job, whatever stdin holds.
    same(&["--pipe", "--tee", "-k", "wc -l"], &seq(3));
}

/// `--round-robin`: one job per slot, every block in one of them. Which
/// job gets which block is GNU parallel's readiness race: the number of
/// jobs and the sum of their counts are compared, and the exit status.
#[test]
fn round_robin_runs_one_job_per_slot() {
    let cases: &[(&[&str], Vec<u8>)] = &[
        (&["--pipe", "-N1", "--round-robin", "-j3", "wc -l"], seq(10)),
        (
            &["--pipe", "--block", "10k", "--round", "-j4", "wc -l"],
            seq(100_000),
        ),
        // Fewer blocks than slots: a job per block.
        (&["--pipe", "-N1", "--round-robin", "-j5", "wc -l"], seq(3)),
    ];
    for (args, input) in cases {
        let Some((theirs, ours)) = super::both(args, input) else {
            return;
        };
        let counted = |out: &std::process::Output| {
            let lines: Vec<u64> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim().parse().unwrap())
                .collect();
            (out.status.code(), lines.len(), lines.iter().sum::<u64>())
        };
        assert_eq!(
            counted(&ours),
            counted(&theirs),
            "{args:?}\n{}",
            shown(&ours)
        );
    }
}

/// `-q` with `--cat`: the file's name still reaches the command (GNU
/// parallel quotes `$PARALLEL_TMP` and the command finds no file).
#[test]
fn quoted_commands_get_the_block_file() {
    let Some(parallel) = parallel() else { return };
    let dir = scratch("quoted-cat");
    for how in ["--cat", "--fifo"] {
        let args = [
            "-k",
            "-q",
            "--pipe",
            "-N2",
            how,
            "sh",
            "-c",
            "wc -l < \"$0\"",
            "{}",
        ];
        let ours = run_by("hearth", parallel, &args, &seq(5), &dir);
        assert_eq!(ours.stdout, b"2\n2\n1\n", "{how}: {}", shown(&ours));
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn block_files_go_in_tmpdir_and_are_removed() {
    let Some(parallel) = parallel() else { return };
    for how in ["--cat", "--fifo"] {
        let args = [
            "--pipe",
            "-k",
            "-N",
            "2",
            "--tmpdir",
            "t",
            how,
            "dirname {}; cat {}",
        ];
        let mut outputs = Vec::new();
        for tool in ["parallel", "hearth"] {
            let dir = scratch("tmpdir");
            fs::create_dir(dir.join("t")).unwrap();
            let output = run_by(tool, parallel, &args, &seq(5), &dir);
            let left: Vec<_> = fs::read_dir(dir.join("t")).unwrap().collect();
            assert!(left.is_empty(), "{tool} {how} left {left:?}");
            let _ = fs::remove_dir_all(&dir);
            outputs.push(output);
        }
        let (theirs, ours) = (&outputs[0], &outputs[1]);
        assert_eq!(
            ours.stdout,
            theirs.stdout,
            "{how}\n{}\n{}",
            shown(ours),
            shown(theirs)
        );
        assert_eq!(ours.status.code(), theirs.status.code());
    }
}

#[test]
fn a_named_pipe_nobody_reads_does_not_hold_its_job() {
    // GNU parallel waits for ever here; hearth map lets the writer go
    // when the command ends, and removes the pipe.
    let Some(parallel) = parallel() else { return };
    let dir = scratch("fifo");
    fs::create_dir(dir.join("t")).unwrap();
    let args = [
        "--pipe",
        "-k",
        "-N",
        "2",
        "--tmpdir",
        "t",
        "--fifo",
        "true {}; echo {#}",
    ];
    let ours = run_by("hearth", parallel, &args, &seq(5), &dir);
    assert_eq!(ours.stdout, b"1\n2\n3\n", "{}", shown(&ours));
    assert_eq!(ours.status.code(), Some(0));
    assert_eq!(fs::read_dir(dir.join("t")).unwrap().count(), 0);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn exit_statuses_and_joblog() {
    // Blocks without a 7 fail: their number is the exit status.
    same(&["--pipe", "-N", "10", "grep -q 7"], &seq(100));
    same_joblog_on(&["--pipe", "-k", "-N", "3", "wc -l"], &seq(10), |_| {});
}

/// `--results` of blocks as GNU parallel writes them: a block is no input,
/// so each job's `seq`, `stdout` and `stderr` are right in the directory
/// (one job at a time, the last job's are left), and its row has no input
/// columns.
#[test]
fn results_of_blocks() {
    let cmd = "cat; echo x{}y; echo err {#} >&2";
    same_results_tree_in(
        &[],
        &["--pipe", "-j1", "-N", "3", "--results", "out", cmd],
        &seq(10),
    );
    same_results_tree_in(
        &[],
        &["--pipe", "-j1", "--block", "8", "--res", "out", "wc -c"],
        &seq(10),
    );
    for name in ["out.csv", "out.tsv", "out.json", "-.csv", "-.json"] {
        same_results_file_in(&[], &["--pipe", "-N", "3", cmd], &seq(10), name);
    }
}

/// The same over the private sshd's two hosts: each block goes over its
/// slot's connection.
#[test]
fn blocks_over_ssh() {
    let Some(sshd) = super::hosts::sshd() else {
        return;
    };
    if parallel().is_none() {
        return;
    }
    let ssh = sshd.ssh_command().join(" ");
    let input = seq(200_000);
    let over_ssh = |command: &[&str]| {
        let mut args = vec![
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "--pipe",
            "-k",
            "--block",
            "100k",
        ];
        args.extend_from_slice(command);
        same(&args, &input);
    };
    over_ssh(&["wc -l"]);
    // As a file and a named pipe on the host.
    over_ssh(&["--cat", "wc -l < {}"]);
    over_ssh(&["--fifo", "wc -l < {}"]);
    let big: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("{i} {}\n", i % 97).into_bytes())
        .collect();
    same(
        &[
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "--pipe",
            "-k",
            "--block",
            "1M",
            "cksum",
        ],
        &big,
    );
}

/// `--rrs`: every --recend followed by --recstart removed, a --recstart
/// at the start, a --recend at the end (or before a last newline).
#[test]
fn record_separators_removed() {
    let lines = b"a\nb\nc\nd\n";
    same(&["--pipe", "-k", "--rrs", "cat"], lines);
    same(&["--pipe", "-k", "-N", "1", "--rrs", "cat; echo"], lines);
    same(
        &["--pipe", "-k", "-N", "3", "--removerecsep", "cat; echo"],
        lines,
    );
    same(
        &[
            "--pipe",
            "-k",
            "-N",
            "1",
            "--rrs",
            "--recend",
            "]",
            "--recstart",
            "[",
            "cat; echo",
        ],
        b"[a][b]\n[c]",
    );
    same(
        &[
            "--pipe",
            "-k",
            "--remove-rec-sep",
            "--recend",
            "E",
            "--recstart",
            "S",
            "cat",
        ],
        b"SaESbE\n",
    );
    same(
        &[
            "--pipe",
            "-k",
            "--rrs",
            "--regexp",
            "--recend",
            "E+",
            "--recstart",
            "S+",
            "cat",
        ],
        b"SSaEESbEE",
    );
    same(
        &[
            "--pipe",
            "-k",
            "-N",
            "1",
            "--rrs",
            "--round-robin",
            "-j",
            "2",
            "cat; echo",
        ],
        lines,
    );
}

/// `--bin`: a job per slot, each line to the job its column's value
/// picks (modulo the slots: 1 the first, 0 the last), through Perl code
/// if given; every job runs, with no lines if none came its way.
#[test]
fn lines_binned_by_a_column() {
    same(
        &["--pipe", "--bin", "1", "-j", "2", "-k", "echo {#}; cat"],
        b"1\n2\n3\n4\n5\n",
    );
    let pairs = b"a,1\nb,2\nc,3\nd,4\n";
    same(
        &["--pipe", "--bin", "2", "-j", "3", "-k", "echo {#}; cat"],
        pairs,
    );
    same(
        &[
            "--pipe",
            "--bin",
            "2 $_*=2",
            "-j",
            "3",
            "-k",
            "echo {#}; cat",
        ],
        pairs,
    );
    same(
        &[
            "--pipe",
            "--colsep",
            " +",
            "--bin",
            "2",
            "-j",
            "4",
            "-k",
            "echo {#}; cat",
        ],
        b"a 7\nb  8\nc -1\nd x\n",
    );
    // Empty stdin: every job runs, with nothing. (GNU parallel prints the
    // same, but now and then hangs in its fifos on an empty input, so
    // hearth is checked alone.)
    let dir = super::scratch("bin-empty");
    let os: Vec<&std::ffi::OsStr> = ["--pipe", "--bin", "1", "-j", "3", "-k", "echo {#}; cat"]
        .iter()
        .map(std::ffi::OsStr::new)
        .collect();
    let ours = super::hearth(&os, b"", &dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        (ours.status.code(), ours.stdout.as_slice()),
        (Some(0), &b"1\n2\n3\n"[..]),
        "{}",
        super::shown(&ours)
    );
}

/// `--shard`: lines of equal values in the same job (which job differs
/// run to run in GNU parallel, so what is compared is the groups).
#[test]
fn lines_sharded_by_a_column() {
    let input = b"a,1\nb,2\na,3\nc,4\nb,5\na,6\n";
    let Some((theirs, ours)) = super::both(
        &["--pipe", "--shard", "1", "-j", "2", "-k", "echo; cat"],
        input,
    ) else {
        return;
    };
    // Each job's lines, as sets of first columns, in a set of jobs.
    let groups = |out: &[u8]| {
        let mut jobs: Vec<Vec<String>> = String::from_utf8_lossy(out)
            .split("\n\n")
            .map(|job| {
                let mut keys: Vec<String> = job
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(|l| l.split(',').next().unwrap_or("").to_owned())
                    .collect();
                keys.sort();
                keys.dedup();
                keys
            })
            .filter(|keys| !keys.is_empty())
            .collect();
        jobs.sort();
        jobs
    };
    assert_eq!(ours.status.code(), theirs.status.code());
    let (mine, gnus) = (groups(&ours.stdout), groups(&theirs.stdout));
    // No key in two jobs, every key somewhere.
    let keys = |jobs: &[Vec<String>]| {
        let mut all: Vec<String> = jobs.concat();
        let count = all.len();
        all.sort();
        all.dedup();
        (all, count)
    };
    assert_eq!(keys(&mine), keys(&gnus), "hearth {mine:?}, GNU {gnus:?}");
    assert_eq!(keys(&mine).1, 3, "{mine:?}");
}

/// `--group-by`: runs of lines with the same value are records, so a
/// block holds whole groups and `-N` counts groups; the value a column's
/// (by number, or by name in a header line every job gets), through Perl
/// code, or the whole line's through Perl code. It implies `--pipe`.
#[test]
fn lines_grouped_by_a_value() {
    let tabbed = b"a\t1\na\t2\nb\t3\nc\t4\nc\t5\na\t6\n";
    same(
        &["--pipe", "--group-by", "1", "-k", "-N1", "echo ==; cat"],
        tabbed,
    );
    same(&["--group-by", "1", "-k", "-N2", "echo ==; cat"], tabbed);
    // Implied --pipe for the options that go with it.
    same(
        &["--group-by", "1", "--block", "10", "-k", "echo ==; cat"],
        tabbed,
    );
    same(&["--pipe", "--group-by", "1", "-k", "echo ==; cat"], tabbed);
    same(
        &["--pipe", "--groupby", "2", "-k", "-N1", "echo ==; cat"],
        tabbed,
    );
    same(
        &[
            "--pipe",
            "--group-by",
            "1",
            "--block",
            "10",
            "-k",
            "echo ==; cat",
        ],
        tabbed,
    );
    let spaced = b"a 1\na 2\nb 3\nB 4\nb 5\n";
    same(
        &[
            "--pipe",
            "--colsep",
            " ",
            "--group-by",
            "1 $_ = lc",
            "-k",
            "-N1",
            "echo ==; cat",
        ],
        spaced,
    );
    same(
        &["--group-by", "s/\\d//", "-k", "-N1", "echo ==; cat"],
        b"a1\na2\nb3\nB4\n",
    );
    same(
        &[
            "--pipe",
            "--colsep",
            " ",
            "--group-by",
            "k",
            "-k",
            "-N1",
            "echo ==; cat",
        ],
        b"k v\na 1\na 2\nb 3\n",
    );
    // Many lines, groups across blocks.
    let many: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("{}\t{i}\n", i / 7).into_bytes())
        .collect();
    same(
        &["--pipe", "--group-by", "1", "--block", "1k", "-k", "wc -l"],
        &many,
    );
}

/// `-L N` with `--pipe`: records of N lines, a block the whole records
/// that fit (the rest of the input, fewer lines, a block of its own), or
/// with `-N M`, M records of N lines (`-L 4` for FASTQ).
#[test]
fn records_of_lines() {
    let nine = seq(9);
    same(&["--pipe", "-k", "-L", "2", "wc -l"], &nine);
    same(&["--pipe", "-k", "-L", "2", "-N", "1", "wc -l"], &nine);
    same(&["--pipe", "-k", "-L", "2", "--block", "6", "wc -l"], &nine);
    same(&["--pipe", "-k", "-L", "3", "-N", "2", "wc -l"], &seq(20));
    same(&["--pipe", "-k", "-L", "2", "wc -c"], b"a\nb\nc");
    same_lines(
        &["--pipe", "-L", "3", "--block", "100k", "wc -l"],
        &seq(100_000),
    );
}

/// `--header` with `--pipe`: a header before every block, N lines (`:`
/// is 1) or what a regular expression matches at the start; an input
/// that is all header runs no job.
#[test]
fn header_before_every_block() {
    let job = "echo J{#}; cat";
    same(&["-k", "--pipe", "--header", "1", "-N2", job], &seq(5));
    same(&["-k", "--pipe", "--header", ":", "-N2", job], &seq(5));
    same(&["-k", "--pipe", "--header", "2", "-N1", job], &seq(4));
    same(
        &["-k", "--pipe", "--header", "(h.*\\n)*", "-N2", job],
        b"h1\nh2\na\nb\nc\n",
    );
    same(
        &[
            "-k",
            "--pipe",
            "--header",
            ".{4}",
            "--recend",
            "",
            "--block",
            "2",
            "echo J{#}; cat; echo",
        ],
        b"abcdefgh",
    );
    same(&["-k", "--pipe", "--header", "1", job], b"h\n");
    // With --round-robin, once before each job's blocks.
    let mut headed = b"h1\n".to_vec();
    headed.extend(seq(10));
    same(
        &[
            "-k",
            "--pipe",
            "-N3",
            "--header",
            ":",
            "--round-robin",
            "-j2",
            "cat",
        ],
        &headed,
    );
}

/// A `.` of `--recstart` with `--regexp` matches no newline, as in
/// GNU parallel (Perl without `/s`): `@.* 1:` starts a FASTQ record, it
/// does not run to the last record's start (each record was a block).
#[test]
fn a_regexp_record_start_stays_on_its_line() {
    let fastq = "@r1 1:x\nACGT\n+\nIIII\n@r2 1:y\nACGT\n+\nIIII\n".repeat(6);
    for cut in [["--block", "100"], ["-N", "3"]] {
        let mut args = vec!["-k", "--pipe", "--regexp", "--recstart", "@.* 1:"];
        args.extend_from_slice(&cut);
        args.push("wc -l");
        same(&args, fastq.as_bytes());
    }
}

/// `--group-by` with `--header :`, as GNU parallel's examples write it:
/// the header line goes to every job (as a column's name implies).
#[test]
fn group_by_with_a_header() {
    let table = b"UserID,Name\n1,a\n2,b\n2,c\n1,d\n";
    same(
        &[
            "--pipe",
            "--colsep",
            ",",
            "--header",
            ":",
            "--group-by",
            "UserID",
            "-kN1",
            "wc",
        ],
        table,
    );
    same(
        &[
            "--pipe",
            "--colsep",
            ",",
            "--group-by",
            "UserID",
            "-kN1",
            "cat",
        ],
        table,
    );
}
