//! Compares hearth with tokio on the same workloads, in the same run.
//!
//! Timed workloads (each in two flavours: `local`, thread-local actors on
//! one worker against a tokio `current_thread` runtime, and `2-workers`,
//! thread-safe actors on two workers against a tokio multi-thread runtime
//! with two workers):
//!
//! - `ping-pong`: two actors send a number back and forth 1,000,000 times;
//!   tokio: two tasks and two `tokio::sync::mpsc` channels.
//!
//! (ping-pong, rpc, fan-in and spawn also run on tokio's fastest idiomatic
//! form in the same rounds: unbounded channels for messages, a `oneshot`
//! per reply; a second table compares hearth with it.)
//! - `rpc`: one actor makes 200,000 request/response calls to another with
//!   `ActorRef::rpc` (an `RpcMessage` carrying the request and its one-shot
//!   response); tokio: an mpsc channel of `(request, oneshot::Sender)`.
//! - `fan-in`: 4 senders each send 250,000 numbers to one actor, which
//!   checks count and sum; tokio: 4 tasks and one mpsc channel.
//! - `spawn`: 100,000 actors each receive one message; tokio: 100,000 tasks,
//!   each with its own mpsc channel.
//! - `skynet`: a tree of 1,000,000 leaf actors, 10 children per node;
//!   leaves send their number to their parent, parents send the sum of
//!   their children up; the root checks the sum is 499,999,500,000. tokio:
//!   the usual tasks returning their sum through `JoinHandle`s. Each run
//!   is made in a child process of its own, so neither side starts from
//!   the heap the other left behind (see `compare/skynet.rs`).
//!
//! And one workload over TCP, reported as a rate as well as a time:
//!
//! - `tcp-echo/2-workers`: 50 connections on 127.0.0.1 each make 10,000
//!   request/response round trips of 64 bytes against an echo server:
//!   hearth's `TcpServer` with a listener per worker and an actor per
//!   connection, or a tokio multi-thread runtime with a task per
//!   connection; both on two workers. The clients are plain threads with
//!   blocking sockets, the same for both servers, and they time the load
//!   (see `compare/tcp.rs`).
//! - `tcp-echo/thread-safe`: the same with hearth's `TcpServer` of
//!   thread-safe connection actors on the shared poll, against the same
//!   tokio server.
//! - `tcp-echo/one-client` and `tcp-echo/thread-safe-one-client`: the
//!   same two modes loaded by one client thread instead of two, and
//!   hearth's workers unpinned, as `examples/echo_server.rs` (thread-safe
//!   connections) runs: a load generator of one thread beside the server.
//!
//! Workloads measured in a child process (the benchmark runs itself again
//! with a private argument, one child per run, so hearth and tokio share
//! neither an allocator's history nor the process's signal dispositions;
//! see `compare/child.rs`), same two flavours:
//!
//! - `spawn-memory`: 100,000 actors (tasks) each waiting for one message;
//!   the growth of the resident memory (`VmRSS`) per actor once every one
//!   of them has started and waits, references to them included (see
//!   `compare/memory.rs`).
//! - `skynet-memory`: the peak resident memory (`VmHWM`) of a child
//!   process that ran `skynet` once, the whole process counted (see
//!   `compare/skynet.rs`).
//! - `signal-latency`: 1,000 SIGUSR1 sent to the process one at a time,
//!   each once the previous one arrived; p50 and p99 of the time from the
//!   `kill` until the subscribed actor (task) has the signal (see
//!   `compare/signals.rs`).
//! - `idle`: the CPU time the runtime's threads use over 2 s of wall time
//!   while it has one actor (task) waiting for a message with a timeout of
//!   one hour, from the moment all of them are asleep (see
//!   `compare/idle.rs`).
//!
//! Every run checks its result (count, sum, or every reply), so a broken
//! run fails the benchmark instead of measuring nothing. No run asserts
//! anything about time.
//!
//! # Method
//!
//! Each timed run builds a fresh runtime, times the workload from inside
//! it (a driver actor or task notes the start, the actor or task that sees
//! the last result notes the end; for `tcp-echo` the client threads, once
//! every connection is up) and then stops the runtime. Building and
//! stopping the runtime are not part of the time. Channels (hearth
//! inboxes and tokio mpsc) hold 64 messages, hearth's default, except in
//! `skynet` where each hearth inbox holds what the actor receives (10 for
//! nodes, 1 for leaves). tokio runtimes are built with `enable_all`, as
//! `#[tokio::main]` does; hearth runtimes with `Setup::grow_heap_ahead`,
//! as an application that spawns actors in bursts would set it up
//! (`HEARTH_BENCH_PLAIN_HEAP=1` leaves it off).
//!
//! For each workload the harness runs a number of rounds (default 5); each
//! round runs hearth and tokio once, alternating which goes first, so both
//! see the same drift in machine speed. For timed workloads it prints, per
//! side, the median, minimum and maximum time, the ratio of the medians
//! and the median of the per-round ratios (hearth/tokio: below 1 means
//! hearth is faster). Workloads with a message count (`tcp-echo`) also get
//! a table of messages (round trips) per second, whose ratio is the other
//! way round: above 1 means hearth is faster. The child-process workloads
//! get a table of their figures (bytes per actor, latency percentiles, CPU
//! time) with the same columns: medians over the rounds and ratios, lower
//! is better for every figure, so below 1 hearth does better.
//!
//! # Usage
//!
//! ```text
//! cargo bench --bench compare                       # everything
//! cargo bench --bench compare -- ping-pong skynet   # names containing any of these
//! cargo bench --bench compare -- --rounds 9
//! ```
//!
//! Run without `--bench` (as `cargo test --all-targets` does) the binary
//! only makes a smoke run: tiny sizes, one round.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    unused_results
)]

