//! `hearth run -S HOSTS CMD...`: the command once on every host, as pdsh
//! runs it, for people who never used GNU parallel; pdsh's own options
//! (`-w` with `^FILE`, `-HOST`, `/RE/` and the rest of pdsh's host lists
//! in `pdsh_hosts.rs`, `-x`, `-l`, `-R ssh`, `-t`, `-u`, `-N`, `-f`, `-S`,
//! `$WCOLL`; getopt's rules in `pdsh.rs` when started as pdsh) work, so a pdsh
//! command line runs unchanged. It is `hearth map
//! --nonall --line-buffer` with pdsh's way of printing (`host: ` before
//! each line, a summary of the hosts that failed): its options are turned
//! into `hearth map`'s, so the two never drift apart.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser};

use crate::pdsh;
use crate::pdsh_hosts::Selection;
use crate::{
    Cli, Command, EachHost, MapArgs, OWN_ERROR, Pdsh, Rcmd, hosts, parse_duration, parse_time_limit,
};

/// The options of `hearth run`.
// The doc comments here are the `--help` text, printed as written:
// Markdown backticks and angle brackets would show.
#[allow(clippy::doc_markdown, clippy::struct_excessive_bools)] // Flags, each its own option.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// The hosts, comma-separated or repeated, with pdsh's ranges
    /// (`node[1-4,7]`, `n[01-16]`); `user@host` and `host:port` are
    /// passed to ssh; `:` is the local machine.
    #[arg(short = 'S', long = "hosts", value_name = "H1,H2,..")]
    pub hosts: Vec<String>,
    /// The hosts as pdsh's -w takes them: as -S (or separated by spaces),
    /// `^FILE` reads hosts from FILE (several a line, `#` comments), `-`
    /// from stdin, `-HOST` and `-^FILE` leave hosts out, `/RE/` keeps only
    /// the hosts RE matches and `-/RE/` drops them; `ssh:` before a host
    /// is skipped. Without -S, -w or --slf, the file named by $WCOLL, as
    /// pdsh.
    #[arg(short = 'w', value_name = "HOSTS")]
    pub targets: Vec<String>,
    /// Leave these hosts out (pdsh's -x; ranges as in -S, `^FILE`, and
    /// `/RE/` for the hosts RE matches): compared by name, `user@` aside.
    #[arg(short = 'x', value_name = "HOSTS")]
    pub exclude: Vec<String>,
    /// Hosts from FILE (repeatable): one per line, `#` comments skipped.
    #[arg(long = "sshloginfile", visible_alias = "slf", value_name = "FILE")]
    pub login_files: Vec<std::path::PathBuf>,
    /// Log in as USER on the hosts named without a user (pdsh's -l;
    /// `user@host` keeps its own).
    #[arg(short = 'l', value_name = "USER")]
    pub user: Option<String>,
    /// The ssh command and its options, e.g. "ssh -F ./ssh_config".
    #[arg(long, value_name = "CMD", default_value = "ssh")]
    pub ssh: String,
    /// pdsh's remote command module: ssh, or exec (the command runs
    /// here once per host, without a shell, with %h the host's name).
    /// --launcher starts slots another way.
    #[arg(short = 'R', value_name = "MODULE", value_parser = ["ssh", "exec"])]
    pub module: Option<String>,
    /// At most N hosts run the command at once (pdsh's -f fanout)
    /// [default: $FANOUT, else 32, as pdsh's].
    #[arg(short = 'f', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub fanout: Option<u32>,
    /// How long ssh may take to connect, in seconds (pdsh's -t; ssh's
    /// ConnectTimeout); 0 is the default, 10.
    #[arg(short = 't', value_name = "SECONDS")]
    pub connect_timeout: Option<u32>,
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
    /// Time limit of the command on each host, e.g. 10s, 2m (seconds
    /// alone for pdsh's -u; 0 is none): past it the command is killed and
    /// the host counts as failed.
    #[arg(short = 'u', long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// How long a host may stay silent (no answer to hearth's pings)
    /// before it is declared dead.
    #[arg(long = "slot-timeout", value_name = "DURATION", value_parser = parse_time_limit)]
    pub slot_timeout: Option<Duration>,
    /// Attempts per host when its connection (its slot) dies before the
    /// command ends: 1, so the command never runs twice on a host, as
    /// pdsh's; a host whose attempts all died failed (exit 255 for it).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: u32,
    /// Print the output without the `host: ` before each line (pdsh's
    /// -N).
    #[arg(short = 'N')]
    pub no_names: bool,
    /// Exit with the largest of the command's exit statuses over the
    /// hosts (255 for a host not reached) instead of the number of hosts
    /// where it failed: pdsh's -S. Started as pdsh, -S is always this;
    /// else it is taken as this when another option follows it (-S -w
    /// node1 ...), and -S with a word after it names hosts.
    #[arg(long = "largest-status")]
    pub largest_status: bool,
    /// Exit 0 whatever the commands did (unless --largest-status), as
    /// pdsh does: what hearth started as `pdsh` does.
    #[arg(long = "as-pdsh", hide = true)]
    pub as_pdsh: bool,
    /// The command and its arguments (words joined by spaces), run on
    /// every host by the shell hearth map takes: $PARALLEL_SHELL, else the
    /// shell that started hearth, else $SHELL, else sh.
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
    /// pdsh's -q: print the settings and the hosts, run nothing.
    #[arg(long = "pdsh-query", hide = true)]
    pub pdsh_query: bool,
    /// pdsh's -V: print the version line.
    #[arg(long = "pdsh-version", hide = true)]
    pub pdsh_version: bool,
    /// pdsh's -h: print pdsh's usage.
    #[arg(long = "pdsh-help", hide = true)]
    pub pdsh_help: bool,
}

