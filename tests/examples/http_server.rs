//! The `http_server` example (feature `hyper`), driven by hyper's client
//! and raw sockets on loopback: its routes, keep-alive, pipelining, a
//! request body, the header-read timeout, SIGUSR2 metrics and both ways
//! to stop it.

#[path = "../util/http.rs"]
mod client;

use client::{Hyper, Raw, get};

use super::{Running, build};

/// Starts the example on a free port with `args`; returns it and its
/// address.
fn start(args: &[&str]) -> (Running, std::net::SocketAddr) {
    let bin = build::example_with_features("http_server", &["hyper"]);
    let mut all = vec!["127.0.0.1:0"];
    all.extend_from_slice(args);
    let server = Running::start_bin(bin, &all);
    let line = server.line();
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    (server, addr)
}

/// A field of a `key=value` log line.
fn field<'l>(line: &'l str, key: &str) -> &'l str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

#[test]
fn http_server_routes_keep_alive_and_metrics() {
    routes_keep_alive_and_metrics(&[]);
}

/// The same with connections in thread-local actors, and with the
/// default named.
#[test]
fn http_server_thread_local_routes_keep_alive_and_metrics() {
    routes_keep_alive_and_metrics(&["--thread-local"]);
    routes_keep_alive_and_metrics(&["--thread-safe"]);
}

