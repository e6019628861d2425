//! The pool's side of the liveness exchange: when a ready slot is pinged,
//! when its silence makes it dead, and what a job that overran its time
//! limit means once its worker answered.
//!
//! A ready slot is pinged when the pool has heard nothing from its worker,
//! or said nothing to it, for a third of the slot timeout (the worker ends
//! itself when it hears nothing for the slot timeout, so the pool keeps
//! talking even to a slot that sends a result every second). A slot heard
//! from last a slot timeout ago is dead: its jobs go back to the queue,
//! using an attempt, and it is started again. Before the verdict the pipe
//! is read: an answer may wait there, unread while the driver was away.
//!
//! A job past its time limit is not a slot failure by itself: the pool
//! pings the slot and waits. A `PONG` to that ping shows the worker alive,
//! so the overrun is the job's own (`Engine::end_overrun_job`); silence
//! makes the slot dead as above, and the job runs again elsewhere.
//!
//! A slot found silent whose host's other slots are silent too (a frozen
//! link, not a stopped worker) retires the host's shared ssh connection
//! (`Mux::retire`): the slots that start next log in again instead of
//! waiting on it for ssh's own keep-alive.

use std::time::{Duration, Instant};

use log::warn;
use mio::Registry;

use super::{Engine, after};
use crate::remote::SlotFailure;
use crate::remote::slot::{Slot, Stage};

/// When slot `slot` is to be pinged next.
pub(super) fn ping_due(slot: &Slot, slot_timeout: Duration) -> Instant {
    let quiet_since = slot.heard.min(slot.sent).max(slot.pinged);
    after(quiet_since, slot_timeout / 3)
}

/// When slot `slot` is dead unless something comes from it.
pub(super) fn silent_at(slot: &Slot, slot_timeout: Duration) -> Instant {
    after(slot.heard, slot_timeout)
}

impl Engine {
    /// True if the connection of slot `index`'s host looks stuck, not
    /// only its worker: none of the host's other live slots was heard
    /// from in the last half slot timeout (a frozen link silences them
    /// together; a stopped worker only itself). A host with no other slot
    /// ready cannot tell the two apart: its connection is taken for stuck,
    /// and costs a login if it was not.
    fn link_stuck(&self, index: usize, now: Instant) -> bool {
        let host = self.slots[index].host;
        let recent = now.checked_sub(self.settings.slot_timeout / 2);
        !self.slots.iter().enumerate().any(|(other, entry)| {
            other != index
                && entry.host == host
                && entry.slot.as_ref().is_some_and(|slot| {
                    slot.stage == Stage::Ready && recent.is_none_or(|recent| slot.heard > recent)
                })
        })
    }

    /// Pings the ready slots whose ping is due, and fails those silent for
    /// the slot timeout.
    pub(super) fn check_liveness(&mut self, registry: &Registry, now: Instant) {
        let slot_timeout = self.settings.slot_timeout;
        for index in 0..self.slots.len() {
            let ready = |slot: &Slot| slot.stage == Stage::Ready;
            if self.slots[index]
                .slot
                .as_ref()
                .is_some_and(|slot| ready(slot) && silent_at(slot, slot_timeout) <= now)
            {
                // What came while the driver was away counts.
                self.read_slot(registry, index, true);
                if self.slots[index]
                    .slot
                    .as_ref()
                    .is_some_and(|slot| silent_at(slot, slot_timeout) <= now)
                {
                    let failure = SlotFailure::Silent {
                        limit: slot_timeout,
                    };
                    let stuck = self.link_stuck(index, now);
                    self.fail_slot(registry, index, failure);
                    let host = self.slots[index].host;
                    if stuck && self.mux.retire(host) {
                        warn!(host:% = self.hosts[host].name; "the host's ssh connection answers nothing: logging in again");
                    }
                    continue;
                }
            }
            let Some(slot) = self.slots[index].slot.as_mut() else {
                continue;
            };
            if ready(slot)
                && ping_due(slot, slot_timeout) <= now
                && let Err(err) = slot.ping(now)
            {
                self.fail_slot(registry, index, SlotFailure::WriteFailed(err.to_string()));
            }
        }
    }
}
