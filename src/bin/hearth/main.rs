//! The `hearth` command: run a command once per input over persistent
//! worker slots, locally, on ssh hosts or on a Slurm cluster (`hearth
//! map`), and be such a slot (`hearth worker`).
//!
//! Exit status, as GNU parallel's: 0 when every job ran and exited 0 (or
//! there was none); 1 to 100 the number of failed jobs, 101 for more
//! (`--halt` may say otherwise); 130 after Ctrl+C; 255 for hearth's own
//! errors (usage, a pool that failed, inputs or outputs that failed).

/// `eprintln!` that cannot fail the run: a line to a stderr that is closed
/// or full is lost, and the run goes on (a panic here once kept Ctrl+C from
/// stopping new jobs).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod bash_edit;
mod batch;
mod binning;
mod block_file;
mod block_timeout;
mod color;
mod each_host;
mod edit;
mod filter;
mod gnu_progress;
mod group_by;
mod halt;
mod held;
mod hosts;
mod inputs;
mod joblog;
mod load;
mod machine;
mod map;
mod output;
mod parallel_options;
mod pdsh;
mod pdsh_hosts;
mod perl_expr;
mod pipe;
mod pipe_part;
mod plan;
mod pool_setup;
mod profile;
mod rec_sep;
mod replace;
mod results;
mod run;
mod semaphore;
mod settled;
mod sh;
mod shebang;
mod shell;
mod sources;
mod streams;
mod summary;
mod trace;
mod world;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hearth::remote::{self, Handlers};
use run::RunArgs;

/// Exit status for hearth's own errors: usage, a pool that failed, an
/// input or output that failed (as GNU parallel's 255).
const OWN_ERROR: u8 = 255;

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

// The doc comments here are the `--help` text, printed as written:
// Markdown backticks and angle brackets would show.
#[allow(clippy::doc_markdown)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run CMD once per input across the slots of the hosts.
    ///
    /// Inputs are the lines of stdin, or of the files after `::::` (or
    /// -a), or the --arg values, or the words after `:::`; several sources
    /// combine (every value with every value of the next; `:::+` and
    /// `::::+` pair them instead); no inputs at all is a run that did
    /// nothing (exit 0). The command line runs on the slot's host with
    /// SHELL -c, the shell GNU parallel would take: $PARALLEL_SHELL, else
    /// the shell that started hearth (a POSIX one; csh and fish give sh),
    /// else $SHELL, else sh.
    ///
    /// Replacement strings, as in GNU parallel, each value shell-quoted:
    /// {} the input, {.} without its extension, {/} basename, {//}
    /// dirname, {/.} basename without extension, {#} the job's number,
    /// {%} the slot's number, {1} {2} .. {-1} one input of several (and
    /// {1.} {1/} {1//} {1/.}); with none, the inputs are appended;
    /// --plus adds GNU parallel's {..} {+/} {+.} {##} and the like;
    /// {= perl =} and {=N perl =} run Perl code on the input in $_ (with
    /// @arg, $job->seq(), total_jobs(), Q(), uq() and skip(), as GNU
    /// parallel's). A string like these that hearth does not know ({0},
    /// or {..} without --plus) is an error.
    ///
    /// Coming from GNU parallel: its command lines run unchanged where
    /// both have the feature, with the same output and exit status. What
    /// differs: outputs keep the input order by default (-k; --unordered
    /// for as they end; hearth started as `parallel` prints them as they
    /// end unless -k, as GNU parallel); each ssh host keeps its slots for the whole run
    /// (-S host -j 4, not 4/host); --delay paces the jobs handed to the
    /// slots; --retries is GNU parallel's and --attempts counts the tries
    /// of a job whose slot fails; a CR before a newline is dropped; a
    /// caller's csh or fish runs jobs with sh; --pipe blocks over ssh go
    /// over the slot's own
    /// connection; --load and --memfree hold this machine's slots only.
    /// An option of GNU parallel's that hearth lacks ({= =},
    /// --round-robin, --semaphore, ...) is an error that says so.
    ///
    /// Examples:
    ///
    ///   seq 1000 | hearth map echo {}
    ///
    ///   hearth map -S node1,node2 -j 4 --tag -- 'gzip -c {} | wc -c' ::: *.log
    ///
    ///   seq 1000 | hearth map --slurm -j 16 --srun-args '--partition=short' -- ./step {}
    ///
    ///   cat big.log | hearth map --pipe --block 10M -k 'grep -c ERROR'
    #[command(
        verbatim_doc_comment,
        args_override_self = true,
        infer_long_args = true
    )]
    Map(Box<MapArgs>),
    /// Run CMD once on every host, as pdsh does: lines prefixed `host: `
    /// as they come, a summary of the hosts that failed on stderr.
    ///
    /// The same as `hearth map --nonall --line-buffer` with pdsh's way of
    /// printing. Exit status: 0 when the command exited 0 on every host;
    /// else the number of hosts where it failed or that could not be
    /// reached (at most 101); 255 for hearth's own errors.
    ///
    /// pdsh's environment is read too: $WCOLL (the hosts without -S or
    /// -w), $FANOUT (-f), $PDSH_CONNECT_TIMEOUT (-t),
    /// $PDSH_COMMAND_TIMEOUT (-u), $PDSH_SSH_ARGS (its ssh options; -l%u
    /// and %h are hearth's) and $PDSH_SSH_ARGS_APPEND (more ssh options),
    /// $DSHPATH (the PATH of the command on the hosts), $PDSH_RCMD_TYPE
    /// (ssh only).
    ///
    /// Examples:
    ///
    ///   hearth run -S node[1-16] uptime
    ///
    ///   hearth run -S admin@db1,db2:2222 -- df -h /var
    #[command(verbatim_doc_comment, args_override_self = true)]
    Run(Box<RunArgs>),
    /// A counting semaphore for shell scripts, as GNU parallel's sem (the
    /// same as `hearth map --semaphore`).
    ///
    /// Takes one of the -j slots of the semaphore named by --id (1 by
    /// default: a mutex), waiting for one to be free; then runs CMD (as
    /// hearth map runs commands) in the background, its output printed
    /// whole when it ends, and exits 0 at once (--fg: runs CMD here and
    /// exits with its status). The slot is free again when CMD ends, or
    /// if it dies.
    /// --wait waits until every command of the semaphore ended. The
    /// semaphores are in ~/.cache/hearth/semaphores. No replacement
    /// strings: CMD runs as written.
    ///
    /// Examples:
    ///
    ///   for f in *.log; do hearth sem -j+0 gzip "$f"; done; hearth sem --wait
    ///
    ///   hearth sem --id db --fg ./migrate
    #[command(verbatim_doc_comment)]
    Sem(Box<semaphore::SemArgs>),
    /// Serve jobs on stdin/stdout as a slot of a pool (what `hearth map`
    /// starts on each host; the same as `hearth --remote-worker`).
    Worker,
    /// Convert a trace written by a runtime built with `Setup::trace` into
    /// Chrome's trace-event JSON, for Perfetto (https://ui.perfetto.dev) or
    /// chrome://tracing.
    Trace(TraceArgs),
}

