//! [`Setup`]: the builder of a [`Runtime`].

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::runtime::{RuntimeShared, SharedOptions};
use crate::trace::TraceFile;
use crate::worker::shared_sources::SharedSources;
use log::warn;
use mio::Poll;

use crate::sys::{self, ProcessSignals};
use crate::{Error, Runtime, coordinator, worker};

/// Configures a [`Runtime`]; made by [`Runtime::setup`].
///
/// # Examples
///
/// ```
/// use hearth::Runtime;
///
/// let runtime = Runtime::setup().name("my_app").use_all_cores().auto_cpu_affinity().build()?;
/// # drop(runtime);
/// # Ok::<(), hearth::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a setup does nothing until `build` is called"]
pub struct Setup {
    name: Option<String>,
    threads: usize,
    auto_cpu_affinity: bool,
    grace: Duration,
    stalled_write_limit: Duration,
    grow_heap_ahead: bool,
    stop_signals_end_cleanly: bool,
    trace: Option<std::path::PathBuf>,
}

impl Setup {
    /// Most worker threads a runtime may have.
    pub const MAX_THREADS: usize = 256;
    /// Default grace period of a graceful shutdown.
    pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(5);
    /// Default of [`Setup::stalled_write_limit`].
    pub const DEFAULT_STALLED_WRITE_LIMIT: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> Setup {
        Setup {
            name: None,
            threads: 1,
            auto_cpu_affinity: false,
            grace: Self::DEFAULT_GRACE_PERIOD,
            stalled_write_limit: Self::DEFAULT_STALLED_WRITE_LIMIT,
            grow_heap_ahead: false,
            stop_signals_end_cleanly: false,
            trace: None,
        }
    }

    /// Sets the name of the runtime (default: the name of the program).
    pub fn name<N: Into<String>>(mut self, name: N) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the number of worker threads (default 1). Checked by
    /// [`Setup::build`]: at least 1, at most [`Setup::MAX_THREADS`].
    pub fn num_threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// One worker thread per available CPU core.
    pub fn use_all_cores(mut self) -> Self {
        self.threads = thread::available_parallelism().map_or(1, usize::from);
        self
    }

    /// Pins each worker thread to a CPU of its own: worker `i` to the
    /// `i`-th of the CPUs the building thread may run on (all of the
    /// machine's unless the program was started restricted, e.g. by
    /// `taskset`), round robin when there are more workers than CPUs. A
    /// CPU that cannot be used is logged, not an error; if the system does
    /// not say which CPUs may be used, no worker is pinned (also logged).
    ///
    /// For servers whose workers are busy most of the time: the kernel then
    /// keeps each worker on its CPU instead of moving it next to whichever
    /// thread woke it (see `BENCHMARKS.md`, TCP echo). The price: a pinned
    /// worker cannot move away from a CPU that another program keeps busy.
    pub fn auto_cpu_affinity(mut self) -> Self {
        self.auto_cpu_affinity = true;
        self
    }

    /// Sets how long a graceful shutdown may take before the remaining
    /// actors are stopped (default [`Setup::DEFAULT_GRACE_PERIOD`]).
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sets how long, once a graceful shutdown began, a write to a
    /// connection may wait for room before it fails (default
    /// [`Setup::DEFAULT_STALLED_WRITE_LIMIT`], 1 s).
    ///
    /// A peer that does not read its data fills the socket's buffers, and
    /// a connection actor writing to it would hold the whole shutdown until
    /// the grace period ends. In a stopping runtime such a write fails with
    /// [`io::ErrorKind::TimedOut`](std::io::ErrorKind::TimedOut) after this
    /// long without progress, so the connection ends and the server exits
    /// promptly; a slow peer that still reads is not cut off (each write
    /// that makes progress waits afresh). Writes are never limited while
    /// the runtime runs normally.
    pub fn stalled_write_limit(mut self, limit: Duration) -> Self {
        self.stalled_write_limit = limit;
        self
    }

    /// Makes SIGINT, SIGTERM and SIGQUIT the normal end of the program: the
    /// graceful shutdown they start (when no actor receives signals) ends
    /// with `Ok` from [`Runtime::start`](crate::Runtime::start), so exit
    /// status 0, as a service manager such as systemd expects, instead of
    /// the interrupted error (exit 130) of an unhandled SIGINT. A second
    /// stop signal still stops the runtime at once, and whatever is still
    /// running at the end of the grace period is still an error.
    ///
    /// This is the one-line form of a signal receiver whose only job is to
    /// call `shutdown` on a stop signal.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use hearth::Runtime;
    ///
    /// fn main() -> std::process::ExitCode {
    ///     let runtime = Runtime::setup().stop_signals_end_cleanly().build();
    ///     // ... spawn the server's actors ...
    ///     hearth::exit_code(runtime.and_then(|runtime| runtime.start()))
    /// }
    /// ```
    pub fn stop_signals_end_cleanly(mut self) -> Self {
        self.stop_signals_end_cleanly = true;
        self
    }

