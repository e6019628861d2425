//! The pool of `hearth map`'s options: its hosts (`-S`, `--slurm`) and
//! the slots of each (`-j N`, `N%`, `+N`, `-N`, `0`), how they are
//! reached (`--ssh`, `--launcher`, `--remote-bin`) and the jobs' limits.

use std::time::Duration;

use hearth::remote::{Files, Host, Pool, PoolBuilder, PoolError, Slurm, StopRule, Transport};

use crate::JobTimeLimit;
use crate::{MapArgs, sh, summary};

/// Most slots per host: `-j 0` gives this many.
pub const MAX_SLOTS: usize = 1024;

/// `-j`: slots per host, as GNU parallel's `-j` counts jobs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SlotsSpec {
    /// `N`.
    Fixed(usize),
    /// `N%` of the cores (at least 1).
    Percent(f64),
    /// `+N`: the cores plus N.
    Plus(usize),
    /// `-N`: the cores less N (at least 1).
    Minus(usize),
    /// `0`: as many as hearth allows, [`MAX_SLOTS`].
    Max,
}

impl SlotsSpec {
    /// Parses `-j`'s value: one of the forms below, or the name of a
    /// file that holds one (GNU parallel's `-j procfile`, read once, when
    /// the run starts).
    pub fn parse(text: &str) -> Result<SlotsSpec, String> {
        let spec = SlotsSpec::parse_form(text);
        let path = std::path::Path::new(text);
        if spec.is_err() && path.is_file() {
            let content = std::fs::read_to_string(path)
                .map_err(|err| format!("-j {text}: cannot read it: {err}"))?;
            return SlotsSpec::parse_form(&content)
                .map_err(|err| format!("-j {text}: the file holds no number of slots: {err}"));
        }
        spec
    }

    /// Parses a value of `-j` that is not a file's name.
    fn parse_form(text: &str) -> Result<SlotsSpec, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "-j {text:?}: give a number of slots (1 to {MAX_SLOTS}), N% of the cores, +N or \
                 -N (the cores plus or less N), 0 (as many as allowed), or a file that holds one"
            )
        };
        let number = |t: &str| t.parse::<usize>().map_err(|_| bad());
        let spec = if let Some(p) = text.strip_suffix('%') {
            let p: f64 = p.parse().map_err(|_| bad())?;
            if !(p > 0.0 && p.is_finite()) {
                return Err(bad());
            }
            SlotsSpec::Percent(p)
        } else if let Some(n) = text.strip_prefix('+') {
            SlotsSpec::Plus(number(n)?)
        } else if let Some(n) = text.strip_prefix('-') {
            SlotsSpec::Minus(number(n)?)
        } else {
            match number(text)? {
                0 => SlotsSpec::Max,
                n if n > MAX_SLOTS => return Err(bad()),
                n => SlotsSpec::Fixed(n),
            }
        };
        Ok(spec)
    }

    /// The slots of a host, for a machine of `cores` cores.
    pub fn slots(self, cores: usize) -> usize {
        let n = match self {
            SlotsSpec::Fixed(n) => n,
            // A float `as` an integer saturates: no share wraps.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_precision_loss,
                clippy::cast_sign_loss
            )]
            SlotsSpec::Percent(p) => (cores as f64 * p / 100.0).floor() as usize,
            SlotsSpec::Plus(n) => cores.saturating_add(n),
            SlotsSpec::Minus(n) => cores.saturating_sub(n),
            SlotsSpec::Max => MAX_SLOTS,
        };
        n.clamp(1, MAX_SLOTS)
    }
}

/// The slots of the pool the options make, in all (for spreading the
/// last inputs of -m and -X over them).
pub fn total_slots(args: &MapArgs) -> usize {
    if args.slurm_options.slurm {
        return slots_of(args, 4);
    }
    let Ok(hosts) = crate::hosts::specs(
        &args.hosts,
        &args.login_files,
        args.each_host.pdsh.is_none(),
    ) else {
        // The pool's set-up says what is wrong.
        return 1;
    };
    if hosts.is_empty() {
        return local_slots(args);
    }
    hosts.iter().map(|host| host_slots(args, host)).sum()
}

