//! [`graceful`]: runs a hyper connection in a connection actor and, once
//! the runtime begins a graceful shutdown, asks it to finish: an HTTP/1
//! connection answers the request it is reading or answering and then
//! closes (an idle keep-alive connection, or one that has sent nothing
//! yet, closes at once); an HTTP/2 connection sends `GOAWAY` and finishes
//! its open streams. An upgradeable HTTP/1 connection (`with_upgrades`)
//! does the same until it is upgraded; its `graceful` then returns, and
//! the upgraded connection belongs to the future that took it.

use std::error::Error as StdError;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};

use hyper::body::{Body, Incoming};
use hyper::rt::bounds::Http2ServerConnExec;
use hyper::rt::{Read, Write};
use hyper::server::conn::{http1, http2};
use hyper::service::HttpService;

use crate::actor::Context;

/// A hyper server connection that can be asked to finish gracefully:
/// hyper's HTTP/1 connections (upgradeable or not) and HTTP/2 connections.
/// Implement it for other connection types (say, one that picks the
/// protocol) to use them with [`graceful`].
pub trait GracefulConnection: Future {
    /// Asks the connection to finish what it has begun and close (hyper's
    /// `graceful_shutdown`).
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection for http1::Connection<I, S>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    I: Read + Write + Unpin + 'static,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::Connection::graceful_shutdown(self);
    }
}

/// An HTTP/1 connection that can be upgraded (`Connection: upgrade`,
/// WebSocket, `CONNECT`): `serve_connection(io, service).with_upgrades()`.
///
/// hyper hands the upgraded connection to whoever awaits
/// `hyper::upgrade::on(request)` as a boxed `Send` I/O object, so the
/// socket must be `Send`: a [`TcpStream<ThreadSafe>`](crate::net::TcpStream),
/// the stream of a thread-safe connection actor (a thread-local
/// `TcpStream` or a `UnixStream` does not compile here).
///
/// Before the upgrade a graceful shutdown does what it does for any
/// HTTP/1 connection. Once upgraded, the connection future (and so
/// [`graceful`]) returns `Ok(())` at once: the HTTP part is over, and the
/// upgraded connection is the future's that awaited the upgrade, out of
/// reach of this connection. A graceful shutdown does nothing to it: it
/// stays open, and the runtime waits for that future like for any other,
/// until the grace period ends. To close upgraded connections in a
/// shutdown, have their future wait for
/// [`ThreadSafe::shutting_down`](crate::ThreadSafe::shutting_down) next
/// to its reads (and say goodbye in its protocol, a WebSocket close
/// frame, say).
impl<I, S, B> GracefulConnection for http1::UpgradeableConnection<I, S>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    I: Read + Write + Unpin + Send + 'static,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::UpgradeableConnection::graceful_shutdown(self);
    }
}

impl<I, S, B, E> GracefulConnection for http2::Connection<I, S, E>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    I: Read + Write + Unpin,
    B: Body + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
    E: Http2ServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http2::Connection::graceful_shutdown(self);
    }
}

