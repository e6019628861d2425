//! An HTTP/1.1 server: hyper on hearth, no tokio.
//!
//! ```sh
//! cargo run --release --features hyper --example http_server [ADDR] [--header-read-timeout SECONDS] [--thread-local]
//! curl -i 127.0.0.1:8080/          # 200 text/plain: Hello, World!
//! curl -i 127.0.0.1:8080/json      # 200 application/json: {"message":"Hello, World!"}
//! kill -USR2 PID                   # metrics on stderr (connections, requests)
//! ```
//!
//! `ADDR` defaults to 127.0.0.1:8080 (port 0 picks a free port; the first
//! line printed says which). Connections are kept alive and may pipeline
//! requests; a request hyper cannot parse gets 400 and the connection
//! closes. A client gets `--header-read-timeout` (default 5 s) to send
//! each request's head, so a slow or idle one cannot hold a connection for
//! ever.
//!
//! Each connection is a thread-safe actor that whichever worker is free
//! runs: where other programs (a load generator, say) share the cores, a
//! request waits for whichever worker runs, not for the one that accepted
//! its connection, so the slowest requests come sooner, and a load of one
//! client thread is served from one core while the client has the other
//! (`BENCHMARKS.md`, "Where the p99 comes from" and "One client thread").
//! `--thread-local` makes each connection a thread-local actor on the
//! worker that accepted it (a listener per worker): no lock on the path,
//! for a server whose workers have their cores to themselves.
//! (`--thread-safe`, the default, is taken too.)
//!
//! Ctrl+C (or SIGTERM) stops accepting, lets requests in flight finish,
//! closes idle keep-alive connections and exits 0; a second Ctrl+C exits at
//! once.
//!
//! Under systemd (or `systemd-socket-activate -l 127.0.0.1:8080
//! http_server`) it serves the TCP socket it was passed (the one named
//! `http` if there are several) instead of binding ADDR, and tells the
//! service manager when it is ready and stopping (see `hearth::systemd`).

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hearth::actor::{Context, actor_fn};
use hearth::http::{self, HyperTimer};
use hearth::net::{TcpServer, TcpStream};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::{ActorOptions, Runtime, RuntimeRef, Signal, ThreadLocal, ThreadSafe};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};

const DEFAULT_ADDR: &str = "127.0.0.1:8080";
const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a graceful shutdown may take: above the header-read timeout,
/// so a client halfway through a request's head at the time is cut by
/// that timeout, not by the end of the grace period.
const GRACE_PERIOD: Duration = Duration::from_secs(10);

const USAGE: &str = "usage: http_server [ADDR] [--header-read-timeout SECONDS] [--thread-local]";

/// The command line.
struct Args {
    addr: SocketAddr,
    header_read_timeout: Duration,
    /// Connections in thread-safe actors (not `--thread-local`).
    thread_safe: bool,
}

/// Requests answered, by outcome; connections are counted by the runtime
/// (its `tcp server metrics` records).
static REQUESTS: AtomicU64 = AtomicU64::new(0);
static NOT_FOUND: AtomicU64 = AtomicU64::new(0);

