//! `--halt` of `hearth map`, as GNU parallel has it: when to stop a run
//! early (`fail=N`, `fail=P%`, `success=N`, `success=P%`, `done=N`,
//! `done=P%`) and how (`soon`: start no new job, let the running ones
//! finish; `now`: kill them too); `--fail-fast` is `--halt soon,fail=1`.
//! The old forms `0`, `1`, `2`, `-1`, `-2` and `P%` are taken too.
//!
//! The state here counts the jobs as they are reported and says when the
//! condition is met; the exit status of a run follows from it (see
//! [`Tally::exit_status`]).

/// How a run halts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Start no new job; the running ones finish.
    Soon,
    /// Kill the running jobs too.
    Now,
}

/// Which jobs count toward the halt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    Fail,
    Success,
    Done,
}

/// How many jobs it takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    Count(usize),
    /// Of all the jobs of the run.
    Percent(f64),
}

/// A `--halt` condition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Halt {
    pub when: When,
    pub why: Why,
    pub threshold: Threshold,
}

impl Halt {
    /// `--fail-fast`.
    pub const FAIL_FAST: Halt = Halt {
        when: When::Soon,
        why: Why::Fail,
        threshold: Threshold::Count(1),
    };

    /// True if the threshold is a share of all the jobs (which must then
    /// be known before the run).
    pub fn is_percent(&self) -> bool {
        matches!(self.threshold, Threshold::Percent(_))
    }
}

/// Parses `--halt`'s value (`never` and `0` are `None`).
pub fn parse(text: &str) -> Result<Option<Halt>, String> {
    let fail = |when, n| Halt {
        when,
        why: Why::Fail,
        threshold: Threshold::Count(n),
    };
    let success = |when| Halt {
        when,
        why: Why::Success,
        threshold: Threshold::Count(1),
    };
    let old = match text.trim() {
        "never" | "0" => return Ok(None),
        "1" => Some(fail(When::Soon, 1)),
        "2" => Some(fail(When::Now, 1)),
        "-1" => Some(success(When::Soon)),
        "-2" => Some(success(When::Now)),
        _ => None,
    };
    if old.is_some() {
        return Ok(old);
    }
    let bad = || {
        format!(
            "--halt {text:?}: give WHEN,WHY=N: WHEN now or soon, WHY fail, success or done, N a \
             number of jobs or a percentage, e.g. --halt soon,fail=1 or --halt now,fail=10%"
        )
    };
    let text = text.trim();
    if let Some(percent) = text.strip_suffix('%')
        && !text.contains(',')
    {
        return Ok(Some(Halt {
            when: When::Soon,
            why: Why::Fail,
            threshold: threshold(&format!("{percent}%")).ok_or_else(bad)?,
        }));
    }
    let (when, rest) = text.split_once(',').ok_or_else(bad)?;
    let when = match when {
        "now" => When::Now,
        "soon" => When::Soon,
        _ => return Err(bad()),
    };
    let (why, amount) = rest.split_once('=').ok_or_else(bad)?;
    let why = match why {
        "fail" => Why::Fail,
        "success" => Why::Success,
        "done" => Why::Done,
        _ => return Err(bad()),
    };
    Ok(Some(Halt {
        when,
        why,
        threshold: threshold(amount).ok_or_else(bad)?,
    }))
}

/// `N` (at least 1) or `P%` (above 0, at most 100).
fn threshold(text: &str) -> Option<Threshold> {
    match text.strip_suffix('%') {
        Some(percent) => {
            let p: f64 = percent.parse().ok()?;
            (p > 0.0 && p <= 100.0).then_some(Threshold::Percent(p))
        }
        None => {
            let n: usize = text.parse().ok()?;
            (n > 0).then_some(Threshold::Count(n))
        }
    }
}

