//! Process groups: a worker and the processes its jobs start live in one
//! group, so ending the group ends them all, grandchildren included.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a worker made itself the leader of a group of its own, which
/// the processes of its jobs share: only then are the other processes of
/// its group its jobs' ([`signal_job`]).
static JOBS_SHARE_GROUP: AtomicBool = AtomicBool::new(false);

/// Makes the calling process the leader of a new process group (a no-op
/// if it already leads one), which the processes its jobs start share.
pub(crate) fn become_group_leader() -> io::Result<()> {
    // SAFETY: setpgid(0, 0) only changes the calling process's group; it
    // takes no pointers.
    if unsafe { libc::setpgid(0, 0) } == -1 {
        return Err(io::Error::last_os_error());
    }
    JOBS_SHARE_GROUP.store(true, Ordering::Relaxed);
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

/// True if the child `pid` has exited and is not reaped yet (a zombie,
/// whose pid, and so its group's id, nothing else can take): the moment to
/// end what is left of its group.
pub(crate) fn exited_unreaped(pid: u32) -> bool {
    let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
    // SAFETY: waitid writes at most one `siginfo_t` into `info`, which is
    // valid for writes; WNOWAIT leaves the child to be reaped by its
    // `Child`, WNOHANG returns at once.
    let done = unsafe {
        libc::waitid(
            libc::P_PID,
            libc::id_t::from(pid),
            info.as_mut_ptr(),
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: zeroed above, and waitid fills it in or leaves it zeroed.
    let info = unsafe { info.assume_init() };
    // SAFETY: `si_pid` is set by waitid for an exited child and stays 0
    // when none has exited (WNOHANG).
    done == 0 && unsafe { info.si_pid() } != 0
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

/// Sends `signal` to the processes of a job whose first process is
/// `child` (a child of the caller): when the caller is a worker that made
/// its own group for its jobs ([`become_group_leader`]), every process of
/// the group but the caller itself, the grandchildren and daemons they
/// started included (a worker runs one job at a time: they are its job's,
/// or what an earlier job left running there); otherwise `child` and its
/// descendants. Read from `/proc`; a process started while it is read may
/// be missed, so a sequence of signals sends each again.
pub(crate) fn signal_job(child: u32, signal: i32) {
    // SAFETY: getpgrp and getpid take no arguments and cannot fail.
    let (group, me) = unsafe { (libc::getpgrp(), libc::getpid()) };
    let processes = processes();
    let shared = JOBS_SHARE_GROUP.load(Ordering::Relaxed) && group == me;
    let targets: Vec<libc::pid_t> = if shared {
        processes
            .iter()
            .filter(|p| p.group == group && p.pid != me)
            .map(|p| p.pid)
            .collect()
    } else {
        let mut found = vec![libc::pid_t::try_from(child).unwrap_or(0)];
        let mut next = 0;
        while next < found.len() {
            let parent = found[next];
            found.extend(
                processes
                    .iter()
                    .filter(|p| p.parent == parent)
                    .map(|p| p.pid),
            );
            next += 1;
        }
        found
    };
    let child = libc::pid_t::try_from(child).unwrap_or(0);
    let mut targets = targets;
    if !targets.contains(&child) {
        targets.push(child);
    }
    for pid in targets {
        if pid > 1 && pid != me {
            // SAFETY: kill(2) with a positive pid takes no pointers and
            // signals that one process: the child (ours, not reaped, so its
            // pid is still its), or one `/proc` showed in the worker's
            // group or under the child a moment ago (a pid freed and taken
            // again in that moment would be signalled wrongly: a window of
            // microseconds, which GNU parallel's kill of a group by its id
            // has too), never the caller.
            let _ = unsafe { libc::kill(pid, signal) };
        }
    }
}

/// A process as `/proc/PID/stat` has it.
struct Process {
    pid: libc::pid_t,
    parent: libc::pid_t,
    group: libc::pid_t,
}

/// The processes of the machine (those readable now).
fn processes() -> Vec<Process> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: libc::pid_t = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid pgrp ...`: comm may hold anything,
            // so the fields count from its last `)`.
            let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().skip(1);
            let parent = fields.next()?.parse().ok()?;
            let group = fields.next()?.parse().ok()?;
            Some(Process { pid, parent, group })
        })
        .collect()
}
