//! Output held back: the chunks a job streamed that its run cannot hand
//! on yet (a job before it in input order is not done, or its output goes
//! out whole when it ends). [`Held`] keeps one job's chunks in memory
//! while the run's [`Budget`] allows, and in the run's temporary file past
//! it, as GNU parallel does: in `$TMPDIR` (else `/tmp`), removed from the
//! directory as soon as it is made, so nothing is left behind even if the
//! process is killed.
//!
//! The run has one temporary file whatever the number of jobs held (one
//! file per job would run out of file descriptors behind a slow job): the
//! chunks of every job are appended to it, and each job keeps where its
//! own are. It is emptied whenever nothing in it is held any more. A held
//! output is handed on in the order its chunks came, whatever its size,
//! with at most one chunk in memory while it is read back.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::remote::Stream;

/// The memory a run's held outputs may take together, and the run's
/// temporary file for the rest.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Bytes of chunks held in memory now.
    in_memory: usize,
    /// The most, beyond which a job's chunks go to the file.
    max: usize,
    /// Bytes held in the file now.
    in_file: u64,
    /// Made at the first chunk that does not fit in memory.
    file: Option<Spill>,
}

impl Budget {
    /// A budget of `max` bytes in memory.
    pub(crate) fn new(max: usize) -> Budget {
        Budget {
            in_memory: 0,
            max,
            in_file: 0,
            file: None,
        }
    }

    /// Bytes of held output in memory.
    pub(crate) fn in_memory(&self) -> usize {
        self.in_memory
    }

    /// Bytes of held output in the temporary file.
    pub(crate) fn in_files(&self) -> u64 {
        self.in_file
    }

    /// The temporary file, made now if need be.
    fn file(&mut self) -> io::Result<&mut Spill> {
        if self.file.is_none() {
            self.file = Some(Spill::new()?);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("no temporary file"))
    }

    /// Counts `bytes` out of the file; empties it once nothing in it is
    /// held.
    fn release(&mut self, bytes: u64) {
        self.in_file -= bytes;
        if self.in_file == 0
            && let Some(file) = &mut self.file
        {
            file.empty();
        }
    }
}

/// Where a chunk of a held output is in the temporary file.
#[derive(Debug)]
struct Extent {
    stream: Stream,
    offset: u64,
    len: usize,
}

/// One job's held output, in the order it came.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// Chunks in memory, until the first goes to the file.
    chunks: VecDeque<(Stream, Vec<u8>)>,
    /// Their bytes.
    bytes: usize,
    /// Once the budget ran out: every chunk, from the first, in the file.
    extents: Option<Vec<Extent>>,
    /// Their bytes.
    in_file: u64,
}

impl Held {
    /// True if nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.extents.is_none()
    }

    /// Holds a chunk: in memory while `budget` has room, else (and from
    /// then on) in the run's temporary file, the chunks held in memory
    /// first.
    ///
    /// # Errors
    ///
    /// The temporary file cannot be made or written (see [`Spill::new`]).
    pub(crate) fn push(
        &mut self,
        stream: Stream,
        data: Vec<u8>,
        budget: &mut Budget,
    ) -> io::Result<()> {
        if self.extents.is_none() && budget.in_memory + data.len() <= budget.max {
            budget.in_memory += data.len();
            self.bytes += data.len();
            self.chunks.push_back((stream, data));
            return Ok(());
        }
        let file = budget.file()?;
        let extents = self.extents.get_or_insert_with(Vec::new);
        let mut written = 0;
        for (stream, chunk) in self.chunks.iter().chain([&(stream, data)]) {
            let offset = file.append(chunk)?;
            extents.push(Extent {
                stream: *stream,
                offset,
                len: chunk.len(),
            });
            written += chunk.len() as u64;
        }
        self.chunks.clear();
        budget.in_memory -= self.bytes;
        self.bytes = 0;
        self.in_file += written;
        budget.in_file += written;
        Ok(())
    }

    /// Drops what is held (the run that made it failed and runs again).
    pub(crate) fn clear(&mut self, budget: &mut Budget) {
        budget.in_memory -= self.bytes;
        self.bytes = 0;
        self.chunks.clear();
        self.extents = None;
        budget.release(std::mem::take(&mut self.in_file));
    }

    /// Hands the held chunks to `each` in order and forgets them.
    ///
    /// # Errors
    ///
    /// Reading the temporary file back failed.
    pub(crate) fn hand_on(
        &mut self,
        budget: &mut Budget,
        mut each: impl FnMut(Stream, &[u8]),
    ) -> io::Result<()> {
        if let Some(extents) = self.extents.take() {
            let read = match &mut budget.file {
                Some(file) => file.read_back(&extents, &mut each),
                None => Err(io::Error::other("a held output's temporary file is gone")),
            };
            budget.release(std::mem::take(&mut self.in_file));
            read?;
        }
        budget.in_memory -= self.bytes;
        self.bytes = 0;
        for (stream, chunk) in self.chunks.drain(..) {
            each(stream, &chunk);
        }
        Ok(())
    }
}

/// The run's temporary file of held chunks, appended to.
#[derive(Debug)]
struct Spill {
    file: BufWriter<File>,
    /// Its length, what is buffered included.
    len: u64,
}

/// Temporary files made by this process so far, for unique names.
static SPILLS: AtomicU64 = AtomicU64::new(0);

