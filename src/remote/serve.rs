//! The worker side of a slot: answer the pool's frames on stdin and stdout.
//!
//! A program becomes a worker when started with [`REMOTE_WORKER_FLAG`]:
//!
//! ```no_run
//! use std::process::ExitCode;
//! use hearth::remote::{self, Handlers};
//!
//! fn main() -> ExitCode {
//!     let handlers = Handlers::new().add("square", |x: u64| x.checked_mul(x).ok_or("overflow"));
//!     if remote::is_remote_worker() {
//!         hearth::log::init(); // Logs go to stderr, never stdout.
//!         return remote::serve(handlers);
//!     }
//!     // ... the program's own work, e.g. a pool using these handlers.
//!     ExitCode::SUCCESS
//! }
//! ```
//!
//! The calling thread reads the frames, answers the handshake, runs the
//! jobs one at a time (a slot is one unit of concurrency; the pool's window
//! only pipelines) and sends each result before it starts the next job. A
//! second thread waits for stdin to hang up, so the worker notices when the
//! pool goes away even while a job runs ([`serve_on`] decodes on a reader
//! thread instead). When stdin
//! closes while a job runs, the pool is gone (e.g. its ssh client was
//! killed, and sshd does not signal a non-tty command): [`serve`] ends the
//! worker's process group, the job's processes with it, instead of leaving
//! an orphan.

use std::fmt;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crossbeam_channel::Sender;
use log::{debug, error, info};

use crate::remote::Handlers;
use crate::remote::wire::{self, Frame, FrameDecoder, JobError, JobErrorKind, WireError};

/// The command line flag that makes a program a worker.
pub const REMOTE_WORKER_FLAG: &str = "--remote-worker";

/// Returns true if the program's first argument is [`REMOTE_WORKER_FLAG`],
/// as every [`Transport`](crate::remote::Transport) starts a worker (a
/// command template's words come first, so it ends with `{bin}`). Only the
/// first: the same word later on is the program's own, e.g. part of a
/// command it is to run.
pub fn is_remote_worker() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == REMOTE_WORKER_FLAG)
}

/// Serves the pool on stdin and stdout until it sends `SHUTDOWN` or goes
/// away; returns the exit status for the process.
///
/// Standard output is taken over first: anything the program prints there
/// afterwards goes to standard error, so it cannot corrupt the frames.
pub fn serve(handlers: Handlers) -> ExitCode {
    // A group of its own, shared with the processes its jobs start: when
    // the pool goes away, ending the group ends them all. Not when run by
    // hand in a terminal, where the group is the terminal's job.
    if !io::stdin().is_terminal()
        && let Err(err) = crate::sys::become_group_leader()
    {
        debug!(error:% = err; "remote worker: no process group of its own");
    }
    let stdout = match crate::sys::take_stdout() {
        Ok(stdout) => stdout,
        Err(err) => {
            fatal(format_args!(
                "remote worker: unable to take over stdout: {err}"
            ));
            return ExitCode::FAILURE;
        }
    };
    match serve_stdin(stdout, handlers, pool_gone_during_job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ ServeError::PoolGone { .. }) => {
            fatal(format_args!("{err}"));
            // Its jobs and whatever they started go with it.
            crate::sys::kill_own_group();
            ExitCode::FAILURE
        }
        Err(err) => {
            fatal(format_args!("{err}"));
            ExitCode::FAILURE
        }
    }
}

/// Says why the worker stops, on stderr: through the logger if the program
/// set one up, else directly. The pool shows a worker's last stderr line
/// with its failure, so it must be there either way. A stderr that is gone
/// (the pool's ssh connection lost) is no reason to stop stopping.
fn fatal(msg: fmt::Arguments<'_>) {
    if log::log_enabled!(log::Level::Error) {
        error!("{msg}");
    } else {
        let _ = writeln!(io::stderr().lock(), "{msg}");
    }
}

/// The pool went away while a job runs: nobody will read its result, and
/// the job may run for long. Ends the process's group (the job's processes
/// with it) or, when the worker does not lead its group, the process.
fn pool_gone_during_job() {
    fatal(format_args!(
        "remote worker: the pool went away (stdin closed) while a job ran; stopping it"
    ));
    crate::sys::kill_own_group();
    std::process::exit(1);
}

