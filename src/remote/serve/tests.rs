//! Unit tests of the worker side of the remote protocol: `serve_on`
//! driven over pipes by a test playing the pool, frame by frame.

use std::io::{PipeReader, PipeWriter, Write};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use crate::remote::wire::{self, Frame, FrameDecoder, JobErrorKind};
use crate::remote::{Handlers, ServeError, serve_on};

/// The pool's end of a running serve loop.
struct Pool {
    to_worker: Option<PipeWriter>,
    from_worker: PipeReader,
    decoder: FrameDecoder,
    worker: thread::JoinHandle<Result<(), ServeError>>,
}

impl Pool {
    fn start(handlers: Handlers) -> Pool {
        let (worker_in, to_worker) = std::io::pipe().unwrap();
        let (from_worker, worker_out) = std::io::pipe().unwrap();
        let worker = thread::spawn(move || serve_on(worker_in, worker_out, handlers));
        Pool {
            to_worker: Some(to_worker),
            from_worker,
            decoder: FrameDecoder::default(),
            worker,
        }
    }

    fn send(&mut self, frame: &Frame) {
        wire::write_frame(
            self.to_worker.as_mut().unwrap(),
            frame,
            wire::DEFAULT_MAX_FRAME,
        )
        .unwrap();
    }

    fn recv(&mut self) -> Frame {
        wire::read_frame(&mut self.from_worker, &mut self.decoder)
            .unwrap()
            .expect("worker closed its output")
    }

    fn handshake(&mut self, handlers: &[&str]) -> Vec<String> {
        self.handshake_with(handlers, 0)
    }

    /// The handshake, giving the worker a slot timeout (0: none).
    fn handshake_with(&mut self, handlers: &[&str], slot_timeout_ms: u64) -> Vec<String> {
        self.send(&Frame::Hello {
            version: u32::from(wire::VERSION),
        });
        match self.recv() {
            Frame::HelloAck { version, host, pid } => {
                assert_eq!(version, u32::from(wire::VERSION));
                assert!(!host.is_empty());
                assert_eq!(pid, std::process::id());
            }
            other => panic!("expected HELLO_ACK, got {other:?}"),
        }
        let handlers = handlers.iter().map(|h| h.to_string()).collect();
        self.send(&Frame::SessionInit {
            handlers,
            config: Vec::new(),
            slot_timeout_ms,
            slot: 1,
            env: Vec::new(),
            workdir: None,
        });
        match self.recv() {
            Frame::SessionAck { handlers } => handlers,
            other => panic!("expected SESSION_ACK, got {other:?}"),
        }
    }

    /// Closes the pool's side and returns how the serve loop ended.
    fn close(mut self) -> Result<(), ServeError> {
        drop(self.to_worker.take());
        self.worker.join().unwrap()
    }
}

fn job(id: u64, handler: &str, input: &impl serde::Serialize) -> Frame {
    Frame::Job {
        id,
        handler: handler.to_owned(),
        payload: postcard::to_stdvec(input).unwrap(),
    }
}

fn math() -> Handlers {
    Handlers::new()
        .add("square", |x: u64| x.checked_mul(x).ok_or("overflow"))
        .add("boom", |(): ()| -> Result<(), String> {
            panic!("handler bug")
        })
}

#[test]
fn pipelined_jobs_and_shutdown() {
    let mut pool = Pool::start(math());
    assert_eq!(pool.handshake(&["square"]), ["boom", "square"]);
    for id in 0..500u64 {
        pool.send(&job(id, "square", &id));
    }
    let mut seen = vec![false; 500];
    for _ in 0..500 {
        match pool.recv() {
            Frame::Result { id, outcome } => {
                let out: u64 = postcard::from_bytes(&outcome.unwrap()).unwrap();
                assert_eq!(out, id * id);
                assert!(
                    !std::mem::replace(&mut seen[usize::try_from(id).unwrap()], true),
                    "result {id} twice"
                );
            }
            other => panic!("expected RESULT, got {other:?}"),
        }
    }
    pool.send(&Frame::Shutdown);
    pool.close().unwrap();
}

