//! Operating system details the runtime needs beyond what `mio` offers.
//!
//! Contract: every function here is a thin wrapper around system calls or
//! the C library; those that can fail return `io::Result`, and callers
//! decide what an error means. The runtime's other `unsafe` code is in the
//! schedulers' cells and the inbox's handles, each block with its
//! argument.

mod affinity;
mod cpu_time;
mod heap;
mod incoming_cpu;
mod msg;
mod pass_fd;
mod process;
mod process_group;
#[cfg(feature = "hyper")]
mod recv;
mod send_file;
mod signals;
mod sockaddr;
mod socket;
mod socket_info;
mod stdio;

pub(crate) use affinity::{allowed_cpus, set_cpu_affinity};
pub(crate) use cpu_time::{ThreadClock, host_name, process_cpu_time};
pub(crate) use heap::{on_main_arena, reserve};
pub(crate) use incoming_cpu::{incoming_cpu, set_incoming_cpu};
pub(crate) use msg::{read_spare, recv_spare, recv_vectored, send_vectored};
pub(crate) use pass_fd::send_fd;
pub(crate) use process::{
    clear_signal_mask_in_child, kill_with_parent_thread, pidfd, signal_process, wait_for_child,
    wait_for_exit,
};
pub(crate) use process_group::{
    become_group_leader, exited_unreaped, kill_group, kill_own_group, signal_job,
};
#[cfg(feature = "hyper")]
pub(crate) use recv::recv_uninit;
pub(crate) use send_file::send_file;
pub(crate) use signals::ProcessSignals;
pub(crate) use socket::{
    keepalive, port_free, reuse_port_listener, set_keepalive, set_keepalive_to,
};
pub(crate) use socket_info::{is_open, set_cloexec, socket_info};
pub(crate) use stdio::{Input, take_stdin, take_stdout, wait_for_input, writable_now};

/// The size of `T` as the `socklen_t` the socket calls take with a pointer
/// to a `T` (an address or an option value).
const fn socklen_of<T>() -> libc::socklen_t {
    const { assert!(size_of::<T>() <= libc::socklen_t::MAX as usize) };
    #[allow(clippy::cast_possible_truncation)] // It fits: asserted at compile time above.
    let len = size_of::<T>() as libc::socklen_t;
    len
}
