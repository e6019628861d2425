//! Live processes counted by name and kind, kept by the schedulers and read
//! from any thread: the metrics (`WorkerMetrics::processes`) and the
//! report of what was still running when a grace period ended.
//!
//! A [`Census`] is a list of counters, one per (name, kind), shared with
//! readers behind a lock that is taken only when a name is seen for the
//! first time and when the census is read. Each writer (a worker's local
//! scheduler, a shard of the shared one) keeps a [`CensusTally`]: its own
//! copy of the list, searched without a lock by the address of the
//! process's full type name (a constant), and the counters are atomics.
//! The name itself, shortened from the type name, is worked out once per
//! type and writer, when the type is first seen. Counting a spawn or an
//! end costs a short scan and one uncontended atomic operation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::metrics::{ProcessCount, ProcessKind};

/// The counters of one set of processes (a worker's, or the thread-safe
/// ones).
#[derive(Debug, Default)]
pub(crate) struct Census {
    entries: Mutex<Vec<Arc<Entry>>>,
}

#[derive(Debug)]
struct Entry {
    /// The process type's full name, told apart by its address.
    key: &'static str,
    name: &'static str,
    kind: ProcessKind,
    count: AtomicUsize,
}

impl Census {
    /// The live processes by name and kind (names that several process
    /// types share are added up), by name.
    pub(crate) fn counts(&self) -> Vec<ProcessCount> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut counts: Vec<ProcessCount> = Vec::new();
        for entry in entries.iter() {
            let count = entry.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            match counts
                .iter_mut()
                .find(|c| c.name == entry.name && c.kind == entry.kind)
            {
                Some(same) => same.count += count,
                None => counts.push(ProcessCount {
                    name: entry.name,
                    kind: entry.kind,
                    count,
                }),
            }
        }
        counts.sort_by(|a, b| (a.kind, a.name).cmp(&(b.kind, b.name)));
        counts
    }
}

/// One writer's way into a [`Census`].
#[derive(Debug)]
pub(crate) struct CensusTally {
    census: Arc<Census>,
    /// The census's entries this writer has used, by index.
    known: Vec<Arc<Entry>>,
}

impl CensusTally {
    pub(crate) fn new(census: Arc<Census>) -> CensusTally {
        CensusTally {
            census,
            known: Vec::new(),
        }
    }

    /// Counts a new process of the type `key` (its full type name, see
    /// `Process::type_key`), named by `name` (called only the first time
    /// this writer sees the type); returns its entry, to give to
    /// [`CensusTally::ended`].
    pub(crate) fn started(
        &mut self,
        key: &'static str,
        name: fn() -> &'static str,
        kind: ProcessKind,
    ) -> u32 {
        let found = self
            .known
            .iter()
            .position(|e| std::ptr::eq(e.key, key) && e.kind == kind);
        let index = match found {
            Some(index) => index,
            None => {
                let entry = Arc::new(Entry {
                    key,
                    name: name(),
                    kind,
                    count: AtomicUsize::new(0),
                });
                self.census
                    .entries
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(entry.clone());
                self.known.push(entry);
                self.known.len() - 1
            }
        };
        let _ = self.known[index].count.fetch_add(1, Ordering::Relaxed);
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    /// Counts the end of a process counted by [`CensusTally::started`].
    pub(crate) fn ended(&self, entry: u32) {
        if let Some(entry) = self.known.get(entry as usize) {
            let _ = entry.count.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_name_and_kind() {
        let census = Arc::new(Census::default());
        let mut tally = CensusTally::new(census.clone());
        let echo = tally.started("a::echo", || "echo", ProcessKind::Actor);
        let _ = tally.started("a::echo", || "echo", ProcessKind::Actor);
        let _ = tally.started("a::tick", || "tick", ProcessKind::Future);
        // Two types of one name are added up.
        let _ = tally.started("b::tick", || "tick", ProcessKind::Future);
        tally.ended(echo);
        let counts = census.counts();
        assert_eq!(
            counts,
            [
                ProcessCount {
                    name: "echo",
                    kind: ProcessKind::Actor,
                    count: 1
                },
                ProcessCount {
                    name: "tick",
                    kind: ProcessKind::Future,
                    count: 2
                },
            ]
        );
    }

    #[test]
    fn two_writers_share_one_census() {
        let census = Arc::new(Census::default());
        let mut a = CensusTally::new(census.clone());
        let mut b = CensusTally::new(census.clone());
        let from_a = a.started("s::store", || "store", ProcessKind::Actor);
        let _ = b.started("s::store", || "store", ProcessKind::Actor);
        a.ended(from_a);
        let _ = a.started("s::store", || "store", ProcessKind::Actor);
        assert_eq!(census.counts()[0].count, 2);
        assert_eq!(census.counts().len(), 1);
    }
}
