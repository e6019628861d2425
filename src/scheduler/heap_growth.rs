//! Growing a worker thread's heap in large steps instead of page by page.
//!
//! glibc gives every thread but the main one an arena of its own, a 64 MiB
//! reservation made usable with `mprotect` as it fills. The main arena
//! grows with `brk` and pads each step (128 KiB by default), but a thread's
//! arena grows by exactly what the allocation at hand lacks, rounded to a
//! page: a worker that spawns a million actors of a few hundred bytes makes
//! an `mprotect` call for nearly every page it fills (138,000 calls, a
//! fifth of the time of a million-actor spawn burst), each of them
//! splitting and merging the arena's mappings in the kernel.
//!
//! [`note_allocated`] counts what a thread allocated for processes; every
//! [`STEP`] bytes it has the arena grown by [`RESERVE`] bytes in one step
//! ([`sys::reserve`]). [`RESERVE`] stays under glibc's default thresholds
//! for serving a block with `mmap` and for handing the top of an arena back
//! to the system (128 KiB each), so the block comes from, and stays in, the
//! arena. A thread on the main arena is left alone: there the freed block
//! would make the top large enough to be trimmed at once, a `brk` up and
//! down for nothing ([`sys::on_main_arena`], asked once per thread).
//!
//! How the heap grows is the application's allocator policy, so this is off
//! unless the runtime was built with `Setup::grow_heap_ahead`: then each
//! worker thread turns it on for itself ([`grow_ahead_on_this_thread`]).

use std::cell::Cell;

use crate::sys;

/// Bytes of process allocations between two reservations.
const STEP: usize = 64 * 1024;

/// Bytes the arena is grown by at each reservation.
const RESERVE: usize = 96 * 1024;

thread_local! {
    /// Bytes allocated for processes on this thread since the last
    /// reservation.
    static SINCE_RESERVE: Cell<usize> = const { Cell::new(0) };
    /// Whether this thread's arena is one to grow ahead: `None` until
    /// asked.
    static GROWS_AHEAD: Cell<Option<bool>> = const { Cell::new(None) };
    /// Set on the worker threads of a runtime built with
    /// `Setup::grow_heap_ahead`.
    static ENABLED: Cell<bool> = const { Cell::new(false) };
}

/// Turns the growth ahead on for this thread (a worker thread of a runtime
/// built with `Setup::grow_heap_ahead`).
pub(crate) fn grow_ahead_on_this_thread() {
    ENABLED.with(|enabled| enabled.set(true));
}

/// Notes that this thread allocated `bytes` for a process; now and then
/// grows the thread's heap ahead of need (see the module documentation).
pub(crate) fn note_allocated(bytes: usize) {
    if !ENABLED.with(Cell::get) {
        return;
    }
    let reserve_now = SINCE_RESERVE.with(|since| {
        let (total, due) = due(since.get(), bytes);
        since.set(total);
        due
    });
    if reserve_now && grows_ahead() {
        sys::reserve(RESERVE);
    }
}

/// The count after adding `bytes` to `since`, and whether a reservation is
/// due (the count then starts again from zero).
fn due(since: usize, bytes: usize) -> (usize, bool) {
    let total = since.saturating_add(bytes);
    if total >= STEP {
        (0, true)
    } else {
        (total, false)
    }
}

/// Whether this thread's arena is grown ahead: not the main arena.
fn grows_ahead() -> bool {
    GROWS_AHEAD.with(|grows| *grows.get().get_or_insert_with(|| !sys::on_main_arena()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_once_per_step_of_allocations() {
        let cell = 400;
        let per_step = STEP.div_ceil(cell);
        let mut since = 0;
        let mut reserved = 0;
        for _ in 0..10 * per_step {
            let (total, now) = due(since, cell);
            since = total;
            reserved += usize::from(now);
        }
        assert_eq!(reserved, 10);
        // One allocation of a whole step or more is due at once.
        assert_eq!(due(since, STEP), (0, true));
        assert_eq!(due(0, 1), (1, false));
    }
}
