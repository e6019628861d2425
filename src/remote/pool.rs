//! The pool: persistent slots on hosts, one shared queue, results in
//! submission order.
//!
//! This is the pool on its own `mio::Poll`, driven by a blocking call
//! ([`Pool::map`]); its failure semantics are those of the design:
//!
//! - a slot pulls the next job when it has room (its window), so fast hosts
//!   take more;
//! - a transport failure (the process exits, a pipe closes, garbage or an
//!   oversized frame, a job past its timeout, a handshake past its timeout)
//!   kills that slot's process and puts every job it had in flight back in
//!   the queue with one more attempt; past `max_attempts` the job fails
//!   with the history of its attempts;
//! - an error returned by the job's own code is final, never retried;
//! - a dead slot is respawned with back-off; a slot that cannot start
//!   (missing binary, authentication refused, another protocol version, or
//!   five failed starts in a row) is dead for good, and the pool fails only
//!   when every slot is, saying which jobs did not run;
//! - no job is lost and no result is delivered twice.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::{Events, Poll};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::remote::Transport;
use crate::remote::slot::{Slot, Stage, TOKENS_PER_SLOT};
use crate::remote::wire::{self, Frame, JobError, WireError};

/// A host of the pool: a name, how many slots, how to reach it, and tags.
#[derive(Clone, Debug)]
pub struct Host {
    name: String,
    slots: usize,
    transport: Transport,
    tags: Vec<(String, String)>,
}

impl Host {
    /// The local machine, running the current executable (the embedded
    /// default: no ssh, no configuration).
    pub fn local(slots: usize) -> Host {
        Host {
            name: "local".to_owned(),
            slots,
            transport: Transport::local(),
            tags: Vec::new(),
        }
    }

    /// A host reached with `transport`.
    pub fn new(name: impl Into<String>, slots: usize, transport: Transport) -> Host {
        Host {
            name: name.into(),
            slots,
            transport,
            tags: Vec::new(),
        }
    }

    /// Adds a tag, e.g. `("role", "db")`.
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Host {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// The host's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's tags.
    pub fn tags(&self) -> &[(String, String)] {
        &self.tags
    }
}

/// Where the jobs of a [`Pool::map_on`] call may run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Any slot.
    Any,
    /// The slots of the host of this name.
    Host(String),
    /// The slots of the hosts that have every one of these tags.
    Tags(Vec<(String, String)>),
}

impl Target {
    /// Parses a tag query, `key=value,key=value`.
    ///
    /// # Errors
    ///
    /// [`PoolError::BadQuery`] if a part has no `=` or an empty key.
    pub fn tags(query: &str) -> Result<Target, PoolError> {
        query
            .split(',')
            .map(|part| match part.trim().split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => {
                    Ok((key.trim().to_owned(), value.trim().to_owned()))
                }
                _ => Err(PoolError::BadQuery(query.to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Target::Tags)
    }

    fn matches(&self, host: &Host) -> bool {
        match self {
            Target::Any => true,
            Target::Host(name) => host.name == *name,
            Target::Tags(tags) => tags.iter().all(|tag| host.tags.contains(tag)),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Any => f.write_str("any host"),
            Target::Host(name) => write!(f, "host {name:?}"),
            Target::Tags(tags) => {
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "tags {}", tags.join(","))
            }
        }
    }
}

/// What a host of the pool is doing, see [`Pool::host_states`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostState {
    /// The host's name.
    pub name: String,
    /// The host's tags.
    pub tags: Vec<(String, String)>,
    /// Slots of the host.
    pub slots: usize,
    /// Slots that completed their handshake and take jobs.
    pub alive: usize,
    /// Slots dead for good.
    pub dead: usize,
    /// Jobs this host answered (outputs and job errors).
    pub jobs_done: usize,
}