/// The slots of a host: its own `N/`, or -j, or the default (the cores
/// here, 2 for an ssh host).
fn host_slots(args: &MapArgs, host: &crate::hosts::HostSpec) -> usize {
    if gnu_each_host(args) {
        // One job at a time on each host, in input order: -j says how
        // many hosts at once (`hosts_at_once`).
        return 1;
    }
    match (host.slots, host.name.as_str()) {
        // `N/host`: N CPUs there, as GNU parallel reads it: -j counts
        // from them (-j 3 is 3 slots, -j 200% twice N), N slots without.
        (Some(n), _) => args.slots.map_or(n, |spec| spec.slots(n)),
        (None, ":") => local_slots(args),
        (None, _) => slots_of(args, 2),
    }
}

/// `hearth map --onall` / `--nonall` (not `hearth run`): GNU parallel's
/// rule, which logs into -j hosts at once and runs one job at a time on
/// each, in order.
fn gnu_each_host(args: &MapArgs) -> bool {
    (args.each_host.onall || args.each_host.nonall) && args.each_host.pdsh.is_none()
}

/// How many jobs run at once over all the hosts, if limited: --fanout,
/// or under GNU parallel's rule for --onall and --nonall, -j hosts (every
/// host at once without -j: GNU parallel's outer run is `-j0`).
fn hosts_at_once(args: &MapArgs) -> Option<usize> {
    match args.each_host.fanout {
        Some(fanout) => Some(fanout as usize),
        None if gnu_each_host(args) => args.slots.map(|spec| spec.slots(cores())),
        None => None,
    }
}

/// Slots of the local machine: -j, or one per core.
fn local_slots(args: &MapArgs) -> usize {
    slots_of(args, cores())
}

/// Slots of a host whose default is `default`: -j, or the default.
fn slots_of(args: &MapArgs, default: usize) -> usize {
    args.slots.map_or(default, |spec| spec.slots(cores()))
}

/// This machine's cores.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Why the pool could not be made; either is one of hearth's own errors
/// (exit status 255, as GNU parallel's).
pub enum PoolSetup {
    /// Bad options.
    Usage(String),
    /// The cluster said no (no Slurm allocation).
    Failed(String),
}

/// The pool of the options: `--slurm`, or the `--hosts`.
/// `jobs` is the number of jobs when known: `-j 0` starts no more slots
/// than that.
pub fn build_pool(args: &MapArgs, jobs: Option<usize>) -> Result<Pool, PoolSetup> {
    crate::world::env(args).map_err(PoolSetup::Usage)?;
    crate::load::check(args).map_err(PoolSetup::Failed)?;
    for path in &args.files.base_files {
        if args.workdir.as_deref() == Some("...") && !path.starts_with('/') {
            return Err(PoolSetup::Usage(format!(
                "--basefile {path} with --workdir ...: each job runs in a fresh directory, \
                 where a relative base file is not; give its absolute path"
            )));
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(PoolSetup::Usage(format!("--basefile {path}: not a file"))),
            Err(err) => return Err(PoolSetup::Usage(format!("--basefile {path}: {err}"))),
        }
    }
    let mut capped;
    let args = match (args.slots, jobs) {
        (Some(SlotsSpec::Max), Some(jobs)) => {
            capped = args.clone();
            capped.slots = Some(SlotsSpec::Fixed(jobs.clamp(1, MAX_SLOTS)));
            &capped
        }
        _ => args,
    };
    if args.slurm_options.slurm {
        build_slurm_pool(args)
    } else {
        build_host_pool(args).map_err(PoolSetup::Usage)
    }
}

