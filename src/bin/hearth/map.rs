//! `hearth map`: one job per input over the slots of the hosts. The run
//! itself: plan it, build the pool, feed it the jobs, print each report,
//! halt when `--halt` says so, and exit with GNU parallel's statuses (0,
//! the number of failed jobs up to 100, 101 for more, 130 after Ctrl+C,
//! 255 for hearth's own errors).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write as _};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use hearth::remote::{
    Event, Feed, Files, Inputs, JobFailure, JobReport, Order, Pool, PoolControl, Stream, Target,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::color::Color;
use crate::gnu_progress::{self, GnuProgress, Shown};
use crate::halt::{self, Halt, Tally, When};
use crate::inputs::{JobText, Maker, Producer, Texts};
use crate::output::{Finished, Notice, Printer, Settings};
use crate::plan::{self, Jobs};
use crate::pool_setup::{PoolSetup, build_pool, total_slots};
use crate::sh::{self, Job, JobOutput};
use crate::streams::{Grouping, JobStreams};
use crate::summary::{
    SlurmPlacement, advise_missing_worker, report_dead_hosts, report_pending_slots, summarize,
};
use crate::{MapArgs, OWN_ERROR};

/// Exit status after Ctrl+C.
pub const INTERRUPTED: u8 = 130;

/// The exit status of a run stop signal `signal` ended: 128 + its
/// number, as a shell reports a command the signal ended (130 after
/// Ctrl+C, 143 after SIGTERM), or 255 for hearth started as `parallel`,
/// as GNU parallel exits when SIGINT or SIGTERM kills its jobs.
pub fn interrupted_status(args: &MapArgs, signal: Option<hearth::Signal>) -> ExitCode {
    if args.order.as_parallel {
        return ExitCode::from(OWN_ERROR);
    }
    let code = signal
        .and_then(|signal| u8::try_from(128 + signal.number()).ok())
        .unwrap_or(INTERRUPTED);
    ExitCode::from(code)
}

/// Jobs read from stdin and not yet taken by the pool, at most (the pool
/// itself takes only as many as keep its slots busy).
const FEED_CAPACITY: usize = 256;

/// Prints a one-line error of hearth's own and returns exit status 255.
pub fn own_error(msg: &str) -> ExitCode {
    say!("hearth map: {msg}");
    ExitCode::from(OWN_ERROR)
}

