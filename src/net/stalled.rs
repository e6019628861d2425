//! Writes in a stopping runtime: a write that waits for room longer than
//! `Setup::stalled_write_limit` once a graceful shutdown began gives up, so
//! a peer that never reads cannot hold the shutdown until the grace period
//! ends.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{self, Poll};
use std::time::Duration;

use crate::Access;
use crate::timer::Timer;

/// The state of one write call that may have to wait: the timer that limits
/// the wait, started when the write first waits in a stopping runtime (a
/// worker's timer for a thread-local socket, a shared one for a
/// thread-safe socket).
pub(crate) struct StalledWrite<RT: Access> {
    limit: Option<Timer<RT>>,
}

impl<RT: Access> Default for StalledWrite<RT> {
    fn default() -> Self {
        StalledWrite { limit: None }
    }
}

impl<RT: Access> StalledWrite<RT> {
    /// Called when the write has to wait: an error once the runtime is
    /// `stopping` and the write has waited `limit` (the runtime's
    /// `stalled_write_limit`) since.
    /// Registers `cx` with the timer otherwise; the write's own readiness
    /// wake-up is registered by the caller.
    pub(crate) fn poll_give_up(
        &mut self,
        rt: &RT,
        (stopping, limit): (bool, Duration),
        cx: &mut task::Context<'_>,
    ) -> Option<io::Error> {
        if !stopping {
            return None;
        }
        let timer = self
            .limit
            .get_or_insert_with(|| Timer::after(rt.clone(), limit));
        match Pin::new(timer).poll(cx) {
            Poll::Ready(_) => Some(stalled(limit)),
            Poll::Pending => None,
        }
    }

    /// Ends the wait: the next write that has to wait in a stopping
    /// runtime starts a new limit.
    pub(crate) fn reset(&mut self) {
        self.limit = None;
    }
}

fn stalled(limit: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "write abandoned: the runtime is stopping and the peer took no data for {limit:?} \
             (Setup::stalled_write_limit)"
        ),
    )
}
