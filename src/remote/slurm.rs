//! The Slurm transport: every slot is one `srun` task, either a job of its
//! own or a step of one allocation.
//!
//! A slot's process is `srun -N1 -n1 --unbuffered [options] sh -c SCRIPT
//! BIN --remote-worker`. The little script prints one line, the
//! *start line* `hearth-slurm job=J step=S node=N`, from the task's Slurm
//! environment and then `exec`s the worker; so the slot learns, in order
//! and on the same pipe as the frames, that the job left the queue, its
//! job id and the node Slurm picked. Until that line comes the job is
//! pending, bounded by [`Slurm::pending_timeout`]; after it the pool's
//! handshake timeout applies as for any slot. srun is not `--quiet`: its
//! word on stderr that the job is "queued and waiting for resources" (or
//! that a step's creation waits) is how a slot that never ran is known to
//! have waited in the queue, not merely to have been starting.
//!
//! Stopping a slot never signals srun's process group: srun forks a helper
//! into that group which cancels the job when srun dies, and killing both
//! leaves the remote task running until Slurm's `InactiveLimit` reaps it.
//! The slot sends `SIGTERM` to the srun pid (srun then ends the step, or
//! cancels a pending job: `SIGKILL` on a pending srun leaves its job in the
//! queue) and `SIGKILL` only if srun is still there after a grace period.
//!
//! With more slots than the cluster runs as separate jobs, run them as
//! `--overlap` steps of one allocation: [`Slurm::allocate`] makes one with
//! `salloc`, or [`Slurm::existing_allocation`] finds one made elsewhere (an
//! `sbatch` job, a `salloc --no-shell`), and [`Slurm::in_allocation`] puts
//! the slots in it (`allocation.rs`). Steps not placed all land on the
//! allocation's first node, so each slot's step names a node of the
//! allocation (`--nodelist`), its host's slots taking the allocation's
//! nodes in turn; a restarted slot takes the next node, so a slot of a
//! crashed node comes back on another. [`Slurm::allocation_id`] names an
//! allocation without its nodes: Slurm places those steps.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::process::Command;
use std::time::Duration;

use crate::remote::REMOTE_WORKER_FLAG;

mod allocation;

use allocation::ALLOC_SCRIPT;
pub use allocation::SlurmAllocation;

/// What the start line begins with.
const START_MARK: &str = "hearth-slurm";

/// The script srun runs: the start line, then the worker (`$0` is the
/// worker binary, `$@` its arguments).
const START_SCRIPT: &str = r#"printf 'hearth-slurm job=%s step=%s node=%s\n' "${SLURM_JOB_ID:--}" "${SLURM_STEP_ID:--}" "${SLURMD_NODENAME:--}"; exec "$0" "$@""#;

/// How long srun (or salloc) has to exit after `SIGTERM` before it is
/// killed.
pub(crate) const TERM_GRACE: Duration = Duration::from_secs(5);

/// Longest start line accepted.
pub(crate) const MAX_START_LINE: usize = 1024;

/// How to start slots with Slurm: the options of their `srun`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hearth::remote::{Host, Pool, Slurm};
///
/// let slurm = Slurm::new("/shared/bin/myprog")
///     .partition("short")
///     .time_limit("1:00:00")
///     .args(["--mem=1G"])
///     .pending_timeout(Duration::from_secs(60));
/// // A host entry named "slurm" with 16 slots, each a job of its own; the
/// // node each slot runs on shows in `JobReport::slot`.
/// let builder = Pool::builder().host(Host::new("slurm", 16, slurm.into()));
/// # let _ = builder;
/// ```
#[derive(Clone, Debug)]
pub struct Slurm {
    srun: Vec<String>,
    salloc: Vec<String>,
    scontrol: Vec<String>,
    env: Vec<(String, String)>,
    bin: String,
    partition: Option<String>,
    time_limit: Option<String>,
    args: Vec<String>,
    allocation: Option<Allocation>,
    pending_timeout: Duration,
}

/// The allocation the slots are steps of.
#[derive(Clone, Debug)]
enum Allocation {
    /// Only its id ([`Slurm::allocation_id`]): Slurm places the steps.
    Id(String),
    /// With its nodes, made by [`Slurm::allocate`] (released when the last
    /// handle goes) or found by [`Slurm::existing_allocation`].
    Known(SlurmAllocation),
}

