//! What `hearth map` prints for each job: the job's stdout as one block
//! (optionally prefixed with the input or host), or one JSON object; its
//! stderr on stderr; a joblog line; and the tally for the exit status.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth::remote::{FailedSlot, JobFailure, JobReport};

use crate::sh::ShOutput;

/// How outputs are printed.
pub struct Printer {
    json: bool,
    tag: bool,
    tag_host: bool,
    /// The host shown is the slot's node (and Slurm job id), not the
    /// pool's host entry.
    host_is_node: bool,
    joblog: Option<BufWriter<File>>,
    /// The joblog's path, for its errors.
    joblog_path: Option<std::path::PathBuf>,
    /// The first error writing the joblog: the log stops there, the run
    /// goes on, and [`Printer::finish`] returns it.
    joblog_error: Option<io::Error>,
    /// Failed jobs: (seq, why), in the order they were reported.
    pub failed: Vec<(usize, String)>,
    /// Jobs no slot could run, and why the slots died.
    pub not_run: Vec<usize>,
    /// Why the slots that could run them died.
    pub dead: Vec<FailedSlot>,
    /// Jobs cancelled (interrupted or after --fail-fast).
    pub cancelled: usize,
    /// Jobs that exited 0.
    pub succeeded: usize,
}

/// One finished job, as the printer needs it.
pub struct Finished<'a> {
    /// 1-based position in the input.
    pub seq: usize,
    /// The input (any bytes, see `inputs.rs`).
    pub input: &'a [u8],
    /// The command line run.
    pub command: &'a [u8],
    /// The pool's report.
    pub report: JobReport<ShOutput>,
}

impl Printer {
    pub fn new(
        json: bool,
        tag: bool,
        tag_host: bool,
        host_is_node: bool,
        joblog: Option<&Path>,
    ) -> io::Result<Self> {
        let joblog_path = joblog;
        let joblog = match joblog {
            Some(path) => {
                let mut file = BufWriter::new(File::create(path).map_err(|err| {
                    io::Error::new(
                        err.kind(),
                        format!("cannot create joblog {}: {err}", path.display()),
                    )
                })?);
                writeln!(
                    file,
                    "Seq\tHost\tStarttime\tJobRuntime\tAttempts\tExitval\tSignal\tCommand"
                )?;
                Some(file)
            }
            None => None,
        };
        Ok(Printer {
            json,
            tag,
            tag_host,
            host_is_node,
            joblog,
            joblog_path: joblog_path.map(Path::to_path_buf),
            joblog_error: None,
            failed: Vec::new(),
            not_run: Vec::new(),
            dead: Vec::new(),
            cancelled: 0,
            succeeded: 0,
        })
    }

    /// Prints one job; returns true if it failed (for --fail-fast).
    pub fn job(&mut self, job: Finished<'_>) -> io::Result<bool> {
        let host = match (&job.report.slot, self.host_is_node) {
            (Some(slot), true) => slot.place(),
            _ => job.report.host.clone().unwrap_or_else(|| "-".to_owned()),
        };
        let failure = match &job.report.result {
            Ok(out) if out.success() => None,
            Ok(out) => Some(match out.signal {
                Some(signal) => format!("killed by signal {signal}"),
                None => format!("exit {}", out.status_code()),
            }),
            Err(err) => Some(err.to_string()),
        };
        match &job.report.result {
            Err(JobFailure::Cancelled(_)) => self.cancelled += 1,
            Err(JobFailure::NotRun { reasons }) => {
                self.not_run.push(job.seq);
                if self.dead.is_empty() {
                    self.dead = reasons.clone();
                }
            }
            _ => match &failure {
                Some(why) => self.failed.push((job.seq, why.clone())),
                None => self.succeeded += 1,
            },
        }
        if let Err(err) = self.write_joblog(&job, &host) {
            self.joblog = None;
            self.joblog_error = Some(err);
        }
        if self.json {
            return self
                .write_json(&job, failure.as_deref())
                .map(|()| failure.is_some());
        }
        // The input as it is, bytes and all, as the job's output is.
        let mut prefix = Vec::new();
        if self.tag {
            prefix.extend_from_slice(job.input);
            prefix.push(b'\t');
        }
        if self.tag_host {
            prefix.extend_from_slice(host.as_bytes());
            prefix.push(b'\t');
        }
        match &job.report.result {
            Ok(out) => {
                write_block(&mut io::stdout().lock(), &prefix, &out.stdout)?;
                write_block(&mut io::stderr().lock(), &prefix, &out.stderr)?;
            }
            // Summed up at the end.
            Err(JobFailure::Cancelled(_) | JobFailure::NotRun { .. }) => {}
            Err(err) => say!("hearth: job {} ({}): {err}", job.seq, shortened(job.input)),
        }
        Ok(failure.is_some())
    }

