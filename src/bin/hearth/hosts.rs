//! The hosts of `-S` and `--sshloginfile`: comma-separated lists
//! (repeatable), with pdsh's host ranges (`node[1-4,7]`,
//! `rack[1-2]-n[01-03]`: every number of each bracket, zero padding kept,
//! the brackets combined), files of one host per line (`#` comments),
//! `N/host` for N slots on that host and `:` for this machine.

use std::path::{Path, PathBuf};

/// A host of the options: its name (`:` for this machine; the rest is
/// for ssh: `host`, `user@host`, `host:port`) and its slots if `N/` gave
/// them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpec {
    pub name: String,
    pub slots: Option<usize>,
}

/// The host of login `name` (`user@host:port`, or an ssh command's last
/// word, see [`own_ssh`]), without its user and port: GNU parallel's
/// `$PARALLEL_SSHHOST`.
pub fn host_part(name: &str) -> &str {
    let name = name.split_whitespace().last().unwrap_or(name);
    let host = name.rsplit_once('@').map_or(name, |(_, host)| host);
    match host.rsplit_once(':') {
        // `[::1]:22`, `host:22`; a bare IPv6 address has more colons.
        Some((before, port))
            if !before.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (before.ends_with(']') || !before.contains(':')) =>
        {
            before
        }
        _ => host,
    }
}

/// The user of login `name` (`user@host`, or an ssh command's last word),
/// if it names one.
pub fn user_part(name: &str) -> Option<&str> {
    let name = name.split_whitespace().last().unwrap_or(name);
    name.rsplit_once('@').map(|(user, _)| user)
}

/// A host given with its own ssh command, as GNU parallel takes them
/// (`-S "ssh -p 2222 -i key me@node1"`): the command's words (in place of
/// `--ssh`) and the login, its last word; `None` for a host name alone.
///
/// # Errors
///
/// An unclosed quote in the command, said with what to do.
pub fn own_ssh(name: &str) -> Result<Option<(Vec<String>, String)>, String> {
    if !name.trim().contains(char::is_whitespace) {
        return Ok(None);
    }
    let mut words = shlex::split(name).ok_or_else(|| {
        format!("host {name:?}: its ssh command has an unclosed quote or a trailing backslash; close the quote")
    })?;
    match words.pop() {
        Some(login) if !words.is_empty() => Ok(Some((words, login))),
        _ => Ok(None),
    }
}

/// The hosts of `-S` values and `--sshloginfile` files, in that order,
/// as GNU parallel reads them: a `-S` part `..` is `~/.parallel/sshloginfile`
/// and `-` the standard input (so are those `--slf` values, and `--slf .`
/// is `/etc/parallel/sshloginfile`); with `merge`, as GNU parallel keys
/// its hosts by name, a host given twice is one host, whose slots a later
/// `N/` sets (pdsh runs it twice). GNU parallel's host groups: `@g1+g2/host`
/// puts the host in groups g1 and g2 (and, as every host, in the group of
/// its own name), and `@g1` alone keeps only the hosts of group g1.
pub fn specs(values: &[String], files: &[PathBuf], merge: bool) -> Result<Vec<HostSpec>, String> {
    // Each name, and the file it came from (its errors name it).
    let mut names: Vec<(String, Option<PathBuf>)> = Vec::new();
    let from = |file: &Path| -> Result<Vec<(String, Option<PathBuf>)>, String> {
        let origin = login_file(file);
        Ok(read_file(file)?
            .into_iter()
            .map(|name| (name, Some(origin.clone())))
            .collect())
    };
    for name in expand(values)? {
        match name.as_str() {
            "-" | ".." => names.extend(from(Path::new(&name))?),
            _ => names.push((name, None)),
        }
    }
    for file in files {
        names.extend(from(file)?);
    }
    let mut specs: Vec<HostSpec> = Vec::with_capacity(names.len());
    // Each host's groups, by its place in `specs`; the groups kept.
    let mut groups: Vec<Vec<String>> = Vec::with_capacity(names.len());
    let mut kept: Vec<String> = Vec::new();
    for (name, origin) in &names {
        let in_file = |err: String| match origin {
            Some(file) => format!("--sshloginfile {}: {err}", file.display()),
            None => err,
        };
        let (in_groups, name) = match host_groups(name).map_err(in_file)? {
            (in_groups, None) => {
                kept.extend(in_groups);
                continue;
            }
            (in_groups, Some(host)) => (in_groups, host),
        };
        let new = spec(name).map_err(in_file)?;
        match specs.iter().position(|seen| merge && seen.name == new.name) {
            Some(at) => {
                specs[at].slots = new.slots.or(specs[at].slots);
                groups[at].extend(in_groups);
            }
            None => {
                groups.push(in_groups);
                specs.push(new);
            }
        }
    }
    if kept.is_empty() {
        return Ok(specs);
    }
    let chosen: Vec<HostSpec> = specs
        .into_iter()
        .zip(groups)
        .filter(|(spec, groups)| {
            kept.iter()
                .any(|group| *group == spec.name || groups.contains(group))
        })
        .map(|(spec, _)| spec)
        .collect();
    if chosen.is_empty() {
        return Err(format!(
            "-S @{}: no host is in that group; put hosts in it as -S @{}/HOST",
            kept.join("+"),
            kept[0]
        ));
    }
    Ok(chosen)
}

