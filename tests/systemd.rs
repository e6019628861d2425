//! hearth under a service manager, without systemd as PID 1.
//!
//! `harness = false`: this binary is the test driver and, run with
//! `HEARTH_SYSTEMD_SCENARIO`, the service under test, started as a child
//! with the environment systemd would give it. The service manager's
//! notification socket is a Unix datagram socket the test binds
//! (`NOTIFY_SOCKET`, a path or an abstract `@name`), so the test reads
//! `READY=1`, `STATUS=...`, `WATCHDOG=1` and `STOPPING=1` as systemd would.
//! `WATCHDOG_PID` is set to the child's own pid by starting it through
//! `sh -c 'WATCHDOG_PID=$$ exec ...'`, as systemd sets it to the main pid.
//!
//! Socket activation runs the `echo_server` and `http_server` examples
//! under
//! `systemd-socket-activate` (Debian package `systemd`), on a Unix socket
//! it binds and on a TCP socket the test binds on port 0 and hands it
//! (`LISTEN_FDS` given to `systemd-socket-activate` are passed on), and
//! checks the answers with real clients; with `--accept` (a socket unit's
//! `Accept=yes`), the echo example runs once per connection, on the
//! connected socket it is passed. Without `systemd-socket-activate`
//! those tests print `skipped: ...`, unless `HEARTH_REQUIRE_SYSTEMD=1` (as
//! in CI), which makes that a failure.
//!
//! The service scenario reads commands on stdin: `status TEXT` calls
//! `hearth::systemd::status`, `block` makes an actor on worker 1 block its
//! worker's thread until `unblock`.

#[path = "util/build.rs"]
#[allow(dead_code)]
mod build;
#[path = "util/runner.rs"]
mod runner;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};
use std::{env, process, thread};

const SCENARIO_ENV: &str = "HEARTH_SYSTEMD_SCENARIO";
/// Last guard against a child or a datagram that never comes.
const GUARD: Duration = Duration::from_secs(30);
/// The watchdog interval given to the service (`WATCHDOG_USEC`): pings
/// every 200 ms.
const WATCHDOG: Duration = Duration::from_millis(400);

fn main() -> ExitCode {
    if let Ok(scenario) = env::var(SCENARIO_ENV) {
        process::exit(service::run(&scenario));
    }
    runner::run(
        &[
            (
                "ready_status_watchdog_and_stopping",
                &ready_status_watchdog_and_stopping,
            ),
            (
                "watchdog_pings_stop_while_a_worker_is_stuck",
                &watchdog_pings_stop_while_a_worker_is_stuck,
            ),
            ("abstract_notify_socket", &abstract_notify_socket),
            (
                "watchdog_of_another_process_gets_no_pings",
                &watchdog_of_another_process_gets_no_pings,
            ),
            (
                "a_runtime_that_fails_to_start_is_never_ready",
                &a_runtime_that_fails_to_start_is_never_ready,
            ),
            (
                "without_notify_socket_nothing_is_sent",
                &without_notify_socket_nothing_is_sent,
            ),
            (
                "socket_activated_echo_server_on_tcp",
                &socket_activated_echo_server_on_tcp,
            ),
            (
                "socket_activated_echo_server_on_a_unix_socket",
                &socket_activated_echo_server_on_a_unix_socket,
            ),
            (
                "socket_activated_http_server_notifies",
                &socket_activated_http_server_notifies,
            ),
            (
                "accepted_tcp_connections_each_get_an_echo_server",
                &accepted_tcp_connections_each_get_an_echo_server,
            ),
            (
                "an_accepted_unix_connection_gets_an_echo_server",
                &an_accepted_unix_connection_gets_an_echo_server,
            ),
        ],
        Vec::new,
        String::new,
    )
}

/// The service under test, in the child.
mod service {
    use std::io::{self, BufRead};
    use std::sync::{Arc, Mutex, mpsc};

