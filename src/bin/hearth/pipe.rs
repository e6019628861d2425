//! `hearth map --pipe`: stdin cut into blocks on record boundaries, each
//! block the stdin of one job, as GNU parallel cuts it (`--block`,
//! `--recend`, `--recstart`, `--regexp`, `-N`):
//!
//! - A block is read up to the next multiple of the block size (what was
//!   left of the one before, and more), then cut after the last place
//!   where a record ends and the next begins (`--recend`, default `\n`,
//!   followed by `--recstart`, default nothing); what follows waits for
//!   the next block. So blocks are at most the block size, and whole
//!   records.
//! - With `-N n`, blocks are of exactly `n` records (the last may have
//!   fewer), as many as the bytes read hold.
//! - With `-L l`, a record is `l` lines: a block is the whole records that
//!   were read (at the end of the input too: what is left is a block of
//!   its own), or with `-N n`, `n` records of `l` lines.
//! - A block where no record ends (a record longer than the block size)
//!   makes the block size grow by 30%, with a warning, until one fits.
//! - At the end of the input, what is left is the last block; an empty
//!   input runs no job.
//!
//! Blocks are read as the jobs need them: the reader waits while the
//! run's feed is full, so memory holds a few blocks per slot, whatever the
//! size of the input.

use std::io::{self, Read as _};
use std::time::{Duration, Instant};

use crate::block_timeout::Input;

use regex::bytes::Regex;

/// The largest block (GNU parallel's: 2 GiB less a byte).
const MAX_BLOCK: usize = (1 << 31) - 1;

/// [`MAX_BLOCK`] as a float, exact (it is below 2^53).
const MAX_BLOCK_F64: f64 = 2_147_483_647.0;

/// A block size worked out as a float (a fraction of a unit, a block
/// grown by 30%) as bytes: rounded down, and held to 1 to [`MAX_BLOCK`].
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // Held to 1..=2^31-1 first: it fits.
fn float_bytes(bytes: f64) -> usize {
    bytes.clamp(1.0, MAX_BLOCK_F64) as usize
}

/// A block size (at most [`MAX_BLOCK`]) as a float, exact.
fn size_f64(size: usize) -> f64 {
    u32::try_from(size.min(MAX_BLOCK)).map_or(MAX_BLOCK_F64, f64::from)
}

/// Where records end and begin.
#[derive(Debug)]
pub enum Separator {
    /// Plain strings: `recend` then `recstart` (both empty: records end
    /// anywhere).
    Strings { recend: Vec<u8>, recstart: Vec<u8> },
    /// Regular expressions (`--regexp`).
    Regexes {
        /// `(RECEND)(RECSTART)`: the end of group 1 is a cut.
        boundary: Regex,
        /// `\A(?:RECSTART)`: a record begins here.
        start: Regex,
    },
}

/// How stdin is cut.
#[derive(Debug)]
pub struct Cutting {
    /// `--block`: the size of a block in bytes.
    pub block: usize,
    /// `-N`: records per block.
    pub records: Option<usize>,
    /// `-L`: lines per record (GNU parallel's records of whole lines:
    /// without `-N`, a block is the whole `-L` records that fit; with it,
    /// `-N` records of `-L` lines).
    pub lines: Option<usize>,
    pub separator: Separator,
}

