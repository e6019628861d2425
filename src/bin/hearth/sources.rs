//! Where `hearth map`'s inputs come from and how they combine into
//! records, as in GNU parallel: the values after `:::` (several `:::`
//! combine, every value of one with every value of the next, the last
//! varying fastest), the lines of the files after `::::` (`-` is stdin)
//! and of `-a FILE`, `:::+` and `::::+` (element by element with the
//! source before, up to the shorter), `--arg` values (with the first `:::`
//! list), stdin's lines when there is no other source. Values are split
//! at newlines (a trailing CR dropped), at NULs (`-0`) or at any string
//! (`-d`); `--colsep` splits each into columns; `--header :` takes the
//! first value of each source as the names of its columns.
//!
//! The first group of sources is read as the jobs run (stdin may be
//! endless); the others are read whole first, as GNU parallel does.
//! Inputs are bytes, as file names are.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use regex::bytes::Regex;

/// A record: the columns of one value of each source, in order.
pub type Record = Vec<Vec<u8>>;

/// Records as they are read, or why reading stopped.
pub type Records = Box<dyn Iterator<Item = Result<Record, String>> + Send>;

/// Where one source's values come from.
#[derive(Debug)]
enum Origin {
    /// Given on the command line.
    List(Vec<Vec<u8>>),
    /// The file's values (`-` is stdin).
    File(PathBuf),
}

/// One input source, and whether it is linked (`:::+`, `::::+`) to the
/// one before.
#[derive(Debug)]
struct Source {
    origin: Origin,
    linked: bool,
}

/// How values and columns are told apart, and which values count.
#[derive(Clone, Debug)]
pub struct Split {
    /// What ends a value: `\n` by default, NUL for `-0`, `-d`'s string.
    pub delimiter: Vec<u8>,
    /// `--colsep`.
    pub colsep: Option<Regex>,
    /// `--trim`: whitespace taken off each value, or each column.
    pub trim: Trim,
    /// `-r`: values that are empty or whitespace alone are skipped.
    pub skip_blank: bool,
    /// `-E`: a value equal to this ends its source.
    pub eof: Option<Vec<u8>>,
}

impl Split {
    /// Values ended by a newline, nothing trimmed, skipped or ending a
    /// source early.
    #[cfg(test)]
    pub fn lines() -> Split {
        Split {
            delimiter: b"\n".to_vec(),
            colsep: None,
            trim: Trim::None,
            skip_blank: false,
            eof: None,
        }
    }

    /// Splits a value into its columns, each trimmed as `--trim` says.
    fn columns(&self, value: Vec<u8>) -> Record {
        match &self.colsep {
            Some(colsep) => colsep
                .split(&value)
                .map(|column| self.trim.apply(column).to_vec())
                .collect(),
            None if self.trim == Trim::None => vec![value],
            None => vec![self.trim.apply(&value).to_vec()],
        }
    }

    /// The values of one source as this split takes them: up to `-E`'s
    /// value, without blank ones with `-r`.
    fn values(&self, values: Values) -> Values {
        let eof = self.eof.clone();
        let skip_blank = self.skip_blank;
        Box::new(
            values
                .take_while(move |value| match (&eof, value) {
                    (Some(eof), Ok(value)) => value != eof,
                    _ => true,
                })
                .filter(move |value| match value {
                    Ok(value) if skip_blank => !value.iter().all(u8::is_ascii_whitespace),
                    _ => true,
                }),
        )
    }
}

/// `--trim`: which ends of a value (or column) lose their whitespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    /// `n`: none.
    None,
    /// `l`: the start.
    Left,
    /// `r`: the end.
    Right,
    /// `lr` or `rl`: both.
    Both,
}

impl Trim {
    /// Parses `--trim`'s value, as GNU parallel takes it.
    pub fn parse(text: &str) -> Result<Trim, String> {
        match text {
            "n" => Ok(Trim::None),
            "l" => Ok(Trim::Left),
            "r" => Ok(Trim::Right),
            "lr" | "rl" => Ok(Trim::Both),
            other => Err(format!(
                "{other:?}: --trim takes n (nothing), l (the start), r (the end), lr or rl (both)"
            )),
        }
    }

