//! A TCP echo server: every byte a client sends comes back.
//!
//! ```sh
//! cargo run --release --example echo_server [ADDR]   # default 127.0.0.1:7890
//! nc 127.0.0.1 7890          # type lines, see them echoed
//! kill -USR2 PID             # metrics on stderr
//! ```
//!
//! Ctrl+C (or SIGTERM) stops accepting, lets each connection finish writing
//! what it read, closes it and exits 0; a second Ctrl+C exits at once.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use hearth::actor::{Context, actor_fn};
use hearth::net::{TcpServer, TcpStream};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};

const DEFAULT_ADDR: &str = "127.0.0.1:7890";

fn main() -> ExitCode {
    hearth::log::init();
    let arg = std::env::args().nth(1);
    let addr: SocketAddr = match arg.as_deref().unwrap_or(DEFAULT_ADDR).parse() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!(
                "error: invalid address {:?}: {err}; expected e.g. {DEFAULT_ADDR}",
                arg.unwrap_or_default()
            );
            return ExitCode::from(2);
        }
    };
    // A worker per core, each pinned to its CPU: a busy server runs best so
    // on a machine of its own (a pinned worker cannot dodge a CPU that
    // another program keeps busy). SIGINT and SIGTERM are this server's
    // normal end: a graceful shutdown, then exit 0.
    let setup = Runtime::setup()
        .name("echo_server")
        .use_all_cores()
        .auto_cpu_affinity()
        .stop_signals_end_cleanly();
    let mut runtime = match setup.build() {
        Ok(runtime) => runtime,
        Err(err) => return hearth::exit_code(Err(err)),
    };
    // Binds now: a bad or busy address is reported before anything runs.
    let server = match TcpServer::setup(addr, NoSupervisor, actor_fn(echo), ActorOptions::default())
    {
        Ok(server) => server,
        Err(err) => {
            eprintln!("error: {err}; pick another address, e.g. 127.0.0.1:0 for any free port");
            return ExitCode::from(1);
        }
    };
    let local_addr = server.local_addr();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        // A listener per worker; restarted if accepting fails.
        let _ = rt.spawn_local(
            RestartSupervisor::new(()),
            server.clone(),
            (),
            ActorOptions::default(),
        );
    });
    println!("listening on {local_addr}");
    hearth::exit_code(runtime.start())
}

/// Echoes one connection until the client closes it or the server stops.
async fn echo(ctx: Context<(), ThreadLocal>, mut stream: TcpStream) -> io::Result<()> {
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
