//! A private OpenSSH server on loopback, for the ssh tests of hearth's
//! remote slot pool.
//!
//! [`Sshd::start`] writes everything into a fresh temp directory (host key,
//! client keys, `authorized_keys`, `sshd_config`, a client `ssh_config` and a
//! pre-filled `known_hosts`), starts `/usr/sbin/sshd -D` on a free port of
//! 127.0.0.1 and waits until it answers with an SSH banner. The client
//! config gives the pool host aliases to use with
//! `Transport::Ssh { ssh: sshd.ssh_command(), .. }`:
//!
//! - the aliases passed to [`Sshd::start`] (e.g. `node1`, `node2`): the
//!   private sshd, logged in with a key it accepts;
//! - `closed`: a loopback port that is bound but not listening for as long as
//!   the [`Sshd`] lives, so every connect is refused at once (ssh exits 255,
//!   "Connection refused"): a fast unreachable host;
//! - `denied`: the private sshd with a key that is not in
//!   `authorized_keys` (ssh exits 255, "Permission denied (publickey)");
//! - `badkey`: the private sshd, with a `known_hosts` that holds another
//!   key for it (ssh exits 255, "Host key verification failed.");
//! - `unknown`: a host name that does not resolve (`nosuchhost.invalid`:
//!   ssh exits 255, "Could not resolve hostname").
//!
//! Dropping the [`Sshd`] kills the listener and every process below it (the
//! per-connection sshd children, the shells and workers they started) and
//! removes the temp directory.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::procs::{processes, signal};

/// The sshd binary: it must be started by its absolute path (it refuses to
/// re-exec itself otherwise).
const SSHD: &str = "/usr/sbin/sshd";

/// How long sshd has to start answering on its port.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Ports tried when sshd cannot bind the one picked (another process took it
/// between our probe and sshd's bind).
const PORT_ATTEMPTS: usize = 5;

/// Distinguishes the temp directories of several servers in one process.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A running private sshd, see the module documentation.
#[derive(Debug)]
pub struct Sshd {
    dir: PathBuf,
    child: Child,
    port: u16,
    config: PathBuf,
    log: PathBuf,
    /// Holds the `closed` alias's port: bound, never listening; closed
    /// with the server.
    _closed: OwnedFd,
}

impl Sshd {
    /// Starts a server for a test of the libtest harness: `None` when
    /// sshd is not available, after saying `skipped: TEST: WHY` on the
    /// terminal (past the harness's capture of the test's output, which
    /// would show the test as a plain `ok`); a panic instead when
    /// `HEARTH_REQUIRE_SSHD=1` (CI) makes its absence a failure.
    #[allow(dead_code)]
    pub fn start_or_skip(hosts: &[&str]) -> Option<Sshd> {
        match Sshd::start(hosts) {
            Ok(sshd) => Some(sshd),
            Err(why) if std::env::var("HEARTH_REQUIRE_SSHD").is_ok_and(|v| v == "1") => {
                panic!("HEARTH_REQUIRE_SSHD=1 and no private sshd: {why}")
            }
            Err(why) => {
                let test = std::thread::current().name().unwrap_or("?").to_owned();
                let line = format!("skipped: {test}: no private sshd: {why}\n");
                let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
                None
            }
        }
    }

