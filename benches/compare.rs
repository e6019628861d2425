//! Compares hearth with tokio on the same workloads, in the same run.
//!
//! Workloads (each in two flavours: `local`, thread-local actors on one
//! worker against a tokio `current_thread` runtime, and `2-workers`,
//! thread-safe actors on two workers against a tokio multi-thread runtime
//! with two workers):
//!
//! - `ping-pong`: two actors send a number back and forth 1,000,000 times;
//!   tokio: two tasks and two `tokio::sync::mpsc` channels.
//! - `fan-in`: 4 senders each send 250,000 numbers to one actor, which
//!   checks count and sum; tokio: 4 tasks and one mpsc channel.
//! - `spawn`: 100,000 actors each receive one message; tokio: 100,000 tasks,
//!   each with its own mpsc channel.
//! - `skynet`: a tree of 1,000,000 leaf actors, 10 children per node;
//!   leaves send their number to their parent, parents send the sum of
//!   their children up; the root checks the sum is 499,999,500,000. tokio:
//!   the usual tasks returning their sum through `JoinHandle`s.
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
//!
//! Every run checks its result (count, sum, or every reply), so a broken
//! run fails the benchmark instead of measuring nothing. No run asserts
//! anything about time.
//!
//! # Method
//!
//! Each run builds a fresh runtime, times the workload from inside it (a
//! driver actor or task notes the start, the actor or task that sees the
//! last result notes the end; for `tcp-echo` the client threads, once
//! every connection is up) and then stops the runtime. Building and
//! stopping the runtime are not part of the time. Channels (hearth
//! inboxes and tokio mpsc) hold 64 messages, hearth's default, except in
//! `skynet` where each hearth inbox holds what the actor receives (10 for
//! nodes, 1 for leaves). tokio runtimes are built with `enable_all`, as
//! `#[tokio::main]` does.
//!
//! For each workload the harness runs a number of rounds (default 5); each
//! round runs hearth and tokio once, alternating which goes first, so both
//! see the same drift in machine speed. It prints, per side, the median,
//! minimum and maximum time, the ratio of the medians and the median of
//! the per-round ratios (hearth/tokio: below 1 means hearth is faster).
//! Workloads with a message count (`tcp-echo`) also get a table of
//! messages (round trips) per second, whose ratio is the other way round:
//! above 1 means hearth is faster.
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

#[path = "compare/tcp.rs"]
mod tcp;

/// Outcome of one run: the time of the workload, or what went wrong.
type Outcome = Result<Duration, String>;

/// Where a hearth workload reports its [`Outcome`].
type Done = mpsc::Sender<Outcome>;

/// Default number of rounds per workload.
const DEFAULT_ROUNDS: usize = 5;

/// Capacity of every channel and inbox (hearth's default inbox capacity).
const CAPACITY: usize = 64;

/// Longest a single run may take before the benchmark gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Number of senders in `fan-in`.
const FAN_IN_SENDERS: u64 = 4;

/// Children per node in `skynet`.
const SKYNET_CHILDREN: u64 = 10;

/// One side of a workload: runs it once with the given size.
type RunFn = fn(u64) -> Outcome;

