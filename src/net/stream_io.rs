//! Reads and writes of a registered byte stream, for the stream types that
//! share them (`TcpStream`, thread-local or thread-safe, and `UnixStream`):
//! the poll forms, with the readiness bookkeeping of the source (a short
//! read or write waits for the next event; `worker/sources.rs`,
//! `worker/shared_sources.rs`) and the stalled-write limit of a stopping
//! runtime (`stalled.rs`), and the async forms the streams' methods are,
//! from one read or write to the loops of `read_exact` and `write_all`,
//! peeks, vectored reads and `sendfile(2)`; and the receives into
//! [`Bytes`] buffers of Heph's forms (`recv`, `recv_n`, `peek` and their
//! vectored forms), on the same readiness path.

use std::fs::File;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{self, Poll};

use super::mode::private::Io;
use super::stalled::StalledWrite;
use crate::bytes::{Bytes, BytesVectored, Spare};
use crate::sys;
use crate::worker::sources::Direction;

/// Reads into `buf` if the source may have data (or its end), or registers
/// `cx` for the next read event.
pub(crate) fn poll_read<S, I>(
    io: &mut I,
    cx: &mut task::Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>>
where
    S: Read,
    I: Io<S>,
{
    let len = buf.len();
    // A short read drained the socket: the next read waits for an event
    // rather than asking the kernel again.
    let drained = move |n: &usize| *n > 0 && *n < len;
    io.poll_io_drained(Direction::Read, cx, |s| s.read(buf), drained)
}

/// [`poll_read`] into a buffer that need not be initialised (the kernel
/// writes what it returns): the first `n` bytes of `buf` are initialised
/// when this returns `Ready(Ok(n))`.
#[cfg(feature = "hyper")]
pub(crate) fn poll_read_uninit<S, I>(
    io: &mut I,
    cx: &mut task::Context<'_>,
    buf: &mut [std::mem::MaybeUninit<u8>],
) -> Poll<io::Result<usize>>
where
    S: std::os::fd::AsRawFd,
    I: Io<S>,
{
    let len = buf.len();
    let drained = move |n: &usize| *n > 0 && *n < len;
    io.poll_io_drained(
        Direction::Read,
        cx,
        |s| crate::sys::recv_uninit(s, buf),
        drained,
    )
}

/// Writes some of `buf` if the source may have room, or registers `cx` for
/// the next write event; gives up once the runtime is stopping and the
/// write waited too long (see [`StalledWrite`]).
pub(crate) fn poll_write<S, I>(
    io: &mut I,
    stalled: &mut StalledWrite<I::Handle>,
    cx: &mut task::Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>>
where
    S: Write,
    I: Io<S>,
{
    let len = buf.len();
    // A short write filled the socket's buffer.
    let full = move |n: &usize| *n < len;
    let poll = io.poll_io_drained(Direction::Write, cx, |s| s.write(buf), full);
    give_up_if_stalled(io, poll, stalled, cx)
}

/// [`poll_write`] with a vectored write.
pub(crate) fn poll_write_vectored<S, I>(
    io: &mut I,
    stalled: &mut StalledWrite<I::Handle>,
    cx: &mut task::Context<'_>,
    bufs: &[IoSlice<'_>],
) -> Poll<io::Result<usize>>
where
    S: Write,
    I: Io<S>,
{
    let poll = io.poll_io(Direction::Write, cx, |s| s.write_vectored(bufs));
    give_up_if_stalled(io, poll, stalled, cx)
}

/// A write that has to wait fails once the runtime is stopping and it
/// waited too long; a write that is done (or failed) ends the wait, so the
/// next one that has to wait starts a new limit.
fn give_up_if_stalled<S, I: Io<S>>(
    io: &I,
    poll: Poll<io::Result<usize>>,
    stalled: &mut StalledWrite<I::Handle>,
    cx: &mut task::Context<'_>,
) -> Poll<io::Result<usize>> {
    match poll {
        Poll::Pending => match stalled.poll_give_up(
            io.handle(),
            (io.is_stopping(), io.stalled_write_limit()),
            cx,
        ) {
            Some(err) => {
                stalled.reset();
                Poll::Ready(Err(err))
            }
            None => Poll::Pending,
        },
        ready @ Poll::Ready(_) => {
            stalled.reset();
            ready
        }
    }
}

/// Reads into `buf`, waiting for data (or the end); 0 is the end.
pub(crate) async fn read<S, I>(io: &mut I, buf: &mut [u8]) -> io::Result<usize>
where
    S: Read,
    I: Io<S>,
{
    poll_fn(|cx| poll_read(io, cx, buf)).await
}

/// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the stream ends
/// first.
pub(crate) async fn read_exact<S, I>(io: &mut I, mut buf: &mut [u8]) -> io::Result<()>
where
    S: Read,
    I: Io<S>,
{
    while !buf.is_empty() {
        match read(io, buf).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

/// Reads into the buffers, in order, with one system call, waiting for
/// data (or the end); 0 is the end (or buffers with no room).
pub(crate) async fn read_vectored<S, I>(
    io: &mut I,
    bufs: &mut [IoSliceMut<'_>],
) -> io::Result<usize>
where
    S: Read,
    I: Io<S>,
{
    let len: usize = bufs.iter().map(|buf| buf.len()).sum();
    let drained = move |n: &usize| *n > 0 && *n < len;
    poll_fn(|cx| io.poll_io_drained(Direction::Read, cx, |s| s.read_vectored(bufs), drained)).await
}

/// Writes some of `buf`, waiting for room; gives up as [`poll_write`]
/// does.
pub(crate) async fn write<S, I>(io: &mut I, buf: &[u8]) -> io::Result<usize>
where
    S: Write,
    I: Io<S>,
{
    let mut stalled = StalledWrite::default();
    poll_fn(|cx| poll_write(io, &mut stalled, cx, buf)).await
}

/// Writes all of `buf`; `WriteZero` if the stream took nothing.
pub(crate) async fn write_all<S, I>(io: &mut I, mut buf: &[u8]) -> io::Result<()>
where
    S: Write,
    I: Io<S>,
{
    while !buf.is_empty() {
        match write(io, buf).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// [`write`] with a vectored write.
pub(crate) async fn write_vectored<S, I>(io: &mut I, bufs: &[IoSlice<'_>]) -> io::Result<usize>
where
    S: Write,
    I: Io<S>,
{
    let mut stalled = StalledWrite::default();
    poll_fn(|cx| poll_write_vectored(io, &mut stalled, cx, bufs)).await
}

/// Writes all of `bufs` with vectored writes; `WriteZero` if the stream
/// took nothing.
pub(crate) async fn write_all_vectored<S, I>(
    io: &mut I,
    mut bufs: &mut [IoSlice<'_>],
) -> io::Result<()>
where
    S: Write,
    I: Io<S>,
{
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match write_vectored(io, bufs).await? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => IoSlice::advance_slices(&mut bufs, n),
        }
    }
    Ok(())
}

/// The largest count `sendfile(2)` sends in one call (Linux's
/// `MAX_RW_COUNT`); a larger one is cut to it by the kernel.
const SEND_FILE_MAX: usize = 0x7fff_f000;

/// Sends at most `length` bytes of `file` from `offset` on with
/// `sendfile(2)`, waiting for room; gives up as [`poll_write`] does. `Ok(0)`
/// at the end of the file.
pub(crate) async fn send_file<S, I>(
    io: &mut I,
    file: &File,
    offset: u64,
    length: usize,
) -> io::Result<usize>
where
    S: AsFd,
    I: Io<S>,
{
    let mut offset = libc::off_t::try_from(offset).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("send_file: offset {offset} is past the largest file offset (i64::MAX)"),
        )
    })?;
    let mut stalled = StalledWrite::default();
    poll_fn(|cx| {
        // Never taken as a full socket: a short count may be the file's
        // end, after which no write event would come.
        let poll = io.poll_io(Direction::Write, cx, |s| {
            sys::send_file(s.as_fd(), file, &mut offset, length)
        });
        give_up_if_stalled(io, poll, &mut stalled, cx)
    })
    .await
}

/// Sends `length` bytes of `file` from `offset` on with [`send_file`];
/// `UnexpectedEof` if the file ends first.
pub(crate) async fn send_file_all<S, I>(
    io: &mut I,
    file: &File,
    mut offset: u64,
    mut length: usize,
) -> io::Result<()>
where
    S: AsFd,
    I: Io<S>,
{
    while length > 0 {
        match send_file(io, file, offset, length).await? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("send_file_all: the file ends at byte {offset}, {length} bytes short"),
                ));
            }
            n => {
                offset += n as u64;
                length -= n;
            }
        }
    }
    Ok(())
}

/// Sends `file` from its start to its end with [`send_file`]: how many
/// bytes.
pub(crate) async fn send_entire_file<S, I>(io: &mut I, file: &File) -> io::Result<u64>
where
    S: AsFd,
    I: Io<S>,
{
    let mut offset = 0;
    loop {
        match send_file(io, file, offset, SEND_FILE_MAX).await? {
            0 => return Ok(offset),
            n => offset += n as u64,
        }
    }
}

/// How a receive into [`Bytes`] buffers fills them: a socket's `recvmsg`,
/// the same with `MSG_PEEK` (the bytes stay), or a pipe's `readv`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Fill {
    /// `recvmsg(2)`: the bytes are taken.
    Recv,
    /// `recvmsg(2)` with `MSG_PEEK`: the bytes stay for the next receive.
    Peek,
    /// `readv(2)`, for pipes.
    Read,
}

impl Fill {
    /// One system call into `rooms`: how many bytes and, from a socket,
    /// the sender if it has an IP address.
    fn call(self, fd: RawFd, rooms: &mut [Spare<'_>]) -> io::Result<(usize, Option<SocketAddr>)> {
        match self {
            Fill::Recv => sys::recv_spare(fd, rooms, 0),
            Fill::Peek => sys::recv_spare(fd, rooms, libc::MSG_PEEK),
            Fill::Read => sys::read_spare(fd, rooms).map(|n| (n, None)),
        }
    }
}

/// The error of a receive into a buffer with no room: refused before any
/// system call, since a 0 would read as the end of the stream (and a
/// datagram received into no room would be lost).
fn no_room(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{what}: the buffer has no spare capacity (a Vec<u8> receives after its length: reserve room first)"
        ),
    )
}

