//! [`Throttle`]: when the slots on the pool's own machine may start jobs,
//! by that machine's load and available memory (GNU parallel's `--load`
//! and `--memfree`), and the readings of `/proc` it goes by. The engine
//! holds the gate (`engine/gate.rs`); this file says what is read and how.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a closed gate looks at the machine again, by default.
pub const DEFAULT_THROTTLE_INTERVAL: Duration = Duration::from_secs(1);

/// When the slots on the pool's own machine (hosts with
/// [`Transport::Local`](crate::remote::Transport::Local)) may start jobs:
/// not while the machine is loaded, not while its memory runs short, as
/// GNU parallel's `--load` and `--memfree`. Given to
/// [`PoolBuilder::throttle`](crate::remote::PoolBuilder::throttle).
///
/// A job waiting for such a slot is not handed out while either limit is
/// passed; the pool looks at the machine again every
/// [`interval`](Throttle::interval) (1 s by default) and hands it out once
/// both are met. Slots on other machines (ssh, Slurm, a launcher) are not
/// held: their load is their machine's, which the pool does not read.
///
/// # Examples
///
/// ```
/// use hearth::remote::{Host, Pool, Throttle};
///
/// // Start no job while 4 processes or more run, or while less than
/// // 2 GiB of memory is available.
/// let throttle = Throttle::new()
///     .max_load(4.0)
///     .min_available_memory(2 << 30);
/// let builder = Pool::builder().host(Host::local(4)).throttle(throttle);
/// # drop(builder);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "a throttle holds nothing back until it is given to a pool"]
pub struct Throttle {
    max_load: Option<f64>,
    min_available: Option<u64>,
    proc_dir: PathBuf,
    interval: Duration,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new()
    }
}

impl Throttle {
    /// A throttle that holds nothing back until a limit is set.
    pub fn new() -> Throttle {
        Throttle {
            max_load: None,
            min_available: None,
            proc_dir: PathBuf::from("/proc"),
            interval: DEFAULT_THROTTLE_INTERVAL,
        }
    }

    /// Starts no job while `load` processes or more are running, or
    /// ready to run, on this machine (at least 0.01: with less than 1, a
    /// job starts only on an idle machine).
    ///
    /// The load is the machine's now, as GNU parallel's `--load` counts
    /// it, not the averages `uptime` shows: the threads running or
    /// runnable (the fourth field of `/proc/loadavg`), less the pool's own
    /// thread that reads it. Jobs handed out since the last reading count
    /// as running until the next, so one pass over idle slots does not
    /// start more jobs than the limit leaves room for.
    pub fn max_load(mut self, load: f64) -> Self {
        self.max_load = Some(load.max(0.01));
        self
    }

    /// Starts no job while less than `bytes` of memory is available on
    /// this machine (`MemAvailable` in `/proc/meminfo`), as GNU parallel's
    /// `--memfree`; and while jobs run there, looks every
    /// [`interval`](Throttle::interval): below half of `bytes`, the youngest
    /// job on this machine's slots is killed (with its worker, which the
    /// pool starts again). That job has failed on its own
    /// ([`JobFailure::LowMemory`](crate::remote::JobFailure::LowMemory)): it runs again
    /// (once there is memory) only within the pool's
    /// [`retries`](crate::remote::PoolBuilder::retries).
    pub fn min_available_memory(mut self, bytes: u64) -> Self {
        self.min_available = Some(bytes);
        self
    }

    /// Reads `loadavg` and `meminfo` in `dir` instead of `/proc`: a
    /// directory laid out as `/proc`, e.g. the view of a container's own
    /// limits (lxcfs), or files a test writes.
    pub fn proc_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.proc_dir = dir.into();
        self
    }

    /// How often a closed gate looks at the machine again, and how often
    /// the memory is looked at while jobs run; default
    /// [`DEFAULT_THROTTLE_INTERVAL`] (1 s), at least 1 ms.
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every.max(Duration::from_millis(1));
        self
    }

    /// True if a limit is set.
    pub fn limits(&self) -> bool {
        self.max_load.is_some() || self.min_available.is_some()
    }

    /// Reads what the limits go by once, to learn early that it cannot be
    /// read (a pool whose readings fail starts no job on this machine,
    /// as GNU parallel does with a load it cannot know).
    ///
    /// # Errors
    ///
    /// A file that cannot be read or whose contents are not what Linux
    /// writes there; the message names it.
    pub fn check(&self) -> io::Result<()> {
        self.read().map(|_| ())
    }

    pub(crate) fn max_load_value(&self) -> Option<f64> {
        self.max_load
    }

    pub(crate) fn min_available_value(&self) -> Option<u64> {
        self.min_available
    }

    pub(crate) fn interval_value(&self) -> Duration {
        self.interval
    }

    /// Reads what the limits go by.
    pub(crate) fn read(&self) -> io::Result<Reading> {
        let running = match self.max_load {
            Some(_) => Some(read_running(&self.proc_dir.join("loadavg"))?),
            None => None,
        };
        let available = match self.min_available {
            Some(_) => Some(read_available(&self.proc_dir.join("meminfo"))?),
            None => None,
        };
        Ok(Reading { running, available })
    }
}

