//! pdsh's command line for hearth started as `pdsh` (`hearth run
//! --as-pdsh`): its words read with pdsh's getopt rules before clap sees
//! them ([`getopt`]), so `-S` is always pdsh's flag, bundles (`-SNw
//! node1`) split and the command's own options stay the command's. Called
//! by `main.rs`'s `parse_cli` on every command line; it leaves all but
//! pdsh's alone. Also pdsh's environment, its -q, -V and -h answers, and
//! the exec module's start of a command ([`exec`]).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use clap::CommandFactory;

use crate::Cli;

/// pdsh's options that take no argument.
const FLAGS: &[u8] = b"SNbdqVLhiaA";
/// pdsh's options that take an argument (attached, `-wnode1`, or the next
/// word).
const VALUED: &[u8] = b"wxltufRMgXFe";

/// Whether `args` (the whole command line, program name first) is
/// `hearth run --as-pdsh`: hearth started as `pdsh`.
pub fn is_pdsh(args: &[OsString]) -> bool {
    args.get(1).is_some_and(|word| word == "run")
        && args
            .iter()
            .skip(2)
            .take_while(|word| *word != "--")
            .any(|word| word == "--as-pdsh")
}

/// `hearth run --as-pdsh`'s words as pdsh's getopt reads them, in the
/// words clap takes: options end at `--` or at the first word that is not
/// one (POSIX getopt, as pdsh's: the command's own `-n` is its own), and
/// `--` is put before the command; a bundle is split (`-SNw node1` is `-S
/// -N -w node1`); `-S` is `--largest-status`, `-q`, `-V` (and `-L`), `-h`
/// the hidden `--pdsh-query`, `--pdsh-version`, `--pdsh-help`; `-b` and
/// `-d` (batch mode, debugging) do nothing here. hearth's own long options
/// (`--ssh CMD`) are kept with their values. Other command lines are left
/// as they are.
///
/// # Errors
///
/// A usage error as pdsh words it: an unknown option, a missing argument,
/// a pdsh option hearth lacks (genders, modules).
pub fn getopt(args: &mut Vec<OsString>) -> Result<(), String> {
    if !is_pdsh(args) {
        return Ok(());
    }
    let mut out: Vec<OsString> = args[..2].to_vec();
    let mut words = args[2..].iter();
    while let Some(word) = words.next() {
        let bytes = word.as_bytes();
        if word == "--" || bytes.len() < 2 || bytes[0] != b'-' {
            out.push("--".into());
            if word != "--" {
                out.push(word.clone());
            }
            out.extend(words.cloned());
            break;
        }
        if bytes.starts_with(b"--") {
            out.push(word.clone());
            if !bytes.contains(&b'=') && long_takes_value(&bytes[2..]) {
                out.extend(words.next().cloned());
            }
            continue;
        }
        for (at, &letter) in bytes.iter().enumerate().skip(1) {
            if VALUED.contains(&letter) {
                let value = match &bytes[at + 1..] {
                    [] => words.next().cloned().ok_or_else(|| {
                        format!("option requires an argument -- '{}'", char::from(letter))
                    })?,
                    attached => OsStr::from_bytes(attached).to_owned(),
                };
                out.push(valued(letter, &value)?);
                break;
            }
            out.extend(flag(letter)?.map(OsString::from));
        }
    }
    *args = out;
    Ok(())
}

/// The word clap takes for pdsh's flag `letter` (none for a flag that
/// changes nothing here).
fn flag(letter: u8) -> Result<Option<&'static str>, String> {
    Ok(match letter {
        b'S' => Some("--largest-status"),
        b'N' => Some("-N"),
        b'q' => Some("--pdsh-query"),
        b'V' | b'L' => Some("--pdsh-version"),
        b'h' => Some("--pdsh-help"),
        // Batch mode (no ^C status) and debugging: hearth's Ctrl+C is the
        // same either way.
        b'b' | b'd' => None,
        b'i' | b'a' | b'A' => return Err(lacked(letter)),
        _ if FLAGS.contains(&letter) => unreachable!("every flag has its arm"),
        _ => {
            let shown = if letter.is_ascii_graphic() {
                char::from(letter).to_string()
            } else {
                format!("\\x{letter:02x}")
            };
            return Err(format!("invalid option -- '{shown}'"));
        }
    })
}

