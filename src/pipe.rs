//! Unix pipes for actors, as Heph's `pipe` module: a [`Sender`] (the
//! writing end) and a [`Receiver`] (the reading end), made as a pair with
//! [`new`] or from a child process's standard streams
//! ([`Sender::from_child_stdin`], [`Receiver::from_child_stdout`],
//! [`Receiver::from_child_stderr`]), so an actor talks to a program it
//! started without blocking its worker.
//!
//! Like the sockets of [`net`](crate::net), each end is for thread-local
//! actors ([`ThreadLocal`], the default: registered on the worker that
//! made it) or thread-safe ones ([`ThreadSafe`](crate::ThreadSafe):
//! registered on the shared poll, `Send`), as its type parameter says; the
//! runtime access it is made with decides ([`SocketAccess`]).
//!
//! # Examples
//!
//! An actor runs `tr a-z A-Z`, writes to it and reads what it prints:
//!
//! ```
//! use std::io;
//! use std::process::{Command, Stdio};
//!
//! use hearth::actor::{actor_fn, Context};
//! use hearth::pipe::{Receiver, Sender};
//! use hearth::supervisor::NoSupervisor;
//! use hearth::{ActorOptions, Runtime, ThreadSafe};
//!
//! async fn shout(mut ctx: Context<(), ThreadSafe>) -> io::Result<()> {
//!     let mut child = Command::new("tr")
//!         .args(["a-z", "A-Z"])
//!         .stdin(Stdio::piped())
//!         .stdout(Stdio::piped())
//!         .spawn()?;
//!     let mut stdin = Sender::from_child_stdin(ctx.runtime(), child.stdin.take().unwrap())?;
//!     let mut stdout = Receiver::from_child_stdout(ctx.runtime(), child.stdout.take().unwrap())?;
//!     stdin.write_all(b"hello\n").await?;
//!     // Its end of input: tr then prints the rest and exits.
//!     drop(stdin);
//!     let mut out = Vec::new();
//!     let mut buf = [0; 64];
//!     loop {
//!         match stdout.read(&mut buf).await? {
//!             0 => break,
//!             n => out.extend_from_slice(&buf[..n]),
//!         }
//!     }
//!     assert_eq!(out, b"HELLO\n");
//!     child.wait()?;
//!     Ok(())
//! }
//!
//! # fn main() -> Result<(), hearth::Error> {
//! let mut runtime = Runtime::setup().build()?;
//! let _ = runtime.spawn(NoSupervisor, actor_fn(shout), (), ActorOptions::default());
//! runtime.start()
//! # }
//! ```

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::process::{ChildStderr, ChildStdin, ChildStdout};
use std::task::{self, Poll};

use mio::Interest;
use mio::unix::pipe;

use crate::ThreadLocal;
use crate::bytes::{Bytes, BytesVectored};
use crate::net::mode::private::Io;
use crate::net::stalled::StalledWrite;
use crate::net::stream_io::Fill;
use crate::net::{SocketAccess, SocketMode, stream_io};

/// Makes a pipe: what is written to the [`Sender`] is read from the
/// [`Receiver`], both for the actors of `rt`'s kind.
///
/// # Errors
///
/// If the pipe cannot be made (too many open files) or registered.
pub fn new<RT, A>(rt: &mut A) -> io::Result<(Sender<RT>, Receiver<RT>)>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let (sender, receiver) = pipe::new()?;
    Ok((
        Sender::register(rt, sender)?,
        Receiver::register(rt, receiver)?,
    ))
}

/// The writing end of a pipe.
pub struct Sender<RT: SocketMode = ThreadLocal> {
    io: RT::Io<pipe::Sender>,
    /// The stalled-write limit of [`Sender::poll_write`].
    stalled: StalledWrite<RT::Handle>,
}

