//! A datagram sent with `send_to` to a Unix socket whose queue is full
//! spun on a core until the receiver made room: the send failed with
//! `EAGAIN`, the failure itself made the sender's own socket report
//! writable again, and the send woke, failed and waited again without
//! end (the kernel wakes a sender properly only when it is connected to
//! the receiver). Unconnected sends now try again on a timer.
//!
//! The receiver's queue is filled from the test before the actor sends,
//! so its send finds the queue full. The send is polled through a counter:
//! over a one-second window with the queue full, a spinning send is polled
//! thousands of times, one that waits on its timer (1 ms doubling to
//! 64 ms) at most 7 + 1000 / 64 times, and never more however loaded the
//! machine (timers do not fire early). Then the test reads the queue and
//! the datagram must arrive.

use std::future::Future;
use std::io;
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{self, Poll};
use std::thread;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::net::UnixDatagram;
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal};

/// Last guard for a datagram that never comes; a healthy send takes
/// milliseconds once there is room.
const GUARD: Duration = Duration::from_secs(10);
/// How long the queue stays full while the send is watched.
const WINDOW: Duration = Duration::from_secs(1);
/// More polls than a send waiting on its timer makes in [`WINDOW`].
const SPINNING: usize = 50;

/// Arguments of the sender: where to send, and where it gives its
/// reference, says it is about to send, counts the polls of its send and
/// says how the send ended.
type Plan = (
    PathBuf,
    mpsc::Sender<ActorRef<()>>,
    mpsc::Sender<()>,
    Arc<AtomicUsize>,
    mpsc::Sender<io::Result<usize>>,
);

/// A future that counts its polls.
struct Counted<F> {
    future: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<F::Output> {
        let _ = self.polls.fetch_add(1, Ordering::Relaxed);
        self.future.as_mut().poll(cx)
    }
}

/// Sends one datagram when told to.
async fn sender(mut ctx: Context<(), ThreadLocal>, plan: Plan) -> io::Result<()> {
    let (path, me, sending, polls, sent) = plan;
    let mut socket = UnixDatagram::unbound(ctx.runtime())?;
    me.send(ctx.actor_ref()).unwrap();
    if ctx.receive_next().await.is_err() {
        return Ok(());
    }
    sending.send(()).unwrap();
    let send = Counted {
        future: Box::pin(socket.send_to(b"late", &path)),
        polls,
    };
    sent.send(send.await).unwrap();
    Ok(())
}

/// Fills the queue of the socket at `path` until a fresh sender is refused
/// (the queue, not a sender's own buffer, is full); returns the senders
/// and how many datagrams they queued.
fn fill(path: &std::path::Path) -> (Vec<StdUnixDatagram>, usize) {
    let mut senders = Vec::new();
    let mut queued = 0;
    loop {
        let filler = StdUnixDatagram::unbound().unwrap();
        filler.set_nonblocking(true).unwrap();
        let mut first = true;
        loop {
            match filler.send_to(b"x", path) {
                Ok(_) => queued += 1,
                Err(err) if err.kind() == io::ErrorKind::WouldBlock && first => {
                    return (senders, queued);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                Err(err) => panic!("filling the queue: {err}"),
            }
            first = false;
        }
        senders.push(filler);
    }
}

#[test]
fn send_to_a_full_receiver_waits_without_spinning_and_goes_out_once_it_has_room() {
    let dir = std::env::temp_dir().join(format!("hearth-dgram-full-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("receiver.sock");
    let receiver = StdUnixDatagram::bind(&path).unwrap();
    receiver.set_read_timeout(Some(GUARD)).unwrap();
    let (me_tx, me_rx) = mpsc::channel();
    let (sending_tx, sending_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel();
    let polls = Arc::new(AtomicUsize::new(0));
    let plan = (path.clone(), me_tx, sending_tx, polls.clone(), sent_tx);
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(sender),
            plan,
            ActorOptions::default(),
        );
    });
    let handle = runtime.thread_safe();
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let actor = me_rx.recv_timeout(GUARD).unwrap();
        let (_fillers, queued) = fill(&path);
        actor.try_send(()).unwrap();
        sending_rx.recv_timeout(GUARD).unwrap();
        // An observation window, not a synchronisation: the queue stays
        // full for it, and the send may only wait.
        thread::sleep(WINDOW);
        let polled = polls.load(Ordering::Relaxed);
        if polled >= SPINNING {
            handle.shutdown();
        }
        // Make room: read the fillers, then the actor's datagram.
        let mut buf = [0; 16];
        let mut read = 0;
        let late = loop {
            match receiver.recv(&mut buf) {
                Ok(n) if &buf[..n] == b"x" => read += 1,
                Ok(n) => break buf[..n].to_vec(),
                Err(err) => {
                    handle.shutdown();
                    panic!("the actor's datagram never came after {read} fillers: {err}");
                }
            }
        };
        assert!(
            polled < SPINNING,
            "the send was polled {polled} times in {WINDOW:?} while the receiver was full"
        );
        assert!(
            polled >= 2,
            "the send found room at once: the queue was not full"
        );
        assert_eq!(late, b"late");
        assert_eq!(read, queued);
        assert_eq!(sent_rx.recv_timeout(GUARD).unwrap().unwrap(), 4);
        running.join().unwrap().unwrap();
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
