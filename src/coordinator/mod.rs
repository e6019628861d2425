//! The coordinator: watches every thread of the runtime and the process
//! signals with one `mio::Poll`.
//!
//! It runs on the thread that calls [`Runtime::start`](crate::Runtime::start)
//! and never runs actors. Tokens of its poll:
//!
//! - `SIGNAL`: the process signals (see [`crate::signal`] for the policy);
//! - `WAKER`: a `shutdown` request from an actor or thread, or a worker
//!   that started (for the service manager's `READY=1`);
//! - `WORKER | i`: the pipe of worker `i`, closed when that thread ends;
//! - `SYNC_WORKER | i`: the pipe of sync actor thread `i`;
//! - `REMOTE | pool << 32 | n`: the pipes of the slots of a remote pool
//!   (see [`crate::remote`]); submissions from actors arrive through
//!   `WAKER`.
//!
//! It joins threads as they end; the first error stops the other workers.
//! It returns when every thread has been joined and the remote pools have
//! closed, or when a forced stop (a second signal, or the end of the grace
//! period) has given the threads a last moment to finish. When to drain,
//! stop, force or return is decided in one place, [`policy`], from the
//! events this loop sees. Under systemd it also tells the service manager
//! when the runtime is ready and when it stops, and pings its watchdog
//! while every worker comes back to its poll ([`crate::systemd`]).

pub(crate) mod policy;

use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use mio::unix::pipe;
use mio::{Events, Interest, Poll, Registry, Token};

use crate::Error;
use crate::metrics::RuntimeMetrics;
use crate::remote::engine::{Engine, Reply};
use crate::remote::{PoolShared, cancelled_report};
use crate::runtime::RuntimeShared;
use crate::signal::Signal;
use crate::sync_worker::SyncWorkerHandle;
use crate::sys::{ProcessSignals, ThreadClock};
use crate::systemd::ServiceManager;
use crate::worker::{Control, WorkerHandle};
use policy::{Action, Event, Forced, Policy};

/// Token kinds live in the top byte, the index in the rest.
const KIND_SHIFT: u32 = usize::BITS - 8;
const WORKER: usize = 1 << KIND_SHIFT;
const SYNC_WORKER: usize = 2 << KIND_SHIFT;
const INDEX_MASK: usize = (1 << KIND_SHIFT) - 1;
pub(crate) const SIGNAL: Token = Token(3 << KIND_SHIFT);
pub(crate) const WAKER: Token = Token(4 << KIND_SHIFT);
const REMOTE: usize = 5 << KIND_SHIFT;
/// Within `REMOTE` tokens, the pool's index sits above this bit.
const POOL_SHIFT: u32 = 32;

/// The first token of the slots of remote pool `pool`.
pub(crate) fn remote_token_base(pool: usize) -> usize {
    REMOTE | (pool << POOL_SHIFT)
}

/// A remote pool as the coordinator drives it: the engine, and what its
/// handles share.
pub(crate) struct CoordinatedPool {
    pub(crate) engine: Engine,
    pub(crate) shared: Arc<PoolShared>,
}

impl CoordinatedPool {
    /// Moves the actors' submissions into the engine, then lets it work.
    fn take_jobs_and_work(&mut self, registry: &Registry) {
        for job in self.shared.take_submissions() {
            let reply = Reply::Call(job.reply);
            // Its id is for holding jobs in input order, which a job with
            // a future of its own has no use for.
            let _id = self
                .engine
                .submit(&job.eligible, (job.handler, job.payload, None), reply);
        }
        self.engine.do_due_work(registry);
    }

    /// No new jobs; the running ones finish, then the slots are closed.
    fn drain(&mut self) {
        self.refuse_jobs();
        self.engine.drain();
    }

    /// Kills every slot now.
    fn kill(&mut self, registry: &Registry) {
        self.refuse_jobs();
        self.engine.kill_all(registry);
    }