    use hearth::actor::{Context, actor_fn};
    use hearth::supervisor::NoSupervisor;
    use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal};

    /// Blocks its worker's thread on `Block`, until the gate opens.
    async fn blocker(mut ctx: Context<(), ThreadLocal>, gate: Arc<Mutex<mpsc::Receiver<()>>>) {
        while let Ok(()) = ctx.receive_next().await {
            println!("blocked");
            let _ = gate.lock().unwrap().recv();
            println!("unblocked");
        }
    }

    pub(super) fn run(scenario: &str) -> i32 {
        hearth::log::init();
        let mut runtime = Runtime::setup()
            .num_threads(2)
            .stop_signals_end_cleanly()
            .build()
            .unwrap();
        let (gate_tx, gate_rx) = mpsc::channel();
        let gate = Arc::new(Mutex::new(gate_rx));
        let (ref_tx, ref_rx) = mpsc::channel::<ActorRef<()>>();
        let ref_tx = Arc::new(Mutex::new(Some(ref_tx)));
        let failing = scenario == "failing_start";
        runtime.run_on_workers(move |mut rt: RuntimeRef| {
            if rt.worker_id() == 1 {
                let actor = rt.spawn_local(
                    NoSupervisor,
                    actor_fn(blocker),
                    gate.clone(),
                    ActorOptions::default(),
                );
                if let Some(tx) = ref_tx.lock().unwrap().take() {
                    tx.send(actor).unwrap();
                }
            } else if failing {
                return Err("no database".to_owned());
            }
            Ok(())
        });
        let blocker = ref_rx.recv().unwrap();
        // Commands on stdin, until it closes.
        let _ = std::thread::spawn(move || {
            for line in io::stdin().lock().lines().map_while(Result::ok) {
                if let Some(text) = line.strip_prefix("status ") {
                    println!("status sent: {:?}", hearth::systemd::status(text));
                } else if line == "block" {
                    blocker.try_send(()).unwrap();
                } else if line == "unblock" {
                    gate_tx.send(()).unwrap();
                }
            }
        });
        println!("started");
        match runtime.start() {
            Ok(()) => 0,
            Err(err) => {
                eprintln!("error: {err}");
                1
            }
        }
    }
}

/// A child process (the service, or `systemd-socket-activate`), its output
/// read line by line; killed when dropped.
struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Every stderr line read so far, for failure messages.
    stderr_seen: Vec<String>,
}

fn lines<R: Read + Send + 'static>(pipe: R) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let _ = thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

impl Proc {
    fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {cmd:?}: {err}"));
        Proc {
            stdin: child.stdin.take(),
            stdout: lines(child.stdout.take().unwrap()),
            stderr: lines(child.stderr.take().unwrap()),
            child,
            stderr_seen: Vec::new(),
        }
    }

    /// The service scenario `name`, with `env`, its `WATCHDOG_PID` its own
    /// pid when `own_watchdog`.
    fn service(name: &str, env: &[(&str, &str)], own_watchdog: bool) -> Proc {
        let exe = env::current_exe().unwrap();
        let mut cmd = if own_watchdog {
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg("WATCHDOG_PID=$$ exec \"$0\"").arg(exe);
            cmd
        } else {
            Command::new(exe)
        };
        cmd.env(SCENARIO_ENV, name)
            .env("HEARTH_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut service = Proc::spawn(cmd);
        service.expect_line("started");
        service
    }

    /// The next stdout line.
    #[track_caller]
    fn line(&mut self) -> String {
        match self.stdout.recv_timeout(GUARD) {
            Ok(line) => line,
            Err(err) => panic!(
                "no line on stdout ({err}); stderr: {:?}",
                self.stderr_lines()
            ),
        }
    }

    #[track_caller]
    fn expect_line(&mut self, want: &str) {
        let line = self.line();
        assert_eq!(line, want, "stderr: {:?}", self.stderr_lines());
    }

    /// Waits for a stderr line containing every one of `words`.
    #[track_caller]
    fn stderr_line(&mut self, words: &[&str]) -> String {
        let deadline = Instant::now() + GUARD;
        loop {
            match self
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    self.stderr_seen.push(line.clone());
                    if words.iter().all(|w| line.contains(w)) {
                        return line;
                    }
                }
                Err(err) => panic!(
                    "no stderr line with {words:?} ({err}): {:?}",
                    self.stderr_seen
                ),
            }
        }
    }

    /// The stderr lines so far.
    fn stderr_lines(&mut self) -> Vec<String> {
        self.stderr_seen.extend(self.stderr.try_iter());
        self.stderr_seen.clone()
    }

    fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin closed");
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: `kill` has no memory-safety preconditions; the pid is our
        // own child, which we have not reaped yet.
        let res = unsafe { libc::kill(libc::pid_t::try_from(self.child.id()).unwrap(), signal) };
        assert_eq!(res, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Sends SIGTERM, closes stdin and waits for the exit.
    fn stop(&mut self) -> ExitStatus {
        // The signal first: the service's stdin thread holds the last
        // reference to its blocker actor, so closing stdin first could end
        // the runtime on its own (no actor left), and a SIGTERM that came
        // after the runtime had let go of the signals took the default
        // action (the child killed by it, seen under load).
        self.signal(libc::SIGTERM);
        drop(self.stdin.take());
        self.wait()
    }

    /// Waits for the exit (the end of stderr, then the status).
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + GUARD;
        loop {
            match self
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => self.stderr_seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("the child did not exit; stderr: {:?}", self.stderr_seen)
                }
            }
        }
        self.child.wait().unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's end of `NOTIFY_SOCKET`.
