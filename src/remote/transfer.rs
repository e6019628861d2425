//! Files that travel with a job over its slot's own connection, the
//! pool's side: [`Files`] says which (sent before the job, brought back
//! after it, removed from the host afterwards) and what the job reads on
//! its stdin; [`Upload`] streams a job's files and stdin into its slot's
//! output a chunk at a time as the pipe takes them, then the job itself; [`Download`] writes a file the worker brings back,
//! a chunk at a time, under a temporary name beside its place, and puts it
//! there once its length and CRC-32 match. Neither holds more than a
//! chunk of a file (and the slot's output buffer) in memory, whatever
//! the file's size.
//!
//! Slots on the pool's own machine (the local transport) share its files:
//! a job's files are neither sent nor brought back there. A job's stdin
//! goes to every slot, this machine's too.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use crate::remote::wire::{self, Frame, MAX_CHUNK};

/// The files of a job: sent to its slot's host before it runs, brought
/// back after it, and removed from the host afterwards if asked.
///
/// A path on the host is relative to the job's working directory there
/// ([`Host::workdir`](crate::remote::Host::workdir); the login directory
/// over ssh by default), or absolute. Files keep their permission bits.
/// A file that cannot be sent whole fails its job before it runs; a file
/// to bring back that the job did not make is said on the job's stderr.
///
/// [`Files::stdin`] gives the job bytes to read on its standard input
/// (GNU parallel's `--pipe`): they go over the slot's connection in
/// chunks right before the job, to every slot (this machine's too), and
/// [`JobContext::run_command`](crate::remote::JobContext::run_command)
/// feeds them to the command it runs. The pool keeps them until the job
/// ends, to run it again if its slot fails.
///
/// # Examples
///
/// ```
/// use hearth::remote::Files;
///
/// // Send `in/a.txt`, run, bring `a.out` back, remove both from the host.
/// let files = Files::new()
///     .send("in/a.txt", "in/a.txt")
///     .bring_back("a.out", "a.out")
///     .cleanup(true);
/// assert!(!files.is_empty());
///
/// // A job that reads a block of lines on its stdin.
/// let piped = Files::new().stdin(b"1\n2\n3\n".to_vec());
/// assert!(!piped.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Files {
    pub(crate) send: Vec<(PathBuf, String)>,
    pub(crate) back: Vec<(String, PathBuf)>,
    pub(crate) cleanup: bool,
    pub(crate) stdin: Option<Stdin>,
}

/// The bytes of a job's stdin, shared by the clones of its [`Files`]
/// (a job sent again sends the same bytes); shown by its length.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Stdin(pub(crate) Arc<Vec<u8>>);

impl std::fmt::Debug for Stdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stdin({} bytes)", self.0.len())
    }
}

impl Files {
    /// No files.
    pub fn new() -> Files {
        Files::default()
    }

    /// Sends the local file `local` to `remote` on the host before the job
    /// runs (its directories made as needed).
    #[must_use]
    pub fn send(mut self, local: impl Into<PathBuf>, remote: impl Into<String>) -> Files {
        self.send.push((local.into(), remote.into()));
        self
    }

    /// Brings the file `remote` on the host back to `local` here once the
    /// job ran (its directories made as needed).
    #[must_use]
    pub fn bring_back(mut self, remote: impl Into<String>, local: impl Into<PathBuf>) -> Files {
        self.back.push((remote.into(), local.into()));
        self
    }

    /// Removes the files sent and brought back from the host once the job
    /// is done (GNU parallel's `--cleanup`).
    #[must_use]
    pub fn cleanup(mut self, cleanup: bool) -> Files {
        self.cleanup = cleanup;
        self
    }

    /// Gives the job `bytes` to read on its standard input (see
    /// [`Files`]); without it the job's stdin is empty.
    #[must_use]
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Files {
        self.stdin = Some(Stdin(Arc::new(bytes.into())));
        self
    }

    /// As [`Files::stdin`], with bytes that several jobs share (one copy
    /// in memory for all of them, as `hearth map --tee` gives every job
    /// all of its stdin).
    #[must_use]
    pub fn stdin_shared(mut self, bytes: Arc<Vec<u8>>) -> Files {
        self.stdin = Some(Stdin(bytes));
        self
    }

    /// The bytes of the files to send, as far as they can be read now.
    pub(crate) fn send_size(&self) -> u64 {
        (self.send.iter())
            .filter_map(|(local, _)| std::fs::metadata(local).ok())
            .map(|meta| meta.len())
            .sum()
    }

    /// True if no file is sent or brought back and the job has no stdin.
    pub fn is_empty(&self) -> bool {
        self.send.is_empty() && self.back.is_empty() && self.stdin.is_none()
    }

