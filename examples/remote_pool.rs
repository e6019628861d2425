//! Actors that farm work out to a pool of persistent worker slots.
//!
//! ```sh
//! cargo run --release --example remote_pool                 # 4 local slots
//! cargo run --release --example remote_pool -- --jobs 100000 --window 16
//! cargo run --release --example remote_pool -- --ssh-host node1 --ssh-host node2
//! cargo run --release --example remote_pool -- --slurm --slots 16 --srun-args '--partition=short'
//! ```
//!
//! The program is its own worker: started with `--remote-worker` (by the
//! pool, locally, through `ssh HOST BIN --remote-worker` or through `srun`
//! on a Slurm cluster) it serves the handlers below on stdin/stdout.
//! Otherwise it starts a runtime with a remote pool, and eight submitter
//! actors send their share of the jobs, up to 64 in flight each, and check
//! every output. It prints `done=N failed=0 retried=R` at the end, and
//! where the slots ran (for Slurm: the node and the job id of each slot).
//! Ctrl+C stops it gracefully: no new jobs, the running ones finish, the
//! slots exit; a second Ctrl+C kills them.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth::actor::{Context, actor_fn};
use hearth::remote::{
    self, Handlers, Host, JobFailure, Pool, RemotePool, SlotInfo, Slurm, Transport,
};
use hearth::supervisor::NoSupervisor;
use hearth::{ActorOptions, NoMessages, Runtime, ThreadSafe};

const USAGE: &str = "usage: remote_pool [--jobs N] [--slots N] [--window N] [--sleep-ms N] \
                     [--ssh-host HOST]... [--ssh 'ssh -F CONFIG'] [--slurm] [--srun-args ARGS] \
                     [--remote-bin PATH]";

/// The worker's handlers.
fn handlers() -> Handlers {
    Handlers::new()
        .add("square", |x: u64| x.checked_mul(x).ok_or("overflow"))
        .add("slow_square", |(x, ms): (u64, u64)| {
            std::thread::sleep(Duration::from_millis(ms));
            x.checked_mul(x).ok_or("overflow")
        })
}

fn main() -> ExitCode {
    if remote::is_remote_worker() {
        // Logs go to stderr; the pool prefixes them with `host:slot`.
        return remote::serve(handlers());
    }
    hearth::log::init();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("remote_pool: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut runtime = match Runtime::setup().name("remote_pool").num_threads(2).build() {
        Ok(runtime) => runtime,
        Err(err) => return hearth::exit_code(Err(err)),
    };
    let pool = match runtime.remote_pool(args.pool()) {
        Ok(pool) => pool,
        Err(err) => {
            eprintln!("remote_pool: {err}");
            return ExitCode::from(2);
        }
    };
    let tally = Arc::new(Mutex::new(Tally::default()));
    let submitters: u8 = 8;
    for index in 0..u64::from(submitters) {
        // Jobs index, index + 8, index + 16, ...
        let share: Vec<u64> = (index..args.jobs)
            .step_by(usize::from(submitters))
            .collect();
        let arg = (pool.clone(), share, args.sleep_ms, tally.clone());
        let _ = runtime.spawn(
            NoSupervisor,
            actor_fn(submitter),
            arg,
            ActorOptions::default(),
        );
    }
    println!(
        "submitting {} jobs to {} slots (pid {})",
        args.jobs,
        pool.metrics().slots_total,
        std::process::id()
    );
    let result = runtime.start();
    let tally = tally.lock().unwrap_or_else(|p| p.into_inner());
    let metrics = pool.metrics();
    println!(
        "done={} failed={} cancelled={} retried={}",
        tally.done, tally.failed, tally.cancelled, metrics.jobs_retried
    );
    for host in &metrics.hosts {
        println!(
            "host={} slots={} jobs={}",
            host.name, host.slots, host.jobs_done
        );
    }
    for worker in &tally.workers {
        println!(
            "  slot={} node={} pid={} slurm_job={}",
            worker.label,
            worker.node,
            worker.pid,
            worker.slurm_job.as_deref().unwrap_or("-")
        );
    }
    if tally.failed > 0 {
        return ExitCode::FAILURE;
    }
    hearth::exit_code(result)
}

