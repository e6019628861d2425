//! `hearth sem CMD` (`hearth map --semaphore CMD`): GNU parallel's
//! counting semaphore, so `sem` and `parallel --semaphore` command lines
//! of shell scripts run unchanged.
//!
//! A semaphore is a directory, `~/.cache/hearth/semaphores/id-NAME`
//! (NAME from `--id`, by default the terminal of stdin or `not a tty`),
//! holding one file per slot, `slot-K`. A command takes a slot by
//! locking its file (`flock`, through `File::try_lock`): the kernel drops
//! a lock whose holder died, so a crashed job never leaves its slot
//! taken. With no slot free, `sem` looks again after 1 ms, doubling up
//! to 50 ms.
//!
//! - `--bg` (the default): `sem` takes a slot, leaves a copy of itself
//!   (`fork`) holding it, and exits 0 at once. The copy runs the command
//!   with `SHELL -c` (the shell GNU parallel would pick, `shell.rs`),
//!   stdin as `sem`'s, its stdout and stderr kept aside and printed whole
//!   when it ends (GNU parallel's `--group`); the slot is free as the
//!   command ends, whatever the command left running.
//! - `--fg`: `sem` runs the command itself and exits with its status.
//! - `--wait`: waits until every slot of the semaphore is free at once
//!   (the command, if any, is not run); exit 0.
//! - `-j N` (also `+N`, `-N`, `N%`): the slots, 1 by default (a mutex).
//! - `--st SECS` (`s`, `m`, `h`, `d` suffixes): SECS > 0 runs the command
//!   without a slot once SECS passed; SECS < 0 gives up (exit 1); 0 waits
//!   as long as it takes.
//!
//! The job sees `PARALLEL_SEQ=1` and `PARALLEL_JOBSLOT` as its slot's
//! number (from 1). The command runs as written: no replacement strings
//! (GNU parallel replaces `{}` with nothing).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use clap::Args;

use crate::pool_setup::{self, SlotsSpec};

/// The options of a semaphore, `hearth sem`'s and `hearth map`'s.
// The doc comments here are the `--help` text, printed as written.
#[allow(clippy::doc_markdown, clippy::struct_excessive_bools)] // Flags, each its own option.
#[derive(Clone, Debug, Default, Args)]
pub struct SemOptions {
    /// Work as a counting semaphore, as `hearth sem`: CMD runs once, when
    /// one of the -j slots of the semaphore is free (-j is 1 by default
    /// then); --bg, --fg, --id, --st and --wait imply it.
    #[arg(long)]
    pub semaphore: bool,
    /// Take a slot, run CMD in the background and exit 0 at once (the
    /// default).
    #[arg(long, conflicts_with = "fg")]
    pub bg: bool,
    /// Take a slot and run CMD here: exit with its status.
    #[arg(long)]
    pub fg: bool,
    /// The semaphore's name [default: the terminal of stdin, or "not a
    /// tty"]; in a script, name it ($$ or the task's name).
    #[arg(
        long = "id",
        visible_alias = "semaphore-name",
        alias = "semaphorename",
        value_name = "NAME"
    )]
    pub semaphore_name: Option<String>,
    /// With no slot free for SECS seconds (s, m, h, d suffixes): run CMD
    /// anyway if SECS > 0, give up (exit 1) if SECS < 0.
    #[arg(
        long = "st",
        visible_alias = "semaphore-timeout",
        alias = "semaphoretimeout",
        value_name = "SECS",
        allow_negative_numbers = true,
        value_parser = parse_seconds
    )]
    pub semaphore_timeout: Option<f64>,
    /// Wait until every command of the semaphore ended (CMD is not run).
    #[arg(long)]
    pub wait: bool,
}

impl SemOptions {
    /// True if an option here asks for the semaphore (GNU parallel's
    /// `--bg`, `--fg`, `--id`, `--st` and `--wait` imply `--semaphore`).
    pub fn any(&self) -> bool {
        self.semaphore
            || self.bg
            || self.fg
            || self.semaphore_name.is_some()
            || self.semaphore_timeout.is_some()
            || self.wait
    }
}