    /// Traces the runtime into the file at `path` (created or truncated by
    /// [`Setup::build`]): each run of an actor or future on a worker (when,
    /// how long, its name) and the timer and I/O wake-ups, for a timeline
    /// of what ran where. `hearth trace PATH` (or
    /// [`trace::to_chrome_json`](crate::trace::to_chrome_json)) turns the
    /// file into Chrome's trace-event JSON, which Perfetto shows. Off by
    /// default; the cost when on is in `BENCHMARKS.md`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let runtime = hearth::Runtime::setup().trace("hearth.trace").build()?;
    /// # drop(runtime);
    /// # Ok::<(), hearth::Error>(())
    /// ```
    pub fn trace(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.trace = Some(path.into());
        self
    }

    /// Has each worker thread grow its heap ahead of need while it spawns
    /// processes (off by default: how the heap grows is the application's
    /// allocator policy).
    ///
    /// glibc grows the arena of a thread (every thread but the main one)
    /// by exactly what an allocation lacks, one `mprotect` call per page:
    /// a worker spawning a million small actors makes some 138,000 of
    /// them, a fifth of its time. With this set, every 64 KiB of processes
    /// a worker has glibc's allocator hand out and take back a 96 KiB
    /// block, which grows the arena in one step (6,400 calls for the same
    /// burst; `BENCHMARKS.md` has the figures). It helps workloads that
    /// spawn many actors in bursts, does nothing for a thread on glibc's
    /// main arena, and with another global allocator only grows each
    /// worker's glibc arena once.
    pub fn grow_heap_ahead(mut self) -> Self {
        self.grow_heap_ahead = true;
        self
    }

    /// The number of worker threads set so far.
    pub fn get_threads(&self) -> usize {
        self.threads
    }

    /// Builds the runtime and starts its worker threads.
    ///
    /// # Errors
    ///
    /// An invalid number of threads, or a thread or poll that cannot be
    /// created.
    pub fn build(self) -> Result<Runtime, Error> {
        if self.threads == 0 {
            return Err(Error::setup(
                "the number of worker threads must be at least 1, got 0".to_owned(),
            ));
        }
        if self.threads > Self::MAX_THREADS {
            return Err(Error::setup(format!(
                "the number of worker threads must be at most {}, got {} (use `use_all_cores` for one per core)",
                Self::MAX_THREADS,
                self.threads
            )));
        }
        let name = self.name.unwrap_or_else(default_name);
        // Before any thread starts, so they all inherit the blocked signals.
        let signals = ProcessSignals::new().map_err(Error::signals)?;
        let poll = Poll::new().map_err(Error::coordinator)?;
        let waker =
            mio::Waker::new(poll.registry(), coordinator::WAKER).map_err(Error::coordinator)?;
        let prepared = (1..=self.threads)
            .map(worker::prepare)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::start_worker)?;
        let wakes = prepared.iter().map(worker::Prepared::wake).collect();
        let trace = match &self.trace {
            Some(path) => Some(Arc::new(TraceFile::create(path).map_err(|err| {
                Error::setup(format!(
                    "cannot create the trace file {}: {err}",
                    path.display()
                ))
            })?)),
            None => None,
        };
        let options = SharedOptions {
            stalled_write_limit: self.stalled_write_limit,
            grow_heap_ahead: self.grow_heap_ahead,
            stop_signals_end_cleanly: self.stop_signals_end_cleanly,
            trace,
        };
        let io = SharedSources::new().map_err(Error::shared_poll)?;
        let shared = Arc::new(RuntimeShared::new(name, wakes, waker, io, options));
        let cpus = if self.auto_cpu_affinity {
            allowed_cpus()
        } else {
            Vec::new()
        };
        // Empty: no pinning (not asked for, or the allowed CPUs are unknown).
        let mut workers = Vec::with_capacity(self.threads);
        for (i, prepared) in prepared.into_iter().enumerate() {
            let cpu = (!cpus.is_empty()).then(|| cpus[i % cpus.len()]);
            match worker::start(prepared, shared.clone(), cpu) {
                Ok(handle) => workers.push(handle),
                Err(err) => {
                    // The runtime stops the workers already started.
                    drop(Runtime::from_parts(
                        shared,
                        workers,
                        (poll, signals),
                        self.grace,
                    ));
                    return Err(Error::start_worker(err));
                }
            }
        }
        Ok(Runtime::from_parts(
            shared,
            workers,
            (poll, signals),
            self.grace,
        ))
    }
}

/// The program's name, from its path.
fn default_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "hearth".to_owned())
}

/// The CPUs the workers are pinned to, in order: those the calling thread
/// may run on. Empty (no pinning, with a warning) if the system does not
/// say: pinning to guessed CPUs could leave the set the program was
/// restricted to.
fn allowed_cpus() -> Vec<usize> {
    match sys::allowed_cpus() {
        Ok(cpus) => cpus,
        Err(err) => {
            warn!(error:% = err; "unable to read the CPUs this thread may use, not pinning the worker threads");
            Vec::new()
        }
    }
}
