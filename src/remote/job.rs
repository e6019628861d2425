//! What a handler sees of the job it runs: a [`JobContext`], which says
//! which slot runs it and through which it sends the job's output to the
//! pool as it produces it, on one of the job's two [`Stream`]s, instead of
//! returning it all at the end (an output of any size then fits, and
//! neither side holds more of it than a chunk). `job/command.rs` runs a child process whose stdout and stderr
//! become the job's streams (and feeds it the job's stdin, if the pool
//! sent one: `job/stdin.rs`).
//!
//! The serve loop (`serve.rs`) makes the context for each job; a handler
//! added with [`Handlers::add_with_context`](crate::remote::Handlers::add_with_context)
//! gets it.

use std::fmt;
use std::io;
use std::path::Path;
use std::process::{Command, ExitStatus};

use serde::{Deserialize, Serialize};

use crate::remote::wire::MAX_CHUNK;

mod cancel;
mod command;
mod stdin;

pub(crate) use cancel::Cancel;
pub use stdin::JobStdin;

/// One of a job's two output streams, as a process has them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stream {
    /// What the job produces (a command's standard output).
    Stdout,
    /// What the job says about itself (a command's standard error).
    Stderr,
}

/// Where a job's output chunks go: the pool, through the serve loop.
pub(crate) type Sink<'a> = dyn FnMut(Stream, &[u8]) -> io::Result<()> + 'a;

/// The job a handler runs, as the handler sees it: the way to stream its
/// output to the pool while it runs.
///
/// # Examples
///
/// ```
/// use hearth::remote::{Handlers, JobContext, Stream};
///
/// // Counts to `n`, one line at a time, as the lines are made.
/// let handlers = Handlers::new().add_with_context(
///     "count",
///     |n: u64, job: &mut JobContext<'_>| -> Result<u64, std::io::Error> {
///         for i in 1..=n {
///             job.write(Stream::Stdout, format!("{i}\n").as_bytes())?;
///         }
///         Ok(n)
///     },
/// );
/// assert_eq!(handlers.names(), ["count"]);
/// ```
pub struct JobContext<'a> {
    slot: u32,
    sink: &'a mut Sink<'a>,
    workdir: Option<&'a Path>,
    env: &'a [(String, String)],
    stdin: Option<JobStdin>,
    /// The pool's request to stop the job, when the worker reads one.
    cancel: Option<&'a Cancel>,
}

impl<'a> JobContext<'a> {
    /// A context of a job on slot `slot` whose output goes to `sink`, that
    /// runs in `workdir` (if not the worker's own) with `env` set and
    /// reads `stdin`, if the pool sent one; `cancel` tells of the pool's
    /// request to stop it.
    pub(crate) fn new(
        slot: u32,
        sink: &'a mut Sink<'a>,
        (workdir, env): (Option<&'a Path>, &'a [(String, String)]),
        stdin: Option<JobStdin>,
        cancel: Option<&'a Cancel>,
    ) -> JobContext<'a> {
        JobContext {
            slot,
            sink,
            workdir,
            env,
            stdin,
            cancel,
        }
    }

    /// True once the pool asked to stop the job: it passed its time limit
    /// ([`PoolBuilder::timeout`](crate::remote::PoolBuilder::timeout)). A
    /// handler that works in steps should then return (an error or what
    /// it has); the pool reports the job as timed out either way, with
    /// the output it wrote. One that goes on is ended with its worker
    /// once the pool's [`TermSequence`](crate::remote::TermSequence) and
    /// a second have passed. A command of
    /// [`JobContext::run_command`] is stopped by the sequence's signals.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.requested().is_some())
    }

    /// The request to stop the job, for the command it runs.
    pub(crate) fn cancel(&self) -> Option<&'a Cancel> {
        self.cancel
    }

    /// Takes what the pool sent for the job to read on its standard input
    /// ([`Files::stdin`](crate::remote::Files::stdin)), to read it here:
    /// `None` if it sent nothing, or once taken. A stdin not taken goes to
    /// the command of [`JobContext::run_command`].
    pub fn take_stdin(&mut self) -> Option<JobStdin> {
        self.stdin.take()
    }

    /// The job's working directory, when the pool set one
    /// ([`Host::workdir`](crate::remote::Host::workdir)): where its files
    /// were put and where [`JobContext::run_command`] runs. `None`: the
    /// worker's own directory.
    pub fn workdir(&self) -> Option<&Path> {
        self.workdir
    }

    /// The environment variables the pool sets for every job
    /// ([`PoolBuilder::env`](crate::remote::PoolBuilder::env));
    /// [`JobContext::run_command`] sets them for its command.
    pub fn env(&self) -> &[(String, String)] {
        self.env
    }

    /// The number of the slot that runs the job, as its pool numbers its
    /// slots: from 1, counting the slots of every host in the pool's
    /// order (GNU parallel's `{%}`; the same as the report's
    /// [`SlotInfo::number`](crate::remote::SlotInfo::number)). Two jobs
    /// running at once never share it; a slot started again keeps it.
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// Sends `bytes` to the pool as output of `stream` now (in chunks of at
    /// most 256 KiB). It waits while the pool does not take more: a job
    /// that writes faster than its output is read slows down, it does not
    /// fill the worker's memory.
    ///
    /// # Errors
    ///
    /// The pool went away (stdin closed) or the output pipe failed: nobody
    /// reads this job's output any more, and the handler should stop.
    pub fn write(&mut self, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        for chunk in bytes.chunks(MAX_CHUNK) {
            (self.sink)(stream, chunk)?;
        }
        Ok(())
    }

    /// Runs `command` with its stdout and stderr streamed as this job's
    /// ([`JobContext::write`]), as it writes them, and returns its exit
    /// status. It runs in the job's [`workdir`](JobContext::workdir) (if
    /// any, and unless `command` names its own) with the pool's
    /// [`env`](JobContext::env) set. Its stdin is the job's, when the pool
    /// sent one and it was not [taken](JobContext::take_stdin): a pipe
    /// fed with its bytes as the command reads them (whatever `command`
    /// says; a command that exits before reading it all just ends the
    /// feeding); otherwise what `command` says (the parent's unless set;
    /// set `Stdio::null()` for none). The process is killed if the worker
    /// thread running the job dies, and when the pool goes away while it
    /// runs. When the pool stops the job ([`JobContext::is_cancelled`]),
    /// the command's processes get the signals of the pool's
    /// [`TermSequence`](crate::remote::TermSequence): what they print
    /// meanwhile (a `trap` cleaning up) is the job's output, and the exit
    /// status is the command's, e.g. killed by `SIGTERM`.
    ///
    /// # Errors
    ///
    /// The command cannot be started (it is not run then), or its output
    /// cannot be read or sent (it is killed then).
    pub fn run_command(&mut self, command: &mut Command) -> io::Result<ExitStatus> {
        if let Some(dir) = self.workdir
            && command.get_current_dir().is_none()
        {
            let _ = command.current_dir(dir);
        }
        let _ = command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let stdin = self.stdin.take();
        command::run(command, stdin, self)
    }
}

impl fmt::Debug for JobContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobContext")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}
