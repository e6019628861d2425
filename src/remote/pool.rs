//! The pool on its own `mio::Poll`, driven by blocking calls: [`Pool::map`]
//! for outputs in input order, [`Pool::run`] for reports in submission or
//! completion order with a way to stop early, [`Pool::run_raw`] for the
//! jobs' streamed output as it comes (the run loop is `pool/run.rs`). The
//! failure semantics are the engine's (see `engine/mod.rs`): retries on
//! slot failure, final job errors, no job lost, no result delivered twice.

mod each_host;
mod run;
mod signals;

pub use signals::{StopRule, StopStep};

use run::Placement;

use std::fmt;
use std::io;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Signal;
use crate::remote::delivery::{Event, OnEvent};
use crate::remote::engine::{
    ADAPTIVE_MAX, Engine, FailedOutput, Hook, OnSlotLost, Settings, WindowPolicy, after,
    eligible_slots,
};
use crate::remote::feed::{self, Feed, Feeder, Inputs, Source};
use crate::remote::keepalive::KeepAlive;
use crate::remote::stats::PoolStats;
use crate::remote::wire;
use crate::remote::{
    Files, Host, HostState, JobFailure, JobReport, PoolError, PoolMetrics, SlotLost, Target,
    TermSequence, Throttle,
};

/// Builds a [`Pool`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder {
    name: Option<String>,
    hosts: Vec<Host>,
    window: WindowPolicy,
    timeout: Option<Duration>,
    timeout_of_median: Option<f64>,
    max_running: Option<usize>,
    ssh_delay: Option<Duration>,
    handshake_timeout: Duration,
    slot_timeout: Duration,
    max_attempts: u32,
    retries: u32,
    failed_output: Option<FailedOutput>,
    on_slot_lost: Option<OnSlotLost>,
    on_stop_signal: Option<signals::OnStopSignal>,
    stop_rule: StopRule,
    max_frame: usize,
    max_held_bytes: usize,
    env: Vec<(String, String)>,
    throttle: Option<Throttle>,
    base_files: Option<Files>,
    term_sequence: TermSequence,
}

/// The default [`PoolBuilder::slot_timeout`]: 30 s.
pub const DEFAULT_SLOT_TIMEOUT: Duration = Duration::from_secs(30);

impl PoolBuilder {
    /// Adds a host.
    pub fn host(mut self, host: Host) -> Self {
        self.hosts.push(host);
        self
    }

    /// Jobs in flight per slot (pipelining), fixed; at least 1.
    ///
    /// Without it the window of an ssh slot adapts to its link (other
    /// slots keep a window of 1): it starts at 1 and doubles, up to 64,
    /// while the slot runs dry (its last job is
    /// answered while jobs wait, and the round trip the worker then idles
    /// is more than a fifth of what its jobs took), so that a slot over a
    /// long link keeps its worker busy and a slot of long jobs keeps a
    /// small window (a job sent ahead to one slot cannot be taken by
    /// another). The failure semantics are the same either way: a job's
    /// time limit counts from its start, not while it waits in a window.
    pub fn window(mut self, window: usize) -> Self {
        self.window = WindowPolicy::Fixed(window.max(1));
        self
    }

    /// Time limit of one run of a job; none by default. It counts from
    /// when the job starts running: a job waiting in its slot's window
    /// behind others starts when the one before it is answered.
    ///
    /// A job past its limit whose worker still answers has failed on its
    /// own, as if it returned an error: its worker stops it (see
    /// [`term_sequence`](PoolBuilder::term_sequence)), it is reported as
    /// [`JobFailure::TimedOut`], and it runs again only within
    /// [`retries`](PoolBuilder::retries). A worker that does not answer
    /// either is a slot failure (see
    /// [`slot_timeout`](PoolBuilder::slot_timeout)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A time limit that follows the jobs: `percent`% of the median run
    /// time of the jobs that succeeded so far (of the last 999), as GNU
    /// parallel's `--timeout 200%`; none until one succeeded. A job
    /// succeeded when its handler returned a value that
    /// [`failed_output`](PoolBuilder::failed_output) does not call failed.
    /// As the median changes, the running jobs are held to the new limit.
    /// A job past it fails as one past [`timeout`](PoolBuilder::timeout)
    /// does; with both, the smaller limit holds. A percentage that is not
    /// above 0 sets nothing.
    pub fn timeout_of_median(mut self, percent: f64) -> Self {
        self.timeout_of_median = Some(percent);
        self
    }

