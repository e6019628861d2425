//! Child processes: the workloads that need a process of their own.
//!
//! Some figures are properties of the whole process: its resident memory,
//! its signal dispositions (hearth's runtime blocks the handled signals in
//! every thread, tokio installs a handler), its CPU time. Measured in the
//! benchmark's own process they would depend on what ran before (an
//! allocator that kept freed memory, a signal mask inherited from an
//! earlier hearth runtime, the CPU time of runtimes shutting down). So the
//! benchmark runs itself again for each of these runs: [`run`] starts
//! `current_exe FLAG FAMILY SIDE FLAVOUR SIZE`, and [`main`] (called by the
//! benchmark's `main` when its first argument is [`FLAG`]) runs that one
//! side of that one workload and prints its values on stdout, separated by
//! white space. (`skynet` is timed this way too: a million actors are
//! allocated and freed per run, and in one process each side would start
//! from the heap the other left behind; `tcp-echo` too, so that each side
//! has the process, and a profile of it, to itself.) The parent waits for the child at most [`CHILD_LIMIT`] and
//! kills it after that, so a hanging child fails the run without staying
//! behind.

use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::process::{Command, ExitCode, Stdio};
use std::ptr;
use std::sync::mpsc;
use std::time::Duration;

use hearth::Runtime;

use super::{idle, memory, signals, skynet, tcp};

/// The first argument of a child process.
pub(super) const FLAG: &str = "--compare-child";

/// Longest a child may take before it is killed and its run fails.
const CHILD_LIMIT: Duration = Duration::from_secs(100);

/// Which workload a child runs.
#[derive(Clone, Copy, Debug)]
pub(super) enum Family {
    /// `spawn-memory`, see `memory.rs`.
    Memory,
    /// `signal-latency`, see `signals.rs`.
    Signal,
    /// `idle`, see `idle.rs`.
    Idle,
    /// `skynet`, timed in a child so that neither side inherits the heap
    /// the other left behind (see `skynet.rs`).
    Skynet,
    /// `tcp-echo`, timed in a child so that each side's run (and a
    /// profile of it) has the process to itself (see `tcp.rs`), under
    /// the given load.
    Tcp(tcp::Load),
    /// `tcp-echo/thread-safe`: the same with hearth's thread-safe
    /// connections (the tokio side is the same as `Tcp`'s).
    TcpThreadSafe(tcp::Load),
}

impl Family {
    /// The name on the child's command line.
    fn as_str(self) -> &'static str {
        match self {
            Family::Memory => "memory",
            Family::Signal => "signal",
            Family::Idle => "idle",
            Family::Skynet => "skynet",
            Family::Tcp(tcp::Load::TwoThreads) => "tcp",
            Family::TcpThreadSafe(tcp::Load::TwoThreads) => "tcp-thread-safe",
            Family::Tcp(tcp::Load::OneThread) => "tcp-one-client",
            Family::TcpThreadSafe(tcp::Load::OneThread) => "tcp-thread-safe-one-client",
        }
    }

    /// Parses [`Family::as_str`].
    fn parse(s: &str) -> Result<Family, String> {
        [
            Family::Memory,
            Family::Signal,
            Family::Idle,
            Family::Skynet,
            Family::Tcp(tcp::Load::TwoThreads),
            Family::TcpThreadSafe(tcp::Load::TwoThreads),
            Family::Tcp(tcp::Load::OneThread),
            Family::TcpThreadSafe(tcp::Load::OneThread),
        ]
        .into_iter()
        .find(|family| family.as_str() == s)
        .ok_or_else(|| format!("unknown child workload {s:?}"))
    }
}

/// Which runtime a child runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// hearth.
    Hearth,
    /// tokio.
    Tokio,
}

impl Side {
    /// The name on the child's command line.
    fn as_str(self) -> &'static str {
        match self {
            Side::Hearth => "hearth",
            Side::Tokio => "tokio",
        }
    }

    /// Parses [`Side::as_str`].
    fn parse(s: &str) -> Result<Side, String> {
        [Side::Hearth, Side::Tokio]
            .into_iter()
            .find(|side| side.as_str() == s)
            .ok_or_else(|| format!("unknown side {s:?}"))
    }
}

/// The two flavours of every workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flavour {
    /// hearth: thread-local actors on one worker; tokio: a `current_thread`
    /// runtime.
    Local,
    /// hearth: thread-safe actors on two workers; tokio: a multi-thread
    /// runtime with two workers.
    Shared,
}

