//! `hearth map --pipe-part -a FILE`: a file cut into parts on record
//! boundaries, each part the stdin of one job, as GNU parallel's
//! `--pipe-part` cuts it. Unlike `--pipe`, which reads its input through,
//! the cut is found by seeking: from each multiple of the block size past
//! the last cut, the file is read (128 KiB at a time) only until a record
//! ends there (`--recend` followed by `--recstart`, as `--pipe` has them;
//! with `--regexp`, the last place in what was read), and the part ends
//! after it. A part is thus at least a block (the last one aside), and the
//! parts are read, each once, as the jobs that take them are made.
//!
//! The block size is `--block SIZE`; `--block -N` (and the default, -10)
//! makes N parts per slot: 1 + the files' size / slots / N bytes.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::pipe::{Separator, parse_size};

/// Bytes read at a time while looking for a record's end (GNU parallel's).
const LOOK: usize = 128 * 1024;

/// Parts per slot without `--block`, as GNU parallel.
const DEFAULT_PER_SLOT: f64 = 10.0;

/// The block size for files of `size` bytes in all over `slots` slots:
/// `--block SIZE`, or `--block -N` (default -10) for N parts per slot.
pub fn block_size(block: Option<&str>, size: u64, slots: usize) -> Result<u64, String> {
    let per_slot = match block.map(str::trim) {
        None => DEFAULT_PER_SLOT,
        Some(text) => match text.strip_prefix('-') {
            Some(count) => {
                let count = parse_size(count).map_err(|_| {
                    format!(
                        "--block {text:?} is not a number of parts per slot: write e.g. -1, -10"
                    )
                })?;
                u32::try_from(count).map_or(f64::from(u32::MAX), f64::from)
            }
            None => return parse_size(text).map(|size| u64::try_from(size).unwrap_or(u64::MAX)),
        },
    };
    let slots = u32::try_from(slots.max(1)).map_or(f64::from(u32::MAX), f64::from);
    // The size as a float: exact below 2^53 bytes.
    #[allow(clippy::cast_precision_loss)]
    let size = size as f64;
    let share = (size / slots / per_slot).floor();
    // At most the size of the files, a whole number: it fits.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(1 + share as u64)
}

/// The parts of the files, read as they are asked for.
pub struct Parts {
    files: std::vec::IntoIter<(PathBuf, File, Vec<u64>)>,
    current: Option<(PathBuf, File, Vec<u64>)>,
    /// The next part of `current`: from `cuts[at]` to `cuts[at + 1]`.
    at: usize,
}

impl Parts {
    /// The parts of `paths`, in order, cut at blocks of `block` bytes (see
    /// [`block_size`]) where `separator` says records end; each file from
    /// its second line with `skip_first_line` (`--skip-first-line`). The
    /// cuts are found now; the parts are read later.
    pub fn new(
        paths: &[PathBuf],
        block: u64,
        separator: &Separator,
        skip_first_line: bool,
    ) -> Result<Parts, String> {
        let mut files = Vec::new();
        for path in paths {
            let (file, size) = open(path)?;
            let cannot = |err| format!("--pipe-part: cannot read {}: {err}", path.display());
            let start = if skip_first_line {
                first_line_len(&file, size).map_err(cannot)?
            } else {
                0
            };
            let cuts = cuts(&file, start, size, block, separator).map_err(cannot)?;
            files.push((path.clone(), file, cuts));
        }
        Ok(Parts {
            files: files.into_iter(),
            current: None,
            at: 0,
        })
    }
}

/// The files' sizes together, for [`block_size`]; each must be a file
/// that can be read at any place (a regular file or a block device).
pub fn total_size(paths: &[PathBuf]) -> Result<u64, String> {
    let mut total = 0u64;
    for path in paths {
        total = total.saturating_add(open(path)?.1);
    }
    Ok(total)
}

