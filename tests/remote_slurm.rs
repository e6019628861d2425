//! The remote slot pool over a real Slurm, against a private cluster of
//! three nodes on this machine, each a network namespace (see
//! `util/slurm.rs` and `util/netns.rs`): the library's Slurm transport, the
//! `hearth map --slurm` command and the `remote_pool` example with
//! `--slurm`, slots spread over an allocation's nodes (one hearth made, or
//! one made elsewhere), and a node that crashes. One cluster serves every
//! test of a run and is torn down at the end.
//!
//! `harness = false`: started with `--remote-worker` this binary is the
//! worker of the library tests (its handlers below), started by `srun`;
//! otherwise it starts the cluster and runs the tests. After each test no
//! job may be left in `squeue`, and no srun, salloc or worker process
//! anywhere on the machine.
//!
//! Without Slurm (not root, packages missing) the tests are skipped,
//! unless `HEARTH_REQUIRE_SLURM=1` (as in CI), which makes that a failure.
//!
//! `cargo test --test remote_slurm -- --hold` only starts the cluster,
//! prints its `SLURM_CONF` and keeps it up until stdin closes (Ctrl+D): a
//! private Slurm to try `hearth map --slurm` on by hand.

#[path = "util/build.rs"]
mod build;
#[path = "util/gates.rs"]
mod gates;
#[path = "util/netns.rs"]
mod netns;
#[path = "util/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "util/runner.rs"]
mod runner;
#[path = "util/slurm.rs"]
mod slurm;
#[path = "util/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::{self, Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs, panic, thread};

use hearth::remote::{
    self, Handlers, Host, JobReport, Order, Pool, SlotInfo, Slurm, Target, Transport,
};

use procs::processes;
use slurm::{Cluster, TINY, TINY_CAPACITY};

/// The nodes of the test cluster.
const NODES: usize = 3;

/// How long a worker-side wait may last before the job gives up, so a
/// broken test fails instead of hanging.
const WORKER_WAIT: Duration = Duration::from_secs(30);

/// Last guard against a hanging `hearth map`.
const CLI_TIMEOUT: Duration = Duration::from_mins(2);

fn handlers() -> Handlers {
    Handlers::new()
        .add("square", |x: u64| x.checked_mul(x).ok_or("overflow"))
        // Marks `dir/<pid>`, then waits until `n` different workers have:
        // with `n` slots and `n` jobs, every slot must run before any job
        // ends. Answers the worker's pid.
        .add("rendezvous", |(dir, n): (PathBuf, usize)| {
            gates::mark(&dir)?;
            gates::wait_until(WORKER_WAIT, || gates::count_entries(&dir) >= n)
                .map_err(|()| format!("rendezvous: fewer than {n} workers after {WORKER_WAIT:?}"))?;
            Ok::<_, String>(process::id())
        })
        // Waits until the file `gate` exists, then squares.
        .add("gated", |(gate, x): (PathBuf, u64)| {
            gates::wait_until(WORKER_WAIT, || gate.exists())
                .map_err(|()| format!("gate {gate:?} still closed after {WORKER_WAIT:?}"))?;
            x.checked_mul(x).ok_or_else(|| "overflow".to_owned())
        })
}