pub fn run(args: MapArgs) -> ExitCode {
    init_log();
    let halt = match halt_of(&args) {
        Ok(halt) => halt,
        Err(msg) => return own_error(&msg),
    };
    // A share of all the jobs needs all of them first.
    let read_all = halt.is_some_and(|h| h.is_percent());
    let plan = match plan::plan(&args, total_slots(&args), read_all) {
        Ok(plan) => plan,
        Err(msg) => return own_error(&msg),
    };
    if args.scheduling.dry_run || args.scheduling.shellquote > 0 {
        // With --dry-run, GNU parallel shows the command lines unquoted
        // whatever --shellquote says.
        let quote = if args.scheduling.dry_run {
            0
        } else {
            args.scheduling.shellquote
        };
        let colored = args.colors.colored();
        return dry_run(plan, total_slots(&args), quote, colored);
    }
    if args.each_host.nonall || args.each_host.onall {
        return crate::each_host::run(&args, plan, halt);
    }
    let (grouping, order) = grouping_and_order(&args);
    let settings = settings(&args, &plan, grouping);
    let mut printer = match Printer::new(settings) {
        Ok(printer) => printer,
        Err(err) => return own_error(&err.to_string()),
    };
    // Jobs to run, when known (less those --resume skips).
    let listed = match &plan.jobs {
        Jobs::Listed(jobs) => Some(
            (jobs.iter().enumerate())
                .filter(|(at, fields)| !plan.maker.skips(at + 1, fields))
                .count(),
        ),
        Jobs::Streamed(_) => None,
    };
    // No inputs is a run that did nothing, as in GNU parallel and `xargs
    // -r`: no slot is started for it.
    if listed == Some(0) {
        return match printer.finish() {
            Ok(()) => ExitCode::SUCCESS,
            Err(msg) => own_error(&msg),
        };
    }
    let mut pool = match build_pool(&args, listed) {
        Ok(pool) => pool,
        Err(PoolSetup::Usage(msg) | PoolSetup::Failed(msg)) => return own_error(&msg),
    };
    let control = pool.control();
    let bar = progress_bar(
        args.output.shows_progress(),
        listed.or(args.output.total_jobs),
    );
    let feeding = (args.delay, feed_capacity(&args));
    let made = make_jobs(plan.jobs, plan.maker, feeding, &pool);
    let (texts, listed_jobs, fed) = match made {
        Ok(made) => made,
        Err(msg) => return own_error(&msg),
    };
    let mut reporter = Reporter {
        texts,
        bar,
        printer,
        control,
        reader: fed.as_ref().map(|(_, reader)| reader.clone()),
        tally: Tally::new(halt, listed),
        killed: HashSet::new(),
        ended: HashSet::new(),
        reported: 0,
        write_error: None,
        quiet_kill: args.order.as_parallel,
        halt_said: HashMap::new(),
        say_halts_as_they_end: args.order.keep_order,
        gnu_progress: gnu_progress(&args, listed.or(args.output.total_jobs)),
    };
    let inputs: Inputs<'_, Job> = match (fed, listed_jobs) {
        (Some((feed, _)), _) => feed.into(),
        (None, (jobs, files)) if files.len() == jobs.len() && !files.is_empty() => {
            Inputs::with_files(jobs.into_iter().zip(files))
        }
        (None, (jobs, _)) => jobs.into(),
    };
    let mut on_event = |event: Event<'_>| reporter.on_event(event);
    let outcome = pool.run_raw(&Target::Any, sh::JOB_HANDLER, inputs, order, &mut on_event);
    reporter.bar.finish_and_clear();
    reporter.finish_gnu_progress();
    let joblog = reporter.printer.finish();
    // Before the shutdown, which ends the slots still waiting.
    report_pending_slots(
        &reporter.control.metrics(),
        SlurmPlacement::of(&args.slurm_options),
    );
    pool.shutdown(Duration::from_secs(5));
    if let Err(err) = outcome {
        return own_error(&err.to_string());
    }
    if let Some(err) = &reporter.write_error {
        return write_failed(err);
    }
    conclude(&args, &reporter, joblog)
}

/// How the printer prints the outputs of a run over the slots.
fn settings(args: &MapArgs, plan: &plan::Plan, grouping: Grouping) -> Settings {
    Settings {
        json: args.output.json,
        grouping,
        // GNU parallel tags no output of -u.
        tag: plan.tag.clone().filter(|_| grouping != Grouping::Ungroup),
        coloring: crate::color::coloring(args, grouping),
        host_tag: args.output.tag_host.then_some("\t"),
        host_is_node: args.slurm_options.slurm,
        bare_hosts: false,
        short_hosts: false,
        job_failures: if args.order.as_parallel {
            Notice::GnuParallel
        } else {
            Notice::Hearth
        },
        local_as_colon: false,
        joblog: args.joblog.clone(),
        resume: plan::resume(args),
        results: args.results.clone(),
        columns: plan.columns.clone(),
        sources: plan.sources,
        results_template: plan.results_template.clone(),
        piped: plan.maker.pipe,
        shown: args.verbose,
        files: crate::output::files_dir(args),
    }
}

/// Logs at the level of `HEARTH_LOG`, else errors only: the summary says
/// what went wrong, and `HEARTH_LOG=warn` shows each slot failure as it
/// happens.
fn init_log() {
    if std::env::var_os(hearth::log::LEVEL_ENV).is_some() {
        hearth::log::init();
    } else {
        hearth::log::init_with_level(log::LevelFilter::Error);
    }
}

/// When the run halts early: `--fail-fast`, or `--halt`'s condition.
fn halt_of(args: &MapArgs) -> Result<Option<Halt>, String> {
    match (&args.halting.halt, args.halting.fail_fast) {
        (_, true) => Ok(Some(Halt::FAIL_FAST)),
        (Some(text), false) => halt::parse(text),
        (None, false) => Ok(None),
    }
}

