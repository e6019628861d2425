//! The name of an ssh host as users write it: `host`, `user@host`,
//! `host:port`, `user@host:port`, and IPv6 addresses in brackets
//! (`[::1]:2222`). ssh itself takes `user@host` but not `host:port`: the
//! ssh transport passes the port with `-p`. A name that ssh would misread
//! (`user@` with no host, an empty user, a bad port, a name that starts
//! with `-` and would be an option, spaces) is refused when the pool is
//! built, before any slot starts.

use std::fmt;

/// An ssh login: who, where, which port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Login<'a> {
    /// `user@`, if given.
    pub(crate) user: Option<&'a str>,
    /// The host name or address (without brackets).
    pub(crate) host: &'a str,
    /// `:port`, if given.
    pub(crate) port: Option<u16>,
}

/// Why a host name is not a login ssh can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BadLogin(String);

impl fmt::Display for BadLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Login<'_> {
    /// The destination word for ssh: `user@host` or `host`.
    pub(crate) fn destination(&self) -> String {
        match self.user {
            Some(user) => format!("{user}@{}", self.host),
            None => self.host.to_owned(),
        }
    }
}

/// Reads `name` as an ssh login.
pub(crate) fn parse(name: &str) -> Result<Login<'_>, BadLogin> {
    let bad = |why: &str| BadLogin(format!("{why}; write host, user@host or user@host:port"));
    if name.is_empty() {
        return Err(bad("the host name is empty"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("a host name has no spaces"));
    }
    let (user, rest) = match name.rsplit_once('@') {
        Some(("", _)) => return Err(bad("no user before the @")),
        Some((_, "")) => return Err(bad("no host after the @")),
        Some((user, rest)) => (Some(user), rest),
        None => (None, name),
    };
    let (host, port) = if let Some(inside) = rest.strip_prefix('[') {
        // [v6] or [v6]:port
        let (address, after) = inside
            .split_once(']')
            .ok_or_else(|| bad("a [ without its ]"))?;
        match after {
            "" => (address, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => return Err(bad("only :port may follow an address in brackets")),
            },
        }
    } else if rest.matches(':').count() == 1 {
        let (host, port) = rest.split_once(':').unwrap_or((rest, ""));
        (host, Some(port))
    } else {
        // No colon, or an IPv6 address without brackets (no port).
        (rest, None)
    };
    if host.is_empty() {
        return Err(bad("no host name"));
    }
    if user.is_some_and(|u| u.contains(':')) {
        // GNU parallel's `user:password@host`: ssh would take the password
        // as part of the user name, and show it in logs and tags.
        return Err(BadLogin(
            "a password in a login (user:password@host) is not taken: ssh logs in with keys \
             here; use a key (or an ssh agent) and write user@host"
                .to_owned(),
        ));
    }
    if host.starts_with('-') || user.is_some_and(|u| u.starts_with('-')) {
        return Err(bad(
            "a host or user may not start with - (ssh would read an option)",
        ));
    }
    let port = match port {
        None => None,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => return Err(bad(&format!("{text:?} is not a port (1 to 65535)"))),
        },
    };
    Ok(Login { user, host, port })
}

#[cfg(test)]
mod tests {
    use super::{Login, parse};

    #[test]
    fn spellings_of_a_login() {
        let login = |user, host, port| Login { user, host, port };
        assert_eq!(parse("node1"), Ok(login(None, "node1", None)));
        assert_eq!(parse("me@node1"), Ok(login(Some("me"), "node1", None)));
        assert_eq!(parse("node1:2222"), Ok(login(None, "node1", Some(2222))));
        assert_eq!(
            parse("me@10.0.0.1:22"),
            Ok(login(Some("me"), "10.0.0.1", Some(22)))
        );
        assert_eq!(parse("[::1]:2222"), Ok(login(None, "::1", Some(2222))));
        assert_eq!(
            parse("me@[fe80::1]"),
            Ok(login(Some("me"), "fe80::1", None))
        );
        assert_eq!(parse("fe80::1"), Ok(login(None, "fe80::1", None)));
        assert_eq!(parse("a@b@host"), Ok(login(Some("a@b"), "host", None)));
        assert_eq!(parse("me@node1").unwrap().destination(), "me@node1");
    }

    #[test]
    fn malformed_logins_say_why() {
        for (bad, says) in [
            ("user@", "no host after the @"),
            ("@node1", "no user before the @"),
            ("node1:", "\"\" is not a port"),
            ("node1:http", "\"http\" is not a port"),
            ("node1:0", "\"0\" is not a port"),
            ("node1:70000", "is not a port"),
            ("-oProxyCommand=x", "may not start with -"),
            ("a b", "no spaces"),
            ("[::1", "a [ without its ]"),
            ("[::1]x", "only :port may follow"),
            (":22", "no host name"),
            ("", "empty"),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(
                err.ends_with("write host, user@host or user@host:port"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_password_in_a_login_is_refused() {
        let err = parse("root:secret@node1").unwrap_err().to_string();
        assert!(err.contains("a password in a login"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }
}
