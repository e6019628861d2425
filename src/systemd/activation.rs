//! Socket activation: the sockets systemd bound for the service and passed
//! to it as descriptors 3, 4, ... (`LISTEN_FDS` of them, for the process
//! `LISTEN_PID`, named by `LISTEN_FDNAMES`), taken over once as
//! [`ActivatedSocket`]s that become std sockets for a
//! [`TcpServer`](crate::net::TcpServer), a
//! [`UnixServer`](crate::net::UnixServer) or a single listener; or, for a
//! socket unit with `Accept=yes` (a service instance per connection), the
//! one connected stream, for a [`TcpStream`](crate::net::TcpStream) or
//! [`UnixStream`](crate::net::UnixStream) (their `from_std`).

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// More descriptors than any service is passed: a count above this is a
/// broken variable, not a plan.
const MOST_FDS: usize = 65_536;

/// Set once the passed descriptors were taken: they have one owner.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Takes the sockets systemd passed to this process (socket activation):
/// empty when the process was not socket-activated (`LISTEN_PID` unset, or
/// naming another process, such as the parent that started this one).
///
/// The sockets are taken once per process, as they have one owner: a
/// second call that would find sockets returns
/// [`ActivationError::AlreadyTaken`]. Each socket is made close-on-exec,
/// so the processes the program starts do not inherit it. With one socket
/// the usual choice is `listeners()?.into_iter().next()`; with several,
/// find them by [`ActivatedSocket::name`] (`FileDescriptorName=` in the
/// socket unit, the unit's name without it).
///
/// A [`TcpServer`](crate::net::TcpServer) or
/// [`UnixServer`](crate::net::UnixServer) serves an activated listener
/// with `from_listener`: every worker's listener then accepts from that one
/// socket (`SO_REUSEPORT` would need a socket per worker, and systemd
/// passes one), through a duplicate of its descriptor.
///
/// A socket unit with `Accept=yes` starts an instance of the service per
/// connection and passes it that connection, already accepted:
/// [`ActivatedSocket::kind`] is then [`SocketKind::TcpStream`] or
/// [`SocketKind::UnixStream`], and [`ActivatedSocket::into_tcp_stream`]
/// or [`ActivatedSocket::into_unix_stream`] makes it a std stream, which
/// [`TcpStream::from_std`](crate::net::TcpStream::from_std) or
/// [`UnixStream::from_std`](crate::net::UnixStream::from_std) takes over.
///
/// # Errors
///
/// An [`ActivationError`] for variables that do not parse, names that do
/// not match the count, descriptors that are not open, or a second taking.
///
/// # Examples
///
/// ```no_run
/// use hearth::actor::{actor_fn, Context};
/// use hearth::net::{TcpServer, TcpStream};
/// use hearth::supervisor::NoSupervisor;
/// use hearth::{ActorOptions, ThreadLocal};
///
/// async fn hello(_: Context<(), ThreadLocal>, mut stream: TcpStream) -> std::io::Result<()> {
///     stream.write_all(b"hello\n").await
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (new_actor, options) = (actor_fn(hello), ActorOptions::default());
/// let server = match hearth::systemd::listeners()?.into_iter().next() {
///     // Started by systemd with a socket (ListenStream=8080).
///     Some(socket) => TcpServer::from_listener(socket.into_tcp_listener()?, NoSupervisor, new_actor, options)?,
///     // Started by hand.
///     None => TcpServer::setup("127.0.0.1:8080".parse()?, NoSupervisor, new_actor, options)?,
/// };
/// # drop(server);
/// # Ok(())
/// # }
/// ```
pub fn listeners() -> Result<Vec<ActivatedSocket>, ActivationError> {
    let var = |name| std::env::var(name).ok();
    let plan = plan(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    )?;
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    if TAKEN.swap(true, Ordering::AcqRel) {
        return Err(ActivationError::AlreadyTaken);
    }
    // All open before any is owned: an error then closes none of them.
    if let Some(&(fd, _)) = plan.iter().find(|(fd, _)| !sys::is_open(*fd)) {
        return Err(ActivationError::NotOpen { fd });
    }
    let sockets = plan
        .into_iter()
        .map(|(fd, name)| {
            // SAFETY: systemd passed descriptor `fd` to this process for it
            // to own (LISTEN_PID names us), it is open (checked above), and
            // `TAKEN` makes this the only place in the process that takes
            // it; an application that also took it through another library
            // breaks that, which the function's documentation rules out.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            if let Err(err) = sys::set_cloexec(fd.as_fd()) {
                log::warn!(fd = fd.as_raw_fd(), error:% = err; "unable to make a passed socket close-on-exec");
            }
            ActivatedSocket::new(fd, name)
        })
        .collect();
    Ok(sockets)
}

