//! [`serve`](super::serve) on the process's stdin and stdout: the serve
//! loop reads stdin on its own thread (no hand-off per frame, the speed the
//! design keeps), and the keeper thread beside it looks after what the
//! loop cannot see while a job runs on it.
//!
//! The keeper wakes every sixth of the slot timeout (at most four times a
//! second) and waits on stdin in between without reading it:
//!
//! - stdin hangs up while a job runs: the pool is gone, and the worker
//!   ends (the job's process group with it);
//! - nothing read from the pool (its pings included) for the slot timeout:
//!   the pool is gone or cut off, and the worker ends;
//! - a job runs when it wakes: the keeper then reads stdin itself until
//!   the job ends, answers each `PING` with a `PONG` at once, and keeps the
//!   other frames, in order, for the loop. A pool that pings a slot whose
//!   job passed its time limit has its answer within a wake-up period,
//!   and its `CANCEL` of the job goes to the job's thread as soon. A
//!   job costs the loop two atomic stores and a counter, no system call
//!   and no thread hand-off; the keeper reads at most one short job's
//!   frames per wake-up.
//!
//! The loop and the keeper share the reader (stdin and its decoder) and
//! the writer behind mutexes. The loop holds the reader while it waits in
//! `read`, which is only while no job runs; the keeper only ever tries the
//! locks, and writes a `PONG` only when stdout has room, so it never
//! blocks and can always end a worker whose pool is gone.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use log::debug;

use super::{Input, ServeError, Watch, lock, serve_loop};
use crate::remote::Handlers;
use crate::remote::wire::{self, Frame, FrameDecoder, WireError};
use crate::sys;

/// What ends the worker when the keeper finds its pool gone.
pub(super) struct Ends {
    /// Stdin hung up while a job ran.
    pub(super) gone_during_job: fn(),
    /// Nothing from the pool for this slot timeout.
    pub(super) silent: fn(Duration),
}

/// The reading side of stdin, shared by the loop and the keeper.
struct Reader {
    stdin: File,
    decoder: FrameDecoder,
    /// Frames (and the end) the keeper read while a job ran, in order.
    queued: VecDeque<Input>,
    /// The end or an error was read: nothing more to read.
    ended: bool,
}

/// The longest the keeper sleeps: before the session gives a slot timeout,
/// and the most for a long one.
const MAX_PERIOD: Duration = Duration::from_millis(250);

/// The shortest, for very short slot timeouts (tests).
const MIN_PERIOD: Duration = Duration::from_millis(10);

/// Serves on `stdin` and `stdout` with a keeper thread beside the loop.
pub(super) fn serve_stdin(
    stdin: File,
    stdout: File,
    handlers: Handlers,
    ends: Ends,
) -> Result<(), ServeError> {
    let max_frame = wire::DEFAULT_MAX_FRAME;
    let watch = Arc::new(Watch::default());
    let fd = stdin.as_raw_fd();
    let reader = Arc::new(Mutex::new(Reader {
        stdin,
        decoder: FrameDecoder::new(max_frame),
        queued: VecDeque::new(),
        ended: false,
    }));
    let out = Arc::new(Mutex::new(BufWriter::new(stdout)));
    let keeper = Keeper {
        watch: watch.clone(),
        reader: reader.clone(),
        out: out.clone(),
        fd,
        ends,
    };
    let _ = thread::Builder::new()
        .name("remote-keeper".to_owned())
        .spawn(move || keeper.run())
        .map_err(|err| ServeError::Wire(WireError::Io(err)))?;
    let next = || next_input(&reader, &out, &watch);
    serve_loop(next, &out, &handlers, &watch)
}

