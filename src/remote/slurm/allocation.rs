//! The Slurm allocation a host's slots run in as `--overlap` steps, with
//! its nodes: one hearth makes and holds with `salloc`
//! ([`SlurmAllocation::request`], for [`Slurm::allocate`]), or one made
//! elsewhere that hearth looks up with `scontrol` and never releases
//! ([`SlurmAllocation::find`], for [`Slurm::existing_allocation`]).
//!
//! A made allocation is held by a `salloc` child whose script prints the
//! allocation's line (job id and node names) and then waits on its stdin,
//! a pipe from hearth: when the last handle goes, or hearth dies, the pipe
//! closes and salloc releases the allocation. A found one is `scontrol -o
//! show job ID` (it must be running) and `scontrol show hostnames LIST`
//! for its node names; an id Slurm does not know, or a job that is not
//! running, is an error that says so before any slot starts.
//!
//! [`Slurm::allocate`]: super::Slurm::allocate
//! [`Slurm::existing_allocation`]: super::Slurm::existing_allocation

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use log::{debug, warn};

use super::{START_MARK, TERM_GRACE};

/// The script salloc runs: the allocation's line `hearth-slurm job=ID
/// nodes=N1,N2,..` (no nodes if scontrol is missing), then it holds the
/// allocation until its input closes.
pub(super) const ALLOC_SCRIPT: &str = r#"echo "hearth-slurm job=$SLURM_JOB_ID nodes=$(scontrol show hostnames "$SLURM_JOB_NODELIST" 2>/dev/null | paste -sd, -)"; exec cat >/dev/null"#;

/// One Slurm allocation and its nodes, which the slots' steps take in
/// turn: made by [`Slurm::allocate`] and held by a `salloc` child process,
/// released when the last clone of the handle is dropped (or by
/// [`SlurmAllocation::release`]); or made elsewhere and found by
/// [`Slurm::existing_allocation`], which hearth never releases.
///
/// [`Slurm::allocate`]: super::Slurm::allocate
/// [`Slurm::existing_allocation`]: super::Slurm::existing_allocation
#[derive(Clone)]
pub struct SlurmAllocation {
    inner: Arc<Held>,
}

struct Held {
    id: String,
    /// The allocation's nodes, one name each.
    nodes: Vec<String>,
    /// The salloc holding an allocation hearth made; `None` for one made
    /// elsewhere, or once released.
    salloc: Mutex<Option<(Child, Option<ChildStdin>)>>,
}

impl SlurmAllocation {
    /// Runs `words` (a salloc command line running [`ALLOC_SCRIPT`]) and
    /// holds the allocation it makes.
    pub(super) fn request(
        words: &[String],
        env: &[(String, String)],
    ) -> io::Result<SlurmAllocation> {
        let mut cmd = Command::new(&words[0]);
        let _ = cmd
            .args(&words[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Not in the terminal's group: Ctrl+C is the pool's business.
            .process_group(0);
        for (key, value) in env {
            let _ = cmd.env(key, value);
        }
        let mut child = cmd
            .spawn()
            .map_err(|err| io::Error::new(err.kind(), format!("starting {}: {err}", words[0])))?;
        let stdin = child.stdin.take();
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("salloc started without pipes"));
        };
        let mut stdout = BufReader::new(stdout);
        // salloc waits in the queue for at most `--immediate` seconds, then
        // runs the script, whose first line is the job id; or it exits.
        let mut line = String::new();
        let read = stdout.read_line(&mut line);
        match (read, parse_allocation_line(&line)) {
            (Ok(_), Some((id, nodes))) => {
                debug!(job:% = id, nodes:? = nodes; "slurm allocation granted");
                // stderr is left unread: salloc writes at most a line or
                // two there before it exits.
                drop(stdout);
                Ok(SlurmAllocation::new(id, nodes, Some((child, stdin))))
            }
            (read, _) => {
                drop(stdin);
                let _ = crate::sys::signal_process(child.id(), libc::SIGTERM);
                let status = child.wait();
                let mut message = String::new();
                let _ = stderr.read_to_string(&mut message);
                Err(io::Error::other(format!(
                    "salloc gave no allocation ({}): {}{}",
                    status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                    one_line(&message),
                    read.err().map(|e| format!(" ({e})")).unwrap_or_default()
                )))
            }
        }
    }

