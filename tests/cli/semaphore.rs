//! `hearth sem`: a counting semaphore across processes. What GNU
//! parallel's own prints is compared in `tests/parallel_compat`; here,
//! what a semaphore must guarantee: never more holders than slots, each
//! holder in a slot of its own, and a slot free again when its holder
//! dies.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::{HEARTH, gates, scratch, stdout, wait_output};

/// Runs the shell `script` in `dir` (also its `HOME`, where the
/// semaphores are), with `$SEM` as `hearth sem --id ID`.
fn script(dir: &Path, script: &str) -> Output {
    script_in("sh", dir, script)
}

/// [`script`] run by `shell`.
fn script_in(shell: &str, dir: &Path, script: &str) -> Output {
    let child = Command::new(shell)
        .args(["-c", script])
        .env_remove("PARALLEL_SHELL")
        .current_dir(dir)
        .env(
            "SEM",
            format!("{HEARTH} sem --id test-{}", std::process::id()),
        )
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child)
}

/// Six background commands on a mutex: their lines never interleave,
/// although each starts while others wait.
#[test]
fn a_mutex_lets_one_command_in_at_a_time() {
    let dir = scratch("sem-mutex");
    let output = script(
        &dir,
        "for i in 1 2 3 4 5 6; do \
           $SEM \"echo start >> log; sleep 0.02; echo end >> log\"; \
         done; $SEM --wait",
    );
    assert!(output.status.success(), "{output:?}");
    let log = fs::read_to_string(dir.join("log")).unwrap();
    assert_eq!(log, "start\nend\n".repeat(6));
    let _ = fs::remove_dir_all(&dir);
}

/// Nine commands on three slots: each holder has its slot to itself
/// (`PARALLEL_JOBSLOT`, from 1 to 3), and `--wait` returns once all ran.
#[test]
fn each_holder_has_a_slot_of_its_own() {
    let dir = scratch("sem-slots");
    let output = script(
        &dir,
        "for i in 1 2 3 4 5 6 7 8 9; do \
           $SEM -j 3 'mkdir held-$PARALLEL_JOBSLOT || echo CLASH; \
                      echo $PARALLEL_JOBSLOT >> slots; sleep 0.02; \
                      rmdir held-$PARALLEL_JOBSLOT'; \
         done; $SEM --wait",
    );
    assert!(output.status.success(), "{output:?}");
    assert!(!stdout(&output).contains("CLASH"), "{output:?}");
    let slots = fs::read_to_string(dir.join("slots")).unwrap();
    assert_eq!(slots.lines().count(), 9, "{slots}");
    assert!(
        slots.lines().all(|slot| ["1", "2", "3"].contains(&slot)),
        "{slots}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// The copy of `hearth sem` that holds a slot for a background command is
/// killed: the kernel frees the slot, and the next command runs at once
/// (not after `--st`'s 60 s).
#[test]
fn a_killed_holder_frees_its_slot() {
    let dir = scratch("sem-killed");
    // Its output to a file: the holder keeps what it prints on until the
    // command ends.
    let started = script(
        &dir,
        "$SEM 'echo $$ > job; echo $PPID > holder; exec sleep 600' > out 2>&1",
    );
    assert!(started.status.success(), "{started:?}");
    let pid = |name: &str| -> Option<i32> {
        fs::read_to_string(dir.join(name))
            .ok()
            .and_then(|text| text.trim().parse().ok())
    };
    let holder = gates::poll_for(Duration::from_secs(30), || pid("holder"))
        .expect("the background command did not start");
    // SAFETY: kill(2) on the holder this test started.
    assert_eq!(unsafe { libc::kill(holder, libc::SIGKILL) }, 0);
    let next = script(&dir, "$SEM --st -60 --fg echo next");
    assert_eq!(
        (next.status.code(), stdout(&next)),
        (Some(0), "next\n".to_owned()),
        "{next:?}"
    );
    // The orphaned `sleep` the holder ran.
    if let Some(job) = pid("job") {
        // SAFETY: kill(2) on the command this test started.
        let _ = unsafe { libc::kill(job, libc::SIGKILL) };
    }
    let _ = fs::remove_dir_all(&dir);
}

/// hearth started as `parallel`, `sem` or `pdsh` (links of those names)
/// is `hearth map`, `hearth sem` or `hearth run`: scripts that call them
/// run unchanged; as `pdsh`, it exits 0 whatever the commands did unless
/// -S, as pdsh does.
#[test]
fn named_as_parallel_sem_or_pdsh_it_acts_as_them() {
    let dir = scratch("sem-names");
    for name in ["parallel", "sem", "pdsh"] {
        std::os::unix::fs::symlink(HEARTH, dir.join(name)).unwrap();
    }
    let output = script(
        &dir,
        "./parallel -k echo ::: a b; ./sem --fg echo c; ./pdsh -N -w : echo d; \
         ./pdsh -w : false 2>/dev/null; echo \"pdsh: $?\"; \
         ./pdsh -S -w : 'exit 3' 2>/dev/null; echo \"pdsh -S: $?\"",
    );
    assert_eq!(
        (output.status.code(), stdout(&output)),
        (Some(0), "a\nb\nc\nd\npdsh: 0\npdsh -S: 3\n".to_owned()),
        "{output:?}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// A background command runs with the shell that started `hearth sem`
/// (bash here), as GNU parallel's: looked for before `sem` leaves its
/// copy, whose parent is gone by the time the command starts.
#[test]
fn background_commands_run_with_the_callers_shell() {
    let dir = scratch("sem-shell");
    let output = script_in(
        "bash",
        &dir,
        "for i in 1 2 3; do $SEM -j 3 'echo ${BASH_VERSION:+bash}'; done; $SEM --wait; exit $?",
    );
    assert_eq!(
        (output.status.code(), stdout(&output)),
        (Some(0), "bash\n".repeat(3)),
        "{output:?}"
    );
    let _ = fs::remove_dir_all(&dir);
}
