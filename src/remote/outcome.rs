//! What a job ends with ([`JobReport`], [`JobFailure`]) and why a pool as a
//! whole fails ([`PoolError`]). Why a slot failed is `failure.rs`'s.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::remote::FailedSlot;
use crate::remote::throttle::Bytes;
use crate::remote::wire::JobError;

/// Why a job has no output.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobFailure {
    /// The job's own code returned an error (or the worker has no handler of
    /// that name): final, not retried.
    Job(JobError),
    /// Every attempt ended in a failure of its slot.
    Exhausted {
        /// The slot of each attempt and why it failed, e.g. `local:2:
        /// worker exited (exit status: 9)`.
        history: Vec<FailedSlot>,
    },
    /// The job ran past its time limit while its worker answered: its own
    /// failure, as a job error is. Its worker stopped it (see
    /// [`PoolBuilder::term_sequence`](crate::remote::PoolBuilder::term_sequence);
    /// a handler that did not stop was killed with its worker, which the
    /// pool starts again) and, past the pool's retries, it is not run
    /// again. What it wrote until it stopped is its output.
    TimedOut {
        /// The time limit.
        after: Duration,
        /// What the job's handler returned once it was stopped, encoded as
        /// its output is (the exit status of a command that trapped the
        /// signal, or the signal that ended it); `None` if it returned
        /// nothing: killed with its worker, or an error.
        returned: Option<Vec<u8>>,
    },
    /// The job was killed because the memory available on the pool's own
    /// machine fell below half of what its
    /// [`Throttle`](crate::remote::Throttle) keeps free, and it was the
    /// youngest job there: its own failure, as a time limit passed is. It
    /// was killed with its slot's worker, which the pool starts again,
    /// and runs again only within the pool's retries.
    LowMemory {
        /// The memory available then, in bytes.
        available: u64,
        /// The memory the throttle keeps free, in bytes.
        floor: u64,
    },
    /// The output did not decode as the expected type.
    BadOutput(String),
    /// The job was not run, or its run was abandoned, because the pool is
    /// stopping (a graceful shutdown, a `map` told to stop, or the pool
    /// dropped). Safe to submit again elsewhere: no result was delivered.
    Cancelled(String),
    /// Every slot that may run the job is dead for good: why each died.
    NotRun {
        /// Each eligible slot and why it died.
        reasons: Vec<FailedSlot>,
    },
    /// The job streamed more output than a collected report holds (the
    /// pool's max frame size, 16 MiB): the rest was dropped. Runs that
    /// take the output as it comes ([`Pool::run_raw`](super::Pool::run_raw))
    /// have no such limit.
    OutputTooLarge {
        /// The most bytes a report holds.
        limit: usize,
    },
    /// The job's slot failed after part of its output had been handed on
    /// as it came: it is not run again, which would hand that part on
    /// twice.
    OutputCut {
        /// The slot and why it failed.
        slot: FailedSlot,
    },
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
                    Joined(history)
                )
            }
            JobFailure::TimedOut { after, .. } => write!(f, "timed out after {after:?}"),
            JobFailure::LowMemory { available, floor } => write!(
                f,
                "killed: this machine had {} of memory available, less than half of the {} \
                 to keep free (--memfree), and this was its youngest job",
                Bytes(*available),
                Bytes(*floor)
            ),
            JobFailure::BadOutput(err) => write!(f, "job output does not decode: {err}"),
            JobFailure::Cancelled(why) => write!(f, "job cancelled: {why}"),
            JobFailure::NotRun { reasons } => write!(
                f,
                "job not run: every slot that may run it is dead ({})",
                Joined(reasons)
            ),
            JobFailure::OutputTooLarge { limit } => write!(
                f,
                "the job's output passed {limit} bytes, the most a collected result holds; \
                 take large outputs as they come (Pool::run_raw)"
            ),
            JobFailure::OutputCut { slot } => write!(
                f,
                "{slot}, after part of the job's output was passed on; not run again, which \
                 would pass that part on twice"
            ),
        }
    }
}

