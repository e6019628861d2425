//! Request/response between two actors: a client asks a calculator actor to
//! do sums with `ActorRef::rpc` and prints the answers. A request the
//! calculator refuses shows how a caller learns that no answer will come.
//!
//! Run with `cargo run --example rpc`.

use std::fmt;

use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::{RpcError, RpcMessage};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal};

fn main() -> Result<(), hearth::Error> {
    let mut runtime = Runtime::setup().name("rpc").build()?;
    runtime.run_on_workers(add_actors);
    runtime.start()
}

fn add_actors(mut rt: RuntimeRef) {
    let options = ActorOptions::default();
    let calculator = rt.spawn_local(NoSupervisor, actor_fn(calculator), (), options);
    // The client gets the only reference to the calculator: once the client
    // is done and drops it, the calculator's inbox reports that no more
    // messages can come, so both actors (and the runtime) stop.
    let _ = rt.spawn_local(NoSupervisor, actor_fn(client), calculator, options);
}

#[derive(Clone, Copy)]
enum Request {
    Add(i64, i64),
    Divide(i64, i64),
}

/// `rpc(request)` delivers an `RpcMessage`: the request plus the one-shot
/// way to respond. An actor that also takes other messages would have an enum
/// with an `RpcMessage` variant and a `From` impl for it instead.
type Calculation = RpcMessage<Request, i64>;

async fn calculator(mut ctx: Context<Calculation, ThreadLocal>) {
    while let Ok(msg) = ctx.receive_next().await {
        let answer = match msg.request {
            Request::Add(a, b) => a + b,
            // Dropping a request without responding makes the caller's `rpc`
            // return `RpcError::NoResponse`, rather than wait forever.
            Request::Divide(_, 0) => continue,
            Request::Divide(a, b) => a / b,
        };
        // Fails only if the caller stopped waiting: then nobody wants it.
        let _ = msg.response.respond(answer);
    }
}

async fn client(_: Context<(), ThreadLocal>, calculator: ActorRef<Calculation>) {
    use Request::{Add, Divide};
    for request in [
        Add(2, 3),
        Add(40, 2),
        Add(-7, 7),
        Divide(84, 2),
        Divide(1, 0),
    ] {
        match calculator.rpc(request).await {
            Ok(answer) => println!("{request} = {answer}"),
            Err(RpcError::NoResponse) => println!("{request}: no answer"),
            Err(err) => println!("{request}: {err}"),
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Add(a, b) => write!(f, "{a} + {b}"),
            Request::Divide(a, b) => write!(f, "{a} / {b}"),
        }
    }
}
