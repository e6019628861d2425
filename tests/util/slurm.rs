//! A private Slurm cluster of several nodes on this machine, each node a
//! network namespace of its own, for the Slurm tests of hearth's remote
//! slot pool ([`Cluster::start`]; see `netns.rs` and
//! `../shared/SLURM-TESTBED.md`).
//!
//! Everything lives in a fresh temp directory: a munge key and a private
//! `munged` (run as the `munge` user, its socket in the directory), a
//! `slurm.conf`, and the daemons in the foreground as children of the
//! test. The clients (srun, salloc, the tool under test) run in the root
//! namespace, on a bridge; slurmctld in a namespace of its own (in the
//! root namespace it either binds only 127.0.0.1, which the nodes do not
//! reach, or every interface), and each `slurmd -N nodeK` in its own,
//! started with `nsenter --net` and `unshare --uts --mount` (its host name
//! `nodeK`, and an `/etc/hosts` naming every node bind-mounted: `ip netns
//! exec` would remount `/sys` and slurmd would exit). One munged serves
//! them all: its socket file works across network namespaces.
//!
//! Each node has 4 CPUs. The default partition `debug` holds every node,
//! `OverSubscribe=FORCE:16`, and `SelectTypeParameters=CR_CPU,CR_LLN`
//! spreads separate jobs over the nodes. The partition [`TINY`] is node1
//! alone without oversubscription: it runs [`TINY_CAPACITY`] one-task
//! jobs at once and queues the next, for the tests of a cluster with no
//! room. [`Cluster::start`] waits until `sinfo` shows every node idle and
//! `srun -N3 hostname` works.
//!
//! Nothing is global: clients find the cluster through `SLURM_CONF`, set
//! on each command this module builds ([`Cluster::command`]) and given to
//! the pool's transport with `Slurm::env`.
//!
//! [`Cluster::crash_node`] kills every process of a node's namespace, as a
//! crash would; [`Cluster::restart_node`] starts its slurmd again.
//! Dropping the [`Cluster`] (also when a test panicked) cancels every job,
//! stops the daemons (`SIGTERM`, `SIGKILL` after a grace), kills any
//! `slurmstepd` of this cluster still running, deletes the namespaces and
//! removes the directory.
//!
//! Needs root (slurmd runs the jobs as their users), iproute2, util-linux
//! (`nsenter`, `unshare`) and the Debian packages `slurmctld slurmd
//! slurm-client munge`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::netns;
use crate::procs::processes;

/// The partition of node1 alone, without oversubscription.
pub const TINY: &str = "tiny";

/// One-task jobs [`TINY`] runs at once: node1's 4 CPUs, one each.
pub const TINY_CAPACITY: usize = 4;

/// How long the daemons have to come up.
const READY_TIMEOUT: Duration = Duration::from_mins(1);

/// How long a daemon has to exit after `SIGTERM`.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Marks the daemons (and the `slurmstepd`s they start, which inherit
/// their environment) of one cluster: `HEARTH_SLURM_TEST=<dir>`.
const MARK: &str = "HEARTH_SLURM_TEST";

/// Distinguishes the directories of several clusters in one process.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A daemon: its name (`munged`, `slurmctld`, `slurmd-NODE`) and process.
type Daemon = (String, Child);

/// A running private Slurm cluster, see the module documentation.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    /// In start order: munged, slurmctld, one slurmd per node; stopped in
    /// reverse. Behind a lock so that a test sharing the cluster can
    /// crash and restart a node.
    daemons: Mutex<Vec<Daemon>>,
    /// The nodes' names.
    nodes: Vec<String>,
    /// The namespaces: the controller's first, then one per node.
    net: netns::Nodes,
}