/// Error of the serve loop.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// Reading or writing frames failed (including a pool of another
    /// protocol version, or garbage on the stream).
    Wire(WireError),
    /// The pool broke the order of the conversation.
    Protocol {
        /// What the worker expected.
        expected: &'static str,
        /// What came instead.
        got: &'static str,
    },
    /// The pool went away (stdin closed) while jobs were running.
    PoolGone {
        /// Jobs that were still running.
        running: usize,
    },
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Wire(WireError::BadMagic { got, offset }) => write!(
                f,
                "remote worker: its input is not hearth frames at byte {offset} (got \"{}\"): \
                 it serves a hearth pool on stdin and stdout and is started by the pool \
                 (hearth map, Pool), not by hand",
                got.escape_ascii()
            ),
            ServeError::Wire(err) => write!(f, "remote worker: {err}"),
            ServeError::Protocol { expected, got } => {
                write!(
                    f,
                    "remote worker: protocol error: expected {expected}, got {got}"
                )
            }
            ServeError::PoolGone { running } => write!(
                f,
                "remote worker: the pool went away (stdin closed) with {running} job(s) running; stopping them"
            ),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Wire(err) => Some(err),
            _ => None,
        }
    }
}

impl From<WireError> for ServeError {
    fn from(err: WireError) -> ServeError {
        ServeError::Wire(err)
    }
}

/// What the reader thread saw.
enum Input {
    Frame(Frame),
    Eof,
    Failed(WireError),
}

/// Where the conversation is.
#[derive(Copy, Clone, Eq, PartialEq)]
enum Stage {
    Hello,
    Session,
    Jobs,
}

/// What the reader thread and the serve loop share.
#[derive(Default)]
struct Watch {
    /// A handler is running.
    busy: AtomicBool,
    /// The input ended (or failed): nobody will read the results.
    gone: AtomicBool,
}

/// Serves the pool on `input` and `output` (see [`serve`]); returns once the
/// pool sent `SHUTDOWN` (after answering every job before it) or closed
/// the input.
///
/// Jobs run one at a time, in the order they came, on the calling thread:
/// a slot is one unit of concurrency, and its window only pipelines. A
/// reader thread decodes the input meanwhile, so the end of the input is
/// seen even while a job runs. A result is sent before the next job starts,
/// so it never waits behind a long job, and the pool can start the next
/// job's clock when it has the result.
///
/// # Errors
///
/// A framing or protocol error, or the pool going away while jobs ran
/// ([`ServeError::PoolGone`], returned once the running job ended; [`serve`]
/// does not wait for it: it ends the process and the job's process group).
pub fn serve_on<R, W>(input: R, output: W, handlers: Handlers) -> Result<(), ServeError>
where
    R: Read + Send + 'static,
    W: Write,
{
    serve_with(input, output, handlers, None)
}

/// [`serve_on`], calling `on_gone` from the reader thread when the input
/// ends while a job runs.
fn serve_with<R, W>(
    input: R,
    output: W,
    handlers: Handlers,
    on_gone: Option<fn()>,
) -> Result<(), ServeError>
where
    R: Read + Send + 'static,
    W: Write,
{
    let max_frame = wire::DEFAULT_MAX_FRAME;
    let watch = Arc::new(Watch::default());
    let (input_tx, inputs) = crossbeam_channel::bounded(1024);
    let reader_watch = watch.clone();
    let _ = thread::Builder::new()
        .name("remote-reader".to_owned())
        .spawn(move || read_input(input, max_frame, &input_tx, &reader_watch, on_gone))
        .map_err(|err| ServeError::Wire(WireError::Io(err)))?;
    let next = |out: &mut BufWriter<W>| match inputs.try_recv() {
        Ok(input) => Ok(input),
        Err(_) => {
            // Nothing else waiting: send what is done, then wait.
            out.flush().map_err(WireError::Io)?;
            Ok(inputs.recv().unwrap_or(Input::Eof))
        }
    };
    serve_loop(next, output, &handlers, &watch)
}

