//! `--color`, `--ctag` and `--ctagstring`: each job's output lines in a
//! colour of its own, as GNU parallel colours them.
//!
//! A job's colour is a background and a readable foreground from a table
//! of 307 pairs of the 256-colour palette, in the order GNU parallel
//! gives them (adjacent entries unlike), picked by the job's sequence
//! number. A coloured line is the colour, the tag (if any), the line with
//! each carriage return turned into reset, return, colour and tag, then
//! the reset and a newline, which a last line without one gets as well.
//! GNU parallel asks `tput` for the sequences that clear to the end of
//! the line and reset; without a terminal it falls back to `ESC[K` and
//! `ESC[m`, which hearth always writes.
//!
//! `--ctag` is `--tag` with colour, `--ctagstring STR` `--tagstring STR`
//! with colour. Nothing is coloured with `--ungroup`, or in JSON, the
//! results or the file names of `--files`, as in GNU parallel.
//!
//! `--color-failed` (`--cf`) colours the output of a job that failed white
//! on red, the others plain (or in their colour with `--color`), each line
//! ended as a coloured one is, as GNU parallel does. The colour is known
//! once the job has ended, so with it a job's output is held until then
//! (in memory up to 16 MiB, then in a temporary file: `held.rs`; grouped
//! output only: with `--line-buffer` lines are printed before
//! the job ends, and GNU parallel does not colour them red either).

use std::sync::OnceLock;

use clap::Args;

use crate::MapArgs;
use crate::streams::Grouping;

/// The colour options.
#[derive(Clone, Debug, Default, Args)]
pub struct Colors {
    /// Colour each job's output lines, a colour per job (not with -u).
    #[arg(long, alias = "colour")]
    pub color: bool,
    /// --tag with colour.
    #[arg(long)]
    pub ctag: bool,
    /// --tagstring STR with colour.
    #[arg(aliases = ["ctag-string"], long, value_name = "STR")]
    pub ctagstring: Option<String>,
    /// Colour the output of failed jobs white on red (their output is
    /// held until they end).
    #[arg(aliases = ["colour-failed", "colorfailed", "colourfailed", "color-fail", "colour-fail", "colorfail", "colourfail"], long = "color-failed", visible_alias = "cf")]
    pub color_failed: bool,
}

impl Colors {
    /// Whether the outputs are coloured.
    pub fn colored(&self) -> bool {
        self.color || self.ctag || self.ctagstring.is_some()
    }
}

/// How the outputs of a run are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coloring {
    /// Each job in its colour (`--color`, `--ctag`, `--ctagstring`).
    pub per_job: bool,
    /// A failed job in white on red, its output held until it ends
    /// (`--color-failed`, grouped output).
    pub failed: bool,
}

/// How the outputs of a run are coloured: as asked, where they are
/// printed (not with `--ungroup`, JSON, the results or `--files`).
pub fn coloring(args: &MapArgs, grouping: Grouping) -> Coloring {
    let printed = grouping != Grouping::Ungroup
        && !args.output.json
        && args.results.is_none()
        && crate::output::files_dir(args).is_none();
    Coloring {
        per_job: printed && args.colors.colored(),
        failed: printed && args.colors.color_failed && grouping == Grouping::Group,
    }
}

/// A job's colour, around each of its lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Color {
    /// Before the line (and its tag).
    pub start: Vec<u8>,
    /// Before its newline, and before each carriage return in it.
    pub reset: &'static [u8],
}

impl Color {
    /// The colour of job `seq`.
    pub fn of_job(seq: usize) -> Color {
        Color {
            start: of_job(seq),
            reset: RESET,
        }
    }

    /// A failed job's: white on red.
    pub fn failed() -> Color {
        Color {
            start: b"\x1b[48;5;196;38;5;231m\x1b[K".to_vec(),
            reset: RESET,
        }
    }

    /// No colour, the lines written as coloured ones are (a job that did
    /// not fail, with `--color-failed` alone): each ends with a newline.
    pub fn plain() -> Color {
        Color::default()
    }
}

/// Turns `--ctag` and `--ctagstring` into the tags they are. As in GNU
/// parallel, they go with `--tag` and `--tagstring`, and a `--tagstring`
/// wins over `--ctagstring`.
pub fn settle(args: &mut MapArgs) {
    if args.colors.ctag && args.tagstring.is_none() {
        args.tag = true;
    }
    if args.tagstring.is_none()
        && let Some(text) = &args.colors.ctagstring
    {
        args.tag = false;
        args.tagstring = Some(text.clone());
    }
}

/// What ends a coloured line, before its newline or carriage return.
const RESET: &[u8] = b"\x1b[m";

/// What starts the lines of job `seq`: its colour, and a clear to the end
/// of the line (so the background fills it).
fn of_job(seq: usize) -> Vec<u8> {
    let table = table();
    let (background, foreground) = table[seq % table.len()];
    format!("\x1b[48;5;{background:03};38;5;{foreground:03}m\x1b[K").into_bytes()
}

/// The pairs (background, foreground) in GNU parallel's order.
fn table() -> &'static [(u8, u8)] {
    static TABLE: OnceLock<Vec<(u8, u8)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        const BLACK: u8 = 0;
        const WHITE: u8 = 231;
        // Backgrounds readable with black text, then with white text.
        let on_black: &[(u8, u8)] = &[
            (6, 7),
            (9, 11),
            (13, 15),
            (40, 51),
            (75, 87),
            (113, 123),
            (147, 159),
            (171, 182),
            (185, 231),
            (249, 254),
        ];
        let on_white: &[(u8, u8)] = &[
            (1, 9),
            (12, 13),
            (16, 45),
            (52, 81),
            (88, 114),
            (124, 149),
            (160, 178),
            (180, 180),
            (182, 184),
            (196, 214),
            (232, 250),
        ];
        let pairs: Vec<(u8, u8)> = on_black
            .iter()
            .flat_map(|&(from, to)| (from..=to).map(|b| (b, BLACK)))
            .chain(
                on_white
                    .iter()
                    .flat_map(|&(from, to)| (from..=to).map(|b| (b, WHITE))),
            )
            .collect();
        // GNU parallel's reordering, found by its authors to keep
        // neighbours unlike: by index mod 23, then by index mod 7
        // descending, ties in order (Perl's sort is stable, as is this).
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.sort_by(|&a, &b| (a % 23).cmp(&(b % 23)).then((b % 7).cmp(&(a % 7))));
        order.into_iter().map(|i| pairs[i]).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_get_gnu_parallels_colours() {
        assert_eq!(table().len(), 307);
        // As GNU parallel 20221122 colours jobs 1, 2, 3 and 307.
        assert_eq!(of_job(1), b"\x1b[48;5;134;38;5;231m\x1b[K");
        assert_eq!(of_job(2), b"\x1b[48;5;021;38;5;231m\x1b[K");
        assert_eq!(of_job(3), b"\x1b[48;5;243;38;5;231m\x1b[K");
        assert_eq!(of_job(307), b"\x1b[48;5;185;38;5;000m\x1b[K");
        assert_eq!(of_job(308), of_job(1));
    }
}
