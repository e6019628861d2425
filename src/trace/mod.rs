//! Tracing the runtime (`Setup::trace`): each run of an actor or future
//! (when, how long, which worker, its name) and the wake-ups of timers and
//! I/O, written compactly while the runtime runs, and converted afterwards
//! to Chrome's trace-event JSON ([`to_chrome_json`], `hearth trace PATH`),
//! which Perfetto and `chrome://tracing` show.
//!
//! Off, it costs one relaxed atomic load per run. On, each worker keeps
//! its records in a buffer of its own and appends it to the file in whole
//! blocks (64 KiB, and when the thread ends); names are written once, the
//! first time any worker uses them.
//!
//! # File format
//!
//! `HRTHTRC1`, then the Unix time in nanoseconds of the trace's clock
//! origin (u64, little-endian), then records, each a tag byte:
//!
//! - `1` name: id (u32), length (u16), UTF-8 bytes;
//! - `2` run: worker (u16), kind (u8: 0 thread-local, 1 thread-safe),
//!   name id (u32), start and duration (u64 nanoseconds from the origin);
//! - `3` wake-up: worker (u16), cause (u8: 0 timers, 1 I/O), time (u64
//!   nanoseconds), how many tasks (u32).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

mod chrome;

use crate::scheduler::Process;

pub use chrome::to_chrome_json;

pub(crate) const MAGIC: &[u8; 8] = b"HRTHTRC1";
pub(crate) const NAME: u8 = 1;
pub(crate) const RUN: u8 = 2;
pub(crate) const WAKE: u8 = 3;

/// A worker's buffer is appended to the file once it is this large.
const FLUSH_AT: usize = 64 * 1024;

/// What ran.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum RunKind {
    ThreadLocal = 0,
    ThreadSafe = 1,
}

/// What woke tasks up.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub(crate) enum WakeCause {
    Timers = 0,
    Io = 1,
}

/// The trace file of a runtime, shared by its workers.
pub(crate) struct TraceFile {
    file: Mutex<File>,
    origin: Instant,
    /// Name ids, by the name's address and length.
    names: Mutex<HashMap<(usize, usize), u32>>,
}

impl TraceFile {
    /// Creates (or truncates) the file at `path` and writes the header.
    pub(crate) fn create(path: &Path) -> io::Result<TraceFile> {
        let mut file = File::create(path)?;
        let origin = Instant::now();
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        file.write_all(MAGIC)?;
        file.write_all(&unix.to_le_bytes())?;
        Ok(TraceFile {
            file: Mutex::new(file),
            origin,
            names: Mutex::new(HashMap::new()),
        })
    }

    fn file(&self) -> MutexGuard<'_, File> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The id of `name`, written to the file the first time.
    fn name_id(&self, name: &'static str) -> u32 {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        let key = (name.as_ptr() as usize, name.len());
        if let Some(id) = names.get(&key) {
            return *id;
        }
        let id = u32::try_from(names.len()).unwrap_or(u32::MAX);
        let _ = names.insert(key, id);
        let bytes = &name.as_bytes()[..name.len().min(usize::from(u16::MAX))];
        let mut record = Vec::with_capacity(7 + bytes.len());
        record.push(NAME);
        record.extend_from_slice(&id.to_le_bytes());
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX); // Cut to fit above.
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(bytes);
        // Under the names lock: a run using the id is written after it.
        let _ = self.file().write_all(&record);
        id
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// A worker thread's side of the trace.
struct WorkerTrace {
    file: Arc<TraceFile>,
    worker: u16,
    buf: Vec<u8>,
}

impl WorkerTrace {
    fn flush(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.file.file().write_all(&self.buf);
            self.buf.clear();
        }
    }

    fn push(&mut self, record: &[u8]) {
        self.buf.extend_from_slice(record);
        if self.buf.len() >= FLUSH_AT {
            self.flush();
        }
    }
}

impl Drop for WorkerTrace {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Set once any runtime of the process traces: until then a run checks
/// nothing else (no thread-local access on the hot path).
static ANY: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set on a worker thread of a traced runtime.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static WORKER: RefCell<Option<WorkerTrace>> = const { RefCell::new(None) };
}

/// Makes this worker thread (worker `id`) write its records to `file`, until
/// the returned guard is dropped (which flushes them).
pub(crate) fn start_on_this_thread(file: Arc<TraceFile>, id: usize) -> Tracing {
    let worker = u16::try_from(id).unwrap_or(u16::MAX);
    WORKER.with(|slot| {
        *slot.borrow_mut() = Some(WorkerTrace {
            file,
            worker,
            buf: Vec::with_capacity(FLUSH_AT),
        });
    });
    ACTIVE.with(|active| active.set(true));
    ANY.store(true, Ordering::Relaxed);
    Tracing(())
}

/// Tracing on this thread; stops (and flushes) when dropped.
pub(crate) struct Tracing(());

impl Drop for Tracing {
    fn drop(&mut self) {
        let _ = ACTIVE.try_with(|active| active.set(false));
        let _ = WORKER.try_with(|slot| drop(slot.borrow_mut().take()));
    }
}

/// Runs `run` on `process` (one run of it), recording the run when this
/// thread traces.
#[inline]
pub(crate) fn run<P: Process, R>(
    process: &mut P,
    kind: RunKind,
    run: impl FnOnce(&mut P) -> R,
) -> R {
    if !ANY.load(Ordering::Relaxed) || !ACTIVE.with(Cell::get) {
        return run(process);
    }
    traced_run(process, kind, run)
}

/// [`run`], traced.
#[cold]
#[inline(never)]
fn traced_run<P: Process, R>(process: &mut P, kind: RunKind, run: impl FnOnce(&mut P) -> R) -> R {
    let start = Instant::now();
    let result = run(process);
    let end = Instant::now();
    let name = process.name();
    WORKER.with(|slot| {
        if let Some(trace) = slot.borrow_mut().as_mut() {
            let id = trace.file.name_id(name);
            let start_ns = trace.file.nanos(start);
            let dur = u64::try_from(end.duration_since(start).as_nanos()).unwrap_or(u64::MAX);
            let mut record = [0; 24];
            record[0] = RUN;
            record[1..3].copy_from_slice(&trace.worker.to_le_bytes());
            record[3] = kind as u8;
            record[4..8].copy_from_slice(&id.to_le_bytes());
            record[8..16].copy_from_slice(&start_ns.to_le_bytes());
            record[16..24].copy_from_slice(&dur.to_le_bytes());
            trace.push(&record);
        }
    });
    result
}

/// Records that `count` tasks were woken by `cause`, when this thread
/// traces and `count` is not 0.
#[inline]
pub(crate) fn woke(cause: WakeCause, count: usize) {
    if count == 0 || !ANY.load(Ordering::Relaxed) || !ACTIVE.with(Cell::get) {
        return;
    }
    let now = Instant::now();
    WORKER.with(|slot| {
        if let Some(trace) = slot.borrow_mut().as_mut() {
            let at = trace.file.nanos(now);
            let mut record = [0; 16];
            record[0] = WAKE;
            record[1..3].copy_from_slice(&trace.worker.to_le_bytes());
            record[3] = cause as u8;
            record[4..12].copy_from_slice(&at.to_le_bytes());
            record[12..16].copy_from_slice(&u32::try_from(count).unwrap_or(u32::MAX).to_le_bytes());
            trace.push(&record);
        }
    });
}
