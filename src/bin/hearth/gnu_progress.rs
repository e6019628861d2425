//! GNU parallel's `--progress`, `--eta` and `--bar` as the text it writes
//! on a stderr that is no terminal, for `hearth` started as `parallel`
//! (on a terminal, and as `hearth map`, the progress bar of `map.rs`).
//! The run's reporter tells it of each job that ends ([`GnuProgress::done`])
//! and of the run's end ([`GnuProgress::finish`]); it writes each state
//! after a carriage return, and the last one with a newline, as GNU
//! parallel 20221122 does (less its updates between job ends, twice to
//! five times a second, which a run on another machine would not repeat
//! either). The terminal is taken as 80 columns wide, GNU parallel's
//! width when it finds none.

// Counts of jobs and seconds far below 2^52, exact as floats; figures
// cut to whole numbers as Perl's int() and %d cut them.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// GNU parallel's width of a terminal it cannot measure.
const COLUMNS: usize = 80;

/// Which of GNU parallel's texts: `--bar` wins over `--eta`, which adds
/// the time left to `--progress`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// `--progress`: jobs running and done, per computer.
    Progress,
    /// `--eta`: the time left, then `--progress`'s text.
    Eta,
    /// `--bar`: a bar of the jobs done, as text with reverse video.
    Bar,
}

/// Where a run is, as GNU parallel's texts count it.
#[derive(Clone, Copy, Debug)]
pub struct State {
    /// Jobs ended.
    pub done: usize,
    /// Jobs in all (those read so far, while the inputs are read).
    pub total: usize,
    /// Jobs running.
    pub running: usize,
}

/// GNU parallel's progress text on stderr (see the module's doc).
#[derive(Debug)]
pub struct GnuProgress {
    shown: Shown,
    /// When the run started, in whole seconds (Perl's `$^T`).
    start: u64,
    /// When the first job ended, in whole seconds.
    first_done: Option<u64>,
    /// GNU parallel's smoothed average time of a job.
    smoothed: f64,
    /// The time left last shown.
    last_eta: i64,
    /// The number of jobs, when known before they run.
    listed: Option<usize>,
    /// The newest job known to have started, and its input (`--bar`
    /// shows it).
    newest: Option<(usize, Vec<u8>)>,
}

/// Now, in whole seconds since the epoch, as Perl's `time`.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl GnuProgress {
    /// The text `shown` for a run of `slots` slots on this machine, of
    /// `listed` jobs if known before they run, which writes its head at
    /// once (`--progress`, `--eta`: the computers, then the columns'
    /// names).
    pub fn start(shown: Shown, slots: usize, listed: Option<usize>) -> GnuProgress {
        if shown != Shown::Bar {
            write(&format!(
                "\nComputers / CPU cores / Max jobs to run\n1:local / {} / {slots}\n\n\
                 Computer:jobs running/jobs completed/%of started jobs/Average seconds to \
                 complete\n",
                crate::machine::cores()
            ));
        }
        GnuProgress {
            shown,
            start: now(),
            first_done: None,
            smoothed: 0.0,
            last_eta: 0,
            listed,
            newest: None,
        }
    }

    /// The number of jobs, when known before they run.
    pub fn listed(&self) -> Option<usize> {
        self.listed
    }

    /// Job `index`, of input `input`, has started: the newest, unless a
    /// later one was seen.
    pub fn saw(&mut self, index: usize, input: Vec<u8>) {
        if self.newest.as_ref().is_none_or(|(at, _)| *at < index) {
            self.newest = Some((index, input));
        }
    }

    /// A job ended: the run is at `state`.
    pub fn done(&mut self, state: State) {
        let text = self.status(state);
        write(&format!("\r{text}"));
    }

    /// The run ended at `state`: its last state, and a newline.
    pub fn finish(&mut self, state: State) {
        let text = self.status(state);
        write(&format!("\r{text}\n"));
    }

    fn status(&mut self, state: State) -> String {
        let eta = self.eta(state);
        match self.shown {
            Shown::Bar => {
                let newest = self.newest.as_ref().map_or(&[][..], |(_, input)| input);
                bar(&eta, &String::from_utf8_lossy(newest))
            }
            Shown::Eta => format!(
                "ETA: {}s Left: {} AVG: {:.2}s  {}",
                eta.seconds,
                eta.left,
                eta.average,
                self.computers(state)
            ),
            Shown::Progress => self.computers(state),
        }
    }

    /// GNU parallel's line of the computers (this one): jobs running,
    /// done, the share of the started ones, and the seconds a job took
    /// on average since the start.
    fn computers(&self, state: State) -> String {
        let started = state.done + state.running;
        if started == 0 {
            return String::new();
        }
        let average = if state.done == 0 {
            0.0
        } else {
            (now().saturating_sub(self.start)) as f64 / state.done as f64
        };
        format!(
            "local:{}/{}/{}%/{average:.1}s ",
            state.running,
            state.done,
            started * 100 / started
        )
    }

    /// GNU parallel's estimate of the time left, smoothed as it does.
    fn eta(&mut self, state: State) -> Eta {
        let total = state.total.max(state.done);
        let left = total - state.done;
        if state.done == 0 {
            return Eta {
                done: 0,
                left,
                share: 0.0,
                average: 0.0,
                seconds: 0,
            };
        }
        let share = (state.done as f64 / total as f64).min(100.0);
        let now = now();
        let first = *self.first_done.get_or_insert(now);
        let average = now.saturating_sub(first) as f64 / state.done as f64;
        if self.smoothed == 0.0 {
            self.smoothed = average;
        }
        self.smoothed = (1.0 - share) * self.smoothed + share * average;
        // Whole seconds, as Perl's int().
        let mut seconds = (left as f64 * self.smoothed) as i64;
        // Up by less than a tenth: the last estimate stays.
        if (seconds as f64) * 0.9 < self.last_eta as f64 && self.last_eta < seconds {
            seconds = self.last_eta;
        } else {
            self.last_eta = seconds;
        }
        Eta {
            done: state.done,
            left,
            share,
            average,
            seconds,
        }
    }
}

