//! Fake workers that break the protocol's turns: a frame of the wrong kind
//! at each stage of a slot's life, answers for jobs the slot does not run,
//! a worker that never answers `HELLO`. Each must end in a clear failure
//! naming what was wrong, the job run again where the fault is the slot's,
//! and never a panic, a hang or a lost result.

use std::io::{self, Write};
use std::process::{self, ExitCode};
use std::time::Duration;

use hearth::remote::test_support::wire::{self, Frame, FrameDecoder};
use hearth::remote::{Host, JobFailure, Pool, PoolError, Stream, Target};

use super::{faulty_transport, next_frame_but_pings, squares, texts};

/// The fake workers of this module, by mode; `None` for a mode of another.
pub fn fake_worker(mode: &str) -> Option<ExitCode> {
    let scenario = mode.strip_prefix("proto_")?;
    let max = wire::DEFAULT_MAX_FRAME;
    let (mut input, mut output) = (io::stdin().lock(), io::stdout().lock());
    let mut decoder = FrameDecoder::new(max);
    let _hello = wire::read_frame(&mut input, &mut decoder);
    let send = |output: &mut io::StdoutLock<'_>, frame: &Frame| {
        wire::write_frame(output, frame, max).unwrap();
        output.flush().unwrap();
    };
    let ack = Frame::HelloAck {
        version: u32::from(wire::VERSION),
        host: "fake".into(),
        pid: process::id(),
    };
    match scenario {
        "silent" => {}
        "session_ack_for_hello" => send(
            &mut output,
            &Frame::SessionAck {
                handlers: vec!["square".into()],
            },
        ),
        "hello_ack_for_session" => {
            send(&mut output, &ack);
            let _init = wire::read_frame(&mut input, &mut decoder);
            send(&mut output, &ack);
        }
        _ => {
            send(&mut output, &ack);
            let _init = wire::read_frame(&mut input, &mut decoder);
            send(
                &mut output,
                &Frame::SessionAck {
                    handlers: vec!["square".into()],
                },
            );
            while let Some(frame) = next_frame_but_pings(&mut input, &mut output, &mut decoder) {
                if matches!(frame, Frame::Shutdown) {
                    return Some(ExitCode::SUCCESS);
                }
                answer_job(scenario, frame, &mut output);
            }
        }
    }
    let _ = io::copy(&mut input, &mut io::sink());
    Some(ExitCode::SUCCESS)
}

/// Answers the first `JOB` the way `scenario` says.
fn answer_job(scenario: &str, frame: Frame, output: &mut impl Write) {
    let max = wire::DEFAULT_MAX_FRAME;
    let Frame::Job { id, payload, .. } = frame else {
        panic!("expected a JOB, got {}", frame.name());
    };
    let x: u64 = postcard::from_bytes(&payload).unwrap();
    let right = Frame::Result {
        id,
        outcome: Ok(postcard::to_stdvec(&(x * x)).unwrap()),
    };
    let frames = match scenario {
        "job_for_job" => vec![Frame::Job {
            id,
            handler: "square".into(),
            payload,
        }],
        "result_for_another_id" => vec![Frame::Result {
            id: id + 1000,
            outcome: Ok(payload),
        }],
        "result_twice" => vec![right.clone(), right],
        "output_for_another_id" => vec![Frame::Output {
            id: id + 1000,
            stream: Stream::Stdout,
            data: b"hello".to_vec(),
        }],
        "stray_pong" => vec![Frame::Pong { seq: 1 << 40 }, right],
        "file_unasked" => vec![
            Frame::File {
                id,
                path: "unasked".into(),
                mode: 0o644,
                size: 3,
            },
            Frame::FileData {
                id,
                data: b"abc".to_vec(),
            },
            Frame::FileEnd { id, crc: 0 },
            right,
        ],
        "base_ack_unasked" => vec![
            Frame::BaseAck {
                error: String::new(),
            },
            right,
        ],
        "undecodable_output" => vec![Frame::Result {
            id,
            outcome: Ok(Vec::new()),
        }],
        other => panic!("no fake worker scenario {other:?}"),
    };
    for frame in &frames {
        wire::write_frame(output, frame, max).unwrap();
    }
    output.flush().unwrap();
}