/// Opens `path` for `--pipe-part`, and its size.
fn open(path: &Path) -> Result<(File, u64), String> {
    let cannot = |err: io::Error| format!("--pipe-part: cannot read {}: {err}", path.display());
    if path.as_os_str() == "-" {
        return Err(
            "--pipe-part reads its files at any place, which stdin (-) cannot be read at: give a \
             file, or use --pipe"
                .to_owned(),
        );
    }
    let file = File::open(path).map_err(cannot)?;
    let kind = file.metadata().map_err(cannot)?.file_type();
    let size = if kind.is_file() {
        file.metadata().map_err(cannot)?.len()
    } else if std::os::unix::fs::FileTypeExt::is_block_device(&kind) {
        // A block device's size is where its end is.
        io::Seek::seek(&mut &file, io::SeekFrom::End(0)).map_err(cannot)?
    } else {
        return Err(format!(
            "--pipe-part reads its files at any place: {} is not a file (a pipe or a stream \
             cannot be); use --pipe for it",
            path.display()
        ));
    };
    Ok((file, size))
}

/// The length of the first line of `file` (of `size` bytes), its newline
/// included: the whole file if it has none.
fn first_line_len(file: &File, size: u64) -> io::Result<u64> {
    let mut buf = vec![0; LOOK];
    let mut at = 0;
    while at < size {
        let n = file.read_at(&mut buf, at)?;
        if n == 0 {
            break;
        }
        if let Some(newline) = buf[..n].iter().position(|&b| b == b'\n') {
            return Ok(at + newline as u64 + 1);
        }
        at += n as u64;
    }
    Ok(size)
}

/// Where the parts of `file` (of `size` bytes, read from `start`) begin
/// and end: `start`, then from each block past the last cut, the end of
/// the first record that ends there, and `size`.
fn cuts(
    file: &File,
    start: u64,
    size: u64,
    block: u64,
    separator: &Separator,
) -> io::Result<Vec<u64>> {
    let mut cuts = vec![start];
    let mut pos = start + block;
    while pos < size {
        if let Some(end) = record_end(file, pos, separator)? {
            pos = end;
            cuts.push(pos);
        }
        pos += block;
    }
    if cuts.last() != Some(&size) {
        cuts.push(size);
    }
    Ok(cuts)
}

/// Where the first record ending at or after `from` ends (with
/// `--regexp`, the last one in what was read when one was found); `None`
/// if none does before the end of the file.
fn record_end(file: &File, from: u64, separator: &Separator) -> io::Result<Option<u64>> {
    let mut buf = Vec::new();
    let mut searched: usize = 0;
    loop {
        let start = buf.len();
        buf.resize(start + LOOK, 0);
        let read = read_at(file, &mut buf[start..], from + start as u64)?;
        buf.truncate(start + read);
        if read == 0 {
            return Ok(None);
        }
        let found = match separator {
            Separator::Strings { recend, recstart } => {
                let both = [&recend[..], &recstart[..]].concat();
                if both.is_empty() {
                    // Records end anywhere.
                    return Ok(Some(from));
                }
                // Where the last look stopped, less what may straddle.
                let back = searched.saturating_sub(both.len() - 1);
                buf[back..]
                    .windows(both.len())
                    .position(|w| w == both)
                    .map(|at| back + at + recend.len())
            }
            Separator::Regexes { boundary, .. } => boundary
                .captures_iter(&buf)
                .last()
                .and_then(|c| c.get(1))
                .map(|m| m.end()),
        };
        if let Some(end) = found {
            return Ok(Some(from + end as u64));
        }
        searched = buf.len();
    }
}

/// Reads at `offset` until `buf` is full or the file ends; the bytes read.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(got)
}

impl Iterator for Parts {
    /// A part, or why it could not be read.
    type Item = Result<Vec<u8>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((path, file, cuts)) = &self.current
                && self.at + 1 < cuts.len()
            {
                let (start, end) = (cuts[self.at], cuts[self.at + 1]);
                self.at += 1;
                let Ok(len) = usize::try_from(end - start) else {
                    return Some(Err(format!(
                        "--pipe-part: a part of {} is larger than memory can hold",
                        path.display()
                    )));
                };
                let mut part = vec![0; len];
                return Some(match read_at(file, &mut part, start) {
                    Ok(read) if read == len => Ok(part),
                    Ok(_) => Err(format!(
                        "--pipe-part: {} is shorter than it was: it changed while it was cut",
                        path.display()
                    )),
                    Err(err) => Err(format!(
                        "--pipe-part: cannot read {}: {err}",
                        path.display()
                    )),
                });
            }
            self.current = Some(self.files.next()?);
            self.at = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipe::Cutting;

