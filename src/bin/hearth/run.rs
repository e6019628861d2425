//! `hearth run -S HOSTS CMD...`: the command once on every host, as pdsh
//! runs it, for people who never used GNU parallel. It is `hearth map
//! --nonall --line-buffer` with pdsh's way of printing (`host: ` before
//! each line, a summary of the hosts that failed): its options are turned
//! into `hearth map`'s, so the two never drift apart.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Args, Parser};

use crate::{Cli, Command, EachHost, MapArgs, parse_time_limit};

/// The options of `hearth run`.
// The doc comments here are the `--help` text, printed as written:
// Markdown backticks and angle brackets would show.
#[allow(clippy::doc_markdown)]
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// The hosts, comma-separated or repeated, with pdsh's ranges
    /// (`node[1-4,7]`, `n[01-16]`); `user@host` and `host:port` are
    /// passed to ssh; `:` is the local machine.
    #[arg(
        short = 'S',
        long = "hosts",
        value_name = "H1,H2,..",
        required_unless_present = "login_files"
    )]
    pub hosts: Vec<String>,
    /// Hosts from FILE (repeatable): one per line, `#` comments skipped.
    #[arg(long = "sshloginfile", visible_alias = "slf", value_name = "FILE")]
    pub login_files: Vec<std::path::PathBuf>,
    /// The ssh command and its options, e.g. "ssh -F ./ssh_config".
    #[arg(long, value_name = "CMD", default_value = "ssh")]
    pub ssh: String,
    /// Start the slots with this command instead of ssh (`{host}` and
    /// `{bin}` replaced), e.g. "docker exec -i {host} {bin}".
    #[arg(long, value_name = "TEMPLATE")]
    pub launcher: Option<String>,
    /// Where hearth is on the hosts [default: the same path as here].
    #[arg(long = "remote-bin", value_name = "PATH")]
    pub remote_bin: Option<String>,
    /// Copy this hearth to each host that has none, over the first slot's
    /// own connection (same system and architecture only).
    #[arg(long = "install-worker", conflicts_with_all = ["remote_bin", "launcher"])]
    pub install_worker: bool,
    /// Time limit of the command on each host, e.g. 10s, 2m: past it the
    /// command is killed and the host counts as failed.
    #[arg(long, value_name = "DURATION", value_parser = parse_time_limit)]
    pub timeout: Option<Duration>,
    /// How long a host may stay silent (no answer to hearth's pings)
    /// before it is declared dead.
    #[arg(long = "slot-timeout", value_name = "DURATION", value_parser = parse_time_limit)]
    pub slot_timeout: Option<Duration>,
    /// The command and its arguments, run with `sh -c` on every host
    /// (words joined by spaces).
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

impl RunArgs {
    /// The options of the `hearth map` run that does it.
    pub fn to_map_args(&self) -> Result<MapArgs, clap::Error> {
        let mut argv: Vec<OsString> = ["hearth", "map", "--nonall", "--line-buffer"]
            .map(OsString::from)
            .to_vec();
        for host in &self.hosts {
            argv.extend(["-S".into(), host.into()]);
        }
        for file in &self.login_files {
            argv.extend(["--slf".into(), file.into()]);
        }
        argv.extend(["--ssh".into(), OsString::from(&self.ssh)]);
        let optional = [
            ("--launcher", self.launcher.clone()),
            ("--remote-bin", self.remote_bin.clone()),
            ("--timeout", self.timeout.map(seconds)),
            ("--slot-timeout", self.slot_timeout.map(seconds)),
        ];
        for (flag, value) in optional {
            if let Some(value) = value {
                argv.extend([flag.into(), value.into()]);
            }
        }
        if self.install_worker {
            argv.push("--install-worker".into());
        }
        argv.push("--".into());
        argv.extend(self.command.iter().cloned());
        let cli = Cli::try_parse_from(argv)?;
        match cli.command {
            Command::Map(args) => Ok(MapArgs {
                each_host: EachHost {
                    pdsh: true,
                    ..args.each_host
                },
                ..*args
            }),
            _ => unreachable!("the words start with map"),
        }
    }
}

/// A duration as `hearth map` takes it back: seconds.
fn seconds(duration: Duration) -> String {
    format!("{}", duration.as_secs_f64())
}
