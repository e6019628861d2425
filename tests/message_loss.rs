//! `test::set_message_loss`: sends through an `ActorRef` lose the share of
//! messages asked for, and report success. The setting is process-wide, so
//! these checks are one test in a binary of their own: no other test of the
//! process sends meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::{RpcError, RpcMessage};
use hearth::supervisor::NoSupervisor;
use hearth::test::{TestRuntime, inbox, message_loss, set_message_loss};
use hearth::{ActorOptions, Runtime, ThreadSafe};

/// Sends per check: enough that a share far from the one asked for does
/// not happen by chance (at 50%, the standard deviation is 50 messages).
const SENDS: usize = 10_000;

/// Counts what it receives.
async fn counter(mut ctx: Context<usize, ThreadSafe>, received: Arc<AtomicUsize>) {
    while ctx.receive_next().await.is_ok() {
        let _ = received.fetch_add(1, Ordering::Relaxed);
    }
}

/// Answers every request.
async fn echo(mut ctx: Context<RpcMessage<usize, usize>, ThreadSafe>) {
    while let Ok(request) = ctx.receive_next().await {
        let _ = request.handle(|n| n);
    }
}

#[test]
fn sends_lose_the_share_of_messages_asked_for() {
    assert_eq!(message_loss(), 0);

    // None lost by default.
    let (actor_ref, sent) = inbox::<usize>(SENDS);
    for n in 0..SENDS {
        actor_ref.try_send(n).unwrap();
    }
    assert_eq!(sent.len(), SENDS);
    let _ = sent.drain();

    // All lost, each send reporting success, even to a full inbox.
    set_message_loss(100).unwrap();
    let (small, small_sent) = inbox::<usize>(1);
    for n in 0..SENDS {
        actor_ref.try_send(n).unwrap();
        small.try_send(n).unwrap();
    }
    assert!(sent.is_empty());
    assert!(small_sent.is_empty());
    let mut rt = TestRuntime::new().unwrap();
    rt.block_on(async {
        for n in 0..10usize {
            actor_ref.send(n).await.unwrap();
        }
    });
    assert!(sent.is_empty());

    // Half lost, at random, through `try_send`.
    set_message_loss(50).unwrap();
    for n in 0..SENDS {
        actor_ref.try_send(n).unwrap();
    }
    let kept = sent.drain();
    assert!(
        (SENDS * 2 / 5..=SENDS * 3 / 5).contains(&(kept.len())),
        "{} of {SENDS} kept at 50% loss",
        kept.len()
    );
    // The kept ones in order, none twice.
    assert!(kept.windows(2).all(|pair| pair[0] < pair[1]));

    // Bad input: refused with a clear error, the setting unchanged.
    let err = set_message_loss(101).unwrap_err();
    assert_eq!(err.percent(), 101);
    assert_eq!(err.to_string(), "message loss of 101% is over 100%");
    assert_eq!(message_loss(), 50);

    // A tenth lost through `send` on a runtime's worker threads; an rpc
    // whose request is lost has no response.
    set_message_loss(10).unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let count = runtime.spawn(
        NoSupervisor,
        actor_fn(counter),
        received.clone(),
        ActorOptions::default(),
    );
    let echo = runtime.spawn(NoSupervisor, actor_fn(echo), (), ActorOptions::default());
    let answered = Arc::new(AtomicUsize::new(0));
    let no_response = Arc::new(AtomicUsize::new(0));
    let (answered2, no_response2) = (answered.clone(), no_response.clone());
    runtime.spawn_future(
        async move {
            for n in 0..SENDS {
                count.send(n).await.unwrap();
            }
            for n in 0..1_000usize {
                match echo.rpc(n).await {
                    Ok(m) => {
                        assert_eq!(m, n);
                        let _ = answered2.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(RpcError::NoResponse) => {
                        let _ = no_response2.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => panic!("{err}"),
                }
            }
        },
        hearth::FutureOptions::default(),
    );
    runtime.start().unwrap();
    let received = received.load(Ordering::Relaxed);
    assert!(
        (SENDS * 85 / 100..=SENDS * 95 / 100).contains(&received),
        "{received} of {SENDS} received at 10% loss"
    );
    let (answered, no_response) = (
        answered.load(Ordering::Relaxed),
        no_response.load(Ordering::Relaxed),
    );
    assert_eq!(answered + no_response, 1_000);
    // Only the request can be lost: the response does not travel through
    // an `ActorRef`.
    assert!(
        (50..=150).contains(&no_response),
        "{no_response} of 1000 rpcs without response"
    );

    // Back to none lost.
    set_message_loss(0).unwrap();
    for n in 0..SENDS {
        actor_ref.try_send(n).unwrap();
    }
    assert_eq!(sent.len(), SENDS);
}
