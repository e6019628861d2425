//! The worker's side of a job's world: the session's environment and
//! working directory (from `SESSION_INIT`), the directory of each job
//! (the session's, made if missing, or a fresh temporary one removed
//! after the job), the files the pool sends before a job (`FILE`,
//! `FILE_DATA`, `FILE_END`: written to a temporary name beside their
//! place, checked against their length and CRC-32, given their mode,
//! then renamed into place), the files it wants back (`RETURN`), sent
//! after the job a chunk at a time, the job's stdin (`STDIN`, kept in
//! memory or, when large, in a temporary file: `job/stdin.rs`), and the
//! clean-up.
//!
//! Memory stays bounded: a file arrives and leaves a chunk at a time. A
//! file that does not arrive whole fails its job, which then does not
//! run: its result says which file and why.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::remote::JobStdin;
use crate::remote::wire::{self, Frame, MAX_CHUNK, Workdir};

/// The session's settings for every job.
#[derive(Debug, Default)]
pub(super) struct World {
    pub(super) env: Vec<(String, String)>,
    pub(super) workdir: Option<Workdir>,
}

/// A job's directory.
#[derive(Debug)]
enum JobDir {
    /// The worker's own directory.
    Here,
    /// The session's directory.
    Session(PathBuf),
    /// A temporary directory of this job's, removed after it.
    Temp(PathBuf),
}

/// What the worker holds for one job, from its first file to its end.
#[derive(Debug)]
pub(super) struct Prepared {
    id: u64,
    dir: JobDir,
    /// Files placed for it, to remove with `cleanup`.
    received: Vec<PathBuf>,
    incoming: Option<Incoming>,
    /// Why it cannot run: a file that did not arrive, a directory that
    /// cannot be made.
    error: Option<String>,
    /// Paths to send back after it ran.
    back: Vec<String>,
    cleanup: bool,
    /// Its stdin, as it arrives.
    stdin: Option<JobStdin>,
}

/// A file arriving.
#[derive(Debug)]
struct Incoming {
    path: String,
    target: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    mode: u32,
    size: u64,
    got: u64,
    crc: crc32fast::Hasher,
}

