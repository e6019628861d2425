//! One slot: a worker process and its three pipes, non-blocking and
//! registered on the pool's `mio::Poll`.
//!
//! The slot owns the bytes: it queues encoded frames and writes them when
//! stdin is writable, decodes frames from stdout, and drains stderr into the
//! log line by line with a `host:slot` prefix, so a chatty worker can never
//! fill a pipe and stall. What the frames mean is the pool's business.
//!
//! A Slurm slot first waits for its start line (see `slurm.rs`): until it
//! comes the job is pending, counted in the host's `pending` (and in its
//! `queued` while srun's stderr says the job waits for resources) and
//! bounded by the transport's pending timeout instead of the handshake
//! timeout.
//!
//! Stopping: a slot's process leads its own process group, which the
//! worker's jobs share; it is killed as a group, except for Slurm, where
//! only the srun process is signalled (`SIGTERM`, then `SIGKILL` after a
//! grace period), never its group. [`Slot::kill`] does not wait for an
//! srun told to stop: srun waits for its step, and a step on a node that
//! stopped answering never ends, so the pool keeps the slot among its
//! stopping ones (see `engine/stopping.rs`) and carries on; dropping a slot
//! waits out what is left of the grace period, then kills.

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::unix::pipe;
use mio::{Interest, Registry, Token};

use crate::remote::install::{self, Install, Said};
use crate::remote::slurm::{self, Slurm};
use crate::remote::stats::{PoolStats, decr, incr};
use crate::remote::transfer::{Download, Outgoing, Upload};
use crate::remote::wire::{self, Frame, FrameDecoder, WireError};
use crate::remote::{Files, Host, JobFailure, SlotFailure, SlotInfo, TermSequence};

/// Tokens per slot on the pool's poll: stdout, stderr, stdin.
pub(crate) const TOKENS_PER_SLOT: usize = 3;

/// Where a slot is in its conversation.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Stage {
    /// `HELLO` sent; waiting for `HELLO_ACK` until the deadline.
    Hello(Instant),
    /// `SESSION_INIT` sent; waiting for `SESSION_ACK` until the deadline.
    Session(Instant),
    /// The pool's base files and `BASE` sent; waiting for `BASE_ACK`
    /// until the deadline.
    Base(Instant),
    /// Takes jobs.
    Ready,
}

/// The pool's counters and the slot's host among them.
pub(crate) struct Counters {
    pub(crate) stats: Arc<PoolStats>,
    pub(crate) host: usize,
}

/// A slot whose install script has not said `ready` yet.
struct Installing {
    /// The line so far.
    line: Vec<u8>,
    install: Arc<Install>,
}

/// A Slurm slot waiting for its start line.
struct Pending {
    /// The line so far.
    line: Vec<u8>,
    /// How long the job may stay in the queue.
    timeout: Duration,
    slurm: Slurm,
    /// srun said the job waits for resources (and not yet that it got
    /// them): counted in the host's `queued`.
    queued: bool,
}

/// What a worker has, past the end of a job's [`TermSequence`], to send
/// the stopped job's result before it is killed with the job.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(1);

/// A running job its worker was asked to stop.
#[derive(Debug)]
pub(crate) struct Stopping {
    /// When its worker is killed if the job's result has not come.
    pub(crate) by: Instant,
    /// What the job ends with.
    pub(crate) failure: JobFailure,
    /// The worker answered a ping since: it is alive, the overrun the
    /// job's own.
    pub(crate) answered: bool,
}

