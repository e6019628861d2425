//! The remote slot pool over real ssh, against a private sshd on loopback
//! (see `util/sshd.rs`).
//!
//! `harness = false`: started with `--remote-worker` this binary is the
//! worker (its handlers below), reached through `ssh -F CONFIG HOST BIN
//! --remote-worker`; otherwise it starts the server and runs the tests. Each
//! test checks that no job is lost or answered twice (every result correct,
//! in submission order), and after each one no local ssh client and no
//! remote worker may be left.
//!
//! Without `/usr/sbin/sshd` or `ssh` the tests are skipped, unless
//! `HEARTH_REQUIRE_SSHD=1` (as in CI), which makes that a failure.

#[path = "util/gates.rs"]
mod gates;
#[path = "util/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "util/runner.rs"]
mod runner;
#[path = "util/sshd.rs"]
mod sshd;

use std::path::{Path, PathBuf};
use std::process::{self, ExitCode};
use std::time::{Duration, Instant};
use std::{env, fs, panic, thread};

use hearth::remote::{self, FailedSlot, Handlers, Host, Pool, PoolError, Target, Transport};

use procs::processes;
use sshd::Sshd;

/// How long a worker-side wait (a rendezvous, a gate) may last before the
/// job gives up with an error, so a broken test fails instead of hanging.
const WORKER_WAIT: Duration = Duration::from_secs(20);

fn handlers() -> Handlers {
    Handlers::new()
        .add("square", |x: u64| x.checked_mul(x).ok_or("overflow"))
        // Marks `dir/<pid>`, then waits until `n` different workers have:
        // with `n` slots and `n * window` jobs, every slot must be ready and
        // running a job before any job ends. Answers the worker's pid.
        .add("rendezvous", |(dir, n): (PathBuf, usize)| {
            gates::mark(&dir)?;
            gates::wait_until(WORKER_WAIT, || gates::count_entries(&dir) >= n)
                .map_err(|()| format!("rendezvous: fewer than {n} workers after {WORKER_WAIT:?}"))?;
            Ok::<_, String>(process::id())
        })
        // Stops its own worker with SIGSTOP the first time (marker
        // directory, where it leaves its pid), as a frozen host would;
        // then answers.
        .add("freeze_once", |(marker, x): (PathBuf, u64)| {
            if fs::create_dir(&marker).is_ok() {
                fs::write(marker.join("pid"), process::id().to_string())
                    .map_err(|err| format!("writing the pid: {err}"))?;
                // SAFETY: kill(2) on this very process.
                unsafe { libc::kill(libc::getpid(), libc::SIGSTOP) };
            }
            Ok::<_, String>(x + 1)
        })
        // Marks `started/<pid>`, then waits until the file `gate` exists:
        // jobs in flight stay in flight until the test opens the gate.
        .add("gated", |(started, gate, x): (PathBuf, PathBuf, u64)| {
            gates::mark(&started)?;
            gates::wait_until(WORKER_WAIT, || gate.exists())
                .map_err(|()| format!("gate {gate:?} still closed after {WORKER_WAIT:?}"))?;
            x.checked_mul(x).ok_or_else(|| "overflow".to_owned())
        })
}

type Test = fn(&Sshd);

fn main() -> ExitCode {
    if remote::is_remote_worker() {
        if env::var_os("HEARTH_LOG").is_some() {
            hearth::log::init();
        }
        return remote::serve(handlers());
    }
    if env::var_os("HEARTH_LOG").is_some() {
        hearth::log::init();
    }
    let required = env::var("HEARTH_REQUIRE_SSHD").is_ok_and(|v| v == "1");
    let sshd = match Sshd::start(&["node1", "node2"]) {
        Ok(sshd) => sshd,
        Err(why) if required => {
            println!(
                "test remote_ssh ... FAILED: HEARTH_REQUIRE_SSHD=1 and no private sshd: {why}"
            );
            return ExitCode::from(101);
        }
        Err(why) => {
            println!("test remote_ssh ... skipped: {why}");
            return ExitCode::SUCCESS;
        }
    };
    println!(
        "private sshd on 127.0.0.1:{} (pid {}), client config {}",
        sshd.port(),
        sshd.pid(),
        sshd.config_path().display()
    );

    let tests = tests();
    runner::run_with(tests, &sshd, leftovers, |sshd| {
        format!("; sshd log tail: {}", sshd.log_tail(10))
    })
}

