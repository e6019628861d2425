//! [`RemotePool`]: the handle through which actors use a pool that the
//! runtime's coordinator drives.
//!
//! Submissions go into a mutex-guarded list and wake the coordinator (only
//! the first submission of a batch makes the wake-up system call); the
//! coordinator moves them into the pool's engine on its own thread. The
//! outcome comes back as the value of a [`JobFuture`] or as a message to
//! an actor ([`RemotePool::submit_to`]).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{self, Poll};
use std::time::Duration;

use log::debug;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ActorRef;
use crate::actor_ref::TrySendError;
use crate::actor_ref::rpc::{ResponseFuture, new_call};
use crate::remote::engine::eligible_slots;
use crate::remote::stats::PoolStats;
use crate::remote::{Host, JobFailure, JobReport, PoolError, PoolMetrics, Target};
use crate::runtime::{FutureOptions, ThreadSafe};

/// A job on its way from an actor to the coordinator.
pub(crate) struct Submission {
    pub(crate) eligible: Vec<bool>,
    pub(crate) handler: Arc<str>,
    pub(crate) payload: Vec<u8>,
    pub(crate) reply: Box<dyn FnOnce(JobReport) + Send>,
}

/// What the handles and the coordinator share of one pool.
pub(crate) struct PoolShared {
    hosts: Vec<Host>,
    inbox: Mutex<Inbox>,
    runtime: ThreadSafe,
    stats: Arc<PoolStats>,
}

#[derive(Default)]
struct Inbox {
    submissions: Vec<Submission>,
    /// The pool takes no more jobs.
    closed: bool,
}

impl PoolShared {
    pub(crate) fn new(hosts: Vec<Host>, runtime: ThreadSafe, stats: Arc<PoolStats>) -> Self {
        PoolShared {
            hosts,
            inbox: Mutex::new(Inbox::default()),
            runtime,
            stats,
        }
    }

    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The submissions since the last call (coordinator side).
    pub(crate) fn take_submissions(&self) -> Vec<Submission> {
        std::mem::take(&mut self.inbox().submissions)
    }

    /// Refuses jobs from now on; returns the ones not yet taken, to be
    /// cancelled by the caller.
    pub(crate) fn close(&self) -> Vec<Submission> {
        let mut inbox = self.inbox();
        inbox.closed = true;
        std::mem::take(&mut inbox.submissions)
    }
}

/// A handle to a remote pool run by a [`Runtime`](crate::Runtime)'s
/// coordinator, made with
/// [`Runtime::remote_pool`](crate::Runtime::remote_pool).
///
/// Cheap to clone; `Send` and `Sync`: any actor, thread-local, thread-safe
/// or sync, can submit jobs. Each job's outcome is a [`JobFuture`] to
/// await ([`call`](RemotePool::call)) or a [`JobDone`] message to an actor
/// ([`submit_to`](RemotePool::submit_to)).
///
/// On the runtime's graceful shutdown (SIGINT, SIGTERM or a `shutdown`
/// call) the pool takes no new jobs and cancels the queued ones
/// ([`JobFailure::Cancelled`]); the jobs running on slots finish, then
/// every slot gets `SHUTDOWN` and the coordinator waits for the processes
/// to exit (within the grace period). A second signal kills them.
#[derive(Clone)]
pub struct RemotePool {
    shared: Arc<PoolShared>,
}

/// The outcome of a job submitted with [`RemotePool::submit_to`], as a
/// message.
#[derive(Debug)]
#[non_exhaustive]
pub struct JobDone<O> {
    /// The tag given at submission, to tell jobs apart.
    pub tag: u64,
    /// The outcome.
    pub report: JobReport<O>,
}

impl RemotePool {
    pub(crate) fn new(shared: Arc<PoolShared>) -> RemotePool {
        RemotePool { shared }
    }

