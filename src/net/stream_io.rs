//! Reads and writes of a registered byte stream, for the stream types that
//! share them (`TcpStream`, thread-local or thread-safe, and `UnixStream`):
//! the poll forms, with the readiness bookkeeping of the source (a short
//! read or write waits for the next event; `worker/sources.rs`,
//! `worker/shared_sources.rs`) and the stalled-write limit of a stopping
//! runtime (`stalled.rs`), and the async forms the streams' methods are,
//! from one read or write to the loops of `read_exact` and `write_all`.

use std::future::poll_fn;
use std::io::{self, IoSlice, Read, Write};
use std::task::{self, Poll};

use super::mode::private::Io;
use super::stalled::StalledWrite;
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