use config::{Config, median, median_f64};
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, ActorRef, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

#[path = "compare/child.rs"]
mod child;
#[path = "common/config.rs"]
mod config;
#[path = "compare/fan_in.rs"]
mod fan_in;
#[path = "compare/idle.rs"]
mod idle;
#[path = "compare/memory.rs"]
mod memory;
#[path = "compare/ping_pong.rs"]
mod ping_pong;
#[path = "compare/rpc.rs"]
mod rpc;
#[path = "compare/signals.rs"]
mod signals;
#[path = "compare/skynet.rs"]
mod skynet;
#[path = "compare/spawn.rs"]
mod spawn;
#[path = "compare/tcp.rs"]
mod tcp;

/// Outcome of one timed run: the time of the workload, or what went wrong.
type Outcome = Result<Duration, String>;

/// Outcome of one run of a child-process workload: one value per label of
/// its [`Kind::Figures`], or what went wrong.
type Figures = Result<Vec<f64>, String>;

/// Where a hearth workload reports its [`Outcome`].
type Done = mpsc::Sender<Outcome>;

/// Default number of rounds per workload.
const DEFAULT_ROUNDS: usize = 5;

/// Capacity of every channel and inbox (hearth's default inbox capacity).
const CAPACITY: usize = 64;

/// Longest a single run may take before the benchmark gives up on it.
const RUN_LIMIT: Duration = Duration::from_mins(2);

/// Number of senders in `fan-in`.
const FAN_IN_SENDERS: u64 = 4;

/// Children per node in `skynet`.
const SKYNET_CHILDREN: u64 = 10;
/// [`SKYNET_CHILDREN`] as a length.
#[allow(clippy::cast_possible_truncation)] // 10 fits.
const SKYNET_FANOUT: usize = SKYNET_CHILDREN as usize;

/// One side of a timed workload: runs it once with the given size.
type RunFn = fn(u64) -> Outcome;

/// One side of a child-process workload: runs it once with the given size.
type FiguresFn = fn(u64) -> Figures;

/// A workload: its name, its sizes and how each side runs it.
struct Workload {
    /// Name, as shown in the tables and matched by the command line filters.
    name: &'static str,
    /// Size of a benchmark run.
    size: u64,
    /// Size of a smoke run.
    smoke_size: u64,
    /// How it is measured.
    kind: Kind,
}