    /// Looks up the running allocation `id`, made elsewhere, with
    /// `scontrol` (the command's words, `env` set for it). Without scontrol
    /// on this machine the allocation has no node names: Slurm places the
    /// steps.
    pub(super) fn find(
        scontrol: &[String],
        env: &[(String, String)],
        id: &str,
    ) -> io::Result<SlurmAllocation> {
        let id = id.trim();
        if id.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an empty Slurm job id: give the id of a running allocation (squeue lists them)",
            ));
        }
        let show = match run(scontrol, env, &["-o", "show", "job", id]) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                warn!(job:% = id; "{err}: the allocation's nodes are unknown, Slurm places the steps");
                return Ok(SlurmAllocation::new(id.to_owned(), Vec::new(), None));
            }
            show => show?,
        };
        let nodes = match job_record(&show, id) {
            Some(JobRecord::Running { nodes }) => nodes,
            Some(JobRecord::Pending { reason }) => {
                return Err(io::Error::other(format!(
                    "Slurm job {id} is still pending in the queue ({reason}): its nodes are not \
                     known yet; start hearth once squeue shows it running"
                )));
            }
            Some(JobRecord::Ended { state }) => {
                return Err(io::Error::other(format!(
                    "Slurm job {id} is {state}, not running: give the id of a running allocation \
                     (squeue lists them)"
                )));
            }
            None => {
                return Err(io::Error::other(format!(
                    "scontrol show job {id} did not say the job's state and nodes: {}",
                    one_line(&show)
                )));
            }
        };
        let names = run(scontrol, env, &["show", "hostnames", &nodes])?;
        let nodes: Vec<String> = names.split_whitespace().map(str::to_owned).collect();
        debug!(job:% = id, nodes:? = nodes; "slurm allocation found");
        Ok(SlurmAllocation::new(id.to_owned(), nodes, None))
    }

    fn new(
        id: String,
        nodes: Vec<String>,
        salloc: Option<(Child, Option<ChildStdin>)>,
    ) -> SlurmAllocation {
        SlurmAllocation {
            inner: Arc::new(Held {
                id,
                nodes,
                salloc: Mutex::new(salloc),
            }),
        }
    }

    /// An allocation held by nobody, with these nodes, for tests.
    #[cfg(test)]
    pub(super) fn unheld(id: &str, nodes: &[&str]) -> SlurmAllocation {
        let nodes = nodes.iter().map(|n| (*n).to_owned()).collect();
        SlurmAllocation::new(id.to_owned(), nodes, None)
    }

    /// The allocation's job id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The allocation's nodes; the slots' steps go to them in turn.
    pub fn nodes(&self) -> &[String] {
        &self.inner.nodes
    }

    /// Releases an allocation hearth made now (ending every step in it)
    /// and waits until salloc has exited; later calls and drops do
    /// nothing. One made elsewhere is left alone.
    pub fn release(&self) {
        self.inner.release();
    }
}

impl Held {
    fn release(&self) {
        let Some((mut child, stdin)) = self.salloc.lock().unwrap_or_else(|p| p.into_inner()).take()
        else {
            return;
        };
        // The script's `cat` ends with its input, then salloc releases the
        // allocation and exits.
        drop(stdin);
        if !crate::sys::wait_for_child(&mut child, TERM_GRACE) {
            warn!(job:% = self.id; "salloc did not exit after its input closed: terminating it");
            let _ = crate::sys::signal_process(child.id(), libc::SIGTERM);
            if !crate::sys::wait_for_child(&mut child, TERM_GRACE) {
                let _ = child.kill();
            }
        }
        let _ = child.wait();
        debug!(job:% = self.id; "slurm allocation released");
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}

impl fmt::Debug for SlurmAllocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlurmAllocation")
            .field("id", &self.inner.id)
            .field("nodes", &self.inner.nodes)
            .finish_non_exhaustive()
    }
}

