//! The remote slot pool over links with real round trips: two ssh hosts
//! (one private sshd each, `tests/util/sshd.rs`) behind a link delayed
//! in user space, at 2, 20 and 50 ms of round trip, 2 hosts × 2 slots,
//! `echo` jobs; hearth at window 1, window 16 and the adaptive window,
//! against GNU parallel with and without `--controlmaster`, and one
//! `ssh HOST true` for scale (a login and a command, what any ssh tool
//! pays before its first job). Start-up is timed: a hearth run is the
//! pool's build, its logins, every job and its result; a parallel run is
//! the whole command.
//!
//! The link: each host's sshd is reached through a forwarder on
//! loopback that holds every chunk it reads for half the round trip
//! before it writes it on (both ways, in order), and waits a whole round
//! trip before it connects to the server (TCP's handshake). The kernel
//! here has no `netem`; this delays what ssh sends as a link would,
//! without its bandwidth limit or losses.
//!
//! The floor of a run is its jobs over what the slots hold at once per
//! round trip: 4 jobs per round trip at window 1, 64 at window 16 (and
//! for the adaptive window, whose bound is 64 but which the same floor
//! measures); the table gives the time and the share of the floor (1 is
//! the link's limit, start-up included). GNU parallel logs in once per
//! job (with `--controlmaster`, once per host and a session per job):
//! its share is of the window-1 floor.
//!
//! ```text
//! cargo bench --bench remote_latency                     # 500 jobs, 2/20/50 ms
//! cargo bench --bench remote_latency -- --jobs 200 --rtt 20 --parallel-jobs 100
//! ```
//!
//! Run without `--bench` (as `cargo test --benches` does) it makes a
//! smoke run: 20 jobs at 2 ms, without GNU parallel.

#[path = "../tests/util/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "../tests/util/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use std::{env, fs};

use hearth::remote::{self, Handlers, Host, Pool, Target, Transport};
use sshd::Sshd;

fn main() -> ExitCode {
    if remote::is_remote_worker() {
        return remote::serve(Handlers::new().add("echo", |x: u64| Ok::<_, String>(x)));
    }
    // `HEARTH_LOG=debug` shows the pool's timeline (logins, handshakes,
    // the window) on standard error.
    hearth::log::init_with_level(
        env::var(hearth::log::LEVEL_ENV)
            .ok()
            .and_then(|level| level.parse().ok())
            .unwrap_or(log::LevelFilter::Off),
    );
    let args: Vec<String> = env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let jobs: u64 = value("--jobs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 500 } else { 20 });
    let parallel_jobs: u64 = value("--parallel-jobs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { jobs } else { 0 });
    let rtts: Vec<u64> = match value("--rtt") {
        Some(list) => list.split(',').filter_map(|v| v.parse().ok()).collect(),
        None if bench => vec![2, 20, 50],
        None => vec![2],
    };
    let servers = match (Sshd::start(&["node1"]), Sshd::start(&["node2"])) {
        (Ok(a), Ok(b)) => [a, b],
        (Err(why), _) | (_, Err(why)) => {
            println!("remote_latency: skipped: no private sshd: {why}");
            return ExitCode::SUCCESS;
        }
    };
    let parallel = Command::new("parallel")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    println!("| RTT | run | time | share of its floor |");
    println!("| --- | --- | --- | --- |");
    for rtt in rtts {
        let rtt = Duration::from_millis(rtt);
        let config = delayed_config(&servers, rtt);
        let ssh = vec![
            "ssh".to_owned(),
            "-F".to_owned(),
            config.display().to_string(),
        ];
        let row = |name: &str, took: Duration, per_rtt: u64, n: u64| {
            #[allow(clippy::cast_precision_loss)] // Counts far below 2^53: exact as f64.
            let floor = rtt.as_secs_f64() * n as f64 / per_rtt as f64;
            println!(
                "| {} ms | {name} | {:.3} s | {:.2} |",
                rtt.as_millis(),
                took.as_secs_f64(),
                floor / took.as_secs_f64()
            );
        };
        for (name, window) in [
            ("hearth window 1", Some(1)),
            ("hearth window 16", Some(16)),
            ("hearth adaptive", None),
        ] {
            let took = hearth_run(&ssh, window, jobs);
            row(name, took, if window == Some(1) { 4 } else { 64 }, jobs);
        }
        // What any ssh tool pays before its first job: one login and one
        // command, ssh's own connection (the median of three).
        let mut logins: Vec<Duration> = (0..3).map(|_| ssh_true(&ssh)).collect();
        logins.sort_unstable();
        println!(
            "| {} ms | one `ssh HOST true`, for scale | {:.3} s | |",
            rtt.as_millis(),
            logins[1].as_secs_f64()
        );
        if parallel && parallel_jobs > 0 {
            for (name, master) in [("GNU parallel", false), ("GNU parallel -M", true)] {
                match parallel_run(&config, master, parallel_jobs) {
                    Ok(took) => row(name, took, 4, parallel_jobs),
                    Err(why) => println!("| {} ms | {name} | failed: {why} | |", rtt.as_millis()),
                }
            }
        }
        let _ = fs::remove_file(&config);
    }
    ExitCode::SUCCESS
}

/// A pool of 2 hosts × 2 slots over `ssh`, `jobs` echo jobs: the time
/// from its build to the last result, every result checked.
fn hearth_run(ssh: &[String], window: Option<usize>, jobs: u64) -> Duration {
    let transport = Transport::Ssh {
        ssh: ssh.to_vec(),
        bin: env::current_exe().unwrap().display().to_string(),
        connect_timeout: Duration::from_secs(10),
    };
    let start = Instant::now();
    let mut builder = Pool::builder()
        .host(Host::new("node1", 2, transport.clone()))
        .host(Host::new("node2", 2, transport));
    if let Some(window) = window {
        builder = builder.window(window);
    }
    let mut pool = builder.build().unwrap();
    let out = pool.map::<u64, u64>(&Target::Any, "echo", 0..jobs).unwrap();
    let took = start.elapsed();
    for (i, result) in out.into_iter().enumerate() {
        assert_eq!(result, Ok(i as u64));
    }
    pool.shutdown(Duration::from_secs(10));
    took
}

/// The time of `ssh node1 true` over the delayed link: a login and a
/// command.
fn ssh_true(ssh: &[String]) -> Duration {
    let start = Instant::now();
    let status = Command::new(&ssh[0])
        .args(&ssh[1..])
        .args(["node1", "true"])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "ssh node1 true: {status}");
    start.elapsed()
}

/// GNU parallel over the same hosts, 2 jobs at a time on each.
fn parallel_run(config: &std::path::Path, master: bool, jobs: u64) -> Result<Duration, String> {
    let mut cmd = Command::new("parallel");
    let _ = cmd
        .args(["--will-cite", "--ssh"])
        .arg(format!("ssh -F {}", config.display()))
        .args(["-S", "2/node1,2/node2"]);
    if master {
        let _ = cmd.arg("-M");
    }
    let _ = cmd
        .args(["echo", ":::"])
        .args((0..jobs).map(|i| i.to_string()));
    // Its outputs go to files, and the run ends when parallel exits: with
    // `-M` it leaves a process behind that keeps its stderr open, so
    // reading the outputs to their end would wait for that one.
    let dir = env::temp_dir();
    let tag = format!("{}-{}", std::process::id(), u8::from(master));
    let (out_path, err_path) = (
        dir.join(format!("hearth-latency-{tag}.out")),
        dir.join(format!("hearth-latency-{tag}.err")),
    );
    let file = |path: &std::path::Path| fs::File::create(path).map_err(|e| e.to_string());
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file(&out_path)?)
        .stderr(file(&err_path)?)
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    let took = start.elapsed();
    // What it left behind (the keeper of its ssh masters) would hold their
    // connections into the next run.
    if let Ok(group) = libc::pid_t::try_from(child.id()) {
        // SAFETY: a plain system call on the process group of our child,
        // which we made its leader of.
        let _ = unsafe { libc::killpg(group, libc::SIGTERM) };
    }
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = fs::read_to_string(&err_path).unwrap_or_default();
    let _ = fs::remove_file(&out_path);
    let _ = fs::remove_file(&err_path);
    let lines = stdout.lines().count() as u64;
    // GNU parallel 20221122 with `-M` here runs the first job and loses
    // the output of the others, exiting 0: said as it is.
    if !status.success() || lines != jobs {
        return Err(format!(
            "{status}, {lines} of {jobs} outputs: {}",
            stderr.lines().last().unwrap_or("")
        ));
    }
    Ok(took)
}

