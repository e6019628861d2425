//! Inputs that arrive while a run goes on, e.g. lines read from a pipe:
//! [`Pool::feed`](super::Pool::feed) makes a [`Feeder`], which any thread
//! may fill, and the [`Feed`] that a run ([`Pool::run`](super::Pool::run),
//! [`Pool::run_raw`](super::Pool::run_raw)) takes as its [`Inputs`].
//!
//! The feed is a bounded channel of encoded inputs: a feeder waits while
//! it is full, so a fast producer (`yes | hearth map ...`) cannot outrun
//! the slots, and the pool takes inputs only while fewer than
//! [`MAX_AHEAD`](super::pool::MAX_AHEAD) of its jobs wait to be reported.
//! Each input sent wakes the pool's poll, and so does a feeder dropped: the
//! last one gone ends the inputs.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use serde::Serialize;

use super::pool::ControlInner;
use crate::remote::Files;

/// An encoded input and the files of its job.
pub(crate) type Payload = (Vec<u8>, Option<Arc<Files>>);

/// The inputs of a run ([`Pool::run_raw`](super::Pool::run_raw)): a list, or
/// a [`Feed`] whose inputs arrive while the run goes on. Made with `into()`
/// from anything that iterates over inputs, or from a feed.
///
/// A list is taken as the slots need jobs, each input encoded when it is
/// taken: an endless iterator is fine. An input that does not encode ends
/// the inputs there; the jobs taken before it run and are reported, and
/// the run returns [`PoolError::Encode`](super::PoolError::Encode).
#[non_exhaustive]
pub enum Inputs<'a, I> {
    /// Inputs all known, or made on demand.
    List(Box<dyn Iterator<Item = I> + 'a>),
    /// Inputs all known, or made on demand, each with the files its job
    /// needs on its slot's host and makes there (see [`Files`]).
    WithFiles(Box<dyn Iterator<Item = (I, Files)> + 'a>),
    /// Inputs sent while the run goes on, from the pool's [`Pool::feed`](super::Pool::feed).
    Feed(Feed<I>),
}

impl<'a, I> Inputs<'a, I> {
    /// Inputs each with the files of its job (see [`Files`]).
    pub fn with_files(inputs: impl IntoIterator<Item = (I, Files)> + 'a) -> Inputs<'a, I> {
        Inputs::WithFiles(Box::new(inputs.into_iter()))
    }
}

impl<'a, I, T> From<T> for Inputs<'a, I>
where
    T: IntoIterator<Item = I>,
    T::IntoIter: 'a,
{
    fn from(inputs: T) -> Self {
        Inputs::List(Box::new(inputs.into_iter()))
    }
}

impl<I> From<Feed<I>> for Inputs<'_, I> {
    fn from(feed: Feed<I>) -> Self {
        Inputs::Feed(feed)
    }
}

impl<I> fmt::Debug for Inputs<'_, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inputs::List(_) => f.write_str("Inputs::List(..)"),
            Inputs::WithFiles(_) => f.write_str("Inputs::WithFiles(..)"),
            Inputs::Feed(feed) => f.debug_tuple("Inputs::Feed").field(feed).finish(),
        }
    }
}

/// The sending end of a [`Feed`]: encodes inputs and hands them to the
/// pool's run. Cloneable and `Send`; the run's inputs end when every clone
/// is dropped.
pub struct Feeder<I> {
    /// Taken by `drop`, to disconnect before the wake-up.
    tx: Option<Sender<Payload>>,
    pool: Arc<ControlInner>,
    _input: PhantomData<fn(&I)>,
}

/// The receiving end, for a run ([`Pool::run`](super::Pool::run)) on the
/// pool that made it.
pub struct Feed<I> {
    rx: Receiver<Payload>,
    pool: Arc<ControlInner>,
    _input: PhantomData<fn(&I)>,
}

/// Why [`Feeder::send`] did not hand an input over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedError {
    /// The input does not encode (the message says why); the feed is fine.
    Encode(String),
    /// The run ended or stopped taking inputs (it was interrupted, told to
    /// stop, or every slot is dead), or its [`Feed`] was dropped.
    Closed,
}

impl fmt::Display for FeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedError::Encode(err) => write!(f, "unable to encode a job's input: {err}"),
            FeedError::Closed => f.write_str("the run takes no more inputs: it ended or stopped"),
        }
    }
}

impl std::error::Error for FeedError {}

