//! The servers under load, each in a child process of its own (the
//! benchmark runs itself again with [`FLAG`], so neither side shares a
//! heap, signal dispositions or a profile with the other): the same hyper
//! service ([`route`]) and the same HTTP/1 settings, on hearth
//! ([`hearth`]: a `TcpServer` on two workers, pinned to a CPU each as a
//! hearth server is set up, or not, with thread-local or thread-safe
//! connections) or on tokio ([`tokio`]: a multi-thread runtime with two
//! workers and hyper-util's tokio glue). Each prints `listening on ADDR`
//! and serves until SIGTERM.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::time::Duration;

use bytes::Bytes;
use hearth::actor::{Context, actor_fn};
use hearth::http::{self, HyperTimer};
use hearth::net::{TcpServer, TcpStream};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};

/// The first argument of a server process; the second is the side.
pub(crate) const FLAG: &str = "--http-server";

/// Worker threads of either server.
const WORKERS: usize = 2;

/// Which server.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Side {
    /// hearth, its workers pinned to a CPU each, as a hearth server is set
    /// up (`Setup::auto_cpu_affinity`).
    Hearth,
    /// hearth, its workers left to the kernel's scheduler.
    HearthUnpinned,
    /// hearth with thread-safe connections (any worker runs any
    /// connection), its workers pinned.
    HearthThreadSafe,
    /// hearth with thread-safe connections, its workers unpinned.
    HearthThreadSafeUnpinned,
    Tokio,
}

impl Side {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Side::Hearth => "hearth",
            Side::HearthUnpinned => "hearth-unpinned",
            Side::HearthThreadSafe => "hearth-thread-safe",
            Side::HearthThreadSafeUnpinned => "hearth-thread-safe-unpinned",
            Side::Tokio => "tokio",
        }
    }
}

/// The service of both servers, as in `examples/http_server.rs`: `GET /`
/// and `GET /json`, 404 otherwise, after reading the request's body.
async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, mut body) = req.into_parts();
    while let Some(frame) = body.frame().await {
        drop(frame?);
    }
    let get = parts.method == Method::GET || parts.method == Method::HEAD;
    let (status, content_type, body): (_, _, &'static [u8]) = match parts.uri.path() {
        "/" if get => (StatusCode::OK, "text/plain", b"Hello, World!"),
        "/json" if get => (
            StatusCode::OK,
            "application/json",
            br#"{"message":"Hello, World!"}"#,
        ),
        _ => (StatusCode::NOT_FOUND, "text/plain", b"Not Found"),
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body)));
    *response.status_mut() = status;
    let _ = response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// The server process's `main`: `args` is the side.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let served = match args {
        [side] if side == Side::Hearth.as_str() => hearth(true),
        [side] if side == Side::HearthUnpinned.as_str() => hearth(false),
        [side] if side == Side::HearthThreadSafe.as_str() => hearth_thread_safe(true),
        [side] if side == Side::HearthThreadSafeUnpinned.as_str() => hearth_thread_safe(false),
        [side] if side == Side::Tokio.as_str() => tokio(),
        _ => Err(format!(
            "usage: http {FLAG} hearth|hearth-unpinned|hearth-thread-safe|\
             hearth-thread-safe-unpinned|tokio (got {args:?})"
        )),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("http server: {err}");
            ExitCode::FAILURE
        }
    }
}

/// hearth: a listener and the connections' actors on each of two workers,
/// `pinned` to a CPU each or not; SIGTERM (unhandled) is a graceful
/// shutdown.
fn hearth(pinned: bool) -> Result<(), String> {
    let mut setup = Runtime::setup().name("http-bench").num_threads(WORKERS);
    if pinned {
        setup = setup.auto_cpu_affinity();
    }
    let mut runtime = setup
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = TcpServer::setup(
        addr,
        NoSupervisor,
        actor_fn(hearth_conn),
        ActorOptions::default(),
    )
    .map_err(|err| format!("setting up the server: {err}"))?;
    let addr = server.local_addr();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            RestartSupervisor::new(()),
            server.clone(),
            (),
            ActorOptions::default(),
        );
    });
    announce(addr)?;
    runtime
        .start()
        .map_err(|err| format!("running the runtime: {err}"))
}

/// One connection; its end, whatever the cause, is not the benchmark's
/// business (wrk drops its connections when it stops).
async fn hearth_conn(mut ctx: Context<(), ThreadLocal>, stream: TcpStream) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let conn = http1::Builder::new()
        .timer(HyperTimer::new(ctx.runtime()))
        .serve_connection(stream, service_fn(route));
    let _ = http::graceful(&ctx, conn).await;
}

