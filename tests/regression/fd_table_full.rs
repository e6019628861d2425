//! A worker thread that starts once the process's descriptor table is full
//! (a server's first connections took the last descriptors before the
//! thread ran): the runtime runs.
//!
//! A worker thread used to make a descriptor of its own when it started (a
//! copy of its poll's registry): when another worker accepted connections
//! up to the limit first, the late thread failed with "error polling on
//! worker thread 2: Too many open files" and the whole server exited. The
//! descriptors a worker needs are made by `build` now, on the calling
//! thread, where running out is an error of `build`.
//!
//! The same for a TCP server's listeners: a listener that first runs once
//! the table is full waits for a descriptor for its socket, as an accept
//! that ran out does, where it used to fail at once (its supervisor's
//! restart budget gone in a moment, the worker never listened again).
//!
//! The table is filled in a child process (this test binary run again with
//! [`CHILD_ENV`] set): the descriptor limit is the process's.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use std::{env, fs, io};

use hearth::actor::{Context, actor_fn};
use hearth::net::{TcpServer, TcpStream};
use hearth::supervisor::NoSupervisor;
use hearth::timer::Timer;
use hearth::{ActorOptions, FutureOptions, Runtime, RuntimeRef, ThreadLocal};

/// Set in the child that fills its descriptor table.
const CHILD_ENV: &str = "HEARTH_TEST_FD_TABLE_FULL_CHILD";

/// Rounds of build, fill, start: the worker threads are pinned to the
/// building thread's CPU and usually first run after the table is full.
const ROUNDS: usize = 20;

#[test]
fn worker_threads_start_with_the_descriptor_table_full() {
    in_child("fd_table_full::child_fills_its_table");
}

#[test]
fn listeners_start_with_the_descriptor_table_full() {
    in_child("fd_table_full::child_fills_its_table_under_listeners");
}

/// Runs test `name` of this binary in a child with [`CHILD_ENV`] set.
fn in_child(name: &str) {
    let output = Command::new(env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

/// The child's part: a no-op in the ordinary run.
#[test]
fn child_fills_its_table() {
    if env::var_os(CHILD_ENV).is_none() {
        return;
    }
    pin_to_one_cpu();
    // A small table, quick to fill.
    let limit = libc::rlimit {
        rlim_cur: 256,
        rlim_max: 256,
    };
    // SAFETY: setrlimit(2) with a valid pointer to a limit.
    assert_eq!(
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) },
        0
    );
    for round in 0..ROUNDS {
        let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
        let filler = fill_table();
        runtime.run_on_workers(|_| Ok::<_, io::Error>(()));
        let started = runtime.start();
        drop(filler);
        if let Err(err) = started {
            panic!("round {round}: {err}");
        }
    }
}

/// The child's part: a TCP server of thread-local connections, a listener
/// on each of two workers, the table filled before they run and emptied a
/// moment after; both listen in the end (the server's metrics have an
/// entry per worker whose listener has its socket).
#[test]
fn child_fills_its_table_under_listeners() {
    if env::var_os(CHILD_ENV).is_none() {
        return;
    }
    small_table_on_one_cpu();
    let mut runtime = Runtime::setup().num_threads(2).build().unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = TcpServer::setup(
        addr,
        NoSupervisor,
        actor_fn(hang_up),
        ActorOptions::default(),
    )
    .unwrap();
    let filler = Arc::new(Mutex::new(Some(fill_table())));
    runtime.run_on_workers(move |mut rt: RuntimeRef| {
        let _ = rt.spawn_local(NoSupervisor, server.clone(), (), ActorOptions::default());
        Ok::<_, String>(())
    });
    let listening = Arc::new(Mutex::new(0));
    let (rt, seen) = (runtime.thread_safe(), listening.clone());
    runtime.spawn_future(
        async move {
            // The listeners run first; a moment for both to try.
            Timer::after(rt.clone(), Duration::from_millis(300)).await;
            drop(filler.lock().unwrap().take());
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let workers = rt.metrics().tcp_servers[0].workers.len();
                *seen.lock().unwrap() = workers;
                if workers == 2 || Instant::now() >= deadline {
                    break;
                }
                Timer::after(rt.clone(), Duration::from_millis(10)).await;
            }
            rt.shutdown();
        },
        FutureOptions::default(),
    );
    runtime.start().unwrap();
    assert_eq!(*listening.lock().unwrap(), 2, "a listener never listened");
}

/// A connection that is closed at once.
async fn hang_up(_: Context<(), ThreadLocal>, _: TcpStream) {}

/// A table of 256 descriptors, and this thread and the threads it starts
/// pinned to its first allowed CPU.
fn small_table_on_one_cpu() {
    pin_to_one_cpu();
    let limit = libc::rlimit {
        rlim_cur: 256,
        rlim_max: 256,
    };
    // SAFETY: setrlimit(2) with a valid pointer to a limit.
    assert_eq!(
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit) },
        0
    );
}

/// Pins this thread, and the threads it starts, to its first allowed CPU.
fn pin_to_one_cpu() {
    // SAFETY: a zeroed `cpu_set_t` is an empty set; the calls get valid
    // pointers to it and its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &raw mut set),
            0
        );
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&cpu| libc::CPU_ISSET(cpu, &set))
            .unwrap();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(first, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set),
            0
        );
    }
}

/// Opens `/dev/null` until no descriptor is left; closing the files
/// (dropping them) frees them again.
fn fill_table() -> Vec<fs::File> {
    let mut files = Vec::new();
    loop {
        match fs::File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(err) if err.raw_os_error() == Some(libc::EMFILE) => return files,
            Err(err) => panic!("opening /dev/null: {err}"),
        }
        assert!(files.len() < 1 << 20, "no descriptor limit");
    }
}