impl Cutting {
    /// From the options' values: `--block` (default 1M), `--recend`,
    /// `--recstart`, `--regexp`, `-N`.
    pub fn new(
        block: Option<&str>,
        recend: Option<&str>,
        recstart: Option<&str>,
        regexp: bool,
        records: Option<usize>,
    ) -> Result<Cutting, String> {
        let block = match block {
            Some(text) => parse_size(text)?,
            None => 1 << 20,
        };
        let (recend, recstart) = separators(recend, recstart);
        let separator = if regexp {
            let recend = if recend.is_empty() { "(?s:.)" } else { recend };
            let compile = |pattern: String| {
                Regex::new(&pattern).map_err(|err| {
                    format!(
                        "--recend {recend:?} / --recstart {recstart:?} with --regexp: not a \
                         regular expression: {err}"
                    )
                })
            };
            // As Perl's /m without /s, as GNU parallel matches them: `^`
            // and `$` at line ends, and a `.` of the user's no newline (a
            // `.*` in --recstart stays on its line).
            Separator::Regexes {
                boundary: compile(format!("(?m)((?:{recend}))(?:{recstart})"))?,
                start: compile(format!("(?m)\\A(?:{recstart})"))?,
            }
        } else {
            // Both empty: records end anywhere (blocks of the block size,
            // or -N bytes), as in GNU parallel.
            let (recend, recstart) = (unescape(recend), unescape(recstart));
            Separator::Strings { recend, recstart }
        };
        Ok(Cutting {
            block,
            records,
            lines: None,
            separator,
        })
    }

    /// With `-L`: records of `lines` lines.
    pub fn with_lines(mut self, lines: Option<usize>) -> Cutting {
        self.lines = lines.filter(|&n| n > 0);
        self
    }
}

/// `--recend` and `--recstart` as given, with GNU parallel's defaults:
/// neither given, records end with a newline; `--recstart` alone ends
/// them nowhere in particular.
pub fn separators<'a>(recend: Option<&'a str>, recstart: Option<&'a str>) -> (&'a str, &'a str) {
    match (recend, recstart) {
        (None, None) => ("\n", ""),
        (end, start) => (end.unwrap_or(""), start.unwrap_or("")),
    }
}

/// A size as GNU parallel reads `--block`: a number (a fraction too) and
/// an optional unit, `k` `m` `g` `t` `p` for powers of 1000, `K` `M` `G`
/// `T` `P` (or `Ki`, `Mi`, ...) for powers of 1024.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let bad = || {
        format!(
            "--block {text:?} is not a size: write bytes, e.g. 1M (1 MiB), 500k (500,000 bytes), \
             64K (64 KiB)"
        )
    };
    let bytes = bytes_of(text).ok_or_else(bad)?;
    if bytes < 1.0 {
        return Err(format!("--block {text:?} is less than a byte"));
    }
    if bytes > MAX_BLOCK_F64 {
        return Err(format!(
            "--block {text:?} is more than {MAX_BLOCK} bytes, the largest block"
        ));
    }
    Ok(float_bytes(bytes))
}

/// The bytes `text` says, with GNU parallel's units (see [`parse_size`]),
/// rounded down; `None` if it says none.
pub fn bytes_of(text: &str) -> Option<f64> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.parse().ok()?;
    let power = |base: f64, exp: i32| base.powi(exp);
    let factor = match unit {
        "" => 1.0,
        "k" => power(1000.0, 1),
        "m" => power(1000.0, 2),
        "g" => power(1000.0, 3),
        "t" => power(1000.0, 4),
        "p" => power(1000.0, 5),
        "K" | "Ki" | "ki" => power(1024.0, 1),
        "M" | "Mi" | "mi" => power(1024.0, 2),
        "G" | "Gi" | "gi" => power(1024.0, 3),
        "T" | "Ti" | "ti" => power(1024.0, 4),
        "P" | "Pi" | "pi" => power(1024.0, 5),
        _ => return None,
    };
    Some((number * factor).floor())
}

/// `\0 \r \n \t \' \" \\` as GNU parallel reads them in `--recend` and
/// `--recstart` (without `--regexp`).
pub fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes().peekable();
    while let Some(b) = bytes.next() {
        let escaped = match (b, bytes.peek()) {
            (b'\\', Some(b'0')) => Some(0),
            (b'\\', Some(b'r')) => Some(b'\r'),
            (b'\\', Some(b'n')) => Some(b'\n'),
            (b'\\', Some(b't')) => Some(b'\t'),
            (b'\\', Some(&c @ (b'\'' | b'"' | b'\\'))) => Some(c),
            _ => None,
        };
        match escaped {
            Some(c) => {
                out.push(c);
                let _ = bytes.next();
            }
            None => out.push(b),
        }
    }
    out
}