/// A result is sent before the next job starts: with a window above 1 it
/// must not wait in the worker's buffer behind a long job.
#[test]
fn result_is_not_held_back_by_the_next_job() {
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let handlers = Handlers::new()
        .add("square", |x: u64| x.checked_mul(x).ok_or("overflow"))
        // Waits for the test's release; says whether it came (a last
        // guard keeps a held-back result from hanging the test).
        .add("gated", move |(): ()| {
            let gate = gate.lock().map_err(|_| "gate poisoned")?;
            Ok::<_, &str>(gate.recv_timeout(Duration::from_mins(1)).is_ok())
        });
    let mut pool = Pool::start(handlers);
    let _ = pool.handshake(&["square", "gated"]);
    // Both jobs in one write, as a pool with a window of 2 sends them: the
    // worker has the second one before the first ends.
    let mut bytes = Vec::new();
    for frame in [job(1, "square", &7u64), job(2, "gated", &())] {
        wire::write_frame(&mut bytes, &frame, wire::DEFAULT_MAX_FRAME).unwrap();
    }
    pool.to_worker.as_mut().unwrap().write_all(&bytes).unwrap();
    match pool.recv() {
        Frame::Result { id: 1, outcome } => {
            assert_eq!(postcard::from_bytes::<u64>(&outcome.unwrap()).unwrap(), 49);
        }
        other => panic!("expected the RESULT of job 1, got {other:?}"),
    }
    release.send(()).unwrap();
    match pool.recv() {
        Frame::Result { id: 2, outcome } => {
            let released: bool = postcard::from_bytes(&outcome.unwrap()).unwrap();
            assert!(
                released,
                "job 1's result came only after job 2 gave up waiting"
            );
        }
        other => panic!("expected the RESULT of job 2, got {other:?}"),
    }
    pool.send(&Frame::Shutdown);
    pool.close().unwrap();
}

#[test]
fn job_errors_are_results_not_crashes() {
    let mut pool = Pool::start(math());
    let _ = pool.handshake(&["square", "cube"]);
    pool.send(&job(1, "cube", &2u64));
    pool.send(&job(2, "square", &"not a number"));
    pool.send(&job(3, "boom", &()));
    pool.send(&job(4, "square", &u64::MAX));
    let mut kinds = Vec::new();
    for _ in 0..4 {
        match pool.recv() {
            Frame::Result {
                id,
                outcome: Err(err),
            } => kinds.push((id, err.kind)),
            other => panic!("expected an error RESULT, got {other:?}"),
        }
    }
    kinds.sort_by_key(|(id, _)| *id);
    assert_eq!(
        kinds,
        [
            (1, JobErrorKind::UnknownHandler),
            (2, JobErrorKind::BadPayload),
            (3, JobErrorKind::Panicked),
            (4, JobErrorKind::Failed)
        ]
    );
    pool.send(&Frame::Shutdown);
    pool.close().unwrap();
}

#[test]
fn job_before_hello_is_a_protocol_error() {
    let mut pool = Pool::start(math());
    pool.send(&job(1, "square", &2u64));
    match pool.close() {
        Err(
            err @ ServeError::Protocol {
                expected: "HELLO",
                got: "JOB",
            },
        ) => {
            assert_eq!(
                err.to_string(),
                "remote worker: protocol error: expected HELLO, got JOB"
            );
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn version_mismatch_still_answers_hello() {
    let mut pool = Pool::start(math());
    pool.send(&Frame::Hello { version: 99 });
    let ours = u32::from(wire::VERSION);
    assert!(matches!(pool.recv(), Frame::HelloAck { version, .. } if version == ours));
    let err = pool.close().unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("version {ours}, the peer version 99")),
        "{err}"
    );
}

/// The pool sends `HELLO`, `SESSION_INIT` and a `PING` without waiting
/// for the answers (as a slot starts): the worker answers each in order.
#[test]
fn session_init_right_behind_hello() {
    let mut pool = Pool::start(math());
    pool.send(&Frame::Hello {
        version: u32::from(wire::VERSION),
    });
    pool.send(&Frame::SessionInit {
        handlers: Vec::new(),
        config: Vec::new(),
        slot_timeout_ms: 0,
        slot: 3,
        env: Vec::new(),
        workdir: None,
    });
    pool.send(&Frame::Ping { seq: 1 });
    pool.send(&job(7, "square", &7u64));
    assert!(matches!(pool.recv(), Frame::HelloAck { .. }));
    assert!(matches!(pool.recv(), Frame::SessionAck { .. }));
    let mut got = [pool.recv(), pool.recv()];
    got.sort_by_key(|frame| frame.name());
    assert!(matches!(got[0], Frame::Pong { seq: 1 }), "{got:?}");
    assert!(
        matches!(&got[1], Frame::Result { id: 7, outcome: Ok(out) }
            if postcard::from_bytes::<u64>(out).unwrap() == 49),
        "{got:?}"
    );
    pool.close().unwrap();
}

/// A worker of another version answers `HELLO` and ends, whatever the
/// pool sent behind it.
#[test]
fn version_mismatch_with_a_session_behind_hello() {
    let mut pool = Pool::start(math());
    pool.send(&Frame::Hello { version: 99 });
    pool.send(&Frame::SessionInit {
        handlers: Vec::new(),
        config: Vec::new(),
        slot_timeout_ms: 0,
        slot: 1,
        env: Vec::new(),
        workdir: None,
    });
    assert!(matches!(pool.recv(), Frame::HelloAck { .. }));
    let err = pool.close().unwrap_err();
    assert!(err.to_string().contains("peer version 99"), "{err}");
}

#[test]
fn garbage_before_the_first_frame_is_bad_magic() {
    let mut pool = Pool::start(math());
    pool.to_worker
        .as_mut()
        .unwrap()
        .write_all(b"Last login: Mon Nov 23 on pts/0\n")
        .unwrap();
    let err = pool.close().unwrap_err();
    // Said from the worker's side: its input is what is wrong.
    assert_eq!(
        err.to_string(),
        "remote worker: its input is not hearth frames at byte 0 (got \"Last login: Mon Nov \
         23 on pts/0\\n\"): it serves a hearth pool on stdin and stdout and is started by \
         the pool (hearth map, Pool), not by hand"
    );
}

/// The worker's input, telling when the serve loop's reader let go of it
/// (after it saw the end).
struct WatchedInput {
    pipe: PipeReader,
    dropped: mpsc::Sender<()>,
}

impl std::io::Read for WatchedInput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.pipe.read(buf)
    }
}