/// What the submitters saw.
#[derive(Default)]
struct Tally {
    /// Jobs with the right output.
    done: u64,
    /// Jobs with a wrong output or a failure other than a cancellation.
    failed: u64,
    /// Jobs the pool did not run because the runtime was stopping.
    cancelled: u64,
    /// The slots' workers, as the last submitter to finish saw them.
    workers: Vec<SlotInfo>,
}

/// Sends its share of the jobs, 64 in flight at a time, and checks every
/// output.
async fn submitter(
    _: Context<NoMessages, ThreadSafe>,
    (pool, share, sleep_ms, tally): (RemotePool, Vec<u64>, u64, Arc<Mutex<Tally>>),
) {
    for batch in share.chunks(64) {
        let calls: Vec<_> = batch
            .iter()
            .map(|&x| {
                let call = if sleep_ms == 0 {
                    pool.call::<_, u64>("square", &x)
                } else {
                    pool.call::<_, u64>("slow_square", &(x, sleep_ms))
                };
                (x, call)
            })
            .collect();
        for (x, call) in calls {
            let outcome = call.await;
            let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
            match outcome {
                Ok(out) if out == x * x => tally.done += 1,
                Ok(out) => {
                    eprintln!("job {x}: wrong output {out}");
                    tally.failed += 1;
                }
                Err(JobFailure::Cancelled(_)) => tally.cancelled += 1,
                Err(err) => {
                    eprintln!("job {x}: {err}");
                    tally.failed += 1;
                }
            }
        }
    }
    let workers: Vec<SlotInfo> = pool
        .metrics()
        .hosts
        .into_iter()
        .flat_map(|host| host.workers)
        .collect();
    let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
    if workers.len() >= tally.workers.len() {
        tally.workers = workers;
    }
}

/// The command line.
struct Args {
    jobs: u64,
    slots: usize,
    window: usize,
    sleep_ms: u64,
    ssh_hosts: Vec<String>,
    ssh: Vec<String>,
    slurm: bool,
    srun_options: Vec<String>,
    remote_bin: Option<String>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            jobs: 10_000,
            slots: 4,
            window: 1,
            sleep_ms: 0,
            ssh_hosts: Vec::new(),
            ssh: vec!["ssh".to_owned()],
            slurm: false,
            srun_options: Vec::new(),
            remote_bin: None,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--jobs" => parsed.jobs = number(&arg, &value()?)?,
                "--slots" => parsed.slots = number(&arg, &value()?)?,
                "--window" => parsed.window = number(&arg, &value()?)?,
                "--sleep-ms" => parsed.sleep_ms = number(&arg, &value()?)?,
                "--ssh-host" => parsed.ssh_hosts.push(value()?),
                "--ssh" => {
                    parsed.ssh = value()?.split_whitespace().map(str::to_owned).collect();
                }
                "--slurm" => parsed.slurm = true,
                "--srun-args" => {
                    parsed.srun_options = value()?.split_whitespace().map(str::to_owned).collect();
                }
                "--remote-bin" => parsed.remote_bin = Some(value()?),
                "-h" | "--help" => return Err("help".to_owned()),
                _ => return Err(format!("unknown argument {arg:?}")),
            }
        }
        if parsed.slots == 0 {
            return Err("--slots must be at least 1".to_owned());
        }
        if parsed.slurm && !parsed.ssh_hosts.is_empty() {
            return Err("--slurm and --ssh-host do not mix".to_owned());
        }
        Ok(parsed)
    }

    /// The pool: local slots by default, `slots` per ssh host, or `slots`
    /// Slurm jobs (each slot one `srun` task, on the node Slurm picks).
    fn pool(&self) -> hearth::remote::PoolBuilder {
        let builder = Pool::builder()
            .window(self.window)
            .timeout(Duration::from_mins(1));
        let bin = self.remote_bin.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        });
        if self.slurm {
            let slurm = Slurm::new(bin).args(self.srun_options.clone());
            return builder.host(Host::new("slurm", self.slots, slurm.into()));
        }
        if self.ssh_hosts.is_empty() {
            return builder.host(Host::local(self.slots));
        }
        self.ssh_hosts.iter().fold(builder, |builder, host| {
            let transport = Transport::Ssh {
                ssh: self.ssh.clone(),
                bin: bin.clone(),
                connect_timeout: Duration::from_secs(10),
            };
            builder.host(Host::new(host.clone(), self.slots, transport))
        })
    }
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} takes a number, got {value:?}"))
}
