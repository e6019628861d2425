//! The hearth worker protocol: frames on a byte stream.
//!
//! A slot talks to its worker over a plain byte stream, the child's stdin and
//! stdout, possibly through ssh. This module owns the bytes on that stream:
//! the frame layout, the messages ([`Frame`]), an incremental
//! [`FrameDecoder`] for the coordinator's non-blocking pipes and blocking
//! helpers for the worker side ([`read_frame`], [`write_frame`]). It does no
//! I/O of its own and waits on nothing; whoever owns the pipe feeds it bytes.
//!
//! # Frame layout (the contract)
//!
//! ```text
//! offset  size  field
//! 0       4     magic: the bytes "HRTH" (MAGIC)
//! 4       1     protocol version (VERSION)
//! 5       4     payload length in bytes, u32 big-endian, at most the max frame size
//! 9       len   payload: exactly one Frame, encoded with postcard
//! ```
//!
//! - The magic and the version byte keep their place in every version of the
//!   protocol, so that a peer of another version is always recognised and
//!   reported with both versions. Everything after the version byte may change
//!   with the version.
//! - The magic makes junk on the stream visible: bytes a chatty login shell
//!   prints before the worker starts, or a handler writing to stdout, are
//!   reported as [`WireError::BadMagic`] with the bytes shown, never read as a
//!   length.
//! - A receiver checks the magic, then the version, then the length, each as
//!   soon as its bytes arrive. A length above the max frame size is refused
//!   before any of the payload is read, and the announced length is never
//!   allocated ahead of the bytes that fill it.
//! - The max frame size (default [`DEFAULT_MAX_FRAME`], 16 MiB) bounds the
//!   payload on both sides: [`encode`] refuses to produce a larger frame and a
//!   [`FrameDecoder`] refuses to accept one.
//! - The payload is exactly one message: bytes left over after it are an
//!   error. postcard encodes a [`Frame`] variant by its index, so within a
//!   version variants and fields are never reordered or removed; adding one
//!   means a new [`VERSION`].
//!
//! # Conversation
//!
//! ```text
//! client (the pool)                             worker (--remote-worker)
//! Hello { version }                    ->
//!                                      <-       HelloAck { version, host, pid }
//! SessionInit { handlers, config,
//!               slot_timeout_ms, slot,
//!               env, workdir }        ->
//!                                      <-       SessionAck { handlers }
//! Job { id, handler, payload }         ->       (several may be in flight)
//!                                      <-       Output { id, stream, data }
//!                                               (any number, while the job runs)
//!                                      <-       Result { id, outcome }
//! File { id, path, mode, size }        ->       (a job's files, if any,
//! FileData { id, data } ...            ->        each whole, before its JOB;
//! FileEnd { id, crc }                  ->        one job with files at a time)
//! Return { id, paths, cleanup }        ->
//! Stdin { id, data } ...               ->       (what the job reads on its
//!                                                stdin, if anything, in
//!                                                chunks, before its JOB)
//! Job { id, handler, payload }         ->
//!                                      <-       File, FileData..., FileEnd
//!                                               (the files to bring back)
//!                                      <-       Result { id, outcome }
//! File, FileData..., FileEnd          ->       (the session's base files, if
//! Return { id: BASE_ID, .. }          ->        any, right after SESSION_ACK)
//! Base { cleanup }                     ->
//!                                      <-       BaseAck { error }
//! Ping { seq }                         ->       (at any time after SESSION_INIT)
//!                                      <-       Pong { seq }
//! Shutdown                             ->       (the worker exits)
//! ```
//!
//! Once per slot the handshake, once per session the session set-up, then any
//! number of jobs; results may come back in any order and are matched by id.
//! The worker reads its frames in order, so the client sends `SessionInit`
//! right behind `Hello`, without waiting for `HelloAck` (a round trip saved
//! per slot start), and a `Ping` once `HelloAck` came, whose `Pong`
//! measures the link's round trip.
//!
//! Output streaming (version 3): while a job runs, its handler may send
//! what it produces in `Output` frames (a chunk of its stdout or stderr,
//! at most `MAX_CHUNK` bytes each), as it produces them; the job's
//! `Result` ends its output. A job's output then has no size limit, and
//! neither side holds more of it than a chunk. Only the running job
//! sends `Output` (a worker runs its jobs one at a time). Version 3 also
//! tells the worker its slot's number in `SessionInit` (from 1 over all
//! the pool's hosts, GNU parallel's `{%}`).
//!
//! A job's standard input (version 5): the client sends what the job
//! reads on its stdin (a block of `hearth map --pipe`) in `Stdin` frames
//! of at most `MAX_CHUNK` bytes each, in order, right before the job's
//! `Job` frame, which ends it; a job with no `Stdin` frame reads nothing
//! there. Like a job's files, a job with stdin runs alone on its slot, so
//! a worker never holds the stdin of a job other than the next one.
//!
//! The liveness exchange (version 2): the client sends `Ping` when it has
//! heard nothing from the worker, or said nothing to it, for a third of the
//! slot timeout (`slot_timeout_ms` of `SessionInit`), and the worker answers
//! every `Ping` with a `Pong` of the same `seq` at once, also while a job
//! runs. A worker the client has not heard from for the slot timeout is
//! dead to it; a client the worker has not heard from for the slot timeout
//! is gone, and the worker ends its job and itself.
//! The versions in the handshake repeat the header's. A worker whose decoder
//! reports a [`WireError::VersionMismatch`] on the first frame still answers
//! with its own `HelloAck` before it exits, so that the client can report the
//! mismatch with both versions rather than a dead slot.
//!
//! # Errors
//!
//! Every error is a reason to give up on the stream: after a framing error
//! (bad magic, version, length) the decoder keeps the offending bytes and
//! returns the same error again; after a payload that does not decode it has
//! skipped that frame, but the peer is evidently not speaking this protocol.