/// How a workload is measured, and so in which table it is shown.
enum Kind {
    /// Timed from inside the runtime: the table of times.
    Time {
        /// Messages per unit of size, for workloads also reported as
        /// messages per second.
        messages: Option<u64>,
        /// The hearth side.
        hearth: RunFn,
        /// The tokio side, as the other workloads write it (bounded
        /// channels of 64).
        tokio: RunFn,
        /// tokio's fastest idiomatic form, where it differs: unbounded
        /// channels for messages, a oneshot for each reply.
        fast: Option<RunFn>,
    },
    /// Figures reported by a child process: the table of figures.
    Figures {
        /// What each figure is, with its unit; lower is better for all.
        labels: &'static [&'static str],
        /// The hearth side.
        hearth: FiguresFn,
        /// The tokio side.
        tokio: FiguresFn,
    },
}

/// A timed workload.
const fn timed(
    name: &'static str,
    size: u64,
    smoke_size: u64,
    hearth: RunFn,
    tokio: RunFn,
) -> Workload {
    Workload {
        name,
        size,
        smoke_size,
        kind: Kind::Time {
            messages: None,
            hearth,
            tokio,
            fast: None,
        },
    }
}

/// A timed workload with tokio's fastest form as a third side.
const fn timed_fast(
    name: &'static str,
    size: u64,
    smoke_size: u64,
    hearth: RunFn,
    tokio: RunFn,
    fast: RunFn,
) -> Workload {
    Workload {
        name,
        size,
        smoke_size,
        kind: Kind::Time {
            messages: None,
            hearth,
            tokio,
            fast: Some(fast),
        },
    }
}

/// A child-process workload.
const fn figures(
    name: &'static str,
    size: u64,
    smoke_size: u64,
    labels: &'static [&'static str],
    hearth: FiguresFn,
    tokio: FiguresFn,
) -> Workload {
    Workload {
        name,
        size,
        smoke_size,
        kind: Kind::Figures {
            labels,
            hearth,
            tokio,
        },
    }
}

/// Every workload, in the order they run and are shown.
const WORKLOADS: &[Workload] = &[
    timed_fast(
        "ping-pong/local",
        1_000_000,
        1_000,
        ping_pong::hearth_local,
        ping_pong::tokio_local,
        ping_pong::fast_tokio_local,
    ),
    timed_fast(
        "ping-pong/2-workers",
        1_000_000,
        1_000,
        ping_pong::hearth_shared,
        ping_pong::tokio_shared,
        ping_pong::fast_tokio_shared,
    ),
    timed_fast(
        "rpc/local",
        200_000,
        1_000,
        rpc::hearth_local,
        rpc::tokio_local,
        rpc::fast_tokio_local,
    ),
    timed_fast(
        "rpc/2-workers",
        200_000,
        1_000,
        rpc::hearth_shared,
        rpc::tokio_shared,
        rpc::fast_tokio_shared,
    ),
    timed_fast(
        "fan-in/local",
        1_000_000,
        1_000,
        fan_in::hearth_local,
        fan_in::tokio_local,
        fan_in::fast_tokio_local,
    ),
    timed_fast(
        "fan-in/2-workers",
        1_000_000,
        1_000,
        fan_in::hearth_shared,
        fan_in::tokio_shared,
        fan_in::fast_tokio_shared,
    ),
    timed_fast(
        "spawn/local",
        100_000,
        1_000,
        spawn::hearth_local,
        spawn::tokio_local,
        spawn::fast_tokio_local,
    ),
    timed_fast(
        "spawn/2-workers",
        100_000,
        1_000,
        spawn::hearth_shared,
        spawn::tokio_shared,
        spawn::fast_tokio_shared,
    ),
    timed(
        "skynet/local",
        1_000_000,
        1_000,
        skynet::isolated_hearth_local,
        skynet::isolated_tokio_local,
    ),
    timed(
        "skynet/2-workers",
        1_000_000,
        1_000,
        skynet::isolated_hearth_shared,
        skynet::isolated_tokio_shared,
    ),
    Workload {
        name: "tcp-echo/2-workers",
        size: 10_000,
        smoke_size: 100,
        kind: Kind::Time {
            messages: Some(tcp::TCP_CONNECTIONS),
            hearth: tcp::isolated_hearth,
            tokio: tcp::isolated_tokio,
            fast: None,
        },
    },
    Workload {
        name: "tcp-echo/thread-safe",
        size: 10_000,
        smoke_size: 100,
        kind: Kind::Time {
            messages: Some(tcp::TCP_CONNECTIONS),
            hearth: tcp::isolated_hearth_thread_safe,
            tokio: tcp::isolated_tokio,
            fast: None,
        },
    },
    Workload {
        name: "tcp-echo/one-client",
        size: 10_000,
        smoke_size: 100,
        kind: Kind::Time {
            messages: Some(tcp::TCP_CONNECTIONS),
            hearth: tcp::isolated_hearth_one_client,
            tokio: tcp::isolated_tokio_one_client,
            fast: None,
        },
    },
    Workload {
        name: "tcp-echo/thread-safe-one-client",
        size: 10_000,
        smoke_size: 100,
        kind: Kind::Time {
            messages: Some(tcp::TCP_CONNECTIONS),
            hearth: tcp::isolated_hearth_thread_safe_one_client,
            tokio: tcp::isolated_tokio_one_client,
            fast: None,
        },
    },
    figures(
        "spawn-memory/local",
        100_000,
        1_000,
        memory::LABELS,
        memory::hearth_local,
        memory::tokio_local,
    ),
    figures(
        "spawn-memory/2-workers",
        100_000,
        1_000,
        memory::LABELS,
        memory::hearth_shared,
        memory::tokio_shared,
    ),
    figures(
        "skynet-memory/local",
        1_000_000,
        1_000,
        skynet::MEMORY_LABELS,
        skynet::memory_hearth_local,
        skynet::memory_tokio_local,
    ),
    figures(
        "skynet-memory/2-workers",
        1_000_000,
        1_000,
        skynet::MEMORY_LABELS,
        skynet::memory_hearth_shared,
        skynet::memory_tokio_shared,
    ),
    figures(
        "signal-latency/local",
        1_000,
        20,
        signals::LABELS,
        signals::hearth_local,
        signals::tokio_local,
    ),
    figures(
        "signal-latency/2-workers",
        1_000,
        20,
        signals::LABELS,
        signals::hearth_shared,
        signals::tokio_shared,
    ),
    figures(
        "idle/local",
        idle::INTERVAL_MS,
        idle::SMOKE_INTERVAL_MS,
        idle::LABELS,
        idle::hearth_local,
        idle::tokio_local,
    ),
    figures(
        "idle/2-workers",
        idle::INTERVAL_MS,
        idle::SMOKE_INTERVAL_MS,
        idle::LABELS,
        idle::hearth_shared,
        idle::tokio_shared,
    ),
];