// Four independent facts of one slot (how it is stopped, its stdout read
// state and end, whether its job runs alone), not one state to fold.
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct Slot {
    /// `host:slot`, for logs and errors.
    pub(crate) label: String,
    /// The slot's number in the pool, from 1, over all hosts in order.
    number: u32,
    /// The name of its host entry.
    host: String,
    child: Child,
    counters: Counters,
    /// Stopped by killing its process group; otherwise only the process
    /// is signalled.
    kill_group: bool,
    /// When the process was sent `SIGTERM` (a Slurm slot being stopped).
    term_sent: Option<Instant>,
    /// Until a Slurm slot's start line came.
    pending: Option<Pending>,
    /// The handshake's time limit once the worker runs.
    handshake: Duration,
    /// From a Slurm slot's start line: the node and the job id.
    slurm_place: Option<(String, String)>,
    stdin: Option<pipe::Sender>,
    stdout: pipe::Receiver,
    stderr: pipe::Receiver,
    decoder: FrameDecoder,
    /// Bytes of frames read from stdout so far.
    bytes_read: u64,
    /// Stdout was not read to its end (`WouldBlock`) at the last read,
    /// which stopped at its byte budget: read it again without waiting for
    /// an event (the poll is edge-triggered).
    pub(crate) unread: bool,
    out: Vec<u8>,
    stderr_line: Vec<u8>,
    /// The last stderr lines, to explain a failure.
    pub(crate) stderr_tail: Vec<String>,
    max_frame: usize,
    pub(crate) stage: Stage,
    /// Jobs sent and not answered, in the order sent: (job index,
    /// deadline). Only the first runs, so only it has a deadline.
    pub(crate) in_flight: Vec<(usize, Option<Instant>)>,
    /// The worker and where it runs, once it answered `HELLO`.
    pub(crate) info: Option<Arc<SlotInfo>>,
    /// The worker closed its stdout: it is exiting.
    stdout_closed: bool,
    /// When bytes last came from the worker (or the slot started).
    pub(crate) heard: Instant,
    /// When bytes last went to the worker (or the slot started).
    pub(crate) sent: Instant,
    /// When the last `PING` went out, and its number.
    pub(crate) pinged: Instant,
    ping_seq: u64,
    /// The number of the `PING` sent when the running job passed its time
    /// limit: the first `PONG` from then on shows the worker alive, and
    /// the job's overrun its own.
    pub(crate) overdue: Option<u64>,
    /// The running job passed its time limit and its worker was asked to
    /// stop it (`CANCEL`).
    pub(crate) stopping: Option<Stopping>,
    /// A job with files is in flight: it runs alone.
    pub(crate) exclusive: bool,
    /// A job's files going out, then the job; or the program, to a host
    /// that installs it.
    upload: Option<Box<dyn Outgoing>>,
    /// Until an installing slot's script said `ready` (see `install.rs`).
    installing: Option<Installing>,
    /// A file of the running job coming back.
    pub(crate) download: Option<Download>,
    /// Its `SESSION_INIT`, until it goes out behind `HELLO`.
    session: Option<Frame>,
}

/// Bytes queued for the worker below which an upload adds more, and up to
/// which it adds: a job's files go out a chunk at a time as the pipe takes
/// them, never whole in memory.
const UPLOAD_LOW: usize = 256 * 1024;
const UPLOAD_HIGH: usize = 1024 * 1024;

