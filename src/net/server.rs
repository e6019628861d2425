//! [`TcpServer`]: a listener per worker on one port, an actor per
//! connection.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use log::{debug, warn};

use super::{TcpListener, TcpStream, with_addr};
use crate::actor::{Actor, Context, NewActor};
use crate::supervisor::Supervisor;
use crate::{ActorOptions, ThreadLocal, sys};

/// A TCP server: spawn it (a [`NewActor`]) on every worker with
/// [`Runtime::run_on_workers`](crate::Runtime::run_on_workers); each
/// listener actor binds its own socket on the server's address
/// (`SO_REUSEPORT`, so the kernel spreads connections over the workers) and
/// starts a thread-local actor per connection, with the connection
/// supervisor. The listener actors have a supervisor of their own, given when
/// they are spawned.
///
/// On a graceful shutdown of the runtime the listeners stop accepting and
/// return; connection actors finish by themselves (see
/// [`Context::until_stopping`]).
///
/// # Examples
///
/// ```no_run
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::{TcpServer, TcpStream};
/// use hearth::supervisor::{NoSupervisor, RestartSupervisor};
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
///
/// async fn hello(_: Context<(), ThreadLocal>, mut stream: TcpStream) -> std::io::Result<()> {
///     stream.write_all(b"hello\n").await
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let mut runtime = Runtime::setup().use_all_cores().build()?;
///     let addr = "127.0.0.1:7000".parse()?;
///     let server = TcpServer::setup(addr, NoSupervisor, actor_fn(hello), ActorOptions::default())?;
///     println!("listening on {}", server.local_addr());
///     runtime.run_on_workers(move |mut rt: RuntimeRef| {
///         let _ = rt.spawn_local(RestartSupervisor::new(()), server.clone(), (), ActorOptions::default());
///         Ok::<_, String>(())
///     });
///     Ok(runtime.start()?)
/// }
/// ```
pub struct TcpServer<S, NA> {
    shared: Arc<Shared>,
    supervisor: S,
    new_actor: NA,
    options: ActorOptions,
}

struct Shared {
    addr: SocketAddr,
    /// The socket bound by `setup`, taken by the first listener.
    bound: Mutex<Option<std::net::TcpListener>>,
}

/// Message to a listener actor of a [`TcpServer`].
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ServerMessage {
    /// Stop accepting connections and return.
    Stop,
}

impl<S, NA> TcpServer<S, NA>
where
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream> + Clone + 'static,
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    /// Binds the server's address now (port 0 picks a free port, which all
    /// listeners then share), so a bad address is reported here and
    /// connections are queued from this moment on.
    ///
    /// # Errors
    ///
    /// The OS error with the address, e.g. `bind 127.0.0.1:80: Permission
    /// denied (os error 13)`.
    pub fn setup(
        addr: SocketAddr,
        supervisor: S,
        new_actor: NA,
        options: ActorOptions,
    ) -> io::Result<Self> {
        let listener =
            sys::reuse_port_listener(addr).map_err(|err| with_addr("bind", addr, err))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            addr,
            bound: Mutex::new(Some(listener)),
        });
        Ok(TcpServer {
            shared,
            supervisor,
            new_actor,
            options,
        })
    }
}

impl<S, NA> TcpServer<S, NA> {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }
}

impl<S: Clone, NA: Clone> Clone for TcpServer<S, NA> {
    fn clone(&self) -> Self {
        TcpServer {
            shared: self.shared.clone(),
            supervisor: self.supervisor.clone(),
            new_actor: self.new_actor.clone(),
            options: self.options,
        }
    }
}

impl<S, NA> fmt::Debug for TcpServer<S, NA> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("addr", &self.shared.addr)
            .finish()
    }
}

impl<S, NA> NewActor for TcpServer<S, NA>
where
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream> + Clone + 'static,
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    type Message = ServerMessage;
    type Argument = ();
    type Actor = Pin<Box<dyn Future<Output = io::Result<()>>>>;
    type RuntimeAccess = ThreadLocal;

    fn new(&mut self, ctx: Context<ServerMessage, ThreadLocal>, (): ()) -> Self::Actor {
        Box::pin(listen(ctx, self.clone()))
    }

    fn name() -> &'static str {
        "TcpServer"
    }
}

/// What woke the listener.
enum Event {
    Stop,
    Accepted(io::Result<(TcpStream, SocketAddr)>),
}

/// The listener actor.
async fn listen<S, NA>(
    mut ctx: Context<ServerMessage, ThreadLocal>,
    server: TcpServer<S, NA>,
) -> io::Result<()>
where
    S: Supervisor<<NA::Actor as Actor>::Error, TcpStream> + Clone + 'static,
    NA: NewActor<Argument = TcpStream, RuntimeAccess = ThreadLocal> + Clone + 'static,
    NA::Actor: 'static,
    NA::Message: 'static,
{
    let addr = server.shared.addr;
    let bound = server
        .shared
        .bound
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    let socket = match bound {
        Some(socket) => socket,
        None => sys::reuse_port_listener(addr).map_err(|err| with_addr("bind", addr, err))?,
    };
    let mut listener = TcpListener::from_std(ctx.runtime(), socket)?;
    let worker = ctx.runtime().worker_id();
    debug!(worker = worker, addr:% = addr; "listening");
    loop {
        let event = poll_fn(|cx| {
            if ctx.is_stopping() {
                return Poll::Ready(Event::Stop);
            }
            // `NoMessages` only means nobody can send a `Stop`: keep going.
            if let Poll::Ready(Ok(ServerMessage::Stop)) = pin!(ctx.receive_next()).poll(cx) {
                return Poll::Ready(Event::Stop);
            }
            listener.poll_accept(cx).map(Event::Accepted)
        })
        .await;
        match event {
            Event::Stop => {
                debug!(worker = worker, addr:% = addr; "listener stopped accepting");
                return Ok(());
            }
            Event::Accepted(Ok((stream, peer))) => {
                debug!(worker = worker, peer:% = peer; "accepted connection");
                let _ = ctx.runtime().spawn_local(
                    server.supervisor.clone(),
                    server.new_actor.clone(),
                    stream,
                    server.options,
                );
            }
            // The peer gave up before we accepted: not the listener's problem.
            Event::Accepted(Err(err))
                if matches!(
                    err.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                ) =>
            {
                warn!(worker = worker, error:% = err; "connection failed before accept");
            }
            Event::Accepted(Err(err)) => {
                return Err(io::Error::new(
                    err.kind(),
                    format!("accept on {addr}: {err}"),
                ));
            }
        }
    }
}
