//! `--group-by VAL` with `--pipe`: runs of lines of stdin with the same
//! value are records, as GNU parallel groups them. A block holds whole
//! groups (up to `--block`), and `-N n` gives a job `n` groups.
//!
//! VAL is, as GNU parallel reads it:
//!
//! - `COL [PERL]`: the value of column COL (from 1; 0 is the first too),
//!   the line split at `--colsep` (a Perl regular expression, a tab by
//!   default), through the Perl code PERL if any (in `$_`);
//! - `NAME [PERL]` (a name of letters, digits and `_`, not beginning with
//!   a digit): the column of that name in the first line, the header,
//!   which every job then gets before its groups;
//! - `PERL`: the whole line (its newline included) through the Perl code.
//!
//! A group is a *run*: equal values apart from each other make groups of
//! their own, as in GNU parallel (sort the input first to gather them).
//!
//! As GNU parallel does, a Perl filter marks where each group begins with
//! a separator of 20 random letters and digits; the blocks are cut before
//! the separators (`--recstart`) and lose them (`--rrs`) before a job gets
//! them. So `--group-by` takes none of `--recend`, `--recstart`, `--rrs`
//! and `--regexp`.

use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};

/// The filter: stdin's lines on its stdout, each group's first line after
/// the separator; with a column name, the header line first (unmarked).
const MARKER: &str = concat!(
    r#"
no warnings;
my ($sep, $col, $name, $expr, $recsep, $flush, $has_header) = @ARGV;
binmode STDIN; binmode STDOUT;
$| = 1 if $flush;
"#,
    crate::perl_expr::compile_value_code!(),
    r#"
my $header;
if (length $name || $has_header) {
    $header = <STDIN>;
    exit 0 unless defined $header;
    print $header;
}
if (length $name) {
    (my $names = $header) =~ s/\n\z//;
    my @names = split /$sep/, $names;
    my %at;
    @at{@names} = (1 .. @names);
    $col = $at{$name};
    defined $col or die "hearth map --group-by: no column '$name' in the header (@names)\n";
}
my $first = 1;
my $last;
while (my $line = <STDIN>) {
    local $_ = $line;
    if (length $col) {
        my @F = split /$sep/, $line;
        $_ = $F[$col ? $col - 1 : 0];
    }
    $code->() if $code;
    my $value = defined $_ ? $_ : "";
    if ($first || $value ne $last) {
        print $recsep;
        $last = $value;
        $first = 0;
    }
    print $line;
}
"#
);

/// Where a line's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Column {
    /// The whole line.
    Line,
    /// A column by number (0 and 1 are the first).
    Number(usize),
    /// A column by its name in the header.
    Name(String),
}

/// A parsed `--group-by` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupBy {
    column: Column,
    perl: String,
    /// `--header :`: the first line is a header, sent to every job (as
    /// it is when the groups are by a column's name).
    header: bool,
}

impl GroupBy {
    /// Parses VAL as GNU parallel does: a leading word of digits is a
    /// column number, one of letters, digits and `_` a column name, and
    /// what follows (or all of it, if it begins otherwise) Perl code.
    pub fn parse(text: &str) -> Result<GroupBy, String> {
        let text = text.trim_start();
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let is_word =
            !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        let (column, perl) = if word.bytes().all(|b| b.is_ascii_digit()) && !word.is_empty() {
            let number = word.parse().map_err(|_| {
                format!("--group-by {text:?}: column {word} is past any line's columns")
            })?;
            (Column::Number(number), rest)
        } else if is_word {
            (Column::Name(word.to_owned()), rest)
        } else {
            (Column::Line, text)
        };
        if column == Column::Line && perl.trim().is_empty() {
            return Err(
                "--group-by needs a column (its number or, with a header line, its name), Perl \
                 code, or both, e.g. --group-by 1 or --group-by '2 $_ = lc'"
                    .to_owned(),
            );
        }
        Ok(GroupBy {
            column,
            perl: perl.trim().to_owned(),
            header: false,
        })
    }

    /// Whether the first line is a header, given to every job.
    pub fn has_header(&self) -> bool {
        self.header || matches!(self.column, Column::Name(_))
    }

    /// With `--header :` (`header`): the first line is a header.
    #[must_use]
    pub fn with_header(mut self, header: bool) -> GroupBy {
        self.header = header;
        self
    }
}

