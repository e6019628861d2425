//! What `hearth map` prints for each job: the job's stdout as one block
//! (optionally prefixed with a tag: the input, `--tagstring`, the host),
//! or one JSON object; its stderr on stderr; a joblog line; its
//! `--results`; and the tally for the summary.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hearth::remote::{FailedSlot, JobFailure, JobReport};

use crate::inputs::JobText;
use crate::joblog::{self, Line, Resume};
use crate::replace::{Fill, Template};
use crate::results::Results;
use crate::sh::JobOutput;

/// What the printer prints, from the options.
pub struct Settings {
    pub json: bool,
    /// `--tag` (`{}`) or `--tagstring`.
    pub tag: Option<Template>,
    pub tag_host: bool,
    /// The host shown is the slot's node (and Slurm job id), not the
    /// pool's host entry.
    pub host_is_node: bool,
    pub joblog: Option<PathBuf>,
    /// `--resume` or `--resume-failed`: the joblog is appended to.
    pub resume: Option<Resume>,
    pub results: Option<PathBuf>,
}

/// How outputs are printed.
pub struct Printer {
    settings: Settings,
    joblog: Option<BufWriter<File>>,
    results: Option<Results>,
    /// The first error writing the joblog or the results: they stop
    /// there, the run goes on, and [`Printer::finish`] returns it.
    record_error: Option<String>,
    /// Failed jobs: (seq, why), in the order they were reported.
    pub failed: Vec<(usize, String)>,
    /// Jobs no slot could run, and why the slots died.
    pub not_run: Vec<usize>,
    /// Why the slots that could run them died.
    pub dead: Vec<FailedSlot>,
    /// Jobs cancelled (interrupted or after --halt).
    pub cancelled: usize,
    /// Jobs that exited 0.
    pub succeeded: usize,
}

/// One finished job, as the printer needs it.
pub struct Finished<'a> {
    /// The job's fields, sequence number and command line.
    pub text: &'a JobText,
    /// The pool's report.
    pub report: JobReport<JobOutput>,
}

impl Printer {
    pub fn new(settings: Settings) -> io::Result<Self> {
        let joblog = match &settings.joblog {
            Some(path) => Some(joblog::open(path, settings.resume)?),
            None => None,
        };
        let results = match &settings.results {
            Some(path) => Some(Results::new(path)?),
            None => None,
        };
        Ok(Printer {
            settings,
            joblog,
            results,
            record_error: None,
            failed: Vec::new(),
            not_run: Vec::new(),
            dead: Vec::new(),
            cancelled: 0,
            succeeded: 0,
        })
    }

    /// Prints one job.
    pub fn job(&mut self, job: Finished<'_>) -> io::Result<()> {
        let seq = job.text.seq;
        let slot_number = job.report.result.as_ref().ok().and_then(|out| out.slot);
        let command = job.text.command(slot_number);
        let host = match (&job.report.slot, self.settings.host_is_node) {
            (Some(slot), true) => slot.place(),
            _ => job.report.host.clone().unwrap_or_else(|| "-".to_owned()),
        };
        let output = job.report.result.as_ref().map(|out| &out.output);
        let failure = match output {
            Ok(out) if out.success() => None,
            Ok(out) => Some(match out.signal {
                Some(signal) => format!("killed by signal {signal}"),
                None => format!("exit {}", out.status_code()),
            }),
            Err(err) => Some(err.to_string()),
        };
        let ran = match &job.report.result {
            Err(JobFailure::Cancelled(_)) => {
                self.cancelled += 1;
                false
            }
            Err(JobFailure::NotRun { reasons }) => {
                self.not_run.push(seq);
                if self.dead.is_empty() {
                    self.dead = reasons.clone();
                }
                false
            }
            _ => {
                match &failure {
                    Some(why) => self.failed.push((seq, why.clone())),
                    None => self.succeeded += 1,
                }
                true
            }
        };
        if ran {
            self.record(&job, &host, &command);
        }
        if self.settings.json {
            return self.write_json(&job, &command, failure.as_deref());
        }
        let mut prefix = Vec::new();
        if let Some(tag) = &self.settings.tag {
            // The values as they are, bytes and all, as the job's output is.
            let parts = tag.render(&job.text.fields, seq, Fill::Join, false);
            prefix = job.text.join(&parts, slot_number);
            prefix.push(b'\t');
        }
        if self.settings.tag_host {
            prefix.extend_from_slice(host.as_bytes());
            prefix.push(b'\t');
        }
        match output {
            // With --results, the outputs are in the files only.
            Ok(_) if self.results.is_some() => {}
            Ok(out) => {
                write_block(&mut io::stdout().lock(), &prefix, &out.stdout)?;
                write_block(&mut io::stderr().lock(), &prefix, &out.stderr)?;
            }
            // Summed up at the end.
            Err(JobFailure::Cancelled(_) | JobFailure::NotRun { .. }) => {}
            Err(err) => say!(
                "hearth: job {seq} ({}): {err}",
                shortened(&job.text.input())
            ),
        }
        Ok(())
    }

