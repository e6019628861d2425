//! How a slot's worker process is started: the local binary (the embedded
//! default, no ssh), `ssh HOST BIN --remote-worker`, `srun` on a Slurm
//! cluster (see [`Slurm`]), or any command template (a container exec,
//! another scheduler's run command); and how it is stopped.

use std::borrow::Cow;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::remote::{REMOTE_WORKER_FLAG, Slurm, connector, login};

/// Seconds between ssh's keep-alive probes of the server
/// (`ServerAliveInterval`): with [`SERVER_ALIVE_COUNT_MAX`] unanswered in a
/// row, ssh gives up, so a host that froze or dropped off the network
/// fails its slot (and the slot's jobs are retried) after about a minute,
/// instead of hanging the run. Options given with the ssh command come
/// first and win (`ssh -o ServerAliveInterval=5`).
pub(crate) const SERVER_ALIVE_INTERVAL: u32 = 15;

/// Unanswered keep-alive probes after which ssh gives up
/// (`ServerAliveCountMax`), see [`SERVER_ALIVE_INTERVAL`].
pub(crate) const SERVER_ALIVE_COUNT_MAX: u32 = 4;

/// How to start a worker process for a slot.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Transport {
    /// Run a local binary with `--remote-worker`.
    Local {
        /// The binary; by default the current executable.
        bin: PathBuf,
    },
    /// `ssh [options] HOST 'BIN' --remote-worker`.
    Ssh {
        /// The ssh command and its own options, e.g. `["ssh", "-F", "cfg"]`.
        ssh: Vec<String>,
        /// Where the worker binary is on the remote hosts.
        bin: String,
        /// ssh's `ConnectTimeout`.
        connect_timeout: Duration,
    },
    /// Any command: `{host}` and `{bin}` in its words are replaced;
    /// `--remote-worker` is appended. End it with `{bin}` (or a command
    /// that runs its arguments), so that the flag is the worker's first
    /// argument (see [`is_remote_worker`](crate::remote::is_remote_worker)).
    Command {
        /// The command's words.
        template: Vec<String>,
        /// The worker binary, for `{bin}`.
        bin: String,
    },
    /// One `srun` task per slot on a Slurm cluster; the host's name is only
    /// a label, each slot's node is the one Slurm picks (see [`Slurm`]).
    Slurm(Slurm),
}

impl Transport {
    /// The current executable, run locally.
    pub fn local() -> Transport {
        let bin = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        Transport::Local { bin }
    }

    /// A local binary.
    pub fn local_bin(bin: impl Into<PathBuf>) -> Transport {
        Transport::Local { bin: bin.into() }
    }

