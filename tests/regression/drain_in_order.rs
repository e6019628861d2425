//! A graceful shutdown drains a server in order: connections finish the
//! requests they accepted, then the actors they call stop.
//!
//! The server pattern: a connection actor per client, each request an
//! `rpc` to a store actor written the documented way (`while let Ok(m) =
//! ctx.receive_next().await`). The store's `receive_next` used to end as
//! soon as its inbox was empty once the runtime was stopping, while
//! connection actors that still held references were about to send: their
//! requests, already read from the socket, were answered with an error.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream as StdTcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, mpsc};
use std::thread;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::RpcMessage;
use hearth::net::TcpStream;
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, ThreadLocal, ThreadSafe};

use crate::server::serve;

/// Last guard for a hang, far above any healthy run.
const GUARD: Duration = Duration::from_secs(30);

const CLIENTS: usize = 20;
/// Requests a client writes before it reads their answers.
const PIPELINE: usize = 16;

/// A request to the store: `SET key value` or `GET key`.
type StoreMsg = RpcMessage<String, String>;

/// The store, written the documented way.
async fn store(mut ctx: Context<StoreMsg, ThreadSafe>) {
    let mut data = HashMap::new();
    while let Ok(msg) = ctx.receive_next().await {
        let _ = msg.handle(|request| {
            let mut words = request.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("SET"), Some(key), Some(value)) => {
                    let _ = data.insert(key.to_owned(), value.to_owned());
                    "+OK".to_owned()
                }
                (Some("GET"), Some(key), None) => match data.get(key) {
                    Some(value) => format!("${value}"),
                    None => "$-1".to_owned(),
                },
                _ => "-ERR unknown command".to_owned(),
            }
        });
    }
}

/// A connection: reads requests until the runtime stops (or the client
/// closes), and answers every request it read.
async fn connection(
    ctx: Context<(), ThreadLocal>,
    mut stream: TcpStream,
    store: ActorRef<StoreMsg>,
) -> io::Result<()> {
    let mut buf = vec![0; 4096];
    let mut pending = Vec::new();
    while let Some(read) = ctx.until_stopping(stream.read(&mut buf)).await {
        let n = read?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        let mut answers = Vec::new();
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let request = String::from_utf8_lossy(&line).trim().to_owned();
            let answer = match store.rpc(request).await {
                Ok(answer) => answer,
                Err(err) => format!("-ERR {err}"),
            };
            answers.extend_from_slice(answer.as_bytes());
            answers.push(b'\n');
        }
        stream.write_all(&answers).await?;
    }
    Ok(())
}

/// What the clients saw.
#[derive(Default)]
struct Seen {
    answers: AtomicUsize,
    errors: AtomicUsize,
}

/// A client: pipelines requests until the server closes the connection;
/// counts the answers and the error answers. Says once when it has had
/// its first answers.
fn client(addr: std::net::SocketAddr, id: usize, seen: &Seen, started: &Barrier) {
    let stream = StdTcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut round = 0;
    let mut line = String::new();
    loop {
        let mut batch = String::new();
        for i in 0..PIPELINE {
            if i % 2 == 0 {
                let _ = writeln!(batch, "SET k{id} v{round}-{i}");
            } else {
                let _ = writeln!(batch, "GET k{id}");
            }
        }
        if writer.write_all(batch.as_bytes()).is_err() {
            return;
        }
        for _ in 0..PIPELINE {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let _ = seen.answers.fetch_add(1, Ordering::SeqCst);
            if line.starts_with("-ERR") {
                let _ = seen.errors.fetch_add(1, Ordering::SeqCst);
            }
        }
        if round == 0 {
            let _ = started.wait();
        }
        round += 1;
    }
}

#[test]
fn shutdown_answers_every_request_accepted_before_it() {
    for _ in 0..3 {
        let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
        let store_ref = runtime.spawn(NoSupervisor, actor_fn(store), (), ActorOptions::default());
        let new_connection =
            actor_fn(move |ctx, stream| connection(ctx, stream, store_ref.clone()));
        let serving = serve(runtime, new_connection);
        let addr = serving.addr;
        let seen = Seen::default();
        let started = Barrier::new(CLIENTS + 1);
        thread::scope(|s| {
            for id in 0..CLIENTS {
                let (seen, started) = (&seen, &started);
                let _ = s.spawn(move || client(addr, id, seen, started));
            }
            // Every client has had answers: shut down while they pipeline.
            let _ = started.wait();
            serving.stop().unwrap();
        });
        let (answers, errors) = (
            seen.answers.load(Ordering::SeqCst),
            seen.errors.load(Ordering::SeqCst),
        );
        assert!(answers >= CLIENTS * PIPELINE, "{answers} answers");
        assert_eq!(errors, 0, "{errors} of {answers} accepted requests failed");
    }
}

/// Waits for messages until the runtime stops.
async fn waits_for_messages(mut ctx: Context<(), ThreadSafe>) {
    while ctx.receive_next().await.is_ok() {}
}

/// Holds a reference to the waiting actor and waits for it to stop.
async fn joins(_: Context<(), ThreadSafe>, other: ActorRef<()>) {
    other.join().await;
}

/// An actor waiting in `join` for another cannot send it anything: it
/// counts as idle, so the other's `receive_next` ends and both stop within
/// the shutdown (they waited for each other until the grace period ended).
#[test]
fn an_actor_joining_another_does_not_hold_up_the_shutdown() {
    let mut runtime = Runtime::setup()
        .num_threads(2)
        .grace_period(Duration::from_mins(1))
        .build()
        .unwrap();
    let waiting = runtime.spawn(
        NoSupervisor,
        actor_fn(waits_for_messages),
        (),
        ActorOptions::default(),
    );
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(joins),
        waiting,
        ActorOptions::default(),
    );
    runtime.thread_safe().shutdown();
    let (done_tx, done_rx) = mpsc::channel();
    let _ = thread::spawn(move || done_tx.send(runtime.start()));
    let result = done_rx
        .recv_timeout(GUARD)
        .expect("the runtime never stopped");
    result.unwrap();
}