    /// Closes the handles' inbox; submissions not yet taken are cancelled.
    fn refuse_jobs(&self) {
        for job in self.shared.close() {
            (job.reply)(cancelled_report());
        }
    }
}

/// How long threads get to end after a forced stop before the coordinator
/// returns without them.
const FORCED_STOP_WAIT: Duration = Duration::from_secs(1);

pub(crate) struct Coordinator {
    poll: Poll,
    signals: ProcessSignals,
    shared: Arc<RuntimeShared>,
    grace: Duration,
    workers: Vec<Option<WorkerHandle>>,
    sync_workers: Vec<Option<SyncWorkerHandle>>,
    /// Pipes of live threads, by token.
    pipes: Vec<(Token, pipe::Receiver)>,
    first_error: Option<Error>,
    /// The shutdown policy and the phase the runtime is in.
    policy: Policy,
    /// The error of a failed poll, for the forced stop it causes.
    poll_error: Option<io::Error>,
    pools: Vec<CoordinatedPool>,
    /// What the service manager is told (nothing without `NOTIFY_SOCKET`).
    service: ServiceManager,
}

impl Coordinator {
    pub(crate) fn new(
        poll: Poll,
        mut signals: ProcessSignals,
        shared: Arc<RuntimeShared>,
        grace: Duration,
        workers: Vec<WorkerHandle>,
        sync_workers: Vec<SyncWorkerHandle>,
        pools: Vec<CoordinatedPool>,
    ) -> Result<Coordinator, Error> {
        let registered = poll
            .registry()
            .register(&mut signals, SIGNAL, Interest::READABLE);
        let signals_end_cleanly = shared.stop_signals_end_cleanly;
        let mut coordinator = Coordinator {
            poll,
            signals,
            shared,
            grace,
            workers: workers.into_iter().map(Some).collect(),
            sync_workers: sync_workers.into_iter().map(Some).collect(),
            pipes: Vec::new(),
            first_error: None,
            policy: Policy::new(grace, signals_end_cleanly),
            poll_error: None,
            pools,
            service: ServiceManager::from_env(Instant::now()),
        };
        if let Err(err) = coordinator.register_all(registered) {
            // Without a coordinator nobody would ever stop the threads.
            coordinator.stop_threads(|| Control::Stop);
            return Err(err);
        }
        Ok(coordinator)
    }

    /// Registers the signals (already attempted) and every thread's pipe.
    fn register_all(&mut self, signals: io::Result<()>) -> Result<(), Error> {
        signals.map_err(Error::coordinator)?;
        let coordinator = self;
        for i in 0..coordinator.workers.len() {
            let pipe = coordinator.workers[i]
                .as_mut()
                .and_then(WorkerHandle::take_pipe);
            coordinator.register(Token(WORKER | i), pipe)?;
        }
        for i in 0..coordinator.sync_workers.len() {
            let pipe = coordinator.sync_workers[i]
                .as_mut()
                .and_then(SyncWorkerHandle::take_pipe);
            coordinator.register(Token(SYNC_WORKER | i), pipe)?;
        }
        Ok(())
    }

    fn register(&mut self, token: Token, pipe: Option<pipe::Receiver>) -> Result<(), Error> {
        let Some(mut pipe) = pipe else { return Ok(()) };
        self.poll
            .registry()
            .register(&mut pipe, token, Interest::READABLE)
            .map_err(Error::coordinator)?;
        self.pipes.push((token, pipe));
        Ok(())
    }