/// The jobs of a run as they are reported, and the halt they lead to.
#[derive(Debug, Default)]
pub struct Tally {
    halt: Option<Halt>,
    /// Every job of the run, when known before it (for percentages).
    total: Option<usize>,
    pub failed: usize,
    pub succeeded: usize,
    /// The exit status of the last job that failed (255 for a job that
    /// failed without one).
    last_failed_status: Option<i32>,
    /// The largest exit status of a failed job, 0 if none failed.
    largest_status: i32,
    /// The halt happened.
    pub halted: Option<When>,
    /// The exit status when the halt happened: the run's, whatever the
    /// jobs still running then do (GNU parallel's `soon,fail=1` exits
    /// with the first failure's status, `fail=2` with 2, a percentage
    /// with the share then).
    at_halt: Option<u8>,
}

impl Tally {
    /// The `--halt` condition, if any.
    pub fn halt(&self) -> Option<Halt> {
        self.halt
    }

    pub fn new(halt: Option<Halt>, total: Option<usize>) -> Tally {
        Tally {
            halt,
            total,
            ..Tally::default()
        }
    }

    /// Counts a job that ran: `Ok(())` if it succeeded, else its exit
    /// status. Returns how to halt, once, when the condition is met.
    pub fn ran(&mut self, result: Result<(), i32>) -> Option<When> {
        match result {
            Ok(()) => self.succeeded += 1,
            Err(status) => {
                self.failed += 1;
                self.last_failed_status = Some(status);
                self.largest_status = self.largest_status.max(status.rem_euclid(256));
            }
        }
        let halt = self.halt?;
        if self.halted.is_some() {
            return None;
        }
        let count = match halt.why {
            Why::Fail => self.failed,
            Why::Success => self.succeeded,
            Why::Done => self.failed + self.succeeded,
        };
        let met = match halt.threshold {
            Threshold::Count(n) => count >= n,
            Threshold::Percent(p) => {
                let total = self.total.unwrap_or(count).max(1);
                #[allow(clippy::cast_precision_loss)] // Job counts far below 2^53: exact.
                let met = count as f64 * 100.0 >= p * total as f64;
                met
            }
        };
        if met {
            self.halted = Some(halt.when);
            self.at_halt = Some(match (halt.why, halt.threshold) {
                // As fail=1: the job's own status (0 if it succeeded).
                (Why::Done, Threshold::Count(1)) => result.map_or_else(as_exit_status, |()| 0),
                // GNU parallel takes the smaller of its count of failures
                // and 101, and its count is unset while none failed: 101.
                (Why::Done, Threshold::Count(_)) if self.failed == 0 => 101,
                _ => self.exit_status(),
            });
        }
        self.halted
    }

    /// The largest exit status of the jobs (as an exit status: -2 is
    /// 254), as pdsh's -S gives it; 0 when none failed.
    pub fn largest_status(&self) -> u8 {
        u8::try_from(self.largest_status).unwrap_or(255)
    }

    /// The exit status for the jobs, as GNU parallel's: 0 when none
    /// failed (or a `success` halt was met); with `fail=1` (and `done=1`,
    /// at the halt), the job's own status; with `done=N` met while none
    /// failed, 101 (GNU parallel's); with a percentage, the share of jobs
    /// that failed (rounded up); else the number of failed jobs, 101 for
    /// more than 100.
    pub fn exit_status(&self) -> u8 {
        if let Some(status) = self.at_halt {
            return status;
        }
        if let Some(halt) = self.halt {
            if halt.why == Why::Success && self.halted.is_some() {
                return 0;
            }
            if self.failed > 0 {
                match halt.threshold {
                    Threshold::Count(1) if halt.why == Why::Fail => {
                        return as_exit_status(self.last_failed_status.unwrap_or(255));
                    }
                    Threshold::Percent(_) => {
                        let total = self.total.unwrap_or(self.failed + self.succeeded).max(1);
                        let share = (self.failed * 100).div_ceil(total);
                        return u8::try_from(share.clamp(1, 100)).unwrap_or(100);
                    }
                    Threshold::Count(_) => {}
                }
            }
        }
        match self.failed {
            0 => 0,
            n if n > 100 => 101,
            n => u8::try_from(n).unwrap_or(101),
        }
    }
}

