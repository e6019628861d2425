//! Unix domain sockets: a `UnixServer` under request-then-close clients and
//! many clients over two workers, its graceful shutdown, socket file and
//! metrics; a `UnixStream`'s peeks, vectored reads and `sendfile(2)` (the
//! bodies TCP's tests share, `util/streams.rs`); datagrams; and a
//! `TcpServer` on a socket handed to it (the shared-socket mode socket
//! activation uses).
//!
//! Each test works in a directory of its own under the temp dir; clients
//! are plain threads with blocking std sockets.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{
    SocketAddr as UnixAddr, UnixDatagram as StdUnixDatagram, UnixListener as StdUnixListener,
    UnixStream as StdUnixStream,
};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::net::{
    TcpServer, TcpStream, UnixDatagram, UnixServer, UnixStream, remove_stale_socket,
};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

use crate::modes::on_worker;
use crate::server::{
    ShutdownOnDrop, connect as connect_tcp, echo_messages, read_worker, round_trip,
    until_both_workers_answer, wait_until,
};
use crate::streams::{file_to_send, peeks_and_reads_vectored, sends_file, slow_reader};

/// Last guard for blocking client calls.
const GUARD: Duration = Duration::from_secs(30);

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hearth-unix-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn connect(path: &Path) -> StdUnixStream {
    let stream = StdUnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream
}

async fn echo(ctx: Context<(), ThreadLocal>, mut stream: UnixStream) -> io::Result<()> {
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

/// Runs a `UnixServer` of `new_actor` at `path` on two workers while
/// `clients` runs, then shuts it down gracefully and checks that `start`
/// returned cleanly.
fn with_server<NA>(path: &Path, new_actor: NA, clients: impl FnOnce(&ThreadSafe))
where
    NA: hearth::actor::NewActor<Argument = UnixStream, RuntimeAccess = ThreadLocal>
        + Clone
        + Send
        + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
    NA::Error: std::fmt::Display,
    <NA::Actor as hearth::actor::Actor>::Error: std::fmt::Display,
{
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let server = UnixServer::setup(path, NoSupervisor, new_actor, ActorOptions::default()).unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            RestartSupervisor::new(()),
            server.clone(),
            (),
            ActorOptions::default(),
        );
    });
    let handle: ThreadSafe = runtime.thread_safe();
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let stop = ShutdownOnDrop(handle.clone());
        clients(&handle);
        drop(stop);
        running.join().unwrap().unwrap();
    });
}

/// Reads the whole request (until the client shuts down its side), then
/// answers it in upper case and closes.
async fn answer(_: Context<(), ThreadLocal>, mut stream: UnixStream) -> io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0; 256];
    loop {
        match stream.read(&mut buf).await? {
            0 => break,
            n => request.extend_from_slice(&buf[..n]),
        }
    }
    stream.write_all(&request.to_ascii_uppercase()).await
}