/// The error of a `recv_n` with less room than `n`.
fn short_room(what: &str, room: usize, n: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}: {n} bytes asked for, but the buffer has room for {room}"),
    )
}

/// One [`Bytes`] buffer as vectored buffers of one, so one receive serves
/// both.
#[derive(Debug)]
pub(crate) struct One<B>(pub(crate) B);

// SAFETY: the one room is `B`'s, the same until its `update_length`
// (`Bytes`'s promise).
unsafe impl<B: Bytes> BytesVectored for One<B> {
    type Bufs<'b>
        = [Spare<'b>; 1]
    where
        Self: 'b;

    fn spares(&mut self) -> [Spare<'_>; 1] {
        [self.0.spare()]
    }

    fn spare_capacity(&self) -> usize {
        self.0.spare_capacity()
    }

    unsafe fn update_lengths(&mut self, n: usize) {
        // SAFETY: the caller's promise, for the one buffer.
        unsafe { self.0.update_length(n) }
    }
}

/// The rooms after their first `n` bytes: the full ones dropped, the
/// first of the others cut.
fn advance_rooms<'r, 'b>(rooms: &'r mut [Spare<'b>], mut n: usize) -> &'r mut [Spare<'b>] {
    let mut full = 0;
    for room in rooms.iter() {
        if n < room.len() {
            break;
        }
        n -= room.len();
        full += 1;
    }
    let rest = &mut rooms[full..];
    if let Some(first) = rest.first_mut() {
        first.advance(n);
    }
    rest
}