/// The job id and node names from the allocation's line (see
/// [`ALLOC_SCRIPT`]); `None` if the line is not one.
fn parse_allocation_line(line: &str) -> Option<(String, Vec<String>)> {
    let mut words = line.split_whitespace();
    if words.next() != Some(START_MARK) {
        return None;
    }
    let id = words
        .next()?
        .strip_prefix("job=")
        .filter(|id| !id.is_empty())?;
    let nodes = words
        .find_map(|w| w.strip_prefix("nodes="))
        .map(|list| {
            list.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some((id.to_owned(), nodes))
}

/// What `scontrol -o show job` says of a job.
#[derive(Debug, PartialEq, Eq)]
enum JobRecord {
    /// Running (or configuring: its nodes are booting), on these nodes in
    /// Slurm's compressed form (`node[1-3]`).
    Running { nodes: String },
    /// Waiting in the queue, for this reason.
    Pending { reason: String },
    /// In any other state: completed, cancelled, failed, suspended...
    Ended { state: String },
}

/// The record of job `id` in `scontrol -o show job ID`'s output (one line
/// a job; an array or a heterogeneous job has several, the first one is
/// taken unless one is exactly `id`); `None` without a `JobState`.
fn job_record(text: &str, id: &str) -> Option<JobRecord> {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&format!("JobId={id}")))
        .or_else(|| text.lines().find(|l| l.contains("JobState=")))?;
    // The first of each: the fields that follow (`Command=`, `WorkDir=`)
    // may hold anything.
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
    };
    let state = field("JobState")?;
    Some(match state {
        "RUNNING" | "CONFIGURING" => JobRecord::Running {
            nodes: field("NodeList")
                .filter(|n| !n.is_empty() && *n != "(null)")?
                .to_owned(),
        },
        "PENDING" => JobRecord::Pending {
            reason: field("Reason").unwrap_or("no reason given").to_owned(),
        },
        state => JobRecord::Ended {
            state: state.to_owned(),
        },
    })
}

/// Runs `command args` to the end: its stdout, or an error with its
/// stderr (an `io::ErrorKind::NotFound` one if the command is missing).
fn run(command: &[String], env: &[(String, String)], args: &[&str]) -> io::Result<String> {
    let (program, words) = match command.split_first() {
        Some((program, words)) => (program.as_str(), words),
        None => ("scontrol", &[][..]),
    };
    let mut cmd = Command::new(program);
    let _ = cmd.args(words).args(args).stdin(Stdio::null());
    for (key, value) in env {
        let _ = cmd.env(key, value);
    }
    let line = || {
        format!(
            "{program} {}",
            words
                .iter()
                .map(String::as_str)
                .chain(args.iter().copied())
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .output()
        .map_err(|err| io::Error::new(err.kind(), format!("running {}: {err}", line())))?;
    if status.success() {
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "{} failed ({status}): {}",
            line(),
            one_line(&String::from_utf8_lossy(&stderr))
        )))
    }
}

