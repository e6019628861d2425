//! `hearth map --nonall` / `--onall` and `hearth run`: the command (or
//! every input) once on every host. Each host and input is a job of its
//! own, on that host's slots only; the output comes grouped per host, in
//! the order of the hosts (or as it comes with `--line-buffer` and `-u`),
//! `--tag` puts the host before each line (`hearth run`: `host: `). A
//! host that cannot be reached is said once, its jobs counted as failed,
//! and the others run theirs.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use hearth::remote::{Event, FailedSlot, JobFailure, Order, PoolControl, Target};

use crate::halt::{Halt, Tally, When};
use crate::inputs::{JobText, Piped};
use crate::map::{own_error, progress_bar, ran, write_failed};
use crate::output::{Finished, Notice, Printer, Settings};
use crate::plan::{self, Jobs, Plan};
use crate::pool_setup::{PoolSetup, build_pool};
use crate::sh::{self, JobOutput};
use crate::streams::Grouping;
use crate::summary::{SlurmPlacement, report_pending_slots};
use crate::{MapArgs, OWN_ERROR, Rcmd};

/// What the run says at the end: who failed and why.
#[derive(Default)]
struct Failures {
    /// Hosts that could not be reached: why, and how many jobs did not run.
    unreachable: BTreeMap<usize, (Option<FailedSlot>, usize)>,
    /// Jobs that failed: host, the job's number, why.
    failed: Vec<(usize, usize, Failed)>,
}

/// Why a job that ran failed.
enum Failed {
    /// The command exited with this status.
    Exit(i32),
    /// A signal killed the command.
    Signal(i32),
    /// The command ran past its time limit: what the pool said, and how
    /// the command ended once stopped (none: killed with its worker).
    TimedOut(String, Option<Ended>),
    /// Another failure (its slot, hearth's own): what the pool said.
    Other(String),
}

/// How a command ended.
#[derive(Clone, Copy)]
enum Ended {
    /// It exited with this status.
    Exit(i32),
    /// This signal killed it.
    Signal(i32),
}

impl Ended {
    /// How the command of `out` ended.
    fn of(out: &JobOutput) -> Ended {
        match out.signal {
            Some(signal) => Ended::Signal(signal),
            None => Ended::Exit(out.status_code()),
        }
    }
}

impl Failed {
    /// Why `report`'s job failed.
    fn of(report: &hearth::remote::JobReport<JobOutput>) -> Failed {
        match &report.result {
            Ok(out) => match Ended::of(out) {
                Ended::Signal(signal) => Failed::Signal(signal),
                Ended::Exit(code) => Failed::Exit(code),
            },
            Err(err @ JobFailure::TimedOut { returned, .. }) => {
                let then = (returned.as_deref())
                    .and_then(|bytes| postcard::from_bytes::<JobOutput>(bytes).ok())
                    .map(|out| Ended::of(&out));
                Failed::TimedOut(err.to_string(), then)
            }
            Err(err) => Failed::Other(err.to_string()),
        }
    }

    /// The status pdsh's -S counts for the host: over ssh, what ssh
    /// exited with (the command's own status, 255 for anything else: a
    /// signal, a timeout, a lost connection); with the exec module, the
    /// command's exit status, none (0) for a command a signal killed, and
    /// at least 254 (pdsh's for a failed host) for one past -u.
    fn pdsh_status(&self, rcmd: Rcmd) -> i32 {
        match (self, rcmd) {
            (Failed::Exit(code), _) => *code,
            (Failed::Signal(_), Rcmd::Exec) => 0,
            (Failed::TimedOut(_, then), Rcmd::Exec) => match then {
                Some(Ended::Exit(code)) => (*code).max(PDSH_FAILED),
                _ => PDSH_FAILED,
            },
            _ => 255,
        }
    }
}

/// The status pdsh's -S gives a host that failed short of an exit status
/// of its own (with the exec module, a command past -u).
const PDSH_FAILED: i32 = 254;

