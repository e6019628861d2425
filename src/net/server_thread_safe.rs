//! The listener of a server of thread-safe connections (the thread-safe
//! mode of [`TcpServer`](super::TcpServer)), on the engine of
//! `server.rs`: a thread-safe listener actor whose socket is on the
//! runtime's shared poll, and a thread-safe actor per connection, run by
//! whichever worker is free (see `worker/shared_sources.rs`). Nothing is
//! balanced by hand here: the shared scheduler gives a connection with work
//! to a worker that has none, wherever it was accepted. The sockets come
//! from the engine as for thread-local connections (the one bound by
//! `setup` and one more per extra listener, or a duplicate of a socket
//! handed over), and a graceful shutdown closes them the same way.

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use log::{debug, warn};

use super::server::{
    ACCEPT_PAUSE, Conn, Kind, Load, Server, ServerMessage, accept_failed, socket_later, stop_asked,
};
use crate::ThreadSafe;
use crate::actor::{Context, NewActor};
use crate::supervisor::Supervisor;
use crate::timer::Timer;

/// The metrics' worker number of a thread-safe server's connections, which
/// run on any worker.
const ANY_WORKER: usize = 0;

/// What woke the listener.
enum Event<K: Kind> {
    Stop,
    Accepted(io::Result<Conn<K>>),
}

/// The listener actor of a server of thread-safe connections: the actor its
/// `NewActor` makes.
pub(crate) async fn listen<K, S, NA>(
    mut ctx: Context<ServerMessage, ThreadSafe>,
    server: Server<K, S, NA>,
) -> io::Result<()>
where
    K: Kind<Mode = ThreadSafe>,
    K::Listener: Send,
    K::Stream: Send,
    S: Supervisor<NA> + Clone + Send + Sync + 'static,
    NA: NewActor<Argument = K::Stream, RuntimeAccess = ThreadSafe> + Clone + Send + Sync + 'static,
    NA::Actor: Send + 'static,
    NA::Message: Send + 'static,
{
    let addr = server.shared.addr.clone();
    // Out of descriptors for now: wait as an accept that ran out waits.
    let socket = loop {
        match server.shared.socket() {
            Ok(socket) => break socket,
            Err(err) if socket_later(&addr, ANY_WORKER, &err) && !ctx.is_stopping() => {
                let _passed = Timer::after(ctx.runtime_ref().clone(), ACCEPT_PAUSE).await;
            }
            Err(err) => return Err(err),
        }
    };
    let mut listener = K::register_listener(ctx.runtime_ref(), socket)?;
    ctx.runtime_ref().shared.add_server(&server.shared.stats);
    let load = Load::new(server.shared.stats.on_worker(ANY_WORKER));
    debug!(addr:% = addr, server = K::NAME; "listening (thread-safe connections)");
    loop {
        let event: Event<K> = poll_fn(|cx| {
            if stop_asked(&mut ctx, cx) {
                return Poll::Ready(Event::Stop);
            }
            K::poll_accept(&mut listener, cx).map(Event::Accepted)
        })
        .await;
        let (raw, peer) = match event {
            Event::Stop => {
                debug!(addr:% = addr; "listener stopped accepting");
                if ctx.is_stopping() {
                    server.shared.close();
                }
                return Ok(());
            }
            Event::Accepted(Ok(conn)) => conn,
            Event::Accepted(Err(err)) => {
                if accept_failed(&load, &addr, ANY_WORKER, err)? {
                    let _passed = Timer::after(ctx.runtime_ref().clone(), ACCEPT_PAUSE).await;
                }
                continue;
            }
        };
        debug!(peer:? = peer; "accepted connection");
        match K::register_stream(ctx.runtime_ref(), raw, load.count()) {
            Ok(stream) => {
                let _ = ctx.runtime_ref().spawn(
                    server.supervisor.clone(),
                    server.new_actor.clone(),
                    stream,
                    server.options,
                );
            }
            // The stream (and its count) is dropped: the peer sees the
            // connection closed.
            Err(err) => warn!(peer:? = peer, error:% = err; "unable to register connection"),
        }
    }
}