/// A command's message on one line, or `no message`.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        "no message".to_owned()
    } else {
        lines.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use super::{ALLOC_SCRIPT, JobRecord, SlurmAllocation, job_record, parse_allocation_line};

    /// A fresh directory holding an executable `scontrol` with `script` as
    /// its body, removed when dropped.
    struct StandIn(PathBuf);

    impl StandIn {
        fn new(name: &str, script: &str) -> StandIn {
            let dir = std::env::temp_dir().join(format!("hearth-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let scontrol = dir.join("scontrol");
            std::fs::write(&scontrol, format!("#!/bin/sh\n{script}")).unwrap();
            std::fs::set_permissions(&scontrol, std::fs::Permissions::from_mode(0o755)).unwrap();
            StandIn(dir)
        }

        fn scontrol(&self) -> String {
            self.0.join("scontrol").display().to_string()
        }

        /// `PATH` with the directory first.
        fn path(&self) -> String {
            format!(
                "{}:{}",
                self.0.display(),
                std::env::var("PATH").unwrap_or_default()
            )
        }
    }

    impl Drop for StandIn {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn allocation_lines() {
        assert_eq!(
            parse_allocation_line("hearth-slurm job=41 nodes=n1,n2,n3\n"),
            Some(("41".to_owned(), vec!["n1".into(), "n2".into(), "n3".into()]))
        );
        assert_eq!(
            parse_allocation_line("hearth-slurm job=41 nodes="),
            Some(("41".to_owned(), Vec::new()))
        );
        assert_eq!(
            parse_allocation_line("hearth-slurm job=41"),
            Some(("41".to_owned(), Vec::new()))
        );
        assert_eq!(parse_allocation_line("hearth-slurm job= nodes=a"), None);
        assert_eq!(parse_allocation_line("salloc: error: no"), None);
        assert_eq!(parse_allocation_line(""), None);
    }

    /// The allocation script prints the line `parse_allocation_line`
    /// reads, the node names from `scontrol show hostnames` (a stand-in
    /// here), and holds until its input ends.
    #[test]
    fn allocation_script_runs() {
        let stand_in = StandIn::new(
            "alloc-script",
            "[ \"$1 $2 $3\" = 'show hostnames n[1-3]' ] && printf 'n1\\nn2\\nn3\\n'\n",
        );
        let out = std::process::Command::new("sh")
            .args(["-c", ALLOC_SCRIPT])
            .env("PATH", stand_in.path())
            .env("SLURM_JOB_ID", "41")
            .env("SLURM_JOB_NODELIST", "n[1-3]")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        assert_eq!(line, "hearth-slurm job=41 nodes=n1,n2,n3\n");
        assert_eq!(
            parse_allocation_line(&line),
            Some(("41".to_owned(), vec!["n1".into(), "n2".into(), "n3".into()]))
        );
    }

    /// A running job's record as Slurm 22.05 prints it (trimmed).
    const RUNNING: &str = "JobId=12 JobName=probe UserId=root(0) GroupId=root(0) \
        JobState=RUNNING Reason=None Dependency=(null) Partition=debug \
        ReqNodeList=(null) ExcNodeList=(null) NodeList=node[1-3] BatchHost=node1 \
        NumNodes=3 NumCPUs=3 Command=(null) WorkDir=/work\n";

    #[test]
    fn job_records() {
        assert_eq!(
            job_record(RUNNING, "12"),
            Some(JobRecord::Running {
                nodes: "node[1-3]".to_owned()
            })
        );
        assert_eq!(
            job_record(
                "JobId=13 JobName=x JobState=PENDING Reason=Resources NodeList=(null)\n",
                "13"
            ),
            Some(JobRecord::Pending {
                reason: "Resources".to_owned()
            })
        );
        assert_eq!(
            job_record(
                "JobId=14 JobState=CANCELLED Reason=None NodeList=n1\n",
                "14"
            ),
            Some(JobRecord::Ended {
                state: "CANCELLED".to_owned()
            })
        );
        // The record of the job asked for, not another array task's; the
        // first field of each name, not a word of the command.
        assert_eq!(
            job_record(
                "JobId=20 ArrayJobId=20 JobState=PENDING Reason=Priority\n\
                 JobId=21 ArrayJobId=20 JobState=RUNNING NodeList=n2 Command=JobState=x\n",
                "21"
            ),
            Some(JobRecord::Running {
                nodes: "n2".to_owned()
            })
        );
        // Running without nodes, or no state at all: not understood.
        assert_eq!(
            job_record("JobId=15 JobState=RUNNING NodeList=(null)\n", "15"),
            None
        );
        assert_eq!(job_record("", "15"), None);
    }

    /// `find` against a stand-in scontrol: a running job's nodes, in
    /// order; a pending job, an ended one and an unknown id are errors
    /// that say so; without scontrol, no nodes.
    #[test]
    fn existing_allocations() {
        let stand_in = StandIn::new(
            "find-allocation",
            &format!(
                "case \"$*\" in\n\
                 '-o show job 12') printf '%s' '{RUNNING}';;\n\
                 '-o show job 13') echo 'JobId=13 JobState=PENDING Reason=Priority';;\n\
                 '-o show job 14') echo 'JobId=14 JobState=COMPLETED NodeList=node1';;\n\
                 'show hostnames node[1-3]') printf 'node1\\nnode2\\nnode3\\n';;\n\
                 *) echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1;;\n\
                 esac\n"
            ),
        );
        let scontrol = [stand_in.scontrol()];
        let env = [("SLURM_CONF".to_owned(), "/nowhere".to_owned())];
        let found = SlurmAllocation::find(&scontrol, &env, " 12\n").unwrap();
        assert_eq!(found.id(), "12");
        assert_eq!(found.nodes(), ["node1", "node2", "node3"]);
        // Made elsewhere: nothing to release.
        found.release();

        let err = SlurmAllocation::find(&scontrol, &env, "13").unwrap_err();
        assert!(
            err.to_string()
                .contains("Slurm job 13 is still pending in the queue (Priority)"),
            "{err}"
        );
        let err = SlurmAllocation::find(&scontrol, &env, "14").unwrap_err();
        assert!(
            err.to_string()
                .contains("Slurm job 14 is COMPLETED, not running"),
            "{err}"
        );
        let err = SlurmAllocation::find(&scontrol, &env, "999999").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("-o show job 999999 failed (exit status: 1)")
                && text.contains("slurm_load_jobs error: Invalid job id specified"),
            "{text}"
        );
        let err = SlurmAllocation::find(&scontrol, &env, " ").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");

        let missing = [stand_in.0.join("no-scontrol").display().to_string()];
        let found = SlurmAllocation::find(&missing, &env, "12").unwrap();
        assert_eq!((found.id(), found.nodes()), ("12", &[][..]));
    }
}