/// The pool of the `--hosts`, `--slots` and friends.
fn build_host_pool(args: &MapArgs) -> Result<Pool, String> {
    let mut hosts = crate::hosts::specs(
        &args.hosts,
        &args.login_files,
        args.each_host.pdsh.is_none(),
    )?;
    if gnu_each_host(args) {
        // GNU parallel runs --onall and --nonall on its hosts in the
        // order of their names, and so prints them under -k.
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
    }
    if hosts.is_empty() {
        hosts.push(crate::hosts::HostSpec {
            name: ":".to_owned(),
            slots: None,
        });
    }
    // GNU parallel's $PARALLEL_SSH, unless --ssh says otherwise.
    let ssh = match std::env::var("PARALLEL_SSH") {
        Ok(env) if args.ssh == "ssh" && !env.trim().is_empty() => words("$PARALLEL_SSH", &env)?,
        _ => words("--ssh", &args.ssh)?,
    };
    if ssh.is_empty() {
        return Err(
            "--ssh is empty: give the ssh command, e.g. --ssh 'ssh -F ./ssh_config'".to_owned(),
        );
    }
    let launcher = match &args.launcher {
        Some(template) => {
            let words = words("--launcher", template)?;
            if words.is_empty() {
                return Err(
                    "--launcher is empty: give the command that starts a worker, e.g. \
                     --launcher 'docker exec -i {host} {bin}'"
                        .to_owned(),
                );
            }
            Some(words)
        }
        None => None,
    };
    let bin = worker_bin(args)?;
    let mut builder = pool_builder(args);
    crate::load::warn_unless_local(args, hosts.iter().any(|spec| spec.name == ":"));
    let pdsh_exec = args
        .each_host
        .pdsh
        .is_some_and(|pdsh| pdsh.rcmd == crate::Rcmd::Exec);
    let local_user = std::cell::OnceCell::new();
    for (rank, spec) in hosts.iter().enumerate() {
        let slots = host_slots(args, spec);
        let local = spec.name == ":";
        let workdir = crate::world::workdir(args, local)?;
        let host = match spec.name.as_str() {
            "" => return Err("empty host name in --hosts".to_owned()),
            ":" => Host::new("local", slots, Transport::local()),
            // pdsh's exec module: the host is a name; its command runs here.
            name if pdsh_exec => Host::new(name, slots, Transport::local()),
            name => {
                // GNU parallel's `-S "ssh -p 2222 node1"`: the host's own
                // ssh command, in place of --ssh.
                let own = crate::hosts::own_ssh(name)?;
                if let Some((ssh, login)) = &own {
                    check_own_ssh(name, &ssh[0], login)?;
                }
                let transport = match (&launcher, &own) {
                    (Some(template), _) => Transport::Command {
                        template: template.clone(),
                        bin: bin.clone(),
                    },
                    (None, own) => Transport::Ssh {
                        ssh: own
                            .as_ref()
                            .map_or_else(|| ssh.clone(), |(ssh, _)| ssh.clone()),
                        bin: bin.clone(),
                        connect_timeout: Duration::from_secs(10),
                    },
                };
                let host = Host::new(name, slots, transport);
                let host = match own {
                    Some((_, login)) => host.login(login),
                    None => host,
                };
                if args.install_worker {
                    host.install_worker()
                } else {
                    host
                }
            }
        };
        let host = match workdir {
            Some(workdir) => host.workdir(workdir),
            None => host,
        };
        // Which login and host run the job, as GNU parallel tells its
        // jobs (`:` for this machine), and the process that runs them.
        let host = host
            .env("PARALLEL_SSHLOGIN", &spec.name)
            .env("PARALLEL_SSHHOST", crate::hosts::host_part(&spec.name))
            .env("PARALLEL_PID", std::process::id().to_string());
        // pdsh's %n, the host's place in the list, and %u.
        let host = match args.each_host.pdsh {
            Some(_) => pdsh_env(host, &spec.name, rank, &local_user),
            None => host,
        };
        builder = builder.host(host);
    }
    builder.build().map_err(|err: PoolError| err.to_string())
}

