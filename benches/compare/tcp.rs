//! The `tcp-echo` workload: [`TCP_CONNECTIONS`] connections on 127.0.0.1,
//! each making `size` request/response round trips of [`MESSAGE_LEN`] bytes
//! against an echo server, hearth's ([`hearth`]) or tokio's ([`tokio`]).
//!
//! Both servers run on two worker threads (hearth's pinned to a CPU each,
//! see [`hearth`]) and echo with the same loop (read
//! into a buffer, write all of it back, stop at end of stream), with
//! `TCP_NODELAY` on every socket. The load comes from [`client`], the same
//! code for both sides, and the time is taken by it: from the moment every
//! connection has made one round trip (so it is accepted and has an actor
//! or task) until the last client thread got its last reply. Building the
//! runtime, connecting and stopping are not part of the time.
//!
//! hearth's server runs in either mode of its `TcpServer`: thread-local
//! connection actors, a listener per worker (`tcp-echo/2-workers`), or
//! thread-safe ones on the shared poll (`tcp-echo/thread-safe`).
//!
//! Two loads ([`Load`]): [`CLIENT_THREADS`] client threads against
//! servers whose workers are pinned as a hearth server is set up, or one
//! client thread (`tcp-echo/one-client`, `tcp-echo/thread-safe-one-client`)
//! against servers set up as `examples/echo_server.rs` is, unpinned: a
//! load generator of one thread beside the server on the same cores.
//!
//! For profiles, a child of the `local` flavour (not part of the
//! benchmark's runs) makes the round trips of one connection against one
//! worker, one at a time: `compare --compare-child tcp hearth local N`
//! (or `tcp-thread-safe`, or `tokio`) under `valgrind --tool=callgrind`
//! counts the instructions of `N` round trips with nothing else going on,
//! and the difference of two sizes gives those of one round trip.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hearth::actor::{Context, actor_fn};
use hearth::net::{TcpServer, TcpStream};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

use super::Outcome;
use crate::child::{self, Family, Flavour, Side};

/// Connections in every run (benchmark and smoke run alike: `size`, the
/// round trips per connection, is what the smoke run makes small).
pub(super) const TCP_CONNECTIONS: u64 = 50;

/// Bytes per request (and per reply).
const MESSAGE_LEN: usize = 64;

/// Client threads the connections are spread over.
const CLIENT_THREADS: usize = 2;

/// Read buffer of an echoing actor or task.
const ECHO_BUFFER: usize = 4 * 1024;

/// Longest a client waits for a reply (or to write) before failing the run
/// with an error naming the connection.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The load of a run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Load {
    /// [`CLIENT_THREADS`] client threads; hearth's workers pinned.
    TwoThreads,
    /// One client thread; hearth's workers unpinned, as the examples run.
    OneThread,
}

/// The two modes of a hearth `TcpServer`.
#[derive(Copy, Clone, Debug)]
pub(super) enum Mode {
    /// Thread-local connection actors, a listener per worker.
    ThreadLocal,
    /// Thread-safe connection actors on the shared poll.
    ThreadSafe,
}

/// hearth with thread-local connections, in a child process.
pub(super) fn isolated_hearth(size: u64) -> Outcome {
    in_child(Family::Tcp(Load::TwoThreads), Side::Hearth, size)
}

/// hearth with thread-safe connections, in a child process.
pub(super) fn isolated_hearth_thread_safe(size: u64) -> Outcome {
    in_child(Family::TcpThreadSafe(Load::TwoThreads), Side::Hearth, size)
}

/// tokio, in a child process.
pub(super) fn isolated_tokio(size: u64) -> Outcome {
    in_child(Family::Tcp(Load::TwoThreads), Side::Tokio, size)
}

/// hearth with thread-local connections and one client thread.
pub(super) fn isolated_hearth_one_client(size: u64) -> Outcome {
    in_child(Family::Tcp(Load::OneThread), Side::Hearth, size)
}

/// hearth with thread-safe connections and one client thread.
pub(super) fn isolated_hearth_thread_safe_one_client(size: u64) -> Outcome {
    in_child(Family::TcpThreadSafe(Load::OneThread), Side::Hearth, size)
}

