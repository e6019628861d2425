//! A child process whose stdout and stderr are a job's streams: both pipes
//! on a `mio::Poll` of their own, read as they fill and sent on at once,
//! so neither pipe blocks the child and the output is never held whole.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};

use mio::unix::pipe;
use mio::{Events, Interest, Poll, Token};

use super::{JobContext, Stream};

/// How much is read from a pipe at a time.
const READ: usize = 64 * 1024;

/// See [`JobContext::run_command`].
pub(super) fn run(command: &mut Command, job: &mut JobContext<'_>) -> io::Result<ExitStatus> {
    let _ = command.stdout(Stdio::piped()).stderr(Stdio::piped());
    crate::sys::kill_with_parent_thread(command);
    let mut child = command.spawn()?;
    match stream_output(&mut child, job) {
        Ok(()) => child.wait(),
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(err)
        }
    }
}

/// Sends what the child writes on stdout and stderr until both close.
fn stream_output(child: &mut Child, job: &mut JobContext<'_>) -> io::Result<()> {
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
    let mut events = Events::with_capacity(4);
    let mut buf = vec![0; READ];
    while pipes.iter().any(Option::is_some) {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        for event in &events {
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
    Ok(())
}