/// A pool of one fake worker in `scenario`, with a short handshake limit
/// and slot timeout (the faults here are found without them; they only
/// keep a failing test from hanging).
fn pool_of(scenario: &str) -> Pool {
    Pool::builder()
        .host(Host::new(
            "faulty",
            1,
            faulty_transport(&format!("proto_{scenario}")),
        ))
        .handshake_timeout(Duration::from_millis(500))
        .slot_timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A worker that answers nothing, or answers the handshake with a frame of
/// another stage: the slot fails saying so, and once its starts are used
/// up, the pool says why no job ran.
pub(crate) fn wrong_frames_in_the_handshake_are_named() {
    for (scenario, reason) in [
        ("silent", "faulty:1: no handshake within 500ms"),
        (
            "session_ack_for_hello",
            "faulty:1: unexpected SESSION_ACK from the worker",
        ),
        (
            "hello_ack_for_session",
            "faulty:1: unexpected HELLO_ACK from the worker",
        ),
    ] {
        let mut pool = pool_of(scenario);
        match pool.map::<u64, u64>(&Target::Any, "square", [3, 4]) {
            Err(PoolError::AllSlotsDead { reasons, not_run }) => {
                assert_eq!(texts(&reasons), [reason], "{scenario}");
                assert_eq!(not_run, [0, 1], "{scenario}");
            }
            other => panic!("{scenario}: expected every slot dead, got {other:?}"),
        }
        pool.shutdown(Duration::from_secs(10));
    }
}

/// A ready worker that answers a job with a frame it must not send, or
/// for a job its slot does not run: the slot fails naming the frame, and
/// the job runs again, each attempt's failure in its history.
pub(crate) fn wrong_frames_for_a_job_are_named_and_retried() {
    for (scenario, reason) in [
        ("job_for_job", "faulty:1: unexpected JOB from the worker"),
        (
            "base_ack_unasked",
            "faulty:1: unexpected BASE_ACK from the worker",
        ),
        (
            "result_for_another_id",
            "faulty:1: result for job 1000, which this slot does not run",
        ),
        (
            "output_for_another_id",
            "faulty:1: output for job 1000, which this slot does not run now",
        ),
    ] {
        let mut pool = pool_of(scenario);
        let out = pool.map::<u64, u64>(&Target::Any, "square", [3]).unwrap();
        match &out[0] {
            Err(JobFailure::Exhausted { history }) => {
                assert_eq!(texts(history), [reason; 3], "{scenario}");
            }
            other => panic!("{scenario}: expected exhausted attempts, got {other:?}"),
        }
        assert_eq!(pool.metrics().jobs_retried, 2, "{scenario}");
        pool.shutdown(Duration::from_secs(10));
    }
}

/// A worker that answers every job twice: the first answer is the job's,
/// the second fails the slot, and the next job runs on a new start; every
/// job ends once, rightly, in order.
pub(crate) fn a_second_result_for_a_job_counts_once() {
    let mut pool = pool_of("result_twice");
    squares(&mut pool, 5);
    let metrics = pool.metrics();
    assert_eq!((metrics.jobs_done, metrics.jobs_failed), (5, 0));
    let failure = metrics.hosts[0].last_failure.as_deref().unwrap_or_default();
    assert!(
        failure.ends_with(", which this slot does not run"),
        "{failure}"
    );
    pool.shutdown(Duration::from_secs(10));
}

/// What a job's answer may carry that its job did not want is the job's:
/// a `PONG` for no ping is passed by, an output that does not decode as
/// the type asked for and a file the job did not ask back are final job
/// failures naming what was wrong, and the slot serves on.
pub(crate) fn odd_answers_are_the_jobs_own_failures() {
    let mut pool = pool_of("stray_pong");
    squares(&mut pool, 3);
    assert_eq!(pool.metrics().hosts[0].last_failure, None);
    pool.shutdown(Duration::from_secs(10));
    let mut pool = pool_of("undecodable_output");
    let out = pool
        .map::<u64, u64>(&Target::Any, "square", [3, 4])
        .unwrap();
    for result in out {
        assert!(
            matches!(&result, Err(JobFailure::BadOutput(err)) if err.contains("end of buffer")),
            "{result:?}"
        );
    }
    pool.shutdown(Duration::from_secs(10));
    let mut pool = pool_of("file_unasked");
    let out = pool
        .map::<u64, u64>(&Target::Any, "square", [3, 4])
        .unwrap();
    for result in out {
        assert!(
            matches!(&result, Err(JobFailure::Job(err)) if err.message
                == "the worker sent back \"unasked\", which the job did not ask for"),
            "{result:?}"
        );
    }
    let metrics = pool.metrics();
    assert_eq!((metrics.jobs_retried, metrics.slots_alive), (0, 1));
    assert_eq!(metrics.hosts[0].last_failure, None);
    pool.shutdown(Duration::from_secs(10));
}