/// The word clap takes for pdsh's option `letter` with its `value`: `-w`
/// and its value in one word (`-w=-node1`), so a value that starts with
/// `-` stays a value.
fn valued(letter: u8, value: &OsStr) -> Result<OsString, String> {
    match letter {
        b'w' | b'x' | b'l' | b't' | b'u' | b'f' | b'R' => {
            let mut word = OsString::from(format!("-{}=", char::from(letter)));
            word.push(value);
            Ok(word)
        }
        _ => Err(lacked(letter)),
    }
}

/// A pdsh option hearth does not have, named.
fn lacked(letter: u8) -> String {
    let what = match letter {
        b'g' | b'X' | b'F' | b'a' | b'A' | b'i' => "genders, which hearth does not read",
        b'M' => "its misc modules, which hearth does not have",
        _ => "not in hearth",
    };
    format!(
        "-{}: pdsh's option for {what}; name the hosts with -w",
        char::from(letter)
    )
}

/// Whether `hearth run`'s long option `name` takes a value (`--ssh CMD`):
/// clap's own definition says.
fn long_takes_value(name: &[u8]) -> bool {
    let cli = Cli::command();
    let Some(run) = cli.find_subcommand("run") else {
        return false;
    };
    run.get_arguments().any(|arg| {
        let named = arg.get_long().is_some_and(|long| long.as_bytes() == name)
            || arg
                .get_all_aliases()
                .is_some_and(|aliases| aliases.iter().any(|a| a.as_bytes() == name));
        named && arg.get_action().takes_values()
    })
}

/// pdsh's environment variables, as `hearth run` takes them (started as
/// pdsh or not, as `$WCOLL`): defaults that the options override.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// `$FANOUT`: the fanout without -f.
    pub fanout: Option<u32>,
    /// `$PDSH_CONNECT_TIMEOUT`: -t without -t, in seconds.
    pub connect_timeout: Option<u32>,
    /// `$PDSH_COMMAND_TIMEOUT`: -u without -u.
    pub command_timeout: Option<std::time::Duration>,
    /// ssh's options of `$PDSH_SSH_ARGS` (its `-l%u` and `%h` left to
    /// hearth) then of `$PDSH_SSH_ARGS_APPEND`, as ssh command line text.
    pub ssh_options: Vec<String>,
    /// `$DSHPATH`: the PATH of the command on the hosts.
    pub path: Option<String>,
    /// `$PDSH_RCMD_TYPE`: the remote command module without -R.
    rcmd: Option<String>,
}

impl Env {
    /// pdsh's variables of this process's environment.
    ///
    /// # Errors
    ///
    /// A variable set to what pdsh would not take (a fanout of 0, a
    /// timeout that is not a number), said with its name.
    pub fn read() -> Result<Env, String> {
        Env::from(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        })
    }

    /// The remote command module: -R's (`module`), else
    /// `$PDSH_RCMD_TYPE`'s, else ssh; true for exec, false for ssh, the
    /// modules hearth has.
    ///
    /// # Errors
    ///
    /// Another module in `$PDSH_RCMD_TYPE`, named (clap checks -R's).
    pub fn rcmd_is_exec(&self, module: Option<&str>) -> Result<bool, String> {
        match module.or(self.rcmd.as_deref()).map(str::trim) {
            None | Some("ssh") => Ok(false),
            Some("exec") => Ok(true),
            Some(other) => Err(format!(
                "$PDSH_RCMD_TYPE={other:?}: hearth has the rcmd modules ssh and exec"
            )),
        }
    }

    /// The variables, each read by `var`.
    fn from(var: impl Fn(&str) -> Option<String>) -> Result<Env, String> {
        let number = |name: &str, least: u32| -> Result<Option<u32>, String> {
            var(name)
                .map(|value| match value.trim().parse::<u32>() {
                    Ok(n) if n >= least => Ok(n),
                    _ => Err(format!(
                        "${name}={value:?}: give a whole number of at least {least}"
                    )),
                })
                .transpose()
        };
        let mut ssh_options = var("PDSH_SSH_ARGS")
            .map(|template| ssh_template_options(&template))
            .unwrap_or_default();
        ssh_options.extend(var("PDSH_SSH_ARGS_APPEND"));
        Ok(Env {
            fanout: number("FANOUT", 1)?,
            connect_timeout: number("PDSH_CONNECT_TIMEOUT", 0)?,
            command_timeout: number("PDSH_COMMAND_TIMEOUT", 0)?
                .map(|secs| std::time::Duration::from_secs(secs.into())),
            ssh_options,
            path: var("DSHPATH"),
            rcmd: var("PDSH_RCMD_TYPE"),
        })
    }
}