use std::error::Error as StdError;
use std::fmt;
use std::io::{self, Read, Write};

use postcard::ser_flavors::Flavor;
use serde::{Deserialize, Serialize};

use crate::remote::Stream;

#[cfg(test)]
mod tests;

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"HRTH";

/// The protocol version this build speaks, the fifth byte of every frame.
/// Version 2 added the liveness exchange ([`Frame::Ping`],
/// [`Frame::Pong`], the slot timeout of [`Frame::SessionInit`]); version 3
/// output streaming ([`Frame::Output`]) and the slot's number in
/// [`Frame::SessionInit`]; version 4 the job's world: the environment and
/// working directory in [`Frame::SessionInit`], and files sent with a job
/// and brought back after it ([`Frame::File`], [`Frame::FileData`],
/// [`Frame::FileEnd`], [`Frame::Return`]); version 5 a job's standard
/// input ([`Frame::Stdin`]); version 6 a session's base files
/// ([`Frame::Base`], [`Frame::BaseAck`]); version 7 the stop of a job
/// past its time limit ([`Frame::Cancel`]).
pub const VERSION: u8 = 7;

/// The most bytes of output one [`Frame::Output`] carries (256 KiB): a
/// worker cuts larger writes into chunks of this size.
pub(crate) const MAX_CHUNK: usize = 256 * 1024;

/// The length of a frame's header: magic, version and payload length.
pub(crate) const HEADER_LEN: usize = 9;

/// The default max frame size: the largest payload, in bytes, that is sent or
/// accepted (16 MiB).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// The largest max frame size that means anything: the payload length field
/// has 32 bits. Larger max frame sizes act as this one.
const LENGTH_FIELD_MAX: usize = u32::MAX as usize;

// The payload length (`u32`) converts to `usize` with `as` in this module.
const _: () = assert!(usize::BITS >= 32);

/// How much [`FrameDecoder::read_from`] reads at most at a time. Also the size
/// its buffer shrinks back to after a large frame.
const READ_CHUNK: usize = 64 * 1024;

/// An empty decoder buffer with more capacity than this gives it back.
const SHRINK_ABOVE: usize = 1024 * 1024;

/// How many bytes of junk [`WireError::BadMagic`] shows.
const SHOWN_JUNK: usize = 64;