    /// What goes to a slot of a host that shares the pool's files
    /// (`shared`: this machine) or not: everything, or only the stdin;
    /// `None` when nothing does.
    pub(crate) fn for_slot(files: &Arc<Files>, shared: bool) -> Option<Arc<Files>> {
        match (&files.stdin, shared) {
            (_, false) => Some(files.clone()),
            (Some(stdin), true) => Some(Arc::new(Files {
                stdin: Some(stdin.clone()),
                ..Files::default()
            })),
            (None, true) => None,
        }
    }
}

/// A file being sent.
struct Sending {
    file: File,
    size: u64,
    left: u64,
    crc: crc32fast::Hasher,
}

/// A job's files on their way to its slot, then its stdin, then the job.
pub(crate) struct Upload {
    id: u64,
    /// The files still to start: opened, with their place and header.
    next: std::vec::IntoIter<(File, Frame)>,
    current: Option<Sending>,
    /// `RETURN`, once the files are out (empty for a job with stdin
    /// alone).
    tail: Vec<u8>,
    /// The job's stdin and how much of it is out.
    stdin: Option<(Stdin, usize)>,
    /// `JOB`, last.
    job: Vec<u8>,
    chunk: Vec<u8>,
    max_frame: usize,
}

impl Upload {
    /// Opens the files of job `id` to send (an error names the one that
    /// cannot be read) and encodes what follows them: `RETURN`, the
    /// job's stdin, and the job, `job` (a `JOB` frame already encoded).
    pub(crate) fn new(
        id: u64,
        files: &Files,
        job: &[u8],
        max_frame: usize,
    ) -> Result<Upload, String> {
        let mut opened = Vec::with_capacity(files.send.len());
        for (local, remote) in &files.send {
            let cannot = |err: io::Error| format!("cannot send {}: {err}", local.display());
            let file = File::open(local).map_err(cannot)?;
            let meta = file.metadata().map_err(cannot)?;
            if !meta.is_file() {
                return Err(format!("cannot send {}: not a file", local.display()));
            }
            let header = Frame::File {
                id,
                path: remote.clone(),
                mode: meta.permissions().mode() & 0o7777,
                size: meta.len(),
            };
            opened.push((file, header));
        }
        let mut tail = Vec::new();
        let has_files = !files.send.is_empty() || !files.back.is_empty();
        if has_files {
            let back = Frame::Return {
                id,
                paths: files
                    .back
                    .iter()
                    .map(|(remote, _)| remote.clone())
                    .collect(),
                cleanup: files.cleanup,
            };
            wire::encode(&back, max_frame, &mut tail).map_err(|err| err.to_string())?;
        }
        Ok(Upload {
            id,
            next: opened.into_iter(),
            current: None,
            tail,
            stdin: files.stdin.clone().map(|stdin| (stdin, 0)),
            job: job.to_vec(),
            // Files are read a chunk at a time; a stdin is sent from its
            // own bytes.
            chunk: if has_files {
                vec![0; MAX_CHUNK]
            } else {
                Vec::new()
            },
            max_frame,
        })
    }

    /// The next `STDIN` frames, until `out` holds `want` bytes or the
    /// stdin is out (an empty stdin is one empty frame); true once it is.
    fn fill_stdin(&mut self, out: &mut Vec<u8>, want: usize) -> bool {
        let Some((stdin, sent)) = self.stdin.as_mut() else {
            return true;
        };
        let bytes = &stdin.0[..];
        loop {
            if out.len() >= want {
                return false;
            }
            let end = bytes.len().min(*sent + MAX_CHUNK);
            // A chunk always encodes: it is at most MAX_CHUNK bytes, far
            // below any max frame size a pool uses.
            let _ = wire::encode_stdin(self.id, &bytes[*sent..end], self.max_frame, out);
            *sent = end;
            if end == bytes.len() {
                self.stdin = None;
                return true;
            }
        }
    }
}

/// Bytes that go to a slot's stdin a piece at a time, as the pipe takes
/// them: a job's files ([`Upload`]), or the program itself
/// (`install.rs`).
pub(crate) trait Outgoing: Send {
    /// Appends the next bytes to `out` until it holds `want` bytes or
    /// everything is out; true once everything is.
    fn fill(&mut self, out: &mut Vec<u8>, want: usize) -> bool;
}