    /// `value` without the whitespace this takes off.
    fn apply(self, value: &[u8]) -> &[u8] {
        match self {
            Trim::None => value,
            Trim::Left => value.trim_ascii_start(),
            Trim::Right => value.trim_ascii_end(),
            Trim::Both => value.trim_ascii(),
        }
    }
}

/// The words that begin the lists of inputs on the command line: `:::`
/// (`--arg-sep`) and `::::` (`--arg-file-sep`), each also with a `+`
/// after it (linked to the source before).
#[derive(Clone, Debug)]
pub struct Separators {
    list: Vec<u8>,
    list_linked: Vec<u8>,
    files: Vec<u8>,
    files_linked: Vec<u8>,
}

impl Default for Separators {
    fn default() -> Separators {
        Separators::new(":::", "::::")
    }
}

impl Separators {
    /// `list` before values, `files` before files of values.
    pub fn new(list: &str, files: &str) -> Separators {
        let linked = |sep: &str| format!("{sep}+").into_bytes();
        Separators {
            list: list.as_bytes().to_vec(),
            list_linked: linked(list),
            files: files.as_bytes().to_vec(),
            files_linked: linked(files),
        }
    }

    /// What `word` is: `Some((files, linked))` for a separator.
    fn of(&self, word: &[u8]) -> Option<(bool, bool)> {
        if word == self.files {
            Some((true, false))
        } else if word == self.files_linked {
            Some((true, true))
        } else if word == self.list {
            Some((false, false))
        } else if word == self.list_linked {
            Some((false, true))
        } else {
            None
        }
    }
}

/// The inputs of a run, as the command line gives them.
#[derive(Debug)]
pub struct Inputs {
    sources: Vec<Source>,
    /// No source was given: stdin is the one.
    defaulted: bool,
}

impl Inputs {
    /// Splits the trailing words (`CMD ... ::: A B :::: FILE ...`, with
    /// `separators`) into the command's words and the sources;
    /// `arg_files` are `-a`'s files and `args` `--arg`'s values. Without
    /// any source, stdin is one. The command may be empty (the caller says
    /// whether that is an error).
    pub fn parse(
        trailing: Vec<Vec<u8>>,
        separators: &Separators,
        arg_files: &[PathBuf],
        args: Vec<Vec<u8>>,
    ) -> Result<(Vec<Vec<u8>>, Inputs), String> {
        let mut words = trailing.into_iter().peekable();
        let mut command = Vec::new();
        while let Some(word) = words.next_if(|w| separators.of(w).is_none()) {
            command.push(word);
        }
        let mut sources: Vec<Source> = arg_files
            .iter()
            .map(|path| Source {
                origin: Origin::File(path.clone()),
                linked: false,
            })
            .collect();
        let mut args = Some(args).filter(|a| !a.is_empty());
        while let Some(separator) = words.next() {
            let mut values = Vec::new();
            while let Some(word) = words.next_if(|w| separators.of(w).is_none()) {
                values.push(word);
            }
            let (files, linked) = separators
                .of(&separator)
                .expect("the loops stop at separators only");
            if files {
                if values.is_empty() {
                    return Err(format!(
                        "{} takes files: give at least one (- is stdin)",
                        String::from_utf8_lossy(&separator)
                    ));
                }
                // After `::::+` every file is linked, as in GNU parallel.
                for path in values {
                    sources.push(Source {
                        origin: Origin::File(PathBuf::from(std::ffi::OsStr::from_bytes(&path))),
                        linked,
                    });
                }
            } else {
                // `--arg` values go with the first `:::` list.
                if let Some(mut first) = args.take() {
                    first.extend(values);
                    values = first;
                }
                sources.push(Source {
                    origin: Origin::List(values),
                    linked,
                });
            }
        }
        if let Some(values) = args {
            sources.push(Source {
                origin: Origin::List(values),
                linked: false,
            });
        }
        let defaulted = sources.is_empty();
        if defaulted {
            sources.push(Source {
                origin: Origin::File(PathBuf::from("-")),
                linked: false,
            });
        }
        if let Some(first) = sources.first_mut() {
            // Linked to nothing.
            first.linked = false;
        }
        let stdins = sources.iter().filter(|s| s.reads_stdin()).count();
        if stdins > 1 {
            return Err("stdin (-) is given as an input source more than once".to_owned());
        }
        Ok((command, Inputs { sources, defaulted }))
    }

