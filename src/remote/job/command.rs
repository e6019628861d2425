//! A child process whose stdout and stderr are a job's streams: both pipes
//! on a `mio::Poll` of their own, read as they fill and sent on at once,
//! so neither pipe blocks the child and the output is never held whole.
//! A job's stdin, when it has one, is a third pipe on the same poll,
//! written as the child reads it, so a child that reads slowly (or writes
//! a lot before it reads) never blocks the others. When the pool stops
//! the job, a waker on the same poll starts the [`TermSequence`]: its
//! signals go to the child's processes in turn, while their output is
//! still read, until the outputs close or the sequence (and a last
//! `SIGKILL`) is over.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use mio::unix::{SourceFd, pipe};
use mio::{Events, Interest, Poll, Token, Waker};

use super::{Cancel, JobContext, JobStdin, Stream};
use crate::remote::TermSequence;

/// How much is read from a pipe at a time.
const READ: usize = 64 * 1024;

/// The token of the child's stdin.
const STDIN: Token = Token(2);

/// The token of the waker the pool's request to stop the job rings.
const STOP: Token = Token(3);

/// The token of the child's pidfd, once its outputs closed.
const EXITED: Token = Token(4);

/// See [`JobContext::run_command`].
pub(super) fn run(
    command: &mut Command,
    stdin: Option<JobStdin>,
    job: &mut JobContext<'_>,
) -> io::Result<ExitStatus> {
    let _ = command.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        let _ = command.stdin(Stdio::piped());
    }
    crate::sys::kill_with_parent_thread(command);
    let mut child = command.spawn()?;
    match stream_output(&mut child, stdin, job) {
        Ok(()) => {
            if job.is_cancelled() && child.try_wait()?.is_none() {
                // The sequence is over (or it asked for no KILL) and the
                // command still runs: it ends now, not whenever it likes.
                crate::sys::signal_job(child.id(), libc::SIGKILL);
            }
            child.wait()
        }
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(err)
        }
    }
}

/// The job's stdin on its way into the child's pipe.
struct Feeding {
    pipe: pipe::Sender,
    from: JobStdin,
    /// Read from `from`, not written yet: `buf[at..]`.
    buf: Vec<u8>,
    at: usize,
}

impl Feeding {
    /// Writes until the pipe is full (false) or everything is in, or the
    /// child closed its stdin (true: done).
    fn write(&mut self) -> io::Result<bool> {
        loop {
            if self.at == self.buf.len() {
                self.buf.resize(READ, 0);
                let n = loop {
                    match self.from.read(&mut self.buf) {
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        other => break other?,
                    }
                };
                self.buf.truncate(n);
                self.at = 0;
                if n == 0 {
                    return Ok(true);
                }
            }
            match self.pipe.write(&self.buf[self.at..]) {
                Ok(n) => self.at += n,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // The child will read no more (it closed its stdin or
                // exited): as with any pipe, the rest is not for it.
                Err(err) if err.kind() == io::ErrorKind::BrokenPipe => return Ok(true),
                Err(err) => return Err(err),
            }
        }
    }
}

/// Sends what the child writes on stdout and stderr until both close,
/// and feeds it `stdin` meanwhile.
fn stream_output(
    child: &mut Child,
    stdin: Option<JobStdin>,
    job: &mut JobContext<'_>,
) -> io::Result<()> {
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(io::Error::other("the child process has no output pipes"));
    };
    let mut poll = Poll::new()?;
    let mut pipes = [
        Some((Stream::Stdout, pipe::Receiver::from(stdout))),
        Some((Stream::Stderr, pipe::Receiver::from(stderr))),
    ];
    for (index, (_, pipe)) in pipes.iter_mut().flatten().enumerate() {
        pipe.set_nonblocking(true)?;
        poll.registry()
            .register(pipe, Token(index), Interest::READABLE)?;
    }
    let mut feeding = match (stdin, child.stdin.take()) {
        (Some(from), Some(pipe)) => {
            let mut pipe = pipe::Sender::from(pipe);
            pipe.set_nonblocking(true)?;
            poll.registry()
                .register(&mut pipe, STDIN, Interest::WRITABLE)?;
            Some(Feeding {
                pipe,
                from,
                buf: Vec::new(),
                at: 0,
            })
        }
        _ => None,
    };
    let mut events = Events::with_capacity(4);
    let mut buf = vec![0; READ];
    let watch = StopWatch::new(job.cancel(), &poll)?;
    let mut stopping = watch.asked().map(Stopping::new);
    // The outputs until they close, and the stdin until it is in (a child
    // that closes its outputs may still read), or until the pool's stop
    // is over.
    while pipes.iter().any(Option::is_some) || feeding.is_some() {
        if let Some(stop) = stopping.as_mut()
            && !stop.advance(child.id(), Instant::now())
        {
            break;
        }
        let timeout = stopping
            .as_ref()
            .map(|stop| stop.next_at.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        for event in &events {
            if event.token() == STOP {
                if stopping.is_none() {
                    stopping = watch.asked().map(Stopping::new);
                }
                continue;
            }
            if event.token() == STDIN {
                if let Some(feed) = feeding.as_mut()
                    && feed.write()?
                {
                    // Closing the pipe is the end of the child's input.
                    poll.registry().deregister(&mut feed.pipe)?;
                    feeding = None;
                }
                continue;
            }
            let entry = &mut pipes[event.token().0];
            let Some((stream, pipe)) = entry.as_mut() else {
                continue;
            };
            // Edge-triggered: read until the pipe is empty or closed.
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => {
                        poll.registry().deregister(pipe)?;
                        *entry = None;
                        break;
                    }
                    Ok(n) => job.write(*stream, &buf[..n])?,
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Err(err),
                }
            }
        }
    }
    if watch.cancel.is_some() {
        wait_or_stop(child, &mut poll, &watch, stopping)?;
    }
    Ok(())
}

