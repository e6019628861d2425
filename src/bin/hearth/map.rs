//! `hearth map`: one job per input over the slots of the hosts.

use std::io::{self, IsTerminal};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hearth::remote::{
    FailedSlot, Host, JobReport, Order, Pool, PoolBuilder, PoolError, PoolMetrics, SlotLost, Slurm,
    Target, Transport,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::inputs::{self, Source, StdinReader, Texts};
use crate::output::{Finished, Printer};
use crate::sh::{self, ShJob, ShOutput};
use crate::{MapArgs, USAGE, interrupt};

/// Exit status when some job failed.
const JOB_FAILED: u8 = 1;
/// Exit status when the pool failed.
const POOL_FAILED: u8 = 3;
/// Exit status after Ctrl+C.
const INTERRUPTED: u8 = 130;

/// Jobs read from stdin and not yet taken by the pool, at most (the pool
/// itself takes only as many as keep its slots busy).
const FEED_CAPACITY: usize = 256;

/// "no inputs" usage message.
const NO_INPUTS: &str =
    "no inputs: give them as lines on stdin, with --arg VALUE, or after ::: on the command line";

/// Prints a one-line usage error and returns exit status 2.
fn usage_error(msg: &str) -> ExitCode {
    say!("hearth map: {msg}");
    ExitCode::from(USAGE)
}

pub fn run(args: MapArgs) -> ExitCode {
    if std::env::var_os(hearth::log::LEVEL_ENV).is_some() {
        hearth::log::init();
    } else {
        // The summary says what went wrong; HEARTH_LOG=warn shows each
        // slot failure as it happens.
        hearth::log::init_with_level(log::LevelFilter::Error);
    }
    // Before any thread: every thread started later blocks them too.
    let signals = match interrupt::block() {
        Ok(set) => set,
        Err(err) => {
            say!("hearth map: cannot block SIGINT: {err}");
            return ExitCode::from(POOL_FAILED);
        }
    };
    let (words, source) = match inputs::parse(&args) {
        Ok(split) => split,
        Err(msg) => return usage_error(&msg),
    };
    if matches!(&source, Source::Listed(inputs) if inputs.is_empty()) {
        return usage_error(NO_INPUTS);
    }
    let mut pool = match build_pool(&args) {
        Ok(pool) => pool,
        Err(PoolSetup::Usage(msg)) => return usage_error(&msg),
        Err(PoolSetup::Failed(msg)) => {
            say!("hearth map: {msg}");
            return ExitCode::from(POOL_FAILED);
        }
    };
    let control = pool.control();
    let interrupted = match interrupt::watch(signals, control.clone()) {
        Ok(flag) => flag,
        Err(err) => {
            say!("hearth map: cannot watch for Ctrl+C: {err}");
            return ExitCode::from(POOL_FAILED);
        }
    };
    let mut printer = match Printer::new(
        args.json,
        args.tag,
        args.tag_host,
        args.slurm,
        args.joblog.as_deref(),
    ) {
        Ok(printer) => printer,
        Err(err) => return usage_error(&err.to_string()),
    };
    let listed = match &source {
        Source::Listed(inputs) => Some(inputs.len()),
        Source::Stdin => None,
    };
    let bar = progress_bar(args.progress, listed);
    let order = if args.unordered {
        Order::Completion
    } else {
        Order::Submission
    };
    let mut write_error = None;
    let mut stopped_after_failure = false;
    // The inputs: all at hand, or a feed that a thread fills from stdin.
    let (mut texts, listed_jobs, fed) = match source {
        Source::Listed(inputs) => {
            let jobs: Vec<ShJob> = inputs
                .iter()
                .map(|input| ShJob {
                    command: inputs::command_line(&words, input),
                })
                .collect();
            (Texts::listed(&words, inputs), jobs, None)
        }
        Source::Stdin => {
            let (feeder, feed) = pool.feed(FEED_CAPACITY);
            let (texts_tx, texts_rx) = crossbeam_channel::unbounded();
            let reader = StdinReader::start(words, feeder, texts_tx);
            (Texts::fed(texts_rx), Vec::new(), Some((feed, reader)))
        }
    };
    let reader = fed.as_ref().map(|(_, reader)| reader.clone());
    let mut reported = 0;
    let mut on_report = |index, report: JobReport<ShOutput>| {
        reported += 1;
        if let Some(reader) = &reader {
            bar.set_length(reader.lines() as u64);
        }
        let (input, command) = texts.take(index);
        let job = Finished {
            seq: index + 1,
            input: &input,
            command: &command,
            report,
        };
        match bar.suspend(|| printer.job(job)) {
            Ok(failed) => {
                bar.inc(1);
                let failures = printer.failed.len() + printer.not_run.len();
                if failures > 0 {
                    bar.set_message(format!("failed={failures}"));
                }
                if failed && args.fail_fast && !stopped_after_failure {
                    stopped_after_failure = true;
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            }
            Err(err) => {
                if write_error.is_none() {
                    control.kill();
                    write_error = Some(err);
                }
                ControlFlow::Break(())
            }
        }
    };
    let outcome = match fed {
        Some((feed, _)) => pool.run_fed(&Target::Any, sh::HANDLER, feed, order, &mut on_report),
        None => pool.run(
            &Target::Any,
            sh::HANDLER,
            listed_jobs,
            order,
            &mut on_report,
        ),
    };
    bar.finish_and_clear();
    let joblog = printer.finish();
    // Before the shutdown, which ends the slots still waiting.
    report_pending_slots(&control.metrics(), args.slurm_alloc);
    pool.shutdown(Duration::from_secs(5));
    if let Err(err) = outcome {
        say!("hearth map: {err}");
        return ExitCode::from(POOL_FAILED);
    }
    if let Some(err) = write_error {
        if err.kind() == io::ErrorKind::BrokenPipe {
            // Like any filter whose reader went away.
            return ExitCode::from(141);
        }
        say!("hearth map: cannot write the output: {err}");
        return ExitCode::from(JOB_FAILED);
    }
    let input_error = reader.as_ref().and_then(StdinReader::error);
    if input_error.is_none()
        && reader
            .as_ref()
            .is_some_and(|r| r.finished() && r.lines() == 0)
    {
        return usage_error(NO_INPUTS);
    }
    report_dead_hosts(&control.metrics());
    let mut status = summarize(
        &printer,
        reported,
        interrupted.load(Ordering::SeqCst),
        args.fail_fast,
    );
    // Lines read but not taken by the run were dropped with its feed.
    if let Some(reader) = &reader
        && (!reader.finished() || reader.lines() > reported)
    {
        say!("hearth map: stopped reading the inputs; those after line {reported} were not run");
        let metrics = control.metrics();
        if status != ExitCode::from(INTERRUPTED) && metrics.hosts.iter().all(|h| h.dead == h.slots)
        {
            say!("hearth map: the pool failed: every slot is dead");
            status = ExitCode::from(POOL_FAILED);
        }
    }
    if let Some(msg) = input_error {
        say!("hearth map: {msg}");
        // Unless something worse happened to the run.
        if status != ExitCode::from(INTERRUPTED) && status != ExitCode::from(POOL_FAILED) {
            status = ExitCode::from(USAGE);
        }
    }
    match joblog {
        Err(msg) if status == ExitCode::SUCCESS => {
            say!("hearth map: {msg}");
            ExitCode::from(JOB_FAILED)
        }
        Err(msg) => {
            say!("hearth map: {msg}");
            status
        }
        Ok(()) => status,
    }
}

/// One line per host with slots whose scheduler never ran them (Slurm
/// jobs still pending at the end).
fn report_pending_slots(metrics: &PoolMetrics, in_allocation: bool) {
    for host in metrics.hosts.iter().filter(|h| h.pending > 0) {
        let advice = if in_allocation {
            "use fewer slots (-j) or a larger allocation (--salloc-args)"
        } else {
            "use fewer slots (-j), or --slurm-alloc to run every slot as a step of one allocation"
        };
        say!(
            "hearth map: host {}: {} of {} slots never ran: their Slurm jobs were still pending \
             at the end (the cluster had no room for them); {advice}",
            host.name,
            host.pending,
            host.slots
        );
    }
}

/// One line per host with slots dead for good.
fn report_dead_hosts(metrics: &PoolMetrics) {
    let others_alive = |name: &str| {
        metrics
            .hosts
            .iter()
            .any(|h| h.name != name && h.dead < h.slots)
    };
    for host in metrics.hosts.iter().filter(|h| h.dead > 0) {
        let why = host.last_failure.as_deref().unwrap_or("no reason recorded");
        let others = if others_alive(&host.name) {
            "; the other hosts took its jobs"
        } else {
            ""
        };
        say!(
            "hearth map: host {}: {} of {} slots dead ({why}){others}",
            host.name,
            host.dead,
            host.slots
        );
    }
}

/// `a:1: why; a:2: why` as `a:1, a:2: why`.
fn dedupe_reasons(reasons: &[FailedSlot]) -> String {
    let mut grouped: Vec<(String, Vec<&str>)> = Vec::new();
    for failed in reasons {
        let why = failed.reason().to_string();
        match grouped.iter_mut().find(|(w, _)| *w == why) {
            Some((_, slots)) => slots.push(&failed.slot),
            None => grouped.push((why, vec![&failed.slot])),
        }
    }
    grouped
        .into_iter()
        .map(|(why, slots)| format!("{}: {why}", slots.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The summary on stderr and the exit status.
fn summarize(printer: &Printer, total: usize, interrupted: bool, fail_fast: bool) -> ExitCode {
    let failed = printer.failed.len();
    if !printer.not_run.is_empty() {
        say!(
            "hearth map: the pool failed: {} of {total} jobs did not run because every slot that could run them is dead: {}",
            printer.not_run.len(),
            dedupe_reasons(&printer.dead)
        );
    }
    if failed > 0 {
        let listed: Vec<String> = printer
            .failed
            .iter()
            .take(10)
            .map(|(seq, why)| format!("#{seq} ({why})"))
            .collect();
        let more = if failed > 10 { ", ..." } else { "" };
        say!(
            "hearth map: {failed} of {total} jobs failed: {}{more}",
            listed.join(", ")
        );
    }
    if printer.cancelled > 0 {
        let why = if interrupted {
            "interrupted"
        } else if fail_fast {
            "--fail-fast after a failure"
        } else {
            "the pool stopped"
        };
        say!(
            "hearth map: {} of {total} jobs were not run ({why}); {} succeeded",
            printer.cancelled,
            printer.succeeded
        );
    }
    if interrupted {
        ExitCode::from(INTERRUPTED)
    } else if !printer.not_run.is_empty() {
        ExitCode::from(POOL_FAILED)
    } else if failed > 0 || printer.cancelled > 0 || printer.succeeded != total {
        ExitCode::from(JOB_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Why the pool could not be made.
enum PoolSetup {
    /// Bad options: exit status 2.
    Usage(String),
    /// The cluster said no (no Slurm allocation): exit status 3.
    Failed(String),
}

/// The pool of the options: `--slurm`, or the `--hosts`.
fn build_pool(args: &MapArgs) -> Result<Pool, PoolSetup> {
    if args.slurm {
        build_slurm_pool(args)
    } else {
        build_host_pool(args).map_err(PoolSetup::Usage)
    }
}

/// The pool of the `--hosts`, `--slots` and friends.
fn build_host_pool(args: &MapArgs) -> Result<Pool, String> {
    let hosts = if args.hosts.is_empty() {
        vec![":".to_owned()]
    } else {
        args.hosts.clone()
    };
    let ssh = words("--ssh", &args.ssh)?;
    if ssh.is_empty() {
        return Err(
            "--ssh is empty: give the ssh command, e.g. --ssh 'ssh -F ./ssh_config'".to_owned(),
        );
    }
    let launcher = match &args.launcher {
        Some(template) => {
            let words = words("--launcher", template)?;
            if words.is_empty() {
                return Err(
                    "--launcher is empty: give the command that starts a worker, e.g. \
                     --launcher 'docker exec -i {host} {bin}'"
                        .to_owned(),
                );
            }
            Some(words)
        }
        None => None,
    };
    let bin = worker_bin(args)?;
    let mut builder = pool_builder(args);
    for host in hosts.iter().map(|h| h.trim()) {
        let host = match host {
            "" => return Err("empty host name in --hosts".to_owned()),
            ":" => {
                let cores = std::thread::available_parallelism().map_or(1, usize::from);
                let slots = args.slots.map_or(cores, |n| n as usize);
                Host::new("local", slots, Transport::local())
            }
            name => {
                if name.starts_with('-') {
                    return Err(format!("bad host name {name:?}"));
                }
                let slots = args.slots.map_or(2, |n| n as usize);
                let transport = match &launcher {
                    Some(template) => Transport::Command {
                        template: template.clone(),
                        bin: bin.clone(),
                    },
                    None => Transport::Ssh {
                        ssh: ssh.clone(),
                        bin: bin.clone(),
                        connect_timeout: Duration::from_secs(10),
                    },
                };
                Host::new(name, slots, transport)
            }
        };
        builder = builder.host(host);
    }
    builder.build().map_err(|err: PoolError| err.to_string())
}

/// The pool of `--slurm`: one host entry, `slurm`, of `-j` slots (4 by
/// default); with `--slurm-alloc` the allocation is made here, and lives
/// as long as the pool.
fn build_slurm_pool(args: &MapArgs) -> Result<Pool, PoolSetup> {
    let bin = worker_bin(args).map_err(PoolSetup::Usage)?;
    let words = |flag: &str, text: &Option<String>| -> Result<Vec<String>, PoolSetup> {
        match text {
            Some(text) => words(flag, text).map_err(PoolSetup::Usage),
            None => Ok(Vec::new()),
        }
    };
    let mut slurm = Slurm::new(bin)
        .args(words("--srun-args", &args.srun_args)?)
        .pending_timeout(args.pending_timeout);
    if let Some(job) = &args.slurm_jobid {
        slurm = slurm.allocation_id(job.clone());
    }
    if args.slurm_alloc {
        let mut salloc = words("--salloc-args", &args.salloc_args)?;
        if salloc.is_empty() {
            salloc.push("-N1".to_owned());
        }
        let allocation = slurm
            .allocate(salloc)
            .map_err(|err| PoolSetup::Failed(format!("--slurm-alloc: {err}")))?;
        slurm = slurm.in_allocation(&allocation);
    }
    let slots = args.slots.map_or(4, |n| n as usize);
    pool_builder(args)
        .host(Host::new("slurm", slots, slurm.into()))
        .build()
        .map_err(|err: PoolError| PoolSetup::Usage(err.to_string()))
}

/// A pool builder with the options every kind of host shares.
fn pool_builder(args: &MapArgs) -> PoolBuilder {
    let builder = Pool::builder()
        .name("hearth-map")
        .window(args.window as usize)
        .max_attempts(args.attempts)
        .retries(args.retries)
        .failed_output(sh::failed)
        .slot_timeout(args.slot_timeout)
        .on_slot_lost(say_slot_lost);
    match args.timeout {
        Some(timeout) => builder.timeout(timeout),
        None => builder,
    }
}

/// Says at once that a slot was lost while it served, and what became of
/// its jobs (the summary at the end only counts what failed).
fn say_slot_lost(lost: &SlotLost) {
    let jobs = |n: usize| {
        if n == 1 {
            "1 job".to_owned()
        } else {
            format!("{n} jobs")
        }
    };
    let mut fate = match lost.requeued {
        0 => "no job to run again".to_owned(),
        n => format!("{} back in the queue", jobs(n)),
    };
    if lost.ended > 0 {
        fate = format!("{fate}, {} ended with it", jobs(lost.ended));
    }
    say!(
        "hearth map: slot {} of host {} lost: {}; {fate}",
        lost.failed.slot,
        lost.host,
        lost.failed.reason()
    );
}

/// The words of an option that holds a command line, split as a shell
/// would: quotes keep spaces (`--ssh "ssh -o 'ProxyCommand=nc %h %p'"`).
fn words(flag: &str, text: &str) -> Result<Vec<String>, String> {
    shlex::split(text).ok_or_else(|| {
        format!("{flag} {text:?} has an unclosed quote or a trailing backslash; close the quote")
    })
}

/// The worker binary's path on the hosts: `--remote-bin`, or this one's.
fn worker_bin(args: &MapArgs) -> Result<String, String> {
    match &args.remote_bin {
        Some(bin) if bin.trim().is_empty() => Err(
            "--remote-bin is empty: give the path of hearth on the hosts, e.g. --remote-bin /usr/local/bin/hearth"
                .to_owned(),
        ),
        Some(bin) => Ok(bin.clone()),
        None => std::env::current_exe()
            .map(|path| path.display().to_string())
            .map_err(|err| format!("cannot find the hearth binary: {err}; give --remote-bin")),
    }
}

/// A progress bar on stderr when asked for and stderr is a terminal;
/// hidden otherwise. `total` is `None` for inputs still being read.
fn progress_bar(wanted: bool, total: Option<usize>) -> ProgressBar {
    if !wanted || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    // Inputs from stdin: the length grows as they are read.
    let total = total.unwrap_or(0) as u64;
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} jobs  {per_sec}  eta {eta}  {msg}")
    {
        bar.set_style(style);
    }
    bar
}