impl std::fmt::Display for Failed {
    /// In a word or two: `exit 3`, `killed by signal 9`, the pool's words.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Exit(code) => write!(f, "exit {code}"),
            Failed::Signal(signal) => write!(f, "killed by signal {signal}"),
            Failed::TimedOut(why, _) | Failed::Other(why) => f.write_str(why),
        }
    }
}

/// The jobs of `plan`, each one for every host, and their texts.
fn made_jobs(plan: Plan) -> Result<(Vec<sh::Job>, Vec<JobText>), String> {
    let Jobs::Listed(all) = plan.jobs else {
        return Err("--nonall and --onall read every input before the run".to_owned());
    };
    let made: Vec<_> = all
        .into_iter()
        .enumerate()
        .map(|(index, fields)| {
            (plan.maker.make(fields, index + 1)).map_err(|msg| format!("job {}: {msg}", index + 1))
        })
        .collect::<Result<_, String>>()?;
    Ok(made.into_iter().unzip())
}

/// Runs the planned jobs on every host of the options.
pub fn run(args: &MapArgs, plan: Plan, halt: Option<Halt>) -> ExitCode {
    let (grouping, order) = grouping_and_order(args);
    if let Err(err) = no_results(args) {
        return own_error(&err);
    }
    let mut printer = match Printer::new(settings(args, grouping)) {
        Ok(printer) => printer,
        Err(err) => return own_error(&err.to_string()),
    };
    let (jobs, texts) = match made_jobs(plan) {
        Ok(made) => made,
        Err(msg) => return own_error(&msg),
    };
    if jobs.is_empty() {
        return match printer.finish() {
            Ok(()) => ExitCode::SUCCESS,
            Err(msg) => own_error(&msg),
        };
    }
    let mut pool = match build_pool(args, Some(jobs.len())) {
        Ok(pool) => pool,
        Err(PoolSetup::Usage(msg) | PoolSetup::Failed(msg)) => return own_error(&msg),
    };
    let hosts = shown_hosts(args, &pool);
    let control = pool.control();
    let per_host = jobs.len();
    let total = per_host * hosts.len();
    let bar = progress_bar(args.output.shows_progress(), Some(total));
    let mut tally = Tally::new(halt, Some(total));
    let mut failures = Failures::default();
    let mut write_error = None;
    let mut on_event = |event: Event<'_>| {
        let (index, report) = match event {
            Event::Output {
                index,
                stream,
                bytes,
                slot,
            } => {
                let text = &texts[index % per_host];
                return match bar.suspend(|| printer.output(index, text, stream, bytes, slot)) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(err) => {
                        control.kill();
                        let _ = write_error.get_or_insert(err);
                        ControlFlow::Break(())
                    }
                };
            }
            Event::Done { index, report } => (index, report.decode::<JobOutput>()),
            _ => return ControlFlow::Continue(()),
        };
        bar.inc(1);
        let (host, text) = (index / per_host, &texts[index % per_host]);
        let result = if let Err(JobFailure::NotRun { reasons }) = &report.result {
            failures.not_run(host, reasons);
            Some(Err(255))
        } else {
            let as_pdsh = (args.each_host.pdsh)
                .filter(|pdsh| pdsh.as_pdsh)
                .map(|pdsh| pdsh.rcmd);
            let result = failures.ran(host, text.seq, &report, as_pdsh);
            let job = Finished { text, report };
            if let Err(err) = bar.suspend(|| printer.job(index, job)) {
                control.kill();
                let _ = write_error.get_or_insert(err);
                return ControlFlow::Break(());
            }
            result
        };
        match result.and_then(|result| tally.ran(result)) {
            Some(When::Now) => {
                control.kill();
                ControlFlow::Break(())
            }
            Some(When::Soon) => ControlFlow::Break(()),
            None => ControlFlow::Continue(()),
        }
    };
    let outcome =
        pool.run_raw_on_each_host(&Target::Any, sh::JOB_HANDLER, &jobs, order, &mut on_event);
    bar.finish_and_clear();
    let joblog = printer.finish();
    report_pending_slots(&control.metrics(), SlurmPlacement::of(&args.slurm_options));
    pool.shutdown(Duration::from_secs(5));
    if let Err(err) = outcome {
        return own_error(&err.to_string());
    }
    if let Some(err) = write_error {
        return write_failed(&err);
    }
    summarize(args, &hosts, &texts, &failures, &printer);
    exit_status(args, &failures, &joblog, &control, &tally)
}