/// A message of the hearth worker protocol; one per frame.
///
/// The client (the pool's slot) sends [`Hello`](Frame::Hello),
/// [`SessionInit`](Frame::SessionInit), [`Job`](Frame::Job),
/// [`Ping`](Frame::Ping) and [`Shutdown`](Frame::Shutdown); the worker
/// answers with [`HelloAck`](Frame::HelloAck),
/// [`SessionAck`](Frame::SessionAck), [`Output`](Frame::Output),
/// [`Result`](Frame::Result) and [`Pong`](Frame::Pong). See the docs of
/// `wire.rs` for the order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// Client → worker, first frame on a new slot: the client's protocol
    /// version.
    Hello {
        /// The protocol version the client speaks ([`VERSION`]).
        version: u32,
    },
    /// Worker → client, the answer to [`Hello`](Frame::Hello): who the worker
    /// is.
    HelloAck {
        /// The protocol version the worker speaks ([`VERSION`]).
        version: u32,
        /// The worker's host name, for logs and per-host results.
        host: String,
        /// The worker's process id, for logs.
        pid: u32,
    },
    /// Client → worker, once after the handshake: what the session will use.
    SessionInit {
        /// The names of the handlers the client's jobs will name (at most
        /// `MAX_LIST`).
        #[serde(deserialize_with = "bounded_list")]
        handlers: Vec<String>,
        /// Settings for the worker's handlers, as key-value pairs (at most
        /// `MAX_LIST`).
        #[serde(deserialize_with = "bounded_list")]
        config: Vec<(String, String)>,
        /// The slot timeout in milliseconds: a worker that hears nothing
        /// from the client for this long ends its job and itself (0: never).
        slot_timeout_ms: u64,
        /// The slot's number in the pool: from 1, counting the slots of
        /// every host in the pool's order (GNU parallel's `{%}`).
        slot: u32,
        /// Environment variables set for every job (at most `MAX_LIST`).
        #[serde(deserialize_with = "bounded_list")]
        env: Vec<(String, String)>,
        /// Where jobs run: `None` in the worker's own directory.
        workdir: Option<Workdir>,
    },
    /// Worker → client, the answer to [`SessionInit`](Frame::SessionInit).
    SessionAck {
        /// The handlers the worker has (all of its handlers, not only the
        /// ones asked for), so the client can refuse jobs it cannot run. At
        /// most `MAX_LIST`.
        #[serde(deserialize_with = "bounded_list")]
        handlers: Vec<String>,
    },
    /// Client → worker: run a handler on a payload.
    Job {
        /// The client's id for the job, repeated in its
        /// [`Result`](Frame::Result).
        id: u64,
        /// The name of the handler to run.
        handler: String,
        /// The handler's input, encoded as the handler expects.
        payload: Vec<u8>,
    },
    /// Worker → client: the outcome of a [`Job`](Frame::Job).
    Result {
        /// The id of the job.
        id: u64,
        /// The handler's output, or the error it returned. An error here is
        /// the job's own and final; it is never retried.
        outcome: Result<Vec<u8>, JobError>,
    },
    /// Client → worker: no more jobs will come; finish and exit.
    Shutdown,
    /// Client → worker: are you there? Answered with a [`Pong`](Frame::Pong)
    /// at once, even while a job runs.
    Ping {
        /// The client's number for this ping, repeated in the answer.
        seq: u64,
    },
    /// Worker → client: the answer to a [`Ping`](Frame::Ping).
    Pong {
        /// The ping's number.
        seq: u64,
    },
    /// Worker → client: a chunk of the running job's output, sent as the
    /// handler produces it; the job's [`Result`](Frame::Result) ends it.
    Output {
        /// The id of the job.
        id: u64,
        /// Which of the job's streams the bytes are of.
        stream: Stream,
        /// The bytes, at most `MAX_CHUNK`.
        #[serde(with = "bytes")]
        data: Vec<u8>,
    },
    /// Either way, a file of job `id` follows: its data in
    /// [`FileData`](Frame::FileData) frames, then
    /// [`FileEnd`](Frame::FileEnd). The client sends the job's files
    /// before its [`Job`](Frame::Job); the worker sends the files to bring
    /// back after the job ran, before its [`Result`](Frame::Result).
    File {
        /// The id of the job.
        id: u64,
        /// Where the file goes on the worker's side, or which of the
        /// [`Return`](Frame::Return) paths it is: relative to the job's
        /// working directory, or absolute.
        path: String,
        /// Its permission bits (`0o644`...).
        mode: u32,
        /// Its length in bytes.
        size: u64,
    },
    /// Either way: a chunk of the file being sent, at most `MAX_CHUNK`.
    FileData {
        /// The id of the job.
        id: u64,
        /// The bytes.
        #[serde(with = "bytes")]
        data: Vec<u8>,
    },
    /// Either way: the file being sent is whole.
    FileEnd {
        /// The id of the job.
        id: u64,
        /// CRC-32 (IEEE) of its bytes.
        crc: u32,
    },
    /// Client → worker, before a [`Job`](Frame::Job): the files to bring
    /// back once it ran, and whether to remove the job's files from the
    /// worker's host afterwards.
    Return {
        /// The id of the job.
        id: u64,
        /// The paths, as for [`File`](Frame::File) (at most `MAX_LIST`).
        #[serde(deserialize_with = "bounded_list")]
        paths: Vec<String>,
        /// Remove the files sent and brought back once the job is done.
        cleanup: bool,
    },
    /// Client → worker, before a [`Job`](Frame::Job): a chunk of what the
    /// job reads on its standard input. The chunks of a job, in order, are
    /// its whole stdin; its [`Job`](Frame::Job) frame ends them.
    Stdin {
        /// The id of the job.
        id: u64,
        /// The bytes, at most `MAX_CHUNK`.
        #[serde(with = "bytes")]
        data: Vec<u8>,
    },
    /// Client → worker, right after `SESSION_ACK`: the files sent with id
    /// `u64::MAX` (which no job has) since are the session's base files, there for every
    /// job; removed when the worker ends if `cleanup`. The worker answers
    /// with [`BaseAck`](Frame::BaseAck).
    Base {
        /// Remove the base files when the worker ends.
        cleanup: bool,
    },
    /// Worker → client: the base files are placed (`error` empty), or why
    /// not.
    BaseAck {
        /// Empty, or what went wrong.
        error: String,
    },
    /// Client → worker, while job `id` runs: stop it (its time limit
    /// passed). The worker sends the job's processes each signal of
    /// `sequence` and waits after it, until they are gone; a handler that
    /// runs no command sees [`JobContext::is_cancelled`](crate::remote::JobContext::is_cancelled).
    /// The job's `RESULT` follows as usual. Ignored if job `id` does not
    /// run (it ended already).
    Cancel {
        /// The id of the job.
        id: u64,
        /// Signal numbers and the milliseconds to wait after each (at most
        /// `MAX_LIST`).
        #[serde(deserialize_with = "bounded_list")]
        sequence: Vec<(i32, u32)>,
    },
}

/// The id under which the base files of a session travel
/// ([`Frame::Base`]); no job has it.
pub(crate) const BASE_ID: u64 = u64::MAX;

/// Where the jobs of a session run on the worker's host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Workdir {
    /// This directory (made if missing): absolute, or relative to the
    /// home directory of the worker's user.
    Dir(String),
    /// A fresh temporary directory per job, removed after it.
    Temp,
}