/// Runs `conn` to its end, asking it to finish gracefully once the runtime
/// of `ctx` begins a graceful shutdown, and returns its result.
///
/// So a server's connection actors end by themselves in a shutdown:
/// requests in flight are answered, idle keep-alive connections close, and
/// the runtime's grace period bounds the rest. A client in the middle of
/// sending a request's head is not waited for longer than the
/// connection's header-read timeout (`http1::Builder::header_read_timeout`,
/// with a [`HyperTimer`](super::HyperTimer)): keep it below the runtime's
/// grace period. An HTTP/2 connection closes once its client has
/// acknowledged the `GOAWAY` (hyper pings it) and its streams are done; a
/// client that never answers is left to the grace period too.
///
/// # Examples
///
/// ```no_run
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use hearth::actor::{actor_fn, Context};
/// use hearth::http::{self, HyperTimer};
/// use hearth::net::{TcpServer, TcpStream};
/// use hearth::supervisor::{NoSupervisor, RestartSupervisor};
/// use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
/// use http_body_util::Full;
/// use hyper::server::conn::http1;
/// use hyper::service::service_fn;
/// use hyper::{Request, Response};
///
/// async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
///     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
/// }
///
/// // The connection actor of a `TcpServer`.
/// async fn conn(mut ctx: Context<(), ThreadLocal>, stream: TcpStream) -> Result<(), hyper::Error> {
///     let timer = HyperTimer::new(ctx.runtime());
///     let conn = http1::Builder::new()
///         .timer(timer)
///         .serve_connection(stream, service_fn(hello));
///     http::graceful(&ctx, conn).await
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let mut runtime = Runtime::setup().build()?;
///     let addr = "127.0.0.1:8080".parse()?;
///     let server = TcpServer::setup(addr, NoSupervisor, actor_fn(conn), ActorOptions::default())?;
///     runtime.run_on_workers(move |mut rt: RuntimeRef| {
///         let _ = rt.spawn_local(RestartSupervisor::new(()), server.clone(), (), ActorOptions::default());
///     });
///     Ok(runtime.start()?)
/// }
/// ```
///
/// # Upgrades
///
/// An upgradeable connection (`with_upgrades()`, for WebSocket or
/// `Connection: upgrade`) needs a thread-safe connection actor, and its
/// `graceful` returns at the upgrade: the upgraded connection is then the
/// future's that awaited `hyper::upgrade::on`, which a graceful shutdown
/// leaves open (see the [`GracefulConnection`] implementation). That
/// future waits for the shutdown itself:
///
/// ```no_run
/// use std::convert::Infallible;
/// use bytes::Bytes;
/// use hearth::actor::Context;
/// use hearth::http::{self, HyperTimer};
/// use hearth::net::TcpStream;
/// use hearth::ThreadSafe;
/// use http_body_util::Empty;
/// use hyper::server::conn::http1;
/// use hyper::service::service_fn;
/// use hyper::upgrade::Upgraded;
/// use hyper::{Request, Response, StatusCode};
///
/// /// Speaks the upgraded protocol until the client closes or the runtime
/// /// stops (`stopping` resolves), then says goodbye.
/// async fn talk(upgraded: Upgraded, stopping: hearth::ShuttingDown) {
///     # let _ = (upgraded, stopping);
/// }
///
/// async fn conn(ctx: Context<(), ThreadSafe>, stream: TcpStream<ThreadSafe>) -> Result<(), hyper::Error> {
///     let rt = ctx.runtime_ref().clone();
///     let service = service_fn(move |mut req: Request<hyper::body::Incoming>| {
///         let rt = rt.clone();
///         async move {
///             let upgrade = hyper::upgrade::on(&mut req);
///             let stopping = rt.shutting_down();
///             let talking = async move {
///                 if let Ok(upgraded) = upgrade.await {
///                     talk(upgraded, stopping).await;
///                 }
///             };
///             rt.spawn_future(talking, hearth::FutureOptions::default());
///             let response = Response::builder()
///                 .status(StatusCode::SWITCHING_PROTOCOLS)
///                 .header("connection", "upgrade")
///                 .header("upgrade", "my-protocol")
///                 .body(Empty::<Bytes>::new())
///                 .unwrap();
///             Ok::<_, Infallible>(response)
///         }
///     });
///     let conn = http1::Builder::new()
///         .timer(HyperTimer::thread_safe(ctx.runtime_ref().clone()))
///         .serve_connection(stream, service)
///         .with_upgrades();
///     http::graceful(&ctx, conn).await
/// }
/// # let _ = conn;
/// ```
pub async fn graceful<M, RT, C>(ctx: &Context<M, RT>, conn: C) -> C::Output
where
    C: GracefulConnection,
{
    let mut conn = pin!(conn);
    let mut asked = false;
    // Every process is woken when the shutdown begins, so checking on each
    // poll is enough.
    poll_fn(|cx| {
        if !asked && ctx.is_stopping() {
            asked = true;
            conn.as_mut().graceful_shutdown();
        }
        conn.as_mut().poll(cx)
    })
    .await
}
