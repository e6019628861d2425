//! Functional tests of the runtime, grouped by room.

#[macro_use]
#[path = "util/modes.rs"]
mod modes;
#[path = "util/server.rs"]
mod server;
#[path = "util/streams.rs"]
mod streams;

#[path = "functional/actor_group.rs"]
mod actor_group;
#[path = "functional/actor_ref.rs"]
mod actor_ref;
#[path = "functional/bytes.rs"]
mod bytes;
#[path = "functional/fairness.rs"]
mod fairness;
#[path = "functional/from_message.rs"]
mod from_message;
#[path = "functional/net.rs"]
mod net;
#[path = "functional/net_thread_safe.rs"]
mod net_thread_safe;
#[path = "functional/pipe.rs"]
mod pipe;
#[path = "functional/polled_actor_group.rs"]
mod polled_actor_group;
#[path = "functional/polled_actor_ref.rs"]
mod polled_actor_ref;
#[path = "functional/priority.rs"]
mod priority;
#[path = "functional/restart_supervisor_macro.rs"]
mod restart_supervisor_macro;
#[path = "functional/runtime.rs"]
mod runtime;
#[path = "functional/shared_scheduler.rs"]
mod shared_scheduler;
#[path = "functional/shutting_down.rs"]
mod shutting_down;
#[path = "functional/spawning.rs"]
mod spawning;
#[path = "functional/supervisor.rs"]
mod supervisor;
#[path = "functional/sync_actor.rs"]
mod sync_actor;
#[path = "functional/tcp.rs"]
mod tcp;
#[path = "functional/test_runtime.rs"]
mod test_runtime;
#[path = "functional/timer.rs"]
mod timer;
#[path = "functional/trace.rs"]
mod trace;
#[path = "functional/unix.rs"]
mod unix;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{self, Poll, Wake, Waker};
use std::thread;

/// Runs `future` to completion on the calling thread (outside any runtime).
pub fn block_on<Fut: Future>(future: Fut) -> Fut::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = task::Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

/// Polls `future` once with a no-op waker.
pub fn poll_once<Fut: Future + Unpin>(future: &mut Fut) -> Poll<Fut::Output> {
    let mut cx = task::Context::from_waker(Waker::noop());
    std::pin::Pin::new(future).poll(&mut cx)
}

#[track_caller]
pub fn assert_send<T: Send>() {}

#[track_caller]
pub fn assert_sync<T: Sync>() {}