impl Frame {
    /// The message's name as the protocol description writes it, e.g.
    /// `"HELLO_ACK"`, for logs and errors ("expected `HELLO_ACK`, got JOB").
    pub fn name(&self) -> &'static str {
        match self {
            Frame::Hello { .. } => "HELLO",
            Frame::HelloAck { .. } => "HELLO_ACK",
            Frame::SessionInit { .. } => "SESSION_INIT",
            Frame::SessionAck { .. } => "SESSION_ACK",
            Frame::Job { .. } => "JOB",
            Frame::Result { .. } => "RESULT",
            Frame::Shutdown => "SHUTDOWN",
            Frame::Ping { .. } => "PING",
            Frame::Pong { .. } => "PONG",
            Frame::Output { .. } => "OUTPUT",
            Frame::File { .. } => "FILE",
            Frame::FileData { .. } => "FILE_DATA",
            Frame::FileEnd { .. } => "FILE_END",
            Frame::Return { .. } => "RETURN",
            Frame::Stdin { .. } => "STDIN",
            Frame::Base { .. } => "BASE",
            Frame::BaseAck { .. } => "BASE_ACK",
            Frame::Cancel { .. } => "CANCEL",
        }
    }
}

/// An error returned by a job's own code, or by the worker about the job,
/// sent back in a [`Frame::Result`].
///
/// Unlike a transport failure, a job error is final: the job is not retried.
///
/// Displayed as `kind: message`, e.g. `unknown handler: resize`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// What went wrong.
    pub kind: JobErrorKind,
    /// The details, in the words of the handler or the worker.
    pub message: String,
}

impl JobError {
    /// A job error of `kind` with `message`.
    pub fn new(kind: JobErrorKind, message: impl Into<String>) -> JobError {
        JobError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            fmt::Display::fmt(&self.kind, f)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

impl StdError for JobError {}

/// The kind of a [`JobError`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobErrorKind {
    /// The handler ran and returned an error.
    Failed,
    /// The worker has no handler of the job's name.
    UnknownHandler,
    /// The handler panicked; the message is the panic's.
    Panicked,
    /// The handler could not decode the job's payload.
    BadPayload,
}

impl fmt::Display for JobErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobErrorKind::Failed => "job failed",
            JobErrorKind::UnknownHandler => "unknown handler",
            JobErrorKind::Panicked => "job panicked",
            JobErrorKind::BadPayload => "bad job payload",
        })
    }
}

/// An error of reading, writing or decoding frames.
///
/// Displayed in lower case as `context: cause`, with what to do where there is
/// something to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum WireError {
    /// The bytes where a frame should start are not [`MAGIC`]: something other
    /// than the protocol writes to the stream, e.g. a login shell greeting.
    BadMagic {
        /// The first bytes from where the frame should start (at most 64).
        got: Vec<u8>,
        /// Where in the stream: the number of bytes before these.
        offset: u64,
    },
    /// The peer speaks another version of the protocol.
    VersionMismatch {
        /// The version this side speaks ([`VERSION`]).
        ours: u32,
        /// The version the peer speaks.
        theirs: u32,
    },
    /// A frame's payload is larger than the max frame size: announced by the
    /// peer, or of a frame given to [`encode`].
    TooLarge {
        /// The payload's length in bytes.
        len: usize,
        /// The max frame size in bytes.
        max: usize,
    },
    /// The stream ended inside a frame.
    Truncated {
        /// The length of the frame, header included, or of the header alone
        /// if the header itself was cut.
        expected: usize,
        /// The number of bytes that arrived.
        got: usize,
    },
    /// A frame's payload is not a valid [`Frame`].
    Decode {
        /// The message the payload's first byte names, if it names one
        /// (e.g. `"RESULT"`).
        frame: Option<&'static str>,
        /// What was wrong, in hearth's words, where it knows more than the
        /// decoder's error says (e.g. a list longer than `MAX_LIST`).
        detail: Option<String>,
        /// The decoder's error.
        error: postcard::Error,
    },
    /// A frame's payload has bytes left over after its [`Frame`].
    TrailingBytes {
        /// The number of bytes left over.
        extra: usize,
    },
    /// A [`Frame`] could not be encoded.
    Encode(postcard::Error),
    /// Reading or writing the stream failed.
    Io(io::Error),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadMagic { got, offset: 0 } => write!(
                f,
                "bytes before the first frame: the remote login shell probably printed something \
                 (got \"{}\"); make it quiet for non-interactive sessions",
                got.escape_ascii()
            ),
            WireError::BadMagic { got, offset } => write!(
                f,
                "bytes that are not a frame at byte {offset} of the stream (got \"{}\"): \
                 something else writes to it, e.g. a handler printing to stdout; \
                 write logs to stderr",
                got.escape_ascii()
            ),
            WireError::VersionMismatch { ours, theirs } => write!(
                f,
                "protocol version mismatch: this side speaks version {ours}, the peer version \
                 {theirs}; run the same version of hearth on both ends"
            ),
            WireError::TooLarge { len, max } => write!(
                f,
                "frame too large: {len} bytes, the maximum is {max}; send smaller payloads \
                 (e.g. a path to a file instead of its contents)"
            ),
            WireError::Truncated { expected, got } if *got < HEADER_LEN => write!(
                f,
                "stream ended inside a frame header: got {got} of its {expected} bytes"
            ),
            WireError::Truncated { expected, got } => write!(
                f,
                "stream ended inside a frame: got {got} of its {expected} bytes"
            ),
            WireError::Decode {
                frame,
                detail,
                error,
            } => {
                write!(f, "malformed {} payload: ", frame.unwrap_or("frame"))?;
                match detail {
                    Some(detail) => f.write_str(detail)?,
                    None => write!(f, "{error}")?,
                }
                f.write_str(
                    "; the peer does not speak this version of the hearth protocol, \
                     or the stream is damaged",
                )
            }
            WireError::TrailingBytes { extra } => write!(
                f,
                "malformed frame payload: {extra} bytes left over after the message"
            ),
            WireError::Encode(err) => write!(f, "cannot encode frame: {err}"),
            WireError::Io(err) => write!(f, "frame i/o: {err}"),
        }
    }
}