/// Clients that send a request and shut down their side at once: the
/// server sees the data and the end (often in one event) and answers.
#[test]
fn request_then_close_clients_get_their_answer() {
    let dir = scratch("request-then-close");
    let path = dir.join("s.sock");
    with_server(&path, actor_fn(answer), |_| {
        let clients: Vec<_> = (0..100)
            .map(|i| {
                let path = path.clone();
                thread::spawn(move || {
                    let mut stream = connect(&path);
                    stream.write_all(format!("request {i}").as_bytes()).unwrap();
                    stream.shutdown(Shutdown::Write).unwrap();
                    let mut got = String::new();
                    stream.read_to_string(&mut got).unwrap();
                    assert_eq!(got, format!("REQUEST {i}"));
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Tells the client which worker runs it (one byte), then echoes.
async fn tell_worker(mut ctx: Context<(), ThreadLocal>, mut stream: UnixStream) -> io::Result<()> {
    let worker = u8::try_from(ctx.runtime().worker_id()).unwrap_or(u8::MAX);
    stream.write_all(&[worker]).await?;
    echo(ctx, stream).await
}

fn connect_and_ask(path: &Path) -> (StdUnixStream, u8) {
    let mut stream = connect(path);
    let worker = read_worker(&mut stream);
    (stream, worker)
}

/// One socket, two workers: both serve, the open connections stay even,
/// and many clients at once all get their echoes.
#[test]
fn many_clients_over_two_workers() {
    let dir = scratch("many-clients");
    let path = dir.join("s.sock");
    with_server(&path, actor_fn(tell_worker), |_| {
        until_both_workers_answer(|| connect_and_ask(&path));
        let open: Vec<(StdUnixStream, u8)> = (0..20).map(|_| connect_and_ask(&path)).collect();
        let on = |worker| open.iter().filter(|(_, w)| *w == worker).count();
        assert_eq!((on(1), on(2)), (10, 10));
        drop(open);
        let clients: Vec<_> = (0..50u32)
            .map(|client| {
                let path = path.clone();
                thread::spawn(move || {
                    let (mut stream, _) = connect_and_ask(&path);
                    echo_messages(&mut stream, client, 200);
                })
            })
            .collect();
        for client in clients {
            client.join().unwrap();
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Echoes until the client closes, also while the runtime stops.
async fn echo_to_the_end(_: Context<(), ThreadLocal>, mut stream: UnixStream) -> io::Result<()> {
    let mut buf = vec![0; 4096];
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(()),
            n => stream.write_all(&buf[..n]).await?,
        }
    }
}

/// A graceful shutdown removes the socket file at once (new clients find
/// no server) while the open connections finish, and ends cleanly.
#[test]
fn graceful_shutdown_removes_the_socket_file_while_connections_finish() {
    let dir = scratch("shutdown");
    let path = dir.join("s.sock");
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let server = UnixServer::setup(
        &path,
        NoSupervisor,
        actor_fn(echo_to_the_end),
        ActorOptions::default(),
    )
    .unwrap();
    // A copy kept by the application (as a program that prints the
    // address keeps one) does not keep the file.
    let kept = server.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(NoSupervisor, server.clone(), (), ActorOptions::default());
    });
    let handle: ThreadSafe = runtime.thread_safe();
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let _stop = ShutdownOnDrop(handle.clone());
        let mut clients: Vec<StdUnixStream> = (0..6).map(|_| connect(&path)).collect();
        for (i, client) in clients.iter_mut().enumerate() {
            round_trip(client, u8::try_from(i).unwrap());
        }
        handle.shutdown();
        wait_until("the socket file is removed", || !path.exists());
        let err = StdUnixStream::connect(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // The open connections are still served.
        for (i, client) in clients.iter_mut().enumerate() {
            round_trip(client, 100 + u8::try_from(i).unwrap());
        }
        drop(clients);
        running.join().unwrap().unwrap();
    });
    drop(kept);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Connections are in the metrics, under the server's path, and the
/// listeners under the name `UnixServer`.
#[test]
fn connections_are_in_the_metrics() {
    let dir = scratch("metrics");
    let path = dir.join("s.sock");
    with_server(&path, actor_fn(echo), |handle| {
        let mut clients: Vec<StdUnixStream> = (0..3)
            .map(|_| {
                let mut client = connect(&path);
                client.write_all(b"hi").unwrap();
                let mut got = [0; 2];
                client.read_exact(&mut got).unwrap();
                client
            })
            .collect();
        let metrics = handle.metrics();
        let listeners: usize = metrics
            .workers
            .iter()
            .flat_map(|w| &w.processes)
            .filter(|p| p.name == "UnixServer")
            .map(|p| p.count)
            .sum();
        assert!((1..=2).contains(&listeners), "{:?}", metrics.workers);
        for mut client in clients.drain(..2) {
            client.shutdown(Shutdown::Write).unwrap();
            let mut rest = Vec::new();
            assert_eq!(client.read_to_end(&mut rest).unwrap(), 0);
        }
        let metrics = handle.metrics();
        assert!(metrics.tcp_servers.is_empty());
        assert_eq!(metrics.unix_servers.len(), 1);
        let server = &metrics.unix_servers[0];
        assert_eq!(server.path, path.display().to_string());
        assert_eq!(
            (server.accepted(), server.open(), server.closed()),
            (3, 1, 2),
            "{server:?}"
        );
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A path in use is refused with what to do; a stale file is removed on
/// request only, and a live server's file never.
#[test]
fn existing_socket_files_are_not_clobbered() {
    let dir = scratch("stale");
    let path = dir.join("s.sock");
    drop(StdUnixListener::bind(&path).unwrap());
    let err = UnixServer::setup(&path, NoSupervisor, actor_fn(echo), ActorOptions::default())
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("bind {}: ", path.display())),
        "{text}"
    );
    assert!(text.contains("remove_stale_socket"), "{text}");
    assert!(remove_stale_socket(&path).unwrap());
    let live =
        UnixServer::setup(&path, NoSupervisor, actor_fn(echo), ActorOptions::default()).unwrap();
    let err = remove_stale_socket(&path).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    assert!(path.exists());
    drop(live);
    assert!(
        !path.exists(),
        "the last copy of the server removed its file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An abstract address leaves no file, and serves as a path does.
#[test]
fn server_on_an_abstract_address() {
    let name = format!("hearth-test-abstract-{}", std::process::id());
    let addr = UnixAddr::from_abstract_name(name.as_bytes()).unwrap();
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let server =
        UnixServer::setup_addr(&addr, NoSupervisor, actor_fn(echo), ActorOptions::default())
            .unwrap();
    assert_eq!(
        server.local_addr().as_abstract_name(),
        Some(name.as_bytes())
    );
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(NoSupervisor, server.clone(), (), ActorOptions::default());
    });
    let handle: ThreadSafe = runtime.thread_safe();
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let _stop = ShutdownOnDrop(handle.clone());
        let mut client = StdUnixStream::connect_addr(&addr).unwrap();
        client.set_read_timeout(Some(GUARD)).unwrap();
        client.write_all(b"abstract").unwrap();
        let mut got = [0; 8];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"abstract");
        drop(client);
        handle.shutdown();
        running.join().unwrap().unwrap();
    });
}

/// A connected pair's peeks and vectored reads, as a TCP stream's.
#[test]
fn stream_peek_and_vectored_reads() {
    on_worker(Runtime::setup(), |mut rt: RuntimeRef| async move {
        let (mut client, mut server) = UnixStream::pair(&mut rt)?;
        peeks_and_reads_vectored(&mut client, &mut server).await
    })
    .unwrap();
}

/// A file sent with `sendfile(2)` to a slow reader, in whole and in
/// ranges, as on a TCP stream.
#[test]
fn stream_send_file() {
    on_worker(Runtime::setup(), |mut rt: RuntimeRef| async move {
        let (file, bytes) = file_to_send("unix");
        let (ours, theirs) = StdUnixStream::pair()?;
        let mut stream = UnixStream::from_std(&mut rt, ours)?;
        let (go_tx, go) = mpsc::channel();
        let reader = slow_reader(move || theirs, go);
        sends_file(&mut stream, (&file, &bytes), go_tx, reader).await
    })
    .unwrap();
}

/// Echoes three datagrams to their senders, then stops.
async fn datagram_echo(
    mut ctx: Context<(), ThreadLocal>,
    (path, ready): (PathBuf, mpsc::Sender<()>),
) -> io::Result<()> {
    let mut socket = UnixDatagram::bind(ctx.runtime(), &path)?;
    ready.send(()).unwrap();
    let mut buf = [0; 1024];
    for _ in 0..3 {
        let (n, from) = socket.recv_from(&mut buf).await?;
        let _ = socket.send_to_addr(&buf[..n], &from).await?;
    }
    Ok(())
}

/// Two sockets of a connected pair, and a connected socket talking to the
/// bound one at `server`: what each received, in order.
async fn datagram_pairs(mut rt: RuntimeRef, server: PathBuf) -> io::Result<Vec<Vec<u8>>> {
    let mut got = Vec::new();
    let (mut a, mut b) = UnixDatagram::pair(&mut rt)?;
    let _ = a.send(b"first").await?;
    let _ = a.send(b"second").await?;
    let mut buf = [0; 64];
    let n = b.recv(&mut buf).await?;
    got.push(buf[..n].to_vec());
    let n = b.recv(&mut buf).await?;
    got.push(buf[..n].to_vec());
    // Answers need a bound sender: an abstract one here.
    let name = format!("hearth-test-dgram-client-{}", std::process::id());
    let me = UnixAddr::from_abstract_name(name.as_bytes())?;
    let mut client = UnixDatagram::bind_addr(&mut rt, &me)?;
    client.connect(&server)?;
    let _ = client.send(b"from an actor").await?;
    let n = client.recv(&mut buf).await?;
    got.push(buf[..n].to_vec());
    Ok(got)
}

#[test]
fn datagrams_keep_their_bounds_and_find_their_senders() {
    let dir = scratch("datagrams");
    let path = dir.join("echo.sock");
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let arg = (path.clone(), ready_tx);
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(datagram_echo),
            arg,
            ActorOptions::default(),
        );
    });
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        ready_rx.recv_timeout(GUARD).unwrap();
        // A std client bound to a path of its own, to get answers.
        let client_path = dir.join("client.sock");
        let client = StdUnixDatagram::bind(&client_path).unwrap();
        client.set_read_timeout(Some(GUARD)).unwrap();
        for msg in [&b"one"[..], b"two"] {
            let _ = client.send_to(msg, &path).unwrap();
            let mut buf = [0; 16];
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], msg);
            assert_eq!(from.as_pathname(), Some(path.as_path()));
        }
        // The third datagram comes from a runtime of its own.
        let server = path.clone();
        let got = on_worker(Runtime::setup(), move |rt| datagram_pairs(rt, server)).unwrap();
        assert_eq!(got, [&b"first"[..], &b"second"[..], &b"from an actor"[..]]);
        running.join().unwrap().unwrap();
    });
    assert!(!path.exists(), "the bound socket removed its file");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `TcpServer` on a socket handed to it (as systemd hands one over):
