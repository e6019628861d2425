//! `--bin` and `--shard` with `--pipe`: stdin's lines dealt to one job per
//! slot by the value of a column, as GNU parallel deals them.
//!
//! `--bin 'COL [PERL]'`: each line is split at `--colsep` (a Perl regular
//! expression, `,` by default here as in GNU parallel's binner), the
//! value of column COL (from 1) goes through the Perl code if there is
//! some (in `$_`), and the number it is modulo the number of slots N picks
//! the job: 1 the first, ..., N-1 the one before last, 0 the last (GNU
//! parallel's order). Perl itself splits and computes, so the numbers are
//! Perl's (`"3abc"` is 3, `-1 % 3` is 2). `--shard 'COL [PERL]'` picks by
//! a hash of the value instead: lines of equal values go to the same job.
//! Which job a value goes to differs from GNU parallel's, whose hash seed
//! is random per run.
//!
//! Every job runs, with no lines if none came its way, and its lines keep
//! their order. Column names (GNU parallel's `--bin NAME` with a header)
//! are not taken: a usage error says to give the column's number.

use std::io::{self, BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// The Perl program that tells which bin each line goes to: for each line
/// of its stdin, `BIN LENGTH\n` and the line's bytes.
const BINNER: &str = concat!(
    r#"
use B;
my ($sep, $col, $expr, $bins, $mode) = @ARGV;
binmode STDIN; binmode STDOUT;
"#,
    crate::perl_expr::compile_value_code!(),
    r#"
my $col0 = $col - 1;
while (my $line = <STDIN>) {
    my @F = split /$sep/, $line, $col + 1;
    local $_ = $F[$col0];
    $code->() if $code;
    my $bin = $mode eq 'shard' ? hex(B::hash($_)) % $bins : do { no warnings; $_ % $bins };
    print $bin, " ", length($line), "\n", $line;
}
"#
);

/// How lines are dealt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dealing {
    /// `--bin`: by the value modulo the jobs.
    Bin,
    /// `--shard`: by a hash of the value.
    Shard,
}

/// A `--bin` or `--shard` value: the column (from 1) and the Perl code.
#[derive(Clone, Debug)]
pub struct Key {
    pub dealing: Dealing,
    pub column: usize,
    pub perl: String,
}

impl Key {
    /// Parses `COL [PERL]` of `option` (`--bin`, `--shard`).
    pub fn parse(option: &str, dealing: Dealing, text: &str) -> Result<Key, String> {
        let text = text.trim_start();
        let (column, perl) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        match column.parse::<usize>() {
            Ok(column) if column > 0 => Ok(Key {
                dealing,
                column,
                perl: perl.trim().to_owned(),
            }),
            _ => Err(format!(
                "{option} {text:?}: give the column's number (from 1), then Perl code if any, \
                 e.g. {option} 2 or {option} '2 $_ %= 100' (column names are not taken)"
            )),
        }
    }
}

