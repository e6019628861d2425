//! The measured runs and their tables: per test, each side's median
//! requests per second with its ratios to the tokio form, to hearth's
//! mutex form (b) and to redis-server (each the median of the per-round
//! ratios: the sides of a round ran minutes apart at most, so a machine
//! busy for a while moves both), then the pairs the targets are about,
//! with the spread of their per-round ratios.

use super::config::median_f64;
use super::load::{Measured, TESTS};
use super::server::Side;

/// The figures of the tables: each test, then both as one rate.
const FIGURES: [&str; 3] = ["SET", "GET", "SET+GET"];

/// The sides every side is compared with, in the columns of the first
/// table.
const BASES: [Side; 3] = [Side::TokioMutex, Side::HearthMutex, Side::Redis];

/// The pairs of the second table: (a)/(b) and (a')/(b), the target, then
/// (c)/(b), and the hearth forms against tokio.
const PAIRS: [(Side, Side); 7] = [
    (Side::HearthRpc, Side::HearthMutex),
    (Side::HearthRpcShared, Side::HearthMutex),
    (Side::HearthBatch, Side::HearthMutex),
    (Side::HearthRpc, Side::TokioMutex),
    (Side::HearthRpcShared, Side::TokioMutex),
    (Side::HearthMutex, Side::TokioMutex),
    (Side::HearthBatch, Side::TokioMutex),
];

/// Requests per second of figure `f` of a run: a test's, or for both
/// tests all their requests over the time they took together.
#[allow(clippy::cast_precision_loss)] // Counts far below 2^53: exact as f64.
fn figure(measured: &Measured, f: usize) -> f64 {
    match measured.get(f) {
        Some(rate) => *rate,
        None => TESTS.len() as f64 / measured.iter().map(|rate| 1.0 / rate).sum::<f64>(),
    }
}

/// Every side's runs, one per round.
#[derive(Debug)]
pub(crate) struct Runs {
    sides: Vec<(Side, Vec<Measured>)>,
}

impl Runs {
    pub(crate) fn new(sides: &[Side]) -> Runs {
        Runs {
            sides: sides.iter().map(|side| (*side, Vec::new())).collect(),
        }
    }

    pub(crate) fn push(&mut self, side: Side, measured: Measured) {
        if let Some((_, runs)) = self.sides.iter_mut().find(|(s, _)| *s == side) {
            runs.push(measured);
        }
    }

    fn of(&self, side: Side) -> Option<&[Measured]> {
        self.sides
            .iter()
            .find(|(s, _)| *s == side)
            .map(|(_, runs)| runs.as_slice())
    }

    /// The last round's SET+GET rate of each side, for the progress line.
    pub(crate) fn last_round(&self) -> String {
        let both = FIGURES.len() - 1;
        self.sides
            .iter()
            .filter_map(|(side, runs)| {
                let last = runs.last()?;
                Some(format!("{} {:.0}", side.as_str(), figure(last, both)))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Both tables.
    pub(crate) fn print(&self) {
        println!();
        println!(
            "Requests per second (medians), and the median of the per-round ratios to each base:"
        );
        println!();
        let bases: Vec<String> = BASES.iter().map(|b| format!("/{}", b.as_str())).collect();
        println!(
            "| {:<7} | {:<17} | {:>9} | {:>17} | {:>12} | {:>13} | {:>13} |",
            "test", "side", "req/s", "min-max", bases[0], bases[1], bases[2]
        );
        println!(
            "|:--------|:------------------|----------:|------------------:|-------------:|--------------:|--------------:|"
        );
        for (f, name) in FIGURES.iter().enumerate() {
            for (side, runs) in &self.sides {
                let rates = sorted(runs, f);
                let [tokio, mutex, redis] = BASES.map(|base| match self.of(base) {
                    Some(base) => ratios(runs, base, f).1,
                    None => f64::NAN,
                });
                println!(
                    "| {:<7} | {:<17} | {:>9.0} | {:>17} | {:>12.2} | {:>13.2} | {:>13.2} |",
                    name,
                    side.as_str(),
                    median_f64(&rates),
                    format!("{:.0}-{:.0}", rates[0], rates[rates.len() - 1]),
                    tokio,
                    mutex,
                    redis
                );
            }
        }
        println!();
        println!("Between the forms:");
        println!();
        println!(
            "| {:<7} | {:<32} | {:>16} | {:>11} | {:>13} |",
            "test", "pair", "ratio of medians", "round ratio", "round min-max"
        );
        println!(
            "|:--------|:---------------------------------|-----------------:|------------:|--------------:|"
        );
        for (f, name) in FIGURES.iter().enumerate() {
            for (a, b) in PAIRS {
                let (Some(a_runs), Some(b_runs)) = (self.of(a), self.of(b)) else {
                    continue;
                };
                let (ratio, round) = ratios(a_runs, b_runs, f);
                let per_round = per_round(a_runs, b_runs, f);
                println!(
                    "| {:<7} | {:<32} | {:>16.2} | {:>11.2} | {:>13} |",
                    name,
                    format!("{} / {}", a.as_str(), b.as_str()),
                    ratio,
                    round,
                    format!("{:.2}-{:.2}", per_round[0], per_round[per_round.len() - 1])
                );
            }
        }
    }
}

/// Figure `f` of `runs`, sorted.
fn sorted(runs: &[Measured], f: usize) -> Vec<f64> {
    let mut rates: Vec<f64> = runs.iter().map(|m| figure(m, f)).collect();
    rates.sort_by(f64::total_cmp);
    rates
}

/// The per-round ratios of figure `f`, `a` over `b`, sorted.
fn per_round(a: &[Measured], b: &[Measured], f: usize) -> Vec<f64> {
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(a, b)| figure(a, f) / figure(b, f))
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios
}

/// The ratio of the medians of figure `f`, `a` over `b`, and the median
/// of the per-round ratios.
fn ratios(a: &[Measured], b: &[Measured], f: usize) -> (f64, f64) {
    let ratio = median_f64(&sorted(a, f)) / median_f64(&sorted(b, f));
    (ratio, median_f64(&per_round(a, b, f)))
}

/// The machine's load averages (1, 5 and 15 minutes), from `/proc/loadavg`:
/// other work on the machine moves the figures.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| {
            let fields: Vec<&str> = text.split_whitespace().take(3).collect();
            (fields.len() == 3).then(|| fields.join(" "))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