/// both workers accept from the one socket, connections stay even, and a
/// graceful shutdown ends cleanly.
#[test]
fn tcp_server_on_one_handed_socket_serves_from_every_worker() {
    async fn tell_tcp(mut ctx: Context<(), ThreadLocal>, mut stream: TcpStream) -> io::Result<()> {
        let worker = u8::try_from(ctx.runtime().worker_id()).unwrap_or(u8::MAX);
        stream.write_all(&[worker]).await?;
        let mut buf = [0; 64];
        while let Some(read) = ctx.until_stopping(stream.read(&mut buf)).await {
            match read? {
                0 => break,
                n => stream.write_all(&buf[..n]).await?,
            }
        }
        Ok(())
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = TcpServer::from_listener(
        listener,
        NoSupervisor,
        actor_fn(tell_tcp),
        ActorOptions::default(),
    )
    .unwrap();
    assert_eq!(server.local_addr(), addr);
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(NoSupervisor, server.clone(), (), ActorOptions::default());
    });
    let handle: ThreadSafe = runtime.thread_safe();
    let ask = || {
        let mut stream = connect_tcp(addr);
        let worker = read_worker(&mut stream);
        (stream, worker)
    };
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let _stop = ShutdownOnDrop(handle.clone());
        until_both_workers_answer(ask);
        let open: Vec<_> = (0..20).map(|_| ask()).collect();
        let on = |worker| open.iter().filter(|(_, w)| *w == worker).count();
        assert_eq!((on(1), on(2)), (10, 10));
        drop(open);
        handle.shutdown();
        running.join().unwrap().unwrap();
    });
    // The server's socket is closed: nobody accepts any more.
    let err = std::net::TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