/// hearth with thread-safe connections: a thread-safe listener and a
/// thread-safe actor per connection, which any worker runs; `pinned` as
/// for [`hearth`].
fn hearth_thread_safe(pinned: bool) -> Result<(), String> {
    let mut setup = Runtime::setup().name("http-bench").num_threads(WORKERS);
    if pinned {
        setup = setup.auto_cpu_affinity();
    }
    let mut runtime = setup
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = TcpServer::setup(
        addr,
        NoSupervisor,
        actor_fn(hearth_thread_safe_conn),
        ActorOptions::default(),
    )
    .map_err(|err| format!("setting up the server: {err}"))?;
    let addr = server.local_addr();
    let _ = runtime.spawn(
        RestartSupervisor::new(()),
        server,
        (),
        ActorOptions::default(),
    );
    announce(addr)?;
    runtime
        .start()
        .map_err(|err| format!("running the runtime: {err}"))
}

/// One thread-safe connection, as [`hearth_conn`].
async fn hearth_thread_safe_conn(ctx: Context<(), ThreadSafe>, stream: TcpStream<ThreadSafe>) {
    if stream.set_nodelay(true).is_err() {
        return;
    }
    let conn = http1::Builder::new()
        .timer(HyperTimer::thread_safe(ctx.runtime_ref().clone()))
        .serve_connection(stream, service_fn(route));
    let _ = http::graceful(&ctx, conn).await;
}

/// tokio: an accepting task and a task per connection on a multi-thread
/// runtime with two workers, until SIGTERM.
fn tokio() -> Result<(), String> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tokio::signal::unix::{SignalKind, signal};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|err| format!("binding: {err}"))?;
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|err| format!("SIGTERM handler: {err}"))?;
        announce(listener.local_addr().map_err(|err| err.to_string())?)?;
        loop {
            tokio::select! {
                _ = terminate.recv() => return Ok(()),
                accepted = listener.accept() => {
                    let (stream, _) = accepted.map_err(|err| format!("accept: {err}"))?;
                    if stream.set_nodelay(true).is_err() {
                        continue;
                    }
                    drop(tokio::spawn(async move {
                        let _ = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .serve_connection(TokioIo::new(stream), service_fn(route))
                            .await;
                    }));
                }
            }
        }
    })
}

/// Tells the parent where the server listens.
fn announce(addr: SocketAddr) -> Result<(), String> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {addr}")
        .and_then(|()| stdout.flush())
        .map_err(|err| format!("writing the address: {err}"))
}

/// A running server process.
pub(crate) struct Server {
    child: Child,
    /// Kept open: the server's stdout.
    _stdout: BufReader<ChildStdout>,
    pub(crate) addr: SocketAddr,
}

impl Server {
    /// Starts the server of `side` and waits for its address.
    pub(crate) fn start(side: Side) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|err| format!("finding the benchmark: {err}"))?;
        let mut child = Command::new(exe)
            .args([FLAG, side.as_str()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| format!("starting the {} server: {err}", side.as_str()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let status = child.wait();
            return Err(format!(
                "the {} server did not start ({status:?}), said {line:?}",
                side.as_str()
            ));
        };
        Ok(Server {
            child,
            _stdout: stdout,
            addr,
        })
    }

    /// Checks that `path` is answered with 200 and `body`, over a plain
    /// socket.
    pub(crate) fn check(&self, path: &str, body: &str) -> Result<(), String> {
        let mut stream = StdTcpStream::connect(self.addr).map_err(|err| err.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|err| err.to_string())?;
        let request = format!("GET {path} HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .map_err(|err| err.to_string())?;
        let mut response = String::new();
        let _ = stream
            .read_to_string(&mut response)
            .map_err(|err| err.to_string())?;
        if response.starts_with("HTTP/1.1 200 OK\r\n") && response.ends_with(body) {
            Ok(())
        } else {
            Err(format!("GET {path} answered {response:?}"))
        }
    }

    /// Stops the server with SIGTERM and checks that it exited cleanly.
    pub(crate) fn stop(mut self) -> Result<(), String> {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: plain system call on our own child, not yet waited for.
        if unsafe { libc::kill(pid, libc::SIGTERM) } == -1 {
            return Err(format!(
                "stopping the server: {}",
                io::Error::last_os_error()
            ));
        }
        let status = self.child.wait().map_err(|err| err.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the server ended with {status}"))
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Still running only if the benchmark failed on the way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
