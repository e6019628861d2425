//! One ssh login per host: the slots of an ssh host share one connection
//! through OpenSSH's multiplexing, with a control socket in a private
//! directory that the pool owns.
//!
//! Each ssh host has a *master*: `ssh -o ControlMaster=yes -o
//! ControlPath=SOCKET -o ControlPersist=10 -N HOST`, started by the engine
//! when the first slot of the host is due to start. `ssh -G HOST` runs
//! first: where ssh would make a plain TCP connection, the master takes
//! one from hearth's connector instead, with Nagle's algorithm off during
//! the login (`connector.rs`). ssh logs in, listens on
//! the socket, forks the master into the background and exits 0: that exit
//! is the master's readiness (looked at every [`MASTER_CHECK`] while it
//! logs in; the slots of the host wait meanwhile). The slots then run
//! `ssh -o ControlMaster=no -o ControlPath=SOCKET HOST BIN --remote-worker`,
//! a session over the master's connection: no login, no key exchange, a
//! channel opened in one round trip. A host with eight slots costs one
//! login instead of eight (and stays under sshd's `MaxStartups`).
//!
//! States of a host's master ([`Master`]), one policy in one place:
//!
//! | state      | event                                   | next                      |
//! |------------|-----------------------------------------|---------------------------|
//! | `Idle`     | a slot is due                           | `Probing` (`ssh -G`)      |
//! | `Probing`  | `ssh -G` ended                          | `Starting` (ssh spawned)  |
//! | `Probing`  | `ssh -G` still runs after 2 s           | `Starting` (ssh's own connection) |
//! | `Starting` | ssh exited 0, the socket is there        | `Ready`                   |
//! | `Starting` | the connector could not run at all      | `Starting` (ssh's own connection) |
//! | `Starting` | ssh exited otherwise, or no login in time | `Failed` (its ending)    |
//! | `Failed`   | the slots due now got the failure        | `Idle`                    |
//! | `Ready`    | a slot is due and the socket answers     | `Ready` (slot started)    |
//! | `Ready`    | a slot is due, the socket refuses       | `Idle` (the master died)  |
//! | `Ready`    | its slots went silent together          | `Idle` (master killed, socket removed) |
//! | any        | the pool closes                          | `ssh -O exit`, `Idle`     |
//!
//! A master that dies takes its slots' sessions with it: they fail the
//! usual way (their jobs go back to the queue) and, when they start
//! again, a new master logs in. A master that cannot log in fails the
//! slots waiting for it as their own ssh would have (the same exit status
//! and words, read by `failure.rs`): a refused login is said once per slot
//! and is permanent, a refused connection is retried with back-off.
//!
//! Not multiplexed: hosts of other transports, and ssh hosts whose ssh
//! command sets `ControlMaster`, `ControlPath` (or `-M`, `-S`) itself;
//! the user's own multiplexing is theirs.
//!
//! The directory is made at the first master, mode 0700, under
//! `$XDG_RUNTIME_DIR` or the temporary directory (whichever keeps the
//! socket's path within what a Unix socket takes, ssh's temporary suffix
//! included), and removed when the pool closes or is dropped, after
//! `ssh -O exit` told each master to end and the master's process (its
//! pid from `ssh -O check`) is gone. A pool killed with `SIGKILL`
//! cannot do that: its masters then end by themselves 10 s after their
//! last session (`ControlPersist`), and only the empty directory stays.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::remote::{Host, Transport, connector};

/// How long `ssh -G` may take before the master logs in without the
/// connector.
const PROBE_LIMIT: Duration = Duration::from_secs(2);

/// How often a master that logs in is looked at.
pub(crate) const MASTER_CHECK: Duration = Duration::from_millis(2);

/// How long a master stays after its last session when nobody told it to
/// end (the pool was killed with `SIGKILL`).
pub(crate) const CONTROL_PERSIST: u32 = 10;

/// How long the pool waits for `ssh -O exit` at its end.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// The longest path a Unix socket takes (`sun_path`, its NUL included).
const SUN_PATH: usize = 108;

/// What ssh adds to the control path while it binds the socket (a dot and
/// 16 random characters, then renamed into place).
const SSH_SUFFIX: usize = 17;

/// Distinguishes the directories of several pools in one process.
static DIRS: AtomicUsize = AtomicUsize::new(0);

