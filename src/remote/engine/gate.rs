//! The start gate of the slots on the pool's own machine: with a
//! [`Throttle`], dispatch asks the gate before it hands such a slot a job,
//! and the gate says no while the machine's load or its available memory
//! is past the throttle's limits (GNU parallel's `--load`, `--memfree`).
//! A pool without a throttle has no gate, and dispatch asks nothing.
//!
//! | state | on `open` | next look |
//! |:--|:--|:--|
//! | reading fresh (under [`FRESH`]) | its verdict, the jobs handed out since it counted as running | - |
//! | reading stale or none | reads `/proc` first | - |
//! | closed by the reading (or it failed) | no | after the throttle's interval |
//! | closed only by the jobs handed out since the reading | no | after [`SETTLE`], when they show in a reading |
//!
//! While jobs run on those slots and the throttle keeps memory free, the
//! engine looks at the memory every interval as well (`Engine::tend_gate`):
//! below half the floor, the youngest of those jobs is killed, as GNU
//! parallel kills it.

use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::Registry;

use super::Engine;
use crate::remote::throttle::{Bytes, Reading, Throttle};
use crate::remote::{JobFailure, transfer};

/// How long a reading stands for the jobs handed out after it (each
/// counted as running until the next reading).
const FRESH: Duration = Duration::from_millis(10);

/// How long a gate closed only by the jobs it just let through waits
/// before it reads again: time for them to show in the machine's load.
const SETTLE: Duration = Duration::from_millis(10);

/// Why the gate is closed, as it was last said.
#[derive(Clone, Debug, PartialEq)]
enum Closed {
    /// Too many processes run.
    Load { running: u32, max: f64 },
    /// Too little memory is available.
    Memory { available: u64, min: u64 },
    /// The machine could not be read.
    Unread(String),
}

/// The gate of the slots on the pool's own machine.
#[derive(Debug)]
pub(super) struct Gate {
    throttle: Throttle,
    /// The last reading (or why it failed) and when it was taken.
    last: Option<(Result<Reading, String>, Instant)>,
    /// Jobs handed out since the last reading.
    handed: u32,
    /// No job is handed out before this.
    closed_until: Option<Instant>,
    /// Why it is closed, as logged (none once it opened again).
    said: Option<Closed>,
    /// While jobs run on the gated slots and memory is kept free: when the
    /// memory is looked at next.
    memory_look: Option<Instant>,
}

impl Gate {
    pub(super) fn new(throttle: Throttle) -> Gate {
        Gate {
            throttle,
            last: None,
            handed: 0,
            closed_until: None,
            said: None,
            memory_look: None,
        }
    }

    /// True if a job may be handed to a slot on this machine now; if not,
    /// the gate stays closed until its next look.
    pub(super) fn open(&mut self, now: Instant) -> bool {
        if self.closed_until.is_some_and(|until| now < until) {
            return false;
        }
        self.closed_until = None;
        let (why, by_jobs_just_handed) = match self.reading(now) {
            Err(why) => (Some(Closed::Unread(why)), false),
            Ok(reading) => (
                self.limit_passed(reading, 0),
                self.limit_passed(reading, self.handed).is_some(),
            ),
        };
        if let Some(why) = why {
            self.closed_until = Some(now + self.throttle.interval_value());
            self.say(Some(why));
            return false;
        }
        if by_jobs_just_handed {
            self.closed_until = Some(now + SETTLE);
            return false;
        }
        self.say(None);
        true
    }

    /// Counts a job handed to a slot on this machine: running, until the
    /// next reading shows it.
    pub(super) fn handed(&mut self) {
        self.handed = self.handed.saturating_add(1);
    }

    /// The earliest time the gate has something to do: its next look
    /// while closed and jobs wait, its next look at the memory.
    pub(super) fn next_deadline(&self, jobs_wait: bool) -> Option<Instant> {
        let closed = self.closed_until.filter(|_| jobs_wait);
        match (closed, self.memory_look) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The last reading if fresh, else a new one.
    fn reading(&mut self, now: Instant) -> Result<Reading, String> {
        if let Some((reading, at)) = &self.last
            && now.saturating_duration_since(*at) < FRESH
        {
            return reading.clone();
        }
        let reading = self.throttle.read().map_err(|err| err.to_string());
        match &reading {
            Ok(Reading { running, available }) => {
                debug!(running:? = running, available:? = available; "this machine read");
            }
            Err(why) => debug!("this machine could not be read: {why}"),
        }
        self.last = Some((reading.clone(), now));
        self.handed = 0;
        reading
    }

    /// Which limit `reading` passes, with `more` jobs running than it
    /// shows.
    fn limit_passed(&self, reading: Reading, more: u32) -> Option<Closed> {
        if let (Some(max), Some(running)) = (self.throttle.max_load_value(), reading.running) {
            let running = running.saturating_add(more);
            if f64::from(running) >= max {
                return Some(Closed::Load { running, max });
            }
        }
        if let (Some(min), Some(available)) =
            (self.throttle.min_available_value(), reading.available)
            && available < min
        {
            return Some(Closed::Memory { available, min });
        }
        None
    }

    /// Logs the gate closing (`Some`) or opening again (`None`), once per
    /// change.
    fn say(&mut self, closed: Option<Closed>) {
        let changed = match (&self.said, &closed) {
            (None, None) => false,
            (Some(Closed::Unread(a)), Some(Closed::Unread(b))) => a != b,
            (Some(a), Some(b)) => std::mem::discriminant(a) != std::mem::discriminant(b),
            _ => true,
        };
        if !changed {
            return;
        }
        match &closed {
            Some(Closed::Load { running, max }) => info!(
                "not starting jobs on this machine: {running} processes running, the most is {max}"
            ),
            Some(Closed::Memory { available, min }) => info!(
                "not starting jobs on this machine: {} of memory available, the least is {}",
                Bytes(*available),
                Bytes(*min)
            ),
            Some(Closed::Unread(why)) => {
                warn!("not starting jobs on this machine: its load and memory are unknown: {why}");
            }
            None => info!("starting jobs on this machine again"),
        }
        self.said = closed;
    }
}

impl Engine {
    /// True if slot `index` is behind the gate: the pool has one, and the
    /// slot is on the pool's own machine.
    pub(super) fn gated(&self, index: usize) -> bool {
        self.gate.is_some()
            && self
                .slots
                .get(index)
                .is_some_and(|entry| transfer::is_shared(&self.hosts[entry.host].transport))
    }

