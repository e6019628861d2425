//! A sync actor does blocking work on a thread of its own, while a
//! thread-local actor hands it jobs with `rpc` and prints the results. The
//! worker thread stays free for other actors while the work is going on.
//!
//! Run with `cargo run --example sync_actor`.

use std::thread;
use std::time::Duration;

use hearth::actor::{Context, SyncContext, actor_fn};
use hearth::actor_ref::{RpcError, RpcMessage};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal};

/// Asks for the number of primes below a bound.
type CountPrimes = RpcMessage<u64, usize>;

fn main() -> Result<(), hearth::Error> {
    // Shows the supervisor's report should the client fail.
    hearth::log::init();
    let mut runtime = Runtime::setup().name("sync_actor").build()?;
    // Each sync actor gets its own thread, started here, before the runtime.
    let counter = runtime.spawn_sync_actor(
        NoSupervisor,
        actor_fn(prime_counter),
        (),
        ActorOptions::default(),
    )?;
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        // The client takes the only reference to the counter, so the counter
        // stops once the client is done.
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(client),
            counter,
            ActorOptions::default(),
        );
    });
    runtime.start()
}

/// A sync actor: a plain function that may block. `receive_next` blocks
/// the thread until a message arrives.
fn prime_counter(mut ctx: SyncContext<CountPrimes>) {
    let name = thread::current().name().unwrap_or("unnamed").to_owned();
    while let Ok(msg) = ctx.receive_next() {
        // Stands in for blocking I/O, e.g. a database client without async
        // support; on a worker thread it would stall every other actor.
        thread::sleep(Duration::from_millis(10));
        // `handle` fails only if the caller stopped waiting for the answer.
        let _ = msg.handle(|below| {
            println!("{name}: counting primes below {below}");
            (2..below).filter(|&n| is_prime(n)).count()
        });
    }
}

fn is_prime(n: u64) -> bool {
    (2..=n.isqrt()).all(|d| !n.is_multiple_of(d))
}

async fn client(
    _: Context<(), ThreadLocal>,
    counter: ActorRef<CountPrimes>,
) -> Result<(), RpcError> {
    for below in [10, 100, 1_000, 100_000] {
        // Awaiting the answer suspends only this actor, not its worker.
        let count = counter.rpc(below).await?;
        println!("there are {count} primes below {below}");
    }
    Ok(())
}
