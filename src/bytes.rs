//! Buffers that receives fill, as Heph's I/O takes them: [`Bytes`] for one
//! buffer (a `Vec<u8>`'s spare capacity, or a byte slice), and
//! [`BytesVectored`] for several (an array of them) filled by one vectored
//! receive.
//!
//! A receive asks the buffer for its room ([`Bytes::spare`]), lets the
//! kernel write into it, and then tells the buffer how many bytes it got
//! ([`Bytes::update_length`]). A `Vec<u8>` offers the capacity after its
//! length, which need not be initialised, and grows its length by what was
//! received: the bytes it had stay as they were, so successive receives
//! append. A byte slice offers all of itself and has no length to grow:
//! the count the receive returns says how much of it was written, as with
//! `read`.
//!
//! The room is a [`Spare`], a view of memory that the kernel may write and
//! that is never de-initialised through it, which is what lets an
//! initialised slice and an uninitialised capacity be offered alike.

use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// The room of a buffer that a receive may write: `len()` bytes, which
/// need not be initialised. Laid out as the system's `iovec`, so a slice of
/// them is handed to `readv`/`recvmsg` as it is.
///
/// Safe code cannot write through it (only the kernel does, through
/// [`Spare::as_mut_ptr`]), so initialised memory offered as room stays
/// initialised.
#[repr(transparent)]
pub struct Spare<'a> {
    iov: libc::iovec,
    _buf: PhantomData<&'a mut [MaybeUninit<u8>]>,
}

impl<'a> Spare<'a> {
    /// Room that may not be initialised, e.g. a `Vec`'s spare capacity
    /// (`Vec::spare_capacity_mut`).
    pub fn uninit(buf: &'a mut [MaybeUninit<u8>]) -> Spare<'a> {
        Spare {
            iov: libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            },
            _buf: PhantomData,
        }
    }

    /// Room that is initialised: a byte slice, all of which a receive may
    /// overwrite (with initialised bytes only).
    pub fn init(buf: &'a mut [u8]) -> Spare<'a> {
        Spare {
            iov: libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            },
            _buf: PhantomData,
        }
    }

    /// How many bytes may be written.
    pub fn len(&self) -> usize {
        self.iov.iov_len
    }

    /// True if no byte may be written.
    pub fn is_empty(&self) -> bool {
        self.iov.iov_len == 0
    }

    /// The start of the room, for a system call to write at most
    /// [`Spare::len`] bytes to. Writing through it is `unsafe`: only
    /// initialised bytes may be written, within the room.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.iov.iov_base.cast()
    }

    /// The room after its first `n` bytes (all of it for `n` 0, none for
    /// `n` at or past its length).
    pub(crate) fn advance(&mut self, n: usize) {
        let n = n.min(self.iov.iov_len);
        // SAFETY: `n` is at most the room's length, so the pointer stays
        // within (or one past the end of) the room borrowed for `'a`.
        self.iov.iov_base = unsafe { self.iov.iov_base.cast::<u8>().add(n) }.cast();
        self.iov.iov_len -= n;
    }
}

// SAFETY: a `Spare` is a `&mut [MaybeUninit<u8>]` kept as an `iovec`
// (whose pointer is what makes it neither `Send` nor `Sync`); the slice
// it stands for is both.
unsafe impl Send for Spare<'_> {}

// SAFETY: as for `Send`: shared, a `Spare` gives only its length.
unsafe impl Sync for Spare<'_> {}

impl fmt::Debug for Spare<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spare").field("len", &self.len()).finish()
    }
}

