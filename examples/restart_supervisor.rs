//! Actors that fail every time they start, under a `RestartSupervisor`: each
//! is restarted until its restart budget is used up, then the supervisor
//! gives up and stops it. One actor returns an error, the other panics; the
//! supervisor treats both alike. The runtime logs every restart (a warning)
//! and the end (an error) on standard error.
//!
//! Run with `cargo run --example restart_supervisor`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::{NoSupervisor, RestartSupervisor};
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};

/// Restarts allowed within `WINDOW`: the actor runs `MAX_RESTARTS + 1` times.
const MAX_RESTARTS: usize = 3;
const WINDOW: Duration = Duration::from_mins(1);

fn main() -> Result<(), hearth::Error> {
    // Show the runtime's logs, including the supervisor's.
    hearth::log::init();
    let mut runtime = Runtime::setup().name("restart_supervisor").build()?;
    runtime.run_on_workers(add_actors);
    runtime.start()
}

fn add_actors(mut rt: RuntimeRef) {
    let _ = rt.spawn_local(NoSupervisor, actor_fn(demo), (), ActorOptions::default());
}

/// Runs the failing actors one after the other, so their output does not mix.
async fn demo(mut ctx: Context<(), ThreadLocal>) {
    // The supervisor restarts an actor with a clone of this argument; a
    // shared counter lets each incarnation know its attempt number.
    let attempts = Rc::new(Cell::new(0));
    // Its argument, budget and what its log lines say, in one place.
    let supervisor = RestartSupervisor::new(attempts.clone())
        .max_restarts(MAX_RESTARTS)
        .within(WINDOW)
        .log_as("database at db:5432");
    let options = ActorOptions::default();
    let connect = ctx
        .runtime()
        .spawn_local(supervisor, actor_fn(connect), attempts, options);
    // Completes once the supervisor has stopped the actor for good.
    connect.join().await;

    let attempts = Rc::new(Cell::new(0));
    let supervisor = RestartSupervisor::new(attempts.clone())
        .max_restarts(1)
        .within(WINDOW);
    let parse = ctx
        .runtime()
        .spawn_local(supervisor, actor_fn(parse), attempts, options);
    parse.join().await;
}

/// Fails with an error: the supervisor logs it as the reason for the restart.
async fn connect(_: Context<(), ThreadLocal>, attempts: Rc<Cell<usize>>) -> Result<(), String> {
    let attempt = next_attempt(&attempts);
    println!("connect attempt {attempt} failed");
    Err(format!("connect attempt {attempt}: connection refused"))
}

/// Panics: the panic is caught, it does not take the worker thread down.
async fn parse(_: Context<(), ThreadLocal>, attempts: Rc<Cell<usize>>) {
    let attempt = next_attempt(&attempts);
    println!("parse attempt {attempt} panicked");
    panic!("parse attempt {attempt}: unexpected end of input");
}

fn next_attempt(attempts: &Cell<usize>) -> usize {
    attempts.set(attempts.get() + 1);
    attempts.get()
}