type Test = fn(&Cluster);

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
    let required = env::var("HEARTH_REQUIRE_SLURM").is_ok_and(|v| v == "1");
    let started = Instant::now();
    let cluster = match Cluster::start(NODES) {
        Ok(cluster) => cluster,
        Err(why) if required => {
            println!(
                "test remote_slurm ... FAILED: HEARTH_REQUIRE_SLURM=1 and no private Slurm: {why}"
            );
            return ExitCode::from(101);
        }
        Err(why) => {
            println!("test remote_slurm ... skipped: {why}");
            return ExitCode::SUCCESS;
        }
    };
    println!(
        "private Slurm cluster of {NODES} nodes up in {:.2?}, SLURM_CONF={}",
        started.elapsed(),
        cluster.conf().display()
    );
    if env::args().any(|a| a == "--hold") {
        println!("export SLURM_CONF={}", cluster.conf().display());
        println!("(the cluster stays up until stdin closes)");
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        return ExitCode::SUCCESS;
    }
    let tests: &[(&str, Test)] = &[
        (
            "library_slots_report_their_node_and_job",
            library_slots_report_their_node_and_job,
        ),
        (
            "library_pending_slot_is_reported_and_its_job_cancelled",
            library_pending_slot_is_reported_and_its_job_cancelled,
        ),
        (
            "library_allocation_steps_spread_and_release",
            library_allocation_steps_spread_and_release,
        ),
        (
            "cli_1000_jobs_in_order_with_the_node",
            cli_1000_jobs_in_order_with_the_node,
        ),
        (
            "cli_killed_srun_loses_nothing",
            cli_killed_srun_loses_nothing,
        ),
        (
            "cli_silent_slot_is_declared_dead_and_its_srun_stopped",
            cli_silent_slot_is_declared_dead_and_its_srun_stopped,
        ),
        (
            "cli_no_room_the_surplus_is_reported_pending",
            cli_no_room_the_surplus_is_reported_pending,
        ),
        (
            "cli_no_room_slots_as_steps_of_one_allocation",
            cli_no_room_slots_as_steps_of_one_allocation,
        ),
        (
            "cli_allocation_steps_spread_over_the_nodes",
            cli_allocation_steps_spread_over_the_nodes,
        ),
        (
            "cli_existing_allocation_steps_spread_over_its_nodes",
            cli_existing_allocation_steps_spread_over_its_nodes,
        ),
        (
            "cli_slots_not_started_at_the_end_are_not_called_pending",
            cli_slots_not_started_at_the_end_are_not_called_pending,
        ),
        (
            "example_remote_pool_over_slurm",
            example_remote_pool_over_slurm,
        ),
        (
            "cli_crashed_node_slots_declared_dead_jobs_run_elsewhere",
            cli_crashed_node_slots_declared_dead_jobs_run_elsewhere,
        ),
    ];
    runner::run_with(tests, &cluster, leftovers, |cluster| {
        format!("; cluster logs:\n{}", cluster.log_tail(10))
    })
}

/// The `hearth` command.
fn hearth() -> &'static str {
    env!("CARGO_BIN_EXE_hearth")
}

/// The library's Slurm transport to the test cluster, with this binary as
/// the worker.
fn slurm(cluster: &Cluster) -> Slurm {
    Slurm::new(runner::exe()).env("SLURM_CONF", cluster.conf().display().to_string())
}

/// What a test left behind, after waiting up to 15 s for it to go (a
/// cancelled job stays COMPLETING for a moment; srun's helper cancels the
/// job after srun died):
///
/// - jobs in the cluster's queue;
/// - children of this process: srun, salloc or hearth processes not reaped;
/// - anywhere on the machine, processes running a worker binary of these
///   tests with `--remote-worker` (the workers, and the srun processes and
///   helpers whose command line names them), and salloc processes holding
///   an allocation for hearth.
fn leftovers(cluster: &Cluster) -> Vec<String> {
    let me = process::id();
    let daemons = cluster.daemon_pids();
    let workers = [runner::exe(), hearth().to_owned()];
    let find = || -> Vec<String> {
        let mut left: Vec<String> = cluster
            .jobs()
            .into_iter()
            .map(|j| format!("job {j}"))
            .collect();
        left.extend(
            processes()
                .into_iter()
                .filter(|p| p.pid != me && !daemons.contains(&p.pid))
                .filter(|p| {
                    p.ppid == me
                        || (p.cmdline.contains(remote::REMOTE_WORKER_FLAG)
                            && workers.iter().any(|w| p.cmdline.contains(w.as_str())))
                        || (p.comm == "salloc" && p.cmdline.contains("hearth-slurm"))
                })
                .map(|p| p.to_string()),
        );
        left
    };
    gates::poll_for(Duration::from_secs(15), || find().is_empty().then_some(()))
        .map_or_else(find, |()| Vec::new())
}

/// The slot of a report, or a panic naming the job.
fn slot_of<T: std::fmt::Debug>(index: usize, report: &JobReport<T>) -> SlotInfo {
    match &report.slot {
        Some(slot) => (**slot).clone(),
        None => panic!("job {index} has no slot: {report:?}"),
    }
}