/// Runs the selected workloads and prints the tables, or, with [`child::FLAG`],
/// one side of a child-process workload.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(child_args) = args.strip_prefix(&[child::FLAG.to_owned()]) {
        return child::main(child_args);
    }
    let config = match Config::from_args(args.into_iter(), DEFAULT_ROUNDS) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("compare: {err}");
            eprintln!("usage: compare [--bench] [--rounds N] [NAME_SUBSTRING ...]");
            return ExitCode::FAILURE;
        }
    };
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| config.selects(w.name))
        .collect();
    if selected.is_empty() {
        eprintln!("compare: no workload matches {:?}", config.filters);
        return ExitCode::FAILURE;
    }

    if config.bench {
        println!(
            "hearth vs tokio: {} round(s) per workload, alternating which goes first;",
            config.rounds
        );
        println!(
            "times are of the workload inside a built runtime (runtime build and shutdown excluded)."
        );
    } else {
        println!("compare: smoke run (tiny sizes, no `--bench` argument)");
    }

    let mut times = Vec::new();
    let mut figures = Vec::new();
    for workload in selected {
        let measured = match &workload.kind {
            Kind::Time {
                messages,
                hearth,
                tokio,
                fast,
            } => measure_time(workload, *messages, [*hearth, *tokio], *fast, &config)
                .map(|r| times.push(r)),
            Kind::Figures {
                labels,
                hearth,
                tokio,
            } => {
                measure_figures(workload, labels, *hearth, *tokio, &config).map(|r| figures.push(r))
            }
        };
        if let Err(err) = measured {
            eprintln!("compare: {}: {err}", workload.name);
            return ExitCode::FAILURE;
        }
    }
    print_table(&times);
    print_figures_table(&figures);
    ExitCode::SUCCESS
}

/// The size of `workload` for this run.
fn size(config: &Config, workload: &Workload) -> u64 {
    if config.bench {
        workload.size
    } else {
        workload.smoke_size
    }
}