impl<RT: SocketMode> Sender<RT> {
    /// Takes over a child process's standard input (made with
    /// `Stdio::piped()`); it is made non-blocking.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn from_child_stdin<A>(rt: &mut A, stdin: ChildStdin) -> io::Result<Sender<RT>>
    where
        A: SocketAccess<RT>,
    {
        let sender = pipe::Sender::from(stdin);
        sender.set_nonblocking(true)?;
        Sender::register(rt, sender)
    }

    fn register<A: SocketAccess<RT>>(rt: &mut A, sender: pipe::Sender) -> io::Result<Sender<RT>> {
        Ok(Sender {
            io: RT::register(rt.socket_handle(), sender, Interest::WRITABLE)?,
            stalled: StalledWrite::default(),
        })
    }

    /// Writes some of `buf`, waiting until the pipe has room; returns how
    /// much.
    ///
    /// # Errors
    ///
    /// The OS error: `BrokenPipe` once the reading end is closed; and
    /// [`io::ErrorKind::TimedOut`] once a graceful shutdown began and the
    /// reader took nothing for
    /// [`Setup::stalled_write_limit`](crate::Setup::stalled_write_limit).
    pub fn write(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> {
        stream_io::write(&mut self.io, buf)
    }

    /// The poll form of [`Sender::write`], for adapters to other I/O
    /// traits.
    ///
    /// # Errors
    ///
    /// As [`Sender::write`].
    pub fn poll_write(
        &mut self,
        cx: &mut task::Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        stream_io::poll_write(&mut self.io, &mut self.stalled, cx, buf)
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    ///
    /// As [`Sender::write`].
    pub fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all(&mut self.io, buf)
    }

    /// Writes some of `bufs`, in order, with one system call when the pipe
    /// has room; returns how much.
    ///
    /// # Errors
    ///
    /// As [`Sender::write`].
    pub fn write_vectored(
        &mut self,
        bufs: &[IoSlice<'_>],
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::write_vectored(&mut self.io, bufs)
    }

    /// Writes all of `bufs`, using vectored writes.
    ///
    /// # Errors
    ///
    /// As [`Sender::write`].
    pub fn write_all_vectored(
        &mut self,
        bufs: &mut [IoSlice<'_>],
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all_vectored(&mut self.io, bufs)
    }

    /// Writes some of `buf`, as Heph's `send`: [`Sender::write`].
    ///
    /// # Errors
    ///
    /// As [`Sender::write`].
    pub fn send(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> {
        stream_io::write(&mut self.io, buf)
    }

    /// Writes all of `buf`, as Heph's `send_all`: [`Sender::write_all`].
    ///
    /// # Errors
    ///
    /// As [`Sender::write_all`].
    pub fn send_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all(&mut self.io, buf)
    }

    /// Writes some of `bufs` with one system call, as Heph's
    /// `send_vectored`: [`Sender::write_vectored`].
    ///
    /// # Errors
    ///
    /// As [`Sender::write`].
    pub fn send_vectored(
        &mut self,
        bufs: &[IoSlice<'_>],
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::write_vectored(&mut self.io, bufs)
    }

    /// Writes all of `bufs`, as Heph's `send_all_vectored`:
    /// [`Sender::write_all_vectored`].
    ///
    /// # Errors
    ///
    /// As [`Sender::write`].
    pub fn send_all_vectored(
        &mut self,
        bufs: &mut [IoSlice<'_>],
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all_vectored(&mut self.io, bufs)
    }
}

impl<RT: SocketMode> fmt::Debug for Sender<RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("pipe", self.io.get())
            .finish_non_exhaustive()
    }
}

/// The reading end of a pipe.
pub struct Receiver<RT: SocketMode = ThreadLocal> {
    io: RT::Io<pipe::Receiver>,
}

impl<RT: SocketMode> Receiver<RT> {
    /// Takes over a child process's standard output (made with
    /// `Stdio::piped()`); it is made non-blocking.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn from_child_stdout<A>(rt: &mut A, stdout: ChildStdout) -> io::Result<Receiver<RT>>
    where
        A: SocketAccess<RT>,
    {
        Receiver::take(rt, pipe::Receiver::from(stdout))
    }

    /// Takes over a child process's standard error (made with
    /// `Stdio::piped()`); it is made non-blocking.
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn from_child_stderr<A>(rt: &mut A, stderr: ChildStderr) -> io::Result<Receiver<RT>>
    where
        A: SocketAccess<RT>,
    {
        Receiver::take(rt, pipe::Receiver::from(stderr))
    }

    fn take<A: SocketAccess<RT>>(rt: &mut A, receiver: pipe::Receiver) -> io::Result<Receiver<RT>> {
        receiver.set_nonblocking(true)?;
        Receiver::register(rt, receiver)
    }

    fn register<A: SocketAccess<RT>>(
        rt: &mut A,
        receiver: pipe::Receiver,
    ) -> io::Result<Receiver<RT>> {
        Ok(Receiver {
            io: RT::register(rt.socket_handle(), receiver, Interest::READABLE)?,
        })
    }

    /// Reads into `buf`, waiting until the pipe has data; 0 means every
    /// writing end is closed and all was read.
    pub fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> {
        stream_io::read(&mut self.io, buf)
    }

    /// The poll form of [`Receiver::read`], for adapters to other I/O
    /// traits.
    pub fn poll_read(
        &mut self,
        cx: &mut task::Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        stream_io::poll_read(&mut self.io, cx, buf)
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the writing ends closed before that.
    pub fn read_exact(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<()>> {
        stream_io::read_exact(&mut self.io, buf)
    }

    /// Reads into `bufs`, in order, with one system call.
    pub fn read_vectored(
        &mut self,
        bufs: &mut [IoSliceMut<'_>],
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::read_vectored(&mut self.io, bufs)
    }

    /// Reads into `buf`'s room (a `Vec<u8>`'s spare capacity, which grows
    /// its length by what came; all of a slice), as Heph's `recv`: how
    /// many bytes, 0 when every writing end is closed and all was read.
    /// Pass `&mut buf` to keep the buffer.
    ///
    /// # Errors
    ///
    /// The OS error; `InvalidInput` for a buffer with no room (a vector
    /// full to its capacity), before any system call, as its 0 would read
    /// as the end.
    pub fn recv<B: Bytes>(&mut self, buf: B) -> impl Future<Output = io::Result<usize>> {
        stream_io::RecvBytes::once(
            &mut self.io,
            stream_io::One(buf),
            Fill::Read,
            "recv",
            stream_io::count,
        )
    }

    /// Reads at least `n` bytes into `buf`'s room, as Heph's `recv_n`.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the writing ends closed first (a vector keeps
    /// the bytes that came); `InvalidInput` if `buf` has room for fewer
    /// than `n` bytes; the OS error.
    pub fn recv_n<B: Bytes>(&mut self, buf: B, n: usize) -> impl Future<Output = io::Result<()>> {
        stream_io::RecvBytes::at_least(&mut self.io, stream_io::One(buf), n, Fill::Read, "recv_n")
    }

    /// Reads into the rooms of `bufs`, in order, with one system call, as
    /// Heph's `recv_vectored`.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv`].
    pub fn recv_vectored<B: BytesVectored>(
        &mut self,
        bufs: B,
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::RecvBytes::once(
            &mut self.io,
            bufs,
            Fill::Read,
            "recv_vectored",
            stream_io::count,
        )
    }

    /// Reads at least `n` bytes into the rooms of `bufs`, in order, as
    /// Heph's `recv_n_vectored`.
    ///
    /// # Errors
    ///
    /// As [`Receiver::recv_n`].
    pub fn recv_n_vectored<B: BytesVectored>(
        &mut self,
        bufs: B,
        n: usize,
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::RecvBytes::at_least(&mut self.io, bufs, n, Fill::Read, "recv_n_vectored")
    }
}

impl<RT: SocketMode> fmt::Debug for Receiver<RT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("pipe", self.io.get())
            .finish()
    }
}