/// Four slots, each a job of its own: they all run at once (a rendezvous),
/// every report names the node Slurm picked and its slot's job id (four
/// different jobs, each RUNNING in squeue meanwhile on the node its slot
/// reported), the metrics list the four workers; then 2,000 jobs come back
/// in order.
fn library_slots_report_their_node_and_job(cluster: &Cluster) {
    let mut pool = Pool::builder()
        .host(Host::new("slurm", 4, slurm(cluster).into()))
        .build()
        .unwrap();
    let dir = cluster.scratch("library-rendezvous");
    let mut slots = Vec::new();
    pool.run(
        &Target::Any,
        "rendezvous",
        vec![(dir, 4usize); 4],
        Order::Submission,
        |index, report: JobReport<u32>| {
            let slot = slot_of(index, &report);
            let pid = report
                .result
                .clone()
                .unwrap_or_else(|e| panic!("rendezvous {index}: {e}"));
            assert_eq!(report.host.as_deref(), Some("slurm"));
            assert_node(cluster, &slot.node, &format!("{slot:?}"));
            assert_eq!(slot.pid, pid, "{slot:?}");
            slots.push(slot);
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    let jobs: BTreeSet<String> = slots
        .iter()
        .map(|s| s.slurm_job.clone().expect("a Slurm job id"))
        .collect();
    assert_eq!(jobs.len(), 4, "{slots:#?}");
    let queue = cluster.jobs();
    for slot in &slots {
        let job = slot.slurm_job.as_deref().unwrap_or_default();
        assert!(
            queue.contains(&format!("{job} RUNNING hearth {}", slot.node)),
            "job {job} not running in squeue on {}: {queue:?}",
            slot.node
        );
    }
    let metrics = pool.metrics();
    let host = &metrics.hosts[0];
    assert_eq!((host.alive, host.pending, host.dead), (4, 0, 0), "{host:?}");
    let listed: BTreeSet<String> = host
        .workers
        .iter()
        .map(|w| w.slurm_job.clone().unwrap_or_default())
        .collect();
    assert_eq!(listed, jobs, "{:#?}", host.workers);

    let start = Instant::now();
    let out = pool
        .map::<u64, u64>(&Target::Any, "square", 0..2_000)
        .unwrap();
    for (i, result) in out.into_iter().enumerate() {
        assert_eq!(result, Ok(i as u64 * i as u64), "job {i}");
    }
    println!("  2,000 jobs over 4 Slurm slots in {:.2?}", start.elapsed());
    pool.shutdown(Duration::from_secs(10));
}

/// One slot more than the partition [`TINY`] runs: while the others hold
/// their jobs (every slot is a job that lives as long as the pool), the
/// last one stays pending; after the pending timeout (1 s here) it is
/// failed with a reason that says so, counted in the metrics, and its job
/// is cancelled, not left in the queue; the pool's work is done by the
/// others.
fn library_pending_slot_is_reported_and_its_job_cancelled(cluster: &Cluster) {
    let transport = slurm(cluster)
        .partition(TINY)
        .pending_timeout(Duration::from_secs(1));
    let mut pool = Pool::builder()
        .host(Host::new("slurm", TINY_CAPACITY + 1, transport.into()))
        .build()
        .unwrap();
    let control = pool.control();
    let gate = cluster.scratch("pending-gate").join("open");
    let inputs: Vec<(PathBuf, u64)> = (0..100).map(|x| (gate.clone(), x)).collect();
    let (out, seen) = thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            // Opens the gate when dropped, even on a panic.
            struct Gate<'a>(&'a Path);
            impl Drop for Gate<'_> {
                fn drop(&mut self) {
                    fs::write(self.0, b"").expect("opening the gate");
                }
            }
            let _gate = Gate(&gate);
            let mut pending_seen = 0;
            let failure = gates::poll_for(Duration::from_secs(30), || {
                let metrics = control.metrics();
                let host = &metrics.hosts[0];
                pending_seen = pending_seen.max(host.pending);
                host.last_failure.clone()
            });
            (failure, pending_seen)
        });
        let out = pool.map::<_, u64>(&Target::Any, "gated", inputs);
        (out, watcher.join().expect("the watcher panicked"))
    });
    let (failure, pending_seen) = seen;
    let failure = failure.expect("no slot failure within 30 s");
    assert!(
        failure.contains("did not start within 1s") && failure.contains("pending"),
        "{failure}"
    );
    assert!(pending_seen >= 1, "no slot counted as pending");
    for (i, result) in out.unwrap().into_iter().enumerate() {
        assert_eq!(result, Ok(i as u64 * i as u64), "job {i}");
    }
    // The slot with no room is not given up (pending is not dead). Under
    // load, others may have passed the pending timeout once too and be
    // starting again when the run ends, so alive may be short of the
    // capacity, never past it.
    let host = &pool.metrics().hosts[0];
    assert!(
        host.dead == 0 && host.alive > 0 && host.alive <= TINY_CAPACITY,
        "{host:?}"
    );
    pool.shutdown(Duration::from_secs(10));
}