impl Failures {
    /// A job of `host` ran: kept if it failed. What the tally counts: its
    /// status, or (`as_pdsh`, started as pdsh with that module, for its
    /// -S) what pdsh counts.
    fn ran(
        &mut self,
        host: usize,
        seq: usize,
        report: &hearth::remote::JobReport<JobOutput>,
        as_pdsh: Option<Rcmd>,
    ) -> Option<Result<(), i32>> {
        let result = ran(&report.result);
        if let Some(Err(_)) = result {
            let failed = Failed::of(report);
            if let Some(rcmd) = as_pdsh {
                let status = failed.pdsh_status(rcmd);
                self.failed.push((host, seq, failed));
                return Some(Err(status));
            }
            self.failed.push((host, seq, failed));
        }
        result
    }

    /// A job of `host` did not run: its slots are dead, for `reasons`
    /// (said once for the host).
    fn not_run(&mut self, host: usize, reasons: &[FailedSlot]) {
        let entry = self
            .unreachable
            .entry(host)
            .or_insert_with(|| (reasons.first().cloned(), 0));
        entry.1 += 1;
    }
}

/// `--results` is not written: GNU parallel hands it to none of its runs
/// per host, so it prints the outputs and writes no results; a table
/// (`.csv`, `.tsv`, `.json`) it leaves empty, made or emptied, and so
/// does hearth. `hearth map` says so; started as `parallel`, it is as
/// silent as GNU parallel. An error: the table cannot be made.
fn no_results(args: &MapArgs) -> Result<(), String> {
    let Some(results) = &args.results else {
        return Ok(());
    };
    let table = crate::results::is_table(results);
    if table {
        std::fs::File::create(results)
            .map_err(|err| format!("cannot make --results {}: {err}", results.display()))?;
    }
    if !args.order.as_parallel {
        say!(
            "hearth map: --results {} is {} with --onall or --nonall (as by GNU parallel): \
             the outputs are printed; use --tag to tell the hosts apart",
            results.display(),
            if table { "left empty" } else { "not written" }
        );
    }
    Ok(())
}

/// The names of the hosts with slots, as the summary shows them (pdsh
/// shows a host without its user, and without a domain the hosts share).
fn shown_hosts(args: &MapArgs, pool: &hearth::remote::Pool) -> Vec<String> {
    let short = short_hosts(args);
    pool.hosts()
        .iter()
        .filter(|host| host.slots() > 0)
        .map(|host| match args.each_host.pdsh {
            Some(_) if short => {
                crate::pdsh::short_host(crate::output::without_user(host.name())).to_owned()
            }
            Some(_) => crate::output::without_user(host.name()).to_owned(),
            None => host.name().to_owned(),
        })
        .collect()
}

/// Started as pdsh: whether the hosts are shown up to their first dot,
/// as pdsh shows them when they share their domain.
fn short_hosts(args: &MapArgs) -> bool {
    if !args.each_host.pdsh.is_some_and(|pdsh| pdsh.as_pdsh) {
        return false;
    }
    crate::hosts::specs(&args.hosts, &args.login_files, false).is_ok_and(|specs| {
        crate::pdsh::strips_domains(
            specs
                .iter()
                .map(|spec| crate::output::without_user(&spec.name)),
        )
    })
}