/// The options of `hearth map`.
// The doc comments here are the `--help` text, printed as written:
// Markdown backticks and angle brackets would show.
#[allow(clippy::doc_markdown)]
#[derive(Clone, Debug, Args)]
pub struct MapArgs {
    /// Hosts to run on, comma-separated or repeated, with pdsh's ranges
    /// (`node[1-4,7]`, `n[01-16]`); `:` is the local machine (the
    /// default). Others are reached with ssh: `host`, `user@host`,
    /// `host:port`; `N/host` runs N slots there (instead of -j).
    #[arg(
        short = 'S',
        long = "hosts",
        visible_alias = "sshlogin",
        value_name = "H1,H2,.."
    )]
    pub hosts: Vec<String>,
    /// Hosts from FILE (repeatable): one per line, as -S takes them
    /// (`N/host` for N slots on it, `user@host:port`, `:` for this
    /// machine, ranges), blank lines and `#` comments skipped. `..` is
    /// ~/.parallel/sshloginfile, and a bare name not found here is looked
    /// for in ~/.parallel, as GNU parallel does.
    #[arg(long = "sshloginfile", visible_alias = "slf", value_name = "FILE")]
    pub login_files: Vec<PathBuf>,
    #[command(flatten)]
    pub each_host: EachHost,
    #[command(flatten)]
    pub slurm_options: SlurmOptions,
    /// Slots per host: N (1 to 1024), N% of the cores, +N or -N (the
    /// cores plus or less N), 0 (1024) [default: the number of cores for
    /// the local machine, 2 for an ssh host, 4 for --slurm]. Cores are
    /// this machine's.
    #[arg(aliases = ["maxprocs"], short = 'j', long = "slots", visible_alias = "jobs", alias = "max-procs", short_alias = 'P', value_name = "N", value_parser = pool_setup::SlotsSpec::parse, allow_hyphen_values = true)]
    pub slots: Option<pool_setup::SlotsSpec>,
    /// The ssh command and its options, e.g. "ssh -F ./ssh_config".
    #[arg(long, value_name = "CMD", default_value = "ssh")]
    pub ssh: String,
    /// Start at most one ssh per DURATION (a host's login, each slot's
    /// session over it), for servers that refuse connections opened too
    /// fast; seconds (0.2) or with units (200ms).
    #[arg(long = "ssh-delay", visible_alias = "sshdelay", value_name = "DURATION", value_parser = parse_duration)]
    pub ssh_delay: Option<Duration>,
    /// Start the slots of the hosts with this command instead of ssh;
    /// `{host}` and `{bin}` are replaced, `--remote-worker` is appended
    /// (so end it with {bin}), e.g. "docker exec -i {host} {bin}".
    #[arg(long, value_name = "TEMPLATE")]
    pub launcher: Option<String>,
    /// Where hearth is on the ssh hosts [default: the same path as here].
    #[arg(long = "remote-bin", value_name = "PATH")]
    pub remote_bin: Option<String>,
    /// Copy this hearth to each ssh host that has no copy of it, over the
    /// first slot's own connection, into ~/.cache/hearth (same system and
    /// architecture only, checked), and run that: the hosts need nothing
    /// installed.
    #[arg(long = "install-worker", conflicts_with_all = ["remote_bin", "launcher", "slurm"])]
    pub install_worker: bool,
    /// Set the variable NAME for the jobs on every host, with its value
    /// here (repeatable, or NAME1,NAME2; sent once per slot; not set here:
    /// not sent). An exported bash function (export -f NAME) is sent as
    /// one; `_` sends every variable --record-env did not write down.
    #[arg(long, value_name = "NAME")]
    pub env: Vec<String>,
    /// Run the jobs in DIR on every host (made if missing; relative: to
    /// the current directory here, the home directory elsewhere); `.` the
    /// same directory relative to the home directory as here; `...` a
    /// fresh temporary directory per job, removed after it.
    #[arg(aliases = ["work-dir"], long, visible_alias = "wd", value_name = "DIR")]
    pub workdir: Option<String>,
    #[command(flatten)]
    pub files: FileTransfer,
    /// Time limit of one run of a job, e.g. 10s, 500ms, 2m, or N% of the
    /// median run time of the jobs that succeeded so far (none until one
    /// did), e.g. 200%: a job past it is stopped (see --termseq) and fails
    /// as timed out (run again only with --retries).
    #[arg(long, value_name = "DURATION|N%", value_parser = parse_job_time_limit, allow_negative_numbers = true)]
    pub timeout: Option<JobTimeLimit>,
    /// How a job past --timeout is stopped: signals to its processes and
    /// the milliseconds to wait after each, until they are gone. What the
    /// job prints meanwhile (a trap cleaning up) is its output.
    #[arg(
        long = "termseq",
        visible_alias = "term-seq",
        value_name = "SEQUENCE",
        default_value = "TERM,200,TERM,100,TERM,50,KILL,25"
    )]
    pub term_sequence: hearth::remote::TermSequence,
    /// Attempts per job when its slots fail (a worker that exits or stops
    /// answering); a job's own failure is run again only with --retries.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100), allow_negative_numbers = true)]
    pub attempts: u32,
    /// Run a job whose own run failed (non-zero exit, killed by a signal,
    /// timed out) again, on any slot, until it has run N times in all, as
    /// GNU parallel's --retries (0: until it succeeds); the last run's
    /// output is printed.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub retries: Option<u32>,
    /// How long a slot may stay silent (no answer to hearth's pings)
    /// before it is declared dead and its jobs run again elsewhere: a
    /// stopped worker, a frozen host, a cut network. A worker that hears
    /// nothing from hearth for as long ends itself and its job.
    #[arg(long = "slot-timeout", value_name = "DURATION", value_parser = parse_time_limit, default_value = "30s", allow_negative_numbers = true)]
    pub slot_timeout: Duration,
    /// Jobs sent ahead to each slot, fixed. Without it a slot's window
    /// adapts to its link: from 1, growing up to 64 while its worker idles
    /// for round trips that are long next to its jobs (ssh, Slurm and
    /// --launcher slots; local slots keep 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub window: Option<u32>,
    #[command(flatten)]
    pub order: OutputOrder,
    /// Prefix each output line with the input and a tab.
    #[arg(long)]
    pub tag: bool,
    /// Prefix each output line with STR (replacement strings replaced,
    /// their values as they are, and \t, \n, \r, \NNN as in printf) and
    /// a tab; with --tag, STR wins.
    #[arg(aliases = ["tag-string"], long, value_name = "STR")]
    pub tagstring: Option<String>,
    #[command(flatten)]
    pub grouping: GroupingArgs,
    /// Save each job's output in NAME/1/<input>/stdout, stderr and seq
    /// (NAME/1/<input 1>/2/<input 2>/.. for several; the columns' names
    /// with --header :), as GNU parallel does, instead of printing it. A
    /// NAME ending in .csv, .tsv or .json is one file with a row per job:
    /// the joblog's columns, the inputs, Stdout and Stderr (-.csv, -.tsv,
    /// -.json: on stdout). As in GNU parallel, a --pipe job has no input:
    /// every job's files are NAME/stdout, stderr and seq (the last job's
    /// are left when jobs run one at a time, -j1); a --pipe-part job's
    /// input is a NUL and "noarg" (NAME/1/\0noarg/..).
    #[arg(
        long,
        visible_alias = "res",
        alias = "result",
        value_name = "NAME",
        allow_hyphen_values = true
    )]
    pub results: Option<PathBuf>,
    #[command(flatten)]
    pub resume_from: ResumeArgs,
    /// Accepted for GNU parallel's sake: hearth asks for no citation
    /// (`--no-notice` is GNU parallel's older name for it).
    #[arg(aliases = ["willcite", "nonotice", "nn"], long = "will-cite", alias = "no-notice", hide = true)]
    pub will_cite: bool,
    #[command(flatten)]
    pub output: OutputForm,
    #[command(flatten)]
    pub halting: Halting,
    #[command(flatten)]
    pub throttling: Throttling,
    /// Hand the slots one job per DURATION at most (e.g. 0.5, 200ms): a
    /// job that waits for a busy slot may start sooner after the one
    /// before it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, allow_negative_numbers = true)]
    pub delay: Option<Duration>,
    /// Write one line per job that ran to FILE, in GNU parallel's
    /// format: Seq, Host (`:` for this machine), Starttime, JobRuntime,
    /// Send, Receive, Exitval, Signal, Command, tab-separated. As in GNU
    /// parallel, a job killed past --timeout or for --memfree shows
    /// Exitval -1 and Signal 15, and one killed by --halt now has no line.
    #[arg(long, visible_alias = "jl", value_name = "FILE")]
    pub joblog: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub packing: Packing,
    #[command(flatten)]
    pub blocks: PipeBlocks,
    #[command(flatten)]
    pub scheduling: Scheduling,
    /// Use STR instead of `{}`.
    #[arg(short = 'I', value_name = "STR")]
    pub replace: Option<String>,
    /// GNU parallel's older -I: `--replace=STR` is -I STR, and
    /// `--replace` alone is -I {}.
    #[arg(
        long = "replace",
        value_name = "STR",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "{}",
        conflicts_with = "replace"
    )]
    pub replace_old: Option<String>,
    #[command(flatten)]
    pub running: Running,
    #[command(flatten)]
    pub counts: machine::Counts,
    #[command(flatten)]
    pub verbose: Verbose,
    #[command(flatten)]
    pub settled: settled::Settled,
    #[command(flatten)]
    pub colors: color::Colors,
    #[command(flatten)]
    pub as_files: AsFiles,
    /// Use STR instead of `{.}`.
    #[arg(long = "extensionreplace", visible_alias = "er", value_name = "STR")]
    pub extension_replace: Option<String>,
    /// Use STR instead of `{/}`.
    #[arg(long = "basenamereplace", visible_alias = "bnr", value_name = "STR")]
    pub basename_replace: Option<String>,
    /// Use STR instead of `{//}`.
    #[arg(long = "dirnamereplace", visible_alias = "dnr", value_name = "STR")]
    pub dirname_replace: Option<String>,
    /// Use STR instead of `{/.}`.
    #[arg(
        long = "basenameextensionreplace",
        visible_alias = "bner",
        value_name = "STR"
    )]
    pub basename_extension_replace: Option<String>,
    /// Use STR instead of `{#}`.
    #[arg(long = "seqreplace", value_name = "STR")]
    pub seq_replace: Option<String>,
    /// Use STR instead of `{%}`.
    #[arg(long = "slotreplace", value_name = "STR")]
    pub slot_replace: Option<String>,
    /// The semaphore's options (--semaphore and those that imply it).
    #[command(flatten)]
    pub semaphore_options: semaphore::SemOptions,
    /// The command and its arguments (everything from its first word on,
    /// options too; `--` before it is allowed); `::: A B C` after them
    /// gives inputs. Without a command, each job's inputs are its command
    /// line (`hearth map ::: 'echo a' 'echo b'`, or a file of command
    /// lines on stdin), as in GNU parallel.
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// Runs on every host instead of over the slots (--nonall, --onall), and
/// `hearth run`'s pdsh-style output.
#[derive(Clone, Debug, Args)]
pub struct EachHost {
    /// Run CMD once on every host, with no inputs (GNU parallel's
    /// --nonall): -j hosts at once (all of them by default), the
    /// output grouped per host, `--tag` prefixes its lines with the host;
    /// each host counts as a job for the exit status, and a host that
    /// cannot be reached is said and counted as failed.
    #[arg(long, conflicts_with_all = ["onall", "slurm"])]
    pub nonall: bool,
    /// Run every input on every host (GNU parallel's --onall): -j hosts at
    /// once, each running its inputs one at a time in order; the output
    /// grouped per host, in the order of the hosts, `--tag` prefixes its
    /// lines with the host; the exit status counts the hosts where a job
    /// failed.
    #[arg(long, conflicts_with = "slurm")]
    pub onall: bool,
    /// At most N jobs run at once over all the hosts: with --nonall, N
    /// hosts at a time (pdsh's -f fanout; a rolling restart is -f 1). At
    /// most N slots are up at once too: a host's slot starts when it has
    /// a job, and closes when done if another host waits.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub fanout: Option<u32>,
    /// `hearth run`: a summary of failures by host, and lines prefixed
    /// `host: ` unless pdsh's -N said otherwise.
    #[arg(skip)]
    pub pdsh: Option<Pdsh>,
}

