//! The `test` module: actors polled step by step, futures run to their end
//! on the test's own thread, and what actors sent.

use std::io;
use std::task::Poll;
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::net::{TcpListener, TcpStream};
use hearth::supervisor::NoSupervisor;
use hearth::test::{TestRuntime, inbox};
use hearth::timer::Timer;
use hearth::{ActorOptions, ActorRef, ThreadLocal, ThreadSafe};

/// Adds up what it gets, reports the total when asked with 0, and ends
/// on a negative number with an error.
async fn adder(mut ctx: Context<i64, ThreadLocal>, out: ActorRef<i64>) -> Result<(), String> {
    let mut total = 0;
    while let Ok(n) = ctx.receive_next().await {
        match n {
            0 => out.send(total).await.map_err(|err| err.to_string())?,
            n if n < 0 => return Err(format!("negative: {n}")),
            n => total += n,
        }
    }
    Ok(())
}

#[test]
fn an_actor_polled_step_by_step() {
    let mut rt = TestRuntime::new().unwrap();
    let (out, sent) = inbox(4);
    let (mut actor, actor_ref) = rt.actor(actor_fn(adder), out).unwrap();
    assert!(actor.poll().is_pending());
    assert!(!actor.was_woken());
    actor_ref.try_send(2).unwrap();
    actor_ref.try_send(3).unwrap();
    actor_ref.try_send(0).unwrap();
    assert!(actor.was_woken());
    assert!(actor.poll().is_pending());
    assert_eq!(sent.drain(), [5]);
    actor_ref.try_send(-1).unwrap();
    assert!(actor_ref.is_connected());
    assert_eq!(actor.poll(), Poll::Ready(Err("negative: -1".to_owned())));
    // It returned: stopped and joined at once, as on a worker, though the
    // test still holds it.
    assert!(actor_ref.is_stopped());
    assert!(actor.actor_ref().is_stopped());
    rt.block_on(actor_ref.join());
    assert!(actor_ref.try_send(1).unwrap_err().is_stopped());
}

#[test]
fn a_thread_safe_actor_polled_step_by_step() {
    async fn echo(mut ctx: Context<u8, ThreadSafe>, out: ActorRef<u8>) {
        while let Ok(n) = ctx.receive_next().await {
            let _ = out.try_send(n);
        }
    }
    let rt = TestRuntime::new().unwrap();
    let (out, sent) = inbox(4);
    let (mut actor, actor_ref) = rt.thread_safe_actor(actor_fn(echo), out).unwrap();
    actor.actor_ref().try_send(7).unwrap();
    assert!(actor.poll().is_pending());
    assert_eq!(sent.try_recv(), Some(7));
    assert!(sent.is_empty());
    // Every reference gone: its receive loop ends.
    drop(actor_ref);
    assert!(actor.was_woken());
    assert_eq!(actor.poll(), Poll::Ready(Ok(())));
}

/// `block_on` runs a future to its end with real timers and sockets, and
/// the actors it spawned run alongside.
#[test]
fn block_on_with_timers_sockets_and_spawned_actors() {
    async fn echo_once(mut ctx: Context<(), ThreadLocal>, listener: TcpListener) -> io::Result<()> {
        let mut listener = listener;
        let (mut stream, _) = listener.accept().await?;
        let mut buf = [0; 4];
        stream.read_exact(&mut buf).await?;
        stream.write_all(&buf).await?;
        let _ = ctx.receive_next().await;
        Ok(())
    }
    let mut rt = TestRuntime::new().unwrap();
    let mut runtime_ref = rt.runtime_ref();
    let listener = TcpListener::bind(&mut runtime_ref, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = runtime_ref.spawn_local(
        NoSupervisor,
        actor_fn(echo_once),
        listener,
        ActorOptions::default(),
    );
    let echoed = rt.block_on(async {
        Timer::after(runtime_ref.clone(), Duration::from_millis(5)).await;
        let mut client = TcpStream::connect(&mut runtime_ref, addr).await?;
        client.write_all(b"ping").await?;
        let mut buf = [0; 4];
        client.read_exact(&mut buf).await?;
        io::Result::Ok(buf)
    });
    assert_eq!(&echoed.unwrap(), b"ping");
    drop(server);
    rt.run_until_idle().unwrap();
}

/// The inbox of a test sees its references go.
#[test]
fn test_inbox_sees_its_senders_go() {
    let (out, sent) = inbox::<u8>(1);
    assert!(!sent.is_disconnected());
    out.try_send(1).unwrap();
    assert!(out.try_send(2).is_err(), "room for one");
    drop(out);
    assert!(!sent.is_disconnected(), "a message still waits");
    assert_eq!(sent.try_recv(), Some(1));
    assert!(sent.is_disconnected());
}