/// Its outputs closed, the command may still run (`exec >/dev/null`):
/// waits for its end, its exit seen through a pidfd on `poll`, while the
/// pool's stop still reaches it (or once the stop begun is over).
fn wait_or_stop(
    child: &mut Child,
    poll: &mut Poll,
    watch: &StopWatch<'_>,
    mut stopping: Option<Stopping>,
) -> io::Result<()> {
    /// How often the exit is looked at without a pidfd.
    const LOOK: Duration = Duration::from_millis(50);
    let mut exit = crate::sys::pidfd(child.id())?;
    if let Some(fd) = &exit {
        poll.registry()
            .register(&mut SourceFd(&fd.as_raw_fd()), EXITED, Interest::READABLE)?;
    }
    let mut events = Events::with_capacity(2);
    while child.try_wait()?.is_none() {
        if let Some(stop) = stopping.as_mut()
            && !stop.advance(child.id(), Instant::now())
        {
            break;
        }
        let next_step = stopping
            .as_ref()
            .map(|stop| stop.next_at.saturating_duration_since(Instant::now()));
        let timeout = match (next_step, &exit) {
            (Some(step), None) => Some(step.min(LOOK)),
            (None, None) => Some(LOOK),
            (step, Some(_)) => step,
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        if stopping.is_none() && events.iter().any(|e| e.token() == STOP) {
            stopping = watch.asked().map(Stopping::new);
        }
    }
    if let Some(fd) = exit.take() {
        let _ = poll.registry().deregister(&mut SourceFd(&fd.as_raw_fd()));
    }
    Ok(())
}

/// The waker of the job's poll, handed to the job's [`Cancel`] while the
/// command runs (and taken back when it ends).
struct StopWatch<'a> {
    cancel: Option<&'a Cancel>,
}

impl<'a> StopWatch<'a> {
    fn new(cancel: Option<&'a Cancel>, poll: &Poll) -> io::Result<StopWatch<'a>> {
        if let Some(cancel) = cancel {
            let waker = Arc::new(Waker::new(poll.registry(), STOP)?);
            let _ = cancel.wake_with(Some(waker));
        }
        Ok(StopWatch { cancel })
    }

    /// How to stop the command, if the pool asked.
    fn asked(&self) -> Option<TermSequence> {
        self.cancel.and_then(Cancel::requested)
    }
}

impl Drop for StopWatch<'_> {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel {
            let _ = cancel.wake_with(None);
        }
    }
}

/// A [`TermSequence`] under way: the steps not taken yet, and when the
/// next is due.
struct Stopping {
    steps: VecDeque<(i32, Duration)>,
    next_at: Instant,
}

impl Stopping {
    /// The sequence, its first signal due now.
    fn new(sequence: TermSequence) -> Stopping {
        Stopping {
            steps: sequence.steps().iter().copied().collect(),
            next_at: Instant::now(),
        }
    }

    /// Sends the signals due by `now` to the processes of the job whose
    /// first process is `child`; false once the last wait is over.
    fn advance(&mut self, child: u32, now: Instant) -> bool {
        while self.next_at <= now {
            let Some((signal, wait)) = self.steps.pop_front() else {
                return false;
            };
            log::debug!(signal = signal; "remote worker: stopping the job's processes");
            crate::sys::signal_job(child, signal);
            self.next_at = now + wait;
        }
        true
    }
}