/// How outputs are printed, and in which order the pool hands them out.
fn grouping_and_order(args: &MapArgs) -> (Grouping, Order) {
    // -u prints bytes as they come, -k or not (as GNU parallel); the lines
    // of --line-buffer keep the input order with -k.
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
        Grouping::LineBuffer => Order::SubmissionLive,
        Grouping::Group if args.order.unordered => Order::Completion,
        Grouping::Group => Order::Submission,
    };
    (grouping, order)
}

/// The jobs made at hand (with their files) and their texts.
type MadeJobs = (Vec<Job>, Vec<Files>);

/// A feed of the pool and the thread that fills it.
type Fed = (Feed<Job>, Producer);

/// The run's jobs: all at hand, or a feed that a thread fills as it reads
/// the inputs (or, with --delay, as the delay allows), holding at most
/// `feed_capacity` jobs made ahead.
fn make_jobs(
    jobs: Jobs,
    maker: Maker,
    (delay, feed_capacity): (Option<Duration>, usize),
    pool: &Pool,
) -> Result<(Texts, MadeJobs, Option<Fed>), String> {
    Ok(match (jobs, delay) {
        (Jobs::Listed(all), None) => {
            let mut files = Vec::new();
            let mut made = Vec::new();
            for (index, fields) in all.into_iter().enumerate() {
                if maker.skips(index + 1, &fields) {
                    continue;
                }
                match maker.files(&fields, index + 1) {
                    Ok(Some(job_files)) => files.push(job_files),
                    Ok(None) => {}
                    Err(msg) => return Err(format!("job {}: {msg}", index + 1)),
                }
                made.push(
                    maker
                        .make(fields, index + 1)
                        .map_err(|msg| format!("job {}: {msg}", index + 1))?,
                );
            }
            let (jobs, texts): (Vec<_>, Vec<_>) = made.into_iter().unzip();
            (Texts::listed(texts), (jobs, files), None)
        }
        (jobs, delay) => {
            let jobs: plan::FieldsIter = match jobs {
                Jobs::Listed(all) => Box::new(all.into_iter().map(Ok)),
                Jobs::Streamed(batches) => batches,
            };
            let (feeder, feed) = pool.feed(feed_capacity);
            let (texts_tx, texts_rx) = crossbeam_channel::unbounded();
            let reader = Producer::start(jobs, maker, feeder, texts_tx, delay);
            (
                Texts::fed(texts_rx),
                (Vec::new(), Vec::new()),
                Some((feed, reader)),
            )
        }
    })
}

/// What the run does with each event of the pool: prints outputs and
/// reports, moves the progress bar, counts for --halt, and stops the run
/// when the output cannot be written or --halt says so.
struct Reporter {
    texts: Texts,
    bar: ProgressBar,
    printer: Printer,
    control: PoolControl,
    /// The thread that reads the inputs, if they are fed.
    reader: Option<Producer>,
    tally: Tally,
    /// The jobs that ended after `--halt now` (killed by it) and are not
    /// reported yet.
    killed: HashSet<usize>,
    /// Reports handed out so far.
    reported: usize,
    /// The first error writing the output: the run is then killed.
    write_error: Option<io::Error>,
    /// Started as `parallel`: once SIGINT or SIGTERM killed the run,
    /// nothing more is printed or logged, as GNU parallel prints nothing
    /// of the jobs it kills so.
    quiet_kill: bool,
    /// Started as `parallel`, with `--halt`: what GNU parallel says of
    /// the jobs that ended, said once their output is printed.
    halt_said: HashMap<usize, String>,
    /// With `-k`, what GNU parallel says of a job is said as it ends,
    /// before the output of the jobs before it.
    say_halts_as_they_end: bool,
    /// The jobs that ended and are not reported yet (with `-k`, they
    /// wait for the jobs before them).
    ended: HashSet<usize>,
    /// Started as `parallel`, with --progress, --eta or --bar, on a
    /// stderr that is no terminal: GNU parallel's text.
    gnu_progress: Option<GnuProgress>,
}