    /// At most `n` jobs run at once over all the slots (pdsh's fanout:
    /// with one job per host, `n` hosts at a time); the others wait in the
    /// queue, each taken by the first slot with room once a running job
    /// has ended. A slot then takes one job at a time (its window is 1),
    /// so that no job holds room while it waits behind another. The slots
    /// start as jobs need them, at most `n` up at once (as pdsh opens at
    /// most its fanout's connections): a slot starts when a queued job may
    /// run on it and fewer than `n` are up, and an idle slot that no
    /// queued job may run on is closed when another waits for room (it
    /// starts again if a job needs it). At least 1.
    pub fn max_running(mut self, n: usize) -> Self {
        self.max_running = Some(n.max(1));
        self
    }

    /// At most one `ssh` started per `delay` (an ssh host's login, and
    /// each slot's session over it), as GNU parallel's `--ssh-delay`: for
    /// sshd servers or firewalls that refuse connections opened too fast.
    /// By default they start as soon as they are due.
    pub fn ssh_delay(mut self, delay: Duration) -> Self {
        self.ssh_delay = Some(delay).filter(|delay| !delay.is_zero());
        self
    }

    /// How long a slot may go without a word from its worker before it is
    /// dead; default [`DEFAULT_SLOT_TIMEOUT`] (30 s), at least 3 ms.
    ///
    /// The pool pings a slot it has not heard from (or not spoken to) for a
    /// third of this time, and the worker answers at once, even while a
    /// job runs: a slot that is silent for the whole time is a stopped
    /// worker, a frozen host or a cut network. Its jobs go back to the
    /// queue, using an attempt, and it is started again. The worker keeps
    /// the same limit: when it hears nothing from the pool for this long
    /// it ends its job and itself, so a cut-off host keeps no orphans.
    /// (A blocking [`Pool`] keeps pinging from a thread of its own while
    /// its caller is busy between or inside runs.)
    pub fn slot_timeout(mut self, timeout: Duration) -> Self {
        self.slot_timeout = timeout.max(Duration::from_millis(3));
        self
    }

    /// Time a new slot has to answer the handshake; default 30 s (a slow
    /// ssh login must pass).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Attempts per job when its slots fail (the worker exits, falls
    /// silent, breaks the stream); default 3, at least 1. A job whose
    /// attempts all met a failed slot ends with
    /// [`JobFailure::Exhausted`]. A failure of the job's own run is not a
    /// slot failure: see [`retries`](PoolBuilder::retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Runs a job whose own run failed up to `retries` more times, on any
    /// slot, as GNU parallel's `--retries` does; default 0. A run fails on
    /// its own when its handler returns an error or panics, when it passes
    /// its [`timeout`](PoolBuilder::timeout), or when its output is one
    /// [`failed_output`](PoolBuilder::failed_output) calls failed. The last
    /// run's outcome is the job's; [`JobReport::retries`] says how many
    /// runs came before it.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Tells which outputs are failures of the job's own run, for
    /// [`retries`](PoolBuilder::retries): e.g. a command's output that
    /// holds a non-zero exit status. Called on the thread that drives the
    /// pool, with each output while retries are set.
    pub fn failed_output(mut self, failed: impl Fn(&[u8]) -> bool + Send + Sync + 'static) -> Self {
        self.failed_output = Some(Hook(Arc::new(failed)));
        self
    }

    /// Calls `lost` on the thread that drives the pool each time a slot is
    /// lost while it served (its worker exited or fell silent, its stream
    /// went bad), once its jobs went back to the queue: to say so where a
    /// user looks (the pool also logs it, at the `warn` level).
    pub fn on_slot_lost(mut self, lost: impl Fn(&SlotLost) + Send + Sync + 'static) -> Self {
        self.on_slot_lost = Some(Hook(Arc::new(lost)));
        self
    }

    /// Bytes of reports a run in input order may hold back behind a slow
    /// job before it starts no job but that one; default
    /// [`DEFAULT_MAX_HELD_BYTES`]. The jobs already in the slots' windows
    /// still finish and are held too, so the reports held may pass the
    /// bound by what those jobs answer; once the slow job is reported the
    /// others go on. A job that runs for ever holds the run up then as
    /// before: give it a [`timeout`](PoolBuilder::timeout). (A runtime's
    /// pool holds nothing: each job has a future of its own.)
    ///
    /// Streamed output that a [`Pool::run_raw`] holds back (see [`Order`])
    /// stays in memory within the same bound, and goes to temporary files
    /// in `$TMPDIR` (else `/tmp`) past it: no job fails or waits for the
    /// size of its output.
    pub fn max_held_bytes(mut self, bytes: usize) -> Self {
        self.max_held_bytes = bytes;
        self
    }