/// stdin after `--pipe --header`'s header: the bytes read ahead of it
/// that were not the header, then the rest.
pub type AfterHeader = io::Chain<io::Cursor<Vec<u8>>, std::fs::File>;

/// The most `--pipe --header REGEX` reads to look for its header.
const MAX_HEADER: usize = 1 << 20;

/// `--header` with `--pipe`: the header at the start of `input`, which
/// goes before every block, as GNU parallel's: `N` lines (`:` is 1), or
/// what `REGEX` matches there (looked for in the first MiB); and the
/// input after it. No `--header`: no header, the whole input.
///
/// # Errors
///
/// A bad regular expression, or a read that fails.
pub fn header(
    mut input: std::fs::File,
    spec: Option<&str>,
) -> Result<(Option<Vec<u8>>, AfterHeader), String> {
    let cannot = |err: io::Error| format!("cannot read stdin: {err}");
    let Some(spec) = spec else {
        return Ok((None, io::Cursor::new(Vec::new()).chain(input)));
    };
    let lines = match spec {
        ":" => Some(1),
        _ => spec.parse::<usize>().ok(),
    };
    if let Some(lines) = lines {
        // A byte at a time: what follows is the blocks'.
        let (mut header, mut byte, mut seen) = (Vec::new(), [0], 0);
        while seen < lines && input.read(&mut byte).map_err(cannot)? == 1 {
            header.push(byte[0]);
            seen += usize::from(byte[0] == b'\n');
        }
        return Ok((Some(header), io::Cursor::new(Vec::new()).chain(input)));
    }
    let regex = regex::bytes::Regex::new(&format!("^(?:{spec})"))
        .map_err(|err| format!("--header {spec:?} is not a regular expression: {err}"))?;
    let mut ahead = Vec::new();
    let _ = (&mut input)
        .take(MAX_HEADER as u64)
        .read_to_end(&mut ahead)
        .map_err(cannot)?;
    let len = regex.find(&ahead).map_or(0, |found| found.end());
    let rest = ahead.split_off(len);
    Ok((Some(ahead), io::Cursor::new(rest).chain(input)))
}

/// The blocks of an input, read as they are asked for.
pub struct Blocks<R> {
    input: R,
    cutting: Cutting,
    /// The current block size (it grows for records longer than it).
    size: usize,
    /// Read; from `start` on, not yet in a block.
    buf: Vec<u8>,
    /// Where what is not yet in a block begins in `buf`: a cut moves it
    /// on (each block copied out once), and a read first moves what is
    /// left to the front (once per read, not per cut: cutting many small
    /// records out of one read is linear, not quadratic).
    start: usize,
    /// Blocks cut and not yet handed out.
    ready: std::collections::VecDeque<Vec<u8>>,
    eof: bool,
    done: bool,
    /// `-N` with `--regexp`: the bytes before the first record's start
    /// were looked at.
    garbage_seen: bool,
    /// Says that a block grew (a warning on stderr).
    warn: fn(usize, usize),
    /// `--block-timeout`: the longest a block is read for.
    timeout: Option<Duration>,
}

impl<R: Input> Blocks<R> {
    /// The blocks of `input`, cut as `cutting` says.
    pub fn new(input: R, cutting: Cutting) -> Blocks<R> {
        Blocks {
            input,
            size: cutting.block,
            cutting,
            buf: Vec::new(),
            start: 0,
            ready: std::collections::VecDeque::new(),
            eof: false,
            done: false,
            garbage_seen: false,
            timeout: None,
            warn: |old, new| {
                say!(
                    "hearth map: warning: a record was longer than {old} bytes; --block is now \
                     {new}"
                );
            },
        }
    }