/// The measurements of one timed workload.
struct Report {
    /// Name of the workload.
    name: &'static str,
    /// Messages per run, for workloads also reported as a rate.
    messages: Option<u64>,
    /// hearth's time in each round.
    hearth: Vec<Duration>,
    /// tokio's time in each round.
    tokio: Vec<Duration>,
    /// The time of tokio's fastest form in each round (none if it has no
    /// such form).
    fast: Vec<Duration>,
}

/// The measurements of one child-process workload.
struct FiguresReport {
    /// Name of the workload.
    name: &'static str,
    /// What each figure is.
    labels: &'static [&'static str],
    /// hearth's figures in each round.
    hearth: Vec<Vec<f64>>,
    /// tokio's figures in each round.
    tokio: Vec<Vec<f64>>,
}

/// Runs `config.rounds` rounds of one workload, hearth and tokio once each
/// per round, alternating which goes first; gives each round's results to
/// `record`.
fn alternate<T>(
    workload: &Workload,
    config: &Config,
    hearth: fn(u64) -> Result<T, String>,
    tokio: fn(u64) -> Result<T, String>,
    mut record: impl FnMut(usize, T, T),
) -> Result<(), String> {
    let size = size(config, workload);
    for round in 0..config.rounds {
        let hearth = || run_side(workload.name, "hearth", hearth, size);
        let tokio = || run_side(workload.name, "tokio", tokio, size);
        let (hearth, tokio) = if round % 2 == 0 {
            let hearth = hearth()?;
            (hearth, tokio()?)
        } else {
            let tokio = tokio()?;
            (hearth()?, tokio)
        };
        record(round, hearth, tokio);
    }
    Ok(())
}

/// Runs the rounds of one timed workload: hearth and tokio as
/// [`alternate`] does, and tokio's fastest form, if any, in the same
/// rounds, right after them.
fn measure_time(
    workload: &Workload,
    messages: Option<u64>,
    [hearth, tokio]: [RunFn; 2],
    fast: Option<RunFn>,
    config: &Config,
) -> Result<Report, String> {
    let mut report = Report {
        name: workload.name,
        messages: messages.map(|per_size| per_size * size(config, workload)),
        hearth: Vec::with_capacity(config.rounds),
        tokio: Vec::with_capacity(config.rounds),
        fast: Vec::with_capacity(config.rounds),
    };
    let mut fast_error = None;
    alternate(workload, config, hearth, tokio, |round, hearth, tokio| {
        if let Some(fast) = fast {
            match run_side(
                workload.name,
                "tokio (fastest form)",
                fast,
                size(config, workload),
            ) {
                Ok(time) => {
                    eprintln!(
                        "{:<24} round {}/{}: tokio's fastest form {:>9.2} ms, hearth/that {:>6.2}",
                        workload.name,
                        round + 1,
                        config.rounds,
                        ms(time),
                        ratio(hearth, time),
                    );
                    report.fast.push(time);
                }
                Err(err) => fast_error = Some(err),
            }
        }
        let rates = match report.messages {
            Some(messages) => format!(
                "; {:.0} vs {:.0} msg/s",
                rate(messages, hearth),
                rate(messages, tokio)
            ),
            None => String::new(),
        };
        eprintln!(
            "{:<24} round {}/{}: hearth {:>9.2} ms, tokio {:>9.2} ms, ratio {:>6.2}{rates}",
            workload.name,
            round + 1,
            config.rounds,
            ms(hearth),
            ms(tokio),
            ratio(hearth, tokio),
        );
        report.hearth.push(hearth);
        report.tokio.push(tokio);
    })?;
    match fast_error {
        Some(err) => Err(err),
        None => Ok(report),
    }
}

/// Runs the rounds of one child-process workload.
fn measure_figures(
    workload: &Workload,
    labels: &'static [&'static str],
    hearth: FiguresFn,
    tokio: FiguresFn,
    config: &Config,
) -> Result<FiguresReport, String> {
    let mut report = FiguresReport {
        name: workload.name,
        labels,
        hearth: Vec::with_capacity(config.rounds),
        tokio: Vec::with_capacity(config.rounds),
    };
    let mut wrong = None;
    alternate(workload, config, hearth, tokio, |round, hearth, tokio| {
        if hearth.len() != labels.len() || tokio.len() != labels.len() {
            wrong = Some(format!(
                "expected {} figures per side, got {} from hearth and {} from tokio",
                labels.len(),
                hearth.len(),
                tokio.len()
            ));
        }
        let line: Vec<String> = labels
            .iter()
            .zip(hearth.iter().zip(&tokio))
            .map(|(label, (h, t))| format!("{label}: hearth {h:.2}, tokio {t:.2}"))
            .collect();
        eprintln!(
            "{:<24} round {}/{}: {}",
            workload.name,
            round + 1,
            config.rounds,
            line.join("; ")
        );
        report.hearth.push(hearth);
        report.tokio.push(tokio);
    })?;
    match wrong {
        Some(err) => Err(err),
        None => Ok(report),
    }
}

