//! Tracing: the runs of actors and futures and the wake-ups, written while
//! the runtime runs and converted to Chrome's trace-event JSON.

use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::supervisor::NoSupervisor;
use hearth::timer::Timer;
use hearth::{ActorOptions, Runtime, RuntimeRef, ThreadLocal, ThreadSafe};

async fn traced_local(ctx: Context<(), ThreadLocal>) {
    Timer::after(ctx.runtime_ref().clone(), Duration::from_millis(2)).await;
}

async fn traced_shared(mut ctx: Context<u32, ThreadSafe>) {
    while ctx.receive_next().await.is_ok() {}
}

#[test]
fn runs_and_wake_ups_are_traced_and_converted() {
    let dir = std::env::temp_dir().join(format!("hearth-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("runtime.trace");
    let mut runtime = Runtime::setup()
        .num_threads(2)
        .trace(&path)
        .build()
        .unwrap();
    runtime.run_on_workers(|mut rt: RuntimeRef| {
        let _ = rt.spawn_local(
            NoSupervisor,
            actor_fn(traced_local),
            (),
            ActorOptions::default(),
        );
    });
    let shared = runtime.spawn(
        NoSupervisor,
        actor_fn(traced_shared),
        (),
        ActorOptions::default(),
    );
    for n in 0..3u32 {
        shared.try_send(n).unwrap();
    }
    drop(shared);
    runtime.start().unwrap();

    let trace = std::fs::read(&path).unwrap();
    let mut json = Vec::new();
    hearth::trace::to_chrome_json(&trace[..], &mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        json.starts_with("{\"displayTimeUnit\":\"ns\",\"traceEvents\":["),
        "{json}"
    );
    assert!(json.trim_end().ends_with("]}"), "{json}");
    let events: Vec<&str> = json.split("},{").collect();
    let count = |needle: &str| events.iter().filter(|e| e.contains(needle)).count();
    // Each worker ran its thread-local actor at least twice (before and
    // after its timer); the thread-safe one ran at least once.
    assert!(
        count("\"name\":\"traced_local\",\"cat\":\"thread-local\",\"ph\":\"X\"") >= 4,
        "{json}"
    );
    assert!(
        count("\"name\":\"traced_shared\",\"cat\":\"thread-safe\",\"ph\":\"X\"") >= 1,
        "{json}"
    );
    assert!(count("\"name\":\"timers wake-up\"") >= 2, "{json}");
    assert!(count("\"args\":{\"name\":\"worker 1\"}") == 1, "{json}");
    assert!(count("\"args\":{\"name\":\"worker 2\"}") == 1, "{json}");
}

#[test]
fn a_file_that_is_not_a_trace_is_an_error() {
    let mut out = Vec::new();
    let err = hearth::trace::to_chrome_json(&b"{\"json\": true}"[..], &mut out).unwrap_err();
    assert!(err.to_string().contains("not a hearth trace"), "{err}");
    let mut bad = b"HRTHTRC1\0\0\0\0\0\0\0\0".to_vec();
    bad.push(9);
    let err = hearth::trace::to_chrome_json(&bad[..], &mut out).unwrap_err();
    assert!(
        err.to_string().contains("unknown record 9 at byte 16"),
        "{err}"
    );
}

#[test]
fn a_trace_cut_short_ends_its_events() {
    // Header, a name, then a run record cut in the middle (a runtime
    // killed while writing).
    let mut cut = b"HRTHTRC1\0\0\0\0\0\0\0\0".to_vec();
    cut.extend_from_slice(&[1, 0, 0, 0, 0, 2, 0, b'a', b'b']);
    cut.extend_from_slice(&[2, 1, 0, 0]);
    let mut out = Vec::new();
    hearth::trace::to_chrome_json(&cut[..], &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[]}\n"
    );
}
