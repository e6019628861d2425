//! pdsh's host lists, for `hearth run`'s `-w` and `-x` and `$WCOLL`: a
//! [`Selection`] gathers hosts (`node[1-4]`, `^FILE`, `-` for stdin,
//! `ssh:` prefixes stripped), hosts left out (`-HOST`, `-^FILE`, `-x`),
//! and regular expressions that keep (`/RE/`) or drop (`-/RE/`, `-x
//! /RE/`) hosts, then hands back the hosts selected. `run.rs` builds one
//! per run; ranges and `N/host` are `hosts.rs`'s.

use std::io::Read as _;
use std::path::Path;

use regex::Regex;

use crate::hosts;
use crate::output::without_user;

/// The hosts of pdsh's options, as they are read: see the module doc.
#[derive(Debug, Default)]
pub struct Selection {
    /// The hosts named, in order (`user@`, `N/` kept).
    hosts: Vec<String>,
    /// The names of the hosts left out, without `user@`.
    excluded: Vec<String>,
    /// Only hosts matching all of these are kept.
    keep: Vec<Regex>,
    /// Hosts matching any of these are left out.
    drop: Vec<Regex>,
    /// The rcmd modules named before hosts (`exec:node1`).
    modules: Vec<&'static str>,
    /// A host was named without a module.
    bare: bool,
}

/// The hosts of one `host` term (`node[1-4]`) of pdsh's `option` (-w,
/// -x): its ranges expanded; an error names that option.
fn expand(option: &str, host: String) -> Result<Vec<String>, String> {
    hosts::expand(&[host]).map_err(|err| named(option, err))
}

impl Selection {
    /// Adds a `-w` value: hosts and ranges separated by commas or
    /// whitespace, `^FILE`, `-` alone for stdin, `-HOST`, `-^FILE`,
    /// `/RE/`, `-/RE/`; `ssh:` before a host stripped.
    pub fn target(&mut self, value: &str) -> Result<(), String> {
        if value.trim() == "-" {
            let mut text = String::new();
            let _ = std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|err| format!("-w -: cannot read the hosts on stdin: {err}"))?;
            return self.listed(&text, "-w - (stdin)");
        }
        for term in &terms("-w", value)? {
            if let Some(out) = term.strip_prefix('-') {
                self.exclude_term(out)?;
            } else if let Some(file) = term.strip_prefix('^') {
                self.file(Path::new(file))?;
            } else if let Some(re) = regex_of(term)? {
                self.keep.push(re);
            } else {
                let host = self.module_stripped(term)?;
                self.hosts.extend(expand("-w", host)?);
            }
        }
        Ok(())
    }

    /// `term` without its rcmd module (`exec:node1`), which is noted.
    fn module_stripped(&mut self, term: &str) -> Result<String, String> {
        let (module, host) = rcmd_stripped(term)?;
        match module {
            Some(module) if !self.modules.contains(&module) => self.modules.push(module),
            Some(_) => {}
            None => self.bare = true,
        }
        Ok(host)
    }

    /// The rcmd module the hosts named (`exec:node1,exec:node2`): `None`
    /// if they named none.
    ///
    /// # Errors
    ///
    /// Hosts that name different modules, or some a module and some none:
    /// hearth runs one module per run.
    pub fn module(&self) -> Result<Option<&'static str>, String> {
        match self.modules.as_slice() {
            [] => Ok(None),
            [module] if !self.bare => Ok(Some(module)),
            _ => Err(format!(
                "the hosts name rcmd modules ({}) and {}: hearth runs one module per run; \
                 give it with -R",
                self.modules.join(", "),
                if self.bare { "some none" } else { "differ" }
            )),
        }
    }

    /// Adds a `-x` value: hosts and ranges, `^FILE`, `/RE/`, all left out.
    pub fn exclude(&mut self, value: &str) -> Result<(), String> {
        for term in &terms("-x", value)? {
            self.exclude_term(term)?;
        }
        Ok(())
    }

    /// Adds the hosts of a pdsh host file (`^FILE`, `$WCOLL`).
    pub fn file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("{}: cannot read the hosts: {err}", path.display()))?;
        self.listed(&text, &path.display().to_string())
    }

    /// Adds hearth's own hosts (`-S`, `--slf`), taken as they are.
    pub fn extend(&mut self, names: impl IntoIterator<Item = String>) {
        self.hosts.extend(names);
    }

    /// Whether no host has been named yet.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The hosts named, less those left out or dropped by a regular
    /// expression and those a `/RE/` does not match; each compared by its
    /// name without `user@` (and `N/`), as pdsh compares them.
    pub fn selected(self) -> Vec<String> {
        self.hosts
            .into_iter()
            .filter(|host| {
                let name = without_user(bare(host));
                !self.excluded.iter().any(|out| out == name)
                    && self.keep.iter().all(|re| re.is_match(name))
                    && !self.drop.iter().any(|re| re.is_match(name))
            })
            .collect()
    }

    /// A term left out: `^FILE`, `/RE/` or hosts.
    fn exclude_term(&mut self, term: &str) -> Result<(), String> {
        if let Some(file) = term.strip_prefix('^') {
            let mut of_file = Selection::default();
            of_file.file(Path::new(file))?;
            self.excluded.extend(
                of_file
                    .hosts
                    .iter()
                    .map(|h| without_user(bare(h)).to_owned()),
            );
        } else if let Some(re) = regex_of(term)? {
            self.drop.push(re);
        } else {
            let names = expand("-x", rcmd_stripped(term)?.1)?;
            self.excluded
                .extend(names.iter().map(|h| without_user(bare(h)).to_owned()));
        }
        Ok(())
    }

    /// The hosts of a host file's text: several a line, separated by
    /// whitespace or commas, `#` to the end of a line a comment.
    fn listed(&mut self, text: &str, from: &str) -> Result<(), String> {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            for term in &terms("-w", line)? {
                let host = self.module_stripped(term)?;
                let names = expand("-w", host).map_err(|err| format!("{from}: {err}"))?;
                self.hosts.extend(names);
            }
        }
        Ok(())
    }
}