impl Drop for WatchedInput {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

#[test]
fn pool_gone_while_a_job_runs() {
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(Mutex::new(release_rx));
    let handlers = Handlers::new().add("wait", move |(): ()| {
        started_tx.send(()).unwrap();
        // Blocks until the test releases it.
        let _ = release_rx.lock().unwrap().recv();
        Ok::<_, String>(())
    });
    let (pipe, to_worker) = std::io::pipe().unwrap();
    let (dropped_tx, dropped) = mpsc::channel();
    let input = WatchedInput {
        pipe,
        dropped: dropped_tx,
    };
    let (from_worker, worker_out) = std::io::pipe().unwrap();
    let worker = thread::spawn(move || serve_on(input, worker_out, handlers));
    let mut pool = Pool {
        to_worker: Some(to_worker),
        from_worker,
        decoder: FrameDecoder::default(),
        worker,
    };
    let _ = pool.handshake(&["wait"]);
    pool.send(&job(1, "wait", &()));
    pool.send(&job(2, "wait", &()));
    started.recv().unwrap();
    // The pool goes away while job 1 runs; the reader sees the end.
    drop(pool.to_worker.take());
    dropped.recv().unwrap();
    // `serve_on` returns once the job ended (`serve` would end the process
    // at once), answering neither job, and job 2 never starts.
    drop(release);
    match pool.worker.join().unwrap() {
        Err(err @ ServeError::PoolGone { running: 2 }) => {
            assert!(err.to_string().contains("2 job(s) running"));
        }
        other => panic!("expected PoolGone, got {other:?}"),
    }
    assert!(started.try_recv().is_err(), "job 2 started");
}

/// The liveness exchange: a `PING` is answered at once, also while a job
/// runs (the job is still running when the `PONG` comes).
#[test]
fn ping_is_answered_while_a_job_runs() {
    let (release, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let handlers = Handlers::new().add("gated", move |(): ()| {
        let released = gate.lock().unwrap().recv_timeout(Duration::from_mins(1));
        Ok::<_, String>(released.is_ok())
    });
    let mut pool = Pool::start(handlers);
    let _ = pool.handshake_with(&["gated"], 60_000);
    pool.send(&Frame::Ping { seq: 1 });
    assert_eq!(pool.recv(), Frame::Pong { seq: 1 });
    pool.send(&job(7, "gated", &()));
    pool.send(&Frame::Ping { seq: 2 });
    assert_eq!(pool.recv(), Frame::Pong { seq: 2 });
    release.send(()).unwrap();
    match pool.recv() {
        Frame::Result { id: 7, outcome } => {
            assert!(postcard::from_bytes::<bool>(&outcome.unwrap()).unwrap());
        }
        other => panic!("expected RESULT 7, got {other:?}"),
    }
    pool.send(&Frame::Shutdown);
    pool.close().unwrap();
}

/// A pool that says nothing for the slot timeout it gave is gone: the
/// serve loop ends saying so.
#[test]
fn silent_pool_ends_the_serve_loop() {
    let mut pool = Pool::start(math());
    let _ = pool.handshake_with(&["square"], 200);
    pool.send(&job(1, "square", &3u64));
    assert!(matches!(pool.recv(), Frame::Result { id: 1, .. }));
    // Not a word more (the pool's end stays open).
    match pool.worker.join().unwrap() {
        Err(err @ ServeError::PoolSilent { limit }) => {
            assert_eq!(limit, Duration::from_millis(200));
            assert!(
                err.to_string().contains("nothing from the pool for 200ms"),
                "{err}"
            );
        }
        other => panic!("expected PoolSilent, got {other:?}"),
    }
}