    /// With `--block-timeout`: a block is read for at most `timeout`, then
    /// cut from what came (see `block_timeout.rs`).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Blocks<R> {
        self.timeout = timeout;
        self
    }

    /// Reads up to the next multiple of the block size, or to the end, or
    /// (`--block-timeout`) until the time is up.
    fn read_block(&mut self) -> io::Result<()> {
        drop(self.buf.drain(..self.start));
        self.start = 0;
        let want = self.size - self.buf.len() % self.size;
        let start = self.buf.len();
        self.buf.resize(start + want, 0);
        let deadline = self.timeout.map(|timeout| Instant::now() + timeout);
        let mut got = 0;
        let mut last = 1;
        while got < want && last > 0 {
            // Nothing is cut before something came: the first read waits
            // for it, so a timeout shorter than a pass of this loop does
            // not spin without reading (it used to). The deadline is the
            // block's, from its start.
            if let Some(deadline) = deadline
                && got > 0
            {
                let left = deadline.saturating_duration_since(Instant::now());
                let ready = !left.is_zero()
                    && self.input.ready_within(left).inspect_err(|_| {
                        self.buf.truncate(start + got);
                    })?;
                if !ready {
                    break;
                }
            }
            last = match self.input.read(&mut self.buf[start + got..]) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    self.buf.truncate(start + got);
                    return Err(err);
                }
            };
            got += last;
        }
        self.buf.truncate(start + got);
        self.eof = last == 0;
        Ok(())
    }

    /// What was read and is not yet in a block.
    fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Cuts the first `end` bytes of [`Blocks::pending`] off as a block
    /// (nothing for an empty one).
    fn cut(&mut self, end: usize) -> bool {
        if end == 0 {
            return false;
        }
        let block = self.pending()[..end].to_vec();
        self.start += end;
        self.ready.push_back(block);
        true
    }

    /// `-L` without `-N`: cuts after the last whole record of `lines`
    /// newlines in what was read, at the end of the input too (what is
    /// left, a record of fewer lines, is a block of its own, as in GNU
    /// parallel); true if it cut.
    fn split_lines(&mut self, lines: usize) -> bool {
        let ends: Vec<usize> = (self.pending().iter().enumerate())
            .filter(|(_, b)| **b == b'\n')
            .map(|(at, _)| at + 1)
            .collect();
        let whole = ends.len() - ends.len() % lines;
        whole > 0 && self.cut(ends[whole - 1])
    }

    /// Cuts what was read into blocks; true if it cut any.
    fn split(&mut self) -> bool {
        if let (Some(lines), None) = (self.cutting.lines, self.cutting.records) {
            return self.split_lines(lines);
        }
        // -N records of -L lines each: N × L of the plain records.
        let records = (self.cutting.records).map(|n| n * self.cutting.lines.unwrap_or(1));
        let mut cut = false;
        match (&self.cutting.separator, records) {
            (Separator::Strings { recend, recstart }, None) => {
                if self.eof {
                    return false;
                }
                let sep = [&recend[..], &recstart[..]].concat();
                if let Some(at) = rfind(self.pending(), &sep) {
                    let end = at + recend.len();
                    cut = self.cut(end);
                }
            }
            (Separator::Strings { recend, recstart }, Some(n)) => {
                let sep = [&recend[..], &recstart[..]].concat();
                let end_len = recend.len();
                while let Some(at) = nth_from_one(self.pending(), &sep, n) {
                    if self.pending().is_empty() || !self.cut(at + end_len) {
                        break;
                    }
                    cut = true;
                }
            }
            (Separator::Regexes { boundary, .. }, None) => {
                if self.eof {
                    return false;
                }
                let last = boundary
                    .captures_iter(self.pending())
                    .last()
                    .and_then(|c| c.get(1))
                    .map(|m| m.end());
                if let Some(end) = last {
                    cut = self.cut(end);
                }
            }
            (Separator::Regexes { boundary, start }, Some(n)) => {
                let (boundary, start) = (boundary.clone(), start.clone());
                if !self.garbage_seen {
                    self.garbage_seen = true;
                    // Bytes before the first record's start: a block of
                    // their own.
                    if !start.is_match(self.pending())
                        && let Some(end) = boundary
                            .captures(self.pending())
                            .and_then(|c| c.get(1))
                            .map(|m| m.end())
                    {
                        cut |= self.cut(end);
                    }
                }
                while let Some(end) = n_regex_records(self.pending(), &boundary, &start, n) {
                    if !self.cut(end) {
                        break;
                    }
                    cut = true;
                }
            }
        }
        cut
    }
}