/// The allocation mode: one salloc allocation of every node, the slots
/// `--overlap` steps of it (job ids `ALLOC.STEP`), 12 of them all running
/// at once (a rendezvous), 4 on each node; dropping the pool and the
/// handle releases the allocation.
fn library_allocation_steps_spread_and_release(cluster: &Cluster) {
    let slots = 4 * NODES;
    let transport = slurm(cluster);
    let allocation = transport.allocate([format!("-N{NODES}")]).unwrap();
    let id = allocation.id().to_owned();
    assert_eq!(allocation.nodes(), cluster.nodes());
    let queue = cluster.jobs();
    assert!(
        queue
            .iter()
            .any(|j| j.starts_with(&format!("{id} RUNNING hearth "))),
        "{queue:?}"
    );
    let transport = transport.in_allocation(&allocation);
    drop(allocation);
    let mut pool = Pool::builder()
        .host(Host::new("slurm", slots, Transport::from(transport)))
        .build()
        .unwrap();
    let dir = cluster.scratch("allocation-rendezvous");
    let mut steps = BTreeSet::new();
    let mut per_node = BTreeMap::<String, usize>::new();
    pool.run(
        &Target::Any,
        "rendezvous",
        vec![(dir, slots); slots],
        Order::Completion,
        |index, report: JobReport<u32>| {
            let slot = slot_of(index, &report);
            assert!(report.result.is_ok(), "{report:?}");
            let job = slot.slurm_job.expect("a job id");
            let (alloc, _step) = job.split_once('.').expect("ALLOC.STEP");
            assert_eq!(alloc, id);
            let _ = steps.insert(job);
            *per_node.entry(slot.node).or_default() += 1;
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(steps.len(), slots, "{steps:?}");
    assert_eq!(per_node, four_each(cluster), "{steps:?}");
    pool.shutdown(Duration::from_secs(10));
    // The last handle went with the pool: the allocation is released.
    assert_eq!(cluster.wait_queue_empty(Duration::from_secs(15)), Ok(()));
}

/// Panics unless `node` is a node of the cluster.
#[track_caller]
fn assert_node(cluster: &Cluster, node: &str, context: &str) {
    assert!(
        cluster.nodes().iter().any(|n| n == node),
        "{node:?} is not a node of the cluster {:?}: {context}",
        cluster.nodes()
    );
}

/// 4 on each node: 12 slots spread over the 3 nodes.
fn four_each(cluster: &Cluster) -> BTreeMap<String, usize> {
    cluster.nodes().iter().map(|n| (n.clone(), 4)).collect()
}

/// What a watched command did (see [`watch`]).
struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Its stdout's lines.
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Its exit status and stderr, for a failed assertion.
    fn why(&self) -> String {
        format!("{}: {}", self.status, self.stderr)
    }

    /// The `--json` records of a run of `echo` over the inputs
    /// `1..=jobs` ([`numbers`]), after checking that it succeeded and gave
    /// every output once and in input order.
    #[track_caller]
    fn json_in_order(&self, jobs: usize) -> Vec<serde_json::Value> {
        assert!(self.status.success(), "{}", self.why());
        let lines = self.lines();
        assert_eq!(lines.len(), jobs, "{}", self.stderr);
        let mut records = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let json: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {i} is not JSON ({e}): {line}"));
            assert_eq!(json["seq"], i + 1, "{line}");
            assert_eq!(json["stdout"], format!("{}\n", i + 1), "{line}");
            records.push(json);
        }
        records
    }

    /// How many slots the run said it lost, after checking that it said
    /// `why` of each.
    #[track_caller]
    fn lost_slots(&self, why: &str) -> usize {
        let lost: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.contains(" lost: "))
            .collect();
        for line in &lost {
            assert!(line.contains(why), "{}", self.stderr);
        }
        lost.len()
    }
}

