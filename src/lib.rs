//! hearth: an actor runtime for Linux servers, in the style of Heph, on
//! `mio` and stable Rust.
//!
//! # A guided tour
//!
//! - A [`Runtime`] is built with [`Runtime::setup`]: a number of worker
//!   threads, each with its own `mio::Poll`, plus a coordinator (the thread
//!   that calls [`Runtime::start`]) that watches them.
//! - An actor is an async function taking an [`actor::Context`]; turn it
//!   into something spawnable with [`actor::actor_fn`].
//! - Spawn thread-local actors on a worker through its [`RuntimeRef`]
//!   (see [`Runtime::run_on_workers`]), thread-safe actors with
//!   [`Runtime::spawn`], and blocking code as sync actors with
//!   [`Runtime::spawn_sync_actor`].
//! - Talk to actors through an [`ActorRef`]: [`send`](ActorRef::send)
//!   waits for room in the bounded inbox, [`try_send`](ActorRef::try_send)
//!   does not, [`rpc`](ActorRef::rpc) makes a request and awaits the
//!   answer. [`ActorGroup`] delivers to all or to one.
//! - A [`supervisor`] decides what happens when an actor fails or panics.
//! - [`net`] has TCP, UDP and Unix domain sockets, [`net::TcpServer`] and
//!   [`net::UnixServer`]; the TCP and UDP sockets work in thread-local and
//!   thread-safe actors alike ([`net::SocketMode`]). [`systemd`] tells the
//!   service manager how the runtime is doing and takes the sockets it
//!   passes. [`pipe`] has Unix pipes, to talk to child processes. The
//!   streams, pipes and UDP sockets also receive into Heph's buffers
//!   ([`bytes`]: a `Vec<u8>`'s spare capacity, appended to). With
//!   the `hyper` feature, `hearth::http` serves hyper's
//!   HTTP/1 and HTTP/2 from a server's connection actors.
//!
//! # Examples
//!
//! ```
//! use hearth::actor::{actor_fn, Context};
//! use hearth::supervisor::NoSupervisor;
//! use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal};
//!
//! async fn greeter(mut ctx: Context<String, ThreadLocal>) {
//!     while let Ok(name) = ctx.receive_next().await {
//!         println!("Hello, {name}!");
//!     }
//! }
//!
//! fn main() -> Result<(), hearth::Error> {
//!     let mut runtime = Runtime::setup().build()?;
//!     runtime.run_on_workers(|mut rt: RuntimeRef| {
//!         let greeter = rt.spawn_local(NoSupervisor, actor_fn(greeter), (), ActorOptions::default());
//!         greeter.try_send("World".to_owned())
//!     });
//!     runtime.start()
//! }
//! ```

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    unused_results
)]
#![cfg_attr(test, deny(warnings))]
#![doc(test(attr(deny(warnings))))]

pub mod actor;
pub mod actor_ref;
pub mod bytes;
mod coordinator;
mod error;
#[cfg(feature = "hyper")]
pub mod http;
mod inbox;
pub mod log;
pub mod metrics;
pub mod net;
pub mod pipe;
pub mod remote;
mod runtime;
mod scheduler;
mod setup;
pub mod signal;
pub mod supervisor;
mod sync_worker;
mod sys;
pub mod systemd;
#[cfg(feature = "test")]
pub mod test;
pub mod timer;
pub mod trace;
mod worker;

#[doc(no_inline)]
pub use actor_ref::{ActorGroup, ActorRef, Delivery};
pub use error::{Error, exit_code};
pub use inbox::{NoMessages, RecvError};
pub use runtime::{
    Access, ActorOptions, FutureOptions, IntoAccess, Priority, Runtime, RuntimeRef, ShuttingDown,
    Spawn, ThreadLocal, ThreadSafe, WorkerResult,
};
pub use setup::Setup;
pub use signal::Signal;
