//! Helpers of the tests' worker handlers and of their bounded waits: mark
//! that a worker got a job, count the marks, wait for a condition with a
//! deadline (a last guard, never the synchronisation itself).

use std::fs;
use std::path::Path;
use std::process;
use std::thread;
use std::time::{Duration, Instant};

/// Creates `dir/<this worker's pid>`.
pub fn mark(dir: &Path) -> Result<(), String> {
    fs::write(dir.join(process::id().to_string()), b"").map_err(|e| format!("marking {dir:?}: {e}"))
}

/// The number of entries of `dir` (0 if it cannot be read).
pub fn count_entries(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, Iterator::count)
}

/// Polls `done` (every 2 ms) until it holds or `limit` passed.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Result<(), ()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return Err(());
        }
        thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Polls `found` (every 10 ms) until it returns something or `timeout`
/// passed.
pub fn poll_for<T>(timeout: Duration, mut found: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = found() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}