/// How `hearth run` prints, as pdsh does.
#[derive(Clone, Copy, Debug)]
pub struct Pdsh {
    /// Each line prefixed `host: ` (no -N).
    pub names: bool,
    /// pdsh's -S: the exit status is the largest of the commands'.
    pub largest_status: bool,
    /// Started as `pdsh`: without -S, exit 0 whatever the commands did,
    /// as pdsh does.
    pub as_pdsh: bool,
    /// pdsh's remote command module.
    pub rcmd: Rcmd,
}

/// pdsh's remote command module (`-R`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rcmd {
    /// The command runs on each host over ssh, by its shell.
    Ssh,
    /// The command runs here, once per host (a name for `%h`), without a
    /// shell.
    Exec,
}

/// Slots on a Slurm cluster: steps of their own, or of an allocation.
// The doc comments here are the `--help` text, printed as written:
// Markdown backticks and angle brackets would show.
#[allow(clippy::doc_markdown)]
#[derive(Clone, Debug, Args)]
pub struct SlurmOptions {
    /// Run the slots on a Slurm cluster, each slot one `srun -N1 -n1`
    /// task (a job of its own, or a step with --slurm-alloc/--slurm-jobid);
    /// --tag-host shows the node Slurm picked and the job id, NODE/JOBID.
    #[arg(long, conflicts_with_all = ["hosts", "login_files", "launcher"])]
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
    /// With --slurm: run the slots as `--overlap` steps of this running
    /// allocation (a job id, e.g. $SLURM_JOB_ID inside sbatch), its nodes
    /// in turn; hearth does not release it.
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
}

