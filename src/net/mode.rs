//! [`SocketMode`] and [`SocketAccess`]: which actors a socket is for, and
//! so where it is registered.
//!
//! A socket's type parameter is the runtime access of the actors that use
//! it: [`ThreadLocal`] (the default) registers it on the poll of the worker
//! that made it, with no lock or atomic operation on its path, and it is
//! not `Send`; [`ThreadSafe`] registers it on the runtime's shared poll,
//! which every worker polls, so it is `Send` and the actor using it may run
//! on any worker (`worker/shared_sources.rs`). The constructors take the
//! runtime access that makes the socket ([`SocketAccess`]): a
//! [`RuntimeRef`] or a [`ThreadLocal`] makes thread-local sockets, a
//! [`ThreadSafe`] thread-safe ones.
//!
//! A thread-local socket made on a worker pinned to a CPU
//! ([`Setup::auto_cpu_affinity`](crate::Setup::auto_cpu_affinity)) gets
//! that CPU as its `SO_INCOMING_CPU` when it is registered: a listener in a
//! `SO_REUSEPORT` group then gets the connections whose packets the kernel
//! handles on its worker's CPU. An unpinned worker, and a thread-safe
//! socket (whose actor may run anywhere), make no extra system call.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{self, Poll};
use std::time::Duration;

use log::{debug, warn};
use mio::Interest;
use mio::event::Source;

use super::shared_source::SharedRegistered;
use super::source::Registered;
use crate::worker::sources::Direction;
use crate::{Access, RuntimeRef, ThreadLocal, ThreadSafe, sys};

/// The runtime access of the actors that use a socket, as the socket's
/// type parameter: [`ThreadLocal`] (the default) or [`ThreadSafe`].
/// Sealed.
///
/// Choose [`ThreadSafe`] when connections should go to whichever worker is
/// free, [`ThreadLocal`] when they may stay where they are made; see
/// [`TcpServer`](super::TcpServer) for what each costs.
pub trait SocketMode: private::SealedMode {}

impl SocketMode for ThreadLocal {}

impl SocketMode for ThreadSafe {}

/// What a socket is made with: a [`RuntimeRef`] or [`ThreadLocal`] makes
/// thread-local sockets (`SocketAccess<ThreadLocal>`), a [`ThreadSafe`]
/// thread-safe ones (`SocketAccess<ThreadSafe>`). Sealed.
pub trait SocketAccess<RT: SocketMode>: private::SealedAccess<RT> {}

impl SocketAccess<ThreadLocal> for RuntimeRef {}

impl SocketAccess<ThreadLocal> for ThreadLocal {}

impl SocketAccess<ThreadSafe> for ThreadSafe {}

pub(crate) mod private {
    use super::{
        Access, AsFd, Direction, Duration, Interest, Poll, Registered, RuntimeRef,
        SharedRegistered, Source, ThreadLocal, ThreadSafe, io, steer_to_cpu, task,
    };

    /// The hidden side of [`SocketMode`](super::SocketMode).
    pub trait SealedMode: Sized + 'static {
        /// What registers this mode's sockets (and runs their timers).
        type Handle: Access;
        /// A source registered in this mode.
        type Io<S: Source>: Io<S, Handle = Self::Handle>;

        /// Registers `source` for `interest`.
        fn register<S: Source + AsFd>(
            handle: &Self::Handle,
            source: S,
            interest: Interest,
        ) -> io::Result<Self::Io<S>>;
    }

    /// The hidden side of [`SocketAccess`](super::SocketAccess).
    pub trait SealedAccess<RT: SealedMode> {
        /// What registers the sockets it makes.
        fn socket_handle(&self) -> &RT::Handle;
    }

    /// A registered source: the system call and the readiness bookkeeping
    /// around it.
    pub trait Io<S> {
        /// What registered it.
        type Handle: Access;

        /// The source.
        fn get(&self) -> &S;

        /// What registered it, to register more sources the same way.
        fn handle(&self) -> &Self::Handle;

        /// True once the runtime began a graceful shutdown.
        fn is_stopping(&self) -> bool;

        /// `Setup::stalled_write_limit`.
        fn stalled_write_limit(&self) -> Duration;

        /// Runs the non-blocking operation `op` if the source may be ready
        /// in `direction`, until it does not return `WouldBlock`, where
        /// `drained` tells from a result that the source has no more to
        /// give (a short read or write): the next call then waits for an
        /// event instead of making a system call that would only say
        /// `WouldBlock`. When the source is not ready, registers the task
        /// to be woken by the next event.
        fn poll_io_drained<T>(
            &mut self,
            direction: Direction,
            cx: &mut task::Context<'_>,
            op: impl FnMut(&mut S) -> io::Result<T>,
            drained: impl Fn(&T) -> bool,
        ) -> Poll<io::Result<T>>;

        /// [`Io::poll_io_drained`] with no result taken as drained.
        fn poll_io<T>(
            &mut self,
            direction: Direction,
            cx: &mut task::Context<'_>,
            op: impl FnMut(&mut S) -> io::Result<T>,
        ) -> Poll<io::Result<T>> {
            self.poll_io_drained(direction, cx, op, |_| false)
        }
    }

    impl SealedMode for ThreadLocal {
        type Handle = RuntimeRef;
        type Io<S: Source> = Registered<S>;

        fn register<S: Source + AsFd>(
            rt: &RuntimeRef,
            source: S,
            interest: Interest,
        ) -> io::Result<Registered<S>> {
            if let Some(cpu) = rt.cpu() {
                steer_to_cpu(source.as_fd(), cpu);
            }
            Registered::new(rt, source, interest)
        }
    }

    impl SealedMode for ThreadSafe {
        type Handle = ThreadSafe;
        type Io<S: Source> = SharedRegistered<S>;

        fn register<S: Source + AsFd>(
            rt: &ThreadSafe,
            source: S,
            interest: Interest,
        ) -> io::Result<SharedRegistered<S>> {
            SharedRegistered::new(rt, source, interest)
        }
    }

    impl SealedAccess<ThreadLocal> for RuntimeRef {
        fn socket_handle(&self) -> &RuntimeRef {
            self
        }
    }

    impl SealedAccess<ThreadLocal> for ThreadLocal {
        fn socket_handle(&self) -> &RuntimeRef {
            self
        }
    }

    impl SealedAccess<ThreadSafe> for ThreadSafe {
        fn socket_handle(&self) -> &ThreadSafe {
            self
        }
    }
}

/// Set once the kernel said it has no `SO_INCOMING_CPU`: no more tries.
static NO_INCOMING_CPU: AtomicBool = AtomicBool::new(false);

/// Sets `SO_INCOMING_CPU` of a socket made on a worker pinned to `cpu`. A
/// failure only costs the steering, so it is logged, not returned; a
/// kernel without the option is told once and not asked again.
fn steer_to_cpu(socket: BorrowedFd<'_>, cpu: usize) {
    if NO_INCOMING_CPU.load(Ordering::Relaxed) {
        return;
    }
    match sys::set_incoming_cpu(socket, cpu) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(libc::ENOPROTOOPT) => {
            if !NO_INCOMING_CPU.swap(true, Ordering::Relaxed) {
                warn!(error:% = err; "the kernel has no SO_INCOMING_CPU: sockets are not steered to their worker's CPU");
            }
        }
        Err(err) => debug!(cpu = cpu, error:% = err; "unable to set SO_INCOMING_CPU"),
    }
}