/// Runs `cmd` with `input` on its stdin (written by a thread of its own),
/// its stderr collected by another, and its stdout read here line by line:
/// `on_line(n, pid)` is called after the `n`th line (from 1), with the
/// command's pid, for a test that acts on the run midway. A last guard
/// kills a run still going after [`CLI_TIMEOUT`], so that the test fails
/// instead of hanging.
fn watch(mut cmd: Command, input: &str, mut on_line: impl FnMut(usize, u32)) -> Ran {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_owned();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let guard = thread::spawn(move || {
        if done_rx.recv_timeout(CLI_TIMEOUT).is_err() {
            let _ = procs::signal(pid, libc::SIGKILL);
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut all, mut lines) = (Vec::new(), 0);
    loop {
        let start = all.len();
        match stdout.read_until(b'\n', &mut all) {
            Ok(0) | Err(_) => break,
            Ok(_) if all[start..].ends_with(b"\n") => {
                lines += 1;
                on_line(lines, pid);
            }
            Ok(_) => {}
        }
    }
    let status = child.wait().expect("waiting for the command");
    drop(done_tx);
    let _ = guard.join();
    let _ = writer.join();
    Ran {
        status,
        stdout: text(&all),
        stderr: text(&errors.join().expect("the stderr reader panicked")),
    }
}

/// `hearth map ARGS` against the cluster.
fn hearth_map_command(cluster: &Cluster, args: &[&str]) -> Command {
    let mut cmd = Command::new(hearth());
    let _ = cmd
        .arg("map")
        .args(args)
        .env("SLURM_CONF", cluster.conf())
        .env_remove("HEARTH_LOG");
    cmd
}

/// Runs `hearth map ARGS` with `inputs` on stdin against the cluster.
fn hearth_map(cluster: &Cluster, args: &[&str], inputs: &str) -> Ran {
    watch(hearth_map_command(cluster, args), inputs, |_, _| {})
}

/// Runs `hearth map ARGS` over the inputs `1..=jobs` ([`numbers`]) and,
/// once `at` lines of output came, `act(hearth's pid)`: the run, and what
/// `act` gave (`None` if the run gave fewer lines).
fn hearth_map_acting<T>(
    cluster: &Cluster,
    args: &[&str],
    jobs: usize,
    at: usize,
    act: impl FnOnce(u32) -> T,
) -> (Ran, Option<T>) {
    let mut act = Some(act);
    let mut acted = None;
    let run = watch(
        hearth_map_command(cluster, args),
        &numbers(jobs),
        |n, pid| {
            if n == at {
                acted = act.take().map(|act| act(pid));
            }
        },
    );
    (run, acted)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn numbers(n: usize) -> String {
    (1..=n).map(|i| i.to_string() + "\n").collect()
}

/// `hearth map --slurm -j 4 --tag-host -- echo {}` with 1,000 inputs:
/// every output once and in order, each tagged with the node Slurm picked
/// and the slot's job id, at most four job ids.
fn cli_1000_jobs_in_order_with_the_node(cluster: &Cluster) {
    let start = Instant::now();
    let out = hearth_map(
        cluster,
        &["--slurm", "-j", "4", "--tag-host", "--", "echo", "{}"],
        &numbers(1000),
    );
    let elapsed = start.elapsed();
    let stdout = &out.stdout;
    assert!(out.status.success(), "{}: {}", out.status, out.stderr);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1000, "{stdout}");
    let mut jobs = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let (place, value) = line.split_once('\t').unwrap_or_else(|| panic!("{line:?}"));
        assert_eq!(value, (i + 1).to_string(), "line {i}: {line:?}");
        let (node, job) = place.split_once('/').unwrap_or_else(|| panic!("{line:?}"));
        assert_node(cluster, node, line);
        assert!(job.parse::<u64>().is_ok(), "{line:?}");
        let _ = jobs.insert(job.to_owned());
    }
    assert!(jobs.len() <= 4, "{jobs:?}");
    println!("  1,000 jobs through hearth map --slurm -j 4 in {elapsed:.2?} (slot jobs {jobs:?})");
}

/// `hearth map --slurm -j 4` with 300 jobs of 20 ms; once outputs come,
/// SIGKILL one srun process (the pid alone, as a user's `kill -9` would):
/// the run still gives every output once and in order and exits 0.
fn cli_killed_srun_loses_nothing(cluster: &Cluster) {
    const JOBS: usize = 300;
    let args = ["--slurm", "-j", "4", "--json", "--", "sleep 0.02; echo {}"];
    let (run, killed) = hearth_map_acting(cluster, &args, JOBS, 20, |hearth_pid| {
        // Every slot has had time to take jobs; one srun of hearth's.
        let srun = processes()
            .into_iter()
            .find(|p| p.ppid == hearth_pid && p.comm == "srun" && p.state != 'Z')
            .expect("no srun process under hearth");
        assert!(procs::signal(srun.pid, libc::SIGKILL));
        srun.pid
    });
    assert!(killed.is_some(), "fewer than 20 outputs: {}", run.why());
    let mut retried = 0;
    for json in run.json_in_order(JOBS) {
        let node = json["node"].as_str().unwrap_or_default();
        assert_node(cluster, node, &json.to_string());
        if json["attempts"] != 1 {
            retried += 1;
        }
    }
    println!("  killed srun {killed:?}; {retried} job(s) ran again");
}

/// `hearth map --slurm -j 4 --slot-timeout 2s` with 300 jobs of 20 ms;
/// once outputs come, SIGSTOP one slot's worker and its step daemon (a
/// node that stops answering as a crashed one does: its srun alive and
/// silent, and deaf to SIGTERM, as srun cannot reach the step): the
/// liveness exchange declares that slot dead, said once on stderr, and its
/// srun is stopped (SIGTERM, then SIGKILL); its jobs run elsewhere and the
/// run gives every output once and in order and exits 0. No other slot is
/// lost while hearth waits for that srun to go (it used to wait 5 s with
/// the pool stalled, and the other slots' workers, unpinged for 2 s, ended
/// themselves). The step daemon is let go again at the end; the stopped
/// worker goes with its cancelled job.
fn cli_silent_slot_is_declared_dead_and_its_srun_stopped(cluster: &Cluster) {
    const JOBS: usize = 300;
    let args = [
        "--slurm",
        "-j",
        "4",
        "--slot-timeout",
        "2s",
        "--json",
        "--",
        "sleep 0.02; echo {}",
    ];
    let (run, stopped) = hearth_map_acting(cluster, &args, JOBS, 20, |_| {
        // A worker of this hearth's, started by a step daemon.
        let all = processes();
        let worker = all
            .iter()
            .find(|p| {
                p.cmdline == format!("{} {}", hearth(), remote::REMOTE_WORKER_FLAG)
                    && all
                        .iter()
                        .any(|d| d.pid == p.ppid && d.comm.starts_with("slurmstepd"))
            })
            .expect("no worker under a slurmstepd");
        assert!(procs::signal(worker.ppid, libc::SIGSTOP));
        assert!(procs::signal(worker.pid, libc::SIGSTOP));
        (worker.pid, worker.ppid)
    });
    let Some((stopped, stepd)) = stopped else {
        panic!("fewer than 20 outputs: {}", run.why());
    };
    // The node comes back: its step daemon ends the cancelled step and
    // kills the stopped worker; if not, it is killed here so that it
    // cannot outlive the test, which fails.
    let _ = procs::signal(stepd, libc::SIGCONT);
    let gone = gates::poll_for(Duration::from_secs(15), || {
        (!processes()
            .iter()
            .any(|p| p.pid == stopped && p.state != 'Z'))
        .then_some(())
    });
    if gone.is_none() {
        let _ = procs::signal(stopped, libc::SIGKILL);
    }
    let _ = run.json_in_order(JOBS);
    let lost = run.lost_slots("no answer for 2s (the slot timeout)");
    assert_eq!(lost, 1, "{}", run.stderr);
    assert!(
        gone.is_some(),
        "the stopped worker {stopped} outlived its slot: {}",
        run.stderr
    );
}

/// The shell command of a CLI rendezvous: marks `dir/ID` (ID from the
/// slot's Slurm environment) and waits until `n` slots did, then prints the
/// input.
fn rendezvous_command(dir: &Path, id: &str, n: usize) -> String {
    rendezvous_then(dir, id, n, "echo {}")
}

/// [`rendezvous_command`] that runs `then` (a shell command) at the end.
fn rendezvous_then(dir: &Path, id: &str, n: usize, then: &str) -> String {
    format!(
        "touch {dir}/{id}; i=0; while [ $(ls {dir} | wc -l) -lt {n} ]; do \
         i=$((i+1)); [ $i -gt 3000 ] && {{ echo rendezvous timed out >&2; exit 9; }}; \
         sleep 0.01; done; {then}",
        dir = dir.display()
    )
}

/// `-j 12` in the partition [`TINY`], which runs 4 jobs: the 4 slots
/// that run do the work (a rendezvous of 4 first), the run completes, in
/// order, and hearth says that the other 8 slots never ran because their
/// jobs were pending; their queued jobs are cancelled at the end.
fn cli_no_room_the_surplus_is_reported_pending(cluster: &Cluster) {
    let dir = cluster.scratch("cli-pending");
    let command = rendezvous_command(&dir, "$SLURM_JOB_ID", TINY_CAPACITY);
    let partition = format!("--partition={TINY}");
    let out = hearth_map(
        cluster,
        &[
            "--slurm",
            "-j",
            "12",
            "--srun-args",
            &partition,
            "--",
            &command,
        ],
        &numbers(200),
    );
    let stderr = &out.stderr;
    assert!(out.status.success(), "{}", out.why());
    assert_eq!(out.stdout, numbers(200), "{stderr}");
    assert_eq!(gates::count_entries(&dir), TINY_CAPACITY);
    assert!(
        stderr.contains(&format!(
            "host slurm: {} of 12 slots never ran: their Slurm jobs were still pending",
            12 - TINY_CAPACITY
        )),
        "{stderr}"
    );
}

/// `-j 12 --slurm-alloc` in the partition [`TINY`], which runs 4 jobs:
/// one allocation, 12 `--overlap` steps of it, all running at once (a
/// rendezvous of 12), tagged `node1/ALLOC.STEP`; the allocation is
/// released at the end.
fn cli_no_room_slots_as_steps_of_one_allocation(cluster: &Cluster) {
    let dir = cluster.scratch("cli-allocation");
    let command = rendezvous_command(&dir, "$SLURM_JOB_ID.$SLURM_STEP_ID", 12);
    let partition = format!("--partition={TINY}");
    let out = hearth_map(
        cluster,
        &[
            "--slurm",
            "-j",
            "12",
            "--slurm-alloc",
            "--salloc-args",
            &partition,
            "--tag-host",
            "--",
            &command,
        ],
        &numbers(100),
    );
    let stderr = &out.stderr;
    assert!(out.status.success(), "{}", out.why());
    assert!(!stderr.contains("pending"), "{stderr}");
    let lines = out.lines();
    assert_eq!(lines.len(), 100, "{}", out.stdout);
    let mut allocations = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let (place, value) = line.split_once('\t').unwrap_or_else(|| panic!("{line:?}"));
        assert_eq!(value, (i + 1).to_string(), "{line:?}");
        let job = place
            .strip_prefix(&format!("{}/", cluster.nodes()[0]))
            .unwrap_or_else(|| panic!("{line:?}"));
        let (alloc, _step) = job.split_once('.').unwrap_or_else(|| panic!("{line:?}"));
        let _ = allocations.insert(alloc.to_owned());
    }
    assert_eq!(allocations.len(), 1, "{allocations:?}");
    assert_eq!(gates::count_entries(&dir), 12);
}

