//! A `TcpServer` on a runtime running in the background while a test's
//! clients run, then a graceful shutdown (also when a client's assertion
//! fails: the server is stopped when its handle is dropped); an echo round
//! trip, and a wait for a server's state that no event tells.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use hearth::actor::NewActor;
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
pub fn with_server<NA>(threads: usize, new_actor: NA, clients: impl FnOnce(SocketAddr, &ThreadSafe))
where
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + Send + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
    <NA::Actor as hearth::actor::Actor>::Error: std::fmt::Display,
{
    let runtime = Runtime::setup().num_threads(threads).build().unwrap();
    let serving = serve(runtime, new_actor);
    clients(serving.addr, &serving.handle);
    serving.stop().unwrap();
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

/// Adds a server of `new_actor` connections to `runtime` (a listener per
/// worker) and starts the runtime on a thread of its own.
#[allow(dead_code)]
pub fn serve<NA>(mut runtime: Runtime, new_actor: NA) -> Serving
where
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + Send + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
    <NA::Actor as hearth::actor::Actor>::Error: std::fmt::Display,
{
    let server = TcpServer::setup(
        "127.0.0.1:0".parse().unwrap(),
        NoSupervisor,
        new_actor,
        ActorOptions::default(),
    )
    .unwrap();
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
    let (done_tx, done) = mpsc::channel();
    let _ = thread::spawn(move || done_tx.send(runtime.start()));
    Serving { addr, handle, done }
}

/// Runs a thread-safe server of `new_actor` connections on `threads`
/// workers while `clients` runs, as [`with_server`] does.
#[track_caller]
#[allow(dead_code)]
pub fn with_thread_safe_server<NA>(
    threads: usize,
    new_actor: NA,
    clients: impl FnOnce(SocketAddr, &ThreadSafe),
) where
    NA: NewActor<Argument = TcpStream<ThreadSafe>, RuntimeAccess = ThreadSafe>
        + Clone
        + Send
        + Sync
        + 'static,
    NA::Actor: Send + 'static,
    NA::Message: Send + 'static,
    <NA::Actor as hearth::actor::Actor>::Error: std::fmt::Display,
{
    let runtime = Runtime::setup().num_threads(threads).build().unwrap();
    let serving = serve_thread_safe(runtime, new_actor);
    clients(serving.addr, &serving.handle);
    serving.stop().unwrap();
}

/// Adds a thread-safe server of `new_actor` connections to `runtime` (one
/// thread-safe listener) and starts the runtime on a thread of its own.
#[allow(dead_code)]
pub fn serve_thread_safe<NA>(mut runtime: Runtime, new_actor: NA) -> Serving
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
    let server = TcpServer::setup(
        "127.0.0.1:0".parse().unwrap(),
        NoSupervisor,
        new_actor,
        ActorOptions::default(),
    )
    .unwrap();
    let addr = server.local_addr();
    let _ = runtime.spawn(
        RestartSupervisor::new(()),
        server,
        (),
        ActorOptions::default(),
    );
    let handle = runtime.thread_safe();
    let (done_tx, done) = mpsc::channel();
    let _ = thread::spawn(move || done_tx.send(runtime.start()));
    Serving { addr, handle, done }
}

impl Serving {
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