/// GNU parallel's host groups of a `-S` part: `@g1+g2/rest` is the groups
/// and the rest (a host, or `N/host`), `@g1+g2` alone the groups to keep
/// and no host; a part without `@` is no group and itself.
fn host_groups(part: &str) -> Result<(Vec<String>, Option<&str>), String> {
    let Some(after) = part.trim().strip_prefix('@') else {
        return Ok((Vec::new(), Some(part)));
    };
    let (list, rest) = match after.split_once('/') {
        Some((list, rest)) => (list, Some(rest)),
        None => (after, None),
    };
    let groups: Vec<String> = list.split('+').map(str::to_owned).collect();
    if groups.iter().any(String::is_empty) || rest.is_some_and(|r| r.trim().is_empty()) {
        return Err(format!(
            "host {part:?}: write host groups as @group/host, @g1+g2/host, or @group alone \
             to keep that group's hosts"
        ));
    }
    Ok((groups, rest))
}

/// The hosts of a login file: one per line (ranges and lists allowed),
/// blank lines and `#` comments skipped; `-` is the standard input, read
/// once (the pool's set-up asks twice).
fn read_file(path: &Path) -> Result<Vec<String>, String> {
    let path = &login_file(path);
    let text = if path == Path::new("-") {
        static STDIN: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
        STDIN
            .get_or_init(|| {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|err| format!("--sshloginfile - (the standard input): {err}"))
            })
            .clone()?
    } else {
        std::fs::read_to_string(path)
            .map_err(|err| format!("--sshloginfile {}: {err}", path.display()))?
    };
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    expand(&lines).map_err(|err| format!("--sshloginfile {}: {err}", path.display()))
}

/// Where the login file `path` is, as GNU parallel finds it: `..` is
/// `~/.parallel/sshloginfile`, `.` is `/etc/parallel/sshloginfile`, and a
/// bare name that is no file here is looked for in `~/.parallel`.
fn login_file(path: &Path) -> std::path::PathBuf {
    let home = || std::env::var_os("HOME").map(|home| Path::new(&home).join(".parallel"));
    if path == Path::new("..") {
        if let Some(dir) = home() {
            return dir.join("sshloginfile");
        }
    } else if path == Path::new(".") {
        return PathBuf::from("/etc/parallel/sshloginfile");
    } else if path != Path::new("-")
        && !path.exists()
        && path.components().count() == 1
        && let Some(in_home) = home().map(|dir| dir.join(path))
        && in_home.exists()
    {
        return in_home;
    }
    path.to_path_buf()
}

