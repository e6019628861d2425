//! Load from `wrk` (Debian package `wrk`): one run against a URL, its
//! requests per second and 99th percentile latency read from its report,
//! and the run refused if any request failed or got another status than
//! 2xx/3xx.

use std::io;
use std::process::Command;
use std::time::Duration;

/// How to get wrk when it is missing.
pub(crate) const INSTALL: &str =
    "wrk not found: install it (Debian/Ubuntu: `apt-get install wrk`) and run again";

/// The settings of a run.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Load {
    /// Client threads.
    pub(crate) threads: u32,
    /// Connections, kept alive over the whole run.
    pub(crate) connections: u32,
    /// Length of the run.
    pub(crate) duration: Duration,
}

/// What a run measured.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Measured {
    /// Responses per second over the run.
    pub(crate) requests_per_sec: f64,
    /// 99th percentile of the latency, in microseconds.
    pub(crate) p99_us: f64,
    /// Responses in all.
    pub(crate) requests: u64,
}

/// Runs wrk with `load` against `url`.
pub(crate) fn run(url: &str, load: Load) -> Result<Measured, String> {
    let output = Command::new("wrk")
        .arg(format!("--threads={}", load.threads))
        .arg(format!("--connections={}", load.connections))
        .arg(format!("--duration={}s", load.duration.as_secs().max(1)))
        .arg("--latency")
        .arg(url)
        .output()
        .map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => INSTALL.to_owned(),
            _ => format!("running wrk: {err}"),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&stdout).map_err(|err| format!("{err} in wrk's report:\n{stdout}"))
}

/// Reads wrk's report.
fn parse(report: &str) -> Result<Measured, String> {
    let mut requests_per_sec = None;
    let mut p99_us = None;
    let mut requests = None;
    for line in report.lines().map(str::trim) {
        if let Some(rate) = line.strip_prefix("Requests/sec:") {
            requests_per_sec = rate.trim().parse::<f64>().ok();
        } else if let Some(latency) = line.strip_prefix("99%") {
            p99_us = Some(micros(latency.trim())?);
        } else if let Some((count, _)) = line.split_once(" requests in ") {
            requests = count.trim().parse::<u64>().ok();
        } else if line.starts_with("Socket errors:") || line.starts_with("Non-2xx or 3xx") {
            return Err(format!("failed requests ({line})"));
        }
    }
    match (requests_per_sec, p99_us, requests) {
        (Some(requests_per_sec), Some(p99_us), Some(requests)) if requests > 0 => Ok(Measured {
            requests_per_sec,
            p99_us,
            requests,
        }),
        _ => Err("no request rate, 99% latency or request count".to_owned()),
    }
}

/// A latency as wrk prints it (`812.00us`, `1.15ms`, `2.01s`), in
/// microseconds.
fn micros(text: &str) -> Result<f64, String> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("latency without a unit: {text:?}"))?;
    let (value, unit) = text.split_at(split);
    let value: f64 = value.parse().map_err(|_| format!("bad latency {text:?}"))?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        _ => return Err(format!("unknown latency unit in {text:?}")),
    };
    Ok(value * scale)
}
