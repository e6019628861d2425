//! The shutdown policy's transitions, without threads.

use std::time::{Duration, Instant};

use super::{Action, Cause, Event, Forced, Phase, Policy};
use crate::signal::Signal;

const GRACE: Duration = Duration::from_secs(5);

fn stop(signal: Signal) -> Event {
    Event::StopSignal {
        signal,
        receivers: 0,
    }
}

#[test]
fn an_unhandled_stop_signal_drains_and_a_second_forces() {
    let now = Instant::now();
    let mut policy = Policy::new(GRACE, false);
    assert_eq!(policy.on(stop(Signal::Interrupt), now), Action::Drain);
    assert_eq!(
        policy.phase(),
        Phase::Draining {
            cause: Cause::Signal(Signal::Interrupt),
            until: Some(now + GRACE)
        }
    );
    assert_eq!(policy.deadline(), Some(now + GRACE));
    // SIGQUIT counts as a stop signal too.
    assert_eq!(
        policy.on(stop(Signal::Quit), now),
        Action::Force(Forced::Signal(Signal::Quit))
    );
    assert_eq!(policy.phase(), Phase::Forced);
    // Nothing moves a forced stop.
    assert_eq!(policy.on(Event::ThreadsDone, now), Action::Nothing);
}

#[test]
fn receivers_decide_on_stop_signals() {
    let now = Instant::now();
    let mut policy = Policy::new(GRACE, false);
    let handled = Event::StopSignal {
        signal: Signal::Terminate,
        receivers: 2,
    };
    assert_eq!(policy.on(handled, now), Action::Nothing);
    assert_eq!(policy.phase(), Phase::Running);
    // They ask for the shutdown; a later signal then forces.
    assert_eq!(policy.on(Event::ShutdownRequested, now), Action::Drain);
    assert_eq!(policy.on(Event::ShutdownRequested, now), Action::Nothing);
    assert_eq!(
        policy.on(handled, now),
        Action::Force(Forced::Signal(Signal::Terminate))
    );
}

#[test]
fn the_grace_period_forces_a_drain_that_does_not_end() {
    let now = Instant::now();
    let mut policy = Policy::new(GRACE, false);
    let _ = policy.on(Event::ShutdownRequested, now);
    assert_eq!(
        policy.on(Event::Tick(now + GRACE / 2), now),
        Action::Nothing
    );
    assert_eq!(
        policy.on(Event::Tick(now + GRACE), now),
        Action::Force(Forced::GraceOver)
    );
}

#[test]
fn a_failed_thread_stops_the_others_within_the_grace_period_already_running() {
    let start = Instant::now();
    let later = start + Duration::from_secs(3);
    let mut policy = Policy::new(GRACE, false);
    let _ = policy.on(Event::ShutdownRequested, start);
    assert_eq!(policy.on(Event::ThreadFailed, later), Action::StopThreads);
    assert_eq!(
        policy.phase(),
        Phase::Failed {
            until: Some(start + GRACE)
        }
    );
    assert_eq!(policy.on(Event::ThreadFailed, later), Action::Nothing);
    // A failure is never reported as an interrupt.
    assert_eq!(policy.on(Event::ThreadsDone, later), Action::ClosePools);
    assert_eq!(policy.interrupted_by(), None);
}

#[test]
fn a_failed_thread_while_running_gets_a_grace_period() {
    let now = Instant::now();
    let mut policy = Policy::new(GRACE, false);
    assert_eq!(policy.on(Event::ThreadFailed, now), Action::StopThreads);
    assert_eq!(policy.deadline(), Some(now + GRACE));
    assert_eq!(
        policy.on(stop(Signal::Interrupt), now),
        Action::Force(Forced::Signal(Signal::Interrupt))
    );
}

#[test]
fn threads_done_close_the_pools_with_a_grace_period_of_their_own() {
    let start = Instant::now();
    let done = start + Duration::from_secs(4);
    let mut policy = Policy::new(GRACE, false);
    let _ = policy.on(stop(Signal::Interrupt), start);
    assert_eq!(policy.on(Event::ThreadsDone, done), Action::ClosePools);
    assert_eq!(policy.deadline(), Some(done + GRACE));
    assert_eq!(
        policy.on(Event::Tick(done + GRACE / 2), done),
        Action::Nothing
    );
    assert_eq!(policy.on(Event::PoolsClosed, done), Action::Return);
    // The drain's cause decides the result.
    assert_eq!(policy.interrupted_by(), Some(Signal::Interrupt));
}

#[test]
fn pools_that_do_not_close_in_time_are_killed() {
    let now = Instant::now();
    let mut policy = Policy::new(GRACE, false);
    assert_eq!(policy.on(Event::ThreadsDone, now), Action::ClosePools);
    assert_eq!(
        policy.on(Event::Tick(now + GRACE), now),
        Action::KillPoolsAndReturn
    );
    assert_eq!(policy.interrupted_by(), None);
}

#[test]
fn while_pools_close_the_first_signal_waits_and_the_second_kills() {
    let now = Instant::now();
    let mut policy = Policy::new(GRACE, false);
    let _ = policy.on(Event::ThreadsDone, now);
    assert_eq!(policy.on(stop(Signal::Terminate), now), Action::Nothing);
    assert_eq!(
        policy.phase(),
        Phase::ClosingPools {
            until: Some(now + GRACE),
            drained: Some(Cause::Signal(Signal::Terminate))
        }
    );
    assert_eq!(
        policy.on(stop(Signal::Interrupt), now),
        Action::Force(Forced::Signal(Signal::Interrupt))
    );
}

#[test]
fn a_sigterm_drain_ends_cleanly_and_a_sigint_drain_as_interrupted() {
    let now = Instant::now();
    for (signal, interrupted) in [
        (Signal::Terminate, None),
        (Signal::Quit, None),
        (Signal::Interrupt, Some(Signal::Interrupt)),
    ] {
        let mut policy = Policy::new(GRACE, false);
        let _ = policy.on(stop(signal), now);
        assert_eq!(policy.interrupted_by(), interrupted, "{signal}");
    }
    assert_eq!(Policy::new(GRACE, false).interrupted_by(), None);
}

#[test]
fn a_failed_poll_forces_from_any_phase() {
    let now = Instant::now();
    let mut policy = Policy::new(GRACE, false);
    assert_eq!(
        policy.on(Event::PollFailed, now),
        Action::Force(Forced::PollFailed)
    );
}

#[test]
fn no_grace_period_limit_means_no_deadline() {
    let now = Instant::now();
    let mut policy = Policy::new(Duration::MAX, false);
    let _ = policy.on(Event::ShutdownRequested, now);
    assert_eq!(policy.deadline(), None);
    assert_eq!(
        policy.on(Event::Tick(now + Duration::from_secs(1 << 30)), now),
        Action::Nothing
    );
}

#[test]
fn stop_signals_can_be_the_normal_end() {
    let now = Instant::now();
    let mut policy = Policy::new(GRACE, true);
    assert_eq!(policy.on(stop(Signal::Interrupt), now), Action::Drain);
    assert_eq!(policy.interrupted_by(), None);
    // A second one still forces.
    assert_eq!(
        policy.on(stop(Signal::Interrupt), now),
        Action::Force(Forced::Signal(Signal::Interrupt))
    );
}