/// A buffer that a receive fills, as Heph's `Bytes`: the room it offers
/// ([`Bytes::spare`]) and how it takes what was received
/// ([`Bytes::update_length`]).
///
/// Implemented for `Vec<u8>` (its spare capacity, appended to), byte
/// slices and arrays (all of them, overwritten), and `&mut` of any of
/// them. The receives take the buffer by value: pass `&mut buf` to keep
/// it.
///
/// # Safety
///
/// A receive that takes several system calls (`recv_n`) asks for the
/// room again after each and, at the end, passes the count of all it
/// wrote to [`Bytes::update_length`]: so [`Bytes::spare`] must give the
/// same room (the same memory, of the same length) from one call to the
/// next until `update_length` is called, and `update_length` must not
/// expose more than the `n` bytes it was told of. Heph's trait says the
/// same in a note; here it is what an implementation promises with
/// `unsafe impl`.
///
/// # Examples
///
/// ```
/// use hearth::bytes::Bytes;
///
/// let mut buf = Vec::with_capacity(32);
/// buf.extend_from_slice(b"Hello");
/// assert_eq!(buf.spare_capacity(), 27);
/// // A receive appends after what the vector holds.
/// assert_eq!(buf.spare().len(), 27);
/// assert!(buf.has_spare_capacity());
/// // A slice offers all of itself, overwritten.
/// let head = [0u8; 4];
/// assert_eq!(head.spare_capacity(), 4);
/// ```
pub unsafe trait Bytes {
    /// The room a receive may write, starting at the first byte it may
    /// write. Two calls without an [`Bytes::update_length`] in between
    /// give the same room.
    fn spare(&mut self) -> Spare<'_>;

    /// The length of [`Bytes::spare`].
    fn spare_capacity(&self) -> usize;

    /// True if there is room to receive into.
    fn has_spare_capacity(&self) -> bool {
        self.spare_capacity() != 0
    }

    /// Takes the first `n` bytes of the room as received: a vector's
    /// length grows by `n`; a slice's has nothing to do.
    ///
    /// # Safety
    ///
    /// The first `n` bytes of [`Bytes::spare`] must have been written
    /// (initialised), and `n` must be at most [`Bytes::spare_capacity`].
    unsafe fn update_length(&mut self, n: usize);
}

// SAFETY: the room and the length are `B`'s own.
unsafe impl<B: Bytes + ?Sized> Bytes for &mut B {
    fn spare(&mut self) -> Spare<'_> {
        (**self).spare()
    }

    fn spare_capacity(&self) -> usize {
        (**self).spare_capacity()
    }

    fn has_spare_capacity(&self) -> bool {
        (**self).has_spare_capacity()
    }

    unsafe fn update_length(&mut self, n: usize) {
        // SAFETY: the caller's promise, passed on.
        unsafe { (**self).update_length(n) }
    }
}

/// Only the capacity after the vector's length is offered: the bytes it
/// holds stay, and what is received is appended.
// SAFETY: the room is the capacity after the length, which only
// `update_length` moves.
unsafe impl Bytes for Vec<u8> {
    fn spare(&mut self) -> Spare<'_> {
        Spare::uninit(self.spare_capacity_mut())
    }

    fn spare_capacity(&self) -> usize {
        self.capacity() - self.len()
    }

    unsafe fn update_length(&mut self, n: usize) {
        debug_assert!(n <= self.capacity() - self.len(), "more than the room");
        // SAFETY: the caller wrote the first `n` bytes after the length,
        // within the capacity.
        unsafe { self.set_len(self.len() + n) }
    }
}

/// All of the slice is offered; the receive's count says how much of it
/// was written.
// SAFETY: the room is the whole slice, always.
unsafe impl Bytes for [u8] {
    fn spare(&mut self) -> Spare<'_> {
        Spare::init(self)
    }

    fn spare_capacity(&self) -> usize {
        self.len()
    }

    unsafe fn update_length(&mut self, n: usize) {
        debug_assert!(n <= self.len(), "more than the room");
    }
}

/// As for a slice.
// SAFETY: the room is the whole array, always.
unsafe impl<const N: usize> Bytes for [u8; N] {
    fn spare(&mut self) -> Spare<'_> {
        Spare::init(self)
    }

    fn spare_capacity(&self) -> usize {
        N
    }

    unsafe fn update_length(&mut self, n: usize) {
        debug_assert!(n <= N, "more than the room");
    }
}