    /// Makes the pool watch the process's stop signals (SIGINT, SIGTERM,
    /// SIGQUIT) with a runtime's rule: the first drains (the pool starts
    /// no new job, in this run and later ones, and its runs end once the
    /// running jobs are reported, the others reported cancelled), the next
    /// kills its slots. `on_signal` is called with each stop signal, what
    /// it did and the pool's numbers, on the thread that drives the pool
    /// (e.g. to say so on stderr); [`PoolControl::signalled`] tells the
    /// first one afterwards. The signals are seen whenever the pool is
    /// driven: in a run and in [`Pool::shutdown`].
    ///
    /// # Notes
    ///
    /// [`build`](PoolBuilder::build) then blocks these signals for the
    /// calling thread, and every thread started from it afterwards
    /// inherits the block: build the pool on the main thread before other
    /// threads start (as a [`Runtime`](crate::Runtime) is built), or a
    /// signal may reach a thread that does not block it and end the
    /// process. Child processes do not inherit the block.
    pub fn stop_on_signals(
        mut self,
        on_signal: impl Fn(Signal, StopStep, &PoolMetrics) + Send + Sync + 'static,
    ) -> Self {
        self.on_stop_signal = Some(Hook(Arc::new(on_signal)));
        self
    }

    /// Which rule the stop signals follow when the pool watches them
    /// ([`stop_on_signals`](PoolBuilder::stop_on_signals)): a runtime's
    /// (the default) or GNU parallel's, where the first SIGINT, SIGTERM or
    /// SIGQUIT kills the slots at once and SIGHUP drains.
    pub fn stop_rule(mut self, rule: StopRule) -> Self {
        self.stop_rule = rule;
        self
    }

