//! HTTP/1.1 on hyper: hearth against tokio, the same hyper service on
//! both, loaded by `wrk` over loopback.
//!
//! Workloads, one per route of `examples/http_server.rs`:
//!
//! - `GET /`: 200 `text/plain` `Hello, World!`.
//! - `GET /json`: 200 `application/json` `{"message":"Hello, World!"}`.
//!
//! Each under two loads: wrk with 2 threads (the machine's two cores
//! shared by the server's two workers and wrk's two threads), and with
//! one (the `-t1` rows: a load generator of one thread beside the
//! server).
//!
//! The servers (see `http/server.rs`) run in child processes of their own:
//! hearth's `TcpServer` with a connection actor per connection and
//! `hearth::http` (hyper's I/O, timer and graceful shutdown on hearth),
//! its two workers pinned to a CPU each as a hearth server is set up, and
//! the same unpinned (the `, unpinned` rows), each with thread-local
//! connection actors and with thread-safe ones (the `, thread-safe` and
//! `, thread-safe unpinned` rows: a connection runs on whichever worker is
//! free); and tokio's multi-thread
//! runtime with two workers, a task per connection and hyper-util's tokio
//! glue. Same hyper version, same service, same HTTP/1 settings (a timer,
//! so hyper's default 30 s header-read timeout is on for all),
//! `TCP_NODELAY` on every connection.
//!
//! # Method
//!
//! Each round starts each server once, in an order that turns by one
//! place per round, checks that it answers the route, runs wrk for a
//! short warm-up and then for the measured run (2 threads, or 1, 50 keep-alive connections, 5 s), and
//! stops the server with SIGTERM (it must exit cleanly). Requests/s and
//! the 99th percentile latency are wrk's; a run with any failed request or
//! a status other than 2xx/3xx fails the benchmark. The tables give, per
//! workload, the medians over the rounds, the ratio of the medians and the
//! median of the per-round ratios: for requests/s above 1 means hearth
//! serves more, for p99 below 1 means hearth answers sooner.
//!
//! wrk is the Debian package `wrk`: `apt-get install wrk`. Without it the
//! benchmark says so and fails.
//!
//! # Usage
//!
//! ```text
//! cargo bench --features hyper --bench http                  # both routes
//! cargo bench --features hyper --bench http -- json           # names containing any of these
//! cargo bench --features hyper --bench http -- --rounds 9
//! ```
//!
//! Run without `--bench` (as `cargo test --all-targets` does) the binary
//! only makes a smoke run: one round, each server checked on each route,
//! and a one-second wrk run if wrk is there.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    unused_results
)]

use std::process::ExitCode;
use std::time::Duration;

use config::{Config, median_f64};
use server::{Server, Side};
use wrk::{Load, Measured};

#[path = "common/config.rs"]
#[allow(dead_code)] // `median` of durations: for the timed benchmarks
mod config;
#[path = "http/server.rs"]
mod server;
#[path = "http/wrk.rs"]
mod wrk;

/// Default number of rounds per workload.
const DEFAULT_ROUNDS: usize = 5;

/// A route under load.
struct Workload {
    /// Name, as shown in the tables and matched by the filters.
    name: &'static str,
    path: &'static str,
    /// The body the route answers with.
    body: &'static str,
    /// wrk's threads: the load generator's share of the two cores.
    wrk_threads: u32,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "GET /",
        path: "/",
        body: "Hello, World!",
        wrk_threads: 2,
    },
    Workload {
        name: "GET /json",
        path: "/json",
        body: r#"{"message":"Hello, World!"}"#,
        wrk_threads: 2,
    },
    Workload {
        name: "GET / -t1",
        path: "/",
        body: "Hello, World!",
        wrk_threads: 1,
    },
    Workload {
        name: "GET /json -t1",
        path: "/json",
        body: r#"{"message":"Hello, World!"}"#,
        wrk_threads: 1,
    },
];

/// The load of a measured run (with a workload's `wrk_threads`).
const LOAD: Load = Load {
    threads: 2,
    connections: 50,
    duration: Duration::from_secs(5),
};

/// The warm-up before it, not measured.
const WARM_UP: Load = Load {
    duration: Duration::from_secs(1),
    ..LOAD
};

