//! Sending to actors: `try_send`, send, rpc, join, map and `try_map`, including
//! every error path. Most tests talk to a sync actor from the test thread,
//! which makes the order of events easy to control.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::task::Poll;

use hearth::FutureOptions;
use hearth::actor::{Context, SyncContext, actor_fn};
use hearth::actor_ref::{RpcError, RpcMessage, SendError, TrySendError};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, ThreadSafe};

use crate::{assert_send, assert_sync, block_on, poll_once};

fn capacity(n: usize) -> ActorOptions {
    ActorOptions::default().with_inbox_capacity(n.try_into().unwrap())
}

/// A [`gated_receiver`] sync actor and the ends of its channels.
struct Gated {
    actor_ref: ActorRef<u32>,
    /// Lets the actor start receiving.
    go_tx: mpsc::Sender<()>,
    /// The messages it received, in order.
    out_rx: mpsc::Receiver<u32>,
}

impl Gated {
    /// Spawns a receiver that takes `n` messages once let go, with an inbox
    /// of `inbox` messages.
    fn spawn(runtime: &mut Runtime, n: usize, inbox: usize) -> Gated {
        let (go_tx, go_rx) = mpsc::channel();
        let (out_tx, out_rx) = mpsc::channel();
        let actor_ref = runtime
            .spawn_sync_actor(
                NoSupervisor,
                actor_fn(gated_receiver),
                (go_rx, n, out_tx),
                capacity(inbox),
            )
            .unwrap();
        Gated {
            actor_ref,
            go_tx,
            out_rx,
        }
    }
}

/// Waits for `go`, then receives `n` messages, reporting each, and returns.
fn gated_receiver(
    mut ctx: SyncContext<u32>,
    (go, n, out): (mpsc::Receiver<()>, usize, mpsc::Sender<u32>),
) {
    go.recv().unwrap();
    for _ in 0..n {
        match ctx.receive_next() {
            Ok(msg) => out.send(msg).unwrap(),
            Err(_) => return,
        }
    }
}

#[test]
fn actor_ref_is_send_and_sync() {
    assert_send::<ActorRef<u32>>();
    assert_sync::<ActorRef<u32>>();
}

#[test]
fn try_send_full_then_stopped() {
    let mut runtime = Runtime::setup().build().unwrap();
    let Gated {
        actor_ref,
        go_tx,
        out_rx,
    } = Gated::spawn(&mut runtime, 2, 2);
    actor_ref.try_send(1u32).unwrap();
    actor_ref.try_send(2u32).unwrap();
    match actor_ref.try_send(3u32) {
        Err(err @ TrySendError::Full(_)) => {
            assert!(err.is_full());
            assert_eq!(
                err.to_string(),
                "unable to send message: the actor's inbox is full"
            );
            assert_eq!(err.into_inner(), Some(3));
        }
        other => panic!("expected Full, got {other:?}"),
    }
    go_tx.send(()).unwrap();
    assert!(actor_ref.is_connected());
    block_on(actor_ref.join());
    assert!(actor_ref.is_stopped());
    assert!(!actor_ref.is_connected());
    assert_eq!(out_rx.iter().collect::<Vec<_>>(), [1, 2]);
    match actor_ref.try_send(4u32) {
        Err(err @ TrySendError::Stopped(_)) => {
            assert!(err.is_stopped());
            assert_eq!(
                err.to_string(),
                "unable to send message: the actor has stopped"
            );
            assert_eq!(err.into_inner(), Some(4));
        }
        other => panic!("expected Stopped, got {other:?}"),
    }
    runtime.start().unwrap();
}

#[test]
fn send_waits_for_room() {
    let mut runtime = Runtime::setup().build().unwrap();
    let Gated {
        actor_ref,
        go_tx,
        out_rx,
    } = Gated::spawn(&mut runtime, 3, 1);
    actor_ref.try_send(1u32).unwrap();
    let mut second = actor_ref.send(2u32);
    // Full: the send waits...
    assert!(poll_once(&mut second).is_pending());
    go_tx.send(()).unwrap();
    // ...and completes once the actor made room.
    block_on(second).unwrap();
    block_on(actor_ref.send(3u32)).unwrap();
    block_on(actor_ref.join());
    assert_eq!(out_rx.iter().collect::<Vec<_>>(), [1, 2, 3]);
    runtime.start().unwrap();
}