struct Manager {
    socket: UnixDatagram,
    /// `NOTIFY_SOCKET`'s value.
    addr: String,
    /// Every notification read so far.
    seen: Vec<String>,
    _dir: Option<Scratch>,
}

impl Manager {
    /// A socket at a path in a fresh directory.
    fn at_path(test: &str) -> Manager {
        let dir = Scratch::new(test);
        let path = dir.0.join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(GUARD)).unwrap();
        Manager {
            socket,
            addr: path.display().to_string(),
            seen: Vec::new(),
            _dir: Some(dir),
        }
    }

    /// A socket with an abstract name.
    fn abstract_name(test: &str) -> Manager {
        let name = format!("hearth-systemd-test-{}-{test}", process::id());
        let socket =
            UnixDatagram::bind_addr(&UnixAddr::from_abstract_name(&name).unwrap()).unwrap();
        socket.set_read_timeout(Some(GUARD)).unwrap();
        Manager {
            socket,
            addr: format!("@{name}"),
            seen: Vec::new(),
            _dir: None,
        }
    }

    /// The next notification.
    #[track_caller]
    fn next(&mut self) -> String {
        let mut buf = [0; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8(buf[..n].to_vec()).unwrap();
                self.seen.push(msg.clone());
                msg
            }
            Err(err) => panic!("no notification ({err}); seen: {:?}", self.seen),
        }
    }

    /// The next notification that is not a watchdog ping.
    #[track_caller]
    fn next_not_ping(&mut self) -> String {
        loop {
            let msg = self.next();
            if msg != "WATCHDOG=1" {
                return msg;
            }
        }
    }

    /// Notifications already queued.
    fn pending(&mut self) -> Vec<String> {
        self.socket.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        while let Ok(n) = self.socket.recv(&mut buf) {
            got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        self.socket.set_nonblocking(false).unwrap();
        self.seen.extend(got.iter().cloned());
        got
    }

    /// A notification within `window`, if one comes.
    fn within(&mut self, window: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(window)).unwrap();
        let mut buf = [0; 4096];
        let got = self
            .socket
            .recv(&mut buf)
            .ok()
            .map(|n| String::from_utf8(buf[..n].to_vec()).unwrap());
        self.socket.set_read_timeout(Some(GUARD)).unwrap();
        self.seen.extend(got.iter().cloned());
        got
    }

    fn count(&self, msg: &str) -> usize {
        self.seen.iter().filter(|m| *m == msg).count()
    }
}

/// A directory of the test's, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = env::temp_dir().join(format!("hearth-systemd-{}-{test}", process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn watchdog_usec() -> String {
    WATCHDOG.as_micros().to_string()
}

/// Waits for `READY=1` and two watchdog pings, in whatever order.
#[track_caller]
fn ready_and_pinging(manager: &mut Manager) {
    while manager.count("READY=1") == 0 || manager.count("WATCHDOG=1") < 2 {
        let msg = manager.next();
        assert!(
            msg == "READY=1" || msg == "WATCHDOG=1",
            "unexpected {msg:?}; seen: {:?}",
            manager.seen
        );
    }
}

fn ready_status_watchdog_and_stopping() {
    let mut manager = Manager::at_path("lifecycle");
    let usec = watchdog_usec();
    let env = [
        ("NOTIFY_SOCKET", manager.addr.as_str()),
        ("WATCHDOG_USEC", usec.as_str()),
    ];
    let mut service = Proc::service("service", &env, true);
    service.stderr_line(&["service watchdog on", "interval=400ms"]);
    ready_and_pinging(&mut manager);
    service.send("status serving 3 clients");
    service.expect_line("status sent: Ok(true)");
    assert_eq!(manager.next_not_ping(), "STATUS=serving 3 clients");
    let status = service.stop();
    assert!(status.success(), "{status}: {:?}", service.stderr_lines());
    assert_eq!(manager.next_not_ping(), "STOPPING=1");
    manager.pending();
    assert_eq!(manager.count("READY=1"), 1, "{:?}", manager.seen);
    assert_eq!(manager.count("STOPPING=1"), 1, "{:?}", manager.seen);
}

