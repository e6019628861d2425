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
//! Three kinds of threads: a reader that decodes frames from stdin (and so
//! always notices when the pool goes away, even while jobs run), executors
//! that run jobs (as many as the machine has cores; the pool decides how
//! many are in flight), and the calling thread, which answers the handshake,
//! hands out jobs and writes results. When stdin closes while jobs run, the
//! pool is gone (e.g. its ssh client was killed, and sshd does not signal a
//! non-tty command): the serve loop returns an error and the process should
//! exit, which ends the running jobs instead of leaving an orphan.

use std::fmt;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::thread;

use crossbeam_channel::{Receiver, Sender, select};
use log::{debug, error, info};

use crate::remote::Handlers;
use crate::remote::wire::{self, Frame, FrameDecoder, JobError, WireError};

/// The command line flag that makes a program a worker.
pub const REMOTE_WORKER_FLAG: &str = "--remote-worker";

/// Returns true if the program was started with [`REMOTE_WORKER_FLAG`].
pub fn is_remote_worker() -> bool {
    std::env::args_os()
        .skip(1)
        .any(|arg| arg == REMOTE_WORKER_FLAG)
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
            error!(error:% = err; "remote worker: unable to take over stdout");
            return ExitCode::FAILURE;
        }
    };
    match serve_on(io::stdin(), stdout, handlers) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ ServeError::PoolGone { .. }) => {
            error!(error:% = err; "remote worker stopped");
            // Its jobs and whatever they started go with it.
            crate::sys::kill_own_group();
            ExitCode::FAILURE
        }
        Err(err) => {
            error!(error:% = err; "remote worker stopped");
            ExitCode::FAILURE
        }
    }
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

/// A job for the executors.
struct Work {
    id: u64,
    handler: String,
    payload: Vec<u8>,
}

/// Where the conversation is.
#[derive(Copy, Clone, Eq, PartialEq)]
enum Stage {
    Hello,
    Session,
    Jobs,
    /// `SHUTDOWN` came: finish the running jobs.
    Draining,
}

/// Serves the pool on `input` and `output` (see [`serve`]); returns once the
/// pool sent `SHUTDOWN` and every job it sent was answered.
///
/// # Errors
///
/// A framing or protocol error, or the pool going away while jobs ran.
pub fn serve_on<R, W>(input: R, output: W, handlers: Handlers) -> Result<(), ServeError>
where
    R: Read + Send + 'static,
    W: Write,
{
    let max_frame = wire::DEFAULT_MAX_FRAME;
    let (input_tx, inputs) = crossbeam_channel::bounded(64);
    let _ = thread::Builder::new()
        .name("remote-reader".to_owned())
        .spawn(move || read_input(input, max_frame, input_tx))
        .map_err(|err| ServeError::Wire(WireError::Io(err)))?;
    let (work_tx, work_rx) = crossbeam_channel::unbounded::<Work>();
    let (result_tx, results) = crossbeam_channel::unbounded();
    let executors = thread::available_parallelism().map_or(1, usize::from);
    for n in 0..executors {
        let (work_rx, result_tx, handlers) = (work_rx.clone(), result_tx.clone(), handlers.clone());
        let _ = thread::Builder::new()
            .name(format!("remote-exec-{n}"))
            .spawn(move || execute(&handlers, &work_rx, &result_tx))
            .map_err(|err| ServeError::Wire(WireError::Io(err)))?;
    }
    drop((work_rx, result_tx));

    let mut out = BufWriter::new(output);
    let mut stage = Stage::Hello;
    let mut running = 0usize;
    loop {
        if stage == Stage::Draining && running == 0 {
            debug!("remote worker: shut down by the pool");
            return Ok(());
        }
        select! {
            recv(inputs) -> input => {
                let input = input.unwrap_or(Input::Eof);
                match input {
                    Input::Frame(frame) => {
                        log::trace!(frame = frame.name(); "remote worker: frame received");
                        stage = handle(frame, stage, &handlers, &work_tx, &mut running, &mut out, max_frame)?;
                    }
                    Input::Eof if running == 0 => {
                        debug!("remote worker: stdin closed");
                        return Ok(());
                    }
                    Input::Eof => return Err(ServeError::PoolGone { running }),
                    Input::Failed(err) => {
                        // A pool of another version: still introduce ourselves,
                        // so it can name both versions.
                        if stage == Stage::Hello && matches!(err, WireError::VersionMismatch { .. }) {
                            let _ = wire::write_frame(&mut out, &hello_ack(), max_frame);
                        }
                        return Err(err.into());
                    }
                }
            }
            recv(results) -> result => {
                let Ok((id, outcome)) = result else { continue };
                running -= 1;
                wire::write_frame(&mut out, &Frame::Result { id, outcome }, max_frame)?;
                // Write what else is done before flushing: one write for many.
                while let Ok((id, outcome)) = results.try_recv() {
                    running -= 1;
                    wire::write_frame(&mut out, &Frame::Result { id, outcome }, max_frame)?;
                }
                out.flush().map_err(WireError::Io)?;
            }
        }
    }
}

/// Answers one frame from the pool; returns the next stage.
fn handle<W: Write>(
    frame: Frame,
    stage: Stage,
    handlers: &Handlers,
    work: &Sender<Work>,
    running: &mut usize,
    out: &mut W,
    max_frame: usize,
) -> Result<Stage, ServeError> {
    let expected = match stage {
        Stage::Hello => "HELLO",
        Stage::Session => "SESSION_INIT",
        Stage::Jobs => "JOB or SHUTDOWN",
        Stage::Draining => "nothing after SHUTDOWN",
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
        (
            Stage::Jobs,
            Frame::Job {
                id,
                handler,
                payload,
            },
        ) => {
            *running += 1;
            // The executors live as long as this loop: the send cannot fail.
            let _ = work.send(Work {
                id,
                handler,
                payload,
            });
            Stage::Jobs
        }
        (Stage::Jobs, Frame::Shutdown) => Stage::Draining,
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

fn hello_ack() -> Frame {
    let host = crate::sys::host_name().unwrap_or_else(|_| "unknown".to_owned());
    Frame::HelloAck {
        version: u32::from(wire::VERSION),
        host,
        pid: std::process::id(),
    }
}

fn read_input<R: Read>(mut input: R, max_frame: usize, tx: Sender<Input>) {
    let mut decoder = FrameDecoder::new(max_frame);
    loop {
        let input = match wire::read_frame(&mut input, &mut decoder) {
            Ok(Some(frame)) => Input::Frame(frame),
            Ok(None) => Input::Eof,
            Err(err) => Input::Failed(err),
        };
        let last = !matches!(input, Input::Frame(_));
        if tx.send(input).is_err() || last {
            return;
        }
    }
}

fn execute(
    handlers: &Handlers,
    work: &Receiver<Work>,
    results: &Sender<(u64, Result<Vec<u8>, JobError>)>,
) {
    for Work {
        id,
        handler,
        payload,
    } in work
    {
        let outcome = handlers.run(&handler, &payload);
        if results.send((id, outcome)).is_err() {
            return;
        }
    }
}
