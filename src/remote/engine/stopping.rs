//! The slots being stopped: srun processes sent `SIGTERM` that the pool
//! does not wait for.
//!
//! srun ends its step on `SIGTERM` and exits when the step did; a step on a
//! node that stopped answering never ends, and srun stays (it does not exit
//! after "Node failure" either). Waiting for it in the engine would stall
//! every other slot for the grace period: no jobs handed out, no pings,
//! and workers that hear nothing for the slot timeout end themselves. So a
//! killed slot whose process is still there joins `Engine::stopping`; the
//! driver's calls look at them between polls (every [`STOP_CHECK`] while
//! there are any) and drop each once it exited, or once its grace period
//! passed, which kills it (`SIGKILL`) and reaps it. The pool is not closed
//! while any is left, and [`Engine::finish_stopping`] waits for the rest at
//! the end, their grace periods running at once.

use std::time::{Duration, Instant};

use log::debug;

use super::Engine;
use crate::remote::slot::Slot;

/// How often the stopping slots are looked at: srun exits about 15 ms
/// after `SIGTERM` when its step ends.
const STOP_CHECK: Duration = Duration::from_millis(10);

impl Engine {
    /// Keeps a killed slot until its process is gone (see the module doc).
    pub(super) fn stop_later(&mut self, mut slot: Slot) {
        if !slot.has_exited() && slot.stop_deadline().is_some() {
            self.stopping.push(slot);
        }
    }

    /// Drops the stopping slots whose process exited or whose grace period
    /// is over (dropping kills and reaps).
    pub(super) fn reap_stopping(&mut self, now: Instant) {
        self.stopping.retain_mut(|slot| {
            let keep = !slot.has_exited() && slot.stop_deadline().is_some_and(|at| at > now);
            if !keep {
                debug!(slot:% = slot.label; "slot process stopped");
            }
            keep
        });
    }

    /// When the stopping slots are to be looked at next.
    pub(super) fn stopping_deadline(&self, now: Instant) -> Option<Instant> {
        self.stopping
            .iter()
            .filter_map(Slot::stop_deadline)
            .min()
            .map(|kill_at| kill_at.min(now + STOP_CHECK))
    }

    /// Waits for the stopping slots' processes, at most until the last
    /// grace period ends, and kills those still there.
    pub(crate) fn finish_stopping(&mut self) {
        self.stopping.clear();
    }
}
