//! The file a Unix socket bound to a path leaves in the file system: made
//! by `bind`, refused when something is in the way, removed when the
//! socket that made it is done, and [`remove_stale_socket`] for the file of
//! a server that died without removing its own.
//!
//! The practice is the one of daemons and of Heph's: remove what we
//! created, never clobber what is there unless asked. The kernel does not
//! remove the file when the socket closes, and `bind` fails on a path that
//! exists (`EADDRINUSE`), so a server that crashed keeps its successor from
//! starting until someone removes the stale file. hearth removes the files
//! it created when the socket is dropped (or the server stops), and only
//! if the path still names the file it made (same device and inode): a
//! second server that took the path meanwhile keeps its socket.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::SocketAddr;
use std::path::{Path, PathBuf};

use log::{debug, warn};

/// The file a socket created by binding to a path: removed when dropped,
/// if the path still names it.
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// The file just created by binding to `addr`; `None` for an abstract
    /// or unnamed address, which leaves no file.
    pub(crate) fn created(addr: &SocketAddr) -> Option<SocketFile> {
        let path = addr.as_pathname()?;
        match fs::symlink_metadata(path) {
            Ok(meta) => Some(SocketFile {
                path: path.to_owned(),
                dev: meta.dev(),
                ino: meta.ino(),
            }),
            // Removed already: nothing of ours to remove later.
            Err(err) => {
                debug!(path:% = path.display(), error:% = err; "socket file gone right after bind");
                None
            }
        }
    }

    /// Removes the file if the path still names the one we made.
    fn remove(&self) {
        match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.dev() == self.dev && meta.ino() == self.ino => {
                match fs::remove_file(&self.path) {
                    Ok(()) => debug!(path:% = self.path.display(); "removed socket file"),
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => {
                        warn!(path:% = self.path.display(), error:% = err; "unable to remove socket file");
                    }
                }
            }
            // Replaced by someone else's file, or removed: not ours.
            Ok(_) | Err(_) => {
                debug!(path:% = self.path.display(); "socket file replaced or removed: left alone");
            }
        }
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Removes the socket file at `path` if no server listens on it any more
/// (it is a Unix socket and connecting to it is refused), so that a server
/// can bind there again after its predecessor died without removing it.
/// Returns `true` if it removed the file, `false` if nothing was there.
///
/// hearth never removes an existing file by itself: binding a
/// [`UnixListener`](crate::net::UnixListener),
/// [`UnixDatagram`](crate::net::UnixDatagram) or
/// [`UnixServer`](crate::net::UnixServer) to a path that exists fails.
/// Call this first when a stale file may be in the way (a service that
/// restarts after a crash).
///
/// # Errors
///
/// - [`io::ErrorKind::AlreadyExists`]: `path` is not a socket (a regular
///   file, a directory): it is left alone;
/// - [`io::ErrorKind::AddrInUse`]: a server listens on it (connecting
///   succeeded, or its backlog is full);
/// - the error of looking at, connecting to or removing the file, e.g.
///   `PermissionDenied`. Each error names the path.
///
/// # Examples
///
/// ```
/// use hearth::net::remove_stale_socket;
///
/// let path = std::env::temp_dir().join(format!("hearth-doc-stale-{}.sock", std::process::id()));
/// // A socket whose server is gone: its file stays behind.
/// drop(std::os::unix::net::UnixListener::bind(&path)?);
/// assert!(remove_stale_socket(&path)?);
/// assert!(!remove_stale_socket(&path)?);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn remove_stale_socket<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    let path = path.as_ref();
    let shown = path.display();
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(io::Error::new(err.kind(), format!("{shown}: {err}"))),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{shown} exists and is not a socket: not removing it"),
        ));
    }
    // Non-blocking: a live server whose backlog is full answers `EAGAIN`
    // instead of making us wait.
    match mio::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{shown}: a server is listening on it: not removing it"),
        )),
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{shown}: a server is listening on it (its backlog is full): not removing it"),
        )),
        Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
            match fs::remove_file(path) {
                Ok(()) => {
                    debug!(path:% = shown; "removed stale socket file");
                    Ok(true)
                }
                // Someone else removed it meanwhile.
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(err) => Err(io::Error::new(
                    err.kind(),
                    format!("remove stale socket {shown}: {err}"),
                )),
            }
        }
        Err(err) => Err(io::Error::new(
            err.kind(),
            format!("{shown}: unable to tell whether a server listens on it: {err}"),
        )),
    }
}

/// An error of binding to `path`, with the path, and for a path that
/// exists what to do about it.
pub(crate) fn bind_error(path: &Path, err: io::Error) -> io::Error {
    let shown = path.display();
    if err.kind() == io::ErrorKind::AddrInUse {
        io::Error::new(
            err.kind(),
            format!(
                "bind {shown}: {err}: the file exists; if no server uses it any more, remove it \
                 (hearth::net::remove_stale_socket removes it only if nothing listens on it)"
            ),
        )
    } else {
        io::Error::new(err.kind(), format!("bind {shown}: {err}"))
    }
}

/// How an address reads in messages and metrics: its path, `@name` for an
/// abstract address (the notation of systemd and `ss`), `(unnamed)`
/// otherwise.
pub(crate) fn describe(addr: &SocketAddr) -> String {
    use std::os::linux::net::SocketAddrExt;
    if let Some(path) = addr.as_pathname() {
        path.display().to_string()
    } else if let Some(name) = addr.as_abstract_name() {
        format!("@{}", String::from_utf8_lossy(name))
    } else {
        "(unnamed)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;

    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hearth-socket-file-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn removes_only_a_socket_nobody_listens_on() {
        let dir = temp("stale");
        let path = dir.join("s.sock");
        let live = UnixListener::bind(&path).unwrap();
        let err = remove_stale_socket(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        assert!(path.exists());
        drop(live);
        assert!(remove_stale_socket(&path).unwrap());
        assert!(!path.exists());
        assert!(!remove_stale_socket(&path).unwrap());

        let file = dir.join("plain");
        fs::write(&file, b"data").unwrap();
        let err = remove_stale_socket(&file).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
        assert!(err.to_string().contains("is not a socket"), "{err}");
        assert_eq!(fs::read(&file).unwrap(), b"data");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn removes_its_own_file_but_not_a_replacement() {
        let dir = temp("own");
        let path = dir.join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let file = SocketFile::created(&listener.local_addr().unwrap()).unwrap();
        drop(file);
        assert!(!path.exists(), "our file is removed");

        let first = UnixListener::bind(&path).unwrap();
        let file = SocketFile::created(&first.local_addr().unwrap()).unwrap();
        // Someone else removes it and binds a socket of their own there.
        fs::remove_file(&path).unwrap();
        let _second = UnixListener::bind(&path).unwrap();
        drop(file);
        assert!(path.exists(), "the other socket's file stays");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bind_error_says_what_to_do() {
        let err = bind_error(
            Path::new("/run/x.sock"),
            io::Error::from(io::ErrorKind::AddrInUse),
        );
        let text = err.to_string();
        assert!(text.starts_with("bind /run/x.sock: "), "{text}");
        assert!(text.contains("remove_stale_socket"), "{text}");
    }
}
