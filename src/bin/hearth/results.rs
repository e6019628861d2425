//! `--results DIR` as GNU parallel lays it out: for each job, the files
//! `seq`, `stdout` and `stderr` in `DIR/1/<field 1>/2/<field 2>/...`, a
//! field's `\` written `\\` and its `/` written `\_`; or, when DIR ends in
//! `.csv`, one CSV file with a row per job (the joblog's columns, then the
//! fields V1 .. Vn, Stdout and Stderr). With `--results`, the jobs'
//! outputs go to the files only, as in GNU parallel: into a job's `stdout`
//! and `stderr` files as they stream in (a row of the CSV file holds its
//! job's output until the job ends).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use hearth::remote::Stream;

use crate::joblog::Line;

/// Where the results go.
pub enum Results {
    /// A directory tree.
    Dir(PathBuf),
    /// One CSV file, its header written once the first row says how many
    /// fields there are.
    Csv { file: BufWriter<File>, header: bool },
}

impl Results {
    /// Results in `path` (a `.csv` file, else a directory).
    pub fn new(path: &Path) -> io::Result<Results> {
        let named = |err: io::Error| {
            io::Error::new(
                err.kind(),
                format!("cannot write the results {}: {err}", path.display()),
            )
        };
        if path.extension() == Some(OsStr::new("csv")) {
            let file = File::create(path).map_err(named)?;
            return Ok(Results::Csv {
                file: BufWriter::new(file),
                header: false,
            });
        }
        fs::create_dir_all(path).map_err(named)?;
        Ok(Results::Dir(path.to_path_buf()))
    }

    /// The results of a job whose output starts, with `fields`: its
    /// directory and its `stdout` and `stderr` files, made now.
    pub fn start(&mut self, fields: &[Vec<u8>]) -> io::Result<JobResults> {
        match self {
            Results::Dir(root) => {
                let mut dir = root.as_os_str().as_bytes().to_vec();
                for (at, field) in fields.iter().enumerate() {
                    dir.extend_from_slice(format!("/{}/", at + 1).as_bytes());
                    for &b in field {
                        match b {
                            b'\\' => dir.extend_from_slice(b"\\\\"),
                            b'/' => dir.extend_from_slice(b"\\_"),
                            b => dir.push(b),
                        }
                    }
                }
                let dir = PathBuf::from(OsStr::from_bytes(&dir));
                fs::create_dir_all(&dir)?;
                let file = |name| File::create(dir.join(name)).map(BufWriter::new);
                Ok(JobResults::Files {
                    stdout: file("stdout")?,
                    stderr: file("stderr")?,
                    dir,
                })
            }
            Results::Csv { .. } => Ok(JobResults::Row([Vec::new(), Vec::new()])),
        }
    }

    /// Saves the end of one job's results: its `seq` file, or its row.
    pub fn save(&mut self, line: &Line<'_>, fields: &[Vec<u8>], job: JobResults) -> io::Result<()> {
        match (self, job) {
            (
                Results::Dir(_),
                JobResults::Files {
                    dir,
                    stdout,
                    stderr,
                },
            ) => {
                for file in [stdout, stderr] {
                    let _ = file.into_inner().map_err(io::IntoInnerError::into_error)?;
                }
                fs::write(dir.join("seq"), line.seq.to_string())
            }
            (Results::Dir(_), JobResults::Row(_))
            | (Results::Csv { .. }, JobResults::Files { .. }) => Err(io::Error::other(
                "a job's results are not of the kind of the run's",
            )),
            (Results::Csv { file, header }, JobResults::Row([stdout, stderr])) => {
                if !*header {
                    *header = true;
                    let names: Vec<String> = (1..=fields.len()).map(|i| format!("V{i}")).collect();
                    writeln!(
                        file,
                        "Seq,Host,Starttime,JobRuntime,Send,Receive,Exitval,Signal,Command,{}{}Stdout,Stderr",
                        names.join(","),
                        if names.is_empty() { "" } else { "," }
                    )?;
                }
                let start = line
                    .start
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                let mut row = format!(
                    "{},{},{start:.3},{:.3},0,{},{},{},",
                    line.seq,
                    String::from_utf8_lossy(&csv(line.host.as_bytes())),
                    line.run_time.as_secs_f64(),
                    line.received,
                    line.exit,
                    line.signal
                )
                .into_bytes();
                row.extend(csv(line.command));
                let outputs = [stdout.as_slice(), stderr.as_slice()];
                for value in fields.iter().map(Vec::as_slice).chain(outputs) {
                    row.push(b',');
                    row.extend(csv(value));
                }
                row.push(b'\n');
                file.write_all(&row)
            }
        }
    }

    /// Flushes a CSV file.
    pub fn finish(&mut self) -> io::Result<()> {
        match self {
            Results::Dir(_) => Ok(()),
            Results::Csv { file, .. } => file.flush(),
        }
    }
}

/// One job's results while its output streams in.
pub enum JobResults {
    /// Its directory, and the files its output goes to.
    Files {
        dir: PathBuf,
        stdout: BufWriter<File>,
        stderr: BufWriter<File>,
    },
    /// Its output, for its row of the CSV file.
    Row([Vec<u8>; 2]),
}

impl JobResults {
    /// Saves a chunk of the job's output.
    pub fn write(&mut self, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        match (self, stream) {
            (JobResults::Files { stdout, .. }, Stream::Stdout) => stdout.write_all(bytes),
            (JobResults::Files { stderr, .. }, Stream::Stderr) => stderr.write_all(bytes),
            (JobResults::Row([stdout, _]), Stream::Stdout) => {
                stdout.extend_from_slice(bytes);
                Ok(())
            }
            (JobResults::Row([_, stderr]), Stream::Stderr) => {
                stderr.extend_from_slice(bytes);
                Ok(())
            }
        }
    }
}

/// A CSV value: in double quotes (a `"` doubled) when it holds a comma, a
/// quote, a space or a line break.
fn csv(value: &[u8]) -> Vec<u8> {
    if !value
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b' ' | b'\n' | b'\r' | b'\t'))
    {
        return value.to_vec();
    }
    let mut out = vec![b'"'];
    for &b in value {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}