/// Runs one side of a workload once. A run that hangs (a lost wake-up, an
/// actor that never reports) ends the whole benchmark after [`RUN_LIMIT`]
/// instead of blocking it forever.
fn run_side<T>(
    workload: &str,
    side: &str,
    run: fn(u64) -> Result<T, String>,
    size: u64,
) -> Result<T, String> {
    let (finished, watchdog) = mpsc::channel::<()>();
    let what = format!("{workload}: {side}");
    let _watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = watchdog.recv_timeout(RUN_LIMIT) {
            eprintln!("compare: {what}: no result after {RUN_LIMIT:?}, giving up");
            std::process::exit(2);
        }
    });
    let outcome = run(size).map_err(|err| format!("{side}: {err}"));
    drop(finished);
    outcome
}

/// Prints the table of times (and of rates, for the workloads with them).
fn print_table(reports: &[Report]) {
    if reports.is_empty() {
        return;
    }
    println!();
    println!(
        "| {:<24} | {:>12} | {:>12} | {:>12} | {:>12} | {:>19} | {:>19} |",
        "workload",
        "hearth (ms)",
        "tokio (ms)",
        "hearth/tokio",
        "round ratio",
        "hearth min-max",
        "tokio min-max",
    );
    println!(
        "|{:-<26}|{:->14}|{:->14}|{:->14}|{:->14}|{:->21}|{:->21}|",
        ":", ":", ":", ":", ":", ":", ":"
    );
    for report in reports {
        let hearth = median(&report.hearth);
        let tokio = median(&report.tokio);
        let mut ratios: Vec<f64> = report
            .hearth
            .iter()
            .zip(&report.tokio)
            .map(|(h, t)| ratio(*h, *t))
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "| {:<24} | {:>12.2} | {:>12.2} | {:>12.2} | {:>12.2} | {:>19} | {:>19} |",
            report.name,
            ms(hearth),
            ms(tokio),
            ratio(hearth, tokio),
            median_f64(&ratios),
            min_max(&report.hearth),
            min_max(&report.tokio),
        );
    }
    println!();
    println!("hearth/tokio: ratio of the medians; round ratio: median of the per-round ratios.");
    println!("Below 1 hearth is faster.");
    print_fast_table(reports);
    print_rate_table(reports);
}

/// The table of hearth against tokio's fastest form (unbounded channels,
/// oneshot replies), for the workloads that have one.
fn print_fast_table(reports: &[Report]) {
    let with_fast: Vec<&Report> = reports.iter().filter(|r| !r.fast.is_empty()).collect();
    if with_fast.is_empty() {
        return;
    }
    println!();
    println!(
        "| {:<24} | {:>12} | {:>16} | {:>14} | {:>12} | {:>14} |",
        "workload", "hearth (ms)", "tokio fast (ms)", "hearth/fast", "round ratio", "hearth rate ×",
    );
    println!(
        "|{:-<26}|{:->14}|{:->18}|{:->16}|{:->14}|{:->16}|",
        ":", ":", ":", ":", ":", ":"
    );
    for report in with_fast {
        let hearth = median(&report.hearth);
        let fast = median(&report.fast);
        let mut ratios: Vec<f64> = report
            .hearth
            .iter()
            .zip(&report.fast)
            .map(|(h, f)| ratio(*h, *f))
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "| {:<24} | {:>12.2} | {:>16.2} | {:>14.2} | {:>12.2} | {:>14.2} |",
            report.name,
            ms(hearth),
            ms(fast),
            ratio(hearth, fast),
            median_f64(&ratios),
            ratio(fast, hearth),
        );
    }
    println!();
    println!("Against tokio's fastest idiomatic form: unbounded mpsc channels for messages,");
    println!("a oneshot per reply, in the same rounds. hearth/fast below 1 and hearth rate ×");
    println!("(tokio's time over hearth's: hearth's rate as a multiple of tokio's) above 1:");
    println!("hearth is faster.");
}

