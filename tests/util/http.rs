//! HTTP clients for the tests of hearth's hyper support and of the
//! `http_server` example, on loopback only: [`Raw`], a blocking std socket
//! that sends exactly the bytes a test gives (pipelined requests, a head
//! cut short, a body sent in parts) and parses the responses, and
//! [`Hyper`], hyper's own client (HTTP/1 or HTTP/2) on a tokio runtime of
//! the test's thread, never of the server's.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Last guard for a blocking read of a client: no healthy test waits this
/// long.
pub const GUARD: Duration = Duration::from_secs(30);

/// A response as a client saw it.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("body is not UTF-8")
    }
}

/// `GET path` over HTTP/1.1, as bytes.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").into_bytes()
}

/// A client on a blocking std socket.
pub struct Raw {
    stream: TcpStream,
    /// Bytes read and not yet parsed.
    buf: Vec<u8>,
}

impl Raw {
    /// Connects to `addr`.
    #[track_caller]
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_read_timeout(Some(GUARD)).unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends `bytes` as they are.
    #[track_caller]
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to the server");
    }

    /// Closes the sending side (the server reads the end of the stream).
    pub fn close_write(&mut self) {
        self.stream.shutdown(Shutdown::Write).unwrap();
    }

    /// Reads more into the buffer; false at the end of the stream.
    #[track_caller]
    fn fill(&mut self) -> bool {
        let mut chunk = [0; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return true;
                }
                // A signal to the test process (a child's end, another
                // test's) cut the read short: read again.
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::ConnectionReset => return false,
                Err(err) => panic!("reading a response: {err} (buffered: {:?})", self.text()),
            }
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// Reads the next response (its length from `content-length`).
    #[track_caller]
    pub fn response(&mut self) -> Response {
        let head_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            assert!(
                self.fill(),
                "connection closed before a response: {:?}",
                self.text()
            );
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).expect("head is not UTF-8");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("header without a colon");
                (name.trim().to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or_else(
                || panic!("no content-length in {head:?}"),
                |(_, v)| v.parse().expect("bad content-length"),
            );
        let body_start = head_end + 4;
        while self.buf.len() < body_start + len {
            assert!(
                self.fill(),
                "connection closed in a body: {:?}",
                self.text()
            );
        }
        let body = self.buf[body_start..body_start + len].to_vec();
        let _ = self.buf.drain(..body_start + len);
        Response {
            status,
            headers,
            body,
        }
    }

    /// Reads an interim `100 Continue` response: the server has the
    /// request's head and is reading its body (the request was sent with
    /// `expect: 100-continue`).
    #[track_caller]
    pub fn expect_continue(&mut self) {
        const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
        while self.buf.len() < CONTINUE.len() {
            assert!(
                self.fill(),
                "connection closed before 100 Continue: {:?}",
                self.text()
            );
        }
        assert!(
            self.buf.starts_with(CONTINUE),
            "not 100 Continue: {:?}",
            self.text()
        );
        let _ = self.buf.drain(..CONTINUE.len());
    }

    /// Waits for the server to close the connection, with nothing more
    /// sent before.
    #[track_caller]
    pub fn expect_closed(&mut self) {
        while self.fill() {}
        assert!(
            self.buf.is_empty(),
            "bytes before the close: {:?}",
            self.text()
        );
    }
}

/// hyper's client on one connection, driven by a tokio runtime on the
/// calling thread.
pub struct Hyper {
    rt: tokio::runtime::Runtime,
    sender: Sender,
}

enum Sender {
    Http1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    Http2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Hyper {
    /// An HTTP/1.1 connection to `addr`.
    #[track_caller]
    pub fn http1(addr: SocketAddr) -> Hyper {
        let rt = client_runtime();
        let sender = rt.block_on(async {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("HTTP/1 handshake");
            drop(tokio::spawn(conn));
            sender
        });
        Hyper {
            rt,
            sender: Sender::Http1(sender),
        }
    }

    /// An HTTP/2 connection to `addr` (prior knowledge, no TLS).
    #[track_caller]
    pub fn http2(addr: SocketAddr) -> Hyper {
        let rt = client_runtime();
        let sender = rt.block_on(async {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .expect("HTTP/2 handshake");
            drop(tokio::spawn(conn));
            sender
        });
        Hyper {
            rt,
            sender: Sender::Http2(sender),
        }
    }

    /// Sends `method path` with `body` and reads the whole response.
    #[track_caller]
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Response {
        let request = match self.sender {
            Sender::Http1(_) => request(method, path, body),
            // HTTP/2 carries scheme and authority as pseudo-headers.
            Sender::Http2(_) => request(method, &format!("http://localhost{path}"), body),
        };
        let response = match &mut self.sender {
            Sender::Http1(sender) => self.rt.block_on(async {
                sender.ready().await.expect("connection ready");
                read(sender.send_request(request).await).await
            }),
            Sender::Http2(sender) => self.rt.block_on(async {
                sender.ready().await.expect("connection ready");
                read(sender.send_request(request).await).await
            }),
        };
        response.unwrap_or_else(|err| panic!("{method} {path}: {err}"))
    }

    /// Sends `GET` for every path at once over HTTP/2 (one stream each)
    /// and returns the responses in the same order.
    #[track_caller]
    pub fn get_concurrently(&mut self, paths: &[&str]) -> Vec<Response> {
        let Sender::Http2(sender) = &self.sender else {
            panic!("concurrent requests need HTTP/2");
        };
        self.rt.block_on(async {
            let tasks: Vec<_> = paths
                .iter()
                .map(|path| {
                    let mut sender = sender.clone();
                    let request = request("GET", &format!("http://localhost{path}"), b"");
                    tokio::spawn(async move { read(sender.send_request(request).await).await })
                })
                .collect();
            let mut responses = Vec::new();
            for task in tasks {
                responses.push(task.await.unwrap().expect("HTTP/2 request"));
            }
            responses
        })
    }
}

/// A runtime with a thread of its own, so the connection keeps being
/// driven (answering an HTTP/2 server's pings, seeing a close) while the
/// test waits for something else.
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn request(method: &str, uri: &str, body: &[u8]) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap()
}

async fn read(
    response: hyper::Result<hyper::Response<hyper::body::Incoming>>,
) -> Result<Response, hyper::Error> {
    let response = response?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response.into_body().collect().await?.to_bytes().to_vec();
    Ok(Response {
        status,
        headers,
        body,
    })
}