impl StdError for WireError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            WireError::Decode { error, .. } | WireError::Encode(error) => Some(error),
            WireError::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for WireError {
    fn from(err: io::Error) -> WireError {
        WireError::Io(err)
    }
}

/// Appends `frame`, header and payload, to `out`.
///
/// # Errors
///
/// [`WireError::TooLarge`] if the payload is larger than `max_frame` bytes
/// (values above `u32::MAX` act as `u32::MAX`); the payload is not built
/// beyond `max_frame` bytes to find out. [`WireError::Encode`] if postcard
/// fails. On error `out` is left as it was.
pub fn encode(frame: &Frame, max_frame: usize, out: &mut Vec<u8>) -> Result<(), WireError> {
    encode_value(frame, max_frame, out)
}

/// Appends a `JOB` frame built from borrowed parts: the same bytes as
/// [`encode`] of a [`Frame::Job`], without copying the handler name and
/// payload into one first (the pool's hot path).
pub(crate) fn encode_job(
    id: u64,
    handler: &str,
    payload: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    encode_value(
        &JobRef {
            id,
            handler,
            payload,
        },
        max_frame,
        out,
    )
}

/// Appends an `OUTPUT` frame built from borrowed bytes: the same bytes as
/// [`encode`] of a [`Frame::Output`], without copying the chunk first (the
/// worker's hot path for large outputs).
pub(crate) fn encode_output(
    id: u64,
    stream: Stream,
    data: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    encode_value(&OutputRef { id, stream, data }, max_frame, out)
}

/// Appends a `FILE_DATA` frame built from borrowed bytes: the same bytes
/// as [`encode`] of a [`Frame::FileData`], without copying the chunk.
pub(crate) fn encode_file_data(
    id: u64,
    data: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    encode_value(&FileDataRef { id, data }, max_frame, out)
}

/// Appends a `STDIN` frame built from borrowed bytes: the same bytes as
/// [`encode`] of a [`Frame::Stdin`], without copying the chunk.
pub(crate) fn encode_stdin(
    id: u64,
    data: &[u8],
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    encode_value(&StdinRef { id, data }, max_frame, out)
}

/// [`Frame::Stdin`] with borrowed fields; serializes exactly like it.
struct StdinRef<'a> {
    id: u64,
    data: &'a [u8],
}

impl Serialize for StdinRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStructVariant;
        // Variant 14 of `Frame`: checked by a test against `Frame::Stdin`.
        let mut stdin = serializer.serialize_struct_variant("Frame", 14, "Stdin", 2)?;
        stdin.serialize_field("id", &self.id)?;
        stdin.serialize_field("data", &Bytes(self.data))?;
        stdin.end()
    }
}

/// [`Frame::FileData`] with borrowed fields; serializes exactly like it.
struct FileDataRef<'a> {
    id: u64,
    data: &'a [u8],
}

impl Serialize for FileDataRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStructVariant;
        // Variant 11 of `Frame`: checked by a test against `Frame::FileData`.
        let mut output = serializer.serialize_struct_variant("Frame", 11, "FileData", 2)?;
        output.serialize_field("id", &self.id)?;
        output.serialize_field("data", &Bytes(self.data))?;
        output.end()
    }
}

/// [`Frame::Output`] with borrowed fields; serializes exactly like it.
struct OutputRef<'a> {
    id: u64,
    stream: Stream,
    data: &'a [u8],
}

impl Serialize for OutputRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStructVariant;
        // Variant 9 of `Frame`: checked by a test against `Frame::Output`.
        let mut output = serializer.serialize_struct_variant("Frame", 9, "Output", 3)?;
        output.serialize_field("id", &self.id)?;
        output.serialize_field("stream", &self.stream)?;
        output.serialize_field("data", &Bytes(self.data))?;
        output.end()
    }
}

/// A byte slice that serializes with `serialize_bytes`: postcard writes a
/// length and the bytes, as for a sequence of `u8`, but in one copy
/// instead of one call per byte.
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Serde for a `Vec<u8>` field as bytes (see [`Bytes`]): the same encoding
/// in postcard as a sequence of `u8`, decoded in one copy.
mod bytes {
    use std::fmt;

