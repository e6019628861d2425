//! `--cat` and `--fifo`: the block of a `--pipe` (or `--pipe-part`) job
//! given to its command as a file instead of on its stdin, as GNU
//! parallel gives it.
//!
//! On the job's slot, before its command runs, the block goes into a new
//! file (`--cat`) or is written into a new named pipe by a thread of its
//! own while the command runs (`--fifo`), named as GNU parallel names them
//! (`parXXXXX`, five letters or digits) in `--tmpdir` if given, else in
//! the slot's `$TMPDIR` or `/tmp`. The command finds the name in
//! `$PARALLEL_TMP`, and `{}` in the command line is `$PARALLEL_TMP` (so
//! `-v` shows what GNU parallel shows); the command's own stdin is empty.
//! The file or pipe is removed once the command ends, whatever its end.
//!
//! GNU parallel's `--fifo` job waits for ever when its command never opens
//! the pipe; here the writer is let go when the command ends: the pipe is
//! opened for reading and closed, which ends the writer's wait for a
//! reader, and its next write fails.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};

use serde::{Deserialize, Serialize};

/// What `{}` is in the command line of a job with [`BlockAs`].
pub const NAME_IN_COMMAND: &[u8] = b"$PARALLEL_TMP";

/// What `{}` is while the command line is made: letters alone, which
/// quoting leaves as they are, different in each run; then each is
/// [`NAME_IN_COMMAND`] ([`name_in_command`]).
pub fn placeholder() -> &'static [u8] {
    static MADE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    MADE.get_or_init(|| format!("HEARTHTMP{}{}", par_name(0), par_name(1)).into_bytes())
}

/// `part` of a command line with each [`placeholder`] as
/// [`NAME_IN_COMMAND`].
pub fn name_in_command(part: &[u8]) -> Vec<u8> {
    let from = placeholder();
    let mut out = Vec::with_capacity(part.len());
    let mut rest = part;
    while let Some(at) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(NAME_IN_COMMAND);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// The variable that holds the name of the file or pipe.
pub const VARIABLE: &str = "PARALLEL_TMP";

/// A file or a named pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// `--cat`: a file holding the block.
    File,
    /// `--fifo`: a named pipe the block is written into.
    Fifo,
}

/// How a job's block reaches its command, when not on its stdin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockAs {
    /// A file or a named pipe.
    pub kind: Kind,
    /// `--tmpdir`, if given: the directory on the slot's host.
    pub dir: Option<Vec<u8>>,
}

/// A name as GNU parallel gives its temporary files: `par` and five
/// letters or digits, different for each `attempt`.
pub fn par_name(attempt: u32) -> String {
    use std::hash::{BuildHasher, Hasher};
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    hasher.write_u32(std::process::id());
    let mut bits = hasher.finish();
    let mut name = String::from("par");
    for _ in 0..5 {
        name.push(char::from(LETTERS[usize::try_from(bits % 62).unwrap_or(0)]));
        bits /= 62;
    }
    name
}

/// Makes something new in `dir` with `make` under a name of
/// [`par_name`] (and `suffix`), trying other names while one is taken:
/// its path and what `make` gave. Also `--files`' files.
///
/// # Errors
///
/// What `make` failed with, other than a name taken (or a hundred of
/// them).
pub fn make_par<T>(
    dir: &Path,
    suffix: &str,
    mut make: impl FnMut(&Path) -> io::Result<T>,
) -> io::Result<(PathBuf, T)> {
    let mut attempt = 0;
    loop {
        let path = dir.join(format!("{}{suffix}", par_name(attempt)));
        match make(&path) {
            Ok(made) => return Ok((path, made)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// A name in the temporary directory that no file has: GNU parallel's
/// `$PARALLEL_TMP` of a job without `--cat` or `--fifo`, a name the job
/// may make a file of (removed when the job ends). `None` if no free name
/// was found.
pub fn unused_name() -> Option<PathBuf> {
    let free = |path: &Path| match path.symlink_metadata() {
        Ok(_) => Err(io::Error::from(io::ErrorKind::AlreadyExists)),
        Err(_) => Ok(()),
    };
    make_par(&std::env::temp_dir(), "", free)
        .ok()
        .map(|(path, ())| path)
}

/// A new file in the temporary directory, already removed from it (made
/// with [`make_par`]), holding `what`; the error says so and where.
pub fn unnamed_file(what: &str) -> io::Result<File> {
    let dir = std::env::temp_dir();
    let open = |path: &Path| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    };
    let (path, file) = make_par(&dir, "", open).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("holding {what} in {}: {err}", dir.display()),
        )
    })?;
    fs::remove_file(&path)?;
    Ok(file)
}

/// [`make_par`] for a job's block; the error says what could not be made
/// where, and what to do.
fn new_path<T>(
    dir: &Path,
    what: &str,
    make: impl FnMut(&Path) -> io::Result<T>,
) -> Result<(PathBuf, T), String> {
    make_par(dir, "", make).map_err(|err| {
        format!(
            "cannot make {what} in {}: {err}; give --tmpdir a directory where the job's host can write",
            dir.display()
        )
    })
}