#[test]
fn send_to_stopped_actor_hands_message_back() {
    let mut runtime = Runtime::setup().build().unwrap();
    let Gated {
        actor_ref,
        go_tx,
        out_rx: _out_rx,
    } = Gated::spawn(&mut runtime, 0, 1);
    actor_ref.try_send(1u32).unwrap();
    // Waits for room; the actor stops without receiving: the waiting send
    // must fail with its message, not hang.
    let mut waiting = actor_ref.send(2u32);
    assert!(poll_once(&mut waiting).is_pending());
    go_tx.send(()).unwrap();
    match block_on(waiting) {
        Err(err @ SendError::Stopped(_)) => {
            assert_eq!(
                err.to_string(),
                "unable to send message: the actor has stopped"
            );
            assert_eq!(err.into_inner(), Some(2));
        }
        other => panic!("expected Stopped, got {other:?}"),
    }
    match block_on(actor_ref.send(3u32)) {
        Err(SendError::Stopped(3)) => {}
        other => panic!("expected Stopped(3), got {other:?}"),
    }
    runtime.start().unwrap();
}

#[test]
fn dropped_send_future_passes_room_on() {
    let mut runtime = Runtime::setup().build().unwrap();
    let Gated {
        actor_ref,
        go_tx,
        out_rx,
    } = Gated::spawn(&mut runtime, 2, 1);
    actor_ref.try_send(1u32).unwrap();
    let mut abandoned = actor_ref.send(99u32);
    assert!(poll_once(&mut abandoned).is_pending());
    let mut kept = actor_ref.send(2u32);
    assert!(poll_once(&mut kept).is_pending());
    drop(abandoned);
    go_tx.send(()).unwrap();
    block_on(kept).unwrap();
    block_on(actor_ref.join());
    assert_eq!(out_rx.iter().collect::<Vec<_>>(), [1, 2]);
    runtime.start().unwrap();
}

enum CalcMsg {
    Add(RpcMessage<(u32, u32), u32>),
    Ignore(RpcMessage<(), ()>),
}

impl From<RpcMessage<(u32, u32), u32>> for CalcMsg {
    fn from(msg: RpcMessage<(u32, u32), u32>) -> CalcMsg {
        CalcMsg::Add(msg)
    }
}

impl From<RpcMessage<(), ()>> for CalcMsg {
    fn from(msg: RpcMessage<(), ()>) -> CalcMsg {
        CalcMsg::Ignore(msg)
    }
}

async fn calculator(mut ctx: Context<CalcMsg, ThreadSafe>) {
    while let Ok(msg) = ctx.receive_next().await {
        match msg {
            CalcMsg::Add(msg) => {
                let _ = msg.handle(|(a, b)| a + b);
            }
            // Dropped without a response.
            CalcMsg::Ignore(msg) => drop(msg),
        }
    }
}

#[test]
fn rpc_response_no_response_and_stopped() {
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let calc = runtime.spawn(
        NoSupervisor,
        actor_fn(calculator),
        (),
        ActorOptions::default(),
    );
    let c = calc.clone();
    let (tx, rx) = mpsc::channel();
    runtime.spawn_future(
        async move {
            tx.send(c.rpc((2u32, 3u32)).await).unwrap();
            let no_response: Result<(), RpcError> = c.rpc(()).await;
            assert_eq!(no_response, Err(RpcError::NoResponse));
            assert_eq!(
                RpcError::NoResponse.to_string(),
                "rpc failed: the actor dropped the request without responding"
            );
        },
        FutureOptions::default(),
    );
    drop(calc);
    runtime.start().unwrap();
    assert_eq!(rx.recv().unwrap(), Ok(5));
}

fn stop_at_once(_: SyncContext<CalcMsg>) {}

#[test]
fn rpc_to_stopped_actor() {
    let mut runtime = Runtime::setup().build().unwrap();
    let calc = runtime
        .spawn_sync_actor(NoSupervisor, actor_fn(stop_at_once), (), capacity(1))
        .unwrap();
    block_on(calc.join());
    let result: Result<u32, RpcError> = block_on(calc.rpc((1u32, 1u32)));
    assert_eq!(result, Err(RpcError::SendError));
    runtime.start().unwrap();
}