/// The options of a `$PDSH_SSH_ARGS` template (`-2 -a -x -l%u %h`, pdsh's
/// default), less the user and host, which hearth gives ssh itself:
/// `-l%u`, `-l %u` and every word with `%h` or `%u` left out.
fn ssh_template_options(template: &str) -> Vec<String> {
    let words: Vec<&str> = template.split_whitespace().collect();
    let mut options = Vec::new();
    let mut at = 0;
    while at < words.len() {
        let word = words[at];
        if word == "-l" && words.get(at + 1).is_some_and(|w| w.contains('%')) {
            at += 2;
            continue;
        }
        if !word.contains("%h") && !word.contains("%u") {
            options.push(word.to_owned());
        }
        at += 1;
    }
    options
}

/// The first word of `hearth --pdsh-exec PROGRAM ARGS...`: what the exec
/// module's jobs run, so that a program that cannot start fails as
/// pdsh's does.
pub const EXEC_FLAG: &str = "--pdsh-exec";

/// Whether this process is `hearth --pdsh-exec ...`.
pub fn is_exec() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|word| word == EXEC_FLAG)
}

/// `hearth --pdsh-exec PROGRAM ARGS...`: becomes PROGRAM (looked for in
/// `$PATH` as execvp does), as pdsh's exec module starts it; if it cannot,
/// says so as pdsh does (`pdsh@ME: execvp PROGRAM failed: No such file
/// or directory`) and exits 255, pdsh's status for it.
pub fn exec() -> std::process::ExitCode {
    use std::os::unix::process::CommandExt as _;
    let mut words = std::env::args_os().skip(2);
    let Some(program) = words.next() else {
        say!("pdsh@{}: exec: no command", local_host());
        return std::process::ExitCode::from(255);
    };
    let err = std::process::Command::new(&program).args(words).exec();
    // The system's words alone, without Rust's `(os error 2)`.
    let text = err.to_string();
    let why = text.split(" (os error").next().unwrap_or(&text);
    say!(
        "pdsh@{}: execvp {} failed: {why}",
        local_host(),
        program.to_string_lossy()
    );
    std::process::ExitCode::from(255)
}

/// Whether pdsh shows `hosts` up to their first dot (`node1` for
/// `node1.example.com`): unless two of them name different domains
/// (what follows the first dot).
pub fn strips_domains<'a>(hosts: impl IntoIterator<Item = &'a str>) -> bool {
    let mut domains = hosts
        .into_iter()
        .filter_map(|host| host.find('.').map(|dot| &host[dot..]));
    let first = domains.next();
    domains.all(|domain| Some(domain) == first)
}

/// `host` as pdsh labels it when the hosts share their domain: up to its
/// first dot, unless it starts with a digit (an address: `10.0.0.1`).
pub fn short_host(host: &str) -> &str {
    if host.starts_with(|c: char| c.is_ascii_digit()) {
        return host;
    }
    host.split_once('.').map_or(host, |(short, _)| short)
}