/// Why a job has no output.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobFailure {
    /// The job's own code returned an error (or the worker has no handler of
    /// that name): final, not retried.
    Job(JobError),
    /// Every attempt ended in a transport failure; one line per attempt.
    Exhausted {
        /// What happened at each attempt, e.g. `local:2: job timed out after 1s`.
        history: Vec<String>,
    },
    /// The output did not decode as the expected type.
    BadOutput(String),
}

impl fmt::Display for JobFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobFailure::Job(err) => write!(f, "{err}"),
            JobFailure::Exhausted { history } => {
                write!(
                    f,
                    "no attempt succeeded ({} attempts): {}",
                    history.len(),
                    history.join("; ")
                )
            }
            JobFailure::BadOutput(err) => write!(f, "job output does not decode: {err}"),
        }
    }
}

impl std::error::Error for JobFailure {}

/// Error of the pool as a whole.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// The pool has no slots (no host, or hosts with 0 slots).
    NoSlots,
    /// No host is named like, or tagged as, the jobs' target.
    NoMatchingHost {
        /// The target, as given.
        target: String,
        /// The pool's hosts with their tags.
        hosts: Vec<String>,
    },
    /// A tag query is not of the form `key=value,key=value`.
    BadQuery(String),
    /// A job's input could not be encoded.
    Encode(String),
    /// Every slot is dead for good.
    AllSlotsDead {
        /// Why each slot died, `host:slot: reason`.
        reasons: Vec<String>,
        /// Indices (in submission order) of the jobs that did not run.
        not_run: Vec<usize>,
    },
    /// The pool's own poll failed.
    Poll(io::Error),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::NoMatchingHost { target, hosts } => write!(
                f,
                "no host matches {target}; the pool's hosts are: {}",
                hosts.join(", ")
            ),
            PoolError::BadQuery(query) => write!(
                f,
                "bad tag query {query:?}: expected key=value pairs separated by commas, e.g. role=db,zone=a"
            ),
            PoolError::NoSlots => {
                f.write_str("remote pool has no slots: give it a host with at least one slot")
            }
            PoolError::Encode(err) => write!(f, "unable to encode a job's input: {err}"),
            PoolError::AllSlotsDead { reasons, not_run } => write!(
                f,
                "every slot of the remote pool is dead ({}); {} job(s) did not run: {:?}",
                reasons.join("; "),
                not_run.len(),
                not_run
            ),
            PoolError::Poll(err) => write!(f, "remote pool: polling failed: {err}"),
        }
    }
}

impl std::error::Error for PoolError {}

/// Builds a [`Pool`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder {
    hosts: Vec<Host>,
    window: usize,
    timeout: Option<Duration>,
    handshake_timeout: Duration,
    max_attempts: u32,
    max_frame: usize,
}

impl PoolBuilder {
    /// Adds a host.
    pub fn host(mut self, host: Host) -> Self {
        self.hosts.push(host);
        self
    }

    /// Jobs in flight per slot (pipelining); default 1, at least 1.
    pub fn window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// Time limit of one attempt of a job; none by default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Time a new slot has to answer the handshake; default 30 s (a slow
    /// ssh login must pass).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Attempts per job before it fails; default 3, at least 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Builds the pool; slots start on the first [`Pool::map`].
    ///
    /// # Errors
    ///
    /// [`PoolError::NoSlots`], or a poll that cannot be created.
    pub fn build(self) -> Result<Pool, PoolError> {
        let mut slots = Vec::new();
        for (host, h) in self.hosts.iter().enumerate() {
            for index in 1..=h.slots {
                slots.push(SlotEntry {
                    host,
                    label: format!("{}:{index}", h.name),
                    slot: None,
                    respawn_at: Some(Instant::now()),
                    failed_starts: 0,
                    dead: None,
                });
            }
        }
        if slots.is_empty() {
            return Err(PoolError::NoSlots);
        }
        let settings = Settings {
            window: self.window,
            timeout: self.timeout,
            handshake_timeout: self.handshake_timeout,
            max_attempts: self.max_attempts,
            max_frame: self.max_frame,
        };
        Ok(Pool {
            poll: Poll::new().map_err(PoolError::Poll)?,
            hosts: self.hosts,
            slots,
            settings,
            jobs_done: Vec::new(),
        })
    }
}

