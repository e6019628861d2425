//! A connection writing to a peer that never reads held a graceful
//! shutdown for the whole grace period (then the exit status was 1). In a
//! stopping runtime such a write now gives up after
//! `Setup::stalled_write_limit` with `TimedOut`, and the runtime ends
//! cleanly at once. The same holds for the connections of a thread-safe
//! server, whose limit is a timer of the runtime's shared store.

use std::io::{self, Write};
use std::net::TcpStream as StdTcpStream;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::net::{SocketMode, TcpStream};
use hearth::{Runtime, ThreadLocal, ThreadSafe};

use crate::server::{Serving, serve, serve_thread_safe};

/// Last guard for a hang, far below the grace period of the test's runtime.
const GUARD: Duration = Duration::from_secs(30);

/// What the connection actor saw of its big write.
type Outcome = Arc<Mutex<Option<io::ErrorKind>>>;

/// Answers one byte of request with 64 MiB, far more than the socket
/// buffers hold: the write can only end when the peer reads, or by giving
/// up. Says when it starts writing.
async fn stream_a_lot<RT: SocketMode>(
    _: Context<(), RT>,
    mut stream: TcpStream<RT>,
    (writing, outcome): (mpsc::Sender<()>, Outcome),
) -> io::Result<()> {
    let mut request = [0; 1];
    stream.read_exact(&mut request).await?;
    let _ = writing.send(());
    let big = vec![b'x'; 64 << 20];
    let result = stream.write_all(&big).await;
    *outcome.lock().unwrap() = Some(match &result {
        Ok(()) => io::ErrorKind::Other,
        Err(err) => err.kind(),
    });
    Ok(())
}

/// A runtime whose grace period is far longer than the test may take, and
/// whose stalled-write limit is short.
fn runtime(workers: usize) -> Runtime {
    Runtime::setup()
        .num_threads(workers)
        .grace_period(Duration::from_mins(2))
        .stalled_write_limit(Duration::from_millis(200))
        .build()
        .unwrap()
}

#[test]
fn write_to_a_peer_that_never_reads_gives_up_once_stopping() {
    let (writing_tx, writing_rx) = mpsc::channel();
    let outcome = Outcome::default();
    let arg = (writing_tx, outcome.clone());
    let new_connection =
        actor_fn(move |ctx, stream| stream_a_lot::<ThreadLocal>(ctx, stream, arg.clone()));
    let serving = serve(runtime(1), new_connection);
    rude_client(serving, &writing_rx, &outcome);
}

#[test]
fn thread_safe_write_to_a_peer_that_never_reads_gives_up_once_stopping() {
    let (writing_tx, writing_rx) = mpsc::channel();
    let outcome = Outcome::default();
    let arg = (writing_tx, outcome.clone());
    let new_connection =
        actor_fn(move |ctx, stream| stream_a_lot::<ThreadSafe>(ctx, stream, arg.clone()));
    let serving = serve_thread_safe(runtime(2), new_connection);
    rude_client(serving, &writing_rx, &outcome);
}

/// Asks `serving` for its answer and never reads it; the shutdown must end
/// with the write given up.
fn rude_client(serving: Serving, writing_rx: &mpsc::Receiver<()>, outcome: &Outcome) {
    // The rude client: asks, then never reads.
    let mut client = StdTcpStream::connect(serving.addr).unwrap();
    client.write_all(b"?").unwrap();
    writing_rx
        .recv_timeout(GUARD)
        .expect("the server never wrote");
    serving.stop().expect("the stalled write held the shutdown");
    assert_eq!(*outcome.lock().unwrap(), Some(io::ErrorKind::TimedOut));
    drop(client);
}
