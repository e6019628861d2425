//! A job's standard input on the worker's side: the bytes of the pool's
//! `STDIN` frames, gathered as they arrive before the job's `JOB` frame,
//! in memory up to [`SPILL_ABOVE`] and past it in a temporary file of
//! this user's, removed from its directory at once (nothing is left even
//! after a `SIGKILL`). The job reads it back from the start
//! ([`JobStdin`] is a `Read`), or [`JobContext::run_command`] feeds it to
//! its command through a pipe.
//!
//! [`JobContext::run_command`]: super::JobContext::run_command

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU64, Ordering};

/// A stdin larger than this goes to a temporary file (4 MiB: the default
/// block of `hearth map --pipe`, 1 MiB, stays in memory).
pub(crate) const SPILL_ABOVE: usize = 4 * 1024 * 1024;

/// Temporary files made by this process so far, for unique names.
static SPILLS: AtomicU64 = AtomicU64::new(0);

/// What a job reads on its standard input, as its pool sent it
/// ([`Files::stdin`](crate::remote::Files::stdin)); read from the start.
pub struct JobStdin {
    held: Held,
    len: u64,
}

enum Held {
    Memory { bytes: Vec<u8>, read: usize },
    File(File),
}

impl JobStdin {
    /// An empty stdin, to which the chunks are appended.
    pub(crate) fn new() -> JobStdin {
        JobStdin {
            held: Held::Memory {
                bytes: Vec::new(),
                read: 0,
            },
            len: 0,
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a chunk; past [`SPILL_ABOVE`] the bytes move to a
    /// temporary file.
    ///
    /// # Errors
    ///
    /// The temporary file cannot be made or written; the message names
    /// its directory and what to do.
    pub(crate) fn append(&mut self, chunk: &[u8]) -> Result<(), String> {
        let dir = std::env::temp_dir();
        let named = |err: io::Error| {
            format!(
                "cannot keep its stdin ({} bytes) in {}: {err}; set TMPDIR to a directory with room",
                self.len + chunk.len() as u64,
                dir.display()
            )
        };
        match &mut self.held {
            Held::Memory { bytes, .. } if bytes.len() + chunk.len() <= SPILL_ABOVE => {
                bytes.extend_from_slice(chunk);
            }
            Held::Memory { bytes, .. } => {
                let mut file = spill_file(&dir).map_err(named)?;
                file.write_all(bytes)
                    .and_then(|()| file.write_all(chunk))
                    .map_err(named)?;
                self.held = Held::File(file);
            }
            Held::File(file) => file.write_all(chunk).map_err(named)?,
        }
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// Ready to be read from the start (the worker does it before the job
    /// gets it).
    pub(crate) fn rewind(&mut self) -> io::Result<()> {
        match &mut self.held {
            Held::Memory { read, .. } => *read = 0,
            Held::File(file) => {
                let _ = file.seek(SeekFrom::Start(0))?;
            }
        }
        Ok(())
    }
}

/// A new file in `dir`, readable by this user alone, already removed
/// from the directory.
fn spill_file(dir: &std::path::Path) -> io::Result<File> {
    let path = dir.join(format!(
        "hearth-stdin-{}-{}",
        std::process::id(),
        SPILLS.fetch_add(1, Ordering::Relaxed)
    ));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    fs::remove_file(&path)?;
    Ok(file)
}

impl Read for JobStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.held {
            Held::Memory { bytes, read } => {
                let n = buf.len().min(bytes.len() - *read);
                buf[..n].copy_from_slice(&bytes[*read..*read + n]);
                *read += n;
                Ok(n)
            }
            Held::File(file) => file.read(buf),
        }
    }
}

impl fmt::Debug for JobStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match self.held {
            Held::Memory { .. } => "memory",
            Held::File(_) => "file",
        };
        f.debug_struct("JobStdin")
            .field("len", &self.len)
            .field("in", &place)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(stdin: &mut JobStdin) -> Vec<u8> {
        stdin.rewind().unwrap();
        let mut all = Vec::new();
        let _ = stdin.read_to_end(&mut all).unwrap();
        all
    }

    #[test]
    fn small_stays_in_memory_and_large_spills_to_a_removed_file() {
        let mut small = JobStdin::new();
        small.append(b"1\n2\n").unwrap();
        small.append(b"").unwrap();
        small.append(b"3\n").unwrap();
        assert!(format!("{small:?}").contains("memory"));
        assert_eq!(
            (small.len(), read_all(&mut small)),
            (6, b"1\n2\n3\n".to_vec())
        );

        let chunk: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
        let mut large = JobStdin::new();
        let mut want = Vec::new();
        for _ in 0..5 {
            large.append(&chunk).unwrap();
            want.extend_from_slice(&chunk);
        }
        assert!(format!("{large:?}").contains("file"), "{large:?}");
        assert_eq!(large.len(), want.len() as u64);
        assert!(read_all(&mut large) == want);
        // Read twice: the same bytes.
        assert!(read_all(&mut large) == want);
    }
}
