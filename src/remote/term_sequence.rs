//! How a job past its time limit is stopped: a [`TermSequence`] of
//! signals and waits, as GNU parallel's `--termseq`.
//!
//! The pool sends it to the worker with the job's `CANCEL`; the worker
//! sends each signal to the job's processes and waits, until they are all
//! gone. A job that traps `SIGTERM` to clean up gets to do so, and what it
//! prints meanwhile is its output, as any other.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Signals and the time to wait after each: `TERM,200,TERM,100,TERM,50,KILL,25`
/// sends `SIGTERM`, waits 200 ms, sends it again, waits 100 ms, and so on
/// (the default, GNU parallel's). The wait ends early once the job's
/// processes are gone.
///
/// # Examples
///
/// ```
/// use hearth::remote::TermSequence;
///
/// let seq: TermSequence = "INT,1000,KILL,25".parse()?;
/// assert_eq!(seq.to_string(), "INT,1000,KILL,25");
/// assert_eq!(TermSequence::default().to_string(), "TERM,200,TERM,100,TERM,50,KILL,25");
/// assert!("TERM,forever".parse::<TermSequence>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermSequence {
    steps: Vec<(i32, Duration)>,
}

/// The most steps a sequence has (it travels in one frame).
const MAX_STEPS: usize = 64;

/// The signals a sequence may name, with their numbers.
const SIGNALS: [(&str, i32); 12] = [
    ("TERM", libc::SIGTERM),
    ("KILL", libc::SIGKILL),
    ("INT", libc::SIGINT),
    ("HUP", libc::SIGHUP),
    ("QUIT", libc::SIGQUIT),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("ALRM", libc::SIGALRM),
    ("PIPE", libc::SIGPIPE),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("ABRT", libc::SIGABRT),
];

impl TermSequence {
    /// The steps, in order: a signal's number and the wait after it.
    pub fn steps(&self) -> &[(i32, Duration)] {
        &self.steps
    }

    /// The longest the whole sequence takes: the sum of its waits.
    pub fn total(&self) -> Duration {
        self.steps.iter().map(|(_, wait)| *wait).sum()
    }

    /// The sequence as it travels: signal numbers and waits in
    /// milliseconds.
    pub(crate) fn to_wire(&self) -> Vec<(i32, u32)> {
        self.steps
            .iter()
            .map(|(sig, wait)| (*sig, u32::try_from(wait.as_millis()).unwrap_or(u32::MAX)))
            .collect()
    }

    /// The sequence a `CANCEL` carried; signals this side does not know
    /// are left out, and an empty one is the default.
    pub(crate) fn from_wire(steps: &[(i32, u32)]) -> TermSequence {
        let steps: Vec<(i32, Duration)> = steps
            .iter()
            .filter(|(sig, _)| SIGNALS.iter().any(|(_, n)| n == sig))
            .take(MAX_STEPS)
            .map(|(sig, ms)| (*sig, Duration::from_millis(u64::from(*ms))))
            .collect();
        if steps.is_empty() {
            return TermSequence::default();
        }
        TermSequence { steps }
    }
}

impl Default for TermSequence {
    /// `TERM,200,TERM,100,TERM,50,KILL,25`, as GNU parallel.
    fn default() -> TermSequence {
        let ms = Duration::from_millis;
        TermSequence {
            steps: vec![
                (libc::SIGTERM, ms(200)),
                (libc::SIGTERM, ms(100)),
                (libc::SIGTERM, ms(50)),
                (libc::SIGKILL, ms(25)),
            ],
        }
    }
}

/// The number of signal `name` (`TERM`, `SIGTERM`, `term` or `15`).
fn signal_number(name: &str) -> Option<i32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Ok(number) = bare.parse::<i32>() {
        return SIGNALS.iter().find(|(_, n)| *n == number).map(|(_, n)| *n);
    }
    SIGNALS.iter().find(|(s, _)| *s == bare).map(|(_, n)| *n)
}

/// The name of signal `number`, as a sequence writes it.
fn signal_name(number: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, n)| *n == number)
        .map_or_else(|| number.to_string(), |(s, _)| (*s).to_owned())
}

impl FromStr for TermSequence {
    type Err = String;

    /// Parses `SIGNAL,MS,SIGNAL,MS,...`; a last signal without a wait
    /// waits 0 ms.
    fn from_str(text: &str) -> Result<TermSequence, String> {
        let usage = "write it as signals and the milliseconds to wait after each, \
                     e.g. TERM,200,TERM,100,TERM,50,KILL,25";
        let parts: Vec<&str> = text.split(',').collect();
        if text.trim().is_empty() {
            return Err(format!("the termination sequence is empty: {usage}"));
        }
        let mut steps = Vec::new();
        for pair in parts.chunks(2) {
            let Some(sig) = signal_number(pair[0]) else {
                let names: Vec<&str> = SIGNALS.iter().map(|(s, _)| *s).collect();
                return Err(format!(
                    "{:?} in the termination sequence is not a signal hearth knows ({}): {usage}",
                    pair[0],
                    names.join(", ")
                ));
            };
            let wait = match pair.get(1) {
                None => 0,
                Some(ms) => ms.trim().parse::<u32>().map_err(|_| {
                    format!(
                        "{ms:?} in the termination sequence is not a number of milliseconds: {usage}"
                    )
                })?,
            };
            steps.push((sig, Duration::from_millis(u64::from(wait))));
        }
        if steps.len() > MAX_STEPS {
            return Err(format!(
                "the termination sequence has {} steps, more than {MAX_STEPS}",
                steps.len()
            ));
        }
        Ok(TermSequence { steps })
    }
}

impl fmt::Display for TermSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (sig, wait)) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{},{}", signal_name(*sig), wait.as_millis())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_a_last_signal_without_wait() {
        let seq: TermSequence = "sigint,10,9".parse().unwrap();
        assert_eq!(
            seq.steps(),
            [
                (libc::SIGINT, Duration::from_millis(10)),
                (libc::SIGKILL, Duration::ZERO)
            ]
        );
        assert_eq!(seq.total(), Duration::from_millis(10));
    }

    #[test]
    fn refuses_what_is_not_a_sequence() {
        for bad in ["", "TERM,x", "NOPE,10", "TERM,-1"] {
            let err = bad.parse::<TermSequence>().unwrap_err();
            assert!(err.contains("TERM,200"), "{bad}: {err}");
        }
    }

    #[test]
    fn travels_whole() {
        let seq: TermSequence = "HUP,5,KILL,1".parse().unwrap();
        assert_eq!(TermSequence::from_wire(&seq.to_wire()), seq);
        assert_eq!(TermSequence::from_wire(&[]), TermSequence::default());
    }
}
