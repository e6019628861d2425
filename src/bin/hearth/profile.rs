//! GNU parallel's profiles for `hearth map` (and hearth started as
//! `parallel`): options read from `/etc/parallel/config`, the `config`
//! file of GNU parallel's config directories (`$PARALLEL_HOME`,
//! `$XDG_CONFIG_HOME/parallel`, those of `$XDG_CONFIG_DIRS`,
//! `~/.parallel`) and `~/.parallelrc`, or with `-J NAME` (`--profile`)
//! from the file `NAME` of those directories instead; then from the
//! variable `$PARALLEL`. They go before the command line's own options,
//! which win where they say otherwise; `--plain` reads none. A line
//! starting with `#` is a comment; words are split as a shell splits them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The words profiles and `$PARALLEL` put before the options of a map
/// whose command line asks for `profiles` (`-J`) and says `plain` or not.
///
/// A profile named with `-J` that is not there, and a line (or
/// `$PARALLEL`) that does not split into words (an unclosed quote), are
/// said on stderr and left out: GNU parallel goes on without them too.
pub fn words(profiles: &[String], plain: bool) -> Vec<OsString> {
    if plain {
        return Vec::new();
    }
    let dirs = config_dirs();
    let mut files = Vec::new();
    if profiles.is_empty() {
        files.push(PathBuf::from("/etc/parallel/config"));
        files.extend(dirs.iter().map(|dir| dir.join("config")));
        if let Some(home) = std::env::var_os("HOME") {
            files.push(Path::new(&home).join(".parallelrc"));
        }
    } else {
        for name in profiles {
            // In every config directory that has it, as GNU parallel reads.
            let found: Vec<PathBuf> = if name.starts_with('/') || name.starts_with("./") {
                vec![PathBuf::from(name)]
            } else {
                dirs.iter().map(|dir| dir.join(name)).collect()
            };
            let found: Vec<PathBuf> = found.into_iter().filter(|path| path.is_file()).collect();
            if found.is_empty() {
                // GNU parallel goes on without it; said, at least.
                say!(
                    "hearth map: warning: -J {name}: no such profile (looked in {}), going on \
                     without it; a profile is a file of options, e.g. ~/.parallel/{name}",
                    shown(&dirs)
                );
            }
            files.extend(found);
        }
    }
    let mut words = Vec::new();
    for file in files {
        // The default files need not be there.
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            words.extend(split(line, &file.display().to_string()));
        }
    }
    if let Some(value) = std::env::var_os("PARALLEL") {
        words.extend(split(&value.to_string_lossy(), "$PARALLEL"));
    }
    words
}

/// GNU parallel's config directories that exist, in its order.
fn config_dirs() -> Vec<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    let mut dirs = Vec::new();
    if let Some(home) = var("PARALLEL_HOME") {
        dirs.push(PathBuf::from(home));
    }
    if let Some(config) = var("XDG_CONFIG_HOME") {
        dirs.push(Path::new(&config).join("parallel"));
    }
    if let Some(list) = var("XDG_CONFIG_DIRS") {
        dirs.extend(std::env::split_paths(&list).map(|dir| dir.join("parallel")));
    }
    if let Some(home) = var("HOME") {
        dirs.push(Path::new(&home).join(".parallel"));
    }
    dirs.retain(|dir| dir.is_dir());
    dirs
}

fn shown(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "~/.parallel, which does not exist".to_owned();
    }
    dirs.iter()
        .map(|dir| dir.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text`'s words as a shell splits them; none, said on stderr, if it
/// does not split. `from` names where it came from.
fn split(text: &str, from: &str) -> Vec<OsString> {
    match shlex::split(text) {
        Some(words) => words.into_iter().map(OsString::from).collect(),
        None => {
            say!(
                "hearth map: warning: {from}: cannot split {text:?} into words (a quote not \
                 closed?); left out"
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn words_split_as_a_shell_splits_them() {
        assert_eq!(
            split("-k --tagstring 'a b' \"c\"", "x"),
            ["-k", "--tagstring", "a b", "c"]
        );
        assert!(split("--tag 'open", "x").is_empty());
    }
}