/// tokio with one client thread.
pub(super) fn isolated_tokio_one_client(size: u64) -> Outcome {
    in_child(Family::Tcp(Load::OneThread), Side::Tokio, size)
}

/// The shape of a run: workers, connections, client threads and whether
/// hearth's workers are pinned.
#[derive(Copy, Clone, Debug)]
struct Shape {
    workers: usize,
    connections: u64,
    client_threads: usize,
    pinned: bool,
}

impl Shape {
    fn of(flavour: Flavour, load: Load) -> Shape {
        match flavour {
            Flavour::Shared => Shape {
                workers: 2,
                connections: TCP_CONNECTIONS,
                client_threads: match load {
                    Load::TwoThreads => CLIENT_THREADS,
                    Load::OneThread => 1,
                },
                pinned: load == Load::TwoThreads,
            },
            Flavour::Local => Shape {
                workers: 1,
                connections: 1,
                client_threads: 1,
                pinned: true,
            },
        }
    }
}

/// Runs one side in a child process and takes its time (milliseconds).
fn in_child(family: Family, side: Side, size: u64) -> Outcome {
    match child::run(family, side, Flavour::Shared, size)?.as_slice() {
        [ms] => Ok(Duration::from_secs_f64(ms / 1e3)),
        other => Err(format!(
            "the tcp-echo child printed {other:?}, not one time"
        )),
    }
}

/// The child's part: runs one side once and returns its time in
/// milliseconds.
pub(super) fn child(
    side: Side,
    mode: Mode,
    load: Load,
    flavour: Flavour,
    size: u64,
) -> super::Figures {
    let run = match (side, mode) {
        (Side::Hearth, Mode::ThreadLocal) => hearth,
        (Side::Hearth, Mode::ThreadSafe) => hearth_thread_safe,
        (Side::Tokio, _) => tokio,
    };
    run(Shape::of(flavour, load), size).map(|elapsed| vec![elapsed.as_secs_f64() * 1e3])
}

/// 127.0.0.1, with a port the system chooses.
fn localhost() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// hearth: a [`TcpServer`] with a listener on each of two workers and an
/// actor per connection; the runtime runs on a thread of its own and is
/// shut down gracefully after the load. The workers are pinned to a CPU
/// each (`auto_cpu_affinity`), as a hearth server is set up, unless the
/// shape says otherwise.
fn hearth(shape: Shape, size: u64) -> Outcome {
    let mut setup = Runtime::setup().name("compare").num_threads(shape.workers);
    if shape.pinned {
        setup = setup.auto_cpu_affinity();
    }
    let mut runtime = setup
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    let server = TcpServer::setup(
        localhost(),
        NoSupervisor,
        actor_fn(hearth_echo),
        ActorOptions::default(),
    )
    .map_err(|err| format!("setting up the server: {err}"))?;
    let addr = server.local_addr();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(NoSupervisor, server.clone(), (), ActorOptions::default());
        Ok::<(), String>(())
    });
    let handle = runtime.thread_safe();
    let coordinator = std::thread::Builder::new()
        .name("compare-coordinator".to_owned())
        .spawn(move || runtime.start())
        .map_err(|err| format!("starting the coordinator thread: {err}"))?;
    // The clients have closed every connection when this returns, so the
    // connection actors end by themselves; the shutdown stops the listeners.
    let load = client::run(addr, shape, size);
    handle.shutdown();
    let stopped = coordinator
        .join()
        .map_err(|_| "the coordinator thread panicked".to_owned())?;
    let elapsed = load?;
    stopped.map_err(|err| format!("running the runtime: {err}"))?;
    Ok(elapsed)
}