/// The descriptors and names the variables give to process `me`.
fn plan(
    pid: Option<&str>,
    fds: Option<&str>,
    names: Option<&str>,
    me: u32,
) -> Result<Vec<(RawFd, String)>, ActivationError> {
    let invalid = |variable, value: &str, reason: String| ActivationError::Invalid {
        variable,
        value: value.to_owned(),
        reason,
    };
    let Some(pid) = pid else {
        return Ok(Vec::new());
    };
    let owner: u32 = pid
        .parse()
        .map_err(|err| invalid("LISTEN_PID", pid, format!("not a process id: {err}")))?;
    if owner != me {
        return Ok(Vec::new());
    }
    let Some(fds) = fds else {
        return Ok(Vec::new());
    };
    let count: usize = fds
        .parse()
        .map_err(|err| invalid("LISTEN_FDS", fds, format!("not a count: {err}")))?;
    if count > MOST_FDS {
        return Err(invalid(
            "LISTEN_FDS",
            fds,
            format!("more than {MOST_FDS} descriptors"),
        ));
    }
    let names: Vec<String> = match names {
        Some(names) => names.split(':').map(str::to_owned).collect(),
        None => vec!["unknown".to_owned(); count],
    };
    if count > 0 && names.len() != count {
        return Err(ActivationError::NamesDoNotMatch {
            names: names.len(),
            fds: count,
        });
    }
    Ok((FIRST_FD..)
        .zip(names)
        .take(count)
        .collect::<Vec<(RawFd, String)>>())
}

/// What a passed socket is.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum SocketKind {
    /// A listening TCP socket (`ListenStream=` with a port or address).
    TcpListener,
    /// A listening Unix stream socket (`ListenStream=` with a path or
    /// `@name`).
    UnixListener,
    /// A UDP socket (`ListenDatagram=` with a port or address).
    UdpSocket,
    /// A Unix datagram socket (`ListenDatagram=` with a path or `@name`).
    UnixDatagram,
    /// A TCP connection (`Accept=yes` with a port or address): a TCP
    /// stream socket that does not listen.
    TcpStream,
    /// A Unix stream connection (`Accept=yes` with a path or `@name`): a
    /// Unix stream socket that does not listen.
    UnixStream,
    /// Anything else: a FIFO, a netlink or sequential-packet socket.
    Other,
}

impl SocketKind {
    fn as_str(self) -> &'static str {
        match self {
            SocketKind::TcpListener => "a TCP listener",
            SocketKind::UnixListener => "a Unix stream listener",
            SocketKind::UdpSocket => "a UDP socket",
            SocketKind::UnixDatagram => "a Unix datagram socket",
            SocketKind::TcpStream => "a TCP connection",
            SocketKind::UnixStream => "a Unix stream connection",
            SocketKind::Other => "another kind of descriptor",
        }
    }
}

/// A socket passed by systemd, owned by the process (closed when dropped
/// unless converted). Made by [`listeners`].
pub struct ActivatedSocket {
    fd: OwnedFd,
    name: String,
    kind: SocketKind,
    /// What the descriptor is, in words, for messages.
    what: String,
}

