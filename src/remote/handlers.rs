//! [`Handlers`]: the named functions a worker runs for the pool's jobs.
//!
//! An application registers its handlers once and uses the same set on
//! both sides: the worker side runs them
//! ([`serve`](crate::remote::serve)), the pool side checks job names
//! against what the worker reports. Payloads and outputs are encoded with
//! `postcard`, the format of the frames themselves. A handler added with
//! [`Handlers::add_with_context`] also gets its job's [`JobContext`], to
//! stream output of any size while it runs.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::remote::JobContext;
use crate::remote::wire::{JobError, JobErrorKind};
use crate::supervisor::panic_message;

/// A handler working on encoded bytes.
type RawHandler = dyn Fn(&[u8], &mut JobContext<'_>) -> Result<Vec<u8>, JobError> + Send + Sync;

/// The named handlers of a worker.
///
/// # Examples
///
/// ```
/// use hearth::remote::Handlers;
///
/// let handlers = Handlers::new()
///     .add("square", |x: u64| x.checked_mul(x).ok_or("overflow"))
///     .add("greet", |name: String| Ok::<_, String>(format!("hello, {name}")));
/// assert_eq!(handlers.names(), ["greet", "square"]);
/// ```
#[derive(Clone, Default)]
pub struct Handlers {
    handlers: BTreeMap<String, Arc<RawHandler>>,
}

impl Handlers {
    /// No handlers yet.
    pub fn new() -> Handlers {
        Handlers::default()
    }

    /// Adds a handler taking an `I` and returning an `O` or an error, whose
    /// `Display` text travels back as the job's error. A handler of the same
    /// name is replaced.
    ///
    /// The output goes back in one frame, so it is at most the max frame
    /// size (16 MiB): for more, stream it ([`Handlers::add_with_context`]).
    #[must_use]
    pub fn add<I, O, E, F>(self, name: impl Into<String>, handler: F) -> Handlers
    where
        I: DeserializeOwned,
        O: Serialize,
        E: fmt::Display,
        F: Fn(I) -> Result<O, E> + Send + Sync + 'static,
    {
        self.add_with_context(name, move |input: I, _: &mut JobContext<'_>| handler(input))
    }

    /// Adds a handler as [`Handlers::add`] does, that also gets its job's
    /// [`JobContext`]: to send output of any size to the pool while it runs
    /// ([`JobContext::write`], [`JobContext::run_command`]). A handler of
    /// the same name is replaced.
    #[must_use]
    pub fn add_with_context<I, O, E, F>(self, name: impl Into<String>, handler: F) -> Handlers
    where
        I: DeserializeOwned,
        O: Serialize,
        E: fmt::Display,
        F: Fn(I, &mut JobContext<'_>) -> Result<O, E> + Send + Sync + 'static,
    {
        let handler = move |payload: &[u8], job: &mut JobContext<'_>| {
            let input: I = decode_exact(payload)?;
            let output = handler(input, job)
                .map_err(|err| JobError::new(JobErrorKind::Failed, err.to_string()))?;
            postcard::to_stdvec(&output).map_err(|err| {
                JobError::new(JobErrorKind::Failed, format!("encoding the output: {err}"))
            })
        };
        self.insert(name.into(), Arc::new(handler))
    }

    /// Adds a handler working on the raw payload bytes.
    #[must_use]
    pub fn add_raw<F>(self, name: impl Into<String>, handler: F) -> Handlers
    where
        F: Fn(&[u8]) -> Result<Vec<u8>, JobError> + Send + Sync + 'static,
    {
        let handler = move |payload: &[u8], _: &mut JobContext<'_>| handler(payload);
        self.insert(name.into(), Arc::new(handler))
    }

    fn insert(mut self, name: String, handler: Arc<RawHandler>) -> Handlers {
        let _ = self.handlers.insert(name, handler);
        self
    }

    /// The names of the handlers, sorted.
    pub fn names(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }

    /// Returns true if a handler of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// Runs handler `name` on `payload` for the job `job`. An unknown name,
    /// a payload that does not decode and a panic are job errors, never a
    /// crash.
    pub(crate) fn run(
        &self,
        name: &str,
        payload: &[u8],
        job: &mut JobContext<'_>,
    ) -> Result<Vec<u8>, JobError> {
        let Some(handler) = self.handlers.get(name) else {
            let known = self.names().join(", ");
            return Err(JobError::new(
                JobErrorKind::UnknownHandler,
                format!("{} (this worker has: {known})", shown_name(name)),
            ));
        };
        match panic::catch_unwind(AssertUnwindSafe(|| handler(payload, job))) {
            Ok(result) => result,
            Err(panic) => Err(JobError::new(
                JobErrorKind::Panicked,
                panic_message(&*panic),
            )),
        }
    }
}

/// A handler name for an error message: quoted, and shortened with its
/// length if long (the name came from the pool and may be anything).
fn shown_name(name: &str) -> String {
    const SHOWN: usize = 100;
    if name.len() <= SHOWN {
        return format!("{name:?}");
    }
    let end = name.floor_char_boundary(SHOWN);
    format!("{:?}... ({} bytes)", &name[..end], name.len())
}

/// Decodes a whole payload: bytes left over mean it was made for another
/// input type.
fn decode_exact<I: DeserializeOwned>(payload: &[u8]) -> Result<I, JobError> {
    match postcard::take_from_bytes(payload) {
        Ok((input, [])) => Ok(input),
        Ok((_, rest)) => Err(JobError::new(
            JobErrorKind::BadPayload,
            format!(
                "{} bytes left over after the input: the payload was made for another type",
                rest.len()
            ),
        )),
        Err(err) => Err(JobError::new(JobErrorKind::BadPayload, err.to_string())),
    }
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handlers")
            .field("names", &self.names())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Handlers;
    use crate::remote::wire::{JobError, JobErrorKind};
    use crate::remote::{JobContext, Stream};

    impl Handlers {
        /// Runs a handler whose streamed output is dropped.
        fn run_alone(&self, name: &str, payload: &[u8]) -> Result<Vec<u8>, JobError> {
            let mut sink = |_: Stream, _: &[u8]| Ok(());
            self.run(
                name,
                payload,
                &mut JobContext::new(1, &mut sink, (None, &[]), None, None),
            )
        }
    }

    fn handlers() -> Handlers {
        Handlers::new()
            .add("square", |x: u64| x.checked_mul(x).ok_or("overflow"))
            .add("boom", |(): ()| -> Result<(), String> {
                panic!("handler bug")
            })
    }

    /// A handler with a context streams its output in chunks, in order,
    /// before its result.
    #[test]
    fn context_handlers_stream_their_output() {
        let handlers = Handlers::new().add_with_context(
            "count",
            |n: usize, job: &mut JobContext<'_>| -> Result<usize, std::io::Error> {
                job.write(Stream::Stderr, b"starting\n")?;
                job.write(Stream::Stdout, &vec![b'x'; n])?;
                Ok(n)
            },
        );
        let mut chunks = Vec::new();
        let mut sink = |stream: Stream, bytes: &[u8]| {
            chunks.push((stream, bytes.len()));
            Ok(())
        };
        let n = 600 * 1024;
        let out = handlers
            .run(
                "count",
                &postcard::to_stdvec(&n).unwrap(),
                &mut JobContext::new(1, &mut sink, (None, &[]), None, None),
            )
            .unwrap();
        assert_eq!(postcard::from_bytes::<usize>(&out).unwrap(), n);
        let chunk = crate::remote::wire::MAX_CHUNK;
        assert_eq!(
            chunks,
            [
                (Stream::Stderr, 9),
                (Stream::Stdout, chunk),
                (Stream::Stdout, chunk),
                (Stream::Stdout, n - 2 * chunk)
            ]
        );
    }

    #[test]
    fn runs_typed_handlers() {
        let out = handlers()
            .run_alone("square", &postcard::to_stdvec(&12u64).unwrap())
            .unwrap();
        assert_eq!(postcard::from_bytes::<u64>(&out).unwrap(), 144);
    }

    #[test]
    fn job_errors_never_panic() {
        let h = handlers();
        let err = h
            .run_alone("square", &postcard::to_stdvec(&u64::MAX).unwrap())
            .unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (JobErrorKind::Failed, "overflow")
        );
        let err = h.run_alone("cube", &[]).unwrap_err();
        assert_eq!(err.kind, JobErrorKind::UnknownHandler);
        assert_eq!(
            err.to_string(),
            "unknown handler: \"cube\" (this worker has: boom, square)"
        );
        assert_eq!(
            h.run_alone("square", &[]).unwrap_err().kind,
            JobErrorKind::BadPayload
        );
        let err = h
            .run_alone("boom", &postcard::to_stdvec(&()).unwrap())
            .unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (JobErrorKind::Panicked, "handler bug")
        );
    }
}
