//! The `hearth` command: run a command once per input over persistent
//! worker slots, locally, on ssh hosts or on a Slurm cluster (`hearth
//! map`), and be such a slot (`hearth worker`).
//!
//! Exit status: 0 when every job ran and exited 0; 1 when a job failed; 2
//! for a usage error; 3 when the pool failed (every slot that could run the
//! remaining jobs is dead); 130 after Ctrl+C.

/// `eprintln!` that cannot fail the run: a line to a stderr that is closed
/// or full is lost, and the run goes on (a panic here once kept Ctrl+C from
/// stopping new jobs).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod inputs;
mod interrupt;
mod map;
mod output;
mod sh;

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hearth::remote::{self, Handlers};

/// Exit status for usage errors.
const USAGE: u8 = 2;

/// Runs commands over persistent worker slots, locally, over ssh or on a
/// Slurm cluster.
///
/// Like GNU parallel with --sshlogin, but each host keeps its slots (one
/// worker process per slot, one ssh connection or Slurm job each) for the
/// whole run, so thousands of short jobs cost what the jobs cost, not ssh
/// or srun start-ups.
#[derive(Debug, Parser)]
#[command(name = "hearth", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD once per input across the slots of the hosts.
    ///
    /// Inputs are the lines of stdin, or the --arg values, or the words
    /// after `:::`. `{}` in CMD is replaced by the input (shell-quoted);
    /// without `{}` the input is appended. The command line runs with
    /// `sh -c` on the slot's host.
    ///
    /// Examples:
    ///
    ///   seq 1000 | hearth map echo {}
    ///
    ///   hearth map -S node1,node2 -j 4 --tag -- 'gzip -c {} | wc -c' ::: *.log
    ///
    ///   seq 1000 | hearth map --slurm -j 16 --srun-args '--partition=short' -- ./step {}
    #[command(verbatim_doc_comment)]
    Map(Box<MapArgs>),
    /// Serve jobs on stdin/stdout as a slot of a pool (what `hearth map`
    /// starts on each host; the same as `hearth --remote-worker`).
    Worker,
}