/// The `remote_pool` example (actors submitting jobs to a runtime's pool)
/// with `--slurm`: 2,000 jobs over 4 Slurm slots, each output checked by
/// the example; it prints where each slot ran.
fn example_remote_pool_over_slurm(cluster: &Cluster) {
    let mut cmd = Command::new(build::example("remote_pool"));
    let _ = cmd
        .args(["--slurm", "--jobs", "2000", "--slots", "4"])
        .env("SLURM_CONF", cluster.conf())
        .env_remove("HEARTH_LOG");
    let run = watch(cmd, "", |_, _| {});
    let stdout = &run.stdout;
    assert!(run.status.success(), "{stdout}\n{}", run.why());
    assert!(
        stdout.contains("done=2000 failed=0 cancelled=0"),
        "{stdout}\n{}",
        run.stderr
    );
    assert!(stdout.contains("host=slurm slots=4 jobs=2000"), "{stdout}");
    let workers = stdout
        .lines()
        .filter(|l| l.starts_with("  slot=slurm:"))
        .inspect(|l| {
            let node = l.split_once(" node=").map_or("", |(_, rest)| {
                rest.split_whitespace().next().unwrap_or_default()
            });
            assert_node(cluster, node, l);
        })
        .count();
    assert!((1..=4).contains(&workers), "{stdout}");
}

