//! The jobs of `hearth map` and their texts: each job's command line made
//! from the template and the job's fields ([`Maker`]); the thread that
//! reads streamed inputs (stdin, files) into a run while the jobs run, so
//! a long or endless stream starts at once and never has to fit in memory
//! ([`Producer`]); and the fields and command line of each job until it is
//! printed ([`Texts`]).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use hearth::remote::{Feeder, Files};

use crate::block_file::{self, BlockAs};
use crate::perl_expr;
use crate::plan::FieldsIter;
use crate::replace::{Fill, Template};
use crate::sh::{Job, Start};
use crate::world::{FileTemplates, TemplateFiles};

/// What is printed of a job: its number, fields and command line.
#[derive(Clone, Debug, Default)]
pub struct JobText {
    /// The job's sequence number, from 1.
    pub seq: usize,
    /// The job's fields (its inputs).
    pub fields: Vec<Vec<u8>>,
    /// Its command line, in parts to be joined with the slot's number.
    pub parts: Vec<Vec<u8>>,
    /// Bytes given to its stdin (`--pipe`'s block), for the joblog.
    pub sent: u64,
}

impl JobText {
    /// The fields joined by spaces, as `--tag` shows them.
    pub fn input(&self) -> Vec<u8> {
        self.fields.join(&b' ')
    }

    /// The command line as it ran in slot `slot` of `login` (`?` for
    /// what is not known).
    pub fn command(&self, slot: Option<u32>, login: Option<&str>) -> Vec<u8> {
        Self::join(&self.parts, slot, login)
    }

    /// `parts` (of this job's command or tag) joined with the slot's
    /// number and its login (`:` for this machine) and host.
    pub fn join(parts: &[Vec<u8>], slot: Option<u32>, login: Option<&str>) -> Vec<u8> {
        let slot = slot.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let login = login.unwrap_or("?");
        let on = crate::replace::RunsOn {
            slot: slot.as_bytes(),
            login: login.as_bytes(),
            host: crate::hosts::host_part(login).as_bytes(),
            user: crate::hosts::user_part(login).unwrap_or("?").as_bytes(),
            rank: b"?",
        };
        crate::replace::join_slot(parts, on)
    }
}

/// Makes the jobs of a run.
#[derive(Clone)]
pub struct Maker {
    pub template: Arc<Template>,
    pub fill: Fill,
    /// The sequence numbers of the jobs not to run (`--resume`).
    pub skip: Arc<HashSet<usize>>,
    /// `--resume` with `--results`: the jobs whose results are saved
    /// are not run either.
    pub saved: Option<Arc<crate::results::Saved>>,
    /// The files of each job (`--transfer`, `--return`), if any.
    pub files: Option<Arc<FileTemplates>>,
    /// `--pipe`, `--pipe-part`: a job's one field is its stdin, not its
    /// input.
    pub pipe: Piped,
    /// `--nice`, `--process-slot-var`.
    pub start: Start,
    /// The job's inputs go in its command (not with `-N 0`).
    pub insert: bool,
    /// `--cat`, `--fifo`: a piped job's block goes to its command as a
    /// file or a named pipe, and `{}` is its name.
    pub block_as: Option<BlockAs>,
    /// `--tee`: all of stdin, every job's stdin.
    pub tee: Option<Arc<Vec<u8>>>,
    /// `--filter`: the jobs that run.
    pub filters: Option<Arc<crate::filter::Filters>>,
    /// `--workdir` with replacement strings: each job's own directory.
    pub workdir: Option<Arc<Template>>,
    /// `--tmpl`: the files written before each job runs.
    pub templates: Option<Arc<TemplateFiles>>,
}

/// Whether a job's one field is a block for its stdin, and what `{}` is
/// then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piped {
    /// No: the fields are the job's inputs.
    No,
    /// `--pipe`: `{}` is an empty input (`''`), as in GNU parallel.
    Stdin,
    /// `--pipe-part`: `{}` is nothing at all, as in GNU parallel.
    Part,
}

impl Maker {
    /// A maker of jobs of `template` with nothing else: no files, no
    /// stdin, no skips.
    pub fn new(template: Arc<Template>) -> Maker {
        Maker {
            template,
            fill: Fill::Join,
            skip: Arc::new(HashSet::new()),
            saved: None,
            files: None,
            pipe: Piped::No,
            start: Start::default(),
            insert: true,
            block_as: None,
            tee: None,
            filters: None,
            workdir: None,
            templates: None,
        }
    }

    /// The job with sequence number `seq` (from 1), its text and what
    /// goes with it: its files, and with `--pipe` its block as its stdin.
    pub fn job(
        &self,
        mut fields: Vec<Vec<u8>>,
        seq: usize,
    ) -> Result<(Job, JobText, Option<Files>), String> {
        let stdin = if self.pipe == Piped::No {
            None
        } else {
            fields.pop()
        };
        let files = self.files(&fields, seq)?;
        let (job, mut text) = self.make(fields, seq)?;
        // GNU parallel's joblog counts a --pipe block as sent, not a part
        // of --pipe-part (its job reads the file itself).
        if self.pipe == Piped::Stdin {
            text.sent = stdin.as_ref().map_or(0, |block| block.len() as u64);
        }
        let files = match stdin {
            Some(block) => Some(files.unwrap_or_default().stdin(block)),
            None => files,
        };
        Ok((job, text, files))
    }

