//! `--block-timeout` (`--bt`) with `--pipe`: a block whose reading takes
//! longer than the timeout is cut from what came so far (its whole
//! records; a record not yet ended waits for the next block), so a slow
//! stream (`tail -f log | hearth map --pipe --bt 1s ...`) is worked on
//! as it comes instead of when a block fills. As in GNU parallel, the
//! block size then never grows with a warning: a record longer than a
//! block is read on until it ends. With `--pipe-part` it changes
//! nothing: files do not keep a part waiting.
//!
//! The inputs of `--pipe` say whether they can be read without waiting
//! ([`Input`]): stdin (through a duplicate of its descriptor, with no
//! buffer in between) and the filter of `--group-by`, by `poll(2)` on
//! their file descriptor.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ChildStdout;
use std::time::{Duration, Instant};

/// An input of `--pipe`, whose readiness can be waited for.
pub trait Input: Read {
    /// Whether a read would return at once (with data, or at the end)
    /// within `timeout`.
    fn ready_within(&self, timeout: Duration) -> io::Result<bool>;
}

/// stdin, as `--pipe` reads it: a duplicate of its descriptor, without
/// a buffer in this process.
impl Input for File {
    fn ready_within(&self, timeout: Duration) -> io::Result<bool> {
        readable_within(self.as_raw_fd(), timeout)
    }
}

impl Input for BufReader<ChildStdout> {
    fn ready_within(&self, timeout: Duration) -> io::Result<bool> {
        Ok(!self.buffer().is_empty() || readable_within(self.get_ref().as_raw_fd(), timeout)?)
    }
}

/// stdin after the bytes read ahead of it (`--pipe --header`'s look for
/// its header): ready while those last.
impl Input for io::Chain<io::Cursor<Vec<u8>>, File> {
    fn ready_within(&self, timeout: Duration) -> io::Result<bool> {
        let (ahead, rest) = self.get_ref();
        let left = ahead.position() < ahead.get_ref().len() as u64;
        Ok(left || readable_within(rest.as_raw_fd(), timeout)?)
    }
}

/// Bytes in memory are always ready.
impl Input for &[u8] {
    fn ready_within(&self, _: Duration) -> io::Result<bool> {
        Ok(true)
    }
}

/// Whether `fd` has something to read (or its end) within `timeout`.
fn readable_within(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Rounded up: a wait of 0 ms for a timeout left would spin.
        let millis = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `poll` is one initialised `pollfd` that lives across the
        // call, and the count passed is 1.
        let ready = unsafe { libc::poll(&raw mut poll, 1, millis) };
        match ready {
            0 => return Ok(false),
            n if n > 0 => return Ok(true),
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_quiet_descriptor_is_not_ready_and_a_written_one_is() {
        let (mut writer, reader) = UnixStream::pair().unwrap();
        let fd = reader.as_raw_fd();
        assert!(!readable_within(fd, Duration::from_millis(20)).unwrap());
        writer.write_all(b"x").unwrap();
        assert!(readable_within(fd, Duration::from_secs(30)).unwrap());
        // The end of the stream is ready too: the read returns at once.
        let (writer, reader) = UnixStream::pair().unwrap();
        drop(writer);
        assert!(readable_within(reader.as_raw_fd(), Duration::from_secs(30)).unwrap());
    }
}
