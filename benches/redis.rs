//! A small Redis-like server (GET, SET, INCR, PING over RESP, pipelined)
//! in five forms, against `redis-server` itself, all loaded by
//! `redis-benchmark` over loopback.
//!
//! The sides (see `redis/server.rs`), each a child process of its own on
//! 127.0.0.1, port 0:
//!
//! - `hearth-rpc` (a): hearth's idiomatic actor design. A `TcpServer` on
//!   two workers, a thread-local actor per connection, a thread-local store
//!   actor per worker owning a shard of the keys (a key's shard is a hash
//!   of it), and one `ActorRef::rpc` per command to the shard's actor.
//! - `hearth-rpc-shared` (a'): (a) with thread-safe store actors, one per
//!   shard, which no worker owns: a call wakes the store on the caller's
//!   worker (its LIFO slot), so the store runs there next and its answer
//!   wakes the connection on its own worker, with no hand-over between the
//!   cores unless the store is busy on the other worker.
//! - `hearth-mutex` (b): the same server with the shards behind a mutex
//!   each, executed by the connection actor itself.
//! - `hearth-batch` (c): the store actors of (a), with one `rpc` per shard
//!   and read (all the commands of one read for that shard in one message).
//! - `tokio-mutex` (d): a tokio multi-thread runtime with two workers, a
//!   task per connection and the same mutex shards.
//! - `redis-server` (e): Redis, started on a free port with nothing kept on
//!   disk (`--save '' --appendonly no`), the reference.
//!
//! The five forms share the protocol (`redis/resp.rs`: pipelined requests
//! however they are split, an error for unknown commands, never a panic on
//! bad input) and the shard (`redis/store.rs`), and answer the requests of
//! one read with one write.
//!
//! # Method
//!
//! Each round starts each side's server once, in an order that turns by
//! one place per round, checks that it answers (SET, GET and PING, as a
//! client would), runs `redis-benchmark -P 16 -c 50 -n N -t set,get
//! --csv` against it (one key unless `--keyspace K`, as redis-benchmark
//! does), checks that the benchmark's key holds a value of the size it set (with one
//! key), and stops the server with SIGTERM (it must exit cleanly). A
//! server that answers wrongly ends the benchmark with an error, so it
//! never posts a figure. The tables
//! give, per test (SET, GET, and both as one rate: all the requests over
//! the time of both tests), each side's median requests per second, its
//! range, its ratio to redis-server, and the ratios between the forms:
//! of the medians and the median of the per-round ratios.
//!
//! `redis-benchmark` is the Debian package `redis-tools` and `redis-server`
//! the package `redis-server` (`apt-get install redis-tools
//! redis-server`). Without redis-benchmark the benchmark says it skipped
//! and succeeds; without redis-server it runs without the reference.
//!
//! # Usage
//!
//! ```text
//! cargo bench --bench redis                           # every side, 5 rounds
//! cargo bench --bench redis -- --rounds 9 --requests 2000000
//! cargo bench --bench redis -- hearth-rpc hearth-mutex  # sides containing any of these
//! cargo bench --bench redis -- --keyspace 100000       # random keys
//! cargo bench --bench redis -- --check                 # the checks alone
//! target/release/deps/redis-* --rpc-cost local 100000  # (a)'s rpc alone
//! ```
//!
//! With `--check`, or run without `--bench` (as `cargo test --benches`
//! does), the binary makes a smoke run: the parser's own checks, every
//! server checked thoroughly over a socket (redis-server too, so the forms
//! answer as Redis does), and a tiny redis-benchmark run against each if
//! it is installed, checked after.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    unused_results
)]

use std::process::{Command, ExitCode};

use config::Config;
use load::Load;
use server::{SIDES, Server, Side};

#[path = "redis/check.rs"]
mod check;
#[path = "common/config.rs"]
#[allow(dead_code)] // `median` of durations: for the timed benchmarks
mod config;
#[path = "redis/hearth_server.rs"]
mod hearth_server;
#[path = "redis/load.rs"]
mod load;
#[path = "redis/parser_check.rs"]
mod parser_check;
#[path = "redis/report.rs"]
mod report;
#[path = "redis/resp.rs"]
mod resp;
#[path = "redis/rpc_cost.rs"]
mod rpc_cost;
#[path = "redis/server.rs"]
mod server;
#[path = "redis/store.rs"]
mod store;
#[path = "redis/tokio_server.rs"]
mod tokio_server;

/// Default number of rounds.
const DEFAULT_ROUNDS: usize = 5;

/// The load of a measured run (`--requests` and `--keyspace` change it).
const LOAD: Load = Load {
    clients: 50,
    pipeline: 16,
    requests: 1_000_000,
    keyspace: None,
};