impl Slurm {
    /// Slots running `bin` (the worker binary's path on the nodes) with
    /// plain `srun`, each a job of its own, pending for at most 30 s.
    pub fn new(bin: impl Into<String>) -> Slurm {
        Slurm {
            srun: vec!["srun".to_owned()],
            salloc: vec!["salloc".to_owned()],
            scontrol: vec!["scontrol".to_owned()],
            env: Vec::new(),
            bin: bin.into(),
            partition: None,
            time_limit: None,
            args: Vec::new(),
            allocation: None,
            pending_timeout: Duration::from_secs(30),
        }
    }

    /// The srun command and any words before hearth's options, e.g.
    /// `["/opt/slurm/bin/srun"]`; default `["srun"]`.
    #[must_use]
    pub fn srun(mut self, command: impl IntoIterator<Item = impl Into<String>>) -> Slurm {
        self.srun = command.into_iter().map(Into::into).collect();
        self
    }

    /// The salloc command of [`Slurm::allocate`]; default `["salloc"]`.
    #[must_use]
    pub fn salloc(mut self, command: impl IntoIterator<Item = impl Into<String>>) -> Slurm {
        self.salloc = command.into_iter().map(Into::into).collect();
        self
    }

    /// The scontrol command of [`Slurm::existing_allocation`]; default
    /// `["scontrol"]`.
    #[must_use]
    pub fn scontrol(mut self, command: impl IntoIterator<Item = impl Into<String>>) -> Slurm {
        self.scontrol = command.into_iter().map(Into::into).collect();
        self
    }