/// The tests, in the order they run.
fn tests() -> &'static [(&'static str, Test)] {
    &[
        (
            "two_hosts_window_1_all_in_order",
            two_hosts_window_1_all_in_order,
        ),
        (
            "two_hosts_window_8_all_in_order",
            two_hosts_window_8_all_in_order,
        ),
        (
            "a_labelled_host_is_reached_through_its_login",
            a_labelled_host_is_reached_through_its_login,
        ),
        (
            "killed_ssh_client_loses_nothing_and_its_worker_exits",
            killed_ssh_client_loses_nothing_and_its_worker_exits,
        ),
        (
            "stopped_remote_worker_is_found_and_its_job_runs_again",
            stopped_remote_worker_is_found_and_its_job_runs_again,
        ),
        (
            "unreachable_host_dies_others_carry_the_work",
            unreachable_host_dies_others_carry_the_work,
        ),
        (
            "refused_key_fails_at_once_without_retries",
            refused_key_fails_at_once_without_retries,
        ),
        (
            "host_key_mismatch_fails_at_once_in_ssh_words",
            host_key_mismatch_fails_at_once_in_ssh_words,
        ),
        (
            "unknown_host_fails_at_once_in_ssh_words",
            unknown_host_fails_at_once_in_ssh_words,
        ),
        (
            "refused_connection_is_retried_and_said_as_such",
            refused_connection_is_retried_and_said_as_such,
        ),
        (
            "missing_remote_binary_fails_at_once_without_retries",
            missing_remote_binary_fails_at_once_without_retries,
        ),
        (
            "exit_status_kept_when_stdout_closes_before_exit",
            exit_status_kept_when_stdout_closes_before_exit,
        ),
        (
            "slots_of_a_host_share_one_login",
            slots_of_a_host_share_one_login,
        ),
        (
            "dropped_pool_ends_its_masters_and_their_directory",
            dropped_pool_ends_its_masters_and_their_directory,
        ),
        (
            "killed_master_fails_its_slots_and_their_jobs_run_again",
            killed_master_fails_its_slots_and_their_jobs_run_again,
        ),
        (
            "own_control_options_are_left_alone",
            own_control_options_are_left_alone,
        ),
        (
            "masters_connect_through_hearth_unless_the_user_proxies",
            masters_connect_through_hearth_unless_the_user_proxies,
        ),
        (
            "an_ssh_that_hangs_on_dash_g_still_logs_in",
            an_ssh_that_hangs_on_dash_g_still_logs_in,
        ),
    ]
}

/// The pool's transport to the private sshd, with `bin` as the worker.
fn ssh(sshd: &Sshd, bin: &str) -> Transport {
    ssh_words(sshd.ssh_command(), bin)
}

/// The pool's transport over the ssh command `ssh`, with `bin` as the
/// worker.
fn ssh_words(ssh: Vec<String>, bin: &str) -> Transport {
    Transport::Ssh {
        ssh,
        bin: bin.to_owned(),
        connect_timeout: Duration::from_secs(5),
    }
}

/// A pool of two slots on node1 over the ssh command `ssh`, both up.
fn node1_pool(sshd: &Sshd, ssh: Vec<String>, scratch: &str) -> Pool {
    let mut pool = Pool::builder()
        .host(Host::new("node1", 2, ssh_words(ssh, &runner::exe())))
        .build()
        .unwrap();
    all_slots_up(&mut pool, sshd.scratch(scratch), 2, 1);
    pool
}

/// A host alias of the private sshd's client config running this binary.
fn host(sshd: &Sshd, alias: &str, slots: usize) -> Host {
    Host::new(alias, slots, ssh(sshd, &runner::exe()))
}

/// Processes a test left behind, after waiting up to 5 s for them to end
/// (sshd tears a session down asynchronously, and a remote worker exits
/// only once it sees its stdin close):
///
/// - children of this process other than the sshd listener: ssh clients the
///   pool did not kill or reap (a zombie counts);
/// - anywhere on the machine, processes running this binary with
///   `--remote-worker`: remote workers (or the shells starting them) that
///   outlived their slot;
/// - the masters of the ssh connections to this test's sshd (see
///   [`masters`]): a pool ends them when it ends.
fn leftovers(sshd: &Sshd) -> Vec<String> {
    let me = process::id();
    let find = || -> Vec<String> {
        let workers = remote_workers();
        let masters: Vec<u32> = masters(sshd).into_iter().map(|m| m.0).collect();
        processes()
            .into_iter()
            .filter(|p| p.pid != me && p.pid != sshd.pid())
            .filter(|p| p.ppid == me || workers.contains(&p.pid) || masters.contains(&p.pid))
            .map(|p| p.to_string())
            .collect()
    };
    gates::poll_for(Duration::from_secs(5), || {
        let left = find();
        left.is_empty().then_some(())
    })
    .map_or_else(find, |()| Vec::new())
}

/// Processes running this binary with `--remote-worker` (not zombies: their
/// command line is gone): the workers, the shells starting them, and the
/// local ssh clients whose command line names them.
fn remote_workers() -> Vec<u32> {
    let me = process::id();
    let exe = runner::exe();
    processes()
        .into_iter()
        .filter(|p| {
            p.pid != me
                && p.cmdline.contains(&exe)
                && p.cmdline.contains(remote::REMOTE_WORKER_FLAG)
        })
        .map(|p| p.pid)
        .collect()
}

/// The masters of the ssh connections to `sshd` that the pools started
/// (their ssh command names its client config and `ControlMaster=yes`),
/// once forked into the background: each one's pid, host alias and
/// control socket.
fn masters(sshd: &Sshd) -> Vec<(u32, String, PathBuf)> {
    let me = process::id();
    let config = sshd.config_path().display().to_string();
    processes()
        .into_iter()
        .filter(|p| p.ppid != me && p.state != 'Z')
        .filter(|p| p.cmdline.contains(&config) && p.cmdline.contains("ControlMaster=yes"))
        .filter_map(|p| {
            let socket = p
                .cmdline
                .split(' ')
                .find_map(|w| w.strip_prefix("ControlPath="))?;
            let alias = p.cmdline.split(' ').next_back()?.to_owned();
            Some((p.pid, alias, PathBuf::from(socket)))
        })
        .collect()
}