/// How the printer prints each host's outputs.
fn settings(args: &MapArgs, grouping: Grouping) -> Settings {
    Settings {
        json: args.output.json,
        grouping,
        tag: None,
        // GNU parallel colours no output of --nonall and --onall.
        coloring: crate::color::Coloring::default(),
        host_tag: host_tag(args).filter(|_| grouping != Grouping::Ungroup),
        host_is_node: false,
        bare_hosts: args.each_host.pdsh.is_some(),
        short_hosts: short_hosts(args),
        job_failures: if args.each_host.pdsh.is_some_and(|pdsh| pdsh.as_pdsh) {
            Notice::Silent
        } else {
            Notice::Hearth
        },
        local_as_colon: args.each_host.pdsh.is_none(),
        joblog: args.joblog.clone(),
        resume: plan::resume(args),
        results: None,
        columns: Vec::new(),
        sources: 1,
        results_template: None,
        // --nonall and --onall take no --pipe.
        piped: Piped::No,
        shown: args.verbose,
        files: crate::output::files_dir(args),
    }
}

/// How outputs are printed, and in which order the pool hands them out:
/// grouped per host whatever --unordered says (the hosts' outputs never
/// mix); lines and bytes as they come with --line-buffer and -u.
fn grouping_and_order(args: &MapArgs) -> (Grouping, Order) {
    let grouping = if args.grouping.ungroup {
        Grouping::Ungroup
    } else if args.grouping.line_buffer {
        Grouping::LineBuffer
    } else {
        Grouping::Group
    };
    let order = match grouping {
        Grouping::Ungroup => Order::Arrival,
        Grouping::LineBuffer if !args.order.keep_order => Order::Arrival,
        Grouping::LineBuffer | Grouping::Group => Order::Submission,
    };
    (grouping, order)
}

/// What goes between the host and each line of its output: pdsh's `: `,
/// or a tab with --tag or --tag-host.
fn host_tag(args: &MapArgs) -> Option<&'static str> {
    if let Some(pdsh) = args.each_host.pdsh {
        pdsh.names.then_some(": ")
    } else if args.tag || args.output.tag_host {
        Some("\t")
    } else {
        None
    }
}

/// The end of the run, after its summary: advice if a host lacked the
/// worker, and the exit status.
fn exit_status(
    args: &MapArgs,
    failures: &Failures,
    joblog: &Result<(), String>,
    control: &PoolControl,
    tally: &Tally,
) -> ExitCode {
    let dead: Vec<FailedSlot> = failures
        .unreachable
        .values()
        .filter_map(|(why, _)| why.clone())
        .collect();
    crate::summary::advise_missing_worker(args.remote_bin.as_deref(), &dead);
    if let Err(msg) = joblog {
        say!("hearth map: {msg}");
        return ExitCode::from(OWN_ERROR);
    }
    let signal = control.signalled();
    if signal.is_some_and(|s| s != hearth::Signal::Hangup) {
        crate::map::interrupted_status(args, signal)
    } else if args.each_host.pdsh.is_some_and(|pdsh| pdsh.largest_status) {
        ExitCode::from(tally.largest_status())
    } else if args.each_host.pdsh.is_some_and(|pdsh| pdsh.as_pdsh) {
        // pdsh without -S: the summary said what failed.
        ExitCode::SUCCESS
    } else if args.halting.halt.is_none() && !args.halting.fail_fast {
        // GNU parallel runs each host's jobs as one job of its own: its
        // exit status counts the hosts where something failed.
        let mut hosts: Vec<usize> = (failures.unreachable.keys())
            .chain(failures.failed.iter().map(|(host, _, _)| host))
            .copied()
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        ExitCode::from(u8::try_from(hosts.len().min(101)).unwrap_or(101))
    } else {
        ExitCode::from(tally.exit_status())
    }
}