struct Workload {
    name: &'static str,
    /// Size of a benchmark run.
    size: u64,
    /// Size of a smoke run.
    smoke_size: u64,
    /// Messages per unit of size, for workloads also reported as
    /// messages per second.
    messages: Option<u64>,
    hearth: RunFn,
    tokio: RunFn,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "ping-pong/local",
        size: 1_000_000,
        smoke_size: 1_000,
        messages: None,
        hearth: ping_pong::hearth_local,
        tokio: ping_pong::tokio_local,
    },
    Workload {
        name: "ping-pong/2-workers",
        size: 1_000_000,
        smoke_size: 1_000,
        messages: None,
        hearth: ping_pong::hearth_shared,
        tokio: ping_pong::tokio_shared,
    },
    Workload {
        name: "fan-in/local",
        size: 1_000_000,
        smoke_size: 1_000,
        messages: None,
        hearth: fan_in::hearth_local,
        tokio: fan_in::tokio_local,
    },
    Workload {
        name: "fan-in/2-workers",
        size: 1_000_000,
        smoke_size: 1_000,
        messages: None,
        hearth: fan_in::hearth_shared,
        tokio: fan_in::tokio_shared,
    },
    Workload {
        name: "spawn/local",
        size: 100_000,
        smoke_size: 1_000,
        messages: None,
        hearth: spawn::hearth_local,
        tokio: spawn::tokio_local,
    },
    Workload {
        name: "spawn/2-workers",
        size: 100_000,
        smoke_size: 1_000,
        messages: None,
        hearth: spawn::hearth_shared,
        tokio: spawn::tokio_shared,
    },
    Workload {
        name: "skynet/local",
        size: 1_000_000,
        smoke_size: 1_000,
        messages: None,
        hearth: skynet::hearth_local,
        tokio: skynet::tokio_local,
    },
    Workload {
        name: "skynet/2-workers",
        size: 1_000_000,
        smoke_size: 1_000,
        messages: None,
        hearth: skynet::hearth_shared,
        tokio: skynet::tokio_shared,
    },
    Workload {
        name: "tcp-echo/2-workers",
        size: 10_000,
        smoke_size: 100,
        messages: Some(tcp::TCP_CONNECTIONS),
        hearth: tcp::hearth,
        tokio: tcp::tokio,
    },
];

fn main() -> ExitCode {
    let config = match Config::from_args(std::env::args().skip(1)) {
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

    let mut reports = Vec::with_capacity(selected.len());
    for workload in selected {
        match measure(workload, &config) {
            Ok(report) => reports.push(report),
            Err(err) => {
                eprintln!("compare: {}: {err}", workload.name);
                return ExitCode::FAILURE;
            }
        }
    }
    print_table(&reports);
    ExitCode::SUCCESS
}

/// Command line settings.
struct Config {
    /// True when started by `cargo bench` (full sizes), false for a smoke run.
    bench: bool,
    rounds: usize,
    filters: Vec<String>,
}

impl Config {
    fn from_args(args: impl Iterator<Item = String>) -> Result<Config, String> {
        let mut bench = false;
        let mut rounds = None;
        let mut filters = Vec::new();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => bench = true,
                "--rounds" => {
                    let value = args.next().ok_or("`--rounds` needs a value")?;
                    let n = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("invalid number of rounds: {value:?}"))?;
                    rounds = Some(n);
                }
                _ if arg.starts_with("--rounds=") => {
                    let value = &arg["--rounds=".len()..];
                    let n = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("invalid number of rounds: {value:?}"))?;
                    rounds = Some(n);
                }
                // Other flags, e.g. from `cargo test -- --nocapture`.
                _ if arg.starts_with('-') => {}
                _ => filters.push(arg),
            }
        }
        let rounds = rounds.unwrap_or(if bench { DEFAULT_ROUNDS } else { 1 });
        Ok(Config {
            bench,
            rounds,
            filters,
        })
    }

    fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// The measurements of one workload.
struct Report {
    name: &'static str,
    /// Messages per run, for workloads also reported as a rate.
    messages: Option<u64>,
    hearth: Vec<Duration>,
    tokio: Vec<Duration>,
}

/// Runs the rounds of one workload.
fn measure(workload: &Workload, config: &Config) -> Result<Report, String> {
    let size = if config.bench {
        workload.size
    } else {
        workload.smoke_size
    };
    let mut report = Report {
        name: workload.name,
        messages: workload.messages.map(|per_size| per_size * size),
        hearth: Vec::with_capacity(config.rounds),
        tokio: Vec::with_capacity(config.rounds),
    };
    for round in 0..config.rounds {
        let hearth = || run_side(workload.name, "hearth", workload.hearth, size);
        let tokio = || run_side(workload.name, "tokio", workload.tokio, size);
        let (hearth, tokio) = if round % 2 == 0 {
            let hearth = hearth()?;
            (hearth, tokio()?)
        } else {
            let tokio = tokio()?;
            (hearth()?, tokio)
        };
        let rates = match report.messages {
            Some(messages) => format!(
                "; {:.0} vs {:.0} msg/s",
                rate(messages, hearth),
                rate(messages, tokio)
            ),
            None => String::new(),
        };
        eprintln!(
            "{:<20} round {}/{}: hearth {:>9.2} ms, tokio {:>9.2} ms, ratio {:>6.2}{rates}",
            workload.name,
            round + 1,
            config.rounds,
            ms(hearth),
            ms(tokio),
            ratio(hearth, tokio),
        );
        report.hearth.push(hearth);
        report.tokio.push(tokio);
    }
    Ok(report)
}