/// Buffers that one vectored receive fills in order, as Heph's
/// `BytesVectored`: the first buffer's room, then the next one's, and so
/// on. Implemented for arrays of [`Bytes`], pairs of them, and `&mut` of
/// either.
///
/// # Safety
///
/// As for [`Bytes`]: [`BytesVectored::spares`] gives the same rooms, in
/// the same order, from one call to the next until
/// [`BytesVectored::update_lengths`] is called.
///
/// # Examples
///
/// ```
/// use hearth::bytes::BytesVectored;
///
/// // Buffers of one kind, in an array.
/// let bufs = [Vec::<u8>::with_capacity(4), Vec::with_capacity(16)];
/// assert_eq!(bufs.spare_capacity(), 20);
/// // Of two kinds, in a pair: a fixed header and a growing body.
/// let (mut head, mut body) = ([0u8; 4], Vec::<u8>::with_capacity(16));
/// assert_eq!((&mut head, &mut body).spare_capacity(), 20);
/// ```
pub unsafe trait BytesVectored {
    /// The rooms of the buffers, in order.
    type Bufs<'b>: AsMut<[Spare<'b>]>
    where
        Self: 'b;

    /// The room of each buffer, in order.
    fn spares(&mut self) -> Self::Bufs<'_>;

    /// The sum of the buffers' rooms.
    fn spare_capacity(&self) -> usize;

    /// True if one of the buffers has room.
    fn has_spare_capacity(&self) -> bool {
        self.spare_capacity() != 0
    }

    /// Takes the first `n` bytes of the rooms, in order, as received: the
    /// first buffer's room is filled before the next one's.
    ///
    /// # Safety
    ///
    /// The first `n` bytes of the rooms of [`BytesVectored::spares`], in
    /// order, must have been written, and `n` must be at most
    /// [`BytesVectored::spare_capacity`].
    unsafe fn update_lengths(&mut self, n: usize);
}

// SAFETY: the rooms and the lengths are `B`'s own.
unsafe impl<B: BytesVectored + ?Sized> BytesVectored for &mut B {
    type Bufs<'b>
        = B::Bufs<'b>
    where
        Self: 'b;

    fn spares(&mut self) -> Self::Bufs<'_> {
        (**self).spares()
    }

    fn spare_capacity(&self) -> usize {
        (**self).spare_capacity()
    }

    unsafe fn update_lengths(&mut self, n: usize) {
        // SAFETY: the caller's promise, passed on.
        unsafe { (**self).update_lengths(n) }
    }
}

// SAFETY: the rooms are the buffers' own, in the array's order, each
// the same until its `update_length` (`Bytes`'s promise).
unsafe impl<B: Bytes, const N: usize> BytesVectored for [B; N] {
    type Bufs<'b>
        = [Spare<'b>; N]
    where
        Self: 'b;

    fn spares(&mut self) -> [Spare<'_>; N] {
        self.each_mut().map(Bytes::spare)
    }

    fn spare_capacity(&self) -> usize {
        self.iter().map(Bytes::spare_capacity).sum()
    }

    unsafe fn update_lengths(&mut self, mut n: usize) {
        for buf in self.iter_mut() {
            let filled = n.min(buf.spare_capacity());
            // SAFETY: the rooms were filled in order, so this buffer's
            // first `filled` bytes were written.
            unsafe { buf.update_length(filled) };
            n -= filled;
        }
        debug_assert_eq!(n, 0, "more than the room");
    }
}

/// Two buffers of different kinds (a fixed header and a growing body).
// SAFETY: as for arrays, in the pair's order.
unsafe impl<A: Bytes, B: Bytes> BytesVectored for (A, B) {
    type Bufs<'b>
        = [Spare<'b>; 2]
    where
        Self: 'b;

    fn spares(&mut self) -> [Spare<'_>; 2] {
        [self.0.spare(), self.1.spare()]
    }

    fn spare_capacity(&self) -> usize {
        self.0.spare_capacity() + self.1.spare_capacity()
    }

    unsafe fn update_lengths(&mut self, n: usize) {
        let first = n.min(self.0.spare_capacity());
        // SAFETY: the rooms were filled in order: the first one's first
        // `first` bytes, then the rest in the second one.
        unsafe {
            self.0.update_length(first);
            self.1.update_length(n - first);
        }
    }
}
