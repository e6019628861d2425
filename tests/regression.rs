//! Regression tests: each one reproduces a bug that was found and fixed.

#[path = "regression/drain_in_order.rs"]
mod drain_in_order;
#[path = "regression/end_of_file.rs"]
mod end_of_file;
#[path = "util/server.rs"]
mod server;

#[path = "regression/fd_table_full.rs"]
mod fd_table_full;
#[path = "regression/lifecycle.rs"]
mod lifecycle;
#[path = "regression/panics.rs"]
mod panics;
#[path = "regression/send_budget.rs"]
mod send_budget;
#[path = "regression/stalled_write.rs"]
mod stalled_write;
#[path = "regression/unix_datagram_full.rs"]
mod unix_datagram_full;
