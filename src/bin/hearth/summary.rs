//! What `hearth map` says on stderr at the end of a run: the jobs that
//! failed or did not run, and the hosts whose slots died or never ran;
//! and during it, at once: a slot lost, a stop signal (Ctrl+C).

use hearth::Signal;
use hearth::remote::{FailedSlot, PoolMetrics, SlotFailure, SlotLost, StopStep};

use crate::output::Printer;

/// Where a run's Slurm slots were placed, for the advice on slots that
/// never ran.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum SlurmPlacement {
    /// Each slot a Slurm job of its own, through the queue.
    Queue,
    /// Steps of an allocation hearth made (`--slurm-alloc`).
    OwnAllocation,
    /// Steps of an allocation the user gave (`--slurm-jobid`).
    GivenAllocation,
}

impl SlurmPlacement {
    /// The placement of `hearth map`'s Slurm options.
    pub fn of(options: &crate::SlurmOptions) -> SlurmPlacement {
        if options.slurm_jobid.is_some() {
            SlurmPlacement::GivenAllocation
        } else if options.slurm_alloc {
            SlurmPlacement::OwnAllocation
        } else {
            SlurmPlacement::Queue
        }
    }
}

/// Lines for each host with slots whose scheduler never ran them (Slurm
/// jobs not started at the end), saying why only when it is known.
pub fn report_pending_slots(metrics: &PoolMetrics, placement: SlurmPlacement) {
    for host in metrics.hosts.iter().filter(|h| h.pending > 0) {
        for line in pending_lines(&host.name, host.slots, host.pending, host.queued, placement) {
            say!("{line}");
        }
    }
}

/// What to say of a host's `pending` slots of `slots` at the end, of which
/// srun said `queued` waited for resources: those, with the advice; the
/// others only that the run ended before they started (they were
/// allocated and starting, or srun had not said).
fn pending_lines(
    host: &str,
    slots: usize,
    pending: usize,
    queued: usize,
    placement: SlurmPlacement,
) -> Vec<String> {
    let queued = queued.min(pending);
    let mut lines = Vec::new();
    if queued > 0 {
        let advice = match placement {
            SlurmPlacement::OwnAllocation => {
                "use fewer slots (-j) or a larger allocation (--salloc-args)"
            }
            SlurmPlacement::GivenAllocation => {
                "use fewer slots (-j) or a larger allocation (--slurm-jobid)"
            }
            SlurmPlacement::Queue => {
                "use fewer slots (-j), or --slurm-alloc to run every slot as a step of one allocation"
            }
        };
        lines.push(format!(
            "hearth map: host {host}: {queued} of {slots} slots never ran: their Slurm jobs were \
             still pending in the queue at the end (the cluster had no room for them); {advice}"
        ));
    }
    let starting = pending - queued;
    if starting > 0 {
        lines.push(format!(
            "hearth map: host {host}: {starting} of {slots} slots never ran: the run ended before \
             their Slurm jobs started"
        ));
    }
    lines
}

