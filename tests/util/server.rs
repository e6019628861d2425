//! A `TcpServer` on a runtime in the background while a test's clients
//! run, then a graceful shutdown (also when a client's assertion fails).

use std::net::SocketAddr;
use std::thread;

use hearth::actor::NewActor;
use hearth::net::{TcpServer, TcpStream};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

/// Runs a server of `new_actor` connections on `threads` workers while
/// `clients` runs with its address and a handle to the runtime; then shuts
/// it down and checks that `start` ended cleanly.
#[track_caller]
pub fn with_server<NA>(threads: usize, new_actor: NA, clients: impl FnOnce(SocketAddr, &ThreadSafe))
where
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + Send + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
    <NA::Actor as hearth::actor::Actor>::Error: std::fmt::Display,
{
    let mut runtime = Runtime::setup().num_threads(threads).build().unwrap();
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
    let handle: ThreadSafe = runtime.thread_safe();
    thread::scope(|s| {
        let running = s.spawn(|| runtime.start());
        let stop = ShutdownOnDrop(handle.clone());
        clients(addr, &handle);
        drop(stop);
        running.join().unwrap().unwrap();
    });
}

/// Shuts the runtime down when dropped: a failed assertion in the clients
/// still ends the server, so the test reports instead of hanging.
pub struct ShutdownOnDrop(pub ThreadSafe);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}
