//! The remote slot pool over the local transport, with faults injected.
//!
//! `harness = false`: started with `--remote-worker` this binary is the
//! worker (its handlers below); otherwise it runs the tests, each building
//! a pool whose slots are this same binary.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{self, ExitCode};
use std::time::Duration;
use std::{env, fs, panic};

#[path = "util/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "util/runner.rs"]
mod runner;

#[path = "remote_pool/each_host.rs"]
mod each_host;
#[path = "remote_pool/files.rs"]
mod files;
#[path = "util/gates.rs"]
#[allow(dead_code)]
mod gates;
#[path = "remote_pool/held.rs"]
mod held;
#[path = "remote_pool/inputs.rs"]
mod inputs;
#[path = "remote_pool/liveness.rs"]
mod liveness;
#[path = "remote_pool/protocol.rs"]
mod protocol;
#[path = "remote_pool/retries.rs"]
mod retries;
#[path = "remote_pool/stdin.rs"]
mod stdin;
#[path = "remote_pool/stopping.rs"]
mod stopping;
#[path = "remote_pool/streams.rs"]
mod streams;

// Fake workers speak raw frames from processes of their own: through the
// hidden test-support path (the codec is not part of hearth's API).
use hearth::remote::JobErrorKind;
use hearth::remote::test_support::wire::{self, Frame, FrameDecoder};
use hearth::remote::{
    self, FailedSlot, Handlers, Host, JobContext, JobFailure, Pool, PoolError, Stream, Target,
    Transport,
};

#[allow(clippy::too_many_lines)] // One table of every handler the tests call.
fn handlers() -> Handlers {
    Handlers::new()
        .add("square", |x: u64| x.checked_mul(x).ok_or("overflow"))
        .add("fail", |x: u64| -> Result<u64, String> { Err(format!("{x} is not welcome")) })
        // Kills its own worker with SIGKILL the first time (marker file),
        // then answers.
        .add("crash_once", |(marker, x): (PathBuf, u64)| {
            if fs::create_dir(&marker).is_ok() {
                // SAFETY: kill(2) on this very process.
                unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            }
            Ok::<_, String>(x + 1)
        })
        .add("crash", |_: u64| -> Result<u64, String> {
            eprintln!("crashing on purpose");
            process::exit(9)
        })
        .add("hang", |x: u64| {
            std::thread::sleep(Duration::from_hours(1));
            Ok::<_, String>(x)
        })
        // Appends a line to `file`, then waits an hour: how many times a
        // job that times out was started.
        .add("mark_then_hang", |file: PathBuf| {
            let mut marks = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file)
                .map_err(|err| format!("opening {file:?}: {err}"))?;
            writeln!(marks, "started").map_err(|err| format!("writing {file:?}: {err}"))?;
            std::thread::sleep(Duration::from_hours(1));
            Ok::<_, String>(())
        })
        // Stops its own worker with SIGSTOP the first time (marker
        // directory), as a frozen process or host would be; then answers.
        .add("freeze_once", |(marker, x): (PathBuf, u64)| {
            if fs::create_dir(&marker).is_ok() {
                // SAFETY: kill(2) on this very process.
                unsafe { libc::kill(libc::getpid(), libc::SIGSTOP) };
            }
            Ok::<_, String>(x + 1)
        })
        .add("pid", |_: u64| Ok::<_, String>(process::id()))
        // Appends a line to `file` and answers how many it has: the run's
        // number.
        .add("count_runs", |file: PathBuf| count_run(&file))
        // Fails the first `fails` runs (counted in `file`), then answers
        // the run's number.
        .add("fail_times", |(file, fails): (PathBuf, u64)| {
            let run = count_run(&file)?;
            if run <= fails {
                return Err(format!("failing run {run}"));
            }
            Ok(run)
        })
        // Starts `sleep 300`, writes its pid to `file` and waits for it: a
        // job with a process of its own.
        .add("sleep_child", |file: PathBuf| {
            let mut child = process::Command::new("sleep")
                .arg("300")
                .spawn()
                .map_err(|err| format!("starting sleep: {err}"))?;
            fs::write(&file, child.id().to_string())
                .map_err(|err| format!("writing {file:?}: {err}"))?;
            let _ = child.wait();
            Ok::<_, String>(())
        })
        .add("nap", |ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok::<_, String>(ms)
        })
        // Runs `ms` and answers when it began and ended, in nanoseconds of
        // the system's clock (the slots share this machine's).
        .add("interval", |ms: u64| {
            let now = || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .map_err(|err| err.to_string())
            };
            let start = now()?;
            std::thread::sleep(Duration::from_millis(ms));
            Ok::<_, String>((start, now()?))
        })
        // Answers `x`; first sets the flag file, or waits for it, or
        // neither (`role` "set", "wait" or anything else).
        .add("flag", |(flag, role, x): (PathBuf, String, u64)| {
            match role.as_str() {
                "set" => fs::write(&flag, b"").map_err(|err| format!("setting {flag:?}: {err}"))?,
                "wait" => gates::wait_until(Duration::from_mins(1), || flag.exists())
                    .map_err(|()| format!("{flag:?} was never set"))?,
                _ => {}
            }
            Ok::<_, String>(x)
        })
        // Marks that it runs, then closes every descriptor but stdin and
        // stderr (the frames' way out among them) and waits: to the pool,
        // a worker that closed its stdout but lives on.
        .add("close_output", |marker: PathBuf| {
            fs::write(&marker, b"").map_err(|err| format!("marking {marker:?}: {err}"))?;
            // The worker writes its frames to a private copy of its first
            // stdout (fd 1 is a copy of stderr by now): close that pipe,
            // the one that is neither stdin's nor stderr's (found by the
            // pipes' names in /proc), and nothing else, so the worker runs
            // on with its other threads and descriptors intact.
            let pipe = |fd: i32| fs::read_link(format!("/proc/self/fd/{fd}")).ok();
            let frames = fs::read_dir("/proc/self/fd")
                .map_err(|err| format!("listing descriptors: {err}"))?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                .filter(|&fd| fd > 2)
                .find(|&fd| {
                    pipe(fd).is_some_and(|link| link.to_string_lossy().starts_with("pipe:"))
                        && pipe(fd) != pipe(0)
                        && pipe(fd) != pipe(2)
                })
                .ok_or("the worker's frame pipe is not among its descriptors")?;
            // SAFETY: closing a descriptor of this worker process; it
            // writes nothing more to it.
            let _ = unsafe { libc::close(frames) };
            std::thread::sleep(Duration::from_mins(1));
            Ok::<_, String>(())
        })
        .add("panic", |x: u64| -> Result<u64, String> { panic!("handler panics on {x}") })
        .add("len", |v: Vec<u8>| Ok::<_, String>(v.len() as u64))
        .add("big", |len: u64| Ok::<_, String>(vec![7u8; usize::try_from(len).unwrap()]))
        // `len` bytes, once the flag file exists if one is given.
        .add("wait_then_big", |(flag, len): (Option<PathBuf>, u64)| {
            if let Some(flag) = flag {
                gates::wait_until(Duration::from_mins(1), || flag.exists())
                    .map_err(|()| format!("{flag:?} was never set"))?;
            }
            Ok::<_, String>(vec![7u8; usize::try_from(len).unwrap()])
        })
        // Streams `len` bytes of `byte` on stdout, half of them before the
        // flag file exists (if one is given), the rest after.
        .add_with_context(
            "stream",
            |(flag, len, byte): (Option<PathBuf>, u64, u8), job: &mut JobContext<'_>| {
                let half = len / 2;
                write_bytes(job, byte, half)?;
                if let Some(flag) = flag {
                    gates::wait_until(Duration::from_mins(1), || flag.exists())
                        .map_err(|()| format!("{flag:?} was never set"))?;
                }
                write_bytes(job, byte, len - half)?;
                Ok::<_, String>(len)
            },
        )
        // Counts its run in `file`, streams `len` bytes, waits for the flag
        // file if one is given, then kills its own worker the first time
        // (`marker`).
        .add_with_context(
            "stream_then_crash",
            |(file, marker, flag, len): (PathBuf, PathBuf, Option<PathBuf>, u64),
             job: &mut JobContext<'_>| {
                let _ = count_run(&file)?;
                write_bytes(job, b'x', len)?;
                if let Some(flag) = flag {
                    gates::wait_until(Duration::from_mins(1), || flag.exists())
                        .map_err(|()| format!("{flag:?} was never set"))?;
                }
                if fs::create_dir(&marker).is_ok() {
                    // SAFETY: kill(2) on this very process.
                    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
                }
                Ok::<_, String>(len)
            },
        )
        // Reads `from` in the job's working directory, writes $GREETING
        // and its bytes to `to` there; prints "$GREETING $PWD" with a
        // command; answers `from`'s permission bits in octal.
        .add_with_context(
            "copy_in_workdir",
            |(from, to): (String, String), job: &mut JobContext<'_>| {
                use std::os::unix::fs::PermissionsExt as _;
                let dir = job.workdir().map(PathBuf::from).unwrap_or_default();
                let greeting = job
                    .env()
                    .iter()
                    .find(|(name, _)| name == "GREETING")
                    .map(|(_, value)| value.clone())
                    .unwrap_or_default();
                let (from, to) = (dir.join(from), dir.join(to));
                let data = fs::read(&from).map_err(|e| format!("reading {from:?}: {e}"))?;
                let mode = fs::metadata(&from).map_err(|e| e.to_string())?.permissions();
                if let Some(parent) = to.parent() {
                    fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                let mut made = greeting.into_bytes();
                made.extend(data);
                fs::write(&to, made).map_err(|e| format!("writing {to:?}: {e}"))?;
                job.run_command(
                    process::Command::new("sh")
                        .args(["-c", "printf '%s %s' \"$GREETING\" \"$(pwd)\""]),
                )
                .map_err(|e| e.to_string())?;
                Ok::<_, String>(format!("{:04o}", mode.mode() & 0o7777))
            },
        )
        // Reads the job's stdin itself: its length and FNV-1a hash.
        .add_with_context("stdin_digest", |(): (), job: &mut JobContext<'_>| {
            let Some(mut stdin) = job.take_stdin() else {
                return Ok::<_, String>(None);
            };
            let mut all = Vec::new();
            let _ = io::Read::read_to_end(&mut stdin, &mut all).map_err(|e| e.to_string())?;
            Ok(Some((all.len() as u64, stdin::fnv(&all))))
        })
        // Runs `sh -c SCRIPT`, which reads the job's stdin; answers its
        // exit code.
        .add_with_context("sh_stdin", |script: String, job: &mut JobContext<'_>| {
            let status = job
                .run_command(process::Command::new("sh").args(["-c", &script]))
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(status.code())
        })
        // The number of the slot that runs it, as the pool told its worker.
        .add_with_context("slot", |(): (), job: &mut JobContext<'_>| {
            Ok::<_, String>(job.slot())
        })
        // Waits until the pool asks to stop it, then returns its input.
        .add_with_context("until_cancelled", |x: u64, job: &mut JobContext<'_>| {
            while !job.is_cancelled() {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok::<_, String>(x)
        })
        .add("flood", |x: u64| {
            let line = "x".repeat(1023);
            for _ in 0..10 * 1024 {
                eprintln!("{line}");
            }
            Ok::<_, String>(x)
        })
}