    /// The joblog line and the results of a job that ran.
    fn record(&mut self, job: &Finished<'_>, host: &str, command: &[u8]) {
        if self.joblog.is_none() && self.results.is_none() {
            return;
        }
        let output = job.report.result.as_ref().ok().map(|out| &out.output);
        let (exit, signal) = match output {
            Some(out) => (out.exit.unwrap_or(0), out.signal.unwrap_or(0)),
            // Timed out, or no attempt succeeded: as GNU parallel logs a
            // job it killed.
            None => (-1, 0),
        };
        let line = Line {
            seq: job.text.seq,
            host: if host == "local" { ":" } else { host },
            start: SystemTime::now()
                .checked_sub(job.report.run_time)
                .unwrap_or_else(SystemTime::now),
            run_time: job.report.run_time,
            received: output.map_or(0, |out| out.stdout.len()),
            exit,
            signal,
            command,
        };
        if let Some(log) = self.joblog.as_mut()
            && let Err(err) = joblog::write(log, &line)
        {
            self.joblog = None;
            let path = self.settings.joblog.as_deref().unwrap_or(Path::new("?"));
            let _ = self.record_error.get_or_insert(format!(
                "cannot write the joblog {}: {err}; it is incomplete",
                path.display()
            ));
        }
        if let Some(results) = self.results.as_mut() {
            let empty = Vec::new();
            let (stdout, stderr) =
                output.map_or((&empty, &empty), |out| (&out.stdout, &out.stderr));
            if let Err(err) = results.save(&line, &job.text.fields, stdout, stderr) {
                self.results = None;
                let path = self.settings.results.as_deref().unwrap_or(Path::new("?"));
                let _ = self.record_error.get_or_insert(format!(
                    "cannot write the results {}: {err}; they are incomplete",
                    path.display()
                ));
            }
        }
    }

    fn write_json(
        &self,
        job: &Finished<'_>,
        command: &[u8],
        failure: Option<&str>,
    ) -> io::Result<()> {
        let (exit, signal, stdout, stderr) = match job.report.result.as_ref().map(|out| &out.output)
        {
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
        // JSON holds text: bytes that are not UTF-8 become U+FFFD.
        let line = serde_json::json!({
            "seq": job.text.seq,
            "input": String::from_utf8_lossy(&job.text.input()),
            "command": String::from_utf8_lossy(command),
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

    /// Flushes the joblog and the results. An error says which and that
    /// it is incomplete: the first error writing them, or the flush's.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(err) = self.record_error.take() {
            return Err(err);
        }
        if let Some(log) = self.joblog.as_mut()
            && let Err(err) = log.flush()
        {
            let path = self.settings.joblog.as_deref().unwrap_or(Path::new("?"));
            return Err(format!(
                "cannot write the joblog {}: {err}; it is incomplete",
                path.display()
            ));
        }
        if let Some(results) = self.results.as_mut()
            && let Err(err) = results.finish()
        {
            let path = self.settings.results.as_deref().unwrap_or(Path::new("?"));
            return Err(format!(
                "cannot write the results {}: {err}; they are incomplete",
                path.display()
            ));
        }
        Ok(())
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
