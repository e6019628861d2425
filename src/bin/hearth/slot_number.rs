//! The slot number of `{%}` and `PARALLEL_JOBSLOT`, worked out on the
//! worker's side: a worker (one per slot) claims the lowest number that no
//! other live worker of the same run holds on its machine, by binding a
//! Unix socket in the abstract namespace named after the run and the
//! number. The kernel releases the name when the worker dies, so a slot
//! started again takes the number its predecessor had; nothing is left on
//! disk.
//!
//! Numbers go from 1 to the number of slots of the run on that machine:
//! two jobs running at once on one machine never share one, as GNU
//! parallel promises. Slots on different machines may share a number
//! (GNU parallel counts the slots of all its hosts together).

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Mutex;

/// The claimed number: the run, the number, and the socket that holds it
/// for as long as the worker lives.
static CLAIMED: Mutex<Option<(String, u32, UnixDatagram)>> = Mutex::new(None);

/// Slots of one run on one machine, at most (`hearth map -j` is at most
/// 1024 per host; several host entries may name one machine).
const MAX: u32 = 1 << 16;

/// This worker's number in `run` (an id made by `hearth map`), claimed on
/// the first call.
pub fn claim(run: &str) -> Result<u32, String> {
    let mut claimed = CLAIMED
        .lock()
        .map_err(|_| "the slot number's lock is poisoned".to_owned())?;
    if let Some((of, number, _)) = claimed.as_ref()
        && of == run
    {
        return Ok(*number);
    }
    for number in 1..=MAX {
        let name = format!("hearth-slot/{run}/{number}");
        let addr = SocketAddr::from_abstract_name(name.as_bytes())
            .map_err(|err| format!("cannot name the slot number's socket: {err}"))?;
        match UnixDatagram::bind_addr(&addr) {
            Ok(socket) => {
                *claimed = Some((run.to_owned(), number, socket));
                return Ok(number);
            }
            Err(err) if err.kind() == io::ErrorKind::AddrInUse => {}
            Err(err) => return Err(format!("cannot claim a slot number for {{%}}: {err}")),
        }
    }
    Err(format!(
        "cannot claim a slot number for {{%}}: all {MAX} are taken"
    ))
}

#[cfg(test)]
mod tests {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    /// A number held by another process is skipped; the same run gives
    /// the same number again.
    #[test]
    fn lowest_free_number() {
        let run = format!("test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(format!("hearth-slot/{run}/1")).unwrap();
        let _held = UnixDatagram::bind_addr(&addr).unwrap();
        assert_eq!(super::claim(&run), Ok(2));
        assert_eq!(super::claim(&run), Ok(2));
    }
}