fn main() -> ExitCode {
    hearth::log::init();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("error: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let header_read_timeout = args.header_read_timeout;
    // A worker per core, not pinned (as the echo server, for a machine
    // shared with other programs; `Setup::auto_cpu_affinity` pins them on a
    // machine of the server's own).
    let setup = Runtime::setup()
        .name("http_server")
        .use_all_cores()
        .grace_period(GRACE_PERIOD.max(header_read_timeout * 2));
    let mut runtime = match setup.build() {
        Ok(runtime) => runtime,
        Err(err) => return hearth::exit_code(Err(err)),
    };
    let listening = if args.thread_safe {
        let conn =
            actor_fn(move |ctx, stream| connection_thread_safe(ctx, stream, header_read_timeout));
        let server = match passed_listener() {
            Ok(Some(listener)) => {
                TcpServer::from_listener(listener, NoSupervisor, conn, ActorOptions::default())
            }
            Ok(None) => TcpServer::setup(args.addr, NoSupervisor, conn, ActorOptions::default())
                .map_err(with_hint),
            Err(err) => Err(err),
        };
        server.map(|server| {
            let addr = server.local_addr();
            // One listener on the runtime's shared poll; restarted if
            // accepting fails.
            let _ = runtime.spawn(
                RestartSupervisor::new(()),
                server,
                (),
                ActorOptions::default(),
            );
            addr
        })
    } else {
        let conn = actor_fn(move |ctx, stream| connection(ctx, stream, header_read_timeout));
        let server = match passed_listener() {
            Ok(Some(listener)) => {
                TcpServer::from_listener(listener, NoSupervisor, conn, ActorOptions::default())
            }
            Ok(None) => TcpServer::setup(args.addr, NoSupervisor, conn, ActorOptions::default())
                .map_err(with_hint),
            Err(err) => Err(err),
        };
        server.map(|server| {
            let addr = server.local_addr();
            runtime.run_on_workers(move |mut rt: RuntimeRef| {
                // A listener per worker; restarted if accepting fails.
                let _ = rt.spawn_local(
                    RestartSupervisor::new(()),
                    server.clone(),
                    (),
                    ActorOptions::default(),
                );
            });
            addr
        })
    };
    let local_addr = match listening {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(1);
        }
    };
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        // Worker 1 handles the signals: metrics on SIGUSR2, a graceful end
        // (exit 0) on SIGINT/SIGTERM.
        if rt.worker_id() == 1 {
            let handler =
                rt.spawn_local(NoSupervisor, actor_fn(signals), (), ActorOptions::default());
            rt.receive_signals(handler);
        }
    });
    println!("listening on {local_addr}");
    hearth::exit_code(runtime.start())
}

/// A bind error, with what to do about it.
fn with_hint(err: io::Error) -> io::Error {
    io::Error::new(
        err.kind(),
        format!("{err}; pick another address, e.g. 127.0.0.1:0 for any free port"),
    )
}

/// The TCP socket systemd passed (socket activation): the one named
/// `http`, else the first; `None` when started otherwise.
fn passed_listener() -> io::Result<Option<std::net::TcpListener>> {
    let mut sockets = hearth::systemd::listeners()?;
    if sockets.is_empty() {
        return Ok(None);
    }
    let named = sockets.iter().position(|s| s.name() == "http").unwrap_or(0);
    Ok(Some(sockets.swap_remove(named).into_tcp_listener()?))
}

/// `[ADDR] [--header-read-timeout SECONDS] [--thread-local | --thread-safe]`.
fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut addr = None;
    let mut timeout = DEFAULT_HEADER_READ_TIMEOUT;
    let mut thread_safe = true;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        if let Some(value) = arg
            .strip_prefix("--header-read-timeout")
            .and_then(|rest| rest.strip_prefix('='))
            .map(str::to_owned)
            .or_else(|| {
                (arg == "--header-read-timeout")
                    .then(|| args.next())
                    .flatten()
            })
        {
            timeout = parse_seconds(&value)?;
        } else if arg == "--thread-safe" || arg == "--thread-local" {
            thread_safe = arg == "--thread-safe";
        } else if arg == "--header-read-timeout" {
            return Err("--header-read-timeout needs a value in seconds, e.g. 5 or 0.5".into());
        } else if arg.starts_with('-') {
            return Err(format!("unknown option {arg:?}"));
        } else if addr.is_some() {
            return Err(format!("unexpected argument {arg:?}: only one address"));
        } else {
            addr = Some(arg.parse().map_err(|err| {
                format!("invalid address {arg:?}: {err}; expected e.g. {DEFAULT_ADDR}")
            })?);
        }
    }
    let addr = addr.unwrap_or_else(|| DEFAULT_ADDR.parse().expect("a valid default"));
    Ok(Args {
        addr,
        header_read_timeout: timeout,
        thread_safe,
    })
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            format!(
                "invalid --header-read-timeout {value:?}: expected seconds above 0, e.g. 5 or 0.5"
            )
        })
}

/// Serves one connection (`--thread-local`) until the client closes it, stays silent past
/// the header-read timeout, or the server stops.
async fn connection(
    ctx: Context<(), ThreadLocal>,
    stream: TcpStream,
    header_read_timeout: Duration,
) -> io::Result<()> {
    let timer = HyperTimer::new(ctx.runtime_ref());
    serve(&ctx, stream, timer, header_read_timeout).await
}