impl Reporter {
    fn on_event(&mut self, event: Event<'_>) -> ControlFlow<()> {
        if self.quiet_kill
            && self
                .control
                .signalled()
                .is_some_and(|s| s != hearth::Signal::Hangup)
        {
            self.printer.mute();
        }
        let (index, report) = match event {
            Event::Output {
                index,
                stream,
                bytes,
                slot,
            } => {
                let Some(text) = self.texts.get(index) else {
                    return ControlFlow::Continue(());
                };
                if self.killed.contains(&index) {
                    // See `Event::Done` below.
                    self.printer.mute();
                }
                let printer = &mut self.printer;
                let printed = self
                    .bar
                    .suspend(|| printer.output(index, text, stream, bytes, slot));
                return match printed {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(err) => self.write_failed(err),
                };
            }
            Event::Done { index, report } => (index, report.decode::<JobOutput>()),
            Event::Ended { index, report } => return self.ended(index, report),
            _ => return ControlFlow::Continue(()),
        };
        self.reported += 1;
        let _ = self.ended.remove(&index);
        if let Some(reader) = &self.reader {
            self.bar.set_length(reader.jobs() as u64);
        }
        if self.killed.remove(&index) {
            // Killed by `--halt now`: its output is not printed, nor (in
            // input order) that of the jobs after it, as GNU parallel.
            self.printer.mute();
        }
        let text = self.texts.take(index);
        let job = Finished {
            text: &text,
            report,
        };
        let printer = &mut self.printer;
        if let Err(err) = self.bar.suspend(|| printer.job(index, job)) {
            return self.write_failed(err);
        }
        if let Some(said) = self.halt_said.remove(&index) {
            self.say(&said);
        }
        self.bar.inc(1);
        self.gnu_progress_done(index, &text);
        let failures = self.printer.failed.len() + self.printer.not_run.len();
        if failures > 0 {
            self.bar.set_message(format!("failed={failures}"));
        }
        ControlFlow::Continue(())
    }

    /// Job `index` ended (its report comes again, in the run's order, to
    /// be printed): counted for --halt at once, so that a halt does not
    /// wait for the jobs before it.
    fn ended(&mut self, index: usize, report: &JobReport) -> ControlFlow<()> {
        let _ = self.ended.insert(index);
        if self.tally.halted == Some(When::Now) {
            let _ = self.killed.insert(index);
        }
        let output = report.peek::<JobOutput>();
        let result = ran(&output);
        let halting = result.and_then(|result| self.tally.ran(result));
        if self.quiet_kill
            && !self.killed.contains(&index)
            && let Some(result) = result
        {
            self.say_as_gnu_parallel(index, report, &output, result);
        }
        match halting {
            Some(When::Now) => {
                self.control.kill();
                ControlFlow::Break(())
            }
            Some(When::Soon) => ControlFlow::Break(()),
            None => ControlFlow::Continue(()),
        }
    }

    /// Started as `parallel`, with `--halt`: GNU parallel's lines for
    /// the job that counts toward it (`This job failed:` and its command
    /// line), and once the halt is met with `soon`, that no more jobs
    /// start while the running ones finish.
    fn say_as_gnu_parallel(
        &mut self,
        index: usize,
        report: &JobReport,
        output: &Result<JobOutput, hearth::remote::JobFailure>,
        result: Result<(), i32>,
    ) {
        let Some(halt) = self.tally.halt() else {
            return;
        };
        let what = match (halt.why, result) {
            (halt::Why::Fail, Err(_)) => "failed",
            (halt::Why::Success, Ok(())) => "succeeded",
            (halt::Why::Done, _) => "finished",
            _ => return,
        };
        let Some(text) = self.texts.get(index) else {
            return;
        };
        let slot = match (output, &report.slot) {
            (Ok(out), _) => Some(out.slot),
            (Err(_), slot) => slot.as_ref().map(|slot| slot.number),
        };
        let login = report
            .host
            .as_deref()
            .map(crate::output::as_gnu_parallel_names);
        let command = text.command(slot, login);
        let mut said = format!(
            "parallel: This job {what}:\n{}\n",
            String::from_utf8_lossy(&command)
        );
        let running = self.control.metrics().slots_busy;
        if self.tally.halted == Some(When::Soon) && running > 0 {
            let _ = writeln!(
                said,
                "parallel: Starting no more jobs. Waiting for {running} jobs to finish."
            );
        }
        // With -k, said at once unless the job is the next to print: GNU
        // parallel prints that one's output as it ends, and the outputs
        // of the jobs after it that ended before it, then says it.
        if self.say_halts_as_they_end && index != self.reported {
            self.say(&said);
            return;
        }
        let mut after = index;
        while self.say_halts_as_they_end && self.ended.contains(&(after + 1)) {
            after += 1;
        }
        // Said after that output, which GNU parallel prints as the job
        // ends.
        self.halt_said.entry(after).or_default().push_str(&said);
    }

