//! GNU parallel's options that ask for what `hearth map` already does, or
//! that only settle other options: accepted, so that a GNU parallel
//! command line runs unchanged.
//!
//! - `-M`/`--controlmaster`: the slots of an ssh host always share one
//!   login (one ssh master per host), so there is nothing to switch on.
//! - `--plain`, `-J NAME` (`--profile`): which profiles are read before
//!   the command line (`profile.rs`).
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
//! - hearth started as `parallel` (a link of that name): outputs in the
//!   order jobs end unless `-k` is given, GNU parallel's default (`hearth
//!   map` keeps the input order by default).
//! - `--group-by`, `--cat` and `--fifo` without `--pipe` or
//!   `--pipe-part`: imply `--pipe`, as in GNU parallel.
//! - `-n 0`: `-N 0`.
//! - `-L N` without `--pipe`: `-N N` (with `--pipe` it is the lines of a
//!   record, see `pipe.rs`).
//! - `-s N` above GNU parallel's limit (`batch::MAX_CHARS`): the limit,
//!   with GNU parallel's warning, so that `-m` and `-X` make the same
//!   jobs.
//! - `--version` (`-V`) prints hearth's version and the GNU parallel
//!   release it follows; `--max-line-length-allowed` the longest command
//!   line the system runs; `--show-limits` that and `-s`'s limit before
//!   the run, in GNU parallel's words.
//! - `--minversion VERSION`: prints the version of GNU parallel that
//!   `hearth map` is compared with ([`COMPARED_WITH`]) and exits 0 if it
//!   is VERSION or later, 255 if not, as GNU parallel does; scripts use it
//!   to check that the options they need are there.

use clap::Args;

use crate::batch::MAX_CHARS;
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
    /// Read no profile: neither ~/.parallel/config (and GNU parallel's
    /// other config files) nor -J's, nor $PARALLEL.
    #[arg(long)]
    pub plain: bool,
    /// Read the options of profile NAME (a file of GNU parallel's config
    /// directories, ~/.parallel/NAME) instead of ~/.parallel/config, before
    /// the command line's (repeatable).
    #[arg(short = 'J', long = "profile", value_name = "NAME")]
    pub profile: Vec<String>,
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
    #[arg(aliases = ["nokeeporder", "nok", "no-k"], long = "no-keep-order")]
    pub no_keep_order: bool,
    /// Print the version of GNU parallel that hearth map is compared with
    /// (20221122) and exit: 0 if it is VERSION or later, 255 if not.
    #[arg(long, value_name = "VERSION", value_parser = clap::value_parser!(u32))]
    pub minversion: Option<u32>,
    /// Print hearth's version and the GNU parallel release whose command
    /// lines hearth map runs (20221122), and exit.
    #[arg(short = 'V', long)]
    pub version: bool,
    /// Print the longest command line this system runs (one argument to
    /// the shell, less its NUL) and exit.
    #[arg(aliases = ["maxlinelengthallowed"], long = "max-line-length-allowed")]
    pub max_line_length_allowed: bool,
    /// Print the limits on command lines (the system's and -s's), then
    /// run as usual.
    #[arg(aliases = ["showlimits"], long = "show-limits")]
    pub show_limits: bool,
    /// Write down the names of the variables set now (a clean
    /// environment) in GNU parallel's file of ignored variables under
    /// ~/.parallel, for --env _, and exit.
    #[arg(aliases = ["recordenv"], long = "record-env")]
    pub record_env: bool,
    /// GNU parallel's check that the hosts answer before the run: hearth
    /// leaves a host that cannot be reached out anyway (said once, its
    /// jobs run on the others), so this changes nothing.
    #[arg(long = "filter-hosts", alias = "filterhosts")]
    pub filter_hosts: bool,
}

/// The longest command line Linux runs: the shell takes it as one
/// argument, at most `MAX_ARG_STRLEN` (128 KiB) with its NUL.
pub const LONGEST_LINE: usize = 128 * 1024 - 1;

impl Settled {
    /// What `--version` or `--max-line-length-allowed` asks to print
    /// instead of a run, if one of them is given.
    pub fn answer(&self) -> Option<String> {
        if self.version {
            Some(format!(
                "hearth {}, a drop-in for GNU parallel {COMPARED_WITH}",
                env!("CARGO_PKG_VERSION")
            ))
        } else if self.max_line_length_allowed {
            Some(LONGEST_LINE.to_string())
        } else {
            None
        }
    }

    /// What `--show-limits` prints before the run, GNU parallel's lines
    /// with hearth's limits, for a run whose `-s` is `max_chars`.
    pub fn limits(&self, max_chars: Option<usize>) -> Option<String> {
        self.show_limits.then(|| {
            format!(
                "Maximal size of command: {LONGEST_LINE}\n\
                 Maximal usable size of command: {}\n\n\
                 Execution will continue now, and it will try to read its input\n\
                 and run commands; if this is not what you wanted to happen, please\n\
                 press CTRL-D or CTRL-C\n",
                max_chars.unwrap_or(MAX_CHARS).min(MAX_CHARS)
            )
        })
    }

    /// What `--minversion` asks for, if it is given: the line to print and
    /// whether the version is new enough.
    pub fn version_check(&self) -> Option<(String, bool)> {
        self.minversion
            .map(|wanted| (COMPARED_WITH.to_string(), COMPARED_WITH >= wanted))
    }
}

/// Applies `--silent`, `--no-keep-order`, `--group-by`, `--cat`,
/// `--fifo`, `-L` and `-s` to the options they settle.
pub fn settle(args: &mut MapArgs) {
    let blocks = &args.blocks;
    if (blocks.group_by.is_some() || blocks.cat || blocks.fifo) && !blocks.pipe_part {
        args.blocks.pipe = true;
    }
    // -n 0 is -N 0, as in GNU parallel: no input in the command.
    if args.packing.max_args == Some(0) {
        args.packing.max_args = None;
        args.packing.max_replace_args = Some(0);
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
    if let Some(asked) = args.packing.max_chars
        && asked > MAX_CHARS
    {
        // GNU parallel's words, and its limit kept.
        say!(
            "hearth map: warning: -s {asked} is more than GNU parallel takes; using -s {MAX_CHARS}"
        );
        args.packing.max_chars = Some(MAX_CHARS);
    }
    // hearth started as `parallel` prints as GNU parallel does: outputs
    // as jobs end unless -k.
    let as_parallel = args.order.as_parallel && !args.order.keep_order;
    if args.settled.no_keep_order || as_parallel {
        args.order = OutputOrder {
            keep_order: false,
            unordered: true,
            as_parallel: args.order.as_parallel,
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