/// The load of a smoke run.
const SMOKE: Load = Load {
    threads: 1,
    connections: 4,
    duration: Duration::from_secs(1),
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(server_args) = args.strip_prefix(&[server::FLAG.to_owned()]) {
        return server::main(server_args);
    }
    let config = match Config::from_args(args.into_iter(), DEFAULT_ROUNDS) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("http: {err}");
            eprintln!("usage: http [--bench] [--rounds N] [NAME_SUBSTRING ...]");
            return ExitCode::FAILURE;
        }
    };
    let selected: Vec<&Workload> = WORKLOADS
        .iter()
        .filter(|w| config.selects(w.name))
        .collect();
    if selected.is_empty() {
        eprintln!("http: no workload matches {:?}", config.filters);
        return ExitCode::FAILURE;
    }
    let result = if config.bench {
        println!(
            "hearth vs tokio, hyper HTTP/1.1 under wrk ({} threads, one in the -t1 rows, {} \
             connections, {} s per run): {} round(s) per workload, alternating which goes first.",
            LOAD.threads,
            LOAD.connections,
            LOAD.duration.as_secs(),
            config.rounds
        );
        println!("load average at the start: {}", load_average());
        let result = bench(&selected, config.rounds);
        println!("load average at the end: {}", load_average());
        result
    } else {
        println!("http: smoke run (no `--bench` argument)");
        smoke(&selected)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("http: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Each server answers each route; a short wrk run if wrk is installed.
fn smoke(workloads: &[&Workload]) -> Result<(), String> {
    for side in SIDES {
        let server = Server::start(side)?;
        for workload in workloads {
            server.check(workload.path, workload.body)?;
            let url = format!("http://{}{}", server.addr, workload.path);
            match wrk::run(&url, SMOKE) {
                Ok(measured) => println!(
                    "{:<10} {:<6}: {} requests, {:.0}/s",
                    workload.name,
                    side.as_str(),
                    measured.requests,
                    measured.requests_per_sec
                ),
                Err(err) if err == wrk::INSTALL => println!("{err}; skipped the load"),
                Err(err) => return Err(err),
            }
        }
        server.stop()?;
    }
    Ok(())
}

/// The machine's load averages (1, 5 and 15 minutes), as `/proc/loadavg`
/// gives them: other work on the machine moves the figures, the tail
/// latency most.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| {
            let fields: Vec<&str> = text.split_whitespace().take(3).collect();
            (fields.len() == 3).then(|| fields.join(" "))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// One side's run: a server of its own, checked, warmed up and measured.
fn run_side(side: Side, workload: &Workload) -> Result<Measured, String> {
    let server = Server::start(side)?;
    server.check(workload.path, workload.body)?;
    let url = format!("http://{}{}", server.addr, workload.path);
    let threads = workload.wrk_threads;
    let _ = wrk::run(&url, Load { threads, ..WARM_UP })?;
    let measured = wrk::run(&url, Load { threads, ..LOAD })?;
    server.stop()?;
    Ok(measured)
}

/// The sides of a round, each started in turn; the order turns by one
/// place per round, so each side goes first, second, ... and last as
/// often. The hearth sides come first, in the order of the tables' rows;
/// tokio is the last.
const SIDES: [Side; 5] = [
    Side::Hearth,
    Side::HearthUnpinned,
    Side::HearthThreadSafe,
    Side::HearthThreadSafeUnpinned,
    Side::Tokio,
];

/// How each hearth side is named in the tables, after the workload's
/// name.
fn row_suffix(side: Side) -> &'static str {
    match side {
        Side::Hearth | Side::Tokio => "",
        Side::HearthUnpinned => ", unpinned",
        Side::HearthThreadSafe => ", thread-safe",
        Side::HearthThreadSafeUnpinned => ", thread-safe unpinned",
    }
}

/// The measured runs of one workload: per side (in the order of
/// [`SIDES`]), one per round.
struct Report {
    name: &'static str,
    runs: [Vec<Measured>; SIDES.len()],
}

fn bench(workloads: &[&Workload], rounds: usize) -> Result<(), String> {
    let mut reports = Vec::new();
    for workload in workloads {
        let mut report = Report {
            name: workload.name,
            runs: Default::default(),
        };
        for round in 0..rounds {
            let mut order: Vec<(usize, Side)> = SIDES.into_iter().enumerate().collect();
            order.rotate_left(round % SIDES.len());
            for (index, side) in order {
                report.runs[index].push(run_side(side, workload)?);
            }
            let figures: Vec<String> = SIDES
                .iter()
                .zip(&report.runs)
                .map(|(side, runs)| {
                    let run = &runs[round];
                    format!(
                        "{} {:.0} ({:.0})",
                        side.as_str(),
                        run.requests_per_sec,
                        run.p99_us
                    )
                })
                .collect();
            eprintln!(
                "{:<10} round {}/{}: req/s (p99 us) {}",
                workload.name,
                round + 1,
                rounds,
                figures.join(", ")
            );
        }
        reports.push(report);
    }
    print_tables(&reports);
    Ok(())
}

/// One row of a table: one hearth side's runs against tokio's.
struct Row<'r> {
    name: String,
    hearth: &'r [Measured],
    tokio: &'r [Measured],
}

