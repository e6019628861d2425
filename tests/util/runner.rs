//! The loop of the `harness = false` test binaries (the ones that are their
//! own remote worker): runs the tests whose names contain a word of the
//! command line (all without one), catches their panics, checks after each
//! test, passed or not, that it left nothing behind, and reports like the
//! standard harness.

use std::panic;
use std::process::ExitCode;
use std::time::Instant;

/// A named test.
pub type Test<'a> = (&'static str, &'a dyn Fn());

/// A named test taking a shared context.
#[allow(dead_code)]
pub type TestWith<C> = (&'static str, fn(&C));

/// A test with its context bound.
type Bound<'a> = (&'static str, Box<dyn Fn() + 'a>);

/// Runs `tests`. After each, `after(name, passed)` checks what must hold
/// after any test (nothing left behind): an `Err` fails the test with its
/// text; on a failure `explain()` adds what helps to see why (logs).
pub fn run(
    tests: &[Test<'_>],
    after: impl Fn(&str) -> Result<(), String>,
    explain: impl Fn() -> String,
) -> ExitCode {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    let started = Instant::now();
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let start = Instant::now();
        let outcome = panic::catch_unwind(panic::AssertUnwindSafe(test));
        // Checked after every test, passed or not: the pool must clean up
        // on its error paths too.
        let left = after(name);
        if outcome.is_ok() && left.is_ok() {
            println!("test {name} ... ok ({:.2?})", start.elapsed());
            passed += 1;
        } else {
            if let Err(why) = left {
                println!("{name}: {why}");
            }
            let extra = explain();
            println!("test {name} ... FAILED ({:.2?}){extra}", start.elapsed());
            failed += 1;
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; finished in {:.2?}",
        if failed == 0 { "ok" } else { "FAILED" },
        started.elapsed()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(101)
    }
}

/// [`run`] for tests that take a shared context (a private sshd, a Slurm
/// cluster).
#[allow(dead_code)]
pub fn run_with<C>(
    tests: &[TestWith<C>],
    context: &C,
    after: impl Fn(&C) -> Result<(), String>,
    explain: impl Fn(&C) -> String,
) -> ExitCode {
    let closures: Vec<Bound<'_>> = tests
        .iter()
        .map(|&(name, test)| (name, Box::new(move || test(context)) as Box<dyn Fn()>))
        .collect();
    let tests: Vec<Test<'_>> = closures
        .iter()
        .map(|(name, test)| (*name, &**test))
        .collect();
    run(&tests, |_| after(context), || explain(context))
}
