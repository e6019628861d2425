//! GNU parallel's options that ask for what hearth map does anyway, or
//! that settle other options, against GNU parallel itself: `-M`,
//! `--plain`, `--gnu`, `--silent`, `--no-keep-order`, `--minversion`;
//! and `--process-slot-var`.

use super::{same, same_lines};

#[test]
fn options_that_change_nothing_are_taken() {
    same(
        &["-k", "-M", "--plain", "--gnu", "echo", ":::", "a", "b"],
        b"",
    );
    same(&["-k", "--controlmaster", "echo", ":::", "a"], b"");
    // Output buffered compressed by GNU parallel, the same bytes printed.
    same(&["-k", "--compress", "seq", "{}", ":::", "3", "20000"], b"");
    same(
        &[
            "-k",
            "--compress-program",
            "gzip",
            "--decompress-program",
            "gzip -d",
            "echo",
            ":::",
            "a",
        ],
        b"",
    );
}

#[test]
fn silent_wins_over_verbose_in_either_order_but_not_over_trace() {
    same(&["-k", "-v", "--silent", "echo", ":::", "a", "b"], b"");
    same(&["-k", "--silent", "-v", "echo", ":::", "a", "b"], b"");
    // -t prints on stderr, which `same` leaves aside; --silent leaves it.
    for args in [
        ["-k", "-t", "--silent", "echo", ":::", "a"],
        ["-k", "--silent", "-t", "echo", ":::", "a"],
    ] {
        same(&args, b"");
        let Some((theirs, ours)) = super::both(&args, b"") else {
            return;
        };
        assert_eq!(ours.stderr, theirs.stderr, "{args:?}");
        assert_eq!(ours.stderr, b"echo a\n", "{args:?}");
    }
}

#[test]
fn no_keep_order_wins_over_keep_order() {
    // The first input ends last: it is printed last, -k or not.
    for args in [
        [
            "-k",
            "--no-keep-order",
            "sleep {}; echo {}",
            ":::",
            "1",
            "0",
        ],
        [
            "--no-keep-order",
            "-k",
            "sleep {}; echo {}",
            ":::",
            "1",
            "0",
        ],
    ] {
        same(&args, b"");
    }
    same_lines(&["--no-keep-order", "echo", ":::", "a", "b", "c"], b"");
}

#[test]
fn minversion_answers_as_the_release_compared_with() {
    same(&["--minversion", "20130722"], b"");
    same(&["--minversion", "20221122"], b"");
    same(&["--minversion", "20990101"], b"");
    // With a command: the version is printed, and nothing runs.
    same(&["--minversion", "20130722", "echo", ":::", "a"], b"");
}

#[test]
fn process_slot_var_counts_slots_from_0() {
    same(
        &[
            "-k",
            "-j1",
            "--process-slot-var",
            "PS",
            "echo $PS {}",
            ":::",
            "a",
            "b",
        ],
        b"",
    );
    // Even PATH: the job's sh is found all the same. (One slot: with
    // more, the first one up takes the job, not always slot 1.)
    same(
        &[
            "-k",
            "-j1",
            "--process-slot-var",
            "PATH",
            "echo $PATH {}",
            ":::",
            "a",
        ],
        b"",
    );
    // Without the option, GNU parallel's PARALLEL_JOBSLOT0 holds it.
    same(
        &["-k", "-j1", "echo $PARALLEL_JOBSLOT0 {}", ":::", "a", "b"],
        b"",
    );
    // Whichever slot runs a job, the variable is its number less one.
    same(
        &[
            "-k",
            "-j3",
            "--process-slot-var",
            "SLOT0",
            "test \"$SLOT0\" -eq $((PARALLEL_JOBSLOT - 1)) && echo {} ok",
            ":::",
            "a",
            "b",
            "c",
            "d",
            "e",
        ],
        b"",
    );
}

/// GNU parallel's other spellings of its options (`--dryrun`,
/// `--maxargs`, `--tag-string`, ...) are taken, with the same outputs.
#[test]
fn other_spellings_of_options_are_taken() {
    let cases: &[&[&str]] = &[
        &["--dryrun", "-k", "echo", ":::", "a", "b"],
        &["--dr", "-k", "echo", ":::", "a"],
        &["-k", "--maxargs", "2", "echo", ":::", "a", "b", "c"],
        &[
            "-k",
            "--maxreplaceargs",
            "2",
            "echo",
            "{2}",
            ":::",
            "a",
            "b",
        ],
        &["-k", "--maxlines", "2", "echo", ":::", "a", "b", "c"],
        &["-k", "--col-sep", ",", "echo", "{2}", ":::", "a,b"],
        &["-k", "--tag-string", "x{}", "echo", ":::", "a"],
        &["-k", "--shell_quote", "echo", ":::", "a b"],
        &["-k", "--nonotice", "--willcite", "--nn", "echo", ":::", "a"],
        &["-k", "--pipe", "--cat", "--tempdir", "/tmp", "cat"],
        &["-k", "--norunifempty", "echo"],
        &["-k", "--argsep", "--", "echo", "--", "a"],
        &["-k", "--processslotvar", "S", "-j1", "echo $S", ":::", "a"],
        &["-k", "--maxprocs", "1", "echo", ":::", "a"],
        &[
            "-k",
            "--pipe",
            "--roundrobin",
            "-j1",
            "--blocksize",
            "2",
            "cat",
        ],
        &[
            "-k", "--pipe", "--regex", "--recend", "b", "-N1", "cat;echo",
        ],
        &["-k", "--skipfirstline", "echo", ":::", "a", "b"],
        &["--numberofcores"],
        &["--keeporder", "--linebuffer", "echo", ":::", "a", "b"],
        &["--keeporder", "--line-buffered", "echo", ":::", "a", "b"],
        &["-k", "-g", "--linebuffered", "echo", ":::", "a", "b"],
        &["-k", "--colour", "--tag", "echo", ":::", "a", "b"],
        // GNU parallel takes any start of an option's name that names
        // only one.
        &["--keep", "--dry", "echo", ":::", "a", "b"],
        &[
            "--kee",
            "--tagstr",
            "x{}",
            "--nonotic",
            "echo",
            ":::",
            "a",
            "b",
        ],
        &[
            "--keep-o",
            "--max-replace",
            "2",
            "echo",
            ":::",
            "a",
            "b",
            "c",
        ],
        &["--keep-o", "--colse", ",", "echo", "{2}"],
    ];
    for args in cases {
        same(args, b"1\nb\n2\n");
    }
}
