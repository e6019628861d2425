//! Why a slot failed: [`SlotFailure`], classified where the failure is
//! seen (the slot's pipes, its frames, its deadlines, how its process
//! ended), carried as a value through the engine, and printed only at the
//! edge, in a job's attempt history ([`FailedSlot`] in
//! [`JobFailure`](crate::remote::JobFailure)), a dead slot's reason, the
//! log and the host's metrics.
//!
//! How a process that ended before its handshake is read (its exit status
//! and its last stderr lines: a missing binary, ssh refusing the login, an
//! unknown host) is decided here, in [`diagnose`], and nowhere else.

use std::fmt;
use std::process::ExitStatus;
use std::time::Duration;

use crate::remote::wire::WireError;

/// Why a slot stopped serving.
///
/// A failure is *permanent* ([`is_permanent`](SlotFailure::is_permanent))
/// when starting the slot again cannot help: the pool then gives the slot
/// up at once instead of restarting it with back-off. Displayed in lower
/// case, with what to do where there is something to do.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotFailure {
    /// The worker closed its stdout and exited.
    WorkerExited {
        /// How it ended, if it ended by itself (not killed by the pool).
        status: Option<ExitStatus>,
    },
    /// The worker closed its stdout but kept running; the pool killed it.
    ClosedStdout,
    /// The worker's stream ended inside a frame.
    CutFrame {
        /// Bytes of the frame that came.
        got: usize,
        /// Bytes the frame has (its header alone if the header was cut).
        expected: usize,
        /// How the worker ended, if it ended by itself.
        status: Option<ExitStatus>,
    },
    /// The worker's output is not frames of this protocol: junk before a
    /// frame, a bad header, a payload that does not decode, or a read
    /// error; the text is the decoder's error.
    BadStream(String),
    /// The worker speaks another version of the protocol.
    VersionMismatch {
        /// The version this side speaks.
        ours: u32,
        /// The version the worker speaks.
        theirs: u32,
    },
    /// The worker sent a frame out of turn, e.g. a result for a job its
    /// slot does not run; the text says which.
    Protocol(String),
    /// Writing to the worker's stdin failed; the text is the system's
    /// error.
    WriteFailed(String),
    /// The worker did not complete the handshake in time.
    NoHandshake {
        /// The handshake's time limit.
        within: Duration,
    },
    /// The slot's Slurm job waited in the queue past its pending time
    /// limit.
    SlurmPending {
        /// The pending time limit.
        within: Duration,
    },
    /// The slot's Slurm task did not print a start line hearth reads; the
    /// text says what came.
    SlurmStart(String),
    /// Nothing came from the worker, not even an answer to a ping, for the
    /// slot timeout: the worker, its host or the network between them
    /// stopped (a frozen process, a host that dropped off the network while
    /// the connection stays up). The slot is declared dead and killed.
    Silent {
        /// The slot timeout.
        limit: Duration,
    },
    /// The worker binary is missing or not executable on the host: the
    /// slot's process exited 126 or 127 before its handshake.
    BinaryMissing {
        /// The exit status, 126 or 127.
        code: i32,
        /// How the slot is started, e.g. `ssh HOST /usr/bin/hearth`.
        transport: String,
    },
    /// The slot's process could not be started at all (e.g. no ssh).
    CannotStart {
        /// How the slot is started.
        transport: String,
        /// The system's error.
        error: String,
    },
    /// The slot's process could not be started for want of resources on
    /// this machine: too many open files or processes, no memory. Unlike
    /// [`CannotStart`](SlotFailure::CannotStart), retried with back-off:
    /// what took the resources may give them back.
    NoResources {
        /// How the slot is started.
        transport: String,
        /// The system's error.
        error: String,
    },
    /// ssh logged in to nothing: the host refused the key or password.
    LoginRefused {
        /// ssh's own words (its last stderr lines).
        ssh: String,
    },
    /// ssh found no such host: its name does not resolve.
    HostUnknown {
        /// ssh's own words.
        ssh: String,
    },
    /// ssh does not trust the host: its key is not the one `known_hosts`
    /// holds for it, or not there at all.
    HostKeyRejected {
        /// ssh's own words.
        ssh: String,
    },
    /// A host asked for a copy of the worker ([`Host::install_worker`])
    /// but runs another system or architecture than this program was
    /// built for.
    ///
    /// [`Host::install_worker`]: crate::remote::Host::install_worker
    WrongSystem {
        /// The host's system and architecture (`uname -s`, `uname -m`).
        host: String,
        /// The ones this program was built for.
        ours: String,
    },
    /// Installing the worker on the host went wrong; the text says how.
    Install(String),
    /// The worker could not place the pool's base files
    /// ([`PoolBuilder::base_files`](crate::remote::PoolBuilder::base_files));
    /// the text says which and why.
    BaseFiles(String),
    /// ssh could not connect: the connection was refused or timed out, the
    /// network or the name server did not answer. Retried with back-off:
    /// a host that boots or a network that comes back may answer.
    CouldNotConnect {
        /// ssh's own words.
        ssh: String,
    },
}