/// Waits until every slot of the pool is up: a rendezvous of `slots`
/// workers, a window's worth of jobs (`window`) each.
fn all_slots_up(pool: &mut Pool, dir: PathBuf, slots: usize, window: usize) {
    let pids = pool
        .map::<_, u32>(
            &Target::Any,
            "rendezvous",
            vec![(dir, slots); slots * window],
        )
        .unwrap();
    let mut pids: Vec<u32> = pids
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("rendezvous failed: {e}")))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), slots, "workers that ran jobs: {pids:?}");
}

/// The failed slots as their messages read.
fn texts(slots: &[FailedSlot]) -> Vec<String> {
    slots.iter().map(ToString::to_string).collect()
}

/// Runs `n` `square` jobs and checks every result, in order.
fn squares(pool: &mut Pool, n: u64) {
    let out = pool.map::<u64, u64>(&Target::Any, "square", 0..n).unwrap();
    assert_eq!(out.len() as u64, n);
    for (i, result) in out.into_iter().enumerate() {
        assert_eq!(result, Ok(i as u64 * i as u64), "job {i}");
    }
}

/// Jobs done per host, by name.
fn jobs_done(pool: &Pool) -> Vec<(String, usize)> {
    pool.host_states()
        .into_iter()
        .map(|s| (s.name, s.jobs_done))
        .collect()
}

/// Two hosts of two slots each: every slot's worker comes up over ssh (a
/// rendezvous of all four before the run), then 2,000 jobs come back
/// correct and in order, and both hosts answered some of them.
fn two_hosts(sshd: &Sshd, window: usize) {
    let mut pool = Pool::builder()
        .host(host(sshd, "node1", 2))
        .host(host(sshd, "node2", 2))
        .window(window)
        .build()
        .unwrap();
    let dir = sshd.scratch(&format!("rendezvous-w{window}"));
    let start = Instant::now();
    let pids = pool
        .map::<_, u32>(&Target::Any, "rendezvous", vec![(dir, 4usize); 4 * window])
        .unwrap();
    let mut pids: Vec<u32> = pids
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("rendezvous failed: {e}")))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 4, "workers that ran jobs: {pids:?}");
    // The check for leftover workers after each test finds these ones.
    let found = remote_workers();
    assert!(
        pids.iter().all(|pid| found.contains(pid)),
        "workers {pids:?} not all among the processes found: {found:?}"
    );
    for state in pool.host_states() {
        assert_eq!((state.alive, state.dead), (2, 0), "{state:?}");
    }
    let up = start.elapsed();
    let before = jobs_done(&pool);
    let start = Instant::now();
    squares(&mut pool, 2_000);
    println!(
        "  window {window}: 4 slots up in {up:.2?}, 2,000 jobs in {:.2?}",
        start.elapsed()
    );
    let after = jobs_done(&pool);
    let mut total = 0;
    for ((name, before), (_, after)) in before.iter().zip(&after) {
        // Every ready slot with room takes a job in the first dispatch.
        assert!(after > before, "{name} did no job: {before} -> {after}");
        total += after - before;
    }
    assert_eq!(total, 2_000, "answers counted per host: {after:?}");
    // The slots persist: a second batch reuses them.
    squares(&mut pool, 100);
    pool.shutdown(Duration::from_secs(10));
}

fn two_hosts_window_1_all_in_order(sshd: &Sshd) {
    two_hosts(sshd, 1);
}

fn two_hosts_window_8_all_in_order(sshd: &Sshd) {
    two_hosts(sshd, 8);
}

/// A host named `db` and reached as `node1` (`Host::login`): its slots
/// come up over ssh and answer, and the pool calls it `db` in its states
/// and its targets.
fn a_labelled_host_is_reached_through_its_login(sshd: &Sshd) {
    let mut pool = Pool::builder()
        .host(Host::new("db", 2, ssh(sshd, &runner::exe())).login("node1"))
        .build()
        .unwrap();
    let squares = pool
        .map::<u64, u64>(&Target::Host("db".to_owned()), "square", 1..=20)
        .unwrap();
    let squares: Vec<u64> = squares.into_iter().map(Result::unwrap).collect();
    assert_eq!(squares, (1..=20u64).map(|n| n * n).collect::<Vec<_>>());
    assert_eq!(jobs_done(&pool), [("db".to_owned(), 20)]);
    pool.shutdown(Duration::from_secs(10));
}

/// Opens the gate (creates the file) when dropped, even when the side
/// thread holding it panics, so the jobs waiting behind it end.
struct Gate<'a>(&'a Path);

impl Drop for Gate<'_> {
    fn drop(&mut self) {
        fs::write(self.0, b"").expect("opening the gate");
    }
}

