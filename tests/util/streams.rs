//! Tests of hearth's byte streams written once over all of them
//! ([`Stream`]: `TcpStream` of either socket mode, `UnixStream`): peeking
//! and vectored reads ([`peeks_and_reads_vectored`]) and sending a file
//! with `sendfile(2)` to a slow reader ([`sends_file`]). The TCP and Unix
//! tests make the connected streams and call these.

use std::fs::File;
use std::future::Future;
use std::io::{self, IoSliceMut, Read, Seek, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use hearth::net::{SocketMode, TcpStream, UnixStream};

/// Last guard for a reader's blocking calls.
const GUARD: Duration = Duration::from_secs(30);

/// The calls of a hearth byte stream the tests use, by the same names.
pub trait Stream {
    fn peek(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>>;
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>>;
    fn read_vectored(
        &mut self,
        bufs: &mut [IoSliceMut<'_>],
    ) -> impl Future<Output = io::Result<usize>>;
    fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>>;
    fn send_file(
        &mut self,
        file: &File,
        offset: u64,
        length: usize,
    ) -> impl Future<Output = io::Result<usize>>;
    fn send_file_all(
        &mut self,
        file: &File,
        offset: u64,
        length: usize,
    ) -> impl Future<Output = io::Result<()>>;
    fn send_entire_file(&mut self, file: &File) -> impl Future<Output = io::Result<u64>>;
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

/// [`Stream`] for a stream type, whose methods of those names it calls.
macro_rules! stream_calls {
    () => {
        fn peek(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> {
            Self::peek(self, buf)
        }

        fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> {
            Self::read(self, buf)
        }

        fn read_vectored(
            &mut self,
            bufs: &mut [IoSliceMut<'_>],
        ) -> impl Future<Output = io::Result<usize>> {
            Self::read_vectored(self, bufs)
        }

        fn write_all(&mut self, buf: &[u8]) -> impl Future<Output = io::Result<()>> {
            Self::write_all(self, buf)
        }

        fn send_file(
            &mut self,
            file: &File,
            offset: u64,
            length: usize,
        ) -> impl Future<Output = io::Result<usize>> {
            Self::send_file(self, file, offset, length)
        }

        fn send_file_all(
            &mut self,
            file: &File,
            offset: u64,
            length: usize,
        ) -> impl Future<Output = io::Result<()>> {
            Self::send_file_all(self, file, offset, length)
        }

        fn send_entire_file(&mut self, file: &File) -> impl Future<Output = io::Result<u64>> {
            Self::send_entire_file(self, file)
        }

        fn shutdown(&self, how: Shutdown) -> io::Result<()> {
            Self::shutdown(self, how)
        }
    };
}

impl<RT: SocketMode> Stream for TcpStream<RT> {
    stream_calls!();
}

impl Stream for UnixStream {
    stream_calls!();
}

/// `client` writes, `server` peeks and reads, plain and vectored, then
/// reads the end `client` shut down.
#[allow(dead_code)]
pub async fn peeks_and_reads_vectored<S: Stream>(client: &mut S, server: &mut S) -> io::Result<()> {
    client.write_all(b"hello").await?;
    // A peek shorter than its buffer takes nothing: the read after it
    // finds the bytes at once, though no new event comes for them.
    let mut buf = [0; 16];
    for _ in 0..2 {
        let n = server.peek(&mut buf).await?;
        assert_eq!(&buf[..n], b"hello");
    }
    let n = server.read(&mut buf).await?;
    assert_eq!(&buf[..n], b"hello");

    client.write_all(b"abcdefgh").await?;
    let (mut head, mut tail) = ([0; 3], [0; 8]);
    let mut got = 0;
    while got < 8 {
        let mut bufs = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut tail)];
        IoSliceMut::advance_slices(&mut (&mut bufs[..]), got);
        match server.read_vectored(&mut bufs).await? {
            0 => panic!("the stream ended after {got} of 8 bytes"),
            n => got += n,
        }
    }
    assert_eq!((&head, &tail[..5]), (b"abc", &b"defgh"[..]));

    // The end of the stream, peeked and read.
    client.shutdown(Shutdown::Write)?;
    assert_eq!(server.peek(&mut buf).await?, 0);
    let mut bufs = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut tail)];
    assert_eq!(server.read_vectored(&mut bufs).await?, 0);
    Ok(())
}

/// The size of the file [`sends_file`] sends: more than the kernel buffers
/// of a connection whose receiver holds at most [`READER_RCVBUF`] and
/// reads nothing hold (`net.ipv4.tcp_wmem` allows 4 MiB by default; a Unix
/// stream queues up to the sender's `net.core.wmem_default`, about
/// 200 KiB), so the sender has to wait for room.
pub const FILE_LEN: usize = 16 << 20;

/// The receive buffer of [`slow_reader`].
const READER_RCVBUF: libc::c_int = 64 << 10;

/// A file of [`FILE_LEN`] bytes without a short period, and its bytes;
/// `name` tells apart the tests that make one at the same time.
#[allow(dead_code)]
pub fn file_to_send(name: &str) -> (File, Vec<u8>) {
    let bytes: Vec<u8> = (0..FILE_LEN)
        .map(|i| u8::try_from((i * 7 + i / 251) % 251).unwrap())
        .collect();
    let path = std::env::temp_dir().join(format!("hearth-send-file-{}-{name}", std::process::id()));
    let mut file = File::options()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file.write_all(&bytes).unwrap();
    file.rewind().unwrap();
    (file, bytes)
}

/// A reader on a thread of its own, with a small receive buffer: takes the
/// std stream `connect` returns, reads nothing until `go` says so, then
/// reads to the end and returns what it read.
#[allow(dead_code)]
pub fn slow_reader<S>(
    connect: impl FnOnce() -> S + Send + 'static,
    go: mpsc::Receiver<()>,
) -> thread::JoinHandle<Vec<u8>>
where
    S: Read + AsRawFd,
{
    thread::spawn(move || {
        let mut stream = connect();
        let rcvbuf = READER_RCVBUF;
        // SAFETY: the value pointer and length describe a live `c_int`,
        // which the kernel only reads; the descriptor is the stream's.
        let res = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw const rcvbuf).cast(),
                libc::socklen_t::try_from(size_of::<libc::c_int>()).unwrap(),
            )
        };
        assert_eq!(res, 0, "{}", io::Error::last_os_error());
        go.recv_timeout(GUARD).unwrap();
        let mut got = Vec::new();
        let _ = stream.read_to_end(&mut got).unwrap();
        got
    })
}