impl BlockAs {
    /// Puts `block` (the job's stdin; none is an empty block) where the
    /// command will find it: in the directory of `--tmpdir` (relative to
    /// `workdir`, the job's working directory, if given), else in
    /// `$TMPDIR` or `/tmp`.
    ///
    /// # Errors
    ///
    /// The file or pipe cannot be made, or the file written: the message
    /// says where and what to do.
    pub fn place(
        &self,
        block: Option<impl Read + Send + 'static>,
        workdir: Option<&Path>,
    ) -> Result<Placed, String> {
        // Relative: to the job's working directory, where its command runs.
        let dir = self.dir.as_ref().map_or_else(std::env::temp_dir, |dir| {
            let dir = PathBuf::from(std::ffi::OsString::from_vec(dir.clone()));
            match workdir {
                Some(workdir) if dir.is_relative() => workdir.join(dir),
                _ => dir,
            }
        });
        match self.kind {
            Kind::File => {
                let (path, mut file) = new_path(&dir, "a file for --cat", |path| {
                    OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(path)
                })?;
                let placed = Placed { path, writer: None };
                if let Some(mut block) = block {
                    io::copy(&mut block, &mut file).map_err(|err| {
                        format!(
                            "cannot write the block into {} for --cat: {err}; give --tmpdir a directory with room",
                            placed.path.display()
                        )
                    })?;
                }
                Ok(placed)
            }
            Kind::Fifo => {
                let (path, ()) = new_path(&dir, "a named pipe for --fifo", make_fifo)?;
                let writer_path = path.clone();
                // Opening for writing waits for a reader: the command, or
                // `Placed`'s drop once the command ended without one.
                let writer =
                    thread::Builder::new()
                        .name("fifo-writer".to_owned())
                        .spawn(move || {
                            if let Ok(mut pipe) = OpenOptions::new().write(true).open(&writer_path)
                                && let Some(mut block) = block
                            {
                                // A reader that went away: the rest is not wanted.
                                let _ = io::copy(&mut block, &mut pipe);
                            }
                        });
                match writer {
                    Ok(writer) => Ok(Placed {
                        path,
                        writer: Some(writer),
                    }),
                    Err(err) => {
                        let _ = fs::remove_file(&path);
                        Err(format!("cannot start the writer of a --fifo pipe: {err}"))
                    }
                }
            }
        }
    }
}

/// Makes a named pipe at `path`, for this user only.
fn make_fifo(path: &Path) -> io::Result<()> {
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the path"))?;
    // SAFETY: `path` is a NUL-terminated string that lives across the
    // call; mkfifo only reads it.
    if unsafe { libc::mkfifo(path.as_ptr(), 0o600) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// How long a `--fifo` job's end waits for its writer to let go.
const RELEASE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// A job's block in its file or pipe; removed when dropped.
#[derive(Debug)]
pub struct Placed {
    path: PathBuf,
    /// `--fifo`: the thread writing the block into the pipe.
    writer: Option<JoinHandle<()>>,
}

impl Placed {
    /// Where the block is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Placed {
    /// Lets a `--fifo` writer that still waits for a reader (or writes to
    /// one that left) go: a reader that comes and goes ends its wait, and
    /// its writes then fail. Returns the writer if it has not ended yet
    /// (a reader the command left running may still hold the pipe).
    fn release(&mut self) -> Option<JoinHandle<()>> {
        let writer = self.writer.take()?;
        if writer.is_finished() {
            return None;
        }
        // Held open while the writer has not ended: one that had not come
        // to its `open` yet opens then, and writes into this reader, which
        // takes what it writes until it is done. A few seconds at most:
        // past them, a reader the command left running holds the pipe.
        let Ok(mut reader) = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.path)
        else {
            return Some(writer);
        };
        let give_up = std::time::Instant::now() + RELEASE_WITHIN;
        let mut sink = vec![0; 64 * 1024];
        while !writer.is_finished() && std::time::Instant::now() < give_up {
            match reader.read(&mut sink) {
                Ok(n) if n > 0 => {}
                // Nothing now (no writer yet, or one that writes later).
                _ => thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        drop(reader);
        Some(writer)
    }
}

impl Drop for Placed {
    fn drop(&mut self) {
        // Not joined: it ends on its own.
        drop(self.release());
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_gnu_parallels() {
        let name = par_name(0);
        assert_eq!(name.len(), 8);
        assert!(name.starts_with("par"));
        assert!(name[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn a_pipe_nobody_opens_does_not_hold_the_job() {
        let block_as = BlockAs {
            kind: Kind::Fifo,
            dir: Some(std::env::temp_dir().as_os_str().as_bytes().to_vec()),
        };
        let block = io::Cursor::new(vec![b'x'; 200_000]);
        let mut placed = block_as.place(Some(block), None).unwrap();
        let path = placed.path().to_owned();
        assert!(path.exists());
        let writer = placed.release();
        drop(placed);
        assert!(!path.exists(), "removed");
        // The writer ended: its block taken by the release.
        assert!(writer.is_none_or(|writer| writer.is_finished()));
    }
}