    fn write_json(&self, job: &Finished<'_>, failure: Option<&str>) -> io::Result<()> {
        let (exit, signal, stdout, stderr) = match &job.report.result {
            Ok(out) => (
                out.exit,
                out.signal,
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ),
            Err(_) => (None, None, String::new(), String::new()),
        };
        let error = match &job.report.result {
            Ok(_) => None,
            Err(_) => failure,
        };
        let slot = job.report.slot.as_deref();
        let line = serde_json::json!({
            "seq": job.seq,
            // JSON holds text: bytes that are not UTF-8 become U+FFFD.
            "input": String::from_utf8_lossy(job.input),
            "host": job.report.host,
            "node": slot.map(|s| &s.node),
            "slurm_job": slot.and_then(|s| s.slurm_job.as_ref()),
            "exit": exit,
            "signal": signal,
            "stdout": stdout,
            "stderr": stderr,
            "attempts": job.report.attempts,
            "retries": job.report.retries,
            "ms": millis(job.report.run_time),
            "error": error,
        });
        let mut out = io::stdout().lock();
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")
    }

    fn write_joblog(&mut self, job: &Finished<'_>, host: &str) -> io::Result<()> {
        let Some(log) = self.joblog.as_mut() else {
            return Ok(());
        };
        let start = SystemTime::now()
            .checked_sub(job.report.run_time)
            .unwrap_or(SystemTime::now())
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (exit, signal) = match &job.report.result {
            Ok(out) => (out.exit.unwrap_or(-1), out.signal.unwrap_or(0)),
            Err(_) => (-1, 0),
        };
        write!(
            log,
            "{}\t{host}\t{:.3}\t{:.3}\t{}\t{exit}\t{signal}\t",
            job.seq,
            start.as_secs_f64(),
            job.report.run_time.as_secs_f64(),
            job.report.attempts,
        )?;
        // The command as it ran, on one line of the log.
        let command: Vec<u8> = job
            .command
            .iter()
            .map(|&b| if b == b'\n' || b == b'\t' { b' ' } else { b })
            .collect();
        log.write_all(&command)?;
        log.write_all(b"\n")
    }

    /// Flushes the joblog. An error says which joblog and that it is
    /// incomplete: the first error writing it, or the flush's.
    pub fn finish(&mut self) -> Result<(), String> {
        let result = match (self.joblog_error.take(), self.joblog.as_mut()) {
            (Some(err), _) => Err(err),
            (None, Some(log)) => log.flush(),
            (None, None) => Ok(()),
        };
        result.map_err(|err| {
            let path = self.joblog_path.as_deref().unwrap_or(Path::new("?"));
            format!(
                "cannot write the joblog {}: {err}; it is incomplete",
                path.display()
            )
        })
    }
}

/// Writes `bytes` with `prefix` before each line.
fn write_block(out: &mut impl Write, prefix: &[u8], bytes: &[u8]) -> io::Result<()> {
    if prefix.is_empty() {
        return out.write_all(bytes);
    }
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        out.write_all(prefix)?;
        out.write_all(line)?;
    }
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Bytes (an input or a command line, UTF-8 or not) for a one-line
/// message: as they are, or their start and their length if long (they
/// may be megabytes). Bytes that are not UTF-8 show as U+FFFD; the length
/// is of the bytes themselves.
pub fn shortened(bytes: &[u8]) -> String {
    const SHOWN: usize = 100;
    if bytes.len() <= SHOWN {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut start = &bytes[..SHOWN];
    // A character cut at the end is left out, not shown as U+FFFD.
    if let Err(err) = std::str::from_utf8(start)
        && err.error_len().is_none()
    {
        start = &start[..err.valid_up_to()];
    }
    format!(
        "{}... ({} bytes)",
        String::from_utf8_lossy(start),
        bytes.len()
    )
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::shortened;

    /// Bytes that are not UTF-8 are shortened and counted as bytes (they
    /// were counted after each became a 3-byte U+FFFD).
    #[test]
    fn shortened_counts_bytes_not_their_text() {
        assert_eq!(shortened(&[0xe9; 40]), "\u{fffd}".repeat(40));
        let long = [0xe9; 200_000];
        assert_eq!(
            shortened(&long),
            format!("{}... (200000 bytes)", "\u{fffd}".repeat(100))
        );
        // A character cut at the 100th byte is left out.
        let text = format!("{}é and more", "x".repeat(99));
        assert_eq!(
            shortened(text.as_bytes()),
            format!("{}... (110 bytes)", "x".repeat(99))
        );
        assert_eq!(shortened(b"short"), "short");
    }
}