/// Files sent with each job and brought back from its host.
#[derive(Clone, Debug, Args)]
pub struct FileTransfer {
    /// Send each job's input file ({}) to its host before the job runs,
    /// over the slot's own connection (relative: into the job's working
    /// directory there; absolute: to the same path). This machine's slots
    /// share its files.
    #[arg(long)]
    pub transfer: bool,
    /// Send FILE (replacement strings replaced) to the job's host before
    /// it runs (repeatable).
    #[arg(aliases = ["transfer-file", "transfer-files", "transferfiles"], long = "transferfile", visible_alias = "tf", value_name = "FILE")]
    pub transfer_files: Vec<String>,
    /// Bring FILE (replacement strings replaced, e.g. {.}.out) back from
    /// the job's host once it ran, to the same path here (repeatable).
    #[arg(long = "return", value_name = "FILE")]
    pub returns: Vec<String>,
    /// Remove the files sent and brought back from the job's host once it
    /// is done.
    #[arg(long)]
    pub cleanup: bool,
    /// --transfer --return FILE --cleanup (repeatable).
    #[arg(long, value_name = "FILE")]
    pub trc: Vec<String>,
    /// Before each job runs, write FILE's text with its replacement
    /// strings replaced into OUT (its replacement strings replaced too),
    /// as GNU parallel's --tmpl; --cleanup removes OUT once the job is
    /// done (repeatable). Jobs on this machine only.
    #[arg(long = "tmpl", visible_alias = "template", value_name = "FILE=OUT")]
    pub templates: Vec<String>,
    /// Send FILE to each slot on an ssh (or --launcher, Slurm) host once,
    /// before its first job, to the same path there (relative: into the
    /// jobs' working directory) (repeatable); --cleanup removes it at the
    /// end. This machine's slots share its files.
    #[arg(long = "basefile", visible_alias = "bf", value_name = "FILE")]
    pub base_files: Vec<String>,
}

/// In which order the jobs' outputs are printed.
#[derive(Clone, Debug, Args)]
pub struct OutputOrder {
    /// Print outputs in input order (the default): the first job's as it
    /// comes, the others' when their turn comes (held in memory, and in
    /// temporary files in $TMPDIR past 16 MiB).
    #[arg(aliases = ["keeporder"], long = "keep-order", short = 'k', overrides_with = "unordered")]
    pub keep_order: bool,
    /// Print each job's output whole as it finishes (the later of -k and
    /// --unordered wins, so that a profile's -k can be undone).
    #[arg(long, overrides_with = "keep_order")]
    pub unordered: bool,
    /// Started as `parallel`: outputs as jobs end unless -k, GNU
    /// parallel's default.
    #[arg(long = "as-parallel", hide = true)]
    pub as_parallel: bool,
}

/// Whether a job's output is printed as one block, by lines or as it comes.
#[derive(Clone, Debug, Args)]
pub struct GroupingArgs {
    /// Print each job's output as one block (the default).
    #[arg(long, short_alias = 'g')]
    pub group: bool,
    /// Print the lines of running jobs as they come, whole lines only
    /// (a line left without its end comes when its job ends); with -k the
    /// first job's as they come, the others' after it, in input order.
    #[arg(aliases = ["linebuffer", "line-buffered", "linebuffered"], long = "line-buffer", visible_alias = "lb", conflicts_with = "group")]
    pub line_buffer: bool,
    /// Print the output of running jobs as it comes, bytes and all (lines
    /// of jobs may mix; no tags, and -k has no say, as in GNU parallel).
    #[arg(short = 'u', long, conflicts_with = "group")]
    pub ungroup: bool,
}

/// Which jobs a run that appends to its joblog skips.
#[derive(Clone, Debug, Args)]
pub struct ResumeArgs {
    /// With --joblog: skip the jobs the joblog shows as done (by their
    /// sequence numbers) and append to it; with --results (a directory),
    /// also those whose results are there.
    #[arg(long)]
    pub resume: bool,
    /// With --joblog: skip the jobs the joblog shows as succeeded, run the
    /// others, and append to it.
    #[arg(aliases = ["resumefailed"], long = "resume-failed", requires = "joblog", conflicts_with = "resume")]
    pub resume_failed: bool,
    /// With --joblog: run again, with their numbers, the command lines of
    /// the jobs the joblog shows as failed, and append to it; the command
    /// and inputs given here are not used (GNU parallel's).
    #[arg(aliases = ["retryfailed"], long = "retry-failed", requires = "joblog", conflicts_with_all = ["resume", "resume_failed"])]
    pub retry_failed: bool,
}

/// What is printed with or instead of the outputs: the host, JSON, a
/// progress bar.
// The doc comments here are the `--help` text, printed as written:
// Markdown backticks and angle brackets would show.
#[allow(clippy::doc_markdown)]
#[derive(Clone, Debug, Args)]
pub struct OutputForm {
    /// Prefix each output line with the host and a tab (with --slurm: the
    /// node and job id, NODE/JOBID).
    #[arg(long = "tag-host")]
    pub tag_host: bool,
    /// One JSON object per job instead of the outputs: seq, input, host,
    /// node, slurm_job, exit, signal, stdout, stderr, attempts (every
    /// start), retries (runs again after a failure of its own), ms, error.
    #[arg(long, conflicts_with_all = ["tag", "tag_host"])]
    pub json: bool,
    /// --progress, --eta, --bar.
    #[command(flatten)]
    pub progress: ProgressForm,
    /// The number of jobs the progress bar counts to, when the inputs are
    /// read as the jobs run (stdin) and the total is not known before.
    #[arg(aliases = ["totaljobs"], long = "total-jobs", visible_alias = "total", value_name = "N", value_parser = positive)]
    pub total_jobs: Option<usize>,
}

/// The progress shown on stderr.
// The doc comments here are the `--help` text, as `OutputForm`'s.
#[allow(clippy::doc_markdown)]
#[derive(Clone, Debug, Args)]
pub struct ProgressForm {
    /// Show a progress bar on stderr (when it is a terminal): jobs done
    /// of all, rate, time left. Started as parallel, on a stderr that is
    /// no terminal: GNU parallel's lines of jobs running and done.
    #[arg(long)]
    pub progress: bool,
    /// As --progress; started as parallel, on a stderr that is no
    /// terminal: GNU parallel's lines with the time left first.
    #[arg(long)]
    pub eta: bool,
    /// As --progress; started as parallel, on a stderr that is no
    /// terminal: GNU parallel's bar, as text.
    #[arg(long)]
    pub bar: bool,
}

impl OutputForm {
    /// True if --progress, --eta or --bar is given.
    pub fn shows_progress(&self) -> bool {
        let shown = &self.progress;
        shown.progress || shown.eta || shown.bar
    }
}

/// `--files`: each job's stdout in a file of its own, its name printed.
#[derive(Clone, Debug, Args)]
pub struct AsFiles {
    /// Put each job's stdout in a new file (named parXXXXX.par, in
    /// --tmpdir) and print the file's name instead, as its output (tagged
    /// with --tag); stderr is printed as usual. The files stay.
    #[arg(long, visible_aliases = ["output-as-files", "outputasfiles"], conflicts_with_all = ["json", "results"])]
    pub files: bool,
    /// Where --files puts its files, and --cat and --fifo theirs on the
    /// jobs' hosts [default: $TMPDIR, else /tmp].
    #[arg(aliases = ["tempdir"], long, value_name = "DIR")]
    pub tmpdir: Option<PathBuf>,
}

/// When the run stops early.
#[derive(Clone, Debug, Args)]
pub struct Halting {
    /// After the first failed job, start no new jobs (--halt
    /// soon,fail=1).
    #[arg(long = "fail-fast", conflicts_with = "halt")]
    pub fail_fast: bool,
    /// Stop the run early, as GNU parallel: WHEN,WHY=N with WHEN `soon`
    /// (start no new job) or `now` (kill the running ones too), WHY
    /// `fail`, `success` or `done`, N a number of jobs or a percentage of
    /// all of them, e.g. `soon,fail=3`, `now,fail=10%`, `now,success=1`.
    #[arg(
        long,
        visible_alias = "halt-on-error",
        value_name = "WHEN,WHY=N",
        allow_hyphen_values = true
    )]
    pub halt: Option<String>,
}