/// The table of messages per second, for the workloads that count them.
fn print_rate_table(reports: &[Report]) {
    let rated: Vec<(&Report, u64)> = reports
        .iter()
        .filter_map(|report| Some((report, report.messages?)))
        .collect();
    if rated.is_empty() {
        return;
    }
    println!();
    println!(
        "| {:<24} | {:>12} | {:>14} | {:>14} | {:>12} | {:>12} |",
        "workload", "messages", "hearth msg/s", "tokio msg/s", "hearth/tokio", "round ratio",
    );
    println!(
        "|{:-<26}|{:->14}|{:->16}|{:->16}|{:->14}|{:->14}|",
        ":", ":", ":", ":", ":", ":"
    );
    for (report, messages) in rated {
        let hearth = rate(messages, median(&report.hearth));
        let tokio = rate(messages, median(&report.tokio));
        let mut ratios: Vec<f64> = report
            .hearth
            .iter()
            .zip(&report.tokio)
            .map(|(h, t)| ratio(*t, *h))
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "| {:<24} | {:>12} | {:>14.0} | {:>14.0} | {:>12.2} | {:>12.2} |",
            report.name,
            messages,
            hearth,
            tokio,
            hearth / tokio.max(f64::MIN_POSITIVE),
            median_f64(&ratios),
        );
    }
    println!();
    println!("msg/s: messages (round trips) per second at the median time; hearth/tokio: ratio");
    println!("of those rates; round ratio: median of the per-round rate ratios.");
    println!("Above 1 hearth is faster.");
}

/// The table of the child-process workloads' figures: a row per figure.
fn print_figures_table(reports: &[FiguresReport]) {
    if reports.is_empty() {
        return;
    }
    println!();
    println!(
        "| {:<24} | {:<12} | {:>12} | {:>12} | {:>12} | {:>12} | {:>19} | {:>19} |",
        "workload",
        "figure",
        "hearth",
        "tokio",
        "hearth/tokio",
        "round ratio",
        "hearth min-max",
        "tokio min-max",
    );
    println!(
        "|{:-<26}|{:-<14}|{:->14}|{:->14}|{:->14}|{:->14}|{:->21}|{:->21}|",
        ":", ":", ":", ":", ":", ":", ":", ":"
    );
    for report in reports {
        for (i, label) in report.labels.iter().enumerate() {
            let column = |rounds: &[Vec<f64>]| -> Vec<f64> {
                let mut values: Vec<f64> = rounds.iter().map(|figures| figures[i]).collect();
                values.sort_by(f64::total_cmp);
                values
            };
            let hearth = column(&report.hearth);
            let tokio = column(&report.tokio);
            let mut ratios: Vec<f64> = report
                .hearth
                .iter()
                .zip(&report.tokio)
                .filter(|(_, t)| t[i] > 0.0)
                .map(|(h, t)| h[i] / t[i])
                .collect();
            ratios.sort_by(f64::total_cmp);
            let (hearth_median, tokio_median) = (median_f64(&hearth), median_f64(&tokio));
            println!(
                "| {:<24} | {:<12} | {:>12.2} | {:>12.2} | {:>12} | {:>12} | {:>19} | {:>19} |",
                report.name,
                label,
                hearth_median,
                tokio_median,
                figure_ratio(hearth_median, tokio_median),
                if ratios.is_empty() {
                    "-".to_owned()
                } else {
                    format!("{:.2}", median_f64(&ratios))
                },
                format!("{:.2}-{:.2}", hearth[0], hearth[hearth.len() - 1]),
                format!("{:.2}-{:.2}", tokio[0], tokio[tokio.len() - 1]),
            );
        }
    }
    println!();
    println!("Medians over the rounds; hearth/tokio: ratio of the medians; round ratio: median");
    println!("of the per-round ratios. Lower is better for every figure: below 1 hearth does");
    println!("better. B/actor: resident memory growth per waiting actor (task); p50/p99: time");
    println!("from kill(SIGUSR1) until the subscribed actor (task) has the signal; CPU: CPU time");
    println!("of the runtime's threads while idle over 2 s (100 ms in a smoke run).");
}