/// A failed job's status as an exit status: -2 (a skipped job) is 254,
/// and never 0.
fn as_exit_status(status: i32) -> u8 {
    u8::try_from(status.rem_euclid(256)).unwrap_or(255).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("0"), Ok(None));
        assert_eq!(parse("never"), Ok(None));
        assert_eq!(parse("1"), Ok(Some(Halt::FAIL_FAST)));
        assert_eq!(
            parse("now,fail=10%").unwrap().unwrap().threshold,
            Threshold::Percent(10.0)
        );
        let halt = parse("now,success=3").unwrap().unwrap();
        assert_eq!(
            (halt.when, halt.why, halt.threshold),
            (When::Now, Why::Success, Threshold::Count(3))
        );
        assert_eq!(
            parse("20%").unwrap().unwrap().threshold,
            Threshold::Percent(20.0)
        );
        for bad in [
            "later,fail=1",
            "soon,fail=0",
            "soon,oops=1",
            "soon",
            "soon,fail=x",
            "0%",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// What GNU parallel 20221122 exits with, job by job at -j1.
    #[test]
    fn exit_statuses() {
        let run = |halt: &str, statuses: &[i32]| {
            let mut tally = Tally::new(parse(halt).unwrap(), Some(statuses.len()));
            for &status in statuses {
                let result = if status == 0 { Ok(()) } else { Err(status) };
                if tally.ran(result).is_some() {
                    break;
                }
            }
            tally.exit_status()
        };
        assert_eq!(run("now,fail=1", &[0, 3, 0, 5]), 3);
        assert_eq!(run("soon,fail=2", &[0, 3, 0, 5, 7, 0]), 2);
        assert_eq!(run("now,success=2", &[3, 0, 4, 0, 5]), 0);
        assert_eq!(run("soon,done=2", &[3, 0, 4, 0, 5]), 1);
        assert_eq!(run("now,done=1", &[3, 0]), 3);
        assert_eq!(run("now,done=1", &[0, 3]), 0);
        // GNU parallel's 101: its count of failures is unset.
        assert_eq!(run("now,done=2", &[0, 0, 3]), 101);
        assert_eq!(run("soon,done=3", &[0, 4, 0, 3]), 1);
        assert_eq!(run("soon,fail=50%", &[0, 0, 4, 4, 4, 0, 0, 0]), 38);
        assert_eq!(run("never", &[0, 3, 0, 5]), 2);
        assert_eq!(run("never", &[1; 150]), 101);
    }

    /// The jobs still running at a halt end after it, as they end, but
    /// the exit status is the one at the halt (GNU parallel's, at -j4:
    /// `soon,fail=2` on four failing jobs exits 2; `soon,fail=1` with
    /// the first failure's status).
    #[test]
    fn exit_status_is_the_one_at_the_halt() {
        let run = |halt: &str, statuses: &[i32]| {
            let mut tally = Tally::new(parse(halt).unwrap(), Some(statuses.len()));
            for &status in statuses {
                let _ = tally.ran(if status == 0 { Ok(()) } else { Err(status) });
            }
            tally.exit_status()
        };
        assert_eq!(run("soon,fail=2", &[1, 2, 3, 4]), 2);
        assert_eq!(run("soon,fail=1", &[3, 1, 5]), 3);
        assert_eq!(run("now,fail=1", &[0, 4, 9]), 4);
        assert_eq!(run("soon,fail=20%", &[0, 1, 0, 0, 1, 1, 0, 0, 0, 1]), 20);
        assert_eq!(run("soon,success=1", &[0, 1, 1]), 0);
    }
}