/// The terms of a value of pdsh's `option` (-w, -x): split at
/// whitespace, and at commas outside brackets; empty ones skipped. An
/// error names that option.
fn terms(option: &str, value: &str) -> Result<Vec<String>, String> {
    let mut terms = Vec::new();
    for word in value.split_whitespace() {
        terms.extend(
            hosts::split_outside_brackets(word)
                .map_err(|err| named(option, err))?
                .into_iter()
                .filter(|t| !t.is_empty()),
        );
    }
    Ok(terms)
}

/// `err`, which names `-S` (`hosts::expand` says it), naming pdsh's
/// `option` instead.
fn named(option: &str, err: String) -> String {
    match err.strip_prefix("-S ") {
        Some(rest) => format!("{option} {rest}"),
        None => err,
    }
}

/// `/RE/` as its regular expression; `None` for a term that is not one.
fn regex_of(term: &str) -> Result<Option<Regex>, String> {
    let Some(inner) = term
        .strip_prefix('/')
        .and_then(|t| t.strip_suffix('/'))
        .filter(|_| term.len() >= 2)
    else {
        return Ok(None);
    };
    Regex::new(inner)
        .map(Some)
        .map_err(|err| format!("{term}: not a regular expression: {err}"))
}

/// A host without pdsh's `ssh:` or `exec:` before it (the remote command
/// module, `ssh:user@host`), and that module; another module is an error,
/// as hearth has those two.
fn rcmd_stripped(term: &str) -> Result<(Option<&'static str>, String), String> {
    let Some((module, rest)) = term.split_once(':') else {
        return Ok((None, term.to_owned()));
    };
    let is_module = !module.is_empty()
        && module
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && !rest.is_empty()
        && !rest.bytes().all(|b| b.is_ascii_digit());
    match module {
        "ssh" if is_module => Ok((Some("ssh"), rest.to_owned())),
        "exec" if is_module => Ok((Some("exec"), rest.to_owned())),
        _ if is_module => Err(format!(
            "{term}: pdsh's {module} module; hearth has the ssh and exec modules (ssh:HOST, \
             exec:HOST)"
        )),
        _ => Ok((None, term.to_owned())),
    }
}

/// A host without its `N/` slots.
fn bare(host: &str) -> &str {
    match host.split_once('/') {
        Some((n, rest)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(targets: &[&str], excluded: &[&str]) -> Result<Vec<String>, String> {
        let mut selection = Selection::default();
        for value in targets {
            selection.target(value)?;
        }
        for value in excluded {
            selection.exclude(value)?;
        }
        Ok(selection.selected())
    }

    #[test]
    fn exclusions_compare_names_without_the_user() {
        assert_eq!(
            select(&["root@node[1-3]"], &["node2"]).unwrap(),
            ["root@node1", "root@node3"]
        );
        assert_eq!(
            select(&["node[1-4],-node[2-3]"], &[]).unwrap(),
            ["node1", "node4"]
        );
    }

    #[test]
    fn whitespace_rcmd_prefixes_and_regular_expressions() {
        assert_eq!(
            select(&["node1 node2\tssh:root@node[3-4]"], &[]).unwrap(),
            ["node1", "node2", "root@node3", "root@node4"]
        );
        assert_eq!(
            select(&["node[1-12]", "/^node1[0-9]?$/"], &["/2$/"]).unwrap(),
            ["node1", "node10", "node11"]
        );
        assert_eq!(select(&["node[1-3],-/[13]/"], &[]).unwrap(), ["node2"]);
        // A port is not a module.
        assert_eq!(select(&["node1:2222"], &[]).unwrap(), ["node1:2222"]);
        assert!(
            select(&["rsh:node1"], &[])
                .unwrap_err()
                .contains("hearth has the ssh and exec modules")
        );
        let modules = |values: &[&str]| {
            let mut selection = Selection::default();
            for value in values {
                selection.target(value).unwrap();
            }
            selection.module()
        };
        assert_eq!(modules(&["exec:a,exec:b[1-2]"]), Ok(Some("exec")));
        assert_eq!(modules(&["a,b"]), Ok(None));
        assert!(modules(&["exec:a,b"]).unwrap_err().contains("some none"));
        assert!(modules(&["exec:a,ssh:b"]).unwrap_err().contains("differ"));
        assert!(
            select(&["/(/"], &[])
                .unwrap_err()
                .contains("not a regular expression")
        );
    }

    #[test]
    fn host_files_hold_several_hosts_a_line_and_comments() {
        let dir = std::env::temp_dir().join(format!("hearth-pdsh-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hosts");
        std::fs::write(&file, "node1 node2, node3 # rack 1\n# none\n\nnode[4-5]\n").unwrap();
        let hat = format!("^{}", file.display());
        assert_eq!(
            select(&[&hat], &["node3"]).unwrap(),
            ["node1", "node2", "node4", "node5"]
        );
        assert_eq!(
            select(&[&format!("node[1-6],-{hat}")], &[]).unwrap(),
            ["node6"]
        );
        assert_eq!(select(&["node[1-6]"], &[&hat]).unwrap(), ["node6"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
