//! hyper on hearth (feature `hyper`): hyper services served by
//! `TcpServer` connection actors through `hearth::http`, with real clients
//! on loopback (hyper's own client on a tokio runtime of the test thread,
//! and raw sockets for what that client does not do: pipelining, a head
//! cut short, a request whose body comes later).
//!
//! The servers run on a hearth runtime in a background thread and never
//! see a tokio runtime: a handler that reached for one would panic.
//! Upgraded connections (WebSocket-style, `with_upgrades`) are in
//! `http/upgrade.rs`.

#[path = "util/http.rs"]
mod client;
#[path = "http/upgrade.rs"]
mod upgrade;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use client::{GUARD, Hyper, Raw, get};
use hearth::actor::{Context, NewActor, actor_fn};
use hearth::http::{self, HyperTimer, LocalExecutor, ThreadSafeExecutor};
use hearth::net::{SocketMode, TcpServer, TcpStream, UnixServer, UnixStream};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::{ActorOptions, Runtime, RuntimeRef, Setup, ThreadLocal, ThreadSafe};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};

/// Header-read timeout of the servers whose clients are not slow on
/// purpose: far above any pause of a loaded machine, as it also closes
/// keep-alive connections that stay idle this long.
const PATIENT: Duration = Duration::from_mins(1);

/// A runtime serving HTTP on 127.0.0.1, in a background thread.
struct Server {
    addr: SocketAddr,
    handle: ThreadSafe,
    running: Option<thread::JoinHandle<Result<(), hearth::Error>>>,
}

impl Server {
    /// Starts `conn` as the connection actor of a `TcpServer` on a runtime
    /// made from `setup`.
    fn start<NA>(setup: Setup, conn: NA) -> Server
    where
        NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + Send + 'static,
        NA::Actor: 'static,
        NA::Message: 'static,
        <NA::Actor as hearth::actor::Actor>::Error: std::fmt::Display,
    {
        let mut runtime = setup.build().unwrap();
        let addr = "127.0.0.1:0".parse().unwrap();
        let server = TcpServer::setup(addr, NoSupervisor, conn, ActorOptions::default()).unwrap();
        let addr = server.local_addr();
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let _ = rt.spawn_local(
                RestartSupervisor::new(()),
                server.clone(),
                (),
                ActorOptions::default(),
            );
        });
        let handle = runtime.thread_safe();
        let running = thread::spawn(move || runtime.start());
        Server {
            addr,
            handle,
            running: Some(running),
        }
    }

    /// Starts `conn` as the connection actor of a thread-safe `TcpServer`
    /// (one thread-safe listener) on a runtime made from `setup`.
    fn start_thread_safe<NA>(setup: Setup, conn: NA) -> Server
    where
        NA: NewActor<Argument = TcpStream<ThreadSafe>, RuntimeAccess = ThreadSafe>
            + Clone
            + Send
            + Sync
            + 'static,
        NA::Actor: Send + 'static,
        NA::Message: Send + 'static,
        <NA::Actor as hearth::actor::Actor>::Error: std::fmt::Display,
    {
        let mut runtime = setup.build().unwrap();
        let addr = "127.0.0.1:0".parse().unwrap();
        let server = TcpServer::setup(addr, NoSupervisor, conn, ActorOptions::default()).unwrap();
        let addr = server.local_addr();
        let _ = runtime.spawn(
            RestartSupervisor::new(()),
            server,
            (),
            ActorOptions::default(),
        );
        let handle = runtime.thread_safe();
        let running = thread::spawn(move || runtime.start());
        Server {
            addr,
            handle,
            running: Some(running),
        }
    }

    /// Connections the server accepted, over all workers.
    fn accepted(&self) -> usize {
        self.handle
            .metrics()
            .tcp_servers
            .iter()
            .map(|server| server.accepted())
            .sum()
    }

    /// Begins a graceful shutdown.
    fn shutdown(&self) {
        self.handle.shutdown();
    }

    /// True once the runtime has ended.
    fn is_finished(&self) -> bool {
        self.running
            .as_ref()
            .is_none_or(thread::JoinHandle::is_finished)
    }

    /// Waits for the runtime to end (after `shutdown`).
    fn join(mut self) -> Result<(), hearth::Error> {
        self.running.take().unwrap().join().unwrap()
    }

    /// Shuts down and checks the runtime ended cleanly.
    #[track_caller]
    fn stop(self) {
        self.shutdown();
        self.join().expect("the runtime ended cleanly");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.handle.shutdown();
        }
    }
}

fn two_workers() -> Setup {
    Runtime::setup().num_threads(2)
}

