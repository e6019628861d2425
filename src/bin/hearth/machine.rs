//! GNU parallel's `--number-of-cores` and friends: what this machine has,
//! printed instead of a run. Counted from `/proc/cpuinfo` as GNU parallel
//! counts them on Linux: sockets by `physical id`, cores by `physical id`
//! and `core id` together, threads by `processor`; where a field is
//! missing (some virtual machines and architectures) a core is a thread
//! and the sockets are one.

use std::collections::HashSet;

use clap::Args;

/// The options that print a count of this machine's processors.
#[derive(Clone, Debug, Default, Args)]
pub struct Counts {
    /// Print the number of this machine's CPU cores and exit (GNU
    /// parallel's; --number-of-cpus is the same).
    #[arg(aliases = ["numberofcores", "numberofcpus"], long = "number-of-cores", visible_alias = "number-of-cpus")]
    pub cores: bool,
    /// Print the number of this machine's hardware threads and exit.
    #[arg(aliases = ["numberofthreads"], long = "number-of-threads")]
    pub threads: bool,
    /// Print the number of this machine's CPU sockets and exit.
    #[arg(aliases = ["numberofsockets"], long = "number-of-sockets")]
    pub sockets: bool,
}

impl Counts {
    /// The count asked for, if one is.
    pub fn asked(&self) -> Option<usize> {
        let machine =
            || Processors::of(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default());
        if self.cores {
            Some(machine().cores)
        } else if self.threads {
            Some(machine().threads)
        } else if self.sockets {
            Some(machine().sockets)
        } else {
            None
        }
    }
}

/// This machine's CPU cores, as GNU parallel counts them.
pub fn cores() -> usize {
    Processors::of(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()).cores
}

/// The processors of a machine.
#[derive(Debug, PartialEq, Eq)]
struct Processors {
    sockets: usize,
    cores: usize,
    threads: usize,
}

impl Processors {
    /// Counts the processors in `cpuinfo`, the text of `/proc/cpuinfo`.
    fn of(cpuinfo: &str) -> Processors {
        let mut threads = 0;
        let mut sockets = HashSet::new();
        let mut cores = HashSet::new();
        let mut socket = None;
        for line in cpuinfo.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim().to_owned();
            match key.trim() {
                "processor" => threads += 1,
                "physical id" => {
                    let _ = sockets.insert(value.clone());
                    socket = Some(value);
                }
                "core id" => {
                    let _ = cores.insert((socket.clone(), value));
                }
                _ => {}
            }
        }
        let threads = if threads == 0 {
            crate::pool_setup::cores()
        } else {
            threads
        };
        Processors {
            sockets: sockets.len().max(1),
            cores: if cores.is_empty() {
                threads
            } else {
                cores.len()
            },
            threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::Processors;

    #[test]
    fn two_sockets_of_two_cores_of_two_threads() {
        let mut text = String::new();
        for (processor, (socket, core)) in [(0, 0), (0, 1), (1, 0), (1, 1)]
            .iter()
            .cycle()
            .take(8)
            .enumerate()
        {
            let _ = write!(
                text,
                "processor\t: {processor}\nphysical id\t: {socket}\ncore id\t\t: {core}\n\n"
            );
        }
        assert_eq!(
            Processors::of(&text),
            Processors {
                sockets: 2,
                cores: 4,
                threads: 8
            }
        );
    }

    #[test]
    fn without_topology_a_core_is_a_thread() {
        let text = "processor\t: 0\n\nprocessor\t: 1\n\nprocessor\t: 2\n";
        assert_eq!(
            Processors::of(text),
            Processors {
                sockets: 1,
                cores: 3,
                threads: 3
            }
        );
    }
}
