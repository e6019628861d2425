//! Network namespaces on a private bridge, one per node of a test cluster
//! on this machine (see `slurm.rs`, [`Nodes`]).
//!
//! A bridge in the root namespace holds the first address of a private
//! `/24` (the clients run there: srun, salloc, the tool under test); each
//! namespace is on a veth to the bridge with the next addresses, `eth0`
//! inside, and no default route: nothing leaves the machine. The subnet is
//! the first `10.214.N.0/24` no interface of the machine uses, the names
//! begin with `hs` and this process's id, so several test runs do not
//! meet. Dropping [`Nodes`] deletes the namespaces (killing what still runs
//! in them) and the bridge.
//!
//! Needs root and the `ip` command (iproute2).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// A bridge and its namespaces.
#[derive(Debug)]
pub struct Nodes {
    prefix: String,
    /// (namespace, address) in order.
    spaces: Vec<(String, Ipv4Addr)>,
    bridge_up: bool,
}

impl Nodes {
    /// `names.len()` namespaces, called `PREFIX` + each name, on a fresh
    /// bridge.
    ///
    /// # Errors
    ///
    /// An `ip` command failed (not root, no iproute2, no bridge support).
    pub fn create(names: &[&str]) -> Result<Nodes, String> {
        let prefix = format!("hs{}", std::process::id() % 1_000_000);
        let base = free_subnet()?;
        let mut nodes = Nodes {
            prefix: prefix.clone(),
            spaces: Vec::new(),
            bridge_up: false,
        };
        let bridge = nodes.bridge();
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        nodes.bridge_up = true;
        ip(&["addr", "add", &format!("{base}.1/24"), "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        for (i, name) in names.iter().enumerate() {
            let ns = format!("{prefix}{name}");
            let address: Ipv4Addr = format!("{base}.{}", 10 + i)
                .parse()
                .map_err(|e| format!("{e}"))?;
            ip(&["netns", "add", &ns])?;
            nodes.spaces.push((ns.clone(), address));
            let host_side = format!("{ns}h");
            ip(&[
                "link", "add", &host_side, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            ip(&["link", "set", &host_side, "master", &bridge, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(nodes)
    }

    fn bridge(&self) -> String {
        format!("{}b", self.prefix)
    }

    /// The address of namespace `index` (in the order created).
    pub fn address(&self, index: usize) -> Ipv4Addr {
        self.spaces[index].1
    }

    /// The path of namespace `index`, for `nsenter --net=PATH`.
    pub fn path(&self, index: usize) -> String {
        format!("/run/netns/{}", self.spaces[index].0)
    }

    /// The processes in namespace `index`.
    pub fn pids(&self, index: usize) -> Vec<u32> {
        Command::new("ip")
            .args(["netns", "pids", &self.spaces[index].0])
            .stdin(Stdio::null())
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|pid| pid.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for index in 0..self.spaces.len() {
            for pid in self.pids(index) {
                // SAFETY: kill(2) with a positive pid: a process in one of
                // this test's namespaces.
                let _ = unsafe { libc::kill(libc::pid_t::try_from(pid).unwrap(), libc::SIGKILL) };
            }
        }
        for (ns, _) in self.spaces.drain(..) {
            let _ = ip(&["link", "del", &format!("{ns}h")]);
            let _ = ip(&["netns", "del", &ns]);
        }
        if self.bridge_up {
            let _ = ip(&["link", "del", &self.bridge()]);
        }
    }
}

/// `10.214.N` for the first N no address of the machine is in.
fn free_subnet() -> Result<String, String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running ip: {e} (package iproute2)"))?;
    let used = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = std::process::id() % 200;
    (0..250)
        .map(|n| format!("10.214.{}", (start + n) % 250 + 1))
        .find(|base| !used.contains(&format!(" {base}.")))
        .ok_or_else(|| "no free 10.214.N.0/24 subnet".to_owned())
}

/// Runs `ip ARGS`; why it failed, if it did.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running ip: {e} (package iproute2)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `/etc/hosts` of the nodes: localhost and every `(name, address)`.
pub fn hosts_file(entries: &[(String, Ipv4Addr)]) -> String {
    let mut text = "127.0.0.1 localhost\n".to_owned();
    for (name, address) in entries {
        let _ = writeln!(text, "{address} {name}");
    }
    text
}
