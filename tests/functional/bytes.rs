//! Heph's byte-buffer I/O (`hearth::bytes`): receives that fill a
//! `Vec<u8>`'s spare capacity (or a slice), `recv_n`, peeks and the
//! vectored forms, on TCP and Unix streams, UDP sockets and pipes, in both
//! socket modes (`util/modes.rs`).

use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use hearth::RuntimeRef;
use hearth::bytes::{Bytes, BytesVectored};
use hearth::net::{
    SocketAccess, SocketMode, TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixStream,
};
use hearth::pipe;
use hearth::timer::{Deadline, DeadlinePassed};

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[track_caller]
fn expect_kind<T: std::fmt::Debug>(result: io::Result<T>, kind: io::ErrorKind) {
    match result {
        Err(err) => assert_eq!(err.kind(), kind, "{err}"),
        Ok(value) => panic!("expected an error of kind {kind:?}, got {value:?}"),
    }
}

/// A `Vec<u8>` offers only its spare capacity and keeps what it holds;
/// `update_length` takes what was written; a slice offers all of itself.
#[test]
fn vec_and_slice_rooms() {
    let mut buf = Vec::with_capacity(16);
    buf.extend_from_slice(b"Hello");
    assert_eq!(buf.spare_capacity(), buf.capacity() - 5);
    assert!(buf.has_spare_capacity());
    let room = buf.spare();
    assert_eq!(room.len(), buf.capacity() - 5);
    // What a receive does: write the room, then take it.
    let spare = buf.spare_capacity_mut();
    for (dst, src) in spare.iter_mut().zip(b" world") {
        let _ = dst.write(*src);
    }
    // SAFETY: the first six bytes of the room were written above.
    unsafe { buf.update_length(6) };
    assert_eq!(buf, b"Hello world");

    let full = vec![1u8; 4];
    let mut full = full.into_boxed_slice().into_vec();
    assert_eq!(full.spare_capacity(), 0);
    assert!(!full.has_spare_capacity());
    assert!(full.spare().is_empty());
    assert_eq!(room_of(&mut full), 0);

    let mut array = [0u8; 8];
    assert_eq!(array.spare_capacity(), 8);
    assert_eq!(room_of(&mut array[..3]), 3);
}

/// The room of a buffer passed as a receive takes it (by value: `&mut`
/// of one).
fn room_of<B: Bytes>(buf: B) -> usize {
    buf.spare_capacity()
}

/// Vectored rooms are filled in order: `update_lengths` gives each buffer
/// its share, the first one's room before the next one's.
#[test]
fn vectored_rooms_in_order() {
    let mut bufs = [Vec::with_capacity(3), Vec::with_capacity(10)];
    let first = bufs[0].capacity();
    let total = bufs.spare_capacity();
    assert_eq!(total, bufs[0].capacity() + bufs[1].capacity());
    assert_eq!(bufs.spares().len(), 2);
    for buf in &mut bufs {
        for byte in buf.spare_capacity_mut() {
            let _ = byte.write(b'x');
        }
    }
    // SAFETY: every byte of every room was written above.
    unsafe { bufs.update_lengths(first + 2) };
    assert_eq!(bufs[0].len(), first);
    assert_eq!(bufs[1], b"xx");

    let (mut head, mut body) = ([0u8; 4], Vec::<u8>::with_capacity(8));
    let mut pair = (&mut head, &mut body);
    assert_eq!(pair.spare_capacity(), 4 + pair.1.capacity());
    for byte in pair.1.spare_capacity_mut() {
        let _ = byte.write(b'y');
    }
    // SAFETY: the head is initialised, the body's room written above.
    unsafe { pair.update_lengths(7) };
    assert_eq!(body, b"yyy");
}