/// What a [`Throttle`] read of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reading {
    /// Threads running or runnable, less the reader.
    pub(crate) running: Option<u32>,
    /// Bytes of memory available.
    pub(crate) available: Option<u64>,
}

/// `path`'s contents, with its name in an error.
fn read_named(path: &Path) -> io::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|err| io::Error::new(err.kind(), format!("cannot read {}: {err}", path.display())))
}

/// An error for contents of `path` that are not Linux's.
fn not_linux(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} does not say {what} as Linux writes it", path.display()),
    )
}

/// The threads running or runnable now, from `loadavg`'s fourth field
/// (`running/total`), less one: the thread reading it.
fn read_running(path: &Path) -> io::Result<u32> {
    let text = read_named(path)?;
    parse_running(&text)
        .map(|running| running.saturating_sub(1))
        .ok_or_else(|| not_linux(path, "the running processes"))
}

fn parse_running(text: &str) -> Option<u32> {
    let field = text.split_whitespace().nth(3)?;
    field.split_once('/')?.0.parse().ok()
}

/// The bytes of memory available, from `meminfo`'s `MemAvailable` (on
/// kernels before 3.14, which lack it, `MemFree` + `Buffers` + `Cached` +
/// `SwapCached`, as GNU parallel sums them).
fn read_available(path: &Path) -> io::Result<u64> {
    let text = read_named(path)?;
    parse_available(&text).ok_or_else(|| not_linux(path, "the memory available"))
}

fn parse_available(text: &str) -> Option<u64> {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            if key.trim() != name {
                return None;
            }
            let mut words = value.split_whitespace();
            let number: u64 = words.next()?.parse().ok()?;
            let unit = match words.next() {
                None => 1,
                Some("kB") => 1024,
                Some(_) => return None,
            };
            number.checked_mul(unit)
        })
    };
    field("MemAvailable").or_else(|| {
        ["MemFree", "Buffers", "Cached", "SwapCached"]
            .iter()
            .map(|name| field(name))
            .sum()
    })
}

/// Bytes for a message: `1.5 GiB`, `512 KiB`, `100 B`.
pub(crate) struct Bytes(pub(crate) u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut unit = 0;
        let mut scaled = self.0;
        while scaled >= 10 * 1024 && unit + 1 < UNITS.len() {
            scaled /= 1024;
            unit += 1;
        }
        write!(f, "{scaled} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::{Bytes, parse_available, parse_running};

    #[test]
    fn running_is_the_fourth_field_of_loadavg() {
        assert_eq!(parse_running("0.52 0.58 0.59 3/512 12345\n"), Some(3));
        assert_eq!(parse_running("0.52 0.58 0.59"), None);
        assert_eq!(parse_running("a b c x/y 1"), None);
    }

    #[test]
    fn available_is_mem_available_or_the_sum_of_the_free_kinds() {
        let text = "MemTotal:       16000000 kB\nMemFree:         1000 kB\n\
                    MemAvailable:    2000 kB\nBuffers: 10 kB\n";
        assert_eq!(parse_available(text), Some(2000 * 1024));
        let old = "MemFree: 1 kB\nBuffers: 2 kB\nCached: 3 kB\nSwapCached: 4 kB\n";
        assert_eq!(parse_available(old), Some(10 * 1024));
        assert_eq!(parse_available("MemAvailable: lots\n"), None);
        assert_eq!(parse_available(""), None);
    }

    #[test]
    fn bytes_are_shown_in_binary_units() {
        assert_eq!(Bytes(100).to_string(), "100 B");
        assert_eq!(Bytes(512 * 1024).to_string(), "512 KiB");
        assert_eq!(Bytes(3 << 30).to_string(), "3072 MiB");
        assert_eq!(Bytes(30 << 30).to_string(), "30 GiB");
    }
}