/// The variable that tells a host's jobs its rank among the run's hosts,
/// from 0, for pdsh's `%n`.
pub const RANK_VARIABLE: &str = "HEARTH_PDSH_RANK";

/// The variable that tells a host's jobs pdsh's `%u`: the user of the
/// host's login (`user@host`, or `-l`'s), else this machine's.
pub const USER_VARIABLE: &str = "HEARTH_PDSH_USER";

/// pdsh's usage (-h), for the options hearth has.
pub const USAGE: &str = "\
Usage: pdsh [-options] command ...
-S                return largest of remote command return values
-h                output usage menu and quit
-V                output version information and quit
-q                list the option settings and quit
-b                disable ^C status feature (batch mode; no effect here)
-d                enable extra debug information (no effect here)
-l user           execute remote commands as user
-t seconds        set connect timeout (default is 10 sec)
-u seconds        set command timeout (no default)
-f n              use fanout of n nodes
-w host,host,...  set target node list on command line
-x host,host,...  set node exclusion list on command line
-R name           set rcmd module to name
-N                disable hostname: labels on output lines
available rcmd modules: ssh,exec (default: ssh)
";

/// pdsh's version (-V): the version of pdsh whose command line hearth
/// takes, then hearth's own.
pub fn version() -> String {
    format!(
        "pdsh-2.34 (hearth {}; pdsh's command line)\nrcmd modules: ssh,exec (default: ssh)\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// What pdsh's -q prints.
#[derive(Clone, Debug)]
pub struct Query {
    /// The rcmd module.
    pub rcmd: &'static str,
    /// `$DSHPATH`.
    pub path: Option<String>,
    /// The command, its words joined (empty: none).
    pub command: String,
    /// -l.
    pub user: Option<String>,
    /// -t (or its variable), in seconds.
    pub connect_timeout: Option<u32>,
    /// -u (or its variable).
    pub command_timeout: Option<std::time::Duration>,
    /// -f (or `$FANOUT`).
    pub fanout: Option<u32>,
    /// No -N.
    pub names: bool,
    /// The hosts selected.
    pub hosts: Vec<String>,
}

/// pdsh's -q: the settings and the hosts, in pdsh's layout (hosts listed
/// in full, without `user@`).
pub fn query(query: &Query) -> String {
    let me = std::env::current_exe()
        .map_or_else(|_| "pdsh".to_owned(), |path| path.display().to_string());
    let uid = local_uid();
    let local = user_name(uid).unwrap_or_else(|| uid.to_string());
    let yes = |on: bool| if on { "Yes" } else { "No" };
    let hosts: Vec<&str> = query
        .hosts
        .iter()
        .map(|host| crate::output::without_user(host.rsplit('/').next().unwrap_or(host)))
        .collect();
    format!(
        "-- DSH-specific options --\n\
         Separate stderr/stdout\tYes\n\
         Path prepended to cmd\t{path}\n\
         Appended to cmd         none\n\
         Command:\t\t{command}\n\
         Full program pathname\t{me}\n\
         Remote program path\t{me}\n\
         \n\
         -- Generic options --\n\
         Local username\t\t{local}\n\
         Local uid     \t\t{uid}\n\
         Remote username\t\t{remote}\n\
         Rcmd type\t\t{rcmd}\n\
         one ^C will kill pdsh   No\n\
         Connect timeout (secs)\t{connect}\n\
         Command timeout (secs)\t{timeout}\n\
         Fanout\t\t\t{fanout}\n\
         Display hostname labels\t{names}\n\
         Debugging       \tNo\n\
         \n\
         -- Target nodes --\n\
         {hosts}\n",
        path = query
            .path
            .as_ref()
            .map_or_else(|| "none".to_owned(), |path| format!("PATH={path};")),
        command = if query.command.is_empty() {
            "none"
        } else {
            &query.command
        },
        remote = query.user.as_deref().unwrap_or(&local),
        // 0 is the default: hearth's ssh connect timeout, 10 s, as pdsh's.
        connect = query.connect_timeout.filter(|&secs| secs > 0).unwrap_or(10),
        timeout = query.command_timeout.map_or(0, |t| t.as_secs()),
        fanout = query
            .fanout
            .map_or_else(|| "every host".to_owned(), |n| n.to_string()),
        names = yes(query.names),
        hosts = ranged(&hosts),
        rcmd = query.rcmd,
    )
}

/// `hosts` as pdsh's -q lists them: in order, a run of neighbours that
/// differ only in their number in one bracket (`node[1-3,7]`), numbers
/// kept as written, consecutive ones as a range (`n[08-10]`, `n[9-10]`;
/// not `n01` and `n2`, padded differently).
pub fn ranged<'a>(hosts: &[&'a str]) -> String {
    // Each host as its prefix and the digits that end it, if any.
    let split = |host: &'a str| -> (&'a str, Option<&'a str>) {
        let digits = host.len() - host.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            (host, None)
        } else {
            let (prefix, number) = host.split_at(host.len() - digits);
            (prefix, Some(number))
        }
    };
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for &host in hosts {
        match (split(host), groups.last_mut()) {
            ((prefix, Some(number)), Some((last, numbers)))
                if *last == prefix && !numbers.is_empty() =>
            {
                numbers.push(number);
            }
            ((prefix, Some(number)), _) => groups.push((prefix, vec![number])),
            ((name, None), _) => groups.push((name, Vec::new())),
        }
    }
    let shown: Vec<String> = groups
        .iter()
        .map(|(prefix, numbers)| match numbers.as_slice() {
            [] => (*prefix).to_owned(),
            [one] => format!("{prefix}{one}"),
            many => format!("{prefix}[{}]", ranges(many)),
        })
        .collect();
    shown.join(",")
}

