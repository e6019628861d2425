//! Actor references between actors that the test polls itself
//! (`test::init_local_actor`, `test::poll_actor`, `test::poll_future`):
//! sends, full inboxes, mapped references, requests and joins, one step
//! at a time.

use std::cell::UnsafeCell;
use std::fmt;
use std::num::NonZeroUsize;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::actor_ref::{RpcError, RpcMessage, SendError, TrySendError};
use hearth::supervisor::NoSupervisor;
use hearth::test::{
    JoinResult, init_actor, init_local_actor, join, join_many, poll_actor, poll_future,
    size_of_actor, size_of_actor_val,
};
use hearth::{ActorOptions, ActorRef, NoMessages, RecvError, Runtime, ThreadLocal, ThreadSafe};

use super::{assert_send, assert_sync};

/// The inbox of an actor made by `init_local_actor`.
const CAPACITY: usize = ActorOptions::DEFAULT_INBOX_CAPACITY.get();

/// Receives `expected`, in order, then returns; a missing or different
/// message is its error.
async fn expects<M>(mut ctx: Context<M, ThreadLocal>, expected: Vec<M>) -> Result<(), String>
where
    M: PartialEq + fmt::Debug,
{
    for want in expected {
        let got = ctx.receive_next().await.map_err(|err| err.to_string())?;
        if got != want {
            return Err(format!("got {got:?}, expected {want:?}"));
        }
    }
    Ok(())
}

/// Sends `msgs` to `to`, in order, waiting for room.
async fn relays<M>(
    _: Context<(), ThreadLocal>,
    (to, msgs): (ActorRef<M>, Vec<M>),
) -> Result<(), String> {
    for msg in msgs {
        to.send(msg).await.map_err(|err| err.to_string())?;
    }
    Ok(())
}

fn words() -> Vec<String> {
    ["Hello world", "Hello mars", "Hello moon"]
        .map(str::to_owned)
        .to_vec()
}

#[test]
fn references_are_send_and_sync_whatever_the_message() {
    assert_send::<ActorRef<UnsafeCell<()>>>();
    assert_sync::<ActorRef<UnsafeCell<()>>>();
    assert_send::<hearth::actor_ref::SendValue<'static, ()>>();
    assert_sync::<hearth::actor_ref::SendValue<'static, ()>>();
    assert_send::<hearth::actor_ref::Join<'static, ()>>();
    assert_sync::<hearth::actor_ref::Join<'static, ()>>();
}

#[test]
fn try_send_up_to_the_capacity_then_full() {
    let expected: Vec<usize> = (0..CAPACITY + 2).collect();
    let (actor, actor_ref) = init_local_actor(actor_fn(expects), expected).unwrap();
    let mut actor = pin!(actor);
    for n in 0..CAPACITY {
        actor_ref.try_send(n).unwrap();
    }
    assert_eq!(
        actor_ref.try_send(CAPACITY),
        Err(TrySendError::Full(CAPACITY))
    );
    assert!(poll_actor(actor.as_mut()).is_pending());
    actor_ref.try_send(CAPACITY).unwrap();
    actor_ref.try_send(CAPACITY + 1).unwrap();
    assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
}

#[test]
fn a_dropped_actor_is_disconnected() {
    let (actor, actor_ref) = init_local_actor(actor_fn(expects), Vec::<usize>::new()).unwrap();
    let mapped: ActorRef<u8> = actor_ref.clone().map();
    let by_fn: ActorRef<u16> = actor_ref.clone().map_fn(usize::from);
    assert!(actor_ref.is_connected() && mapped.is_connected() && by_fn.is_connected());
    drop(actor);
    assert!(!actor_ref.is_connected() && !mapped.is_connected() && !by_fn.is_connected());
    assert_eq!(actor_ref.try_send(1usize), Err(TrySendError::Stopped(1)));
}

#[test]
fn an_actor_that_returned_is_disconnected() {
    let (actor, actor_ref) = init_local_actor(actor_fn(expects), vec![1usize]).unwrap();
    let mut actor = pin!(actor);
    actor_ref.try_send(1usize).unwrap();
    assert!(actor_ref.is_connected());
    assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
    assert!(!actor_ref.is_connected());
}

