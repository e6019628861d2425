//! The fairness budget: how many operations a process may complete in one
//! run before it must yield, so an always-ready actor cannot starve others.
//!
//! The worker sets the budget before running a process and clears it after.
//! Outside a run (e.g. a future polled by another executor) the budget is
//! unlimited.

use std::cell::Cell;

/// Operations per run of a process.
pub(crate) const PER_RUN: u32 = 128;

thread_local! {
    static BUDGET: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Runs `f` with a fresh budget.
#[inline]
pub(crate) fn with_budget<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(Option<u32>);
    impl Drop for Reset {
        fn drop(&mut self) {
            BUDGET.with(|budget| budget.set(self.0));
        }
    }
    let _reset = Reset(BUDGET.with(|budget| budget.replace(Some(PER_RUN))));
    f()
}

/// Takes one unit of budget; false if the budget is spent. Inlined: it
/// is on the path of every send and receive.
#[inline]
pub(crate) fn consume() -> bool {
    BUDGET.with(|budget| match budget.get() {
        None => true,
        Some(0) => false,
        Some(n) => {
            budget.set(Some(n - 1));
            true
        }
    })
}