/// `host` (named `name`, the `rank`th) with what its jobs need for pdsh's
/// `%n` and `%u`: its rank, and the user of its login, else `local_user`
/// (this machine's, looked up once).
fn pdsh_env(host: Host, name: &str, rank: usize, local_user: &std::cell::OnceCell<String>) -> Host {
    // pdsh's hosts are logins: no ssh command before them.
    let user = name.rsplit_once('@').map_or_else(
        || local_user.get_or_init(crate::pdsh::local_user).clone(),
        |(user, _)| user.to_owned(),
    );
    host.env(crate::pdsh::RANK_VARIABLE, rank.to_string())
        .env(crate::pdsh::USER_VARIABLE, user)
}

/// Checks that the ssh command of host `name`, given with it (`-S "ssh
/// -p 2222 node1"`), is a program: else the words were likely hosts
/// separated by a space, which is said.
fn check_own_ssh(name: &str, program: &str, login: &str) -> Result<(), String> {
    let found = if program.contains('/') {
        std::path::Path::new(program).is_file()
    } else {
        crate::shell::on_path(program).is_some()
    };
    if found {
        return Ok(());
    }
    Err(format!(
        "host {name:?}: read as the login {login:?} with its own ssh command (as GNU \
         parallel's -S \"ssh -p 2222 node1\"), but there is no program {program:?}; \
         separate hosts with commas: -S node1,node2"
    ))
}

/// The pool of `--slurm`: one host entry, `slurm`, of `-j` slots (4 by
/// default); with `--slurm-alloc` the allocation is made here, and lives
/// as long as the pool; with `--slurm-jobid` its nodes are looked up here.
fn build_slurm_pool(args: &MapArgs) -> Result<Pool, PoolSetup> {
    let bin = worker_bin(args).map_err(PoolSetup::Usage)?;
    crate::load::warn_unless_local(args, false);
    let words = |flag: &str, text: &Option<String>| -> Result<Vec<String>, PoolSetup> {
        match text {
            Some(text) => words(flag, text).map_err(PoolSetup::Usage),
            None => Ok(Vec::new()),
        }
    };
    let mut slurm = Slurm::new(bin)
        .args(words("--srun-args", &args.slurm_options.srun_args)?)
        .pending_timeout(args.slurm_options.pending_timeout);
    if let Some(job) = &args.slurm_options.slurm_jobid {
        // Its nodes, for the steps to take in turn.
        let allocation = slurm
            .existing_allocation(job)
            .map_err(|err| PoolSetup::Failed(format!("--slurm-jobid {job}: {err}")))?;
        slurm = slurm.in_allocation(&allocation);
    }
    if args.slurm_options.slurm_alloc {
        let mut salloc = words("--salloc-args", &args.slurm_options.salloc_args)?;
        if salloc.is_empty() {
            salloc.push("-N1".to_owned());
        }
        let allocation = slurm
            .allocate(salloc)
            .map_err(|err| PoolSetup::Failed(format!("--slurm-alloc: {err}")))?;
        slurm = slurm.in_allocation(&allocation);
    }
    let slots = slots_of(args, 4);
    let mut host = Host::new("slurm", slots, slurm.into());
    if let Some(workdir) = crate::world::workdir(args, false).map_err(PoolSetup::Usage)? {
        host = host.workdir(workdir);
    }
    pool_builder(args)
        .host(host)
        .build()
        .map_err(|err: PoolError| PoolSetup::Usage(err.to_string()))
}

/// Output of jobs waiting for their turn (input order, or their end)
/// held in memory, at most: past it, in temporary files in `$TMPDIR`.
const HELD_IN_MEMORY: usize = 16 * 1024 * 1024;

