//! Reads and writes of a registered byte stream, for the stream types that
//! share them (`TcpStream`, thread-local or thread-safe, and `UnixStream`):
//! the poll forms, with the readiness bookkeeping of the source (a short
//! read or write waits for the next event; `worker/sources.rs`,
//! `worker/shared_sources.rs`) and the stalled-write limit of a stopping
//! runtime (`stalled.rs`), and the async forms the streams' methods are,
//! from one read or write to the loops of `read_exact` and `write_all`,
//! peeks, vectored reads and `sendfile(2)`.

use std::fs::File;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::AsFd;
use std::task::{self, Poll};

use super::mode::private::Io;
use super::stalled::StalledWrite;
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

/// Reads into `buf` without taking the bytes (`recv` with `MSG_PEEK`),
/// waiting for data (or the end); 0 is the end.
pub(crate) async fn peek<S, I>(io: &mut I, buf: &mut [u8]) -> io::Result<usize>
where
    S: AsFd,
    I: Io<S>,
{
    // Never taken as drained: a peek takes nothing, so what it saw is
    // still there for the next read, and no event would announce it.
    poll_fn(|cx| io.poll_io(Direction::Read, cx, |s| sys::peek(s.as_fd(), buf))).await
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
