//! glibc's heap, as seen from one thread: which arena the thread uses, and
//! growing that arena ahead of need (see `scheduler/heap_growth.rs` for
//! when and why).
//!
//! Both go to the C library's allocator ([`System`]) directly, whatever
//! the program's global allocator is. Elsewhere than on glibc they do
//! nothing.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
use std::alloc::{GlobalAlloc, Layout, System};

/// Returns true if the calling thread allocates from glibc's main arena,
/// the `brk` heap, which grows in padded steps and is trimmed eagerly: a
/// block allocated there and freed comes back to the system at once.
///
/// Told by where a block lands: the main arena's memory lies below the
/// program break, the other arenas are mappings far above it. The block
/// is larger than glibc's per-thread cache serves (1 KiB), whose blocks
/// may have been allocated by other threads, from other arenas.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn on_main_arena() -> bool {
    let Ok(layout) = Layout::from_size_align(4096, 16) else {
        return true;
    };
    // SAFETY: `layout` has a non-zero size; the block is freed below with
    // the same layout and never read or written.
    let block = unsafe { System.alloc(layout) };
    if block.is_null() {
        // Out of memory: no growing ahead either way.
        return true;
    }
    // SAFETY: `sbrk(0)` only reads the current program break.
    let brk = unsafe { libc::sbrk(0) };
    let below = (block as usize) < (brk as usize);
    // SAFETY: allocated above with this layout.
    unsafe { System.dealloc(block, layout) };
    below
}

/// See the other definition: off glibc there is no arena to tell.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn on_main_arena() -> bool {
    true
}

/// Allocates a block of `bytes` from the calling thread's arena and frees
/// it at once: where the arena has that much room this is all it does;
/// where it does not, the arena grows by the whole block in one step, and
/// the block, freed, is room for what comes next. Only the allocator's
/// bookkeeping writes to the block's memory (a header at its end: at most
/// one page is made resident early).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn reserve(bytes: usize) {
    let Ok(layout) = Layout::from_size_align(bytes.max(1), 16) else {
        return;
    };
    // SAFETY: `layout` has a non-zero size. The block is never read or
    // written, and it is freed with the layout it was allocated with.
    unsafe {
        let block = System.alloc(layout);
        if !block.is_null() {
            // Kept opaque so the pair is not optimised away.
            System.dealloc(std::hint::black_box(block), layout);
        }
    }
}

/// See the other definition: off glibc this does nothing.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn reserve(_bytes: usize) {}