impl Cluster {
    /// Starts a cluster of `n` nodes `node1`..`nodeN`, 4 CPUs each, each a
    /// network namespace of its own.
    ///
    /// # Errors
    ///
    /// Why the cluster is not available (not root, a missing binary, the
    /// namespaces could not be made, a daemon that exits or never gets
    /// ready); the caller decides whether that skips or fails the tests.
    pub fn start(n: usize) -> Result<Cluster, String> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root: slurmd must run as root to start jobs".to_owned());
        }
        for tool in ["srun", "salloc", "sinfo", "squeue", "scancel", "scontrol"] {
            let _ = tool_path(tool)?;
        }
        let uid = id("-u", "munge")?;
        let gid = id("-g", "munge")?;
        let dir = std::env::temp_dir().join(format!(
            "hearth-slurm-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        let mut names = vec!["c".to_owned()];
        names.extend((1..=n).map(|k| k.to_string()));
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let cluster = Cluster {
            conf: dir.join("slurm.conf"),
            dir,
            daemons: Mutex::new(Vec::new()),
            nodes: (1..=n).map(|k| format!("node{k}")).collect(),
            net: netns::Nodes::create(&names)?,
        };
        // On error the drop stops what started and removes the directory.
        cluster.start_daemons(uid, gid)?;
        Ok(cluster)
    }

    fn start_daemons(&self, uid: u32, gid: u32) -> Result<(), String> {
        let dir = &self.dir;
        let munge = dir.join("munge");
        for sub in ["state", "spool", "log", "scratch"] {
            fs::create_dir_all(dir.join(sub)).map_err(|e| format!("creating {dir:?}: {e}"))?;
        }
        fs::create_dir_all(&munge).map_err(|e| format!("creating {munge:?}: {e}"))?;
        // munged wants its socket's directory searchable by all, and its
        // key owned by itself, readable by nobody else.
        for path in [dir, &munge] {
            fs::set_permissions(path, fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {path:?}: {e}"))?;
        }
        std::os::unix::fs::chown(&munge, Some(uid), Some(gid))
            .map_err(|e| format!("chown {munge:?}: {e}"))?;
        let key = munge.join("munge.key");
        let _ = run(Command::new(tool_path("mungekey")?)
            .arg("--create")
            .arg(format!("--keyfile={}", key.display()))
            .uid(uid)
            .gid(gid))?;
        fs::set_permissions(&key, fs::Permissions::from_mode(0o400))
            .map_err(|e| format!("chmod {key:?}: {e}"))?;
        let socket = munge.join("munge.socket");
        let mut munged = Command::new(tool_path("munged")?);
        let _ = munged
            .arg("--foreground")
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={}", key.display()))
            .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
            .arg(format!("--log-file={}", munge.join("munged.log").display()))
            .arg(format!(
                "--seed-file={}",
                munge.join("munged.seed").display()
            ))
            .uid(uid)
            .gid(gid);
        self.spawn("munged", munged)?;
        self.wait_for("munged's socket", || Ok(socket.exists().then_some(())))?;

        fs::write(&self.conf, self.slurm_conf(&socket))
            .map_err(|e| format!("writing {:?}: {e}", self.conf))?;
        self.start_in_namespaces()?;
        self.wait_for("the nodes to be idle in sinfo", || {
            let out = self.command("sinfo").args(["-h", "-o", "%T"]).output();
            Ok(out
                .ok()
                .filter(|o| {
                    let states = String::from_utf8_lossy(&o.stdout).into_owned();
                    states.lines().count() > 0 && states.lines().all(|l| l.trim() == "idle")
                })
                .map(drop))
        })?;
        let n = format!("-N{}", self.nodes.len());
        let out = self
            .command("srun")
            .args([n.as_str(), "hostname"])
            .output()
            .map_err(|e| format!("running srun: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "srun {n} hostname failed ({}): {}; {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                self.log_tail(10)
            ));
        }
        Ok(())
    }

    /// The configuration: the controller at the first namespace's address,
    /// `nodeK` at the next ones, the daemons on Slurm's own ports (each
    /// namespace has its own).
    fn slurm_conf(&self, socket: &Path) -> String {
        let dir = self.dir.display();
        let mut conf = format!(
            "ClusterName=hearthnodes\n\
             SlurmctldHost=ctl({ctl})\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={socket}\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             StateSaveLocation={dir}/state\n\
             SlurmdSpoolDir={dir}/spool/%n\n\
             SlurmctldPidFile={dir}/slurmctld.pid\n\
             SlurmdPidFile={dir}/slurmd-%n.pid\n\
             SlurmctldLogFile={dir}/log/slurmctld.log\n\
             SlurmdLogFile={dir}/log/slurmd-%n.log\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             MpiDefault=none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_CPU,CR_LLN\n\
             SchedulerType=sched/builtin\n\
             MailProg=/bin/true\n\
             SlurmdParameters=config_overrides\n\
             ReturnToService=2\n\
             KillWait=5\n\
             MinJobAge=2\n",
            ctl = self.net.address(0),
            socket = socket.display(),
        );
        for (k, node) in self.nodes.iter().enumerate() {
            let _ = writeln!(
                conf,
                "NodeName={node} NodeAddr={} NodeHostname={node} CPUs=4 RealMemory=512 State=UNKNOWN",
                self.net.address(k + 1)
            );
        }
        let _ = writeln!(
            conf,
            "PartitionName=debug Nodes={} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:16",
            self.nodes.join(",")
        );
        let _ = writeln!(
            conf,
            "PartitionName={TINY} Nodes={} MaxTime=INFINITE State=UP OverSubscribe=NO",
            self.nodes[0]
        );
        conf
    }

    /// slurmctld and each node's slurmd in their namespaces.
    fn start_in_namespaces(&self) -> Result<(), String> {
        let mut hosts = vec![("ctl".to_owned(), self.net.address(0))];
        hosts.extend(
            self.nodes
                .iter()
                .enumerate()
                .map(|(k, node)| (node.clone(), self.net.address(k + 1))),
        );
        let hosts_file = self.dir.join("hosts");
        fs::write(&hosts_file, netns::hosts_file(&hosts))
            .map_err(|e| format!("writing {hosts_file:?}: {e}"))?;
        for node in &self.nodes {
            let spool = self.dir.join("spool").join(node);
            fs::create_dir_all(&spool).map_err(|e| format!("creating {spool:?}: {e}"))?;
        }
        let ctld = format!(
            "exec {} -D -c -f {}",
            tool_path("slurmctld")?.display(),
            self.conf.display()
        );
        self.spawn("slurmctld", self.in_namespace(0, "ctl", &ctld)?)?;
        for k in 0..self.nodes.len() {
            self.start_node(k)?;
        }
        Ok(())
    }

    /// `sh -c SCRIPT` in namespace `index`, with the host name `name` and
    /// the cluster's `/etc/hosts`.
    fn in_namespace(&self, index: usize, name: &str, script: &str) -> Result<Command, String> {
        let mut cmd = Command::new(tool_path("nsenter")?);
        let _ = cmd
            .arg(format!("--net={}", self.net.path(index)))
            .args(["--", "unshare", "--uts", "--mount", "sh", "-c"])
            .arg(format!(
                "hostname {name} && mount --bind {} /etc/hosts && {script}",
                self.dir.join("hosts").display()
            ));
        Ok(cmd)
    }

    /// Starts the slurmd of node `k` (from 0) in its namespace.
    fn start_node(&self, k: usize) -> Result<(), String> {
        let node = &self.nodes[k];
        let script = format!(
            "exec {} -D -f {} -N {node}",
            tool_path("slurmd")?.display(),
            self.conf.display()
        );
        let cmd = self.in_namespace(k + 1, node, &script)?;
        let name = format!("slurmd-{node}");
        self.daemons().retain(|(n, _)| *n != name);
        self.spawn(&name, cmd)
    }

    /// Crashes node `k` (from 0): every process in its namespace (slurmd,
    /// its step daemons, their tasks) is killed.
    pub fn crash_node(&self, k: usize) {
        for pid in self.net.pids(k + 1) {
            // SAFETY: kill(2) with a positive pid: a process in the
            // node's namespace.
            let _ = unsafe { libc::kill(libc::pid_t::try_from(pid).unwrap(), libc::SIGKILL) };
        }
        let name = format!("slurmd-{}", self.nodes[k]);
        for (_, child) in self.daemons().iter_mut().filter(|(n, _)| *n == name) {
            let _ = child.wait();
        }
    }

    /// Starts node `k`'s slurmd again after [`Cluster::crash_node`] and
    /// waits until the controller has it back (not marked not
    /// responding).
    pub fn restart_node(&self, k: usize) -> Result<(), String> {
        self.start_node(k)?;
        let node = &self.nodes[k];
        self.wait_for("the restarted node in sinfo", || {
            let out = self
                .command("sinfo")
                .args(["-h", "-N", "-n", node, "-o", "%T"])
                .output();
            Ok(out.ok().and_then(|o| {
                let states = String::from_utf8_lossy(&o.stdout).into_owned();
                let state = states.lines().next().unwrap_or_default().trim();
                (!state.is_empty() && !state.contains('*') && !state.contains("down")).then_some(())
            }))
        })
    }

    /// The nodes' names.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    fn daemons(&self) -> MutexGuard<'_, Vec<Daemon>> {
        self.daemons.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a daemon in the foreground, its output in `log/NAME.out`,
    /// marked with [`MARK`].
    fn spawn(&self, name: &str, mut cmd: Command) -> Result<(), String> {
        let out = fs::File::create(self.dir.join("log").join(format!("{name}.out")))
            .map_err(|e| format!("creating {name}'s log: {e}"))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = cmd
            .env("SLURM_CONF", &self.conf)
            .env(MARK, &self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own group: a Ctrl+C in the terminal reaches the test,
            // whose drop then stops the daemon.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting {name}: {e}"))?;
        self.daemons().push((name.to_owned(), child));
        Ok(())
    }

    /// Polls `ready` (every 50 ms: a daemon's readiness has no event to
    /// wait on) until it gives a value, a daemon exits, or
    /// [`READY_TIMEOUT`] passes.
    fn wait_for<T>(
        &self,
        what: &str,
        mut ready: impl FnMut() -> Result<Option<T>, String>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(value) = ready()? {
                return Ok(value);
            }
            let exited = self
                .daemons()
                .iter_mut()
                .find_map(|(name, child)| Some((name.clone(), child.try_wait().ok()??)));
            if let Some((name, status)) = exited {
                return Err(format!(
                    "{name} exited ({status}) while waiting for {what}: {}",
                    self.log_tail_of(&name, 10)
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no {what} after {READY_TIMEOUT:?}: {}",
                    self.log_tail(10)
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process ids of the daemons (children of this process).
    pub fn daemon_pids(&self) -> Vec<u32> {
        self.daemons().iter().map(|(_, child)| child.id()).collect()
    }

    /// The cluster's `slurm.conf`.
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// A Slurm client command (`srun`, `squeue`...) for this cluster.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let _ = cmd.env("SLURM_CONF", &self.conf).stdin(Stdio::null());
        cmd
    }

    /// A fresh, empty directory inside the cluster's directory (removed
    /// with it), for marker files shared with the jobs.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.join("scratch").join(name);
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {path:?}: {e}"));
        // The jobs run as root here, but keep it usable for any user.
        let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o777));
        path
    }

    /// Makes an allocation as a user would before running hearth in it:
    /// `salloc --no-shell --job-name=held ARGS`, which returns once it is
    /// granted. Dropping the handle cancels it.
    ///
    /// # Errors
    ///
    /// salloc failed, or said no job id.
    pub fn hold_allocation(&self, args: &[&str]) -> Result<HeldJob<'_>, String> {
        let out = self
            .command("salloc")
            .args(["--no-shell", "--job-name=held", "--immediate=30"])
            .args(args)
            .output()
            .map_err(|e| format!("running salloc: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let id = stderr
            .lines()
            .find_map(|l| {
                l.split_once("Granted job allocation ")
                    .map(|(_, id)| id.trim())
            })
            .filter(|id| out.status.success() && !id.is_empty())
            .ok_or_else(|| format!("salloc {args:?} ({}): {}", out.status, stderr.trim()))?;
        Ok(HeldJob {
            cluster: self,
            id: id.to_owned(),
        })
    }

    /// The jobs in the queue (pending, running or completing), one line
    /// each: `id state name nodes` (no nodes while pending).
    pub fn jobs(&self) -> Vec<String> {
        match self
            .command("squeue")
            .args(["-h", "-o", "%i %T %j %N"])
            .output()
        {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|line| line.trim_end().to_owned())
                .collect(),
            Ok(out) => vec![format!(
                "squeue failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )],
            Err(err) => vec![format!("squeue failed: {err}")],
        }
    }

    /// Waits up to `timeout` (polling squeue every 50 ms: a cancelled job
    /// stays COMPLETING for a moment) until the queue is empty; the jobs
    /// left otherwise.
    pub fn wait_queue_empty(&self, timeout: Duration) -> Result<(), Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            let jobs = self.jobs();
            if jobs.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(jobs);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last `lines` lines of every daemon's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let names: Vec<String> = self
            .daemons()
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        names
            .iter()
            .map(|name| format!("{name}: {}", self.log_tail_of(name, lines)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn log_tail_of(&self, name: &str, lines: usize) -> String {
        let path = match name {
            "munged" => self.dir.join("munge").join("munged.log"),
            name => self.dir.join("log").join(format!("{name}.log")),
        };
        let mut text = fs::read_to_string(path).unwrap_or_default();
        text.push_str(
            &fs::read_to_string(self.dir.join("log").join(format!("{name}.out")))
                .unwrap_or_default(),
        );
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join(" | ")
    }

    /// The `slurmstepd`s of this cluster still running.
    fn stepds(&self) -> Vec<u32> {
        let mark = format!("{MARK}={}", self.dir.display());
        processes()
            .into_iter()
            .filter(|p| p.comm == "slurmstepd")
            .filter(|p| {
                // The process may have exited since the listing.
                fs::read(format!("/proc/{}/environ", p.pid)).is_ok_and(|environ| {
                    environ.split(|&b| b == 0).any(|var| var == mark.as_bytes())
                })
            })
            .map(|p| p.pid)
            .collect()
    }
}

/// An allocation made by [`Cluster::hold_allocation`], cancelled when
/// dropped.
#[derive(Debug)]
pub struct HeldJob<'a> {
    cluster: &'a Cluster,
    id: String,
}

impl HeldJob<'_> {
    /// Its job id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for HeldJob<'_> {
    fn drop(&mut self) {
        let _ = self.cluster.command("scancel").arg(&self.id).output();
    }
}

impl Drop for Cluster {
    /// Cancels every job, stops the daemons and any step daemon left, and
    /// removes the directory; then the namespaces go (field `net`).
    fn drop(&mut self) {
        let ctld_running = self
            .daemons()
            .iter_mut()
            .any(|(n, c)| n == "slurmctld" && matches!(c.try_wait(), Ok(None)));
        if ctld_running {
            let _ = self.command("scancel").args(["--user", "root"]).output();
            let _ = self.wait_queue_empty(Duration::from_secs(10));
        }
        let daemons = std::mem::take(&mut *self.daemons());
        for (name, mut child) in daemons.into_iter().rev() {
            stop(&name, &mut child);
        }
        for pid in self.stepds() {
            // SAFETY: kill(2) with a positive pid: a slurmstepd of this
            // cluster, found by its environment.
            let _ = unsafe { libc::kill(libc::pid_t::try_from(pid).unwrap(), libc::SIGKILL) };
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Stops a daemon: `SIGTERM`, up to [`STOP_GRACE`] to exit, then `SIGKILL`.
fn stop(name: &str, child: &mut Child) {
    if !matches!(child.try_wait(), Ok(None)) {
        return;
    }
    // SAFETY: kill(2) with a positive pid: our child, not reaped yet.
    let _ = unsafe { libc::kill(libc::pid_t::try_from(child.id()).unwrap(), libc::SIGTERM) };
    let deadline = Instant::now() + STOP_GRACE;
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() >= deadline {
            eprintln!("slurm test cluster: {name} did not stop within {STOP_GRACE:?}: killing it");
            let _ = child.kill();
            break;
        }
        // Exit check of a daemon shutting down, not a synchronisation.
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.wait();
}

/// `id FLAG USER`, a number.
fn id(flag: &str, user: &str) -> Result<u32, String> {
    run(Command::new("id").args([flag, user]))?
        .trim()
        .parse()
        .map_err(|e| format!("`id {flag} {user}`: {e} (is the munge package installed?)"))
}

/// Runs a command to completion; its stdout, or why it failed.
fn run(cmd: &mut Command) -> Result<String, String> {
    let output: io::Result<Output> = cmd.stdin(Stdio::null()).output();
    let output = output.map_err(|e| format!("running {cmd:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `name` in one of the directories of `PATH` (or `/usr/sbin`, where the
/// daemons are).
fn tool_path(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!("`{name}` not found in PATH (packages slurmctld slurmd slurm-client munge)")
        })
}
