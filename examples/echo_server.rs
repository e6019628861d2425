//! An echo server: every byte a client sends comes back, over TCP or a
//! Unix socket.
//!
//! ```sh
//! cargo run --release --example echo_server [ADDR]   # default 127.0.0.1:7890
//! nc 127.0.0.1 7890          # type lines, see them echoed
//! cargo run --release --example echo_server /tmp/echo.sock
//! nc -U /tmp/echo.sock       # the same over a Unix socket
//! kill -USR2 PID             # metrics on stderr
//! ```
//!
//! ADDR is `HOST:PORT`, or the path of a Unix socket (anything with a `/`),
//! which must not exist. Under systemd, or `systemd-socket-activate -l
//! 127.0.0.1:7890 echo_server`, it serves the socket it was passed (TCP or
//! Unix, the one named `echo` if there are several) instead of binding
//! ADDR, and tells the service manager when it is ready and stopping (see
//! `hearth::systemd` for a sample unit). Started per connection (a socket
//! unit with `Accept=yes`, or `systemd-socket-activate --accept -l
//! 127.0.0.1:7890 echo_server`), it echoes the one connection it was
//! passed and exits when the client closes it.
//!
//! Ctrl+C (or SIGTERM) stops accepting, lets each connection finish writing
//! what it read, closes it and exits 0; a second Ctrl+C exits at once.
//!
//! A TCP connection is a thread-safe actor, which whichever worker is free
//! runs (`TcpServer`'s thread-safe mode): on a machine whose cores the
//! server shares, with its clients or anything else, the connections go
//! on on the worker that has a core instead of waiting for the one that
//! accepted them. With a one-thread client on the same two cores this
//! server echoes about 1.3× the messages of a tokio multi-thread echo
//! server, where thread-local connections (a listener per worker) reach
//! about 1.1× (`BENCHMARKS.md`, "TCP echo with one client thread"). A Unix
//! socket's connections are thread-local actors, a listener per worker.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use hearth::actor::{Actor, Context, NewActor, actor_fn};
use hearth::net::{TcpServer, TcpStream, UnixServer, UnixStream};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::systemd::{ActivatedSocket, SocketKind};
use hearth::{Access, ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

const DEFAULT_ADDR: &str = "127.0.0.1:7890";

fn main() -> ExitCode {
    hearth::log::init();
    let arg = std::env::args().nth(1);
    let addr = arg.as_deref().unwrap_or(DEFAULT_ADDR);
    // A TCP address or a path, checked before anything else is set up.
    let tcp: Option<SocketAddr> = if addr.contains('/') {
        None
    } else {
        match addr.parse() {
            Ok(addr) => Some(addr),
            Err(err) => {
                eprintln!(
                    "error: invalid address {addr:?}: {err}; expected e.g. {DEFAULT_ADDR}, or \
                     the path of a Unix socket"
                );
                return ExitCode::from(2);
            }
        }
    };
    // A worker per core, not pinned: on a machine shared with other
    // programs (a load generator, a build) the kernel moves a worker off a
    // CPU another program keeps busy, which a pinned worker cannot do. On a
    // machine of its own a server may pin its workers
    // (`Setup::auto_cpu_affinity`). SIGINT and SIGTERM are this server's
    // normal end: a graceful shutdown, then exit 0.
    let setup = Runtime::setup()
        .name("echo_server")
        .use_all_cores()
        .stop_signals_end_cleanly();
    let mut runtime = match setup.build() {
        Ok(runtime) => runtime,
        Err(err) => return hearth::exit_code(Err(err)),
    };
    // A socket passed by systemd, if any; else ADDR, bound now: a bad or
    // busy address is reported before anything runs.
    let served = match passed_socket() {
        Ok(Some(socket)) => serve_passed(&mut runtime, socket),
        Ok(None) => match tcp {
            Some(addr) => TcpServer::setup(addr, NoSupervisor, actor_fn(echo_tcp), options())
                .map(|server| Serving::Listener(spawn_tcp_listener(&mut runtime, server))),
            None => UnixServer::setup(addr, NoSupervisor, actor_fn(echo), options())
                .map(|server| Serving::Listener(spawn_listeners(&mut runtime, addr, server))),
        },
        Err(err) => Err(err),
    };
    let status = match served {
        Ok(Serving::Listener(local_addr)) => {
            println!("listening on {local_addr}");
            format!("echoing on {local_addr}")
        }
        Ok(Serving::Connection(what)) => {
            println!("serving {what}");
            format!("echoing {what}")
        }
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(1);
        }
    };
    // `systemctl status` shows it (nothing happens outside systemd).
    if let Err(err) = hearth::systemd::status(&status) {
        eprintln!("warning: {err}");
    }
    hearth::exit_code(runtime.start())
}

/// The socket systemd passed: the one named `echo`, else the first.
fn passed_socket() -> io::Result<Option<ActivatedSocket>> {
    let mut sockets = hearth::systemd::listeners()?;
    let named = sockets.iter().position(|s| s.name() == "echo").unwrap_or(0);
    Ok((!sockets.is_empty()).then(|| sockets.swap_remove(named)))
}

/// What the server serves, in words for its first line.
enum Serving {
    /// A listener, at this address.
    Listener(String),
    /// One connection that systemd accepted (`Accept=yes`).
    Connection(String),
}