    /// Starts a server with the client aliases `hosts` (plus `closed`,
    /// `denied`, `badkey` and `unknown`).
    ///
    /// # Errors
    ///
    /// Why the server is not available: a missing binary, a failed key
    /// generation, a config sshd rejects, or no answer in time; the caller
    /// decides whether that skips or fails the tests.
    pub fn start(hosts: &[&str]) -> Result<Sshd, String> {
        if !Path::new(SSHD).is_file() {
            return Err(format!("{SSHD} not found (package openssh-server)"));
        }
        for tool in ["ssh", "ssh-keygen"] {
            if find_in_path(tool).is_none() {
                return Err(format!(
                    "`{tool}` not found in PATH (package openssh-client)"
                ));
            }
        }
        let user = run(Command::new("id").arg("-un"))?.trim().to_owned();
        if user.is_empty() {
            return Err("`id -un` printed no user name".to_owned());
        }

        let dir = std::env::temp_dir().join(format!(
            "hearth-sshd-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("home")).map_err(|e| format!("creating {dir:?}: {e}"))?;
        // From here on the directory is removed on every error path.
        let result = Sshd::start_in(&dir, &user, hosts);
        if result.is_err() {
            let _ = fs::remove_dir_all(&dir);
        }
        result
    }

    #[allow(clippy::too_many_lines)] // The set-up steps of one sshd, in the order they run.
    fn start_in(dir: &Path, user: &str, hosts: &[&str]) -> Result<Sshd, String> {
        let host_key = dir.join("host_ed25519");
        let client_key = dir.join("client_ed25519");
        let other_key = dir.join("other_ed25519");
        for key in [&host_key, &client_key, &other_key] {
            let _ = run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "hearth-test", "-f"])
                .arg(key))?;
        }
        let authorized = dir.join("authorized_keys");
        copy(&client_key.with_extension("pub"), &authorized)?;
        let host_pub = read(&host_key.with_extension("pub"))?;
        let host_pub: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        let wrong_pub = read(&other_key.with_extension("pub"))?;
        let wrong_pub: Vec<&str> = wrong_pub.split_whitespace().take(2).collect();
        let (closed, closed_port) = bound_not_listening()?;

        // As root, sshd needs its privilege separation directory; as another
        // user it cannot be created, and `sshd -t` below says if it matters.
        let _ = fs::create_dir_all("/run/sshd");

