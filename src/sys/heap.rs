//! Growing a worker thread's heap in large steps instead of page by page.
//!
//! glibc gives every thread but the main one an arena of its own, a 64 MiB
//! reservation that is made usable with `mprotect` as it fills. The main
//! arena grows with `brk` and pads each step (128 KiB by default), but a
//! thread's arena grows by exactly what the allocation at hand lacks,
//! rounded to a page: a worker that spawns a million actors of a few
//! hundred bytes makes an `mprotect` call for nearly every page it fills
//! (130,000 calls, a fifth of the time of a million-actor spawn burst),
//! each of them splitting and merging the arena's mappings in the kernel.
//!
//! [`note_allocated`] counts what a worker allocated for processes; every
//! [`STEP`] bytes it asks the allocator for one block of [`RESERVE`] bytes
//! and gives it straight back. Where the arena has that much free already
//! this costs a `malloc` and a `free` and nothing else; where it does not,
//! the arena grows by the whole block in one call, and the block, freed,
//! becomes free space at the arena's top that the next few hundred actors
//! are carved from. [`RESERVE`] stays under glibc's thresholds for serving
//! a block with `mmap` and for handing the top back to the system
//! (128 KiB each), so the block really comes from, and stays in, the arena.
//! Nothing is reserved that is not used soon: the step is only taken while
//! processes are being allocated, and memory is never touched, so a page
//! is only made resident when an actor lands on it.
//!
//! With another global allocator this is a harmless allocate-and-free of
//! a medium block every [`STEP`] bytes.

use std::alloc::{Layout, alloc, dealloc};
use std::cell::Cell;

/// Bytes of process allocations between two reservations.
const STEP: usize = 64 * 1024;

/// Bytes asked for at each reservation.
const RESERVE: usize = 96 * 1024;

thread_local! {
    /// Bytes allocated for processes on this thread since the last
    /// reservation.
    static SINCE_RESERVE: Cell<usize> = const { Cell::new(0) };
}

/// Notes that this thread allocated `bytes` for a process; now and then
/// grows the thread's heap ahead of need (see the module documentation).
/// Returns whether it did this time.
pub(crate) fn note_allocated(bytes: usize) -> bool {
    let due = SINCE_RESERVE.with(|since| {
        let total = since.get() + bytes;
        if total >= STEP {
            since.set(0);
            true
        } else {
            since.set(total);
            false
        }
    });
    if due {
        reserve();
    }
    due
}

/// Allocates a block of [`RESERVE`] bytes and frees it.
#[cold]
fn reserve() {
    let Ok(layout) = Layout::from_size_align(RESERVE, 16) else {
        return;
    };
    // SAFETY: `layout` has a non-zero size. The block is never read or
    // written, and it is freed with the layout it was allocated with.
    unsafe {
        let block = alloc(layout);
        if !block.is_null() {
            // Kept opaque so the pair is not optimised away.
            dealloc(std::hint::black_box(block), layout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserves_once_per_step_of_allocations() {
        // A thread of its own: the counter is per thread.
        std::thread::spawn(|| {
            let cell = 400;
            let per_step = STEP.div_ceil(cell);
            let reserved = (0..10 * per_step).filter(|_| note_allocated(cell)).count();
            assert_eq!(reserved, 10);
            // One allocation of a whole step or more is due at once.
            assert!(note_allocated(STEP));
        })
        .join()
        .unwrap();
    }
}
