//! Which shell runs the jobs' command lines: the one GNU parallel would
//! pick, so a command line written for the user's shell (`[[ ]]`,
//! `{1..3}`, `echo -e`) means the same in both.
//!
//! GNU parallel takes `$PARALLEL_SHELL`; else the shell that started it,
//! the first process up its tree whose first word names a shell (`bash`,
//! `-bash`, `/bin/sh`, ...); else `$SHELL`; else `/bin/sh`. hearth does
//! the same, with one difference: a shell found up the tree or in
//! `$SHELL` that is not a POSIX shell (`csh`, `tcsh`, `fish`, `rc`) gives
//! `sh`, since hearth quotes values for POSIX shells (GNU parallel quotes
//! for each); `$PARALLEL_SHELL` is taken as it is.
//!
//! On a slot's host the shell is the same path, else the same name on its
//! `PATH`, else `sh`.

use std::fs;
use std::path::{Path, PathBuf};

/// Shells whose syntax is POSIX sh's (hearth's quoting holds in them).
const POSIX: &[&str] = &[
    "ash",
    "bash",
    "dash",
    "fdsh",
    "ksh",
    "ksh93",
    "lksh",
    "mksh",
    "pdksh",
    "posh",
    "rbash",
    "sash",
    "sh",
    "static-sh",
    "yash",
    "zsh",
    "fizsh",
    "rzsh",
];

/// Shells of other syntaxes: found up the tree, they stop the search as
/// GNU parallel's does, and give `sh`.
const OTHER: &[&str] = &["bsd-csh", "csh", "fish", "rc", "rush", "tcsh"];

/// The shell for the jobs, `None` for `sh`.
pub fn choose() -> Option<String> {
    if let Some(shell) = std::env::var_os("PARALLEL_SHELL").filter(|s| !s.is_empty()) {
        return Some(shell.to_string_lossy().into_owned());
    }
    let found = parent_shell().or_else(|| {
        let shell = std::env::var_os("SHELL").filter(|s| !s.is_empty())?;
        let shell = shell.to_string_lossy().into_owned();
        let name = Path::new(&shell)
            .file_name()?
            .to_string_lossy()
            .into_owned();
        Some((shell, name))
    })?;
    let (path, name) = found;
    (POSIX.contains(&name.as_str()) && name != "sh").then_some(path)
}

/// The first process up the tree from this one whose first word names a
/// shell: its program's path and the shell's name.
fn parent_shell() -> Option<(String, String)> {
    let mut pid = parent_of("self")?;
    while pid > 0 {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let first = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        let first = String::from_utf8_lossy(first);
        if let Some(name) = shell_name(&first) {
            let path = fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .filter(|exe| exe.file_name().is_some_and(|file| file == name.as_str()))
                .map_or_else(|| name.clone(), |exe| exe.display().to_string());
            return Some((path, name));
        }
        pid = parent_of(&pid.to_string())?;
    }
    None
}

/// The shell a process's first word names (`bash`, `-bash`, `/bin/sh`,
/// `busybox sh`), if any.
fn shell_name(first: &str) -> Option<String> {
    let word = first.strip_prefix("busybox ").unwrap_or(first);
    let word = word.split(' ').next().unwrap_or(word);
    let base = word.rsplit('/').next().unwrap_or(word);
    let base = base.strip_prefix('-').unwrap_or(base);
    (POSIX.contains(&base) || OTHER.contains(&base)).then(|| base.to_owned())
}

/// The parent of process `pid` (`self` for this one), from its `stat`.
fn parent_of(pid: &str) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's name, which may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Where `name` is on this process's `PATH` (the worker's: a job's own
/// `PATH`, `--process-slot-var PATH`, changes its command's, not where its
/// shell or `nice` is found).
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// The program to run `shell` (a path or a name; `None` for `sh`) on this
/// host: the path if it is a file here, else the name on `PATH`, else
/// `sh` on `PATH`.
pub fn program(shell: Option<&str>) -> PathBuf {
    if let Some(shell) = shell {
        let path = Path::new(shell);
        if path.is_absolute() && path.is_file() {
            return path.to_owned();
        }
        if let Some(found) = path
            .file_name()
            .and_then(|name| on_path(&name.to_string_lossy()))
        {
            return found;
        }
    }
    on_path("sh").unwrap_or_else(|| "sh".into())
}

#[cfg(test)]
mod tests {
    use super::{program, shell_name};

    #[test]
    fn shells_are_known_by_their_first_word() {
        assert_eq!(shell_name("bash").as_deref(), Some("bash"));
        assert_eq!(shell_name("-bash").as_deref(), Some("bash"));
        assert_eq!(shell_name("/bin/sh").as_deref(), Some("sh"));
        assert_eq!(shell_name("busybox sh").as_deref(), Some("sh"));
        assert_eq!(shell_name("/usr/bin/fish").as_deref(), Some("fish"));
        for not_one in ["sshd", "flush", "foo.sh", "/usr/bin/perl", "cargo", ""] {
            assert_eq!(shell_name(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn a_shell_missing_here_falls_back_to_its_name_then_sh() {
        let sh = program(None);
        assert!(sh.ends_with("sh") && sh.is_file(), "{}", sh.display());
        assert_eq!(program(Some("/nonexistent/dir/sh")), sh);
        assert_eq!(program(Some("/nonexistent/no-such-shell")), sh);
    }
}