/// The rows of every report: each hearth side in the order of [`SIDES`],
/// all workloads for one side before the next side.
fn rows(reports: &[Report]) -> Vec<Row<'_>> {
    let tokio = SIDES.len() - 1;
    (0..tokio)
        .flat_map(|side| {
            reports.iter().map(move |report| Row {
                name: format!("{}{}", report.name, row_suffix(SIDES[side])),
                hearth: &report.runs[side],
                tokio: &report.runs[tokio],
            })
        })
        .collect()
}

/// Medians of `figure` over hearth's and tokio's runs, their ratio, and
/// the median of the per-round ratios.
fn figures(row: &Row<'_>, figure: fn(&Measured) -> f64) -> (f64, f64, f64, f64) {
    let sorted = |runs: &[Measured]| {
        let mut values: Vec<f64> = runs.iter().map(figure).collect();
        values.sort_by(f64::total_cmp);
        values
    };
    let hearth = median_f64(&sorted(row.hearth));
    let tokio = median_f64(&sorted(row.tokio));
    let mut ratios: Vec<f64> = row
        .hearth
        .iter()
        .zip(row.tokio)
        .map(|(h, t)| figure(h) / figure(t))
        .collect();
    ratios.sort_by(f64::total_cmp);
    (hearth, tokio, hearth / tokio, median_f64(&ratios))
}

fn print_tables(reports: &[Report]) {
    let rows = rows(reports);
    println!();
    println!("Requests per second (above 1 hearth serves more):");
    print_table(&rows, ["hearth req/s", "tokio req/s"], 0, |m| {
        m.requests_per_sec
    });
    println!();
    println!("Latency, 99th percentile (below 1 hearth answers sooner):");
    print_table(&rows, ["hearth p99 ms", "tokio p99 ms"], 2, |m| {
        m.p99_us / 1e3
    });
}

/// A table of one figure: medians, ratios and ranges per row.
fn print_table(
    rows: &[Row<'_>],
    [hearth_label, tokio_label]: [&str; 2],
    decimals: usize,
    figure: fn(&Measured) -> f64,
) {
    println!();
    println!(
        "| {:<31} | {:>13} | {:>13} | {:>12} | {:>11} | {:>19} | {:>19} |",
        "workload",
        hearth_label,
        tokio_label,
        "hearth/tokio",
        "round ratio",
        "hearth min-max",
        "tokio min-max"
    );
    println!(
        "|:--------------------------------|--------------:|--------------:|-------------:|------------:|--------------------:|--------------------:|"
    );
    for row in rows {
        let (hearth, tokio, ratio, round) = figures(row, figure);
        println!(
            "| {:<31} | {:>13.decimals$} | {:>13.decimals$} | {:>12.2} | {:>11.2} | {:>19} | {:>19} |",
            row.name,
            hearth,
            tokio,
            ratio,
            round,
            range(row.hearth, figure, decimals),
            range(row.tokio, figure, decimals),
        );
    }
}

/// `min-max` of a figure over runs.
fn range(runs: &[Measured], figure: fn(&Measured) -> f64, decimals: usize) -> String {
    let min = runs.iter().map(figure).fold(f64::INFINITY, f64::min);
    let max = runs.iter().map(figure).fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.decimals$}-{max:.decimals$}")
}