/// Runs one side of a workload once. A run that hangs (a lost wake-up, an
/// actor that never reports) ends the whole benchmark after [`RUN_LIMIT`]
/// instead of blocking it forever.
fn run_side(workload: &str, side: &str, run: RunFn, size: u64) -> Result<Duration, String> {
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

fn print_table(reports: &[Report]) {
    println!();
    println!(
        "| {:<20} | {:>12} | {:>12} | {:>12} | {:>12} | {:>19} | {:>19} |",
        "workload",
        "hearth (ms)",
        "tokio (ms)",
        "hearth/tokio",
        "round ratio",
        "hearth min-max",
        "tokio min-max",
    );
    println!(
        "|{:-<22}|{:->14}|{:->14}|{:->14}|{:->14}|{:->21}|{:->21}|",
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
            "| {:<20} | {:>12.2} | {:>12.2} | {:>12.2} | {:>12.2} | {:>19} | {:>19} |",
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
    print_rate_table(reports);
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
        "| {:<20} | {:>12} | {:>14} | {:>14} | {:>12} | {:>12} |",
        "workload", "messages", "hearth msg/s", "tokio msg/s", "hearth/tokio", "round ratio",
    );
    println!(
        "|{:-<22}|{:->14}|{:->16}|{:->16}|{:->14}|{:->14}|",
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
            "| {:<20} | {:>12} | {:>14.0} | {:>14.0} | {:>12.2} | {:>12.2} |",
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

/// Messages per second.
fn rate(messages: u64, time: Duration) -> f64 {
    messages as f64 / time.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(hearth: Duration, tokio: Duration) -> f64 {
    hearth.as_secs_f64() / tokio.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn median(times: &[Duration]) -> Duration {
    let mut times = times.to_vec();
    times.sort();
    let mid = times.len() / 2;
    if times.len() % 2 == 1 {
        times[mid]
    } else {
        (times[mid - 1] + times[mid]) / 2
    }
}

/// Median of sorted values.
fn median_f64(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn min_max(times: &[Duration]) -> String {
    let min = times.iter().min().copied().unwrap_or_default();
    let max = times.iter().max().copied().unwrap_or_default();
    format!("{:.2}-{:.2}", ms(min), ms(max))
}

/// Runs a workload on a fresh hearth runtime with `threads` workers.
/// `spawn` starts it and gives `done` to whoever reports the outcome.
fn run_hearth(threads: usize, spawn: impl FnOnce(&mut Runtime, Done)) -> Outcome {
    let mut runtime = Runtime::setup()
        .name("compare")
        .num_threads(threads)
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    run_tokio(&runtime, driver)
}

/// Runs `driver` as a task on a fresh tokio multi-thread runtime with two
/// workers.
fn run_tokio_shared<Fut>(driver: Fut) -> Outcome
where
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| format!("building the runtime: {err}"))?;
    run_tokio(&runtime, driver)
}

fn run_tokio<Fut>(runtime: &tokio::runtime::Runtime, driver: Fut) -> Outcome
where
    Fut: Future<Output = Outcome> + Send + 'static,
{
    runtime.block_on(async move {
        tokio::spawn(driver)
            .await
            .map_err(|err| format!("driver task failed: {err}"))?
    })
}

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

/// Two actors (tasks) sending a number back and forth; the reply is the
/// number plus one, and every reply is checked.
mod ping_pong {
    use super::*;

    pub(super) fn hearth_local(n: u64) -> Outcome {
        run_hearth(1, |runtime, done| {
            runtime.run_on_workers(move |mut rt: RuntimeRef| {
                let _ = rt.spawn_local(
                    NoSupervisor,
                    actor_fn(ping_local),
                    (n, done),
                    options(CAPACITY),
                );
                Ok::<(), String>(())
            });
        })
    }

    pub(super) fn hearth_shared(n: u64) -> Outcome {
        run_hearth(2, |runtime, done| {
            let _ = runtime.spawn(
                NoSupervisor,
                actor_fn(ping_shared),
                (n, done),
                options(CAPACITY),
            );
        })
    }

    async fn ping_local(mut ctx: Context<u64, ThreadLocal>, (n, done): (u64, Done)) {
        let start = Instant::now();
        let me = ctx.actor_ref();
        let pong = ctx
            .runtime()
            .spawn_local(NoSupervisor, actor_fn(pong), me, options(CAPACITY));
        let outcome = rounds(&mut ctx, &pong, n).await.map(|()| start.elapsed());
        let _ = done.send(outcome);
    }

    async fn ping_shared(mut ctx: Context<u64, ThreadSafe>, (n, done): (u64, Done)) {
        let start = Instant::now();
        let me = ctx.actor_ref();
        let pong = ctx
            .runtime()
            .spawn(NoSupervisor, actor_fn(pong), me, options(CAPACITY));
        let outcome = rounds(&mut ctx, &pong, n).await.map(|()| start.elapsed());
        let _ = done.send(outcome);
    }

    async fn rounds<RT>(
        ctx: &mut Context<u64, RT>,
        pong: &ActorRef<u64>,
        n: u64,
    ) -> Result<(), String> {
        for i in 0..n {
            pong.send(i)
                .await
                .map_err(|err| format!("ping round {i}: {err}"))?;
            let reply = ctx
                .receive_next()
                .await
                .map_err(|err| format!("ping round {i}: {err}"))?;
            if reply != i + 1 {
                return Err(format!("ping round {i}: got reply {reply}"));
            }
        }
        Ok(())
    }

    async fn pong<RT>(mut ctx: Context<u64, RT>, ping: ActorRef<u64>) {
        while let Ok(n) = ctx.receive_next().await {
            if ping.send(n + 1).await.is_err() {
                return;
            }
        }
    }

    pub(super) fn tokio_local(n: u64) -> Outcome {
        run_tokio_local(tokio_ping(n))
    }

    pub(super) fn tokio_shared(n: u64) -> Outcome {
        run_tokio_shared(tokio_ping(n))
    }

    async fn tokio_ping(n: u64) -> Outcome {
        use tokio::sync::mpsc;

        let start = Instant::now();
        let (to_pong, mut pong_inbox) = mpsc::channel::<u64>(CAPACITY);
        let (to_ping, mut ping_inbox) = mpsc::channel::<u64>(CAPACITY);
        let _pong = tokio::spawn(async move {
            while let Some(n) = pong_inbox.recv().await {
                if to_ping.send(n + 1).await.is_err() {
                    return;
                }
            }
        });
        for i in 0..n {
            to_pong
                .send(i)
                .await
                .map_err(|err| format!("ping round {i}: {err}"))?;
            let reply = ping_inbox
                .recv()
                .await
                .ok_or_else(|| format!("ping round {i}: pong stopped"))?;
            if reply != i + 1 {
                return Err(format!("ping round {i}: got reply {reply}"));
            }
        }
        Ok(start.elapsed())
    }
}

/// Four senders, one receiver checking count and sum.
mod fan_in {
    use super::*;

    /// The numbers sender `sender` sends: its share of `0..n`.
    fn share(sender: u64, n: u64) -> std::ops::Range<u64> {
        let per = n / FAN_IN_SENDERS;
        let start = sender * per;
        let end = if sender == FAN_IN_SENDERS - 1 {
            n
        } else {
            start + per
        };
        start..end
    }

    pub(super) fn hearth_local(n: u64) -> Outcome {
        run_hearth(1, |runtime, done| {
            runtime.run_on_workers(move |mut rt: RuntimeRef| {
                let mut spawner = rt.clone();
                rt.spawn_local_future(async move {
                    let start = Instant::now();
                    let sink = spawner.spawn_local(
                        NoSupervisor,
                        actor_fn(sink),
                        (n, start, done),
                        options(CAPACITY),
                    );
                    for sender in 0..FAN_IN_SENDERS {
                        spawner.spawn_local_future(send_share(sink.clone(), share(sender, n)));
                    }
                });
                Ok::<(), String>(())
            });
        })
    }

    pub(super) fn hearth_shared(n: u64) -> Outcome {
        run_hearth(2, |runtime, done| {
            let spawner = runtime.thread_safe();
            runtime.spawn_future(async move {
                let start = Instant::now();
                let sink = spawner.spawn(
                    NoSupervisor,
                    actor_fn(sink),
                    (n, start, done),
                    options(CAPACITY),
                );
                for sender in 0..FAN_IN_SENDERS {
                    spawner.spawn_future(send_share(sink.clone(), share(sender, n)));
                }
            });
        })
    }

    async fn send_share(sink: ActorRef<u64>, numbers: std::ops::Range<u64>) {
        for i in numbers {
            if sink.send(i).await.is_err() {
                // The sink checks the count.
                return;
            }
        }
    }

    async fn sink<RT>(mut ctx: Context<u64, RT>, (n, start, done): (u64, Instant, Done)) {
        let mut count = 0;
        let mut sum = 0u64;
        while let Ok(i) = ctx.receive_next().await {
            count += 1;
            sum = sum.wrapping_add(i);
        }
        let elapsed = start.elapsed();
        let _ = done.send(check_sum("sink", count, sum, n).map(|()| elapsed));
    }

    pub(super) fn tokio_local(n: u64) -> Outcome {
        run_tokio_local(tokio_fan_in(n))
    }

    pub(super) fn tokio_shared(n: u64) -> Outcome {
        run_tokio_shared(tokio_fan_in(n))
    }

    async fn tokio_fan_in(n: u64) -> Outcome {
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
        for sender in 0..FAN_IN_SENDERS {
            let tx = tx.clone();
            let numbers = share(sender, n);
            let _sender = tokio::spawn(async move {
                for i in numbers {
                    if tx.send(i).await.is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut count = 0;
        let mut sum = 0u64;
        while let Some(i) = rx.recv().await {
            count += 1;
            sum = sum.wrapping_add(i);
        }
        let elapsed = start.elapsed();
        check_sum("sink", count, sum, n).map(|()| elapsed)
    }
}

/// Many short-lived actors, each receiving one message.
mod spawn {
    use super::*;

    /// What the spawned actors (tasks) report to: the last one to finish
    /// checks the result and reports the time.
    struct Tally {
        n: u64,
        start: Instant,
        count: AtomicU64,
        sum: AtomicU64,
    }

    impl Tally {
        fn new(n: u64) -> Arc<Tally> {
            Arc::new(Tally {
                n,
                start: Instant::now(),
                count: AtomicU64::new(0),
                sum: AtomicU64::new(0),
            })
        }

        /// Adds `i`; returns the outcome once all `n` numbers are in.
        fn add(&self, i: u64) -> Option<Outcome> {
            let _ = self.sum.fetch_add(i, Ordering::Relaxed);
            // Release: publishes the `sum` above; acquire: the last `add`
            // sees every other `add`'s `sum` (one release sequence on `count`).
            let count = self.count.fetch_add(1, Ordering::AcqRel) + 1;
            if count < self.n {
                return None;
            }
            let elapsed = self.start.elapsed();
            let sum = self.sum.load(Ordering::Relaxed);
            Some(check_sum("spawned actors", count, sum, self.n).map(|()| elapsed))
        }
    }

    pub(super) fn hearth_local(n: u64) -> Outcome {
        run_hearth(1, |runtime, done| {
            runtime.run_on_workers(move |mut rt: RuntimeRef| {
                let mut spawner = rt.clone();
                rt.spawn_local_future(async move {
                    let tally = Tally::new(n);
                    for i in 0..n {
                        let actor_ref = spawner.spawn_local(
                            NoSupervisor,
                            actor_fn(receive_one),
                            (tally.clone(), done.clone()),
                            options(CAPACITY),
                        );
                        if let Err(err) = actor_ref.send(i).await {
                            let _ = done.send(Err(format!("sending to actor {i}: {err}")));
                            return;
                        }
                    }
                });
                Ok::<(), String>(())
            });
        })
    }

    pub(super) fn hearth_shared(n: u64) -> Outcome {
        run_hearth(2, |runtime, done| {
            let spawner = runtime.thread_safe();
            runtime.spawn_future(async move {
                let tally = Tally::new(n);
                for i in 0..n {
                    let actor_ref = spawner.spawn(
                        NoSupervisor,
                        actor_fn(receive_one),
                        (tally.clone(), done.clone()),
                        options(CAPACITY),
                    );
                    if let Err(err) = actor_ref.send(i).await {
                        let _ = done.send(Err(format!("sending to actor {i}: {err}")));
                        return;
                    }
                }
            });
        })
    }

    async fn receive_one<RT>(mut ctx: Context<u64, RT>, (tally, done): (Arc<Tally>, Done)) {
        let outcome = match ctx.receive_next().await {
            Ok(i) => tally.add(i),
            Err(err) => Some(Err(format!("spawned actor: {err}"))),
        };
        if let Some(outcome) = outcome {
            let _ = done.send(outcome);
        }
    }

    pub(super) fn tokio_local(n: u64) -> Outcome {
        run_tokio_local(tokio_spawn(n))
    }

    pub(super) fn tokio_shared(n: u64) -> Outcome {
        run_tokio_shared(tokio_spawn(n))
    }

    async fn tokio_spawn(n: u64) -> Outcome {
        let tally = Tally::new(n);
        let (done, outcome) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..n {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(CAPACITY);
            let tally = tally.clone();
            let done = done.clone();
            let _task = tokio::spawn(async move {
                let outcome = match rx.recv().await {
                    Some(i) => tally.add(i),
                    None => Some(Err("spawned task: channel closed".to_owned())),
                };
                if let Some(outcome) = outcome {
                    let _ = done.send(outcome);
                }
            });
            tx.send(i)
                .await
                .map_err(|err| format!("sending to task {i}: {err}"))?;
        }
        drop(done);
        let mut outcome = outcome;
        outcome
            .recv()
            .await
            .ok_or_else(|| "the tasks stopped without reporting a result".to_owned())?
    }
}

/// The skynet tree: 10 children per node, leaves hold the numbers
/// `0..size`.
mod skynet {
    use super::*;

    /// Where a node sends its sum.
    enum Parent {
        Node(ActorRef<u64>),
        Root {
            start: Instant,
            size: u64,
            done: Done,
        },
    }

    impl Parent {
        async fn deliver(self, sum: u64) {
            match self {
                Parent::Node(parent) => {
                    // A parent that stopped never reports to the root, which
                    // then reports no result: the run fails.
                    let _ = parent.send(sum).await;
                }
                Parent::Root { start, size, done } => {
                    let elapsed = start.elapsed();
                    let expected = sum_below(size);
                    let outcome = if sum == expected {
                        Ok(elapsed)
                    } else {
                        Err(format!("skynet sum is {sum}, expected {expected}"))
                    };
                    let _ = done.send(outcome);
                }
            }
        }
    }

    /// A node of the tree: the first leaf's number, the number of leaves
    /// below it and where its sum goes.
    struct Node {
        num: u64,
        size: u64,
        parent: Parent,
    }

    impl Node {
        /// The argument and inbox options of child `i` of this node.
        fn child(&self, i: u64, me: ActorRef<u64>) -> (Node, ActorOptions) {
            let size = self.size / SKYNET_CHILDREN;
            let node = Node {
                num: self.num + i * size,
                size,
                parent: Parent::Node(me),
            };
            // Nodes receive one message per child, leaves none.
            let capacity = if size == 1 {
                1
            } else {
                SKYNET_CHILDREN as usize
            };
            (node, options(capacity))
        }
    }

    fn check_size(size: u64) -> Result<(), String> {
        let mut s = size;
        while s > 1 && s.is_multiple_of(SKYNET_CHILDREN) {
            s /= SKYNET_CHILDREN;
        }
        if s == 1 {
            Ok(())
        } else {
            Err(format!(
                "skynet size must be a power of {SKYNET_CHILDREN}, got {size}"
            ))
        }
    }

    fn root(size: u64, done: Done) -> Node {
        Node {
            num: 0,
            size,
            parent: Parent::Root {
                start: Instant::now(),
                size,
                done,
            },
        }
    }

    pub(super) fn hearth_local(size: u64) -> Outcome {
        check_size(size)?;
        run_hearth(1, |runtime, done| {
            runtime.run_on_workers(move |mut rt: RuntimeRef| {
                let _ = rt.spawn_local(
                    NoSupervisor,
                    actor_fn(node_local),
                    root(size, done),
                    options(SKYNET_CHILDREN as usize),
                );
                Ok::<(), String>(())
            });
        })
    }

    pub(super) fn hearth_shared(size: u64) -> Outcome {
        check_size(size)?;
        run_hearth(2, |runtime, done| {
            let _ = runtime.spawn(
                NoSupervisor,
                actor_fn(node_shared),
                root(size, done),
                options(SKYNET_CHILDREN as usize),
            );
        })
    }

    async fn node_local(mut ctx: Context<u64, ThreadLocal>, node: Node) {
        if node.size == 1 {
            node.parent.deliver(node.num).await;
            return;
        }
        for i in 0..SKYNET_CHILDREN {
            let (child, options) = node.child(i, ctx.actor_ref());
            let _ = ctx
                .runtime()
                .spawn_local(NoSupervisor, actor_fn(node_local), child, options);
        }
        if let Some(sum) = sum_children(&mut ctx).await {
            node.parent.deliver(sum).await;
        }
    }

    async fn node_shared(mut ctx: Context<u64, ThreadSafe>, node: Node) {
        if node.size == 1 {
            node.parent.deliver(node.num).await;
            return;
        }
        for i in 0..SKYNET_CHILDREN {
            let (child, options) = node.child(i, ctx.actor_ref());
            spawn_shared(ctx.runtime(), child, options);
        }
        if let Some(sum) = sum_children(&mut ctx).await {
            node.parent.deliver(sum).await;
        }
    }

    /// Spawns a thread-safe node. (Outside `node_shared`: proving that
    /// function's own future `Send` inside its body is a cycle for rustc.)
    fn spawn_shared(rt: &ThreadSafe, child: Node, options: ActorOptions) {
        let _ = rt.spawn(NoSupervisor, actor_fn(node_shared), child, options);
    }

    /// Receives the sum of every child; `None` if a child is missing.
    async fn sum_children<RT>(ctx: &mut Context<u64, RT>) -> Option<u64> {
        let mut sum = 0;
        for _ in 0..SKYNET_CHILDREN {
            sum += ctx.receive_next().await.ok()?;
        }
        Some(sum)
    }

    pub(super) fn tokio_local(size: u64) -> Outcome {
        check_size(size)?;
        run_tokio_local(tokio_root(size))
    }

    pub(super) fn tokio_shared(size: u64) -> Outcome {
        check_size(size)?;
        run_tokio_shared(tokio_root(size))
    }

    async fn tokio_root(size: u64) -> Outcome {
        let start = Instant::now();
        let sum = tokio_node(0, size).await?;
        let elapsed = start.elapsed();
        let expected = sum_below(size);
        if sum == expected {
            Ok(elapsed)
        } else {
            Err(format!("skynet sum is {sum}, expected {expected}"))
        }
    }

    type NodeFuture = Pin<Box<dyn Future<Output = Result<u64, String>> + Send>>;

    fn tokio_node(num: u64, size: u64) -> NodeFuture {
        Box::pin(async move {
            if size == 1 {
                return Ok(num);
            }
            let child = size / SKYNET_CHILDREN;
            let children: [tokio::task::JoinHandle<Result<u64, String>>; SKYNET_CHILDREN as usize] =
                std::array::from_fn(|i| tokio::spawn(tokio_node(num + i as u64 * child, child)));
            let mut sum = 0;
            for child in children {
                sum += child
                    .await
                    .map_err(|err| format!("skynet task failed: {err}"))??;
            }
            Ok(sum)
        })
    }
}
