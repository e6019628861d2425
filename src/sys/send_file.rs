//! `sendfile(2)`: bytes of a file written to a socket by the kernel,
//! without passing through the process's memory.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Sends at most `count` bytes of `file`, from `offset` on, to `socket`;
/// advances `offset` by what was sent, and leaves the file's own position
/// alone. `Ok(0)` at the end of the file (or for a `count` of 0).
///
/// # Errors
///
/// The OS error; `WouldBlock` from a non-blocking socket with no room.
pub(crate) fn send_file(
    socket: BorrowedFd<'_>,
    file: &File,
    offset: &mut libc::off_t,
    count: usize,
) -> io::Result<usize> {
    // SAFETY: both descriptors are borrowed for the call, so they are
    // open; `offset` points to a live `off_t` that the kernel reads and
    // advances, and no buffer of ours is involved.
    let sent = unsafe {
        libc::sendfile(
            socket.as_raw_fd(),
            file.as_raw_fd(),
            std::ptr::from_mut(offset),
            count,
        )
    };
    // Negative (-1) only on error.
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;

    use super::send_file;

    #[test]
    fn sends_the_range_asked_for_and_leaves_the_position() {
        let path = std::env::temp_dir().join(format!("hearth-sendfile-{}", std::process::id()));
        let mut file = std::fs::File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file.write_all(b"0123456789").unwrap();
        file.rewind().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut offset = 2;
        assert_eq!(send_file(client.as_fd(), &file, &mut offset, 5).unwrap(), 5);
        assert_eq!(offset, 7);
        // Past the end: nothing more.
        let mut end = 10;
        assert_eq!(send_file(client.as_fd(), &file, &mut end, 5).unwrap(), 0);
        drop(client);
        let mut got = String::new();
        let _ = server.read_to_string(&mut got).unwrap();
        assert_eq!(got, "23456");
        assert_eq!(file.stream_position().unwrap(), 0);
    }
}