    /// Sets an environment variable for srun, salloc and scontrol, e.g.
    /// `SLURM_CONF`. (srun passes hearth's environment on to the tasks.)
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Slurm {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `--partition`; for an allocation, given to salloc, not the steps.
    #[must_use]
    pub fn partition(mut self, partition: impl Into<String>) -> Slurm {
        self.partition = Some(partition.into());
        self
    }

    /// `--time`, a job's time limit in Slurm's format (`MM`, `HH:MM:SS`,
    /// `D-HH`...); for an allocation, given to salloc, not the steps.
    #[must_use]
    pub fn time_limit(mut self, limit: impl Into<String>) -> Slurm {
        self.time_limit = Some(limit.into());
        self
    }

    /// More srun options, after hearth's own (so they win), e.g.
    /// `["--mem=2G", "--constraint=avx2"]`.
    #[must_use]
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Slurm {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs the slots as `--overlap` steps of the allocation `job_id`
    /// (e.g. an `sbatch --wrap 'sleep infinity'` job, or the job hearth
    /// runs in), which someone else releases. Its nodes are not known, so
    /// Slurm places the steps, and they pile onto its first node once each
    /// node runs one: [`Slurm::existing_allocation`] learns the nodes and
    /// spreads the steps over them.
    #[must_use]
    pub fn allocation_id(mut self, job_id: impl Into<String>) -> Slurm {
        self.allocation = Some(Allocation::Id(job_id.into()));
        self
    }

    /// Runs the slots as `--overlap` steps of `allocation`, its nodes in
    /// turn; the transport keeps an allocation hearth made alive (see
    /// [`SlurmAllocation`]).
    #[must_use]
    pub fn in_allocation(mut self, allocation: &SlurmAllocation) -> Slurm {
        self.allocation = Some(Allocation::Known(allocation.clone()));
        self
    }

    /// How long a slot's job may wait in the queue before the slot is
    /// failed as pending (and, as any slot failing its start, tried again
    /// with back-off); default 30 s. The pool's handshake timeout counts
    /// from the moment the job runs.
    #[must_use]
    pub fn pending_timeout(mut self, timeout: Duration) -> Slurm {
        self.pending_timeout = timeout;
        self
    }

    /// The worker binary's path on the nodes.
    pub fn bin(&self) -> &str {
        &self.bin
    }

    /// The job id of the allocation the slots are steps of, if any.
    pub fn allocation(&self) -> Option<&str> {
        match &self.allocation {
            Some(Allocation::Id(id)) => Some(id),
            Some(Allocation::Known(known)) => Some(known.id()),
            None => None,
        }
    }

    /// The pending timeout.
    pub(crate) fn pending_limit(&self) -> Duration {
        self.pending_timeout
    }

    /// Makes one allocation with `salloc` for the slots to run in as
    /// `--overlap` steps: `salloc --immediate=PENDING --job-name=hearth
    /// [--partition P] [--time T] [args...]`, e.g. with `["-N1"]` or
    /// `["-N4", "--exclusive"]`. It waits for at most the pending timeout.
    ///
    /// The allocation lives as long as a [`SlurmAllocation`] handle does,
    /// including the one inside a transport made with
    /// [`Slurm::in_allocation`]; then `salloc` is told to release it. It is
    /// held by a `salloc` child process whose stdin is a pipe from this
    /// process: if this process dies, even by `SIGKILL`, the pipe closes
    /// and salloc releases the allocation.
    ///
    /// # Errors
    ///
    /// salloc could not be started, or exited without an allocation (its
    /// error message is in the error's text).
    pub fn allocate(
        &self,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> io::Result<SlurmAllocation> {
        let mut words: Vec<String> = self.salloc.clone();
        if words.is_empty() {
            words.push("salloc".to_owned());
        }
        words.push(format!(
            "--immediate={}",
            self.pending_timeout.as_secs().max(1)
        ));
        words.extend(["--quiet".to_owned(), "--job-name=hearth".to_owned()]);
        words.extend(self.partition.iter().map(|p| format!("--partition={p}")));
        words.extend(self.time_limit.iter().map(|t| format!("--time={t}")));
        words.extend(args.into_iter().map(Into::into));
        words.extend(["sh".to_owned(), "-c".to_owned(), ALLOC_SCRIPT.to_owned()]);
        SlurmAllocation::request(&words, &self.env)
    }

    /// The running allocation `job_id`, made elsewhere (an `sbatch` job, a
    /// `salloc --no-shell`, the job hearth runs in), for
    /// [`Slurm::in_allocation`]: its nodes from `scontrol -o show job ID`
    /// and `scontrol show hostnames`, so that the slots' steps take them
    /// in turn. hearth never releases it. Without scontrol on this machine
    /// the allocation has no node names, and Slurm places the steps.
    ///
    /// # Errors
    ///
    /// The id is empty, Slurm does not know it (scontrol's message is in
    /// the error's text), or the job is not running: still pending (its
    /// nodes are not known yet), or ended.
    pub fn existing_allocation(&self, job_id: &str) -> io::Result<SlurmAllocation> {
        SlurmAllocation::find(&self.scontrol, &self.env, job_id)
    }

    /// The nodes of the allocation the slots are steps of, when known
    /// (empty otherwise: Slurm places the steps).
    fn allocation_nodes(&self) -> &[String] {
        match &self.allocation {
            Some(Allocation::Known(known)) => known.nodes(),
            _ => &[],
        }
    }

    /// The srun command of the slot `index` (from 0) of its host.
    pub(crate) fn command(&self, index: usize) -> Command {
        let mut words: Vec<OsString> = self.srun.iter().map(OsString::from).collect();
        if words.is_empty() {
            words.push("srun".into());
        }
        let mut cmd = Command::new(&words[0]);
        let _ = cmd.args(&words[1..]);
        if let Some(job) = self.allocation() {
            let _ = cmd.arg(format!("--jobid={job}")).arg("--overlap");
        }
        // Not --quiet: srun's word that the job waits in the queue (on
        // stderr, never stdout) tells a pending slot's reason.
        let _ = cmd.args(["-N1", "-n1", "--unbuffered", "--job-name=hearth"]);
        // Steps of an allocation all land on its first node unless named:
        // one node per slot, in turn.
        if let Some(node) = node_for(self.allocation_nodes(), index) {
            let _ = cmd.arg(format!("--nodelist={node}"));
        }
        if self.allocation.is_none() {
            if let Some(partition) = &self.partition {
                let _ = cmd.arg(format!("--partition={partition}"));
            }
            if let Some(limit) = &self.time_limit {
                let _ = cmd.arg(format!("--time={limit}"));
            }
        }
        let _ = cmd
            .args(&self.args)
            .args(["sh", "-c", START_SCRIPT])
            .arg(&self.bin)
            .arg(REMOTE_WORKER_FLAG);
        for (key, value) in &self.env {
            let _ = cmd.env(key, value);
        }
        cmd
    }

    /// Where a started slot runs, from its start line: the node, and the
    /// job id (with the step, `J.S`, for a step of an allocation).
    pub(crate) fn parse_start(&self, line: &str) -> Result<(String, String), String> {
        let mut words = line.split_whitespace();
        if words.next() != Some(START_MARK) {
            return Err(format!(
                "expected the slot's start line ({START_MARK} job=.. step=.. node=..), got {:?}",
                truncate(line, 200)
            ));
        }
        let (mut job, mut step, mut node) = ("-", "-", "-");
        for word in words {
            match word.split_once('=') {
                Some(("job", value)) => job = value,
                Some(("step", value)) => step = value,
                Some(("node", value)) => node = value,
                _ => {}
            }
        }
        let job = if self.allocation.is_some() || (step != "0" && step != "-") {
            format!("{job}.{step}")
        } else {
            job.to_owned()
        };
        Ok((node.to_owned(), job))
    }
}

impl From<Slurm> for crate::remote::Transport {
    fn from(slurm: Slurm) -> Self {
        crate::remote::Transport::Slurm(slurm)
    }
}

impl fmt::Display for Slurm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.srun.join(" "))?;
        if let Some(job) = self.allocation() {
            write!(f, " --jobid={job} --overlap")?;
        }
        f.write_str(" -N1 -n1")?;
        for arg in &self.args {
            write!(f, " {arg}")?;
        }
        write!(f, " {}", self.bin)
    }
}

