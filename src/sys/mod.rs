//! Operating system details the runtime needs beyond what `mio` offers.
//!
//! Contract: every function here is a thin wrapper around one system call
//! and returns `io::Result`; callers decide what an error means.

mod affinity;

pub(crate) use affinity::set_cpu_affinity;