#[test]
fn send_waits_for_room_until_the_receiver_takes_some() {
    let expected: Vec<usize> = (0..CAPACITY + 2).collect();
    let (receiver, to) = init_local_actor(actor_fn(expects), expected.clone()).unwrap();
    let mut receiver = pin!(receiver);
    let (relay, _) = init_local_actor(actor_fn(relays), (to, expected)).unwrap();
    let mut relay = pin!(relay);
    // The relay fills the inbox and waits.
    assert!(poll_actor(relay.as_mut()).is_pending());
    assert!(poll_actor(receiver.as_mut()).is_pending());
    assert_eq!(poll_actor(relay.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(poll_actor(receiver.as_mut()), Poll::Ready(Ok(())));
}

/// Sends one message and expects the send to fail.
async fn send_fails(
    _: Context<(), ThreadLocal>,
    (to, msg): (ActorRef<usize>, usize),
) -> Result<(), String> {
    match to.send(msg).await {
        Err(SendError::Stopped(back)) if back == msg => Ok(()),
        Err(SendError::Rejected) if msg == 0 => Ok(()),
        other => Err(format!("send of {msg}: {other:?}")),
    }
}

#[test]
fn send_to_a_dropped_actor_fails() {
    let (actor, to) = init_local_actor(actor_fn(expects), Vec::<usize>::new()).unwrap();
    drop(actor);
    let (sender, _) = init_local_actor(actor_fn(send_fails), (to, 1)).unwrap();
    assert_eq!(poll_actor(pin!(sender)), Poll::Ready(Ok(())));
}

#[test]
fn mapped_references_convert_with_from_try_from_and_functions() {
    // From: &str into String; the same type maps to itself.
    let (actor, actor_ref) =
        init_local_actor(actor_fn(expects), [words(), words()].concat()).unwrap();
    let mut actor = pin!(actor);
    let by_from: ActorRef<&str> = actor_ref.clone().map();
    let same: ActorRef<String> = actor_ref.clone().map();
    let by_fn: ActorRef<&str> = actor_ref.map_fn(|word: &str| word.to_owned());
    for word in ["Hello world", "Hello mars", "Hello moon"] {
        by_from.try_send(word).unwrap();
    }
    same.try_send("Hello world".to_owned()).unwrap();
    by_fn.try_send("Hello mars").unwrap();
    by_fn.clone().try_send("Hello moon").unwrap();
    assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
}

#[test]
fn try_mapped_references_refuse_what_does_not_convert() {
    let one = NonZeroUsize::MIN;
    let expected: Vec<NonZeroUsize> = (1..=4).filter_map(NonZeroUsize::new).collect();
    let (actor, actor_ref) = init_local_actor(actor_fn(expects), expected).unwrap();
    let mut actor = pin!(actor);
    let by_try_from: ActorRef<usize> = actor_ref.clone().try_map();
    let by_fn: ActorRef<usize> = actor_ref
        .clone()
        .try_map_fn(|n| NonZeroUsize::new(n).ok_or("zero"));
    assert_eq!(by_try_from.try_send(0usize), Err(TrySendError::Rejected));
    assert_eq!(by_fn.try_send(0usize), Err(TrySendError::Rejected));
    // Refused messages took no room and reached nobody.
    assert!(poll_actor(actor.as_mut()).is_pending());
    actor_ref.try_send(one).unwrap();
    by_try_from.try_send(2usize).unwrap();
    by_fn.try_send(3usize).unwrap();
    by_fn.clone().try_send(4usize).unwrap();
    assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
}

#[test]
fn a_refused_send_through_a_try_mapped_reference_fails_and_the_actor_goes_on() {
    let expected: Vec<NonZeroUsize> = (1..=2).filter_map(NonZeroUsize::new).collect();
    let (actor, actor_ref) = init_local_actor(actor_fn(expects), expected).unwrap();
    let mut actor = pin!(actor);
    let checked: ActorRef<usize> = actor_ref.try_map_fn(|n| NonZeroUsize::new(n).ok_or(()));
    let (sender, _) = init_local_actor(actor_fn(send_fails), (checked.clone(), 0)).unwrap();
    assert!(poll_actor(actor.as_mut()).is_pending());
    assert_eq!(poll_actor(pin!(sender)), Poll::Ready(Ok(())));
    assert!(poll_actor(actor.as_mut()).is_pending());
    checked.try_send(1usize).unwrap();
    checked.try_send(2usize).unwrap();
    assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
}

#[test]
fn sends_to_compares_the_actor_not_the_message_type() {
    let (_a, a) = init_local_actor(actor_fn(expects), Vec::<u16>::new()).unwrap();
    let (_b, b) = init_local_actor(actor_fn(expects), Vec::<u16>::new()).unwrap();
    let refs_of = |r: &ActorRef<u16>| {
        (
            r.clone(),
            r.clone().map::<u8>(),
            r.clone().map_fn(|n: u8| u16::from(n) + 1),
        )
    };
    let (a1, a2, a3) = refs_of(&a);
    let (b1, b2, b3) = refs_of(&b);
    assert!(a.sends_to(&a1) && a.sends_to(&a2) && a.sends_to(&a3) && a2.sends_to(&a3));
    assert!(b.sends_to(&b1) && b.sends_to(&b2) && b.sends_to(&b3));
    assert!(!a.sends_to(&b1) && !a.sends_to(&b2) && !a.sends_to(&b3));
    assert!(!b.sends_to(&a1) && !b3.sends_to(&a2));
}

#[derive(Debug, PartialEq)]
struct Ping;

#[derive(Debug, PartialEq)]
struct Pong;

enum PongMsg {
    Ping(RpcMessage<Ping, Pong>),
    Check,
}

impl From<RpcMessage<Ping, Pong>> for PongMsg {
    fn from(msg: RpcMessage<Ping, Pong>) -> PongMsg {
        PongMsg::Ping(msg)
    }
}

/// Answers every ping.
async fn pong(mut ctx: Context<PongMsg, ThreadLocal>) -> Result<(), String> {
    while let Ok(msg) = ctx.receive_next().await {
        if let PongMsg::Ping(call) = msg {
            call.handle(|Ping| Pong)
                .map_err(|_| "the caller left".to_owned())?;
        }
    }
    Ok(())
}

/// Makes one request and expects `want`.
async fn ping(
    _: Context<(), ThreadLocal>,
    (to, want): (ActorRef<PongMsg>, Result<Pong, RpcError>),
) -> Result<(), String> {
    let got = to.rpc(Ping).await;
    if got == want {
        Ok(())
    } else {
        Err(format!("rpc: {got:?}, expected {want:?}"))
    }
}

#[test]
fn rpc_request_and_response() {
    let (ponger, to) = init_local_actor(actor_fn(pong), ()).unwrap();
    let mut ponger = pin!(ponger);
    let (pinger, _) = init_local_actor(actor_fn(ping), (to, Ok(Pong))).unwrap();
    let mut pinger = pin!(pinger);
    assert!(poll_actor(pinger.as_mut()).is_pending());
    assert!(poll_actor(ponger.as_mut()).is_pending());
    assert_eq!(poll_actor(pinger.as_mut()), Poll::Ready(Ok(())));
    // Its last reference went with the pinger.
    assert_eq!(poll_actor(ponger.as_mut()), Poll::Ready(Ok(())));
}

#[test]
fn rpc_to_a_dropped_actor_is_a_send_error() {
    let (ponger, to) = init_local_actor(actor_fn(pong), ()).unwrap();
    drop(ponger);
    let (pinger, _) = init_local_actor(actor_fn(ping), (to, Err(RpcError::SendError))).unwrap();
    assert_eq!(poll_actor(pin!(pinger)), Poll::Ready(Ok(())));
}

#[test]
fn rpc_waits_for_room_in_a_full_inbox() {
    let (ponger, to) = init_local_actor(actor_fn(pong), ()).unwrap();
    let mut ponger = pin!(ponger);
    for _ in 0..CAPACITY {
        assert!(to.try_send(PongMsg::Check).is_ok());
    }
    let (pinger, _) = init_local_actor(actor_fn(ping), (to, Ok(Pong))).unwrap();
    let mut pinger = pin!(pinger);
    // No room for the request yet.
    assert!(poll_actor(pinger.as_mut()).is_pending());
    // Takes the checks; the request was not there yet.
    assert!(poll_actor(ponger.as_mut()).is_pending());
    assert!(poll_actor(pinger.as_mut()).is_pending());
    assert!(poll_actor(ponger.as_mut()).is_pending());
    assert_eq!(poll_actor(pinger.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(poll_actor(ponger.as_mut()), Poll::Ready(Ok(())));
}

#[test]
fn rpc_to_an_actor_dropped_with_the_request_is_no_response() {
    let (ponger, to) = init_local_actor(actor_fn(pong), ()).unwrap();
    let (pinger, _) = init_local_actor(actor_fn(ping), (to, Err(RpcError::NoResponse))).unwrap();
    let mut pinger = pin!(pinger);
    assert!(poll_actor(pinger.as_mut()).is_pending());
    drop(ponger);
    assert_eq!(poll_actor(pinger.as_mut()), Poll::Ready(Ok(())));
}

/// Takes one request, waits for one more message, then finds the caller
/// gone: its response comes back.
async fn answers_late(mut ctx: Context<PongMsg, ThreadLocal>) -> Result<(), String> {
    let Ok(PongMsg::Ping(RpcMessage {
        request: Ping,
        response,
    })) = ctx.receive_next().await
    else {
        return Err("expected a request".to_owned());
    };
    if !response.is_connected() {
        return Err("the caller left too early".to_owned());
    }
    // Ends once every reference is gone (the caller's with it).
    while ctx.receive_next().await.is_ok() {}
    if response.is_connected() {
        return Err("the caller is still there".to_owned());
    }
    match response.respond(Pong) {
        Err(Pong) => Ok(()),
        Ok(()) => Err("a response to nobody was sent".to_owned()),
    }
}

#[test]
fn a_response_to_a_caller_that_left_comes_back() {
    let (ponger, to) = init_local_actor(actor_fn(answers_late), ()).unwrap();
    let mut ponger = pin!(ponger);
    let (pinger, _) = init_local_actor(actor_fn(ping), (to, Ok(Pong))).unwrap();
    // Boxed, to be dropped while the responder waits.
    let mut pinger = Box::pin(pinger);
    assert!(poll_actor(pinger.as_mut()).is_pending());
    assert!(poll_actor(ponger.as_mut()).is_pending());
    drop(pinger);
    assert_eq!(poll_actor(ponger.as_mut()), Poll::Ready(Ok(())));
}

/// Returns at once.
async fn returns(_: Context<u32, ThreadLocal>) {}

#[test]
fn join_is_ready_once_the_actor_returned() {
    let (actor, actor_ref) = init_local_actor(actor_fn(returns), ()).unwrap();
    let mut actor = pin!(actor);
    let mapped: ActorRef<u8> = actor_ref.clone().map();
    let mut joined = pin!(actor_ref.join());
    let mut mapped_joined = pin!(mapped.join());
    assert!(poll_future(joined.as_mut()).is_pending());
    assert!(poll_future(mapped_joined.as_mut()).is_pending());
    assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(poll_future(joined), Poll::Ready(()));
    assert_eq!(poll_future(mapped_joined), Poll::Ready(()));
    // A join made after the end is ready at once.
    assert_eq!(poll_future(pin!(actor_ref.join())), Poll::Ready(()));
}

/// Counts its messages in `ThreadSafe` context until every sender is gone.
async fn counts(mut ctx: Context<u32, ThreadSafe>, want: usize) -> Result<(), String> {
    let mut seen = 0;
    while ctx.receive_next().await.is_ok() {
        seen += 1;
    }
    if seen == want {
        Ok(())
    } else {
        Err(format!("{seen} messages, expected {want}"))
    }
}

#[test]
fn a_thread_safe_actor_polled_by_the_test() {
    let (actor, actor_ref) = init_actor(actor_fn(counts), 2).unwrap();
    let mut actor = pin!(actor);
    actor_ref.try_send(1u32).unwrap();
    assert!(poll_actor(actor.as_mut()).is_pending());
    actor_ref.try_send(2u32).unwrap();
    drop(actor_ref);
    assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
}

/// Keeps a big argument across a wait.
async fn holds(_: Context<u32, ThreadLocal>, big: [u8; 256]) {
    let kept = big;
    std::future::ready(()).await;
    assert_eq!(kept.len(), 256);
}

#[test]
fn size_of_an_actor_is_the_size_of_what_it_makes() {
    let new_actor = actor_fn(holds);
    let (actor, _) = init_local_actor(actor_fn(holds), [0; 256]).unwrap();
    let size = size_of_actor_val(&new_actor);
    assert!(size >= 256, "{size}");
    assert_eq!(size, std::mem::size_of_val(&actor));
    assert_eq!(size_of_actor::<Made<[u8; 256]>>(), size_of::<[u8; 256]>());
}

/// Makes an actor that is its argument (its size is the argument's).
struct Made<T>(std::marker::PhantomData<T>);

impl<T: Unpin> hearth::actor::NewActor for Made<T> {
    type Message = ();
    type Argument = T;
    type Actor = Ready<T>;
    type Error = std::convert::Infallible;
    type RuntimeAccess = ThreadLocal;

    fn new(&mut self, _: Context<(), ThreadLocal>, arg: T) -> Result<Ready<T>, Self::Error> {
        Ok(Ready(arg))
    }
}

/// An actor that is done at once.
struct Ready<T>(T);

impl<T: Unpin> hearth::actor::Actor for Ready<T> {
    type Error = std::convert::Infallible;

    fn try_poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// Takes one message and returns.
async fn takes_one(mut ctx: Context<u32, ThreadSafe>) {
    let _ = ctx.receive_next().await;
}

#[test]
fn join_blocks_until_actors_on_a_runtime_stopped() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let takers: Vec<ActorRef<u32>> = (0..2)
        .map(|_| {
            runtime.spawn(
                NoSupervisor,
                actor_fn(takes_one),
                (),
                ActorOptions::default(),
            )
        })
        .collect();
    let started = std::thread::spawn(move || runtime.start());
    // Still running: they wait for a message.
    assert_eq!(
        join(&takers[0], Duration::from_millis(1)),
        JoinResult::TimedOut
    );
    for taker in &takers {
        taker.try_send(1u32).unwrap();
    }
    join_many(&takers, Duration::from_mins(1)).unwrap();
    assert!(takers.iter().all(|taker| !taker.is_connected()));
    drop(takers);
    started.join().unwrap().unwrap();
}

/// Receives without waiting, then waiting, then sees the end.
async fn receives_to_the_end(mut ctx: Context<usize, ThreadLocal>) -> Result<(), String> {
    let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_owned()) };
    check(
        ctx.try_receive_next() == Err(RecvError::Empty),
        "empty at first",
    )?;
    check(ctx.receive_next().await == Ok(123), "the message")?;
    check(ctx.receive_next().await == Err(NoMessages), "the end")?;
    check(
        ctx.try_receive_next() == Err(RecvError::Disconnected),
        "disconnected",
    )
}

#[test]
fn context_receives_until_every_reference_is_gone() {
    assert_send::<Context<(), ThreadSafe>>();
    assert_sync::<Context<(), ThreadSafe>>();
    let (actor, actor_ref) = init_local_actor(actor_fn(receives_to_the_end), ()).unwrap();
    let mut actor = pin!(actor);
    assert!(poll_actor(actor.as_mut()).is_pending());
    actor_ref.try_send(123usize).unwrap();
    assert!(poll_actor(actor.as_mut()).is_pending());
    drop(actor_ref);
    assert_eq!(poll_actor(actor.as_mut()), Poll::Ready(Ok(())));
}

/// Once nobody else can reach it, sends to itself.
async fn sends_to_itself(mut ctx: Context<usize, ThreadLocal>) -> Result<(), String> {
    if ctx.receive_next().await != Err(NoMessages) {
        return Err("expected the end".to_owned());
    }
    let me = ctx.actor_ref();
    me.send(123usize).await.map_err(|err| err.to_string())?;
    match ctx.receive_next().await {
        Ok(123) => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

#[test]
fn an_actor_reaches_itself_through_its_context() {
    let (actor, actor_ref) = init_local_actor(actor_fn(sends_to_itself), ()).unwrap();
    drop(actor_ref);
    assert_eq!(poll_actor(pin!(actor)), Poll::Ready(Ok(())));
}

/// Takes one 123.
async fn takes_123(mut ctx: Context<usize, ThreadSafe>) -> Result<(), String> {
    match ctx.receive_next().await {
        Ok(123) => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

/// Spawns two actors through its context, with and without `try_`, and
/// tells `out` how that went.
async fn spawns_through_its_context(
    mut ctx: Context<(), ThreadSafe>,
    out: std::sync::mpsc::Sender<Result<(), String>>,
) {
    use hearth::Spawn;
    let first = ctx.try_spawn(
        NoSupervisor,
        actor_fn(takes_123),
        (),
        ActorOptions::default(),
    );
    let second = ctx.spawn(
        NoSupervisor,
        actor_fn(takes_123),
        (),
        ActorOptions::default(),
    );
    let mut result = first
        .map(|first| [first, second])
        .map_err(|err| err.to_string());
    if let Ok(actor_refs) = &mut result {
        for actor_ref in actor_refs.iter() {
            if let Err(err) = actor_ref.send(123usize).await {
                let _ = out.send(Err(err.to_string()));
                return;
            }
            actor_ref.join().await;
        }
    }
    let _ = out.send(result.map(|_| ()));
}

#[test]
fn a_thread_safe_actor_spawns_through_its_context() {
    let mut runtime = Runtime::setup().num_threads(1).build().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(spawns_through_its_context),
        tx,
        ActorOptions::default(),
    );
    runtime.start().unwrap();
    assert_eq!(rx.recv().unwrap(), Ok(()));
}