impl SlotFailure {
    /// True if starting the slot again cannot help: a missing binary, a
    /// process that cannot be started, another protocol version, ssh
    /// refusing the login, not knowing the host or not trusting its key,
    /// a host of another architecture to install the worker on.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            SlotFailure::VersionMismatch { .. }
                | SlotFailure::BinaryMissing { .. }
                | SlotFailure::CannotStart { .. }
                | SlotFailure::LoginRefused { .. }
                | SlotFailure::HostUnknown { .. }
                | SlotFailure::HostKeyRejected { .. }
                | SlotFailure::WrongSystem { .. }
                | SlotFailure::BaseFiles(_)
        )
    }

    /// True if the worker's process ended (or closed its output): its last
    /// stderr line is part of the story even after the handshake.
    fn is_an_exit(&self) -> bool {
        matches!(
            self,
            SlotFailure::WorkerExited { .. }
                | SlotFailure::ClosedStdout
                | SlotFailure::CutFrame { .. }
        )
    }

    /// True if the failure quotes the process's stderr itself.
    fn quotes_stderr(&self) -> bool {
        matches!(
            self,
            SlotFailure::LoginRefused { .. }
                | SlotFailure::HostUnknown { .. }
                | SlotFailure::HostKeyRejected { .. }
                | SlotFailure::CouldNotConnect { .. }
        )
    }

    /// The failure of a stream that went wrong (see [`WireError`]).
    pub(crate) fn from_wire(err: WireError) -> SlotFailure {
        match err {
            WireError::VersionMismatch { ours, theirs } => {
                SlotFailure::VersionMismatch { ours, theirs }
            }
            WireError::Truncated { expected, got } => SlotFailure::CutFrame {
                got,
                expected,
                status: None,
            },
            err => SlotFailure::BadStream(err.to_string()),
        }
    }

    /// Adds how the worker's process ended to a failure that is its exit.
    fn ended(self, status: Option<ExitStatus>, by_itself: bool) -> SlotFailure {
        let status = status.filter(|_| by_itself);
        match self {
            SlotFailure::WorkerExited { .. } if by_itself => SlotFailure::WorkerExited { status },
            SlotFailure::WorkerExited { .. } => SlotFailure::ClosedStdout,
            SlotFailure::CutFrame { got, expected, .. } => SlotFailure::CutFrame {
                got,
                expected,
                status,
            },
            failure => failure,
        }
    }
}

