//! Timers: ordering, deadlines, intervals, cancellation, thread-safe timers.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{self, Wake, Waker};
use std::time::{Duration, Instant};

use hearth::FutureOptions;
use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::timer::{Deadline, DeadlinePassed, Interval, Timer};
use hearth::{Access, ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

/// Runs `f` on a one-worker runtime and returns what it sends.
fn on_worker<T: Send + 'static>(
    f: impl FnOnce(RuntimeRef, mpsc::Sender<T>) + Send + Clone + 'static,
) -> Vec<T> {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    runtime.run_on_workers(move |rt: RuntimeRef| {
        f(rt, tx);
        Ok::<_, String>(())
    });
    runtime.start().unwrap();
    rx.iter().collect()
}

/// Records the index of each timer as its waker is called.
struct Record(usize, Arc<std::sync::Mutex<Vec<usize>>>);

impl Wake for Record {
    fn wake(self: Arc<Self>) {
        self.1.lock().unwrap().push(self.0);
    }
}

#[test]
fn many_timers_fire_in_deadline_order() {
    const N: usize = 200;
    let fired = on_worker(|mut rt, tx| {
        let timer_rt = rt.clone();
        rt.spawn_local_future(
            async move {
                let order = Arc::new(std::sync::Mutex::new(Vec::new()));
                // Far enough ahead that registering all of them comes first.
                let base = Instant::now() + Duration::from_millis(250);
                let deadlines: Vec<Instant> = (0..N)
                    .map(|i| base + Duration::from_millis((i as u64 * 7) % 40))
                    .collect();
                let mut timers: Vec<_> = deadlines
                    .iter()
                    .map(|d| Timer::at(timer_rt.clone(), *d))
                    .collect();
                for (i, timer) in timers.iter_mut().enumerate() {
                    let waker = Waker::from(Arc::new(Record(i, order.clone())));
                    let poll = Pin::new(timer).poll(&mut task::Context::from_waker(&waker));
                    assert!(poll.is_pending(), "registering took longer than 250 ms");
                }
                Timer::at(timer_rt, base + Duration::from_millis(50)).await;
                let order = order.lock().unwrap().clone();
                tx.send((deadlines, order)).unwrap();
                drop(timers);
            },
            FutureOptions::default(),
        );
    });
    let (deadlines, order) = &fired[0];
    assert_eq!(order.len(), N, "every timer fired once");
    let mut sorted = order.clone();
    sorted.sort_by_key(|&i| (deadlines[i], i));
    assert_eq!(*order, sorted);
}

#[test]
fn deadline_passes_or_not() {
    let results = on_worker(|mut rt, tx| {
        let timer_rt = rt.clone();
        rt.spawn_local_future(
            async move {
                let never = std::future::pending::<u32>();
                let late = Deadline::after(timer_rt.clone(), Duration::from_millis(5), never).await;
                tx.send(late).unwrap();
                let quick = async { 42 };
                let on_time =
                    Deadline::after(timer_rt.clone(), Duration::from_mins(1), quick).await;
                tx.send(on_time).unwrap();
            },
            FutureOptions::default(),
        );
    });
    assert_eq!(results, [Err(DeadlinePassed), Ok(42)]);
}

#[test]
fn interval_ticks_a_period_apart() {
    let ticks = on_worker(|mut rt, tx| {
        let timer_rt = rt.clone();
        rt.spawn_local_future(
            async move {
                let start = Instant::now();
                let mut interval = Interval::every(timer_rt, Duration::from_millis(5));
                for _ in 0..5 {
                    let due = interval.tick().await;
                    assert!(Instant::now() >= due);
                    tx.send(due.duration_since(start)).unwrap();
                }
            },
            FutureOptions::default(),
        );
    });
    assert_eq!(ticks.len(), 5);
    assert!(ticks[0] >= Duration::from_millis(5));
    for pair in ticks.windows(2) {
        assert!(
            pair[1].checked_sub(pair[0]).unwrap() >= Duration::from_millis(5),
            "{ticks:?}"
        );
    }
}