/// How a host's master ended before it was up, for the slots waiting for
/// it: read by `failure::diagnose` as their own ssh's ending.
#[derive(Clone, Debug)]
pub(crate) struct MasterFailure {
    /// ssh's exit status, or `None` when it was killed for taking too long.
    pub(crate) status: Option<ExitStatus>,
    /// ssh's last stderr lines, oldest first.
    pub(crate) stderr: Vec<String>,
    /// It did not log in within this time.
    pub(crate) timed_out: Option<Duration>,
    /// ssh could not be started: the system's error.
    pub(crate) spawn_error: Option<String>,
}

impl MasterFailure {
    /// ssh could not be started: `err`.
    fn not_started(err: &io::Error) -> MasterFailure {
        MasterFailure {
            status: None,
            stderr: Vec::new(),
            timed_out: None,
            spawn_error: Some(err.to_string()),
        }
    }
}

/// Kills an ssh the pool started and what it started (its own process
/// group: a connector still connecting, `ssh -G`'s `Match exec`), and
/// waits for it.
fn end_group(child: &mut Child) -> io::Result<ExitStatus> {
    let _ = crate::sys::kill_group(child.id());
    let _ = child.kill();
    child.wait()
}

/// A host's master (see the module's table).
enum Master {
    /// Not multiplexed.
    Off,
    Idle,
    /// `ssh -G` reads the host's configuration: may the master take its
    /// connection from the connector (`connector.rs`)?
    Probing {
        child: Child,
        /// When `ssh -G` started (it has [`PROBE_LIMIT`]).
        since: Instant,
        deadline: Instant,
        within: Duration,
        /// Where `ssh -G` prints.
        config: PathBuf,
        host: Box<Host>,
    },
    Starting {
        child: Child,
        deadline: Instant,
        within: Duration,
        stderr: PathBuf,
        /// The host, when ssh takes its connection from the connector: a
        /// connector that could not run at all gives way to ssh's own.
        plain: Option<Box<Host>>,
        /// `ssh -O exit` and `ssh -O check` for it.
        control: Control,
    },
    Ready {
        /// `ssh -O exit` and `ssh -O check` for it.
        control: Control,
    },
    Failed(MasterFailure),
}

/// The commands that reach a master through its control socket.
struct Control {
    /// `ssh -O exit`: the master ends.
    exit: Command,
    /// `ssh -O check`: the master says its pid.
    check: Command,
}

impl Control {
    /// Asks the master its pid (`ssh -O check` prints `Master running
    /// (pid=N)`), within `deadline`; `None` if it does not say.
    fn master_pid(&mut self, deadline: Instant) -> Option<u32> {
        let mut child = self.check.spawn().ok()?;
        if !crate::sys::wait_for_child(
            &mut child,
            deadline.saturating_duration_since(Instant::now()),
        ) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        let output = child.wait_with_output().ok()?;
        let said = String::from_utf8_lossy(&output.stderr);
        let (_, after) = said.split_once("(pid=")?;
        after.split_once(')')?.0.trim().parse().ok()
    }
}

/// How a slot of a host starts now.
pub(crate) enum Gate {
    /// With its own ssh connection (not multiplexed).
    Direct,
    /// Through the host's master, on this control socket.
    Through(PathBuf),
    /// Not yet: the master logs in.
    Wait,
    /// Not at all: the master could not log in.
    Failed(MasterFailure),
}

/// The masters of a pool's ssh hosts and their directory.
pub(crate) struct Mux {
    masters: Vec<Master>,
    dir: Option<PathBuf>,
    /// Whether masters may take their connection from the connector
    /// (`connector.rs`): until one could not run it.
    connector: bool,
    /// When ssh may start (`--ssh-delay`): the masters here, the slots'
    /// sessions in the engine.
    pub(crate) pace: SshPace,
}

/// At most one ssh started per `delay` (GNU parallel's `--ssh-delay`).
#[derive(Debug, Default)]
pub(crate) struct SshPace {
    delay: Option<Duration>,
    last: Option<Instant>,
}

impl SshPace {
    /// When the next ssh may start, if it may not now.
    pub(crate) fn not_before(&self, now: Instant) -> Option<Instant> {
        let at = self.last? + self.delay?;
        (at > now).then_some(at)
    }

    /// An ssh started `now`.
    pub(crate) fn started(&mut self, now: Instant) {
        if self.delay.is_some() {
            self.last = Some(now);
        }
    }
}