impl StdError for JobFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            JobFailure::Job(err) => Some(err),
            JobFailure::Exhausted { history: slots } | JobFailure::NotRun { reasons: slots } => {
                slots.last().map(|slot| slot as &(dyn StdError + 'static))
            }
            JobFailure::OutputCut { slot } => Some(slot),
            JobFailure::TimedOut { .. }
            | JobFailure::LowMemory { .. }
            | JobFailure::BadOutput(_)
            | JobFailure::Cancelled(_)
            | JobFailure::OutputTooLarge { .. } => None,
        }
    }
}

/// Failed slots displayed one after the other, separated by `; `.
struct Joined<'a>(&'a [FailedSlot]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, slot) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{slot}")?;
        }
        Ok(())
    }
}

/// Error of the pool as a whole.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// The pool has no slots (no host, or hosts with 0 slots).
    NoSlots,
    /// A host's name is not one its transport can reach, e.g. an ssh
    /// host `user@` with no host name or `node1:http` with no port.
    BadHost {
        /// The host's name, as given.
        host: String,
        /// What is wrong with it and how to write it.
        why: String,
    },
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
    Encode(postcard::Error),
    /// Every slot is dead for good.
    AllSlotsDead {
        /// Each slot and why it died.
        reasons: Vec<FailedSlot>,
        /// Indices (in submission order) of the jobs that did not run.
        not_run: Vec<usize>,
    },
    /// The pool's own poll failed.
    Poll(io::Error),
    /// The pool no longer takes jobs: the runtime that ran it has stopped.
    Stopped,
    /// A run ([`Pool::run`](super::Pool::run)) was given a feed another
    /// pool made (its feeders would wake that pool, not this one).
    ForeignFeed,
    /// Streamed output that had to wait for its turn could not be held in
    /// a temporary file (the message names the directory): the run ended
    /// there.
    HeldOutput(io::Error),
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
            PoolError::BadHost { host, why } => write!(f, "bad host {host:?}: {why}"),
            PoolError::NoSlots => {
                f.write_str("remote pool has no slots: give it a host with at least one slot")
            }
            PoolError::Encode(err) => write!(f, "unable to encode a job's input: {err}"),
            PoolError::AllSlotsDead { reasons, not_run } => write!(
                f,
                "every slot of the remote pool is dead ({}); {} job(s) did not run: {:?}",
                Joined(reasons),
                not_run.len(),
                not_run
            ),
            PoolError::Poll(err) => write!(f, "remote pool: polling failed: {err}"),
            PoolError::Stopped => {
                f.write_str("remote pool stopped: the runtime that ran it is shutting down or gone")
            }
            PoolError::ForeignFeed => f.write_str(
                "the feed was made by another pool: make it with `feed` on the pool that runs it",
            ),
            PoolError::HeldOutput(err) => write!(f, "remote pool: {err}"),
        }
    }
}

impl StdError for PoolError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            PoolError::Encode(err) => Some(err),
            PoolError::AllSlotsDead { reasons, .. } => reasons
                .first()
                .map(|slot| slot as &(dyn StdError + 'static)),
            PoolError::Poll(err) | PoolError::HeldOutput(err) => Some(err),
            PoolError::NoSlots
            | PoolError::BadHost { .. }
            | PoolError::NoMatchingHost { .. }
            | PoolError::BadQuery(_)
            | PoolError::Stopped
            | PoolError::ForeignFeed => None,
        }
    }
}