/// A waker that counts wake-ups.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        let _ = self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn cancelled_timer_does_not_fire() {
    let counts = on_worker(|mut rt, tx| {
        let timer_rt = rt.clone();
        rt.spawn_local_future(
            async move {
                let cancelled = Arc::new(Count(AtomicUsize::new(0)));
                let kept = Arc::new(Count(AtomicUsize::new(0)));
                let mut a = Timer::after(timer_rt.clone(), Duration::from_millis(5));
                let mut b = Timer::after(timer_rt.clone(), Duration::from_millis(5));
                let waker_a = Waker::from(cancelled.clone());
                let waker_b = Waker::from(kept.clone());
                assert!(
                    Pin::new(&mut a)
                        .poll(&mut task::Context::from_waker(&waker_a))
                        .is_pending()
                );
                assert!(
                    Pin::new(&mut b)
                        .poll(&mut task::Context::from_waker(&waker_b))
                        .is_pending()
                );
                drop(a);
                // Outlive both deadlines.
                Timer::after(timer_rt.clone(), Duration::from_millis(20)).await;
                tx.send((
                    cancelled.0.load(Ordering::SeqCst),
                    kept.0.load(Ordering::SeqCst),
                ))
                .unwrap();
                drop(b);
            },
            FutureOptions::default(),
        );
    });
    assert_eq!(counts, [(0, 1)]);
}

async fn thread_safe_sleeper(ctx: Context<(), ThreadSafe>, tx: mpsc::Sender<Duration>) {
    let start = Instant::now();
    Timer::after(ctx.runtime_ref().clone(), Duration::from_millis(20)).await;
    tx.send(start.elapsed()).unwrap();
}

#[test]
fn thread_safe_actor_timers() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    for _ in 0..10 {
        let _ = runtime.spawn(
            NoSupervisor,
            actor_fn(thread_safe_sleeper),
            tx.clone(),
            ActorOptions::default(),
        );
    }
    drop(tx);
    runtime.start().unwrap();
    let slept: Vec<Duration> = rx.iter().collect();
    assert_eq!(slept.len(), 10);
    assert!(
        slept.iter().all(|d| *d >= Duration::from_millis(20)),
        "{slept:?}"
    );
}

/// `Timer::wrap` limits a future to the timer's deadline; a `Deadline`
/// shows its future and its state; the passed deadline is an I/O
/// `TimedOut` error with `?`.
#[test]
fn wrap_and_deadline_accessors() {
    let runtime = Runtime::setup().build().unwrap();
    let rt = runtime.thread_safe();
    let outcome = runtime
        .block_on(async move {
            let timer = Timer::after(rt.clone(), Duration::from_millis(20));
            let due = timer.deadline();
            let mut limited = timer.wrap(std::future::pending::<u8>());
            assert_eq!(limited.deadline(), due);
            assert!(!limited.has_passed());
            let _: &std::future::Pending<u8> = limited.get_ref();
            let pending = limited
                .get_pin_mut()
                .poll(&mut task::Context::from_waker(Waker::noop()));
            assert!(pending.is_pending());
            let passed = (&mut limited).await.unwrap_err();
            assert!(limited.has_passed());
            let mut inner: Pin<Box<std::future::Pending<u8>>> = limited.into_pin();
            let pending = inner
                .as_mut()
                .poll(&mut task::Context::from_waker(Waker::noop()));
            assert!(pending.is_pending());
            // `?` turns it into an io::Error of kind TimedOut.
            let io = || -> std::io::Result<()> { Err(passed)? };
            io().unwrap_err().kind()
        })
        .unwrap();
    assert_eq!(outcome, std::io::ErrorKind::TimedOut);
}

/// An interval says when it ticks next, and is a `Stream` of ticks.
#[test]
fn interval_next_deadline_and_stream() {
    let runtime = Runtime::setup().build().unwrap();
    let rt = runtime.thread_safe();
    let ticks = runtime
        .block_on(async move {
            let mut interval = Interval::every(rt, Duration::from_millis(5));
            let mut ticks = Vec::new();
            for _ in 0..3 {
                let due = interval.next_deadline();
                let tick = std::future::poll_fn(|cx| {
                    futures_core::Stream::poll_next(Pin::new(&mut interval), cx)
                })
                .await;
                assert_eq!(tick, Some(due));
                ticks.push(due);
            }
            ticks
        })
        .unwrap();
    assert!(ticks.windows(2).all(|w| w[0] < w[1]), "{ticks:?}");
}

/// Heph's timeout in its timer tests.
const HEPH_TIMEOUT: Duration = Duration::from_millis(100);

/// A future that never completes, comparable, as Heph's timer tests have
/// it.
#[derive(Clone, Debug, Eq, PartialEq)]
struct AlwaysPending;

impl Future for AlwaysPending {
    type Output = Result<(), DeadlinePassed>;

