//! Upgraded HTTP/1 connections (`with_upgrades`) under `http::graceful`:
//! a service answers `Upgrade: echo` with `101 Switching Protocols` and
//! echoes bytes over the upgraded connection in a thread-safe future; the
//! client is a plain TCP socket. Also what a graceful shutdown does to an
//! upgraded connection that is still open: nothing, the runtime waits for
//! the future that owns it, which may watch `shutting_down()` to close.

use std::future::{Future, poll_fn};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream as StdTcpStream};
use std::pin::Pin;
use std::sync::mpsc;
use std::task::Poll;

use bytes::Bytes;
use hearth::actor::{Context, actor_fn};
use hearth::http::{self, HyperTimer};
use hearth::net::TcpStream;
use hearth::{ShuttingDown, ThreadSafe};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, UPGRADE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use super::client::{GUARD, Hyper};
use super::{PATIENT, Server, answer, two_workers};

/// What the server side tells the test, in the order it happens.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// `http::graceful` returned for a connection, with its result.
    ConnectionEnded(Result<(), String>),
    /// The echo of an upgraded connection returned: the client closed, or
    /// (when watching) the runtime began its shutdown.
    EchoEnded(&'static str),
}

/// Echoes what comes over `upgraded` until the client closes; with
/// `stopping`, also until the runtime begins its shutdown, then says
/// `bye` and closes.
async fn echo(upgraded: Upgraded, mut stopping: Option<ShuttingDown>) -> &'static str {
    let mut io = TokioIo::new(upgraded);
    let mut buf = vec![0; 4096];
    loop {
        // A read, or the shutdown, whichever comes first.
        let read = poll_fn(|cx| {
            if let Some(stopping) = &mut stopping
                && Pin::new(stopping).poll(cx).is_ready()
            {
                return Poll::Ready(None);
            }
            let mut read = ReadBuf::new(&mut buf);
            Pin::new(&mut io)
                .poll_read(cx, &mut read)
                .map(|res| Some(res.map(|()| read.filled().len())))
        })
        .await;
        match read {
            None => {
                let _ = io.write_all(b"bye\n").await;
                let _ = io.shutdown().await;
                return "shutdown";
            }
            Some(Ok(0)) => return "end of stream",
            Some(Ok(n)) => {
                if io.write_all(&buf[..n]).await.is_err() {
                    return "write failed";
                }
            }
            Some(Err(_)) => return "read failed",
        }
    }
}

/// Upgrades a request with `Upgrade: echo` (echoed in a thread-safe
/// future of `rt`); answers the others as [`answer`] does.
async fn upgrade_or_answer(
    rt: ThreadSafe,
    watch: bool,
    events: mpsc::Sender<Event>,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if req.headers().get(UPGRADE).is_none_or(|v| v != "echo") {
        return answer(req).await;
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let stopping = watch.then(|| rt.shutting_down());
    rt.spawn_future(
        async move {
            let why = match on_upgrade.await {
                Ok(upgraded) => echo(upgraded, stopping).await,
                Err(_) => "no upgrade",
            };
            let _ = events.send(Event::EchoEnded(why));
        },
        hearth::FutureOptions::default(),
    );
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "echo")
        .body(Full::default())
        .unwrap())
}

/// A thread-safe connection actor serving upgradeable HTTP/1.
async fn upgradeable_conn(
    ctx: Context<(), ThreadSafe>,
    stream: TcpStream<ThreadSafe>,
    watch: bool,
    events: mpsc::Sender<Event>,
) -> Result<(), hyper::Error> {
    let rt = ctx.runtime_ref().clone();
    let conn_events = events.clone();
    let service = service_fn(move |req| upgrade_or_answer(rt.clone(), watch, events.clone(), req));
    let conn = http1::Builder::new()
        .timer(HyperTimer::thread_safe(ctx.runtime_ref().clone()))
        .header_read_timeout(PATIENT)
        .serve_connection(stream, service)
        .with_upgrades();
    let result = http::graceful(&ctx, conn).await;
    let _ = conn_events.send(Event::ConnectionEnded(
        result.as_ref().copied().map_err(|e| e.to_string()),
    ));
    result
}