/// `numbers` (as written) with runs of consecutive ones as `low-high`.
fn ranges(numbers: &[&str]) -> String {
    // A padded number (`08`) joins only numbers of its width.
    let padded = |n: &str| n.len() > 1 && n.starts_with('0');
    let follows = |prev: &str, next: &str| {
        let widths = prev.len() == next.len() || (!padded(prev) && !padded(next));
        let (Ok(a), Ok(b)) = (prev.parse::<u128>(), next.parse::<u128>()) else {
            return false;
        };
        widths && a.checked_add(1) == Some(b)
    };
    let mut parts: Vec<String> = Vec::new();
    let mut at = 0;
    while at < numbers.len() {
        let mut end = at;
        while end + 1 < numbers.len() && follows(numbers[end], numbers[end + 1]) {
            end += 1;
        }
        parts.push(if end == at {
            numbers[at].to_owned()
        } else {
            format!("{}-{}", numbers[at], numbers[end])
        });
        at = end + 1;
    }
    parts.join(",")
}

/// This machine's name as pdsh shows it in `pdsh@NAME:` (up to its
/// first dot).
pub fn local_host() -> String {
    let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") else {
        return "localhost".to_owned();
    };
    let name = name.trim().to_owned();
    match name.split_once('.') {
        Some((short, _)) if !short.is_empty() => short.to_owned(),
        _ => name,
    }
}

/// This process's user, by name (its number if it has none): the owner
/// of its `/proc` entry, as pdsh's `%u` names it.
pub fn local_user() -> String {
    let uid = local_uid();
    user_name(uid).unwrap_or_else(|| uid.to_string())
}

/// This process's user id: the owner of its `/proc` entry.
fn local_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |meta| std::os::unix::fs::MetadataExt::uid(&meta))
}