/// Heph's TCP stream tests of `recv`, `recv_n`, `peek`, the vectored forms
/// and the `send` forms: receives append to a vector, a peek leaves the
/// bytes for the receive, `recv_n` takes as many receives as it needs.
async fn tcp_recv_forms<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let mut listener = TcpListener::<RT>::bind(&mut rt, localhost())?;
    let mut client = TcpStream::<RT>::connect(&mut rt, listener.local_addr()?).await?;
    let (mut server, _) = listener.accept().await?;

    client.send_all(b"Hello").await?;
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(b">");
    let n = server.peek(&mut buf).await?;
    assert_eq!(&buf[1..], &b"Hello"[..n]);
    buf.truncate(1);
    server.recv_n(&mut buf, 5).await?;
    assert_eq!(buf, b">Hello");
    let n = client.send(b" world").await?;
    assert!(n > 0);
    client.send_all(&b" world"[n..]).await?;
    let n = server.recv(&mut buf).await?;
    assert!(n > 0 && buf.starts_with(b">Hello "), "{buf:?}");
    server.recv_n(&mut buf, 6 - n).await?;
    assert_eq!(buf, b">Hello world");

    // Vectored: a fixed head and a growing body.
    let mut bufs = [IoSlice::new(b"head"), IoSlice::new(b"body!")];
    let n = client.send_vectored(&bufs).await?;
    assert!(n > 0);
    let mut rest = &mut bufs[..];
    IoSlice::advance_slices(&mut rest, n);
    client.send_all_vectored(rest).await?;
    let (mut head, mut body) = ([0u8; 4], Vec::with_capacity(16));
    let n = server.peek_vectored((&mut head, &mut body)).await?;
    assert!(n > 0);
    body.clear();
    server.recv_n_vectored((&mut head, &mut body), 9).await?;
    assert_eq!((&head, &*body), (b"head", &b"body!"[..]));

    // Much more than a socket buffer holds, in one `recv_n`.
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut got = Vec::with_capacity(big.len());
    let (sent, received) =
        futures_join(client.send_all(&big), server.recv_n(&mut got, big.len())).await;
    sent?;
    received?;
    assert!(got == big, "a megabyte arrives whole and in order");

    // Into an array of vectors, with one system call.
    client.send_all(b"abcdefgh").await?;
    let mut bufs = [Vec::with_capacity(3), Vec::with_capacity(64)];
    let mut n = 0;
    while n < 8 {
        n += server.recv_vectored(&mut bufs).await?;
    }
    let mut joined = bufs[0].clone();
    joined.extend_from_slice(&bufs[1]);
    assert_eq!(joined, b"abcdefgh");
    assert_eq!(bufs[0].len(), bufs[0].capacity());

    no_room_loses_nothing(&mut client, &mut server).await
}

/// A vector with no spare capacity is refused with `InvalidInput` before
/// any receive (its 0 would read as the end), and the bytes stay for the
/// next receive; `recv_n` of more than the room is refused too, and one
/// cut short by the end keeps what came.
async fn no_room_loses_nothing<RT: SocketMode>(
    client: &mut TcpStream<RT>,
    server: &mut TcpStream<RT>,
) -> io::Result<()> {
    client.send_all(b"kept").await?;
    let mut full = Vec::new();
    expect_kind(server.recv(&mut full).await, io::ErrorKind::InvalidInput);
    expect_kind(server.peek(&mut full).await, io::ErrorKind::InvalidInput);
    let mut small = Vec::with_capacity(2);
    let room = small.capacity();
    expect_kind(
        server.recv_n(&mut small, room + 1).await,
        io::ErrorKind::InvalidInput,
    );
    full.reserve(4);
    server.recv_n(&mut full, 4).await?;
    assert_eq!(full, b"kept");

    client.send_all(b"cut").await?;
    client.shutdown(Shutdown::Write)?;
    let mut buf = Vec::with_capacity(16);
    expect_kind(
        server.recv_n(&mut buf, 10).await,
        io::ErrorKind::UnexpectedEof,
    );
    assert_eq!(buf, b"cut");
    assert_eq!(server.recv(&mut buf).await?, 0);
    Ok(())
}

/// Polls both futures until both are done: a sender and a receiver that
/// need each other to go on.
async fn futures_join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(|cx| {
        if out_a.is_none()
            && let std::task::Poll::Ready(out) = a.as_mut().poll(cx)
        {
            out_a = Some(out);
        }
        if out_b.is_none()
            && let std::task::Poll::Ready(out) = b.as_mut().poll(cx)
        {
            out_b = Some(out);
        }
        if out_a.is_some() && out_b.is_some() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    (out_a.unwrap(), out_b.unwrap())
}

/// Heph's UDP tests of `recv_from`, `peek_from`, and connected `send` and
/// `recv`, into vectors: a datagram appends to a vector, a peek leaves it
/// for the receive, and a vector with no room is refused without taking
/// (and losing) the datagram.
async fn udp_recv_forms<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let mut a = UdpSocket::<RT>::bind(&mut rt, localhost())?;
    let mut b = UdpSocket::<RT>::bind(&mut rt, localhost())?;
    let (a_addr, b_addr) = (a.local_addr()?, b.local_addr()?);
    let _ = a.send_to(b"Hello", b_addr).await?;

    let mut full = Vec::new();
    expect_kind(b.recv_from(&mut full).await, io::ErrorKind::InvalidInput);
    expect_kind(b.peek_from(&mut full).await, io::ErrorKind::InvalidInput);

    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(b">");
    let (n, from) = b.peek_from(&mut buf).await?;
    assert_eq!((n, from, &*buf), (5, a_addr, &b">Hello"[..]));
    buf.truncate(1);
    let (n, from) = b.recv_from(&mut buf).await?;
    assert_eq!((n, from, &*buf), (5, a_addr, &b">Hello"[..]));

    a.connect(b_addr)?;
    b.connect(a_addr)?;
    let _ = a.send(b"one").await?;
    let _ = a.send(b"two").await?;
    let mut buf = Vec::with_capacity(8);
    assert_eq!(b.peek(&mut buf).await?, 3);
    assert_eq!(buf, b"one");
    buf.clear();
    assert_eq!(b.recv(&mut buf).await?, 3);
    assert_eq!(b.recv(&mut buf).await?, 3);
    assert_eq!(buf, b"onetwo");
    // Slices and arrays as before.
    let _ = b.send(b"back").await?;
    let mut array = [0; 16];
    let n = a.recv(&mut array).await?;
    assert_eq!(&array[..n], b"back");
    Ok(())
}