    use serde::de::{Deserializer, Error, SeqAccess, Visitor};
    use serde::ser::Serializer;

    pub(super) fn serialize<S: Serializer>(data: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(data)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }

    struct BytesVisitor;

    impl<'de> Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(bytes)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(byte) = seq.next_element()? {
                bytes.push(byte);
            }
            Ok(bytes)
        }
    }
}

/// [`Frame::Job`] with borrowed fields; serializes exactly like it.
struct JobRef<'a> {
    id: u64,
    handler: &'a str,
    payload: &'a [u8],
}

impl Serialize for JobRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStructVariant;
        // Variant 4 of `Frame`: checked by a test against `Frame::Job`.
        let mut job = serializer.serialize_struct_variant("Frame", 4, "Job", 3)?;
        job.serialize_field("id", &self.id)?;
        job.serialize_field("handler", self.handler)?;
        job.serialize_field("payload", self.payload)?;
        job.end()
    }
}

fn encode_value<T: Serialize + ?Sized>(
    value: &T,
    max_frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let max = max_frame.min(LENGTH_FIELD_MAX);
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&[0; 4]);
    let flavor = Bounded {
        out: &mut *out,
        len: 0,
        max,
    };
    let len = match postcard::serialize_with_flavor(value, flavor) {
        Ok(len) if len <= max => len,
        Ok(len) => {
            out.truncate(start);
            return Err(WireError::TooLarge { len, max });
        }
        Err(err) => {
            out.truncate(start);
            return Err(WireError::Encode(err));
        }
    };
    let Ok(len) = u32::try_from(len) else {
        out.truncate(start);
        return Err(WireError::TooLarge { len, max });
    };
    out[start + 5..start + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// A postcard output that appends to a `Vec` up to `max` bytes and counts
/// beyond, so that an oversized frame's length is known without building it.
struct Bounded<'a> {
    out: &'a mut Vec<u8>,
    len: usize,
    max: usize,
}

impl Flavor for Bounded<'_> {
    type Output = usize;

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.len = self.len.saturating_add(data.len());
        if self.len <= self.max {
            self.out.extend_from_slice(data);
        }
        Ok(())
    }

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.len = self.len.saturating_add(1);
        if self.len <= self.max {
            self.out.push(byte);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<usize> {
        Ok(self.len)
    }
}

/// Writes `frame` to `writer` and flushes it: the worker side's way to send.
///
/// # Errors
///
/// As [`encode`] (nothing is written then), and [`WireError::Io`] if writing
/// fails.
pub fn write_frame<W>(writer: &mut W, frame: &Frame, max_frame: usize) -> Result<(), WireError>
where
    W: Write + ?Sized,
{
    let mut bytes = Vec::new();
    encode(frame, max_frame, &mut bytes)?;
    writer.write_all(&bytes)?;
    writer.flush()?;
    Ok(())
}

/// Reads the next frame from a blocking `reader`: the worker side's way to
/// receive.
///
/// Returns `Ok(None)` when the stream ends cleanly at a frame boundary. The
/// decoder may read ahead of the frame it returns, so use the same decoder for
/// every call on a stream.
///
/// # Errors
///
/// As [`FrameDecoder::next_frame`]; [`WireError::Truncated`] if the stream
/// ends inside a frame and [`WireError::Io`] if reading fails
/// (`Interrupted` is retried).
///
pub fn read_frame<R>(reader: &mut R, decoder: &mut FrameDecoder) -> Result<Option<Frame>, WireError>
where
    R: Read + ?Sized,
{
    loop {
        if let Some(frame) = decoder.next_frame()? {
            return Ok(Some(frame));
        }
        if decoder.read_from(reader)? == 0 {
            return decoder.next_frame_at_eof();
        }
    }
}

/// An incremental frame decoder: bytes in, frames out, in any pieces.
///
/// Give it bytes with [`feed`](FrameDecoder::feed) or
/// [`read_from`](FrameDecoder::read_from) (a non-blocking reader's
/// `WouldBlock` comes back as is), then take frames with
/// [`next_frame`](FrameDecoder::next_frame) until it returns `Ok(None)`; at the
/// end of the stream, [`next_frame_at_eof`](FrameDecoder::next_frame_at_eof)
/// tells a clean end from a cut frame.
///
/// # Notes
///
/// The decoder holds at most one frame's worth of bytes, `HEADER_LEN` plus
/// the max frame size: when that much is buffered it accepts no more until a
/// frame is taken. Its buffer grows with the bytes that arrive, not with the
/// length a header announces, and shrinks back after a large frame.
pub struct FrameDecoder {
    /// Bytes received; `buf[start..]` are not decoded yet.
    buf: Vec<u8>,
    start: usize,
    /// Position in the stream of `buf[start]`.
    offset: u64,
    /// At most `LENGTH_FIELD_MAX`.
    max_frame: usize,
    /// Where [`FrameDecoder::read_from`] reads into: zeroed once, so a read
    /// costs a copy of the bytes that came, not a fill of 64 KiB.
    scratch: Vec<u8>,
    /// A whole frame was taken: junk is no longer skipped
    /// ([`FrameDecoder::skip_junk_before_first_frame`]).
    framed: bool,
}

