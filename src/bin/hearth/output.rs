//! What `hearth map` prints for each job: its output as it streams in
//! (`streams.rs`: optionally each line prefixed with a tag, the input,
//! `--tagstring`, the host; grouped, its stderr after its stdout, as GNU
//! parallel prints them), or one JSON object when it ends; a joblog
//! line; its `--results`; and the tally for the summary.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hearth::remote::{FailedSlot, JobFailure, JobReport, SlotInfo, Stream};

use crate::Verbose;
use crate::color::{Color, Coloring};
use crate::held::Held;
use crate::inputs::{JobText, Piped};
use crate::joblog::{self, Line, Resume};
use crate::replace::{Fill, Template};
use crate::results::{JobResults, Results};
use crate::sh::JobOutput;
use crate::streams::{Grouping, JobStreams};

/// What the printer prints, from the options.
#[allow(clippy::struct_excessive_bools)] // Options, each its own.
pub struct Settings {
    pub json: bool,
    /// `--tag` (`{}`) or `--tagstring`.
    pub tag: Option<Template>,
    /// `--color`, `--color-failed`: the jobs' lines in colour.
    pub coloring: Coloring,
    /// `--tag-host` (the host and a tab before each line), or the host
    /// and this separator (`hearth run`: `: `).
    pub host_tag: Option<&'static str>,
    /// The host shown is the slot's node (and Slurm job id), not the
    /// pool's host entry.
    pub host_is_node: bool,
    /// The host shown without its `user@`, as pdsh shows it.
    pub bare_hosts: bool,
    /// The host shown up to its first dot, as pdsh shows it when the
    /// hosts share their domain (see `pdsh::strips_domains`).
    pub short_hosts: bool,
    /// How a job that failed other than by its exit status (a time
    /// limit, a lost slot) is said as it ends.
    pub job_failures: Notice,
    /// The tag of this machine's slots is `:`, the name GNU parallel's
    /// `-S :` gives it (`--nonall`, `--onall`), not `local`.
    pub local_as_colon: bool,
    pub joblog: Option<PathBuf>,
    /// `--resume` or `--resume-failed`: the joblog is appended to.
    pub resume: Option<Resume>,
    pub results: Option<PathBuf>,
    /// The columns' names (`--header :`), for the results.
    pub columns: Vec<Vec<u8>>,
    /// The input sources, for the results' directories.
    pub sources: usize,
    /// `--results` with replacement strings: each job's own file.
    pub results_template: Option<crate::replace::Template>,
    /// `--pipe`, `--pipe-part`: the jobs' inputs are blocks or parts, for
    /// the results.
    pub piped: Piped,
    /// How the outputs of jobs share stdout and stderr.
    pub grouping: Grouping,
    /// `-v` and `-t`: where each job's command line is shown.
    pub shown: Verbose,
    /// `--files`: the directory of the files that take each job's stdout
    /// (the names are printed instead).
    pub files: Option<PathBuf>,
}

/// How a job's failure other than by its exit status is said as it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// `hearth: job N (INPUT): why`.
    Hearth,
    /// As GNU parallel says a time-out (`parallel: Warning: This job was
    /// killed because it timed out:` and the command line), the rest as
    /// hearth's: started as `parallel`.
    GnuParallel,
    /// Not at all: started as pdsh, which says its failures its own way.
    Silent,
}

/// Why a skipped job "failed": `--filter` or `skip()` said not to run it
/// (exit -2 in the joblog).
pub const SKIPPED: &str = "skipped";

/// How outputs are printed.
pub struct Printer {
    settings: Settings,
    joblog: Option<BufWriter<File>>,
    results: Option<Results>,
    /// The first error writing the joblog or the results: they stop
    /// there, the run goes on, and [`Printer::finish`] returns it.
    record_error: Option<String>,
    /// The jobs whose output is coming in, by index.
    printing: HashMap<usize, Printing>,
    /// Failed jobs: (seq, why), in the order they were reported; a job
    /// skipped (`--filter`, `skip()`) is one, its why [`SKIPPED`], as GNU
    /// parallel counts it.
    pub failed: Vec<(usize, String)>,
    /// Jobs no slot could run, and why the slots died.
    pub not_run: Vec<usize>,
    /// Why the slots that could run them died.
    pub dead: Vec<FailedSlot>,
    /// Jobs cancelled (interrupted or after --halt).
    pub cancelled: usize,
    /// Jobs that exited 0.
    pub succeeded: usize,
    /// Nothing more of the jobs' outputs is printed, logged or kept in
    /// `--results` (`--halt now` killed the running jobs); they are still
    /// counted.
    muted: bool,
}