impl Spill {
    /// A new temporary file in `$TMPDIR` (else `/tmp`), readable by this
    /// user alone, already removed from the directory.
    ///
    /// # Errors
    ///
    /// The file cannot be made or removed; the message names the directory
    /// and what to do.
    fn new() -> io::Result<Spill> {
        let dir = std::env::temp_dir();
        let path = dir.join(format!(
            "hearth-held-{}-{}",
            std::process::id(),
            SPILLS.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|err| named(err, &dir))?;
        fs::remove_file(&path).map_err(|err| named(err, &dir))?;
        Ok(Spill {
            file: BufWriter::with_capacity(64 * 1024, file),
            len: 0,
        })
    }

    /// Appends `chunk`; returns where it starts.
    fn append(&mut self, chunk: &[u8]) -> io::Result<u64> {
        let offset = self.len;
        self.file
            .write_all(chunk)
            .map_err(|err| named(err, &std::env::temp_dir()))?;
        self.len += chunk.len() as u64;
        Ok(offset)
    }

    /// Reads the chunks at `extents` back, in order, into `each`.
    fn read_back(
        &mut self,
        extents: &[Extent],
        each: &mut impl FnMut(Stream, &[u8]),
    ) -> io::Result<()> {
        self.file.flush()?;
        let file = self.file.get_ref();
        let mut chunk = Vec::new();
        for extent in extents {
            chunk.resize(extent.len, 0);
            file.read_exact_at(&mut chunk, extent.offset)?;
            each(extent.stream, &chunk);
        }
        Ok(())
    }

    /// Gives the file's space back: nothing in it is held any more.
    fn empty(&mut self) {
        // What is buffered is not held either.
        let _ = self.file.flush();
        let file = self.file.get_mut();
        if file.set_len(0).is_ok() && file.seek(SeekFrom::Start(0)).is_ok() {
            self.len = 0;
        }
    }
}

/// `err` with the directory it happened in and what to do.
fn named(err: io::Error, dir: &Path) -> io::Error {
    io::Error::new(
        err.kind(),
        format!(
            "cannot hold a job's output in a temporary file in {}: {err}; set TMPDIR to a \
             directory with room",
            dir.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(held: &mut Held, budget: &mut Budget) -> Vec<(Stream, Vec<u8>)> {
        let mut out = Vec::new();
        held.hand_on(budget, |stream, bytes| out.push((stream, bytes.to_vec())))
            .unwrap();
        out
    }

    /// Within the budget chunks stay in memory; past it every chunk of the
    /// job goes to the file, the ones in memory first, and comes back in
    /// order; the file is emptied once nothing in it is held.
    #[test]
    fn chunks_come_back_in_order_from_memory_and_file() {
        let mut budget = Budget::new(10);
        let (mut a, mut b, mut c) = (Held::default(), Held::default(), Held::default());
        a.push(Stream::Stdout, b"abcd".to_vec(), &mut budget)
            .unwrap();
        b.push(Stream::Stderr, b"1234".to_vec(), &mut budget)
            .unwrap();
        assert_eq!((budget.in_memory(), budget.in_files()), (8, 0));
        // Past the budget: `a` goes to the file, all of it.
        a.push(Stream::Stderr, b"efgh".to_vec(), &mut budget)
            .unwrap();
        assert_eq!((budget.in_memory(), budget.in_files()), (4, 8));
        c.push(Stream::Stdout, b"1234567".to_vec(), &mut budget)
            .unwrap();
        a.push(Stream::Stdout, b"ij".to_vec(), &mut budget).unwrap();
        assert_eq!((budget.in_memory(), budget.in_files()), (4, 17));
        assert_eq!(
            collect(&mut a, &mut budget),
            [
                (Stream::Stdout, b"abcd".to_vec()),
                (Stream::Stderr, b"efgh".to_vec()),
                (Stream::Stdout, b"ij".to_vec()),
            ]
        );
        assert!(a.is_empty());
        assert_eq!((budget.in_memory(), budget.in_files()), (4, 7));
        assert_eq!(
            collect(&mut b, &mut budget),
            [(Stream::Stderr, b"1234".to_vec())]
        );
        assert_eq!(
            collect(&mut c, &mut budget),
            [(Stream::Stdout, b"1234567".to_vec())]
        );
        assert_eq!((budget.in_memory(), budget.in_files()), (0, 0));
        assert_eq!(budget.file.as_ref().map(|f| f.len), Some(0), "emptied");
    }

    #[test]
    fn cleared_output_gives_its_budget_back() {
        let mut budget = Budget::new(4);
        let mut held = Held::default();
        held.push(Stream::Stdout, b"ab".to_vec(), &mut budget)
            .unwrap();
        held.push(Stream::Stdout, b"cdef".to_vec(), &mut budget)
            .unwrap();
        assert_eq!((budget.in_memory(), budget.in_files()), (0, 6));
        held.clear(&mut budget);
        assert!(held.is_empty());
        assert_eq!((budget.in_memory(), budget.in_files()), (0, 0));
        // Held again afterwards, from the start of the emptied file.
        held.push(Stream::Stdout, b"ghijk".to_vec(), &mut budget)
            .unwrap();
        assert_eq!(
            collect(&mut held, &mut budget),
            [(Stream::Stdout, b"ghijk".to_vec())]
        );
    }
}