/// Sends `file` (of [`file_to_send`], whose bytes are `bytes`) on `stream`
/// in whole and in ranges, with the `send_file` calls, to the
/// [`slow_reader`] `reader`, which `go` lets read; checks what it read.
#[allow(dead_code)]
pub async fn sends_file<S: Stream>(
    stream: &mut S,
    (file, bytes): (&File, &[u8]),
    go: mpsc::Sender<()>,
    reader: thread::JoinHandle<Vec<u8>>,
) -> io::Result<()> {
    let len = bytes.len() as u64;
    // One call sends what the socket has room for, and the reader reads
    // nothing yet: less than the file.
    let first = stream.send_file(file, 0, FILE_LEN).await?;
    assert!(
        0 < first && first < FILE_LEN,
        "one send_file call sent {first} of {FILE_LEN} bytes"
    );
    go.send(()).unwrap();
    // The rest waits for room as the reader reads.
    stream
        .send_file_all(file, first as u64, FILE_LEN - first)
        .await?;
    // A range, then nothing past the end.
    stream.send_file_all(file, 10, 100).await?;
    assert_eq!(stream.send_file(file, len, 10).await?, 0);
    assert_eq!(stream.send_file(file, len + 100, 10).await?, 0);
    // A range past the end sends what there is, then says so.
    let err = stream.send_file_all(file, len - 5, 10).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    let err = stream.send_file(file, u64::MAX, 10).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert_eq!(stream.send_entire_file(file).await?, len);
    // The file's own position is not used or moved.
    let mut file = file;
    assert_eq!(file.stream_position()?, 0);
    stream.shutdown(Shutdown::Write)?;

    let got = reader.join().unwrap();
    let want = [bytes, &bytes[10..110], &bytes[FILE_LEN - 5..], bytes].concat();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the bytes received differ from the file's");
    Ok(())
}