/// [`serve`] on the process's stdin, read on the serve loop's own thread
/// (no hand-off per frame); a watcher thread waits for stdin to hang up and
/// calls `on_gone` if a job runs then.
fn serve_stdin<W: Write>(output: W, handlers: Handlers, on_gone: fn()) -> Result<(), ServeError> {
    let max_frame = wire::DEFAULT_MAX_FRAME;
    let watch = Arc::new(Watch::default());
    let watcher = watch.clone();
    let _ = thread::Builder::new()
        .name("remote-hangup".to_owned())
        .spawn(move || {
            crate::sys::wait_for_hangup(0);
            watcher.gone.store(true, Ordering::SeqCst);
            if watcher.busy.load(Ordering::SeqCst) {
                on_gone();
            }
        })
        .map_err(|err| ServeError::Wire(WireError::Io(err)))?;
    let mut stdin = io::stdin().lock();
    let mut decoder = FrameDecoder::new(max_frame);
    let next = |out: &mut BufWriter<W>| -> Result<Input, ServeError> {
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => return Ok(Input::Frame(frame)),
                Ok(None) => {}
                Err(err) => return Ok(Input::Failed(err)),
            }
            // Nothing complete buffered: send what is done, then read.
            out.flush().map_err(WireError::Io)?;
            match decoder.read_from(&mut stdin) {
                Ok(0) => {
                    return Ok(match decoder.next_frame_at_eof() {
                        Ok(Some(frame)) => Input::Frame(frame),
                        Ok(None) => Input::Eof,
                        Err(err) => Input::Failed(err),
                    });
                }
                Ok(_) => {}
                Err(err) => return Ok(Input::Failed(WireError::Io(err))),
            }
        }
    };
    serve_loop(next, output, &handlers, &watch)
}

/// The conversation: answers the handshake, runs jobs, writes results.
/// `next` gives the next input, flushing the output before it waits.
fn serve_loop<W, N>(
    mut next: N,
    output: W,
    handlers: &Handlers,
    watch: &Watch,
) -> Result<(), ServeError>
where
    W: Write,
    N: FnMut(&mut BufWriter<W>) -> Result<Input, ServeError>,
{
    let max_frame = wire::DEFAULT_MAX_FRAME;
    let mut out = BufWriter::new(output);
    let mut bytes = Vec::new();
    let mut stage = Stage::Hello;
    // Jobs that ran, or were skipped, after the input ended.
    let mut abandoned = 0;
    loop {
        let input = next(&mut out)?;
        let frame = match input {
            Input::Frame(frame) => frame,
            Input::Eof if abandoned > 0 => {
                return Err(ServeError::PoolGone { running: abandoned });
            }
            Input::Eof => {
                debug!("remote worker: stdin closed");
                return Ok(());
            }
            Input::Failed(err) => {
                // A pool of another version: still introduce ourselves, so
                // it can name both versions.
                if stage == Stage::Hello && matches!(err, WireError::VersionMismatch { .. }) {
                    let _ = wire::write_frame(&mut out, &hello_ack(), max_frame);
                }
                return Err(err.into());
            }
        };
        log::trace!(frame = frame.name(); "remote worker: frame received");
        match (stage, frame) {
            (
                Stage::Jobs,
                Frame::Job {
                    id,
                    handler,
                    payload,
                },
            ) => {
                if watch.gone.load(Ordering::SeqCst) {
                    abandoned += 1;
                    continue;
                }
                if !out.buffer().is_empty() {
                    out.flush().map_err(WireError::Io)?;
                }
                watch.busy.store(true, Ordering::SeqCst);
                let outcome = handlers.run(&handler, &payload);
                watch.busy.store(false, Ordering::SeqCst);
                if watch.gone.load(Ordering::SeqCst) {
                    abandoned += 1;
                    continue;
                }
                encode_result(id, outcome, max_frame, &mut bytes)?;
                out.write_all(&bytes).map_err(WireError::Io)?;
            }
            (Stage::Jobs, Frame::Shutdown) => {
                // Every job before it was answered: they came first.
                out.flush().map_err(WireError::Io)?;
                debug!("remote worker: shut down by the pool");
                return Ok(());
            }
            (stage_now, frame) => stage = handle(frame, stage_now, handlers, &mut out, max_frame)?,
        }
    }
}

