//! The TCP connection of an ssh master, made by hearth with Nagle's
//! algorithm off from its first byte, and handed to ssh.
//!
//! OpenSSH turns `TCP_NODELAY` on only when a session starts. Until then
//! its login writes some messages back to back (its key exchange's first
//! message behind `KEXINIT`, the service request behind `NEWKEYS`), and
//! Nagle's algorithm holds the second until the server acknowledges the
//! first, which the server's kernel delays by about 40 ms: two such waits
//! per login (sshd's own Nagle holds a third, which only sshd can
//! change). Measured on
//! loopback, a login takes 120-140 ms with them and 80-100 ms without.
//!
//! So a host's master is started with `ProxyCommand` set to this very
//! program as the *connector* (`BIN --hearth-ssh-connect %h %p`) and
//! `ProxyUseFdpass yes`: the connector resolves the host, connects to each
//! address within ssh's `ConnectTimeout` (the pool's connect timeout
//! unless the user's ssh command sets one), turns `TCP_NODELAY` on (and `SO_KEEPALIVE`
//! as ssh's `TCPKeepAlive` says), passes the socket to ssh over its
//! standard output and exits. ssh then speaks on that socket itself, as
//! on one it made; no process stays in between.
//!
//! The connector runs before `main` (a function in `.init_array`), so
//! every program that builds a pool is its own connector, whatever its
//! `main` does (hearth in a library loaded with `dlopen` is not: its
//! connector then fails to run, and ssh connects by itself). It acts only when its first argument is
//! `--hearth-ssh-connect` *and* the environment has
//! `HEARTH_SSH_CONNECT` (set by the pool on the master's ssh only, with
//! the connect timeout and the address family); any other start costs
//! one `getenv`.
//!
//! The pool uses it only where ssh would connect the same way itself:
//! `ssh -G HOST` (the user's ssh command and configuration) shows no
//! `ProxyCommand`, `ProxyJump`, `BindAddress` or `BindInterface`,
//! `ConnectionAttempts 1` and no `CanonicalizeHostname yes` (ssh does
//! not canonicalize through a proxy command), and the user's ssh command
//! does not set `ProxyUseFdpass` (its value would win over hearth's);
//! `AddressFamily`, `TCPKeepAlive` and `ConnectTimeout` are followed. Anything else (another ssh, a configuration `ssh -G` cannot
//! read) keeps ssh's own connection. A connector that cannot connect says
//! so in ssh's own words (`ssh: connect to host H port P: Connection
//! refused`, `ssh: Could not resolve hostname H: ...`), which
//! `failure.rs` reads as it reads ssh's.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use crate::remote::transport::shell_quote;

/// The connector's first argument.
const FLAG: &str = "--hearth-ssh-connect";

/// The environment variable that lets the connector act, with its
/// settings: `TIMEOUT_MS FAMILY KEEPALIVE PATH`, where PATH is the file
/// that gets its error (ssh sends a master's proxy command's stderr to
/// `/dev/null`).
const ENV: &str = "HEARTH_SSH_CONNECT";

/// Which addresses of the host ssh would try (`AddressFamily`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Any,
    Inet,
    Inet6,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Any => "any",
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
        }
    }

    fn parse(name: &str) -> Option<Family> {
        match name {
            "any" => Some(Family::Any),
            "inet" => Some(Family::Inet),
            "inet6" => Some(Family::Inet6),
            _ => None,
        }
    }

    fn admits(self, addr: &SocketAddr) -> bool {
        match self {
            Family::Any => true,
            Family::Inet => addr.is_ipv4(),
            Family::Inet6 => addr.is_ipv6(),
        }
    }
}

/// How the connector connects for one host, from `ssh -G`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    family: Family,
    keepalive: bool,
    /// ssh's `ConnectTimeout`, when set (the user's own, or the pool's).
    timeout: Option<Duration>,
}

/// What `ssh -G` printed for a host, read: `None` where the connector
/// would connect otherwise than ssh (a proxy, a bound source address,
/// several attempts) or where the text is not OpenSSH's.
pub(crate) fn plan(config: &str) -> Option<Plan> {
    let mut named = false;
    let mut plan = Plan {
        family: Family::Any,
        keepalive: true,
        timeout: None,
    };
    for line in config.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        let value = value.trim();
        match key.to_ascii_lowercase().as_str() {
            "hostname" => named = !value.is_empty(),
            "proxycommand" | "proxyjump" | "bindaddress" | "bindinterface" if value != "none" => {
                return None;
            }
            "connectionattempts" if value != "1" => return None,
            // ssh does not canonicalize a host reached through a proxy
            // command (unless `always`): the name, and the `Host` blocks
            // it matches, would change.
            "canonicalizehostname" if value == "true" || value == "yes" => return None,
            "connecttimeout" => plan.timeout = value.parse().ok().map(Duration::from_secs),
            "addressfamily" => plan.family = Family::parse(value)?,
            "tcpkeepalive" => plan.keepalive = value == "yes",
            _ => {}
        }
    }
    named.then_some(plan)
}