/// A receive into [`BytesVectored`] buffers: one system call
/// ([`RecvBytes::once`]: `recv`, `peek`, `recv_from`, ... and their
/// vectored forms), or as many as it takes to get `at_least` bytes
/// ([`RecvBytes::at_least`]: `recv_n`). A named future rather than an
/// `async fn`, so that whether it is `Send` follows from its fields alone
/// (an `async fn` generic over a buffer type that borrows, such as `&mut
/// Vec<u8>`, made the futures of thread-safe actors fail that proof).
///
/// The buffers grow by what came when the receive ends, and also when it
/// is dropped before (a `recv_n` cut short by a deadline keeps the bytes
/// it got).
pub(crate) struct RecvBytes<'a, S, I, B: BytesVectored, T> {
    io: &'a mut I,
    bufs: B,
    how: Fill,
    /// A short result marks the source drained (a stream's receive; never
    /// a peek's or a datagram's).
    drains: bool,
    /// `None` for one system call, else how many bytes to wait for.
    at_least: Option<usize>,
    /// Received, not yet given to `bufs`.
    got: usize,
    what: &'static str,
    output: fn(usize, Option<SocketAddr>) -> io::Result<T>,
    _source: PhantomData<fn() -> S>,
}

impl<'a, S, I, B, T> RecvBytes<'a, S, I, B, T>
where
    S: AsRawFd,
    I: Io<S>,
    B: BytesVectored,
{
    /// One receive, whose count and sender `output` turns into the
    /// result.
    pub(crate) fn once(
        io: &'a mut I,
        bufs: B,
        how: Fill,
        what: &'static str,
        output: fn(usize, Option<SocketAddr>) -> io::Result<T>,
    ) -> Self {
        let drains = how != Fill::Peek;
        RecvBytes {
            io,
            bufs,
            how,
            drains,
            at_least: None,
            got: 0,
            what,
            output,
            _source: PhantomData,
        }
    }

    /// [`RecvBytes::once`] of a datagram: never taken as drained.
    pub(crate) fn datagram(
        io: &'a mut I,
        bufs: B,
        how: Fill,
        what: &'static str,
        output: fn(usize, Option<SocketAddr>) -> io::Result<T>,
    ) -> Self {
        let mut recv = RecvBytes::once(io, bufs, how, what, output);
        recv.drains = false;
        recv
    }
}

