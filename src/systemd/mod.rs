//! Running under systemd: readiness and stop notifications, the service
//! watchdog, status lines, and socket activation. No libsystemd: the
//! protocols are a datagram on a Unix socket and a few environment
//! variables. Nothing happens when the variables are unset, so the same
//! program runs by hand, in a container, or as a service.
//!
//! # What the runtime does by itself
//!
//! When `NOTIFY_SOCKET` is set (`Type=notify`, `Type=notify-reload`),
//! [`Runtime::start`](crate::Runtime::start) tells the service manager:
//!
//! - `READY=1` once every worker runs, that is once the functions given to
//!   [`Runtime::run_on_workers`](crate::Runtime::run_on_workers) before
//!   `start` have run (servers bound with `setup` queue connections from
//!   then on). A runtime that fails before that never says it is ready, so
//!   systemd sees the start fail.
//! - `STOPPING=1` when the runtime begins to stop: a graceful shutdown (a
//!   stop signal, `shutdown()`), a failed thread, or the last actor done.
//! - `WATCHDOG=1` every half of `WATCHDOG_USEC` (`WatchdogSec=`), when
//!   `WATCHDOG_PID` is this process or unset, from the coordinator's poll
//!   loop. The pings stop while a worker is stuck (it has not come back to
//!   its poll for the interval: an actor blocking its thread, an endless
//!   loop), so that systemd kills the wedged service and, with
//!   `Restart=`, starts it again. The log says which worker.
//!
//! Applications add [`status`] lines (`systemctl status` shows the last)
//! and other [`notify`] assignments.
//!
//! The variables stay in the environment (removing them while other
//! threads may read it is not sound), so processes the program starts
//! inherit them. `LISTEN_PID` and `WATCHDOG_PID` name this process, so a
//! child takes no sockets and sends no pings; but a child that runs a
//! hearth runtime of its own sends `READY=1` and `STOPPING=1` too, which
//! systemd ignores under the default `NotifyAccess=main` and obeys under
//! `NotifyAccess=all`. Start such children with
//! `Command::env_remove("NOTIFY_SOCKET")`.
//!
//! # Socket activation
//!
//! [`listeners`] takes the sockets systemd bound for the service; a
//! [`TcpServer`](crate::net::TcpServer) or
//! [`UnixServer`](crate::net::UnixServer) serves one with `from_listener`,
//! all workers accepting from it. The socket stays open while the service
//! restarts, so clients queue instead of being refused, and the service
//! needs no privilege to bind a low port.
//!
//! With `Accept=yes` in the socket unit, systemd accepts the connections
//! itself and starts an instance of a template service (`echo@.service`)
//! per connection, passing it that connection: [`listeners`] then gives
//! one socket of kind [`SocketKind::TcpStream`] or
//! [`SocketKind::UnixStream`], which
//! [`ActivatedSocket::into_tcp_stream`] or
//! [`ActivatedSocket::into_unix_stream`] makes a std stream for
//! [`TcpStream::from_std`](crate::net::TcpStream::from_std) or
//! [`UnixStream::from_std`](crate::net::UnixStream::from_std). The
//! runtime ends, and the instance with it, when its last actor does.
//!
//! # A sample service
//!
//! `/etc/systemd/system/echo.socket`:
//!
//! ```ini
//! [Socket]
//! ListenStream=127.0.0.1:7890
//! # The name `hearth::systemd::listeners` gives the socket.
//! FileDescriptorName=echo
//!
//! [Install]
//! WantedBy=sockets.target
//! ```
//!
//! `/etc/systemd/system/echo.service`:
//!
//! ```ini
//! [Unit]
//! Requires=echo.socket
//! After=echo.socket
//!
//! [Service]
//! # READY=1 and STOPPING=1 come from the runtime.
//! Type=notify
//! ExecStart=/usr/local/bin/echo_server
//! # A ping every 5 s; none for 10 s (a stuck worker) and systemd
//! # kills the service with SIGABRT, then restarts it.
//! WatchdogSec=10s
//! Restart=on-failure
//! # SIGTERM starts the runtime's graceful shutdown; after its grace
//! # period (Setup::grace_period) the runtime stops what is left.
//! KillSignal=SIGTERM
//! TimeoutStopSec=15s
//! ```
//!
//! `systemctl start echo.socket`, and the first connection starts the
//! service. `systemd-socket-activate -l 127.0.0.1:7890 echo_server` does
//! the same by hand, without a unit; `NOTIFY_SOCKET` and the watchdog can
//! be tried with any Unix datagram socket (hearth's own tests do so).

mod activation;
mod notify;
mod service;
mod watchdog;

pub use activation::{ActivatedSocket, ActivationError, SocketKind, WrongSocket, listeners};
pub use notify::{notify, status};

pub(crate) use service::ServiceManager;