/// The final outcome of one job, with where and how it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobReport<T = Vec<u8>> {
    /// The output, or why there is none.
    pub result: Result<T, JobFailure>,
    /// The host whose slot gave the final answer (`None` if no slot
    /// answered: exhausted, cancelled or not run).
    pub host: Option<String>,
    /// Attempts started, every run and every slot failure together (0 if
    /// the job never reached a slot).
    pub attempts: u32,
    /// Times the job ran again after a failure of its own run (see
    /// [`PoolBuilder::retries`](crate::remote::PoolBuilder::retries)).
    pub retries: u32,
    /// Time from submission to the outcome.
    pub elapsed: Duration,
    /// Time the last attempt ran on its slot (zero if none ran).
    pub run_time: Duration,
    /// The slot that gave the final answer and where its worker runs
    /// (`None` if no slot answered); for a Slurm host, the node Slurm
    /// picked and the job id.
    pub slot: Option<Arc<SlotInfo>>,
    /// What the job's handler streamed on its stdout while it ran
    /// ([`JobContext::write`](crate::remote::JobContext::write)), when the
    /// call collects it: [`Pool::run`](super::Pool::run),
    /// [`Pool::map`](super::Pool::map) and a runtime's pool (at most the
    /// max frame size with stderr, see [`JobFailure::OutputTooLarge`]).
    /// Empty for [`Pool::run_raw`](super::Pool::run_raw), which hands it
    /// out as it comes.
    pub stdout: Vec<u8>,
    /// What it streamed on its stderr, as `stdout`.
    pub stderr: Vec<u8>,
}

/// One slot's worker: which slot it is and where it runs. In a
/// [`JobReport`] (the slot that answered) and in
/// [`HostMetrics::workers`](crate::remote::HostMetrics::workers).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlotInfo {
    /// The pool's name of the slot, `host:N` (N from 1).
    pub label: String,
    /// The name of the slot's host entry in the pool (`host`).
    pub host: String,
    /// The slot's number in the pool, from 1, counting the slots of every
    /// host in the pool's order (GNU parallel's `{%}`): the slots of a
    /// pool of two hosts with 4 slots each are 1 to 8.
    pub number: u32,
    /// The machine the worker runs on: the host name it reported, or for a
    /// Slurm host the node Slurm picked (`SLURMD_NODENAME`).
    pub node: String,
    /// The worker's process id on that machine.
    pub pid: u32,
    /// For a Slurm host, the slot's job id (`1234`), or its step (`1234.7`)
    /// when the slots are steps of one allocation.
    pub slurm_job: Option<String>,
}

impl SlotInfo {
    /// `node`, or `node/job` for a Slurm slot: what `hearth map
    /// --tag-host` shows for a Slurm host.
    pub fn place(&self) -> String {
        match &self.slurm_job {
            Some(job) => format!("{}/{job}", self.node),
            None => self.node.clone(),
        }
    }
}

impl JobReport {
    /// Decodes the output as `T` and leaves the report as it is (for
    /// [`Event::Ended`](crate::remote::Event::Ended), whose report comes
    /// again with [`Event::Done`](crate::remote::Event::Done)): the output,
    /// a decoding error as [`JobFailure::BadOutput`], or the failure.
    ///
    /// # Errors
    ///
    /// The job's failure, or the output that does not decode.
    pub fn peek<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobFailure> {
        match &self.result {
            Ok(bytes) => {
                postcard::from_bytes(bytes).map_err(|err| JobFailure::BadOutput(err.to_string()))
            }
            Err(failure) => Err(failure.clone()),
        }
    }

    /// Decodes the output as `T`; a decoding error becomes
    /// [`JobFailure::BadOutput`].
    pub fn decode<T: serde::de::DeserializeOwned>(self) -> JobReport<T> {
        JobReport {
            result: self.result.and_then(|bytes| {
                postcard::from_bytes(&bytes).map_err(|err| JobFailure::BadOutput(err.to_string()))
            }),
            host: self.host,
            attempts: self.attempts,
            retries: self.retries,
            elapsed: self.elapsed,
            run_time: self.run_time,
            slot: self.slot,
            stdout: self.stdout,
            stderr: self.stderr,
        }
    }
}
