//! Where an inbox lives, and the counted references to it.
//!
//! An inbox is in a [`Storage`]: in a box of its own ([`Storage::boxed`]),
//! or a field of a larger allocation, such as a thread-local actor's
//! scheduler cell, which saves an allocation per actor. Every end of the
//! inbox ([`Owner`](super::Owner), [`Receiver`](super::Receiver),
//! [`Sender`](super::Sender)) holds a [`Handle`]: a pointer to the storage
//! and one count of its `refs`. The last handle to go frees a boxed
//! storage, or lets go of the hold the inbox has on the allocation it is
//! embedded in (see [`Storage::first_handle`]).

use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering, fence};

use super::Shared;

/// An inbox with its count of handles.
pub(crate) struct Storage<M> {
    /// Handles alive.
    refs: AtomicUsize,
    /// What the last handle does; `None` for a boxed storage (free it).
    release: Option<Release>,
    shared: Shared<M>,
}

/// Lets go of the allocation an embedded storage lives in.
#[derive(Clone, Copy)]
pub(crate) struct Release {
    /// The allocation's hold, as given to [`Storage::set_release`].
    pub(crate) holder: *const (),
    /// Called once, with `holder`, when the last handle goes.
    pub(crate) release: unsafe fn(*const ()),
}

impl<M> Storage<M> {
    /// A storage with no handles yet, to be embedded in another allocation.
    pub(crate) fn new(shared: Shared<M>) -> Storage<M> {
        Storage {
            refs: AtomicUsize::new(0),
            release: None,
            shared,
        }
    }

    /// An inbox in a box of its own; returns its first handle.
    pub(super) fn boxed(shared: Shared<M>) -> Handle<M> {
        let storage = Box::new(Storage::new(shared));
        storage.refs.store(1, Ordering::Relaxed);
        Handle {
            ptr: NonNull::from(Box::leak(storage)),
        }
    }

    /// Sets what the last handle calls: `release.release(release.holder)`
    /// instead of freeing a box.
    pub(crate) fn set_release(&mut self, release: Release) {
        self.release = Some(release);
    }

    /// The first handle of an embedded storage.
    ///
    /// # Safety
    ///
    /// Called once, after [`Storage::set_release`]. The caller guarantees
    /// that the storage stays where it is, alive, until its release is
    /// called (by the last handle): the release's holder is a hold on the
    /// allocation the storage is in (e.g. one count of its `Arc`), made
    /// for the inbox and given up only by that call.
    pub(super) unsafe fn first_handle(&self) -> Handle<M> {
        debug_assert!(self.release.is_some(), "an embedded inbox needs a release");
        self.refs.store(1, Ordering::Relaxed);
        Handle {
            ptr: NonNull::from(self),
        }
    }
}

/// A counted reference to an inbox (see the module documentation).
pub(super) struct Handle<M> {
    ptr: NonNull<Storage<M>>,
}

// SAFETY: a handle gives shared access to `Shared<M>`, which is `Send` and
// `Sync` when `M` is `Send` (its state is behind a mutex, the rest is
// atomic), and the last handle frees the storage or calls its release,
// whose holder is a hold that may be given up on any thread (the
// embedding allocation is `Send` and `Sync`, see the scheduler's
// `LocalCell`).
unsafe impl<M: Send> Send for Handle<M> {}
// SAFETY: as for `Send`.
unsafe impl<M: Send> Sync for Handle<M> {}

impl<M> Handle<M> {
    fn storage(&self) -> &Storage<M> {
        // SAFETY: the storage is alive while a handle is (this one counts in
        // `refs`): a boxed one is freed, and an embedded one released, only
        // by the last handle.
        unsafe { self.ptr.as_ref() }
    }

    /// Returns true if both handles are to the same inbox.
    pub(super) fn ptr_eq(&self, other: &Handle<M>) -> bool {
        self.ptr == other.ptr
    }
}

impl<M> Deref for Handle<M> {
    type Target = Shared<M>;

    fn deref(&self) -> &Shared<M> {
        &self.storage().shared
    }
}

impl<M> Clone for Handle<M> {
    fn clone(&self) -> Handle<M> {
        let old = self.storage().refs.fetch_add(1, Ordering::Relaxed);
        // As `Arc` does: a count this high means handles were leaked in a
        // loop; wrapping around would free the inbox while in use.
        if old > isize::MAX as usize {
            std::process::abort();
        }
        Handle { ptr: self.ptr }
    }
}

impl<M> Drop for Handle<M> {
    fn drop(&mut self) {
        if self.storage().refs.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        // Every other handle's use of the inbox happens before it is freed.
        fence(Ordering::Acquire);
        // Copied out: the storage is not touched once the release runs.
        let release = self.storage().release;
        match release {
            // SAFETY: a storage without a release was made by `boxed`, from
            // a `Box` leaked there; this is the last handle, so nothing else
            // uses it.
            None => drop(unsafe { Box::from_raw(self.ptr.as_ptr()) }),
            // SAFETY: the last handle calls the release once, as
            // `first_handle`'s caller arranged; the storage is not touched
            // after this call, which may free it.
            Some(Release { holder, release }) => unsafe { release(holder) },
        }
    }
}