impl Outgoing for Upload {
    /// The files' frames, then `RETURN`, the stdin and the job.
    fn fill(&mut self, out: &mut Vec<u8>, want: usize) -> bool {
        while out.len() < want {
            let Some(current) = self.current.as_mut() else {
                match self.next.next() {
                    Some((file, header)) => {
                        let size = match &header {
                            Frame::File { size, .. } => *size,
                            _ => 0,
                        };
                        // A header always encodes: its path came from a
                        // Files the pool checked when it queued the job.
                        let _ = wire::encode(&header, self.max_frame, out);
                        self.current = Some(Sending {
                            file,
                            size,
                            left: size,
                            crc: crc32fast::Hasher::new(),
                        });
                        continue;
                    }
                    None => {
                        out.append(&mut self.tail);
                        if !self.fill_stdin(out, want) {
                            return false;
                        }
                        out.append(&mut self.job);
                        return true;
                    }
                }
            };
            let want_now = self
                .chunk
                .len()
                .min(usize::try_from(current.left).unwrap_or(usize::MAX));
            let read = if want_now == 0 {
                Ok(0)
            } else {
                current.file.read(&mut self.chunk[..want_now])
            };
            match read {
                Ok(n) if n > 0 => {
                    current.left -= n as u64;
                    current.crc.update(&self.chunk[..n]);
                    let _ = wire::encode_file_data(self.id, &self.chunk[..n], self.max_frame, out);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // The end, or a file that shrank or cannot be read: the
                // worker sees its length short of the size and fails the
                // job, which does not run.
                _ => {
                    let done = self
                        .current
                        .take()
                        .map(|c| (c.crc.finalize(), c.size - c.left));
                    let (crc, _sent) = done.unwrap_or_default();
                    let end = Frame::FileEnd { id: self.id, crc };
                    let _ = wire::encode(&end, self.max_frame, out);
                }
            }
        }
        false
    }
}

/// A file a worker brings back, being written.
pub(crate) struct Download {
    path: String,
    target: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    mode: u32,
    size: u64,
    got: u64,
    crc: crc32fast::Hasher,
}

impl Drop for Download {
    fn drop(&mut self) {
        // Not placed: its temporary name goes.
        if self.file.is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl Download {
    /// Starts writing `path` of the job's `files` (`FILE`), to its local
    /// place; an error if the job did not ask for it or it cannot be
    /// written.
    pub(crate) fn start(
        files: &Files,
        path: &str,
        mode: u32,
        size: u64,
    ) -> Result<Download, String> {
        let Some((_, target)) = files.back.iter().find(|(remote, _)| remote == path) else {
            return Err(format!(
                "the worker sent back {path:?}, which the job did not ask for"
            ));
        };
        let cannot = |err: io::Error| format!("cannot bring back {path}: {err}");
        let name = target.file_name().ok_or_else(|| {
            format!(
                "cannot bring back {path}: {} names no file",
                target.display()
            )
        })?;
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(parent) = parent {
            fs::create_dir_all(parent).map_err(cannot)?;
        }
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".hearth-{}", std::process::id()));
        let temp = target.with_file_name(temp_name);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .map_err(cannot)?;
        Ok(Download {
            path: path.to_owned(),
            target: target.clone(),
            temp,
            file: Some(file),
            mode,
            size,
            got: 0,
            crc: crc32fast::Hasher::new(),
        })
    }

    /// Writes a chunk (`FILE_DATA`).
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), String> {
        self.got += data.len() as u64;
        self.crc.update(data);
        match self.file.as_mut().map(|f| f.write_all(data)) {
            Some(Err(err)) => Err(format!("cannot bring back {}: {err}", self.path)),
            _ => Ok(()),
        }
    }

    /// The file is whole (`FILE_END` with its CRC-32): checks it and puts
    /// it in its place.
    pub(crate) fn finish(mut self, crc: u32) -> Result<(), String> {
        let path = self.path.clone();
        if self.got != self.size {
            return Err(format!(
                "cannot bring back {path}: got {} of its {} bytes",
                self.got, self.size
            ));
        }
        if self.crc.clone().finalize() != crc {
            return Err(format!(
                "cannot bring back {path}: its bytes arrived damaged (CRC-32 mismatch)"
            ));
        }
        let mode = self.mode & 0o7777;
        let placed = self
            .file
            .as_mut()
            .map_or(Ok(()), |f| {
                f.flush()
                    .and_then(|()| f.set_permissions(fs::Permissions::from_mode(mode)))
            })
            .and_then(|()| fs::rename(&self.temp, &self.target));
        placed.map_err(|err| {
            format!(
                "cannot bring back {path} to {}: {err}",
                self.target.display()
            )
        })?;
        self.file = None;
        Ok(())
    }
}