        let sshd_config = dir.join("sshd_config");
        let client_config = dir.join("ssh_config");
        let log = dir.join("sshd.log");
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            write(
                &sshd_config,
                &format!(
                    "ListenAddress 127.0.0.1:{port}\n\
                     HostKey {host_key}\n\
                     AuthorizedKeysFile {authorized}\n\
                     AllowUsers {user}\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     PermitRootLogin prohibit-password\n\
                     UsePAM no\n\
                     StrictModes no\n\
                     MaxStartups 100:30:200\n\
                     MaxSessions 100\n\
                     SetEnv HOME={home}\n\
                     PidFile none\n\
                     PrintMotd no\n\
                     PrintLastLog no\n\
                     LogLevel VERBOSE\n",
                    host_key = host_key.display(),
                    authorized = authorized.display(),
                    home = dir.join("home").display(),
                ),
            )?;
            let check = Command::new(SSHD)
                .args(["-t", "-f"])
                .arg(&sshd_config)
                .output()
                .map_err(|e| format!("running {SSHD} -t: {e}"))?;
            if !check.status.success() {
                return Err(format!(
                    "{SSHD} -t rejects the test config ({}): {}",
                    check.status,
                    String::from_utf8_lossy(&check.stderr).trim()
                ));
            }
            let mut child = Command::new(SSHD)
                .args(["-D", "-f"])
                .arg(&sshd_config)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group: a Ctrl+C in the terminal reaches the
                // test, whose Drop then takes the server down.
                .process_group(0)
                .spawn()
                .map_err(|e| format!("starting {SSHD}: {e}"))?;
            match wait_ready(&mut child, port) {
                Ok(()) => {}
                Err(Ready::Exited(status)) => {
                    last_error = format!(
                        "{SSHD} exited ({status}) on port {port}: {}",
                        tail(&read(&log).unwrap_or_default(), 5)
                    );
                    // Most likely the port was taken after our probe: try
                    // another one.
                    continue;
                }
                Err(Ready::Timeout(why)) => {
                    kill_tree(&mut child);
                    return Err(format!(
                        "{SSHD} did not answer on 127.0.0.1:{port} within {READY_TIMEOUT:?} \
                         ({why}); its log: {}",
                        tail(&read(&log).unwrap_or_default(), 5)
                    ));
                }
            }
            write(
                &dir.join("known_hosts"),
                &format!("[127.0.0.1]:{port} {}\n", host_pub.join(" ")),
            )?;
            // For `badkey`: the server known by another key (the refused
            // client key's, of the same type).
            write(
                &dir.join("known_hosts_wrong"),
                &format!("[127.0.0.1]:{port} {}\n", wrong_pub.join(" ")),
            )?;
            let aliases = hosts.join(" ");
            let common = |host_name: &str, known: &str| {
                format!(
                    "    HostName {host_name}\n\
                 \x20   User {user}\n\
                 \x20   IdentitiesOnly yes\n\
                 \x20   IdentityAgent none\n\
                 \x20   PreferredAuthentications publickey\n\
                 \x20   UserKnownHostsFile {known}\n\
                 \x20   GlobalKnownHostsFile /dev/null\n\
                 \x20   StrictHostKeyChecking yes\n\
                 \x20   UpdateHostKeys no\n\
                 \x20   BatchMode yes\n\
                 \x20   ConnectTimeout 5\n\
                 \x20   ControlMaster no\n\
                 \x20   ControlPath none\n\
                 \x20   LogLevel ERROR\n",
                    known = dir.join(known).display(),
                )
            };
            let good = common("127.0.0.1", "known_hosts");
            // IdentityFile adds up over every matching Host block: each
            // alias gets exactly one key, in its own block.
            write(
                &client_config,
                &format!(
                    "Host {aliases}\n    Port {port}\n    IdentityFile {client}\n{good}\n\
                     Host closed\n    Port {closed_port}\n    IdentityFile {client}\n{good}\n\
                     Host denied\n    Port {port}\n    IdentityFile {other}\n{good}\n\
                     Host badkey\n    Port {port}\n    IdentityFile {client}\n{wrong}\n\
                     Host unknown\n    Port {port}\n    IdentityFile {client}\n{unknown}",
                    client = client_key.display(),
                    other = other_key.display(),
                    wrong = common("127.0.0.1", "known_hosts_wrong"),
                    unknown = common("nosuchhost.invalid", "known_hosts"),
                ),
            )?;
            return Ok(Sshd {
                dir: dir.to_owned(),
                child,
                port,
                config: client_config,
                log,
                _closed: closed,
            });
        }
        Err(format!(
            "{SSHD} could not start on {PORT_ATTEMPTS} ports; last: {last_error}"
        ))
    }

    /// The ssh command for `Transport::Ssh`: `["ssh", "-F", CONFIG]`.
    pub fn ssh_command(&self) -> Vec<String> {
        vec![
            "ssh".to_owned(),
            "-F".to_owned(),
            self.config.display().to_string(),
        ]
    }

    /// The client `ssh_config` with the host aliases.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The listener's process id (a child of the test process).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A fresh, empty directory inside the server's temp directory (removed
    /// with it), for marker files shared with the workers.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.join("scratch").join(name);
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {path:?}: {e}"));
        path
    }

    /// The server's log so far (`LogLevel VERBOSE`: one `Connection from`
    /// line per TCP connection, one `Accepted publickey` per login).
    pub fn log(&self) -> String {
        read(&self.log).unwrap_or_default()
    }

    /// How many lines of the server's log contain `pattern`.
    pub fn log_count(&self, pattern: &str) -> usize {
        self.log().lines().filter(|l| l.contains(pattern)).count()
    }

    /// The last `lines` lines of the server's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log(), lines)
    }
}

