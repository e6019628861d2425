//! Sync actors: blocking code on a thread of its own.

use std::sync::mpsc;

use hearth::actor::{Context, SyncContext, actor_fn};
use hearth::actor_ref::RpcMessage;
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal};

fn squarer(mut ctx: SyncContext<RpcMessage<u64, u64>>) {
    while let Ok(msg) = ctx.receive_next() {
        // Blocking work is fine here.
        std::thread::yield_now();
        let _ = msg.handle(|n| n * n);
    }
}

async fn driver(
    _: Context<(), ThreadLocal>,
    (squarer, out): (ActorRef<RpcMessage<u64, u64>>, mpsc::Sender<u64>),
) {
    for n in 1..=10 {
        out.send(squarer.rpc(n).await.unwrap()).unwrap();
    }
}

#[test]
fn thread_local_actor_drives_sync_actor() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let squarer = runtime
        .spawn_sync_actor(NoSupervisor, actor_fn(squarer), (), ActorOptions::default())
        .unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(driver),
            (squarer, tx),
            ActorOptions::default(),
        );
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    assert_eq!(
        rx.iter().collect::<Vec<_>>(),
        (1..=10).map(|n| n * n).collect::<Vec<_>>()
    );
}

fn finishes_at_once(_: SyncContext<()>, done: mpsc::Sender<()>) {
    done.send(()).unwrap();
}

/// A sync actor that is done before the coordinator registered its pipe is
/// still joined (start does not hang).
#[test]
fn sync_actor_finished_before_start_is_noticed() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let actor_ref = runtime
        .spawn_sync_actor(
            NoSupervisor,
            actor_fn(finishes_at_once),
            tx,
            ActorOptions::default(),
        )
        .unwrap();
    rx.recv().unwrap();
    crate::block_on(actor_ref.join());
    runtime.start().unwrap();
}

fn echo_back(mut ctx: SyncContext<(u32, ActorRef<u32>)>) -> Result<(), String> {
    while let Ok((n, reply)) = ctx.receive_next() {
        // `block_on` lets a sync actor use the async API (back-pressure).
        ctx.block_on(reply.send(n + 1))
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

async fn ping(
    mut ctx: Context<u32, ThreadLocal>,
    (echo, out): (ActorRef<(u32, ActorRef<u32>)>, mpsc::Sender<u32>),
) {
    echo.send((1, ctx.actor_ref())).await.unwrap();
    let reply = ctx.receive_next().await.unwrap();
    out.send(reply).unwrap();
}

#[test]
fn sync_actor_sends_with_block_on() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let echo = runtime
        .spawn_sync_actor(
            NoSupervisor,
            actor_fn(echo_back),
            (),
            ActorOptions::default(),
        )
        .unwrap();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(ping),
            (echo, tx),
            ActorOptions::default(),
        );
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    assert_eq!(rx.recv().unwrap(), 2);
}

/// A future the test lets go of: pending until unblocked, and it tells the
/// test each time it waits.
#[derive(Clone, Default)]
struct Gate(std::sync::Arc<(std::sync::Mutex<GateState>, std::sync::Condvar)>);

#[derive(Default)]
struct GateState {
    open: bool,
    waker: Option<std::task::Waker>,
    /// Times it was polled and waited.
    waits: usize,
}

impl Gate {
    /// Blocks until the future waited `n` times, and takes its waker.
    fn waited(&self, n: usize) -> std::task::Waker {
        let (lock, cond) = &*self.0;
        let mut state = cond
            .wait_while(lock.lock().unwrap(), |state| state.waits < n)
            .unwrap();
        state.waker.take().unwrap()
    }

    fn open(&self) {
        self.0.0.lock().unwrap().open = true;
    }
}

impl std::future::Future for Gate {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let (lock, cond) = &*self.0;
        let mut state = lock.lock().unwrap();
        if state.open {
            return std::task::Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        state.waits += 1;
        cond.notify_all();
        std::task::Poll::Pending
    }
}

fn blocks_on(mut ctx: SyncContext<String>, gate: Gate) {
    ctx.block_on(gate);
}

#[test]
fn block_on_waits_for_the_future_and_survives_a_wake_up_too_early() {
    use hearth::test::spawn_sync_actor;
    // Woken when done.
    let gate = Gate::default();
    let (thread, _) = spawn_sync_actor(
        NoSupervisor,
        actor_fn(blocks_on),
        gate.clone(),
        ActorOptions::default(),
    )
    .unwrap();
    let waker = gate.waited(1);
    gate.open();
    waker.wake();
    thread.join().unwrap();
    // Woken before it can go on: it waits again.
    let gate = Gate::default();
    let (thread, _) = spawn_sync_actor(
        NoSupervisor,
        actor_fn(blocks_on),
        gate.clone(),
        ActorOptions::default(),
    )
    .unwrap();
    gate.waited(1).wake();
    let waker = gate.waited(2);
    gate.open();
    waker.wake();
    thread.join().unwrap();
}

fn takes_hello(mut ctx: SyncContext<String>) -> Result<(), String> {
    loop {
        match ctx.try_receive_next() {
            Ok(msg) if msg == "Hello world" => return Ok(()),
            Ok(msg) => return Err(format!("unexpected {msg:?}")),
            Err(hearth::RecvError::Empty) => std::thread::yield_now(),
            Err(hearth::RecvError::Disconnected) => return Err("disconnected".to_owned()),
        }
    }
}

fn fails_with_count(_: SyncContext<()>, count: usize) -> Result<(), usize> {
    Err(count + 1)
}

#[test]
fn sync_actors_outside_a_runtime_receive_and_are_supervised() {
    use hearth::supervisor::SupervisorStrategy;
    use hearth::test::spawn_sync_actor;
    let (thread, actor_ref) = spawn_sync_actor(
        NoSupervisor,
        actor_fn(takes_hello),
        (),
        ActorOptions::default(),
    )
    .unwrap();
    actor_ref.try_send("Hello world".to_owned()).unwrap();
    thread.join().unwrap();
    assert!(actor_ref.is_stopped());
    let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = told.clone();
    let supervisor = move |count: usize| {
        seen.lock().unwrap().push(count);
        if count == 1 {
            SupervisorStrategy::Restart(count)
        } else {
            SupervisorStrategy::Stop
        }
    };
    let (thread, _) = spawn_sync_actor(
        supervisor,
        actor_fn(fails_with_count),
        0,
        ActorOptions::default(),
    )
    .unwrap();
    thread.join().unwrap();
    assert_eq!(*told.lock().unwrap(), [1, 2]);
}