/// When this machine is too busy to start jobs (GNU parallel's --load,
/// --memfree).
// The doc comments here are the `--help` text, printed as written:
// Markdown backticks and angle brackets would show.
#[allow(clippy::doc_markdown)]
#[derive(Clone, Debug, Args)]
pub struct Throttling {
    /// Start no job on this machine's slots while MAX processes or more
    /// run on it: those running or ready to run now (from /proc/loadavg,
    /// as GNU parallel counts them; not the 1-minute average), the jobs
    /// just started counted until they show. MAX: N, N.N, N% of the
    /// cores, +N or -N (the cores plus or less N). Looked at again every
    /// second. Slots on ssh hosts and Slurm are not held (GNU parallel
    /// reads their load; hearth does not).
    #[arg(
        long,
        value_name = "MAX",
        value_parser = load::parse_load,
        allow_hyphen_values = true
    )]
    pub load: Option<f64>,
    /// Start no job on this machine's slots while less than SIZE of memory
    /// is available (MemAvailable in /proc/meminfo), e.g. 2G (k m g t:
    /// powers of 1000, K M G T: of 1024). Below half of SIZE the youngest
    /// job running here is killed, and runs again once there is memory
    /// only within --retries, as in GNU parallel. Slots on ssh hosts and
    /// Slurm are not held.
    #[arg(long, value_name = "SIZE", value_parser = load::parse_memfree)]
    pub memfree: Option<u64>,
    /// Read loadavg and meminfo in DIR instead of /proc (a container's own
    /// view, or files a test writes).
    #[arg(long = "proc-dir", value_name = "DIR", hide = true)]
    pub proc_dir: Option<PathBuf>,
}

/// How the command line of a job is made and runs.
#[derive(Clone, Debug, Args)]
pub struct Running {
    /// GNU parallel's further replacement strings: {..} and {...} (without
    /// 2 or 3 extensions), {/..} {/...} (the basename so), {+/} (before
    /// the last /), {+.} {+..} {+...} (the last 1, 2 or 3 extensions),
    /// {##} (the number of jobs; every input is read first) and {0#} (the
    /// job's number, zero-padded to that width); also after a position
    /// ({1..}, {2+.}); and edits as in bash: {:-text} {:n} {:n:m} {#re}
    /// {%re} {/re/text} {//re/text} {^re} {^^re} {,re} {,,re}.
    #[arg(long)]
    pub plus: bool,
    /// Define a replacement string of your own: TAG stands for the Perl
    /// code after it, as {= PERL =} does (repeatable; a TAG beginning with
    /// { also takes a position: --rpl '{ext} s:.*\.::' gives {ext} and
    /// {2ext}).
    #[arg(long, value_name = "'TAG PERL'", value_parser = rpl)]
    pub rpl: Vec<(Vec<u8>, String)>,
    /// Quote the command's words, so that each stays one word for the
    /// shell (`-q perl -e 'print "a b"'`); replacement strings in them
    /// still work, their values quoted with the word.
    #[arg(short = 'q', long = "quote")]
    pub quote: bool,
    /// Run the jobs at this niceness, added to the slot's (the system
    /// keeps it within -20 to 19; below 0 needs the privilege on the
    /// slot's host).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub nice: Option<i32>,
    /// Set the variable NAME of each job to its slot's number less one
    /// (from 0), as GNU parallel does ({%} counts from 1).
    #[arg(aliases = ["processslotvar"], long = "process-slot-var", value_name = "NAME", value_parser = variable_name)]
    pub process_slot_var: Option<String>,
}

/// A shell variable's name: letters, digits and underscores, not starting
/// with a digit.
fn variable_name(name: &str) -> Result<String, String> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{name:?} is not a variable name: use letters, digits and underscores, not a digit first"
        ))
    }
}

/// Showing the command lines of the jobs as they run.
#[derive(Clone, Copy, Debug, Args)]
pub struct Verbose {
    /// Print each job's command line on stdout, as the first line of its
    /// output (tagged with --tag as its lines are).
    #[arg(short = 'v')]
    pub verbose: bool,
    /// Print each job's command line on stderr, as its output starts (or
    /// as it ends, if it prints nothing); --verbose is the same, as in GNU
    /// parallel.
    #[arg(short = 't', long = "verbose")]
    pub trace: bool,
}

/// Where the inputs come from and how they split into jobs' fields.
#[allow(clippy::struct_excessive_bools)] // Flags, each its own option.
#[derive(Clone, Debug, Args)]
pub struct InputArgs {
    /// An input (repeatable) instead of stdin's lines; it may begin with
    /// `-` (`--arg -n`), as inputs after `:::` and on stdin may. With
    /// `:::`, the values go before the first `:::` list's.
    #[arg(long = "arg", value_name = "VALUE", allow_hyphen_values = true)]
    pub args: Vec<OsString>,
    /// Inputs from the lines of FILE (repeatable; `-` is stdin), as
    /// `:::: FILE` after the command; several combine as several `:::` do.
    #[arg(aliases = ["argfile"], short = 'a', long = "arg-file", value_name = "FILE")]
    pub arg_files: Vec<PathBuf>,
    /// Inputs end with NUL instead of a newline (for `find -print0`).
    #[arg(short = '0', long = "null", conflicts_with = "delimiter")]
    pub null: bool,
    /// Inputs end with DELIM instead of a newline (any string; `\n`, `\t`,
    /// `\0`, `\xHH` as in C).
    #[arg(
        short = 'd',
        long = "delimiter",
        value_name = "DELIM",
        allow_hyphen_values = true
    )]
    pub delimiter: Option<String>,
    /// Split each input into columns where REGEX matches: `{1}` `{2}` ...
    #[arg(aliases = ["col-sep"], 
        short = 'C',
        long = "colsep",
        value_name = "REGEX",
        allow_hyphen_values = true
    )]
    pub colsep: Option<String>,
    /// `--header :`: the first input of each source names its columns,
    /// for `{name}` in CMD (any value but 0 does, as in GNU parallel;
    /// 0: no header). With --pipe, a header that goes before every
    /// block: N lines (`:` is 1), or what REGEX matches at the start.
    #[arg(long, value_name = ": | N | REGEX")]
    pub header: Option<String>,
    /// Skip the first line of the first input source (of stdin with
    /// --pipe, of each file with --pipe-part), as GNU parallel's
    /// --skip-first-line.
    #[arg(aliases = ["skipfirstline"], long = "skip-first-line")]
    pub skip_first_line: bool,
    /// Take whitespace off each input (each column with --colsep): l at
    /// its start, r at its end, lr or rl both, n none [default: n; lr
    /// with --colsep, as GNU parallel].
    #[arg(long, value_name = "n|l|r|lr", value_parser = sources::Trim::parse)]
    pub trim: Option<sources::Trim>,
    /// Skip inputs that are empty or only whitespace: a stdin of blank
    /// lines runs nothing.
    #[arg(aliases = ["norunifempty"], short = 'r', long = "no-run-if-empty")]
    pub no_run_if_empty: bool,
    /// An input equal to STR ends the inputs of its source: neither it
    /// nor what follows it is used.
    #[arg(
        short = 'E',
        long = "eof",
        value_name = "STR",
        allow_hyphen_values = true
    )]
    pub eof: Option<OsString>,
    /// Take the sources side by side instead of every value with every
    /// value of the next: the first job gets the first value of each, and
    /// so on to the end of the longest, a shorter source starting again
    /// from its first value.
    #[arg(long, visible_alias = "xapply")]
    pub link: bool,
    /// The word that begins a list of inputs after the command, instead
    /// of `:::` (`SEP+` links it, as `:::+`).
    #[arg(aliases = ["argsep"], long = "arg-sep", value_name = "SEP", allow_hyphen_values = true)]
    pub arg_sep: Option<String>,
    /// The word that begins a list of input files after the command,
    /// instead of `::::` (`SEP+` links it, as `::::+`).
    #[arg(aliases = ["argfilesep"], long = "arg-file-sep", value_name = "SEP", allow_hyphen_values = true)]
    pub arg_file_sep: Option<String>,
}