/// `--slurm-alloc --salloc-args -N3 -j 12` on three nodes: the 12 slots,
/// all running at once (a rendezvous of 12), are 4 on each node (unnamed,
/// the steps went 10/1/1).
fn cli_allocation_steps_spread_over_the_nodes(cluster: &Cluster) {
    let dir = cluster.scratch("nodes-spread");
    let command = rendezvous_command(&dir, "$SLURM_JOB_ID.$SLURM_STEP_ID", 12);
    let out = hearth_map(
        cluster,
        &[
            "--slurm",
            "-j",
            "12",
            "--slurm-alloc",
            "--salloc-args",
            "-N3",
            "--tag-host",
            "--",
            &command,
        ],
        &numbers(12),
    );
    let stderr = &out.stderr;
    assert!(out.status.success(), "{}: {stderr}", out.status);
    let stdout = &out.stdout;
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for (i, line) in stdout.lines().enumerate() {
        let (place, value) = line.split_once('\t').unwrap_or_else(|| panic!("{line:?}"));
        assert_eq!(value, (i + 1).to_string(), "{line:?}");
        let (node, _job) = place.split_once('/').unwrap_or_else(|| panic!("{line:?}"));
        *per_node.entry(node.to_owned()).or_default() += 1;
    }
    assert_eq!(gates::count_entries(&dir), 12, "{stderr}");
    let expected: BTreeMap<String, usize> =
        cluster.nodes().iter().map(|n| (n.clone(), 4)).collect();
    assert_eq!(per_node, expected, "{stdout}{stderr}");
}