/// `N/host` as host with N slots; `host` as it is.
pub fn spec(name: &str) -> Result<HostSpec, String> {
    let name = name.trim();
    let Some((count, host)) = name
        .split_once('/')
        .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Ok(HostSpec {
            name: name.to_owned(),
            slots: None,
        });
    };
    match count.parse::<usize>() {
        Ok(n) if (1..=crate::pool_setup::MAX_SLOTS).contains(&n) && !host.is_empty() => {
            Ok(HostSpec {
                name: host.to_owned(),
                slots: Some(n),
            })
        }
        _ if host.is_empty() => Err(format!(
            "host {name:?}: no host after {count}/; write N/host, e.g. 4/node1"
        )),
        _ => Err(format!(
            "host {name:?}: {count} slots: give 1 to {} slots as N/host, e.g. 4/node1",
            crate::pool_setup::MAX_SLOTS
        )),
    }
}

/// Most hosts one range may name: a typo such as `node[1-1000000]` is an
/// error, not a million ssh logins.
const MAX_EXPANDED: usize = 100_000;

/// The hosts of the `-S` values, in order: each value split at the commas
/// outside brackets, each part's ranges expanded.
pub fn expand(values: &[String]) -> Result<Vec<String>, String> {
    let mut hosts = Vec::new();
    // Lines are lists too (`-S "$(cat hosts)"`), as GNU parallel reads them.
    let lines = values.iter().flat_map(|value| {
        if value.contains('\n') {
            value.lines().filter(|l| !l.trim().is_empty()).collect()
        } else {
            vec![value.as_str()]
        }
    });
    for value in lines {
        for part in split_outside_brackets(value)? {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "-S {value:?} has an empty host name: give hosts separated by single commas, \
                     e.g. -S node1,node2"
                ));
            }
            // A host with its own ssh command: ranges in its login only.
            match part.rsplit_once(char::is_whitespace) {
                Some((ssh, login)) => hosts.extend(
                    expand_ranges(login)?
                        .into_iter()
                        .map(|login| format!("{ssh} {login}")),
                ),
                None => hosts.extend(expand_ranges(part)?),
            }
            if hosts.len() > MAX_EXPANDED {
                return Err(format!(
                    "-S {value:?} names more than {MAX_EXPANDED} hosts; check its ranges"
                ));
            }
        }
    }
    Ok(hosts)
}

/// `a,b[1,2],c` as `a`, `b[1,2]`, `c`; `,,` and `\,` are a comma
/// of the part, as GNU parallel reads them (`ssh -J gate1,,gate2 node1`).
pub fn split_outside_brackets(value: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut depth = 0usize;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' if depth == 0 => depth = 1,
            '[' => return Err(format!("-S {value:?}: a bracket inside a bracket")),
            ']' if depth == 1 => depth = 0,
            ']' => return Err(format!("-S {value:?}: a ] without its [")),
            ',' | '\\' if depth == 0 && chars.peek() == Some(&',') => {
                let _ = chars.next();
                part.push(',');
                continue;
            }
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut part));
                continue;
            }
            _ => {}
        }
        part.push(c);
    }
    if depth != 0 {
        return Err(format!(
            "-S {value:?}: a [ without its ]: a range is written node[1-4,7]"
        ));
    }
    parts.push(part);
    Ok(parts)
}

/// Every host a name with ranges stands for, in order: `n[1-2]x[a]` is
/// not a range (`a` is no number) and an error; `[::1]:22`, an IPv6
/// address in brackets, is taken as it is.
fn expand_ranges(name: &str) -> Result<Vec<String>, String> {
    // The first bracket that is no IPv6 address (`root@[::1]:22`).
    let mut from = 0;
    let open = loop {
        let Some(open) = name[from..].find('[').map(|at| from + at) else {
            return Ok(vec![name.to_owned()]);
        };
        match name[open..].find(']') {
            Some(len) if name[open..open + len].contains(':') => from = open + len,
            _ => break open,
        }
    };
    let close = open
        + name[open..]
            .find(']')
            .ok_or_else(|| format!("{name:?}: a [ without its ]"))?;
    let (prefix, inside, rest) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    let numbers = range_numbers(name, inside)?;
    let tails = expand_ranges(rest)?;
    let mut hosts = Vec::with_capacity(numbers.len() * tails.len());
    for number in &numbers {
        for tail in &tails {
            hosts.push(format!("{prefix}{number}{tail}"));
            if hosts.len() > MAX_EXPANDED {
                return Err(format!(
                    "{name:?} names more than {MAX_EXPANDED} hosts; check its ranges"
                ));
            }
        }
    }
    Ok(hosts)
}