/// The name of user `uid` in `/etc/passwd`, else `$USER`.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)? == uid.to_string()).then(|| name.to_owned())
        })
        .or_else(|| std::env::var("USER").ok().filter(|user| !user.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(words: &[&str]) -> Result<Vec<String>, String> {
        let mut args: Vec<OsString> = ["hearth", "run", "--as-pdsh"]
            .iter()
            .chain(words)
            .map(OsString::from)
            .collect();
        getopt(&mut args)?;
        Ok(args[3..]
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect())
    }

    #[test]
    fn dash_s_is_a_flag_and_options_end_at_the_command() {
        assert_eq!(
            read(&["-w", "node1", "-S", "cat", "/etc/hostname"]).unwrap(),
            ["-w=node1", "--largest-status", "--", "cat", "/etc/hostname"]
        );
        assert_eq!(
            read(&["-w", "node1", "-S", "node2", "echo"]).unwrap(),
            ["-w=node1", "--largest-status", "--", "node2", "echo"]
        );
        assert_eq!(
            read(&["-w", "n", "echo", "-n", "-S", "--", "x"]).unwrap(),
            ["-w=n", "--", "echo", "-n", "-S", "--", "x"]
        );
        assert_eq!(
            read(&["-w", "n", "--", "-S"]).unwrap(),
            ["-w=n", "--", "-S"]
        );
    }

    #[test]
    fn bundles_split_and_values_attach() {
        assert_eq!(
            read(&["-SNw", "node1", "x"]).unwrap(),
            ["--largest-status", "-N", "-w=node1", "--", "x"]
        );
        assert_eq!(
            read(&["-NS", "-wnode[1-2]", "-x", "-node1", "x"]).unwrap(),
            [
                "-N",
                "--largest-status",
                "-w=node[1-2]",
                "-x=-node1",
                "--",
                "x"
            ]
        );
        assert_eq!(
            read(&["-bd", "-Swn", "-f1", "-qV", "-h"]).unwrap(),
            [
                "--largest-status",
                "-w=n",
                "-f=1",
                "--pdsh-query",
                "--pdsh-version",
                "--pdsh-help"
            ]
        );
        // hearth's own long options keep their values.
        assert_eq!(
            read(&["--ssh", "ssh -F c", "-S", "--slf=f", "x"]).unwrap(),
            [
                "--ssh",
                "ssh -F c",
                "--largest-status",
                "--slf=f",
                "--",
                "x"
            ]
        );
    }

    #[test]
    fn unknown_and_lacked_options_are_errors() {
        assert_eq!(read(&["-Z", "x"]).unwrap_err(), "invalid option -- 'Z'");
        assert_eq!(
            read(&["-w"]).unwrap_err(),
            "option requires an argument -- 'w'"
        );
        assert!(read(&["-g", "rack1", "x"]).unwrap_err().contains("genders"));
        assert!(read(&["-a", "x"]).unwrap_err().contains("genders"));
    }

    #[test]
    fn other_command_lines_are_left_alone() {
        let mut args: Vec<OsString> = ["hearth", "run", "-S", "n1", "x"]
            .map(OsString::from)
            .to_vec();
        let before = args.clone();
        getopt(&mut args).unwrap();
        assert_eq!(args, before);
        let mut args: Vec<OsString> = ["hearth", "map", "--as-pdsh", "-S", "x"]
            .map(OsString::from)
            .to_vec();
        let before = args.clone();
        getopt(&mut args).unwrap();
        assert_eq!(args, before);
    }

    #[test]
    fn ssh_templates_keep_their_options() {
        assert_eq!(ssh_template_options("-2 -a -x -l%u %h"), ["-2", "-a", "-x"]);
        assert_eq!(
            ssh_template_options("-F cfg -l %u -p 2222 %h"),
            ["-F", "cfg", "-p", "2222"]
        );
        assert_eq!(ssh_template_options("-oUser=%u %h"), Vec::<String>::new());
    }

    #[test]
    fn environment_defaults() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            Env::from(move |name| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        let read = env(&[
            ("FANOUT", "4"),
            ("PDSH_CONNECT_TIMEOUT", "0"),
            ("PDSH_COMMAND_TIMEOUT", "30"),
            ("PDSH_SSH_ARGS", "-x -l%u %h"),
            ("PDSH_SSH_ARGS_APPEND", "-F cfg -p 22"),
            ("PDSH_RCMD_TYPE", "ssh"),
            ("DSHPATH", "/opt/bin:/bin"),
        ])
        .unwrap();
        assert_eq!(read.fanout, Some(4));
        assert_eq!(read.connect_timeout, Some(0));
        assert_eq!(
            read.command_timeout,
            Some(std::time::Duration::from_secs(30))
        );
        assert_eq!(read.ssh_options, ["-x", "-F cfg -p 22"]);
        assert_eq!(read.path.as_deref(), Some("/opt/bin:/bin"));
        assert!(env(&[("FANOUT", "0")]).unwrap_err().contains("$FANOUT"));
        let rsh = env(&[("PDSH_RCMD_TYPE", "rsh")]).unwrap();
        assert!(
            rsh.rcmd_is_exec(None)
                .unwrap_err()
                .contains("the rcmd modules ssh and exec")
        );
        assert_eq!(rsh.rcmd_is_exec(Some("ssh")), Ok(false));
        assert_eq!(rsh.rcmd_is_exec(Some("exec")), Ok(true));
        assert_eq!(read.rcmd_is_exec(None), Ok(false));
        let exec = env(&[("PDSH_RCMD_TYPE", "exec")]).unwrap();
        assert_eq!(exec.rcmd_is_exec(None), Ok(true));
    }

    #[test]
    fn query_lists_hosts_ranged_as_pdsh() {
        let cases: &[(&str, &str)] = &[
            ("h3,h1,h2", "h[3,1-2]"),
            ("a1,b2,a2,a3", "a1,b2,a[2-3]"),
            ("n01,n02,n10,n9", "n[01-02,10,9]"),
            ("x,h2,h1", "x,h[2,1]"),
            ("h1,h1", "h[1,1]"),
            ("h1,h2,h3,h5,h6", "h[1-3,5-6]"),
            ("a1b2,a1b3", "a1b[2-3]"),
            ("h,h1", "h,h1"),
            ("h01,h1", "h[01,1]"),
            ("n9,n10", "n[9-10]"),
            ("n08,n09,n10", "n[08-10]"),
            ("n099,n100", "n[099-100]"),
            ("h1.x,h2.x", "h1.x,h2.x"),
            ("n00,n01,n1", "n[00-01,1]"),
        ];
        for (hosts, want) in cases {
            let hosts: Vec<&str> = hosts.split(',').collect();
            assert_eq!(ranged(&hosts), *want, "{hosts:?}");
        }
    }

    #[test]
    fn labels_drop_a_shared_domain() {
        assert!(strips_domains(["a.x.com", "b.x.com", "c"]));
        assert!(strips_domains(["a", "b"]));
        assert!(!strips_domains(["a.x.com", "b.y.com"]));
        assert_eq!(short_host("node1.x.com"), "node1");
        assert_eq!(short_host("node1"), "node1");
        assert_eq!(short_host("10.0.0.1"), "10.0.0.1");
        assert_eq!(short_host("1a.x.com"), "1a.x.com");
    }

    #[test]
    fn query_lists_settings_and_bare_hosts() {
        let text = query(&Query {
            rcmd: "ssh",
            path: Some("/opt/bin".to_owned()),
            command: "echo hi".to_owned(),
            user: Some("bob".to_owned()),
            connect_timeout: Some(5),
            command_timeout: None,
            fanout: Some(4),
            names: false,
            hosts: vec!["node1".to_owned(), "2/root@node2".to_owned()],
        });
        for line in [
            "Path prepended to cmd\tPATH=/opt/bin;\n",
            "Command:\t\techo hi\n",
            "Remote username\t\tbob\n",
            "Connect timeout (secs)\t5\n",
            "Command timeout (secs)\t0\n",
            "Fanout\t\t\t4\n",
            "Display hostname labels\tNo\n",
            "-- Target nodes --\nnode[1-2]\n",
        ] {
            assert!(text.contains(line), "{line:?} not in {text}");
        }
    }
}