/// The node of a host's slot `index` (from 0) among an allocation's
/// `nodes`: each in turn, so 12 slots on 3 nodes are 4, 4 and 4. `None`
/// without nodes (Slurm places the step).
fn node_for(nodes: &[String], index: usize) -> Option<&str> {
    match nodes.len() {
        0 => None,
        n => Some(&nodes[index % n]),
    }
}

/// What a line of srun's stderr says about a slot's job before it runs.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum QueueWord {
    /// The job (or the step, in an allocation) waits for resources.
    Queued,
    /// It got them: it leaves the queue and starts.
    LeftQueue,
}

/// Reads srun's messages about the queue: `srun: job 35 queued and waiting
/// for resources` and `srun: job 35 has been allocated resources` for a
/// job, `srun: Job 7 step creation temporarily disabled, retrying (...)`
/// and `srun: Step created for StepId=7.3` for a step of an allocation.
pub(crate) fn queue_word(line: &str) -> Option<QueueWord> {
    let line = line.trim_start().strip_prefix("srun:")?.trim_start();
    if line.contains("queued and waiting for resources")
        || line.contains("step creation temporarily disabled")
    {
        Some(QueueWord::Queued)
    } else if line.contains("has been allocated resources") || line.starts_with("Step created for")
    {
        Some(QueueWord::LeftQueue)
    } else {
        None
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::{QueueWord, START_SCRIPT, Slurm, SlurmAllocation, node_for, queue_word};

    fn words(slurm: &Slurm) -> Vec<String> {
        let cmd = slurm.command(0);
        std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|w| w.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_job_per_slot() {
        let slurm = Slurm::new("/opt/bin/prog")
            .partition("short")
            .time_limit("10")
            .args(["--mem=1G", "--job-name=mine"])
            .env("SLURM_CONF", "/etc/x.conf");
        assert_eq!(
            words(&slurm),
            [
                "srun",
                "-N1",
                "-n1",
                "--unbuffered",
                "--job-name=hearth",
                "--partition=short",
                "--time=10",
                "--mem=1G",
                "--job-name=mine",
                "sh",
                "-c",
                START_SCRIPT,
                "/opt/bin/prog",
                "--remote-worker",
            ]
        );
        let cmd = slurm.command(0);
        let envs: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            envs,
            [(OsStr::new("SLURM_CONF"), Some(OsStr::new("/etc/x.conf")))]
        );
        assert_eq!(
            slurm.to_string(),
            "srun -N1 -n1 --mem=1G --job-name=mine /opt/bin/prog"
        );
    }

    #[test]
    fn steps_of_an_allocation() {
        let slurm = Slurm::new("prog")
            .srun(["/usr/local/bin/srun", "-v"])
            .partition("ignored-for-steps")
            .allocation_id("77");
        assert_eq!(
            words(&slurm)[..8],
            [
                "/usr/local/bin/srun",
                "-v",
                "--jobid=77",
                "--overlap",
                "-N1",
                "-n1",
                "--unbuffered",
                "--job-name=hearth"
            ]
        );
        assert!(!words(&slurm).iter().any(|w| w.starts_with("--partition")));
        assert_eq!(slurm.allocation(), Some("77"));
        assert_eq!(
            slurm.parse_start("hearth-slurm job=77 step=3 node=n12"),
            Ok(("n12".to_owned(), "77.3".to_owned()))
        );
    }

    #[test]
    fn start_lines() {
        let slurm = Slurm::new("prog");
        assert_eq!(
            slurm.parse_start("hearth-slurm job=123 step=0 node=c1"),
            Ok(("c1".to_owned(), "123".to_owned()))
        );
        // A step of the allocation hearth runs in (srun made a step).
        assert_eq!(
            slurm.parse_start("hearth-slurm job=9 step=4 node=c2"),
            Ok(("c2".to_owned(), "9.4".to_owned()))
        );
        let err = slurm.parse_start("HRTH\u{1}garbage").unwrap_err();
        assert!(err.contains("expected the slot's start line"), "{err}");
    }

    /// The start script prints the line `parse_start` reads, from the
    /// task's environment, and runs the worker with its arguments.
    #[test]
    fn start_script_runs() {
        let out = std::process::Command::new("sh")
            .args(["-c", START_SCRIPT, "echo", "--remote-worker"])
            .env("SLURM_JOB_ID", "5")
            .env("SLURM_STEP_ID", "0")
            .env("SLURMD_NODENAME", "node7")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hearth-slurm job=5 step=0 node=node7\n--remote-worker\n"
        );
        let line = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            Slurm::new("echo").parse_start(line.lines().next().unwrap()),
            Ok(("node7".to_owned(), "5".to_owned()))
        );
    }

    /// 12 slots of a host in an allocation of 3 nodes: each step names
    /// its node, in turn, 4 per node (unnamed, Slurm piles them onto the
    /// first); a respawned slot keeps its node.
    #[test]
    fn steps_spread_over_the_allocation_nodes() {
        let slurm =
            Slurm::new("prog").in_allocation(&SlurmAllocation::unheld("41", &["n1", "n2", "n3"]));
        let node_of = |index: usize| -> Vec<String> {
            let cmd = slurm.command(index);
            cmd.get_args()
                .filter_map(|w| w.to_str()?.strip_prefix("--nodelist="))
                .map(str::to_owned)
                .collect()
        };
        let mut per_node = std::collections::BTreeMap::new();
        for index in 0..12 {
            let nodes = node_of(index);
            assert_eq!(nodes.len(), 1, "slot {index}: {nodes:?}");
            *per_node.entry(nodes[0].clone()).or_insert(0) += 1;
        }
        assert_eq!(
            per_node.into_iter().collect::<Vec<_>>(),
            [
                ("n1".to_owned(), 4),
                ("n2".to_owned(), 4),
                ("n3".to_owned(), 4)
            ]
        );
        assert_eq!(node_of(4), node_of(4 + 3 * 7));
        assert!(slurm.command(0).get_args().any(|w| w == "--jobid=41"));
        // No node list (scontrol missing) or an allocation made elsewhere:
        // Slurm places the steps.
        let bare = Slurm::new("prog").in_allocation(&SlurmAllocation::unheld("42", &[]));
        assert!(
            !bare
                .command(5)
                .get_args()
                .any(|w| w.to_string_lossy().starts_with("--nodelist"))
        );
        let other = Slurm::new("prog").allocation_id("43");
        assert!(
            !other
                .command(5)
                .get_args()
                .any(|w| w.to_string_lossy().starts_with("--nodelist"))
        );
        assert_eq!(node_for(&[], 3), None);
        assert_eq!(node_for(&["a".to_owned()], 3), Some("a"));
    }

    #[test]
    fn srun_queue_words() {
        assert_eq!(
            queue_word("srun: job 35 queued and waiting for resources"),
            Some(QueueWord::Queued)
        );
        assert_eq!(
            queue_word("srun: job 35 has been allocated resources"),
            Some(QueueWord::LeftQueue)
        );
        assert_eq!(
            queue_word(
                "srun: Job 7 step creation temporarily disabled, retrying (Requested nodes are busy)"
            ),
            Some(QueueWord::Queued)
        );
        assert_eq!(
            queue_word("srun: Step created for StepId=7.3"),
            Some(QueueWord::LeftQueue)
        );
        assert_eq!(queue_word("srun: Job allocation 35 has been revoked"), None);
        // The worker's own stderr is not srun's.
        assert_eq!(queue_word("queued and waiting for resources"), None);
    }
}