impl Mux {
    /// Masters for `hosts`, none started; at most one ssh per `ssh_delay`.
    pub(crate) fn new(hosts: &[Host], ssh_delay: Option<Duration>) -> Mux {
        let masters = hosts
            .iter()
            .map(|host| match &host.transport {
                Transport::Ssh { ssh, .. } if !sets_own_control(ssh) => Master::Idle,
                _ => Master::Off,
            })
            .collect();
        Mux {
            masters,
            dir: None,
            connector: true,
            pace: SshPace {
                delay: ssh_delay,
                last: None,
            },
        }
    }

    /// The control socket of host `index`.
    fn socket(&self, index: usize) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(index.to_string()))
    }

    /// Looks at the masters that log in: ready, failed, or past their
    /// time limit.
    pub(crate) fn update(&mut self, now: Instant) {
        for index in 0..self.masters.len() {
            self.after_probe(index, now);
            let socket = self.socket(index);
            let Master::Starting {
                child,
                deadline,
                within,
                stderr,
                plain,
                ..
            } = &mut self.masters[index]
            else {
                continue;
            };
            let next = match child.try_wait() {
                Ok(Some(status)) if status.success() => {
                    if socket.is_some_and(|s| s.exists()) {
                        debug!(host = index; "ssh master up");
                        let Master::Starting { control, .. } =
                            std::mem::replace(&mut self.masters[index], Master::Idle)
                        else {
                            continue;
                        };
                        Master::Ready { control }
                    } else {
                        // ssh logged in but made no socket (its own
                        // configuration): the slots log in themselves.
                        warn!(host = index; "ssh made no control socket; each slot logs in on its own");
                        Master::Off
                    }
                }
                Ok(Some(_)) if plain.is_some() && connector_did_not_run(stderr) => {
                    warn!(host = index; "the ssh connector did not run; ssh connects by itself");
                    self.connector = false;
                    let (deadline, within) = (*deadline, *within);
                    let Some(host) = plain.take() else {
                        continue;
                    };
                    self.spawn_or_fail(index, &host, deadline, within, None);
                    continue;
                }
                Ok(Some(status)) => Master::Failed(MasterFailure {
                    status: Some(status),
                    stderr: last_lines(stderr),
                    timed_out: None,
                    spawn_error: None,
                }),
                Ok(None) if *deadline <= now => {
                    let _ = end_group(child);
                    Master::Failed(MasterFailure {
                        status: None,
                        stderr: last_lines(stderr),
                        timed_out: Some(*within),
                        spawn_error: None,
                    })
                }
                Ok(None) => continue,
                Err(err) => Master::Failed(MasterFailure {
                    status: None,
                    stderr: vec![format!("waiting for ssh: {err}")],
                    timed_out: None,
                    spawn_error: None,
                }),
            };
            self.masters[index] = next;
        }
    }

    /// How a slot of host `index` (`host`) starts now; starts its master
    /// if none runs, which logs in within `within`.
    pub(crate) fn gate(
        &mut self,
        index: usize,
        host: &Host,
        now: Instant,
        within: Duration,
    ) -> Gate {
        match &self.masters[index] {
            Master::Off => return Gate::Direct,
            Master::Probing { .. } | Master::Starting { .. } => return Gate::Wait,
            Master::Failed(failure) => return Gate::Failed(failure.clone()),
            Master::Ready { .. } => match self.socket(index) {
                // A master that died leaves its socket behind, refusing.
                Some(socket) if UnixStream::connect(&socket).is_ok() => {
                    return Gate::Through(socket);
                }
                socket => {
                    debug!(host:% = host.name; "ssh master gone; logging in again");
                    if let Some(socket) = socket {
                        let _ = fs::remove_file(socket);
                    }
                    self.masters[index] = Master::Idle;
                }
            },
            Master::Idle => {}
        }
        if self.pace.not_before(now).is_some() {
            return Gate::Wait;
        }
        match self.start(index, host, now, within) {
            Ok(()) => {
                self.pace.started(now);
                Gate::Wait
            }
            Err(err) => Gate::Failed(MasterFailure::not_started(&err)),
        }
    }

    /// Starts host `index`'s master: first `ssh -G`, to know whether the
    /// connector may connect it; ssh itself if that cannot run.
    fn start(
        &mut self,
        index: usize,
        host: &Host,
        now: Instant,
        within: Duration,
    ) -> io::Result<()> {
        if self.dir.is_none() {
            self.dir = Some(make_dir()?);
        }
        let Some(dir) = self.dir.clone() else {
            return Err(io::Error::other("no control directory"));
        };
        let deadline = crate::remote::engine::after(now, within);
        let config = dir.join(format!("{index}.conf"));
        let probe = host.transport.config_command(host.reached_as());
        let own_fdpass = match &host.transport {
            Transport::Ssh { ssh, .. } => sets_own_fdpass(ssh),
            _ => true,
        };
        let probe = probe
            .filter(|_| self.connector && !own_fdpass)
            .and_then(|mut cmd| {
                let out = fs::File::create(&config).ok()?;
                cmd.stdin(Stdio::null())
                    .stdout(out)
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .ok()
            });
        match probe {
            Some(child) => {
                self.masters[index] = Master::Probing {
                    child,
                    since: now,
                    deadline,
                    within,
                    config,
                    host: Box::new(host.clone()),
                };
                Ok(())
            }
            None => self.spawn_master(index, host, deadline, within, None),
        }
    }

    /// Starts host `index`'s master once its `ssh -G` ended; a probe past
    /// the login's time limit fails the master.
    fn after_probe(&mut self, index: usize, now: Instant) {
        let Master::Probing {
            child,
            since,
            deadline,
            within,
            config,
            ..
        } = &mut self.masters[index]
        else {
            return;
        };
        let plan = match child.try_wait() {
            Ok(Some(status)) if status.success() => fs::read_to_string(&*config)
                .ok()
                .and_then(|text| connector::plan(&text)),
            Ok(Some(_)) | Err(_) => None,
            Ok(None) if *since + PROBE_LIMIT <= now || *deadline <= now => {
                // A `ssh -G` that does not end (a wrapper that takes no
                // `-G`, a slow `Match exec`): ssh connects by itself.
                debug!(host = index; "ssh -G did not end within {PROBE_LIMIT:?}; ssh connects by itself");
                let _ = end_group(child);
                None
            }
            Ok(None) => return,
        };
        let _ = fs::remove_file(&*config);
        let (deadline, within) = (*deadline, *within);
        let Master::Probing { host, .. } =
            std::mem::replace(&mut self.masters[index], Master::Idle)
        else {
            return;
        };
        self.spawn_or_fail(index, &host, deadline, within, plan);
    }

    /// [`Mux::spawn_master`], the master failed if ssh cannot start.
    fn spawn_or_fail(
        &mut self,
        index: usize,
        host: &Host,
        deadline: Instant,
        within: Duration,
        plan: Option<connector::Plan>,
    ) {
        if let Err(err) = self.spawn_master(index, host, deadline, within, plan) {
            self.masters[index] = Master::Failed(MasterFailure::not_started(&err));
        }
    }

    /// Spawns host `index`'s master ssh, which logs in by `deadline`;
    /// through the connector with `plan`.
    fn spawn_master(
        &mut self,
        index: usize,
        host: &Host,
        deadline: Instant,
        within: Duration,
        plan: Option<connector::Plan>,
    ) -> io::Result<()> {
        let (Some(dir), Some(socket)) = (self.dir.clone(), self.socket(index)) else {
            return Err(io::Error::other("no control directory"));
        };
        let stderr = dir.join(format!("{index}.err"));
        let said = dir.join(format!("{index}.connect"));
        let _ = fs::remove_file(&said);
        let mut cmd = host.transport.master_command(
            host.reached_as(),
            &socket,
            plan.map(|plan| (plan, &*said)),
        );
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr)?)
            // Not in the terminal's group: a Ctrl+C reaches the pool,
            // which decides how its masters end.
            .process_group(0)
            .spawn()?;
        debug!(host:% = host.name, socket:? = socket, connector = plan.is_some(); "ssh master logging in");
        let mut exit = host
            .transport
            .master_control_command(host.reached_as(), &socket, "exit");
        let _ = exit
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut check = host
            .transport
            .master_control_command(host.reached_as(), &socket, "check");
        let _ = check
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let control = Control { exit, check };
        self.masters[index] = Master::Starting {
            child,
            deadline,
            within,
            stderr,
            plain: plan.map(|_| Box::new(host.clone())),
            control,
        };
        Ok(())
    }

    /// Forgets the failures of masters that could not log in, once the
    /// slots waiting for them were told: the next slot due starts a new
    /// one.
    pub(crate) fn clear_failed(&mut self) {
        for master in &mut self.masters {
            if matches!(master, Master::Failed(_)) {
                *master = Master::Idle;
            }
        }
    }

    /// Retires the master of host `index`, whose connection is stuck (its
    /// slots went silent together): its process is killed and its socket
    /// removed, so the slots that start next log in again instead of
    /// opening sessions over a link that answers nothing until ssh's own
    /// keep-alive gives up (a minute). True if there was one to retire.
    /// A host without a master keeps its state: one that has none
    /// (`Off`: not ssh, or ssh with control options of its own) must not
    /// start its slots through one, and one logging in is not the link
    /// that went silent.
    pub(crate) fn retire(&mut self, index: usize) -> bool {
        let Some(master) = self.masters.get_mut(index) else {
            return false;
        };
        let Master::Ready { control } = master else {
            return false;
        };
        if let Some(pid) = control.master_pid(Instant::now() + EXIT_WAIT) {
            let _ = crate::sys::signal_process(pid, libc::SIGKILL);
        }
        *master = Master::Idle;
        if let Some(socket) = self.socket(index) {
            let _ = fs::remove_file(socket);
        }
        true
    }

    /// Ends every master (`ssh -O exit`; one still logging in is killed)
    /// and removes the directory. The slots are gone by then.
    pub(crate) fn close(&mut self) {
        let deadline = Instant::now() + EXIT_WAIT;
        let mut exits = Vec::new();
        // The masters' own processes: `ssh -O exit` returns once a master
        // took the request, a moment before the master is gone.
        let mut pids = Vec::new();
        for master in &mut self.masters {
            let mut control = match std::mem::replace(master, Master::Idle) {
                Master::Off => {
                    *master = Master::Off;
                    continue;
                }
                Master::Starting {
                    mut child, control, ..
                } => {
                    // Killed after it forked the master: that one is up.
                    if !end_group(&mut child).is_ok_and(|s| s.success()) {
                        continue;
                    }
                    control
                }
                Master::Ready { control } => control,
                Master::Probing { mut child, .. } => {
                    let _ = child.kill();
                    let _ = child.wait();
                    continue;
                }
                Master::Idle | Master::Failed(_) => continue,
            };
            pids.extend(control.master_pid(deadline));
            exits.extend(control.exit.spawn().ok());
        }
        for mut child in exits {
            if !crate::sys::wait_for_child(
                &mut child,
                deadline.saturating_duration_since(Instant::now()),
            ) {
                warn!("ssh -O exit did not end within {EXIT_WAIT:?}; killed");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        for pid in pids {
            let proc_dir = PathBuf::from(format!("/proc/{pid}"));
            let gone = crate::sys::wait_for_exit(
                pid,
                deadline.saturating_duration_since(Instant::now()),
                || !proc_dir.exists(),
            );
            if !matches!(gone, Ok(true)) {
                warn!(pid = pid; "ssh master still there {EXIT_WAIT:?} after ssh -O exit; killed");
                let _ = crate::sys::signal_process(pid, libc::SIGKILL);
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

impl Drop for Mux {
    /// Never leaves a master or the directory behind.
    fn drop(&mut self) {
        self.close();
    }
}

/// True if the ssh command's own options set up multiplexing (`-M`, `-S`,
/// `ControlMaster`, `ControlPath`, `ControlPersist`).
fn sets_own_control(ssh: &[String]) -> bool {
    ssh.iter().skip(1).any(|word| {
        let lower = word.to_ascii_lowercase();
        word == "-M"
            || word.starts_with("-S")
            || lower.contains("controlmaster")
            || lower.contains("controlpath")
            || lower.contains("controlpersist")
    })
}

/// True if the ssh command's own options set `ProxyUseFdpass`: theirs
/// would win over the connector's `yes` (ssh takes an option's first
/// value), and `ssh -G` cannot tell it from the default.
fn sets_own_fdpass(ssh: &[String]) -> bool {
    ssh.iter()
        .skip(1)
        .any(|word| word.to_ascii_lowercase().contains("proxyusefdpass"))
}

/// Makes the pool's private directory, mode 0700, under
/// `$XDG_RUNTIME_DIR` or the temporary directory, where its sockets' paths
/// fit in a Unix socket address.
fn make_dir() -> io::Result<PathBuf> {
    let bases = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([std::env::temp_dir(), PathBuf::from("/tmp")]);
    let mut last = io::Error::other("no directory for ssh's control sockets");
    for base in bases.filter(|b| b.is_absolute()) {
        for _ in 0..100 {
            let dir = base.join(format!(
                "hearth-{}-{}",
                std::process::id(),
                DIRS.fetch_add(1, Ordering::Relaxed)
            ));
            // Room for the longest socket name (a host's number) and
            // ssh's temporary suffix.
            if dir.as_os_str().len() + 1 + 5 + SSH_SUFFIX >= SUN_PATH {
                last = io::Error::other(format!(
                    "{} is too long a path for ssh's control sockets",
                    base.display()
                ));
                break;
            }
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(dir),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) => {
                    last = io::Error::new(err.kind(), format!("making {}: {err}", dir.display()));
                    break;
                }
            }
        }
    }
    Err(last)
}

/// True if a master's ssh failed because the connector it was given did
/// not run (its program could not be started): it said nothing in its
/// `.connect` file, and ssh got no connection from it.
fn connector_did_not_run(stderr: &Path) -> bool {
    !stderr.with_extension("connect").exists()
        && fs::read_to_string(stderr)
            .is_ok_and(|said| said.contains("proxy dialer did not pass back a connection"))
}

/// The last lines of a master's stderr file, oldest first.
fn last_lines(path: &Path) -> Vec<String> {
    let lines = |file: &Path| -> Vec<String> {
        String::from_utf8_lossy(&fs::read(file).unwrap_or_default())
            .lines()
            .map(|l| l.trim_end_matches('\r').to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    };
    // The connector's error first (`{index}.connect` beside
    // `{index}.err`), always kept: ssh says its own words about it after.
    let mut kept = lines(&path.with_extension("connect"));
    let ssh = lines(path);
    let room = 5usize.saturating_sub(kept.len()).max(2);
    kept.extend_from_slice(&ssh[ssh.len().saturating_sub(room)..]);
    kept
}

#[cfg(test)]
mod tests {
    use super::{connector_did_not_run, last_lines, make_dir, sets_own_control, sets_own_fdpass};
    use std::os::unix::fs::PermissionsExt;

    /// A connector that ran says why it failed, first; one that could not
    /// run said nothing, and only then does ssh connect by itself.
    #[test]
    fn a_connector_that_did_not_run_is_told_from_one_that_failed() {
        let dir = make_dir().unwrap();
        let err = dir.join("0.err");
        std::fs::write(
            &err,
            "mm_receive_fd: recvmsg: expected received 1 got 0\r\n\
             proxy dialer did not pass back a connection\r\n",
        )
        .unwrap();
        assert!(connector_did_not_run(&err));
        let refused = "ssh: connect to host h port 22: Connection refused";
        std::fs::write(dir.join("0.connect"), format!("{refused}\n")).unwrap();
        assert!(!connector_did_not_run(&err));
        assert_eq!(
            last_lines(&err),
            [
                refused,
                "mm_receive_fd: recvmsg: expected received 1 got 0",
                "proxy dialer did not pass back a connection"
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn own_control_options_are_left_alone() {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(!sets_own_control(&words(&[
            "ssh",
            "-F",
            "cfg",
            "-oBatchMode=yes"
        ])));
        assert!(sets_own_control(&words(&["ssh", "-o", "ControlPath=/x"])));
        assert!(sets_own_control(&words(&["ssh", "-oControlMaster=auto"])));
        assert!(sets_own_control(&words(&["ssh", "-S", "/x"])));
        assert!(sets_own_control(&words(&["ssh", "-M"])));
        // The program's own name is not an option.
        assert!(!sets_own_control(&words(&["-S"])));
        assert!(sets_own_fdpass(&words(&["ssh", "-oProxyUseFdpass=no"])));
        assert!(!sets_own_fdpass(&words(&["ssh", "-F", "cfg"])));
    }

    #[test]
    fn the_directory_is_private_and_short() {
        let dir = make_dir().unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
        assert!(dir.as_os_str().len() + 23 < 108, "{}", dir.display());
        std::fs::remove_dir(&dir).unwrap();
    }
}
