//! Process signals as a `mio` event source.
//!
//! `mio-signals` covers SIGINT, SIGTERM, SIGQUIT, SIGUSR1 and SIGUSR2 with a
//! `signalfd`; SIGHUP, which it does not know, gets a second `signalfd`
//! here. Both are registered under one token. A blocking remote pool
//! watches the stop signals alone ([`ProcessSignals::stop_signals`]), so
//! that the others keep their default actions in a program without a
//! runtime. Creating [`ProcessSignals`]
//! blocks the signals for the calling thread, and threads started from it
//! afterwards inherit the mask, so the signals reach the `signalfd`s instead
//! of their default handlers.

use std::io;
use std::mem::{MaybeUninit, size_of};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token, event};
use mio_signals::{SignalSet, Signals};

use crate::signal::Signal;

/// The process signals hearth handles, readable through `mio`.
pub(crate) struct ProcessSignals {
    signals: Signals,
    /// SIGHUP's, unless only the stop signals are watched.
    hangup: Option<OwnedFd>,
}

impl ProcessSignals {
    /// Creates the source and blocks the signals for the calling thread.
    pub(crate) fn new() -> io::Result<ProcessSignals> {
        let signals = Signals::new(SignalSet::all())?;
        Ok(ProcessSignals {
            signals,
            hangup: Some(hangup_fd()?),
        })
    }

    /// A source of the stop signals and SIGHUP, blocked for the calling
    /// thread (a pool with GNU parallel's rule, where SIGHUP drains).
    pub(crate) fn stop_signals_and_hangup() -> io::Result<ProcessSignals> {
        use mio_signals::Signal::{Interrupt, Quit, Terminate};
        let signals = Signals::new(Interrupt | Terminate | Quit)?;
        Ok(ProcessSignals {
            signals,
            hangup: Some(hangup_fd()?),
        })
    }

    /// A source of the stop signals alone (SIGINT, SIGTERM, SIGQUIT),
    /// blocked for the calling thread.
    pub(crate) fn stop_signals() -> io::Result<ProcessSignals> {
        use mio_signals::Signal::{Interrupt, Quit, Terminate};
        let signals = Signals::new(Interrupt | Terminate | Quit)?;
        Ok(ProcessSignals {
            signals,
            hangup: None,
        })
    }

    /// Reads the next pending signal, `None` when there is none.
    pub(crate) fn receive(&mut self) -> io::Result<Option<Signal>> {
        if let Some(signal) = self.signals.receive()? {
            return Ok(Some(Signal::from_mio(signal)));
        }
        let Some(hangup) = &self.hangup else {
            return Ok(None);
        };
        let mut info = MaybeUninit::<libc::signalfd_siginfo>::uninit();
        loop {
            // SAFETY: the buffer is valid for writes of its full size, and
            // `signalfd` writes whole `signalfd_siginfo` structures.
            let n = unsafe {
                libc::read(
                    hangup.as_raw_fd(),
                    info.as_mut_ptr().cast(),
                    size_of::<libc::signalfd_siginfo>(),
                )
            };
            if n == -1 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::WouldBlock => return Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(err),
                }
            }
            // Only SIGHUP is in this fd's set.
            return Ok(Some(Signal::Hangup));
        }
    }

    /// Blocks the handled signals for the calling thread (for threads that
    /// might not have inherited the mask).
    pub(crate) fn block_for_thread() -> io::Result<()> {
        let mut set = hangup_set()?;
        for signo in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ] {
            // SAFETY: `set` is an initialised signal set and `signo` a valid
            // signal number.
            if unsafe { libc::sigaddset(&raw mut set, signo) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        block(&set)
    }
}

/// A `signalfd` of SIGHUP, which it blocks for the calling thread.
fn hangup_fd() -> io::Result<OwnedFd> {
    let set = hangup_set()?;
    // SAFETY: `set` is an initialised signal set; -1 asks for a new fd.
    let fd = unsafe { libc::signalfd(-1, &raw const set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if fd == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `signalfd` returned a new, valid file descriptor that
    // nothing else owns.
    let hangup = unsafe { OwnedFd::from_raw_fd(fd) };
    block(&set)?;
    Ok(hangup)
}

fn hangup_set() -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigemptyset` initialises the set it is given.
    if unsafe { libc::sigemptyset(set.as_mut_ptr()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: initialised by `sigemptyset` above.
    let mut set = unsafe { set.assume_init() };
    // SAFETY: `set` is initialised and SIGHUP a valid signal number.
    if unsafe { libc::sigaddset(&raw mut set, libc::SIGHUP) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(set)
}

fn block(set: &libc::sigset_t) -> io::Result<()> {
    // SAFETY: `set` is an initialised signal set; the old mask is not asked
    // for (null).
    let errno = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, set, std::ptr::null_mut()) };
    if errno == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(errno))
    }
}

impl event::Source for ProcessSignals {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.signals.register(registry, token, interests)?;
        match &self.hangup {
            Some(fd) => SourceFd(&fd.as_raw_fd()).register(registry, token, interests),
            None => Ok(()),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.signals.reregister(registry, token, interests)?;
        match &self.hangup {
            Some(fd) => SourceFd(&fd.as_raw_fd()).reregister(registry, token, interests),
            None => Ok(()),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.signals.deregister(registry)?;
        match &self.hangup {
            Some(fd) => SourceFd(&fd.as_raw_fd()).deregister(registry),
            None => Ok(()),
        }
    }
}