impl fmt::Display for SlotFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotFailure::WorkerExited { status: None } => f.write_str("worker exited"),
            SlotFailure::WorkerExited {
                status: Some(status),
            } => write!(f, "worker exited ({status})"),
            SlotFailure::ClosedStdout => {
                f.write_str("worker exited: closed its stdout but kept running; killed")
            }
            SlotFailure::CutFrame {
                got,
                expected,
                status,
            } => {
                write!(
                    f,
                    "worker exited inside a frame: got {got} of its {expected} bytes"
                )?;
                match status {
                    Some(status) => write!(f, " ({status})"),
                    None => Ok(()),
                }
            }
            SlotFailure::BadStream(what)
            | SlotFailure::Protocol(what)
            | SlotFailure::SlurmStart(what) => f.write_str(what),
            SlotFailure::VersionMismatch { ours, theirs } => write!(
                f,
                "protocol version mismatch: this side speaks version {ours}, the peer version \
                 {theirs}; run the same version of hearth on both ends"
            ),
            SlotFailure::WriteFailed(err) => write!(f, "writing to the worker: {err}"),
            SlotFailure::NoHandshake { within } => write!(f, "no handshake within {within:?}"),
            SlotFailure::SlurmPending { within } => write!(
                f,
                "its Slurm job did not start within {within:?}: still pending, the cluster has no \
                 room for it now; use fewer slots, a longer pending timeout, or run the slots as \
                 steps of one allocation"
            ),
            SlotFailure::Silent { limit } => write!(
                f,
                "no answer for {limit:?} (the slot timeout): the worker, its host or the network \
                 stopped; declared dead"
            ),
            SlotFailure::BinaryMissing { code, transport } => write!(
                f,
                "worker binary missing or not executable (exit {code}): {transport}; install it \
                 there or give its path"
            ),
            SlotFailure::CannotStart { transport, error } => {
                write!(f, "cannot start worker ({transport}): {error}")
            }
            SlotFailure::NoResources { transport, error } => {
                write!(f, "cannot start worker ({transport}) for now: {error}")
            }
            SlotFailure::LoginRefused { ssh } => write!(
                f,
                "authentication refused: {ssh}; check that `ssh HOST true` logs in without a \
                 password"
            ),
            SlotFailure::HostUnknown { ssh } => {
                write!(f, "unknown host: {ssh}; check the host name")
            }
            SlotFailure::HostKeyRejected { ssh } => write!(
                f,
                "host key rejected: {ssh}; ssh does not trust the host's key (not in \
                 known_hosts, or not the one there): check it with `ssh HOST`, or remove the old \
                 one with `ssh-keygen -R HOST` if it changed on purpose"
            ),
            SlotFailure::CouldNotConnect { ssh } => write!(f, "ssh could not connect: {ssh}"),
            SlotFailure::WrongSystem { host, ours } => write!(
                f,
                "cannot install the worker: the host runs {host}, this hearth is built for \
                 {ours}; build hearth for the host, install it there and give its path \
                 (--remote-bin)"
            ),
            SlotFailure::Install(what) => write!(f, "installing the worker: {what}"),
            SlotFailure::BaseFiles(what) => write!(f, "the base files: {what}"),
        }
    }
}

impl std::error::Error for SlotFailure {}

/// A slot that failed, and why: one attempt of a job in
/// [`JobFailure::Exhausted`](crate::remote::JobFailure::Exhausted), or a
/// slot dead for good in [`JobFailure::NotRun`](crate::remote::JobFailure::NotRun).
///
/// Displayed as `host:slot: failure`, followed by the worker's last stderr
/// line when it tells more, e.g. `local:2: worker exited (exit status: 9)
/// (stderr: crashing on purpose)`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedSlot {
    /// The slot, `host:N`.
    pub slot: String,
    /// Why it failed.
    pub failure: SlotFailure,
    /// The worker's last stderr line, where it explains the failure (a
    /// process that ended, or one that failed before its handshake).
    pub stderr: Option<String>,
}

impl FailedSlot {
    /// `failure` of `slot`, with no stderr line.
    pub(crate) fn new(slot: &str, failure: SlotFailure) -> FailedSlot {
        FailedSlot {
            slot: slot.to_owned(),
            failure,
            stderr: None,
        }
    }

    /// The failure and the stderr line, without the slot.
    pub fn reason(&self) -> Reason<'_> {
        Reason(self)
    }
}

impl fmt::Display for FailedSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.slot, self.reason())
    }
}

impl std::error::Error for FailedSlot {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.failure)
    }
}

/// A [`FailedSlot`] without its slot, displayed as `failure (stderr:
/// line)`; made by [`FailedSlot::reason`].
#[derive(Clone, Copy, Debug)]
pub struct Reason<'a>(&'a FailedSlot);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.failure)?;
        match &self.0.stderr {
            Some(line) => write!(f, " (stderr: {line})"),
            None => Ok(()),
        }
    }
}

