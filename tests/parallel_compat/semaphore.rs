//! `hearth sem` and `hearth map --semaphore` next to GNU parallel's
//! `--semaphore` (what `sem` is): one shell script run with each, the
//! same lines and exit statuses.

use std::ffi::OsStr;
use std::fs;
use std::process::{Command, Output};

use super::{HEARTH, empty_home, parallel, run, scratch, shown};

/// The script: the semaphore's command is `$SEM`. A background job, a
/// foreground one and its status, stdin, `--wait`; then a holder that
/// keeps semaphore `h` until the file `release` exists, a `--st` that
/// gives up and one that runs anyway; the semaphore of no `--id` (so
/// `hearth map --semaphore` alone is the semaphore).
const SCRIPT: &str = r#"
$SEM --id "$ID-t" -j 2 'echo bg-job; exit 3'; echo "bg: $?"
$SEM --id "$ID-t" --fg 'echo fg-job; exit 4'; echo "fg: $?"
echo from-stdin | $SEM --id "$ID-t" --fg cat; echo "stdin: $?"
$SEM --id "$ID-t" --wait; echo "wait: $?"
$SEM --id "$ID-h" 'while [ ! -e release ]; do sleep 0.01; done; echo holder-done'
$SEM --id "$ID-h" --st -0.2 'echo never'; echo "gave up: $?"
$SEM --id "$ID-h" --st 0.2 --fg 'echo anyway'; echo "anyway: $?"
touch release
$SEM --id "$ID-h" --wait; echo "released: $?"
$SEM 'echo default-id'; echo "default: $?"
$SEM --wait; echo "default wait: $?"
"#;

/// Runs [`SCRIPT`] with `sem` as its `$SEM`, in `dir`, with `home` as
/// `HOME`.
fn script(sem: &str, dir: &std::path::Path, home: &std::path::Path) -> Output {
    let mut cmd = Command::new("sh");
    let _ = cmd
        .args([OsStr::new("-c"), OsStr::new(SCRIPT)])
        .current_dir(dir)
        .env("SEM", sem)
        .env("ID", format!("hearth-compat-{}", std::process::id()))
        .env("HOME", home)
        .env("PARALLEL_SHELL", "/bin/sh")
        .env_remove("PARALLEL");
    run(cmd, b"")
}

/// The lines of a run, sorted: the background jobs print when they end,
/// between the script's own lines.
fn lines(output: &Output) -> (Option<i32>, Vec<String>) {
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    (output.status.code(), lines)
}

#[test]
fn semaphore_scripts_print_what_gnu_parallels_print() {
    let Some(parallel) = parallel() else { return };
    let gnu = format!("{} --will-cite --semaphore", parallel.display());
    let theirs_dir = scratch("sem-gnu");
    let theirs = script(&gnu, &theirs_dir, empty_home());
    for sem in [format!("{HEARTH} sem"), format!("{HEARTH} map --semaphore")] {
        let dir = scratch("sem-hearth");
        let ours = script(&sem, &dir, &dir);
        assert_eq!(
            lines(&ours),
            lines(&theirs),
            "{sem}\n--- hearth: {}\n--- GNU parallel: {}",
            shown(&ours),
            shown(&theirs)
        );
        let _ = fs::remove_dir_all(&dir);
    }
    let _ = fs::remove_dir_all(&theirs_dir);
}