impl FrameDecoder {
    /// A decoder that accepts payloads of at most `max_frame` bytes (values
    /// above `u32::MAX` act as `u32::MAX`, the most the length field can say).
    pub fn new(max_frame: usize) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            offset: 0,
            max_frame: max_frame.min(LENGTH_FIELD_MAX),
            scratch: Vec::new(),
            framed: false,
        }
    }

    /// Before the first frame: drops the pending bytes that cannot be its
    /// start (what a login shell printed ahead of the worker, such as a
    /// banner from `.bashrc`) and returns them. Nothing once a frame came,
    /// or when the pending bytes start as a frame does; an end that may be
    /// the start of [`MAGIC`] is kept for the bytes after it.
    pub(crate) fn skip_junk_before_first_frame(&mut self) -> Vec<u8> {
        if self.framed {
            return Vec::new();
        }
        let pending = &self.buf[self.start..];
        let at = match pending.windows(MAGIC.len()).position(|w| w == MAGIC) {
            Some(at) => at,
            None => {
                let kept = (1..MAGIC.len())
                    .rev()
                    .find(|&n| pending.ends_with(&MAGIC[..n]))
                    .unwrap_or(0);
                pending.len() - kept
            }
        };
        let junk = pending[..at].to_vec();
        self.consume(at);
        junk
    }

    /// The largest payload this decoder accepts, in bytes.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// The number of bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The number of bytes [`feed`](FrameDecoder::feed) accepts now.
    ///
    /// Never zero after [`next_frame`](FrameDecoder::next_frame) returned
    /// `Ok(None)`.
    pub fn room(&self) -> usize {
        self.limit().saturating_sub(self.buffered())
    }

    /// Adds received bytes, as many as there is [`room`](FrameDecoder::room)
    /// for, and returns how many it took; give it the rest after taking
    /// frames.
    #[must_use = "the decoder may take fewer bytes than given"]
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        self.compact();
        let taken = bytes.len().min(self.room());
        let (bytes, _) = bytes.split_at(taken);
        self.reserve(taken);
        self.buf.extend_from_slice(bytes);
        taken
    }

    /// Reads once from `reader` into the decoder, at most 64 KiB, and returns
    /// the number of bytes read; 0 means the end of the stream.
    ///
    /// # Errors
    ///
    /// The reader's error, `WouldBlock` included; `Interrupted` is retried.
    /// An error of kind `Other` if there is no [`room`](FrameDecoder::room)
    /// (take frames first).
    pub fn read_from<R>(&mut self, reader: &mut R) -> io::Result<usize>
    where
        R: Read + ?Sized,
    {
        self.compact();
        let want = self.room().min(READ_CHUNK);
        if want == 0 {
            return Err(io::Error::other(
                "frame decoder is full: take frames with next_frame before reading more",
            ));
        }
        if self.scratch.len() < READ_CHUNK {
            self.scratch.resize(READ_CHUNK, 0);
        }
        let result = loop {
            match reader.read(&mut self.scratch[..want]) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                result => break result,
            }
        };
        // `min`: do not trust a reader to report no more than it was given.
        let read = result.as_ref().map_or(0, |read| (*read).min(want));
        self.reserve(read);
        self.buf.extend_from_slice(&self.scratch[..read]);
        result.map(|_| read)
    }

    /// Takes the next complete frame: `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    ///
    /// [`WireError::BadMagic`], [`WireError::VersionMismatch`] or
    /// [`WireError::TooLarge`] as soon as the header's bytes show it; these
    /// leave the bytes in place, so the error repeats. [`WireError::Decode`] or
    /// [`WireError::TrailingBytes`] for a complete frame whose payload is not
    /// one [`Frame`]; that frame is skipped.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, WireError> {
        let pending = &self.buf[self.start..];
        let Some(len) = self.header(pending)? else {
            return Ok(None);
        };
        let frame_len = HEADER_LEN + len;
        let Some(payload) = pending.get(HEADER_LEN..frame_len) else {
            return Ok(None);
        };
        let frame = decode_payload(payload);
        self.consume(frame_len);
        self.framed = true;
        frame.map(Some)
    }

    /// As [`next_frame`](FrameDecoder::next_frame), for a stream that has
    /// ended: `Ok(None)` means it ended cleanly at a frame boundary.
    ///
    /// # Errors
    ///
    /// As [`next_frame`](FrameDecoder::next_frame), and
    /// [`WireError::Truncated`] where that would need more bytes.
    pub fn next_frame_at_eof(&mut self) -> Result<Option<Frame>, WireError> {
        if let Some(frame) = self.next_frame()? {
            return Ok(Some(frame));
        }
        let got = self.buffered();
        if got == 0 {
            return Ok(None);
        }
        let expected = match self.header(&self.buf[self.start..]) {
            Ok(Some(len)) => HEADER_LEN + len,
            _ => HEADER_LEN,
        };
        Err(WireError::Truncated { expected, got })
    }

    /// Checks as much of the header at the start of `pending` as has arrived
    /// and returns the payload length once it is known.
    fn header(&self, pending: &[u8]) -> Result<Option<usize>, WireError> {
        if pending.iter().zip(MAGIC).any(|(got, magic)| *got != magic) {
            return Err(WireError::BadMagic {
                got: pending.iter().take(SHOWN_JUNK).copied().collect(),
                offset: self.offset,
            });
        }
        let [_, _, _, _, version, ref length @ ..] = *pending else {
            return Ok(None);
        };
        if version != VERSION {
            return Err(WireError::VersionMismatch {
                ours: u32::from(VERSION),
                theirs: u32::from(version),
            });
        }
        let [a, b, c, d, ..] = *length else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([a, b, c, d]) as usize;
        if len > self.max_frame {
            return Err(WireError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        Ok(Some(len))
    }

    /// Marks the first `len` pending bytes as decoded.
    fn consume(&mut self, len: usize) {
        self.start += len;
        self.offset += len as u64;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Moves the pending bytes to the front of the buffer, and gives memory
    /// back after a large frame.
    fn compact(&mut self) {
        if self.start > 0 {
            let len = self.buffered();
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(len);
            self.start = 0;
        }
        if self.buf.len() < READ_CHUNK && self.buf.capacity() > SHRINK_ABOVE {
            self.buf.shrink_to(READ_CHUNK);
        }
    }

    /// Makes room for `additional` more bytes (at most
    /// [`room`](FrameDecoder::room)) after a [`compact`](Self::compact):
    /// doubling, but never beyond one frame's worth.
    fn reserve(&mut self, additional: usize) {
        let len = self.buf.len();
        let capacity = self.buf.capacity();
        if capacity - len >= additional {
            return;
        }
        let target = capacity
            .saturating_mul(2)
            .min(self.limit())
            .max(len + additional);
        self.buf.reserve_exact(target - len);
    }

    /// The most bytes the decoder holds: one frame of the max size.
    fn limit(&self) -> usize {
        HEADER_LEN + self.max_frame
    }
}

impl Default for FrameDecoder {
    /// A decoder with the [`DEFAULT_MAX_FRAME`].
    fn default() -> FrameDecoder {
        FrameDecoder::new(DEFAULT_MAX_FRAME)
    }
}

impl fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("buffered", &self.buffered())
            .field("offset", &self.offset)
            .field("max_frame", &self.max_frame)
            .finish_non_exhaustive()
    }
}

