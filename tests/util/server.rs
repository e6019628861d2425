//! A `TcpServer` on a runtime running in the background while a test's
//! clients run, then a graceful shutdown (also when a client's assertion
//! fails: the server is stopped when its handle is dropped), for
//! connection actors of either socket mode ([`Connections`]); the clients'
//! side: a connection, echo round trips, and a wait for a server's state
//! that no event tells.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use hearth::actor::{Actor, NewActor};
use hearth::net::{TcpServer, TcpStream};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

/// Last guard for a runtime that does not end after its shutdown.
const GUARD: Duration = Duration::from_secs(30);

/// Runs a server of `new_actor` connections on `threads` workers while
/// `clients` runs with its address and a handle to the runtime; then shuts
/// it down and checks that `start` ended cleanly.
#[track_caller]
#[allow(dead_code)]
pub fn with_server(
    threads: usize,
    new_actor: impl Connections<ThreadLocal>,
    clients: impl FnOnce(SocketAddr, &ThreadSafe),
) {
    with_connections(threads, new_actor, clients);
}

/// Runs a thread-safe server of `new_actor` connections on `threads`
/// workers while `clients` runs, as [`with_server`] does.
#[track_caller]
#[allow(dead_code)]
pub fn with_thread_safe_server(
    threads: usize,
    new_actor: impl Connections<ThreadSafe>,
    clients: impl FnOnce(SocketAddr, &ThreadSafe),
) {
    with_connections(threads, new_actor, clients);
}

/// Runs a server of `new_actor` connections, of either mode, on `threads`
/// workers while `clients` runs, as [`with_server`] does.
#[track_caller]
#[allow(dead_code)]
pub fn with_connections<RT>(
    threads: usize,
    new_actor: impl Connections<RT>,
    clients: impl FnOnce(SocketAddr, &ThreadSafe),
) {
    let runtime = Runtime::setup().num_threads(threads).build().unwrap();
    let serving = new_actor.serve(runtime);
    clients(serving.addr, &serving.handle);
    serving.stop().unwrap();
}

/// Adds a server of `new_actor` connections to `runtime` (a listener per
/// worker) and starts the runtime on a thread of its own.
#[allow(dead_code)]
pub fn serve(runtime: Runtime, new_actor: impl Connections<ThreadLocal>) -> Serving {
    new_actor.serve(runtime)
}

/// Adds a thread-safe server of `new_actor` connections to `runtime` (one
/// thread-safe listener) and starts the runtime on a thread of its own.
#[allow(dead_code)]
pub fn serve_thread_safe(runtime: Runtime, new_actor: impl Connections<ThreadSafe>) -> Serving {
    new_actor.serve(runtime)
}

/// A connection actor of the socket mode `RT`, served in that mode: a
/// listener per worker for thread-local actors, one on the shared poll
/// for thread-safe ones. For test bodies written once over both modes: the
/// body takes the actor, the test that names the mode makes it.
pub trait Connections<RT> {
    /// Adds a server of these connections to `runtime` and starts the
    /// runtime on a thread of its own.
    fn serve(self, runtime: Runtime) -> Serving;
}

impl<NA> Connections<ThreadLocal> for NA
where
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + Send + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
    <NA::Actor as Actor>::Error: std::fmt::Display,
{
    fn serve(self, mut runtime: Runtime) -> Serving {
        let server = TcpServer::setup(localhost(), NoSupervisor, self, ActorOptions::default());
        let server = server.unwrap();
        let addr = server.local_addr();
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            let supervisor = RestartSupervisor::new(());
            let _ = rt.spawn_local(supervisor, server.clone(), (), ActorOptions::default());
        });
        Serving::start(runtime, addr)
    }
}

impl<NA> Connections<ThreadSafe> for NA
where
    NA: NewActor<Argument = TcpStream<ThreadSafe>, RuntimeAccess = ThreadSafe>
        + Clone
        + Send
        + Sync
        + 'static,
    NA::Actor: Send + 'static,
    NA::Message: Send + 'static,
    <NA::Actor as Actor>::Error: std::fmt::Display,
{
    fn serve(self, mut runtime: Runtime) -> Serving {
        let server = TcpServer::setup(localhost(), NoSupervisor, self, ActorOptions::default());
        let server = server.unwrap();
        let addr = server.local_addr();
        let supervisor = RestartSupervisor::new(());
        let _ = runtime.spawn(supervisor, server, (), ActorOptions::default());
        Serving::start(runtime, addr)
    }
}