impl Slot {
    /// Starts the worker process and sends `HELLO` and, right behind it,
    /// `session` (its `SESSION_INIT`); the slot is named `label`, `number`
    /// in the pool, `in_host` (from 0) among its host's; over the ssh
    /// connection of the master at `control`, if given.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn(
        host: &Host,
        control: Option<&std::path::Path>,
        counters: Counters,
        (label, number, in_host): (String, u32, usize),
        session: Frame,
        registry: &Registry,
        base: usize,
        handshake_deadline: Instant,
        max_frame: usize,
    ) -> io::Result<Slot> {
        let transport = &host.transport;
        let mut cmd = match &host.install {
            Some(install) => transport.install_command(host.reached_as(), &install.remote, control),
            None => transport.command_for(host.reached_as(), in_host, control),
        };
        let _ = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl+C in the terminal reaches the
            // pool, which decides how its slots end.
            .process_group(0);
        let mut child = cmd.spawn()?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("child process without pipes"));
        };
        let mut stdin = pipe::Sender::from(stdin);
        let mut stdout = pipe::Receiver::from(stdout);
        let mut stderr = pipe::Receiver::from(stderr);
        let registered = (|| {
            stdin.set_nonblocking(true)?;
            stdout.set_nonblocking(true)?;
            stderr.set_nonblocking(true)?;
            registry.register(&mut stdout, Token(base), Interest::READABLE)?;
            registry.register(&mut stderr, Token(base + 1), Interest::READABLE)?;
            registry.register(&mut stdin, Token(base + 2), Interest::WRITABLE)
        })();
        if let Err(err) = registered {
            let _ = registry.deregister(&mut stdout);
            let _ = registry.deregister(&mut stderr);
            let _ = registry.deregister(&mut stdin);
            let _ = child.kill();
            let _ = child.wait();
            return Err(err);
        }
        let now = Instant::now();
        let handshake = handshake_deadline.saturating_duration_since(now);
        let pending = transport.slurm_settings().map(|slurm| Pending {
            line: Vec::new(),
            timeout: slurm.pending_limit(),
            slurm: slurm.clone(),
            queued: false,
        });
        let stage = match &pending {
            // The handshake's time starts when the job runs.
            Some(pending) => Stage::Hello(crate::remote::engine::after(now, pending.timeout)),
            None => Stage::Hello(handshake_deadline),
        };
        if pending.is_some() {
            incr(&counters.stats.hosts[counters.host].pending);
        }
        let mut slot = Slot {
            label,
            number,
            host: host.name.clone(),
            child,
            counters,
            kill_group: transport.kill_group_on_stop(),
            term_sent: None,
            pending,
            handshake,
            slurm_place: None,
            stdin: Some(stdin),
            stdout,
            stderr,
            decoder: FrameDecoder::new(max_frame),
            bytes_read: 0,
            unread: false,
            out: Vec::new(),
            stderr_line: Vec::new(),
            stderr_tail: Vec::new(),
            max_frame,
            stage,
            in_flight: Vec::new(),
            info: None,
            stdout_closed: false,
            heard: now,
            sent: now,
            pinged: now,
            ping_seq: 0,
            overdue: None,
            stopping: None,
            exclusive: false,
            upload: None,
            download: None,
            installing: host.install.clone().map(|install| Installing {
                line: Vec::new(),
                install,
            }),
            session: Some(session),
        };
        // An install script reads stdin until it says `ready`.
        if slot.installing.is_none() {
            slot.hello()?;
        }
        Ok(slot)
    }

    /// Queues `HELLO` and the slot's `SESSION_INIT` behind it, and writes
    /// them when stdin is writable: a worker that already exited shows up
    /// as its stdout closing, with its exit status, not as an error here.
    ///
    /// The worker reads its frames in order, so the session's set-up need
    /// not wait for `HELLO_ACK`: that saves a round trip of the link per
    /// slot start. A worker of another version answers `HELLO` and exits
    /// without reading on.
    fn hello(&mut self) -> io::Result<()> {
        self.queue(&Frame::Hello {
            version: u32::from(wire::VERSION),
        })
        .map_err(io::Error::other)?;
        if let Some(session) = self.session.take() {
            self.queue(&session).map_err(io::Error::other)?;
        }
        let _ = self.flush();
        Ok(())
    }

    /// Reads an installing slot's script's lines (see `install.rs`):
    /// `Some(true)` once it said `ready` (`HELLO` is then on its way),
    /// `Some(false)` if more is to come, `None` at the end of stdout.
    fn read_install_lines(&mut self) -> Result<Option<bool>, SlotFailure> {
        let mut byte = [0];
        loop {
            let Some(installing) = self.installing.as_mut() else {
                return Ok(Some(true));
            };
            match self.stdout.read(&mut byte) {
                Ok(0) => return Ok(None),
                Ok(_) if byte[0] != b'\n' => {
                    if installing.line.len() >= slurm::MAX_START_LINE {
                        return Err(SlotFailure::Install(format!(
                            "no line from the install script within {} bytes",
                            slurm::MAX_START_LINE
                        )));
                    }
                    installing.line.push(byte[0]);
                    continue;
                }
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Some(false)),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(SlotFailure::Install(err.to_string())),
            }
            self.heard = Instant::now();
            let line = String::from_utf8_lossy(&std::mem::take(&mut installing.line)).into_owned();
            let install = installing.install.clone();
            match install::parse(&line).map_err(SlotFailure::Install)? {
                Said::Ready => {
                    self.installing = None;
                    self.hello()
                        .map_err(|err| SlotFailure::WriteFailed(err.to_string()))?;
                    return Ok(Some(true));
                }
                Said::Need { os, arch } => {
                    if let Err(ours) = install::runs_here_built(&os, &arch) {
                        self.out.extend_from_slice(b"refuse\n");
                        let _ = self.flush();
                        return Err(SlotFailure::WrongSystem {
                            host: format!("{os} {arch}"),
                            ours,
                        });
                    }
                    let copy = install.copy().map_err(|err| {
                        SlotFailure::Install(format!("cannot read this program to copy it: {err}"))
                    })?;
                    info!(slot:% = self.label; "copying this program to the host, as {}", install.remote);
                    // The copy's time on top of the handshake's, at 5 MB/s.
                    let copying = Duration::from_secs(install.size() / 5_000_000);
                    let deadline =
                        crate::remote::engine::after(Instant::now(), self.handshake + copying);
                    self.stage = Stage::Hello(deadline);
                    self.upload = Some(Box::new(copy));
                    self.flush()
                        .map_err(|err| SlotFailure::WriteFailed(err.to_string()))?;
                }
            }
        }
    }

    /// Queues a frame and writes what the pipe takes now.
    pub(crate) fn send(&mut self, frame: &Frame) -> Result<(), WireError> {
        self.queue(frame)?;
        self.flush().map_err(WireError::Io)
    }

    /// Queues a frame, to be written by [`Slot::flush`]. Fails only for a
    /// frame that cannot be encoded (too large).
    pub(crate) fn queue(&mut self, frame: &Frame) -> Result<(), WireError> {
        wire::encode(frame, self.max_frame, &mut self.out)
    }

    /// Queues a `JOB` frame from its parts (no copy of the payload).
    pub(crate) fn queue_job(
        &mut self,
        id: u64,
        handler: &str,
        payload: &[u8],
    ) -> Result<(), WireError> {
        wire::encode_job(id, handler, payload, self.max_frame, &mut self.out)
    }

    /// Queues job `id` with its `files`: the files go out as the pipe
    /// takes them ([`Slot::flush`]), then `RETURN` and the job. An error
    /// (a file that cannot be read, a job too large) queues nothing.
    pub(crate) fn queue_upload(
        &mut self,
        id: u64,
        files: &Files,
        handler: &str,
        payload: &[u8],
    ) -> Result<(), String> {
        let mut job = Vec::new();
        wire::encode_job(id, handler, payload, self.max_frame, &mut job)
            .map_err(|err| err.to_string())?;
        self.upload = Some(Box::new(Upload::new(id, files, &job, self.max_frame)?));
        Ok(())
    }

    /// Queues the pool's base files, then `BASE` (with `cleanup`): the
    /// files go out as the pipe takes them ([`Slot::flush`]). An error (a
    /// file that cannot be read) queues nothing.
    pub(crate) fn queue_base(&mut self, files: &Files) -> Result<(), String> {
        let mut base = Vec::new();
        wire::encode(
            &Frame::Base {
                cleanup: files.cleanup,
            },
            self.max_frame,
            &mut base,
        )
        .map_err(|err| err.to_string())?;
        // Their `RETURN`'s `cleanup` is not a job's: the worker keeps
        // them until `SHUTDOWN` (`serve.rs`), as `BASE` says.
        self.upload = Some(Box::new(Upload::new(
            wire::BASE_ID,
            files,
            &base,
            self.max_frame,
        )?));
        Ok(())
    }

    /// Writes queued bytes until the pipe is full, adding an upload's next
    /// chunks as it drains.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        loop {
            if self.out.len() < UPLOAD_LOW
                && let Some(upload) = self.upload.as_mut()
                && upload.fill(&mut self.out, UPLOAD_HIGH)
            {
                self.upload = None;
            }
            let Some(stdin) = self.stdin.as_mut() else {
                return Ok(());
            };
            let mut written = 0;
            let mut full = false;
            while written < self.out.len() {
                match stdin.write(&self.out[written..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => written += n,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                        full = true;
                        break;
                    }
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Err(err),
                }
            }
            let _ = self.out.drain(..written);
            if written > 0 {
                self.sent = Instant::now();
            }
            if full || self.upload.is_none() {
                return Ok(());
            }
        }
    }

    /// Queues a `PING` and writes what the pipe takes; returns its number.
    pub(crate) fn ping(&mut self, now: Instant) -> io::Result<u64> {
        self.ping_seq += 1;
        let seq = self.ping_seq;
        self.pinged = now;
        self.queue(&Frame::Ping { seq }).map_err(io::Error::other)?;
        self.flush()?;
        Ok(seq)
    }

    /// Asks the worker to stop the running job, past its time limit, with
    /// `sequence`, and pings it: its `PONG` shows it alive, the overrun the
    /// job's own. The job ends with `failure` when its result comes, or
    /// its worker is killed if none came by the sequence's end and
    /// [`STOP_GRACE`].
    pub(crate) fn stop_running_job(
        &mut self,
        now: Instant,
        sequence: &TermSequence,
        failure: JobFailure,
    ) -> io::Result<()> {
        let Some(&(job, _)) = self.in_flight.first() else {
            return Ok(());
        };
        let cancel = Frame::Cancel {
            id: job as u64,
            sequence: sequence.to_wire(),
        };
        self.queue(&cancel).map_err(io::Error::other)?;
        self.overdue = Some(self.ping(now)?);
        self.stopping = Some(Stopping {
            by: now + sequence.total() + STOP_GRACE,
            failure,
            answered: false,
        });
        Ok(())
    }

    /// Bytes of frames read from stdout so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// True if part of a frame was read and the rest has not come yet.
    pub(crate) fn inside_a_frame(&self) -> bool {
        self.decoder.buffered() > 0
    }

    /// Reads what stdout has, up to about `budget` bytes, and decodes the
    /// frames; `Ok(true)` once stdout is closed (the worker exited). Past
    /// the budget it stops and sets [`Slot::unread`]. On an error, the
    /// frames decoded before it are in `frames`: they came from the worker
    /// intact, and are the caller's to handle before the error.
    pub(crate) fn read_frames(
        &mut self,
        frames: &mut Vec<Frame>,
        budget: usize,
    ) -> Result<bool, SlotFailure> {
        self.unread = false;
        if self.installing.is_some() {
            match self.read_install_lines()? {
                Some(true) => {}
                Some(false) => return Ok(false),
                None => {
                    self.stdout_closed = true;
                    return Ok(true);
                }
            }
        }
        if self.pending.is_some() {
            match self.read_start_line() {
                Ok(Some(true)) => {}
                Ok(Some(false)) => return Ok(false),
                Ok(None) => {
                    self.stdout_closed = true;
                    return Ok(true);
                }
                Err(reason) => return Err(SlotFailure::SlurmStart(reason)),
            }
        }
        self.read_stream(frames, budget)
            .map_err(SlotFailure::from_wire)
    }

    /// [`Slot::read_frames`] once the start line, if any, came.
    fn read_stream(&mut self, frames: &mut Vec<Frame>, budget: usize) -> Result<bool, WireError> {
        let mut eof = false;
        let mut read = 0;
        loop {
            if matches!(self.stage, Stage::Hello(_)) {
                self.skip_login_output();
            }
            while let Some(frame) = self.decoder.next_frame()? {
                frames.push(frame);
            }
            if eof {
                self.stdout_closed = true;
                // A frame cut short by the end is an error of its own.
                while let Some(frame) = self.decoder.next_frame_at_eof()? {
                    frames.push(frame);
                }
                return Ok(true);
            }
            if read >= budget {
                self.unread = true;
                return Ok(false);
            }
            match self.decoder.read_from(&mut self.stdout) {
                Ok(0) => eof = true,
                Ok(n) => {
                    read += n;
                    self.bytes_read += n as u64;
                    self.heard = Instant::now();
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(WireError::Io(err)),
            }
        }
    }

    /// Reads a Slurm slot's start line, a byte at a time (it is short and
    /// comes once; the frames after it are the decoder's): `Some(true)`
    /// once it came and was parsed, `Some(false)` if more is to come,
    /// `None` at the end of stdout (srun exited).
    fn read_start_line(&mut self) -> Result<Option<bool>, String> {
        let Some(pending) = self.pending.as_mut() else {
            return Ok(Some(true));
        };
        let mut byte = [0];
        loop {
            match self.stdout.read(&mut byte) {
                Ok(0) => return Ok(None),
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) if pending.line.len() >= slurm::MAX_START_LINE => {
                    return Err(format!(
                        "no start line from the Slurm task within {} bytes: {:?}",
                        slurm::MAX_START_LINE,
                        String::from_utf8_lossy(&pending.line[..80])
                    ));
                }
                Ok(_) => pending.line.push(byte[0]),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(Some(false)),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.to_string()),
            }
        }
        let line = String::from_utf8_lossy(&pending.line).into_owned();
        let place = pending.slurm.parse_start(&line)?;
        debug!(slot:% = self.label, node:% = place.0, job:% = place.1; "slurm job runs");
        self.slurm_place = Some(place);
        self.leave_pending();
        // The job runs: from now on the handshake's own time limit.
        self.stage = Stage::Hello(crate::remote::engine::after(Instant::now(), self.handshake));
        Ok(Some(true))
    }

    /// Counts the slot out of its host's pending (and queued) slots, if it
    /// was one.
    fn leave_pending(&mut self) {
        if let Some(pending) = self.pending.take() {
            let host = &self.counters.stats.hosts[self.counters.host];
            decr(&host.pending);
            if pending.queued {
                decr(&host.queued);
            }
        }
    }

    /// Follows srun's word on a pending slot's job: waiting in the queue,
    /// or out of it.
    fn note_queue_word(&mut self, line: &str) {
        let Some(pending) = self.pending.as_mut() else {
            return;
        };
        let queued = match slurm::queue_word(line) {
            Some(slurm::QueueWord::Queued) => true,
            Some(slurm::QueueWord::LeftQueue) => false,
            None => return,
        };
        if queued != pending.queued {
            pending.queued = queued;
            let host = &self.counters.stats.hosts[self.counters.host];
            if queued {
                incr(&host.queued);
            } else {
                decr(&host.queued);
            }
        }
    }

    /// Records the worker's answer to `HELLO`: its host name and pid.
    pub(crate) fn set_remote(&mut self, host: String, pid: u32) {
        let (node, slurm_job) = match self.slurm_place.clone() {
            Some((node, job)) => (node, Some(job)),
            None => (host, None),
        };
        let info = Arc::new(SlotInfo {
            label: self.label.clone(),
            number: self.number,
            host: self.host.clone(),
            node,
            pid,
            slurm_job,
        });
        self.counters.stats.hosts[self.counters.host].set_worker(info.clone());
        self.info = Some(info);
    }

    /// Why the slot's handshake deadline passed: a Slurm job still in the
    /// queue, or a worker that did not answer in `handshake`.
    pub(crate) fn start_timeout(&self, handshake: Duration) -> SlotFailure {
        match &self.pending {
            Some(pending) => SlotFailure::SlurmPending {
                within: pending.timeout,
            },
            None => SlotFailure::NoHandshake { within: handshake },
        }
    }

    /// Counts the slot out of its host's pending slots and workers.
    fn forget(&mut self) {
        self.leave_pending();
        if let Some(info) = self.info.take() {
            let host = &self.counters.stats.hosts[self.counters.host];
            let mut workers = host.workers.lock().unwrap_or_else(|p| p.into_inner());
            workers.retain(|w| !Arc::ptr_eq(w, &info));
        }
    }

    /// Stops the running process: its whole group, or for Slurm the srun
    /// process alone, asked first (`SIGTERM`: srun ends its step or
    /// cancels its pending job) and killed only if still there when
    /// [`slurm::TERM_GRACE`] has passed since it was asked. Does not reap
    /// it.
    fn stop_process(&mut self) {
        if self.kill_group {
            // The worker leads its own process group (`spawn`), which its
            // jobs share: kill them all.
            let _ = crate::sys::kill_group(self.child.id());
        } else {
            self.terminate();
            if let Some(left) = self
                .stop_deadline()
                .map(|at| at.saturating_duration_since(Instant::now()))
                && crate::sys::wait_for_child(&mut self.child, left)
            {
                return;
            }
            warn!(slot:% = self.label; "srun did not exit within {:?} of SIGTERM: killing it", slurm::TERM_GRACE);
        }
        if let Err(err) = self.child.kill() {
            warn!(slot:% = self.label, error:% = err; "unable to kill worker process");
        }
    }

    /// Sends the process `SIGTERM`, once.
    fn terminate(&mut self) {
        if self.term_sent.is_none() {
            let _ = crate::sys::signal_process(self.child.id(), libc::SIGTERM);
            self.term_sent = Some(Instant::now());
        }
    }

    /// When a slot told to stop (`SIGTERM`) is killed if still running.
    pub(crate) fn stop_deadline(&self) -> Option<Instant> {
        self.term_sent
            .map(|sent| crate::remote::engine::after(sent, slurm::TERM_GRACE))
    }

    /// Logs what the worker wrote on stderr, a line at a time.
    pub(crate) fn drain_stderr(&mut self) {
        let mut buf = [0; 8192];
        loop {
            match self.stderr.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    for &byte in &buf[..n] {
                        if byte == b'\n' {
                            self.log_stderr_line();
                        } else if self.stderr_line.len() < 4096 {
                            self.stderr_line.push(byte);
                        }
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    fn log_stderr_line(&mut self) {
        // ssh ends its own lines with "\r\n".
        if self.stderr_line.ends_with(b"\r") {
            let _ = self.stderr_line.pop();
        }
        let line = String::from_utf8_lossy(&self.stderr_line).into_owned();
        self.stderr_line.clear();
        info!(target: "hearth::remote::worker", "{}: {line}", self.label);
        self.note_queue_word(&line);
        if self.stderr_tail.len() == 5 {
            let _ = self.stderr_tail.remove(0);
        }
        self.stderr_tail.push(line);
    }

    /// Skips what came on stdout before the worker's first frame: a login
    /// shell's greeting (`echo` in `.bashrc`), which GNU parallel and pdsh
    /// users see as output and hearth's frames cannot be mixed with. It is
    /// logged, and kept with the worker's last stderr lines, so a slot
    /// that then fails shows what was printed.
    fn skip_login_output(&mut self) {
        let junk = self.decoder.skip_junk_before_first_frame();
        if junk.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&junk);
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            info!(target: "hearth::remote::worker", "{}: printed before the worker started, ignored: {line}", self.label);
            if self.stderr_tail.len() == 5 {
                let _ = self.stderr_tail.remove(0);
            }
            self.stderr_tail
                .push(format!("(on stdout before the worker) {line}"));
        }
    }

    /// Closes stdin after `SHUTDOWN`: the worker finishes and exits.
    pub(crate) fn close_stdin(&mut self) {
        let _ = self.flush();
        drop(self.stdin.take());
    }

    /// Takes the pipes off the poll.
    pub(crate) fn deregister(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut self.stdout);
        let _ = registry.deregister(&mut self.stderr);
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = registry.deregister(stdin);
        }
    }

    /// True if the worker closed its stdout but has not exited yet: ssh
    /// closes its stdout a moment before it exits with the remote
    /// command's status, and that status (127: binary missing) matters.
    pub(crate) fn is_exiting(&mut self) -> bool {
        self.stdout_closed && matches!(self.try_wait(), Ok(None))
    }

    /// True once the process has exited.
    pub(crate) fn has_exited(&mut self) -> bool {
        !matches!(self.try_wait(), Ok(None))
    }

    /// The process's exit status, if it exited (reaped then). A worker
    /// that leads its own group and died (killed, crashed) leaves its
    /// jobs' processes behind in that group: they are killed first, while
    /// the worker is a zombie whose pid nothing else can have, so a job
    /// that runs again elsewhere does not also run on here.
    fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.kill_group && crate::sys::exited_unreaped(self.child.id()) {
            let _ = crate::sys::kill_group(self.child.id());
        }
        self.child.try_wait()
    }

    /// Kills the process (if still running) and reaps it; returns how it
    /// ended. An srun is only asked to stop (`SIGTERM`) and left running:
    /// the caller keeps the slot until it exited or its
    /// [`Slot::stop_deadline`] passed (then dropping it kills it), without
    /// waiting for it.
    pub(crate) fn kill(&mut self, registry: &Registry) -> Option<ExitStatus> {
        self.deregister(registry);
        let status = match self.try_wait() {
            Ok(Some(status)) => Some(status),
            _ if !self.kill_group => {
                self.terminate();
                None
            }
            _ => {
                self.stop_process();
                self.child.wait().ok()
            }
        };
        self.forget();
        self.drain_stderr();
        if !self.stderr_line.is_empty() {
            self.log_stderr_line();
        }
        status
    }
}

impl Drop for Slot {
    /// Never leaves a process behind: kills and reaps it if the pool did
    /// not (an srun asked to stop is given what is left of its grace
    /// period first).
    fn drop(&mut self) {
        if !matches!(self.try_wait(), Ok(Some(_))) {
            self.stop_process();
            let _ = self.child.wait();
        }
        self.forget();
    }
}