    /// Checks that `host` is a name this transport can reach: for ssh, a
    /// login (`host`, `user@host`, `host:port`, `user@[v6addr]:port`).
    pub(crate) fn check_host(&self, host: &str) -> Result<(), String> {
        match self {
            Transport::Ssh { .. } => login::parse(host).map(drop).map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    /// Plain `ssh`, with the worker binary at `bin` on the remote hosts.
    pub fn ssh(bin: impl Into<String>) -> Transport {
        Transport::Ssh {
            ssh: vec!["ssh".to_owned()],
            bin: bin.into(),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// `srun` with the worker binary at `bin` on the nodes and the default
    /// options of [`Slurm::new`].
    pub fn slurm(bin: impl Into<String>) -> Transport {
        Transport::Slurm(Slurm::new(bin))
    }

    /// True if stopping a slot kills the worker's whole process group (its
    /// jobs' processes share it); false if only the started process may be
    /// signalled (`SIGTERM`, then `SIGKILL` after a grace period): srun
    /// shares its group with a helper that must outlive it to cancel the
    /// job.
    pub(crate) fn kill_group_on_stop(&self) -> bool {
        !matches!(self, Transport::Slurm(_))
    }

    /// The Slurm settings, for a transport whose slots print a start line
    /// (and may wait in a queue) before the worker speaks.
    pub(crate) fn slurm_settings(&self) -> Option<&Slurm> {
        match self {
            Transport::Slurm(slurm) => Some(slurm),
            _ => None,
        }
    }

    /// The command that starts a worker for `host` through the install
    /// script (see `install.rs`), its copy at `remote` there; only ssh
    /// installs (checked when the pool is built).
    pub(crate) fn install_command(
        &self,
        host: &str,
        remote: &str,
        control: Option<&Path>,
    ) -> Command {
        match self {
            Transport::Ssh {
                ssh,
                connect_timeout,
                ..
            } => {
                let words = [
                    "sh".to_owned(),
                    "-c".to_owned(),
                    shell_quote(crate::remote::install::SCRIPT).into_owned(),
                    "hearth-install".to_owned(),
                    shell_quote(remote).into_owned(),
                ];
                ssh_command(
                    ssh,
                    *connect_timeout,
                    host,
                    &client_options(control),
                    &words,
                )
            }
            other => other.command(host),
        }
    }

    /// The command that starts a worker for `host` (its slot `index` from
    /// 0, which places a Slurm step on a node of the allocation in turn),
    /// over the ssh connection of the master at `control` if given (see
    /// `mux.rs`).
    pub(crate) fn command_for(&self, host: &str, index: usize, control: Option<&Path>) -> Command {
        match self {
            Transport::Slurm(slurm) => slurm.command(index),
            Transport::Ssh {
                ssh,
                bin,
                connect_timeout,
            } if control.is_some() => {
                let words = [shell_quote(bin).into_owned(), REMOTE_WORKER_FLAG.to_owned()];
                ssh_command(
                    ssh,
                    *connect_timeout,
                    host,
                    &client_options(control),
                    &words,
                )
            }
            other => other.command(host),
        }
    }

    /// `ssh ... -N HOST` as the master of `host`'s connection, listening
    /// on `control` (see `mux.rs`): it logs in, forks itself into the
    /// background and exits 0 once the socket takes sessions. With
    /// `connector` (`ssh -G`'s reading, see `connector.rs`, and the file
    /// for the connector's error) ssh takes its connection from this
    /// program. Another transport runs `false`.
    pub(crate) fn master_command(
        &self,
        host: &str,
        control: &Path,
        connector: Option<(connector::Plan, &Path)>,
    ) -> Command {
        match self {
            Transport::Ssh {
                ssh,
                connect_timeout,
                ..
            } => {
                let mut options = vec![
                    "-o".to_owned(),
                    "ControlMaster=yes".to_owned(),
                    "-o".to_owned(),
                    control_path(control),
                    "-o".to_owned(),
                    format!("ControlPersist={}", crate::remote::mux::CONTROL_PERSIST),
                    "-N".to_owned(),
                ];
                let connector = connector.and_then(|(plan, said)| {
                    connector::master_options(plan, *connect_timeout, said)
                });
                if let Some((proxy, _)) = &connector {
                    options.extend(proxy.iter().cloned());
                }
                let mut cmd = ssh_command(ssh, *connect_timeout, host, &options, &[]);
                if let Some((_, settings)) = connector {
                    let _ = cmd.env(connector::env_name(), settings);
                }
                cmd
            }
            _ => Command::new("false"),
        }
    }

    /// `ssh -G HOST`: how ssh would reach `host` (its configuration as
    /// ssh reads it, on stdout), or `None` for another transport.
    pub(crate) fn config_command(&self, host: &str) -> Option<Command> {
        match self {
            Transport::Ssh {
                ssh,
                connect_timeout,
                ..
            } => Some(ssh_command(
                ssh,
                *connect_timeout,
                host,
                &["-G".to_owned()],
                &[],
            )),
            _ => None,
        }
    }

    /// `ssh -O OPERATION` to the master listening on `control`: `exit`
    /// tells it to end, `check` prints `Master running (pid=N)`.
    pub(crate) fn master_control_command(
        &self,
        host: &str,
        control: &Path,
        operation: &str,
    ) -> Command {
        match self {
            Transport::Ssh {
                ssh,
                connect_timeout,
                ..
            } => {
                let options = [
                    "-o".to_owned(),
                    control_path(control),
                    "-O".to_owned(),
                    operation.to_owned(),
                ];
                ssh_command(ssh, *connect_timeout, host, &options, &[])
            }
            _ => Command::new("true"),
        }
    }

    /// The command that starts a worker for `host`.
    pub(crate) fn command(&self, host: &str) -> Command {
        match self {
            Transport::Slurm(slurm) => slurm.command(0),
            Transport::Local { bin } => {
                let mut cmd = Command::new(bin);
                let _ = cmd.arg(REMOTE_WORKER_FLAG);
                cmd
            }
            Transport::Ssh {
                ssh,
                bin,
                connect_timeout,
            } => {
                let words = [shell_quote(bin).into_owned(), REMOTE_WORKER_FLAG.to_owned()];
                ssh_command(ssh, *connect_timeout, host, &[], &words)
            }
            Transport::Command { template, bin } => {
                let words: Vec<OsString> = template
                    .iter()
                    .map(|w| w.replace("{host}", host).replace("{bin}", bin).into())
                    .collect();
                let mut cmd = Command::new(words.first().cloned().unwrap_or_else(|| "true".into()));
                let _ = cmd.args(words.iter().skip(1)).arg(REMOTE_WORKER_FLAG);
                cmd
            }
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Local { bin } => write!(f, "local {}", bin.display()),
            Transport::Ssh { ssh, bin, .. } => write!(f, "{} HOST {bin}", ssh.join(" ")),
            Transport::Command { template, .. } => f.write_str(&template.join(" ")),
            Transport::Slurm(slurm) => slurm.fmt(f),
        }
    }
}

/// `ssh [the user's options] [hearth's options] [OPTIONS] [-p PORT]
/// DESTINATION WORDS...`: hearth's options are `BatchMode`,
/// `ConnectTimeout` and the keep-alive, `options` those of the
/// connection's master (see `mux.rs`); `host` is read as a login
/// (`user@host:port`).
fn ssh_command(
    ssh: &[String],
    connect_timeout: Duration,
    host: &str,
    options: &[String],
    words: &[String],
) -> Command {
    let mut cmd = Command::new(ssh.first().map_or("ssh", String::as_str));
    let _ = cmd
        .args(ssh.iter().skip(1))
        .args(["-o", "BatchMode=yes", "-o"])
        .arg(format!(
            "ConnectTimeout={}",
            connect_timeout.as_secs().max(1)
        ))
        .arg("-o")
        .arg(format!("ServerAliveInterval={SERVER_ALIVE_INTERVAL}"))
        .arg("-o")
        .arg(format!("ServerAliveCountMax={SERVER_ALIVE_COUNT_MAX}"))
        .args(options);
    // `user@host:port`: ssh takes the port with -p (the last -p wins over
    // one in the user's own options). A name that is no login was refused
    // when the pool was built.
    match login::parse(host) {
        Ok(login) => {
            if let Some(port) = login.port {
                let _ = cmd.arg("-p").arg(port.to_string());
            }
            let _ = cmd.arg(login.destination());
        }
        Err(_) => {
            let _ = cmd.arg(host);
        }
    }
    let _ = cmd.args(words);
    cmd
}

/// The options of a session over the master at `control` (none without
/// one): ssh must not become a master itself.
fn client_options(control: Option<&Path>) -> Vec<String> {
    match control {
        Some(control) => vec![
            "-o".to_owned(),
            "ControlMaster=no".to_owned(),
            "-o".to_owned(),
            control_path(control),
        ],
        None => Vec::new(),
    }
}

/// `ControlPath=PATH`, with ssh's `%` escaped (ssh expands `%h` and the
/// like in it).
fn control_path(control: &Path) -> String {
    format!(
        "ControlPath={}",
        control.to_string_lossy().replace('%', "%%")
    )
}

/// Quotes `word` for a POSIX shell (the remote side of ssh runs one):
/// `shlex`'s quoting. A word holding NUL, which no shell word can, is
/// passed as it is: starting ssh with it fails, and the slot says so.
pub(crate) fn shell_quote(word: &str) -> Cow<'_, str> {
    shlex::try_quote(word).unwrap_or(Cow::Borrowed(word))
}

#[cfg(test)]
mod tests {
    use super::{Transport, shell_quote};

    #[test]
    fn ssh_gives_up_on_a_silent_host_and_takes_the_users_options_first() {
        let transport = Transport::Ssh {
            ssh: vec![
                "ssh".to_owned(),
                "-o".to_owned(),
                "ServerAliveInterval=5".to_owned(),
            ],
            bin: "/opt/my prog".to_owned(),
            connect_timeout: std::time::Duration::from_secs(7),
        };
        let cmd = transport.command("node1");
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(cmd.get_program(), "ssh");
        assert_eq!(
            args,
            [
                "-o",
                "ServerAliveInterval=5",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=7",
                "-o",
                "ServerAliveInterval=15",
                "-o",
                "ServerAliveCountMax=4",
                "node1",
                "'/opt/my prog'",
                "--remote-worker",
            ]
        );
    }

    /// `user@host:port`: the destination `user@host` and the port with
    /// `-p`, after the user's own options.
    #[test]
    fn ssh_gets_the_port_apart() {
        let transport = Transport::Ssh {
            ssh: vec!["ssh".to_owned(), "-p".to_owned(), "22".to_owned()],
            bin: "hearth".to_owned(),
            connect_timeout: std::time::Duration::from_secs(7),
        };
        let args: Vec<String> = transport
            .command("me@[::1]:2222")
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[..2], ["-p", "22"]);
        assert_eq!(
            args[args.len() - 5..],
            ["-p", "2222", "me@::1", "hearth", "--remote-worker"]
        );
        assert!(transport.check_host("me@").is_err());
        assert!(Transport::local().check_host("me@").is_ok());
    }

    /// The remote shell gets each word back whole: a plain path as it is,
    /// anything else quoted (what `sh` would split it into is checked with
    /// shlex's own splitting, and by running `sh`).
    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/usr/bin/hearth"), "/usr/bin/hearth");
        assert_eq!(shell_quote("my prog"), "'my prog'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        let words = [
            "it's",
            "naïve",
            "a b\tc\nd",
            "$HOME `x` \\ \"q\" ; | & * ? ~ # !",
        ];
        for word in words {
            let quoted = shell_quote(word);
            assert_eq!(
                shlex::split(&quoted),
                Some(vec![word.to_owned()]),
                "{quoted}"
            );
            let echoed = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {quoted}"))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&echoed.stdout), word, "{quoted}");
        }
        // NUL: no shell word holds it; passed as it is.
        assert_eq!(shell_quote("a\0b"), "a\0b");
    }
}