/// Serves a passed socket, TCP or Unix, listening or accepted.
fn serve_passed(runtime: &mut Runtime, socket: ActivatedSocket) -> io::Result<Serving> {
    match socket.kind() {
        SocketKind::TcpListener => {
            let listener = socket.into_tcp_listener()?;
            let server =
                TcpServer::from_listener(listener, NoSupervisor, actor_fn(echo_tcp), options())?;
            Ok(Serving::Listener(spawn_tcp_listener(runtime, server)))
        }
        SocketKind::UnixListener => {
            let listener = socket.into_unix_listener()?;
            let addr = listener.local_addr()?;
            let shown = match addr.as_pathname() {
                Some(path) => path.display().to_string(),
                None => format!("{addr:?}"),
            };
            let server =
                UnixServer::from_listener(listener, NoSupervisor, actor_fn(echo), options())?;
            Ok(Serving::Listener(spawn_listeners(runtime, shown, server)))
        }
        // `Accept=yes`: one connection, this process's to serve.
        SocketKind::TcpStream => {
            let connection = socket.into_tcp_stream()?;
            let peer = connection.peer_addr()?;
            let stream = TcpStream::from_std(&mut runtime.thread_safe(), connection)?;
            let _ = runtime.spawn(NoSupervisor, actor_fn(echo_tcp), stream, options());
            Ok(Serving::Connection(format!("the connection from {peer}")))
        }
        SocketKind::UnixStream => {
            let connection = socket.into_unix_stream()?;
            let addr = connection.local_addr()?;
            let shown = match addr.as_pathname() {
                Some(path) => format!("a connection on {}", path.display()),
                None => format!("a connection on {addr:?}"),
            };
            // A Unix stream is thread-local: the first worker takes it.
            let connection = Arc::new(Mutex::new(Some(connection)));
            runtime.run_on_workers(move |mut rt: RuntimeRef| {
                let taken = connection.lock().map_or(None, |mut c| c.take());
                if let Some(connection) = taken {
                    let stream = UnixStream::from_std(&mut rt, connection)?;
                    let _ = rt.spawn_local(NoSupervisor, actor_fn(echo), stream, options());
                }
                Ok::<_, io::Error>(())
            });
            Ok(Serving::Connection(shown))
        }
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "systemd passed socket {:?} of kind {other:?}; echo_server serves a stream \
                 socket (ListenStream=), listening or accepted (Accept=yes)",
                socket.name()
            ),
        )),
    }
}

fn options() -> ActorOptions {
    ActorOptions::default()
}

/// Starts the one listener of a TCP server of thread-safe connections, on
/// the runtime's shared poll (restarted if accepting fails); returns its
/// address as text.
fn spawn_tcp_listener<S, NA>(runtime: &mut Runtime, server: TcpServer<S, NA, ThreadSafe>) -> String
where
    TcpServer<S, NA, ThreadSafe>:
        NewActor<Argument = (), RuntimeAccess = ThreadSafe> + Send + 'static,
    <TcpServer<S, NA, ThreadSafe> as NewActor>::Actor: Send + 'static,
    <TcpServer<S, NA, ThreadSafe> as NewActor>::Message: Send + 'static,
    <<TcpServer<S, NA, ThreadSafe> as NewActor>::Actor as Actor>::Error: std::fmt::Display,
    <TcpServer<S, NA, ThreadSafe> as NewActor>::Error: std::fmt::Display,
{
    let addr = server.local_addr();
    let _ = runtime.spawn(
        RestartSupervisor::new(()),
        server,
        (),
        ActorOptions::default(),
    );
    addr.to_string()
}

/// Starts a listener of `server` on every worker (restarted if accepting
/// fails); returns `addr` as text.
fn spawn_listeners<L>(runtime: &mut Runtime, addr: impl ToString, server: L) -> String
where
    L: NewActor<Argument = (), RuntimeAccess = ThreadLocal> + Clone + Send + 'static,
    L::Actor: 'static,
    L::Message: 'static,
    <L::Actor as Actor>::Error: std::fmt::Display,
    L::Error: std::fmt::Display,
{
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            RestartSupervisor::new(()),
            server.clone(),
            (),
            ActorOptions::default(),
        );
    });
    addr.to_string()
}

/// What the echo needs of a connection: TCP and Unix streams alike.
trait Connection {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
}

impl Connection for TcpStream<ThreadSafe> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        TcpStream::read(self, buf).await
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        TcpStream::write_all(self, buf).await
    }
}

impl Connection for UnixStream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        UnixStream::read(self, buf).await
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        UnixStream::write_all(self, buf).await
    }
}

/// Echoes a TCP connection, in a thread-safe actor.
async fn echo_tcp(ctx: Context<(), ThreadSafe>, stream: TcpStream<ThreadSafe>) -> io::Result<()> {
    echo(ctx, stream).await
}

/// Echoes one connection until the client closes it or the server stops.
async fn echo<C: Connection, RT: Access>(ctx: Context<(), RT>, mut stream: C) -> io::Result<()> {
    let mut buf = vec![0; 16 * 1024];
    // Stop reading once the runtime shuts down; what was read is still
    // written back in full.
    while let Some(read) = ctx.until_stopping(stream.read(&mut buf)).await {
        let n = match read {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if gone(&err) => break,
            Err(err) => return Err(err),
        };
        match stream.write_all(&buf[..n]).await {
            Err(err) if gone(&err) => break,
            result => result?,
        }
    }
    Ok(())
}

/// A client that went away, or one that took none of its echo while the
/// server was stopping (`Setup::stalled_write_limit`), is the normal end of
/// a connection.
fn gone(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::TimedOut
    )
}