/// A slot lost while it served (its worker exited or fell silent, its
/// stream went bad), as [`PoolBuilder::on_slot_lost`] reports it: once per
/// loss, when the pool has put the slot's jobs back in the queue.
///
/// [`PoolBuilder::on_slot_lost`]: crate::remote::PoolBuilder::on_slot_lost
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlotLost {
    /// The slot's host, as the pool names it.
    pub host: String,
    /// The slot and why it was lost.
    pub failed: FailedSlot,
    /// Jobs it had in flight that went back to the queue, to run on any
    /// slot.
    pub requeued: usize,
    /// Jobs it had in flight that ended with it: their attempts used up,
    /// or the pool stopping.
    pub ended: usize,
}

/// How a slot's process ended, as [`diagnose`] needs it.
pub(crate) struct Ending<'a> {
    /// Its exit status (`None` if it could not be reaped).
    pub(crate) status: Option<ExitStatus>,
    /// It exited by itself, before the pool killed it.
    pub(crate) by_itself: bool,
    /// It had completed its handshake.
    pub(crate) handshaken: bool,
    /// Its last stderr lines, oldest first.
    pub(crate) stderr: &'a [String],
    /// How it was started, for the messages.
    pub(crate) transport: &'a dyn fmt::Display,
}

/// What `failure` (as seen on the slot's pipes) means once the slot's
/// process has ended as `ending` says: the one place where an exit status
/// and stderr are read.
///
/// Before the handshake the exit status tells whether trying again can
/// help: 126 or 127 is a missing binary (the shell's "not found" and "not
/// executable"), and 255 with ssh's words a login refused or an unknown
/// host. A process that ended gets its status. The last stderr line is
/// kept where it explains the failure: before the handshake, and for a
/// worker that ended during its session.
pub(crate) fn diagnose(slot: &str, failure: SlotFailure, ending: &Ending<'_>) -> FailedSlot {
    let mut failure = failure.ended(ending.status, ending.by_itself);
    if !ending.handshaken {
        match ending.status.and_then(|s| s.code()) {
            Some(code @ (126 | 127)) => {
                failure = SlotFailure::BinaryMissing {
                    code,
                    transport: ending.transport.to_string(),
                };
            }
            Some(255) => failure = ssh_failure(ending.stderr).unwrap_or(failure),
            _ => {}
        }
    }
    let stderr = ending
        .stderr
        .last()
        .filter(|_| (!ending.handshaken || failure.is_an_exit()) && !failure.quotes_stderr())
        .cloned();
    FailedSlot {
        slot: slot.to_owned(),
        failure,
        stderr,
    }
}