impl ActivatedSocket {
    fn new(fd: OwnedFd, name: String) -> ActivatedSocket {
        let (kind, what) = match sys::socket_info(fd.as_fd()) {
            Ok(info) => {
                let kind = match (info.domain, info.ty, info.listening) {
                    (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM, true) => {
                        SocketKind::TcpListener
                    }
                    (libc::AF_UNIX, libc::SOCK_STREAM, true) => SocketKind::UnixListener,
                    // `SO_ACCEPTCONN` off: accepted by systemd (`Accept=yes`).
                    (libc::AF_INET | libc::AF_INET6, libc::SOCK_STREAM, false) => {
                        SocketKind::TcpStream
                    }
                    (libc::AF_UNIX, libc::SOCK_STREAM, false) => SocketKind::UnixStream,
                    (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM, _) => SocketKind::UdpSocket,
                    (libc::AF_UNIX, libc::SOCK_DGRAM, _) => SocketKind::UnixDatagram,
                    _ => SocketKind::Other,
                };
                (kind, info.describe())
            }
            Err(err) if err.raw_os_error() == Some(libc::ENOTSOCK) => {
                (SocketKind::Other, "not a socket".to_owned())
            }
            Err(err) => (SocketKind::Other, format!("unknown ({err})")),
        };
        ActivatedSocket {
            fd,
            name,
            kind,
            what,
        }
    }

    /// The socket's name: `FileDescriptorName=` of its socket unit, or the
    /// unit's name; `unknown` when systemd gave no names.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the socket is.
    pub fn kind(&self) -> SocketKind {
        self.kind
    }

    fn into_kind<T: From<OwnedFd>>(self, wanted: SocketKind) -> Result<T, WrongSocket> {
        if self.kind == wanted {
            Ok(T::from(self.fd))
        } else {
            Err(WrongSocket {
                socket: self,
                wanted,
            })
        }
    }

    /// The socket as a std TCP listener (blocking, as systemd passes it;
    /// [`TcpServer::from_listener`](crate::net::TcpServer::from_listener)
    /// makes it non-blocking).
    ///
    /// # Errors
    ///
    /// [`WrongSocket`], which gives the socket back, if it is not a
    /// listening TCP socket.
    pub fn into_tcp_listener(self) -> Result<std::net::TcpListener, WrongSocket> {
        self.into_kind(SocketKind::TcpListener)
    }

    /// The socket as a std Unix listener.
    ///
    /// # Errors
    ///
    /// [`WrongSocket`] if it is not a listening Unix stream socket.
    pub fn into_unix_listener(self) -> Result<std::os::unix::net::UnixListener, WrongSocket> {
        self.into_kind(SocketKind::UnixListener)
    }

    /// The socket as a std TCP stream: the connection that systemd
    /// accepted for this instance of the service (`Accept=yes`). Blocking,
    /// as systemd passes it;
    /// [`TcpStream::from_std`](crate::net::TcpStream::from_std) makes it
    /// non-blocking and registers it, for thread-local or thread-safe
    /// actors.
    ///
    /// # Errors
    ///
    /// [`WrongSocket`], which gives the socket back, if it is not a TCP
    /// connection (a listener of a socket unit without `Accept=yes` is
    /// [`into_tcp_listener`](ActivatedSocket::into_tcp_listener)'s).
    ///
    /// # Examples
    ///
    /// A service started per connection, which echoes its connection in a
    /// thread-safe actor and ends with it:
    ///
    /// ```no_run
    /// use hearth::actor::{actor_fn, Context};
    /// use hearth::net::TcpStream;
    /// use hearth::supervisor::NoSupervisor;
    /// use hearth::{ActorOptions, Runtime, ThreadSafe};
    ///
    /// async fn echo(_: Context<(), ThreadSafe>, mut stream: TcpStream<ThreadSafe>) -> std::io::Result<()> {
    ///     let mut buf = vec![0; 4096];
    ///     loop {
    ///         let n = stream.read(&mut buf).await?;
    ///         if n == 0 {
    ///             return Ok(());
    ///         }
    ///         stream.write_all(&buf[..n]).await?;
    ///     }
    /// }
    ///
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let socket = hearth::systemd::listeners()?
    ///         .into_iter()
    ///         .next()
    ///         .ok_or("not socket-activated")?;
    ///     let connection = socket.into_tcp_stream()?;
    ///     let mut runtime = Runtime::setup().num_threads(1).build()?;
    ///     let stream = TcpStream::from_std(&mut runtime.thread_safe(), connection)?;
    ///     let _ = runtime.spawn(NoSupervisor, actor_fn(echo), stream, ActorOptions::default());
    ///     Ok(runtime.start()?)
    /// }
    /// ```
    pub fn into_tcp_stream(self) -> Result<std::net::TcpStream, WrongSocket> {
        self.into_kind(SocketKind::TcpStream)
    }