/// What is printed of one job while its output comes in.
#[derive(Default)]
struct Printing {
    streams: JobStreams,
    /// Bytes of stdout (the joblog's Receive).
    received: u64,
    /// Its output kept for the end: `--json`.
    collected: Option<[Vec<u8>; 2]>,
    /// Its `--results`.
    results: Option<JobResults>,
    /// Its `--files` file, once it has one.
    file: Option<(PathBuf, File)>,
    /// Its output held until it ends, when its colour depends on how it
    /// ends (`--color-failed`): stdout, stderr.
    held: Option<Held>,
    /// `--group`: its stderr, held until it ends, to come after its
    /// stdout, as GNU parallel prints a job's (the two came mixed as the
    /// job wrote them, on a stdout and stderr that are one file).
    stderr_held: Option<Held>,
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
            Some(path) => Some(Results::new(
                path,
                (settings.columns.clone(), settings.sources),
                settings.results_template.clone(),
                settings.piped,
            )?),
            None => None,
        };
        Ok(Printer {
            settings,
            joblog,
            results,
            record_error: None,
            printing: HashMap::new(),
            failed: Vec::new(),
            not_run: Vec::new(),
            dead: Vec::new(),
            cancelled: 0,
            succeeded: 0,
            muted: false,
        })
    }

    /// Prints a chunk of job `index`'s output (`text`), from `slot`.
    pub fn output(
        &mut self,
        index: usize,
        text: &JobText,
        stream: Stream,
        bytes: &[u8],
        slot: &SlotInfo,
    ) -> io::Result<()> {
        if !self.printing.contains_key(&index) {
            let host = self.host(Some(slot), Some(&slot.host));
            let started = self.begin(text, &host, Some(slot.number))?;
            let _ = self.printing.insert(index, started);
        }
        let Some(printing) = self.printing.get_mut(&index) else {
            return Ok(());
        };
        if stream == Stream::Stdout {
            printing.received += bytes.len() as u64;
        }
        if let Some(collected) = &mut printing.collected {
            collected[usize::from(stream == Stream::Stderr)].extend_from_slice(bytes);
            return Ok(());
        }
        if let (Some(dir), Stream::Stdout) = (&self.settings.files, stream) {
            return write_to_file(printing, dir, bytes);
        }
        if let Some(job) = &mut printing.results {
            if let Err(err) = job.write(stream, bytes) {
                printing.results = None;
                self.results_failed(&err);
            }
            return Ok(());
        }
        if self.settings.results.is_some() {
            // With --results the outputs go to the files only (and after
            // an error, nowhere).
            return Ok(());
        }
        if self.muted {
            return Ok(());
        }
        if let Some(held) = &mut printing.held {
            return held.push(usize::from(stream == Stream::Stderr), bytes);
        }
        if stream == Stream::Stderr
            && let Some(held) = &mut printing.stderr_held
        {
            return held.push(1, bytes);
        }
        let grouping = self.settings.grouping;
        // Flushed: a line not ended yet (-u) is not kept back either.
        match stream {
            Stream::Stdout => {
                let mut out = io::stdout().lock();
                printing.streams.write(grouping, stream, bytes, &mut out)?;
                out.flush()
            }
            Stream::Stderr => {
                let mut out = io::stderr().lock();
                printing.streams.write(grouping, stream, bytes, &mut out)?;
                out.flush()
            }
        }
    }

    /// Prints (and logs) nothing more of the jobs' outputs: `--halt now`
    /// killed the running jobs, and GNU parallel prints neither theirs
    /// nor, in input order, that of the jobs after them.
    pub fn mute(&mut self) {
        self.muted = true;
    }

    /// What is printed of a job whose output starts: its tag, its results.
    fn start(&mut self, text: &JobText, host: &str, slot_number: Option<u32>) -> Printing {
        let mut printing = Printing {
            streams: JobStreams::new(
                self.prefix(text, host, slot_number),
                self.settings
                    .coloring
                    .per_job
                    .then(|| Color::of_job(text.seq)),
            ),
            held: self.settings.coloring.failed.then(Held::default),
            stderr_held: (self.settings.grouping == Grouping::Group
                && !self.settings.coloring.failed)
                .then(Held::default),
            ..Printing::default()
        };
        if self.settings.json {
            printing.collected = Some([Vec::new(), Vec::new()]);
        } else if let Some(results) = &mut self.results {
            match results.start(&text.fields, text.seq) {
                Ok(job) => printing.results = Some(job),
                Err(err) => self.results_failed(&err),
            }
        }
        printing
    }

    /// [`Printer::start`] for a job whose output starts (or that ended
    /// without any), and its command line shown as `-v` and `-t` say.
    fn begin(
        &mut self,
        text: &JobText,
        host: &str,
        slot_number: Option<u32>,
    ) -> io::Result<Printing> {
        let mut printing = self.start(text, host, slot_number);
        self.announce(&mut printing, text, (slot_number, host))?;
        Ok(printing)
    }

    /// The command line of a job: on stderr for `-t`, and for `-v` as the
    /// first line of its output (tagged as its lines are; not in JSON or
    /// the results, as GNU parallel leaves it out of those).
    fn announce(
        &self,
        printing: &mut Printing,
        text: &JobText,
        (slot_number, host): (Option<u32>, &str),
    ) -> io::Result<()> {
        let Verbose { verbose, trace } = self.settings.shown;
        if !verbose && !trace {
            return Ok(());
        }
        let mut line = text.command(slot_number, Some(as_gnu_parallel_names(host)));
        line.push(b'\n');
        if trace {
            let mut err = io::stderr().lock();
            err.write_all(&line)?;
            err.flush()?;
        }
        let shown = !self.settings.json && self.settings.results.is_none();
        if verbose && shown {
            if let Some(held) = &mut printing.held {
                return held.push(0, &line);
            }
            let mut out = io::stdout().lock();
            printing
                .streams
                .write(self.settings.grouping, Stream::Stdout, &line, &mut out)?;
            out.flush()?;
        }
        Ok(())
    }

    /// Before each line of a job's output: the tag, the host.
    fn prefix(&self, text: &JobText, host: &str, slot_number: Option<u32>) -> Vec<u8> {
        let mut prefix = Vec::new();
        if let Some(tag) = &self.settings.tag {
            prefix = tag_prefix(tag, text, (slot_number, Some(as_gnu_parallel_names(host))));
            if let Some(err) = tag.perl_error() {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    eprintln!("hearth map: --tagstring: {err}; the tags are empty from here on");
                });
            }
        }
        if let Some(separator) = self.settings.host_tag {
            let host = if self.settings.local_as_colon {
                as_gnu_parallel_names(host)
            } else {
                host
            };
            prefix.extend_from_slice(host.as_bytes());
            prefix.extend_from_slice(separator.as_bytes());
        }
        prefix
    }

    /// The host shown for a job: the pool's host entry, or with Slurm the
    /// node and job id.
    fn host(&self, slot: Option<&SlotInfo>, host: Option<&String>) -> String {
        match (slot, self.settings.host_is_node) {
            (Some(slot), true) => slot.place(),
            _ => host.map_or_else(
                || "-".to_owned(),
                |host| {
                    if self.settings.short_hosts {
                        crate::pdsh::short_host(without_user(host)).to_owned()
                    } else if self.settings.bare_hosts {
                        without_user(host).to_owned()
                    } else {
                        host.clone()
                    }
                },
            ),
        }
    }

    /// Prints the end of job `index`.
    pub fn job(&mut self, index: usize, job: Finished<'_>) -> io::Result<()> {
        let seq = job.text.seq;
        let slot_number = match (&job.report.result, &job.report.slot) {
            (Ok(out), _) => Some(out.slot),
            (Err(_), Some(slot)) => Some(slot.number),
            (Err(_), None) => None,
        };
        let login = job.report.host.as_deref().map(as_gnu_parallel_names);
        let command = job.text.command(slot_number, login);
        let host = self.host(job.report.slot.as_deref(), job.report.host.as_ref());
        let failure = match &job.report.result {
            Ok(out) if out.success() => None,
            Ok(out) => Some(match out.signal {
                Some(signal) => format!("killed by signal {signal}"),
                None if out.status_code() == crate::sh::SKIPPED_EXIT => SKIPPED.to_owned(),
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
                    self.dead.clone_from(reasons);
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
        let mut printing = match self.printing.remove(&index) {
            Some(printing) => printing,
            None if ran => self.begin(job.text, &host, slot_number)?,
            None => Printing::default(),
        };
        let grouping = self.settings.grouping;
        if self.muted {
            // Neither logged nor kept, as GNU parallel, which stops before
            // it gets to them: --resume runs them again.
            if self.settings.json {
                let collected = printing.collected.take().unwrap_or_default();
                return Self::write_json(&job, &command, failure.as_deref(), &collected);
            }
            return Ok(());
        }
        if let Some(held) = printing.held.take() {
            // A job killed by a signal has exit status 0 in GNU parallel,
            // which colours by the exit status alone (on this machine: a
            // remote one's is 128 + the signal).
            let signalled =
                !ran_remotely(&job) && matches!(&job.report.result, Ok(out) if out.exit.is_none());
            let red = failure.is_some() && !signalled;
            let color = match (red, self.settings.coloring.per_job) {
                (true, _) => Color::failed(),
                (false, true) => Color::of_job(seq),
                (false, false) => Color::plain(),
            };
            release(&mut printing.streams, color, grouping, held)?;
        }
        if let Some(held) = printing.stderr_held.take() {
            let streams = &mut printing.streams;
            held.release(|at, bytes| match at {
                0 => Ok(()),
                _ => streams.write(grouping, Stream::Stderr, bytes, &mut io::stderr().lock()),
            })?;
        }
        let mut out = io::stdout().lock();
        if let (Some(dir), true) = (&self.settings.files, ran) {
            // A job without output still gets its (empty) file.
            write_to_file(&mut printing, dir, b"")?;
            if let Some((path, _)) = &printing.file {
                let mut line = path.as_os_str().as_encoded_bytes().to_vec();
                line.push(b'\n');
                printing
                    .streams
                    .write(grouping, Stream::Stdout, &line, &mut out)?;
            }
        }
        printing
            .streams
            .finish(grouping, Stream::Stdout, &mut out)?;
        out.flush()?;
        drop(out);
        printing
            .streams
            .finish(grouping, Stream::Stderr, &mut io::stderr().lock())?;
        if ran {
            self.record(&job, &host, &command, &mut printing);
        }
        if self.settings.json {
            let collected = printing.collected.take().unwrap_or_default();
            return Self::write_json(&job, &command, failure.as_deref(), &collected);
        }
        self.say_failure(&job, &command);
        Ok(())
    }

    /// Says as it ends a job that failed other than by its exit status
    /// (see [`Notice`]); the summary sums up the rest.
    fn say_failure(&self, job: &Finished<'_>, command: &[u8]) {
        let seq = job.text.seq;
        match &job.report.result {
            // Summed up at the end.
            Ok(_) | Err(JobFailure::Cancelled(_) | JobFailure::NotRun { .. }) => {}
            Err(_) if self.settings.job_failures == Notice::Silent => {}
            Err(JobFailure::TimedOut { .. })
                if self.settings.job_failures == Notice::GnuParallel =>
            {
                say!(
                    "parallel: Warning: This job was killed because it timed out:\nparallel: Warning: {}",
                    String::from_utf8_lossy(command)
                );
            }
            Err(err) => say!(
                "hearth: job {seq} ({}): {err}",
                shortened(&job.text.input())
            ),
        }
    }

    /// The joblog line and the results of a job that ran.
    fn record(&mut self, job: &Finished<'_>, host: &str, command: &[u8], printing: &mut Printing) {
        if self.joblog.is_none() && self.results.is_none() {
            return;
        }
        let (exit, signal) = match &job.report.result {
            // GNU parallel's wrapper over ssh exits 128 + the signal that
            // killed a remote job, and so logs it.
            Ok(out) if ran_remotely(job) => (out.status_code(), 0),
            Ok(out) => (out.exit.unwrap_or(0), out.signal.unwrap_or(0)),
            // Stopped past --timeout on another host: GNU parallel ends
            // the job's ssh, which exits 255, and so logs it.
            Err(JobFailure::TimedOut { .. }) if ran_remotely(job) => (255, 0),
            // Stopped past --timeout by --termseq's signals: as GNU
            // parallel logs it, the exit status of a command that trapped
            // them and exited (-1 for 0: it did time out), or the signal
            // that ended it (-1 for the exit status); killed with its
            // worker, SIGKILL.
            Err(JobFailure::TimedOut { returned, .. }) => {
                match returned.as_deref().map(postcard::from_bytes::<JobOutput>) {
                    Some(Ok(JobOutput {
                        exit: Some(code), ..
                    })) => (if code == 0 { -1 } else { code }, 0),
                    Some(Ok(JobOutput {
                        signal: Some(signal),
                        ..
                    })) => (-1, signal),
                    _ => (-1, libc::SIGKILL),
                }
            }
            // Killed short of memory (--memfree): as GNU parallel logs a
            // job its SIGTERM ends.
            Err(JobFailure::LowMemory { .. }) => (-1, libc::SIGTERM),
            // No attempt succeeded.
            Err(_) => (-1, 0),
        };
        let line = Line {
            seq: job.text.seq,
            host: as_gnu_parallel_names(host),
            start: SystemTime::now()
                .checked_sub(job.report.run_time)
                .unwrap_or_else(SystemTime::now),
            run_time: job.report.run_time,
            sent: job.text.sent,
            received: printing.received,
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
        if let (Some(results), Some(saved)) = (self.results.as_mut(), printing.results.take())
            && let Err(err) = results.save(&line, &job.text.fields, saved)
        {
            self.results_failed(&err);
        }
    }

    /// Stops the results at their first error, which [`Printer::finish`]
    /// returns.
    fn results_failed(&mut self, err: &io::Error) {
        self.results = None;
        let path = self.settings.results.as_deref().unwrap_or(Path::new("?"));
        let _ = self.record_error.get_or_insert(format!(
            "cannot write the results {}: {err}; they are incomplete",
            path.display()
        ));
    }

    fn write_json(
        job: &Finished<'_>,
        command: &[u8],
        failure: Option<&str>,
        [stdout, stderr]: &[Vec<u8>; 2],
    ) -> io::Result<()> {
        let (exit, signal) = match job.report.result.as_ref() {
            Ok(out) => (out.exit, out.signal),
            Err(_) => (None, None),
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
            "stdout": String::from_utf8_lossy(stdout),
            "stderr": String::from_utf8_lossy(stderr),
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

/// A host's name without its `user@`, as pdsh shows it.
pub fn without_user(host: &str) -> &str {
    host.split_once('@').map_or(host, |(_, bare)| bare)
}

/// The directory of `--files`' files, with `--files`: `--tmpdir`,
/// `$TMPDIR` or `/tmp`.
pub fn files_dir(args: &crate::MapArgs) -> Option<PathBuf> {
    args.as_files.files.then(|| {
        args.as_files
            .tmpdir
            .clone()
            .or_else(|| {
                std::env::var_os("TMPDIR")
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("/tmp"))
    })
}

/// Appends `bytes` to the `--files` file of `printing`, made in `dir`
/// first if it has none yet.
fn write_to_file(printing: &mut Printing, dir: &Path, bytes: &[u8]) -> io::Result<()> {
    if printing.file.is_none() {
        printing.file = Some(new_file(dir)?);
    }
    match &mut printing.file {
        Some((_, file)) => file.write_all(bytes),
        None => Ok(()),
    }
}

/// A new file in `dir` named as GNU parallel names those of `--files`:
/// `par`, five letters or digits, `.par`.
fn new_file(dir: &Path) -> io::Result<(PathBuf, File)> {
    crate::block_file::make_par(dir, ".par", |path| {
        File::options().write(true).create_new(true).open(path)
    })
    .map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("cannot make a file for --files in {}: {err}", dir.display()),
        )
    })
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

/// A job's tag and the tab after it: the tag string with the job's values
/// as they are, bytes and all, as its output is.
pub fn tag_prefix(
    tag: &Template,
    text: &JobText,
    (slot_number, login): (Option<u32>, Option<&str>),
) -> Vec<u8> {
    let parts = tag.render(&text.fields, text.seq, Fill::Join, false);
    let mut prefix = JobText::join(&parts, slot_number, login);
    prefix.push(b'\t');
    prefix
}

/// True if `job` ran on another host than this machine (over ssh, or a
/// launcher's).
fn ran_remotely(job: &Finished<'_>) -> bool {
    job.report
        .host
        .as_deref()
        .is_some_and(|host| host != "local")
}

/// A host as GNU parallel names it: this machine (the pool's `local`) is
/// `:`, as in `-S :`.
pub fn as_gnu_parallel_names(host: &str) -> &str {
    if host == "local" { ":" } else { host }
}

/// Writes the output of a job held until it ended (`--color-failed`), in
/// `color`: stdout, then stderr, as GNU parallel prints a job's.
fn release(
    streams: &mut JobStreams,
    color: Color,
    grouping: Grouping,
    held: Held,
) -> io::Result<()> {
    streams.set_color(color);
    held.release(|at, bytes| {
        if at == 0 {
            let mut out = io::stdout().lock();
            streams.write(grouping, Stream::Stdout, bytes, &mut out)?;
            out.flush()
        } else {
            streams.write(grouping, Stream::Stderr, bytes, &mut io::stderr().lock())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::shortened;

    /// Bytes that are not UTF-8 are shortened and counted as bytes (they
    /// were counted after each became a 3-byte U+FFFD).
    #[test]
    fn shortened_counts_bytes_not_their_text() {
        assert_eq!(shortened(&[0xe9; 40]), "\u{fffd}".repeat(40));
        let long = vec![0xe9; 200_000];
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
