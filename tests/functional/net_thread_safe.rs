//! Sockets in thread-safe actors: a thread-safe `TcpServer` under many
//! clients over two workers, connections that move off a worker held busy,
//! request-then-close clients, graceful shutdown, a server on a socket
//! handed to it, and TCP and UDP from thread-safe actors of their own.
//!
//! The servers run on a runtime in a background thread; clients are plain
//! threads with blocking std sockets.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream as StdTcpStream, UdpSocket as StdUdpSocket};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::net::{TcpListener, TcpServer, TcpStream, UdpSocket};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

use crate::server::{
    ShutdownOnDrop, round_trip, serve_thread_safe, wait_until, with_thread_safe_server,
};
use crate::{assert_send, assert_sync};

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

#[test]
fn thread_safe_sockets_are_send() {
    assert_send::<TcpStream<ThreadSafe>>();
    assert_send::<TcpListener<ThreadSafe>>();
    assert_send::<UdpSocket<ThreadSafe>>();
    assert_sync::<TcpStream<ThreadSafe>>();
}

/// A thread-safe actor listens, connects to itself and exchanges a
/// message both ways; another connects to a std listener.
async fn tcp_both_ends(
    mut ctx: Context<(), ThreadSafe>,
    out: mpsc::Sender<Vec<u8>>,
) -> io::Result<()> {
    let mut listener = TcpListener::bind(ctx.runtime(), "127.0.0.1:0".parse().unwrap())?;
    let addr = listener.local_addr()?;
    let mut client = TcpStream::connect(ctx.runtime(), addr).await?;
    let (mut server, peer) = listener.accept().await?;
    assert_eq!(peer, client.local_addr()?);
    client.write_all(b"ping").await?;
    let mut buf = [0; 4];
    server.read_exact(&mut buf).await?;
    server.write_all(b"pong").await?;
    client.read_exact(&mut buf).await?;
    out.send(buf.to_vec()).unwrap();
    // The end of the stream, after the peer shut its side down.
    client.shutdown(Shutdown::Write)?;
    let n = server.read(&mut buf).await?;
    out.send(vec![u8::try_from(n).unwrap()]).unwrap();
    Ok(())
}

async fn tcp_client(
    mut ctx: Context<(), ThreadSafe>,
    (addr, out): (SocketAddr, mpsc::Sender<Vec<u8>>),
) -> io::Result<()> {
    let mut stream = TcpStream::connect(ctx.runtime(), addr).await?;
    stream.write_all(b"hello").await?;
    let mut got = Vec::new();
    let mut buf = [0; 64];
    loop {
        match stream.read(&mut buf).await? {
            0 => break,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
    out.send(got).unwrap();
    Ok(())
}

#[test]
fn thread_safe_actors_use_tcp() {
    let (out_tx, out) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(tcp_both_ends),
        out_tx.clone(),
        ActorOptions::default(),
    );
    // A plain std server for the second actor.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(tcp_client),
        (addr, out_tx),
        ActorOptions::default(),
    );
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let (mut peer, _) = std_listener.accept().unwrap();
        let mut hello = [0; 5];
        peer.read_exact(&mut hello).unwrap();
        peer.write_all(b"hi there").unwrap();
        drop(peer);
        let mut seen: Vec<Vec<u8>> = (0..3).map(|_| out.recv_timeout(GUARD).unwrap()).collect();
        seen.sort();
        assert_eq!(seen, [vec![0], b"hi there".to_vec(), b"pong".to_vec()]);
        assert_eq!(&hello, b"hello");
        running.join().unwrap().unwrap();
    });
}

async fn udp_echo(
    mut ctx: Context<(), ThreadSafe>,
    ready: mpsc::Sender<SocketAddr>,
) -> io::Result<()> {
    let mut socket = UdpSocket::bind(ctx.runtime(), "127.0.0.1:0".parse().unwrap())?;
    ready.send(socket.local_addr()?).unwrap();
    let mut buf = [0; 1500];
    for _ in 0..3 {
        let (n, from) = socket.recv_from(&mut buf).await?;
        let _ = socket.send_to(&buf[..n], from).await?;
    }
    Ok(())
}

async fn udp_client(
    mut ctx: Context<(), ThreadSafe>,
    (server, out): (SocketAddr, mpsc::Sender<Vec<u8>>),
) -> io::Result<()> {
    let mut socket = UdpSocket::bind(ctx.runtime(), "127.0.0.1:0".parse().unwrap())?;
    socket.connect(server)?;
    let _ = socket.send(b"from an actor").await?;
    let mut buf = [0; 64];
    let n = socket.recv(&mut buf).await?;
    out.send(buf[..n].to_vec()).unwrap();
    Ok(())
}