fn watchdog_pings_stop_while_a_worker_is_stuck() {
    let mut manager = Manager::at_path("stuck");
    let usec = watchdog_usec();
    let env = [
        ("NOTIFY_SOCKET", manager.addr.as_str()),
        ("WATCHDOG_USEC", usec.as_str()),
    ];
    let mut service = Proc::service("service", &env, true);
    ready_and_pinging(&mut manager);
    service.send("block");
    service.expect_line("blocked");
    service.stderr_line(&["withholding the watchdog ping", "worker=1"]);
    // Pings sent before the warning are queued already; none may follow
    // while the worker is blocked (three intervals: six pings when well).
    manager.pending();
    if let Some(msg) = manager.within(WATCHDOG * 3) {
        panic!("{msg:?} while worker 1 was stuck; seen: {:?}", manager.seen);
    }
    service.send("unblock");
    service.expect_line("unblocked");
    assert_eq!(manager.next(), "WATCHDOG=1");
    service.stderr_line(&["watchdog pings resume", "worker=1"]);
    let status = service.stop();
    assert!(status.success(), "{status}: {:?}", service.stderr_lines());
}

fn abstract_notify_socket() {
    let mut manager = Manager::abstract_name("abstract");
    let env = [("NOTIFY_SOCKET", manager.addr.as_str())];
    let mut service = Proc::service("service", &env, false);
    assert_eq!(manager.next(), "READY=1");
    service.send("status on an abstract socket");
    assert_eq!(manager.next(), "STATUS=on an abstract socket");
    let status = service.stop();
    assert!(status.success(), "{status}: {:?}", service.stderr_lines());
    assert_eq!(manager.next(), "STOPPING=1");
}

fn watchdog_of_another_process_gets_no_pings() {
    let mut manager = Manager::at_path("other-pid");
    let env = [
        ("NOTIFY_SOCKET", manager.addr.as_str()),
        ("WATCHDOG_USEC", "100000"),
        ("WATCHDOG_PID", "1"),
        ("HEARTH_LOG", "debug"),
    ];
    let mut service = Proc::service("service", &env, false);
    service.stderr_line(&["the service watchdog is another process's"]);
    assert_eq!(manager.next(), "READY=1");
    let status = service.stop();
    assert!(status.success(), "{status}: {:?}", service.stderr_lines());
    assert_eq!(manager.next(), "STOPPING=1");
    manager.pending();
    assert_eq!(manager.count("WATCHDOG=1"), 0, "{:?}", manager.seen);
}

fn a_runtime_that_fails_to_start_is_never_ready() {
    let mut manager = Manager::at_path("failing");
    let env = [("NOTIFY_SOCKET", manager.addr.as_str())];
    let mut service = Proc::service("failing_start", &env, false);
    let status = service.wait();
    assert_eq!(status.code(), Some(1), "{:?}", service.stderr_lines());
    assert!(
        service
            .stderr_lines()
            .iter()
            .any(|l| l.contains("no database")),
        "{:?}",
        service.stderr_lines()
    );
    // The child exited: everything it sent is queued.
    assert_eq!(manager.pending(), ["STOPPING=1"]);
}

fn without_notify_socket_nothing_is_sent() {
    let mut service = Proc::service("service", &[], false);
    service.send("status unseen");
    service.expect_line("status sent: Ok(false)");
    let status = service.stop();
    assert!(status.success(), "{status}: {:?}", service.stderr_lines());
}

/// `systemd-socket-activate`, or `None` (after saying so) to skip.
fn socket_activate() -> Option<&'static str> {
    const PROGRAM: &str = "systemd-socket-activate";
    let found = Command::new(PROGRAM)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if found {
        return Some(PROGRAM);
    }
    assert!(
        !env::var("HEARTH_REQUIRE_SYSTEMD").is_ok_and(|v| v == "1"),
        "{PROGRAM} is not installed (Debian package systemd), and HEARTH_REQUIRE_SYSTEMD=1"
    );
    println!("skipped: {PROGRAM} is not installed (Debian package systemd)");
    None
}

