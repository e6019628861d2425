//! A small logger for servers: one line per record on standard error,
//! `timestamp level target: message key=value ...`.
//!
//! Runtime metrics and lifecycle events are logged with key-values (the
//! `log` crate's `kv` feature); this logger prints them, so examples and
//! small programs see them without another crate. Larger applications can
//! use any logger implementing [`::log::Log`] instead.
//!
//! The level comes from the `HEARTH_LOG` environment variable (`error`,
//! `warn`, `info`, `debug`, `trace` or `off`), `info` by default.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use ::log::kv::{self, VisitSource};
use ::log::{LevelFilter, Log, Metadata, Record};

/// Environment variable that sets the log level.
pub const LEVEL_ENV: &str = "HEARTH_LOG";

/// Installs the logger with the level from [`LEVEL_ENV`] (default `info`).
/// Does nothing if a logger is already installed.
///
/// # Examples
///
/// ```
/// hearth::log::init();
/// log::info!(answer = 42; "logger ready");
/// ```
pub fn init() {
    let level = std::env::var(LEVEL_ENV)
        .ok()
        .and_then(|value| value.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::Info);
    init_with_level(level);
}

/// Installs the logger with the given level. Does nothing if a logger is
/// already installed.
pub fn init_with_level(level: LevelFilter) {
    static LOGGER: StderrLogger = StderrLogger;
    if ::log::set_logger(&LOGGER).is_ok() {
        ::log::set_max_level(level);
    }
}

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= ::log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = String::with_capacity(128);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let _ = write!(
            line,
            "{}.{:06} {:5} {}: {}",
            now.as_secs(),
            now.subsec_micros(),
            record.level(),
            record.target(),
            record.args()
        );
        let _ = record.key_values().visit(&mut KeyValues(&mut line));
        line.push('\n');
        // One write per record, so lines of different threads do not mix.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

struct KeyValues<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for KeyValues<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let rendered = value.to_string();
        if rendered.is_empty()
            || rendered.contains(|c: char| c.is_whitespace() || c == '"' || c == '=')
        {
            let _ = write!(self.0, " {key}={rendered:?}");
        } else {
            let _ = write!(self.0, " {key}={rendered}");
        }
        Ok(())
    }
}
