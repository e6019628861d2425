//! `--pipe-part` against GNU parallel: the files of `-a` (and `::::`) cut
//! into parts where records end past each block (`--block SIZE`, `--block
//! -N`, the default of 10 parts per slot, `--recend`, `--recstart`,
//! `--regexp`), each part the stdin of one job, with the same outputs,
//! exit statuses and joblogs; parts larger than a pipe's buffer, records
//! longer than a block, and the same over the private sshd's hosts.

use std::fmt::Write as _;
use std::fs;

use super::{parallel, same_in, same_joblog_on, same_results_file_in, same_results_tree_in};

/// `seq 1 n` as bytes.
fn seq(n: usize) -> Vec<u8> {
    (1..=n)
        .fold(String::new(), |mut s, i| {
            let _ = writeln!(s, "{i}");
            s
        })
        .into_bytes()
}

/// Both with `args` on the file `f` holding `content`.
#[track_caller]
fn same_on(content: &[u8], args: &[&str]) {
    same_in(&[("f", content)], args, b"");
}

#[test]
fn parts_of_lines() {
    let lines = seq(20_000);
    for block in ["10k", "1k", "-1", "-3"] {
        same_on(
            &lines,
            &["--pipe-part", "-a", "f", "--block", block, "-k", "wc -lc"],
        );
    }
    same_on(
        &seq(300),
        &["--pipe-part", "-a", "f", "--block", "7", "-k", "wc -lc"],
    );
    // The default: 10 parts per slot.
    same_on(&lines, &["--pipepart", "-a", "f", "-j", "3", "-k", "wc -l"]);
    same_on(
        &lines,
        &["--pipe-part", "-k", "-j", "2", "cksum", "::::", "f"],
    );
    // --rrs leaves the parts as they are, as GNU parallel does.
    same_on(
        b"a\nb\nc\nd\n",
        &[
            "--pipe-part",
            "-a",
            "f",
            "--block",
            "3",
            "--rrs",
            "-k",
            "cat; echo",
        ],
    );
    // `{}` is nothing at all, `{#}` and `{%}` are the part's and the
    // slot's numbers; tags and dry runs.
    same_on(
        &seq(30),
        &[
            "--pipe-part",
            "-a",
            "f",
            "-j1",
            "--block",
            "20",
            "-k",
            "echo {#} {%} {} x; cat",
        ],
    );
    same_on(
        &seq(30),
        &[
            "--pipe-part",
            "-a",
            "f",
            "--block",
            "20",
            "-k",
            "--tag",
            "wc -l",
        ],
    );
    same_on(
        &seq(30),
        &[
            "--pipe-part",
            "-a",
            "f",
            "--block",
            "20",
            // GNU parallel prints a dry run's lines as its jobs end: in
            // order with -k only.
            "-k",
            "--dry-run",
            "echo {#}; wc -l",
        ],
    );
    // No bytes: no job. A last record without its newline.
    same_on(b"", &["--pipe-part", "-a", "f", "-k", "echo ran"]);
    same_on(
        b"a\nb\nc",
        &["--pipe-part", "-a", "f", "--block", "1", "-k", "cat; echo"],
    );
}

#[test]
fn record_starts_ends_and_expressions() {
    let fasta = b">one\nACGT\nAC\n>two\nGG\n>three\nT\n>four\nCA\nTT\n";
    let cat = "echo PART {#}; cat";
    for block in ["1", "9", "20"] {
        same_on(
            fasta,
            &[
                "--pipe-part",
                "-a",
                "f",
                "-k",
                "--recstart",
                ">",
                "--block",
                block,
                cat,
            ],
        );
        same_on(
            fasta,
            &[
                "--pipe-part",
                "-a",
                "f",
                "-k",
                "--recstart",
                ">",
                "--recend",
                "\\n",
                "--block",
                block,
                cat,
            ],
        );
        same_on(
            b"a;b;cc;d;eee;f",
            &[
                "--pipe-part",
                "-a",
                "f",
                "-k",
                "--recend",
                ";",
                "--block",
                block,
                "cat; echo",
            ],
        );
    }
    // Records that end anywhere.
    same_on(
        b"abcdefghij",
        &[
            "--pipe-part",
            "-a",
            "f",
            "-k",
            "--recend",
            "",
            "--block",
            "3",
            "cat; echo",
        ],
    );
    same_on(
        b"ab1\ncd2\nef3\ngh4\nij5\n",
        &[
            "--pipe-part",
            "-a",
            "f",
            "-k",
            "--regexp",
            "--recend",
            "[0-9]\\n",
            "--block",
            "4",
            "cat; echo .",
        ],
    );
}