/// How many inputs go to one job.
#[derive(Clone, Debug, Args)]
pub struct Packing {
    /// N inputs per job: `{1}` to `{N}` (and `{}` all of them); with
    /// --pipe, N records per block.
    /// `{}` in a longer word repeats the word for each input, as with -X.
    /// -N 0 takes one input a job and puts none in the command.
    #[arg(aliases = ["maxreplaceargs"], short = 'N', long = "max-replace-args", value_name = "N", value_parser = whole)]
    pub max_replace_args: Option<usize>,
    /// As -N N, as in GNU parallel (a trailing blank does not join an
    /// input line to the next); with --pipe, records of N lines: a block
    /// is the whole N-line records that fit in --block, or with -N M, M
    /// of them (`-L 4` for FASTQ).
    #[arg(short = 'L', value_name = "N", value_parser = whole, conflicts_with_all = ["max_args"])]
    pub lines: Option<usize>,
    /// At most N inputs per job (alone: N per job). --max-lines N and -l N
    /// are the same, as in GNU parallel, and -l alone is -l 1; -n 0 is -N
    /// 0.
    #[arg(aliases = ["maxargs", "maxlines"], short = 'n', long = "max-args", short_alias = 'l', visible_alias = "max-lines", value_name = "N", value_parser = whole, conflicts_with = "max_replace_args")]
    pub max_args: Option<usize>,
    /// As many inputs per job as fit on a command line (see -s), `{}` all
    /// of them; the last ones spread evenly over the slots. With -N or -L,
    /// those say how many, as in GNU parallel.
    #[arg(short = 'm', conflicts_with_all = ["context", "xargs"])]
    pub multiple: bool,
    /// As -m, with context replace: the word around `{}` is repeated for
    /// each input (`-X echo pre{}` runs `echo prea preb`).
    #[arg(short = 'X', conflicts_with = "xargs")]
    pub context: bool,
    /// As many inputs per job as fit on a command line, as xargs does (no
    /// spreading at the end).
    #[arg(long)]
    pub xargs: bool,
    /// Command lines are shorter than N bytes: -m, -X and --xargs fill
    /// them up to it [default and most: 63664, GNU parallel's]; a job's
    /// line that does not fit stops the run (exit 255), as GNU parallel's
    /// "Command line too long".
    #[arg(aliases = ["maxchars"], short = 's', long = "max-chars", value_name = "N", value_parser = positive)]
    pub max_chars: Option<usize>,
}

/// `--pipe`: stdin cut into blocks, each the stdin of one job;
/// `--pipe-part`: files cut into parts, each the stdin of one job.
// The doc comments are the `--help` text, printed as written.
#[allow(clippy::doc_markdown, clippy::struct_excessive_bools)] // Flags, each its own option.
#[derive(Clone, Debug, Args)]
// What the options of blocks (--block, --bt, --cat, ...) require: --pipe,
// --pipe-part, or --group-by, which implies --pipe (`settled.rs`).
#[command(group(clap::ArgGroup::new("piping").multiple(true).args(["pipe", "pipe_part", "group_by", "cat", "fifo"])))]
pub struct PipeBlocks {
    /// Cut stdin into blocks of whole records and give each block to a
    /// job on its stdin (GNU parallel's --pipe): the command runs once per
    /// block, with no input appended ({#} and {%} work); over ssh the
    /// block travels over the slot's own connection. Blocks are read as
    /// the slots need them.
    #[arg(long, visible_alias = "spreadstdin", conflicts_with_all = ["pipe_part", "nonall", "onall", "shuf", "context", "multiple", "xargs", "null", "delimiter"])]
    pub pipe: bool,
    /// Cut the files of -a (or ::::) into parts of whole records and give
    /// each part to a job on its stdin, as --pipe gives blocks (GNU
    /// parallel's --pipe-part): the cuts are found by seeking, reading
    /// only from each block size on to the next record's end, so a part
    /// is at least a block; the parts are read as the slots need them.
    /// The files must be regular files (or block devices), not stdin.
    #[arg(long = "pipe-part", visible_alias = "pipepart", conflicts_with_all = ["nonall", "onall", "shuf", "context", "multiple", "xargs", "colsep", "header", "null", "delimiter"])]
    pub pipe_part: bool,
    /// With --pipe: the size of a block, at most (whole records; one
    /// record longer than it grows it); with --pipe-part, at least (the
    /// part goes on to the end of the record there), or -N for N parts
    /// per slot [default: 1M for --pipe, -10 for --pipe-part]. Bytes, or
    /// with k m g (powers of 1000) or K M G (powers of 1024).
    #[arg(aliases = ["blocksize"], 
        long,
        visible_alias = "block-size",
        value_name = "SIZE",
        requires = "piping",
        allow_hyphen_values = true
    )]
    pub block: Option<String>,
    /// With --pipe or --pipe-part: what ends a record [default: \n;
    /// nothing when --recstart is given]; \n \t \r \0 \\ as in C.
    #[arg(
        long,
        value_name = "STR",
        requires = "piping",
        allow_hyphen_values = true
    )]
    pub recend: Option<String>,
    /// With --pipe or --pipe-part: what begins a record [default:
    /// nothing].
    #[arg(
        long,
        value_name = "STR",
        requires = "piping",
        allow_hyphen_values = true
    )]
    pub recstart: Option<String>,
    /// With --pipe or --pipe-part: --recend and --recstart are regular
    /// expressions.
    #[arg(aliases = ["regex"], long, requires = "piping")]
    pub regexp: bool,
    /// With --pipe: remove the record separators from each block (every
    /// --recend followed by --recstart, a --recstart at its start, a
    /// --recend at its end), as GNU parallel does (which leaves
    /// --pipe-part's parts as they are).
    #[arg(
        long = "remove-rec-sep",
        visible_aliases = ["removerecsep", "rrs"],
        requires = "piping"
    )]
    pub remove_rec_sep: bool,
    /// Give each job its block of --pipe or --pipe-part in a file (made
    /// in --tmpdir, else $TMPDIR or /tmp, on the job's host, and removed
    /// after it) instead of on stdin: {} (appended if not in the command)
    /// and $PARALLEL_TMP are its name. Implies --pipe unless --pipe-part
    /// is given, as in GNU parallel.
    #[arg(long, conflicts_with = "fifo")]
    pub cat: bool,
    /// As --cat, but a named pipe the block is written into while the job
    /// runs (read it once, from the start). Implies --pipe unless
    /// --pipe-part is given.
    #[arg(long)]
    pub fifo: bool,
    /// With --pipe: give all of stdin to every job, one job per input of
    /// ::: or :::: (GNU parallel's --tee), instead of a block each; stdin
    /// is read whole before the first job, and held in memory.
    #[arg(long, requires = "pipe", conflicts_with_all = ["pipe_part", "block", "recend", "recstart", "regexp", "cat", "fifo"])]
    pub tee: bool,
    /// With --pipe: one job per slot (fewer if there are fewer blocks),
    /// the blocks dealt to them in turn, each job's stdin its blocks (GNU
    /// parallel's --round-robin gives each block to whichever job reads
    /// first); stdin is read whole before the first job, and held in
    /// memory.
    #[arg(aliases = ["roundrobin"], long, visible_alias = "round", requires = "pipe", conflicts_with_all = ["pipe_part", "tee"])]
    pub round_robin: bool,
    /// With --pipe: one job per slot, each line of stdin to the job that
    /// the value of its column COL picks, modulo the slots (1 the first
    /// job, 0 the last, as GNU parallel), after the Perl code PERL if
    /// given; columns split at --colsep (a Perl regular expression,
    /// default ,). stdin is read whole first; perl does the splitting.
    #[arg(long, value_name = "'COL [PERL]'", requires = "pipe", conflicts_with_all = ["round_robin", "tee", "shard"])]
    pub bin: Option<String>,
    /// With --pipe: as --bin, by a hash of the value: lines with equal
    /// values go to the same job.
    #[arg(long, value_name = "'COL [PERL]'", requires = "pipe", conflicts_with_all = ["round_robin", "tee"])]
    pub shard: Option<String>,
    /// With --pipe: a block whose reading takes longer than DURATION is
    /// cut from what came so far (its whole records; the rest waits for
    /// the next block), for slow streams such as tail -f; blocks then
    /// never grow. Seconds (2.5) or with units (500ms, 1m).
    #[arg(long = "block-timeout", visible_aliases = ["bt", "blocktimeout"], value_name = "DURATION", value_parser = parse_time_limit, requires = "piping", conflicts_with_all = ["round_robin", "tee", "bin", "shard"])]
    pub block_timeout: Option<std::time::Duration>,
    /// With --pipe (which it implies): runs of lines with the same value
    /// are records, so a block holds whole groups and -N n gives a job n
    /// groups. The value is column COL's (from 1; columns split at
    /// --colsep, a Perl regular expression, default a tab), or the column
    /// NAME's in the first line (which every job then gets first), or the
    /// whole line's; after the Perl code PERL if given (in $_). perl marks
    /// the groups, as in GNU parallel.
    #[arg(long = "group-by", visible_alias = "groupby", value_name = "'COL [PERL]', 'NAME [PERL]' or PERL", conflicts_with_all = ["round_robin", "tee", "bin", "shard", "recend", "recstart", "regexp", "remove_rec_sep", "nonall", "onall", "shuf", "context", "multiple", "xargs", "null", "delimiter"])]
    pub group_by: Option<String>,
}

