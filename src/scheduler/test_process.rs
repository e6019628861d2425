//! Processes the schedulers' unit tests share.

use std::task::{self, Poll};

use crate::scheduler::Process;

/// A process that never finishes and whose destructor panics.
pub(crate) struct PanicsOnDrop;

impl Process for PanicsOnDrop {
    fn name_fn(&self) -> fn() -> &'static str {
        || "panics-on-drop"
    }

    fn run(&mut self, _: &mut task::Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("dropping a process");
    }
}