/// Decodes a payload that must be exactly one [`Frame`].
fn decode_payload(payload: &[u8]) -> Result<Frame, WireError> {
    LIST_TOO_LONG.set(false);
    let (frame, rest) = postcard::take_from_bytes(payload).map_err(|error| {
        // postcard encodes the variant's index first, one byte for these.
        let frame = payload
            .first()
            .and_then(|&index| FRAME_NAMES.get(usize::from(index)));
        let detail = match (payload.first(), frame) {
            (None, _) => Some("the payload is empty".to_owned()),
            (Some(index), None) => Some(format!(
                "message type {index} is not one of protocol version {VERSION}"
            )),
            _ => LIST_TOO_LONG.take().then(|| {
                format!("a list of more than {MAX_LIST} items, the most a message may carry")
            }),
        };
        WireError::Decode {
            frame: frame.copied(),
            detail,
            error,
        }
    })?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes { extra: rest.len() });
    }
    Ok(frame)
}

/// The names of [`Frame`]'s variants, by index.
const FRAME_NAMES: [&str; 18] = [
    "HELLO",
    "HELLO_ACK",
    "SESSION_INIT",
    "SESSION_ACK",
    "JOB",
    "RESULT",
    "SHUTDOWN",
    "PING",
    "PONG",
    "OUTPUT",
    "FILE",
    "FILE_DATA",
    "FILE_END",
    "RETURN",
    "STDIN",
    "BASE",
    "BASE_ACK",
    "CANCEL",
];

/// The most items in a list of a message: handler names, config pairs. A
/// worker has a handful of handlers; the bound keeps a small frame of many
/// empty strings (one byte each on the wire, 24 in memory) from costing
/// gigabytes to decode.
pub(crate) const MAX_LIST: usize = 4096;

thread_local! {
    /// Set when the last decode on this thread refused a list for its
    /// length, for the error message (postcard keeps only its own errors).
    static LIST_TOO_LONG: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Decodes a list of at most `MAX_LIST` items; a longer one is an error
/// before any item is decoded.
fn bounded_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ListVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of at most {MAX_LIST} items")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let refuse = |len: usize| {
                LIST_TOO_LONG.set(true);
                <A::Error as serde::de::Error>::invalid_length(len, &ListVisitor::<T>(self.0))
            };
            // The decoder's hint may be capped by the bytes left: a bound
            // on what to reserve, and the items are counted as they come.
            let hint = seq.size_hint().unwrap_or(0);
            if hint > MAX_LIST {
                return Err(refuse(hint));
            }
            let mut items = Vec::with_capacity(hint);
            while let Some(item) = seq.next_element()? {
                if items.len() == MAX_LIST {
                    return Err(refuse(MAX_LIST + 1));
                }
                items.push(item);
            }
            Ok(items)
        }
    }

    deserializer.deserialize_seq(ListVisitor(std::marker::PhantomData))
}