/// [`connection`] in a thread-safe actor (the default).
async fn connection_thread_safe(
    ctx: Context<(), ThreadSafe>,
    stream: TcpStream<ThreadSafe>,
    header_read_timeout: Duration,
) -> io::Result<()> {
    let timer = HyperTimer::thread_safe(ctx.runtime_ref().clone());
    serve(&ctx, stream, timer, header_read_timeout).await
}

/// The connection of either kind of actor, with hyper's timers on `timer`.
async fn serve<RT>(
    ctx: &Context<(), RT>,
    stream: TcpStream<RT>,
    timer: HyperTimer,
    header_read_timeout: Duration,
) -> io::Result<()>
where
    RT: hearth::net::SocketMode,
    TcpStream<RT>: hyper::rt::Read + hyper::rt::Write + Unpin,
{
    // Either fails only for a connection the client has already reset.
    let peer = match stream.set_nodelay(true).and_then(|()| stream.peer_addr()) {
        Ok(peer) => peer,
        Err(err) => {
            log::debug!(reason:% = err; "connection gone before it was served");
            return Ok(());
        }
    };
    let conn = http1::Builder::new()
        .timer(timer)
        .header_read_timeout(header_read_timeout)
        // Pipelined requests are answered in order, each answer written
        // when it is ready. (hyper's `pipeline_flush`, which would gather
        // them into one write, never flushes the 400 it answers a request
        // it cannot parse with, while that request's bytes are unread.)
        .serve_connection(stream, service_fn(route));
    match http::graceful(ctx, conn).await {
        Ok(()) => Ok(()),
        Err(err) if client_went_away(&err) => {
            log::debug!(peer:% = peer, reason:% = err; "connection ended by the client");
            Ok(())
        }
        Err(err) => Err(io::Error::other(format!("connection from {peer}: {err}"))),
    }
}

/// The client's doing, not the server's: too slow with a request's head,
/// a request hyper could not parse (answered with 400, 414 or 431), gone
/// in the middle of a request or before hyper closed the connection
/// (closing the write side of a reset connection fails with
/// `NotConnected`), or not reading its answers while the server stops
/// (`Setup::stalled_write_limit`).
fn client_went_away(err: &hyper::Error) -> bool {
    use std::error::Error;
    if err.is_timeout() || err.is_parse() || err.is_incomplete_message() {
        return true;
    }
    err.source()
        .and_then(|source| source.downcast_ref::<io::Error>())
        .is_some_and(|err| {
            matches!(
                err.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::NotConnected
                    | io::ErrorKind::TimedOut
            )
        })
}

/// `GET /` and `GET /json`; 404 for anything else. The request's body, if
/// any, is read to its end first.
async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, mut body) = req.into_parts();
    while let Some(frame) = body.frame().await {
        drop(frame?);
    }
    let _ = REQUESTS.fetch_add(1, Ordering::Relaxed);
    let get = parts.method == Method::GET || parts.method == Method::HEAD;
    let (status, content_type, body): (_, _, &'static [u8]) = match parts.uri.path() {
        "/" if get => (StatusCode::OK, "text/plain", b"Hello, World!"),
        "/json" if get => (
            StatusCode::OK,
            "application/json",
            br#"{"message":"Hello, World!"}"#,
        ),
        _ => {
            let _ = NOT_FOUND.fetch_add(1, Ordering::Relaxed);
            (StatusCode::NOT_FOUND, "text/plain", b"Not Found")
        }
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body)));
    *response.status_mut() = status;
    let _ = response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// SIGUSR2: logs the server's numbers. SIGINT/SIGTERM/SIGQUIT: begins a
/// graceful shutdown and stops listening, so a second one ends the
/// process at once.
async fn signals(mut ctx: Context<Signal, ThreadLocal>) {
    while let Ok(signal) = ctx.receive_next().await {
        if signal == Signal::User2 {
            log_metrics(ctx.runtime());
        } else if signal.should_stop() {
            ctx.runtime().shutdown();
            return;
        }
    }
}

fn log_metrics(rt: &RuntimeRef) {
    let metrics = rt.metrics();
    let servers = metrics.tcp_servers.iter();
    let (accepted, open) = servers.fold((0, 0), |(accepted, open), server| {
        (accepted + server.accepted(), open + server.open())
    });
    log::info!(
        target: "metrics",
        connections_accepted = accepted,
        connections_open = open,
        requests = REQUESTS.load(Ordering::Relaxed),
        not_found = NOT_FOUND.load(Ordering::Relaxed);
        "http server metrics"
    );
}