/// The numbers of a bracket, `1-4,7` or `01-10`, as text (a range whose
/// first number has leading zeros pads them all to its width).
fn range_numbers(name: &str, inside: &str) -> Result<Vec<String>, String> {
    let bad = || {
        format!(
            "{name:?}: [{inside}] is not a host range; write numbers and ranges, e.g. \
             node[1-4,7] or node[01-16]"
        )
    };
    let mut numbers = Vec::new();
    for piece in inside.split(',') {
        let piece = piece.trim();
        let (low, high) = piece.split_once('-').unwrap_or((piece, piece));
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(low) || !digits(high) {
            return Err(bad());
        }
        let (from, to): (u64, u64) = (
            low.parse().map_err(|_| bad())?,
            high.parse().map_err(|_| bad())?,
        );
        if from > to {
            return Err(format!(
                "{name:?}: the range {piece} runs backwards; write it low-high"
            ));
        }
        if to - from > MAX_EXPANDED as u64 {
            return Err(format!(
                "{name:?} names more than {MAX_EXPANDED} hosts; check its ranges"
            ));
        }
        let width = if low.len() > 1 && low.starts_with('0') {
            low.len()
        } else {
            0
        };
        numbers.extend((from..=to).map(|n| format!("{n:0width$}")));
    }
    Ok(numbers)
}

#[cfg(test)]
mod tests {
    use super::{HostSpec, expand, host_part, own_ssh, spec, specs};

    #[test]
    fn the_host_of_a_login() {
        assert_eq!(host_part("me@node1:2222"), "node1");
        assert_eq!(host_part("node1"), "node1");
        assert_eq!(host_part(":"), ":");
        assert_eq!(host_part("[::1]:22"), "[::1]");
        assert_eq!(host_part("fe80::1"), "fe80::1");
        assert_eq!(host_part("ssh -p 2222 me@node1"), "node1");
    }

    #[test]
    fn a_host_with_its_own_ssh_command() {
        let words = |w: &[&str]| w.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(own_ssh("node1"), Ok(None));
        assert_eq!(own_ssh(" node1 "), Ok(None));
        assert_eq!(
            own_ssh("ssh -p 2222 -o 'ProxyJump gate' me@node1"),
            Ok(Some((
                words(&["ssh", "-p", "2222", "-o", "ProxyJump gate"]),
                "me@node1".to_owned()
            )))
        );
        assert!(
            own_ssh("ssh -o 'x node1")
                .unwrap_err()
                .contains("unclosed quote")
        );
        assert_eq!(
            spec("2/ssh -p 2222 node1"),
            Ok(HostSpec {
                name: "ssh -p 2222 node1".to_owned(),
                slots: Some(2)
            })
        );
    }

    #[test]
    fn slots_before_a_host() {
        let with = |name: &str, slots| HostSpec {
            name: name.to_owned(),
            slots,
        };
        assert_eq!(spec("4/me@node1:22"), Ok(with("me@node1:22", Some(4))));
        assert_eq!(spec("node1"), Ok(with("node1", None)));
        assert_eq!(spec(":"), Ok(with(":", None)));
        assert_eq!(spec("1/:"), Ok(with(":", Some(1))));
        assert!(
            spec("0/node1")
                .unwrap_err()
                .contains("give 1 to 1024 slots")
        );
        assert!(spec("4/").unwrap_err().contains("no host after 4/"));
    }