/// The options of `hearth sem`.
#[allow(clippy::doc_markdown)]
#[derive(Clone, Debug, Args)]
pub struct SemArgs {
    /// How many commands hold the semaphore at once [default: 1]: N,
    /// N% of the cores, +N or -N (the cores plus or less N).
    #[arg(short = 'j', long = "jobs", short_alias = 'P', alias = "max-procs", value_name = "N", value_parser = SlotsSpec::parse, allow_hyphen_values = true)]
    pub slots: Option<SlotsSpec>,
    /// The semaphore's options.
    #[command(flatten)]
    pub options: SemOptions,
    /// Accepted as GNU parallel's sem takes it: the command reads sem's
    /// stdin either way.
    #[arg(long)]
    pub pipe: bool,
    /// The command and its arguments, joined by spaces and run with
    /// SHELL -c (the shell hearth map takes).
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Exit status of a run that could not take the semaphore in time, or of
/// an error of its own.
const GAVE_UP: u8 = 1;

/// Runs `command` under the semaphore `options` name, with `slots` slots.
pub fn run(slots: Option<SlotsSpec>, options: &SemOptions, command: &[OsString]) -> ExitCode {
    let name = options.semaphore_name.clone().unwrap_or_else(terminal_name);
    let dir = match semaphore_dir(&name) {
        Ok(dir) => dir,
        Err(err) => {
            eprintln!("hearth sem: the semaphore {name:?}: {err}");
            return ExitCode::from(GAVE_UP);
        }
    };
    if options.wait {
        return match wait_all(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("hearth sem: waiting for the semaphore {name:?}: {err}");
                ExitCode::from(GAVE_UP)
            }
        };
    }
    if command.is_empty() {
        return ExitCode::SUCCESS;
    }
    let slots = slots.map_or(1, |spec| spec.slots(pool_setup::cores()));
    // `--st 0` waits as long as it takes, as GNU parallel's.
    let patience = options
        .semaphore_timeout
        .filter(|secs| *secs != 0.0)
        .map(|secs| (Duration::from_secs_f64(secs.abs().min(1e9)), secs >= 0.0));
    let held = match take(&dir, slots, patience) {
        Ok(Taken::Slot(file, number)) => Some((file, number)),
        Ok(Taken::Anyway) => None,
        Ok(Taken::GaveUp) => {
            eprintln!(
                "hearth sem: no slot of the semaphore {name:?} was freed within {} s; not run",
                options.semaphore_timeout.unwrap_or_default().abs()
            );
            return ExitCode::from(GAVE_UP);
        }
        Err(err) => {
            eprintln!("hearth sem: the semaphore {name:?}: {err}");
            return ExitCode::from(GAVE_UP);
        }
    };
    let line = command
        .iter()
        .map(|word| word.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let slot = held.as_ref().map_or(1, |(_, number)| number + 1);
    // The shell GNU parallel would pick (`shell.rs`), looked for here:
    // a background copy's parent is gone.
    let shell = crate::shell::program(crate::shell::choose().as_deref());
    if options.fg {
        let status = job(&shell, &line, slot).status();
        drop(held);
        return match status {
            Ok(status) => ExitCode::from(exit_code(status)),
            Err(err) => {
                eprintln!("hearth sem: cannot start sh: {err}");
                ExitCode::from(GAVE_UP)
            }
        };
    }
    background(&shell, &line, slot, held)
}

/// How a slot was taken.
enum Taken {
    /// Slot `usize` (from 0), locked by the file.
    Slot(File, usize),
    /// None was free in time and the command runs anyway (`--st` > 0).
    Anyway,
    /// None was free in time (`--st` < 0).
    GaveUp,
}

/// Takes a free slot of the `slots` of `dir`, waiting as `patience`
/// says (how long, and whether to run anyway after it).
fn take(dir: &Path, slots: usize, patience: Option<(Duration, bool)>) -> io::Result<Taken> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        for number in 0..slots {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("slot-{number}")))?;
            match file.try_lock() {
                Ok(()) => return Ok(Taken::Slot(file, number)),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(err)) => return Err(err),
            }
        }
        if let Some((limit, anyway)) = patience
            && start.elapsed() >= limit
        {
            return Ok(if anyway { Taken::Anyway } else { Taken::GaveUp });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Waits until every slot of `dir` is free: holds each in turn, then
/// lets them all go.
fn wait_all(dir: &Path) -> io::Result<()> {
    // In the slots' order: two waits never hold one each of two slots.
    let mut slots: Vec<(usize, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let number = path
            .file_name()
            .and_then(|name| name.to_str()?.strip_prefix("slot-")?.parse().ok());
        if let Some(number) = number {
            slots.push((number, path));
        }
    }
    slots.sort_unstable();
    let mut held = Vec::new();
    for (_, path) in slots {
        let file = OpenOptions::new().write(true).open(&path)?;
        file.lock()?;
        held.push(file);
    }
    Ok(())
}

/// `SHELL -c LINE` as the job in slot `slot` (from 1).
fn job(shell: &Path, line: &str, slot: usize) -> Command {
    let mut cmd = Command::new(shell);
    let _ = cmd
        .arg("-c")
        .arg(line)
        .env("PARALLEL_SEQ", "1")
        .env("PARALLEL_JOBSLOT", slot.to_string());
    cmd
}

/// Leaves a copy of this process holding the slot and running the job,
/// and exits 0.
fn background(shell: &Path, line: &str, slot: usize, held: Option<(File, usize)>) -> ExitCode {
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: `hearth sem` has started no thread (it parsed its words and
    // looked at files), so the copy gets a whole process; it only runs
    // the job below and exits.
    match unsafe { libc::fork() } {
        -1 => {
            eprintln!("hearth sem: cannot fork: {}", io::Error::last_os_error());
            ExitCode::from(GAVE_UP)
        }
        0 => {
            let code = run_grouped(job(shell, line, slot), held);
            std::process::exit(i32::from(code));
        }
        _ => ExitCode::SUCCESS,
    }
}

/// Runs the job with its stdout and stderr kept aside; lets the slot go
/// (`held`) as it ends, then prints them whole: its exit code.
fn run_grouped(mut job: Command, held: Option<(File, usize)>) -> u8 {
    let what = "a background command's output";
    let kept = match (
        crate::block_file::unnamed_file(what),
        crate::block_file::unnamed_file(what),
    ) {
        (Ok(out), Ok(err)) => match (out.try_clone(), err.try_clone()) {
            (Ok(o), Ok(e)) => {
                let _ = job.stdout(Stdio::from(o)).stderr(Stdio::from(e));
                Some((out, err))
            }
            _ => None,
        },
        // Nowhere to keep them: straight through.
        _ => None,
    };
    let status = job.status();
    drop(held);
    if let Some((mut out, mut err)) = kept {
        for (file, to) in [
            (&mut out, &mut io::stdout() as &mut dyn Write),
            (&mut err, &mut io::stderr()),
        ] {
            if file.rewind().is_ok() {
                let _ = io::copy(file, to);
                let _ = to.flush();
            }
        }
    }
    status.map_or(GAVE_UP, exit_code)
}

/// A process's exit status as a shell gives it: its code, or 128 + the
/// signal that killed it.
fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(1);
    u8::try_from(code.clamp(0, 255)).unwrap_or(u8::MAX)
}

/// The terminal of stdin (what `tty` prints), or "not a tty".
fn terminal_name() -> String {
    match fs::read_link("/proc/self/fd/0") {
        Ok(path) if path.starts_with("/dev/pts") || path.starts_with("/dev/tty") => {
            path.display().to_string()
        }
        _ => "not a tty".to_owned(),
    }
}

/// The directory of semaphore `name` (made if missing): under
/// `~/.cache/hearth/semaphores`, or the temporary directory without a
/// home; the name with bytes other than letters, digits, `.`, `_` and
/// `-` written `%XX`.
fn semaphore_dir(name: &str) -> io::Result<PathBuf> {
    let base = match std::env::var_os("HOME").filter(|home| !home.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/hearth/semaphores"),
        // SAFETY: `getuid` cannot fail and touches no memory.
        None => {
            std::env::temp_dir().join(format!("hearth-semaphores-{}", unsafe { libc::getuid() }))
        }
    };
    let mut file_name = String::from("id-");
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            file_name.push(char::from(byte));
        } else {
            let _ = write!(file_name, "%{byte:02X}");
        }
    }
    let dir = base.join(file_name);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    // Not another user's (a shared temporary directory).
    // SAFETY: `getuid` cannot fail and touches no memory.
    let me = unsafe { libc::getuid() };
    for made in [&base, &dir] {
        if fs::symlink_metadata(made)?.uid() != me {
            return Err(io::Error::other(format!(
                "{} belongs to another user",
                made.display()
            )));
        }
    }
    Ok(dir)
}