    /// Where the run is, for GNU parallel's progress text: of `listed`
    /// jobs if known before they run.
    fn progress_state(&self, listed: Option<usize>) -> gnu_progress::State {
        let metrics = self.control.metrics();
        let read = self.reader.as_ref().map(Producer::jobs);
        gnu_progress::State {
            done: metrics.jobs_done,
            total: listed.or(read).unwrap_or(metrics.jobs_done),
            running: metrics.jobs_in_flight,
        }
    }

    /// Job `index` (`text`) ended: GNU parallel's progress text, if
    /// asked for, with the newest job started (jobs start in order).
    fn gnu_progress_done(&mut self, index: usize, text: &JobText) {
        let Some(listed) = self.gnu_progress.as_ref().map(GnuProgress::listed) else {
            return;
        };
        let state = self.progress_state(listed);
        let started = (state.done + state.running).saturating_sub(1);
        let newer = self.texts.get(started).map(JobText::input);
        if let Some(progress) = &mut self.gnu_progress {
            progress.saw(index, text.input());
            if let Some(newer) = newer {
                progress.saw(started, newer);
            }
            progress.done(state);
        }
    }

    /// The run ended: GNU parallel's last progress line, if asked for.
    fn finish_gnu_progress(&mut self) {
        let Some(listed) = self.gnu_progress.as_ref().map(GnuProgress::listed) else {
            return;
        };
        let state = gnu_progress::State {
            running: 0,
            ..self.progress_state(listed)
        };
        if let Some(progress) = &mut self.gnu_progress {
            progress.finish(state);
        }
    }

    /// Writes `text` (whole lines) on stderr, the progress bar aside.
    fn say(&self, text: &str) {
        self.bar.suspend(|| {
            let _ = io::stderr().lock().write_all(text.as_bytes());
        });
    }

    /// The output could not be written: the first error kills the run.
    fn write_failed(&mut self, err: io::Error) -> ControlFlow<()> {
        if self.write_error.is_none() {
            self.control.kill();
            self.write_error = Some(err);
        }
        ControlFlow::Break(())
    }
}

