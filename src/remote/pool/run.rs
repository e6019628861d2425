//! The run loop of a blocking [`Pool`]: takes inputs while fewer than
//! [`MAX_AHEAD`] jobs wait to be reported (and, once jobs with stdin are
//! among them, while fewer of those than the slots' windows hold have not
//! ended, so that the pool holds a bounded number of stdin blocks, as the
//! slots need them), drives the engine on the pool's
//! poll, and hands out the jobs' events in the run's order
//! (`delivery.rs`). The callback runs without the engine's lock, so the
//! keep-alive thread pings the slots while it takes long.

use std::collections::HashSet;
use std::io;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{MAX_AHEAD, Pool, lock, poll_once};
use crate::remote::delivery::{Delivery, Event, MarkLive, OnEvent};
use crate::remote::engine::{Completed, Engine, Reply};
use crate::remote::feed::{Pulled, Source};
use crate::remote::{Order, PoolError};

/// Which slots may run each job of a run: the same ones for every job (a
/// [`Target`](crate::remote::Target)'s), or each input on each host in
/// turn (`Pool::run_raw_on_each_host`): the first `per_host` jobs on the
/// first host's slots, the next `per_host` on the second's, and so on.
pub(super) enum Placement {
    /// Every job on these slots.
    One(Vec<bool>),
    /// Job `k` on the slots `hosts[k / per_host]`.
    EachHost {
        hosts: Vec<Vec<bool>>,
        per_host: usize,
    },
}

impl Placement {
    /// The slots that may run the run's job `index`.
    fn of(&self, index: usize) -> &[bool] {
        match self {
            Placement::One(eligible) => eligible,
            Placement::EachHost { hosts, per_host } => {
                let host = (index / (*per_host).max(1)).min(hosts.len().saturating_sub(1));
                &hosts[host]
            }
        }
    }

    /// True while some job of the run may still find a slot alive.
    fn can_run(&self, engine: &crate::remote::engine::Engine) -> bool {
        match self {
            Placement::One(eligible) => engine.can_run(eligible),
            Placement::EachHost { hosts, .. } => hosts.iter().any(|e| engine.can_run(e)),
        }
    }

    /// Jobs the run takes ahead of its reports at most: every job of a run
    /// on each host (its inputs are a list in memory already), so that the
    /// later hosts start with the first.
    fn max_ahead(&self, capacity: usize) -> usize {
        let ahead = MAX_AHEAD.max(2 * capacity);
        match self {
            Placement::One(_) => ahead,
            Placement::EachHost { hosts, per_host } => ahead.max(hosts.len() * per_host),
        }
    }
}