/// Whether the jobs run, and in which order they start.
#[derive(Clone, Debug, Args)]
pub struct Scheduling {
    /// Print the command line of each job, one per line, in order, and
    /// run nothing (`{%}` shows the slots in turn).
    #[arg(aliases = ["dryrun", "dr"], long = "dry-run")]
    pub dry_run: bool,
    /// Run a job only if FILTER (repeatable: every one), its replacement
    /// strings replaced by the job's values, is true as Perl code, e.g.
    /// --filter '{1} < {2}'; a job filtered out is skipped (exit -2 in
    /// the joblog), as one whose Perl code calls skip. --dry-run prints
    /// every job, as in GNU parallel.
    #[arg(long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Run the jobs in a random order (all inputs are read first).
    #[arg(long)]
    pub shuf: bool,
    /// Print each job's command line quoted for the shell (with no
    /// command: each input quoted) and run nothing; given twice, quoted
    /// twice, as GNU parallel's.
    #[arg(aliases = ["shell_quote"], long = "shellquote", visible_alias = "shell-quote", action = clap::ArgAction::Count)]
    pub shellquote: u8,
}

/// A `--rpl` definition: a tag, a blank, Perl code that holds no `=}`;
/// a tag with `(` (GNU parallel's tags with arguments) is not taken.
fn rpl(text: &str) -> Result<(Vec<u8>, String), String> {
    let (tag, code) = text
        .trim_start()
        .split_once([' ', '\t'])
        .unwrap_or((text.trim_start(), ""));
    if tag.is_empty() {
        return Err("give a tag and Perl code, e.g. --rpl '{ext} s:.*\\.::'".to_owned());
    }
    if tag.contains('(') {
        return Err(format!(
            "{tag}: tags with arguments (a regular expression with groups) are GNU parallel's; \
             hearth map takes plain tags: write the argument into the code"
        ));
    }
    if code.contains("=}") {
        return Err(format!("{code:?}: the code may not hold =}}"));
    }
    Ok((tag.as_bytes().to_vec(), code.to_owned()))
}

/// `--timeout`: a duration, or a percentage of the median run time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum JobTimeLimit {
    /// This long.
    Fixed(Duration),
    /// This percentage of the median run time of the jobs that succeeded.
    OfMedian(f64),
}

/// `--timeout`'s value: `N%` (above 0), or a duration as
/// [`parse_time_limit`] takes it.
fn parse_job_time_limit(text: &str) -> Result<JobTimeLimit, String> {
    let Some(percent) = text.trim().strip_suffix('%') else {
        return parse_time_limit(text).map(JobTimeLimit::Fixed);
    };
    match percent.trim().parse::<f64>() {
        Ok(p) if p.is_finite() && p > 0.0 => Ok(JobTimeLimit::OfMedian(p)),
        _ => Err(format!(
            "{:?}: a share of the median run time is a number above 0 and %, e.g. 200%",
            text.trim()
        )),
    }
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

/// Parses a number of seconds (`10`, `2.5`, as GNU parallel takes them) or
/// a duration with units (`500ms`, `10s`, `2m`, `1h30m`, `1d`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).map_err(|_| {
            if seconds < 0.0 {
                format!("{text:?}: a duration cannot be negative; write e.g. 10, 2.5s or 500ms")
            } else {
                format!("{text:?} is not a duration hearth can wait; write e.g. 10, 2.5s or 1h30m")
            }
        });
    }
    humantime::parse_duration(text).map_err(|err| {
        format!("{text:?} is not a duration ({err}); write e.g. 10, 2.5s, 500ms, 2m or 1h30m")
    })
}

/// The handlers of a `hearth` worker.
fn handlers() -> Handlers {
    Handlers::new().add_with_context(sh::JOB_HANDLER, sh::run_job)
}

