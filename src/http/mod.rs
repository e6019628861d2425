//! HTTP with [hyper] on hearth (feature `hyper`): hyper's runtime traits
//! implemented on hearth's sockets, timers and workers, so a
//! [`TcpServer`](crate::net::TcpServer) connection actor serves any hyper
//! service, over HTTP/1 or HTTP/2, with no tokio at run time.
//!
//! - [`TcpStream`](crate::net::TcpStream), thread-local or thread-safe,
//!   and [`UnixStream`](crate::net::UnixStream) are hyper's I/O
//!   ([`hyper::rt::Read`], [`hyper::rt::Write`]): pass them to
//!   `serve_connection` as they are, from a `TcpServer` or a
//!   [`UnixServer`](crate::net::UnixServer).
//! - [`HyperTimer`] is hyper's [`Timer`](hyper::rt::Timer) on hearth's
//!   timers, for the header-read timeout of HTTP/1 and the keep-alive of
//!   HTTP/2.
//! - [`LocalExecutor`] is hyper's [`Executor`](hyper::rt::Executor): HTTP/2
//!   streams run as futures on the connection's worker
//!   ([`ThreadSafeExecutor`] for thread-safe connections: on any worker).
//! - [`graceful`] runs a connection and finishes it gracefully when the
//!   runtime shuts down.
//!
//! A thread-local connection actor owns its connection from accept to
//! close, on the worker that accepted it: services, their futures and
//! bodies need not be `Send`. A thread-safe one (a server of thread-safe
//! connections, see [`TcpServer`](crate::net::TcpServer)) runs on
//! whichever worker is free, so a connection does not wait for a busy
//! worker; its service must then be `Send`, and its timer is
//! [`HyperTimer::thread_safe`].
//!
//! "No tokio at run time" means no tokio runtime: hyper and its HTTP/2
//! crate, h2, still depend on the `tokio` crate for its synchronisation
//! primitives and I/O traits (features `sync` and `io-util`, no
//! scheduler, reactor or timer), as they do for every hyper user.
//!
//! # tower services
//!
//! A [tower] `Service` (an axum `Router`, say) is served through
//! hyper-util's `service::TowerToHyperService` adapter, which needs only
//! hyper-util's `service` feature, not its tokio glue. axum's `Router` runs
//! this way without any tokio runtime: nothing in routing, extractors or
//! responses reaches for one (built without axum's default features, which
//! only add `axum::serve`, the tokio listener loop). Middleware that does
//! need tokio (tower-http's timeouts, `tokio::spawn` in a handler) panics
//! with "there is no reactor running"; use hearth's timers and spawning
//! there instead.
//!
//! # Examples
//!
//! An HTTP/1 server on every worker (see `examples/http_server.rs` for
//! routes, metrics and shutdown):
//!
//! ```no_run
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use hearth::actor::{actor_fn, Context};
//! use hearth::http::{self, HyperTimer};
//! use hearth::net::{TcpServer, TcpStream};
//! use hearth::supervisor::{NoSupervisor, RestartSupervisor};
//! use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
//! use http_body_util::Full;
//! use hyper::server::conn::http1;
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//!
//! async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     Ok(Response::new(Full::new(Bytes::from_static(b"Hello, World!"))))
//! }
//!
//! async fn conn(mut ctx: Context<(), ThreadLocal>, stream: TcpStream) -> Result<(), hyper::Error> {
//!     let conn = http1::Builder::new()
//!         .timer(HyperTimer::new(ctx.runtime()))
//!         .header_read_timeout(Duration::from_secs(2))
//!         .serve_connection(stream, service_fn(hello));
//!     http::graceful(&ctx, conn).await
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut runtime = Runtime::setup().use_all_cores().build()?;
//!     let addr = "127.0.0.1:8080".parse()?;
//!     let server = TcpServer::setup(addr, NoSupervisor, actor_fn(conn), ActorOptions::default())?;
//!     runtime.run_on_workers(move |mut rt: RuntimeRef| {
//!         let _ = rt.spawn_local(RestartSupervisor::new(()), server.clone(), (), ActorOptions::default());
//!     });
//!     Ok(runtime.start()?)
//! }
//! ```
//!
//! [hyper]: https://hyper.rs
//! [tower]: https://docs.rs/tower

mod executor;
mod graceful;
mod io;
mod timer;

pub use executor::{LocalExecutor, ThreadSafeExecutor};
pub use graceful::{GracefulConnection, graceful};
pub use timer::{HyperSleep, HyperTimer};
