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
//! only pipelines), sends what a job streams as it comes (`OUTPUT` frames,
//! see [`JobContext`]) and each result before it starts the next job. A
//! second thread, the keeper (`serve/keeper.rs`), stands beside it: it sees
//! stdin hang up even while a job runs, reads stdin while a job runs long
//! so that the pool's pings are answered, and ends the worker when the pool
//! has said nothing for its slot timeout ([`serve_on`] decodes on a reader
//! thread instead). When stdin closes while a job runs, or the pool falls
//! silent, the pool is gone (its ssh client was killed, and sshd does not
//! signal a non-tty command; or the network between them is cut while the
//! connection stays up): [`serve`] ends the worker's process group, the
//! job's processes with it, instead of leaving an orphan.

use std::fmt;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};
use log::{debug, error, info};

use crate::remote::job::Cancel;
use crate::remote::wire::{self, Frame, FrameDecoder, JobError, JobErrorKind, WireError};
use crate::remote::{Handlers, JobContext, Stream, TermSequence};

mod keeper;
#[cfg(test)]
mod tests;
mod world;

use world::{Prepared, World};

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
    let pipes = crate::sys::take_stdout().and_then(|out| Ok((crate::sys::take_stdin()?, out)));
    let (stdin, stdout) = match pipes {
        Ok(pipes) => pipes,
        Err(err) => {
            fatal(format_args!(
                "remote worker: unable to take over stdin and stdout: {err}"
            ));
            return ExitCode::FAILURE;
        }
    };
    let ends = keeper::Ends {
        gone_during_job: pool_gone_during_job,
        silent: pool_silent,
    };
    match keeper::serve_stdin(stdin, stdout, handlers, ends) {
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

/// The pool said nothing for its slot timeout: it is gone or cut off, and
/// nobody will read what this worker does. Ends the process's group (a
/// running job with it) or the process.
fn pool_silent(limit: Duration) {
    fatal(format_args!("{}", ServeError::PoolSilent { limit }));
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
    /// The pool said nothing (not even a ping) for its slot timeout.
    PoolSilent {
        /// The slot timeout the pool gave in its session set-up.
        limit: Duration,
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
            ServeError::PoolSilent { limit } => write!(
                f,
                "remote worker: nothing from the pool for {limit:?} (its slot timeout): it is \
                 gone or cut off; stopping"
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

/// What the serve loop reads next.
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

/// What the serve loop and the thread beside it (the keeper, or the
/// reader of [`serve_on`]) share.
#[derive(Default)]
struct Watch {
    /// A handler is running.
    busy: AtomicBool,
    /// Jobs started so far: a job that is still the same one a while later
    /// runs long.
    jobs: AtomicU64,
    /// The input ended (or failed): nobody will read the results.
    gone: AtomicBool,
    /// Reads of the input that brought bytes, by either thread: the pool
    /// was heard.
    reads: AtomicU64,
    /// The slot timeout of the session, in milliseconds (0: none yet).
    limit_ms: AtomicU64,
    /// The slot's number in its pool, from the session set-up.
    slot: AtomicU32,
    /// The pool's request to stop the running job (`CANCEL`).
    cancel: Cancel,
}

impl Watch {
    /// Passes on the pool's `CANCEL` of job `id` to the job's thread.
    fn cancel(&self, id: u64, sequence: &[(i32, u32)]) {
        if !self.cancel.request(id, TermSequence::from_wire(sequence)) {
            debug!(job = id; "remote worker: CANCEL of a job that does not run (it ended)");
        }
    }
}

impl Watch {
    /// The slot timeout of the session, once set up.
    fn limit(&self) -> Option<Duration> {
        match self.limit_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
}

/// Locks `mutex`, also one a panicking thread left.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Serves the pool on `input` and `output` (see [`serve`]); returns once the
/// pool sent `SHUTDOWN` (after answering every job before it) or closed
/// the input.
///
/// Jobs run one at a time, in the order they came, on the calling thread:
/// a slot is one unit of concurrency, and its window only pipelines. A
/// reader thread decodes the input meanwhile and answers the pool's pings,
/// so the end of the input is seen and the pool hears from the worker even
/// while a job runs. A result is sent before the next job starts, so it
/// never waits behind a long job, and the pool can start the next job's
/// clock when it has the result.
///
/// # Errors
///
/// A framing or protocol error, the pool going away while jobs ran
/// ([`ServeError::PoolGone`], returned once the running job ended; [`serve`]
/// does not wait for it: it ends the process and the job's process group),
/// or the pool saying nothing for its slot timeout while no job runs
/// ([`ServeError::PoolSilent`]; [`serve`] also ends a running job then).
pub fn serve_on<R, W>(input: R, output: W, handlers: Handlers) -> Result<(), ServeError>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let max_frame = wire::DEFAULT_MAX_FRAME;
    let watch = Arc::new(Watch::default());
    let out = Arc::new(Mutex::new(BufWriter::new(output)));
    let (input_tx, inputs) = crossbeam_channel::bounded(1024);
    let (reader_watch, reader_out) = (watch.clone(), out.clone());
    let _ = thread::Builder::new()
        .name("remote-reader".to_owned())
        .spawn(move || read_input(input, max_frame, &input_tx, &reader_watch, &reader_out))
        .map_err(|err| ServeError::Wire(WireError::Io(err)))?;
    let next = || {
        if let Ok(input) = inputs.try_recv() {
            return Ok(input);
        }
        // Nothing else waiting: send what is done, then wait.
        lock(&out).flush().map_err(WireError::Io)?;
        match watch.limit() {
            None => Ok(inputs.recv().unwrap_or(Input::Eof)),
            Some(limit) => match inputs.recv_timeout(limit) {
                Ok(input) => Ok(input),
                Err(RecvTimeoutError::Disconnected) => Ok(Input::Eof),
                Err(RecvTimeoutError::Timeout) => Err(ServeError::PoolSilent { limit }),
            },
        }
    };
    serve_loop(next, &out, &handlers, &watch)
}

/// The frame in `input`, or `None` at the end of a clean conversation. The
/// end of the input is an error while `abandoned` jobs ran or were skipped
/// after the pool went.
fn frame_of<W: Write>(
    input: Input,
    stage: Stage,
    abandoned: usize,
    out: &Mutex<BufWriter<W>>,
) -> Result<Option<Frame>, ServeError> {
    match input {
        Input::Frame(frame) => Ok(Some(frame)),
        Input::Eof if abandoned > 0 => Err(ServeError::PoolGone { running: abandoned }),
        Input::Eof => {
            debug!("remote worker: stdin closed");
            Ok(None)
        }
        Input::Failed(err) => {
            // A pool of another version: still introduce ourselves, so it
            // can name both versions.
            if stage == Stage::Hello && matches!(err, WireError::VersionMismatch { .. }) {
                let _ = wire::write_frame(&mut *lock(out), &hello_ack(), wire::DEFAULT_MAX_FRAME);
            }
            Err(err.into())
        }
    }
}

/// The files of job `id` as far as they came (`prepared`), or a new job
/// if they were for another one (whose files are then left).
fn take_prepared(prepared: &mut Option<Prepared>, world: &World, id: u64) -> Prepared {
    match prepared.take() {
        Some(job) if job.id() == id => job,
        other => {
            if let Some(old) = other {
                old.finish();
            }
            world.prepare(id)
        }
    }
}

/// Writes `frame` to `out` (encoded in `bytes`), for the next flush.
fn answer<W: Write>(
    out: &Mutex<BufWriter<W>>,
    frame: &Frame,
    max_frame: usize,
    bytes: &mut Vec<u8>,
) -> Result<(), ServeError> {
    bytes.clear();
    wire::encode(frame, max_frame, bytes)?;
    lock(out).write_all(bytes).map_err(WireError::Io)?;
    Ok(())
}

/// The base files of a session (`Frame::Base`), removed at the pool's
/// end (`SHUTDOWN`) if it asked: not when this worker alone ends, since
/// the other slots of its host use the same files.
#[derive(Debug, Default)]
struct BaseFiles {
    placed: Vec<std::path::PathBuf>,
    cleanup: bool,
}

impl BaseFiles {
    /// Holds the files `files` placed (those held before stay); the
    /// answer to the pool.
    fn hold(&mut self, files: Prepared, cleanup: bool) -> Frame {
        let (placed, error) = files.into_placed();
        self.placed.extend(placed);
        self.cleanup = cleanup;
        Frame::BaseAck {
            error: error.unwrap_or_default(),
        }
    }

    /// Removes the files, if the pool asked for it.
    fn remove_if_asked(&mut self) {
        if self.cleanup {
            for path in self.placed.drain(..) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// The conversation: answers the handshake, runs jobs, writes results and
/// answers pings. `next` gives the next input, flushing `out` before it
/// waits.
fn serve_loop<W, N>(
    mut next: N,
    out: &Mutex<BufWriter<W>>,
    handlers: &Handlers,
    watch: &Watch,
) -> Result<(), ServeError>
where
    W: Write,
    N: FnMut() -> Result<Input, ServeError>,
{
    let max_frame = wire::DEFAULT_MAX_FRAME;
    let mut bytes = Vec::new();
    let mut stage = Stage::Hello;
    let mut world = World::default();
    // The next job's files, as they come.
    let mut prepared: Option<Prepared> = None;
    // Jobs that ran, or were skipped, after the input ended.
    let mut abandoned = 0;
    // The session's base files: removed at SHUTDOWN, if asked.
    let mut base = BaseFiles::default();
    loop {
        let Some(frame) = frame_of(next()?, stage, abandoned, out)? else {
            return Ok(());
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
                // Before the result ahead of it goes out: the pool starts
                // this job's clock then, and a CANCEL read from then on
                // must find it running.
                watch.cancel.start(id);
                {
                    let mut out = lock(out);
                    if !out.buffer().is_empty() {
                        out.flush().map_err(WireError::Io)?;
                    }
                }
                let _ = watch.jobs.fetch_add(1, Ordering::SeqCst);
                watch.busy.store(true, Ordering::SeqCst);
                let mut job = take_prepared(&mut prepared, &world, id);
                let stdin = job.take_stdin();
                let outcome = run_job(
                    (id, &handler, &payload),
                    (&job, stdin),
                    &world,
                    handlers,
                    (out, watch),
                );
                job.finish();
                watch.busy.store(false, Ordering::SeqCst);
                watch.cancel.end();
                if watch.gone.load(Ordering::SeqCst) {
                    abandoned += 1;
                    continue;
                }
                encode_result(id, outcome, max_frame, &mut bytes)?;
                lock(out).write_all(&bytes).map_err(WireError::Io)?;
            }
            (
                Stage::Jobs,
                frame @ (Frame::File { .. }
                | Frame::FileData { .. }
                | Frame::FileEnd { .. }
                | Frame::Return { .. }
                | Frame::Stdin { .. }),
            ) => {
                let id = match &frame {
                    Frame::File { id, .. }
                    | Frame::FileData { id, .. }
                    | Frame::FileEnd { id, .. }
                    | Frame::Return { id, .. }
                    | Frame::Stdin { id, .. } => *id,
                    _ => unreachable!("matched above"),
                };
                let job = take_prepared(&mut prepared, &world, id);
                prepared.insert(job).take(frame);
            }
            (Stage::Jobs, Frame::Base { cleanup }) => {
                let files = take_prepared(&mut prepared, &world, wire::BASE_ID);
                answer(out, &base.hold(files, cleanup), max_frame, &mut bytes)?;
            }
            (Stage::Jobs, Frame::Ping { seq }) => {
                answer(out, &Frame::Pong { seq }, max_frame, &mut bytes)?;
            }
            // The job it names ended before the stop was read.
            (Stage::Jobs, Frame::Cancel { id, .. }) => {
                debug!(job = id; "remote worker: CANCEL of a job that ended");
            }
            (Stage::Jobs, Frame::Shutdown) => {
                // The pool's end: the other slots of this host are done
                // with the base files too.
                base.remove_if_asked();
                // Every job before it was answered: they came first.
                lock(out).flush().map_err(WireError::Io)?;
                debug!("remote worker: shut down by the pool");
                return Ok(());
            }
            (stage_now, frame) => {
                stage = handle(
                    frame,
                    stage_now,
                    handlers,
                    &mut *lock(out),
                    (watch, &mut world),
                    max_frame,
                )?;
            }
        }
    }
}

/// Answers one frame of the handshake; returns the next stage.
fn handle<W: Write>(
    frame: Frame,
    stage: Stage,
    handlers: &Handlers,
    out: &mut W,
    (watch, world): (&Watch, &mut World),
    max_frame: usize,
) -> Result<Stage, ServeError> {
    let expected = match stage {
        Stage::Hello => "HELLO",
        Stage::Session => "SESSION_INIT",
        Stage::Jobs => "JOB, PING or SHUTDOWN",
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
                slot_timeout_ms,
                slot,
                env,
                workdir,
            },
        ) => {
            *world = World { env, workdir };
            let missing: Vec<&String> = wanted
                .iter()
                .filter(|name| !handlers.contains(name))
                .collect();
            if !missing.is_empty() {
                info!(missing:? = missing; "remote worker: the pool asks for handlers this worker does not have");
            }
            watch.limit_ms.store(slot_timeout_ms, Ordering::Relaxed);
            watch.slot.store(slot, Ordering::Relaxed);
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

/// Runs job `(id, handler, payload)` in its world, `job` (its directory
/// and files) with its `stdin`, unless its files or stdin did not arrive;
/// then sends back the files it asked for and cleans up. The handler's
/// outcome, or why it did not run.
fn run_job<W: Write>(
    (id, handler, payload): (u64, &str, &[u8]),
    (job, stdin): (&Prepared, Option<crate::remote::JobStdin>),
    world: &World,
    handlers: &Handlers,
    (out, watch): (&Mutex<BufWriter<W>>, &Watch),
) -> Result<Vec<u8>, JobError> {
    let outcome = match job.error() {
        Some(why) => Err(JobError::new(
            JobErrorKind::Failed,
            format!("what it needs did not arrive, so it did not run: {why}"),
        )),
        None => {
            let mut sink = |stream, data: &[u8]| send_output(out, watch, id, stream, data);
            let slot = watch.slot.load(Ordering::Relaxed);
            let mut context = JobContext::new(
                slot,
                &mut sink,
                (job.dir(), &world.env),
                stdin,
                Some(&watch.cancel),
            );
            handlers.run(handler, payload, &mut context)
        }
    };
    let send = |bytes: &[u8]| lock(out).write_all(bytes);
    let say = |text: &str| {
        let _ = send_output(out, watch, id, Stream::Stderr, text.as_bytes());
    };
    let sent = job.send_back(send, say, wire::DEFAULT_MAX_FRAME);
    match (outcome, sent) {
        (Ok(_), Err(err)) => Err(JobError::new(
            JobErrorKind::Failed,
            format!("cannot send its files back: {err}"),
        )),
        (outcome, _) => outcome,
    }
}

/// Sends a chunk of job `id`'s output at once (the caller cuts it to
/// [`wire::MAX_CHUNK`]): waits while the pool does not read, fails once
/// the pool is gone.
fn send_output<W: Write>(
    out: &Mutex<BufWriter<W>>,
    watch: &Watch,
    id: u64,
    stream: Stream,
    data: &[u8],
) -> io::Result<()> {
    if watch.gone.load(Ordering::SeqCst) {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the pool went away: nobody reads the job's output",
        ));
    }
    let mut frame = Vec::with_capacity(data.len() + 32);
    wire::encode_output(id, stream, data, wire::DEFAULT_MAX_FRAME, &mut frame)
        .map_err(io::Error::other)?;
    let mut out = lock(out);
    out.write_all(&frame)?;
    // Sent now, not when the job ends: a line printed is a line seen.
    out.flush()
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
                 {max} bytes); return less, or stream it while the job runs (a handler added \
                 with Handlers::add_with_context writes output of any size with JobContext::write)"
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

/// Decodes `input` into frames for the serve loop, answering pings at once
/// through `out`. When the input ends or fails, marks the pool gone.
fn read_input<R: Read, W: Write>(
    mut input: R,
    max_frame: usize,
    tx: &Sender<Input>,
    watch: &Watch,
    out: &Mutex<BufWriter<W>>,
) {
    let mut decoder = FrameDecoder::new(max_frame);
    loop {
        let input = match wire::read_frame(&mut input, &mut decoder) {
            Ok(Some(Frame::Ping { seq })) if watch.limit().is_some() => {
                let _ = watch.reads.fetch_add(1, Ordering::Relaxed);
                let mut out = lock(out);
                let pong = wire::write_frame(&mut *out, &Frame::Pong { seq }, max_frame);
                if pong.is_err() {
                    debug!("remote worker: unable to answer a ping");
                }
                continue;
            }
            Ok(Some(Frame::Cancel { id, sequence })) => {
                let _ = watch.reads.fetch_add(1, Ordering::Relaxed);
                watch.cancel(id, &sequence);
                continue;
            }
            Ok(Some(frame)) => Input::Frame(frame),
            Ok(None) => Input::Eof,
            Err(err) => Input::Failed(err),
        };
        let _ = watch.reads.fetch_add(1, Ordering::Relaxed);
        if !matches!(input, Input::Frame(_)) {
            watch.gone.store(true, Ordering::SeqCst);
            let _ = tx.send(input);
            return;
        }
        if tx.send(input).is_err() {
            return;
        }
    }
}