/// The position of the last `sep` in `buf`.
fn rfind(buf: &[u8], sep: &[u8]) -> Option<usize> {
    if sep.len() > buf.len() {
        return None;
    }
    (0..=buf.len() - sep.len())
        .rev()
        .find(|&i| buf[i..].starts_with(sep))
}

/// The position of the `n`th `sep` in `buf`, each looked for from one past
/// the one before (the first from 1), as GNU parallel counts.
fn nth_from_one(buf: &[u8], sep: &[u8], n: usize) -> Option<usize> {
    let mut at = 0;
    for _ in 0..n {
        let from = at + 1;
        if from > buf.len() {
            return None;
        }
        at = from + find(&buf[from..], sep)?;
    }
    Some(at)
}

/// The position of the first `sep` in `buf`.
fn find(buf: &[u8], sep: &[u8]) -> Option<usize> {
    if sep.is_empty() {
        return Some(0);
    }
    buf.windows(sep.len()).position(|w| w == sep)
}

/// The end of `n` records at the start of `buf` (each beginning where
/// `start` matches and ending at the first boundary after), if they are
/// all there and the next record begins.
fn n_regex_records(buf: &[u8], boundary: &Regex, start: &Regex, n: usize) -> Option<usize> {
    let mut at = 0;
    for _ in 0..n {
        let begins = start.find(&buf[at..])?;
        let from = at + begins.end();
        let found = boundary.captures_at(buf, from)?;
        at = found.get(1)?.end();
    }
    (at > 0).then_some(at)
}