/// `hearth / tokio` with two decimals, or `-` if tokio's figure is zero.
fn figure_ratio(hearth: f64, tokio: f64) -> String {
    if tokio > 0.0 {
        format!("{:.2}", hearth / tokio)
    } else {
        "-".to_owned()
    }
}

/// Messages per second.
#[allow(clippy::cast_precision_loss)] // Counts far below 2^53: exact as f64.
fn rate(messages: u64, time: Duration) -> f64 {
    messages as f64 / time.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// A duration in milliseconds.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// hearth's time over tokio's.
fn ratio(hearth: Duration, tokio: Duration) -> f64 {
    hearth.as_secs_f64() / tokio.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// `min-max` of durations, in milliseconds.
fn min_max(times: &[Duration]) -> String {
    let min = times.iter().min().copied().unwrap_or_default();
    let max = times.iter().max().copied().unwrap_or_default();
    format!("{:.2}-{:.2}", ms(min), ms(max))
}

/// Runs a workload on a fresh hearth runtime with `threads` workers.
/// `spawn` starts it and gives `done` to whoever reports the outcome.
fn run_hearth(threads: usize, spawn: impl FnOnce(&mut Runtime, Done)) -> Outcome {
    let mut setup = Runtime::setup().name("compare").num_threads(threads);
    // `HEARTH_BENCH_PLAIN_HEAP=1`: the allocator's own heap growth (what
    // `Setup::grow_heap_ahead` saves).
    if std::env::var_os("HEARTH_BENCH_PLAIN_HEAP").is_none() {
        setup = setup.grow_heap_ahead();
    }
    // `HEARTH_BENCH_TRACE=DIR`: trace hearth's runs (what tracing costs).
    if let Some(dir) = std::env::var_os("HEARTH_BENCH_TRACE") {
        setup = setup.trace(std::path::Path::new(&dir).join("compare.trace"));
    }
    let mut runtime = setup
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    let (done, outcome) = mpsc::channel();
    spawn(&mut runtime, done);
    runtime
        .start()
        .map_err(|err| format!("running the runtime: {err}"))?;
    outcome
        .try_recv()
        .map_err(|_| "the workload stopped without reporting a result".to_owned())?
}

/// Runs `driver` as a task on a fresh tokio `current_thread` runtime.
fn run_tokio_local<Fut>(driver: Fut) -> Outcome
where
    Fut: Future<Output = Outcome> + Send + 'static,
{
    run_tokio(&tokio_local()?, driver)
}

/// Runs `driver` as a task on a fresh tokio multi-thread runtime with two
/// workers.
fn run_tokio_shared<Fut>(driver: Fut) -> Outcome
where
    Fut: Future<Output = Outcome> + Send + 'static,
{
    run_tokio(&tokio_shared()?, driver)
}

/// A fresh tokio `current_thread` runtime (the `local` flavour).
fn tokio_local() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("building the runtime: {err}"))
}

/// A fresh tokio multi-thread runtime with two workers (the `2-workers`
/// flavour).
fn tokio_shared() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| format!("building the runtime: {err}"))
}

/// Runs `driver` as a task on `runtime` and waits for its outcome.
fn run_tokio<T, Fut>(runtime: &tokio::runtime::Runtime, driver: Fut) -> Result<T, String>
where
    T: Send + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    runtime.block_on(async move {
        tokio::spawn(driver)
            .await
            .map_err(|err| format!("driver task failed: {err}"))?
    })
}

/// Actor options with an inbox of `capacity` messages.
fn options(capacity: usize) -> ActorOptions {
    ActorOptions::default()
        .with_inbox_capacity(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN))
}

/// Sum of `0..n`.
fn sum_below(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Checks a count and a sum of the numbers `0..expected_count`.
fn check_sum(what: &str, count: u64, sum: u64, expected_count: u64) -> Result<(), String> {
    let expected_sum = sum_below(expected_count);
    if count == expected_count && sum == expected_sum {
        Ok(())
    } else {
        Err(format!(
            "{what}: got {count} numbers summing to {sum}, expected {expected_count} summing to {expected_sum}"
        ))
    }
}