/// Round trips over `stream`, each checked.
fn echo_round_trips(stream: &mut (impl Read + Write), client: u8) {
    let mut got = [0; 64];
    for i in 0..50u8 {
        let msg = [client.wrapping_add(i); 64];
        stream.write_all(&msg).unwrap();
        stream.read_exact(&mut got).unwrap();
        assert_eq!(got, msg);
    }
}

/// Starts `program` under `systemd-socket-activate` (named `name`, with
/// `env` passed on) on a TCP socket the test binds on port 0 and hands it
/// (`systemd-socket-activate` passes on the sockets it is given), so no
/// port is guessed. The program starts at the first connection. Returns
/// the process, the address and the test's copy of the socket.
fn activate_on_tcp(
    activate: &str,
    program: &Path,
    name: &str,
    env: &[(&str, &str)],
) -> (Proc, std::net::SocketAddr, std::net::TcpListener) {
    activate_on_tcp_with(activate, &[], program, name, env)
}

/// [`activate_on_tcp`] with more options for `systemd-socket-activate`
/// (`--accept`).
fn activate_on_tcp_with(
    activate: &str,
    options: &[&str],
    program: &Path,
    name: &str,
    env: &[(&str, &str)],
) -> (Proc, std::net::SocketAddr, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("LISTEN_FDS=1 LISTEN_PID=$$ exec \"$0\" \"$@\"")
        .arg(activate)
        .args(options)
        .arg(format!("--fdname={name}"));
    for (key, value) in env {
        cmd.arg(format!("--setenv={key}={value}"));
    }
    cmd.arg(program)
        .env("HEARTH_LOG", "info")
        .env_remove("LISTEN_FDNAMES");
    // SAFETY: between fork and exec the closure only makes system calls
    // that are async-signal-safe (`dup2`, `fcntl`), on a descriptor the
    // parent keeps open.
    unsafe {
        cmd.pre_exec(move || {
            let res = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if res == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut server = Proc::spawn(cmd);
    server.stderr_line(&[&format!("Listening on {addr} as 3")]);
    (server, addr, listener)
}

fn socket_activated_echo_server_on_tcp() {
    let Some(activate) = socket_activate() else {
        return;
    };
    let echo = build::example("echo_server");
    let (mut server, addr, _listener) = activate_on_tcp(activate, &echo, "echo", &[]);
    // The first connection makes systemd-socket-activate start the server.
    let mut clients: Vec<std::net::TcpStream> = (0..4)
        .map(|_| {
            let stream = std::net::TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(GUARD)).unwrap();
            stream
        })
        .collect();
    assert_eq!(server.line(), format!("listening on {addr}"));
    for (i, client) in clients.iter_mut().enumerate() {
        echo_round_trips(client, u8::try_from(i).unwrap());
    }
    let status = server.stop();
    assert!(status.success(), "{status}: {:?}", server.stderr_lines());
    for client in &mut clients {
        let mut rest = Vec::new();
        assert_eq!(
            client.read_to_end(&mut rest).unwrap(),
            0,
            "EOF after the echoes"
        );
    }
}

/// The HTTP example as a `Type=notify` service on an activated socket:
/// `READY=1`, the answer to a real request, `STOPPING=1` on SIGTERM.
fn socket_activated_http_server_notifies() {
    let Some(activate) = socket_activate() else {
        return;
    };
    let http = build::example_with_features("http_server", &["hyper"]);
    let mut manager = Manager::at_path("activate-http");
    let env = [("NOTIFY_SOCKET", manager.addr.as_str())];
    let (mut server, addr, _listener) = activate_on_tcp(activate, &http, "http", &env);
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(GUARD)).unwrap();
    assert_eq!(server.line(), format!("listening on {addr}"));
    assert_eq!(manager.next(), "READY=1");
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("Hello, World!"), "{response}");
    let status = server.stop();
    assert!(status.success(), "{status}: {:?}", server.stderr_lines());
    assert_eq!(manager.next(), "STOPPING=1");
}