/// `--st`'s value: seconds, with an `s`, `m`, `h` or `d` suffix, and a
/// sign.
fn parse_seconds(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((at, 's')) => (&text[..at], 1.0),
        Some((at, 'm')) => (&text[..at], 60.0),
        Some((at, 'h')) => (&text[..at], 3600.0),
        Some((at, 'd')) => (&text[..at], 86400.0),
        _ => (text, 1.0),
    };
    number
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite())
        .map(|secs| secs * unit)
        .ok_or_else(|| format!("{text:?}: give seconds, e.g. 10, -0.5, 2m"))
}

#[cfg(test)]
mod tests {
    use super::{exit_code, parse_seconds, semaphore_dir};

    #[test]
    fn timeouts_take_a_sign_and_a_unit() {
        assert_eq!(parse_seconds("10"), Ok(10.0));
        assert_eq!(parse_seconds("-0.5"), Ok(-0.5));
        assert_eq!(parse_seconds("2m"), Ok(120.0));
        assert_eq!(parse_seconds("1d"), Ok(86400.0));
        assert!(parse_seconds("soon").is_err());
        assert!(parse_seconds("inf").is_err());
    }

    #[test]
    fn names_become_one_directory_each() {
        let a = semaphore_dir("hearth-test/a b").unwrap();
        assert!(a.ends_with("id-hearth-test%2Fa%20b"), "{}", a.display());
        assert!(a.is_dir());
        std::fs::remove_dir(&a).unwrap();
    }

    #[test]
    fn a_killed_job_exits_as_a_shell_says() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(std::process::ExitStatus::from_raw(9)), 137);
    }
}
