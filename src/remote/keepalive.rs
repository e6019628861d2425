//! The keep-alive thread of a blocking [`Pool`](crate::remote::Pool): it
//! pings the pool's slots while nobody drives the pool (its caller is busy
//! between runs, or inside a report of one), so that the workers, which end
//! themselves after a slot timeout without a word from the pool, live on.
//!
//! The thread wakes every sixth of the slot timeout and only *tries* the
//! engine's lock: while a run drives the engine, the run pings the slots
//! itself. It reads nothing and fails nothing: what the workers answer
//! waits in the pipes for the driver. Dropping the [`KeepAlive`] ends the
//! thread and waits for it.

use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};
use log::debug;

use crate::remote::engine::Engine;

/// A running keep-alive thread; see the module docs.
pub(crate) struct KeepAlive {
    /// Dropped to stop the thread.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl KeepAlive {
    /// Starts pinging `engine`'s slots while it is not driven. Without a
    /// thread (the system refused one) the pool works as well, but its
    /// workers may end themselves while its caller is away.
    pub(crate) fn start(engine: &Arc<Mutex<Engine>>, slot_timeout: Duration) -> KeepAlive {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let engine = engine.clone();
        let period = (slot_timeout / 6).max(Duration::from_millis(1));
        let thread = thread::Builder::new()
            .name("pool-keepalive".to_owned())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    if let Ok(mut engine) = engine.try_lock() {
                        engine.keep_alive();
                    }
                }
            });
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(err) => {
                debug!(error:% = err; "remote pool: no keep-alive thread");
                None
            }
        };
        KeepAlive {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
