//! The thread-safe mode of [`TcpServer`]: a thread-safe listener actor
//! whose socket is on the runtime's shared poll, and a thread-safe actor
//! per connection, run by whichever worker is free (see
//! `worker/shared_sources.rs`). Nothing is balanced by hand here: the
//! shared scheduler gives a connection with work to a worker that has
//! none, wherever it was accepted.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;

use log::{debug, warn};

use super::server::{Conn, Desk, ServerMessage, TcpServer};
use super::{TcpListener, TcpStream};
use crate::ThreadSafe;
use crate::actor::{Actor, Context, NewActor};
use crate::supervisor::Supervisor;

/// The metrics' worker number of a thread-safe server's connections, which
/// run on any worker.
const ANY_WORKER: usize = 0;

impl<S, NA> NewActor for TcpServer<S, NA, ThreadSafe>
where
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream<ThreadSafe>>
        + Clone
        + Send
        + Sync
        + 'static,
    NA: NewActor<Argument = TcpStream<ThreadSafe>, RuntimeAccess = ThreadSafe>
        + Clone
        + Send
        + Sync
        + 'static,
    NA::Actor: Send + 'static,
    NA::Message: Send + 'static,
{
    type Message = ServerMessage;
    type Argument = ();
    type Actor = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;
    type Error = std::convert::Infallible;
    type RuntimeAccess = ThreadSafe;

    fn new(
        &mut self,
        ctx: Context<ServerMessage, ThreadSafe>,
        (): (),
    ) -> Result<Self::Actor, Self::Error> {
        Ok(Box::pin(listen(ctx, self.clone())))
    }

    fn name() -> &'static str {
        "TcpServer"
    }
}

/// What woke the listener.
enum Event {
    Stop,
    Accepted(io::Result<Conn>),
}

/// The listener actor of a thread-safe server.
async fn listen<S, NA>(
    mut ctx: Context<ServerMessage, ThreadSafe>,
    server: TcpServer<S, NA, ThreadSafe>,
) -> io::Result<()>
where
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream<ThreadSafe>>
        + Clone
        + Send
        + Sync
        + 'static,
    NA: NewActor<Argument = TcpStream<ThreadSafe>, RuntimeAccess = ThreadSafe>
        + Clone
        + Send
        + Sync
        + 'static,
    NA::Actor: Send + 'static,
    NA::Message: Send + 'static,
{
    let addr = server.shared.addr;
    let socket = server.shared.socket()?;
    let mut listener = TcpListener::<ThreadSafe>::from_std(ctx.runtime_ref(), socket)?;
    ctx.runtime_ref()
        .shared
        .add_tcp_server(&server.shared.stats);
    let me = Arc::new(Desk::new(server.shared.stats.on_worker(ANY_WORKER)));
    debug!(addr:% = addr; "listening (thread-safe connections)");
    loop {
        let event = poll_fn(|cx| {
            if ctx.is_stopping() {
                return Poll::Ready(Event::Stop);
            }
            // `NoMessages` only means nobody can send a `Stop`: keep going.
            if let Poll::Ready(Ok(ServerMessage::Stop)) = pin!(ctx.receive_next()).poll(cx) {
                return Poll::Ready(Event::Stop);
            }
            listener.poll_accept_unregistered(cx).map(Event::Accepted)
        })
        .await;
        match event {
            Event::Stop => {
                debug!(addr:% = addr; "listener stopped accepting");
                return Ok(());
            }
            Event::Accepted(Ok((stream, peer))) => {
                debug!(peer:% = peer; "accepted connection");
                let counted = me.count();
                match TcpStream::register_counted(ctx.runtime_ref(), stream, Some(counted)) {
                    Ok(stream) => {
                        let _ = ctx.runtime_ref().spawn(
                            server.supervisor.clone(),
                            server.new_actor.clone(),
                            stream,
                            server.options,
                        );
                    }
                    // The stream (and its count) is dropped: the peer sees
                    // the connection closed.
                    Err(err) => {
                        warn!(peer:% = peer, error:% = err; "unable to register connection");
                    }
                }
            }
            // The peer gave up before we accepted: not the listener's problem.
            Event::Accepted(Err(err))
                if matches!(
                    err.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                ) =>
            {
                me.stats.accept_failed();
                warn!(error:% = err; "connection failed before accept");
            }
            Event::Accepted(Err(err)) => {
                me.stats.accept_failed();
                return Err(io::Error::new(
                    err.kind(),
                    format!("accept on {addr}: {err}"),
                ));
            }
        }
    }
}
