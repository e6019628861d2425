//! Where `hearth map`'s inputs come from: the command line (`:::` and
//! `--arg`), or the lines of stdin, read on a thread of their own while the
//! jobs run, so a long or endless stream starts at once and never has to
//! fit in memory; and the input and command line of each job until it is
//! printed. Inputs and command words are bytes, as file names are: they
//! need not be UTF-8.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, BufRead, IsTerminal};
use std::os::unix::ffi::OsStringExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender};
use hearth::remote::{Feeder, shell_quote_bytes};

use crate::MapArgs;
use crate::sh::ShJob;

/// Where the inputs are.
pub enum Source {
    /// Given on the command line.
    Listed(Vec<Vec<u8>>),
    /// The lines of stdin.
    Stdin,
}

/// The command's words and where its inputs are: `:::` values and `--arg`
/// values, or else stdin.
pub fn parse(args: &MapArgs) -> Result<(Vec<Vec<u8>>, Source), String> {
    let bytes = |words: &[OsString]| -> Vec<Vec<u8>> {
        words.iter().cloned().map(OsString::into_vec).collect()
    };
    let (words, listed) = match args.command.iter().position(|w| w == ":::") {
        Some(at) => (bytes(&args.command[..at]), bytes(&args.command[at + 1..])),
        None => (bytes(&args.command), Vec::new()),
    };
    if listed.iter().any(|w| w == b":::") {
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
    let mut inputs = bytes(&args.args);
    inputs.extend(listed);
    if !inputs.is_empty() || args.command.iter().any(|w| w == ":::") {
        return Ok((words, Source::Listed(inputs)));
    }
    Ok((words, Source::Stdin))
}

/// The command line of one input: `{}` replaced by the shell-quoted input,
/// or the input appended.
pub fn command_line(words: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
    let line = words.join(&b' ');
    let quoted = shell_quote_bytes(input);
    let mut command = Vec::with_capacity(line.len() + quoted.len() + 1);
    let mut rest = line.as_slice();
    let mut replaced = false;
    while let Some(at) = rest.windows(2).position(|pair| pair == b"{}") {
        command.extend_from_slice(&rest[..at]);
        command.extend_from_slice(&quoted);
        rest = &rest[at + 2..];
        replaced = true;
    }
    command.extend_from_slice(rest);
    if !replaced {
        command.push(b' ');
        command.extend_from_slice(&quoted);
    }
    command
}

/// An input and its command line.
type Text = (Vec<u8>, Vec<u8>);

/// How the reading of stdin went, as its thread tells it.
#[derive(Default)]
struct Reading {
    /// Lines read and handed to the run's feed (a run that stops drops
    /// those it did not take yet).
    lines: AtomicUsize,
    /// Read to its end (or to a read error).
    finished: AtomicBool,
    /// Why the reading stopped early: a read error.
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
    /// read error, or when the run takes no more.
    pub fn start(words: Vec<Vec<u8>>, feeder: Feeder<ShJob>, texts: Sender<Text>) -> StdinReader {
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

    /// True once stdin was read to its end.
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
    words: &[Vec<u8>],
    feeder: &Feeder<ShJob>,
    texts: &Sender<Text>,
    reading: &Reading,
) -> Option<String> {
    for line in stdin.lock().split(b'\n') {
        let mut input = match line {
            Ok(line) => line,
            Err(err) => return Some(format!("cannot read the inputs from stdin: {err}")),
        };
        if input.ends_with(b"\r") {
            let _ = input.pop();
        }
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
    pub fn listed(words: &[Vec<u8>], inputs: Vec<Vec<u8>>) -> Texts {
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
    (b"?".to_vec(), b"?".to_vec())
}