    /// Sets the environment variable `name` to `value` for every job, on
    /// every slot: sent once with each slot's session set-up, and set by
    /// [`JobContext::run_command`](crate::remote::JobContext::run_command)
    /// for its command ([`JobContext::env`](crate::remote::JobContext::env)
    /// lists them for a handler's own code). A name set twice takes the
    /// last value.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.into()));
        self
    }

    /// Holds the jobs of the slots on this machine (hosts with
    /// [`Transport::Local`](crate::remote::Transport::Local)) back while
    /// the machine is loaded or short of memory, as GNU parallel's
    /// `--load` and `--memfree` (see [`Throttle`]); other slots run as
    /// before. Without it (the default) nothing is read or asked before a
    /// job is handed out.
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Files every slot on another machine gets once, before its first
    /// job (GNU parallel's `--basefile`): the files `files` sends
    /// ([`Files::send`]), placed as a job's are (relative to the host's
    /// [`workdir`](crate::remote::Host::workdir) there, or to the worker's
    /// own directory with [`Workdir::Temp`](crate::remote::Workdir::Temp),
    /// whose directories are each job's), over the slot's own connection,
    /// and removed at the pool's end (when it tells its workers to shut
    /// down) if `files` says [`cleanup`](Files::cleanup): not when one slot
    /// ends, since the other slots of its host use them. The slot takes
    /// its first job once they are placed. Slots on this machine share its
    /// files and get nothing. A slot whose worker cannot place them, or
    /// that cannot read them here, is lost for good
    /// ([`SlotFailure::BaseFiles`](crate::remote::SlotFailure::BaseFiles)).
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth::remote::{Files, Pool, Host};
    ///
    /// // The script every job runs, sent once per slot.
    /// let builder = Pool::builder()
    ///     .host(Host::local(2))
    ///     .base_files(Files::new().send("tools/prepare.sh", "prepare.sh"));
    /// # drop(builder);
    /// ```
    pub fn base_files(mut self, files: Files) -> Self {
        self.base_files = (!files.send.is_empty()).then_some(files);
        self
    }

    /// How a job past its [`timeout`](PoolBuilder::timeout) is stopped:
    /// its worker sends the processes of its command
    /// ([`JobContext::run_command`](crate::remote::JobContext::run_command))
    /// each signal of `sequence` and waits after it, until they are gone
    /// (GNU parallel's `--termseq`; by default
    /// `TERM,200,TERM,100,TERM,50,KILL,25`). What they print meanwhile is
    /// the job's output; the job ends as
    /// [`JobFailure::TimedOut`](crate::remote::JobFailure::TimedOut), and
    /// its slot goes on with the next job. A handler that runs no command
    /// sees [`JobContext::is_cancelled`](crate::remote::JobContext::is_cancelled);
    /// one still running a second after the sequence is ended with its
    /// worker, which the pool starts again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hearth::remote::{Host, Pool, TermSequence};
    ///
    /// // Ctrl+C, a second to clean up, then the end.
    /// let sequence: TermSequence = "INT,1000,KILL,25".parse()?;
    /// let builder = Pool::builder()
    ///     .host(Host::local(2))
    ///     .timeout(Duration::from_secs(60))
    ///     .term_sequence(sequence);
    /// # drop(builder);
    /// # Ok::<(), String>(())
    /// ```
    pub fn term_sequence(mut self, sequence: TermSequence) -> Self {
        self.term_sequence = sequence;
        self
    }

    /// Names the pool in logs and metrics; default `pool`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Builds the pool; slots start on the first [`Pool::map`].
    ///
    /// # Errors
    ///
    /// [`PoolError::NoSlots`], [`PoolError::BadHost`] for a host whose
    /// name its transport cannot reach (an ssh host `user@`), or a poll
    /// that cannot be created.
    pub fn build(mut self) -> Result<Pool, PoolError> {
        let poll = Poll::new().map_err(PoolError::Poll)?;
        let (max_held_bytes, slot_timeout) = (self.max_held_bytes, self.slot_timeout);
        // Before any thread of the pool starts: they inherit the block.
        let signals = match self.on_stop_signal.take() {
            Some(on_signal) => {
                let mut watch =
                    signals::Watch::new(on_signal, self.stop_rule).map_err(PoolError::Poll)?;
                poll.registry()
                    .register(&mut watch.signals, SIGNALS, Interest::READABLE)
                    .map_err(PoolError::Poll)?;
                Some(watch)
            }
            None => None,
        };
        let engine = self.into_engine(0, "pool")?;
        let hosts = engine.hosts().to_vec();
        let control = Arc::new(ControlInner {
            waker: Waker::new(poll.registry(), CONTROL).map_err(PoolError::Poll)?,
            stop: AtomicBool::new(false),
            kill: AtomicBool::new(false),
            signalled: OnceLock::new(),
            stats: engine.stats().clone(),
        });
        let engine = Arc::new(Mutex::new(engine));
        let keep_alive = KeepAlive::start(&engine, slot_timeout);
        Ok(Pool {
            poll,
            engine,
            keep_alive: Some(keep_alive),
            hosts,
            events: Events::with_capacity(128),
            control,
            next_tag: 0,
            max_held_bytes,
            signals,
        })
    }

    /// The engine of this pool, its slots on the tokens from `base` on,
    /// named `default_name` unless [`PoolBuilder::name`] was called.
    pub(crate) fn into_engine(
        mut self,
        base: usize,
        default_name: &str,
    ) -> Result<Engine, PoolError> {
        if self.hosts.iter().all(|h| h.slots == 0) {
            return Err(PoolError::NoSlots);
        }
        let mut install = None;
        for host in &mut self.hosts {
            let bad = |why: String| PoolError::BadHost {
                host: host.name.clone(),
                why,
            };
            host.transport.check_host(host.reached_as()).map_err(bad)?;
            if !host.install_worker {
                continue;
            }
            if !matches!(host.transport, crate::remote::Transport::Ssh { .. }) {
                return Err(bad(
                    "only an ssh host installs the worker; give the others its path".to_owned(),
                ));
            }
            if install.is_none() {
                let this = crate::remote::install::Install::this_program().map_err(|err| {
                    bad(format!(
                        "cannot read this program to install it there: {err}"
                    ))
                })?;
                install = Some(Arc::new(this));
            }
            host.install.clone_from(&install);
        }
        let settings = Settings {
            window: self.window,
            timeout: self.timeout,
            timeout_of_median: self.timeout_of_median,
            max_running: self.max_running,
            ssh_delay: self.ssh_delay,
            handshake_timeout: self.handshake_timeout,
            slot_timeout: self.slot_timeout,
            max_attempts: self.max_attempts,
            retries: self.retries,
            failed_output: self.failed_output,
            on_slot_lost: self.on_slot_lost,
            max_frame: self.max_frame,
            env: self.env,
            throttle: self.throttle,
            base_files: self.base_files.map(Arc::new),
            term_sequence: self.term_sequence,
        };
        let name = self.name.unwrap_or_else(|| default_name.to_owned());
        let stats = Arc::new(PoolStats::new(name, &self.hosts));
        Ok(Engine::new(self.hosts, settings, stats, base))
    }
}