impl Flavour {
    /// The name on the child's command line (and in the workload's name).
    fn as_str(self) -> &'static str {
        match self {
            Flavour::Local => "local",
            Flavour::Shared => "2-workers",
        }
    }

    /// Parses [`Flavour::as_str`].
    fn parse(s: &str) -> Result<Flavour, String> {
        [Flavour::Local, Flavour::Shared]
            .into_iter()
            .find(|flavour| flavour.as_str() == s)
            .ok_or_else(|| format!("unknown flavour {s:?}"))
    }

    /// Worker threads of a hearth runtime of this flavour.
    fn threads(self) -> usize {
        match self {
            Flavour::Local => 1,
            Flavour::Shared => 2,
        }
    }

    /// A fresh hearth runtime of this flavour.
    ///
    /// Building it blocks the signals hearth handles (SIGUSR1 among them)
    /// in the calling thread, and so in every thread started from it
    /// afterwards: only the runtime's coordinator receives them.
    pub(super) fn hearth_runtime(self) -> Result<Runtime, String> {
        let mut setup = Runtime::setup().name("compare").num_threads(self.threads());
        if std::env::var_os("HEARTH_BENCH_PLAIN_HEAP").is_none() {
            setup = setup.grow_heap_ahead();
        }
        setup
            .build()
            .map_err(|err| format!("building the runtime: {err}"))
    }

    /// A fresh tokio runtime of this flavour.
    pub(super) fn tokio_runtime(self) -> Result<tokio::runtime::Runtime, String> {
        match self {
            Flavour::Local => super::tokio_local(),
            Flavour::Shared => super::tokio_shared(),
        }
    }
}

/// Runs one side of a workload in a child process and returns the values
/// it printed.
pub(super) fn run(
    family: Family,
    side: Side,
    flavour: Flavour,
    size: u64,
) -> Result<Vec<f64>, String> {
    let exe =
        std::env::current_exe().map_err(|err| format!("finding the benchmark binary: {err}"))?;
    let mut child = Command::new(exe)
        .arg(FLAG)
        .args([family.as_str(), side.as_str(), flavour.as_str()])
        .arg(size.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("starting the child process: {err}"))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or("the child process has no stdout")?;
    // Read on a thread of its own, so the wait for the output can time out.
    let (output, read) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = output.send(stdout.read_to_string(&mut text).map(|_| text));
    });
    let Ok(text) = read.recv_timeout(CHILD_LIMIT) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!(
            "no result from the child process after {CHILD_LIMIT:?}"
        ));
    };
    let _ = reader.join();
    let status = child
        .wait()
        .map_err(|err| format!("waiting for the child process: {err}"))?;
    if !status.success() {
        return Err(format!("the child process failed ({status})"));
    }
    let text = text.map_err(|err| format!("reading the child's output: {err}"))?;
    text.split_whitespace()
        .map(|value| {
            value
                .parse::<f64>()
                .map_err(|_| format!("the child printed {value:?}, not a number"))
        })
        .collect()
}

/// The `main` of a child process: `args` are what follows [`FLAG`].
pub(super) fn main(args: &[String]) -> ExitCode {
    match unblock_signals().and_then(|()| run_child(args)) {
        Ok(values) => {
            let values: Vec<String> = values.iter().map(f64::to_string).collect();
            println!("{}", values.join("\n"));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("compare child {}: {err}", args.join(" "));
            ExitCode::FAILURE
        }
    }
}

/// Unblocks every signal in the calling thread, the child's only thread
/// at this point.
///
/// A process inherits the signal mask of the thread that started it, and
/// the parent's main thread has built hearth runtimes, each of which
/// blocked the signals hearth handles in the building thread (a runtime
/// started on another thread, as `tcp-echo`'s, leaves them blocked). A
/// tokio child would then never see its SIGUSR1; every child starts from
/// the default mask instead, as a freshly started program would.
fn unblock_signals() -> Result<(), String> {
    let mut none = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `none` is valid for writes of one `sigset_t`, which
    // `sigemptyset` initialises.
    if unsafe { libc::sigemptyset(none.as_mut_ptr()) } != 0 {
        return Err(format!("sigemptyset: {}", io::Error::last_os_error()));
    }
    // SAFETY: `none` was initialised above; the old mask is not asked for
    // (null pointer, allowed).
    let err = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, none.as_ptr(), ptr::null_mut()) };
    if err != 0 {
        return Err(format!(
            "pthread_sigmask: {}",
            io::Error::from_raw_os_error(err)
        ));
    }
    Ok(())
}

/// Parses the child's arguments and runs its side of its workload.
fn run_child(args: &[String]) -> Result<Vec<f64>, String> {
    let [family, side, flavour, size] = args else {
        return Err(format!("expected FAMILY SIDE FLAVOUR SIZE, got {args:?}"));
    };
    let family = Family::parse(family)?;
    let side = Side::parse(side)?;
    let flavour = Flavour::parse(flavour)?;
    let size = size
        .parse::<u64>()
        .map_err(|_| format!("invalid size {size:?}"))?;
    match family {
        Family::Memory => memory::child(side, flavour, size),
        Family::Signal => signals::child(side, flavour, size),
        Family::Idle => idle::child(side, flavour, size),
        Family::Skynet => skynet::child(side, flavour, size),
        Family::Tcp(load) => tcp::child(side, tcp::Mode::ThreadLocal, load, flavour, size),
        Family::TcpThreadSafe(load) => tcp::child(side, tcp::Mode::ThreadSafe, load, flavour, size),
    }
}
