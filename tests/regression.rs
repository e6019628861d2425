//! Regression tests: each one reproduces a bug that was found and fixed.

#[path = "regression/lifecycle.rs"]
mod lifecycle;
#[path = "regression/send_budget.rs"]
mod send_budget;