    /// The number of sources (stdin when none was given is one).
    pub fn count(&self) -> usize {
        self.sources.len().max(1)
    }

    /// True if no source was given (stdin would be read).
    pub fn none_given(&self) -> bool {
        self.defaulted
    }

    /// The sources' files, if every source is a file (`-a`, `::::`; `-`
    /// for stdin) and none is linked.
    pub fn files(&self) -> Option<Vec<PathBuf>> {
        self.sources
            .iter()
            .map(|source| match &source.origin {
                Origin::File(path) if !source.linked => Some(path.clone()),
                _ => None,
            })
            .collect()
    }

    /// True if every value is on the command line: the whole run is known
    /// before it starts.
    pub fn all_listed(&self) -> bool {
        self.sources
            .iter()
            .all(|s| matches!(s.origin, Origin::List(_)))
    }

    /// Opens the sources and reads all but the first group; with `header`,
    /// takes the first value of each source as the names of its columns
    /// (returned too). The records come as they are read. With `link`
    /// (`--link`), every source is read whole and they go side by side, as
    /// long as the longest, a shorter one starting again from its first
    /// value when it runs out, as GNU parallel's `--link` does. With
    /// `skip_first_line` (`--skip-first-line`), the first source's first
    /// line is not read as an input.
    pub fn open(
        self,
        split: &Split,
        header: bool,
        link: bool,
        skip_first_line: bool,
    ) -> Result<(Vec<Vec<u8>>, Records), String> {
        if link {
            return self.open_linked(split, header, skip_first_line);
        }
        // Groups of linked sources.
        let mut groups: Vec<Vec<Values>> = Vec::new();
        let mut names = Vec::new();
        for (at, source) in self.sources.into_iter().enumerate() {
            let linked = source.linked;
            let mut values = source.open(split, skip_first_line && at == 0)?;
            if header {
                match values.next() {
                    Some(Ok(first)) => names.extend(split.columns(without_cr(first))),
                    Some(Err(err)) => return Err(err),
                    None => {}
                }
            }
            match groups.last_mut() {
                Some(group) if linked => group.push(values),
                _ => groups.push(vec![values]),
            }
        }
        let split = split.clone();
        let mut groups = groups.into_iter();
        let first = groups.next().expect("at least one source");
        let first = Linked::new(first, split.clone());
        // The others, whole.
        let mut rest = Vec::new();
        for group in groups {
            let width = group.len();
            let linked = Linked::new(group, split.clone());
            rest.push((linked.collect::<Result<Vec<Record>, String>>()?, width));
        }
        Ok((names, Box::new(Product::new(first, rest))))
    }
}

impl Inputs {
    /// [`Inputs::open`] with `link`.
    fn open_linked(
        self,
        split: &Split,
        header: bool,
        skip_first_line: bool,
    ) -> Result<(Vec<Vec<u8>>, Records), String> {
        let mut names = Vec::new();
        let mut sources = Vec::new();
        for (at, source) in self.sources.into_iter().enumerate() {
            let mut values = source.open(split, skip_first_line && at == 0)?;
            if header {
                match values.next() {
                    Some(Ok(first)) => names.extend(split.columns(without_cr(first))),
                    Some(Err(err)) => return Err(err),
                    None => {}
                }
            }
            let values = values.map(|value| value.map(|value| split.columns(value)));
            sources.push(values.collect::<Result<Vec<Record>, String>>()?);
        }
        // A source without values leaves no record whole: none at all.
        let longest = if sources.iter().any(Vec::is_empty) {
            0
        } else {
            sources.iter().map(Vec::len).max().unwrap_or(0)
        };
        let records = (0..longest).map(move |at| {
            Ok(sources
                .iter()
                .flat_map(|values| values[at % values.len()].iter().cloned())
                .collect())
        });
        Ok((names, Box::new(records)))
    }
}

