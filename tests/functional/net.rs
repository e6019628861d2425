//! Networking, each behaviour written once over both socket modes and run
//! in each (`util/modes.rs`: the tests `<behaviour>::thread_local` and
//! `<behaviour>::thread_safe`): a `TcpServer` of thread-local or of
//! thread-safe connection actors under concurrent clients, misbehaving
//! clients, request-then-close clients and connection churn, a connection
//! actor that cannot be created, a graceful shutdown, and the server's
//! metrics; TCP and UDP sockets of either mode, talking to each other and
//! to std ones. Then what only a thread-local server does: a bind error,
//! and connections spread evenly over the workers (what only a
//! thread-safe one does is in `net_thread_safe.rs`).
//!
//! Servers run on a runtime in a background thread; clients are plain
//! threads with blocking std sockets. A server test stops its server with
//! a graceful shutdown and checks that `start` then returns cleanly.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream as StdTcpStream, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use hearth::actor::{Context, NewActor, actor_fn};
use hearth::metrics::{ProcessCount, ProcessKind, RuntimeMetrics};
use hearth::net::{SocketAccess, SocketMode, TcpListener, TcpServer, TcpStream, UdpSocket};
use hearth::supervisor::NoSupervisor;
use hearth::timer::Timer;
use hearth::{Access, ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

use crate::server::{
    Connections, ShutdownOnDrop, close_and_wait, connect, echo_messages, read_worker,
    until_both_workers_answer, with_connections,
};

/// Last guard for blocking client calls.
const GUARD: Duration = Duration::from_secs(30);

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// What the tests need of a socket mode beyond [`SocketMode`]: its
/// connection actors, made for a server of that mode, and where a
/// runtime's metrics count its actors.
trait Mode: SocketMode + Access {
    /// How many listeners a server on two workers runs: one per worker that
    /// has started its own (thread-local), or one on the shared poll
    /// (thread-safe).
    const LISTENERS: std::ops::RangeInclusive<usize>;

    /// The workers a server's connections may be counted under: the one
    /// that accepted each (thread-local: workers 1 and 2), or worker 0 for
    /// all (thread-safe: they run on any).
    const COUNTED_UNDER: &[usize];

    /// [`echo`] connections.
    fn echo() -> impl Connections<Self>;

    /// [`echo`] connections of which every other one, the first, the third,
    /// ..., cannot be created ([`EveryOther`]).
    fn every_other_echo() -> impl Connections<Self>;

    /// [`answer_in_shutdown`] connections, which say how they ended in
    /// `ends`, and when they start and when they are asked on `events`.
    fn answer_in_shutdown(ends: Ends, events: mpsc::Sender<Event>) -> impl Connections<Self>;

    /// The live processes of this mode, by name.
    fn processes(metrics: &RuntimeMetrics) -> Vec<ProcessCount>;

    /// How many actors of this mode are alive.
    fn actors(metrics: &RuntimeMetrics) -> usize;
}

/// The connection actor constructors of [`Mode`], the same in each mode's
/// `impl` (a default method could not prove a mode's bounds).
macro_rules! connection_actors {
    () => {
        fn echo() -> impl Connections<Self> {
            actor_fn(echo::<Self>)
        }

        fn every_other_echo() -> impl Connections<Self> {
            EveryOther(Arc::default(), actor_fn(echo::<Self>))
        }

        fn answer_in_shutdown(ends: Ends, events: mpsc::Sender<Event>) -> impl Connections<Self> {
            actor_fn(move |ctx: Context<(), Self>, stream: TcpStream<Self>| {
                answer_in_shutdown(ctx, stream, ends.clone(), events.clone())
            })
        }
    };
}

impl Mode for ThreadLocal {
    const LISTENERS: std::ops::RangeInclusive<usize> = 1..=2;
    const COUNTED_UNDER: &[usize] = &[1, 2];

    connection_actors!();

    fn processes(metrics: &RuntimeMetrics) -> Vec<ProcessCount> {
        metrics
            .workers
            .iter()
            .flat_map(|w| w.processes.iter().copied())
            .collect()
    }

    fn actors(metrics: &RuntimeMetrics) -> usize {
        metrics.workers.iter().map(|w| w.actors).sum()
    }
}

impl Mode for ThreadSafe {
    const LISTENERS: std::ops::RangeInclusive<usize> = 1..=1;
    const COUNTED_UNDER: &[usize] = &[0];

    connection_actors!();

    fn processes(metrics: &RuntimeMetrics) -> Vec<ProcessCount> {
        metrics.thread_safe.clone()
    }

    fn actors(metrics: &RuntimeMetrics) -> usize {
        metrics
            .thread_safe
            .iter()
            .filter(|p| p.kind == ProcessKind::Actor)
            .map(|p| p.count)
            .sum()
    }
}

/// Echoes until the client closes, or the runtime stops.
async fn echo<RT: SocketMode>(ctx: Context<(), RT>, mut stream: TcpStream<RT>) -> io::Result<()> {
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

in_both_modes!(
    hundred_clients_thousand_messages_each,
    request_then_close_clients_see_their_echo_and_the_end,
    clients_disconnecting_mid_write_do_not_disturb_others,
    thousand_connect_and_close_cycles,
    connection_whose_actor_cannot_be_created_is_closed,
    slow_and_idle_connections_end_in_a_shutdown,
    server_connections_and_actors_are_in_the_metrics,
);

/// Std sockets made elsewhere (connected, bound) are taken over; a
/// stream's `SO_KEEPALIVE` is set and read back, and it has no pending
/// error.
async fn std_sockets_taken_over<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let listener = std::net::TcpListener::bind(localhost())?;
    let std_stream = StdTcpStream::connect(listener.local_addr()?)?;
    let (mut peer, _) = listener.accept()?;
    let mut stream = TcpStream::<RT>::from_std(&mut rt, std_stream)?;
    assert!(stream.take_error()?.is_none());
    assert!(!stream.keepalive()?);
    stream.set_keepalive(true)?;
    assert!(stream.keepalive()?);
    stream.set_keepalive(false)?;
    assert!(!stream.keepalive()?);
    stream.write_all(b"taken over").await?;
    let mut buf = [0; 10];
    peer.read_exact(&mut buf)?;
    assert_eq!(&buf, b"taken over");

    let std_socket = StdUdpSocket::bind(localhost())?;
    let addr = std_socket.local_addr()?;
    let mut socket = UdpSocket::<RT>::from_std(&mut rt, std_socket)?;
    assert_eq!(socket.local_addr()?, addr);
    let client = StdUdpSocket::bind(localhost())?;
    let _ = client.send_to(b"datagram", addr)?;
    let mut buf = [0; 16];
    let (n, from) = socket.recv_from(&mut buf).await?;
    assert_eq!((&buf[..n], from), (&b"datagram"[..], client.local_addr()?));
    Ok(())
}

in_both_modes!(async tcp_both_ends, udp_round_trips, udp_peek_and_vectored_datagrams, std_sockets_taken_over);

/// A hundred clients at once over two workers, each a thousand messages
/// one after another, all echoed.
fn hundred_clients_thousand_messages_each<RT: Mode>() {
    with_connections(2, RT::echo(), |addr, _| {
        let clients: Vec<_> = (0..100u32)
            .map(|client| thread::spawn(move || echo_messages(&mut connect(addr), client, 1000)))
            .collect();
        for client in clients {
            client.join().unwrap();
        }
    });
}

/// Request-then-close clients: each sends `hello`, shuts down its write
/// side at once and must get its echo and the end of the connection.
fn request_then_close_clients_see_their_echo_and_the_end<RT: Mode>() {
    with_connections(2, RT::echo(), |addr, _| {
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

/// Clients that write a lot without reading the echo and vanish do not
/// hold up a steady client.
fn clients_disconnecting_mid_write_do_not_disturb_others<RT: Mode>() {
    with_connections(2, RT::echo(), |addr, _| {
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

/// A thousand clients that connect and close at once leave the server
/// serving.
fn thousand_connect_and_close_cycles<RT: Mode>() {
    with_connections(2, RT::echo(), |addr, _| {
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

/// Makes the actors of the connection actor `NA`, but fails for every
/// other connection (the first, the third, ...).
#[derive(Clone)]
struct EveryOther<NA>(Arc<AtomicUsize>, NA);

impl<NA: NewActor> NewActor for EveryOther<NA>
where
    NA::Error: std::fmt::Display,
{
    type Message = NA::Message;
    type Argument = NA::Argument;
    type Actor = NA::Actor;
    type Error = String;
    type RuntimeAccess = NA::RuntimeAccess;

    fn new(
        &mut self,
        ctx: Context<NA::Message, NA::RuntimeAccess>,
        arg: NA::Argument,
    ) -> Result<NA::Actor, String> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        if n % 2 == 1 {
            return Err(format!("connection {n}: no room for it"));
        }
        self.1.new(ctx, arg).map_err(|err| err.to_string())
    }
}

/// A connection actor that cannot be created ends that connection (the
/// client sees it closed); the server goes on with the others.
fn connection_whose_actor_cannot_be_created_is_closed<RT: Mode>() {
    with_connections(1, RT::every_other_echo(), |addr, _| {
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

/// What the connection actors of [`slow_and_idle_connections_end_in_a_shutdown`]
/// saw at the end.
type Ends = Arc<Mutex<Vec<&'static str>>>;

/// What a connection of [`answer_in_shutdown`] tells the test.
#[derive(Debug, PartialEq)]
enum Event {
    /// Its actor started.
    Started,
    /// It read a request.
    Asked,
}

/// Answers `?` with `!` after the runtime begins its shutdown (a request
/// in flight), or waits for the next request; says how it ended.
async fn answer_in_shutdown<RT: Mode>(
    ctx: Context<(), RT>,
    mut stream: TcpStream<RT>,
    ends: Ends,
    events: mpsc::Sender<Event>,
) -> io::Result<()> {
    events.send(Event::Started).unwrap();
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
        events.send(Event::Asked).unwrap();
        // In flight: answered once the shutdown began.
        while !ctx.is_stopping() {
            Timer::after(ctx.runtime_ref().clone(), Duration::from_millis(1)).await;
        }
        stream.write_all(b"!").await?;
        ends.lock().unwrap().push("answered");
    }
}

/// A graceful shutdown of a server: the listener stops, a request in
/// flight is answered, idle connections end, and the runtime ends
/// cleanly.
fn slow_and_idle_connections_end_in_a_shutdown<RT: Mode>() {
    let ends = Ends::default();
    let (events_tx, events) = mpsc::channel();
    let runtime = Runtime::setup().num_threads(2).build().unwrap();
    let serving = RT::answer_in_shutdown(ends.clone(), events_tx).serve(runtime);
    let mut busy = connect(serving.addr);
    let idle: Vec<StdTcpStream> = (0..3).map(|_| connect(serving.addr)).collect();
    // Every connection has its actor before the shutdown: a connection the
    // kernel took but no worker accepted yet would have none.
    for _ in 0..4 {
        assert_eq!(events.recv_timeout(GUARD), Ok(Event::Started));
    }
    busy.write_all(b"?").unwrap();
    assert_eq!(events.recv_timeout(GUARD), Ok(Event::Asked));
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

/// The server's connections and its connection actors are in the metrics:
/// started, open and closed, under the workers that count them, and the
/// live actors by name.
fn server_connections_and_actors_are_in_the_metrics<RT: Mode>() {
    with_connections(2, RT::echo(), |addr, handle| {
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
        let processes = RT::processes(&metrics);
        let count = |name: &str| -> usize {
            processes
                .iter()
                .filter(|p| p.name == name)
                .map(|p| p.count)
                .sum()
        };
        // A connection actor per client, and the listeners.
        assert_eq!(count("echo"), 3, "{processes:?}");
        let listeners = count("TcpServer");
        assert!(RT::LISTENERS.contains(&listeners), "{processes:?}");
        assert_eq!(RT::actors(&metrics), 3 + listeners, "{processes:?}");
        // Two end: the server's side is counted closed before the client
        // sees the end.
        for mut client in clients.drain(..2) {
            client.shutdown(Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
        }
        let metrics = handle.metrics();
        assert_eq!(metrics.tcp_servers.len(), 1);
        let server = &metrics.tcp_servers[0];
        assert_eq!(server.addr, addr);
        // `accepted` is the sum over the workers.
        assert_eq!(
            (server.accepted(), server.open(), server.closed()),
            (3, 1, 2),
            "{server:?}"
        );
        let mut workers: Vec<usize> = server.workers.iter().map(|w| w.worker).collect();
        workers.sort_unstable();
        assert!(
            !workers.is_empty()
                && workers.windows(2).all(|w| w[0] < w[1])
                && workers.iter().all(|w| RT::COUNTED_UNDER.contains(w)),
            "{server:?}"
        );
    });
}

/// A listener, a client of it and the stream it accepts exchange a
/// message both ways, and the accepted stream reads the end the client
/// shuts down; then a client of a std listener sends and reads to the end.
async fn tcp_both_ends<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let mut listener = TcpListener::<RT>::bind(&mut rt, localhost())?;
    let addr = listener.local_addr()?;
    let mut client = TcpStream::<RT>::connect(&mut rt, addr).await?;
    let (mut server, peer) = listener.accept().await?;
    assert_eq!(peer, client.local_addr()?);
    client.write_all(b"ping").await?;
    let mut buf = [0; 4];
    server.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping");
    server.write_all(b"pong").await?;
    client.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"pong");
    // The end of the stream, after the peer shut its side down.
    client.shutdown(Shutdown::Write)?;
    assert_eq!(server.read(&mut buf).await?, 0);

    // A plain std server on a thread of its own.
    let std_listener = std::net::TcpListener::bind(localhost())?;
    let addr = std_listener.local_addr()?;
    let std_server = thread::spawn(move || {
        let (mut peer, _) = std_listener.accept().unwrap();
        peer.set_read_timeout(Some(GUARD)).unwrap();
        let mut hello = [0; 5];
        peer.read_exact(&mut hello).unwrap();
        peer.write_all(b"hi there").unwrap();
        hello
    });
    let mut stream = TcpStream::<RT>::connect(&mut rt, addr).await?;
    stream.write_all(b"hello").await?;
    let mut got = Vec::new();
    let mut buf = [0; 64];
    loop {
        match stream.read(&mut buf).await? {
            0 => break,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(got, b"hi there");
    // The std server has returned: the end came when it dropped its side.
    assert_eq!(&std_server.join().unwrap(), b"hello");
    Ok(())
}

/// A socket echoes a std client's datagrams to their sender, and a
/// connected socket of the same mode gets its own echoed.
async fn udp_round_trips<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let mut server = UdpSocket::<RT>::bind(&mut rt, localhost())?;
    let addr = server.local_addr()?;
    // A plain std client, on a thread of its own.
    let std_client = thread::spawn(move || {
        let client = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(GUARD)).unwrap();
        for msg in [&b"one"[..], b"two"] {
            let _ = client.send_to(msg, addr).unwrap();
            let mut buf = [0; 16];
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (msg, addr));
        }
    });
    let mut buf = [0; 1500];
    for _ in 0..2 {
        let (n, from) = server.recv_from(&mut buf).await?;
        let _ = server.send_to(&buf[..n], from).await?;
    }

    // And one socket of the mode talking to the other.
    let mut client = UdpSocket::<RT>::bind(&mut rt, localhost())?;
    client.connect(addr)?;
    assert_eq!(client.peer_addr()?, addr);
    let _ = client.send(b"from an actor").await?;
    let (n, from) = server.recv_from(&mut buf).await?;
    let _ = server.send_to(&buf[..n], from).await?;
    let n = client.recv(&mut buf).await?;
    assert_eq!(&buf[..n], b"from an actor");
    std_client.join().expect("the std client failed");
    Ok(())
}

/// Peeks and receives a std client's datagrams, then answers with vectored
/// sends, connected and not, and receives vectored.
async fn udp_peek_and_vectored_datagrams<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let mut socket = UdpSocket::<RT>::bind(&mut rt, localhost())?;
    let addr = socket.local_addr()?;
    assert!(socket.take_error()?.is_none());
    let std_client = thread::spawn(move || {
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
    });
    // What the socket saw, in order.
    let mut seen: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut buf = [0; 16];
    let (n, peer) = socket.peek_from(&mut buf).await?;
    seen.push(("peek_from", buf[..n].to_vec()));
    let (n, _) = socket.recv_from(&mut buf).await?;
    seen.push(("recv_from", buf[..n].to_vec()));
    let sent = socket
        .send_to_vectored(&[IoSlice::new(b"ab"), IoSlice::new(b"cd")], peer)
        .await?;
    assert_eq!(sent, 4);
    let (mut a, mut b) = ([0; 2], [0; 8]);
    let (n, from) = socket
        .recv_from_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
        .await?;
    assert_eq!(from, peer);
    seen.push(("recv_from_vectored", [&a[..], &b[..n - 2]].concat()));
    socket.connect(peer)?;
    let n = socket.peek(&mut buf).await?;
    seen.push(("peek", buf[..n].to_vec()));
    let n = socket
        .recv_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
        .await?;
    seen.push(("recv_vectored", [&a[..], &b[..n - 2]].concat()));
    let _ = socket
        .send_vectored(&[IoSlice::new(b"e"), IoSlice::new(b"f")])
        .await?;
    std_client.join().expect("the std client failed");
    let want: Vec<(&str, Vec<u8>)> = [
        ("peek_from", &b"hello"[..]),
        ("recv_from", b"hello"),
        ("recv_from_vectored", b"wxyz"),
        ("peek", b"1234"),
        ("recv_vectored", b"1234"),
    ]
    .iter()
    .map(|(what, bytes)| (*what, bytes.to_vec()))
    .collect();
    assert_eq!(seen, want);
    Ok(())
}

#[test]
fn bind_error_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    // Without SO_REUSEPORT on the first socket, the port cannot be shared.
    let err = TcpServer::setup(
        addr,
        NoSupervisor,
        actor_fn(echo::<ThreadLocal>),
        ActorOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert!(
        err.to_string().starts_with(&format!("bind {addr}: ")),
        "{err}"
    );
}

/// A second server on the port of another, which shares its port
/// (`SO_REUSEPORT`), fails as a plain bind does: it used to bind too, and
/// take a share of the first one's connections.
#[test]
fn a_second_server_on_a_taken_port_fails() {
    let first = TcpServer::setup(
        "127.0.0.1:0".parse().unwrap(),
        NoSupervisor,
        actor_fn(echo::<ThreadLocal>),
        ActorOptions::default(),
    )
    .unwrap();
    let addr = first.local_addr();
    for second in [
        TcpServer::setup(
            addr,
            NoSupervisor,
            actor_fn(echo::<ThreadLocal>),
            ActorOptions::default(),
        )
        .map(|_| ()),
        TcpServer::setup(
            addr,
            NoSupervisor,
            actor_fn(echo::<ThreadSafe>),
            ActorOptions::default(),
        )
        .map(|_| ()),
    ] {
        let err = second.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    }
    drop(first);
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
    let worker = read_worker(&mut stream);
    (stream, worker)
}

#[test]
fn connections_are_spread_evenly_over_workers() {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let server = TcpServer::setup(
        localhost(),
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
        until_both_workers_answer(|| connect_and_ask(addr));
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