    /// The job with sequence number `seq` (from 1) and its text (with
    /// `--pipe` or `--pipe-part`, its block left out).
    ///
    /// # Errors
    ///
    /// A `{= perl =}` code failed (now or for an earlier job).
    pub fn make(&self, mut fields: Vec<Vec<u8>>, seq: usize) -> Result<(Job, JobText), String> {
        // Of the job's inputs, whether or not they go in its command.
        let workdir = self.workdir.as_ref().map(|dir| {
            let dir = dir.render(&fields, seq, Fill::Join, false).concat();
            go_to(&dir)
        });
        if !self.insert {
            fields.clear();
        }
        if self.pipe != Piped::No {
            // As GNU parallel: `{}` is an empty input (nothing at all for
            // a part of a file), and none is appended; with --cat and
            // --fifo it is the file's name, appended if not there.
            fields.clear();
            if self.block_as.is_some() {
                fields.push(block_file::placeholder().to_vec());
            } else if self.pipe == Piped::Stdin && self.template.has_fields() {
                fields.push(Vec::new());
            }
        }
        let _ = perl_expr::take_skipped();
        let mut parts = self.template.render(&fields, seq, self.fill, true);
        let filtered_out = match &self.filters {
            Some(filters) => !filters.pass(&fields, seq)?,
            None => false,
        };
        if self.block_as.is_some() {
            // The name of a --cat file: a variable for the shell to expand.
            parts = parts
                .iter()
                .map(|p| block_file::name_in_command(p))
                .collect();
            fields = vec![block_file::NAME_IN_COMMAND.to_vec()];
        }
        let skipped = perl_expr::take_skipped() || filtered_out;
        // The directory in the job's command line, not in its text (-v,
        // the joblog), as GNU parallel shows it.
        let mut job_parts = parts.clone();
        if let (Some(go), Some(first)) = (workdir, job_parts.first_mut()) {
            first.splice(0..0, go);
        }
        let job = Job {
            parts: job_parts,
            seq: seq as u64,
            start: self.start.clone(),
            block_as: self.block_as.clone(),
            skipped,
            templates: match &self.templates {
                Some(templates) => templates.filled(&fields, seq)?,
                None => Vec::new(),
            },
            remove_templates: self.templates.as_ref().is_some_and(|t| t.removed()),
        };
        let text = JobText {
            seq,
            fields,
            parts,
            sent: 0,
        };
        if let Some(err) = self.template.perl_error() {
            return Err(err);
        }
        Ok((job, text))
    }

    /// The files of the job with `fields` and sequence number `seq`, if
    /// the run has any.
    pub fn files(&self, fields: &[Vec<u8>], seq: usize) -> Result<Option<Files>, String> {
        let files = match &self.files {
            Some(templates) => Some(templates.files(fields, seq)?),
            None => None,
        };
        Ok(match &self.tee {
            Some(all) => Some(files.unwrap_or_default().stdin_shared(all.clone())),
            None => files,
        })
    }

    /// True if job `seq` (of `fields`) is not to run (`--resume`).
    pub fn skips(&self, seq: usize, fields: &[Vec<u8>]) -> bool {
        self.skip.contains(&seq)
            || self
                .saved
                .as_ref()
                .is_some_and(|saved| saved.has(fields, seq))
    }
}

/// How the reading of the inputs went, as its thread tells it.
#[derive(Default)]
struct Reading {
    /// Jobs made and handed to the run's feed (a run that stops drops
    /// those it did not take yet).
    jobs: AtomicUsize,
    /// Read to the end (or to an error).
    finished: AtomicBool,
    /// Why the reading stopped early: a read error.
    error: Mutex<Option<String>>,
}

/// The inputs, being read into a run.
#[derive(Clone)]
pub struct Producer {
    reading: Arc<Reading>,
}

impl Producer {
    /// Starts the thread that reads the inputs into jobs: each job's text
    /// goes to `texts` (for printing) and then the job to `feeder`, which
    /// waits while the run has enough queued. It stops at the end of the
    /// inputs, at a read error, or when the run takes no more.
    /// With `delay`, it hands over one job per `delay` at most.
    pub fn start(
        jobs: FieldsIter,
        maker: Maker,
        feeder: Feeder<Job>,
        texts: Sender<JobText>,
        delay: Option<Duration>,
    ) -> Producer {
        let reading = Arc::new(Reading::default());
        let shared = reading.clone();
        let started = std::thread::Builder::new()
            .name("hearth-inputs".to_owned())
            .spawn(move || {
                let error = produce(jobs, &maker, &feeder, &texts, &shared, delay);
                if let Some(error) = error
                    && let Ok(mut slot) = shared.error.lock()
                {
                    *slot = Some(error);
                }
            });
        if let Err(err) = started {
            // The feeder was dropped with the closure: the run has no input.
            if let Ok(mut slot) = reading.error.lock() {
                *slot = Some(format!("cannot start reading the inputs: {err}"));
            }
        }
        Producer { reading }
    }

