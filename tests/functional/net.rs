//! Networking: an echo server under concurrent clients, misbehaving
//! clients, connection churn, and UDP.
//!
//! The server runs on a runtime in a background thread; clients are plain
//! threads with blocking std sockets. The test stops the server with a
//! graceful shutdown and checks that `start` then returns cleanly.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::net::{TcpServer, TcpStream, UdpSocket};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

use crate::server::{ShutdownOnDrop, with_server};

/// Last guard for blocking client calls.
const GUARD: Duration = Duration::from_secs(30);

async fn echo(ctx: Context<(), ThreadLocal>, mut stream: TcpStream) -> io::Result<()> {
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

/// Runs an echo server on two workers while `clients` runs, then shuts it
/// down gracefully.
fn with_echo_server(clients: impl FnOnce(SocketAddr)) {
    with_server(2, actor_fn(echo), |addr, _| clients(addr));
}

fn connect(addr: SocketAddr) -> StdTcpStream {
    let stream = StdTcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

#[test]
fn hundred_clients_thousand_messages_each() {
    with_echo_server(|addr| {
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
                        assert_eq!(got, msg, "client {client} message {seq}");
                    }
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
    });
}

#[test]
fn clients_disconnecting_mid_write_do_not_disturb_others() {
    with_echo_server(|addr| {
        let (done_tx, done_rx) = mpsc::channel();
        let steady = thread::spawn(move || {
            let mut stream = connect(addr);
            let mut got = vec![0; 1024];
            let mut rounds = 0;
            let mut done = false;
            while !done || rounds < 100 {
                done = done || done_rx.try_recv().is_ok();
                let msg: Vec<u8> = (0..1024)
                    .map(|i: usize| (i + rounds).to_le_bytes()[0])
                    .collect();
                stream.write_all(&msg).unwrap();
                stream.read_exact(&mut got).unwrap();
                assert_eq!(got, msg);
                rounds += 1;
            }
            rounds
        });
        for _ in 0..50 {
            // Write a lot without reading the echo, then vanish.
            let mut rude = connect(addr);
            let _ = rude.write_all(&vec![7; 256 * 1024]);
            drop(rude);
        }
        done_tx.send(()).unwrap();
        assert!(steady.join().unwrap() >= 100);
    });
}

#[test]
fn thousand_connect_and_close_cycles() {
    with_echo_server(|addr| {
        for _ in 0..1000 {
            drop(connect(addr));
        }
        // Still serving.
        let mut stream = connect(addr);
        stream.write_all(b"still here").unwrap();
        let mut got = [0; 10];
        stream.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"still here");
    });
}

#[test]
fn bind_error_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    // Without SO_REUSEPORT on the first socket, the port cannot be shared.
    let err =
        TcpServer::setup(addr, NoSupervisor, actor_fn(echo), ActorOptions::default()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert!(
        err.to_string().starts_with(&format!("bind {addr}: ")),
        "{err}"
    );
}

async fn udp_echo(
    mut ctx: Context<(), ThreadLocal>,
    ready: mpsc::Sender<SocketAddr>,
) -> io::Result<()> {
    let mut socket = UdpSocket::bind(ctx.runtime(), "127.0.0.1:0".parse().unwrap())?;
    ready.send(socket.local_addr()?).unwrap();
    let mut buf = [0; 1500];
    // Echo three datagrams, then stop.
    for _ in 0..3 {
        let (n, from) = socket.recv_from(&mut buf).await?;
        let _ = socket.send_to(&buf[..n], from).await?;
    }
    Ok(())
}

async fn udp_client(
    mut ctx: Context<(), ThreadLocal>,
    (server, out): (SocketAddr, mpsc::Sender<Vec<u8>>),
) -> io::Result<()> {
    let mut socket = UdpSocket::bind(ctx.runtime(), "127.0.0.1:0".parse().unwrap())?;
    socket.connect(server)?;
    assert_eq!(socket.peer_addr()?, server);
    let _ = socket.send(b"from an actor").await?;
    let mut buf = [0; 64];
    let n = socket.recv(&mut buf).await?;
    out.send(buf[..n].to_vec()).unwrap();
    Ok(())
}

#[test]
fn udp_round_trips() {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (out_tx, out_rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(udp_echo),
            ready_tx,
            ActorOptions::default(),
        );
        Ok::<_, String>(())
    });
    thread::scope(|s| {
        let server = ready_rx.recv().unwrap();
        // A plain std client.
        let client = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(GUARD)).unwrap();
        for msg in [&b"one"[..], b"two"] {
            let _ = client.send_to(msg, server).unwrap();
            let mut buf = [0; 16];
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (msg, server));
        }
        // And one actor talking to another.
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let _ = rt.spawn_local(
                NoSupervisor,
                actor_fn(udp_client),
                (server, out_tx),
                ActorOptions::default(),
            );
            Ok::<_, String>(())
        });
        let running = s.spawn(|| runtime.start());
        assert_eq!(out_rx.recv().unwrap(), b"from an actor");
        running.join().unwrap().unwrap();
    });
}