/// An ssh client config whose `node1` and `node2` reach the two servers
/// through delayed links of `rtt`.
fn delayed_config(servers: &[Sshd; 2], rtt: Duration) -> std::path::PathBuf {
    let mut text = String::new();
    for (i, server) in servers.iter().enumerate() {
        let port = delay_link(server.port(), rtt);
        let dir = server.config_path().parent().unwrap();
        let user =
            String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let _ = write!(
            text,
            "Host node{n}\n    HostName 127.0.0.1\n    Port {port}\n    User {user}\n    \
             IdentityFile {key}\n    IdentitiesOnly yes\n    IdentityAgent none\n    \
             UserKnownHostsFile /dev/null\n    GlobalKnownHostsFile /dev/null\n    \
             StrictHostKeyChecking no\n    BatchMode yes\n    LogLevel ERROR\n",
            n = i + 1,
            user = user.trim(),
            key = dir.join("client_ed25519").display(),
        );
    }
    let path = env::temp_dir().join(format!(
        "hearth-latency-{}-{}.cfg",
        std::process::id(),
        rtt.as_millis()
    ));
    fs::write(&path, text).unwrap();
    path
}

/// A forwarder on a loopback port to `port`, delaying each way by half of
/// `rtt`, and the connection by a whole one; returns its port. Its threads
/// live as long as the process.
fn delay_link(port: u16, rtt: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let local = listener.local_addr().unwrap().port();
    let _ = thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let _ = thread::spawn(move || {
                thread::sleep(rtt);
                let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let _ = thread::spawn(move || pump(client, server, rtt / 2));
                pump(s2, c2, rtt / 2);
            });
        }
    });
    local
}

/// Copies `from` to `to`, each chunk `delay` after it was read.
fn pump(mut from: TcpStream, to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = thread::spawn(move || {
        let mut to = to;
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if chunk.is_empty() || to.write_all(&chunk).is_err() {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = from.read(&mut buf).unwrap_or(0);
        if tx
            .send((Instant::now() + delay, buf[..n].to_vec()))
            .is_err()
            || n == 0
        {
            break;
        }
    }
    let _ = writer.join();
}
