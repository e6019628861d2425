//! One actor receives a message and prints a greeting.
//!
//! Run with `cargo run --example hello_world`.

use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::TrySendError;
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};

fn main() -> Result<(), hearth::Error> {
    // A runtime with one worker thread.
    let mut runtime = Runtime::setup().name("hello_world").build()?;
    // Spawn the actor on the worker (thread-local actors stay on it).
    runtime.run_on_workers(add_greeter);
    // Run until every actor is done.
    runtime.start()
}

fn add_greeter(mut rt: RuntimeRef) -> Result<(), TrySendError<&'static str>> {
    let greeter = rt.spawn_local(
        NoSupervisor,
        actor_fn(greeter),
        "Hello",
        ActorOptions::default(),
    );
    greeter.try_send("World")
    // `greeter` is dropped here: once its inbox is empty the actor's
    // `receive_next` reports that no more messages can come.
}

async fn greeter(mut ctx: Context<&'static str, ThreadLocal>, greeting: &'static str) {
    while let Ok(name) = ctx.receive_next().await {
        println!("{greeting}, {name}!");
    }
}