fn routes_keep_alive_and_metrics(args: &[&str]) {
    let (server, addr) = start(args);
    let mut client = Hyper::http1(addr);
    let hello = client.request("GET", "/", b"");
    assert_eq!(hello.status, 200);
    assert_eq!(hello.header("content-type"), Some("text/plain"));
    assert_eq!(hello.text(), "Hello, World!");
    let json = client.request("GET", "/json", b"");
    assert_eq!(json.status, 200);
    assert_eq!(json.header("content-type"), Some("application/json"));
    assert_eq!(json.text(), r#"{"message":"Hello, World!"}"#);
    for (method, path) in [("GET", "/nope"), ("POST", "/"), ("GET", "/json/")] {
        let got = client.request(method, path, b"");
        assert_eq!(got.status, 404, "{method} {path}");
    }
    // A request body is read in full, and the connection goes on.
    let upload = client.request("GET", "/", &vec![b'x'; 200_000]);
    assert_eq!((upload.status, upload.text()), (200, "Hello, World!"));
    let after = client.request("GET", "/json", b"");
    assert_eq!(after.status, 200);

    // Seven requests, one connection.
    server.kill("-USR2");
    let metrics = server.stderr_line("http server metrics");
    assert_eq!(field(&metrics, "connections_accepted"), "1", "{metrics}");
    assert_eq!(field(&metrics, "requests"), "7", "{metrics}");
    assert_eq!(field(&metrics, "not_found"), "3", "{metrics}");
    drop(client);
    let stderr = stop_cleanly(server);
    // The runtime's own records came too (in any order with the above),
    // with the listener where the mode puts it: one thread-safe actor (the
    // default), or one on each worker (`--thread-local`).
    assert!(stderr.contains("tcp server metrics"), "{stderr}");
    let thread_safe = stderr
        .lines()
        .find(|line| line.contains("thread-safe metrics"))
        .unwrap_or_else(|| panic!("no thread-safe metrics: {stderr}"));
    assert_eq!(
        thread_safe.contains("processes=TcpServer:1"),
        !args.contains(&"--thread-local"),
        "{thread_safe}"
    );
}

#[test]
fn http_server_answers_pipelined_requests_in_order() {
    let (server, addr) = start(&[]);
    let mut client = Raw::connect(addr);
    let mut requests = get("/");
    requests.extend_from_slice(&get("/json"));
    requests
        .extend_from_slice(b"GET / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 4\r\n\r\nbody");
    requests.extend_from_slice(&get("/missing"));
    requests.extend_from_slice(&get("/"));
    client.send(&requests);
    let answers: Vec<(u16, String)> = (0..5)
        .map(|_| {
            let response = client.response();
            (response.status, response.text().to_owned())
        })
        .collect();
    let hello = (200, "Hello, World!".to_owned());
    let json = (200, r#"{"message":"Hello, World!"}"#.to_owned());
    let missing = (404, "Not Found".to_owned());
    assert_eq!(
        answers,
        [hello.clone(), json, hello.clone(), missing, hello]
    );
    drop(client);
    let _ = stop_cleanly(server);
}

#[test]
fn http_server_cuts_a_slow_client() {
    let (server, addr) = start(&["--header-read-timeout", "0.3"]);
    // Half a head, then silence: the server closes the connection.
    let mut slow = Raw::connect(addr);
    slow.send(b"GET / HTTP/1.1\r\nhost: lo");
    slow.expect_closed();
    // An idle keep-alive connection is closed the same way.
    let mut idle = Raw::connect(addr);
    idle.send(&get("/"));
    assert_eq!(idle.response().status, 200);
    idle.expect_closed();
    // Nothing was logged as a failure: the clients did it.
    let _ = stop_cleanly(server);
}

/// A request hyper cannot parse is answered with 400 and the connection
/// closed; the client's mistake is not logged as the server's failure.
#[test]
fn http_server_answers_a_bad_request_with_400() {
    let (server, addr) = start(&[]);
    let mut client = Raw::connect(addr);
    client.send(b"NOT HTTP AT ALL\r\n\r\n");
    let response = client.response();
    assert_eq!(response.status, 400);
    client.expect_closed();
    // A client that connects and resets at once.
    let reset = std::net::TcpStream::connect(addr).unwrap();
    socket_linger_zero(&reset);
    drop(reset);
    let mut after = Raw::connect(addr);
    after.send(&get("/"));
    assert_eq!(after.response().status, 200);
    drop(after);
    let _ = stop_cleanly(server);
}

/// Makes closing `stream` send a reset instead of a FIN.
fn socket_linger_zero(stream: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `stream` is an open socket; the pointer and length describe
    // the live `linger` above.
    let res = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::linger>()).unwrap(),
        )
    };
    assert_eq!(res, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

/// SIGTERM with a request in flight (its head read, its body not yet all
/// sent) and an idle keep-alive connection: the idle one is closed, the
/// request is answered (with `connection: close`), and the server exits 0.
#[test]
fn http_server_graceful_shutdown() {
    graceful_shutdown(&[]);
}

/// The same with connections in thread-local actors.
#[test]
fn http_server_thread_local_graceful_shutdown() {
    graceful_shutdown(&["--thread-local"]);
}

fn graceful_shutdown(args: &[&str]) {
    let (server, addr) = start(args);
    let mut idle = Raw::connect(addr);
    idle.send(&get("/json"));
    assert_eq!(idle.response().status, 200);
    let mut busy = Raw::connect(addr);
    busy.send(
        b"GET / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 8\r\nexpect: 100-continue\r\n\r\n",
    );
    // The server has the head and is reading the body.
    busy.expect_continue();
    busy.send(b"1234");
    server.kill("-TERM");
    let _ = server.stderr_line("shutting down the runtime");
    idle.expect_closed();
    busy.send(b"5678");
    let response = busy.response();
    assert_eq!((response.status, response.text()), (200, "Hello, World!"));
    assert_eq!(response.header("connection"), Some("close"));
    busy.expect_closed();
    let (status, stderr) = wait(server);
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
}

/// A second SIGTERM while a request is in flight ends the process at
/// once, with 128 + 15, rather than after the grace period (which would
/// end it with 1, naming the connection).
#[test]
fn http_server_second_signal_exits_at_once() {
    let (server, addr) = start(&[]);
    let mut busy = Raw::connect(addr);
    busy.send(
        b"GET / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 8\r\nexpect: 100-continue\r\n\r\n",
    );
    // In flight: the body never comes.
    busy.expect_continue();
    server.kill("-TERM");
    let _ = server.stderr_line("shutting down the runtime");
    server.kill("-TERM");
    let (status, stderr) = wait(server);
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGTERM),
        "{status}: {stderr}"
    );
    drop(busy);
}

#[test]
fn http_server_bad_arguments() {
    let bin = build::example_with_features("http_server", &["hyper"]);
    for (args, want) in [
        (
            &["not-an-address"][..],
            "invalid address \"not-an-address\"",
        ),
        (
            &["--header-read-timeout", "0"][..],
            "invalid --header-read-timeout \"0\"",
        ),
        (
            &["--header-read-timeout"][..],
            "--header-read-timeout needs a value",
        ),
        (&["--verbose"][..], "unknown option \"--verbose\""),
    ] {
        let output = std::process::Command::new(&bin)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(stderr.contains("usage: http_server"), "{args:?}: {stderr}");
    }
}

/// SIGTERM, then the exit: 0, with no warning logged; returns stderr.
#[track_caller]
fn stop_cleanly(server: Running) -> String {
    server.kill("-TERM");
    let (status, stderr) = wait(server);
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
    stderr
}

fn wait(mut server: Running) -> (std::process::ExitStatus, String) {
    server.wait()
}
