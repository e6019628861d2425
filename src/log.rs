//! A small logger for servers: one line per record on standard error,
//! `timestamp level target: message key=value ...`, the timestamp in RFC 3339
//! (UTC).
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
        write_timestamp(&mut line, now);
        let _ = write!(
            line,
            " {:5} {}: {}",
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

/// Writes `since_epoch` as an RFC 3339 UTC timestamp with microseconds,
/// e.g. `2026-11-23T19:04:05.123456Z`.
fn write_timestamp(out: &mut String, since_epoch: std::time::Duration) {
    let secs = since_epoch.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Seconds of a `u64` divided by 86 400 are below 2^48: they fit.
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_micros()
    );
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // A day of the month (1 to 31) and a month (1 to 12): they fit.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (day, month) = (
        (doy - (153 * mp + 2) / 5 + 1) as u32,
        if mp < 10 { mp + 3 } else { mp - 9 } as u32,
    );
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_780), (2026, 11, 23));
    }
}
