//! Unix stream connection: its reads and writes are those of every stream
//! (`stream_io.rs`), down to peeks, vectored reads and `sendfile(2)`.

use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{self, Poll};

use mio::Interest;

use super::socket_file::describe;
use crate::RuntimeRef;
use crate::bytes::{Bytes, BytesVectored};
use crate::net::mode::private::Io;
use crate::net::server::Counted;
use crate::net::source::Registered;
use crate::net::stalled::StalledWrite;
use crate::net::stream_io;

/// A Unix stream connection, registered on the worker of the actor that
/// made it: the counterpart of [`TcpStream`](crate::net::TcpStream), with
/// the same reads, writes and stalled-write limit.
pub struct UnixStream {
    /// For a [`UnixServer`](crate::net::UnixServer)'s connection: its place
    /// in the server's count of open connections per worker. Dropped
    /// before the socket.
    _counted: Option<Counted>,
    io: Registered<mio::net::UnixStream>,
    /// The stalled-write limit of the `poll_write*` calls, kept from one
    /// call to the next while a write waits.
    stalled: StalledWrite<RuntimeRef>,
}

impl UnixStream {
    /// Connects to the socket at the file system path `path`.
    ///
    /// # Errors
    ///
    /// The OS error, with the path, e.g. `connect /run/app.sock: No such
    /// file or directory (os error 2)`. A listener whose backlog is full
    /// refuses at once with [`io::ErrorKind::WouldBlock`] (a Unix socket
    /// has no connection in progress to wait for): try again later.
    #[allow(clippy::unused_async)] // The shape of `TcpStream::connect`, which waits.
    pub async fn connect<P: AsRef<Path>>(rt: &mut RuntimeRef, path: P) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let stream = mio::net::UnixStream::connect(path)
            .map_err(|err| connect_error(&path.display().to_string(), err))?;
        UnixStream::register_counted(rt, stream, None)
    }

    /// Connects to `addr`: a path, or on Linux an abstract name.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::connect`].
    #[allow(clippy::unused_async)] // As `connect`.
    pub async fn connect_addr(rt: &mut RuntimeRef, addr: &SocketAddr) -> io::Result<UnixStream> {
        let stream = mio::net::UnixStream::connect_addr(addr)
            .map_err(|err| connect_error(&describe(addr), err))?;
        UnixStream::register_counted(rt, stream, None)
    }

    /// A pair of connected streams, both registered on this worker.
    pub fn pair(rt: &mut RuntimeRef) -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((
            UnixStream::register_counted(rt, a, None)?,
            UnixStream::register_counted(rt, b, None)?,
        ))
    }

    /// Takes over a connected std stream; it is made non-blocking.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered.
    pub fn from_std(
        rt: &mut RuntimeRef,
        stream: std::os::unix::net::UnixStream,
    ) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::register_counted(rt, mio::net::UnixStream::from_std(stream), None)
    }

    /// Registers `stream` on this worker; `counted` (a server's count of
    /// the worker's connections) goes down when the stream is dropped.
    pub(crate) fn register_counted(
        rt: &RuntimeRef,
        stream: mio::net::UnixStream,
        counted: Option<Counted>,
    ) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Registered::new(rt, stream, Interest::READABLE | Interest::WRITABLE)?,
            _counted: counted,
            stalled: StalledWrite::default(),
        })
    }

    /// Reads into `buf`; 0 means the peer closed its side.
    pub fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> {
        stream_io::read(&mut self.io, buf)
    }

    /// Reads into `buf` if the socket has data (or its end) to give, or
    /// registers `cx` to be woken when it may have: the poll form of
    /// [`UnixStream::read`], for adapters to other I/O traits. `Ok(0)`
    /// means the peer closed its side.
    pub fn poll_read(
        &mut self,
        cx: &mut task::Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        stream_io::poll_read(&mut self.io, cx, buf)
    }

    /// [`UnixStream::poll_read`] into a buffer that need not be
    /// initialised, for hyper's reads.
    #[cfg(feature = "hyper")]
    pub(crate) fn poll_read_uninit(
        &mut self,
        cx: &mut task::Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        stream_io::poll_read_uninit(&mut self.io, cx, buf)
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the peer closed before that.
    pub fn read_exact(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<()>> {
        stream_io::read_exact(&mut self.io, buf)
    }

    /// Reads into `buf`'s room without taking the bytes (`MSG_PEEK`): the
    /// next read gets them again. `buf` is a [`Bytes`] buffer: a byte
    /// slice or array (all of it), or a `Vec<u8>`'s spare capacity, which
    /// grows its length by what came, as Heph's `peek` takes it. Waits for
    /// data as [`UnixStream::read`] does; 0 means the peer closed its side.
    ///
    /// # Errors
    ///
    /// The OS error; `InvalidInput` for a buffer with no room (a vector
    /// full to its capacity: its initialised bytes are not the room).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::UnixStream;
    /// use hearth::RuntimeRef;
    ///
    /// async fn sniff(mut rt: RuntimeRef) -> io::Result<()> {
    ///     let (mut client, mut server) = UnixStream::pair(&mut rt)?;
    ///     client.write_all(b"GET / HTTP/1.1\r\n").await?;
    ///     // Look at the first bytes to choose a protocol, then read as usual.
    ///     let mut head = [0; 4];
    ///     let n = server.peek(&mut head).await?;
    ///     assert_eq!(&head[..n], &b"GET "[..n]);
    ///     let mut line = [0; 16];
    ///     server.read_exact(&mut line).await?;
    ///     assert_eq!(&line, b"GET / HTTP/1.1\r\n");
    ///     Ok(())
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut runtime = hearth::Runtime::setup().num_threads(1).build()?;
    /// # let (done, outcome) = std::sync::mpsc::channel();
    /// # runtime.run_on_workers(move |mut rt: RuntimeRef| {
    /// #     let future = sniff(rt.clone());
    /// #     rt.spawn_local_future(async move {
    /// #         let _ = done.send(future.await);
    /// #     }, hearth::FutureOptions::default());
    /// # });
    /// # runtime.start()?;
    /// # outcome.recv()??; // Nothing sent: the future panicked.
    /// # Ok(())
    /// # }
    /// ```
    pub fn peek<B: Bytes>(&mut self, buf: B) -> impl Future<Output = io::Result<usize>> {
        stream_io::RecvBytes::once(
            &mut self.io,
            stream_io::One(buf),
            stream_io::Fill::Peek,
            "peek",
            stream_io::count,
        )
    }

    /// Reads into the buffers, in order, with one system call (`readv`),
    /// returning how much; 0 means the peer closed its side. The read
    /// counterpart of [`UnixStream::write_vectored`], e.g. to read a fixed
    /// header and the start of a body in one call.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    ///
    /// use hearth::net::UnixStream;
    /// use hearth::RuntimeRef;
    ///
    /// async fn head_and_body(mut rt: RuntimeRef) -> io::Result<()> {
    ///     let (mut client, mut server) = UnixStream::pair(&mut rt)?;
    ///     client.write_all(b"headbody").await?;
    ///     let (mut head, mut body) = ([0; 4], [0; 16]);
    ///     let mut bufs = [io::IoSliceMut::new(&mut head), io::IoSliceMut::new(&mut body)];
    ///     let mut n = server.read_vectored(&mut bufs).await?;
    ///     while n < 8 {
    ///         n += server.read(&mut body[n - 4..]).await?;
    ///     }
    ///     assert_eq!((&head, &body[..4]), (b"head", &b"body"[..]));
    ///     Ok(())
    /// }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut runtime = hearth::Runtime::setup().num_threads(1).build()?;
    /// # let (done, outcome) = std::sync::mpsc::channel();
    /// # runtime.run_on_workers(move |mut rt: RuntimeRef| {
    /// #     let future = head_and_body(rt.clone());
    /// #     rt.spawn_local_future(async move {
    /// #         let _ = done.send(future.await);
    /// #     }, hearth::FutureOptions::default());
    /// # });
    /// # runtime.start()?;
    /// # outcome.recv()??; // Nothing sent: the future panicked.
    /// # Ok(())
    /// # }
    /// ```
    pub fn read_vectored(
        &mut self,
        bufs: &mut [IoSliceMut<'_>],
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::read_vectored(&mut self.io, bufs)
    }

    /// Writes some of `buf`, returning how much.
    ///
    /// # Errors
    ///
    /// The OS error; and [`io::ErrorKind::TimedOut`] once a graceful
    /// shutdown began and the peer took no data for
    /// [`Setup::stalled_write_limit`](crate::Setup::stalled_write_limit).
    pub fn write(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> {
        stream_io::write(&mut self.io, buf)
    }

    /// Writes some of `buf` if the socket has room, returning how much, or
    /// registers `cx` to be woken when it may have: the poll form of
    /// [`UnixStream::write`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write`]; the stalled-write limit runs from the
    /// first call that had to wait until a call returns `Ready`.
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
    /// As [`UnixStream::write`]; `WriteZero` if the socket took nothing.
    pub fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all(&mut self.io, buf)
    }

    /// Writes some of `bufs` with one system call, returning how much.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write`].
    pub fn write_vectored(
        &mut self,
        bufs: &[IoSlice<'_>],
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::write_vectored(&mut self.io, bufs)
    }

    /// The poll form of [`UnixStream::write_vectored`], as
    /// [`UnixStream::poll_write`] is of [`UnixStream::write`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::poll_write`].
    pub fn poll_write_vectored(
        &mut self,
        cx: &mut task::Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        stream_io::poll_write_vectored(&mut self.io, &mut self.stalled, cx, bufs)
    }

    /// Writes all of `bufs`, using vectored writes.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write_all`].
    pub fn write_all_vectored(
        &mut self,
        bufs: &mut [IoSlice<'_>],
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all_vectored(&mut self.io, bufs)
    }

    /// Receives into `buf`'s room (a `Vec<u8>`'s spare capacity, which
    /// grows its length by what came; all of a slice), as Heph's `recv`:
    /// how many bytes, 0 when the peer closed its side. Pass `&mut buf` to
    /// keep the buffer. The same read as [`UnixStream::read`], into memory
    /// that need not be initialised.
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
            stream_io::Fill::Recv,
            "recv",
            stream_io::count,
        )
    }

    /// Receives at least `n` bytes into `buf`'s room, as Heph's `recv_n`,
    /// in as many receives as it takes.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the peer closed its side first (a vector keeps
    /// the bytes that came); `InvalidInput` if `buf` has room for fewer
    /// than `n` bytes; the OS error.
    pub fn recv_n<B: Bytes>(&mut self, buf: B, n: usize) -> impl Future<Output = io::Result<()>> {
        stream_io::RecvBytes::at_least(
            &mut self.io,
            stream_io::One(buf),
            n,
            stream_io::Fill::Recv,
            "recv_n",
        )
    }

    /// Receives into the rooms of `bufs`, in order, with one system call,
    /// as Heph's `recv_vectored`: how many bytes, 0 when the peer closed
    /// its side.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::recv`].
    pub fn recv_vectored<B: BytesVectored>(
        &mut self,
        bufs: B,
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::RecvBytes::once(
            &mut self.io,
            bufs,
            stream_io::Fill::Recv,
            "recv_vectored",
            stream_io::count,
        )
    }

    /// Receives at least `n` bytes into the rooms of `bufs`, in order, as
    /// Heph's `recv_n_vectored`.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::recv_n`].
    pub fn recv_n_vectored<B: BytesVectored>(
        &mut self,
        bufs: B,
        n: usize,
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::RecvBytes::at_least(
            &mut self.io,
            bufs,
            n,
            stream_io::Fill::Recv,
            "recv_n_vectored",
        )
    }

    /// [`UnixStream::peek`] into the rooms of `bufs`, in order, as Heph's
    /// `peek_vectored`.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::peek`].
    pub fn peek_vectored<B: BytesVectored>(
        &mut self,
        bufs: B,
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::RecvBytes::once(
            &mut self.io,
            bufs,
            stream_io::Fill::Peek,
            "peek_vectored",
            stream_io::count,
        )
    }

    /// Sends some of `buf`, as Heph's `send`: [`UnixStream::write`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write`].
    pub fn send(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> {
        stream_io::write(&mut self.io, buf)
    }

    /// Sends all of `buf`, as Heph's `send_all`: [`UnixStream::write_all`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write_all`].
    pub fn send_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all(&mut self.io, buf)
    }

    /// Sends some of `bufs` with one system call, as Heph's
    /// `send_vectored`: [`UnixStream::write_vectored`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write`].
    pub fn send_vectored(
        &mut self,
        bufs: &[IoSlice<'_>],
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::write_vectored(&mut self.io, bufs)
    }

    /// Sends all of `bufs`, as Heph's `send_all_vectored`:
    /// [`UnixStream::write_all_vectored`].
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write_all`].
    pub fn send_all_vectored(
        &mut self,
        bufs: &mut [IoSlice<'_>],
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::write_all_vectored(&mut self.io, bufs)
    }

    /// Sends at most `length` bytes of `file`, from byte `offset` on, with
    /// `sendfile(2)`, as [`TcpStream::send_file`](crate::net::TcpStream::send_file)
    /// does: the kernel copies them from the page cache to the socket.
    /// Returns how many bytes it sent, which may be fewer (as much as the
    /// socket had room for); 0 when `offset` is at or past the end of the
    /// file (or `length` is 0). Waits for room when the socket has none.
    /// The file's own position is neither used nor moved.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::write`]; `InvalidInput` for an offset past
    /// `i64::MAX`; `EINVAL` for a `file` that `sendfile` cannot read from.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use std::io;
    ///
    /// use hearth::net::UnixStream;
    ///
    /// /// Sends what `log` has past `from`, a MiB a call; returns its end.
    /// async fn follow(stream: &mut UnixStream, log: &File, from: u64) -> io::Result<u64> {
    ///     let mut offset = from;
    ///     loop {
    ///         match stream.send_file(log, offset, 1 << 20).await? {
    ///             0 => return Ok(offset),
    ///             n => offset += n as u64,
    ///         }
    ///     }
    /// }
    /// # let _ = follow;
    /// ```
    pub fn send_file(
        &mut self,
        file: &File,
        offset: u64,
        length: usize,
    ) -> impl Future<Output = io::Result<usize>> {
        stream_io::send_file(&mut self.io, file, offset, length)
    }

    /// Sends exactly `length` bytes of `file` from byte `offset` on, with
    /// as many [`UnixStream::send_file`] calls as that takes.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::send_file`]; `UnexpectedEof` if the file ends
    /// before `offset + length` (what was sent until then stays sent).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use std::io;
    ///
    /// use hearth::net::UnixStream;
    ///
    /// /// The records of `table` are 512 bytes each.
    /// async fn send_record(stream: &mut UnixStream, table: &File, index: u64) -> io::Result<()> {
    ///     stream.send_file_all(table, index * 512, 512).await
    /// }
    /// # let _ = send_record;
    /// ```
    pub fn send_file_all(
        &mut self,
        file: &File,
        offset: u64,
        length: usize,
    ) -> impl Future<Output = io::Result<()>> {
        stream_io::send_file_all(&mut self.io, file, offset, length)
    }

    /// Sends all of `file`, from its first byte to its end, with as many
    /// [`UnixStream::send_file`] calls as that takes; returns how many
    /// bytes were sent. A file that grows meanwhile is sent until the end
    /// it has when a call finds no more.
    ///
    /// # Errors
    ///
    /// As [`UnixStream::send_file`]; what was sent before an error stays
    /// sent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use std::io;
    ///
    /// use hearth::net::UnixStream;
    ///
    /// /// The file's length (8 bytes, big-endian), then the file.
    /// async fn send_framed(stream: &mut UnixStream, file: &File) -> io::Result<()> {
    ///     let len = file.metadata()?.len();
    ///     stream.write_all(&len.to_be_bytes()).await?;
    ///     if stream.send_entire_file(file).await? != len {
    ///         return Err(io::Error::other("the file changed size while it was sent"));
    ///     }
    ///     Ok(())
    /// }
    /// # let _ = send_framed;
    /// ```
    pub fn send_entire_file(&mut self, file: &File) -> impl Future<Output = io::Result<u64>> {
        stream_io::send_entire_file(&mut self.io, file)
    }

    /// Shuts down the read side, the write side, or both. A connection
    /// the peer already reset (`ENOTCONN`) is shut down already: that is
    /// not an error, as tokio treats it.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self.io.get().shutdown(how) {
            Err(err) if err.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        }
    }

    /// The address of the peer (unnamed for most clients).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }
}

/// An error of connecting to `addr`, with the address.
fn connect_error(addr: &str, err: io::Error) -> io::Error {
    if err.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(
            err.kind(),
            format!("connect {addr}: {err}: the server's backlog is full, try again later"),
        )
    } else {
        io::Error::new(err.kind(), format!("connect {addr}: {err}"))
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}