/// A pool builder with the options every kind of host shares.
fn pool_builder(args: &MapArgs) -> PoolBuilder {
    let mut builder = Pool::builder();
    // Checked when the pool is built (`world::env` runs first there).
    for (name, value) in crate::world::env(args).unwrap_or_default() {
        builder = builder.env(name, value);
    }
    // Without --window the window adapts to each slot's link.
    if let Some(window) = args.window {
        builder = builder.window(window as usize);
    }
    if let Some(n) = hosts_at_once(args) {
        builder = builder.max_running(n);
    }
    if let Some(delay) = args.ssh_delay {
        builder = builder.ssh_delay(delay);
    }
    let builder = builder
        .name("hearth-map")
        .max_held_bytes(HELD_IN_MEMORY)
        .max_attempts(args.attempts)
        .retries(more_runs(args.retries))
        .failed_output(sh::failed)
        .slot_timeout(args.slot_timeout)
        .on_slot_lost(if args.each_host.pdsh.is_some_and(|pdsh| pdsh.as_pdsh) {
            // pdsh says a host's lost connection its own way, at the end.
            |_: &hearth::remote::SlotLost| {}
        } else {
            summary::say_slot_lost
        });
    // Ctrl+C: the first drains, the next kills, as in a runtime; started
    // as `parallel`, GNU parallel's rule: SIGINT and SIGTERM kill the
    // jobs at once, SIGHUP drains.
    let builder = if args.order.as_parallel {
        builder
            .stop_on_signals(summary::say_stop_signal_as_parallel)
            .stop_rule(StopRule::GnuParallel)
    } else {
        builder.stop_on_signals(summary::say_stop_signal)
    };
    let builder = match crate::load::throttle(args) {
        Some(throttle) => builder.throttle(throttle),
        None => builder,
    };
    // --basefile: once per slot elsewhere, to the same path (relative: to
    // the job's directory there), removed at the end with --cleanup.
    let base = (args.files.base_files.iter())
        .fold(Files::new(), |files, path| files.send(path, path))
        .cleanup(args.files.cleanup || !args.files.trc.is_empty());
    let builder = builder
        .base_files(base)
        .term_sequence(args.term_sequence.clone());
    match args.timeout {
        Some(JobTimeLimit::Fixed(timeout)) => builder.timeout(timeout),
        Some(JobTimeLimit::OfMedian(percent)) => builder.timeout_of_median(percent),
        None => builder,
    }
}

/// The words of an option that holds a command line, split as a shell
/// would: quotes keep spaces (`--ssh "ssh -o 'ProxyCommand=nc %h %p'"`).
fn words(flag: &str, text: &str) -> Result<Vec<String>, String> {
    shlex::split(text).ok_or_else(|| {
        format!("{flag} {text:?} has an unclosed quote or a trailing backslash; close the quote")
    })
}

/// The worker binary's path on the hosts: `--remote-bin`, or this one's.
fn worker_bin(args: &MapArgs) -> Result<String, String> {
    match &args.remote_bin {
        Some(bin) if bin.trim().is_empty() => Err(
            "--remote-bin is empty: give the path of hearth on the hosts, e.g. --remote-bin /usr/local/bin/hearth"
                .to_owned(),
        ),
        Some(bin) => Ok(bin.clone()),
        // Of a program whose file was replaced or removed since it
        // started, the path it was started from.
        None => std::env::current_exe()
            .map(|path| {
                let path = path.display().to_string();
                match path.strip_suffix(" (deleted)") {
                    Some(path) => path.to_owned(),
                    None => path,
                }
            })
            .map_err(|err| format!("cannot find the hearth binary: {err}; give --remote-bin")),
    }
}

/// The runs after the first that a job whose own run failed gets, for
/// GNU parallel's `--retries N`: N runs in all, 0 for as many as it takes
/// (none without the option).
fn more_runs(retries: Option<u32>) -> u32 {
    match retries {
        None => 0,
        Some(0) => u32::MAX,
        Some(runs) => runs - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::SlotsSpec;

    #[test]
    fn slots_as_gnu_parallel_counts_jobs() {
        let slots = |text: &str| SlotsSpec::parse(text).map(|s| s.slots(4));
        assert_eq!(slots("3"), Ok(3));
        assert_eq!(slots("50%"), Ok(2));
        assert_eq!(slots("10%"), Ok(1));
        assert_eq!(slots("200%"), Ok(8));
        assert_eq!(slots("+2"), Ok(6));
        assert_eq!(slots("-1"), Ok(3));
        assert_eq!(slots("-9"), Ok(1));
        assert_eq!(slots("0"), Ok(super::MAX_SLOTS));
        for bad in ["x", "2000", "-x", "%", "0%", ""] {
            assert!(SlotsSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