#[test]
fn thread_safe_actors_use_udp() {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (out_tx, out_rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(udp_echo),
        ready_tx,
        ActorOptions::default(),
    );
    let handle = runtime.thread_safe();
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let server = ready_rx.recv_timeout(GUARD).unwrap();
        let client = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(GUARD)).unwrap();
        for msg in [&b"one"[..], b"two"] {
            let _ = client.send_to(msg, server).unwrap();
            let mut buf = [0; 16];
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (msg, server));
        }
        // And one thread-safe actor talking to the other.
        let _ = handle.spawn(
            NoSupervisor,
            actor_fn(udp_client),
            (server, out_tx),
            ActorOptions::default(),
        );
        assert_eq!(out_rx.recv_timeout(GUARD).unwrap(), b"from an actor");
        running.join().unwrap().unwrap();
    });
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

/// What the connection actors of [`slow_and_idle_connections_end_in_a_shutdown`]
/// saw at the end.
type Ends = Arc<Mutex<Vec<&'static str>>>;

/// Answers `?` with `!` after the runtime begins its shutdown (a request
/// in flight), or waits for the next request; says how it ended.
async fn answer_in_shutdown(
    ctx: Context<(), ThreadSafe>,
    mut stream: TcpStream<ThreadSafe>,
    (ends, asked): (Ends, mpsc::Sender<()>),
) -> io::Result<()> {
    let mut request = [0];
    loop {
        match ctx.until_stopping(stream.read(&mut request)).await {
            None => {
                ends.lock().unwrap().push("idle");
                return Ok(());
            }
            Some(Ok(0)) => {
                ends.lock().unwrap().push("closed");
                return Ok(());
            }
            Some(read) => {
                let _ = read?;
            }
        }
        asked.send(()).unwrap();
        // In flight: answered once the shutdown began.
        while !ctx.is_stopping() {
            hearth::timer::Timer::after(ctx.runtime_ref().clone(), Duration::from_millis(1)).await;
        }
        stream.write_all(b"!").await?;
        ends.lock().unwrap().push("answered");
    }
}

/// A graceful shutdown of a thread-safe server: the listener stops, a
/// request in flight is answered, idle connections end, and the runtime
/// ends cleanly.
#[test]
fn slow_and_idle_connections_end_in_a_shutdown() {
    let ends = Ends::default();
    let (asked_tx, asked) = mpsc::channel();
    let arg = (ends.clone(), asked_tx);
    let runtime = Runtime::setup().num_threads(2).build().unwrap();
    let serving = serve_thread_safe(
        runtime,
        actor_fn(move |ctx, stream| answer_in_shutdown(ctx, stream, arg.clone())),
    );
    let mut busy = connect(serving.addr);
    let idle: Vec<StdTcpStream> = (0..3).map(|_| connect(serving.addr)).collect();
    busy.write_all(b"?").unwrap();
    asked.recv_timeout(GUARD).unwrap();
    let addr = serving.addr;
    serving.stop().unwrap();
    let mut answer = [0];
    busy.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"!");
    let mut ends = ends.lock().unwrap().clone();
    ends.sort_unstable();
    assert_eq!(ends, ["answered", "idle", "idle", "idle", "idle"]);
    for mut client in idle {
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
    }
    // The listener is gone with the runtime.
    assert!(StdTcpStream::connect(addr).is_err());
}

/// A thread-safe server's connections are in the metrics, counted under
/// worker 0 (they run on any worker), and its actors among the
/// thread-safe processes.
#[test]
fn thread_safe_server_connections_are_in_the_metrics() {
    with_thread_safe_server(2, actor_fn(echo), |addr, handle| {
        let mut clients: Vec<StdTcpStream> = (0..3)
            .map(|_| {
                let mut client = connect(addr);
                client.write_all(b"hi").unwrap();
                let mut got = [0; 2];
                client.read_exact(&mut got).unwrap();
                client
            })
            .collect();
        let metrics = handle.metrics();
        let count = |name: &str| -> usize {
            metrics
                .thread_safe
                .iter()
                .filter(|p| p.name == name)
                .map(|p| p.count)
                .sum()
        };
        assert_eq!(count("echo"), 3, "{:?}", metrics.thread_safe);
        assert_eq!(count("TcpServer"), 1, "{:?}", metrics.thread_safe);
        for mut client in clients.drain(..2) {
            client.shutdown(Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
        }
        let metrics = handle.metrics();
        assert_eq!(metrics.tcp_servers.len(), 1);
        let server = &metrics.tcp_servers[0];
        assert_eq!(server.addr, addr);
        assert_eq!(
            (server.accepted(), server.open(), server.closed()),
            (3, 1, 2),
            "{server:?}"
        );
        assert_eq!(
            server.workers.iter().map(|w| w.worker).collect::<Vec<_>>(),
            [0]
        );
    });
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