    /// The gate's rounds while jobs run: with a memory floor, looks at the
    /// memory every interval and, below half the floor, kills the youngest
    /// job on this machine's slots, as GNU parallel does.
    pub(super) fn tend_gate(&mut self, registry: &Registry, now: Instant) {
        let Some(gate) = self.gate.as_mut() else {
            return;
        };
        // A look that has passed is taken by the next `open`.
        if gate.closed_until.is_some_and(|until| until <= now) {
            gate.closed_until = None;
        }
        let Some(min) = gate.throttle.min_available_value() else {
            return;
        };
        let youngest = self.youngest_gated_job();
        let Some(gate) = self.gate.as_mut() else {
            return;
        };
        let Some(index) = youngest else {
            gate.memory_look = None;
            return;
        };
        match gate.memory_look {
            None => {
                gate.memory_look = Some(now + gate.throttle.interval_value());
                return;
            }
            Some(at) if at > now => return,
            Some(_) => gate.memory_look = Some(now + gate.throttle.interval_value()),
        }
        let Ok(Reading {
            available: Some(available),
            ..
        }) = gate.reading(now)
        else {
            return;
        };
        if available >= min / 2 {
            return;
        }
        warn!(
            "{} of memory available on this machine, less than half of the {} kept free: \
             killing its youngest job",
            Bytes(available),
            Bytes(min)
        );
        let failure = JobFailure::LowMemory {
            available,
            floor: min,
        };
        self.end_running_job(registry, index, "which was killed for memory", failure);
    }

    /// The slot on this machine whose running job started last.
    fn youngest_gated_job(&self) -> Option<usize> {
        (0..self.slots.len())
            .filter(|&index| self.gated(index))
            .filter_map(|index| {
                let slot = self.slots[index].slot.as_ref()?;
                let (job, _) = slot.in_flight.first()?;
                let started = self.jobs.started(*job)?;
                Some((started, index))
            })
            .max()
            .map(|(_, index)| index)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::{Duration, Instant};

    use super::{FRESH, Gate, SETTLE};
    use crate::remote::Throttle;

    /// A directory laid out as `/proc`, with these `loadavg` and `meminfo`.
    fn proc_dir(running: u32, available_kib: u64) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "hearth-gate-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        fs::create_dir_all(&dir).unwrap();
        write(&dir, running, available_kib);
        dir
    }

    fn write(dir: &std::path::Path, running: u32, available_kib: u64) {
        fs::write(
            dir.join("loadavg"),
            format!("0.00 0.00 0.00 {running}/500 1234\n"),
        )
        .unwrap();
        fs::write(
            dir.join("meminfo"),
            format!("MemTotal: 99999999 kB\nMemAvailable: {available_kib} kB\n"),
        )
        .unwrap();
    }

    /// The load counts the jobs just handed out until a reading shows
    /// them; a machine at its limit closes the gate until the next look.
    #[test]
    fn the_load_limit_counts_the_jobs_just_handed_out() {
        // 2 running, the reader one of them: 1 other.
        let dir = proc_dir(2, 1 << 20);
        let throttle = Throttle::new()
            .max_load(3.0)
            .proc_dir(&dir)
            .interval(Duration::from_secs(1));
        let mut gate = Gate::new(throttle);
        let now = Instant::now();
        assert!(gate.open(now));
        gate.handed();
        assert!(gate.open(now));
        gate.handed();
        // 1 running and 2 handed out: 3, the limit.
        assert!(!gate.open(now));
        assert_eq!(gate.next_deadline(true), Some(now + SETTLE));
        assert_eq!(gate.next_deadline(false), None);
        // Later, the reading shows them: the machine is at its limit.
        write(&dir, 4, 1 << 20);
        let later = now + SETTLE.max(FRESH);
        assert!(!gate.open(later));
        assert_eq!(
            gate.next_deadline(true),
            Some(later + Duration::from_secs(1))
        );
        assert!(
            !gate.open(later + Duration::from_millis(500)),
            "before its look"
        );
        write(&dir, 1, 1 << 20);
        assert!(gate.open(later + Duration::from_secs(1)));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn too_little_memory_or_no_reading_closes_the_gate() {
        let dir = proc_dir(1, 1000);
        let throttle = Throttle::new()
            .min_available_memory(2000 * 1024)
            .proc_dir(&dir);
        let mut gate = Gate::new(throttle);
        let now = Instant::now();
        assert!(!gate.open(now));
        write(&dir, 1, 3000);
        assert!(gate.open(now + Duration::from_secs(1)));
        // The memory does not count the jobs handed out.
        gate.handed();
        assert!(gate.open(now + Duration::from_secs(1)));
        fs::remove_dir_all(&dir).unwrap();
        let mut gate = Gate::new(Throttle::new().max_load(1.0).proc_dir(&dir));
        assert!(!gate.open(now), "a machine that cannot be read is closed");
    }
}