/// Reads the whole body, then answers `PATH LENGTH` (404 for `/missing`).
async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_owned();
    let body = req.into_body().collect().await?.to_bytes();
    let status = match path.as_str() {
        "/missing" => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    };
    let text = format!("{path} {}", body.len());
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(text)))
        .unwrap())
}

/// How [`http1_conn`] serves its connection.
#[derive(Copy, Clone)]
struct Http1 {
    header_timeout: Duration,
    /// hyper's `half_close`: answer a client that closed its side after
    /// its request, rather than close at once.
    half_close: bool,
}

/// An HTTP/1 connection actor serving [`answer`].
async fn http1_conn(
    mut ctx: Context<(), ThreadLocal>,
    stream: TcpStream,
    options: Http1,
) -> Result<(), hyper::Error> {
    let conn = http1::Builder::new()
        .timer(HyperTimer::new(ctx.runtime()))
        .header_read_timeout(options.header_timeout)
        .half_close(options.half_close)
        .serve_connection(stream, service_fn(answer));
    http::graceful(&ctx, conn).await
}

fn http1_server(setup: Setup, header_timeout: Duration) -> Server {
    let options = Http1 {
        header_timeout,
        half_close: false,
    };
    Server::start(
        setup,
        actor_fn(move |ctx, stream| http1_conn(ctx, stream, options)),
    )
}

/// A thread-safe HTTP/1 connection actor serving [`answer`].
async fn thread_safe_http1_conn(
    ctx: Context<(), ThreadSafe>,
    stream: TcpStream<ThreadSafe>,
    options: Http1,
) -> Result<(), hyper::Error> {
    let conn = http1::Builder::new()
        .timer(HyperTimer::thread_safe(ctx.runtime_ref().clone()))
        .header_read_timeout(options.header_timeout)
        .half_close(options.half_close)
        .serve_connection(stream, service_fn(answer));
    http::graceful(&ctx, conn).await
}

fn thread_safe_http1_server(setup: Setup, options: Http1) -> Server {
    Server::start_thread_safe(
        setup,
        actor_fn(move |ctx, stream| thread_safe_http1_conn(ctx, stream, options)),
    )
}

#[test]
fn http1_requests_share_one_connection() {
    let server = http1_server(two_workers(), PATIENT);
    requests_share_one_connection(server);
}

#[test]
fn thread_safe_http1_requests_share_one_connection() {
    let options = Http1 {
        header_timeout: PATIENT,
        half_close: false,
    };
    let server = thread_safe_http1_server(two_workers(), options);
    requests_share_one_connection(server);
}

fn requests_share_one_connection(server: Server) {
    let mut client = Hyper::http1(server.addr);
    let got = client.request("GET", "/first", b"");
    assert_eq!((got.status, got.text()), (200, "/first 0"));
    let body = vec![7; 300_000];
    let got = client.request("POST", "/upload", &body);
    assert_eq!((got.status, got.text()), (200, "/upload 300000"));
    let got = client.request("GET", "/missing", b"");
    assert_eq!((got.status, got.text()), (404, "/missing 0"));
    assert_eq!(server.accepted(), 1, "the requests reused the connection");
    server.stop();
}

#[test]
fn http1_pipelined_requests_are_answered_in_order() {
    let server = http1_server(two_workers(), PATIENT);
    let mut client = Raw::connect(server.addr);
    let mut requests = get("/one");
    requests.extend_from_slice(
        b"POST /two HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\n\r\nhello",
    );
    requests.extend_from_slice(&get("/missing"));
    requests.extend_from_slice(&get("/three"));
    // All four in one write, before any answer.
    client.send(&requests);
    let answers: Vec<(u16, String)> = (0..4)
        .map(|_| {
            let response = client.response();
            (response.status, response.text().to_owned())
        })
        .collect();
    assert_eq!(
        answers,
        [
            (200, "/one 0".to_owned()),
            (200, "/two 5".to_owned()),
            (404, "/missing 0".to_owned()),
            (200, "/three 0".to_owned()),
        ]
    );
    server.stop();
}

/// A request followed at once by the end of the client's stream: both can
/// come in one readiness event, and the end must not be lost after the
/// short read of the request. (With `half_close` off, hyper's default,
/// hyper drops the connection as soon as it reads the end.)
#[test]
fn http1_request_then_end_of_stream_is_answered_and_closed() {
    let options = Http1 {
        header_timeout: PATIENT,
        half_close: true,
    };
    let server = Server::start(
        two_workers(),
        actor_fn(move |ctx, stream| http1_conn(ctx, stream, options)),
    );
    request_then_end_of_stream(server);
}