/// One line per host with slots dead for good.
pub fn report_dead_hosts(metrics: &PoolMetrics) {
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

/// When slots died because hearth is not on their host at the path it
/// took (its own, as no --remote-bin was given): what to do.
pub fn advise_missing_worker(remote_bin: Option<&str>, dead: &[FailedSlot]) {
    if remote_bin.is_some() {
        return;
    }
    let missing = dead
        .iter()
        .any(|slot| matches!(slot.failure, SlotFailure::BinaryMissing { .. }));
    if missing {
        let here = std::env::current_exe()
            .map_or_else(|_| "this path".to_owned(), |p| p.display().to_string());
        let here = here.strip_suffix(" (deleted)").unwrap_or(&here);
        say!(
            "hearth map: hearth is not at {here} on the hosts above: install it there at that \
             path, give its path there with --remote-bin PATH, or let hearth copy itself \
             there with --install-worker"
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

/// The summary on stderr: the jobs that did not run for want of slots,
/// those that failed (not for hearth started `as_parallel`), those not
/// run because the run stopped (`why_stopped`, `None` if that was said).
pub fn summarize(printer: &Printer, total: usize, why_stopped: Option<&str>, as_parallel: bool) {
    if !printer.not_run.is_empty() {
        say!(
            "hearth map: the pool failed: {} of {total} jobs did not run because every slot that could run them is dead: {}",
            printer.not_run.len(),
            dedupe_reasons(&printer.dead)
        );
    }
    // Skipped jobs count as failed (the exit status, as GNU parallel's),
    // but are said apart: nothing went wrong with them.
    let (skipped, failed): (Vec<_>, Vec<_>) =
        (printer.failed.iter()).partition(|(_, why)| why == crate::output::SKIPPED);
    // Started as `parallel`, failed jobs are left to the exit status, as
    // GNU parallel leaves them: a script that reads stderr sees what it
    // would.
    if !skipped.is_empty() && !as_parallel {
        say!(
            "hearth map: {} of {total} jobs skipped (--filter, or skip() in {{= =}}), counted as \
             failed in the exit status: {}",
            skipped.len(),
            first_ten(&skipped, |(seq, _)| format!("#{seq}"))
        );
    }
    if !failed.is_empty() && !as_parallel {
        say!(
            "hearth map: {} of {total} jobs failed: {}",
            failed.len(),
            first_ten(&failed, |(seq, why)| format!("#{seq} ({why})"))
        );
    }
    if printer.cancelled > 0
        && let Some(why_stopped) = why_stopped
    {
        say!(
            "hearth map: {} of {total} jobs were not run ({why_stopped}); {} succeeded",
            printer.cancelled,
            printer.succeeded
        );
    }
}

/// The first ten of `jobs` as `show` says each, then `...` if there are
/// more: the jobs a summary names.
pub fn first_ten<T>(jobs: &[T], show: impl Fn(&T) -> String) -> String {
    let mut listed: Vec<String> = jobs.iter().take(10).map(show).collect();
    if jobs.len() > 10 {
        listed.push("...".to_owned());
    }
    listed.join(", ")
}

/// Says at once that a slot was lost while it served, and what became of
/// its jobs (the summary at the end only counts what failed).
pub fn say_slot_lost(lost: &SlotLost) {
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

/// Says at once what a stop signal (Ctrl+C, SIGTERM) did: the first, with
/// how far the run is, stops the start of new jobs; the next kills the
/// slots.
pub fn say_stop_signal(_signal: Signal, step: StopStep, metrics: &PoolMetrics) {
    match step {
        StopStep::Drain => say!(
            "hearth: interrupted: {}; finishing the running jobs, starting no new ones \
             (Ctrl+C again kills them)",
            status_line(metrics)
        ),
        _ => say!("hearth: interrupted again: killing the slots"),
    }
}

/// What a stop signal did, in GNU parallel's words, for hearth started
/// as `parallel`: SIGHUP drains and says so; SIGINT and SIGTERM kill
/// the jobs without a word.
pub fn say_stop_signal_as_parallel(_signal: Signal, step: StopStep, metrics: &PoolMetrics) {
    if step == StopStep::Drain {
        say!(
            "hearth: SIGHUP received. No new jobs will be started.\n\
             hearth: Waiting for these {} jobs to finish. Send SIGTERM to stop now.",
            metrics.slots_busy
        );
    }
}

/// `running=R done=D queued=Q; node1: running=.. done=..; ...`
fn status_line(metrics: &PoolMetrics) -> String {
    let hosts: Vec<String> = metrics
        .hosts
        .iter()
        .map(|h| {
            let pending = if h.pending > 0 {
                format!(" pending={}", h.pending)
            } else {
                String::new()
            };
            format!(
                "{}: running={} done={} slots alive={}/{}{pending}",
                h.name, h.busy, h.jobs_done, h.alive, h.slots
            )
        })
        .collect();
    format!(
        "running={} done={} queued={}; {}",
        metrics.jobs_in_flight,
        metrics.jobs_done,
        metrics.jobs_queued,
        hosts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::{SlurmPlacement, pending_lines};

    #[test]
    fn pending_slots_say_why_only_when_known() {
        assert!(pending_lines("slurm", 12, 0, 0, SlurmPlacement::Queue).is_empty());
        // Allocated at once, not started when a short run ended: no word of
        // a full cluster.
        let lines = pending_lines("slurm", 12, 3, 0, SlurmPlacement::OwnAllocation);
        assert_eq!(
            lines,
            [
                "hearth map: host slurm: 3 of 12 slots never ran: the run ended before their \
              Slurm jobs started"
            ]
        );
        // srun said 8 waited in the queue.
        let lines = pending_lines("slurm", 40, 8, 8, SlurmPlacement::Queue);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "hearth map: host slurm: 8 of 40 slots never ran: their Slurm jobs were still \
                 pending in the queue at the end (the cluster had no room for them); use fewer \
                 slots (-j), or --slurm-alloc"
            ),
            "{lines:?}"
        );
        let lines = pending_lines("slurm", 40, 10, 8, SlurmPlacement::OwnAllocation);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("8 of 40 slots never ran: their Slurm jobs were still pending"));
        assert!(lines[0].ends_with("a larger allocation (--salloc-args)"));
        assert!(lines[1].contains("2 of 40 slots never ran: the run ended before"));
        // In an allocation the user gave, the advice names that.
        let lines = pending_lines("slurm", 40, 8, 8, SlurmPlacement::GivenAllocation);
        assert!(
            lines[0].ends_with("a larger allocation (--slurm-jobid)"),
            "{lines:?}"
        );
    }
}