/// A socket that does not listen is refused, with what it is.
#[test]
fn handing_a_socket_that_does_not_listen_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let not_listening = std::net::TcpListener::from(std::os::fd::OwnedFd::from(stream));
    let err = TcpServer::from_listener(
        not_listening,
        NoSupervisor,
        actor_fn(|_: Context<(), ThreadLocal>, _: TcpStream| async { Ok::<_, io::Error>(()) }),
        ActorOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("needs a listening TCP socket, and this is a TCP stream socket"),
        "{err}"
    );
}

/// A Unix connection writing to a peer that never reads gives up once the
/// runtime stops (`Setup::stalled_write_limit`), as a TCP one does, so the
/// shutdown ends at once instead of at the end of its grace period.
#[test]
fn stalled_write_gives_up_once_stopping() {
    type Outcome = std::sync::Arc<std::sync::Mutex<Option<io::ErrorKind>>>;
    async fn stream_a_lot(
        _: Context<(), ThreadLocal>,
        mut stream: UnixStream,
        (writing, outcome): (mpsc::Sender<()>, Outcome),
    ) -> io::Result<()> {
        let mut request = [0; 1];
        stream.read_exact(&mut request).await?;
        let _ = writing.send(());
        let result = stream.write_all(&vec![b'x'; 64 << 20]).await;
        *outcome.lock().unwrap() = Some(match &result {
            Ok(()) => io::ErrorKind::Other,
            Err(err) => err.kind(),
        });
        Ok(())
    }
    let dir = scratch("stalled");
    let path = dir.join("s.sock");
    let mut runtime = Runtime::setup()
        .num_threads(1)
        .grace_period(GUARD)
        .stalled_write_limit(Duration::from_millis(200))
        .build()
        .unwrap();
    let (writing_tx, writing_rx) = mpsc::channel();
    let outcome = Outcome::default();
    let arg = (writing_tx, outcome.clone());
    let new_connection = actor_fn(move |ctx, stream| stream_a_lot(ctx, stream, arg.clone()));
    let server =
        UnixServer::setup(&path, NoSupervisor, new_connection, ActorOptions::default()).unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(NoSupervisor, server.clone(), (), ActorOptions::default());
    });
    let handle: ThreadSafe = runtime.thread_safe();
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let _stop = ShutdownOnDrop(handle.clone());
        // The rude client: asks, then never reads.
        let mut client = connect(&path);
        client.write_all(b"?").unwrap();
        writing_rx
            .recv_timeout(GUARD)
            .expect("the server never wrote");
        handle.shutdown();
        running
            .join()
            .unwrap()
            .expect("the stalled write held the shutdown");
        drop(client);
    });
    assert_eq!(*outcome.lock().unwrap(), Some(io::ErrorKind::TimedOut));
    std::fs::remove_dir_all(&dir).unwrap();
}