/// Streams `len` bytes of `byte` on the job's stdout, 64 KiB at a time.
fn write_bytes(job: &mut JobContext<'_>, byte: u8, len: u64) -> Result<(), String> {
    let chunk = vec![byte; 64 * 1024];
    let mut left = usize::try_from(len).unwrap();
    while left > 0 {
        let n = left.min(chunk.len());
        job.write(Stream::Stdout, &chunk[..n])
            .map_err(|err| format!("streaming: {err}"))?;
        left -= n;
    }
    Ok(())
}

/// Appends a line to `file`; returns how many lines it has.
fn count_run(file: &std::path::Path) -> Result<u64, String> {
    let mut runs = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(|err| format!("opening {file:?}: {err}"))?;
    writeln!(runs, "run").map_err(|err| format!("writing {file:?}: {err}"))?;
    let text = fs::read_to_string(file).map_err(|err| format!("reading {file:?}: {err}"))?;
    Ok(text.lines().count() as u64)
}

#[allow(clippy::too_many_lines)] // The list of tests this harness runs, in one place.
fn main() -> ExitCode {
    if remote::is_remote_worker() {
        if env::var_os("HEARTH_LOG").is_some() {
            hearth::log::init();
        }
        match env::var("HEARTH_TEST_WORKER").as_deref() {
            Ok("garbage") => println!("Last login: Mon Nov 23 19:00:00 2026 from 10.0.0.1"),
            Ok("exit") => process::exit(3),
            Ok(mode @ ("old_version" | "garbage_mid" | "oversized")) => return fake_worker(mode),
            Ok("answer_then_garbage") => return answer_then_garbage(),
            Ok("cut_frame") => return cut_frame(),
            Ok(mode) => {
                if let Some(code) = protocol::fake_worker(mode) {
                    return code;
                }
            }
            _ => {}
        }
        return remote::serve(handlers());
    }
    if env::var_os("HEARTH_LOG").is_some() {
        hearth::log::init();
    }
    let tests: &[(&str, fn())] = &[
        (
            "ten_thousand_jobs_on_four_slots_in_order",
            ten_thousand_jobs_on_four_slots_in_order,
        ),
        ("window_of_eight", window_of_eight),
        ("job_errors_are_final", job_errors_are_final),
        (
            "slot_killed_mid_job_loses_nothing",
            slot_killed_mid_job_loses_nothing,
        ),
        (
            "hanging_job_times_out_others_complete",
            hanging_job_times_out_others_complete,
        ),
        (
            "timed_out_job_is_killed_once_and_not_run_again",
            timed_out_job_is_killed_once_and_not_run_again,
        ),
        (
            "timeout_counts_from_the_start_not_from_the_send",
            timeout_counts_from_the_start_not_from_the_send,
        ),
        (
            "job_waiting_behind_a_timed_out_one_keeps_its_attempts",
            job_waiting_behind_a_timed_out_one_keeps_its_attempts,
        ),
        (
            "kill_while_a_failed_slot_waits_for_its_exit_cancels_its_job",
            kill_while_a_failed_slot_waits_for_its_exit_cancels_its_job,
        ),
        (
            "answer_unread_while_the_pool_was_busy_is_not_a_time_out",
            answer_unread_while_the_pool_was_busy_is_not_a_time_out,
        ),
        (
            "large_answer_unread_while_the_pool_was_busy_is_not_a_time_out",
            large_answer_unread_while_the_pool_was_busy_is_not_a_time_out,
        ),
        (
            "job_killing_every_slot_does_not_use_up_the_pool",
            job_killing_every_slot_does_not_use_up_the_pool,
        ),
        (
            "jobs_go_to_the_named_or_tagged_hosts",
            jobs_go_to_the_named_or_tagged_hosts,
        ),
        (
            "slots_are_numbered_over_all_hosts",
            slots_are_numbered_over_all_hosts,
        ),
        ("one_job_on_each_host", each_host::one_job_on_each_host),
        (
            "max_running_runs_one_host_at_a_time",
            each_host::max_running_runs_one_host_at_a_time,
        ),
        (
            "max_running_bounds_the_slots_up",
            each_host::max_running_bounds_the_slots_up,
        ),
        (
            "files_go_out_and_come_back",
            files::files_go_out_and_come_back,
        ),
        ("missing_files_are_said", files::missing_files_are_said),
        (
            "a_time_limit_of_the_median_follows_the_successes",
            a_time_limit_of_the_median_follows_the_successes,
        ),
        (
            "base_files_go_once_to_each_slot",
            files::base_files_go_once_to_each_slot,
        ),
        (
            "unreadable_base_files_are_said",
            files::unreadable_base_files_are_said,
        ),
        ("stdin_goes_with_its_job", stdin::stdin_goes_with_its_job),
        (
            "commands_read_the_jobs_stdin",
            stdin::commands_read_the_jobs_stdin,
        ),
        (
            "stdin_blocks_are_taken_as_slots_need_them",
            stdin::stdin_blocks_are_taken_as_slots_need_them,
        ),
        (
            "temporary_workdir_per_job",
            files::temporary_workdir_per_job,
        ),
        (
            "every_input_on_every_host",
            each_host::every_input_on_every_host,
        ),
        (
            "worker_exiting_in_handshake_fails_the_pool",
            worker_exiting_in_handshake_fails_the_pool,
        ),
        (
            "chatty_login_shell_is_skipped",
            chatty_login_shell_is_skipped,
        ),
        ("missing_binary_is_permanent", missing_binary_is_permanent),
        (
            "slot_without_descriptors_to_start_starts_once_there_are",
            slot_without_descriptors_to_start_starts_once_there_are,
        ),
        (
            "malformed_ssh_host_is_refused_at_build",
            malformed_ssh_host_is_refused_at_build,
        ),
        ("stderr_flood_does_not_stall", stderr_flood_does_not_stall),
        (
            "version_mismatch_names_both_versions",
            version_mismatch_names_both_versions,
        ),
        (
            "garbage_mid_stream_is_retried",
            garbage_mid_stream_is_retried,
        ),
        ("oversized_frame_is_retried", oversized_frame_is_retried),
        (
            "faulty_slot_next_to_a_good_one_loses_nothing",
            faulty_slot_next_to_a_good_one_loses_nothing,
        ),
        (
            "results_before_garbage_count_and_stay_with_their_slot",
            results_before_garbage_count_and_stay_with_their_slot,
        ),
        ("frame_cut_by_exit_is_named", frame_cut_by_exit_is_named),
        (
            "wrong_frames_in_the_handshake_are_named",
            protocol::wrong_frames_in_the_handshake_are_named,
        ),
        (
            "wrong_frames_for_a_job_are_named_and_retried",
            protocol::wrong_frames_for_a_job_are_named_and_retried,
        ),
        (
            "a_second_result_for_a_job_counts_once",
            protocol::a_second_result_for_a_job_counts_once,
        ),
        (
            "odd_answers_are_the_jobs_own_failures",
            protocol::odd_answers_are_the_jobs_own_failures,
        ),
        (
            "panicking_handler_is_a_final_job_error",
            panicking_handler_is_a_final_job_error,
        ),
        ("job_input_at_the_frame_limit", job_input_at_the_frame_limit),
        (
            "outcome_too_large_for_a_frame_is_a_final_job_error",
            outcome_too_large_for_a_frame_is_a_final_job_error,
        ),
        (
            "feed_inputs_run_as_they_come",
            inputs::inputs_run_as_they_come,
        ),
        (
            "feed_stopped_run_closes_the_feed",
            inputs::stopped_run_closes_the_feed,
        ),
        (
            "feed_ends_when_no_slot_is_left",
            inputs::feed_ends_when_no_slot_is_left,
        ),
        (
            "feed_is_held_up_behind_a_job_that_does_not_end",
            inputs::feed_is_held_up_behind_a_job_that_does_not_end,
        ),
        (
            "feed_last_feeder_dropped_ends_the_run",
            inputs::last_feeder_dropped_ends_the_run,
        ),
        (
            "idle_feed_ends_when_no_slot_is_left",
            inputs::idle_feed_ends_when_no_slot_is_left,
        ),
        (
            "stopped_list_is_taken_as_far_ahead_as_ever",
            inputs::stopped_list_is_taken_as_far_ahead_as_ever,
        ),
        (
            "late_reports_of_an_abandoned_run_are_dropped",
            inputs::late_reports_of_an_abandoned_run_are_dropped,
        ),
        (
            "list_is_taken_again_after_a_burst_of_reports",
            inputs::list_is_taken_again_after_a_burst_of_reports,
        ),
        (
            "held_reports_are_bounded_in_bytes",
            held::held_reports_are_bounded_in_bytes,
        ),
        (
            "held_counters_clear_when_a_callback_panics",
            held::held_counters_clear_when_a_callback_panics,
        ),
        (
            "feed_of_another_pool_is_refused",
            inputs::feed_of_another_pool_is_refused,
        ),
        (
            "stopped_worker_is_found_and_its_job_runs_again",
            liveness::stopped_worker_is_found_and_its_job_runs_again,
        ),
        (
            "stopped_only_worker_of_a_local_host_starts_again",
            liveness::stopped_only_worker_of_a_local_host_starts_again,
        ),
        (
            "idle_pool_keeps_its_workers",
            liveness::idle_pool_keeps_its_workers,
        ),
        (
            "worker_ends_itself_and_its_job_when_the_pool_falls_silent",
            liveness::worker_ends_itself_and_its_job_when_the_pool_falls_silent,
        ),
        (
            "retries_run_a_failed_job_again",
            retries::retries_run_a_failed_job_again,
        ),
        (
            "streamed_outputs_come_whole_in_input_order_in_bounded_memory",
            streams::streamed_outputs_come_whole_in_input_order_in_bounded_memory,
        ),
        (
            "streamed_outputs_in_completion_and_arrival_order",
            streams::streamed_outputs_in_completion_and_arrival_order,
        ),
        (
            "collected_output_has_a_limit_and_a_clear_error",
            streams::collected_output_has_a_limit_and_a_clear_error,
        ),
        (
            "slot_lost_after_live_output_ends_the_job",
            streams::slot_lost_after_live_output_ends_the_job,
        ),
        (
            "slot_lost_while_output_is_held_runs_the_job_again",
            streams::slot_lost_while_output_is_held_runs_the_job_again,
        ),
        (
            "slot_lost_under_the_head_in_input_order_runs_it_again",
            streams::slot_lost_under_the_head_in_input_order_runs_it_again,
        ),
        (
            "retries_run_a_timed_out_job_again",
            retries::retries_run_a_timed_out_job_again,
        ),
        (
            "a_job_past_its_time_limit_gets_sigterm_and_its_slot_serves_on",
            stopping::a_job_past_its_time_limit_gets_sigterm_and_its_slot_serves_on,
        ),
        (
            "the_pools_term_sequence_is_the_one_sent",
            stopping::the_pools_term_sequence_is_the_one_sent,
        ),
        (
            "a_command_that_ignores_sigterm_ends_by_sigkill",
            stopping::a_command_that_ignores_sigterm_ends_by_sigkill,
        ),
        (
            "a_command_without_outputs_is_stopped_too",
            stopping::a_command_without_outputs_is_stopped_too,
        ),
        (
            "a_handler_that_sees_the_cancel_returns_and_its_slot_serves_on",
            stopping::a_handler_that_sees_the_cancel_returns_and_its_slot_serves_on,
        ),
        (
            "failed_output_is_retried_too",
            retries::failed_output_is_retried_too,
        ),
    ];
    let tests: Vec<runner::Test<'_>> = tests
        .iter()
        .map(|(name, test)| (*name, test as &dyn Fn()))
        .collect();
    runner::run(&tests, procs::children, String::new)
}