/// Tells the client which worker runs it (one byte), then echoes until the
/// client closes.
async fn tell_worker(mut ctx: Context<(), ThreadLocal>, mut stream: TcpStream) -> io::Result<()> {
    let worker = u8::try_from(ctx.runtime().worker_id()).unwrap_or(u8::MAX);
    stream.write_all(&[worker]).await?;
    echo(ctx, stream).await
}

/// Connects and reads the worker byte of [`tell_worker`].
fn connect_and_ask(addr: SocketAddr) -> (StdTcpStream, u8) {
    let mut stream = connect(addr);
    let mut worker = [0];
    stream.read_exact(&mut worker).unwrap();
    (stream, worker[0])
}

/// Closes a connection and waits until the server closed its side.
fn close_and_wait(mut stream: StdTcpStream) {
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).unwrap();
}

#[test]
fn connections_are_spread_evenly_over_workers() {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = TcpServer::setup(
        addr,
        NoSupervisor,
        actor_fn(tell_worker),
        ActorOptions::default(),
    )
    .unwrap();
    let addr = server.local_addr();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(NoSupervisor, server.clone(), (), ActorOptions::default());
        Ok::<_, String>(())
    });
    let handle: ThreadSafe = runtime.thread_safe();
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        // Stops the server also when an assertion fails, so the test fails
        // instead of hanging.
        let stop = ShutdownOnDrop(handle);
        // Until both listeners run (the runtime starts in the background),
        // connections can only go to the first: connect and close until
        // each worker has served one.
        let mut seen = [false; 2];
        for _ in 0..1000 {
            let (stream, worker) = connect_and_ask(addr);
            close_and_wait(stream);
            seen[usize::from(worker == 2)] = true;
            if seen == [true, true] {
                break;
            }
        }
        assert_eq!(seen, [true, true], "a worker never served a connection");
        // One after another: the kernel picks a listener by a hash of the
        // addresses, the server evens the count out.
        let mut open: Vec<(StdTcpStream, u8)> = (0..20).map(|_| connect_and_ask(addr)).collect();
        let on = |open: &[(StdTcpStream, u8)], worker: u8| {
            open.iter().filter(|(_, w)| *w == worker).count()
        };
        assert_eq!((on(&open, 1), on(&open, 2)), (10, 10));
        // Emptying worker 1 sends the next ten connections all there.
        let (first, second): (Vec<_>, Vec<_>) = open.drain(..).partition(|(_, w)| *w == 1);
        for (stream, _) in first {
            close_and_wait(stream);
        }
        open = second;
        let new: Vec<(StdTcpStream, u8)> = (0..10).map(|_| connect_and_ask(addr)).collect();
        assert_eq!(
            on(&new, 1),
            10,
            "new connections went to {:?}",
            new.iter().map(|(_, w)| w).collect::<Vec<_>>()
        );
        drop(open);
        drop(new);
        drop(stop);
        running.join().unwrap().unwrap();
    });
}

/// The server's connections and its connection actors are in the metrics:
/// started, open and closed per worker, and the live actors by name.
#[test]
fn server_connections_and_actors_are_in_the_metrics() {
    with_server(2, actor_fn(echo), |addr, handle| {
        // Three connections, each answered once (so its actor runs).
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
                .workers
                .iter()
                .flat_map(|w| &w.processes)
                .filter(|p| p.name == name)
                .map(|p| p.count)
                .sum()
        };
        // A connection actor per client, and the listeners (one per worker
        // that has started its own).
        assert_eq!(count("echo"), 3, "{:?}", metrics.workers);
        let listeners = count("TcpServer");
        assert!((1..=2).contains(&listeners), "{:?}", metrics.workers);
        let actors: usize = metrics.workers.iter().map(|w| w.actors).sum();
        assert_eq!(actors, 3 + listeners);
        // Two end: the server's side is counted closed before the client
        // sees the end.
        for mut client in clients.drain(..2) {
            client.shutdown(std::net::Shutdown::Write).unwrap();
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
        let per_worker: usize = server.workers.iter().map(|w| w.accepted).sum();
        assert_eq!(per_worker, 3);
    });
}