/// While every slot has gated jobs in flight, SIGKILL one slot's local ssh
/// client. The pool must put that slot's jobs back in the queue and finish
/// everything; the remote worker, whose stdin closes when sshd loses the
/// connection, must exit (checked while the gate is still closed, so it
/// cannot have exited by finishing its jobs).
fn killed_ssh_client_loses_nothing_and_its_worker_exits(sshd: &Sshd) {
    const JOBS: u64 = 200;
    let started = sshd.scratch("killed-started");
    let gate = sshd.scratch("killed-gate").join("open");
    let mut pool = Pool::builder()
        .host(host(sshd, "node1", 2))
        .host(host(sshd, "node2", 2))
        .window(2)
        .build()
        .unwrap();
    let inputs: Vec<(PathBuf, PathBuf, u64)> = (0..JOBS)
        .map(|x| (started.clone(), gate.clone(), x))
        .collect();
    let (out, killed) = thread::scope(|scope| {
        let killer = scope.spawn(|| {
            let _gate = Gate(&gate);
            kill_one_ssh_client(&started, 4)
        });
        let out = pool.map::<_, u64>(&Target::Any, "gated", inputs);
        (out, killer.join())
    });
    let (ssh_pid, worker_pid) = match killed {
        Ok(Ok(pids)) => pids,
        Ok(Err(why)) => panic!("killing an ssh client: {why}"),
        // The killer thread panicked: its panic is the test's.
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let out = out.unwrap();
    assert_eq!(out.len() as u64, JOBS);
    for (i, result) in out.into_iter().enumerate() {
        assert_eq!(
            result,
            Ok(i as u64 * i as u64),
            "job {i} (ssh client {ssh_pid} was killed, its worker {worker_pid} exited)"
        );
    }
    let answered: usize = pool.host_states().iter().map(|s| s.jobs_done).sum();
    assert_eq!(
        answered,
        usize::try_from(JOBS).unwrap(),
        "{:?}",
        pool.host_states()
    );
    pool.shutdown(Duration::from_secs(10));
}

/// The killer's side: waits until `workers` different workers run gated
/// jobs (so every slot is ready with jobs in flight), SIGKILLs one local
/// ssh client of this process, and waits until one of those workers has
/// exited. Returns the ssh client's pid and the worker's.
fn kill_one_ssh_client(started: &Path, workers: usize) -> Result<(u32, u32), String> {
    let marked = gates::poll_for(WORKER_WAIT, || {
        let pids: Vec<u32> = fs::read_dir(started)
            .ok()?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        (pids.len() >= workers).then_some(pids)
    })
    .ok_or_else(|| format!("fewer than {workers} workers started a job"))?;
    let me = process::id();
    let ssh_pid = processes()
        .into_iter()
        .find(|p| p.ppid == me && p.comm == "ssh" && p.state != 'Z')
        .map(|p| p.pid)
        .ok_or("no local ssh client is running")?;
    if !procs::signal(ssh_pid, libc::SIGKILL) {
        return Err(format!("kill -9 {ssh_pid} failed"));
    }
    let alive = |pid: u32| processes().iter().any(|p| p.pid == pid && p.state != 'Z');
    let exited = gates::poll_for(Duration::from_secs(10), || {
        marked.iter().copied().find(|&pid| !alive(pid))
    })
    .ok_or_else(|| {
        format!("killed ssh client {ssh_pid}, but none of the workers {marked:?} exited within 10s")
    })?;
    Ok((ssh_pid, exited))
}

/// A remote worker stopped in the middle of its job (SIGSTOP: its host
/// and the connection still answer, so ssh's keep-alive sees nothing)
/// answers no ping: its slot is declared dead once silent for the slot
/// timeout, and the job runs again on a slot that answers. The stopped
/// process stays stopped (nothing reaches it: its session is gone), but
/// ends by itself once it runs again, as a host that thaws would.
fn stopped_remote_worker_is_found_and_its_job_runs_again(sshd: &Sshd) {
    let limit = Duration::from_secs(2);
    let lost = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = lost.clone();
    let mut pool = Pool::builder()
        .host(host(sshd, "node1", 2))
        .slot_timeout(limit)
        .on_slot_lost(move |slot| record.lock().unwrap().push(slot.clone()))
        .build()
        .unwrap();
    let marker = sshd.scratch("frozen").join("once");
    let out = pool
        .map::<_, u64>(&Target::Any, "freeze_once", [(marker.clone(), 1u64)])
        .unwrap();
    assert_eq!(out, [Ok(2)]);
    let pid: u32 = fs::read_to_string(marker.join("pid"))
        .unwrap()
        .parse()
        .unwrap();
    let stopped = processes().into_iter().find(|p| p.pid == pid);
    assert!(
        stopped.as_ref().is_some_and(|p| p.state == 'T'),
        "{stopped:?}"
    );
    // Thawed, it finds its pool gone and ends (checked with the
    // leftovers after the test).
    assert!(procs::signal(pid, libc::SIGCONT));
    let lost = lost.lock().unwrap();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(
        lost[0].failed.failure,
        remote::SlotFailure::Silent { limit }
    );
    assert_eq!(lost[0].requeued, 1, "{lost:?}");
    drop(lost);
    pool.shutdown(Duration::from_secs(10));
}

/// `closed` (every connect refused, ssh exits 255) next to `node1`: node1
/// carries all the work; the refused slots are retried with back-off and,
/// after five failed starts, are dead for good.
fn unreachable_host_dies_others_carry_the_work(sshd: &Sshd) {
    let mut pool = Pool::builder()
        .host(host(sshd, "node1", 2))
        .host(host(sshd, "closed", 2))
        .window(4)
        .build()
        .unwrap();
    squares(&mut pool, 1_000);
    assert_eq!(
        jobs_done(&pool),
        [("node1".to_owned(), 1_000), ("closed".to_owned(), 0)]
    );
    // Only the unreachable host: the pool fails once both of its slots
    // have failed their starts (back-off 200 ms doubling: about 3 s).
    let start = Instant::now();
    match pool.map::<u64, u64>(&Target::Host("closed".into()), "square", [1, 2, 3]) {
        Err(PoolError::AllSlotsDead { reasons, not_run }) => {
            let reasons = texts(&reasons);
            assert_eq!(not_run, [0, 1, 2]);
            assert_eq!(reasons.len(), 2, "{reasons:?}");
            for reason in &reasons {
                assert!(reason.starts_with("closed:"), "{reasons:?}");
                assert!(reason.contains("Connection refused"), "{reasons:?}");
            }
        }
        other => panic!("expected every slot of `closed` dead, got {other:?}"),
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    let states = pool.host_states();
    assert_eq!((states[0].alive, states[0].dead), (2, 0), "{states:?}");
    assert_eq!((states[1].alive, states[1].dead), (0, 2), "{states:?}");
    // The pool as a whole still works.
    squares(&mut pool, 100);
    pool.shutdown(Duration::from_secs(10));
}

/// `denied` (a key sshd does not accept): "Permission denied" is
/// permanent, the pool fails after one login attempt for the host (its
/// slots share one connection), said by each of its slots.
fn refused_key_fails_at_once_without_retries(sshd: &Sshd) {
    let mut pool = Pool::builder()
        .host(host(sshd, "denied", 2))
        .build()
        .unwrap();
    let connections = sshd.log_count("Connection from");
    let start = Instant::now();
    match pool.map::<u64, u64>(&Target::Any, "square", [1, 2, 3]) {
        Err(PoolError::AllSlotsDead { reasons, not_run }) => {
            let reasons = texts(&reasons);
            assert_eq!(not_run, [0, 1, 2]);
            assert_eq!(reasons.len(), 2, "{reasons:?}");
            for reason in &reasons {
                assert!(
                    reason.contains("authentication refused")
                        && reason.contains("Permission denied"),
                    "{reasons:?}"
                );
            }
        }
        other => panic!("expected every slot dead, got {other:?}"),
    }
    let elapsed = start.elapsed();
    // One connection for the host: no retry, and not one per slot. sshd
    // logs each connection before it answers the key, so its line is in
    // the log by now.
    assert_eq!(sshd.log_count("Connection from") - connections, 1);
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let states = pool.host_states();
    assert_eq!((states[0].alive, states[0].dead), (0, 2), "{states:?}");
}

/// The private sshd's ssh command through a wrapper that adds a line to
/// `log` each time it starts: how often the pool started ssh, also for
/// hosts it never reaches.
fn counted_ssh(sshd: &Sshd, log: &Path) -> Transport {
    let mut ssh = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        // `ssh -G` reads the configuration and logs in nowhere: not counted.
        format!(
            "case \" $* \" in *' -G '*) ;; *) echo >> '{}' ;; esac; exec ssh \"$@\"",
            log.display()
        ),
        "ssh".to_owned(),
    ];
    ssh.extend(sshd.ssh_command().into_iter().skip(1));
    ssh_words(ssh, &runner::exe())
}

/// How many times ssh was started to log in, by the log of
/// [`counted_ssh`].
fn starts(log: &Path) -> usize {
    fs::read_to_string(log).map_or(0, |text| text.lines().count())
}

/// Runs three jobs on two slots of `alias`, which ssh cannot reach for a
/// reason trying again cannot fix: every slot is dead after the host's one
/// ssh start (the master of the connection its slots share), and each
/// says why in `expected` words (ssh's own among them), not as a worker
/// that exited.
fn fails_at_once(sshd: &Sshd, alias: &str, expected: &[&str]) {
    let log = sshd.scratch(alias).join("starts");
    let mut pool = Pool::builder()
        .host(Host::new(alias, 2, counted_ssh(sshd, &log)))
        .build()
        .unwrap();
    match pool.map::<u64, u64>(&Target::Any, "square", [1, 2, 3]) {
        Err(PoolError::AllSlotsDead { reasons, not_run }) => {
            assert_eq!(not_run, [0, 1, 2]);
            let reasons = texts(&reasons);
            assert_eq!(reasons.len(), 2, "{reasons:?}");
            for reason in &reasons {
                assert!(
                    expected.iter().all(|e| reason.contains(e)) && !reason.contains("exited"),
                    "{reasons:?}"
                );
            }
        }
        other => panic!("expected every slot of {alias} dead, got {other:?}"),
    }
    assert_eq!(starts(&log), 1, "ssh was started again for {alias}");
    let states = pool.host_states();
    assert_eq!((states[0].alive, states[0].dead), (0, 2), "{states:?}");
}

/// `badkey` (the server known by another host key): ssh refuses the host,
/// and no restart can change that.
fn host_key_mismatch_fails_at_once_in_ssh_words(sshd: &Sshd) {
    fails_at_once(
        sshd,
        "badkey",
        &[
            "host key rejected",
            "Host key verification failed",
            "known_hosts",
        ],
    );
}

/// `unknown` (a name that does not resolve).
fn unknown_host_fails_at_once_in_ssh_words(sshd: &Sshd) {
    fails_at_once(
        sshd,
        "unknown",
        &[
            "unknown host",
            "Could not resolve hostname nosuchhost.invalid",
        ],
    );
}

/// `closed` (nothing listens there): a refused connection may be a host
/// still booting, so the slot is started again with back-off until it is
/// dead after five starts; what it says is that ssh could not connect,
/// not that a worker exited.
fn refused_connection_is_retried_and_said_as_such(sshd: &Sshd) {
    let log = sshd.scratch("refused").join("starts");
    let mut pool = Pool::builder()
        .host(Host::new("closed", 1, counted_ssh(sshd, &log)))
        .build()
        .unwrap();
    match pool.map::<u64, u64>(&Target::Any, "square", [1]) {
        Err(PoolError::AllSlotsDead { reasons, .. }) => {
            let reasons = texts(&reasons);
            assert_eq!(reasons.len(), 1, "{reasons:?}");
            assert!(
                reasons[0].starts_with("closed:1: ssh could not connect: ")
                    && reasons[0].contains("Connection refused")
                    && !reasons[0].contains("exited"),
                "{reasons:?}"
            );
        }
        other => panic!("expected the slot of closed dead, got {other:?}"),
    }
    assert_eq!(starts(&log), 5, "not retried five times");
}

/// A worker binary that does not exist on the host: the remote shell exits
/// 127 after the login; permanent, the pool fails naming the path, after one
/// login for the host and one session per slot.
fn missing_remote_binary_fails_at_once_without_retries(sshd: &Sshd) {
    const MISSING: &str = "/nonexistent/hearth-worker";
    let mut pool = Pool::builder()
        .host(Host::new("node1", 2, ssh(sshd, MISSING)))
        .build()
        .unwrap();
    let logins = sshd.log_count("Accepted publickey");
    let sessions = sshd.log_count("Starting session");
    let start = Instant::now();
    match pool.map::<u64, u64>(&Target::Any, "square", [1, 2, 3]) {
        Err(err @ PoolError::AllSlotsDead { .. }) => {
            let PoolError::AllSlotsDead { reasons, not_run } = &err else {
                unreachable!()
            };
            let reasons = &texts(reasons);
            assert_eq!(not_run, &[0, 1, 2]);
            assert_eq!(reasons.len(), 2, "{reasons:?}");
            for reason in reasons {
                assert!(
                    reason.contains("exit 127") && reason.contains(MISSING),
                    "{reasons:?}"
                );
            }
            assert!(err.to_string().contains(MISSING), "{err}");
        }
        other => panic!("expected every slot dead, got {other:?}"),
    }
    let elapsed = start.elapsed();
    // One login for the host, one session per slot: no retry. sshd logs
    // them before it runs the command, so the lines are in the log by now.
    assert_eq!(sshd.log_count("Accepted publickey") - logins, 1);
    assert_eq!(sshd.log_count("Starting session") - sessions, 2);
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// Regression test of a POOL BUG these tests found (in commits baa5d76 and
/// 79796da; fixed in 1bd535e: `Slot::kill` waits up to 500 ms for a worker
/// that closed its stdout to exit by itself).
///
/// When a slot's stdout closed before its handshake, the pool killed the
/// slot's process at once and only then read how it ended. Over ssh that
/// loses the remote command's exit status: the ssh client closes its stdout
/// when the channel's EOF arrives and exits only after the exit status that
/// follows, so the pool's SIGKILL usually landed first. The status was then
/// "killed by signal 9" instead of 127, the missing binary was taken for a
/// transient failure, and the slot was started again, up to five times with
/// back-off (about 3 s) before it was dead for good, with a reason that no
/// longer said "exit 127". The test above shows it through the race with a
/// missing binary (3 to 7 logins instead of 2 in 10 of 10 runs); this one
/// widens the window to make it certain: the remote worker is a script that
/// closes its stdout and stderr (so sshd sends the channel's EOF and the
/// ssh client closes its stdout) and exits 127 20 ms later (the sleep stands
/// for a slow exit, it synchronises nothing). A pool that waits a moment for
/// a process that closed its stdout to exit passes.
fn exit_status_kept_when_stdout_closes_before_exit(sshd: &Sshd) {
    use std::os::unix::fs::PermissionsExt;

    let script = sshd.scratch("exit-127").join("worker.sh");
    fs::write(
        &script,
        "#!/bin/sh\necho 'worker.sh: no worker here' >&2\nexec >&- 2>&-\nsleep 0.02\nexit 127\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let mut pool = Pool::builder()
        .host(Host::new(
            "node1",
            1,
            ssh(sshd, &script.display().to_string()),
        ))
        .build()
        .unwrap();
    let logins = sshd.log_count("Accepted publickey");
    match pool.map::<u64, u64>(&Target::Any, "square", [1]) {
        Err(PoolError::AllSlotsDead { reasons, not_run }) => {
            let reasons = texts(&reasons);
            assert_eq!(not_run, [0]);
            assert!(
                reasons.len() == 1 && reasons[0].contains("exit 127"),
                "the exit status 127 was lost: {reasons:?}"
            );
        }
        other => panic!("expected every slot dead, got {other:?}"),
    }
    assert_eq!(
        sshd.log_count("Accepted publickey") - logins,
        1,
        "a worker that exited 127 was started again"
    );
}

/// Two hosts of four slots each: one login per host (the slots' sessions
/// share its connection: eight sessions, two logins), through a master
/// whose socket is in a private directory (mode 0700) that is gone, with
/// the masters, once the pool shut down.
fn slots_of_a_host_share_one_login(sshd: &Sshd) {
    use std::os::unix::fs::PermissionsExt;

    let logins = sshd.log_count("Accepted publickey");
    let sessions = sshd.log_count("Starting session");
    let mut pool = Pool::builder()
        .host(host(sshd, "node1", 4))
        .host(host(sshd, "node2", 4))
        .build()
        .unwrap();
    all_slots_up(&mut pool, sshd.scratch("one-login"), 8, 1);
    squares(&mut pool, 500);
    assert_eq!(sshd.log_count("Starting session") - sessions, 8);
    assert_eq!(
        sshd.log_count("Accepted publickey") - logins,
        2,
        "logins for two hosts of four slots"
    );
    let masters = masters(sshd);
    let mut aliases: Vec<&str> = masters.iter().map(|m| m.1.as_str()).collect();
    aliases.sort_unstable();
    assert_eq!(aliases, ["node1", "node2"], "{masters:?}");
    let dir = masters[0].2.parent().unwrap().to_owned();
    assert!(
        masters.iter().all(|m| m.2.parent() == Some(&*dir)),
        "{masters:?}"
    );
    let mode = fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
    pool.shutdown(Duration::from_secs(10));
    assert!(!dir.exists(), "{} left behind", dir.display());
    let pids: Vec<u32> = masters.iter().map(|m| m.0).collect();
    let alive: Vec<_> = processes()
        .into_iter()
        .filter(|p| pids.contains(&p.pid) && p.state != 'Z')
        .collect();
    assert!(alive.is_empty(), "masters left: {alive:?}");
}

/// A pool dropped while its slots run (no shutdown: a run that is
/// killed) ends its masters and removes their directory too.
fn dropped_pool_ends_its_masters_and_their_directory(sshd: &Sshd) {
    let pool = node1_pool(sshd, sshd.ssh_command(), "dropped");
    let masters = masters(sshd);
    assert_eq!(masters.len(), 1, "{masters:?}");
    let dir = masters[0].2.parent().unwrap().to_owned();
    assert!(dir.is_dir());
    drop(pool);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(
        !processes()
            .iter()
            .any(|p| p.pid == masters[0].0 && p.state != 'Z'),
        "master {} left",
        masters[0].0
    );
}

/// While every slot has gated jobs in flight, SIGKILL node1's master:
/// its two slots lose their sessions and fail, their jobs go back to the
/// queue and every job ends once, correct and in order; node1's slots
/// come back through a new master (a second login for node1).
fn killed_master_fails_its_slots_and_their_jobs_run_again(sshd: &Sshd) {
    const JOBS: u64 = 200;
    let started = sshd.scratch("master-started");
    let gate = sshd.scratch("master-gate").join("open");
    let lost = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = lost.clone();
    let logins = sshd.log_count("Accepted publickey");
    let mut pool = Pool::builder()
        .host(host(sshd, "node1", 2))
        .host(host(sshd, "node2", 2))
        .window(2)
        .on_slot_lost(move |slot| record.lock().unwrap().push(slot.clone()))
        .build()
        .unwrap();
    let inputs: Vec<(PathBuf, PathBuf, u64)> = (0..JOBS)
        .map(|x| (started.clone(), gate.clone(), x))
        .collect();
    let (out, killed) = thread::scope(|scope| {
        let killer = scope.spawn(|| {
            let _gate = Gate(&gate);
            gates::poll_for(WORKER_WAIT, || {
                (gates::count_entries(&started) >= 4).then_some(())
            })
            .ok_or("fewer than 4 workers started a job")?;
            let master = masters(sshd)
                .into_iter()
                .find(|m| m.1 == "node1")
                .ok_or("no master for node1")?;
            if !procs::signal(master.0, libc::SIGKILL) {
                return Err("kill -9 of the master failed");
            }
            // Its slots' sessions end: wait until the pool lost both.
            gates::poll_for(WORKER_WAIT, || (lost_count(&lost) >= 2).then_some(()))
                .ok_or("node1's slots were not lost")?;
            Ok(master.0)
        });
        let out = pool.map::<_, u64>(&Target::Any, "gated", inputs);
        (out, killer.join())
    });
    let master = match killed {
        Ok(Ok(pid)) => pid,
        Ok(Err(why)) => panic!("killing the master: {why}"),
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let out = out.unwrap();
    assert_eq!(out.len() as u64, JOBS);
    for (i, result) in out.into_iter().enumerate() {
        assert_eq!(
            result,
            Ok(i as u64 * i as u64),
            "job {i} (master {master} killed)"
        );
    }
    let lost = lost.lock().unwrap().clone();
    assert_eq!(lost.len(), 2, "{lost:?}");
    assert!(lost.iter().all(|l| l.host == "node1"), "{lost:?}");
    assert!(
        lost.iter().map(|l| l.requeued).sum::<usize>() >= 2,
        "{lost:?}"
    );
    // node1's slots come back, through a new master.
    all_slots_up(&mut pool, sshd.scratch("master-again"), 4, 2);
    assert_eq!(
        sshd.log_count("Accepted publickey") - logins,
        3,
        "node1 logs in again once, node2 never"
    );
    pool.shutdown(Duration::from_secs(10));
}

fn lost_count(lost: &std::sync::Mutex<Vec<remote::SlotLost>>) -> usize {
    lost.lock().unwrap().len()
}

/// An ssh command that sets `ControlPath` itself keeps it: hearth starts
/// no master, and each slot logs in on its own (here `ControlPath=none`).
fn own_control_options_are_left_alone(sshd: &Sshd) {
    let logins = sshd.log_count("Accepted publickey");
    let mut ssh = sshd.ssh_command();
    ssh.extend(["-o".to_owned(), "ControlPath=none".to_owned()]);
    let pool = node1_pool(sshd, ssh, "own-control");
    assert!(masters(sshd).is_empty());
    assert_eq!(sshd.log_count("Accepted publickey") - logins, 2);
    pool.shutdown(Duration::from_secs(10));
}

/// The command lines of the masters of `sshd`'s connections (see
/// [`masters`]).
fn master_commands(sshd: &Sshd) -> Vec<String> {
    let pids: Vec<u32> = masters(sshd).iter().map(|m| m.0).collect();
    processes()
        .into_iter()
        .filter(|p| pids.contains(&p.pid))
        .map(|p| p.cmdline)
        .collect()
}

/// A master takes its connection from hearth's connector (`ProxyCommand`
/// naming this program, `ProxyUseFdpass`): Nagle's algorithm off during
/// the login. An ssh command with a `ProxyCommand` of its own keeps it:
/// the user's proxy carries the one login, and the jobs run.
fn masters_connect_through_hearth_unless_the_user_proxies(sshd: &Sshd) {
    let mut pool = node1_pool(sshd, sshd.ssh_command(), "connector");
    let commands = master_commands(sshd);
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert!(
        commands[0].contains(" --hearth-ssh-connect %h %p")
            && commands[0].contains("ProxyUseFdpass=yes"),
        "{commands:?}"
    );
    squares(&mut pool, 20);
    pool.shutdown(Duration::from_secs(10));

    let used = sshd.scratch("users-proxy").join("used");
    let logins = sshd.log_count("Accepted publickey");
    let mut ssh = sshd.ssh_command();
    ssh.extend([
        "-o".to_owned(),
        format!(
            "ProxyCommand=bash -c 'echo used >> {}; exec 3<>/dev/tcp/%h/%p; cat <&3 & exec cat >&3'",
            used.display()
        ),
    ]);
    runs_with_sshs_own_connection(sshd, ssh, "users-proxy-up");
    assert_eq!(fs::read_to_string(&used).unwrap(), "used\n");
    assert_eq!(sshd.log_count("Accepted publickey") - logins, 1);
}

/// An ssh command whose `ssh -G` never ends (a wrapper that takes no
/// `-G`): after 2 s the master logs in with ssh's own connection, the
/// jobs run, and the hanging `-G` is not left behind.
fn an_ssh_that_hangs_on_dash_g_still_logs_in(sshd: &Sshd) {
    let mut ssh = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        "case \" $* \" in *' -G '*) exec sleep 600 ;; esac; exec ssh \"$@\"".to_owned(),
        "ssh".to_owned(),
    ];
    ssh.extend(sshd.ssh_command().into_iter().skip(1));
    runs_with_sshs_own_connection(sshd, ssh, "hanging-probe");
    let hanging: Vec<_> = processes()
        .into_iter()
        .filter(|p| p.cmdline == "sleep 600" && p.state != 'Z')
        .collect();
    assert!(hanging.is_empty(), "{hanging:?}");
}

/// A pool of two slots on node1 over the ssh command `ssh`: its master
/// connects by itself (no connector), and jobs run.
fn runs_with_sshs_own_connection(sshd: &Sshd, ssh: Vec<String>, scratch: &str) {
    let mut pool = node1_pool(sshd, ssh, scratch);
    let commands = master_commands(sshd);
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert!(
        !commands[0].contains("--hearth-ssh-connect"),
        "{commands:?}"
    );
    squares(&mut pool, 20);
    pool.shutdown(Duration::from_secs(10));
}
