//! The servers under load, each a child process of its own: the
//! benchmark's own forms (it runs itself again with [`FLAG`] and the
//! side's name; the child prints `listening on ADDR` and serves until
//! SIGTERM), and `redis-server` itself, on a free port of 127.0.0.1 with
//! nothing kept on disk.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;

use super::hearth_server::{self, Form};
use super::tokio_server;

/// The first argument of a server process; the second is the side.
pub(crate) const FLAG: &str = "--redis-server";

/// How to get `redis-server` when it is missing.
pub(crate) const INSTALL_SERVER: &str =
    "redis-server not found: install it (Debian/Ubuntu: `apt-get install redis-server`)";

/// Which server.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Side {
    /// (a) hearth, one `rpc` per command to a store actor per worker.
    HearthRpc,
    /// (a') hearth, one `rpc` per command to a thread-safe store actor
    /// per shard, which whichever worker calls it runs.
    HearthRpcShared,
    /// (b) hearth, mutex-guarded shards.
    HearthMutex,
    /// (c) hearth, one batched `rpc` per read and shard.
    HearthBatch,
    /// (d) tokio multi-thread, mutex-guarded shards.
    TokioMutex,
    /// (e) `redis-server`.
    Redis,
}

/// Every side, in the order of the tables.
pub(crate) const SIDES: [Side; 6] = [
    Side::HearthRpc,
    Side::HearthRpcShared,
    Side::HearthMutex,
    Side::HearthBatch,
    Side::TokioMutex,
    Side::Redis,
];

impl Side {
    /// The side's name: in the tables, for the filters, and the server
    /// process's argument.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Side::HearthRpc => "hearth-rpc",
            Side::HearthRpcShared => "hearth-rpc-shared",
            Side::HearthBatch => "hearth-batch",
            Side::HearthMutex => "hearth-mutex",
            Side::TokioMutex => "tokio-mutex",
            Side::Redis => "redis-server",
        }
    }
}

/// The server process's `main`: `args` is the side.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let served = match args {
        [side] if side == Side::HearthRpc.as_str() => hearth_server::serve(Form::Rpc),
        [side] if side == Side::HearthRpcShared.as_str() => hearth_server::serve(Form::RpcShared),
        [side] if side == Side::HearthBatch.as_str() => hearth_server::serve(Form::Batch),
        [side] if side == Side::HearthMutex.as_str() => hearth_server::serve(Form::Mutex),
        [side] if side == Side::TokioMutex.as_str() => tokio_server::serve(),
        _ => Err(format!(
            "usage: redis {FLAG} hearth-rpc|hearth-rpc-shared|hearth-mutex|hearth-batch|tokio-mutex (got {args:?})"
        )),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("redis server: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Tells the parent where the server listens.
pub(crate) fn announce(addr: SocketAddr) -> Result<(), String> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {addr}")
        .and_then(|()| stdout.flush())
        .map_err(|err| format!("writing the address: {err}"))
}

/// A running server process.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    /// Kept for `redis-server`: its working directory.
    _dir: Option<TempDir>,
}

impl Server {
    /// Starts the server of `side` and waits until it listens.
    pub(crate) fn start(side: Side) -> Result<Server, String> {
        match side {
            Side::Redis => start_redis(),
            _ => start_own(side),
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

/// One of the benchmark's own servers.
fn start_own(side: Side) -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|err| format!("finding the benchmark: {err}"))?;
    let child = Command::new(exe)
        .args([FLAG, side.as_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("starting the {} server: {err}", side.as_str()))?;
    let (child, line) = first_line_with(child, "listening on ")?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_default();
    let addr = addr
        .parse()
        .map_err(|err| format!("the {} server said {line:?}: {err}", side.as_str()))?;
    Ok(Server {
        child,
        addr,
        _dir: None,
    })
}

/// `redis-server` on a free port, persistence off, in a directory of its
/// own. The port is free when it is picked, not necessarily when the
/// server binds it: a server that fails to start is tried again on another.
fn start_redis() -> Result<Server, String> {
    let mut last = String::new();
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|err| format!("finding a free port: {err}"))?
            .port();
        let dir = TempDir::new()?;
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--logfile", ""])
            .arg("--dir")
            .arg(&dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(INSTALL_SERVER.to_owned());
            }
            Err(err) => return Err(format!("starting redis-server: {err}")),
        };
        match first_line_with(child, "Ready to accept connections") {
            Ok((child, _)) => {
                return Ok(Server {
                    child,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    _dir: Some(dir),
                });
            }
            Err(err) => last = err,
        }
    }
    Err(format!("redis-server did not start: {last}"))
}

/// Reads `child`'s output until a line containing `wanted` (then a thread
/// reads and drops the rest, so the child never blocks on a full pipe).
/// A child that ends first is reaped, and what it said is the error.
fn first_line_with(mut child: Child, wanted: &str) -> Result<(Child, String), String> {
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut said = String::new();
    loop {
        let mut line = String::new();
        match stdout.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.contains(wanted) => {
                let _drain = thread::spawn(move || io::copy(&mut stdout, &mut io::sink()));
                return Ok((child, line));
            }
            Ok(_) => said.push_str(&line),
        }
    }
    let _ = child.kill();
    let status = child.wait();
    Err(format!(
        "ended ({status:?}) before saying {wanted:?}; it said {said:?}"
    ))
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "hearth-redis-bench-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path)
            .map_err(|err| format!("creating {}: {err}", path.display()))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
