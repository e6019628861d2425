//! What the benchmarks share: their command line (`--bench` from `cargo
//! bench`, `--rounds N`, name filters) and medians.

use std::time::Duration;

/// Command line settings.
#[derive(Debug)]
pub(crate) struct Config {
    /// True when started by `cargo bench` (full sizes), false for a smoke
    /// run (e.g. `cargo test --benches`).
    pub(crate) bench: bool,
    /// Rounds per workload.
    pub(crate) rounds: usize,
    /// Name substrings; a workload runs if its name contains any (all run
    /// without filters).
    pub(crate) filters: Vec<String>,
}

impl Config {
    /// Reads `--bench`, `--rounds N` (default `default_rounds` with
    /// `--bench`, 1 without) and name filters; other flags (from `cargo test
    /// -- ...`) are ignored.
    pub(crate) fn from_args(
        args: impl Iterator<Item = String>,
        default_rounds: usize,
    ) -> Result<Config, String> {
        let mut bench = false;
        let mut rounds = None;
        let mut filters = Vec::new();
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--bench" => bench = true,
                "--rounds" => {
                    let value = args.next().ok_or("`--rounds` needs a value")?;
                    rounds = Some(parse_rounds(&value)?);
                }
                _ if arg.starts_with("--rounds=") => {
                    rounds = Some(parse_rounds(&arg["--rounds=".len()..])?);
                }
                _ if arg.starts_with('-') => {}
                _ => filters.push(arg),
            }
        }
        let rounds = rounds.unwrap_or(if bench { default_rounds } else { 1 });
        Ok(Config {
            bench,
            rounds,
            filters,
        })
    }

    /// True if the workload `name` is to run.
    pub(crate) fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

/// A positive number of rounds.
fn parse_rounds(value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid number of rounds: {value:?}"))
}

/// The median of durations, in any order.
pub(crate) fn median(times: &[Duration]) -> Duration {
    let mut times = times.to_vec();
    times.sort();
    let mid = times.len() / 2;
    if times.len() % 2 == 1 {
        times[mid]
    } else {
        (times[mid - 1] + times[mid]) / 2
    }
}

/// The median of sorted values.
pub(crate) fn median_f64(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        f64::midpoint(sorted[mid - 1], sorted[mid])
    }
}