impl<'a, S, I, B> RecvBytes<'a, S, I, B, ()>
where
    S: AsRawFd,
    I: Io<S>,
    B: BytesVectored,
{
    /// Receives until `n` bytes came; `UnexpectedEof` if the stream ends
    /// first.
    pub(crate) fn at_least(
        io: &'a mut I,
        bufs: B,
        n: usize,
        how: Fill,
        what: &'static str,
    ) -> Self {
        let mut recv = RecvBytes::once(io, bufs, how, what, |_, _| Ok(()));
        recv.at_least = Some(n);
        recv
    }
}

impl<S, I, B: BytesVectored, T> RecvBytes<'_, S, I, B, T> {
    /// Gives the bytes received so far to the buffers.
    fn commit(&mut self) -> usize {
        let got = std::mem::take(&mut self.got);
        // SAFETY: the kernel wrote the first `got` bytes of the rooms, in
        // order, in the receives of `poll`, each after the last: the rooms
        // are the same from one `spares` to the next until this call, as
        // an implementation of the unsafe trait `BytesVectored` promises.
        unsafe { self.bufs.update_lengths(got) };
        got
    }
}

impl<S, I, B, T> Future for RecvBytes<'_, S, I, B, T>
where
    S: AsRawFd,
    I: Io<S>,
    B: BytesVectored,
{
    type Output = io::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<io::Result<T>> {
        let this = self.get_mut();
        loop {
            let (how, drains, got) = (this.how, this.drains, this.got);
            let poll = {
                let mut spares = this.bufs.spares();
                let all = spares.as_mut();
                let room: usize = all.iter().map(Spare::len).sum();
                if got == 0 {
                    match this.at_least {
                        None if room == 0 => return Poll::Ready(Err(no_room(this.what))),
                        Some(n) if room < n => {
                            return Poll::Ready(Err(short_room(this.what, room, n)));
                        }
                        Some(0) => return Poll::Ready((this.output)(0, None)),
                        _ => {}
                    }
                }
                let rooms = advance_rooms(all, got);
                let len = room - got;
                let drained =
                    move |(n, _): &(usize, Option<SocketAddr>)| drains && *n > 0 && *n < len;
                this.io.poll_io_drained(
                    Direction::Read,
                    cx,
                    |s| how.call(s.as_raw_fd(), rooms),
                    drained,
                )
            };
            let (n, from) = match poll {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(err)) => {
                    let _ = this.commit();
                    return Poll::Ready(Err(err));
                }
                Poll::Ready(Ok(received)) => received,
            };
            this.got += n;
            match this.at_least {
                None => {
                    let n = this.commit();
                    return Poll::Ready((this.output)(n, from));
                }
                Some(want) if this.got >= want => {
                    let _ = this.commit();
                    return Poll::Ready((this.output)(0, None));
                }
                Some(_) if n == 0 => {
                    let _ = this.commit();
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                Some(_) => {}
            }
        }
    }
}

// No field is pinned (the buffers are only ever reached by `&mut`).
impl<S, I, B: BytesVectored, T> Unpin for RecvBytes<'_, S, I, B, T> {}

impl<S, I, B: BytesVectored, T> Drop for RecvBytes<'_, S, I, B, T> {
    fn drop(&mut self) {
        let _ = self.commit();
    }
}

/// The count of a stream's receive (a `Result` as every `output` of
/// [`RecvBytes`] is, which a datagram's sender may fail).
#[allow(clippy::unnecessary_wraps, reason = "the shape of RecvBytes's output")]
pub(crate) fn count(n: usize, _: Option<SocketAddr>) -> io::Result<usize> {
    Ok(n)
}