/// The loop's next input: one the keeper kept, one decoded already, or
/// one read now (flushing the output first, since this may wait).
fn next_input(
    reader: &Mutex<Reader>,
    out: &Mutex<BufWriter<File>>,
    watch: &Watch,
) -> Result<Input, ServeError> {
    let mut reader = lock(reader);
    let reader = &mut *reader;
    loop {
        if let Some(input) = reader.queued.pop_front() {
            return Ok(input);
        }
        match reader.decoder.next_frame() {
            Ok(Some(frame)) => return Ok(Input::Frame(frame)),
            Ok(None) => {}
            Err(err) => return Ok(Input::Failed(err)),
        }
        // Nothing complete buffered: send what is done, then read.
        lock(out).flush().map_err(WireError::Io)?;
        match reader.decoder.read_from(&mut reader.stdin) {
            Ok(0) => {
                return Ok(match reader.decoder.next_frame_at_eof() {
                    Ok(Some(frame)) => Input::Frame(frame),
                    Ok(None) => Input::Eof,
                    Err(err) => Input::Failed(err),
                });
            }
            Ok(_) => {
                let _ = watch.reads.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => return Ok(Input::Failed(WireError::Io(err))),
        }
    }
}

/// The thread beside the serve loop, see the module docs.
struct Keeper {
    watch: Arc<Watch>,
    reader: Arc<Mutex<Reader>>,
    out: Arc<Mutex<BufWriter<File>>>,
    /// Stdin, to wait on.
    fd: libc::c_int,
    ends: Ends,
}

impl Keeper {
    fn run(self) {
        let watch = &*self.watch;
        // A job during which stdin is not to be read again (its end or an
        // error was read: the loop takes it once the job ends).
        let mut done_reading = None;
        let mut seen_reads = watch.reads.load(Ordering::Relaxed);
        let mut heard = Instant::now();
        loop {
            let limit = watch.limit();
            let period = limit.map_or(MAX_PERIOD, |l| (l / 6).clamp(MIN_PERIOD, MAX_PERIOD));
            let job = watch
                .busy
                .load(Ordering::SeqCst)
                .then(|| watch.jobs.load(Ordering::SeqCst));
            let reading = job.is_some() && job != done_reading;
            match sys::wait_for_input(self.fd, reading, period) {
                sys::Input::Nothing => {}
                sys::Input::Data => {
                    if !self.read_during_job() {
                        done_reading = job;
                    }
                }
                sys::Input::HangUp => {
                    watch.gone.store(true, Ordering::SeqCst);
                    if watch.busy.load(Ordering::SeqCst) {
                        (self.ends.gone_during_job)();
                    }
                    // The loop sees the end itself when it reads.
                    return;
                }
            }
            let reads = watch.reads.load(Ordering::Relaxed);
            if reads != seen_reads {
                seen_reads = reads;
                heard = Instant::now();
            } else if let Some(limit) = limit
                && heard.elapsed() >= limit
            {
                (self.ends.silent)(limit);
                return;
            }
        }
    }

    /// Reads what stdin has while a job runs: answers pings, keeps the
    /// rest for the loop. Does nothing if the loop has the reader (the job
    /// ended) or stdin has nothing after all. Returns false once there is
    /// nothing more to read (the end, an error).
    fn read_during_job(&self) -> bool {
        let Ok(mut reader) = self.reader.try_lock() else {
            return true;
        };
        let reader = &mut *reader;
        if reader.ended {
            return false;
        }
        // Under the lock nobody else reads: data seen now stays there.
        if sys::wait_for_input(self.fd, true, Duration::ZERO) != sys::Input::Data {
            return true;
        }
        let read = reader.decoder.read_from(&mut reader.stdin);
        let _ = self.watch.reads.fetch_add(1, Ordering::Relaxed);
        match read {
            Ok(0) => {
                reader.ended = true;
                let end = match reader.decoder.next_frame_at_eof() {
                    Ok(Some(frame)) => Input::Frame(frame),
                    Ok(None) => Input::Eof,
                    Err(err) => Input::Failed(err),
                };
                reader.queued.push_back(end);
                self.watch.gone.store(true, Ordering::SeqCst);
                if self.watch.busy.load(Ordering::SeqCst) {
                    (self.ends.gone_during_job)();
                }
                return false;
            }
            Ok(_) => {}
            Err(err) => {
                reader.ended = true;
                reader.queued.push_back(Input::Failed(WireError::Io(err)));
                return false;
            }
        }
        loop {
            match reader.decoder.next_frame() {
                Ok(Some(Frame::Ping { seq })) => self.pong(seq),
                Ok(Some(Frame::Cancel { id, sequence })) => self.watch.cancel(id, &sequence),
                Ok(Some(frame)) => reader.queued.push_back(Input::Frame(frame)),
                Ok(None) => return true,
                Err(err) => {
                    reader.ended = true;
                    reader.queued.push_back(Input::Failed(err));
                    return false;
                }
            }
        }
    }

    /// Answers a ping, if stdout takes the answer now: a pool that does not
    /// read its end is not helped by one more frame, and the keeper must
    /// not block.
    fn pong(&self, seq: u64) {
        let Ok(out) = self.out.try_lock() else {
            // The loop writes: what it writes is news of this worker too.
            return;
        };
        let mut bytes = Vec::new();
        let encoded = wire::encode(&Frame::Pong { seq }, wire::DEFAULT_MAX_FRAME, &mut bytes);
        let file = out.get_ref();
        // Frames already buffered go first; the loop flushes them before
        // each job, so there are none while one runs.
        if encoded.is_err() || !out.buffer().is_empty() || !sys::writable_now(file.as_raw_fd()) {
            return;
        }
        if let Err(err) = (&*file).write_all(&bytes) {
            debug!(error:% = err; "remote worker: unable to answer a ping");
        }
    }
}
