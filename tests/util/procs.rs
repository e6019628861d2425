//! The machine's processes as `/proc` shows them, for the tests that check
//! no worker, ssh client, sshd child or step daemon outlives them (see
//! `runner.rs`), and to signal one.

use std::process;
use std::{fmt, fs};

/// This process's children, one line each: pid, command name, state and
/// command line.
pub fn children() -> Vec<String> {
    let me = process::id();
    processes()
        .into_iter()
        .filter(|p| p.ppid == me)
        .map(|p| p.to_string())
        .collect()
}

/// A process as `/proc` shows it.
#[derive(Clone, Debug)]
pub struct Proc {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Command name (`comm`, at most 15 bytes).
    pub comm: String,
    /// State letter (`R`, `S`, `Z` for a zombie, ...).
    pub state: char,
    /// Command line, the arguments joined with spaces (empty for a zombie
    /// or a kernel thread).
    pub cmdline: String,
}

impl fmt::Display for Proc {
    /// How a leftover process is named in a test's failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Proc {
            pid,
            ppid,
            comm,
            state,
            cmdline,
        } = self;
        write!(f, "pid {pid} (ppid {ppid}, {comm} {state}): {cmdline}")
    }
}

/// Every process of the machine (of this pid namespace), from `/proc`.
pub fn processes() -> Vec<Proc> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            // The process may exit between the listing and these reads.
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            let (head, rest) = stat.rsplit_once(") ")?;
            let comm = head.split_once(" (")?.1.to_owned();
            let mut fields = rest.split(' ');
            let state = fields.next()?.chars().next()?;
            let ppid = fields.next()?.parse().ok()?;
            let cmdline = fs::read(entry.path().join("cmdline"))
                .map(|raw| {
                    raw.split(|&b| b == 0)
                        .filter(|arg| !arg.is_empty())
                        .map(|arg| String::from_utf8_lossy(arg).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            Some(Proc {
                pid,
                ppid,
                comm,
                state,
                cmdline,
            })
        })
        .collect()
}

/// Sends `signal` to `pid`; false if the process does not exist.
pub fn signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) with a positive pid signals that one process.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Processes that carry `tag` (a `NAME=value` pair) in their environment,
/// as command lines: what a test run left behind, found through the tag it
/// gave the processes it started.
#[allow(dead_code)]
pub fn tagged(tag: &str) -> Vec<String> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let dir = e.ok()?.path();
            let environ = fs::read(dir.join("environ")).ok()?;
            let tagged = environ.split(|&b| b == 0).any(|v| v == tag.as_bytes());
            let cmd = fs::read(dir.join("cmdline")).ok()?;
            tagged.then(|| String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}
