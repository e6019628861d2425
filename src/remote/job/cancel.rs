//! The stop of a running job on the worker's side: the pool's `CANCEL`
//! comes to the thread that reads stdin while the job runs (the keeper,
//! or the reader of `serve_on`), and the job's thread learns of it here.
//! A command the job runs (`job/command.rs`) is woken through its poll's
//! waker and sends its processes the [`TermSequence`]; any other handler
//! asks [`JobContext::is_cancelled`](crate::remote::JobContext::is_cancelled).

use std::sync::{Arc, Mutex, MutexGuard};

use mio::Waker;

use crate::remote::TermSequence;

/// What the reading thread and the job's thread share about the stop of
/// the running job.
#[derive(Default)]
pub(crate) struct Cancel {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The id of the running job.
    running: Option<u64>,
    /// How to stop it, once the pool asked.
    requested: Option<TermSequence>,
    /// Wakes the poll of the command the job runs.
    waker: Option<Arc<Waker>>,
}

impl Cancel {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Job `id` starts: nothing was asked of it yet.
    pub(crate) fn start(&self, id: u64) {
        *self.state() = State {
            running: Some(id),
            ..State::default()
        };
    }

    /// The running job ended: a late `CANCEL` of it is ignored.
    pub(crate) fn end(&self) {
        *self.state() = State::default();
    }

    /// The pool asks to stop job `id` with `sequence`; ignored (false) if
    /// it does not run.
    pub(crate) fn request(&self, id: u64, sequence: TermSequence) -> bool {
        let mut state = self.state();
        if state.running != Some(id) {
            return false;
        }
        state.requested = Some(sequence);
        if let Some(waker) = &state.waker {
            // A poll that cannot be woken still sees the request when it
            // wakes for output.
            let _ = waker.wake();
        }
        true
    }

    /// How to stop the running job, if the pool asked.
    pub(crate) fn requested(&self) -> Option<TermSequence> {
        self.state().requested.clone()
    }

    /// The command's poll wakes through `waker` (none: no longer) when
    /// the pool asks; returns what it asked already.
    pub(crate) fn wake_with(&self, waker: Option<Arc<Waker>>) -> Option<TermSequence> {
        let mut state = self.state();
        state.waker = waker;
        state.requested.clone()
    }
}