/// hearth with thread-safe connections: a thread-safe listener on the
/// shared poll and a thread-safe actor per connection, run by whichever
/// worker is free; otherwise as [`hearth`].
fn hearth_thread_safe(shape: Shape, size: u64) -> Outcome {
    let mut setup = Runtime::setup().name("compare").num_threads(shape.workers);
    if shape.pinned && std::env::var_os("COMPARE_TCP_UNPIN").is_none() {
        setup = setup.auto_cpu_affinity();
    }
    let mut runtime = setup
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    let server = TcpServer::setup(
        localhost(),
        NoSupervisor,
        actor_fn(hearth_echo_thread_safe),
        ActorOptions::default(),
    )
    .map_err(|err| format!("setting up the server: {err}"))?;
    let addr = server.local_addr();
    let _ = runtime.spawn(NoSupervisor, server, (), ActorOptions::default());
    let handle = runtime.thread_safe();
    let coordinator = std::thread::Builder::new()
        .name("compare-coordinator".to_owned())
        .spawn(move || runtime.start())
        .map_err(|err| format!("starting the coordinator thread: {err}"))?;
    let load = client::run(addr, shape, size);
    handle.shutdown();
    let stopped = coordinator
        .join()
        .map_err(|_| "the coordinator thread panicked".to_owned())?;
    let elapsed = load?;
    stopped.map_err(|err| format!("running the runtime: {err}"))?;
    Ok(elapsed)
}

/// Echoes one connection until the client closes it (thread-safe).
async fn hearth_echo_thread_safe(
    _: Context<(), ThreadSafe>,
    mut stream: TcpStream<ThreadSafe>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0; ECHO_BUFFER];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Echoes one connection until the client closes it.
async fn hearth_echo(_: Context<(), ThreadLocal>, mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0; ECHO_BUFFER];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// tokio: a multi-thread runtime with two workers, an accepting task and a
/// task per connection. tokio has no option to pin its workers; pinned by
/// hand (one CPU each, with [`PIN_TOKIO`] set) it ran no faster here
/// (3.16 s against 3.20 s unpinned, medians of 8 runs), so by default it
/// runs as it comes.
fn tokio(shape: Shape, size: u64) -> Outcome {
    let pin = std::env::var_os(PIN_TOKIO).is_some();
    let next_cpu = AtomicUsize::new(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .on_thread_start(move || {
            if pin {
                pin_to(next_cpu.fetch_add(1, Ordering::Relaxed) % 2);
            }
        })
        .worker_threads(shape.workers)
        .enable_all()
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(localhost()))
        .map_err(|err| format!("binding the listener: {err}"))?;
    let addr = listener
        .local_addr()
        .map_err(|err| format!("listener address: {err}"))?;
    let _accept = runtime.spawn(async move {
        // An accept error leaves clients without a reply: they time out and
        // fail the run.
        while let Ok((stream, _)) = listener.accept().await {
            let _echo = tokio::spawn(tokio_echo(stream));
        }
    });
    let elapsed = client::run(addr, shape, size)?;
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(elapsed)
}

/// Set (to anything) in the environment, pins tokio's threads to CPUs 0
/// and 1 in turn, as hearth's `auto_cpu_affinity` pins its workers.
const PIN_TOKIO: &str = "COMPARE_PIN_TOKIO";

/// Pins the calling thread to `cpu`; a failure leaves it unpinned.
fn pin_to(cpu: usize) {
    // SAFETY: all zeroes is the empty `cpu_set_t`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is 0 or 1, below `CPU_SETSIZE`: `CPU_SET` writes
    // inside `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is initialised and the
    // size passed is its own.
    let _ = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set) };
}