#[test]
fn several_files_large_parts_and_long_records() {
    let big: Vec<u8> = (0..400_000u32)
        .flat_map(|i| format!("line {i} {}\n", i * 7919 % 1000).into_bytes())
        .collect();
    same_on(
        &big,
        &["--pipe-part", "-a", "f", "-k", "--block", "3M", "cksum"],
    );
    // A record longer than the block: the part goes on to its end.
    let mut long = "x".repeat(300_000).into_bytes();
    long.push(b'\n');
    long.extend(seq(2000));
    same_on(
        &long,
        &["--pipe-part", "-a", "f", "-k", "--block", "1k", "wc -c"],
    );
    // Two files, each cut on its own, the block from both sizes.
    same_in(
        &[("f", &seq(1000)), ("g", &seq(50))],
        &[
            "--pipe-part",
            "-a",
            "f",
            "-a",
            "g",
            "-k",
            "-j",
            "2",
            "wc -l",
        ],
        b"",
    );
}

#[test]
fn exit_statuses_joblog_and_bad_files() {
    // Parts without a 7 fail: their number is the exit status.
    same_on(
        &seq(100),
        &["--pipe-part", "-a", "f", "--block", "20", "grep -q 7"],
    );
    same_joblog_on(
        &["--pipe-part", "-a", "f", "-k", "--block", "10", "wc -l"],
        b"",
        |dir| fs::write(dir.join("f"), seq(30)).unwrap(),
    );
    // Not a file that can be read at any place, or not there: both
    // refuse it, with GNU parallel's status.
    same_on(&seq(3), &["--pipe-part", "-a", "-", "wc -l"]);
    same_on(&seq(3), &["--pipe-part", "-a", "missing", "wc -l"]);
}

/// The same over the private sshd's two hosts: each part goes over its
/// slot's connection.
#[test]
fn parts_over_ssh() {
    let Some(sshd) = super::hosts::sshd() else {
        return;
    };
    if parallel().is_none() {
        return;
    }
    let ssh = sshd.ssh_command().join(" ");
    same_on(
        &seq(200_000),
        &[
            "--ssh",
            &ssh,
            "-S",
            "node1,node2",
            "--pipe-part",
            "-a",
            "f",
            "-k",
            "--block",
            "100k",
            "wc -l",
        ],
    );
}

/// `--results` of parts as GNU parallel writes them: a part's input is
/// GNU parallel's placeholder for none, a NUL and `noarg`, so each job's
/// files are in `1/\0noarg` (one job at a time, the last job's are left)
/// and its row's one input column holds it.
#[test]
fn results_of_parts() {
    let lines = seq(30);
    let file: &[(&str, &[u8])] = &[("f", &lines)];
    let cmd = "cat; echo x{}y; echo err {#} >&2";
    same_results_tree_in(
        file,
        &[
            "--pipe-part",
            "-a",
            "f",
            "-j1",
            "--block",
            "20",
            "--results",
            "out",
            cmd,
        ],
        b"",
    );
    for name in ["out.csv", "out.tsv", "out.json", "-.csv", "-.json"] {
        same_results_file_in(
            file,
            &["--pipe-part", "-a", "f", "--block", "20", cmd],
            b"",
            name,
        );
    }
}