/// What ssh's last stderr lines say went wrong, when ssh exited 255
/// before the worker spoke; `None` if they name nothing known (then the
/// slot is a worker that exited, its stderr shown, and retried).
///
/// Permanent: the login refused, the host's key rejected, a name that
/// does not resolve (unless the name server failed: "Temporary failure in
/// name resolution"). Retried with back-off: a connection refused, reset
/// or timed out, a network or host out of reach.
fn ssh_failure(stderr: &[String]) -> Option<SlotFailure> {
    const UNREACHED: [&str; 7] = [
        "Connection refused",
        "Connection timed out",
        "timed out during banner exchange",
        "Connection reset",
        "Connection closed by",
        "No route to host",
        "Network is unreachable",
    ];
    let said = |words: &str| stderr.iter().any(|line| line.contains(words));
    let ssh = stderr.join(" | ");
    if said("Permission denied") {
        Some(SlotFailure::LoginRefused { ssh })
    } else if said("Host key verification failed") {
        Some(SlotFailure::HostKeyRejected { ssh })
    } else if said("Temporary failure in name resolution") || UNREACHED.into_iter().any(said) {
        Some(SlotFailure::CouldNotConnect { ssh })
    } else if said("Could not resolve hostname") {
        Some(SlotFailure::HostUnknown { ssh })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    fn ending(code: i32, handshaken: bool, stderr: &[String]) -> Ending<'_> {
        Ending {
            status: Some(ExitStatus::from_raw(code << 8)),
            by_itself: true,
            handshaken,
            stderr,
            transport: &"ssh HOST /bin/hearth",
        }
    }

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|l| (*l).to_owned()).collect()
    }

    #[test]
    fn exit_127_before_the_handshake_is_a_missing_binary() {
        let stderr = lines(&["sh: 1: /bin/hearth: not found"]);
        let failed = diagnose(
            "h:1",
            SlotFailure::WorkerExited { status: None },
            &ending(127, false, &stderr),
        );
        assert!(failed.failure.is_permanent());
        assert_eq!(
            failed.to_string(),
            "h:1: worker binary missing or not executable (exit 127): ssh HOST /bin/hearth; \
             install it there or give its path (stderr: sh: 1: /bin/hearth: not found)"
        );
    }

    #[test]
    fn ssh_words_are_read_only_with_status_255_before_the_handshake() {
        let stderr = lines(&["user@host: Permission denied (publickey)."]);
        let exited = SlotFailure::WorkerExited { status: None };
        let failed = diagnose("h:1", exited.clone(), &ending(255, false, &stderr));
        assert!(matches!(failed.failure, SlotFailure::LoginRefused { .. }));
        assert_eq!(failed.stderr, None, "quoted in the failure already");
        // Another status, or after the handshake: a worker that exited.
        let failed = diagnose("h:1", exited.clone(), &ending(1, false, &stderr));
        assert!(!failed.failure.is_permanent(), "{failed}");
        let failed = diagnose("h:1", exited, &ending(255, true, &stderr));
        assert_eq!(
            failed.to_string(),
            "h:1: worker exited (exit status: 255) (stderr: user@host: Permission denied \
             (publickey).)"
        );
    }

    /// ssh's words as OpenSSH prints them, each with the class it makes.
    #[test]
    fn ssh_words_make_their_class() {
        let class = |line: &str| {
            let stderr = lines(&[line]);
            let exited = SlotFailure::WorkerExited { status: None };
            let failed = diagnose("h:1", exited, &ending(255, false, &stderr));
            (failed.failure.is_permanent(), failed.to_string())
        };
        let cases = [
            (
                "u@h: Permission denied (publickey).",
                true,
                "authentication refused: ",
            ),
            ("Host key verification failed.", true, "host key rejected: "),
            (
                "ssh: Could not resolve hostname x: Name or service not known",
                true,
                "unknown host: ",
            ),
            (
                "ssh: Could not resolve hostname x: Temporary failure in name resolution",
                false,
                "ssh could not connect: ",
            ),
            (
                "ssh: connect to host h port 22: Connection refused",
                false,
                "ssh could not connect: ",
            ),
            (
                "ssh: connect to host h port 22: Connection timed out",
                false,
                "ssh could not connect: ",
            ),
            (
                "kex_exchange_identification: Connection closed by remote host",
                false,
                "ssh could not connect: ",
            ),
            ("something else", false, "worker exited (exit status: 255)"),
        ];
        for (line, permanent, start) in cases {
            let (got_permanent, text) = class(line);
            assert_eq!(got_permanent, permanent, "{line}: {text}");
            assert!(text.starts_with(&format!("h:1: {start}")), "{line}: {text}");
            assert!(text.contains(line), "ssh's words kept: {text}");
        }
    }

    #[test]
    fn a_worker_killed_by_the_pool_closed_its_stdout_and_kept_running() {
        let ending = Ending {
            status: Some(ExitStatus::from_raw(9)),
            by_itself: false,
            handshaken: true,
            stderr: &[],
            transport: &"local",
        };
        let failed = diagnose("h:1", SlotFailure::WorkerExited { status: None }, &ending);
        assert_eq!(failed.failure, SlotFailure::ClosedStdout);
    }

    #[test]
    fn stderr_is_kept_after_the_handshake_only_for_an_exit() {
        let stderr = lines(&["some log line"]);
        let failed = diagnose(
            "h:1",
            SlotFailure::Protocol("unexpected PING from the worker".to_owned()),
            &ending(0, true, &stderr),
        );
        assert_eq!(failed.to_string(), "h:1: unexpected PING from the worker");
        let failed = diagnose(
            "h:1",
            SlotFailure::NoHandshake {
                within: Duration::from_secs(1),
            },
            &ending(0, false, &stderr),
        );
        assert_eq!(
            failed.to_string(),
            "h:1: no handshake within 1s (stderr: some log line)"
        );
    }
}