/// pdsh's fanout without -f or `$FANOUT`: hosts worked on at once.
pub const DEFAULT_FANOUT: u32 = 32;

/// `hearth run`'s words with pdsh's `-S` (a flag: the largest exit
/// status) read as `--largest-status` where it cannot be hearth's `-S
/// HOSTS`: when another option, or nothing, follows it. (Started as
/// `pdsh`, `pdsh::getopt` has read every `-S` as pdsh's already.)
/// Only the options' words are read: the command's own `-S` (`sort -S
/// 1G`) stays its own.
pub fn pdsh_status_flag(args: &mut [OsString]) {
    if args.get(1).is_none_or(|word| word != "run") {
        return;
    }
    let mut cli = Cli::command();
    cli.build();
    let Some(run) = cli.find_subcommand("run") else {
        return;
    };
    // The options that take a value, by short and long name.
    let valued: Vec<&clap::Arg> = run
        .get_arguments()
        .filter(|arg| !arg.is_positional() && arg.get_action().takes_values())
        .collect();
    let takes_value = |word: &[u8]| {
        valued.iter().any(|arg| match word {
            [b'-', b'-', long @ ..] => arg
                .get_long_and_visible_aliases()
                .into_iter()
                .flatten()
                .any(|name| name.as_bytes() == long),
            [b'-', short, ..] => arg.get_short() == Some(char::from(*short)),
            _ => false,
        })
    };
    let mut at = 2;
    while at < args.len() {
        let word = args[at].as_encoded_bytes();
        if word == b"--" || !word.starts_with(b"-") || word == b"-" {
            // The command begins.
            return;
        }
        let next_is_option = args
            .get(at + 1)
            .is_none_or(|next| next.as_encoded_bytes().starts_with(b"-"));
        if word == b"-S" && next_is_option {
            args[at] = "--largest-status".into();
            at += 1;
            continue;
        }
        // A value of its own (`-S HOSTS`, `--ssh CMD`) is the next word,
        // unless attached (`-wnode1`, `--ssh=CMD`).
        let attached = word.contains(&b'=') || (!word.starts_with(b"--") && word.len() > 2);
        at += if takes_value(word) && !attached { 2 } else { 1 };
    }
}

/// `hearth run`: pdsh's answers (-V, -h, -q), else the run, as `hearth
/// map` does it. A usage error exits 255, 1 when started as pdsh (pdsh's).
pub fn run(args: &RunArgs) -> ExitCode {
    let usage_failed = |err: clap::Error| {
        let _ = err.print();
        ExitCode::from(if args.as_pdsh { 1 } else { OWN_ERROR })
    };
    if args.pdsh_version {
        print!("{}", pdsh::version());
        return ExitCode::SUCCESS;
    }
    if args.pdsh_help {
        say!("{}", pdsh::USAGE.trim_end());
        return ExitCode::from(1);
    }
    if args.pdsh_query {
        return match args.query() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(err) => usage_failed(err),
        };
    }
    match args.to_map_args() {
        Ok(map_args) => crate::map::run(map_args),
        Err(err) => usage_failed(err),
    }
}

