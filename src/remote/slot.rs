//! One slot: a worker process and its three pipes, non-blocking and
//! registered on the pool's `mio::Poll`.
//!
//! The slot owns the bytes: it queues encoded frames and writes them when
//! stdin is writable, decodes frames from stdout, and drains stderr into the
//! log line by line with a `host:slot` prefix, so a chatty worker can never
//! fill a pipe and stall. What the frames mean is the pool's business.

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ExitStatus, Stdio};
use std::time::Instant;

use log::{info, warn};
use mio::unix::pipe;
use mio::{Interest, Registry, Token};

use crate::remote::Transport;
use crate::remote::wire::{self, Frame, FrameDecoder, WireError};

/// Tokens per slot on the pool's poll: stdout, stderr, stdin.
pub(crate) const TOKENS_PER_SLOT: usize = 3;

/// Where a slot is in its conversation.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Stage {
    /// `HELLO` sent; waiting for `HELLO_ACK` until the deadline.
    Hello(Instant),
    /// `SESSION_INIT` sent; waiting for `SESSION_ACK` until the deadline.
    Session(Instant),
    /// Takes jobs.
    Ready,
}

pub(crate) struct Slot {
    /// `host:slot`, for logs and errors.
    pub(crate) label: String,
    child: Child,
    stdin: Option<pipe::Sender>,
    stdout: pipe::Receiver,
    stderr: pipe::Receiver,
    decoder: FrameDecoder,
    out: Vec<u8>,
    stderr_line: Vec<u8>,
    /// The last stderr lines, to explain a failure.
    pub(crate) stderr_tail: Vec<String>,
    max_frame: usize,
    pub(crate) stage: Stage,
    /// Jobs sent and not answered: (job index, deadline).
    pub(crate) in_flight: Vec<(usize, Option<Instant>)>,
    /// Host name and pid reported by the worker.
    pub(crate) remote: Option<(String, u32)>,
    /// The worker closed its stdout: it is exiting.
    stdout_closed: bool,
}

impl Slot {
    /// Starts the worker process and sends `HELLO`.
    pub(crate) fn spawn(
        transport: &Transport,
        host: &str,
        label: String,
        registry: &Registry,
        base: usize,
        handshake_deadline: Instant,
        max_frame: usize,
    ) -> io::Result<Slot> {
        let mut cmd = transport.command(host);
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
        let mut slot = Slot {
            label,
            child,
            stdin: Some(stdin),
            stdout,
            stderr,
            decoder: FrameDecoder::new(max_frame),
            out: Vec::new(),
            stderr_line: Vec::new(),
            stderr_tail: Vec::new(),
            max_frame,
            stage: Stage::Hello(handshake_deadline),
            in_flight: Vec::new(),
            remote: None,
            stdout_closed: false,
        };
        // Written when stdin is writable: a worker that already exited shows
        // up as its stdout closing, with its exit status, not as an error
        // here.
        slot.queue(&Frame::Hello {
            version: u32::from(wire::VERSION),
        })
        .map_err(io::Error::other)?;
        let _ = slot.flush();
        Ok(slot)
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

    /// Writes queued bytes until the pipe is full.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Ok(());
        };
        let mut written = 0;
        while written < self.out.len() {
            match stdin.write(&self.out[written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        let _ = self.out.drain(..written);
        Ok(())
    }

    /// Reads what stdout has and decodes the frames; `Ok(true)` once stdout
    /// is closed (the worker exited).
    pub(crate) fn read_frames(&mut self, frames: &mut Vec<Frame>) -> Result<bool, WireError> {
        let mut eof = false;
        loop {
            while let Some(frame) = self.decoder.next_frame()? {
                frames.push(frame);
            }
            if eof {
                self.stdout_closed = true;
                return Ok(true);
            }
            match self.decoder.read_from(&mut self.stdout) {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(WireError::Io(err)),
            }
        }
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
        let line = String::from_utf8_lossy(&self.stderr_line).into_owned();
        self.stderr_line.clear();
        info!(target: "hearth::remote::worker", "{}: {line}", self.label);
        if self.stderr_tail.len() == 5 {
            let _ = self.stderr_tail.remove(0);
        }
        self.stderr_tail.push(line);
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
        self.stdout_closed && matches!(self.child.try_wait(), Ok(None))
    }

    /// True once the process has exited.
    pub(crate) fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process (if still running) and reaps it; returns how it
    /// ended.
    pub(crate) fn kill(&mut self, registry: &Registry) -> Option<ExitStatus> {
        self.deregister(registry);
        let status = match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            _ => {
                // The worker leads its own process group (`spawn`), which
                // its jobs share: kill them all.
                let _ = crate::sys::kill_group(self.child.id());
                if let Err(err) = self.child.kill() {
                    warn!(slot:% = self.label, error:% = err; "unable to kill worker process");
                }
                self.child.wait().ok()
            }
        };
        self.drain_stderr();
        if !self.stderr_line.is_empty() {
            self.log_stderr_line();
        }
        status
    }
}

impl Drop for Slot {
    /// Never leaves a process behind: kills and reaps it if the pool did
    /// not.
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = crate::sys::kill_group(self.child.id());
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