#[derive(Debug, PartialEq)]
enum Wide {
    Number(u32),
    Text(String),
}

impl From<u32> for Wide {
    fn from(n: u32) -> Wide {
        Wide::Number(n)
    }
}

impl TryFrom<i64> for Wide {
    type Error = i64;
    fn try_from(n: i64) -> Result<Wide, i64> {
        u32::try_from(n).map(Wide::Number).map_err(|_| n)
    }
}

fn collect_wide(mut ctx: SyncContext<Wide>, out: mpsc::Sender<Wide>) {
    while let Ok(msg) = ctx.receive_next() {
        out.send(msg).unwrap();
    }
}

#[test]
fn map_and_try_map() {
    let (out_tx, out_rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let wide = runtime
        .spawn_sync_actor(NoSupervisor, actor_fn(collect_wide), out_tx, capacity(8))
        .unwrap();
    wide.try_send(Wide::Text("direct".into())).unwrap();
    let numbers: ActorRef<u32> = wide.clone().map();
    numbers.try_send(1u32).unwrap();
    block_on(numbers.send(2u32)).unwrap();
    let checked: ActorRef<i64> = wide.clone().try_map();
    checked.try_send(3i64).unwrap();
    assert!(matches!(
        checked.try_send(-1i64),
        Err(TrySendError::Rejected)
    ));
    assert!(matches!(
        block_on(checked.send(-2i64)),
        Err(SendError::Rejected)
    ));
    // A mapped reference of a mapped reference.
    let small: ActorRef<u8> = numbers.clone().map_fn(|n: u8| u32::from(n));
    small.try_send(4u8).unwrap();
    assert_ne!(numbers, wide.clone().map());
    assert_eq!(numbers, numbers.clone());
    drop((wide, numbers, checked, small));
    runtime.start().unwrap();
    let got: Vec<Wide> = out_rx.iter().collect();
    assert_eq!(
        got,
        [
            Wide::Text("direct".into()),
            Wide::Number(1),
            Wide::Number(2),
            Wide::Number(3),
            Wide::Number(4)
        ]
    );
}

#[test]
fn mapped_reference_full_hands_message_back() {
    let mut runtime = Runtime::setup().build().unwrap();
    let Gated {
        actor_ref,
        go_tx,
        out_rx: _out_rx,
    } = Gated::spawn(&mut runtime, 1, 1);
    let mapped: ActorRef<u8> = actor_ref.clone().map();
    mapped.try_send(1u8).unwrap();
    match mapped.try_send(2u8) {
        Err(TrySendError::Full(2)) => {}
        other => panic!("expected Full(2), got {other:?}"),
    }
    let mut waiting = mapped.send(3u8);
    assert_eq!(poll_once(&mut waiting), Poll::Pending);
    go_tx.send(()).unwrap();
    // The actor took one message and stopped: the waiting send fails with
    // its own message.
    match block_on(waiting) {
        Err(SendError::Stopped(3)) | Ok(()) => {}
        other => panic!("unexpected {other:?}"),
    }
    drop((actor_ref, mapped));
    runtime.start().unwrap();
}

/// Sums what it gets until its senders are gone.
async fn summer(mut ctx: Context<u64, ThreadSafe>, total: std::sync::Arc<AtomicU64>) {
    while let Ok(n) = ctx.receive_next().await {
        let _ = total.fetch_add(n, Ordering::SeqCst);
    }
}

/// A join handle is not a sender: with the references dropped the actor's
/// loop ends, and the handle sees it stop (tokio's `drop(tx);
/// handle.await`).
#[test]
fn join_handle_waits_without_keeping_the_actor_alive() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let total = std::sync::Arc::new(AtomicU64::new(0));
    let actor = runtime.spawn(
        NoSupervisor,
        actor_fn(summer),
        total.clone(),
        ActorOptions::default(),
    );
    let handle = actor.join_handle();
    assert!(!handle.is_finished());
    let seen = total.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    runtime.spawn_future(
        async move {
            for n in 1..=4u64 {
                actor.send(n).await.unwrap();
            }
            drop(actor);
            handle.await;
            tx.send(seen.load(Ordering::SeqCst)).unwrap();
        },
        FutureOptions::default(),
    );
    runtime.start().unwrap();
    assert_eq!(rx.recv().unwrap(), 10);
}