/// In which order a run ([`Pool::run`], [`Pool::run_raw`]) hands out
/// the jobs' reports and streamed output.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// In the order of the inputs, job after job: a job's output is handed
    /// on whole when it ends and the jobs before it were handed on, before
    /// its report (as GNU parallel's `--keep-order`). A job whose slot
    /// fails runs again from the start, and only that run's output is
    /// handed on.
    #[default]
    Submission,
    /// As [`Order::Submission`], except that the first job not reported
    /// streams: its output is handed on as it comes (as GNU parallel's
    /// `--keep-order --line-buffer`). Unless the pool runs failed jobs
    /// again ([`PoolBuilder::retries`]: then it too waits for its end), a
    /// job whose slot fails after part of its output was handed on is not
    /// run again ([`JobFailure::OutputCut`]).
    SubmissionLive,
    /// As jobs finish, job after job: a job's output is handed on whole
    /// when it ends, before its report.
    Completion,
    /// Output as it comes, jobs mixed (a chunk at a time), each report as
    /// its job finishes: for output that must not wait, as GNU parallel's
    /// `--line-buffer`. With [`PoolBuilder::retries`], the output of every
    /// run of a job is handed on. For a run without streamed output, the
    /// same as [`Order::Completion`].
    Arrival,
}

/// A pool of persistent worker slots, driven by blocking calls.
///
/// Three ways to run jobs, each on the slots of a [`Target`] (usually
/// [`Target::Any`]) and from the same inputs: [`Pool::map`] returns the
/// outputs; [`Pool::run`] hands each job's report to a callback as jobs
/// end, from a list or a [`Feed`] that fills while the run goes on;
/// [`Pool::run_raw`] also hands on what the jobs stream, as it comes.
///
/// Inside a [`Runtime`](crate::Runtime) use
/// [`Runtime::remote_pool`](crate::Runtime::remote_pool) instead: the
/// coordinator drives the slots and actors await the results.
///
/// # Examples
///
/// ```no_run
/// use hearth::remote::{Host, Pool, Target};
///
/// // The same program is the worker: see `remote::serve`.
/// let mut pool = Pool::builder().host(Host::local(4)).window(8).build()?;
/// let squares: Vec<u64> = pool
///     .map::<u64, u64>(&Target::Any, "square", 1..=100)?
///     .into_iter()
///     .map(|r| r.expect("job failed"))
///     .collect();
/// assert_eq!(squares[1], 4);
/// # Ok::<(), hearth::remote::PoolError>(())
/// ```
pub struct Pool {
    poll: Poll,
    /// Locked by whoever drives it: a run, or the keep-alive thread while
    /// no run does.
    engine: Arc<Mutex<Engine>>,
    keep_alive: Option<KeepAlive>,
    hosts: Vec<Host>,
    events: Events,
    control: Arc<ControlInner>,
    /// The tag of the next job a run submits: tags go on from run to run,
    /// so the late reports of a run that ended early (an error, a panic in
    /// its callback) are told apart and dropped.
    next_tag: usize,
    /// See [`PoolBuilder::max_held_bytes`].
    max_held_bytes: usize,
    /// See [`PoolBuilder::stop_on_signals`].
    signals: Option<signals::Watch>,
}

/// The token of the pool's waker; slots use tokens from 0 up.
const CONTROL: Token = Token(usize::MAX);

/// The token of the stop signals, for a pool that watches them.
const SIGNALS: Token = Token(usize::MAX - 1);

/// Stops a pool's [`Pool::run`] or [`Pool::map`] from another thread, e.g.
/// one that waits for Ctrl+C; made with [`Pool::control`].
#[derive(Clone)]
pub struct PoolControl {
    inner: Arc<ControlInner>,
}

pub(crate) struct ControlInner {
    waker: Waker,
    stop: AtomicBool,
    kill: AtomicBool,
    /// The first stop signal a pool that watches them got.
    signalled: OnceLock<Signal>,
    stats: Arc<PoolStats>,
}

impl ControlInner {
    /// Wakes the pool's poll (a failure leaves it to its next event).
    pub(crate) fn wake(&self) {
        let _ = self.waker.wake();
    }
}

/// Jobs of a run taken from its inputs and not yet reported, at most: in
/// input order, the reports that wait for a slow job before them are held
/// in memory (their bytes bounded by [`PoolBuilder::max_held_bytes`]), and
/// so are the inputs of a feed. (A pool whose slots' windows hold more
/// keeps them full instead.)
pub(crate) const MAX_AHEAD: usize = 4096;

/// Bytes of reports a run in input order holds back behind a slow job, by
/// default, before it runs that job alone (64 MiB); see
/// [`PoolBuilder::max_held_bytes`].
pub const DEFAULT_MAX_HELD_BYTES: usize = 64 * 1024 * 1024;

impl PoolControl {
    /// Starts no new job from now on, for this run and later ones: the
    /// running jobs finish and are reported, the others are reported as
    /// [`JobFailure::Cancelled`].
    pub fn stop_starting(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.wake();
    }