fn main() -> ExitCode {
    if remote::is_remote_worker() {
        return remote::serve(handlers());
    }
    if pdsh::is_exec() {
        return pdsh::exec();
    }
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(err) => {
            let err = if command_line().get(1).is_some_and(|a| a == "map") {
                parallel_options::map_error(err)
            } else {
                err
            };
            let _ = err.print();
            return if err.use_stderr() && pdsh::is_pdsh(&command_line()) {
                // pdsh's usage errors exit 1.
                ExitCode::from(1)
            } else if err.use_stderr() {
                ExitCode::from(OWN_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Worker => remote::serve(handlers()),
        Command::Map(mut args) => {
            if args.semaphore_options.any() {
                return semaphore::run(args.slots, &args.semaphore_options, &args.command);
            }
            if let Some((version, new_enough)) = args.settled.version_check() {
                println!("{version}");
                return ExitCode::from(if new_enough { 0 } else { 255 });
            }
            if let Some(answer) = args.settled.answer() {
                println!("{answer}");
                return ExitCode::SUCCESS;
            }
            if args.settled.record_env {
                return match world::record_env() {
                    Ok(_) => ExitCode::SUCCESS,
                    Err(err) => {
                        say!("hearth map: {err}");
                        ExitCode::from(OWN_ERROR)
                    }
                };
            }
            if let Some(limits) = args.settled.limits(args.packing.max_chars) {
                print!("{limits}");
            }
            if let Some(count) = args.counts.asked() {
                println!("{count}");
                return ExitCode::SUCCESS;
            }
            settled::settle(&mut args);
            color::settle(&mut args);
            map::run(*args)
        }
        Command::Run(args) => run::run(&args),
        Command::Sem(args) => semaphore::run(args.slots, &args.options, &args.command),
        Command::Trace(args) => trace::run(&args),
    }
}

/// The command line, with the subcommand a program name implies: hearth
/// started as `parallel` (a link of that name) is `hearth map` with GNU
/// parallel's order of outputs (as jobs end, unless -k), as `sem` `hearth
/// sem`, as `pdsh` `hearth run` with pdsh's exit status, so scripts that
/// call those run unchanged.
fn command_line() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let name = args.first().map(|path| {
        std::path::Path::new(path)
            .file_name()
            .unwrap_or_default()
            .to_owned()
    });
    let implied = match name.as_ref().and_then(|name| name.to_str()) {
        Some("parallel") => Some("map --as-parallel"),
        Some("sem") => Some("sem"),
        Some("pdsh") => Some("run --as-pdsh"),
        _ => None,
    };
    if let Some(words) = implied {
        // Messages name the program hearth.
        args[0] = "hearth".into();
        for (at, word) in words.split(' ').enumerate() {
            args.insert(1 + at, word.into());
        }
    }
    // `#!/usr/bin/hearth map --shebang ...`: the kernel's one word split
    // after `map`.
    if let Some(rest) = args
        .get(1)
        .and_then(|word| word.to_str())
        .and_then(|word| word.strip_prefix("map "))
        .map(str::to_owned)
    {
        args[1] = "map".into();
        args.insert(2, rest.trim_start().into());
    }
    let at = match implied {
        Some(words) => 1 + words.split(' ').count(),
        None => 2,
    };
    if args.get(1).is_some_and(|word| word == "map")
        && let Err(msg) = shebang::unfold(&mut args, at)
    {
        say!("hearth map: {msg}");
        std::process::exit(i32::from(OWN_ERROR));
    }
    args
}

/// `cli`, parsed from `args`, with the options of GNU parallel's profiles
/// and `$PARALLEL` put before a `hearth map` command line's own
/// (`profile.rs`), as the command line asks (`-J`, `--plain`). Where the
/// command line does not parse with them (an option of GNU parallel's that
/// hearth lacks, or one that conflicts with the command line's, such as a
/// profile's -k and --unordered), they are left out, and a warning says
/// so: the command line alone decides.
fn with_profiles(cli: Cli, args: &[OsString]) -> Cli {
    let Command::Map(map) = &cli.command else {
        return cli;
    };
    let words = profile::words(&map.settled.profile, map.settled.plain);
    if words.is_empty() {
        return cli;
    }
    let mut with = args.to_vec();
    let _ = with.splice(2..2, words);
    match parse_args(&mut with) {
        Ok(profiled) => profiled,
        Err(err) => {
            let text = err.to_string();
            let why = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            say!(
                "hearth map: warning: the options of GNU parallel's profiles (~/.parallel/config, \
                 -J) and $PARALLEL are left out, as the command line does not parse with them: \
                 {why}"
            );
            cli
        }
    }
}

/// Parses the command line. hearth started as `pdsh` reads its words with
/// pdsh's getopt rules first (`pdsh.rs`). GNU parallel's `-l` takes a
/// number only when one follows it (`-l` alone is `-l 1`); clap's options
/// take their value or none, so a `-l` that made clap take the next word
/// as its number is read again as `-l1`.
fn parse_cli() -> Result<Cli, clap::Error> {
    let mut args = command_line();
    pdsh::getopt(&mut args).map_err(run::usage_error)?;
    run::pdsh_status_flag(&mut args);
    let cli = parse_args(&mut args)?;
    Ok(with_profiles(cli, &args))
}

/// [`parse_cli`]'s parse of `args`, `-l` read again as `-l1` in them
/// where it took the next word.
fn parse_args(args: &mut [OsString]) -> Result<Cli, clap::Error> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let err = match Cli::try_parse_from(args.iter()) {
        Ok(cli) => return Ok(cli),
        Err(err) => err,
    };
    let bad_count = matches!(
        err.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) && matches!(err.get(ContextKind::InvalidArg),
        Some(ContextValue::String(arg)) if arg.contains("max-args"));
    if !bad_count {
        return Err(err);
    }
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => value.clone(),
        _ => String::new(),
    };
    // The first `-l`, and only if the word clap took is the one after it
    // (a `-l` in the command, after a bad -n, is the command's).
    let Some(at) = args.iter().position(|arg| arg == "-l") else {
        return Err(err);
    };
    let next = args
        .get(at + 1)
        .map(|next| next.to_string_lossy().into_owned());
    let took_next = match next {
        // A number was meant as -l's, even one it refuses (0).
        Some(next) if !next.is_empty() && next.bytes().all(|b| b.is_ascii_digit()) => false,
        Some(next) => next == value || (value.is_empty() && next.starts_with('-')),
        None => value.is_empty(),
    };
    if !took_next {
        return Err(err);
    }
    args[at] = OsString::from("-l1");
    Cli::try_parse_from(args.iter())
}

/// The options of `hearth trace`.
#[derive(Debug, Args)]
struct TraceArgs {
    /// The trace file.
    path: PathBuf,
    /// Where to write the JSON (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// A count, 0 or more.
fn whole(text: &str) -> Result<usize, String> {
    text.trim()
        .parse::<usize>()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

/// A count of at least 1.
fn positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

#[cfg(test)]
mod variable_name_tests {
    use super::variable_name;

    #[test]
    fn only_shell_variable_names_are_taken() {
        for good in ["PS", "_x", "slot_0"] {
            assert_eq!(variable_name(good).as_deref(), Ok(good));
        }
        for bad in ["", "1x", "a-b", "a=b", "x y"] {
            assert!(variable_name(bad).is_err(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod duration_tests {
    use std::time::Duration;

    use super::parse_duration;

    #[test]
    fn seconds_as_gnu_parallel_takes_them_and_units() {
        for (text, want) in [
            ("10", Duration::from_secs(10)),
            ("2.5", Duration::from_millis(2500)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_mins(2)),
            ("1h30m", Duration::from_mins(90)),
            ("1d", Duration::from_hours(24)),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        assert!(
            parse_duration("ten")
                .unwrap_err()
                .contains("is not a duration")
        );
    }
}