/// A random separator of 20 letters and digits, as GNU parallel's.
pub fn separator() -> io::Result<String> {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut bytes = [0_u8; 20];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// The filter reading this process's stdin: its output, the header line
/// if the groups are by a column's name, and the process (to wait for).
pub struct Marked {
    /// The filter's output, after the header.
    pub output: BufReader<ChildStdout>,
    /// The header line (its newline included), for each job.
    pub header: Option<Vec<u8>>,
    /// The filter itself.
    pub filter: Filter,
}

/// Starts the filter on stdin: `group_by`'s values, columns split at
/// `colsep` (a tab if `None`), each group's first line after `recsep`;
/// each line passed on at once if `flush` (for `--block-timeout`: a
/// slow stream's lines must not wait in perl's buffer).
pub fn marked(
    group_by: &GroupBy,
    colsep: Option<&str>,
    recsep: &str,
    flush: bool,
) -> Result<Marked, String> {
    let (column, name) = match &group_by.column {
        Column::Line => (String::new(), String::new()),
        Column::Number(n) => (n.to_string(), String::new()),
        Column::Name(name) => (String::new(), name.clone()),
    };
    let parent = std::process::id();
    let mut command = Command::new("perl");
    // The filter reads stdin, which may be a stream that says nothing for
    // a long time: it must not outlive a run that stops early (--halt
    // now exits at once). Called on the thread that plans the run, which
    // lives as long as the run.
    // SAFETY: between fork and exec the closure calls prctl(2), getppid(2)
    // and _exit(2), all async-signal-safe, and touches no memory but its
    // own copy of `parent`.
    unsafe {
        let _ = command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The run ended before the call: nobody reads the filter.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(0);
            }
            Ok(())
        });
    }
    let mut child = command
        .args(["-e", MARKER])
        .arg(colsep.unwrap_or("\t"))
        .arg(column)
        .arg(name)
        .arg(&group_by.perl)
        .arg(recsep)
        .arg(if flush { "1" } else { "" })
        .arg(if group_by.has_header() { "1" } else { "" })
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| format!("--group-by runs perl, which could not start: {err}"))?;
    let Some(stdout) = child.stdout.take() else {
        return Err("perl's output pipe was not made".to_owned());
    };
    let mut filter = Filter { child: Some(child) };
    let mut output = BufReader::new(stdout);
    let header = if group_by.has_header() {
        let mut line = Vec::new();
        let read = output
            .read_until(b'\n', &mut line)
            .map_err(|err| format!("--group-by: reading stdin through perl: {err}"))?;
        if read == 0 {
            // No header: no input, or the filter failed (it said why).
            filter.finish()?;
        }
        Some(line)
    } else {
        None
    };
    Ok(Marked {
        output,
        header,
        filter,
    })
}

/// The filter process, waited for when its output ends (or killed when
/// the run stops reading it first).
pub struct Filter {
    child: Option<Child>,
}

impl Filter {
    /// Waits for the filter: an error if it failed (it said why on
    /// stderr).
    pub fn finish(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = child
            .wait()
            .map_err(|err| format!("--group-by: waiting for perl: {err}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "--group-by: perl, which marks the groups, failed ({status}); see what it said \
                 above"
            ))
        }
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `blocks`, each after `header` if any; at their end the filter is
/// waited for, and its failure is the last item.
pub fn with_header_and_filter(
    blocks: impl Iterator<Item = Result<Vec<u8>, String>> + Send,
    header: Option<Vec<u8>>,
    mut filter: Filter,
) -> impl Iterator<Item = Result<Vec<u8>, String>> + Send {
    let mut blocks = blocks.fuse();
    let mut ended = false;
    std::iter::from_fn(move || {
        if ended {
            return None;
        }
        match blocks.next() {
            Some(Ok(block)) => Some(Ok(match &header {
                Some(header) => [&header[..], &block[..]].concat(),
                None => block,
            })),
            Some(Err(err)) => {
                ended = true;
                Some(Err(err))
            }
            None => {
                ended = true;
                filter.finish().err().map(Err)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_gnu_parallel_reads_them() {
        let parsed = |text| GroupBy::parse(text).unwrap();
        assert_eq!(parsed("2").column, Column::Number(2));
        assert_eq!(parsed(" 3  $_ = lc").perl, "$_ = lc");
        assert_eq!(parsed("name").column, Column::Name("name".to_owned()));
        assert!(parsed("name s/x//").has_header());
        let code = parsed("s/\\d//");
        assert_eq!((code.column, code.perl.as_str()), (Column::Line, "s/\\d//"));
        assert!(GroupBy::parse("").is_err());
        assert!(GroupBy::parse("99999999999999999999999").is_err());
    }

    #[test]
    fn separators_are_twenty_letters_and_digits() {
        let sep = separator().unwrap();
        assert_eq!(sep.len(), 20);
        assert!(sep.bytes().all(|b| b.is_ascii_alphanumeric()), "{sep}");
        assert_ne!(sep, separator().unwrap());
    }
}
