//! Load from `redis-benchmark` (Debian package `redis-tools`): one run of
//! its `SET` and `GET` tests against a server, their requests per second
//! read from its CSV report. A run whose report names an error, or lacks
//! a test, is refused.

use std::io;
use std::net::SocketAddr;
use std::process::Command;

/// How to get redis-benchmark when it is missing.
pub(crate) const INSTALL: &str = "redis-benchmark not found: install it (Debian/Ubuntu: \
     `apt-get install redis-tools`) and run again";

/// Bytes of each value SET (`-d`, redis-benchmark's default).
pub(crate) const VALUE_SIZE: usize = 3;

/// The tests of a run, as `redis-benchmark -t` names them.
pub(crate) const TESTS: [&str; 2] = ["SET", "GET"];

/// The settings of a run.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Load {
    /// Connections (`-c`).
    pub(crate) clients: u32,
    /// Requests each connection sends before reading the answers (`-P`).
    pub(crate) pipeline: u32,
    /// Requests per test (`-n`).
    pub(crate) requests: u64,
    /// Keys drawn at random from this many (`-r`); `None`: one key.
    pub(crate) keyspace: Option<u64>,
}

impl Load {
    /// The command line, for the report.
    pub(crate) fn args(&self) -> Vec<String> {
        let mut args = vec![
            "-P".to_owned(),
            self.pipeline.to_string(),
            "-c".to_owned(),
            self.clients.to_string(),
            "-n".to_owned(),
            self.requests.to_string(),
            "-d".to_owned(),
            VALUE_SIZE.to_string(),
        ];
        if let Some(keyspace) = self.keyspace {
            args.extend(["-r".to_owned(), keyspace.to_string()]);
        }
        args.extend(["-t".to_owned(), TESTS.join(",").to_ascii_lowercase()]);
        args
    }
}

/// Requests per second of each of [`TESTS`], in that order.
pub(crate) type Measured = [f64; TESTS.len()];

/// Runs redis-benchmark with `load` against `addr`.
pub(crate) fn run(addr: SocketAddr, load: Load) -> Result<Measured, String> {
    let output = Command::new("redis-benchmark")
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(load.args())
        .arg("--csv")
        .output()
        .map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => INSTALL.to_owned(),
            _ => format!("running redis-benchmark: {err}"),
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // It reports a server's error or a closed connection on its error
    // output (and does not always fail for it).
    if !output.status.success() || stderr.contains("rror") {
        return Err(format!(
            "redis-benchmark failed ({}): {stdout}{stderr}",
            output.status
        ));
    }
    parse(&stdout).map_err(|err| format!("{err} in redis-benchmark's report:\n{stdout}"))
}

/// Reads the CSV report: a header naming the `rps` column, then a line
/// per test.
fn parse(report: &str) -> Result<Measured, String> {
    let mut lines = report.lines().map(|line| {
        line.split(',')
            .map(|field| field.trim().trim_matches('"'))
            .collect::<Vec<_>>()
    });
    let header = lines.next().ok_or("no header")?;
    let rps = header
        .iter()
        .position(|field| *field == "rps")
        .ok_or("no `rps` column")?;
    let mut measured = [None; TESTS.len()];
    for fields in lines {
        let (Some(test), Some(rate)) = (fields.first(), fields.get(rps)) else {
            continue;
        };
        if let Some(i) = TESTS.iter().position(|t| t == test) {
            let rate: f64 = rate
                .parse()
                .map_err(|_| format!("bad rate {rate:?} for {test}"))?;
            measured[i] = Some(rate);
        }
    }
    let mut rates = [0.0; TESTS.len()];
    for (i, rate) in measured.into_iter().enumerate() {
        rates[i] = rate
            .filter(|rate| *rate > 0.0)
            .ok_or_else(|| format!("no rate for {}", TESTS[i]))?;
    }
    Ok(rates)
}