/// `--slurm-jobid ID` of an allocation of the three nodes made elsewhere
/// (`salloc --no-shell -N3`), `-j 12`: the 12 slots' steps, all running
/// at once (a rendezvous of 12), each print their host: 4 on each node.
/// hearth does not release an allocation it did not make: it still runs
/// after the run (and is cancelled here). An unknown job id is a clear
/// error before any slot starts (it used to be four slots dead after five
/// tries each, on srun's "Expired or invalid job").
fn cli_existing_allocation_steps_spread_over_its_nodes(cluster: &Cluster) {
    let held = cluster
        .hold_allocation(&[&format!("-N{NODES}")])
        .unwrap_or_else(|why| panic!("no allocation: {why}"));
    let dir = cluster.scratch("existing-allocation");
    let command = rendezvous_then(&dir, "$SLURM_JOB_ID.$SLURM_STEP_ID", 12, "hostname; : {}");
    let out = hearth_map(
        cluster,
        &[
            "--slurm",
            "--slurm-jobid",
            held.id(),
            "-j",
            "12",
            "--",
            &command,
        ],
        &numbers(12),
    );
    assert!(out.status.success(), "{}", out.why());
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for host in out.lines() {
        *per_node.entry(host.to_owned()).or_default() += 1;
    }
    assert_eq!(gates::count_entries(&dir), 12, "{}", out.stderr);
    assert_eq!(per_node, four_each(cluster), "{}{}", out.stdout, out.stderr);
    let queue = cluster.jobs();
    assert!(
        queue
            .iter()
            .any(|j| j.starts_with(&format!("{} RUNNING ", held.id()))),
        "hearth released an allocation it did not make: {queue:?}"
    );
    drop(held);

    let out = hearth_map(
        cluster,
        &["--slurm", "--slurm-jobid", "999999", "--", "echo", "{}"],
        "1\n",
    );
    // hearth's own error, as a bad option's.
    assert_eq!(out.status.code(), Some(255), "{}", out.why());
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("--slurm-jobid 999999")
            && out.stderr.contains("Invalid job id specified"),
        "{}",
        out.stderr
    );
}

/// A short run of 12 slots in an allocation of three nodes (3 inputs of
/// `echo`): the slots whose steps had not started when the run ended are
/// not said to have waited for room in the cluster (srun never said they
/// were queued); the run succeeds. Whether any slot is still starting at
/// the end depends on timing: when one is, it is said so.
fn cli_slots_not_started_at_the_end_are_not_called_pending(cluster: &Cluster) {
    let out = hearth_map(
        cluster,
        &[
            "--slurm",
            "-j",
            "12",
            "--slurm-alloc",
            "--salloc-args",
            "-N3",
            "--",
            "echo",
            "{}",
        ],
        &numbers(3),
    );
    let stderr = &out.stderr;
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert_eq!(out.stdout, numbers(3), "{stderr}");
    assert!(!stderr.contains("no room"), "{stderr}");
    assert!(!stderr.contains("pending"), "{stderr}");
    let starting: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("slots never ran"))
        .collect();
    for line in &starting {
        assert!(
            line.contains("the run ended before their Slurm jobs started"),
            "{stderr}"
        );
    }
    println!("  {starting:?}");
}

/// `--slurm-alloc --salloc-args -N3 -j 6 --slot-timeout 3s` with 300 jobs
/// of 50 ms; once outputs come, node3 crashes (every process in its
/// namespace killed: its sruns stay, alive and silent): its two slots are
/// declared dead by the liveness exchange, said once each on stderr, their
/// sruns stopped; their jobs run on the other nodes and the run gives
/// every output once and in order and exits 0. Then node3 comes back for
/// the tests after this one, and nothing is left of the run.
fn cli_crashed_node_slots_declared_dead_jobs_run_elsewhere(cluster: &Cluster) {
    const JOBS: usize = 300;
    let args = [
        "--slurm",
        "-j",
        "6",
        "--slurm-alloc",
        "--salloc-args",
        "-N3",
        "--slot-timeout",
        "3s",
        "--json",
        "--",
        "sleep 0.05; echo {}",
    ];
    let (run, crashed) = hearth_map_acting(cluster, &args, JOBS, 30, |_| cluster.crash_node(2));
    let restarted = cluster.restart_node(2);
    assert!(crashed.is_some(), "fewer than 30 outputs: {}", run.why());
    let nodes: BTreeSet<String> = run
        .json_in_order(JOBS)
        .iter()
        .map(|json| json["node"].as_str().unwrap_or("?").to_owned())
        .collect();
    assert_eq!(
        nodes.len(),
        3,
        "every node ran jobs before the crash: {nodes:?}"
    );
    let lost = run.lost_slots("no answer for 3s (the slot timeout)");
    assert_eq!(lost, 2, "{}", run.stderr);
    restarted.unwrap_or_else(|why| panic!("node3 did not come back: {why}"));
}