#[test]
fn thread_safe_http1_request_then_end_of_stream_is_answered_and_closed() {
    let options = Http1 {
        header_timeout: PATIENT,
        half_close: true,
    };
    request_then_end_of_stream(thread_safe_http1_server(two_workers(), options));
}

fn request_then_end_of_stream(server: Server) {
    for _ in 0..20 {
        let mut client = Raw::connect(server.addr);
        client.send(&get("/last"));
        client.close_write();
        let response = client.response();
        assert_eq!((response.status, response.text()), (200, "/last 0"));
        client.expect_closed();
    }
    server.stop();
}

#[test]
fn header_read_timeout_cuts_a_slow_client() {
    let timeout = Duration::from_millis(200);
    let server = http1_server(two_workers(), timeout);
    let mut slow = Raw::connect(server.addr);
    let start = Instant::now();
    // Half a head, and nothing more.
    slow.send(b"GET / HTTP/1.1\r\nhost: loc");
    slow.expect_closed();
    assert!(
        start.elapsed() >= timeout,
        "closed after {:?}, before the timeout",
        start.elapsed()
    );
    // Other clients are served as before.
    let mut client = Raw::connect(server.addr);
    client.send(&get("/after"));
    assert_eq!(client.response().text(), "/after 0");
    server.stop();
}

/// An HTTP/2 connection actor: each stream runs on the worker as a future
/// of the [`LocalExecutor`], and the service's futures are not `Send`.
async fn http2_conn(
    mut ctx: Context<(), ThreadLocal>,
    stream: TcpStream,
) -> Result<(), hyper::Error> {
    let served = Rc::new(std::cell::Cell::new(0_u64));
    let service = service_fn(move |req: Request<Incoming>| {
        let served = served.clone();
        async move {
            served.set(served.get() + 1);
            let count = Rc::clone(&served);
            let response = answer(req).await;
            // Held across the await above: this future is not `Send`.
            drop(count);
            response
        }
    });
    let conn = http2::Builder::new(LocalExecutor::new(ctx.runtime()))
        .timer(HyperTimer::new(ctx.runtime()))
        .serve_connection(stream, service);
    http::graceful(&ctx, conn).await
}

/// A thread-safe HTTP/2 connection actor: each stream runs as a
/// thread-safe future, on any worker.
async fn thread_safe_http2_conn(
    ctx: Context<(), ThreadSafe>,
    stream: TcpStream<ThreadSafe>,
) -> Result<(), hyper::Error> {
    let rt = ctx.runtime_ref().clone();
    let conn = http2::Builder::new(ThreadSafeExecutor::new(rt.clone()))
        .timer(HyperTimer::thread_safe(rt))
        .serve_connection(stream, service_fn(answer));
    http::graceful(&ctx, conn).await
}

#[test]
fn http2_streams_run_on_the_local_executor() {
    let server = Server::start(two_workers(), actor_fn(http2_conn));
    streams_of_one_connection(server);
}

#[test]
fn thread_safe_http2_streams_run_on_the_thread_safe_executor() {
    let server = Server::start_thread_safe(two_workers(), actor_fn(thread_safe_http2_conn));
    streams_of_one_connection(server);
}

fn streams_of_one_connection(server: Server) {
    let mut client = Hyper::http2(server.addr);
    let paths: Vec<String> = (0..50).map(|i| format!("/stream/{i}")).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let responses = client.get_concurrently(&paths);
    for (path, response) in paths.iter().zip(&responses) {
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), format!("{path} 0"));
    }
    let got = client.request("POST", "/upload", &vec![1; 100_000]);
    assert_eq!(got.text(), "/upload 100000");
    assert_eq!(server.accepted(), 1);
    server.stop();
}

/// An axum `Router` as a hyper service, through hyper-util's tower
/// adapter, on a hearth worker: no tokio runtime anywhere on the server's
/// threads (the handler checks).
async fn axum_conn(ctx: Context<(), ThreadLocal>, stream: TcpStream) -> Result<(), hyper::Error> {
    use axum::Json;
    use axum::routing::{get, post};

    fn no_tokio() {
        assert!(
            tokio::runtime::Handle::try_current().is_err(),
            "a tokio runtime is reachable from the handler"
        );
    }
    let router = axum::Router::new()
        .route(
            "/",
            get(|| async {
                no_tokio();
                "Hello, World!"
            }),
        )
        .route(
            "/json",
            get(|| async {
                no_tokio();
                Json(serde_json_value())
            }),
        )
        .route(
            "/echo",
            post(|body: Bytes| async move {
                no_tokio();
                body
            }),
        );
    let service = hyper_util::service::TowerToHyperService::new(router);
    let conn = http1::Builder::new().serve_connection(stream, service);
    http::graceful(&ctx, conn).await
}