    fn file_with(bytes: &[u8]) -> File {
        let path = std::env::temp_dir().join(format!(
            "hearth-pipe-part-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, bytes).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }

    fn separator(recend: Option<&str>, recstart: Option<&str>, regexp: bool) -> Separator {
        Cutting::new(None, recend, recstart, regexp, None)
            .unwrap()
            .separator
    }

    #[test]
    fn first_lines_are_measured_to_their_newline() {
        assert_eq!(first_line_len(&file_with(b"ab\ncd\n"), 6).unwrap(), 3);
        assert_eq!(first_line_len(&file_with(b"\nx"), 2).unwrap(), 1);
        assert_eq!(first_line_len(&file_with(b"abc"), 3).unwrap(), 3);
        let file = file_with(b"h\n1\n2\n3\n");
        assert_eq!(
            cuts(&file, 2, 8, 3, &separator(None, None, false)).unwrap(),
            [2, 6, 8]
        );
    }

    #[test]
    fn cuts_at_the_first_record_end_past_each_block() {
        // Lines 1 to 20: "1\n".."9\n" are 18 bytes, "10\n".. 3 each.
        let text = (1..=20).fold(String::new(), |mut text, i| {
            text.push_str(&i.to_string());
            text.push('\n');
            text
        });
        let file = file_with(text.as_bytes());
        let size = text.len() as u64;
        let lines = separator(None, None, false);
        // From 30, the next newline ends "14\n" at 33; from 63, "24"..
        // past the end.
        assert_eq!(cuts(&file, 0, size, 30, &lines).unwrap(), [0, 33, size]);
        assert_eq!(cuts(&file, 0, size, 1000, &lines).unwrap(), [0, size]);
        assert_eq!(
            cuts(&file, 0, size, 10, &lines).unwrap(),
            [0, 12, 24, 36, 48, size]
        );
        // A record end at the very end is the last cut, once.
        assert_eq!(cuts(&file, 0, size, 49, &lines).unwrap(), [0, size]);
        assert_eq!(cuts(&file_with(b""), 0, 0, 10, &lines).unwrap(), [0]);
    }

    #[test]
    fn records_with_starts_and_expressions() {
        let fasta = b">a\nACGT\n>b\nGG\n>c\nT\n";
        let file = file_with(fasta);
        let size = fasta.len() as u64;
        let starts = separator(None, Some(">"), false);
        assert_eq!(cuts(&file, 0, size, 1, &starts).unwrap(), [0, 8, 14, size]);
        // --regexp: the last boundary in what was read.
        let regexp = separator(Some("\\n"), Some(">"), true);
        assert_eq!(cuts(&file, 0, size, 1, &regexp).unwrap(), [0, 14, size]);
    }

    #[test]
    fn a_separator_across_reads_is_found() {
        let mut bytes = vec![b'x'; LOOK - 1];
        bytes.extend_from_slice(b"END>next");
        let file = file_with(&bytes);
        let sep = separator(Some("END"), Some(">"), false);
        let size = bytes.len() as u64;
        assert_eq!(
            cuts(&file, 0, size, 1, &sep).unwrap(),
            [0, LOOK as u64 + 2, size]
        );
    }

    #[test]
    fn block_sizes_as_gnu_parallel_sets_them() {
        assert_eq!(block_size(Some("10k"), 1 << 30, 4), Ok(10_000));
        // -N parts per slot, 10 by default.
        assert_eq!(block_size(Some("-1"), 1000, 4), Ok(251));
        assert_eq!(block_size(None, 1000, 4), Ok(26));
        assert_eq!(block_size(None, 0, 4), Ok(1));
        assert!(block_size(Some("-x"), 1000, 4).is_err());
    }
}