    fn poll(self: Pin<&mut Self>, _: &mut task::Context<'_>) -> task::Poll<Self::Output> {
        task::Poll::Pending
    }
}

/// Heph's timer, deadline and interval tests, in Heph's forms: the timers
/// take `ctx.runtime()` (a `&mut` of the actor's runtime access), and a
/// deadline hands its (`Unpin`) future back as `&mut Fut` and `Fut`.
async fn heph_timers<RT: Access>(mut ctx: Context<(), RT>, tx: mpsc::Sender<&'static str>) {
    let start = Instant::now();
    let mut timer = Timer::after(ctx.runtime(), HEPH_TIMEOUT);
    assert!(timer.deadline() >= start + HEPH_TIMEOUT);
    assert!(!timer.has_passed());
    let _ = (&mut timer).await;
    assert!(timer.has_passed());
    assert!(start.elapsed() >= HEPH_TIMEOUT);
    tx.send("timer").unwrap();

    let start = Instant::now();
    let mut deadline = Timer::after(ctx.runtime(), HEPH_TIMEOUT).wrap(AlwaysPending);
    assert!(deadline.deadline() >= start + HEPH_TIMEOUT);
    assert!(!deadline.has_passed());
    let res: Result<(), DeadlinePassed> = (&mut deadline).await.and_then(|res| res);
    assert_eq!(res, Err(DeadlinePassed));
    assert!(deadline.has_passed());
    tx.send("wrap").unwrap();

    let start = Instant::now();
    let mut deadline = Deadline::after(ctx.runtime(), HEPH_TIMEOUT, AlwaysPending);
    assert!(deadline.deadline() >= start + HEPH_TIMEOUT);
    assert!(!deadline.has_passed());
    assert_eq!(*deadline.get_ref(), AlwaysPending);
    let future: &mut AlwaysPending = deadline.get_mut();
    assert_eq!(*future, AlwaysPending);
    let res = (&mut deadline).await;
    assert_eq!(res, Err(DeadlinePassed));
    assert!(deadline.has_passed());
    assert!(start.elapsed() >= HEPH_TIMEOUT);
    assert_eq!(*deadline.get_mut(), AlwaysPending);
    let future: AlwaysPending = deadline.into_inner();
    assert_eq!(future, AlwaysPending);
    tx.send("deadline").unwrap();

    let start = Instant::now();
    let mut interval = Interval::every(ctx.runtime(), HEPH_TIMEOUT);
    assert!(interval.next_deadline() >= start + HEPH_TIMEOUT);
    let _ = interval.tick().await;
    assert!(start.elapsed() >= HEPH_TIMEOUT);
    tx.send("interval").unwrap();
}

/// Heph's timer tests (`timer`, `timer_ref_rt`, `timer_wrap`, `deadline`,
/// `interval`, `triggered_timers_run_actors`): thread-local and
/// thread-safe actors, their timers made from `ctx.runtime()`.
#[test]
fn heph_timer_forms_in_both_kinds_of_actor() {
    let (tx, rx) = mpsc::channel();
    let mut runtime = Runtime::setup().build().unwrap();
    let local_tx = tx.clone();
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(heph_timers::<ThreadLocal>),
            local_tx,
            ActorOptions::default(),
        );
    });
    let _ = runtime.spawn(
        NoSupervisor,
        actor_fn(heph_timers::<ThreadSafe>),
        tx,
        ActorOptions::default(),
    );
    runtime.start().unwrap();
    let mut done: Vec<&str> = rx.iter().collect();
    done.sort_unstable();
    let mut want = ["timer", "wrap", "deadline", "interval"].repeat(2);
    want.sort_unstable();
    assert_eq!(done, want);
}

/// A `Deadline` of a future that is not `Unpin` (an `async` block) is
/// still awaited by reference, and reached pinned.
#[test]
fn deadline_of_a_future_that_is_not_unpin() {
    let runtime = Runtime::setup().build().unwrap();
    let mut rt = runtime.thread_safe();
    let outcome = runtime
        .block_on(async move {
            let slow = async { std::future::pending::<u8>().await };
            let mut limited = Deadline::after(&mut rt, Duration::from_millis(5), slow);
            let pending = limited
                .get_pin_mut()
                .poll(&mut task::Context::from_waker(Waker::noop()));
            assert!(pending.is_pending());
            let passed = (&mut limited).await;
            let _pinned = limited.into_pin();
            passed
        })
        .unwrap();
    assert_eq!(outcome, Err(DeadlinePassed));
}