/// True if `path` is on the pool's side of a local slot: nothing to send.
pub(crate) fn is_shared(transport: &crate::remote::Transport) -> bool {
    matches!(transport, crate::remote::Transport::Local { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upload's frames, decoded, carry each file whole (its length and
    /// CRC), then RETURN and the job; a download of those bytes puts the
    /// file in place with its mode.
    #[test]
    fn a_file_out_and_back_in_chunks() {
        let dir = std::env::temp_dir().join(format!("hearth-transfer-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let source = dir.join("big");
        let data: Vec<u8> = (0..3 * MAX_CHUNK + 17)
            .map(|i| u8::try_from(i * 7 % 256).unwrap())
            .collect();
        fs::write(&source, &data).unwrap();
        fs::set_permissions(&source, fs::Permissions::from_mode(0o751)).unwrap();
        let back = dir.join("back/copy");
        let files = Files::new()
            .send(&source, "remote/big")
            .bring_back("remote/big", &back);
        let mut job = Vec::new();
        wire::encode(&Frame::Shutdown, 1 << 20, &mut job).unwrap();
        let mut upload = Upload::new(5, &files, &job, 1 << 20).unwrap();
        // Drained between fills, as a slot's pipe drains it.
        let (mut out, mut all, mut rounds) = (Vec::new(), Vec::new(), 0);
        loop {
            let done = upload.fill(&mut out, 1000);
            assert!(out.len() < 1000 + MAX_CHUNK + 64, "bounded: {}", out.len());
            all.append(&mut out);
            rounds += 1;
            if done {
                break;
            }
        }
        assert!(rounds >= 3, "{rounds}");
        let out = all;
        let mut decoder = wire::FrameDecoder::new(1 << 20);
        let mut fed = &out[..];
        let mut frames = Vec::new();
        while !fed.is_empty() || decoder.buffered() > 0 {
            let n = decoder.feed(fed);
            fed = &fed[n..];
            while let Some(frame) = decoder.next_frame().unwrap() {
                frames.push(frame);
            }
            if n == 0 && fed.is_empty() {
                break;
            }
        }
        let names: Vec<&str> = frames.iter().map(Frame::name).collect();
        assert_eq!(names[0], "FILE");
        assert_eq!(names[names.len() - 3..], ["FILE_END", "RETURN", "SHUTDOWN"]);
        let mut download = None;
        for frame in frames {
            match frame {
                Frame::File {
                    path, mode, size, ..
                } => {
                    assert_eq!(
                        (path.as_str(), mode, size),
                        ("remote/big", 0o751, data.len() as u64)
                    );
                    download = Some(Download::start(&files, &path, mode, size).unwrap());
                }
                Frame::FileData { data, .. } => download.as_mut().unwrap().write(&data).unwrap(),
                Frame::FileEnd { crc, .. } => download.take().unwrap().finish(crc).unwrap(),
                _ => {}
            }
        }
        assert_eq!(fs::read(&back).unwrap(), data);
        let mode = fs::metadata(&back).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o751);
        // A damaged one is not placed, and leaves no temporary file.
        let mut damaged = Download::start(&files, "remote/big", 0o644, 3).unwrap();
        damaged.write(b"abc").unwrap();
        let err = damaged.finish(0).unwrap_err();
        assert!(err.contains("CRC-32 mismatch"), "{err}");
        assert_eq!(fs::read(&back).unwrap(), data);
        assert_eq!(fs::read_dir(back.parent().unwrap()).unwrap().count(), 1);
        let err = Download::start(&files, "other", 0o644, 1).err().unwrap();
        assert!(err.contains("did not ask for"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    /// A job's stdin goes out in `STDIN` chunks of at most `MAX_CHUNK`,
    /// a few at a time as the pipe drains, then the job; without files,
    /// no `RETURN`. An empty stdin is one empty chunk.
    #[test]
    fn stdin_out_in_chunks_before_the_job() {
        let data: Vec<u8> = (0..2 * MAX_CHUNK + 5)
            .map(|i| (i * 3).to_le_bytes()[0])
            .collect();
        for stdin in [data, Vec::new()] {
            let files = Files::new().stdin(stdin.clone());
            let mut job = Vec::new();
            wire::encode(&Frame::Shutdown, 1 << 20, &mut job).unwrap();
            let mut upload = Upload::new(9, &files, &job, 1 << 20).unwrap();
            let mut all = Vec::new();
            loop {
                let mut out = Vec::new();
                let done = upload.fill(&mut out, 1000);
                assert!(out.len() < 1000 + MAX_CHUNK + 64, "bounded: {}", out.len());
                all.append(&mut out);
                if done {
                    break;
                }
            }
            let mut decoder = wire::FrameDecoder::new(1 << 20);
            let mut fed = &all[..];
            let (mut got, mut names) = (Vec::new(), Vec::new());
            while !fed.is_empty() {
                let n = decoder.feed(fed);
                fed = &fed[n..];
                while let Some(frame) = decoder.next_frame().unwrap() {
                    names.push(frame.name());
                    if let Frame::Stdin { id, data } = frame {
                        assert_eq!(id, 9);
                        assert!(data.len() <= MAX_CHUNK);
                        got.extend(data);
                    }
                }
            }
            assert!(got == stdin, "{} of {} bytes", got.len(), stdin.len());
            let chunks = stdin.len().div_ceil(MAX_CHUNK).max(1);
            let mut want = vec!["STDIN"; chunks];
            want.push("SHUTDOWN");
            assert_eq!(names, want);
        }
    }
}