/// The options and environment that make a master's ssh take its
/// connection from this program, connecting within `timeout` and writing
/// what went wrong to `said`; `None` if `said` is no UTF-8 path.
pub(crate) fn master_options(
    plan: Plan,
    timeout: Duration,
    said: &Path,
) -> Option<(Vec<String>, String)> {
    // The hook must be in the program that names itself as connector: a
    // use of it keeps the linker from leaving it out.
    let _ = std::hint::black_box(&raw const BEFORE_MAIN);
    // This process's own program, even when its file was removed or
    // replaced since it started.
    let exe = format!("/proc/{}/exe", std::process::id());
    let command = format!("{} {FLAG} %h %p", shell_quote(&exe).replace('%', "%%"));
    let options = vec![
        "-o".to_owned(),
        format!("ProxyCommand={command}"),
        "-o".to_owned(),
        "ProxyUseFdpass=yes".to_owned(),
    ];
    let settings = format!(
        "{} {} {} {}",
        plan.timeout.unwrap_or(timeout).as_millis().max(1),
        plan.family.name(),
        if plan.keepalive { "yes" } else { "no" },
        said.to_str()?,
    );
    Some((options, settings))
}

/// The environment variable `master_options`' settings go in.
pub(crate) const fn env_name() -> &'static str {
    ENV
}

/// Runs before `main` in every program linked with hearth: the
/// connector, when it is one (see the module's header).
#[used]
#[unsafe(link_section = ".init_array")]
static BEFORE_MAIN: extern "C" fn() = before_main;

extern "C" fn before_main() {
    let Some(settings) = std::env::var_os(ENV) else {
        return;
    };
    // `.init_array` functions do not get the command line on every C
    // library (glibc passes it, musl does not): the kernel's copy.
    let Ok(cmdline) = std::fs::read("/proc/self/cmdline") else {
        return;
    };
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    if args.get(1).copied() != Some(FLAG.as_bytes()) {
        return;
    }
    let settings = settings.to_string_lossy();
    let code = match run(&settings, &args[2..]) {
        Ok(()) => 0,
        Err(said) => {
            // First the file: ssh sends a master's proxy's stderr to
            // /dev/null, and the pool reads the file.
            if let Some(path) = settings.splitn(4, ' ').nth(3) {
                let _ = std::fs::write(path, format!("{said}\n"));
            }
            eprintln!("{said}");
            255
        }
    };
    std::process::exit(code);
}

/// The connector: connects to the host and port in `args` and passes the
/// socket to ssh on standard output.
fn run(settings: &str, args: &[&[u8]]) -> Result<(), String> {
    let mut words = settings.splitn(4, ' ');
    let parsed = (
        words.next().and_then(|ms| ms.parse::<u64>().ok()),
        words.next().and_then(Family::parse),
        words.next().map(|keepalive| keepalive == "yes"),
    );
    let (Some(ms), Some(family), Some(keepalive)) = parsed else {
        return Err(format!("{FLAG}: bad {ENV} {settings:?}"));
    };
    let [host, port, ..] = args else {
        return Err(format!("usage: {FLAG} HOST PORT"));
    };
    let host = String::from_utf8_lossy(host);
    let port: u16 = String::from_utf8_lossy(port)
        .parse()
        .map_err(|_| format!("ssh: bad port for host {host}"))?;
    let plan = Plan {
        family,
        keepalive,
        timeout: None,
    };
    let stream = connect(&host, port, plan, Duration::from_millis(ms))?;
    crate::sys::send_fd(io::stdout().as_raw_fd(), stream.as_raw_fd())
        .map_err(|err| format!("{FLAG}: passing the connection to ssh: {err}"))
}

/// Connects to `host`'s addresses in turn, as ssh does, each within
/// `timeout`; the error in ssh's words.
fn connect(host: &str, port: u16, plan: Plan, timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|err| {
            let said = err.to_string();
            let said = said
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&said);
            format!("ssh: Could not resolve hostname {host}: {said}")
        })?
        .filter(|addr| plan.family.admits(addr))
        .collect();
    let mut last = format!(
        "ssh: Could not resolve hostname {host}: Address family for hostname not supported"
    );
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream
                    .set_nodelay(true)
                    .map_err(|err| format!("ssh: setting TCP_NODELAY: {err}"))?;
                if plan.keepalive {
                    crate::sys::set_keepalive(stream.as_raw_fd())
                        .map_err(|err| format!("ssh: setting SO_KEEPALIVE: {err}"))?;
                }
                return Ok(stream);
            }
            Err(err) => last = format!("ssh: connect to host {host} port {port}: {}", words(&err)),
        }
    }
    Err(last)
}