    /// Runs until every thread is joined and the pools closed (or a forced
    /// stop).
    pub(crate) fn run(mut self) -> Result<(), Error> {
        if let Ok(clock) = ThreadClock::current() {
            let _ = self.shared.coordinator_clock.set(clock);
        }
        for worker in self.workers.iter().flatten() {
            let _ = worker.send(Control::Started);
        }
        // A shutdown requested before `start`.
        if self.shared.shutdown.take_request()
            && let Some(result) = self.apply(Event::ShutdownRequested)
        {
            return result;
        }
        let mut events = Events::with_capacity(64);
        loop {
            if !self.threads_alive()
                && let Some(result) = self.apply(Event::ThreadsDone)
            {
                return result;
            }
            self.ready_if_workers_started();
            let registry = self.poll.registry();
            self.pools
                .iter_mut()
                .for_each(|pool| pool.take_jobs_and_work(registry));
            self.end_idle_waits_if_quiet();
            if !self.threads_alive()
                && self.pools.iter().all(|p| p.engine.is_closed())
                && let Some(result) = self.apply(Event::PoolsClosed)
            {
                return result;
            }
            let deadline = [self.policy.deadline(), self.service.deadline()]
                .into_iter()
                .chain(self.pools.iter().map(|p| p.engine.next_deadline()))
                .flatten()
                .min();
            let timeout =
                deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    self.poll_error = Some(err);
                    if let Some(result) = self.apply(Event::PollFailed) {
                        return result;
                    }
                }
            }
            let now = Instant::now();
            if let Some(result) = self.apply(Event::Tick(now)) {
                return result;
            }
            let pulses = self.workers.iter().flatten().map(|w| (w.id(), w.pulse()));
            self.service.tick(now, pulses);
            for event in &events {
                let result = match event.token() {
                    SIGNAL => self.handle_signals(),
                    WAKER if self.shared.shutdown.take_request() => {
                        self.apply(Event::ShutdownRequested)
                    }
                    WAKER => None,
                    Token(token) if token & !INDEX_MASK == REMOTE => {
                        let pool = (token & INDEX_MASK) >> POOL_SHIFT;
                        if let Some(front) = self.pools.get_mut(pool) {
                            front.engine.event(self.poll.registry(), token);
                        }
                        None
                    }
                    token => {
                        self.thread_event(token);
                        if self.first_error.is_some() {
                            self.release_if_workers_done();
                        }
                        None
                    }
                };
                if let Some(result) = result {
                    return result;
                }
            }
        }
    }

    /// Applies `event` to the shutdown policy and carries out its action;
    /// `Some` with what `start` returns when the coordinator is done.
    fn apply(&mut self, event: Event) -> Option<Result<(), Error>> {
        let action = self.policy.on(event, Instant::now());
        if action != Action::Nothing {
            // Every action but nothing is a step towards the end.
            self.service.stopping();
        }
        match action {
            Action::Nothing => None,
            Action::Drain => {
                match event {
                    Event::StopSignal { signal, .. } => {
                        info!(signal:% = signal, grace:? = self.grace; "no signal receivers, shutting down the runtime");
                    }
                    _ => info!(grace:? = self.grace; "shutting down the runtime"),
                }
                self.pools.iter_mut().for_each(CoordinatedPool::drain);
                self.stop_threads(|| Control::Shutdown);
                self.shared.scheduler.wake_all();
                None
            }
            Action::StopThreads => {
                self.pools.iter_mut().for_each(CoordinatedPool::drain);
                self.stop_threads(|| Control::Stop);
                None
            }
            Action::ClosePools => {
                // Nobody can submit jobs any more.
                self.pools.iter_mut().for_each(CoordinatedPool::drain);
                None
            }
            Action::Force(forced) => {
                let err = match forced {
                    Forced::Signal(signal) => {
                        warn!(signal:% = signal; "second stop signal during shutdown, stopping now");
                        Error::forced(signal)
                    }
                    Forced::GraceOver => {
                        let left = RuntimeMetrics::collect(&self.shared).still_running();
                        warn!(grace:? = self.grace, left:% = left; "grace period over, stopping the remaining actors");
                        Error::grace_expired(self.grace, left)
                    }
                    Forced::PollFailed => Error::coordinator(
                        self.poll_error
                            .take()
                            .unwrap_or_else(|| io::Error::other("poll failed")),
                    ),
                };
                Some(self.force_stop(err))
            }
            Action::KillPoolsAndReturn => {
                warn!(grace:? = self.grace; "remote pool slots did not exit within the grace period, killing them");
                let registry = self.poll.registry();
                self.pools.iter_mut().for_each(|pool| pool.kill(registry));
                Some(self.finish())
            }
            Action::Return => Some(self.finish()),
        }
    }

    /// In a stopping runtime, ends the waits of idle actors once every live
    /// process is idle and no remote outcome is owed (see
    /// `runtime::Quiescence`): nothing can send another message.
    fn end_idle_waits_if_quiet(&mut self) {
        let quiescence = &self.shared.shutdown.quiescence;
        if !self.shared.shutdown.is_stopping() || quiescence.is_quiet() || !self.threads_alive() {
            return;
        }
        // Taken before looking: a change after this pokes again.
        let _ = quiescence.take_poke();
        if quiescence.is_quiet_with(|| self.shared.live_processes()) {
            debug!("every actor is idle: ending their receive loops");
            quiescence.set_quiet();
            self.stop_threads(|| Control::Shutdown);
            self.shared.scheduler.wake_all();
        }
    }

    /// Tells the service manager `READY=1` once every worker handled
    /// `Control::Started` (ran what it was given before the start), unless
    /// the runtime is failing or stopping already. A worker already joined
    /// had started (a worker ends without an error only after that).
    fn ready_if_workers_started(&mut self) {
        if self.service.awaits_ready()
            && self.first_error.is_none()
            && self
                .workers
                .iter()
                .all(|w| w.as_ref().is_none_or(WorkerHandle::is_started))
        {
            self.service.ready();
        }
    }

    fn threads_alive(&self) -> bool {
        self.workers.iter().any(Option::is_some) || self.sync_workers.iter().any(Option::is_some)
    }

    /// Reads and relays every pending signal, applying the policy.
    fn handle_signals(&mut self) -> Option<Result<(), Error>> {
        loop {
            let signal = match self.signals.receive() {
                Ok(Some(signal)) => signal,
                Ok(None) => return None,
                Err(err) => {
                    error!(error:% = err; "unable to read process signals");
                    return None;
                }
            };
            debug!(signal:% = signal; "process signal received");
            let receivers = self.shared.signal_receivers.live_for(signal);
            self.relay(signal);
            if signal == Signal::User2 {
                self.log_metrics();
            }
            if signal.should_stop()
                && let Some(result) = self.apply(Event::StopSignal { signal, receivers })
            {
                return Some(result);
            }
        }
    }

    fn relay(&self, signal: Signal) {
        self.shared.signal_receivers.deliver_shared(signal);
        for worker in self.workers.iter().flatten() {
            let _ = worker.send(Control::Signal(signal));
        }
    }

    fn log_metrics(&self) {
        let metrics = RuntimeMetrics::collect(&self.shared);
        metrics.log_coordinator();
        for sync_worker in &metrics.sync_workers {
            sync_worker.log();
        }
        for pool in &metrics.remote_pools {
            pool.log();
        }
        for worker in self.workers.iter().flatten() {
            let _ = worker.send(Control::LogMetrics);
        }
    }

    /// Marks the runtime as stopping and tells every thread: workers get
    /// `control` (`Shutdown` to let actors finish, `Stop` to drop them now),
    /// sync actor threads are unparked so they see the flag.
    fn stop_threads(&self, control: fn() -> Control) {
        self.shared.shutdown.set_stopping();
        for worker in self.workers.iter().flatten() {
            let _ = worker.send(control());
        }
        for sync_worker in self.sync_workers.iter().flatten() {
            sync_worker.unpark();
        }
    }

    /// Stops every thread now and returns without the ones that do not end
    /// within [`FORCED_STOP_WAIT`].
    fn force_stop(&mut self, err: Error) -> Result<(), Error> {
        let registry = self.poll.registry();
        self.pools.iter_mut().for_each(|pool| pool.kill(registry));
        self.stop_threads(|| Control::Stop);
        let deadline = Instant::now() + FORCED_STOP_WAIT;
        let mut events = Events::with_capacity(64);
        while self.threads_alive() {
            let timeout = deadline.saturating_duration_since(Instant::now());
            if timeout.is_zero() {
                break;
            }
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            for event in &events {
                if event.token() != SIGNAL && event.token() != WAKER {
                    self.thread_event(event.token());
                }
            }
        }
        let left: Vec<String> = self
            .workers
            .iter()
            .flatten()
            .map(|w| format!("worker {}", w.id()))
            .chain(
                self.sync_workers
                    .iter()
                    .flatten()
                    .map(|s| format!("sync actor {}", s.id())),
            )
            .collect();
        if !left.is_empty() {
            warn!(threads:% = left.join(", "); "threads did not stop in time, leaving them behind");
        }
        self.shared.scheduler.drop_all();
        Err(self.first_error.take().unwrap_or(err))
    }

    /// The result once every thread ended and the pools closed.
    fn finish(&mut self) -> Result<(), Error> {
        debug!("all runtime threads done");
        // A runtime whose processes all returned ends without a shutdown:
        // mark it stopped all the same, so what waits for `shutting_down`
        // outside it (a thread, another executor) is woken.
        self.shared.shutdown.set_stopping();
        self.shared.scheduler.drop_all();
        if let Some(err) = self.first_error.take() {
            return Err(err);
        }
        match self.policy.interrupted_by() {
            // An interrupt the application did not handle.
            Some(signal) => Err(Error::interrupted(signal)),
            None => Ok(()),
        }
    }

    fn thread_event(&mut self, token: Token) {
        if !self.pipe_closed(token) {
            return;
        }
        let index = token.0 & INDEX_MASK;
        match token.0 & !INDEX_MASK {
            WORKER => self.join_worker(index),
            SYNC_WORKER => self.join_sync_worker(index),
            _ => {}
        }
    }

    /// Reads the pipe of `token`: true when it is closed (the thread ended).
    /// Threads never write to it, so anything else is a spurious event.
    fn pipe_closed(&mut self, token: Token) -> bool {
        let Some(pos) = self.pipes.iter().position(|(t, _)| *t == token) else {
            return false;
        };
        let mut buf = [0; 8];
        let closed = match self.pipes[pos].1.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => false,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => false,
            Err(_) => true,
        };
        if closed {
            let (_, mut pipe) = self.pipes.swap_remove(pos);
            let _ = self.poll.registry().deregister(&mut pipe);
        }
        closed
    }

    fn join_worker(&mut self, index: usize) {
        let Some(worker) = self.workers.get_mut(index).and_then(Option::take) else {
            return;
        };
        let id = worker.id();
        match worker.join() {
            Ok(()) => debug!(worker = id; "worker thread stopped"),
            Err(err) => self.failed(err),
        }
    }

    fn join_sync_worker(&mut self, index: usize) {
        let Some(sync_worker) = self.sync_workers.get_mut(index).and_then(Option::take) else {
            return;
        };
        let id = sync_worker.id();
        match sync_worker.join() {
            Ok(()) => debug!(sync_worker = id; "sync actor thread stopped"),
            Err(err) => self.failed(err),
        }
    }

    /// Records a thread's error. The first one stops the runtime (see
    /// [`policy`]): workers drop their actors at once, sync actors are told
    /// the runtime is stopping, and what is still running after the grace
    /// period is left behind.
    fn failed(&mut self, err: Error) {
        error!(error:% = err; "runtime thread failed");
        if self.first_error.is_none() {
            self.first_error = Some(err);
        }
        // Never a return: a failed thread only stops the others.
        let _none = self.apply(Event::ThreadFailed);
    }

    /// Once every worker is gone, nothing can run the thread-safe actors:
    /// drop them, and the signal receivers, so the references they hold no
    /// longer keep sync actors waiting for messages.
    fn release_if_workers_done(&mut self) {
        if self.workers.iter().all(Option::is_none) && self.sync_workers.iter().any(Option::is_some)
        {
            self.shared.scheduler.drop_all();
            self.shared.signal_receivers.clear();
        }
    }
}