struct Settings {
    window: usize,
    timeout: Option<Duration>,
    handshake_timeout: Duration,
    max_attempts: u32,
    max_frame: usize,
}

/// A slot's place in the pool, alive or not.
struct SlotEntry {
    host: usize,
    label: String,
    slot: Option<Slot>,
    /// When to start (again).
    respawn_at: Option<Instant>,
    /// Failed starts in a row (before a handshake completed).
    failed_starts: u32,
    /// Set when the slot is dead for good: why.
    dead: Option<String>,
}

/// Starts after this many failed starts in a row make a slot dead for good.
const MAX_FAILED_STARTS: u32 = 5;

/// A pool of persistent worker slots.
///
/// # Examples
///
/// ```no_run
/// use hearth::remote::{Host, Pool};
///
/// // The same program is the worker: see `remote::serve`.
/// let mut pool = Pool::builder().host(Host::local(4)).window(8).build()?;
/// let squares: Vec<u64> = pool
///     .map::<u64, u64>("square", 1..=100)?
///     .into_iter()
///     .map(|r| r.expect("job failed"))
///     .collect();
/// assert_eq!(squares[1], 4);
/// # Ok::<(), hearth::remote::PoolError>(())
/// ```
pub struct Pool {
    poll: Poll,
    hosts: Vec<Host>,
    slots: Vec<SlotEntry>,
    settings: Settings,
    /// Jobs answered, per host.
    jobs_done: Vec<usize>,
}

/// A job of a `map` call.
struct Job {
    payload: Vec<u8>,
    attempts: u32,
    history: Vec<String>,
    result: Option<Result<Vec<u8>, JobFailure>>,
}