/// Makes echo actors for a server's connections, but fails for every other
/// connection (the first, the third, ...).
#[derive(Clone)]
struct EveryOtherEcho(Arc<AtomicUsize>);

impl hearth::actor::NewActor for EveryOtherEcho {
    type Message = ();
    type Argument = TcpStream;
    type Actor = std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<()>>>>;
    type Error = String;
    type RuntimeAccess = ThreadLocal;

    fn new(
        &mut self,
        ctx: Context<(), ThreadLocal>,
        stream: TcpStream,
    ) -> Result<Self::Actor, String> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        if n % 2 == 1 {
            return Err(format!("connection {n}: no room for it"));
        }
        Ok(Box::pin(echo(ctx, stream)))
    }
}

/// A connection actor that cannot be created ends that connection (the
/// client sees it closed); the server goes on with the others.
#[test]
fn server_connection_whose_actor_cannot_be_created_is_closed() {
    with_server(1, EveryOtherEcho(Arc::default()), |addr, _| {
        for round in 0..2 {
            // The odd connection is closed at once, the even one echoes.
            let mut refused = connect(addr);
            let mut got = Vec::new();
            assert_eq!(
                refused.read_to_end(&mut got).unwrap_or(0),
                0,
                "round {round}"
            );
            let mut served = connect(addr);
            served.write_all(b"hi").unwrap();
            let mut echo = [0; 2];
            served.read_exact(&mut echo).unwrap();
            assert_eq!(&echo, b"hi");
        }
    });
}

/// What the UDP actor saw, in order.
type UdpSeen = mpsc::Sender<(String, Vec<u8>)>;

/// Peeks and receives from the test's socket, then answers with vectored
/// sends, connected and not, and receives vectored.
async fn udp_vectored(
    mut ctx: Context<(), ThreadLocal>,
    (addr_tx, seen): (mpsc::Sender<SocketAddr>, UdpSeen),
) -> io::Result<()> {
    let mut socket = UdpSocket::bind(ctx.runtime(), "127.0.0.1:0".parse().unwrap())?;
    addr_tx.send(socket.local_addr()?).unwrap();
    assert!(socket.take_error()?.is_none());
    let mut buf = [0; 16];
    let (n, peer) = socket.peek_from(&mut buf).await?;
    seen.send(("peek_from".into(), buf[..n].to_vec())).unwrap();
    let (n, _) = socket.recv_from(&mut buf).await?;
    seen.send(("recv_from".into(), buf[..n].to_vec())).unwrap();
    let sent = socket
        .send_to_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")], peer)
        .await?;
    assert_eq!(sent, 4);
    let (mut a, mut b) = ([0; 2], [0; 8]);
    let (n, from) = socket
        .recv_from_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
        .await?;
    assert_eq!(from, peer);
    seen.send(("recv_from_vectored".into(), [&a[..], &b[..n - 2]].concat()))
        .unwrap();
    socket.connect(peer)?;
    let n = socket.peek(&mut buf).await?;
    seen.send(("peek".into(), buf[..n].to_vec())).unwrap();
    let n = socket
        .recv_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
        .await?;
    seen.send(("recv_vectored".into(), [&a[..], &b[..n - 2]].concat()))
        .unwrap();
    socket
        .send_vectored(&[IoSlice::new(b"e"), IoSlice::new(b"f")])
        .await?;
    Ok(())
}

#[test]
fn udp_peek_and_vectored_datagrams() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (seen_tx, seen_rx) = mpsc::channel();
    let arg = Arc::new(std::sync::Mutex::new(Some((addr_tx, seen_tx))));
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let arg = arg.lock().unwrap().take().unwrap();
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(udp_vectored),
            arg,
            ActorOptions::default(),
        );
    });
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let addr = addr_rx.recv_timeout(GUARD).unwrap();
        let client = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(GUARD)).unwrap();
        client.send_to(b"hello", addr).unwrap();
        let mut buf = [0; 16];
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"abcd");
        client.send_to(b"wxyz", addr).unwrap();
        client.send_to(b"1234", addr).unwrap();
        let (n, _) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ef");
        running.join().unwrap().unwrap();
    });
    let seen: Vec<(String, Vec<u8>)> = seen_rx.iter().collect();
    let want: Vec<(String, Vec<u8>)> = [
        ("peek_from", &b"hello"[..]),
        ("recv_from", b"hello"),
        ("recv_from_vectored", b"wxyz"),
        ("peek", b"1234"),
        ("recv_vectored", b"1234"),
    ]
    .iter()
    .map(|(what, bytes)| ((*what).to_owned(), bytes.to_vec()))
    .collect();
    assert_eq!(seen, want);
}
