//! The coordinator: watches every thread of the runtime with one
//! `mio::Poll`, joins threads as they end and stops the rest on the first
//! error.
//!
//! It runs on the thread that calls [`Runtime::start`](crate::Runtime::start)
//! and never runs actors. Tokens of its poll:
//!
//! - `WORKER | i`: the pipe of worker `i`, closed when that thread ends;
//! - `SYNC_WORKER | i`: the pipe of sync actor thread `i`;
//! - `SIGNAL` is reserved for process signals.
//!
//! It returns when every thread has been joined, with the first error seen.

use std::io::{self, Read};

use log::{debug, error};
use mio::{Events, Interest, Poll, Token};

use crate::Error;
use crate::sync_worker::SyncWorkerHandle;
use crate::worker::{Control, WorkerHandle};

/// Token kinds live in the top byte, the index in the rest.
const KIND_SHIFT: u32 = usize::BITS - 8;
const WORKER: usize = 1 << KIND_SHIFT;
const SYNC_WORKER: usize = 2 << KIND_SHIFT;
const INDEX_MASK: usize = (1 << KIND_SHIFT) - 1;

pub(crate) struct Coordinator {
    poll: Poll,
    workers: Vec<Option<WorkerHandle>>,
    sync_workers: Vec<Option<SyncWorkerHandle>>,
    /// Pipes kept open for reading while registered.
    pipes: Vec<(Token, mio::unix::pipe::Receiver)>,
    first_error: Option<Error>,
}

impl Coordinator {
    pub(crate) fn new(
        workers: Vec<WorkerHandle>,
        sync_workers: Vec<SyncWorkerHandle>,
    ) -> Result<Coordinator, Error> {
        let poll = Poll::new().map_err(Error::coordinator)?;
        let mut coordinator = Coordinator {
            poll,
            workers: workers.into_iter().map(Some).collect(),
            sync_workers: sync_workers.into_iter().map(Some).collect(),
            pipes: Vec::new(),
            first_error: None,
        };
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
        Ok(coordinator)
    }

    fn register(
        &mut self,
        token: Token,
        pipe: Option<mio::unix::pipe::Receiver>,
    ) -> Result<(), Error> {
        let Some(mut pipe) = pipe else { return Ok(()) };
        self.poll
            .registry()
            .register(&mut pipe, token, Interest::READABLE)
            .map_err(Error::coordinator)?;
        self.pipes.push((token, pipe));
        Ok(())
    }

    /// Runs until every thread is joined.
    pub(crate) fn run(mut self) -> Result<(), Error> {
        for worker in self.workers.iter().flatten() {
            let _ = worker.send(Control::Started);
        }
        let mut events = Events::with_capacity(64);
        while self.workers.iter().any(Option::is_some)
            || self.sync_workers.iter().any(Option::is_some)
        {
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    self.stop_workers();
                    return Err(Error::coordinator(err));
                }
            }
            for event in events.iter() {
                let token = event.token();
                if !self.pipe_closed(token) {
                    continue;
                }
                let index = token.0 & INDEX_MASK;
                match token.0 & !INDEX_MASK {
                    WORKER => self.join_worker(index),
                    SYNC_WORKER => self.join_sync_worker(index),
                    _ => {}
                }
            }
        }
        debug!("all runtime threads done");
        match self.first_error {
            Some(err) => Err(err),
            None => Ok(()),
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

    /// Records a thread's error; the first one stops the other workers.
    fn failed(&mut self, err: Error) {
        error!(error:% = err; "runtime thread failed");
        if self.first_error.is_none() {
            self.first_error = Some(err);
            self.stop_workers();
        }
    }

    fn stop_workers(&self) {
        for worker in self.workers.iter().flatten() {
            let _ = worker.send(Control::Stop);
        }
    }
}
