//! TCP beyond reads and writes, each test in a thread-local actor and in a
//! thread-safe future alike (`util/modes.rs`): accepting without waiting
//! and as a stream, peeking, vectored reads and sending files with
//! `sendfile(2)` (written once for all streams in `util/streams.rs`), the
//! TTL, and the CPU a pinned worker's sockets are steered to
//! (`SO_INCOMING_CPU`).

use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::pin::Pin;
use std::sync::mpsc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use hearth::net::{SocketAccess, SocketMode, TcpListener, TcpStream, UdpSocket};
use hearth::{Runtime, RuntimeRef, ThreadSafe};

use crate::modes::{mode_name, on_worker};
use crate::streams::{file_to_send, peeks_and_reads_vectored, sends_file, slow_reader};

/// Last guard for waits that an event should end.
const GUARD: Duration = Duration::from_secs(30);

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Lets the runtime run other work once.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

in_both_modes!(
    async try_accept_and_incoming,
    peek_and_vectored_reads,
    ttl,
    send_file
);

/// The first byte the server writes on `stream` reaches `client`.
async fn says_hi<RT: SocketMode>(
    stream: &mut TcpStream<RT>,
    client: &mut TcpStream<RT>,
) -> io::Result<()> {
    stream.write_all(b"!").await?;
    let mut got = [0];
    client.read_exact(&mut got).await?;
    assert_eq!(&got, b"!");
    Ok(())
}

async fn try_accept_and_incoming<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let mut listener = TcpListener::<RT>::bind(&mut rt, localhost())?;
    let addr = listener.local_addr()?;
    let err = listener.try_accept().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");

    // Once the connection is in the backlog, `try_accept` takes it.
    let mut first = TcpStream::<RT>::connect(&mut rt, addr).await?;
    let start = Instant::now();
    let (mut stream, peer) = loop {
        match listener.try_accept() {
            Ok(conn) => break conn,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < GUARD, "no connection to accept");
                yield_now().await;
            }
            Err(err) => return Err(err),
        }
    };
    assert_eq!(peer, first.local_addr()?);
    says_hi(&mut stream, &mut first).await?;
    let err = listener.try_accept().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");

    // Two connections through `Incoming::next`, one through `Stream`.
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(TcpStream::<RT>::connect(&mut rt, addr).await?);
    }
    let mut incoming = listener.incoming();
    let mut accepted = Vec::new();
    for _ in 0..2 {
        accepted.push(incoming.next().await.unwrap()?);
    }
    let next = poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut incoming), cx));
    accepted.push(next.await.unwrap()?);
    for (stream, peer) in &mut accepted {
        let client = clients
            .iter_mut()
            .find(|c| c.local_addr().unwrap() == *peer)
            .expect("accepted a connection of another client");
        says_hi(stream, client).await?;
    }
    Ok(())
}

/// A connected pair: (client, server).
async fn pair<RT, A>(rt: &mut A) -> io::Result<(TcpStream<RT>, TcpStream<RT>)>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let mut listener = TcpListener::<RT>::bind(rt, localhost())?;
    let client = TcpStream::<RT>::connect(rt, listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    Ok((client, server))
}

async fn peek_and_vectored_reads<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let (mut client, mut server) = pair::<RT, A>(&mut rt).await?;
    peeks_and_reads_vectored(&mut client, &mut server).await
}

async fn ttl<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let listener = TcpListener::<RT>::bind(&mut rt, localhost())?;
    listener.set_ttl(77)?;
    assert_eq!(listener.ttl()?, 77);
    let (client, server) = pair::<RT, A>(&mut rt).await?;
    client.set_ttl(1)?;
    server.set_ttl(255)?;
    assert_eq!((client.ttl()?, server.ttl()?), (1, 255));
    Ok(())
}

async fn send_file<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let (file, bytes) = file_to_send(mode_name::<RT>());
    let mut listener = TcpListener::<RT>::bind(&mut rt, localhost())?;
    let addr = listener.local_addr()?;
    let (go_tx, go) = mpsc::channel();
    let reader = slow_reader(move || StdTcpStream::connect(addr).unwrap(), go);
    let (mut stream, _) = listener.accept().await?;
    sends_file(&mut stream, (&file, &bytes), go_tx, reader).await
}