/// Answers one frame from the pool; returns the next stage.
fn handle<W: Write>(
    frame: Frame,
    stage: Stage,
    handlers: &Handlers,
    out: &mut W,
    max_frame: usize,
) -> Result<Stage, ServeError> {
    let expected = match stage {
        Stage::Hello => "HELLO",
        Stage::Session => "SESSION_INIT",
        Stage::Jobs => "JOB or SHUTDOWN",
    };
    let next = match (stage, frame) {
        (Stage::Hello, Frame::Hello { version }) => {
            wire::write_frame(out, &hello_ack(), max_frame)?;
            if version != u32::from(wire::VERSION) {
                out.flush().map_err(WireError::Io)?;
                return Err(WireError::VersionMismatch {
                    ours: u32::from(wire::VERSION),
                    theirs: version,
                }
                .into());
            }
            Stage::Session
        }
        (
            Stage::Session,
            Frame::SessionInit {
                handlers: wanted,
                config: _,
            },
        ) => {
            let missing: Vec<&String> = wanted
                .iter()
                .filter(|name| !handlers.contains(name))
                .collect();
            if !missing.is_empty() {
                info!(missing:? = missing; "remote worker: the pool asks for handlers this worker does not have");
            }
            wire::write_frame(
                out,
                &Frame::SessionAck {
                    handlers: handlers.names(),
                },
                max_frame,
            )?;
            Stage::Jobs
        }
        (_, frame) => {
            return Err(ServeError::Protocol {
                expected,
                got: frame.name(),
            });
        }
    };
    out.flush().map_err(WireError::Io)?;
    Ok(next)
}

/// Encodes a job's `RESULT` into `bytes` (cleared first). An outcome too
/// large for one frame becomes the job's own error, saying so: the job ran,
/// and running it again would give the same.
fn encode_result(
    id: u64,
    outcome: Result<Vec<u8>, JobError>,
    max_frame: usize,
    bytes: &mut Vec<u8>,
) -> Result<(), WireError> {
    bytes.clear();
    let (what, size) = match &outcome {
        Ok(output) => ("output", output.len()),
        Err(err) => ("error message", err.message.len()),
    };
    match wire::encode(&Frame::Result { id, outcome }, max_frame, bytes) {
        Err(WireError::TooLarge { max, .. }) => {
            let message = format!(
                "the {what} is {size} bytes, more than fits in a frame (the max frame size is \
                 {max} bytes); return less (e.g. write large output to a file and return its path)"
            );
            let outcome = Err(JobError::new(JobErrorKind::Failed, message));
            wire::encode(&Frame::Result { id, outcome }, max_frame, bytes)
        }
        result => result,
    }
}

fn hello_ack() -> Frame {
    let host = crate::sys::host_name().unwrap_or_else(|_| "unknown".to_owned());
    Frame::HelloAck {
        version: u32::from(wire::VERSION),
        host,
        pid: std::process::id(),
    }
}

/// Decodes `input` into frames for the serve loop. When the input ends or
/// fails, marks the pool gone, and if a job is running calls `on_gone`.
fn read_input<R: Read>(
    mut input: R,
    max_frame: usize,
    tx: &Sender<Input>,
    watch: &Watch,
    on_gone: Option<fn()>,
) {
    let mut decoder = FrameDecoder::new(max_frame);
    loop {
        let input = match wire::read_frame(&mut input, &mut decoder) {
            Ok(Some(frame)) => Input::Frame(frame),
            Ok(None) => Input::Eof,
            Err(err) => Input::Failed(err),
        };
        if !matches!(input, Input::Frame(_)) {
            watch.gone.store(true, Ordering::SeqCst);
            if watch.busy.load(Ordering::SeqCst)
                && let Some(on_gone) = on_gone
            {
                on_gone();
            }
            let _ = tx.send(input);
            return;
        }
        if tx.send(input).is_err() {
            return;
        }
    }
}
