//! CPU time of threads and of the process.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

/// A clock measuring the CPU time of one thread; readable from any thread.
#[derive(Copy, Clone, Debug)]
pub(crate) struct ThreadClock(libc::clockid_t);

impl ThreadClock {
    /// The CPU clock of the calling thread.
    pub(crate) fn current() -> io::Result<ThreadClock> {
        let mut clock = MaybeUninit::<libc::clockid_t>::uninit();
        // SAFETY: `pthread_self` is always valid for the calling thread and
        // `clock` is valid for writes.
        let errno =
            unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), clock.as_mut_ptr()) };
        if errno != 0 {
            return Err(io::Error::from_raw_os_error(errno));
        }
        // SAFETY: initialised by `pthread_getcpuclockid` on success.
        Ok(ThreadClock(unsafe { clock.assume_init() }))
    }

    /// CPU time used by the thread so far. Fails once the thread has ended.
    pub(crate) fn elapsed(self) -> io::Result<Duration> {
        read_clock(self.0)
    }
}

/// CPU time used by the whole process so far.
pub(crate) fn process_cpu_time() -> io::Result<Duration> {
    read_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn read_clock(clock: libc::clockid_t) -> io::Result<Duration> {
    let mut ts = MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: `ts` is valid for writes; an invalid clock id is reported as
    // an error, not undefined behaviour.
    if unsafe { libc::clock_gettime(clock, ts.as_mut_ptr()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: initialised by `clock_gettime` on success.
    let ts = unsafe { ts.assume_init() };
    // The kernel keeps both in range (a clock of CPU time or since boot is
    // never negative, nanoseconds are below a second); out of range would be
    // a broken clock, reported as such.
    match (u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec)) {
        (Ok(secs), Ok(nanos)) if nanos < 1_000_000_000 => Ok(Duration::new(secs, nanos)),
        _ => Err(io::Error::other(format!(
            "clock {clock} gave a time out of range: {} s {} ns",
            ts.tv_sec, ts.tv_nsec
        ))),
    }
}

/// The host name of this machine.
pub(crate) fn host_name() -> io::Result<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is valid for writes of its length.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    let len = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
}