/// The CPUs the calling thread may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is a plain bit set for which all zeroes is the
    // valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is valid for writes of
    // the size passed.
    let res = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &raw mut set) };
    assert_eq!(res, 0, "{}", io::Error::last_os_error());
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: every index is below `CPU_SETSIZE`, inside `set`.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`.
fn pin_this_thread(cpu: usize) {
    // SAFETY: as in `allowed_cpus`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` came from `allowed_cpus`, so it is below `CPU_SETSIZE`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is initialised.
    let res = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set) };
    assert_eq!(res, 0, "{}", io::Error::last_os_error());
}

/// What a pinned worker's sockets said of their `SO_INCOMING_CPU`; `None`
/// when the kernel lacks the option.
#[derive(Debug)]
struct Steered {
    worker_cpu: Option<usize>,
    listener: Option<usize>,
    accepted: Option<usize>,
    udp: Option<usize>,
    client_cpu: usize,
}

/// `allowed`: the CPUs the test may use (the worker may use only its own).
async fn steered(mut rt: RuntimeRef, allowed: Vec<usize>) -> Option<Steered> {
    let worker_cpu = rt.cpu();
    let mut listener = TcpListener::bind(&mut rt, localhost()).unwrap();
    let listener_cpu = match listener.incoming_cpu() {
        Err(err) if err.raw_os_error() == Some(libc::ENOPROTOOPT) => {
            eprintln!("skipped: this kernel has no SO_INCOMING_CPU ({err})");
            return None;
        }
        cpu => cpu.unwrap(),
    };
    // The client connects from another CPU than the worker's, where the
    // kernel then handles the handshake's last packet, and sends nothing.
    let others: Vec<usize> = allowed
        .into_iter()
        .filter(|&cpu| Some(cpu) != worker_cpu)
        .collect();
    let client_cpu = others.first().copied().or(worker_cpu).unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done) = mpsc::channel::<()>();
    let client = thread::spawn(move || {
        pin_this_thread(client_cpu);
        let stream = StdTcpStream::connect(addr).unwrap();
        let _ = done.recv_timeout(GUARD);
        drop(stream);
    });
    let (stream, _) = listener.accept().await.unwrap();
    let accepted = stream.incoming_cpu().unwrap();
    done_tx.send(()).unwrap();
    client.join().unwrap();
    let udp = UdpSocket::bind(&mut rt, localhost()).unwrap();
    Some(Steered {
        worker_cpu,
        listener: listener_cpu,
        accepted,
        udp: udp.incoming_cpu().unwrap(),
        client_cpu,
    })
}

/// On a worker pinned to a CPU, the sockets of thread-local actors say
/// that CPU: the listener, a connection it accepts (which the kernel set
/// to the client's CPU, where it handled the handshake, until told
/// otherwise) and a UDP socket.
#[test]
fn pinned_worker_steers_its_sockets_to_its_cpu() {
    let allowed = allowed_cpus();
    let setup = Runtime::setup().auto_cpu_affinity();
    let Some(seen) = on_worker(setup, |rt| steered(rt, allowed)) else {
        return;
    };
    let cpu = seen.worker_cpu.expect("the worker is not pinned");
    if seen.client_cpu == cpu {
        eprintln!("only CPU {cpu} is allowed: the client shares the worker's");
    }
    assert_eq!(
        (seen.listener, seen.accepted, seen.udp),
        (Some(cpu), Some(cpu), Some(cpu)),
        "{seen:?}"
    );
}

/// Unpinned workers and thread-safe sockets are not steered: nothing is
/// set, and no system call is made for it.
#[test]
fn unpinned_and_thread_safe_sockets_are_not_steered() {
    let unpinned = on_worker(Runtime::setup(), |mut rt: RuntimeRef| async move {
        let listener = TcpListener::bind(&mut rt, localhost()).unwrap();
        (rt.cpu(), listener.incoming_cpu())
    });
    let runtime = Runtime::setup()
        .num_threads(1)
        .auto_cpu_affinity()
        .build()
        .unwrap();
    let mut rt = runtime.thread_safe();
    let shared = runtime
        .block_on(async move {
            let listener = TcpListener::<ThreadSafe>::bind(&mut rt, localhost()).unwrap();
            listener.incoming_cpu()
        })
        .unwrap();
    for (what, cpu) in [("unpinned", unpinned.1), ("thread-safe", shared)] {
        match cpu {
            Err(err) if err.raw_os_error() == Some(libc::ENOPROTOOPT) => {
                eprintln!("skipped: this kernel has no SO_INCOMING_CPU ({err})");
                return;
            }
            cpu => assert_eq!(cpu.unwrap(), None, "{what}"),
        }
    }
    assert_eq!(unpinned.0, None);
}