impl Drop for Incoming {
    fn drop(&mut self) {
        // Placed files were renamed: the temporary name is gone then.
        if self.file.is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

impl World {
    /// A job `id` about to get files or to run: its directory made.
    pub(super) fn prepare(&self, id: u64) -> Prepared {
        let (dir, error) = match self.dir_for(id) {
            Ok(dir) => (dir, None),
            Err(err) => (JobDir::Here, Some(err)),
        };
        Prepared {
            id,
            dir,
            received: Vec::new(),
            incoming: None,
            error,
            back: Vec::new(),
            cleanup: false,
            stdin: None,
        }
    }

    fn dir_for(&self, id: u64) -> Result<JobDir, String> {
        match &self.workdir {
            None => Ok(JobDir::Here),
            // The base files outlive every job: not in a job's directory.
            Some(Workdir::Temp) if id == wire::BASE_ID => Ok(JobDir::Here),
            Some(Workdir::Dir(dir)) => {
                let dir = home_relative(dir);
                fs::create_dir_all(&dir).map_err(|err| {
                    format!("cannot make the working directory {}: {err}", dir.display())
                })?;
                Ok(JobDir::Session(dir))
            }
            Some(Workdir::Temp) => {
                let base =
                    std::env::var_os("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
                for attempt in 0..100u32 {
                    let dir = base.join(format!("hearth-{}-{id}-{attempt}", std::process::id()));
                    match fs::create_dir(&dir) {
                        Ok(()) => {
                            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
                            return Ok(JobDir::Temp(dir));
                        }
                        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(err) => {
                            return Err(format!(
                                "cannot make a temporary working directory in {}: {err}; set TMPDIR",
                                base.display()
                            ));
                        }
                    }
                }
                Err(format!(
                    "cannot make a temporary working directory in {}",
                    base.display()
                ))
            }
        }
    }
}

/// `dir` as the session means it: absolute, or relative to the home
/// directory (the worker's own when there is no `HOME`).
fn home_relative(dir: &str) -> PathBuf {
    let dir = Path::new(dir);
    if dir.is_absolute() {
        return dir.to_owned();
    }
    match std::env::var_os("HOME") {
        Some(home) => Path::new(&home).join(dir),
        None => dir.to_owned(),
    }
}

impl Prepared {
    /// The job this is for.
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// The job's directory, if not the worker's own.
    pub(super) fn dir(&self) -> Option<&Path> {
        match &self.dir {
            JobDir::Here => None,
            JobDir::Session(dir) | JobDir::Temp(dir) => Some(dir),
        }
    }

    /// Why the job cannot run, if it cannot.
    pub(super) fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// `path` of a job: absolute, or in its directory.
    fn place(&self, path: &str) -> PathBuf {
        match self.dir() {
            Some(dir) => dir.join(path),
            None => PathBuf::from(path),
        }
    }

    /// Takes the job's stdin, if the pool sent one, ready to be read from
    /// its start (a failure to rewind it is the job's error).
    pub(super) fn take_stdin(&mut self) -> Option<JobStdin> {
        let mut stdin = self.stdin.take()?;
        match stdin.rewind() {
            Ok(()) => Some(stdin),
            Err(err) => {
                self.error = Some(format!("cannot read its stdin back: {err}"));
                None
            }
        }
    }

    /// A frame for this job before it runs (`FILE`, `FILE_DATA`,
    /// `FILE_END`, `RETURN`, `STDIN`). A failure is kept as the job's
    /// error; the rest of that file, or of the stdin, is skipped.
    pub(super) fn take(&mut self, frame: Frame) {
        match frame {
            Frame::Stdin { data, .. } => {
                if self.error.is_some() {
                    self.stdin = None;
                    return;
                }
                let stdin = self.stdin.get_or_insert_with(JobStdin::new);
                if let Err(err) = stdin.append(&data) {
                    self.stdin = None;
                    self.error = Some(err);
                }
            }
            Frame::File {
                path, mode, size, ..
            } => {
                self.incoming = None;
                if self.error.is_some() {
                    return;
                }
                match self.open(&path, mode, size) {
                    Ok(incoming) => self.incoming = Some(incoming),
                    Err(err) => self.error = Some(err),
                }
            }
            Frame::FileData { data, .. } => {
                let Some(incoming) = self.incoming.as_mut() else {
                    return;
                };
                incoming.got += data.len() as u64;
                incoming.crc.update(&data);
                let written = incoming.file.as_mut().map(|f| f.write_all(&data));
                if let Some(Err(err)) = written {
                    let why = format!("cannot write {}: {err}", incoming.target.display());
                    self.incoming = None;
                    self.error = Some(why);
                }
            }
            Frame::FileEnd { crc, .. } => {
                if let Some(incoming) = self.incoming.take() {
                    match place(incoming, crc) {
                        Ok(target) => self.received.push(target),
                        Err(err) => self.error = Some(err),
                    }
                }
            }
            Frame::Return { paths, cleanup, .. } => {
                self.back = paths;
                self.cleanup = cleanup;
            }
            _ => {}
        }
    }

    fn open(&self, path: &str, mode: u32, size: u64) -> Result<Incoming, String> {
        let target = self.place(path);
        let name = target
            .file_name()
            .ok_or_else(|| format!("cannot receive {path:?}: it names no file"))?;
        let parent = target.parent().unwrap_or(Path::new("."));
        if !parent.as_os_str().is_empty() {
            fs::create_dir_all(parent)
                .map_err(|err| format!("cannot make {} for {path:?}: {err}", parent.display()))?;
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
            .map_err(|err| format!("cannot write {}: {err}", temp.display()))?;
        Ok(Incoming {
            path: path.to_owned(),
            target,
            temp,
            file: Some(file),
            mode,
            size,
            got: 0,
            crc: crc32fast::Hasher::new(),
        })
    }

    /// After the job: sends the files asked back (`FILE`, chunks,
    /// `FILE_END`) with `send`, each a chunk at a time. A path that is not
    /// there is said on the job's stderr with `say`.
    pub(super) fn send_back(
        &self,
        mut send: impl FnMut(&[u8]) -> io::Result<()>,
        mut say: impl FnMut(&str),
        max_frame: usize,
    ) -> io::Result<()> {
        let mut chunk = vec![0; MAX_CHUNK];
        let mut frame = Vec::with_capacity(MAX_CHUNK + 64);
        for path in &self.back {
            let local = self.place(path);
            let (mut file, meta) = match File::open(&local).and_then(|f| {
                let meta = f.metadata()?;
                Ok((f, meta))
            }) {
                Ok(found) if found.1.is_file() => found,
                Ok(_) => {
                    say(&format!("hearth: cannot return {path}: not a file\n"));
                    continue;
                }
                Err(err) => {
                    say(&format!("hearth: cannot return {path}: {err}\n"));
                    continue;
                }
            };
            let header = Frame::File {
                id: self.id,
                path: path.clone(),
                mode: meta.permissions().mode() & 0o7777,
                size: meta.len(),
            };
            frame.clear();
            wire::encode(&header, max_frame, &mut frame).map_err(io::Error::other)?;
            send(&frame)?;
            let mut crc = crc32fast::Hasher::new();
            let mut left = meta.len();
            while left > 0 {
                let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let read = file.read(&mut chunk[..want])?;
                if read == 0 {
                    // Shorter than it was: the pool sees the length differ.
                    break;
                }
                left -= read as u64;
                crc.update(&chunk[..read]);
                frame.clear();
                wire::encode_file_data(self.id, &chunk[..read], max_frame, &mut frame)
                    .map_err(io::Error::other)?;
                send(&frame)?;
            }
            frame.clear();
            let end = Frame::FileEnd {
                id: self.id,
                crc: crc.finalize(),
            };
            wire::encode(&end, max_frame, &mut frame).map_err(io::Error::other)?;
            send(&frame)?;
        }
        Ok(())
    }

    /// The files placed, and why one was not, if one was not: for the
    /// base files of a session, which outlive this.
    pub(super) fn into_placed(mut self) -> (Vec<PathBuf>, Option<String>) {
        let placed = std::mem::take(&mut self.received);
        let error = self.error.take().or_else(|| {
            (self.incoming.take()).map(|incoming| format!("{}: cut short", incoming.path))
        });
        self.cleanup = false;
        self.finish();
        (placed, error)
    }

    /// After the job: removes the files sent and brought back (`cleanup`)
    /// and a temporary directory.
    pub(super) fn finish(self) {
        if self.cleanup {
            for path in &self.received {
                let _ = fs::remove_file(path);
            }
            for path in &self.back {
                let _ = fs::remove_file(self.place(path));
            }
        }
        if let JobDir::Temp(dir) = &self.dir {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// Checks a file that came whole and puts it in its place.
fn place(mut incoming: Incoming, crc: u32) -> Result<PathBuf, String> {
    let path = incoming.path.clone();
    if incoming.got != incoming.size {
        return Err(format!(
            "{path}: got {} of its {} bytes (the pool could not read it all)",
            incoming.got, incoming.size
        ));
    }
    if incoming.crc.clone().finalize() != crc {
        return Err(format!(
            "{path}: its bytes arrived damaged (CRC-32 mismatch)"
        ));
    }
    let Some(file) = incoming.file.as_mut() else {
        return Err(format!("{path}: not written"));
    };
    file.flush()
        .and_then(|()| file.set_permissions(fs::Permissions::from_mode(incoming.mode & 0o7777)))
        .map_err(|err| format!("cannot write {}: {err}", incoming.temp.display()))?;
    fs::rename(&incoming.temp, &incoming.target)
        .map_err(|err| format!("cannot place {}: {err}", incoming.target.display()))?;
    incoming.file = None;
    Ok(incoming.target.clone())
}
