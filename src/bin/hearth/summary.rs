//! What `hearth map` says on stderr at the end of a run: the jobs that
//! failed or did not run, and the hosts whose slots died or never ran.

use hearth::remote::PoolMetrics;

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
fn dedupe_reasons(reasons: &[String]) -> String {
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for reason in reasons {
        let (label, why) = match reason.split_once(": ") {
            Some((label, why)) => (label.to_owned(), why.to_owned()),
            None => (String::new(), reason.clone()),
        };
        match grouped.iter_mut().find(|(w, _)| *w == why) {
            Some((_, labels)) => labels.push(label),
            None => grouped.push((why, vec![label])),
        }
    }
    grouped
        .into_iter()
        .map(|(why, labels)| format!("{}: {why}", labels.join(", ")))
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