/// `systemd-socket-activate` (with `options`) listening on `echo.sock` in
/// a scratch directory named `name` for the echo server, once it said so;
/// `None` if the tool is missing (said, unless required).
fn echo_on_a_unix_socket(name: &str, options: &[&str]) -> Option<(Proc, Scratch)> {
    let activate = socket_activate()?;
    let echo = build::example("echo_server");
    let dir = Scratch::new(name);
    let path = dir.0.join("echo.sock");
    let mut cmd = Command::new(activate);
    cmd.args(options)
        .arg("-l")
        .arg(&path)
        .arg("--fdname=echo")
        .arg(&echo)
        .env("HEARTH_LOG", "info")
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID");
    let mut server = Proc::spawn(cmd);
    server.stderr_line(&[&format!("Listening on {} as 3", path.display())]);
    Some((server, dir))
}

/// `systemd-socket-activate` binds a Unix socket and starts the echo
/// server on it at the first connection; the file is its, not the
/// server's, and stays.
fn socket_activated_echo_server_on_a_unix_socket() {
    let Some((mut server, dir)) = echo_on_a_unix_socket("activate-unix", &[]) else {
        return;
    };
    let path = dir.0.join("echo.sock");
    let connect = |path: &Path| {
        let stream = std::os::unix::net::UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(GUARD)).unwrap();
        stream
    };
    let mut clients: Vec<_> = (0..4).map(|_| connect(&path)).collect();
    assert_eq!(server.line(), format!("listening on {}", path.display()));
    for (i, client) in clients.iter_mut().enumerate() {
        echo_round_trips(client, u8::try_from(i).unwrap());
    }
    let status = server.stop();
    assert!(status.success(), "{status}: {:?}", server.stderr_lines());
    for client in &mut clients {
        let mut rest = Vec::new();
        assert_eq!(
            client.read_to_end(&mut rest).unwrap(),
            0,
            "EOF after the echoes"
        );
    }
    assert!(
        path.exists(),
        "a passed socket's file is its owner's to remove"
    );
}

/// Waits for `systemd-socket-activate --accept` to report the end of one
/// of the servers it started, and checks it exited with 0.
#[track_caller]
fn expect_instance_success(server: &mut Proc) {
    let line = server.stderr_line(&["Child", "died with code"]);
    assert!(
        line.ends_with("died with code 0"),
        "{line}: {:?}",
        server.stderr_lines()
    );
}

/// `Accept=yes`: `systemd-socket-activate --accept` accepts each connection
/// on a TCP socket the test binds on port 0 and hands it (so no port is
/// guessed), and starts an echo server per connection with that one
/// connected socket. Each server takes it as a stream
/// (`ActivatedSocket::into_tcp_stream`, `TcpStream::from_std`), says
/// whose connection it serves, echoes it, and exits 0 when its client
/// closes.
fn accepted_tcp_connections_each_get_an_echo_server() {
    let Some(activate) = socket_activate() else {
        return;
    };
    let echo = build::example("echo_server");
    let (mut server, addr, _listener) =
        activate_on_tcp_with(activate, &["--accept"], &echo, "echo", &[]);
    let mut clients: Vec<std::net::TcpStream> = (0..2)
        .map(|_| {
            let stream = std::net::TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(GUARD)).unwrap();
            stream
        })
        .collect();
    // One server per connection, each with the client's own connection.
    let mut served = vec![server.line(), server.line()];
    served.sort();
    let mut expected: Vec<String> = clients
        .iter()
        .map(|c| format!("serving the connection from {}", c.local_addr().unwrap()))
        .collect();
    expected.sort();
    assert_eq!(served, expected, "stderr: {:?}", server.stderr_lines());
    for (i, client) in clients.iter_mut().enumerate() {
        echo_round_trips(client, u8::try_from(i).unwrap());
    }
    for client in &mut clients {
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        assert_eq!(
            client.read_to_end(&mut rest).unwrap(),
            0,
            "EOF after the echoes"
        );
        expect_instance_success(&mut server);
    }
}

/// `Accept=yes` on a Unix socket that `systemd-socket-activate` binds: the
/// echo server gets the accepted connection as a Unix stream.
fn an_accepted_unix_connection_gets_an_echo_server() {
    let Some((mut server, dir)) = echo_on_a_unix_socket("accept-unix", &["--accept"]) else {
        return;
    };
    let path = dir.0.join("echo.sock");
    let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    client.set_read_timeout(Some(GUARD)).unwrap();
    assert_eq!(
        server.line(),
        format!("serving a connection on {}", path.display())
    );
    echo_round_trips(&mut client, 7);
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        client.read_to_end(&mut rest).unwrap(),
        0,
        "EOF after the echoes"
    );
    expect_instance_success(&mut server);
}
