//! `--load MAX` and `--memfree SIZE` of `hearth map`, read as GNU parallel
//! reads them, and the pool's [`Throttle`] they make: no job starts on
//! this machine's slots while it is loaded or short of memory. Slots on
//! other machines are not held (GNU parallel reads their hosts' load over
//! ssh; hearth does not), and a run with no slot here says so.

use hearth::remote::Throttle;

use crate::MapArgs;

/// The throttle of the options, if `--load` or `--memfree` is given.
pub fn throttle(args: &MapArgs) -> Option<Throttle> {
    let options = &args.throttling;
    if options.load.is_none() && options.memfree.is_none() {
        return None;
    }
    let mut throttle = Throttle::new();
    if let Some(load) = options.load {
        throttle = throttle.max_load(load);
    }
    if let Some(bytes) = options.memfree {
        throttle = throttle.min_available_memory(bytes);
    }
    if let Some(dir) = &options.proc_dir {
        throttle = throttle.proc_dir(dir);
    }
    Some(throttle)
}

/// Reads the machine once, so that a `/proc` that cannot be read is an
/// error now rather than a run that never starts a job.
pub fn check(args: &MapArgs) -> Result<(), String> {
    match throttle(args) {
        Some(throttle) => throttle
            .check()
            .map_err(|err| format!("--load and --memfree read this machine's state: {err}")),
        None => Ok(()),
    }
}

/// Says that `--load` and `--memfree` hold nothing back when no slot of
/// the run is on this machine.
pub fn warn_unless_local(args: &MapArgs, any_local: bool) {
    if !any_local && throttle(args).is_some() {
        say!(
            "hearth map: warning: --load and --memfree hold back the slots of this machine (-S :) \
             only, and the run has none: they change nothing"
        );
    }
}

/// `--load MAX` as GNU parallel reads it: a number of processes (`4`,
/// `2.5`), `N%` of this machine's cores, `+N` or `-N` (the cores plus or
/// less N); below 0.01, 0.01.
pub fn parse_load(text: &str) -> Result<f64, String> {
    parse_load_with(text, crate::pool_setup::cores())
}

fn parse_load_with(text: &str, cores: usize) -> Result<f64, String> {
    let cores = u32::try_from(cores).map_or(f64::from(u32::MAX), f64::from);
    let whole = |digits: &str| {
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse::<f64>().ok())
            .flatten()
    };
    let trimmed = text.trim();
    let load = if let Some(n) = trimmed.strip_prefix('+').and_then(whole) {
        cores + n
    } else if let Some(n) = trimmed.strip_prefix('-').and_then(whole) {
        cores - n
    } else if let Some(n) = trimmed.strip_suffix('%').and_then(whole) {
        cores * n / 100.0
    } else if trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && let Ok(n) = trimmed.parse::<f64>()
    {
        n
    } else {
        return Err(format!(
            "{text:?} is not a load: write the most processes running, e.g. 4, 2.5, 100% (of the \
             cores), +2 or -1 (the cores plus or less)"
        ));
    };
    Ok(load.max(0.01))
}

/// `--memfree SIZE` as GNU parallel reads it: bytes, or with `k` `m` `g`
/// `t` (powers of 1000) or `K` `M` `G` `T` (powers of 1024).
pub fn parse_memfree(text: &str) -> Result<u64, String> {
    match crate::pipe::bytes_of(text) {
        // Bytes of memory: a u64 holds them, and a float too large says
        // no more than "all of it".
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(bytes) if bytes >= 0.0 => Ok(bytes as u64),
        _ => Err(format!(
            "{text:?} is not a size: write bytes, e.g. 2G (2 GiB), 500M, 4g (4,000,000,000 bytes)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_load_with, parse_memfree};

    #[test]
    fn loads_as_gnu_parallel_reads_them() {
        assert_eq!(parse_load_with("4", 8), Ok(4.0));
        assert_eq!(parse_load_with("2.5", 8), Ok(2.5));
        assert_eq!(parse_load_with("50%", 8), Ok(4.0));
        assert_eq!(parse_load_with("+2", 8), Ok(10.0));
        assert_eq!(parse_load_with("-2", 8), Ok(6.0));
        assert_eq!(parse_load_with("0", 8), Ok(0.01));
        assert_eq!(parse_load_with("-9", 8), Ok(0.01));
        for bad in ["", "x", "4x", "+", "%", "1.2%", "-1.5", "/etc/load"] {
            assert!(parse_load_with(bad, 8).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn memory_sizes_as_gnu_parallel_reads_them() {
        assert_eq!(parse_memfree("1000"), Ok(1000));
        assert_eq!(parse_memfree("1k"), Ok(1000));
        assert_eq!(parse_memfree("1K"), Ok(1024));
        assert_eq!(parse_memfree("2G"), Ok(2 << 30));
        assert_eq!(parse_memfree("1.5M"), Ok(3 << 19));
        assert_eq!(parse_memfree("1T"), Ok(1 << 40));
        assert!(parse_memfree("lots").is_err());
        assert!(parse_memfree("-1G").is_err());
    }
}
