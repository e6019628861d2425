//! GNU parallel's options that `hearth map` does not have, and the usage
//! errors they get: a GNU parallel user who passes one is told that it is
//! GNU parallel's, with the nearest option of hearth's when there is one.
//! clap's own tips misled them: "to pass '--halt' as a value, use '--
//! --halt'" makes `--halt` the command, and `--resume` was answered with "a
//! similar argument exists: '--slurm'".
//!
//! The list is the options of `man parallel` (GNU parallel 20221122) less
//! those `hearth map` has: an option hearth gains leaves it (a unit test
//! checks that none of them is hearth's).

use clap::CommandFactory;
use clap::builder::StyledStr;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::Cli;

/// GNU parallel options that `hearth map` lacks: the names of one option,
/// and what to say after "hearth map does not have" (the nearest option
/// of hearth's, or why none is needed), if anything.
const MISSING: &[(&[&str], Option<&str>)] = &[
    (&["-i"], Some("the nearest is -I STR")),
    (&["--parens"], None),
    (&["--csv"], None),
    (&["-e"], Some("the nearest is -E STR")),
    (
        &["--embed", "--shebang", "--hashbang", "--shebang-wrap"],
        None,
    ),
    (&["--session"], Some("the nearest is --env NAME")),
    (&["-x", "--exit"], None),
    (
        &["--hostgroups", "--hostgroup", "--hostgrp", "--hgrp"],
        None,
    ),
    (&["--limit", "--memsuspend", "--noswap"], None),
    (&["--latest-line", "--latestline", "--ll"], None),
    (&["-o", "--open-tty", "--tty", "-p", "--interactive"], None),
    (
        &[
            "--use-sockets-instead-of-threads",
            "--usesocketsinsteadofthreads",
            "--use-cores-instead-of-threads",
            "--usecoresinsteadofthreads",
            "--use-cpus-instead-of-cores",
            "--usecpusinsteadofcores",
        ],
        None,
    ),
    (&["--_parset"], None),
    (&["--rsync-opts", "--rsyncopts"], None),
    (&["--shell-completion", "--shellcompletion"], None),
    (
        &[
            "--sql",
            "--sql-master",
            "--sqlmaster",
            "--sql-and-worker",
            "--sql-worker",
            "--sqlworker",
        ],
        None,
    ),
    (&["--tmux", "--tmuxpane", "--tmux-pane"], None),
];

/// What to say of `arg`, an option `hearth map` does not know, if it is
/// GNU parallel's: `Some(None)` for one with nothing more to say.
#[allow(clippy::option_option)] // Not GNU parallel's, or its with or without a word.
fn lookup(arg: &str) -> Option<Option<&'static str>> {
    // `--halt=now,fail=1` names `--halt`.
    let name = arg.split_once('=').map_or(arg, |(name, _)| name);
    MISSING
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|&(_, hint)| hint)
}

/// A usage error of `hearth map` as it is printed: an unknown option has
/// none of clap's tips (the only ones it gives there, "use '-- --x'",
/// makes the option the command), and if it is one of GNU parallel's the
/// error says so instead of guessing at a similar option.
pub fn map_error(mut err: clap::Error) -> clap::Error {
    if err.kind() != ErrorKind::UnknownArgument {
        return err;
    }
    let _ = err.remove(ContextKind::Suggested);
    // clap shows the usage of the option it guessed at (`hearth map
    // --slurm <CMD>...` for `--resume`): show the plain one.
    let mut cli = Cli::command();
    cli.build();
    if let Some(map) = cli.find_subcommand_mut("map") {
        let _ = err.insert(
            ContextKind::Usage,
            ContextValue::StyledStr(map.render_usage()),
        );
    }
    let arg = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.clone(),
        _ => return err,
    };
    let starting = ambiguous(&cli, &arg);
    if !starting.is_empty() {
        let _ = err.remove(ContextKind::SuggestedArg);
        let tip = format!(
            "{arg} is the start of several options ({}): write more of it",
            starting.join(", ")
        );
        let _ = err.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![StyledStr::from(tip)]),
        );
    } else if let Some(hint) = lookup(&arg) {
        let name = arg.split_once('=').map_or(arg.as_str(), |(name, _)| name);
        let _ = err.remove(ContextKind::SuggestedArg);
        let mut tip = format!("{name} is an option of GNU parallel that hearth map does not have");
        if let Some(hint) = hint {
            tip.push_str("; ");
            tip.push_str(hint);
        }
        let _ = err.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![StyledStr::from(tip)]),
        );
    }
    err
}

/// The options of `hearth map` whose names start with `arg` (`--re`),
/// when there are several: GNU parallel takes an option's name shortened
/// as long as it names one option, and so does hearth map (clap's
/// `infer_long_args`); one that could be several is unknown to clap.
fn ambiguous(cli: &clap::Command, arg: &str) -> Vec<String> {
    let Some(prefix) = arg.strip_prefix("--") else {
        return Vec::new();
    };
    let prefix = prefix.split_once('=').map_or(prefix, |(name, _)| name);
    let Some(map) = cli.find_subcommand("map") else {
        return Vec::new();
    };
    let mut starting: Vec<String> = map
        .get_arguments()
        .filter(|option| !option.is_hide_set())
        .filter_map(clap::Arg::get_long)
        .filter(|long| long.starts_with(prefix))
        .map(|long| format!("--{long}"))
        .collect();
    if starting.len() < 2 {
        starting.clear();
    }
    starting
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::{MISSING, lookup};
    use crate::Cli;

    /// No option in the list is one `hearth map` has: an option hearth
    /// gains leaves the list.
    #[test]
    fn no_listed_option_is_hearths() {
        let cli = Cli::command();
        let map = cli.find_subcommand("map").expect("no map subcommand");
        let mut ours = Vec::new();
        for arg in map.get_arguments() {
            ours.extend(
                arg.get_long_and_visible_aliases()
                    .into_iter()
                    .flatten()
                    .map(|l| format!("--{l}")),
            );
            ours.extend(
                arg.get_short_and_visible_aliases()
                    .into_iter()
                    .flatten()
                    .map(|s| format!("-{s}")),
            );
            ours.extend(
                arg.get_all_aliases()
                    .into_iter()
                    .flatten()
                    .map(|l| format!("--{l}")),
            );
            ours.extend(
                arg.get_all_short_aliases()
                    .into_iter()
                    .flatten()
                    .map(|s| format!("-{s}")),
            );
        }
        ours.extend(["--help".to_owned(), "-h".to_owned()]);
        for (names, _) in MISSING {
            for name in *names {
                assert!(
                    !ours.contains(&name.to_string()),
                    "{name} is hearth map's own"
                );
            }
        }
    }

    #[test]
    fn lookup_finds_names_and_names_with_values() {
        assert_eq!(lookup("--ctagstring=x"), None);
        assert_eq!(lookup("--session"), Some(Some("the nearest is --env NAME")));
        assert_eq!(lookup("--tmux"), Some(None));
        assert_eq!(lookup("--bogus"), None);
    }
}