/// The end of a run that was not cut short: the summary on stderr, and
/// the exit status.
fn conclude(args: &MapArgs, reporter: &Reporter, joblog: Result<(), String>) -> ExitCode {
    let Reporter {
        printer,
        control,
        reader,
        tally,
        reported,
        ..
    } = reporter;
    let reported = *reported;
    let input_error = reader.as_ref().and_then(Producer::error);
    let read_nothing = reader
        .as_ref()
        .is_some_and(|r| r.finished() && r.jobs() == 0);
    if input_error.is_none() && read_nothing {
        // Whatever the slots did meanwhile, nothing was asked of them.
        return match joblog {
            Ok(()) => ExitCode::SUCCESS,
            Err(msg) => own_error(&msg),
        };
    }
    report_dead_hosts(&control.metrics());
    // SIGHUP (watched when started as `parallel`) only drained the run:
    // its exit status is the jobs'.
    let signal = control.signalled();
    let interrupted = signal.is_some_and(|s| s != hearth::Signal::Hangup);
    let why_stopped = if signal == Some(hearth::Signal::Hangup) {
        "SIGHUP".to_owned()
    } else if interrupted {
        "interrupted".to_owned()
    } else if let Some(when) = tally.halted {
        match (args.halting.fail_fast, &args.halting.halt) {
            (true, _) => "--fail-fast after a failure".to_owned(),
            (false, Some(text)) => format!("--halt {text} after {}", halted_after(tally, when)),
            (false, None) => "the run halted".to_owned(),
        }
    } else {
        "the pool stopped".to_owned()
    };
    // Started as `parallel`, a run a signal stopped ends without a word,
    // as GNU parallel's.
    if !(signal.is_some() && args.order.as_parallel) {
        // A halt is said as GNU parallel says it, as the jobs end.
        let why_stopped =
            (!(args.order.as_parallel && tally.halted.is_some())).then_some(why_stopped.as_str());
        summarize(printer, reported, why_stopped, args.order.as_parallel);
    }
    advise_missing_worker(args.remote_bin.as_deref(), &printer.dead);
    let mut own_failure = !printer.not_run.is_empty();
    // Inputs read but not taken by the run were dropped with its feed.
    if let Some(reader) = reader
        && (!reader.finished() || reader.jobs() > reported)
    {
        if reported == 0 {
            say!("hearth map: stopped reading the inputs; no job was run");
        } else {
            say!("hearth map: stopped reading the inputs; those after job {reported} were not run");
        }
        let metrics = control.metrics();
        if !interrupted && metrics.hosts.iter().all(|h| h.dead == h.slots) {
            say!("hearth map: the pool failed: every slot is dead");
            own_failure = true;
        }
    }
    if let Some(msg) = &input_error {
        say!("hearth map: {msg}");
        own_failure = true;
    }
    if let Err(msg) = &joblog {
        say!("hearth map: {msg}");
        own_failure = true;
    }
    if interrupted {
        interrupted_status(args, signal)
    } else if own_failure {
        ExitCode::from(OWN_ERROR)
    } else {
        ExitCode::from(tally.exit_status())
    }
}

/// How a job that ran ended: `Ok(())` if it succeeded, else its exit
/// status (255 for a failure that is not an exit); `None` for a job that
/// did not run (cancelled, or no slot left).
pub fn ran(result: &Result<JobOutput, JobFailure>) -> Option<Result<(), i32>> {
    match result {
        Ok(out) if out.success() => Some(Ok(())),
        Ok(out) => Some(Err(out.status_code())),
        Err(JobFailure::Cancelled(_) | JobFailure::NotRun { .. }) => None,
        Err(_) => Some(Err(255)),
    }
}

/// What the halt counted: `3 failed jobs`, ...
fn halted_after(tally: &Tally, when: When) -> String {
    let how = match when {
        When::Now => "the running ones killed",
        When::Soon => "the running ones finished",
    };
    format!(
        "{} failed and {} succeeded jobs; {how}",
        tally.failed, tally.succeeded
    )
}

/// `--dry-run`: the command line of each job on stdout, `{%}` the slots
/// in turn; nothing runs.
/// `--shellquote`: how many times each line of a dry run is quoted, and
/// whether the command was empty (its line is then the quoted inputs).
struct Quoting {
    times: u8,
    no_command: bool,
}

/// Quotes `line` as `--shellquote` says (nothing for a plain dry run).
fn shell_quoted(mut line: Vec<u8>, quoting: &Quoting) -> Vec<u8> {
    if quoting.times == 0 {
        return line;
    }
    let mut times = quoting.times;
    if quoting.no_command {
        // The inputs, appended after a space, are quoted once already.
        if line.first() == Some(&b' ') {
            let _ = line.remove(0);
        }
        times -= 1;
    }
    for _ in 0..times {
        let mut quoted = Vec::with_capacity(line.len() + 2);
        crate::replace::quote(&line, &mut quoted);
        line = quoted;
    }
    line
}