/// The failed slots as their messages read.
fn texts(slots: &[FailedSlot]) -> Vec<String> {
    slots.iter().map(ToString::to_string).collect()
}

fn squares(pool: &mut Pool, n: u64) {
    let out = pool.map::<u64, u64>(&Target::Any, "square", 0..n).unwrap();
    assert_eq!(out.len() as u64, n);
    for (i, result) in out.into_iter().enumerate() {
        assert_eq!(result, Ok(i as u64 * i as u64), "job {i}");
    }
}

fn ten_thousand_jobs_on_four_slots_in_order() {
    let mut pool = Pool::builder().host(Host::local(4)).build().unwrap();
    squares(&mut pool, 10_000);
    pool.shutdown(Duration::from_secs(10));
}

fn window_of_eight() {
    let mut pool = Pool::builder()
        .host(Host::local(4))
        .window(8)
        .build()
        .unwrap();
    squares(&mut pool, 10_000);
    // The slots persist: a second batch reuses them.
    squares(&mut pool, 100);
    pool.shutdown(Duration::from_secs(10));
}

fn job_errors_are_final() {
    let mut pool = Pool::builder().host(Host::local(2)).build().unwrap();
    let out = pool.map::<u64, u64>(&Target::Any, "fail", [7]).unwrap();
    match &out[0] {
        Err(JobFailure::Job(err)) => {
            assert_eq!(err.kind, JobErrorKind::Failed);
            assert_eq!(err.to_string(), "job failed: 7 is not welcome");
        }
        other => panic!("expected a job error, got {other:?}"),
    }
    let out = pool
        .map::<u64, u64>(&Target::Any, "no_such_handler", [1])
        .unwrap();
    match &out[0] {
        Err(JobFailure::Job(err)) => {
            assert_eq!(err.kind, JobErrorKind::UnknownHandler);
            assert!(
                err.message.contains(
                    "(this worker has: big, close_output, copy_in_workdir, count_runs, crash, crash_once, fail, fail_times, flag, flood, freeze_once, hang, interval, len, mark_then_hang, nap, panic, pid, sh_stdin, sleep_child, slot, square, stdin_digest, stream, stream_then_crash, until_cancelled, wait_then_big) on host local"
                ),
                "{err}"
            );
        }
        other => panic!("expected an unknown handler error, got {other:?}"),
    }
    squares(&mut pool, 10);
    pool.shutdown(Duration::from_secs(10));
}

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = env::temp_dir().join(format!("hearth-pool-test-{}-{name}", process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn slot_killed_mid_job_loses_nothing() {
    let dir = temp_dir("crash");
    let mut pool = Pool::builder()
        .host(Host::local(2))
        .window(4)
        .build()
        .unwrap();
    // Every tenth job kills its slot's worker on the first attempt.
    let inputs: Vec<(PathBuf, u64)> = (0..200)
        .map(|i| (dir.join(format!("m{}", i / 10)), i))
        .collect();
    let out = pool
        .map::<_, u64>(&Target::Any, "crash_once", inputs)
        .unwrap();
    for (i, result) in out.into_iter().enumerate() {
        assert_eq!(result, Ok(i as u64 + 1), "job {i}");
    }
    pool.shutdown(Duration::from_secs(10));
    let _ = fs::remove_dir_all(dir);
}

fn hanging_job_times_out_others_complete() {
    let mut pool = Pool::builder()
        .host(Host::local(2))
        .timeout(Duration::from_millis(500))
        .max_attempts(2)
        .build()
        .unwrap();
    let hung = pool.map::<u64, u64>(&Target::Any, "hang", [1]).unwrap();
    assert_eq!(
        hung,
        [Err(JobFailure::TimedOut {
            after: Duration::from_millis(500),
            returned: None,
        })]
    );
    squares(&mut pool, 100);
    pool.shutdown(Duration::from_secs(10));
}

/// `timeout_of_median`: no limit before a job succeeded (a first job that
/// naps runs out its time), then a share of the successes' median: a
/// hanging job times out at it, and the slot serves the next jobs.
fn a_time_limit_of_the_median_follows_the_successes() {
    let mut pool = Pool::builder()
        .host(Host::local(2))
        .timeout_of_median(1000.0)
        .build()
        .unwrap();
    assert_eq!(
        pool.map::<u64, u64>(&Target::Any, "nap", [300]).unwrap(),
        [Ok(300)]
    );
    // The median is the nap's run time, at least 300 ms: the limit is ten
    // times that (a quick job is never near it).
    let out = pool
        .map::<u64, u64>(&Target::Any, "nap", [0, 0, 0, 0])
        .unwrap();
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    let hung = pool.map::<u64, u64>(&Target::Any, "hang", [1]).unwrap();
    match hung.as_slice() {
        // The median of 0-ms naps and one of 300 ms: a 0-ms nap's run.
        [Err(JobFailure::TimedOut { after, .. })] => {
            assert!(*after < Duration::from_secs(3), "{after:?}");
        }
        other => panic!("expected a time-out, got {other:?}"),
    }
    squares(&mut pool, 20);
    pool.shutdown(Duration::from_secs(10));
}

/// A job past its time limit whose worker still answers failed on its
/// own: it is killed once and reported timed out, not run again on fresh
/// slots up to its attempts (it was, three times: its side effects with
/// it), and its slot serves the next jobs.
fn timed_out_job_is_killed_once_and_not_run_again() {
    let dir = temp_dir("timed-out");
    let marks = dir.join("starts");
    let mut pool = Pool::builder()
        .host(Host::local(1))
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let mut reports = Vec::new();
    pool.run(
        &Target::Any,
        "mark_then_hang",
        [marks.clone()],
        remote::Order::Submission,
        |_, report: remote::JobReport<()>| {
            reports.push(report);
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    let report = &reports[0];
    assert_eq!(
        report.result,
        Err(JobFailure::TimedOut {
            after: Duration::from_millis(500),
            returned: None,
        }),
        "{report:?}"
    );
    assert_eq!(
        report.result.as_ref().unwrap_err().to_string(),
        "timed out after 500ms"
    );
    assert_eq!((report.attempts, report.retries), (1, 0), "{report:?}");
    assert_eq!(report.host.as_deref(), Some("local"), "{report:?}");
    let starts = fs::read_to_string(&marks).unwrap();
    assert_eq!(starts.lines().count(), 1, "started {starts:?}");
    // Not a failure of the slot: none recorded, and it serves on.
    assert_eq!(pool.metrics().hosts[0].last_failure, None);
    squares(&mut pool, 10);
    pool.shutdown(Duration::from_secs(10));
    let _ = fs::remove_dir_all(dir);
}

/// A job waiting in its slot behind another (window 2) is not yet running:
/// its time limit counts from when the job before it answered.
fn timeout_counts_from_the_start_not_from_the_send() {
    let mut pool = Pool::builder()
        .host(Host::local(1))
        .window(2)
        .timeout(Duration::from_secs(3))
        .max_attempts(1)
        .build()
        .unwrap();
    // 2 s each: within the limit alone, 4 s counted from the send.
    let out = pool
        .map::<u64, u64>(&Target::Any, "nap", [2000, 2000])
        .unwrap();
    assert_eq!(out, [Ok(2000), Ok(2000)]);
    pool.shutdown(Duration::from_secs(10));
}

/// A job sent to a slot behind one that times out never started: the
/// slot's failure does not use up its attempts.
fn job_waiting_behind_a_timed_out_one_keeps_its_attempts() {
    let mut pool = Pool::builder()
        .host(Host::local(1))
        .window(2)
        .timeout(Duration::from_millis(500))
        .max_attempts(1)
        .build()
        .unwrap();
    // The first naps a minute, far past its limit; the second not at all.
    let mut reports = Vec::new();
    pool.run(
        &Target::Any,
        "nap",
        [60_000u64, 0],
        remote::Order::Submission,
        |_, report: remote::JobReport<u64>| {
            reports.push((report.attempts, report.result));
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    let limit = Duration::from_millis(500);
    assert_eq!(
        reports,
        [
            (
                1,
                Err(JobFailure::TimedOut {
                    after: limit,
                    returned: None
                })
            ),
            (1, Ok(0))
        ]
    );
    pool.shutdown(Duration::from_secs(10));
}

/// `kill` while a failed slot waits for its worker to exit (the worker
/// closed its stdout and runs on): the slot's job is reported cancelled
/// and the run ends (it used to lose the job and wait for ever).
fn kill_while_a_failed_slot_waits_for_its_exit_cancels_its_job() {
    let dir = temp_dir("exiting");
    let marker = dir.join("running");
    // Window 2: a second job waits behind the first and never starts.
    let mut pool = Pool::builder()
        .host(Host::local(1))
        .window(2)
        .build()
        .unwrap();
    let control = pool.control();
    let running = marker.clone();
    let killer = std::thread::spawn(move || {
        let seen = gates::wait_until(Duration::from_mins(1), || {
            running.exists() && control.metrics().hosts[0].alive == 0
        });
        control.kill();
        seen
    });
    // A lost job leaves the run waiting for ever: the last guard ends the
    // test binary.
    let (ended, watch) = std::sync::mpsc::channel::<()>();
    let _guard = std::thread::spawn(move || {
        if watch.recv_timeout(Duration::from_mins(2)).is_err() {
            eprintln!("kill_while_a_failed_slot_waits_for_its_exit: the run never ended");
            process::exit(101);
        }
    });
    let mut reports = Vec::new();
    pool.run(
        &Target::Any,
        "close_output",
        [marker, dir.join("never")],
        remote::Order::Submission,
        |_, report: remote::JobReport<()>| {
            reports.push(report);
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    let _ = ended.send(());
    assert!(killer.join().unwrap().is_ok(), "the slot never failed");
    for report in &reports {
        assert!(
            matches!(&report.result, Err(JobFailure::Cancelled(why)) if why.contains("the pool was stopped")),
            "{report:?}"
        );
    }
    // Attempts started: the second job never was.
    let attempts: Vec<u32> = reports.iter().map(|r| r.attempts).collect();
    assert_eq!(attempts, [1, 0]);
    let _ = fs::remove_dir_all(dir);
}

/// One slot with a window of 2 and a time limit of 1 s runs `handler` on
/// `inputs`; the report of the first takes the caller 2 s (a slow
/// consumer, past the limit: not a synchronisation). Returns each report's
/// attempts and output.
fn run_with_a_slow_first_report<O: serde::de::DeserializeOwned>(
    handler: &str,
    inputs: [u64; 2],
) -> Vec<(u32, Result<O, JobFailure>)> {
    let mut pool = Pool::builder()
        .host(Host::local(1))
        .window(2)
        .timeout(Duration::from_secs(1))
        .max_attempts(1)
        .build()
        .unwrap();
    let mut reports = Vec::new();
    pool.run(
        &Target::Any,
        handler,
        inputs,
        remote::Order::Submission,
        |index, report: remote::JobReport<O>| {
            if index == 0 {
                std::thread::sleep(Duration::from_secs(2));
            }
            reports.push((report.attempts, report.result));
            std::ops::ControlFlow::Continue(())
        },
    )
    .unwrap();
    pool.shutdown(Duration::from_secs(10));
    reports
}

/// A job whose answer waits in the pipe while the pool is busy (here: its
/// callback takes longer than the time limit) did not run late: the pool
/// reads the answer before it calls the job late (it used to kill the slot
/// and run the job again).
fn answer_unread_while_the_pool_was_busy_is_not_a_time_out() {
    // The second job answers 300 ms after it starts, while the first one's
    // report is still being handled.
    let reports = run_with_a_slow_first_report::<u64>("nap", [0, 300]);
    assert_eq!(reports, [(1, Ok(0)), (1, Ok(300))]);
}

/// The same with an answer larger than a pipe holds: the worker is still
/// writing it when the pool looks, and bytes that keep coming are not late.
fn large_answer_unread_while_the_pool_was_busy_is_not_a_time_out() {
    let reports = run_with_a_slow_first_report::<Vec<u8>>("big", [0, 1 << 20]);
    let lens: Vec<(u32, Result<usize, JobFailure>)> = reports
        .into_iter()
        .map(|(attempts, out)| (attempts, out.map(|bytes| bytes.len())))
        .collect();
    assert_eq!(lens, [(1, Ok(0)), (1, Ok(1 << 20))]);
}

fn job_killing_every_slot_does_not_use_up_the_pool() {
    let mut pool = Pool::builder()
        .host(Host::local(2))
        .max_attempts(3)
        .build()
        .unwrap();
    let out = pool.map::<u64, u64>(&Target::Any, "crash", [1]).unwrap();
    match &out[0] {
        Err(JobFailure::Exhausted { history }) => {
            let history = texts(history);
            assert_eq!(history.len(), 3, "{history:?}");
            // How the worker ended and its last words are in every attempt.
            assert!(
                history
                    .iter()
                    .all(|h| h
                        .contains("worker exited (exit status: 9) (stderr: crashing on purpose)")),
                "{history:?}"
            );
        }
        other => panic!("expected exhausted attempts, got {other:?}"),
    }
    // The slots came back for the other jobs.
    squares(&mut pool, 100);
    pool.shutdown(Duration::from_secs(10));
}

/// Each slot's worker knows its slot's number (GNU parallel's `{%}`):
/// from 1 over all hosts in the pool's order, the same in the report's
/// `SlotInfo`; a host's slots come after the slots of the hosts before it.
fn slots_are_numbered_over_all_hosts() {
    let a = Host::new("a", 2, Transport::local());
    let b = Host::new("b", 3, Transport::local());
    let mut pool = Pool::builder().host(a).host(b).build().unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for target in [Target::Host("a".into()), Target::Host("b".into())] {
        pool.run(
            &target,
            "slot",
            vec![(); 40],
            remote::Order::Completion,
            |_, report: remote::JobReport<u32>| {
                let slot = report.slot.expect("a slot answered");
                let number = report.result.expect("the job ran");
                assert_eq!(slot.number, number, "{slot:?}");
                let _ = seen.insert(slot.label.clone(), number);
                std::ops::ControlFlow::Continue(())
            },
        )
        .unwrap();
    }
    let expected = [("a:1", 1), ("a:2", 2), ("b:1", 3), ("b:2", 4), ("b:3", 5)];
    for (label, number) in &seen {
        let (_, want) = expected
            .iter()
            .find(|(l, _)| l == label)
            .unwrap_or_else(|| panic!("no slot {label}"));
        assert_eq!(number, want, "{label}: {seen:?}");
    }
    assert!(seen.keys().any(|l| l.starts_with("b:")), "{seen:?}");
    pool.shutdown(Duration::from_secs(10));
}

fn jobs_go_to_the_named_or_tagged_hosts() {
    let db = Host::new("db1", 1, Transport::local())
        .tag("role", "db")
        .tag("zone", "a");
    let web = Host::new("web1", 2, Transport::local()).tag("role", "web");
    let mut pool = Pool::builder().host(db).host(web).build().unwrap();
    let out = pool
        .map::<u64, u64>(&Target::Host("db1".into()), "square", 0..10)
        .unwrap();
    assert_eq!(out, (0..10u64).map(|x| Ok(x * x)).collect::<Vec<_>>());
    let web_only = Target::tags("role=web").unwrap();
    assert_eq!(
        pool.map::<u64, u64>(&web_only, "square", [3]).unwrap(),
        [Ok(9)]
    );
    let states = pool.host_states();
    assert_eq!((states[0].name.as_str(), states[0].jobs_done), ("db1", 10));
    assert_eq!(
        (
            states[1].name.as_str(),
            states[1].jobs_done,
            states[1].slots
        ),
        ("web1", 1, 2)
    );
    assert_eq!(
        states[0].tags,
        [
            ("role".to_owned(), "db".to_owned()),
            ("zone".to_owned(), "a".to_owned())
        ]
    );
    // Unknown host and unmatched query: a clear error at once.
    let err = pool
        .map::<u64, u64>(&Target::Host("db9".into()), "square", [1])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no host matches host \"db9\"; the pool's hosts are: db1 (tags role=db,zone=a), web1 (tags role=web)"
    );
    let err = pool
        .map::<u64, u64>(&Target::tags("role=db,zone=b").unwrap(), "square", [1])
        .unwrap_err();
    assert!(matches!(err, PoolError::NoMatchingHost { .. }), "{err}");
    let err = Target::tags("role").unwrap_err();
    assert!(
        err.to_string().starts_with("bad tag query \"role\""),
        "{err}"
    );
    pool.shutdown(Duration::from_secs(10));
}

/// This binary as a worker in fake-worker `mode`.
fn faulty_transport(mode: &str) -> Transport {
    let bin = env::current_exe().unwrap().display().to_string();
    Transport::Command {
        template: vec![
            "env".into(),
            format!("HEARTH_TEST_WORKER={mode}"),
            "{bin}".into(),
        ],
        bin,
    }
}

/// A pool of one host, `faulty`, whose slots are fake workers in `mode`.
fn pool_through_env(mode: &str, slots: usize) -> Pool {
    Pool::builder()
        .host(Host::new("faulty", slots, faulty_transport(mode)))
        .build()
        .unwrap()
}

/// One good local slot, then one `faulty` slot in fake-worker `mode`; ten
/// attempts per job.
fn faulty_next_to_good(mode: &str) -> Pool {
    Pool::builder()
        .host(Host::local(1))
        .host(Host::new("faulty", 1, faulty_transport(mode)))
        .max_attempts(10)
        .build()
        .unwrap()
}

fn worker_exiting_in_handshake_fails_the_pool() {
    let mut pool = pool_through_env("exit", 2);
    match pool.map::<u64, u64>(&Target::Any, "square", 0..5) {
        Err(PoolError::AllSlotsDead { reasons, not_run }) => {
            let reasons = texts(&reasons);
            assert_eq!(not_run, [0, 1, 2, 3, 4]);
            assert_eq!(reasons.len(), 2);
            assert!(
                reasons[0].starts_with("faulty:1: worker exited"),
                "{reasons:?}"
            );
        }
        other => panic!("expected every slot dead, got {other:?}"),
    }
}

/// A login shell that greets on stdout before the worker starts (`echo`
/// in `.bashrc`, "Last login: ..."): the greeting is skipped and the jobs
/// run, as they do under GNU parallel and pdsh. It used to make every slot
/// fail.
fn chatty_login_shell_is_skipped() {
    let mut pool = pool_through_env("garbage", 1);
    let out = pool
        .map::<u64, u64>(&Target::Any, "square", [2, 3])
        .unwrap();
    assert_eq!(out, [Ok(4), Ok(9)]);
}

fn missing_binary_is_permanent() {
    let host = Host::new(
        "nowhere",
        2,
        Transport::local_bin("/nonexistent/hearth-worker"),
    );
    let mut pool = Pool::builder().host(host).build().unwrap();
    match pool.map::<u64, u64>(&Target::Any, "square", [2]) {
        Err(err @ PoolError::AllSlotsDead { .. }) => {
            let msg = err.to_string();
            assert!(
                msg.contains("cannot start worker (local /nonexistent/hearth-worker)"),
                "{msg}"
            );
            assert!(msg.contains("did not run: [0]"), "{msg}");
        }
        other => panic!("expected every slot dead, got {other:?}"),
    }
}

/// A slot whose process cannot start because the process is out of file
/// descriptors (a server's connections took them for a moment) starts
/// again with back-off, and runs the job once there are descriptors again.
/// (Such a slot used to be dead for good at once, as one whose program is
/// missing, and the pool failed its jobs as not run.)
fn slot_without_descriptors_to_start_starts_once_there_are() {
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let control = pool.control();
    // Every descriptor taken: opening /dev/null until none is left.
    let mut taken = Vec::new();
    loop {
        match fs::File::open("/dev/null") {
            Ok(file) => taken.push(file),
            Err(err) if err.raw_os_error() == Some(libc::EMFILE) => break,
            Err(err) => panic!("opening /dev/null: {err}"),
        }
    }
    let run = std::thread::spawn(move || {
        let out = pool.map::<u64, u64>(&Target::Any, "square", [3]);
        (pool, out)
    });
    let said = gates::wait_until(Duration::from_mins(1), || {
        control.metrics().hosts[0]
            .last_failure
            .as_deref()
            .is_some_and(|failure| failure.contains("Too many open files"))
    });
    drop(taken);
    said.expect("the slot never failed to start");
    let (pool, out) = run.join().unwrap();
    match out {
        Ok(out) => assert_eq!(out, [Ok(9)]),
        Err(err) => panic!("expected the job to run, got {err}"),
    }
    let metrics = pool.metrics();
    assert_eq!(
        (metrics.slots_alive, metrics.slots_dead),
        (1, 0),
        "{metrics:?}"
    );
    pool.shutdown(Duration::from_secs(10));
}

/// An ssh host `user@` (no host) is refused when the pool is built, with
/// what to write instead; no slot starts.
fn malformed_ssh_host_is_refused_at_build() {
    let err = Pool::builder()
        .host(Host::local(1))
        .host(Host::new("me@", 1, Transport::ssh("hearth")))
        .build()
        .unwrap_err();
    assert!(matches!(err, PoolError::BadHost { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "bad host \"me@\": no host after the @; write host, user@host or user@host:port"
    );
}

fn stderr_flood_does_not_stall() {
    let mut pool = Pool::builder()
        .host(Host::local(2))
        .window(2)
        .build()
        .unwrap();
    let out = pool
        .map::<u64, u64>(&Target::Any, "flood", [1, 2, 3])
        .unwrap();
    assert_eq!(out, [Ok(1), Ok(2), Ok(3)]);
    pool.shutdown(Duration::from_secs(10));
}

/// A worker that misbehaves on purpose: speaks another protocol version
/// (`old_version`), or answers its first job with bytes that are not a
/// frame (`garbage_mid`) or with a frame header announcing 4 GiB
/// (`oversized`). Then it waits for its stdin to close, as a hung worker
/// would.
fn fake_worker(mode: &str) -> ExitCode {
    let max = wire::DEFAULT_MAX_FRAME;
    let (mut input, mut output) = (io::stdin().lock(), io::stdout().lock());
    let mut decoder = FrameDecoder::new(max);
    let _hello = wire::read_frame(&mut input, &mut decoder);
    if mode == "old_version" {
        let mut header = wire::MAGIC.to_vec();
        header.push(wire::VERSION + 1);
        header.extend_from_slice(&0u32.to_be_bytes());
        output.write_all(&header).unwrap();
    } else {
        fake_handshake_rest(&mut input, &mut output, &mut decoder, vec!["square".into()]);
        let _job = next_frame_but_pings(&mut input, &mut output, &mut decoder);
        if mode == "garbage_mid" {
            output
                .write_all(b"Segmentation fault (core dumped)\n")
                .unwrap();
        } else {
            let mut header = wire::MAGIC.to_vec();
            header.push(wire::VERSION);
            header.extend_from_slice(&u32::MAX.to_be_bytes());
            output.write_all(&header).unwrap();
        }
    }
    output.flush().unwrap();
    let _ = io::copy(&mut input, &mut io::sink());
    ExitCode::SUCCESS
}

fn version_mismatch_names_both_versions() {
    let mut pool = pool_through_env("old_version", 2);
    match pool.map::<u64, u64>(&Target::Any, "square", [1, 2]) {
        Err(PoolError::AllSlotsDead { reasons, not_run }) => {
            let reasons = texts(&reasons);
            assert_eq!(not_run, [0, 1]);
            let expected = format!(
                "protocol version mismatch: this side speaks version {}, the peer version {}",
                wire::VERSION,
                wire::VERSION + 1
            );
            assert_eq!(reasons.len(), 2, "{reasons:?}");
            assert!(reasons.iter().all(|r| r.contains(&expected)), "{reasons:?}");
        }
        other => panic!("expected every slot dead, got {other:?}"),
    }
    // Dead for good after one start each: no retry loop.
    assert_eq!(pool.metrics().slots_dead, 2);
}

/// Every attempt of the job meets the misbehaving worker: the job fails
/// after its attempts, each attempt's history naming the transport error.
fn exhausted_by(mode: &str, expected: &[&str]) {
    let mut pool = pool_through_env(mode, 1);
    let out = pool.map::<u64, u64>(&Target::Any, "square", [3]).unwrap();
    match &out[0] {
        Err(JobFailure::Exhausted { history }) => {
            let history = texts(history);
            assert_eq!(history.len(), 3, "{history:?}");
            assert!(
                history
                    .iter()
                    .all(|h| expected.iter().all(|e| h.contains(e))),
                "{history:?}"
            );
        }
        other => panic!("expected exhausted attempts, got {other:?}"),
    }
    assert_eq!(pool.metrics().jobs_retried, 2);
}

fn garbage_mid_stream_is_retried() {
    // The offset depends on the length of the worker's pid in the HELLO_ACK.
    exhausted_by(
        "garbage_mid",
        &[
            "bytes that are not a frame at byte ",
            "(got \"Segmentation fault (core dumped)",
        ],
    );
}

fn oversized_frame_is_retried() {
    exhausted_by("oversized", &["frame too large: 4294967295 bytes"]);
}

/// A slot that breaks every job it takes, next to a good one: every job
/// ends with its right output, exactly once.
fn faulty_slot_next_to_a_good_one_loses_nothing() {
    let mut pool = faulty_next_to_good("garbage_mid");
    squares(&mut pool, 200);
    let metrics = pool.metrics();
    assert_eq!((metrics.jobs_done, metrics.jobs_failed), (200, 0));
    pool.shutdown(Duration::from_secs(10));
}

/// A fake worker's part of the handshake after the pool's `HELLO`: its
/// `HELLO_ACK`, the pool's `SESSION_INIT`, and a `SESSION_ACK` naming
/// `handlers`.
fn fake_handshake_rest(
    input: &mut impl io::Read,
    output: &mut impl Write,
    decoder: &mut FrameDecoder,
    handlers: Vec<String>,
) {
    let max = decoder.max_frame();
    let ack = Frame::HelloAck {
        version: u32::from(wire::VERSION),
        host: "fake".into(),
        pid: process::id(),
    };
    wire::write_frame(output, &ack, max).unwrap();
    let _init = wire::read_frame(input, decoder);
    wire::write_frame(output, &Frame::SessionAck { handlers }, max).unwrap();
}

/// The fake worker's next frame that is not a `PING`, answering each
/// `PING` on the way as a worker does (the pool sends one once the worker
/// answered `HELLO`, to measure the round trip).
fn next_frame_but_pings(
    input: &mut impl io::Read,
    output: &mut impl Write,
    decoder: &mut FrameDecoder,
) -> Option<Frame> {
    loop {
        match wire::read_frame(input, decoder) {
            Ok(Some(Frame::Ping { seq })) => {
                wire::write_frame(output, &Frame::Pong { seq }, decoder.max_frame()).unwrap();
                output.flush().unwrap();
            }
            Ok(frame) => return frame,
            Err(_) => return None,
        }
    }
}

/// A fake worker that does the handshake, runs its first job with the real
/// handlers and gives the encoded answer to `answer`, which writes what it
/// likes; then waits for its stdin to close, or exits with `exit` at once.
fn answer_first_job(answer: impl FnOnce(Vec<u8>) -> Vec<u8>, exit: Option<u8>) -> ExitCode {
    let max = wire::DEFAULT_MAX_FRAME;
    let (mut input, mut output) = (io::stdin().lock(), io::stdout().lock());
    let mut decoder = FrameDecoder::new(max);
    let _hello = wire::read_frame(&mut input, &mut decoder);
    fake_handshake_rest(&mut input, &mut output, &mut decoder, handlers().names());
    if let Some(Frame::Job {
        id,
        handler,
        payload,
    }) = next_frame_but_pings(&mut input, &mut output, &mut decoder)
    {
        // The answer of the `square` handler.
        assert_eq!(handler, "square");
        let x: u64 = postcard::from_bytes(&payload).unwrap();
        let outcome = Ok(postcard::to_stdvec(&(x * x)).unwrap());
        let mut bytes = Vec::new();
        wire::encode(&Frame::Result { id, outcome }, max, &mut bytes).unwrap();
        output.write_all(&answer(bytes)).unwrap();
        output.flush().unwrap();
    }
    if let Some(code) = exit {
        return ExitCode::from(code);
    }
    let _ = io::copy(&mut input, &mut io::sink());
    ExitCode::SUCCESS
}

/// Answers its first job rightly and, in the same write, follows the answer
/// with bytes that are not a frame.
fn answer_then_garbage() -> ExitCode {
    answer_first_job(
        |mut frame| {
            frame.extend_from_slice(b"Segmentation fault (core dumped)\n");
            frame
        },
        None,
    )
}

/// Writes the first 12 bytes of its first answer and exits with status 4.
fn cut_frame() -> ExitCode {
    answer_first_job(|frame| frame[..12].to_vec(), Some(4))
}

/// A worker that dies in the middle of a frame: the failure says so, with
/// the bytes that came and how the worker ended.
fn frame_cut_by_exit_is_named() {
    let mut pool = pool_through_env("cut_frame", 1);
    let out = pool.map::<u64, u64>(&Target::Any, "square", [3]).unwrap();
    match &out[0] {
        Err(JobFailure::Exhausted { history }) => {
            let history = texts(history);
            assert_eq!(history.len(), 3, "{history:?}");
            assert!(
                history.iter().all(|h| {
                    h.starts_with("faulty:1: worker exited inside a frame: got 12 of its ")
                        && h.ends_with(" bytes (exit status: 4)")
                }),
                "{history:?}"
            );
        }
        other => panic!("expected exhausted attempts, got {other:?}"),
    }
}

/// The frames a slot sent before its stream went bad are its own: their
/// results count (once), and they are never taken for another slot's.
fn results_before_garbage_count_and_stay_with_their_slot() {
    let mut pool = faulty_next_to_good("answer_then_garbage");
    squares(&mut pool, 200);
    let metrics = pool.metrics();
    assert_eq!((metrics.jobs_done, metrics.jobs_failed), (200, 0));
    let [good, faulty] = &metrics.hosts[..] else {
        panic!("expected two hosts: {:?}", metrics.hosts);
    };
    // The good slot never failed: nothing of the faulty one reached it.
    assert_eq!(good.last_failure, None, "{good:?}");
    assert!(
        faulty
            .last_failure
            .as_deref()
            .is_some_and(|f| f.contains("Segmentation fault")),
        "{faulty:?}"
    );
    // Each start of the faulty slot answered one job before failing: those
    // answers count as its work, none was run again elsewhere.
    assert!(faulty.jobs_done > 0, "{faulty:?}");
    assert_eq!(good.jobs_done + faulty.jobs_done, 200);
    pool.shutdown(Duration::from_secs(10));
}

/// An output or error message the worker cannot send in one frame is the
/// job's own error, said once: the worker lives on and the job is not run
/// again.
fn outcome_too_large_for_a_frame_is_a_final_job_error() {
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let too_big = wire::DEFAULT_MAX_FRAME as u64 + 1;
    let out = pool
        .map::<u64, Vec<u8>>(&Target::Any, "big", [too_big, 10])
        .unwrap();
    match &out[0] {
        Err(JobFailure::Job(err)) => {
            assert_eq!(err.kind, JobErrorKind::Failed);
            assert!(
                // The encoded output: the bytes and their 4-byte length.
                err.message.contains(&format!(
                    "the output is {} bytes, more than fits in a frame (the max frame size is {} \
                     bytes)",
                    too_big + 4,
                    wire::DEFAULT_MAX_FRAME
                )),
                "{err}"
            );
        }
        other => panic!("expected a job error, got {other:?}"),
    }
    assert_eq!(out[1], Ok(vec![7; 10]));
    // An unknown handler whose name alone nearly fills a frame: the error
    // names it shortened.
    let name = "n".repeat(wire::DEFAULT_MAX_FRAME - 64);
    let out = pool.map::<u64, u64>(&Target::Any, &name, [1]).unwrap();
    match &out[0] {
        Err(JobFailure::Job(err)) => {
            assert_eq!(err.kind, JobErrorKind::UnknownHandler);
            assert!(err.message.len() < 1024, "{} bytes", err.message.len());
            assert!(err.message.contains("(16777152 bytes)"), "{err}");
        }
        other => panic!("expected an unknown handler error, got {other:?}"),
    }
    let metrics = pool.metrics();
    assert_eq!(
        (
            metrics.jobs_retried,
            metrics.hosts[0].last_failure.as_deref()
        ),
        (0, None)
    );
    squares(&mut pool, 10);
    pool.shutdown(Duration::from_secs(10));
}

/// A handler that panics fails its job for good, with the panic's message;
/// its worker lives on and serves the next jobs.
fn panicking_handler_is_a_final_job_error() {
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let pid = pool.map::<u64, u32>(&Target::Any, "pid", [0]).unwrap();
    let out = pool.map::<u64, u64>(&Target::Any, "panic", [1, 2]).unwrap();
    for (x, result) in [1, 2].into_iter().zip(out) {
        match result {
            Err(JobFailure::Job(err)) => {
                assert_eq!(err.kind, JobErrorKind::Panicked);
                assert_eq!(err.message, format!("handler panics on {x}"));
            }
            other => panic!("expected a job error, got {other:?}"),
        }
    }
    assert_eq!(pool.map::<u64, u32>(&Target::Any, "pid", [0]).unwrap(), pid);
    squares(&mut pool, 3);
    assert_eq!(pool.metrics().jobs_retried, 0);
    pool.shutdown(Duration::from_secs(10));
}

/// An input that fills a frame to its limit goes through whole; one a few
/// bytes over is the job's own error, said before it is sent, and the
/// slot serves on.
fn job_input_at_the_frame_limit() {
    let mut pool = Pool::builder().host(Host::local(1)).build().unwrap();
    let max = wire::DEFAULT_MAX_FRAME;
    let fits = vec![1u8; max - 64];
    let over = vec![1u8; max];
    let out = pool
        .map::<Vec<u8>, u64>(&Target::Any, "len", [fits, over])
        .unwrap();
    assert_eq!(out[0], Ok(max as u64 - 64));
    match &out[1] {
        Err(JobFailure::Job(err)) => {
            assert_eq!(err.kind, JobErrorKind::BadPayload);
            assert!(
                err.message
                    .contains(&format!("the maximum is {max}; send smaller payloads")),
                "{err}"
            );
        }
        other => panic!("expected a job error, got {other:?}"),
    }
    let metrics = pool.metrics();
    assert_eq!((metrics.jobs_retried, metrics.slots_alive), (0, 1));
    squares(&mut pool, 3);
    pool.shutdown(Duration::from_secs(10));
}