/// Echoes one connection until the client closes it.
async fn tokio_echo(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    stream.set_nodelay(true)?;
    let mut buf = vec![0; ECHO_BUFFER];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// The load generator, the same for both servers.
///
/// Plain threads with blocking `std::net::TcpStream`s: neither runtime is
/// on the client side, so neither gets its own scheduler measured twice,
/// and a blocking read or write is one system call with nothing in between
/// that could favour one server. A thread per connection would be 50
/// threads fighting the server for two cores, so the connections are
/// spread over `CLIENT_THREADS` threads. Each thread sends one request
/// on each of its connections, then reads each reply: every connection
/// does strict request/response (one request in flight), while the
/// server sees as many requests in flight as there are connections.
mod client {
    use super::{
        Barrier, IO_TIMEOUT, Instant, MESSAGE_LEN, Outcome, Read, Shape, SocketAddr, Write, io,
    };

    /// Connects `shape.connections` clients to `addr`, makes one round
    /// trip on each, then times `round_trips` round trips on every
    /// connection, from `shape.client_threads` threads. Every reply is
    /// checked byte for byte. The connections are closed when this
    /// returns.
    pub(super) fn run(addr: SocketAddr, shape: Shape, round_trips: u64) -> Outcome {
        let mut streams = Vec::with_capacity(usize::try_from(shape.connections).unwrap_or(0));
        for id in 0..shape.connections {
            let mut stream = connect(addr).map_err(|err| format!("client {id}: {err}"))?;
            // The warm-up round trip (round `u64::MAX`, never timed).
            round_trip(&mut stream, id, u64::MAX)
                .map_err(|err| format!("client {id}: warm-up: {err}"))?;
            streams.push((id, stream));
        }
        let per_thread = streams.len().div_ceil(shape.client_threads);
        let start = Barrier::new(shape.client_threads + 1);
        std::thread::scope(|scope| {
            let mut threads = Vec::with_capacity(shape.client_threads);
            let mut streams = streams.into_iter();
            for _ in 0..shape.client_threads {
                let group: Vec<_> = streams.by_ref().take(per_thread).collect();
                let start = &start;
                let thread = std::thread::Builder::new()
                    .name("compare-client".to_owned())
                    .spawn_scoped(scope, move || {
                        let _ = start.wait();
                        load(group, round_trips)
                    })
                    .map_err(|err| format!("starting a client thread: {err}"))?;
                threads.push(thread);
            }
            let _ = start.wait();
            let began = Instant::now();
            let mut last = began;
            for thread in threads {
                let ended = thread
                    .join()
                    .map_err(|_| "a client thread panicked".to_owned())??;
                last = last.max(ended);
            }
            Ok(last - began)
        })
    }

    fn connect(addr: SocketAddr) -> io::Result<std::net::TcpStream> {
        let stream = std::net::TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(stream)
    }

    /// Runs `round_trips` rounds over `group`; returns when the last reply
    /// came in.
    fn load(
        mut group: Vec<(u64, std::net::TcpStream)>,
        round_trips: u64,
    ) -> Result<Instant, String> {
        for round in 0..round_trips {
            for (id, stream) in &mut group {
                stream
                    .write_all(&message(*id, round))
                    .map_err(|err| format!("client {id}, round {round}: writing: {err}"))?;
            }
            for (id, stream) in &mut group {
                receive(stream, *id, round)
                    .map_err(|err| format!("client {id}, round {round}: {err}"))?;
            }
        }
        Ok(Instant::now())
    }

    fn round_trip(stream: &mut std::net::TcpStream, id: u64, round: u64) -> Result<(), String> {
        stream
            .write_all(&message(id, round))
            .map_err(|err| format!("writing: {err}"))?;
        receive(stream, id, round)
    }

    /// Reads one reply and checks it is the request of this round.
    fn receive(stream: &mut std::net::TcpStream, id: u64, round: u64) -> Result<(), String> {
        let mut reply = [0; MESSAGE_LEN];
        stream
            .read_exact(&mut reply)
            .map_err(|err| format!("reading the reply: {err}"))?;
        let expected = message(id, round);
        if reply == expected {
            Ok(())
        } else {
            Err(format!("wrong reply: got {reply:?}, expected {expected:?}"))
        }
    }

    /// The request of connection `id` in `round`: different for every
    /// connection and round, so a lost, repeated or misrouted reply fails.
    fn message(id: u64, round: u64) -> [u8; MESSAGE_LEN] {
        let mut message = [0; MESSAGE_LEN];
        message[..8].copy_from_slice(&id.to_le_bytes());
        message[8..16].copy_from_slice(&round.to_le_bytes());
        let seed = id.wrapping_mul(31).wrapping_add(round);
        for (i, byte) in message.iter_mut().enumerate().skip(16) {
            *byte = seed.wrapping_add(i as u64).to_le_bytes()[0];
        }
        message
    }
}