impl RunArgs {
    /// pdsh's -q: the settings and the hosts, as pdsh prints them.
    fn query(&self) -> Result<String, clap::Error> {
        let env = pdsh::Env::read().map_err(usage_error)?;
        let (hosts, named) = self.hosts().map_err(usage_error)?;
        let exec = self.is_exec(&env, named).map_err(usage_error)?;
        Ok(pdsh::query(&pdsh::Query {
            rcmd: if exec { "exec" } else { "ssh" },
            path: env.path.clone(),
            command: self
                .command
                .iter()
                .map(|w| w.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            user: self.user.clone(),
            connect_timeout: self.connect_timeout.or(env.connect_timeout),
            command_timeout: self.timeout.or(env.command_timeout),
            fanout: self.fanout.or(env.fanout).or(Some(DEFAULT_FANOUT)),
            names: !self.no_names,
            hosts,
        }))
    }

    /// The options of the `hearth map` run that does it.
    pub fn to_map_args(&self) -> Result<MapArgs, clap::Error> {
        let env = pdsh::Env::read().map_err(usage_error)?;
        if self.command.is_empty() {
            return Err(usage_error(
                "no command: give the command to run on every host after the options".to_owned(),
            ));
        }
        if self
            .user
            .as_deref()
            .is_some_and(|user| user.trim().is_empty())
        {
            return Err(usage_error(
                "-l is empty: give the user to log in as on the hosts, e.g. -l admin".to_owned(),
            ));
        }
        let (hosts, named) = self.hosts().map_err(usage_error)?;
        let exec = self.is_exec(&env, named).map_err(usage_error)?;
        let mut argv: Vec<OsString> = ["hearth", "map", "--nonall", "--line-buffer"]
            .map(OsString::from)
            .to_vec();
        for host in hosts {
            let host = match &self.user {
                Some(user) => with_user(&host, user),
                None => host,
            };
            argv.extend(["-S".into(), host.into()]);
        }
        let mut ssh = self.ssh.clone();
        for option in &env.ssh_options {
            ssh.push(' ');
            ssh.push_str(option);
        }
        let connect_timeout = self.connect_timeout.or(env.connect_timeout);
        if let Some(seconds) = connect_timeout.filter(|&s| s > 0) {
            let _ = write!(ssh, " -o ConnectTimeout={seconds}");
        }
        argv.extend(["--ssh".into(), OsString::from(ssh)]);
        let optional = [
            ("--launcher", self.launcher.clone()),
            ("--remote-bin", self.remote_bin.clone()),
            (
                "--timeout",
                (self.timeout.or(env.command_timeout))
                    .filter(|t| !t.is_zero())
                    .map(seconds),
            ),
            ("--slot-timeout", self.slot_timeout.map(seconds)),
            (
                "--fanout",
                self.fanout
                    .or(env.fanout)
                    .or(Some(DEFAULT_FANOUT))
                    .map(|n| n.to_string()),
            ),
            ("--attempts", Some(self.attempts.to_string())),
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
        if let Some(path) = env.path.as_ref().filter(|_| !exec) {
            let path =
                shlex::try_quote(path).map_err(|_| usage_error("$DSHPATH has a NUL".to_owned()))?;
            argv.push(format!("PATH={path}; export PATH;").into());
        }
        argv.extend(self.command.iter().cloned());
        let cli = Cli::try_parse_from(argv)?;
        match cli.command {
            Command::Map(args) => Ok(MapArgs {
                each_host: EachHost {
                    pdsh: Some(Pdsh {
                        names: !self.no_names,
                        largest_status: self.largest_status,
                        as_pdsh: self.as_pdsh,
                        rcmd: if exec { Rcmd::Exec } else { Rcmd::Ssh },
                    }),
                    ..args.each_host
                },
                ..*args
            }),
            _ => unreachable!("the words start with map"),
        }
    }

    /// The hosts of -S, -w, --slf and $WCOLL, less those -x and -w's
    /// `-HOST`, `-^FILE` and `-/RE/` leave out, and those a `/RE/` does
    /// not match (`pdsh_hosts.rs`); `N/host` kept.
    /// True if the run's rcmd module is exec: -R's, else the one the
    /// hosts `named` (`exec:node1`), else `$PDSH_RCMD_TYPE`'s.
    fn is_exec(&self, env: &pdsh::Env, named: Option<&str>) -> Result<bool, String> {
        match (self.module.as_deref(), named) {
            (Some(given), Some(named)) if given != named => Err(format!(
                "-R {given}, and the hosts name the {named} module: hearth runs one module \
                 per run"
            )),
            (given, named) => env.rcmd_is_exec(given.or(named)),
        }
    }

    /// The hosts, and the rcmd module they named (`exec:node1`), if any.
    fn hosts(&self) -> Result<(Vec<String>, Option<&'static str>), String> {
        let mut selection = Selection::default();
        selection.extend(hosts::expand(&self.hosts)?);
        for value in &self.targets {
            selection.target(value)?;
        }
        let files: Vec<String> = hosts::specs(&[], &self.login_files, false)?
            .into_iter()
            .map(|spec| match spec.slots {
                Some(n) => format!("{n}/{}", spec.name),
                None => spec.name,
            })
            .collect();
        selection.extend(files);
        if selection.is_empty() {
            match std::env::var_os("WCOLL") {
                Some(file) if !file.is_empty() => selection.file(file.as_ref())?,
                _ => {
                    return Err(
                        "no hosts: give them with -S or -w (e.g. -w node[1-4]), --slf FILE, \
                         or a file of them in $WCOLL"
                            .to_owned(),
                    );
                }
            }
        }
        for value in &self.exclude {
            selection.exclude(value)?;
        }
        let module = selection.module()?;
        let hosts = selection.selected();
        for host in &hosts {
            let _ = hosts::spec(host)?;
        }
        if hosts.is_empty() {
            return Err("no hosts are left once -x (and -w -HOST) took theirs out".to_owned());
        }
        Ok((hosts, module))
    }
}

/// `host` logged in as `user` (-l) unless it names its own (`me@node1`
/// keeps me, as in pdsh); `N/` slots kept, `:` (this machine) as it is.
/// The lines keep the bare host's name, as pdsh's.
fn with_user(host: &str, user: &str) -> String {
    let (slots, name) = match host.split_once('/') {
        Some((n, name)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (&host[..=n.len()], name)
        }
        _ => ("", host),
    };
    if name == ":" || name.contains('@') {
        host.to_owned()
    } else {
        format!("{slots}{user}@{name}")
    }
}

/// A usage error of `hearth run`, shown with its usage.
pub fn usage_error(msg: String) -> clap::Error {
    let mut cli = Cli::command();
    cli.build();
    match cli.find_subcommand_mut("run") {
        Some(run) => run.error(clap::error::ErrorKind::ValueValidation, msg),
        None => cli.error(clap::error::ErrorKind::ValueValidation, msg),
    }
}

/// A duration as `hearth map` takes it back: seconds.
fn seconds(duration: Duration) -> String {
    format!("{}", duration.as_secs_f64())
}

#[cfg(test)]
mod pdsh_status_tests {
    use super::*;

    fn read(words: &[&str]) -> Vec<String> {
        let mut args: Vec<OsString> = words.iter().map(OsString::from).collect();
        pdsh_status_flag(&mut args);
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn dash_l_is_for_the_hosts_without_a_user() {
        assert_eq!(with_user("node1", "me"), "me@node1");
        assert_eq!(with_user("root@node1", "me"), "root@node1");
        assert_eq!(with_user("2/node1:2222", "me"), "2/me@node1:2222");
        assert_eq!(with_user("2/you@node1", "me"), "2/you@node1");
        assert_eq!(with_user(":", "me"), ":");
    }

    #[test]
    fn a_dash_s_before_an_option_or_at_the_end_is_pdshs() {
        assert_eq!(
            read(&["hearth", "run", "-S", "-w", "n1", "x"])[2],
            "--largest-status"
        );
        assert_eq!(
            read(&["hearth", "run", "-w", "n1", "-S"])[4],
            "--largest-status"
        );
        // Hosts after it, a command after --, or another subcommand: as is.
        assert_eq!(read(&["hearth", "run", "-S", "n1", "x"])[2], "-S");
        assert_eq!(
            read(&["hearth", "run", "-w", "n", "--", "-S", "-x"])[5],
            "-S"
        );
        assert_eq!(read(&["hearth", "map", "-S", "-j1"])[2], "-S");
        // The command's own -S is its own, after the options and their
        // values.
        let words = read(&[
            "hearth", "run", "-S", ":", "--ssh", "ssh -q", "sort", "-S", "-r",
        ]);
        assert_eq!((words[2].as_str(), words[7].as_str()), ("-S", "-S"));
        let words = read(&["hearth", "run", "-S", ":", "echo", "a", "-S"]);
        assert_eq!(words[6], "-S");
    }
}