impl Drop for Sshd {
    /// Kills the listener and everything below it, then removes the temp
    /// directory.
    fn drop(&mut self) {
        kill_tree(&mut self.child);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Why sshd is not ready.
enum Ready {
    /// The listener exited (typically: it could not bind the port).
    Exited(std::process::ExitStatus),
    /// No banner before the deadline; the last probe error.
    Timeout(String),
}

/// Waits until sshd answers on `port` with an SSH banner: a readiness probe
/// that connects again after each refusal, bounded by [`READY_TIMEOUT`].
fn wait_ready(child: &mut Child, port: u16) -> Result<(), Ready> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Ready::Exited(status));
        }
        let err = match probe(addr) {
            // Another program could answer on a port sshd failed to bind:
            // the listener must be alive after its banner came.
            Ok(()) => match child.try_wait() {
                Ok(Some(status)) => return Err(Ready::Exited(status)),
                _ => return Ok(()),
            },
            Err(err) => err,
        };
        if Instant::now() >= deadline {
            return Err(Ready::Timeout(err.to_string()));
        }
        // Retry interval of the probe, not a synchronisation: the loop ends
        // as soon as the server answers.
        thread::sleep(Duration::from_millis(5));
    }
}

/// One readiness probe: connect and read the `SSH-2.0-` banner.
fn probe(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut banner = [0; 8];
    stream.read_exact(&mut banner)?;
    if &banner == b"SSH-2.0-" {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "not an SSH banner: {:?}",
            String::from_utf8_lossy(&banner)
        )))
    }
}

/// A port that was free a moment ago: bound to port 0, read, released.
/// sshd may lose it to another program before it binds; the caller retries.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("binding a free loopback port: {e}"))
}

/// A TCP socket bound to a loopback port without listening: while it is
/// open, nothing else can listen there and every connect is refused.
fn bound_not_listening() -> Result<(OwnedFd, u16), String> {
    // SAFETY: plain socket calls on a socket this function owns; the
    // addresses are properly sized `sockaddr_in` values.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(format!("socket: {}", io::Error::last_os_error()));
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::sa_family_t::try_from(libc::AF_INET).unwrap();
        addr.sin_port = 0;
        addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
        let len = libc::socklen_t::try_from(std::mem::size_of::<libc::sockaddr_in>()).unwrap();
        if libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) != 0 {
            return Err(format!("bind: {}", io::Error::last_os_error()));
        }
        let mut bound: libc::sockaddr_in = std::mem::zeroed();
        let mut bound_len = len;
        if libc::getsockname(fd.as_raw_fd(), (&raw mut bound).cast(), &raw mut bound_len) != 0 {
            return Err(format!("getsockname: {}", io::Error::last_os_error()));
        }
        Ok((fd, u16::from_be(bound.sin_port)))
    }
}

/// Kills `child` and every process below it, and reaps `child`.
///
/// sshd forks a child per connection (which calls `setsid`, so killing a
/// process group would miss it), and that child forks the shell that runs
/// the worker. The tree is frozen first, parent before children, with
/// `SIGSTOP` (a stopped process cannot fork), found again until no new
/// descendant shows up, then killed with `SIGKILL`.
fn kill_tree(child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    let root = child.id();
    let _ = signal(root, libc::SIGSTOP);
    let mut tree = HashSet::from([root]);
    loop {
        let new: Vec<u32> = processes()
            .into_iter()
            .filter(|p| tree.contains(&p.ppid) && !tree.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        if new.is_empty() {
            break;
        }
        for pid in new {
            let _ = signal(pid, libc::SIGSTOP);
            let _ = tree.insert(pid);
        }
    }
    for &pid in &tree {
        let _ = signal(pid, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Runs a command to completion; its stdout, or why it failed.
fn run(cmd: &mut Command) -> Result<String, String> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `name` in one of the directories of `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("reading {path:?}: {e}"))
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    fs::write(path, contents).map_err(|e| format!("writing {path:?}: {e}"))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("copying {from:?} to {to:?}: {e}"))
}

/// The last `lines` lines of `text`, joined with ` | `.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}