/// `{"message":"Hello, World!"}` without naming `serde_json` (axum's `Json`
/// takes any `Serialize`).
fn serde_json_value() -> std::collections::BTreeMap<&'static str, &'static str> {
    std::collections::BTreeMap::from([("message", "Hello, World!")])
}

#[test]
fn axum_router_runs_without_a_tokio_runtime() {
    let server = Server::start(two_workers(), actor_fn(axum_conn));
    let mut client = Hyper::http1(server.addr);
    let got = client.request("GET", "/", b"");
    assert_eq!((got.status, got.text()), (200, "Hello, World!"));
    let got = client.request("GET", "/json", b"");
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.text(), r#"{"message":"Hello, World!"}"#);
    let got = client.request("POST", "/echo", b"ping");
    assert_eq!((got.status, got.text()), (200, "ping"));
    let got = client.request("GET", "/nowhere", b"");
    assert_eq!(got.status, 404);
    server.stop();
}

/// A connection actor whose service tells the test each time it has a
/// request's head, before it reads the body.
async fn announcing_conn<RT: SocketMode>(
    ctx: Context<(), RT>,
    stream: TcpStream<RT>,
    heads: mpsc::Sender<String>,
) -> Result<(), hyper::Error> {
    let service = service_fn(move |req: Request<Incoming>| {
        let _ = heads.send(req.uri().path().to_owned());
        answer(req)
    });
    let conn = http1::Builder::new().serve_connection(stream, service);
    http::graceful(&ctx, conn).await
}

#[test]
fn graceful_shutdown_answers_requests_in_flight_and_closes_idle_connections() {
    let (heads_tx, heads) = mpsc::channel();
    // One worker: the idle connection's close shows the worker has seen
    // the shutdown.
    let server = Server::start(
        Runtime::setup().num_threads(1),
        actor_fn(move |ctx, stream| announcing_conn::<ThreadLocal>(ctx, stream, heads_tx.clone())),
    );
    graceful_shutdown(server, &heads);
}

#[test]
fn thread_safe_graceful_shutdown_answers_requests_in_flight_and_closes_idle_connections() {
    let (heads_tx, heads) = mpsc::channel();
    let server = Server::start_thread_safe(
        two_workers(),
        actor_fn(move |ctx, stream| announcing_conn::<ThreadSafe>(ctx, stream, heads_tx.clone())),
    );
    graceful_shutdown(server, &heads);
}

fn graceful_shutdown(server: Server, heads: &mpsc::Receiver<String>) {
    let mut idle = Raw::connect(server.addr);
    idle.send(&get("/idle"));
    assert_eq!(idle.response().text(), "/idle 0");
    let mut busy = Raw::connect(server.addr);
    busy.send(b"POST /upload HTTP/1.1\r\nhost: localhost\r\ncontent-length: 10\r\n\r\n01234");
    let wait_for = |path: &str| loop {
        let head = heads.recv_timeout(GUARD).expect("the server got the head");
        if head == path {
            break;
        }
    };
    wait_for("/upload");
    server.shutdown();
    idle.expect_closed();
    // The rest of the body, sent after the shutdown began.
    busy.send(b"56789");
    let response = busy.response();
    assert_eq!((response.status, response.text()), (200, "/upload 10"));
    assert_eq!(response.header("connection"), Some("close"));
    busy.expect_closed();
    server.join().expect("the runtime ended cleanly");
}

/// Answers `/big` with a body larger than the socket buffers can hold.
async fn big_conn(
    ctx: Context<(), ThreadLocal>,
    stream: TcpStream,
    heads: mpsc::Sender<String>,
) -> Result<(), hyper::Error> {
    let service = service_fn(move |req: Request<Incoming>| {
        let _ = heads.send(req.uri().path().to_owned());
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(vec![b'x'; 64 << 20])))) }
    });
    let conn = http1::Builder::new().serve_connection(stream, service);
    http::graceful(&ctx, conn).await
}

