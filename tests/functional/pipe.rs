//! `hearth::pipe`: a pipe's two ends, and a child process's standard
//! streams, in both socket modes (`util/modes.rs`).

use std::io::{self, IoSlice, IoSliceMut};
use std::process::{Command, Stdio};

use hearth::net::{SocketAccess, SocketMode};
use hearth::pipe::{self, Receiver, Sender};

/// Reads `receiver` to its end.
async fn read_to_end<RT: SocketMode>(receiver: &mut Receiver<RT>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match receiver.read(&mut buf).await? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// What is written to one end is read from the other, more than the
/// pipe's buffer holds (the writer waits for the reader), vectored too;
/// the reader sees the end once the writer is dropped, and a writer whose
/// reader is gone gets `BrokenPipe`.
async fn pipe_ends<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let (mut sender, mut receiver) = pipe::new::<RT, A>(&mut rt)?;
    // 1 MiB: sixteen times the default pipe buffer.
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let expected = big.clone();
    let (write, read) = (
        async move {
            sender.write_all(&big).await?;
            let mut bufs = [IoSlice::new(b"ab"), IoSlice::new(b"cd")];
            sender.write_all_vectored(&mut bufs).await?;
            drop(sender);
            io::Result::Ok(())
        },
        async {
            let mut got = vec![0; expected.len()];
            receiver.read_exact(&mut got).await?;
            assert!(got == expected, "the bytes differ");
            let (mut a, mut b) = ([0; 1], [0; 3]);
            let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
            let mut n = receiver.read_vectored(&mut bufs).await?;
            while n < 4 {
                n += receiver.read(&mut b[n - 1..]).await?;
            }
            assert_eq!((&a, &b), (b"a", b"bcd"));
            assert_eq!(read_to_end(&mut receiver).await?, b"");
            io::Result::Ok(())
        },
    );
    let (written, read) = join(write, read).await;
    written?;
    read?;

    let (mut sender, receiver) = pipe::new::<RT, A>(&mut rt)?;
    drop(receiver);
    let err = sender.write(b"nobody").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    Ok(())
}

/// A child process's stdin, stdout and stderr, taken over.
async fn child_streams<RT, A>(mut rt: A) -> io::Result<()>
where
    RT: SocketMode,
    A: SocketAccess<RT>,
{
    let mut child = Command::new("sh")
        .args(["-c", "tr a-z A-Z; echo done >&2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = Sender::<RT>::from_child_stdin(&mut rt, child.stdin.take().unwrap())?;
    let mut stdout = Receiver::<RT>::from_child_stdout(&mut rt, child.stdout.take().unwrap())?;
    let mut stderr = Receiver::<RT>::from_child_stderr(&mut rt, child.stderr.take().unwrap())?;
    stdin.write_all(b"hello, pipe\n").await?;
    drop(stdin);
    assert_eq!(read_to_end(&mut stdout).await?, b"HELLO, PIPE\n");
    assert_eq!(read_to_end(&mut stderr).await?, b"done\n");
    assert!(child.wait()?.success());
    Ok(())
}

/// Polls both futures until both are done.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
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

in_both_modes!(async pipe_ends, child_streams);