    /// Kills every slot now: the jobs not done are reported as
    /// [`JobFailure::Cancelled`], and the pool runs no job again.
    pub fn kill(&self) {
        self.inner.kill.store(true, Ordering::SeqCst);
        self.inner.wake();
    }

    /// A snapshot of the pool's numbers.
    pub fn metrics(&self) -> PoolMetrics {
        self.inner.stats.snapshot()
    }

    /// The first stop signal the pool got, if it watches them
    /// ([`PoolBuilder::stop_on_signals`]) and got one.
    pub fn signalled(&self) -> Option<Signal> {
        self.inner.signalled.get().copied()
    }
}

impl fmt::Debug for PoolControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolControl")
            .field("pool", &self.inner.stats.name)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// Starts building a pool.
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            name: None,
            hosts: Vec::new(),
            window: WindowPolicy::Adaptive {
                start: 1,
                max: ADAPTIVE_MAX,
            },
            timeout: None,
            timeout_of_median: None,
            max_running: None,
            ssh_delay: None,
            handshake_timeout: Duration::from_secs(30),
            slot_timeout: DEFAULT_SLOT_TIMEOUT,
            max_attempts: 3,
            retries: 0,
            failed_output: None,
            on_slot_lost: None,
            on_stop_signal: None,
            stop_rule: StopRule::Runtime,
            max_frame: wire::DEFAULT_MAX_FRAME,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            env: Vec::new(),
            throttle: None,
            base_files: None,
            term_sequence: TermSequence::default(),
        }
    }

    /// The hosts of the pool.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Runs `handler` once per input on the slots of `target` (usually
    /// [`Target::Any`]) and returns the outputs in input order, each the
    /// output or why there is none. What a job streams is collected into
    /// its report and not returned here: take it with [`Pool::run`] or
    /// [`Pool::run_raw`].
    ///
    /// # Errors
    ///
    /// [`PoolError::NoMatchingHost`] at once if no host matches `target`,
    /// [`PoolError::Encode`] before any job starts if an input does not
    /// encode, [`PoolError::AllSlotsDead`] when some jobs could not run
    /// because every slot that may run them is dead for good; see
    /// [`PoolError`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use hearth::remote::{Host, Pool, Target};
    ///
    /// // The same program is the worker: see `remote::serve`.
    /// let mut pool = Pool::builder().host(Host::local(4)).build()?;
    /// let squares = pool.map::<u64, u64>(&Target::Any, "square", 1..=100)?;
    /// assert_eq!(squares[1], Ok(4));
    /// # Ok::<(), hearth::remote::PoolError>(())
    /// ```
    pub fn map<I, O>(
        &mut self,
        target: &Target,
        handler: &str,
        inputs: impl IntoIterator<Item = I>,
    ) -> Result<Vec<Result<O, JobFailure>>, PoolError>
    where
        I: Serialize,
        O: DeserializeOwned,
    {
        let placement = Placement::One(eligible_slots(&self.hosts, target)?);
        let payloads = encode_all(inputs)?;
        let mut outputs = Vec::with_capacity(payloads.len());
        let source = Source::List(payloads.into_iter().map(|p| (p, None)));
        self.run_source(
            &placement,
            handler,
            source,
            Order::Submission,
            false,
            &mut |event| {
                if let Event::Done { report, .. } = event {
                    outputs.push(report.result);
                }
                ControlFlow::Continue(())
            },
        )?;
        let mut dead_reasons = None;
        let not_run: Vec<usize> = outputs
            .iter()
            .enumerate()
            .filter_map(|(index, output)| match output {
                Err(JobFailure::NotRun { reasons }) => {
                    let _ = dead_reasons.get_or_insert_with(|| reasons.clone());
                    Some(index)
                }
                _ => None,
            })
            .collect();
        match dead_reasons {
            Some(reasons) => Err(PoolError::AllSlotsDead { reasons, not_run }),
            None => Ok(outputs
                .into_iter()
                .map(|output| {
                    output.and_then(|bytes| {
                        postcard::from_bytes(&bytes)
                            .map_err(|err| JobFailure::BadOutput(err.to_string()))
                    })
                })
                .collect()),
        }
    }

    /// Runs `handler` once per input on the slots of `target` (usually
    /// [`Target::Any`]) and calls `on_report` with each job's index and
    /// [`JobReport`], in `order`; what a job streams is collected into its
    /// report (up to the max frame size, see
    /// [`JobFailure::OutputTooLarge`]). When `on_report` breaks, no new
    /// job starts: the running ones finish and are reported, the others
    /// are reported as [`JobFailure::Cancelled`]. Returns once every job
    /// was reported.
    ///
    /// `inputs` is a list or a [`Feed`] (see [`Inputs`]). Jobs are queued
    /// as the slots need them, at most 4096 (or twice what the slots'
    /// windows hold) ahead of the reports: in input order, a slow job
    /// holds back at most that many reports, and once they hold more than
    /// [`max_held_bytes`](PoolBuilder::max_held_bytes) the pool runs that
    /// job alone until it is reported. A feed's inputs are taken while the
    /// run goes on; when `on_report` breaks, the pool is told to stop or
    /// killed, or no slot that may run the jobs is left, the run takes no
    /// more of them (feeders get
    /// [`FeedError::Closed`](crate::remote::FeedError::Closed)).
    ///
    /// # Errors
    ///
    /// [`PoolError::NoMatchingHost`] at once if no host matches `target`,
    /// [`PoolError::ForeignFeed`] for a feed another pool made,
    /// [`PoolError::Encode`] for an input that does not encode (after the
    /// jobs before it), or a failure of the pool's poll. Jobs that cannot
    /// run because their slots are dead are reported as
    /// [`JobFailure::NotRun`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::ops::ControlFlow;
    ///
    /// use hearth::remote::{Host, JobReport, Order, Pool, Target};
    ///
    /// let mut pool = Pool::builder().host(Host::local(4)).build()?;
    /// let (feeder, feed) = pool.feed::<u64>(64);
    /// // Inputs as they come, e.g. from a socket; dropping the feeder ends them.
    /// std::thread::spawn(move || {
    ///     for x in 1..=100 {
    ///         if feeder.send(&x).is_err() {
    ///             break; // the run stopped
    ///         }
    ///     }
    /// });
    /// pool.run(&Target::Any, "square", feed, Order::Submission, |i, report: JobReport<u64>| {
    ///     println!("{i}: {:?}", report.result);
    ///     ControlFlow::Continue(())
    /// })?;
    /// # Ok::<(), hearth::remote::PoolError>(())
    /// ```
    pub fn run<'a, I, O>(
        &mut self,
        target: &Target,
        handler: &str,
        inputs: impl Into<Inputs<'a, I>>,
        order: Order,
        mut on_report: impl FnMut(usize, JobReport<O>) -> ControlFlow<()>,
    ) -> Result<(), PoolError>
    where
        I: Serialize,
        O: DeserializeOwned,
    {
        let inputs = inputs.into();
        self.run_inputs(
            target,
            handler,
            inputs,
            order,
            false,
            &mut |event| match event {
                Event::Done { index, report } => on_report(index, report.decode()),
                Event::Output { .. } | Event::Ended { .. } => ControlFlow::Continue(()),
            },
        )
    }

    /// Runs `handler` once per input on the slots of `target` (usually
    /// [`Target::Any`]) and hands `on_event` each job's streamed output as
    /// it comes ([`Event::Output`], what its handler writes with
    /// [`JobContext::write`](crate::remote::JobContext::write)) and its
    /// report with the output bytes ([`Event::Done`]), in `order`. The
    /// output has no size limit: what waits for its turn (see [`Order`])
    /// stays in memory up to [`max_held_bytes`](PoolBuilder::max_held_bytes)
    /// and in temporary files past it. Inputs, breaking and the end of the
    /// run are as for [`Pool::run`].
    ///
    /// In [`Order::SubmissionLive`] and [`Order::Arrival`], a job's slot
    /// that fails after part of its output was handed on (as it came) does
    /// not run the job again, which would hand that part on twice: the job
    /// ends with [`JobFailure::OutputCut`].
    ///
    /// # Errors
    ///
    /// As [`Pool::run`], and [`PoolError::HeldOutput`] if output cannot be
    /// held in a temporary file.
    pub fn run_raw<'a, I: Serialize>(
        &mut self,
        target: &Target,
        handler: &str,
        inputs: impl Into<Inputs<'a, I>>,
        order: Order,
        mut on_event: impl FnMut(Event<'_>) -> ControlFlow<()>,
    ) -> Result<(), PoolError> {
        self.run_inputs(target, handler, inputs.into(), order, true, &mut on_event)
    }

    /// Makes a feed for a run ([`Pool::run`], [`Pool::run_raw`]): a
    /// [`Feeder`] that any thread may fill while the run goes on, waiting
    /// while `capacity` inputs wait to be taken, and the [`Feed`] to run.
    pub fn feed<I>(&self, capacity: usize) -> (Feeder<I>, Feed<I>) {
        feed::feed(self.control.clone(), capacity)
    }

    /// A run on `inputs`: a feed as it comes, a list encoded as it is
    /// taken (stopping at an input that does not encode).
    fn run_inputs<I: Serialize>(
        &mut self,
        target: &Target,
        handler: &str,
        inputs: Inputs<'_, I>,
        order: Order,
        streamed: bool,
        on_event: &mut OnEvent<'_>,
    ) -> Result<(), PoolError> {
        let placement = Placement::One(eligible_slots(&self.hosts, target)?);
        match inputs {
            Inputs::Feed(feed) => {
                if !feed.is_of(&self.control) {
                    return Err(PoolError::ForeignFeed);
                }
                let source = feed.into_source::<std::iter::Empty<crate::remote::feed::Payload>>();
                self.run_source(&placement, handler, source, order, streamed, on_event)
            }
            Inputs::List(_) | Inputs::WithFiles(_) => {
                let inputs: Box<dyn Iterator<Item = (I, Option<Files>)>> = match inputs {
                    Inputs::List(inputs) => Box::new(inputs.map(|input| (input, None))),
                    Inputs::WithFiles(inputs) => {
                        Box::new(inputs.map(|(input, files)| (input, Some(files))))
                    }
                    Inputs::Feed(_) => Box::new(std::iter::empty()),
                };
                let mut failed = None;
                let payloads =
                    inputs.map_while(|(input, files)| match postcard::to_stdvec(&input) {
                        Ok(payload) => {
                            let files = files.filter(|f| !f.is_empty()).map(Arc::new);
                            Some((payload, files))
                        }
                        Err(err) => {
                            failed = Some(err);
                            None
                        }
                    });
                let source = Source::List(payloads);
                self.run_source(&placement, handler, source, order, streamed, on_event)?;
                failed.map_or(Ok(()), |err| Err(PoolError::Encode(err)))
            }
        }
    }

    /// A handle to stop this pool's runs from another thread.
    pub fn control(&self) -> PoolControl {
        PoolControl {
            inner: self.control.clone(),
        }
    }

    /// What each host is doing.
    pub fn host_states(&self) -> Vec<HostState> {
        self.metrics()
            .hosts
            .into_iter()
            .map(|host| HostState {
                name: host.name,
                tags: host.tags,
                slots: host.slots,
                alive: host.alive,
                dead: host.dead,
                jobs_done: host.jobs_done,
            })
            .collect()
    }

    /// A snapshot of the pool's numbers.
    pub fn metrics(&self) -> PoolMetrics {
        self.control.stats.snapshot()
    }

    /// Sends `SHUTDOWN` to every slot and waits up to `wait` for them to
    /// exit; the rest are killed.
    pub fn shutdown(mut self, wait: Duration) {
        // No pings to slots told to shut down.
        drop(self.keep_alive.take());
        let mut engine = lock(&self.engine);
        engine.drain();
        let deadline = after(Instant::now(), wait);
        loop {
            engine.do_due_work(self.poll.registry());
            if engine.is_closed() || Instant::now() >= deadline {
                break;
            }
            match poll_once(
                &mut self.poll,
                &mut self.events,
                &mut engine,
                Some(deadline),
            ) {
                Ok(false) => {}
                // A stop signal during the shutdown: a second one kills.
                Ok(true) => {
                    drop(engine);
                    self.take_signals();
                    engine = lock(&self.engine);
                    if self.control.kill.load(Ordering::SeqCst) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        // Drop kills what is left.
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        drop(self.keep_alive.take());
        let mut engine = lock(&self.engine);
        engine.kill_all(self.poll.registry());
        // The sruns asked to stop, their grace periods at once.
        engine.finish_stopping();
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// Locks the engine, also one a panicking callback left locked (the
/// engine's state is whole between its calls).
fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls once (up to the engine's next deadline or `limit`) and hands the
/// events to the engine; true if stop signals came (see
/// [`Pool::take_signals`]).
fn poll_once(
    poll: &mut Poll,
    events: &mut Events,
    engine: &mut Engine,
    limit: Option<Instant>,
) -> Result<bool, PoolError> {
    let deadline = match (engine.next_deadline(), limit) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    match poll.poll(events, timeout) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::Interrupted => return Ok(false),
        Err(err) => return Err(PoolError::Poll(err)),
    }
    let mut signalled = false;
    for event in events.iter() {
        match event.token() {
            CONTROL => {}
            SIGNALS => signalled = true,
            token => engine.event(poll.registry(), token.0),
        }
    }
    Ok(signalled)
}

/// Encodes every input with postcard.
pub(crate) fn encode_all<I: Serialize>(
    inputs: impl IntoIterator<Item = I>,
) -> Result<Vec<Vec<u8>>, PoolError> {
    inputs
        .into_iter()
        .map(|input| postcard::to_stdvec(&input).map_err(PoolError::Encode))
        .collect()
}