/// A server of [`upgradeable_conn`]; its echoes watch the shutdown when
/// `watch`.
fn upgrade_server(watch: bool) -> (Server, mpsc::Receiver<Event>) {
    let (events_tx, events) = mpsc::channel();
    let server = Server::start_thread_safe(
        two_workers(),
        actor_fn(move |ctx, stream| upgradeable_conn(ctx, stream, watch, events_tx.clone())),
    );
    (server, events)
}

#[track_caller]
fn next_event(events: &mpsc::Receiver<Event>) -> Event {
    events
        .recv_timeout(GUARD)
        .expect("the server reports what happened")
}

/// Sends the upgrade request on a new connection and reads the `101`
/// head; returns the upgraded connection.
#[track_caller]
fn upgrade(addr: SocketAddr) -> StdTcpStream {
    let mut stream = StdTcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream
        .write_all(b"GET /echo HTTP/1.1\r\nhost: localhost\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
        .unwrap();
    // Byte by byte, so nothing after the head is taken from the echo.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        let n = stream.read(&mut byte).unwrap();
        assert_eq!(
            n,
            1,
            "closed in the head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("http/1.1 101 switching protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nupgrade: echo\r\n"), "{head}");
    assert!(head.contains("\r\nconnection: upgrade\r\n"), "{head}");
    stream
}

/// Writes `msg` and reads it back.
#[track_caller]
fn round_trip(stream: &mut StdTcpStream, msg: &[u8]) {
    stream.write_all(msg).unwrap();
    let mut got = vec![0; msg.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

/// Reads to the end of the stream.
#[track_caller]
fn rest(stream: &mut StdTcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).unwrap();
    rest
}

/// Runs `future` on the calling thread, outside the runtime.
fn block_on<Fut: Future>(future: Fut) -> Fut::Output {
    use std::sync::Arc;
    use std::task::{Context as TaskContext, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

#[test]
fn an_upgraded_connection_echoes() {
    let (server, events) = upgrade_server(false);
    let mut client = upgrade(server.addr);
    // The HTTP part is over: the connection actor returned.
    assert_eq!(next_event(&events), Event::ConnectionEnded(Ok(())));
    round_trip(&mut client, b"hello");
    // Larger than one read of the echo.
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    round_trip(&mut client, &big);
    // The same service answers a request that does not ask to upgrade.
    let mut plain = Hyper::http1(server.addr);
    let got = plain.request("GET", "/plain", b"");
    assert_eq!((got.status, got.text()), (200, "/plain 0"));
    drop(plain);
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rest(&mut client), b"");
    // The plain connection's end and the echo's, in either order.
    let ends = [next_event(&events), next_event(&events)];
    assert!(
        ends.contains(&Event::ConnectionEnded(Ok(())))
            && ends.contains(&Event::EchoEnded("end of stream")),
        "{ends:?}"
    );
    server.stop();
}

/// `graceful` has returned at the upgrade, so a graceful shutdown does
/// not touch the upgraded connection: it keeps echoing, and the runtime
/// waits for its future, which ends when the client closes.
#[test]
fn a_graceful_shutdown_leaves_an_upgraded_connection_to_its_future() {
    let (server, events) = upgrade_server(false);
    let mut client = upgrade(server.addr);
    assert_eq!(next_event(&events), Event::ConnectionEnded(Ok(())));
    round_trip(&mut client, b"before");
    server.shutdown();
    // From outside the runtime: wait until the shutdown has begun.
    block_on(server.handle.shutting_down());
    round_trip(&mut client, b"after the shutdown began");
    round_trip(&mut client, b"and still");
    assert!(
        !server.is_finished(),
        "the runtime ended with an upgraded connection open"
    );
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rest(&mut client), b"");
    assert_eq!(next_event(&events), Event::EchoEnded("end of stream"));
    server.join().expect("the runtime ended cleanly");
}

/// An echo that waits for `shutting_down()` next to its reads says `bye`
/// and closes when the shutdown begins, and the runtime ends cleanly.
#[test]
fn an_upgraded_connection_closes_when_its_future_sees_the_shutdown() {
    let (server, events) = upgrade_server(true);
    let mut client = upgrade(server.addr);
    assert_eq!(next_event(&events), Event::ConnectionEnded(Ok(())));
    round_trip(&mut client, b"before");
    server.shutdown();
    assert_eq!(rest(&mut client), b"bye\n");
    assert_eq!(next_event(&events), Event::EchoEnded("shutdown"));
    server.join().expect("the runtime ended cleanly");
}
