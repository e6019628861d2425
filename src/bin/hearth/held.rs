//! A job's output held until the job ends (`--color-failed`, whose colour
//! depends on how it ends): in memory up to [`IN_MEMORY`] bytes for the
//! job, past that in a temporary file of its own (in `$TMPDIR`, removed at
//! once, so only the open file keeps it), so that a job printing gigabytes
//! costs disk, not memory, as the pool's own held output does.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Bytes of one job's output held in memory, at most.
const IN_MEMORY: usize = 16 * 1024 * 1024;

/// Bytes read back at a time.
const CHUNK: usize = 1024 * 1024;

/// Where one stream's bytes are.
#[derive(Debug)]
enum Part {
    Memory(Vec<u8>),
    File(File),
}

/// The output of one job so far, stdout and stderr.
#[derive(Debug)]
pub struct Held {
    parts: [Part; 2],
    /// Bytes in memory, both streams.
    in_memory: usize,
}

impl Default for Held {
    fn default() -> Held {
        Held {
            parts: [Part::Memory(Vec::new()), Part::Memory(Vec::new())],
            in_memory: 0,
        }
    }
}

impl Held {
    /// Adds `bytes` of stream `at` (0 stdout, 1 stderr).
    pub fn push(&mut self, at: usize, bytes: &[u8]) -> io::Result<()> {
        if let Part::Memory(kept) = &mut self.parts[at]
            && self.in_memory + bytes.len() > IN_MEMORY
        {
            let mut file = crate::block_file::unnamed_file("a job's output for --color-failed")?;
            file.write_all(kept)?;
            self.in_memory -= kept.len();
            self.parts[at] = Part::File(file);
        }
        match &mut self.parts[at] {
            Part::Memory(kept) => {
                kept.extend_from_slice(bytes);
                self.in_memory += bytes.len();
                Ok(())
            }
            Part::File(file) => file.write_all(bytes),
        }
    }

    /// Hands each stream's bytes to `write`, stdout first, in chunks.
    pub fn release(self, mut write: impl FnMut(usize, &[u8]) -> io::Result<()>) -> io::Result<()> {
        for (at, part) in self.parts.into_iter().enumerate() {
            match part {
                Part::Memory(kept) => write(at, &kept)?,
                Part::File(mut file) => {
                    file.seek(SeekFrom::Start(0))?;
                    let mut chunk = vec![0; CHUNK];
                    loop {
                        let n = file.read(&mut chunk)?;
                        if n == 0 {
                            break;
                        }
                        write(at, &chunk[..n])?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn released(held: Held) -> [Vec<u8>; 2] {
        let mut out = [Vec::new(), Vec::new()];
        held.release(|at, bytes| {
            out[at].extend_from_slice(bytes);
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn small_outputs_stay_in_memory_and_come_back_whole() {
        let mut held = Held::default();
        held.push(0, b"out ").unwrap();
        held.push(1, b"err").unwrap();
        held.push(0, b"more").unwrap();
        assert!(matches!(held.parts[0], Part::Memory(_)));
        assert_eq!(released(held), [b"out more".to_vec(), b"err".to_vec()]);
    }

    #[test]
    fn large_outputs_go_to_a_file_and_come_back_whole() {
        let mut held = Held::default();
        let block: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        for _ in 0..20 {
            held.push(0, &block).unwrap();
        }
        held.push(1, b"err").unwrap();
        assert!(matches!(held.parts[0], Part::File(_)));
        assert!(held.in_memory <= IN_MEMORY);
        let [out, err] = released(held);
        assert_eq!(out.len(), 20 << 20);
        assert!(out.chunks(1 << 20).all(|c| c == block.as_slice()));
        assert_eq!(err, b"err");
    }
}