fn dry_run(plan: plan::Plan, slots: usize, shellquote: u8, colored: bool) -> ExitCode {
    let quoting = Quoting {
        times: shellquote,
        no_command: plan.maker.template.is_empty(),
    };
    let jobs: Box<dyn Iterator<Item = Result<Vec<Vec<u8>>, String>>> = match plan.jobs {
        Jobs::Listed(all) => Box::new(all.into_iter().map(Ok)),
        Jobs::Streamed(batches) => batches,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    // Jobs that `skip()` or `--filter` skip are printed too, and counted
    // as failed in the exit status, as GNU parallel's dry run does.
    let mut skipped = 0_usize;
    for (index, fields) in jobs.enumerate() {
        let fields = match fields {
            Ok(fields) => fields,
            Err(msg) => return own_error(&msg),
        };
        let (job, text) = match plan.maker.make(fields, index + 1) {
            Ok(made) => made,
            Err(msg) => return own_error(&format!("job {}: {msg}", index + 1)),
        };
        // --resume: what the joblog shows ran is not run again, nor shown.
        if plan.maker.skips(index + 1, &text.fields) {
            continue;
        }
        skipped += usize::from(job.skipped);
        let slot = u32::try_from(index % slots.max(1) + 1).unwrap_or(u32::MAX);
        let mut line = shell_quoted(text.command(Some(slot), None), &quoting);
        line.push(b'\n');
        // Tagged and coloured as the job's output would be, as GNU
        // parallel prints them.
        let written = match (&plan.tag, colored) {
            (None, false) => out.write_all(&line),
            (tag, colored) => {
                let prefix = tag
                    .as_ref()
                    .map(|tag| crate::output::tag_prefix(tag, &text, (Some(slot), None)))
                    .unwrap_or_default();
                let color = colored.then(|| Color::of_job(text.seq));
                let mut streams = JobStreams::new(prefix, color);
                streams
                    .write(Grouping::Group, Stream::Stdout, &line, &mut out)
                    .and_then(|()| streams.finish(Grouping::Group, Stream::Stdout, &mut out))
            }
        };
        if let Err(err) = written {
            return write_failed(&err);
        }
    }
    match out.flush() {
        Ok(()) => ExitCode::from(u8::try_from(skipped).map_or(101, |n| n.min(101))),
        Err(err) => write_failed(&err),
    }
}

/// The exit of a run whose output could not be written.
pub fn write_failed(err: &io::Error) -> ExitCode {
    if err.kind() == io::ErrorKind::BrokenPipe {
        // Like any filter whose reader went away.
        return ExitCode::from(141);
    }
    own_error(&format!("cannot write the output: {err}"))
}

/// How many jobs are read ahead of the run: a block of --pipe (a part of
/// --pipe-part) is held until its job ends, so a few per slot, not 256.
fn feed_capacity(args: &MapArgs) -> usize {
    if args.blocks.pipe || args.blocks.pipe_part {
        total_slots(args).max(1)
    } else {
        FEED_CAPACITY
    }
}

/// GNU parallel's progress text (`gnu_progress.rs`) of `listed` jobs (if
/// known before they run), started, when started as `parallel` with
/// --progress, --eta or --bar on a stderr that is no terminal, to run on
/// this machine alone; `None` otherwise.
fn gnu_progress(args: &MapArgs, listed: Option<usize>) -> Option<GnuProgress> {
    let output = &args.output;
    let here = args.hosts.iter().all(|host| host == ":")
        && args.login_files.is_empty()
        && !args.slurm_options.slurm;
    if !args.order.as_parallel || !output.shows_progress() || io::stderr().is_terminal() || !here {
        return None;
    }
    let shown = if output.progress.bar {
        Shown::Bar
    } else if output.progress.eta {
        Shown::Eta
    } else {
        Shown::Progress
    };
    Some(GnuProgress::start(shown, total_slots(args), listed))
}

/// A progress bar on stderr when asked for and stderr is a terminal;
/// hidden otherwise. `total` is `None` for inputs still being read.
pub fn progress_bar(wanted: bool, total: Option<usize>) -> ProgressBar {
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