impl Pool {
    /// Runs `handler` on the payloads of `source`, each job on the slots
    /// `placement` gives it, and hands `on_event` the events in `order`:
    /// each job's streamed output as it comes if `streamed`, else
    /// collected into its report.
    pub(super) fn run_source<P: Iterator<Item = crate::remote::feed::Payload>>(
        &mut self,
        placement: &Placement,
        handler: &str,
        mut source: Source<P>,
        order: Order,
        streamed: bool,
        on_event: &mut OnEvent<'_>,
    ) -> Result<(), PoolError> {
        let handler: Arc<str> = Arc::from(handler);
        let engine_lock = self.engine.clone();
        let mut engine = lock(&engine_lock);
        engine.pause(false);
        let max_ahead = placement.max_ahead(engine.capacity());
        // Jobs with stdin taken and not ended, at most: their bytes stay
        // in memory until they end (to run them again if a slot fails).
        let max_with_stdin = engine.capacity().max(1);
        // The head streams only when asked to, and not when a failed run
        // may run again: then only its last run's output goes out.
        let (order, hold_head) = match order {
            Order::SubmissionLive => (Order::Submission, engine.retries() > 0),
            Order::Submission => (Order::Submission, true),
            order => (order, false),
        };
        let stats = engine.stats().clone();
        let _held = stats.held_until_dropped();
        drop(engine);
        let mut delivery = Delivery::new(order, hold_head, self.max_held_bytes);
        let (mut taken, mut reported, mut stopped, mut ended) = (0, 0, false, false);
        // This run's tags are `first_tag + index`.
        let first_tag = self.next_tag;
        let mut done = Vec::new();
        // The jobs of this run with stdin that have not ended, by index.
        let mut with_stdin = HashSet::new();
        let mut mark_live = |id, run| lock(&engine_lock).mark_live(id, run);
        let mut signalled = false;
        let result = loop {
            if std::mem::take(&mut signalled) {
                self.take_signals();
            }
            let mut engine = lock(&self.engine);
            stopped |= self.obey_control(&mut engine);
            // Outcomes first: a callback that breaks stops the next
            // dispatch.
            done.extend(engine.take_completed());
            drop(engine);
            let mut counted = |event: Event<'_>| {
                reported += usize::from(matches!(event, Event::Done { .. }));
                on_event(event)
            };
            let delivered = deliver_completed(
                &mut done,
                (first_tag, &mut with_stdin),
                &mut delivery,
                &mut mark_live,
                &mut counted,
            );
            let mut engine = lock(&self.engine);
            match delivered {
                Ok(stop) => stopped |= stop,
                Err(err) => {
                    // Nothing more of this run can be held: it ends here.
                    engine.pause(true);
                    break Err(PoolError::HeldOutput(err));
                }
            }
            if stopped {
                engine.pause(true);
                if source.is_feed() {
                    source.close();
                    ended = true;
                }
            }
            // More inputs, after the reports that made room for them (taken
            // before, a run whose every job was just reported would sleep
            // with inputs left). A stopped list is still taken, as far
            // ahead as ever: its jobs are cancelled at once, reported, and
            // the next ones taken.
            while !ended && taken - reported < max_ahead && with_stdin.len() < max_with_stdin {
                match source.pull() {
                    Pulled::Input((payload, files)) => {
                        if files.as_ref().is_some_and(|f| f.stdin.is_some()) {
                            let _ = with_stdin.insert(taken);
                        }
                        let tag = first_tag + taken;
                        let reply = reply_for(tag, streamed, order);
                        self.next_tag = tag + 1;
                        let eligible = placement.of(taken);
                        let id = engine.submit(eligible, (handler.clone(), payload, files), reply);
                        delivery.taken(id);
                        taken += 1;
                    }
                    Pulled::Later => break,
                    Pulled::End => ended = true,
                }
            }
            // Too many bytes wait for the first job not reported: run it
            // alone, so that they can go.
            let over = delivery.held_bytes() > self.max_held_bytes;
            engine.hold_for(delivery.head().filter(|_| over));
            stats.set_held(delivery.held(), delivery.held_bytes());
            let (in_memory, in_files) = delivery.held_output();
            stats.set_output_held(in_memory, in_files);
            engine.do_due_work(self.poll.registry());
            // Nothing could run what a feed brings, even while none comes
            // (the jobs taken end as not run, not as cancelled).
            if source.is_feed() && !ended && !placement.can_run(&engine) {
                source.close();
                ended = true;
            }
            if ended && reported == taken {
                break Ok(());
            }
            if engine.has_completed() {
                continue;
            }
            match poll_once(&mut self.poll, &mut self.events, &mut engine, None) {
                Ok(signals) => signalled = signals,
                Err(err) => break Err(err),
            }
        };
        let mut engine = lock(&self.engine);
        engine.pause(false);
        engine.hold_for(None);
        result
    }
}

impl Pool {
    /// Does what the pool's [`PoolControl`](super::PoolControl) asks: kills
    /// the slots or pauses the engine. True if the run is to stop.
    fn obey_control(&self, engine: &mut Engine) -> bool {
        let mut stop = false;
        if self.control.kill.load(Ordering::SeqCst) {
            stop = true;
            engine.kill_all(self.poll.registry());
        }
        if self.control.stop.load(Ordering::SeqCst) {
            stop = true;
            engine.pause(true);
        }
        stop
    }
}

/// How the engine hands back job `tag`'s output: streamed (live in an
/// arrival-order run), or collected into its report.
fn reply_for(tag: usize, streamed: bool, order: Order) -> Reply {
    if streamed {
        let live = order == Order::Arrival;
        Reply::Stream { tag, live }
    } else {
        Reply::Collect(tag)
    }
}

/// Hands the jobs that completed (`done`, emptied) to `delivery`, which
/// passes their events on in the run's order; a job that ended leaves
/// `with_stdin`, and this run's tags start at `first_tag`. True if a
/// callback broke (the run stops); an error if output can be held no more.
fn deliver_completed(
    done: &mut Vec<(usize, Completed)>,
    (first_tag, with_stdin): (usize, &mut HashSet<usize>),
    delivery: &mut Delivery,
    mark_live: &mut MarkLive<'_>,
    on_event: &mut OnEvent<'_>,
) -> io::Result<bool> {
    let mut stop = false;
    for (tag, item) in done.drain(..) {
        // A job of an earlier run that ended early: nobody waits.
        let Some(index) = tag.checked_sub(first_tag) else {
            continue;
        };
        let flow = match item {
            Completed::Output {
                run,
                stream,
                data,
                slot,
            } => delivery.output(index, (run, stream, data, slot), mark_live, on_event)?,
            Completed::Restarted => {
                delivery.restarted(index);
                ControlFlow::Continue(())
            }
            Completed::Done(report) => {
                let _ = with_stdin.remove(&index);
                delivery.done(index, report, mark_live, on_event)?
            }
        };
        stop |= flow.is_break();
    }
    Ok(stop)
}
