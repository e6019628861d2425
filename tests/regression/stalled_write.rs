//! A connection writing to a peer that never reads held a graceful
//! shutdown for the whole grace period (then the exit status was 1). In a
//! stopping runtime such a write now gives up after
//! `Setup::stalled_write_limit` with `TimedOut`, and the runtime ends
//! cleanly at once.

use std::io::{self, Write};
use std::net::TcpStream as StdTcpStream;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::net::TcpStream;
use hearth::{Runtime, ThreadLocal};

use crate::server::serve;

/// Last guard for a hang, far below the grace period of the test's runtime.
const GUARD: Duration = Duration::from_secs(30);

/// What the connection actor saw of its big write.
type Outcome = Arc<Mutex<Option<io::ErrorKind>>>;

/// Answers one byte of request with 64 MiB, far more than the socket
/// buffers hold: the write can only end when the peer reads, or by giving
/// up. Says when it starts writing.
async fn stream_a_lot(
    _: Context<(), ThreadLocal>,
    mut stream: TcpStream,
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

#[test]
fn write_to_a_peer_that_never_reads_gives_up_once_stopping() {
    let runtime = Runtime::setup()
        .num_threads(1)
        .grace_period(Duration::from_mins(2))
        .stalled_write_limit(Duration::from_millis(200))
        .build()
        .unwrap();
    let (writing_tx, writing_rx) = mpsc::channel();
    let outcome = Outcome::default();
    let arg = (writing_tx, outcome.clone());
    let new_connection = actor_fn(move |ctx, stream| stream_a_lot(ctx, stream, arg.clone()));
    let serving = serve(runtime, new_connection);
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