/// A client that asks for a large response and reads none of it cannot
/// hold a stopping runtime until its grace period: hyper's writes give up
/// after the stalled-write limit, as the async writes do.
#[test]
fn stalled_response_is_given_up_in_a_stopping_runtime() {
    let (heads_tx, heads) = mpsc::channel();
    let setup = Runtime::setup()
        .num_threads(1)
        .stalled_write_limit(Duration::from_millis(100))
        .grace_period(Duration::from_secs(20));
    let server = Server::start(
        setup,
        actor_fn(move |ctx, stream| big_conn(ctx, stream, heads_tx.clone())),
    );
    let mut reader_who_never_reads = Raw::connect(server.addr);
    reader_who_never_reads.send(&get("/big"));
    assert_eq!(heads.recv_timeout(GUARD).unwrap(), "/big");
    server.shutdown();
    // Without the limit, the write would wait for the 20 s grace period
    // and `start` would fail naming the connection actor.
    server.join().expect("the runtime ended cleanly");
    drop(reader_who_never_reads);
}

/// A sleep of another timer, for `reset` to replace.
struct ForeignSleep;

impl std::future::Future for ForeignSleep {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Pending
    }
}

impl hyper::rt::Sleep for ForeignSleep {}

/// hyper's view of the timer: sleeps end at their deadline, `reset` moves
/// the deadline of one of its own sleeps and replaces another timer's
/// sleep.
async fn timer_checks(mut ctx: Context<(), ThreadLocal>, done: mpsc::Sender<Result<(), String>>) {
    use hyper::rt::Timer;

    let timer = HyperTimer::new(ctx.runtime());
    let check = async {
        let start = Instant::now();
        timer.sleep(Duration::from_millis(20)).await;
        if start.elapsed() < Duration::from_millis(20) {
            return Err(format!("slept {:?} of 20 ms", start.elapsed()));
        }
        // An hour, moved to 20 ms from now.
        let mut sleep = timer.sleep(Duration::from_hours(1));
        let soon = Instant::now() + Duration::from_millis(20);
        timer.reset(&mut sleep, soon);
        let ours = sleep
            .as_mut()
            .downcast_mut_pin::<hearth::http::HyperSleep>();
        match ours {
            Some(ours) if ours.deadline() == soon => {}
            _ => return Err("reset did not move the deadline".to_owned()),
        }
        sleep.await;
        if Instant::now() < soon {
            return Err("the reset sleep ended early".to_owned());
        }
        let mut foreign: std::pin::Pin<Box<dyn hyper::rt::Sleep>> = Box::pin(ForeignSleep);
        timer.reset(&mut foreign, Instant::now() + Duration::from_millis(5));
        foreign.await;
        Ok(())
    };
    let _ = done.send(check.await);
}

#[test]
fn hyper_timer_sleeps_and_resets() {
    let (done, result) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let done = done.clone();
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(move |ctx| timer_checks(ctx, done.clone())),
            (),
            ActorOptions::default(),
        );
    });
    let running = thread::spawn(move || runtime.start());
    result
        .recv_timeout(GUARD)
        .expect("the checks ended")
        .unwrap();
    running.join().unwrap().unwrap();
}

/// An HTTP/1 connection actor of a `UnixServer` serving [`answer`].
async fn http1_unix_conn(
    mut ctx: Context<(), ThreadLocal>,
    stream: UnixStream,
) -> Result<(), hyper::Error> {
    let conn = http1::Builder::new()
        .timer(HyperTimer::new(ctx.runtime()))
        .header_read_timeout(PATIENT)
        .serve_connection(stream, service_fn(answer));
    http::graceful(&ctx, conn).await
}

/// hyper over a Unix socket: two pipelined requests on one connection, the
/// second with a body, both answered in order.
#[test]
fn http1_over_a_unix_socket() {
    use std::io::{Read, Write};

    let dir = std::env::temp_dir().join(format!("hearth-http-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("http.sock");
    let mut runtime = two_workers().build().unwrap();
    let server = UnixServer::setup(
        &path,
        NoSupervisor,
        actor_fn(http1_unix_conn),
        ActorOptions::default(),
    )
    .unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            RestartSupervisor::new(()),
            server.clone(),
            (),
            ActorOptions::default(),
        );
    });
    let handle = runtime.thread_safe();
    let running = thread::spawn(move || runtime.start());
    let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    client.set_read_timeout(Some(GUARD)).unwrap();
    client
        .write_all(
            b"GET /first HTTP/1.1\r\nHost: hearth\r\n\r\n\
              POST /second HTTP/1.1\r\nHost: hearth\r\nContent-Length: 5\r\n\
              Connection: close\r\n\r\nhello",
        )
        .unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    let first = answer.find("/first 0").expect(&answer);
    let second = answer.find("/second 5").expect(&answer);
    assert!(first < second, "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");
    handle.shutdown();
    running.join().unwrap().unwrap();
    assert!(!path.exists(), "the server left its socket file");
    let _ = std::fs::remove_dir_all(&dir);
}
