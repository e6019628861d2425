//! Process groups: a worker and the processes its jobs start live in one
//! group, so ending the group ends them all, grandchildren included.

use std::io;

/// Makes the calling process the leader of a new process group (a no-op
/// if it already leads one).
pub(crate) fn become_group_leader() -> io::Result<()> {
    // SAFETY: setpgid(0, 0) only changes the calling process's group; it
    // takes no pointers.
    if unsafe { libc::setpgid(0, 0) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Kills every process of the calling process's group, itself included,
/// if it leads that group; otherwise does nothing (the group is someone
/// else's).
pub(crate) fn kill_own_group() {
    // SAFETY: getpgrp and getpid take no arguments and cannot fail.
    let leader = unsafe { libc::getpgrp() == libc::getpid() };
    if leader {
        // SAFETY: kill(0, sig) signals the caller's own process group,
        // which this process leads.
        let _ = unsafe { libc::kill(0, libc::SIGKILL) };
    }
}

/// Kills the process group `pgid` (a child started with its own group).
pub(crate) fn kill_group(pgid: u32) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid).map_err(|_| io::Error::other("pid out of range"))?;
    if pgid <= 1 {
        return Err(io::Error::other("refusing to signal process group <= 1"));
    }
    // SAFETY: a negative pid makes kill(2) signal that process group; the
    // group is a child's own (started with process_group(0)), checked > 1.
    if unsafe { libc::kill(-pgid, libc::SIGKILL) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