/// GNU parallel's estimate.
struct Eta {
    done: usize,
    left: usize,
    /// The share of the jobs done, 0 to 1.
    share: f64,
    /// Seconds a job took on average since the first ended.
    average: f64,
    /// Seconds left.
    seconds: i64,
}

/// GNU parallel's `--bar` text: the line a `zenity` would read, the
/// percentage alone, then the bar, the text in reverse video as far as
/// the jobs done reach.
fn bar(eta: &Eta, newest: &str) -> String {
    const REVERSE: &str = "\x1b[7m";
    const RESET: &str = "\x1b[0m";
    // Whole percents, as Perl's %d.
    let percent = (eta.share * 100.0) as u64;
    let text = format!(
        "{percent}% {}:{}={} {newest}",
        eta.done,
        eta.left,
        time_units(eta.seconds)
    );
    let mut line: Vec<char> = text
        .chars()
        .chain(std::iter::repeat(' '))
        .take(COLUMNS)
        .collect();
    let reach = ((COLUMNS as f64 * eta.share) as usize).min(COLUMNS);
    line.splice(reach..reach, RESET.chars());
    let line: String = line.into_iter().collect();
    let zenity: String = format!("#   {} sec {newest}", eta.seconds)
        .chars()
        .chain(std::iter::repeat(' '))
        .take(COLUMNS)
        .collect();
    format!(
        "\r{zenity}\r{}\r{REVERSE}{line}{RESET}",
        perl_number(eta.share * 100.0)
    )
}

/// Seconds as GNU parallel writes them: `1d02h03m04s`, `2h03m04s`,
/// `3m04s`, `4s`.
fn time_units(seconds: i64) -> String {
    let (d, rest) = (seconds / 86_400, seconds % 86_400);
    let (h, rest) = (rest / 3600, rest % 3600);
    let (m, s) = (rest / 60, rest % 60);
    if d != 0 {
        format!("{d}d{h:02}h{m:02}m{s:02}s")
    } else if h != 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m != 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// A number as Perl prints it: 15 significant digits, no trailing zeros
/// (`33.3333333333333`, `100`).
fn perl_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() {
            "0".to_owned()
        } else {
            x.to_string()
        };
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = usize::try_from(14 - magnitude).unwrap_or(0);
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Writes `text` on stderr at once; a stderr that cannot be written
/// loses it, as a progress bar would.
fn write(text: &str) {
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

#[cfg(test)]
mod tests {
    use super::{Eta, bar, perl_number, time_units};

    #[test]
    fn numbers_as_perl_prints_them() {
        assert_eq!(perl_number(100.0 / 3.0), "33.3333333333333");
        assert_eq!(perl_number(200.0 / 3.0), "66.6666666666667");
        assert_eq!(perl_number(100.0), "100");
        assert_eq!(perl_number(0.0), "0");
        assert_eq!(perl_number(12.5), "12.5");
    }

    #[test]
    fn time_units_as_gnu_parallels() {
        assert_eq!(time_units(4), "4s");
        assert_eq!(time_units(184), "3m04s");
        assert_eq!(time_units(7384), "2h03m04s");
        assert_eq!(time_units(93_784), "1d02h03m04s");
    }

    #[test]
    fn the_bar_is_reversed_as_far_as_the_jobs_done() {
        let eta = Eta {
            done: 1,
            left: 3,
            share: 0.25,
            average: 0.0,
            seconds: 0,
        };
        let text = bar(&eta, "a");
        let zenity = format!("#   0 sec a{}", " ".repeat(69));
        let line = format!("25% 1:3=0s a{}", " ".repeat(68));
        let (done, rest) = line.split_at(20);
        assert_eq!(
            text,
            format!("\r{zenity}\r25\r\x1b[7m{done}\x1b[0m{rest}\x1b[0m")
        );
    }
}