/// An error as ssh words it: the C library's text, without std's
/// `(os error N)`.
fn words(err: &io::Error) -> String {
    if err.kind() == io::ErrorKind::TimedOut {
        return "Connection timed out".to_owned();
    }
    let said = err.to_string();
    match said.find(" (os error ") {
        Some(at) => said[..at].to_owned(),
        None => said,
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use super::{Family, Plan, connect, plan};

    /// A socket bound to a loopback port that does not listen: connecting
    /// to the port is refused, and no other socket can take it meanwhile.
    fn bound_not_listening() -> (std::os::fd::OwnedFd, u16) {
        use std::os::fd::FromRawFd;
        // SAFETY: plain system calls; the address is a live `sockaddr_in`
        // of the length given, and the new descriptor is owned at once.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0);
            let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::sa_family_t::try_from(libc::AF_INET).unwrap();
            addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = libc::socklen_t::try_from(size_of::<libc::sockaddr_in>()).unwrap();
            assert_eq!(libc::bind(fd, (&raw const addr).cast(), len), 0);
            let mut len = len;
            assert_eq!(
                libc::getsockname(fd, (&raw mut addr).cast(), &raw mut len),
                0
            );
            (owned, u16::from_be(addr.sin_port))
        }
    }

    /// A plan with no `ConnectTimeout` of ssh's.
    fn plain(family: Family, keepalive: bool) -> Plan {
        Plan {
            family,
            keepalive,
            timeout: None,
        }
    }

    const PLAIN: &str = "user me\nhostname 127.0.0.1\nport 2222\naddressfamily any\n\
                         connectionattempts 1\ntcpkeepalive yes\nproxyusefdpass no\n";

    #[test]
    fn a_plain_host_is_connected_by_the_connector() {
        assert_eq!(plan(PLAIN), Some(plain(Family::Any, true)));
        let inet = PLAIN.replace("family any", "family inet") + "tcpkeepalive no\n";
        assert_eq!(plan(&inet), Some(plain(Family::Inet, false)));
        assert!(plan(&format!("{PLAIN}proxycommand none\n")).is_some());
        let timeout = plan(&format!("{PLAIN}connecttimeout 7\n")).unwrap();
        assert_eq!(timeout.timeout, Some(Duration::from_secs(7)));
        let always = format!("{PLAIN}canonicalizehostname always\n");
        assert!(
            plan(&always).is_some(),
            "ssh canonicalizes through a proxy too"
        );
    }

    /// Where ssh would connect otherwise, ssh connects.
    #[test]
    fn proxies_bound_addresses_and_retries_stay_with_ssh() {
        for extra in [
            "proxycommand nc %h %p",
            "proxyjump gateway",
            "bindaddress 10.0.0.1",
            "bindinterface eth1",
            "canonicalizehostname true",
        ] {
            assert_eq!(plan(&format!("{PLAIN}{extra}\n")), None, "{extra}");
        }
        assert_eq!(plan(&PLAIN.replace("attempts 1", "attempts 3")), None);
        assert_eq!(plan(&PLAIN.replace("family any", "family ipx")), None);
        assert_eq!(plan("usage: ssh [-46AaCf...]\n"), None, "not OpenSSH's -G");
    }

    #[test]
    fn the_connection_has_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let plan = plain(Family::Any, true);
        let stream = connect("127.0.0.1", port, plan, Duration::from_secs(30)).unwrap();
        assert!(stream.nodelay().unwrap());
    }

    /// A refused connection and an unknown family are said in ssh's words,
    /// which `failure.rs` reads.
    #[test]
    fn failures_are_said_as_ssh_says_them() {
        let (_bound, port) = bound_not_listening();
        let plan = plain(Family::Any, false);
        let said = connect("127.0.0.1", port, plan, Duration::from_secs(30)).unwrap_err();
        assert_eq!(
            said,
            format!("ssh: connect to host 127.0.0.1 port {port}: Connection refused")
        );
        let inet6 = plain(Family::Inet6, false);
        let said = connect("127.0.0.1", port, inet6, Duration::from_secs(30)).unwrap_err();
        assert!(
            said.starts_with("ssh: Could not resolve hostname 127.0.0.1"),
            "{said}"
        );
    }
}