    fn hosts(values: &[&str]) -> Result<Vec<String>, String> {
        expand(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn lists_and_pdsh_ranges() {
        assert_eq!(
            hosts(&["a,b", "c"]).unwrap(),
            ["a", "b", "c"].map(String::from)
        );
        assert_eq!(
            hosts(&["node[1-4,7],x"]).unwrap(),
            ["node1", "node2", "node3", "node4", "node7", "x"].map(String::from)
        );
        assert_eq!(
            hosts(&["n[08-10]"]).unwrap(),
            ["n08", "n09", "n10"].map(String::from)
        );
        assert_eq!(
            hosts(&["r[1-2]-n[1-2].lan"]).unwrap(),
            ["r1-n1.lan", "r1-n2.lan", "r2-n1.lan", "r2-n2.lan"].map(String::from)
        );
        assert_eq!(hosts(&[":"]).unwrap(), [":"]);
        assert_eq!(hosts(&["[::1]:22"]).unwrap(), ["[::1]:22"]);
        assert_eq!(
            hosts(&["2/user@node[1-2]:2222"]).unwrap(),
            ["2/user@node1:2222", "2/user@node2:2222"].map(String::from)
        );
    }

    #[test]
    fn host_groups_place_and_keep_hosts() {
        let names = |values: &[&str]| -> Result<Vec<String>, String> {
            let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            specs(&values, &[], true).map(|specs| specs.into_iter().map(|s| s.name).collect())
        };
        let all = ["@g1/node1", "@g1+g2/2/node2", "node3"];
        assert_eq!(names(&all).unwrap(), ["node1", "node2", "node3"]);
        let kept = |group: &'static str| {
            let mut values = all.to_vec();
            values.push(group);
            names(&values)
        };
        assert_eq!(kept("@g2").unwrap(), ["node2"]);
        assert_eq!(kept("@g1").unwrap(), ["node1", "node2"]);
        assert_eq!(kept("@node3+g2").unwrap(), ["node2", "node3"]);
        assert!(
            kept("@g9")
                .unwrap_err()
                .contains("no host is in that group")
        );
        assert!(
            names(&["@/node1"])
                .unwrap_err()
                .contains("write host groups")
        );
        assert!(names(&["@g1/"]).unwrap_err().contains("write host groups"));
    }

    #[test]
    fn doubled_and_escaped_commas_stay_in_the_host() {
        assert_eq!(
            hosts(&["ssh -J a,,b node1,node2"]).unwrap(),
            ["ssh -J a,b node1", "node2"].map(String::from)
        );
        assert_eq!(
            hosts(&["ssh -J a\\,b node1"]).unwrap(),
            ["ssh -J a,b node1"]
        );
    }

    #[test]
    fn ranges_only_in_a_login_and_never_an_ipv6_address() {
        assert_eq!(
            hosts(&["ssh -o SetEnv=A=[1-2] n[1-2]"]).unwrap(),
            ["ssh -o SetEnv=A=[1-2] n1", "ssh -o SetEnv=A=[1-2] n2"]
        );
        assert_eq!(hosts(&["root@[::1]:22"]).unwrap(), ["root@[::1]:22"]);
        assert_eq!(
            hosts(&["ssh -p 22 me@[fe80::1]"]).unwrap(),
            ["ssh -p 22 me@[fe80::1]"]
        );
        assert_eq!(hosts(&["[::1]-n[1-2]"]).unwrap(), ["[::1]-n1", "[::1]-n2"]);
    }

    #[test]
    fn lines_of_hosts_are_lists_too() {
        assert_eq!(
            hosts(&["node1\nnode2,node3\n"]).unwrap(),
            ["node1", "node2", "node3"].map(String::from)
        );
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        for (bad, says) in [
            ("node[1-4", "a [ without its ]"),
            ("node1-4]", "a ] without its ["),
            ("node[a-c]", "is not a host range"),
            ("node[4-1]", "runs backwards"),
            ("node[1-9999999]", "more than 100000 hosts"),
            ("a,", "empty host name"),
            ("", "empty host name"),
            ("node[[1]]", "a bracket inside a bracket"),
        ] {
            let err = hosts(&[bad]).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