impl Source {
    fn reads_stdin(&self) -> bool {
        matches!(&self.origin, Origin::File(path) if path.as_os_str() == "-")
    }

    /// The values, as they are read, after the first line if
    /// `skip_first_line`.
    fn open(self, split: &Split, skip_first_line: bool) -> Result<Values, String> {
        self.open_values(split, skip_first_line)
            .map(|values| split.values(values))
    }

    /// The values as the source holds them (after its first line if
    /// `skip_first_line`: a list's first value).
    fn open_values(self, split: &Split, skip_first_line: bool) -> Result<Values, String> {
        match self.origin {
            Origin::List(values) => Ok(Box::new(
                values
                    .into_iter()
                    .skip(usize::from(skip_first_line))
                    .map(Ok),
            )),
            Origin::File(path) => {
                let input: Box<dyn Read + Send> = if path.as_os_str() == "-" {
                    let stdin = io::stdin();
                    if io::IsTerminal::is_terminal(&stdin) {
                        say!(
                            "hearth map: reading inputs from the terminal, one per line \
                             (Ctrl+D to end)"
                        );
                    }
                    Box::new(stdin)
                } else {
                    Box::new(File::open(&path).map_err(|err| {
                        format!("cannot open the input file {}: {err}", path.display())
                    })?)
                };
                let name = if path.as_os_str() == "-" {
                    "stdin".to_owned()
                } else {
                    path.display().to_string()
                };
                let mut values = Delimited {
                    input: BufReader::with_capacity(64 * 1024, input),
                    delimiter: split.delimiter.clone(),
                    name,
                    done: false,
                };
                // The first record, as GNU parallel reads it: up to the
                // delimiter (-d, -0), a newline by default.
                if skip_first_line && let Some(Err(err)) = values.next() {
                    return Err(err);
                }
                Ok(Box::new(values))
            }
        }
    }
}

/// A header line without the CR of a CR-NL end, as GNU parallel reads
/// its header.
fn without_cr(mut line: Vec<u8>) -> Vec<u8> {
    if line.ends_with(b"\r") {
        let _ = line.pop();
    }
    line
}

/// One source's values.
type Values = Box<dyn Iterator<Item = Result<Vec<u8>, String>> + Send>;

/// The values of a stream, ended by a delimiter (the last one need not
/// be); a CR before a newline stays, as in GNU parallel (--colsep's
/// trimming takes it off the last column; a header drops it).
struct Delimited {
    input: BufReader<Box<dyn Read + Send>>,
    delimiter: Vec<u8>,
    name: String,
    done: bool,
}

impl Iterator for Delimited {
    type Item = Result<Vec<u8>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let last = *self.delimiter.last().expect("a delimiter is never empty");
        let mut value = Vec::new();
        loop {
            match self.input.read_until(last, &mut value) {
                Ok(0) => {
                    self.done = true;
                    return (!value.is_empty()).then_some(Ok(value));
                }
                Ok(_) if value.ends_with(&self.delimiter) => {
                    value.truncate(value.len() - self.delimiter.len());
                    return Some(Ok(value));
                }
                // The last byte of a longer delimiter, or the end.
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    self.done = true;
                    return Some(Err(format!(
                        "cannot read the inputs from {}: {err}",
                        self.name
                    )));
                }
            }
        }
    }
}

/// Linked sources: one record from each, element by element, up to the
/// shortest.
/// As GNU parallel does, a source without any value takes part with one
/// empty value (`::: a :::+` is `a ''`), as long as another source of the
/// group has one.
struct Linked {
    sources: Vec<Values>,
    split: Split,
    /// Records given so far.
    given: usize,
}

impl Linked {
    fn new(sources: Vec<Values>, split: Split) -> Linked {
        Linked {
            sources,
            split,
            given: 0,
        }
    }
}

