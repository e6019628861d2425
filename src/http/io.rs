//! hyper's I/O traits, [`hyper::rt::Read`] and [`hyper::rt::Write`], for
//! hearth's [`TcpStream`] (thread-local or thread-safe) and [`UnixStream`]:
//! a connection accepted by a [`TcpServer`](crate::net::TcpServer) or a
//! [`UnixServer`](crate::net::UnixServer) goes to hyper's
//! `serve_connection` as it is.
//!
//! Reads go straight into hyper's buffer, which need not be initialised
//! (`recv` writes what it returns), with the same readiness bookkeeping as
//! [`TcpStream::read`]; writes are the streams' `poll_write` and
//! `poll_write_vectored`, so the stalled-write limit of a
//! stopping runtime holds for hyper too.

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};

use crate::net::{SocketMode, TcpStream, UnixStream};

/// hyper's `Read` and `Write` for a stream type with hearth's poll methods,
/// with the generic parameters in brackets.
macro_rules! hyper_io {
    ([$($generics:tt)*] $stream:ty) => {
        impl<$($generics)*> Read for $stream {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                let stream = self.get_mut();
                // SAFETY: `poll_read_uninit` only writes into the slice
                // (through `recv`), so it de-initialises nothing.
                let unfilled = unsafe { buf.as_mut() };
                let n = match stream.poll_read_uninit(cx, unfilled) {
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                    Poll::Pending => return Poll::Pending,
                };
                // SAFETY: `poll_read_uninit` returned `n`: the kernel wrote
                // the first `n` bytes of the unfilled part.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
        }

        impl<$($generics)*> Write for $stream {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                <$stream>::poll_write(self.get_mut(), cx, buf)
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                <$stream>::poll_write_vectored(self.get_mut(), cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            /// Nothing to flush: every write is a system call.
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// Shuts down the write side: the peer reads the end of the
            /// stream.
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(self.shutdown(Shutdown::Write))
            }
        }
    };
}

hyper_io!([RT: SocketMode] TcpStream<RT>);
hyper_io!([] UnixStream);