/// A feed of at most `capacity` (at least 1) inputs not yet taken.
pub(crate) fn feed<I>(pool: Arc<ControlInner>, capacity: usize) -> (Feeder<I>, Feed<I>) {
    let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
    let feeder = Feeder {
        tx: Some(tx),
        pool: pool.clone(),
        _input: PhantomData,
    };
    let feed = Feed {
        rx,
        pool,
        _input: PhantomData,
    };
    (feeder, feed)
}

impl<I: Serialize> Feeder<I> {
    /// Encodes `input` and hands it to the run, waiting while the feed is
    /// full. `Ok` means the feed has it: a run that stops drops the inputs
    /// it did not take yet (its reports tell which it took).
    ///
    /// # Errors
    ///
    /// [`FeedError::Encode`] if `input` does not encode (nothing is sent),
    /// [`FeedError::Closed`] once the run takes no more inputs.
    pub fn send(&self, input: &I) -> Result<(), FeedError> {
        self.send_payload(input, None)
    }

    /// As [`Feeder::send`], for a job with files to send before it runs
    /// and to bring back after it (see [`Files`]).
    ///
    /// # Errors
    ///
    /// As [`Feeder::send`].
    pub fn send_with_files(&self, input: &I, files: Files) -> Result<(), FeedError> {
        let files = (!files.is_empty()).then(|| Arc::new(files));
        self.send_payload(input, files)
    }

    fn send_payload(&self, input: &I, files: Option<Arc<Files>>) -> Result<(), FeedError> {
        let payload =
            postcard::to_stdvec(input).map_err(|err| FeedError::Encode(err.to_string()))?;
        let tx = self.tx.as_ref().ok_or(FeedError::Closed)?;
        tx.send((payload, files)).map_err(|_| FeedError::Closed)?;
        self.pool.wake();
        Ok(())
    }
}

impl<I> Clone for Feeder<I> {
    fn clone(&self) -> Self {
        Feeder {
            tx: self.tx.clone(),
            pool: self.pool.clone(),
            _input: PhantomData,
        }
    }
}

impl<I> Drop for Feeder<I> {
    fn drop(&mut self) {
        // The last feeder gone ends the inputs: the run must look, and
        // find the channel disconnected, so the sender goes first.
        drop(self.tx.take());
        self.pool.wake();
    }
}

impl<I> fmt::Debug for Feeder<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feeder")
            .field("waiting", &self.tx.as_ref().map(Sender::len))
            .finish_non_exhaustive()
    }
}

impl<I> fmt::Debug for Feed<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed")
            .field("waiting", &self.rx.len())
            .finish_non_exhaustive()
    }
}

impl<I> Feed<I> {
    /// True if `pool` made this feed (its sends wake that pool).
    pub(crate) fn is_of(&self, pool: &Arc<ControlInner>) -> bool {
        Arc::ptr_eq(&self.pool, pool)
    }

    /// The untyped source the run loop pulls from.
    pub(crate) fn into_source<P>(self) -> Source<P> {
        Source::Feed(self.rx)
    }
}

/// Where a run's payloads come from.
pub(crate) enum Source<P> {
    /// All there from the start.
    List(P),
    /// As a feeder sends them.
    Feed(Receiver<Payload>),
}

/// What [`Source::pull`] found.
pub(crate) enum Pulled {
    Input(Payload),
    /// None yet: a feeder wakes the poll when one comes.
    Later,
    /// No more.
    End,
}

impl<P: Iterator<Item = Payload>> Source<P> {
    pub(crate) fn pull(&mut self) -> Pulled {
        match self {
            Source::List(payloads) => payloads.next().map_or(Pulled::End, Pulled::Input),
            Source::Feed(rx) => match rx.try_recv() {
                Ok(payload) => Pulled::Input(payload),
                Err(TryRecvError::Empty) => Pulled::Later,
                Err(TryRecvError::Disconnected) => Pulled::End,
            },
        }
    }

    /// Stops taking inputs: a feed's receiver is dropped, so feeders learn
    /// it ([`FeedError::Closed`]) instead of waiting on a full channel.
    pub(crate) fn close(&mut self) {
        if let Source::Feed(rx) = self {
            *rx = crossbeam_channel::bounded(0).1;
        }
    }

    /// A feed is read only while the run goes on; a list is taken whole
    /// (its rest reported as cancelled when the run stops).
    pub(crate) fn is_feed(&self) -> bool {
        matches!(self, Source::Feed(_))
    }
}
