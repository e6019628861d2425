//! The server on hearth, in four forms that share everything but the way
//! a connection reaches the keys: a `TcpServer` on two workers with a
//! thread-local actor per connection, reading pipelined requests and
//! writing the answers of one read with one write.
//!
//! - [`Form::Rpc`], the idiomatic actor design: a thread-local store actor
//!   on each worker owns a shard of the keys, and a connection makes one
//!   `rpc` per command to the shard's actor, one command after the other.
//! - [`Form::RpcShared`]: `Rpc` with a thread-safe store actor per shard,
//!   which runs on whichever worker called it.
//! - [`Form::Mutex`]: no store actors; the shards are behind a mutex each
//!   and a connection executes its commands itself.
//! - [`Form::Batch`]: the store actors of `Rpc`, but one `rpc` per shard
//!   and read, carrying all the read's commands for that shard.

use std::io;
use std::sync::{Arc, mpsc};

use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::RpcMessage;
use hearth::net::{TcpServer, TcpStream};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::{Access, ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

use super::resp::{Input, Reply, Request};
use super::server::announce;
use super::store::{Command, Shards, Store, shard_of};

/// Worker threads, and so store actors (or mutex shards).
pub(crate) const WORKERS: usize = 2;

/// How a connection reaches the keys.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum Form {
    /// (a) One `rpc` per command to the store actor of the key's shard.
    Rpc,
    /// (a') As `Rpc`, but the store actors are thread-safe: a call runs
    /// the store on the caller's worker unless it is busy elsewhere.
    RpcShared,
    /// (b) Mutex shards, no store actors.
    Mutex,
    /// (c) One `rpc` per shard and read.
    Batch,
}

/// What a store actor receives.
enum StoreMsg {
    /// One command.
    One(RpcMessage<Command, Reply>),
    /// The commands of one read for this shard, answered in order.
    Batch(RpcMessage<Vec<Command>, Vec<Reply>>),
}

impl From<RpcMessage<Command, Reply>> for StoreMsg {
    fn from(msg: RpcMessage<Command, Reply>) -> StoreMsg {
        StoreMsg::One(msg)
    }
}

impl From<RpcMessage<Vec<Command>, Vec<Reply>>> for StoreMsg {
    fn from(msg: RpcMessage<Vec<Command>, Vec<Reply>>) -> StoreMsg {
        StoreMsg::Batch(msg)
    }
}

/// What connections share: the store actors, or the mutex shards.
#[derive(Clone)]
enum Keys {
    Actors(Form, Arc<[ActorRef<StoreMsg>]>),
    Mutex(Arc<Shards>),
}

/// Serves `form` until SIGTERM, which is a graceful shutdown.
pub(crate) fn serve(form: Form) -> Result<(), String> {
    let mut runtime = Runtime::setup()
        .name("redis-bench")
        .num_threads(WORKERS)
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    let keys = match form {
        Form::Mutex => Keys::Mutex(Arc::new(Shards::new(WORKERS))),
        Form::Rpc | Form::Batch => Keys::Actors(form, spawn_stores(&mut runtime)?),
        Form::RpcShared => Keys::Actors(form, spawn_shared_stores(&mut runtime)),
    };
    let new_connection = actor_fn(move |ctx, stream| connection(ctx, stream, keys.clone()));
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = TcpServer::setup(addr, NoSupervisor, new_connection, ActorOptions::default())
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

/// A store actor on each worker; their references, in the order the
/// workers made them.
fn spawn_stores(runtime: &mut Runtime) -> Result<Arc<[ActorRef<StoreMsg>]>, String> {
    let (made, stores) = mpsc::channel();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let store = rt.spawn_local(
            NoSupervisor,
            actor_fn(store::<ThreadLocal>),
            (),
            ActorOptions::default(),
        );
        let _ = made.send(store);
    });
    (0..WORKERS)
        .map(|_| stores.recv())
        .collect::<Result<_, _>>()
        .map_err(|_| "a worker ended before it made its store actor".to_owned())
}

/// A thread-safe store actor per shard.
fn spawn_shared_stores(runtime: &mut Runtime) -> Arc<[ActorRef<StoreMsg>]> {
    (0..WORKERS)
        .map(|_| {
            runtime.spawn(
                NoSupervisor,
                actor_fn(store::<ThreadSafe>),
                (),
                ActorOptions::default(),
            )
        })
        .collect()
}

/// A shard's owner: executes what it is sent, until the runtime stops;
/// a thread-local or a thread-safe actor (`RT`).
async fn store<RT: Access>(mut ctx: Context<StoreMsg, RT>) {
    let mut store = Store::default();
    while let Ok(msg) = ctx.receive_next().await {
        // A caller that stopped waiting (its connection closed) needs no
        // answer.
        match msg {
            StoreMsg::One(call) => drop(call.handle(|command| store.execute(command))),
            StoreMsg::Batch(call) => drop(
                call.handle(|commands| commands.into_iter().map(|c| store.execute(c)).collect()),
            ),
        }
    }
}

