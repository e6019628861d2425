//! Where `hearth map`'s inputs come from: the command line (`:::` and
//! `--arg`), or the lines of stdin, read on a thread of their own while the
//! jobs run, so a long or endless stream starts at once and never has to
//! fit in memory; and the input and command line of each job until it is
//! printed.

use std::collections::VecDeque;
use std::io::{self, BufRead, IsTerminal};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use hearth::remote::{Feeder, shell_quote};

use crate::MapArgs;
use crate::sh::ShJob;

/// Where the inputs are.
pub enum Source {
    /// Given on the command line.
    Listed(Vec<String>),
    /// The lines of stdin.
    Stdin,
}

/// The command's words and where its inputs are: `:::` values and `--arg`
/// values, or else stdin.
pub fn parse(args: &MapArgs) -> Result<(Vec<String>, Source), String> {
    let (words, listed) = match args.command.iter().position(|w| w == ":::") {
        Some(at) => (args.command[..at].to_vec(), args.command[at + 1..].to_vec()),
        None => (args.command.clone(), Vec::new()),
    };
    if listed.iter().any(|w| w == ":::") {
        return Err(
            "more than one ::: (hearth map takes one list of inputs, it does not combine lists); \
             give the inputs after a single :::"
                .to_owned(),
        );
    }
    if words.is_empty() {
        return Err(
            "no command: give it after the options, e.g. hearth map echo {} ::: a b".to_owned(),
        );
    }
    let mut inputs = args.args.clone();
    inputs.extend(listed);
    if !inputs.is_empty() || args.command.iter().any(|w| w == ":::") {
        return Ok((words, Source::Listed(inputs)));
    }
    Ok((words, Source::Stdin))
}

/// The command line of one input: `{}` replaced by the shell-quoted input,
/// or the input appended.
pub fn command_line(words: &[String], input: &str) -> String {
    let line = words.join(" ");
    let quoted = shell_quote(input);
    if line.contains("{}") {
        line.replace("{}", &quoted)
    } else {
        format!("{line} {quoted}")
    }
}

/// An input and its command line.
type Text = (String, String);

/// How the reading of stdin went, as its thread tells it.
#[derive(Default)]
struct Reading {
    /// Lines read and handed to the run's feed (a run that stops drops
    /// those it did not take yet).
    lines: AtomicUsize,
    /// Read to its end (or to a bad line).
    finished: AtomicBool,
    /// Why the reading stopped early: a line that is not UTF-8, a read
    /// error.
    error: Mutex<Option<String>>,
}

/// The lines of stdin, being read into a run.
#[derive(Clone)]
pub struct StdinReader {
    reading: Arc<Reading>,
}

impl StdinReader {
    /// Starts the thread that reads stdin, a line per job: each input goes
    /// to `texts` (for printing) and then its job to `feeder`, which waits
    /// while the run has enough queued. It stops at the end of stdin, at a
    /// line that is not UTF-8, or when the run takes no more.
    pub fn start(words: Vec<String>, feeder: Feeder<ShJob>, texts: Sender<Text>) -> StdinReader {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            say!("hearth map: reading inputs from the terminal, one per line (Ctrl+D to end)");
        }
        let reading = Arc::new(Reading::default());
        let shared = reading.clone();
        let started = std::thread::Builder::new()
            .name("hearth-stdin".to_owned())
            .spawn(move || {
                let error = read_lines(&stdin, &words, &feeder, &texts, &shared);
                if let Some(error) = error
                    && let Ok(mut slot) = shared.error.lock()
                {
                    *slot = Some(error);
                }
            });
        if let Err(err) = started {
            // The feeder was dropped with the closure: the run has no input.
            if let Ok(mut slot) = reading.error.lock() {
                *slot = Some(format!("cannot start reading stdin: {err}"));
            }
        }
        StdinReader { reading }
    }

    /// Lines read so far.
    pub fn lines(&self) -> usize {
        self.reading.lines.load(Ordering::SeqCst)
    }

    /// True once stdin was read to its end (or to a bad line).
    pub fn finished(&self) -> bool {
        self.reading.finished.load(Ordering::SeqCst)
    }

    /// Why reading stopped early, if it did.
    pub fn error(&self) -> Option<String> {
        self.reading.error.lock().ok().and_then(|e| e.clone())
    }
}

/// The reading thread's loop; returns why it stopped early, if it did.
fn read_lines(
    stdin: &io::Stdin,
    words: &[String],
    feeder: &Feeder<ShJob>,
    texts: &Sender<Text>,
    reading: &Reading,
) -> Option<String> {
    for (number, line) in stdin.lock().split(b'\n').enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(err) => return Some(format!("cannot read the inputs from stdin: {err}")),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        let Ok(input) = String::from_utf8(line.to_vec()) else {
            reading.finished.store(true, Ordering::SeqCst);
            return Some(format!(
                "input line {} is not UTF-8 (\"{}\"); hearth map takes UTF-8 inputs and read no line after it",
                number + 1,
                line.escape_ascii()
            ));
        };
        let command = command_line(words, &input);
        let job = ShJob {
            command: command.clone(),
        };
        // The text first: when the job is reported, its text is there.
        if texts.send((input, command)).is_err() || feeder.send(&job).is_err() {
            // The run stopped taking inputs; it says why.
            return None;
        }
        let _ = reading.lines.fetch_add(1, Ordering::SeqCst);
    }
    reading.finished.store(true, Ordering::SeqCst);
    None
}

/// The input and command line of each job not yet printed, by index.
pub struct Texts {
    /// Index of `pending[0]`.
    first: usize,
    pending: VecDeque<Option<Text>>,
    /// More, as stdin is read.
    more: Option<Receiver<Text>>,
}

impl Texts {
    /// The texts of inputs given on the command line.
    pub fn listed(words: &[String], inputs: Vec<String>) -> Texts {
        let pending = inputs
            .into_iter()
            .map(|input| {
                let command = command_line(words, &input);
                Some((input, command))
            })
            .collect();
        Texts {
            first: 0,
            pending,
            more: None,
        }
    }

    /// The texts of inputs still being read, sent by a [`StdinReader`].
    pub fn fed(more: Receiver<Text>) -> Texts {
        Texts {
            first: 0,
            pending: VecDeque::new(),
            more: Some(more),
        }
    }

    /// Takes the text of job `index` (each is taken once; an unknown one
    /// is `?`).
    pub fn take(&mut self, index: usize) -> Text {
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

fn unknown() -> Text {
    ("?".to_owned(), "?".to_owned())
}