/// The options of `hearth map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// Hosts to run on, comma-separated or repeated; `:` is the local
    /// machine (the default). Others are reached with ssh.
    #[arg(
        short = 'S',
        long = "hosts",
        value_name = "H1,H2,..",
        value_delimiter = ','
    )]
    pub hosts: Vec<String>,
    /// Run the slots on a Slurm cluster, each slot one `srun -N1 -n1`
    /// task (a job of its own, or a step with --slurm-alloc/--slurm-jobid);
    /// --tag-host shows the node Slurm picked and the job id, NODE/JOBID.
    #[arg(long, conflicts_with_all = ["hosts", "launcher"])]
    pub slurm: bool,
    /// More srun options for --slurm, e.g. "--partition=short --time=10
    /// --mem=1G" (after hearth's own, so they win).
    #[arg(
        long = "srun-args",
        value_name = "ARGS",
        requires = "slurm",
        allow_hyphen_values = true
    )]
    pub srun_args: Option<String>,
    /// With --slurm: make one allocation with salloc and run the slots as
    /// `--overlap` steps of it, released at the end; for more slots than
    /// the cluster runs as separate jobs.
    #[arg(long = "slurm-alloc", requires = "slurm")]
    pub slurm_alloc: bool,
    /// Options of the salloc of --slurm-alloc, e.g. "-N2 --partition=short"
    /// [default: -N1].
    #[arg(
        long = "salloc-args",
        value_name = "ARGS",
        requires = "slurm_alloc",
        allow_hyphen_values = true
    )]
    pub salloc_args: Option<String>,
    /// With --slurm: run the slots as `--overlap` steps of this existing
    /// allocation (a job id, e.g. $SLURM_JOB_ID inside sbatch).
    #[arg(
        long = "slurm-jobid",
        value_name = "ID",
        requires = "slurm",
        conflicts_with = "slurm_alloc"
    )]
    pub slurm_jobid: Option<String>,
    /// With --slurm: how long a slot's job may wait in the queue; a slot
    /// still pending then counts as a failed start (tried again with
    /// back-off, dead after five).
    #[arg(long = "pending-timeout", value_name = "DURATION", value_parser = parse_time_limit, default_value = "30s")]
    pub pending_timeout: Duration,
    /// Slots per host [default: the number of cores for the local machine,
    /// 2 for an ssh host, 4 for --slurm].
    #[arg(short = 'j', long = "slots", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub slots: Option<u32>,
    /// The ssh command and its options, e.g. "ssh -F ./ssh_config".
    #[arg(long, value_name = "CMD", default_value = "ssh")]
    pub ssh: String,
    /// Start the slots of the hosts with this command instead of ssh;
    /// `{host}` and `{bin}` are replaced, `--remote-worker` is appended
    /// (so end it with {bin}), e.g. "docker exec -i {host} {bin}".
    #[arg(long, value_name = "TEMPLATE")]
    pub launcher: Option<String>,
    /// Where hearth is on the ssh hosts [default: the same path as here].
    #[arg(long = "remote-bin", value_name = "PATH")]
    pub remote_bin: Option<String>,
    /// Time limit of one run of a job, e.g. 10s, 500ms, 2m: a job past it
    /// is killed and fails as timed out (run again only with --retries).
    #[arg(long, value_name = "DURATION", value_parser = parse_time_limit)]
    pub timeout: Option<Duration>,
    /// Attempts per job when its slots fail (a worker that exits or stops
    /// answering); a job's own failure is run again only with --retries.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: u32,
    /// Run a job whose own run failed (non-zero exit, killed by a signal,
    /// timed out) up to N more times, on any slot, as GNU parallel's
    /// --retries; the last run's output is printed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,
    /// How long a slot may stay silent (no answer to hearth's pings)
    /// before it is declared dead and its jobs run again elsewhere: a
    /// stopped worker, a frozen host, a cut network. A worker that hears
    /// nothing from hearth for as long ends itself and its job.
    #[arg(long = "slot-timeout", value_name = "DURATION", value_parser = parse_time_limit, default_value = "30s")]
    pub slot_timeout: Duration,
    /// Jobs in flight per slot.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub window: u32,
    /// Print outputs in input order (the default).
    #[arg(long = "keep-order", short = 'k', conflicts_with = "unordered")]
    pub keep_order: bool,
    /// Print outputs as jobs finish.
    #[arg(long)]
    pub unordered: bool,
    /// Prefix each output line with the input and a tab.
    #[arg(long)]
    pub tag: bool,
    /// Prefix each output line with the host and a tab (with --slurm: the
    /// node and job id, NODE/JOBID).
    #[arg(long = "tag-host")]
    pub tag_host: bool,
    /// One JSON object per job instead of the outputs: seq, input, host,
    /// node, slurm_job, exit, signal, stdout, stderr, attempts (every
    /// start), retries (runs again after a failure of its own), ms, error.
    #[arg(long, conflicts_with_all = ["tag", "tag_host"])]
    pub json: bool,
    /// Show a progress bar on stderr (when it is a terminal).
    #[arg(long)]
    pub progress: bool,
    /// After the first failed job, start no new jobs.
    #[arg(long = "fail-fast")]
    pub fail_fast: bool,
    /// Write one tab-separated line per finished job to FILE: seq, host,
    /// start time, run time, attempts (every start, --retries runs
    /// included; --json tells them apart), exit value, signal, command.
    #[arg(long, value_name = "FILE")]
    pub joblog: Option<std::path::PathBuf>,
    /// An input (repeatable) instead of stdin's lines.
    #[arg(long = "arg", value_name = "VALUE")]
    pub args: Vec<OsString>,
    /// The command and its arguments (everything from its first word on,
    /// options too; `--` before it is allowed); `::: A B C` after them
    /// gives inputs.
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// A duration above zero (a time limit of 0 would fail every attempt).
fn parse_time_limit(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!(
            "{:?} is no time at all: a time limit must be more than 0, e.g. 10s",
            text.trim()
        ));
    }
    Ok(duration)
}

/// Parses `10s`, `500ms`, `2m`, `1h` or a number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; write e.g. 10s, 500ms or 2m"))?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}; use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("{text:?}: {err}"))
}

/// The handlers of a `hearth` worker.
fn handlers() -> Handlers {
    Handlers::new().add(sh::HANDLER, sh::run)
}

fn main() -> ExitCode {
    if remote::is_remote_worker() {
        return remote::serve(handlers());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Worker => remote::serve(handlers()),
        Command::Map(args) => map::run(*args),
    }
}