/// Says on stderr which hosts could not be reached and which jobs failed:
/// by host for `hearth run`, by job for `hearth map`.
fn summarize(
    args: &MapArgs,
    hosts: &[String],
    texts: &[JobText],
    failures: &Failures,
    printer: &Printer,
) {
    if let Some(pdsh) = args.each_host.pdsh.filter(|pdsh| pdsh.as_pdsh) {
        // What pdsh ran for a host: ssh, or the exec module's command.
        let program = match args.command.first() {
            Some(word) if pdsh.rcmd == crate::Rcmd::Exec => std::path::Path::new(word)
                .file_name()
                .unwrap_or(word)
                .to_string_lossy()
                .into_owned(),
            _ => "ssh".to_owned(),
        };
        say_as_pdsh(hosts, failures, &program, pdsh.rcmd);
        return;
    }
    let me = if args.each_host.pdsh.is_some() {
        "hearth run"
    } else {
        "hearth map"
    };
    for (&host, (why, jobs)) in &failures.unreachable {
        let jobs = if texts.len() == 1 {
            String::new()
        } else {
            format!("; its {jobs} jobs did not run")
        };
        let why = why.as_ref().map_or_else(
            || "no slot of it is left".to_owned(),
            |w| w.reason().to_string(),
        );
        say!("{me}: {}: could not be reached: {why}{jobs}", hosts[host]);
    }
    if args.each_host.pdsh.is_some() {
        for (host, _, why) in &failures.failed {
            say!("{me}: {}: {why}", hosts[*host]);
        }
        let mut failed: Vec<&str> = failures
            .unreachable
            .keys()
            .chain(failures.failed.iter().map(|(host, _, _)| host))
            .map(|&host| hosts[host].as_str())
            .collect();
        failed.sort_unstable();
        failed.dedup();
        if !failed.is_empty() {
            say!(
                "{me}: {} of {} hosts failed: {}",
                failed.len(),
                hosts.len(),
                failed.join(", ")
            );
        }
    } else if !failures.failed.is_empty() && !args.order.as_parallel {
        // Started as `parallel`, failed jobs are left to the exit status,
        // as GNU parallel leaves them.
        let listed = crate::summary::first_ten(&failures.failed, |(host, seq, why)| {
            format!("{} #{seq} ({why})", hosts[*host])
        });
        say!(
            "{me}: {} of {} jobs failed: {listed}",
            failures.failed.len(),
            hosts.len() * texts.len(),
        );
    }
    // Started as `parallel`, a run that stopped ends without a word, as
    // GNU parallel's.
    if printer.cancelled > 0 && !args.order.as_parallel {
        say!(
            "{me}: {} of {} jobs were not run (the run stopped); {} succeeded",
            printer.cancelled,
            hosts.len() * texts.len(),
            printer.succeeded
        );
    }
}

/// Started as pdsh: each failed host as pdsh says it on stderr (`pdsh@ME:
/// node1: ssh exited with exit code 3`; `node1: why` before it for a host
/// not reached, `pdsh@ME: node1: command timeout` for one past -u; with
/// the exec module, `CMD killed by signal 9`), so what reads pdsh's output
/// (dshbak, scripts) reads hearth's.
fn say_as_pdsh(hosts: &[String], failures: &Failures, program: &str, rcmd: Rcmd) {
    let me = format!("pdsh@{}", crate::pdsh::local_host());
    for (&host, (why, _)) in &failures.unreachable {
        let host = &hosts[host];
        if let Some(why) = why {
            say!("{host}: {}", why.reason());
        }
        say!("{me}: {host}: {program} exited with exit code 255");
    }
    for (host, _, failed) in &failures.failed {
        let host = &hosts[*host];
        if let Failed::TimedOut(..) = failed {
            say!("{me}: {host}: command timeout");
        }
        // How the command ended: ssh's status over ssh; the command's
        // own with the exec module (pdsh stops it with SIGTERM).
        let ended = match (rcmd, failed) {
            (Rcmd::Exec, Failed::Signal(signal)) => Some(Ended::Signal(*signal)),
            (Rcmd::Exec, Failed::TimedOut(_, then)) => {
                Some(then.unwrap_or(Ended::Signal(libc::SIGKILL)))
            }
            (_, Failed::Exit(code)) => Some(Ended::Exit(*code)),
            _ => None,
        };
        match ended {
            Some(Ended::Signal(signal)) => {
                say!("{me}: {host}: {program} killed by signal {signal}");
            }
            Some(Ended::Exit(0)) => {}
            Some(Ended::Exit(code)) => say!("{me}: {host}: {program} exited with exit code {code}"),
            None => say!("{me}: {host}: {program} exited with exit code 255"),
        }
    }
}