impl Iterator for Linked {
    type Item = Result<Record, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut record = Vec::new();
        let mut any_value = false;
        for source in &mut self.sources {
            match source.next() {
                Some(Ok(value)) => {
                    any_value = true;
                    record.extend(self.split.columns(value));
                }
                Some(Err(err)) => return Some(Err(err)),
                // Empty from the start: one empty value.
                None if self.given == 0 => record.push(Vec::new()),
                None => return None,
            }
        }
        if !any_value {
            return None;
        }
        self.given += 1;
        Some(Ok(record))
    }
}

/// Every record of the first group with every combination of the others
/// (read whole), the last varying fastest.
struct Product {
    first: Linked,
    /// How many sources the first group has.
    first_width: usize,
    rest: Vec<Vec<Record>>,
    /// Some source of `rest` has a value.
    rest_has_values: bool,
    /// The first group gave a record (or stood in with empty values).
    first_began: bool,
    /// The record of the first group being combined, and the positions in
    /// `rest` of the next combination.
    current: Option<(Record, Vec<usize>)>,
}

/// The record of a group of `width` sources that have no values: an
/// empty value each.
fn empty_record(width: usize) -> Record {
    vec![Vec::new(); width]
}

impl Product {
    /// As GNU parallel does, a group without values takes part with one
    /// empty value of each of its sources, unless no source has any value
    /// (then there is no record at all): `::: a b :::` is `a ''`, `b ''`.
    fn new(first: Linked, rest: Vec<(Vec<Record>, usize)>) -> Product {
        let rest_has_values = rest.iter().any(|(records, _)| !records.is_empty());
        let first_width = first.sources.len();
        let rest = rest
            .into_iter()
            .map(|(records, width)| {
                if records.is_empty() {
                    vec![empty_record(width)]
                } else {
                    records
                }
            })
            .collect();
        Product {
            first,
            first_width,
            rest,
            rest_has_values,
            first_began: false,
            current: None,
        }
    }
}

impl Iterator for Product {
    type Item = Result<Record, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.current.is_none() {
            let head = match self.first.next() {
                Some(Ok(record)) => record,
                Some(Err(err)) => return Some(Err(err)),
                // A first group without values stands in once with empty
                // ones, if another source has values.
                None if !self.first_began && self.rest_has_values => empty_record(self.first_width),
                None => return None,
            };
            self.first_began = true;
            self.current = Some((head, vec![0; self.rest.len()]));
        }
        let (head, at) = self.current.as_mut().expect("set above");
        let mut record = head.clone();
        for (group, &i) in self.rest.iter().zip(at.iter()) {
            record.extend(group[i].iter().cloned());
        }
        // The next combination: the last position first.
        let mut carried = true;
        for (i, group) in at.iter_mut().zip(&self.rest).rev() {
            *i += 1;
            if *i < group.len() {
                carried = false;
                break;
            }
            *i = 0;
        }
        if carried {
            self.current = None;
        }
        Some(Ok(record))
    }
}

/// Reads `-d`'s delimiter: `\n`, `\t`, `\0`, `\\` and `\xHH` as in C;
/// never empty.
pub fn delimiter(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'0') => out.push(0),
            Some(b'\\') | None => out.push(b'\\'),
            Some(b'x') => {
                let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                let value = std::str::from_utf8(&hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("-d {text:?}: \\x takes two hex digits, e.g. \\x1f"))?;
                out.push(value);
            }
            Some(other) => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    if out.is_empty() {
        return Err("-d is empty: give the string that ends each input, e.g. -d ,".to_owned());
    }
    Ok(out)
}

/// Shuffles `items` (`--shuf`), seeded from the clock.
pub fn shuffle<T>(items: &mut VecDeque<T>) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x9e37_79b9, |d| {
            d.as_secs() << 30 ^ u64::from(d.subsec_nanos())
        })
        ^ u64::from(std::process::id()) << 32;
    let mut state = seed | 1;
    let slice = items.make_contiguous();
    for i in (1..slice.len()).rev() {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let j = usize::try_from(r % (i as u64 + 1)).unwrap_or(0); // At most `i`: it fits.
        slice.swap(i, j);
    }
}

#[cfg(test)]
mod tests;