/// Heph's pipe tests: `recv_n` of more than the pipe holds into a vector,
/// and the vectored forms, with `send_all` and `send_all_vectored`.
async fn pipe_recv_forms<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let (mut sender, mut receiver) = pipe::new::<RT, A>(&mut rt)?;
    let big: Vec<u8> = (0..1 << 18).map(|i: u32| (i % 241) as u8).collect();
    let mut got = Vec::with_capacity(big.len() + 16);
    let (sent, received) =
        futures_join(sender.send_all(&big), receiver.recv_n(&mut got, big.len())).await;
    sent?;
    received?;
    assert!(got == big, "the data arrives whole and in order");

    let mut bufs = [IoSlice::new(b"ab"), IoSlice::new(b"cdef")];
    sender.send_all_vectored(&mut bufs).await?;
    let n = sender.send(b"g").await?;
    assert_eq!(n, 1);
    let (mut head, mut tail) = ([0u8; 2], Vec::with_capacity(8));
    receiver.recv_n_vectored((&mut head, &mut tail), 7).await?;
    assert_eq!((&head, &*tail), (b"ab", &b"cdefg"[..]));
    drop(sender);
    let mut end = Vec::with_capacity(4);
    assert_eq!(receiver.recv(&mut end).await?, 0);
    let mut bufs = [Vec::with_capacity(1), Vec::with_capacity(1)];
    assert_eq!(receiver.recv_vectored(&mut bufs).await?, 0);
    Ok(())
}

in_both_modes!(async tcp_recv_forms, udp_recv_forms, pipe_recv_forms);

/// The same receives on a Unix stream (thread-local).
#[test]
fn unix_stream_recv_forms() {
    let result =
        crate::modes::on_worker(hearth::Runtime::setup(), |mut rt: RuntimeRef| async move {
            let (mut a, mut b) = UnixStream::pair(&mut rt)?;
            a.send_all(b"Hello").await?;
            let mut buf = Vec::with_capacity(16);
            let n = b.peek(&mut buf).await?;
            assert_eq!(&*buf, &b"Hello"[..n]);
            buf.clear();
            b.recv_n(&mut buf, 5).await?;
            assert_eq!(buf, b"Hello");
            let mut bufs = [IoSlice::new(b"12"), IoSlice::new(b"345")];
            a.send_all_vectored(&mut bufs).await?;
            let mut bufs = [Vec::with_capacity(2), Vec::with_capacity(8)];
            b.recv_n_vectored(&mut bufs, 5).await?;
            assert_eq!([&*bufs[0], &*bufs[1]].concat()[..5], *b"12345");
            let mut full = Vec::new();
            expect_kind(b.recv(&mut full).await, io::ErrorKind::InvalidInput);
            // A `recv_n` cut short by a deadline keeps the bytes it got.
            a.send_all(b"abc").await?;
            let mut cut = Vec::with_capacity(16);
            let limited =
                Deadline::after(&mut rt, Duration::from_millis(20), b.recv_n(&mut cut, 10));
            assert_eq!(limited.await.unwrap_err(), DeadlinePassed);
            assert_eq!(cut, b"abc");
            a.shutdown(Shutdown::Write)?;
            let mut end = Vec::with_capacity(1);
            assert_eq!(b.recv(&mut end).await?, 0);
            assert_eq!(b.peek_vectored([&mut end]).await?, 0);
            Ok::<_, io::Error>(())
        });
    result.unwrap();
}

/// Heph's Unix datagram tests of `recv` and `peek` into vectors (a
/// connected pair): a datagram appends to a vector, a peek leaves it for
/// the receive, and a vector with no room is refused without taking (and
/// losing) the datagram.
#[test]
fn unix_datagram_recv_forms() {
    let result =
        crate::modes::on_worker(hearth::Runtime::setup(), |mut rt: RuntimeRef| async move {
            let (mut a, mut b) = UnixDatagram::pair(&mut rt)?;
            let _ = a.send(b"one").await?;
            let _ = a.send(b"two").await?;
            let mut full = Vec::new();
            expect_kind(b.recv(&mut full).await, io::ErrorKind::InvalidInput);
            expect_kind(b.peek(&mut full).await, io::ErrorKind::InvalidInput);
            let mut buf = Vec::with_capacity(16);
            buf.extend_from_slice(b">");
            assert_eq!(b.peek(&mut buf).await?, 3);
            assert_eq!(buf, b">one");
            buf.truncate(1);
            assert_eq!(b.recv(&mut buf).await?, 3);
            assert_eq!(b.recv(&mut buf).await?, 3);
            assert_eq!(buf, b">onetwo");
            Ok::<_, io::Error>(())
        });
    result.unwrap();
}
