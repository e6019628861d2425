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

/// Runs `tests`. After each, `left()` lists what the test left behind
/// (processes, jobs): anything fails the test; on a failure `explain()`
/// adds what helps to see why (logs).
pub fn run(
    tests: &[Test<'_>],
    left: impl Fn() -> Vec<String>,
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
        let left = left();
        if outcome.is_ok() && left.is_empty() {
            println!("test {name} ... ok ({:.2?})", start.elapsed());
            passed += 1;
        } else {
            if !left.is_empty() {
                println!("{name}: left behind: {left:#?}");
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
    left: impl Fn(&C) -> Vec<String>,
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
    run(&tests, || left(context), || explain(context))
}

/// The path of this test binary, which the pools' slots run as their
/// worker.
#[allow(dead_code)]
pub fn exe() -> String {
    std::env::current_exe()
        .expect("current_exe")
        .display()
        .to_string()
}
