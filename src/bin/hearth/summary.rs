//! What `hearth map` says on stderr at the end of a run: the jobs that
//! failed or did not run, and the hosts whose slots died or never ran;
//! and during it, at once: a slot lost, a stop signal (Ctrl+C).

use hearth::Signal;
use hearth::remote::{FailedSlot, PoolMetrics, SlotLost, StopStep};

use crate::output::Printer;

/// One line per host with slots whose scheduler never ran them (Slurm
/// jobs still pending at the end).
pub fn report_pending_slots(metrics: &PoolMetrics, in_allocation: bool) {
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
/// those that failed, those not run because the run stopped (`why`).
pub fn summarize(printer: &Printer, total: usize, why_stopped: &str) {
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
        say!(
            "hearth map: {} of {total} jobs were not run ({why_stopped}); {} succeeded",
            printer.cancelled,
            printer.succeeded
        );
    }
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