    /// The socket as a std Unix stream: the connection that systemd
    /// accepted for this instance of the service (`Accept=yes` on a Unix
    /// socket). [`UnixStream::from_std`](crate::net::UnixStream::from_std)
    /// takes it over on a worker.
    ///
    /// # Errors
    ///
    /// [`WrongSocket`] if it is not a Unix stream connection.
    pub fn into_unix_stream(self) -> Result<std::os::unix::net::UnixStream, WrongSocket> {
        self.into_kind(SocketKind::UnixStream)
    }

    /// The socket as a std UDP socket.
    ///
    /// # Errors
    ///
    /// [`WrongSocket`] if it is not a UDP socket.
    pub fn into_udp_socket(self) -> Result<std::net::UdpSocket, WrongSocket> {
        self.into_kind(SocketKind::UdpSocket)
    }

    /// The socket as a std Unix datagram socket.
    ///
    /// # Errors
    ///
    /// [`WrongSocket`] if it is not a Unix datagram socket.
    pub fn into_unix_datagram(self) -> Result<std::os::unix::net::UnixDatagram, WrongSocket> {
        self.into_kind(SocketKind::UnixDatagram)
    }
}

impl From<ActivatedSocket> for OwnedFd {
    fn from(socket: ActivatedSocket) -> OwnedFd {
        socket.fd
    }
}

impl AsFd for ActivatedSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for ActivatedSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivatedSocket")
            .field("fd", &self.fd.as_raw_fd())
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A passed socket of another kind than the one asked for; gives the
/// socket back ([`WrongSocket::into_inner`]).
pub struct WrongSocket {
    socket: ActivatedSocket,
    wanted: SocketKind,
}

impl WrongSocket {
    /// The socket, to use as what it is.
    pub fn into_inner(self) -> ActivatedSocket {
        self.socket
    }
}

impl fmt::Display for WrongSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "passed socket {} ({:?}) is {}, not {}",
            self.socket.fd.as_raw_fd(),
            self.socket.name,
            self.socket.what,
            self.wanted.as_str()
        )
    }
}

impl fmt::Debug for WrongSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for WrongSocket {}

impl From<WrongSocket> for std::io::Error {
    /// An [`InvalidInput`](std::io::ErrorKind::InvalidInput) error (the
    /// socket is closed).
    fn from(err: WrongSocket) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, err.to_string())
    }
}

/// Why the passed sockets cannot be taken.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ActivationError {
    /// A variable has a value that does not parse.
    Invalid {
        /// `LISTEN_PID` or `LISTEN_FDS`.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `LISTEN_FDNAMES` names another number of sockets than `LISTEN_FDS`
    /// passes.
    NamesDoNotMatch {
        /// Names given.
        names: usize,
        /// Descriptors passed.
        fds: usize,
    },
    /// A descriptor that should have been passed is not open (something
    /// in the process closed it, or the variables were copied from another
    /// process).
    NotOpen {
        /// The descriptor.
        fd: RawFd,
    },
    /// The sockets were taken already, by an earlier call to
    /// [`listeners`].
    AlreadyTaken,
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivationError::Invalid {
                variable,
                value,
                reason,
            } => write!(f, "socket activation: {variable}={value:?} is {reason}"),
            ActivationError::NamesDoNotMatch { names, fds } => write!(
                f,
                "socket activation: LISTEN_FDNAMES has {names} names for {fds} sockets"
            ),
            ActivationError::NotOpen { fd } => write!(
                f,
                "socket activation: descriptor {fd} was passed (LISTEN_FDS) but is not open"
            ),
            ActivationError::AlreadyTaken => f.write_str(
                "socket activation: the passed sockets were taken already (hearth::systemd::listeners is called once)",
            ),
        }
    }
}

impl std::error::Error for ActivationError {}

