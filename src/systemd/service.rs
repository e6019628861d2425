//! The coordinator's side of the service manager: `READY=1` once every
//! worker runs, `STOPPING=1` when the runtime begins to stop, and the
//! watchdog's pings at their deadlines. Made by the coordinator when the
//! runtime starts; without `NOTIFY_SOCKET` it does nothing.
//!
//! The coordinator also relays signals and ends the grace period, so it
//! must not wait long on the service manager: `READY=1` and `STOPPING=1`
//! wait at most a second for room in its queue, and a ping never waits (it
//! is dropped when the queue is full; the next comes half an interval
//! later).

use std::io;
use std::time::Instant;

use log::{debug, info, warn};

use super::notify::Notifier;
use super::watchdog::{self, Tick, Watchdog};

/// What the coordinator tells the service manager, and when.
#[derive(Debug)]
pub(crate) struct ServiceManager {
    notifier: Option<Notifier>,
    watchdog: Option<Watchdog>,
    ready_sent: bool,
    stopping_sent: bool,
    /// The worker a ping is withheld for (logged once per episode).
    withheld_for: Option<usize>,
    /// A notification failed already: later failures are logged quietly.
    failed_before: bool,
}

impl ServiceManager {
    /// From the environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`,
    /// `WATCHDOG_PID`); problems with the variables are logged, and leave
    /// out what they concern.
    pub(crate) fn from_env(now: Instant) -> ServiceManager {
        let notifier = match Notifier::from_env() {
            Ok(notifier) => notifier,
            Err(err) => {
                warn!(error:% = err; "not notifying the service manager");
                None
            }
        };
        let var = |name| std::env::var(name).ok();
        let interval = match watchdog::interval_from(
            var("WATCHDOG_USEC").as_deref(),
            var("WATCHDOG_PID").as_deref(),
            std::process::id(),
        ) {
            Ok(interval) => interval,
            Err(reason) => {
                warn!(reason:% = reason; "no service watchdog");
                None
            }
        };
        let watchdog = match (&notifier, interval) {
            (Some(_), Some(interval)) => {
                info!(interval:? = interval, ping_every:? = interval / 2; "service watchdog on");
                Some(Watchdog::new(interval, now))
            }
            (None, Some(_)) => {
                warn!("WATCHDOG_USEC is set without NOTIFY_SOCKET: no watchdog pings");
                None
            }
            (_, None) => {
                if var("WATCHDOG_USEC").is_some() {
                    debug!(watchdog_pid:? = var("WATCHDOG_PID"); "the service watchdog is another process's: no pings");
                }
                None
            }
        };
        ServiceManager {
            notifier,
            watchdog,
            ready_sent: false,
            stopping_sent: false,
            withheld_for: None,
            failed_before: false,
        }
    }

    /// True while `READY=1` is still to be sent.
    pub(crate) fn awaits_ready(&self) -> bool {
        self.notifier.is_some() && !self.ready_sent && !self.stopping_sent
    }

    /// Every worker runs: `READY=1`, once.
    pub(crate) fn ready(&mut self) {
        if self.awaits_ready() {
            self.ready_sent = true;
            self.send("READY=1");
        }
    }

    /// The runtime begins to stop: `STOPPING=1`, once.
    pub(crate) fn stopping(&mut self) {
        if self.notifier.is_some() && !self.stopping_sent {
            self.stopping_sent = true;
            self.send("STOPPING=1");
        }
    }

    /// When the coordinator must wake up for the next ping.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.watchdog.as_ref().map(Watchdog::deadline)
    }

    /// Pings if it is time and every worker came back to its poll
    /// recently; `pulses` are the live workers' `(id, poll count)`.
    pub(crate) fn tick(&mut self, now: Instant, pulses: impl Iterator<Item = (usize, u64)>) {
        let Some(watchdog) = &mut self.watchdog else {
            return;
        };
        let interval = watchdog.interval();
        match watchdog.tick(now, pulses) {
            Tick::NotYet => {}
            Tick::Ping => {
                if let Some(worker) = self.withheld_for.take() {
                    info!(worker = worker; "worker is back in its poll: watchdog pings resume");
                }
                self.send_ping();
            }
            Tick::Withhold { worker, stuck_for } => {
                if self.withheld_for != Some(worker) {
                    self.withheld_for = Some(worker);
                    warn!(worker = worker, stuck_for:? = stuck_for, interval:? = interval;
                        "worker has not come back to its poll: withholding the watchdog ping, \
                         so that the service manager restarts the service");
                }
            }
        }
    }

    /// A watchdog ping, dropped if the service manager's queue is full:
    /// the coordinator never waits for one, and another follows.
    fn send_ping(&mut self) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        match notifier.try_send("WATCHDOG=1") {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                debug!(error:% = err; "watchdog ping dropped: the service manager's queue is full");
            }
            Err(err) => self.failed(err),
        }
    }

    /// Logs a failed notification: the first as a warning, later ones
    /// quietly (a service manager that went away fails every ping).
    fn failed(&mut self, err: io::Error) {
        if self.failed_before {
            debug!(error:% = err; "notification failed");
        } else {
            self.failed_before = true;
            warn!(error:% = err; "notification failed");
        }
    }

    fn send(&mut self, state: &str) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        match notifier.send(state) {
            Ok(()) => debug!(state:% = state; "notified the service manager"),
            Err(err) => self.failed(err),
        }
    }
}