/// The load of a smoke run.
const SMOKE: Load = Load {
    clients: 4,
    pipeline: 4,
    requests: 2_000,
    keyspace: None,
};

const USAGE: &str = "usage: redis [--bench] [--check] [--rounds N] [--requests N] [--keyspace N] \
     [SIDE_SUBSTRING ...]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(server_args) = args.strip_prefix(&[server::FLAG.to_owned()]) {
        return server::main(server_args);
    }
    if let Some(cost_args) = args.strip_prefix(&[rpc_cost::FLAG.to_owned()]) {
        return rpc_cost::main(cost_args);
    }
    let (load, check, config) = match parse_args(args) {
        Ok(parsed) => parsed,
        Err(err) => {
            eprintln!("redis: {err}");
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let sides: Vec<Side> = SIDES
        .into_iter()
        .filter(|side| config.selects(side.as_str()))
        .collect();
    if sides.is_empty() {
        eprintln!("redis: no side matches {:?}", config.filters);
        return ExitCode::FAILURE;
    }
    let result = if config.bench && !check {
        bench(sides, config.rounds, load)
    } else {
        println!("redis: checks and a smoke load (`--check`, or no `--bench` argument)");
        smoke(&sides)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("redis: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `--requests N`, `--keyspace N` and `--check`, then the common
/// arguments.
fn parse_args(args: Vec<String>) -> Result<(Load, bool, Config), String> {
    let mut load = LOAD;
    let mut check = false;
    let mut rest = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let number = |value: Option<String>| {
            value
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{arg}` needs a positive number, got {value:?}"))
        };
        match arg.as_str() {
            "--requests" => load.requests = number(args.next())?,
            "--keyspace" => load.keyspace = Some(number(args.next())?),
            "--check" => check = true,
            _ => rest.push(arg),
        }
    }
    let config = Config::from_args(rest.into_iter(), DEFAULT_ROUNDS)?;
    Ok((load, check, config))
}

/// True if `program --version` runs.
fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The parser's checks; each side checked thoroughly and, with
/// redis-benchmark, loaded a little.
fn smoke(sides: &[Side]) -> Result<(), String> {
    parser_check::run()?;
    println!("parser: checks passed");
    let benchmark = installed("redis-benchmark");
    if !benchmark {
        println!("skipped the load: {}", load::INSTALL);
    }
    for &side in sides {
        if side == Side::Redis && !installed("redis-server") {
            println!("skipped {}: {}", side.as_str(), server::INSTALL_SERVER);
            continue;
        }
        let server = Server::start(side)?;
        check::thorough(server.addr, side != Side::Redis)
            .map_err(|err| format!("{}: {err}", side.as_str()))?;
        if benchmark {
            let [set, get] = load::run(server.addr, SMOKE)?;
            check::after_load(server.addr, load::VALUE_SIZE)
                .map_err(|err| format!("{} after the load: {err}", side.as_str()))?;
            println!(
                "{:<13} checks passed; SET {set:.0}/s, GET {get:.0}/s",
                side.as_str()
            );
        } else {
            println!("{:<13} checks passed", side.as_str());
        }
        server.stop()?;
    }
    Ok(())
}

/// The measured rounds, then the tables.
fn bench(mut sides: Vec<Side>, rounds: usize, load: Load) -> Result<(), String> {
    if !installed("redis-benchmark") {
        println!("skipped: {}", load::INSTALL);
        return Ok(());
    }
    if sides.contains(&Side::Redis) && !installed("redis-server") {
        println!("without the reference: {}", server::INSTALL_SERVER);
        sides.retain(|side| *side != Side::Redis);
    }
    println!(
        "redis-benchmark {}: {rounds} round(s), the sides in turn, starting one place later each round",
        load.args().join(" ")
    );
    println!("load average at the start: {}", report::load_average());
    let mut runs = report::Runs::new(&sides);
    for round in 0..rounds {
        let mut order = sides.clone();
        order.rotate_left(round % sides.len());
        for &side in &order {
            let server = Server::start(side)?;
            check::quick(server.addr).map_err(|err| format!("{}: {err}", side.as_str()))?;
            let measured =
                load::run(server.addr, load).map_err(|err| format!("{}: {err}", side.as_str()))?;
            if load.keyspace.is_none() {
                check::after_load(server.addr, load::VALUE_SIZE)
                    .map_err(|err| format!("{} after the load: {err}", side.as_str()))?;
            }
            server.stop()?;
            runs.push(side, measured);
        }
        eprintln!("round {}/{rounds}: {}", round + 1, runs.last_round());
    }
    println!("load average at the end: {}", report::load_average());
    runs.print();
    Ok(())
}