impl<R: Input> Iterator for Blocks<R> {
    /// A block, or why reading stopped.
    type Item = Result<Vec<u8>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(block) = self.ready.pop_front() {
                return Some(Ok(block));
            }
            if self.done {
                return None;
            }
            if self.eof {
                self.done = true;
                let last = self.pending().to_vec();
                self.buf = Vec::new();
                self.start = 0;
                return (!last.is_empty()).then_some(Ok(last));
            }
            if let Err(err) = self.read_block() {
                self.done = true;
                return Some(Err(format!("cannot read stdin: {err}")));
            }
            let cut = self.split();
            // With a timeout, GNU parallel's blocks do not grow: a long
            // record is read on, a multiple of the block size at a time.
            if !cut && !self.eof && self.size < MAX_BLOCK && self.timeout.is_none() {
                let old = self.size;
                self.size = float_bytes((size_f64(old) * 1.3 + 1.0).ceil());
                (self.warn)(old, self.size);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(input: &[u8], cutting: Cutting) -> Vec<String> {
        let mut blocks = Blocks::new(input, cutting);
        blocks.warn = |_, _| {};
        blocks
            .map(|b| String::from_utf8(b.unwrap()).unwrap())
            .collect()
    }

    fn cutting(block: &str, end: Option<&str>, start: Option<&str>, n: Option<usize>) -> Cutting {
        Cutting::new(Some(block), end, start, false, n).unwrap()
    }

    #[test]
    fn sizes_as_gnu_parallel_reads_them() {
        assert_eq!(parse_size("10k"), Ok(10_000));
        assert_eq!(parse_size("10K"), Ok(10_240));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("1.5m"), Ok(1_500_000));
        assert_eq!(parse_size("2Ki"), Ok(2048));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("ten").unwrap_err().contains("is not a size"));
        assert!(parse_size("0").unwrap_err().contains("less than a byte"));
        assert!(parse_size("3G").unwrap_err().contains("largest block"));
    }

    #[test]
    fn blocks_end_at_the_last_record_end_within_the_size() {
        // 10 bytes a block: "1\n2\n3\n4\n5\n" is 10.
        let input = b"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n";
        assert_eq!(
            blocks(input, cutting("10", None, None, None)),
            ["1\n2\n3\n4\n5\n", "6\n7\n8\n9\n", "10\n11\n"]
        );
        // -N 3: three records each, the last fewer.
        assert_eq!(
            blocks(input, cutting("1M", None, None, Some(3))),
            ["1\n2\n3\n", "4\n5\n6\n", "7\n8\n9\n", "10\n11\n"]
        );
        // No last newline: the rest is the last block.
        assert_eq!(
            blocks(b"a\nb\nc", cutting("4", None, None, None)),
            ["a\nb\n", "c"]
        );
        assert_eq!(
            blocks(b"", cutting("4", None, None, None)),
            Vec::<String>::new()
        );
    }

    #[test]
    fn record_starts_and_ends() {
        let fasta = b">a\nAC\n>b\nGT\n>c\nTT\n";
        assert_eq!(
            blocks(fasta, cutting("1M", None, Some(">"), Some(1))),
            [">a\nAC\n", ">b\nGT\n", ">c\nTT\n"]
        );
        // --recstart alone: a record may begin mid-line.
        assert_eq!(
            blocks(b"a>b\n>c\nd>e\n", cutting("1M", None, Some(">"), Some(1))),
            ["a", ">b\n", ">c\nd", ">e\n"]
        );
        assert_eq!(
            blocks(
                b"a>b\n>c\nd>e\n",
                cutting("1M", Some("\\n"), Some(">"), Some(1))
            ),
            ["a>b\n", ">c\nd>e\n"]
        );
        assert_eq!(
            blocks(b"a;b;c;", cutting("1M", Some(";"), None, Some(1))),
            ["a;", "b;", "c;"]
        );
        // Records that end anywhere: blocks of the block size, or -N
        // bytes.
        assert_eq!(
            blocks(b"abcdefghij", cutting("4", Some(""), None, None)),
            ["abcd", "efgh", "ij"]
        );
        assert_eq!(
            blocks(b"abcde", cutting("1M", Some(""), None, Some(2))),
            ["ab", "cd", "e"]
        );
    }

    #[test]
    fn max_block_f64_is_max_block() {
        assert_eq!(float_bytes(MAX_BLOCK_F64), MAX_BLOCK);
        assert_eq!(float_bytes(MAX_BLOCK_F64 * 2.0), MAX_BLOCK);
        assert_eq!(float_bytes(size_f64(MAX_BLOCK)), MAX_BLOCK);
        assert_eq!(float_bytes(size_f64(1000) * 1.3), 1300);
    }

    /// Many small records out of one read: each block is its own small
    /// allocation (a cut used to hand out the whole read buffer, and
    /// move all that followed, for each record).
    #[test]
    fn small_records_are_blocks_of_their_own_size() {
        let input: String = (0..20_000).map(|i| i.to_string() + "\n").collect();
        let mut blocks = Blocks::new(input.as_bytes(), cutting("1M", None, None, Some(1)));
        blocks.warn = |_, _| {};
        let mut total = 0;
        for block in blocks {
            let block = block.unwrap();
            assert!(block.capacity() <= block.len() + 64, "{}", block.capacity());
            total += block.len();
        }
        assert_eq!(total, input.len());
    }

    #[test]
    fn a_record_longer_than_the_block_grows_it() {
        let input = format!("{}\n{}", "x".repeat(100), "y\n".repeat(100));
        let got = blocks(input.as_bytes(), cutting("10", None, None, None));
        assert_eq!(got.concat(), input);
        assert!(
            got[0].starts_with(&format!("{}\n", "x".repeat(100))),
            "{got:?}"
        );
        assert!(
            got.len() > 1 && got.iter().all(|b| b.ends_with('\n')),
            "{got:?}"
        );
    }

    #[test]
    fn regular_expressions() {
        let regexp = |end: &str, n| Cutting::new(Some("1M"), Some(end), None, true, n).unwrap();
        assert_eq!(
            blocks(b"aXXbXXc", regexp("X+", Some(1))),
            ["aXX", "bXX", "c"]
        );
        assert_eq!(
            blocks(b"a.b.c", regexp(".", Some(1))),
            ["a", ".", "b", ".", "c"]
        );
    }
}
