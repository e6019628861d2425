//! Sockets in thread-safe actors: a thread-safe `TcpServer` under many
//! clients over two workers, connections that move off a worker held busy,
//! request-then-close clients, graceful shutdown, and TCP and UDP from
//! thread-safe actors of their own.
//!
//! The servers run on a runtime in a background thread; clients are plain
//! threads with blocking std sockets.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream as StdTcpStream};
use std::thread;
use std::time::Duration;

use hearth::ThreadSafe;
use hearth::actor::{Context, actor_fn};
use hearth::net::TcpStream;

use crate::server::with_thread_safe_server;

/// Last guard for blocking client calls.
const GUARD: Duration = Duration::from_secs(30);

async fn echo(ctx: Context<(), ThreadSafe>, mut stream: TcpStream<ThreadSafe>) -> io::Result<()> {
    let mut buf = vec![0; 4096];
    while let Some(read) = ctx.until_stopping(stream.read(&mut buf)).await {
        let n = read?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await?;
    }
    Ok(())
}

fn connect(addr: SocketAddr) -> StdTcpStream {
    let stream = StdTcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

#[test]
fn hundred_clients_thousand_messages_each() {
    with_thread_safe_server(2, actor_fn(echo), |addr, _| {
        let clients: Vec<_> = (0..100u32)
            .map(|client| {
                thread::spawn(move || {
                    let mut stream = connect(addr);
                    let mut got = [0; 8];
                    for seq in 0..1000u32 {
                        let mut msg = [0; 8];
                        msg[..4].copy_from_slice(&client.to_be_bytes());
                        msg[4..].copy_from_slice(&seq.to_be_bytes());
                        stream.write_all(&msg).unwrap();
                        stream.read_exact(&mut got).unwrap();
                        assert_eq!(got, msg);
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
    });
}

/// Request-then-close clients: each sends `hello`, shuts down its write
/// side at once and must get its echo and the end of the connection.
#[test]
fn request_then_close_clients_see_their_echo_and_the_end() {
    with_thread_safe_server(2, actor_fn(echo), |addr, _| {
        thread::scope(|s| {
            for _ in 0..4 {
                let _ = s.spawn(move || {
                    for _ in 0..25 {
                        let mut client = connect(addr);
                        client.write_all(b"hello").unwrap();
                        client.shutdown(Shutdown::Write).unwrap();
                        let mut got = Vec::new();
                        let _ = client.read_to_end(&mut got).unwrap();
                        assert_eq!(got, b"hello");
                    }
                });
            }
        });
    });
}