/// Port 0 of the loopback address: a free port.
fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A server running in the background.
pub struct Serving {
    /// Its address.
    pub addr: SocketAddr,
    /// Its runtime.
    pub handle: ThreadSafe,
    /// What `start` returned.
    done: mpsc::Receiver<Result<(), hearth::Error>>,
}

impl Serving {
    /// Starts `runtime`, with a server at `addr` added, on a thread of its
    /// own.
    fn start(runtime: Runtime, addr: SocketAddr) -> Serving {
        let handle = runtime.thread_safe();
        let (done_tx, done) = mpsc::channel();
        let _ = thread::spawn(move || done_tx.send(runtime.start()));
        Serving { addr, handle, done }
    }

    /// Shuts the runtime down and returns what `start` returned; panics if
    /// it did not end in time (a hang).
    #[track_caller]
    pub fn stop(self) -> Result<(), hearth::Error> {
        self.handle.shutdown();
        self.done
            .recv_timeout(GUARD)
            .expect("the runtime did not end after its shutdown")
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// A blocking client of `addr`, with [`GUARD`] as its read timeout and no
/// Nagle delay.
#[track_caller]
#[allow(dead_code)]
pub fn connect(addr: SocketAddr) -> StdTcpStream {
    let stream = StdTcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Sends an echo server `rounds` messages of 8 bytes (`client`'s number
/// and the message's) on `stream`, one at a time, and checks each echo.
#[track_caller]
#[allow(dead_code)]
pub fn echo_messages(stream: &mut (impl Read + Write), client: u32, rounds: u32) {
    let mut got = [0; 8];
    for seq in 0..rounds {
        let mut msg = [0; 8];
        msg[..4].copy_from_slice(&client.to_be_bytes());
        msg[4..].copy_from_slice(&seq.to_be_bytes());
        stream.write_all(&msg).unwrap();
        stream.read_exact(&mut got).unwrap();
        assert_eq!(got, msg, "client {client} message {seq}");
    }
}

/// A blocking std stream socket, TCP or Unix, as a test's client holds
/// one.
pub trait StdStream: Read + Write {
    /// Shuts down its write side: the server reads the end.
    fn shutdown_write(&self) -> std::io::Result<()>;
}

impl StdStream for StdTcpStream {
    fn shutdown_write(&self) -> std::io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

impl StdStream for std::os::unix::net::UnixStream {
    fn shutdown_write(&self) -> std::io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

/// Reads the byte a connection actor that tells its worker sends first:
/// the number of the worker that runs it.
#[track_caller]
#[allow(dead_code)]
pub fn read_worker(stream: &mut impl StdStream) -> u8 {
    let mut worker = [0];
    stream.read_exact(&mut worker).unwrap();
    worker[0]
}

/// Closes a connection and waits until the server closed its side.
#[track_caller]
#[allow(dead_code)]
pub fn close_and_wait(mut stream: impl StdStream) {
    stream.shutdown_write().unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).unwrap();
}

/// Connects with `ask` (a connection, and the worker that answers it, 1 or
/// 2) and closes each connection again, until both workers of a server on
/// two workers have answered one: until both listeners run (the runtime
/// starts in the background), connections can only go to the first.
#[track_caller]
#[allow(dead_code)]
pub fn until_both_workers_answer<S: StdStream>(ask: impl Fn() -> (S, u8)) {
    let mut seen = [false; 2];
    for _ in 0..1000 {
        let (stream, worker) = ask();
        close_and_wait(stream);
        seen[usize::from(worker == 2)] = true;
        if seen == [true, true] {
            return;
        }
    }
    assert_eq!(seen, [true, true], "a worker never served a connection");
}

/// Writes 32 bytes of `byte` to an echo server's `client` and checks that
/// they come back.
#[track_caller]
#[allow(dead_code)]
pub fn round_trip(client: &mut (impl Read + Write), byte: u8) {
    let msg = [byte; 32];
    client.write_all(&msg).unwrap();
    let mut got = [0; 32];
    client.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

/// Waits until `done()` holds, checking every millisecond: for a state
/// of the server that no event of the test's tells (a socket closed, a
/// file removed).
#[track_caller]
#[allow(dead_code)]
pub fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < GUARD, "never: {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Shuts the runtime down when dropped: a failed assertion in the clients
/// still ends the server, so the test reports instead of hanging.
#[allow(dead_code)]
pub struct ShutdownOnDrop(pub ThreadSafe);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}