impl From<ActivationError> for std::io::Error {
    fn from(err: ActivationError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::os::linux::net::SocketAddrExt;

    use super::*;

    fn names(plan: &[(RawFd, String)]) -> Vec<(RawFd, &str)> {
        plan.iter().map(|(fd, name)| (*fd, name.as_str())).collect()
    }

    #[test]
    fn not_activated_without_our_pid() {
        assert_eq!(plan(None, Some("2"), None, 10), Ok(vec![]));
        // Meant for the parent that started us.
        assert_eq!(plan(Some("9"), Some("2"), None, 10), Ok(vec![]));
        assert_eq!(plan(Some("10"), None, None, 10), Ok(vec![]));
        assert_eq!(plan(Some("10"), Some("0"), None, 10), Ok(vec![]));
    }

    #[test]
    fn descriptors_from_three_with_their_names() {
        let got = plan(Some("10"), Some("2"), Some("web:admin"), 10).unwrap();
        assert_eq!(names(&got), [(3, "web"), (4, "admin")]);
        let got = plan(Some("10"), Some("1"), None, 10).unwrap();
        assert_eq!(names(&got), [(3, "unknown")]);
    }

    #[test]
    fn bad_values_are_errors_that_say_which() {
        let err = plan(Some("ten"), Some("1"), None, 10).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("socket activation: LISTEN_PID=\"ten\" is not a process id"),
            "{err}"
        );
        let err = plan(Some("10"), Some("-1"), None, 10).unwrap_err();
        assert!(matches!(
            err,
            ActivationError::Invalid {
                variable: "LISTEN_FDS",
                ..
            }
        ));
        let err = plan(Some("10"), Some("99999999"), None, 10).unwrap_err();
        assert!(matches!(
            err,
            ActivationError::Invalid {
                variable: "LISTEN_FDS",
                ..
            }
        ));
        assert_eq!(
            plan(Some("10"), Some("2"), Some("web"), 10),
            Err(ActivationError::NamesDoNotMatch { names: 1, fds: 2 })
        );
    }

    #[test]
    fn connections_are_streams_not_listeners() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, peer) = listener.accept().unwrap();
        let socket = ActivatedSocket::new(OwnedFd::from(accepted), "conn".to_owned());
        assert_eq!(socket.kind(), SocketKind::TcpStream);
        let err = socket.into_tcp_listener().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "passed socket {} (\"conn\") is a TCP stream socket, not a TCP listener",
                err.socket.fd.as_raw_fd()
            )
        );
        let stream = err.into_inner().into_tcp_stream().unwrap();
        assert_eq!(stream.peer_addr().unwrap(), peer);
        assert_eq!(peer, client.local_addr().unwrap());

        // A listener is not a connection.
        let socket = ActivatedSocket::new(OwnedFd::from(listener), "web".to_owned());
        let err = socket.into_tcp_stream().unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is a listening TCP stream socket, not a TCP connection"),
            "{err}"
        );

        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let socket = ActivatedSocket::new(OwnedFd::from(a), "local".to_owned());
        assert_eq!(socket.kind(), SocketKind::UnixStream);
        let err = socket.into_tcp_stream().unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is a Unix stream socket, not a TCP connection"),
            "{err}"
        );
        let _stream = err.into_inner().into_unix_stream().unwrap();
        // A Unix listener (abstract address: no file) is not one either.
        let name = format!("hearth-activation-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
        let unix = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
        let socket = ActivatedSocket::new(OwnedFd::from(unix), "ctl".to_owned());
        assert_eq!(socket.kind(), SocketKind::UnixListener);
        let err = socket.into_unix_stream().unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is a listening Unix stream socket, not a Unix stream connection"),
            "{err}"
        );
    }

    #[test]
    fn kinds_and_conversions() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        let socket = ActivatedSocket::new(OwnedFd::from(tcp), "web".to_owned());
        assert_eq!(socket.kind(), SocketKind::TcpListener);
        let err = socket.into_unix_listener().unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("(\"web\") is a listening TCP stream socket, not a Unix stream listener"),
            "{text}"
        );
        let listener = err.into_inner().into_tcp_listener().unwrap();
        assert_eq!(listener.local_addr().unwrap(), addr);

        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = ActivatedSocket::new(OwnedFd::from(udp), "dns".to_owned());
        assert_eq!(socket.kind(), SocketKind::UdpSocket);
        let file = std::fs::File::open("/dev/null").unwrap();
        let socket = ActivatedSocket::new(OwnedFd::from(file), "fifo".to_owned());
        assert_eq!(socket.kind(), SocketKind::Other);
        assert!(
            socket
                .into_tcp_listener()
                .unwrap_err()
                .to_string()
                .contains("is not a socket, not a TCP listener")
        );
    }
}