/// The lines of `input` dealt to `jobs` jobs by `key`, the columns split
/// at `colsep` (GNU parallel's binner splits at `,` without one).
pub fn deal(
    input: impl Read + Send + 'static,
    key: &Key,
    colsep: Option<&str>,
    jobs: usize,
) -> Result<Vec<Vec<u8>>, String> {
    let jobs = jobs.max(1);
    let mode = match key.dealing {
        Dealing::Bin => "bin",
        Dealing::Shard => "shard",
    };
    let mut child = Command::new("perl")
        .args(["-e", BINNER])
        .arg(colsep.unwrap_or(","))
        .arg(key.column.to_string())
        .arg(&key.perl)
        .arg(jobs.to_string())
        .arg(mode)
        // The same hash for the same value, run after run.
        .env("PERL_HASH_SEED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("--bin and --shard run perl, which could not start: {err}"))?;
    let (Some(mut to_perl), Some(from_perl), Some(mut errors)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err("perl's pipes were not made".to_owned());
    };
    // Fed from a thread of its own: perl writes while it reads.
    let feeder = std::thread::spawn(move || {
        let mut input = input;
        io::copy(&mut input, &mut to_perl).map(drop)
    });
    let dealt = read_dealt(BufReader::new(from_perl), jobs, key.dealing);
    let mut said = String::new();
    let _ = errors.read_to_string(&mut said);
    let status = child
        .wait()
        .map_err(|err| format!("waiting for perl: {err}"))?;
    let fed = feeder
        .join()
        .map_err(|_| "reading stdin panicked".to_owned())?;
    if !status.success() {
        return Err(format!("--bin/--shard: perl failed: {}", said.trim()));
    }
    fed.map_err(|err| format!("reading stdin: {err}"))?;
    dealt
}

/// Reads perl's answers: each line's bin and bytes, into the jobs.
fn read_dealt(
    mut answers: impl BufRead,
    jobs: usize,
    dealing: Dealing,
) -> Result<Vec<Vec<u8>>, String> {
    let mut dealt = vec![Vec::new(); jobs];
    let mut head = String::new();
    loop {
        head.clear();
        let read = answers
            .read_line(&mut head)
            .map_err(|err| format!("reading perl's answers: {err}"))?;
        if read == 0 {
            return Ok(dealt);
        }
        let bad = || format!("perl answered {head:?}, not a bin and a length");
        let (bin, len) = head.trim_end().split_once(' ').ok_or_else(bad)?;
        let bin: usize = bin.parse().map_err(|_| bad())?;
        let len: usize = len.parse().map_err(|_| bad())?;
        let job = match dealing {
            // GNU parallel's binner: 0 is the last job, k the k-th.
            Dealing::Bin if bin == 0 => jobs - 1,
            Dealing::Bin => bin - 1,
            Dealing::Shard => bin,
        };
        let out = dealt.get_mut(job).ok_or_else(bad)?;
        let start = out.len();
        out.resize(start + len, 0);
        answers
            .read_exact(&mut out[start..])
            .map_err(|err| format!("reading perl's answers: {err}"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dealt(key: &str, dealing: Dealing, input: &str, jobs: usize) -> Vec<String> {
        let key = Key::parse("--bin", dealing, key).unwrap();
        deal(io::Cursor::new(input.as_bytes().to_vec()), &key, None, jobs)
            .unwrap()
            .into_iter()
            .map(|job| String::from_utf8(job).unwrap())
            .collect()
    }

    #[test]
    fn bins_go_as_gnu_parallels() {
        assert_eq!(
            dealt("1", Dealing::Bin, "1\n2\n3\n4\n5\n", 2),
            ["1\n3\n5\n", "2\n4\n"]
        );
        assert_eq!(
            dealt("2", Dealing::Bin, "a,1\nb,2\nc,3\nd,4\n", 3),
            ["a,1\nd,4\n", "b,2\n", "c,3\n"]
        );
        // Perl code on the value; Perl's numbers.
        assert_eq!(
            dealt("2 $_*=2", Dealing::Bin, "a,1\nb,2\nc,3\nd,4\n", 3),
            ["b,2\n", "a,1\nd,4\n", "c,3\n"]
        );
        assert_eq!(dealt("1", Dealing::Bin, "x\n-1\n", 3), ["", "-1\n", "x\n"]);
    }

    #[test]
    fn shards_keep_equal_values_together() {
        let jobs = dealt("1", Dealing::Shard, "a\nb\na\nc\nb\na\n", 2);
        for value in ["a\n", "b\n", "c\n"] {
            let holding: Vec<_> = jobs.iter().filter(|j| j.contains(value)).collect();
            assert_eq!(holding.len(), 1, "{value:?} in {jobs:?}");
        }
        assert_eq!(jobs.concat().len(), 12);
    }

    #[test]
    fn keys_are_column_numbers() {
        assert!(Key::parse("--bin", Dealing::Bin, "0").is_err());
        let err = Key::parse("--bin", Dealing::Bin, "name").unwrap_err();
        assert!(err.contains("give the column's number"), "{err}");
        let key = Key::parse("--shard", Dealing::Shard, " 3  s/x//").unwrap();
        assert_eq!((key.column, key.perl.as_str()), (3, "s/x//"));
    }
}
