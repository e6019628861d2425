//! `--joblog FILE` in GNU parallel's format, so that the tools that read
//! GNU parallel's joblog read hearth's: a header, then a line per job of 9
//! tab-separated columns, Seq, Host (`:` for this machine), Starttime
//! (seconds since the epoch, 3 decimals), `JobRuntime` (seconds, 3
//! decimals, 10 wide), Send (bytes to the job's stdin: `--pipe`'s block,
//! else 0), Receive (bytes
//! of its stdout), Exitval, Signal, Command. Attempts and hearth's other
//! fields are in `--json`. A job the run killed, past `--timeout` or for
//! `--memfree`, is logged as GNU parallel logs one: Exitval -1, Signal 15
//! (its SIGTERM); one killed by `--halt now` is not logged, as there.
//!
//! `--resume` and `--resume-failed` read an existing joblog: the jobs it
//! shows as done (or as done and succeeded) are skipped, keyed by their
//! sequence number, and the log is appended to. `--joblog +FILE` appends
//! to FILE without `--resume`. `--retry-failed` runs the command lines of
//! the jobs it shows as failed again, with their numbers.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The header line.
pub const HEADER: &str =
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand";

/// What `--resume` skips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// Every job in the log (`--resume`).
    Done,
    /// Every job the log shows as succeeded (`--resume-failed`).
    Succeeded,
}

/// One job's line.
pub struct Line<'a> {
    pub seq: usize,
    /// `:` for this machine.
    pub host: &'a str,
    /// When the job began.
    pub start: SystemTime,
    pub run_time: Duration,
    /// Bytes given to the job's stdin.
    pub sent: u64,
    pub received: u64,
    pub exit: i32,
    pub signal: i32,
    pub command: &'a [u8],
}

/// The file of `--joblog PATH`, and whether it is appended to: a `+`
/// before the path says so (`--joblog +FILE`, as in GNU parallel).
fn file_of(path: &Path) -> (&Path, bool) {
    match path.as_os_str().as_bytes().strip_prefix(b"+") {
        Some(rest) if !rest.is_empty() => (Path::new(OsStr::from_bytes(rest)), true),
        _ => (path, false),
    }
}

/// Opens the joblog at `path`: created with its header, or with `resume`,
/// appended to when it exists; `+FILE` is appended to, made without a
/// header when missing, and `-` is stdout, as GNU parallel does.
pub fn open(path: &Path, resume: Option<Resume>) -> io::Result<BufWriter<File>> {
    if path == Path::new("-") {
        // Stdout, as GNU parallel's `--joblog -`: each line as it is
        // written (no buffer), among the outputs, the header first.
        let stdout = io::stdout().as_fd().try_clone_to_owned()?;
        let mut file = BufWriter::with_capacity(0, File::from(stdout));
        writeln!(file, "{HEADER}")?;
        return Ok(file);
    }
    let (path, append) = file_of(path);
    let named = |err: io::Error| {
        io::Error::new(
            err.kind(),
            format!("cannot open the joblog {}: {err}", path.display()),
        )
    };
    if append || (resume.is_some() && path.exists()) {
        let file = OpenOptions::new()
            .append(true)
            .create(append)
            .open(path)
            .map_err(named)?;
        return Ok(BufWriter::new(file));
    }
    let mut file = BufWriter::new(File::create(path).map_err(named)?);
    writeln!(file, "{HEADER}")?;
    Ok(file)
}

/// Writes one job's line.
pub fn write(log: &mut impl Write, line: &Line<'_>) -> io::Result<()> {
    let start = line
        .start
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    write!(
        log,
        "{}\t{}\t{start:.3}\t{:10.3}\t{}\t{}\t{}\t{}\t",
        line.seq,
        line.host,
        line.run_time.as_secs_f64(),
        line.sent,
        line.received,
        line.exit,
        line.signal,
    )?;
    // The command as it ran, on one line of the log.
    let command: Vec<u8> = line
        .command
        .iter()
        .map(|&b| if b == b'\n' { b' ' } else { b })
        .collect();
    log.write_all(&command)?;
    log.write_all(b"\n")
}

/// One job's line of a joblog, as `--resume` and `--retry-failed` read it.
struct Row {
    seq: usize,
    succeeded: bool,
    command: Vec<u8>,
}

/// The job lines of the joblog at `path` (none if it does not exist yet).
fn rows(path: &Path) -> Result<Vec<Row>, String> {
    let (path, _) = file_of(path);
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(format!("cannot read the joblog {}: {err}", path.display())),
    };
    let mut rows = Vec::new();
    for (at, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line =
            line.map_err(|err| format!("cannot read the joblog {}: {err}", path.display()))?;
        if at == 0 && line.starts_with(b"Seq\t") {
            continue;
        }
        let columns: Vec<&[u8]> = line.splitn(9, |&b| b == b'\t').collect();
        let number = |i: usize| -> Option<i64> {
            std::str::from_utf8(columns.get(i)?)
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        let (Some(seq), Some(exit), Some(signal), Some(command)) =
            (number(0), number(6), number(7), columns.get(8))
        else {
            return Err(format!(
                "the joblog {} is not a joblog: line {} is not Seq, Host, .., Exitval, Signal, \
                 Command; give another --joblog to start afresh",
                path.display(),
                at + 1
            ));
        };
        if let Ok(seq) = usize::try_from(seq) {
            rows.push(Row {
                seq,
                succeeded: exit == 0 && signal == 0,
                command: command.to_vec(),
            });
        }
    }
    Ok(rows)
}

/// The sequence numbers that `--resume` (or `--resume-failed`) skips, from
/// the joblog at `path` (none if it does not exist yet).
pub fn skipped(path: &Path, resume: Resume) -> Result<HashSet<usize>, String> {
    Ok(rows(path)?
        .into_iter()
        .filter(|row| resume == Resume::Done || row.succeeded)
        .map(|row| row.seq)
        .collect())
}

/// `--retry-failed`: the command line of every job of the joblog at
/// `path` by sequence number (`None` where the log has no job), those the
/// log shows as succeeded too; the caller skips them.
pub fn commands(path: &Path) -> Result<Vec<Option<Vec<u8>>>, String> {
    let mut commands: Vec<Option<Vec<u8>>> = Vec::new();
    for row in rows(path)? {
        if row.seq == 0 {
            continue;
        }
        if commands.len() < row.seq {
            commands.resize(row.seq, None);
        }
        // A job logged twice ran again: its last line is the one.
        commands[row.seq - 1] = Some(row.command);
    }
    Ok(commands)
}