/// One client: reads requests, answers each read's with one write, until
/// the client closes, sends what is not a request, or the server stops.
async fn connection(
    ctx: Context<(), ThreadLocal>,
    mut stream: TcpStream,
    keys: Keys,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut input = Input::default();
    let mut out = Vec::with_capacity(16 * 1024);
    let mut batch = Batch::default();
    while let Some(read) = ctx.until_stopping(stream.read(input.spare())).await {
        match read {
            Ok(0) => break,
            Ok(n) => input.filled(n),
            Err(err) if gone(&err) => break,
            Err(err) => return Err(err),
        }
        let answered = match &keys {
            Keys::Actors(Form::Batch, stores) => {
                answer_batched(&mut input, &mut out, &mut batch, stores).await
            }
            Keys::Actors(_, stores) => answer_rpc(&mut input, &mut out, stores).await,
            Keys::Mutex(shards) => answer_locked(&mut input, &mut out, shards),
        };
        let written = stream.write_all(&out).await;
        out.clear();
        match written {
            Err(err) if gone(&err) => break,
            result => result?,
        }
        if answered.is_err() {
            // The protocol error was answered: the client is confused.
            break;
        }
    }
    Ok(())
}

/// Answers every complete request in `input` with one `rpc` each; a
/// protocol error is answered last.
async fn answer_rpc(
    input: &mut Input,
    out: &mut Vec<u8>,
    stores: &[ActorRef<StoreMsg>],
) -> Result<(), ()> {
    loop {
        let reply = match input.next() {
            Ok(None) => return Ok(()),
            Ok(Some(Request::Local(reply))) => reply,
            Ok(Some(Request::Store(command))) => {
                let store = &stores[shard_of(command.key(), stores.len())];
                store.rpc(command).await.unwrap_or_else(store_gone)
            }
            Err(err) => {
                err.reply().encode(out);
                return Err(());
            }
        };
        reply.encode(out);
    }
}

/// A read's requests in order, and its commands per shard.
#[derive(Default)]
struct Batch {
    /// A local reply, or `None` for the next answer of the shard in
    /// `shards`.
    order: Vec<(Option<Reply>, usize)>,
    /// The commands for each shard.
    commands: Vec<Vec<Command>>,
}

/// Answers every complete request in `input` with one `rpc` per shard
/// that has commands; a protocol error is answered last.
async fn answer_batched(
    input: &mut Input,
    out: &mut Vec<u8>,
    batch: &mut Batch,
    stores: &[ActorRef<StoreMsg>],
) -> Result<(), ()> {
    batch.order.clear();
    batch.commands.resize_with(stores.len(), Vec::new);
    let parsed = loop {
        match input.next() {
            Ok(None) => break Ok(()),
            Ok(Some(Request::Local(reply))) => batch.order.push((Some(reply), 0)),
            Ok(Some(Request::Store(command))) => {
                let shard = shard_of(command.key(), stores.len());
                batch.commands[shard].push(command);
                batch.order.push((None, shard));
            }
            Err(err) => break Err(err),
        }
    };
    let mut replies = Vec::with_capacity(stores.len());
    for (store, commands) in stores.iter().zip(&mut batch.commands) {
        let count = commands.len();
        let answers = match count {
            0 => Vec::new(),
            _ => store
                .rpc(std::mem::take(commands))
                .await
                .unwrap_or_else(|err| vec![store_gone(err); count]),
        };
        replies.push(answers.into_iter());
    }
    for (local, shard) in batch.order.drain(..) {
        let reply = local.or_else(|| replies[shard].next());
        reply
            .unwrap_or_else(|| store_gone("a short batch"))
            .encode(out);
    }
    parsed.map_err(|err| err.reply().encode(out))
}

/// Answers every complete request in `input` under the shards' locks; a
/// protocol error is answered last.
fn answer_locked(input: &mut Input, out: &mut Vec<u8>, shards: &Shards) -> Result<(), ()> {
    loop {
        match input.next() {
            Ok(None) => return Ok(()),
            Ok(Some(Request::Local(reply))) => reply.encode(out),
            Ok(Some(Request::Store(command))) => shards.execute(command).encode(out),
            Err(err) => {
                err.reply().encode(out);
                return Err(());
            }
        }
    }
}

/// The answer to a command whose store actor did not answer (it stopped:
/// the server is going down).
fn store_gone(err: impl std::fmt::Display) -> Reply {
    Reply::Error(format!("ERR the store did not answer: {err}"))
}

/// A client that went away is the normal end of a connection.
pub(crate) fn gone(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::TimedOut
    )
}
