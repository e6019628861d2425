//! The notification protocol of systemd (`sd_notify`): newline-separated
//! `KEY=VALUE` assignments in one datagram, sent to the Unix datagram
//! socket named by `NOTIFY_SOCKET` (a path, or `@name` for an abstract
//! address). Used by the coordinator (`READY=1`, `STOPPING=1`,
//! `WATCHDOG=1`) and by applications ([`notify`], [`status`]).

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::time::Duration;

/// The environment variable naming the service manager's socket.
pub(crate) const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// How long a notification may wait for room in the service manager's
/// queue before it is given up (the coordinator sends them).
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// A socket to send notifications to the service manager with.
#[derive(Debug)]
pub(crate) struct Notifier {
    /// The value of `NOTIFY_SOCKET`, for messages.
    shown: String,
    addr: SocketAddr,
    socket: UnixDatagram,
}

impl Notifier {
    /// The notifier of `NOTIFY_SOCKET`; `None` when it is unset (not run
    /// by a service manager that wants notifications).
    ///
    /// # Errors
    ///
    /// If the variable names no address hearth can send to, or the socket
    /// cannot be made.
    pub(crate) fn from_env() -> io::Result<Option<Notifier>> {
        match std::env::var_os(NOTIFY_SOCKET) {
            None => Ok(None),
            Some(value) => Notifier::to(&value).map(Some),
        }
    }

    /// A notifier for the `NOTIFY_SOCKET` value `value`.
    pub(crate) fn to(value: &OsStr) -> io::Result<Notifier> {
        let addr = parse_addr(value)?;
        let socket = UnixDatagram::unbound()?;
        socket.set_write_timeout(Some(SEND_TIMEOUT))?;
        Ok(Notifier {
            shown: value.to_string_lossy().into_owned(),
            addr,
            socket,
        })
    }

    /// Sends `state` (assignments such as `READY=1`) in one datagram,
    /// waiting at most a second for room in the receiver's queue.
    pub(crate) fn send(&self, state: &str) -> io::Result<()> {
        self.send_datagram(state)
    }

    /// Sends `state` if the receiver's queue has room now, for messages
    /// that are worth no wait (a watchdog ping: another follows).
    pub(crate) fn try_send(&self, state: &str) -> io::Result<()> {
        self.socket.set_nonblocking(true)?;
        let sent = self.send_datagram(state);
        self.socket.set_nonblocking(false)?;
        sent
    }

    fn send_datagram(&self, state: &str) -> io::Result<()> {
        let sent = self
            .socket
            .send_to_addr(state.as_bytes(), &self.addr)
            .map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!("notify the service manager at {}: {err}", self.shown),
                )
            })?;
        if sent != state.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!(
                    "notify the service manager at {}: sent {sent} of {} bytes",
                    self.shown,
                    state.len()
                ),
            ));
        }
        Ok(())
    }
}

/// The address `NOTIFY_SOCKET` names: an absolute path, or `@name` for an
/// abstract address.
fn parse_addr(value: &OsStr) -> io::Result<SocketAddr> {
    let bytes = value.as_bytes();
    let shown = value.to_string_lossy();
    match bytes.first() {
        Some(b'/') => SocketAddr::from_pathname(Path::new(value)).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("{NOTIFY_SOCKET}={shown} is not a usable socket path: {err}"),
            )
        }),
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]).map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("{NOTIFY_SOCKET}={shown} is not a usable abstract name: {err}"),
            )
        }),
        _ if bytes.starts_with(b"vsock:") => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{NOTIFY_SOCKET}={shown}: VSOCK addresses are not supported, only Unix sockets \
                 (a path, or @name)"
            ),
        )),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{NOTIFY_SOCKET}={shown:?} is neither an absolute path nor an abstract name (@name)"
            ),
        )),
    }
}

/// Sends `state` to the service manager: one or more `KEY=VALUE`
/// assignments, one per line, as systemd's `sd_notify` takes them (e.g.
/// `RELOADING=1`, `EXTEND_TIMEOUT_USEC=...`). Returns `false` without doing
/// anything when `NOTIFY_SOCKET` is unset, that is when the program does
/// not run under a service manager that wants notifications.
///
/// The runtime sends `READY=1`, `STOPPING=1` and the watchdog's pings by
/// itself (see [the module](super)); use this for the others.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] for an empty `state` or a
/// `NOTIFY_SOCKET` that names no usable address; the error of sending,
/// with the socket's address, e.g. `notify the service manager at
/// /run/systemd/notify: Connection refused (os error 111)`. A send waits
/// at most a second for room in the service manager's queue.
///
/// # Examples
///
/// ```
/// // Under systemd: sends `RELOADING=1`; elsewhere: does nothing.
/// let sent = hearth::systemd::notify("RELOADING=1")?;
/// # let _ = sent;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn notify(state: &str) -> io::Result<bool> {
    if state.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an empty notification: give KEY=VALUE assignments, e.g. READY=1",
        ));
    }
    match Notifier::from_env()? {
        Some(notifier) => notifier.send(state).map(|()| true),
        None => Ok(false),
    }
}

/// Tells the service manager what the service is doing, as one line of
/// text (`STATUS=...`, which `systemctl status` shows). Returns `false`
/// without doing anything when `NOTIFY_SOCKET` is unset.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] if `text` holds a newline (it would
/// start another assignment); otherwise as [`notify`].
///
/// # Examples
///
/// ```
/// hearth::systemd::status("serving 12 connections")?;
/// assert!(hearth::systemd::status("two\nlines").is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn status(text: &str) -> io::Result<bool> {
    if text.contains('\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a status is one line, and {text:?} has several"),
        ));
    }
    notify(&format!("STATUS={text}"))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    #[test]
    fn sends_to_a_path_and_to_an_abstract_name() {
        let dir = std::env::temp_dir().join(format!("hearth-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        Notifier::to(path.as_os_str())
            .unwrap()
            .send("READY=1")
            .unwrap();
        let mut buf = [0; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        let name = format!("hearth-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let receiver = UnixDatagram::bind_addr(&addr).unwrap();
        let value = OsString::from(format!("@{name}"));
        Notifier::to(&value).unwrap().send("STOPPING=1").unwrap();
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_what_is_wrong_with_the_address() {
        let err = Notifier::to(OsStr::new("relative/path")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(
            err.to_string().contains("neither an absolute path"),
            "{err}"
        );
        let err = Notifier::to(OsStr::new("vsock:2:1234")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        let long = format!("/{}", "x".repeat(200));
        let err = Notifier::to(OsStr::new(&long)).unwrap_err();
        assert!(
            err.to_string().contains("not a usable socket path"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_receiver_is_an_error_naming_it() {
        let err = Notifier::to(OsStr::new("/nonexistent/hearth/notify"))
            .unwrap()
            .send("READY=1")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("notify the service manager at /nonexistent/hearth/notify: "),
            "{err}"
        );
    }

    #[test]
    fn a_status_is_one_line() {
        let err = status("a\nb").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(notify("").unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