    /// Runs `handler` on `input` on any slot; the future resolves to the
    /// output or why there is none.
    pub fn call<I, O>(&self, handler: &str, input: &I) -> JobFuture<O>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        match self.call_on(&Target::Any, handler, input) {
            Ok(future) => future,
            Err(err) => JobFuture::failed(JobFailure::Cancelled(err.to_string())),
        }
    }

    /// Runs `handler` on `input` on a slot of `target`.
    ///
    /// # Errors
    ///
    /// At once: [`PoolError::NoMatchingHost`] if no host matches `target`,
    /// [`PoolError::Encode`] if the input does not encode.
    pub fn call_on<I, O>(
        &self,
        target: &Target,
        handler: &str,
        input: &I,
    ) -> Result<JobFuture<O>, PoolError>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let (msg, response) = new_call::<(), JobReport>(());
        let reply = Box::new(move |report: JobReport| {
            // The caller may have stopped waiting: nothing to do then.
            let _ = msg.response.respond(report);
        });
        self.submit_raw(target, handler, input, reply)?;
        Ok(JobFuture {
            state: FutureState::Waiting(response),
            output: PhantomData,
        })
    }

    /// Runs `handler` on `input` on a slot of `target` and sends the
    /// outcome to `to` as a [`JobDone`] carrying `tag`. A full inbox makes
    /// the delivery wait (on a worker, not on the coordinator); an actor
    /// that stopped does not get it.
    ///
    /// # Errors
    ///
    /// As [`RemotePool::call_on`].
    pub fn submit_to<I, O, M>(
        &self,
        target: &Target,
        handler: &str,
        input: &I,
        tag: u64,
        to: ActorRef<M>,
    ) -> Result<(), PoolError>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned + Send + 'static,
        M: From<JobDone<O>> + Send + 'static,
    {
        let runtime = self.shared.runtime.clone();
        // The actor may wait idle for this outcome: a stopping runtime is
        // not quiet before it is delivered.
        let owed = OwedOutcome::new(&runtime);
        let reply = Box::new(move |report: JobReport| {
            let _owed = owed;
            let done = JobDone {
                tag,
                report: report.decode(),
            };
            // The conversion into `M` is the application's code, run on the
            // coordinator: a panic in it loses this outcome, not the
            // coordinator.
            let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| to.try_send(done)));
            let Ok(sent) = sent.map_err(|panic| {
                log::error!(
                    tag = tag,
                    panic = crate::supervisor::panic_message(&*panic);
                    "converting a remote job's outcome into the actor's message panicked; the outcome is dropped"
                );
            }) else {
                return;
            };
            match sent {
                Ok(()) => {}
                Err(TrySendError::Full(msg)) => runtime.spawn_future(
                    async move {
                        if to.send(msg).await.is_err() {
                            debug!(tag = tag; "remote job outcome not delivered: the actor stopped");
                        }
                    },
                    FutureOptions::default(),
                ),
                Err(_) => debug!(tag = tag; "remote job outcome not delivered: the actor stopped"),
            }
        });
        self.submit_raw(target, handler, input, reply)
    }

    fn submit_raw<I: Serialize + ?Sized>(
        &self,
        target: &Target,
        handler: &str,
        input: &I,
        reply: Box<dyn FnOnce(JobReport) + Send>,
    ) -> Result<(), PoolError> {
        let eligible = eligible_slots(&self.shared.hosts, target)?;
        let payload = postcard::to_stdvec(input).map_err(PoolError::Encode)?;
        let submission = Submission {
            eligible,
            handler: Arc::from(handler),
            payload,
            reply,
        };
        let mut inbox = self.shared.inbox();
        if inbox.closed {
            drop(inbox);
            (submission.reply)(cancelled_report());
            return Err(PoolError::Stopped);
        }
        let first = inbox.submissions.is_empty();
        inbox.submissions.push(submission);
        drop(inbox);
        if first {
            self.shared.runtime.shared.wake_coordinator();
        }
        Ok(())
    }

    /// The hosts of the pool.
    pub fn hosts(&self) -> &[Host] {
        &self.shared.hosts
    }

    /// A snapshot of the pool's numbers.
    pub fn metrics(&self) -> PoolMetrics {
        self.shared.stats.snapshot()
    }
}

impl fmt::Debug for RemotePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemotePool")
            .field("name", &self.shared.stats.name)
            .field("hosts", &self.shared.hosts)
            .finish()
    }
}

/// The outcome given to jobs the pool no longer takes.
pub(crate) fn cancelled_report() -> JobReport {
    JobReport {
        result: Err(JobFailure::Cancelled(
            "the runtime is shutting down and its remote pool takes no new jobs".to_owned(),
        )),
        host: None,
        attempts: 0,
        retries: 0,
        elapsed: Duration::ZERO,
        run_time: Duration::ZERO,
        slot: None,
        stdout: Vec::new(),
        stderr: Vec::new(),
    }
}

/// The outcome of [`RemotePool::call`]: resolves to the job's output or
/// why there is none.
#[must_use = "futures do nothing unless awaited"]
pub struct JobFuture<O> {
    state: FutureState,
    output: PhantomData<fn() -> O>,
}

enum FutureState {
    Waiting(ResponseFuture<JobReport>),
    Failed(Option<JobFailure>),
}

impl<O> JobFuture<O> {
    fn failed(failure: JobFailure) -> JobFuture<O> {
        JobFuture {
            state: FutureState::Failed(Some(failure)),
            output: PhantomData,
        }
    }
}

impl<O: DeserializeOwned> Future for JobFuture<O> {
    type Output = Result<O, JobFailure>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        // `JobFuture` is `Unpin`: its fields are.
        let this = self.get_mut();
        match &mut this.state {
            FutureState::Failed(failure) => Poll::Ready(Err(failure
                .take()
                .unwrap_or_else(|| JobFailure::Cancelled("polled after completion".to_owned())))),
            FutureState::Waiting(response) => match Pin::new(response).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(report)) => Poll::Ready(report.decode().result),
                Poll::Ready(Err(_)) => Poll::Ready(Err(JobFailure::Cancelled(
                    "the remote pool stopped before the job ended".to_owned(),
                ))),
            },
        }
    }
}

impl<O> fmt::Debug for JobFuture<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobFuture").finish_non_exhaustive()
    }
}

/// An outcome owed to an actor's inbox, counted in the runtime's
/// quiescence until it is delivered or dropped.
struct OwedOutcome(ThreadSafe);

impl OwedOutcome {
    fn new(runtime: &ThreadSafe) -> OwedOutcome {
        runtime.shared.shutdown.quiescence.outcome_owed();
        OwedOutcome(runtime.clone())
    }
}

impl Drop for OwedOutcome {
    fn drop(&mut self) {
        let shared = &self.0.shared;
        shared.shutdown.quiescence.outcome_paid();
        shared.poke_quiescence();
    }
}
