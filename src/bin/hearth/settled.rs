//! GNU parallel's options that ask for what `hearth map` already does, or
//! that only settle other options: accepted, so that a GNU parallel
//! command line runs unchanged.
//!
//! - `-M`/`--controlmaster`: the slots of an ssh host always share one
//!   login (one ssh master per host), so there is nothing to switch on.
//! - `--plain`: hearth reads no profile (`~/.parallel/config`, `-J`).
//! - `--compress`, `--compress-program PRG`, `--decompress-program PRG`:
//!   GNU parallel compresses the temporary files it buffers output in;
//!   hearth holds a job's output in memory (or, past 16 MiB with
//!   `--color-failed`, in a temporary file already removed), and prints
//!   the same bytes, so there is nothing to compress.
//! - `--gnu`: hearth has no other mode.
//! - `--silent`: no command line on stdout, whatever `-v` says (GNU
//!   parallel lets it win in either order); `-t` still prints them on
//!   stderr, as in GNU parallel.
//! - `--no-keep-order`: outputs in the order jobs end, whatever `-k` says
//!   (it too wins in either order).
//! - `--group-by` without `--pipe` or `--pipe-part`: implies `--pipe`, as
//!   in GNU parallel.
//! - `-L N` without `--pipe`: `-N N` (with `--pipe` it is the lines of a
//!   record, see `pipe.rs`).
//! - `--minversion VERSION`: prints the version of GNU parallel that
//!   `hearth map` is compared with ([`COMPARED_WITH`]) and exits 0 if it
//!   is VERSION or later, 255 if not, as GNU parallel does; scripts use it
//!   to check that the options they need are there.

use clap::Args;

use crate::{MapArgs, OutputOrder, Verbose};

/// The GNU parallel release whose behaviour `hearth map` is compared with
/// (`tests/parallel_compat`), as `--minversion` gives it.
#[allow(clippy::unreadable_literal)] // A date, as GNU parallel writes it.
pub const COMPARED_WITH: u32 = 20221122;

/// The options of this module.
#[allow(clippy::struct_excessive_bools)] // Flags, each its own option.
#[derive(Clone, Debug, Default, Args)]
pub struct Settled {
    /// Accepted for GNU parallel's sake: the slots of an ssh host always
    /// share one login.
    #[arg(short = 'M', long = "controlmaster", hide = true)]
    pub controlmaster: bool,
    /// Accepted for GNU parallel's sake: hearth reads no profile.
    #[arg(long, hide = true)]
    pub plain: bool,
    /// Accepted for GNU parallel's sake.
    #[arg(long, hide = true)]
    pub gnu: bool,
    /// Accepted for GNU parallel's sake: no temporary files to compress.
    #[arg(long, hide = true)]
    pub compress: bool,
    /// Accepted for GNU parallel's sake, with --compress.
    #[arg(aliases = ["compressprogram", "use-compress-program", "usecompressprogram"], long = "compress-program", value_name = "PRG", hide = true)]
    pub compress_program: Option<String>,
    /// Accepted for GNU parallel's sake, with --compress.
    #[arg(aliases = ["decompressprogram", "use-decompress-program", "usedecompressprogram"], long = "decompress-program", value_name = "PRG", hide = true)]
    pub decompress_program: Option<String>,
    /// Print no command lines on stdout, even with -v (-t still prints
    /// them on stderr).
    #[arg(long)]
    pub silent: bool,
    /// Print each job's output as it finishes, even with -k (as
    /// --unordered).
    #[arg(long = "no-keep-order")]
    pub no_keep_order: bool,
    /// Print the version of GNU parallel that hearth map is compared with
    /// (20221122) and exit: 0 if it is VERSION or later, 255 if not.
    #[arg(long, value_name = "VERSION", value_parser = clap::value_parser!(u32))]
    pub minversion: Option<u32>,
}

impl Settled {
    /// What `--minversion` asks for, if it is given: the line to print and
    /// whether the version is new enough.
    pub fn version_check(&self) -> Option<(String, bool)> {
        self.minversion
            .map(|wanted| (COMPARED_WITH.to_string(), COMPARED_WITH >= wanted))
    }
}

/// Applies `--silent`, `--no-keep-order`, `--group-by` and `-L` to the
/// options they settle.
pub fn settle(args: &mut MapArgs) {
    if args.blocks.group_by.is_some() && !args.blocks.pipe_part {
        args.blocks.pipe = true;
    }
    // -L is -N but with --pipe, where it is the lines of a record.
    let piped = (args.blocks.pipe && !args.blocks.tee) || args.blocks.pipe_part;
    if !piped && args.packing.max_replace_args.is_none() {
        args.packing.max_replace_args = args.packing.lines;
    }
    if args.settled.silent {
        args.verbose = Verbose {
            verbose: false,
            ..args.verbose
        };
    }
    if args.settled.no_keep_order {
        args.order = OutputOrder {
            keep_order: false,
            unordered: true,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unreadable_literal)] // Dates, as GNU parallel writes them.
    fn minversion_compares_with_the_release_hearth_map_follows() {
        let check = |wanted| {
            Settled {
                minversion: Some(wanted),
                ..Settled::default()
            }
            .version_check()
        };
        assert_eq!(check(20130722), Some(("20221122".to_owned(), true)));
        assert_eq!(check(20221122), Some(("20221122".to_owned(), true)));
        assert_eq!(check(20221123), Some(("20221122".to_owned(), false)));
        assert_eq!(Settled::default().version_check(), None);
    }
}