impl Pool {
    /// Starts building a pool.
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            hosts: Vec::new(),
            window: 1,
            timeout: None,
            handshake_timeout: Duration::from_secs(30),
            max_attempts: 3,
            max_frame: wire::DEFAULT_MAX_FRAME,
        }
    }

    /// The hosts of the pool.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Runs `handler` once per input and returns the outputs in input
    /// order, each the output or why there is none.
    ///
    /// # Errors
    ///
    /// When the pool as a whole fails, see [`PoolError`].
    pub fn map<I, O>(
        &mut self,
        handler: &str,
        inputs: impl IntoIterator<Item = I>,
    ) -> Result<Vec<Result<O, JobFailure>>, PoolError>
    where
        I: Serialize,
        O: DeserializeOwned,
    {
        self.map_on(&Target::Any, handler, inputs)
    }

    /// [`Pool::map`], with the jobs limited to the slots of `target`.
    ///
    /// # Errors
    ///
    /// [`PoolError::NoMatchingHost`] at once if no host matches; otherwise
    /// as [`Pool::map`].
    pub fn map_on<I, O>(
        &mut self,
        target: &Target,
        handler: &str,
        inputs: impl IntoIterator<Item = I>,
    ) -> Result<Vec<Result<O, JobFailure>>, PoolError>
    where
        I: Serialize,
        O: DeserializeOwned,
    {
        let payloads = inputs
            .into_iter()
            .map(|input| {
                postcard::to_stdvec(&input).map_err(|err| PoolError::Encode(err.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = self.map_raw_on(target, handler, payloads)?;
        Ok(outputs
            .into_iter()
            .map(|output| {
                output.and_then(|bytes| {
                    postcard::from_bytes(&bytes)
                        .map_err(|err| JobFailure::BadOutput(err.to_string()))
                })
            })
            .collect())
    }

    /// What each host is doing.
    pub fn host_states(&self) -> Vec<HostState> {
        self.hosts
            .iter()
            .enumerate()
            .map(|(index, host)| {
                let slots = self.slots.iter().filter(|e| e.host == index);
                HostState {
                    name: host.name.clone(),
                    tags: host.tags.clone(),
                    slots: host.slots,
                    alive: slots
                        .clone()
                        .filter(|e| e.slot.as_ref().is_some_and(|s| s.stage == Stage::Ready))
                        .count(),
                    dead: slots.filter(|e| e.dead.is_some()).count(),
                    jobs_done: self.jobs_done.get(index).copied().unwrap_or(0),
                }
            })
            .collect()
    }

    /// [`Pool::map`] on encoded payloads.
    ///
    /// # Errors
    ///
    /// When the pool as a whole fails, see [`PoolError`].
    pub fn map_raw(
        &mut self,
        handler: &str,
        payloads: Vec<Vec<u8>>,
    ) -> Result<Vec<Result<Vec<u8>, JobFailure>>, PoolError> {
        self.map_raw_on(&Target::Any, handler, payloads)
    }

    /// [`Pool::map_on`] on encoded payloads.
    ///
    /// # Errors
    ///
    /// See [`Pool::map_on`].
    pub fn map_raw_on(
        &mut self,
        target: &Target,
        handler: &str,
        payloads: Vec<Vec<u8>>,
    ) -> Result<Vec<Result<Vec<u8>, JobFailure>>, PoolError> {
        let eligible: Vec<bool> = self
            .slots
            .iter()
            .map(|e| target.matches(&self.hosts[e.host]))
            .collect();
        if !eligible.contains(&true) {
            let hosts = self
                .hosts
                .iter()
                .map(|h| {
                    if h.tags.is_empty() {
                        h.name.clone()
                    } else {
                        format!("{} ({})", h.name, Target::Tags(h.tags.clone()))
                    }
                })
                .collect();
            return Err(PoolError::NoMatchingHost {
                target: target.to_string(),
                hosts,
            });
        }
        self.jobs_done.resize(self.hosts.len(), 0);
        let mut jobs: Vec<Job> = payloads
            .into_iter()
            .map(|payload| Job {
                payload,
                attempts: 0,
                history: Vec::new(),
                result: None,
            })
            .collect();
        let mut queue: VecDeque<usize> = (0..jobs.len()).collect();
        let mut done = 0;
        let mut events = Events::with_capacity(128);
        let mut frames = Vec::new();
        while done < jobs.len() {
            let now = Instant::now();
            self.start_slots(now);
            for (index, failure) in
                self.dispatch(handler, &eligible, &mut jobs, &mut queue, &mut done, now)
            {
                self.fail_slot(index, failure, &mut jobs, &mut queue, &mut done);
            }
            if done == jobs.len() {
                break;
            }
            if self
                .slots
                .iter()
                .zip(&eligible)
                .all(|(entry, eligible)| !eligible || entry.dead.is_some())
            {
                let reasons = self
                    .slots
                    .iter()
                    .zip(&eligible)
                    .filter(|(_, eligible)| **eligible)
                    .map(|(entry, _)| entry)
                    .map(|e| format!("{}: {}", e.label, e.dead.clone().unwrap_or_default()))
                    .collect();
                let not_run = jobs
                    .iter()
                    .enumerate()
                    .filter(|(_, j)| j.result.is_none())
                    .map(|(i, _)| i)
                    .collect();
                return Err(PoolError::AllSlotsDead { reasons, not_run });
            }
            let timeout = self
                .next_deadline()
                .map(|deadline| deadline.saturating_duration_since(now));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(PoolError::Poll(err)),
            }
            for event in events.iter() {
                let (index, kind) = (
                    event.token().0 / TOKENS_PER_SLOT,
                    event.token().0 % TOKENS_PER_SLOT,
                );
                let Some(slot) = self.slots.get_mut(index).and_then(|e| e.slot.as_mut()) else {
                    continue;
                };
                let failure = match kind {
                    0 => match slot.read_frames(&mut frames) {
                        Ok(eof) => {
                            let mut failure = None;
                            for frame in frames.drain(..) {
                                if let Err(reason) =
                                    self.handle_frame(index, frame, handler, &mut jobs, &mut done)
                                {
                                    failure = Some(reason);
                                    break;
                                }
                            }
                            failure.or_else(|| eof.then(|| Failure::retry("worker exited")))
                        }
                        Err(err) => Some(Failure::from_wire(err)),
                    },
                    1 => {
                        slot.drain_stderr();
                        None
                    }
                    _ => slot
                        .flush()
                        .err()
                        .map(|err| Failure::retry(format!("writing to the worker: {err}"))),
                };
                if let Some(failure) = failure {
                    self.fail_slot(index, failure, &mut jobs, &mut queue, &mut done);
                }
            }
            self.check_timeouts(&mut jobs, &mut queue, &mut done);
        }
        Ok(jobs
            .into_iter()
            .map(|job| {
                job.result.unwrap_or(Err(JobFailure::Exhausted {
                    history: job.history,
                }))
            })
            .collect())
    }

    /// Starts the slots whose (re)start time has come.
    fn start_slots(&mut self, now: Instant) {
        for (index, entry) in self.slots.iter_mut().enumerate() {
            if entry.slot.is_some()
                || entry.dead.is_some()
                || entry.respawn_at.is_none_or(|at| at > now)
            {
                continue;
            }
            entry.respawn_at = None;
            let host = &self.hosts[entry.host];
            let deadline = now + self.settings.handshake_timeout;
            match Slot::spawn(
                &host.transport,
                &host.name,
                entry.label.clone(),
                self.poll.registry(),
                index * TOKENS_PER_SLOT,
                deadline,
                self.settings.max_frame,
            ) {
                Ok(slot) => {
                    debug!(slot:% = entry.label, transport:% = host.transport; "slot started");
                    entry.slot = Some(slot);
                }
                Err(err) => {
                    let reason = format!("cannot start worker ({}): {err}", host.transport);
                    warn!(slot:% = entry.label; "{reason}");
                    entry.dead = Some(reason);
                }
            }
        }
    }

    /// Gives queued jobs to ready slots with room; returns the slots whose
    /// pipe failed while writing (a transport failure).
    fn dispatch(
        &mut self,
        handler: &str,
        eligible: &[bool],
        jobs: &mut [Job],
        queue: &mut VecDeque<usize>,
        done: &mut usize,
        now: Instant,
    ) -> Vec<(usize, Failure)> {
        let mut broken = Vec::new();
        for (index, entry) in self.slots.iter_mut().enumerate() {
            let Some(slot) = entry.slot.as_mut().filter(|_| eligible[index]) else {
                continue;
            };
            let mut queued = false;
            while slot.stage == Stage::Ready && slot.in_flight.len() < self.settings.window {
                let Some(job) = queue.pop_front() else { break };
                let frame = Frame::Job {
                    id: job as u64,
                    handler: handler.to_owned(),
                    payload: jobs[job].payload.clone(),
                };
                match slot.queue(&frame) {
                    Ok(()) => {
                        jobs[job].attempts += 1;
                        slot.in_flight
                            .push((job, self.settings.timeout.map(|t| now + t)));
                        queued = true;
                    }
                    // Too large to send: a problem of the job, not of the
                    // slot, and final.
                    Err(err) => {
                        jobs[job].result = Some(Err(JobFailure::Job(JobError::new(
                            wire::JobErrorKind::BadPayload,
                            err.to_string(),
                        ))));
                        *done += 1;
                    }
                }
            }
            // One write for the whole batch.
            if queued && let Err(err) = slot.flush() {
                broken.push((
                    index,
                    Failure::retry(format!("writing to the worker: {err}")),
                ));
            }
        }
        broken
    }

    /// Handles one frame from slot `index`; an error is a transport failure.
    fn handle_frame(
        &mut self,
        index: usize,
        frame: Frame,
        handler: &str,
        jobs: &mut [Job],
        done: &mut usize,
    ) -> Result<(), Failure> {
        let entry = &mut self.slots[index];
        let Some(slot) = entry.slot.as_mut() else {
            return Ok(());
        };
        match (slot.stage, frame) {
            (Stage::Hello(_), Frame::HelloAck { version, host, pid }) => {
                if version != u32::from(wire::VERSION) {
                    return Err(Failure::permanent(format!(
                        "protocol version mismatch: this side speaks version {}, the worker version {version}; \
                         run the same version of hearth on both ends",
                        wire::VERSION
                    )));
                }
                debug!(slot:% = slot.label, host:% = host, pid = pid; "slot handshake done");
                slot.remote = Some((host, pid));
                let deadline = Instant::now() + self.settings.handshake_timeout;
                slot.stage = Stage::Session(deadline);
                let init = Frame::SessionInit {
                    handlers: vec![handler.to_owned()],
                    config: Vec::new(),
                };
                slot.send(&init).map_err(Failure::from_wire)
            }
            (Stage::Session(_), Frame::SessionAck { .. }) => {
                slot.stage = Stage::Ready;
                entry.failed_starts = 0;
                Ok(())
            }
            (Stage::Ready, Frame::Result { id, outcome }) => {
                let Some(pos) = slot.in_flight.iter().position(|(job, _)| *job as u64 == id) else {
                    return Err(Failure::retry(format!(
                        "result for job {id}, which this slot does not run"
                    )));
                };
                let (job, _) = slot.in_flight.swap_remove(pos);
                if jobs[job].result.is_none() {
                    jobs[job].result = Some(outcome.map_err(JobFailure::Job));
                    if let Some(count) = self.jobs_done.get_mut(entry.host) {
                        *count += 1;
                    }
                    *done += 1;
                }
                Ok(())
            }
            (_, frame) => Err(Failure::retry(format!(
                "unexpected {} from the worker",
                frame.name()
            ))),
        }
    }

    /// Kills the slot's process, puts its jobs back, and plans a restart.
    fn fail_slot(
        &mut self,
        index: usize,
        failure: Failure,
        jobs: &mut [Job],
        queue: &mut VecDeque<usize>,
        done: &mut usize,
    ) {
        let entry = &mut self.slots[index];
        let Some(mut slot) = entry.slot.take() else {
            return;
        };
        let handshaken = slot.stage == Stage::Ready;
        let status = slot.kill(self.poll.registry());
        let mut reason = failure.reason;
        let mut permanent = failure.permanent;
        if !handshaken {
            // How the process ended tells whether trying again can help.
            match status.and_then(|s| s.code()) {
                Some(code @ (126 | 127)) => {
                    permanent = true;
                    reason = format!(
                        "worker binary missing or not executable (exit {code}): {}",
                        self.hosts[entry.host].transport
                    );
                }
                Some(255)
                    if slot
                        .stderr_tail
                        .iter()
                        .any(|l| l.contains("Permission denied")) =>
                {
                    permanent = true;
                    reason = format!("authentication refused: {}", slot.stderr_tail.join(" | "));
                }
                _ => {}
            }
            if let Some(last) = slot.stderr_tail.last()
                && !reason.contains(last.as_str())
            {
                reason = format!("{reason} (stderr: {last})");
            }
        }
        warn!(slot:% = entry.label, jobs = slot.in_flight.len(); "slot failed: {reason}");
        for (job, _) in slot.in_flight.drain(..) {
            let job_state = &mut jobs[job];
            job_state.history.push(format!("{}: {reason}", entry.label));
            if job_state.result.is_some() {
                continue;
            }
            if job_state.attempts >= self.settings.max_attempts {
                job_state.result = Some(Err(JobFailure::Exhausted {
                    history: job_state.history.clone(),
                }));
                *done += 1;
            } else {
                queue.push_front(job);
            }
        }
        if !handshaken {
            entry.failed_starts += 1;
        }
        if permanent || entry.failed_starts >= MAX_FAILED_STARTS {
            info!(slot:% = entry.label; "slot dead for good: {reason}");
            entry.dead = Some(reason);
        } else {
            entry.respawn_at = Some(Instant::now() + backoff(entry.failed_starts, index));
        }
    }

    /// Fails slots whose handshake or job is past its deadline.
    fn check_timeouts(&mut self, jobs: &mut [Job], queue: &mut VecDeque<usize>, done: &mut usize) {
        let now = Instant::now();
        for index in 0..self.slots.len() {
            let Some(slot) = self.slots[index].slot.as_ref() else {
                continue;
            };
            let failure = match slot.stage {
                Stage::Hello(deadline) | Stage::Session(deadline) if deadline <= now => {
                    Some(Failure::retry(format!(
                        "no handshake within {:?}",
                        self.settings.handshake_timeout
                    )))
                }
                _ => slot
                    .in_flight
                    .iter()
                    .find(|(_, deadline)| deadline.is_some_and(|d| d <= now))
                    .map(|(job, _)| {
                        Failure::retry(format!(
                            "job {job} timed out after {:?}",
                            self.settings.timeout.unwrap_or_default()
                        ))
                    }),
            };
            if let Some(failure) = failure {
                self.fail_slot(index, failure, jobs, queue, done);
            }
        }
    }

    /// The earliest deadline the loop must wake up for.
    fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flat_map(|entry| {
                let slot = entry.slot.as_ref();
                let stage = slot.and_then(|s| match s.stage {
                    Stage::Hello(d) | Stage::Session(d) => Some(d),
                    Stage::Ready => None,
                });
                let jobs = slot
                    .into_iter()
                    .flat_map(|s| s.in_flight.iter().filter_map(|(_, d)| *d));
                stage
                    .into_iter()
                    .chain(jobs)
                    .chain(entry.respawn_at.filter(|_| entry.dead.is_none()))
            })
            .min()
    }

    /// Sends `SHUTDOWN` to every slot and waits up to `wait` for them to
    /// exit; the rest are killed.
    pub fn shutdown(mut self, wait: Duration) {
        for entry in &mut self.slots {
            if let Some(slot) = entry.slot.as_mut() {
                let _ = slot.send(&Frame::Shutdown);
                slot.close_stdin();
            }
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline
            && self
                .slots
                .iter_mut()
                .any(|e| e.slot.as_mut().is_some_and(|s| !s.try_reap()))
        {
            let mut events = Events::with_capacity(16);
            // Their stdout closing wakes the poll; the timeout bounds it.
            let _ = self.poll.poll(&mut events, Some(Duration::from_millis(10)));
            for entry in &mut self.slots {
                if let Some(slot) = entry.slot.as_mut() {
                    slot.drain_stderr();
                }
            }
        }
        // Drop kills what is left.
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for entry in &mut self.slots {
            if let Some(mut slot) = entry.slot.take() {
                let _ = slot.kill(self.poll.registry());
            }
        }
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("hosts", &self.hosts)
            .field("slots", &self.slots.len())
            .finish()
    }
}

/// A transport failure of a slot.
struct Failure {
    reason: String,
    permanent: bool,
}

impl Failure {
    fn retry(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            permanent: false,
        }
    }

    fn permanent(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            permanent: true,
        }
    }

    fn from_wire(err: WireError) -> Failure {
        match err {
            WireError::VersionMismatch { .. } => Failure::permanent(err.to_string()),
            err => Failure::retry(err.to_string()),
        }
    }
}

/// Back-off before restarting a slot: 100 ms doubling per failed start, at
/// most 5 s, plus up to 25% jitter (from the slot index and the clock) so
/// slots of one host do not all reconnect at once.
fn backoff(failed_starts: u32, index: usize) -> Duration {
    let base = Duration::from_millis(100)
        .saturating_mul(1 << failed_starts.min(6))
        .min(Duration::from_secs(5));
    let nanos =
        Instant::now().elapsed().subsec_nanos() as usize ^ index.wrapping_mul(2_654_435_761);
    let jitter = base.mul_f64((nanos % 1000) as f64 / 4000.0);
    base + jitter
}