    /// Jobs made so far.
    pub fn jobs(&self) -> usize {
        self.reading.jobs.load(Ordering::SeqCst)
    }

    /// True once the inputs were read to their end.
    pub fn finished(&self) -> bool {
        self.reading.finished.load(Ordering::SeqCst)
    }

    /// Why reading stopped early, if it did.
    pub fn error(&self) -> Option<String> {
        self.reading.error.lock().ok().and_then(|e| e.clone())
    }
}

/// The reading thread's loop; returns why it stopped early, if it did.
fn produce(
    jobs: FieldsIter,
    maker: &Maker,
    feeder: &Feeder<Job>,
    texts: &Sender<JobText>,
    reading: &Reading,
    delay: Option<Duration>,
) -> Option<String> {
    let mut handed = 0;
    for (index, fields) in jobs.enumerate() {
        let fields = match fields {
            Ok(fields) => fields,
            Err(err) => return Some(err),
        };
        if maker.skips(index + 1, &fields) {
            continue;
        }
        if let Some(delay) = delay
            && handed > 0
        {
            // --delay: pacing is what it asks for.
            std::thread::sleep(delay);
        }
        let (job, text, files) = match maker.job(fields, index + 1) {
            Ok(made) => made,
            Err(err) => return Some(format!("job {}: {err}", index + 1)),
        };
        let sent = |job: &Job| match files {
            Some(files) => feeder.send_with_files(job, files),
            None => feeder.send(job),
        };
        // The text first: when the job is reported, its text is there.
        if texts.send(text).is_err() || sent(&job).is_err() {
            // The run stopped taking inputs; it says why.
            return None;
        }
        handed += 1;
        let _ = reading.jobs.fetch_add(1, Ordering::SeqCst);
    }
    reading.finished.store(true, Ordering::SeqCst);
    None
}

/// The text of each job not yet printed, by index.
pub struct Texts {
    /// Index of `pending[0]`.
    first: usize,
    pending: VecDeque<Option<JobText>>,
    /// More, as the inputs are read.
    more: Option<Receiver<JobText>>,
}

impl Texts {
    /// The texts of jobs made before the run.
    pub fn listed(texts: Vec<JobText>) -> Texts {
        Texts {
            first: 0,
            pending: texts.into_iter().map(Some).collect(),
            more: None,
        }
    }

    /// The texts of jobs still being made, sent by a [`Producer`].
    pub fn fed(more: Receiver<JobText>) -> Texts {
        Texts {
            first: 0,
            pending: VecDeque::new(),
            more: Some(more),
        }
    }

    /// The text of job `index`, not taken yet (`None` if unknown).
    pub fn get(&mut self, index: usize) -> Option<&JobText> {
        let at = index.checked_sub(self.first)?;
        while self.pending.len() <= at {
            match self.more.as_ref().map(Receiver::try_recv) {
                Some(Ok(text)) => self.pending.push_back(Some(text)),
                _ => return None,
            }
        }
        self.pending[at].as_ref()
    }

    /// Takes the text of job `index` (each is taken once; an unknown one
    /// is `?`).
    pub fn take(&mut self, index: usize) -> JobText {
        let Some(at) = index.checked_sub(self.first) else {
            return unknown();
        };
        while self.pending.len() <= at {
            match self.more.as_ref().map(Receiver::try_recv) {
                Some(Ok(text)) => self.pending.push_back(Some(text)),
                _ => return unknown(),
            }
        }
        let text = self.pending[at].take().unwrap_or_else(unknown);
        while matches!(self.pending.front(), Some(None)) {
            let _ = self.pending.pop_front();
            self.first += 1;
        }
        text
    }
}

fn unknown() -> JobText {
    JobText {
        seq: 0,
        fields: vec![b"?".to_vec()],
        parts: vec![b"?".to_vec()],
        sent: 0,
    }
}

/// The shell's words that make `dir` if it is missing and go there, or
/// end the job (exit 1) if neither can be done: before a job's command,
/// for `--workdir` with replacement strings.
fn go_to(dir: &[u8]) -> Vec<u8> {
    let mut quoted = Vec::new();
    crate::replace::quote(dir, &mut quoted);
    let mut words = b"{ mkdir -p -- ".to_vec();
    words.extend_from_slice(&quoted);
    words.extend_from_slice(b" && cd -- ");
    words.extend_from_slice(&quoted);
    words.extend_from_slice(b"; } || exit 1; ");
    words
}
