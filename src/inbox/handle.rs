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
    /// What the last handle calls, with the storage's address, for an
    /// embedded storage (to let go of the allocation it is in); `None` for
    /// a boxed one (free the box). One word: a boxed inbox is no larger
    /// than one in an `Arc`.
    release: Option<Release>,
    shared: Shared<M>,
}

/// Lets go of the allocation an embedded storage lives in; called once,
/// with the storage's address, when its last handle goes.
pub(crate) type Release = unsafe fn(*const ());

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

    /// Sets what the last handle calls instead of freeing a box.
    pub(crate) fn set_release(&mut self, release: Release) {
        self.release = Some(release);
    }

    /// The first handle of the embedded storage at `this`.
    ///
    /// # Safety
    ///
    /// Called once per storage, after [`Storage::set_release`], with a
    /// pointer that may reach the whole allocation the storage is in (the
    /// release gets it back). The caller guarantees that the storage stays
    /// where it is, alive, until its release is called (by the last
    /// handle): the inbox has a hold on that allocation (e.g. one count of
    /// its `Arc`), made for it and given up only by the release.
    pub(super) unsafe fn first_handle(this: *const Storage<M>) -> Handle<M> {
        // SAFETY: `this` points to a live storage, as the caller guarantees.
        let storage = unsafe { &*this };
        debug_assert!(
            storage.release.is_some(),
            "an embedded inbox needs a release"
        );
        storage.refs.store(1, Ordering::Relaxed);
        Handle {
            // SAFETY: a reference's address is not null.
            ptr: unsafe { NonNull::new_unchecked(this.cast_mut()) },
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

    /// The inbox's address, as an identity that can be compared across
    /// message types.
    pub(super) fn addr(&self) -> *const () {
        self.ptr.as_ptr().cast_const().cast()
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
            // SAFETY: the last handle calls the release once, with the
            // pointer `first_handle` was given, as its caller arranged; the
            // storage is not touched after this call, which may free it.
            Some(release) => unsafe { release(self.ptr.as_ptr().cast_const().cast()) },
        }
    }
}
