//! What only sockets in thread-safe actors do: they are `Send`, a
//! thread-safe `TcpServer`'s connections move off a worker held busy, and
//! a server on a socket handed to it closes that socket at once in a
//! graceful shutdown. What both modes do is written once in `net.rs`.
//!
//! The servers run on a runtime in a background thread; clients are plain
//! threads with blocking std sockets.

use std::io::{self, Read, Write};
use std::net::TcpStream as StdTcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::net::{TcpListener, TcpServer, TcpStream, UdpSocket};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

use crate::server::{ShutdownOnDrop, connect, round_trip, serve_thread_safe, wait_until};
use crate::{assert_send, assert_sync};

/// Last guard for blocking client calls.
const GUARD: Duration = Duration::from_secs(30);

#[test]
fn thread_safe_sockets_are_send() {
    assert_send::<TcpStream<ThreadSafe>>();
    assert_send::<TcpListener<ThreadSafe>>();
    assert_send::<UdpSocket<ThreadSafe>>();
    assert_sync::<TcpStream<ThreadSafe>>();
}

/// The worker whose thread runs the caller, from the thread's name
/// (`worker-N`); 0 elsewhere.
fn this_worker() -> u8 {
    thread::current()
        .name()
        .and_then(|name| name.strip_prefix("worker-"))
        .and_then(|id| id.parse().ok())
        .unwrap_or(0)
}

/// Answers each byte the client sends with the number of the worker that
/// runs the actor at that moment.
async fn tell_worker(
    ctx: Context<(), ThreadSafe>,
    mut stream: TcpStream<ThreadSafe>,
) -> io::Result<()> {
    let mut request = [0];
    while let Some(read) = ctx.until_stopping(stream.read(&mut request)).await {
        if read? == 0 {
            break;
        }
        stream.write_all(&[this_worker()]).await?;
    }
    Ok(())
}

/// Holds its worker's thread (a blocking receive) when told to: the
/// worker runs nothing else until `release` is dropped or sent to.
struct Hold {
    held: mpsc::Sender<u8>,
    release: mpsc::Receiver<()>,
}

async fn holder(mut ctx: Context<Hold, ThreadLocal>) {
    while let Ok(Hold { held, release }) = ctx.receive_next().await {
        held.send(this_worker()).unwrap();
        let _ = release.recv();
    }
}

/// Holds worker `worker` with its holder; returns the sender that
/// releases it, once the worker is held.
fn hold(holders: &[(u8, ActorRef<Hold>)], worker: u8) -> mpsc::Sender<()> {
    let (held_tx, held) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let (_, holder) = holders.iter().find(|(id, _)| *id == worker).unwrap();
    holder
        .try_send(Hold {
            held: held_tx,
            release: release_rx,
        })
        .unwrap();
    assert_eq!(held.recv_timeout(GUARD).unwrap(), worker);
    release
}

/// Asks each connection which worker answers it.
fn ask_all(clients: &mut [StdTcpStream]) -> Vec<u8> {
    clients
        .iter_mut()
        .map(|client| {
            client.write_all(b"?").unwrap();
            let mut worker = [0];
            client.read_exact(&mut worker).unwrap();
            worker[0]
        })
        .collect()
}

/// Connections move off a worker that is held busy: with worker 2 held,
/// worker 1 answers every connection; then with worker 1 held (and 2
/// free), worker 2 answers every one of them, although worker 1 ran them
/// all a moment before. A thread-local connection would wait for its
/// worker.
#[test]
fn connections_move_off_a_held_worker() {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let (holders_tx, holders_rx) = mpsc::channel();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let holder = rt.spawn_local(NoSupervisor, actor_fn(holder), (), ActorOptions::default());
        let worker = u8::try_from(rt.worker_id()).unwrap();
        holders_tx.send((worker, holder)).unwrap();
    });
    let mut holders: Vec<(u8, ActorRef<Hold>)> = (0..2)
        .map(|_| holders_rx.recv_timeout(GUARD).unwrap())
        .collect();
    holders.sort_by_key(|(id, _)| *id);
    let serving = serve_thread_safe(runtime, actor_fn(tell_worker));
    let mut clients: Vec<StdTcpStream> = (0..8).map(|_| connect(serving.addr)).collect();
    // Every connection has its actor.
    let _ = ask_all(&mut clients);

    let release_2 = hold(&holders, 2);
    assert_eq!(ask_all(&mut clients), [1; 8], "worker 2 is held");
    drop(release_2);

    let release_1 = hold(&holders, 1);
    assert_eq!(
        ask_all(&mut clients),
        [2; 8],
        "worker 1 is held: its connections must go to worker 2"
    );
    drop(release_1);

    drop(clients);
    drop(holders);
    serving.stop().unwrap();
}

/// A thread-safe `TcpServer` on a socket handed to it (as systemd hands
/// one over) serves it, and a graceful shutdown closes that socket at once
/// (new clients are refused, though the application keeps a copy of the
/// server) while the open connections finish.
#[test]
fn thread_safe_server_on_a_handed_socket_closes_it_in_a_shutdown() {
    async fn echo_to_the_end(
        _: Context<(), ThreadSafe>,
        mut stream: TcpStream<ThreadSafe>,
    ) -> io::Result<()> {
        let mut buf = [0; 64];
        loop {
            match stream.read(&mut buf).await? {
                0 => return Ok(()),
                n => stream.write_all(&buf[..n]).await?,
            }
        }
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = TcpServer::from_listener(
        listener,
        NoSupervisor,
        actor_fn(echo_to_the_end),
        ActorOptions::default(),
    )
    .unwrap();
    assert_eq!(server.local_addr(), addr);
    let kept = server.clone();
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let _ = runtime.spawn(NoSupervisor, server, (), ActorOptions::default());
    let handle = runtime.thread_safe();
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let _stop = ShutdownOnDrop(handle.clone());
        let mut clients: Vec<StdTcpStream> = (0..6).map(|_| connect(addr)).collect();
        for (i, client) in (0u8..).zip(clients.iter_mut()) {
            round_trip(client, i);
        }
        handle.shutdown();
        // A client that gets in before the close drops its connection at
        // once, which ends its actor.
        wait_until("new clients are refused", || {
            StdTcpStream::connect(addr)
                .is_err_and(|err| err.kind() == io::ErrorKind::ConnectionRefused)
        });
        // The open connections are still served.
        for (i, client) in (0u8..).zip(clients.iter_mut()) {
            round_trip(client, 100 + i);
        }
        drop(clients);
        running.join().unwrap().unwrap();
    });
    drop(kept);
}
