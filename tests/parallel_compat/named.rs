//! hearth started as `parallel` (a link of that name) next to GNU
//! parallel itself: the same script, run with each as `$PAR`, prints the
//! same. Started so, hearth takes GNU parallel's defaults where `hearth
//! map`'s differ: outputs as jobs end unless `-k`. Profiles and
//! `$PARALLEL` too, which `hearth map` reads as well.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use super::{HEARTH, parallel, run, scratch, shown};

/// Runs `script` with `par` as its `$PAR`, in `dir`, with `home` as
/// `HOME`.
fn script(script: &str, par: &str, dir: &Path, home: &Path) -> Output {
    let mut cmd = Command::new("sh");
    let _ = cmd
        .args([OsStr::new("-c"), OsStr::new(script)])
        .current_dir(dir)
        .env("PAR", par)
        .env("HOME", home)
        .env("PARALLEL_SHELL", "/bin/sh")
        .env_remove("PARALLEL")
        .env_remove("HEARTH_LOG");
    run(cmd, b"")
}

/// `script` run with GNU parallel and with hearth started as `parallel`
/// print the same and exit with the same status.
#[track_caller]
fn same_script(text: &str) {
    let Some(parallel) = parallel() else { return };
    let theirs_dir = scratch("named-gnu");
    let gnu = format!("{} --will-cite", parallel.display());
    // Its own HOME: a script may write a profile there.
    let theirs = script(text, &gnu, &theirs_dir, &theirs_dir);
    let dir = scratch("named-hearth");
    let link = dir.join("bin").join("parallel");
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(HEARTH, &link).unwrap();
    let ours = script(text, &link.display().to_string(), &dir, &dir);
    assert_eq!(
        (ours.status.code(), ours.stdout.escape_ascii().to_string()),
        (
            theirs.status.code(),
            theirs.stdout.escape_ascii().to_string()
        ),
        "{text}\n--- hearth as parallel: {}\n--- GNU parallel: {}",
        shown(&ours),
        shown(&theirs)
    );
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&theirs_dir);
}

/// Without `-k` the job that ends first prints first: the first job
/// waits until the second one's output is in the file both print to.
/// With `-k` the input order holds, though the second job ends first.
#[test]
fn outputs_come_as_jobs_end_unless_keep_order() {
    same_script(
        "$PAR -j2 'if [ {} = 1 ]; then until grep -q two out; do sleep 0.01; done; \
         echo one; else echo two; fi' ::: 1 2 > out; echo \"status $?\"; cat out",
    );
    same_script(
        "$PAR -k -j2 'if [ {} = 1 ]; then until [ -e two ]; do sleep 0.01; done; \
         echo one; else echo two; touch two; fi' ::: 1 2",
    );
    // --line-buffer prints lines as they come, also in input order with -k.
    same_script(
        "$PAR --lb -j2 'if [ {} = 1 ]; then until grep -q two out; do sleep 0.01; done; \
         echo one; else echo two; fi' ::: 1 2 > out; cat out",
    );
}

/// A job's output comes whole, its stdout then its stderr, however the
/// job mixed them: on a stdout and stderr that are one file, the bytes
/// show it. (The sleep is no synchronisation: it only parts the writes,
/// which came mixed in the order written.)
#[test]
fn a_jobs_stdout_comes_before_its_stderr() {
    same_script(
        "$PAR -k -j2 --tag 'echo out{}; echo err{} >&2; sleep 0.1; echo again{}' \
         ::: a b 2>&1; $PAR 'echo out; echo err >&2; sleep 0.1; printf again' ::: a 2>&1",
    );
}

/// With -k, GNU parallel's line of a job that meets --halt comes after
/// the job's output when the job is the next to print (on a stdout and
/// stderr that are one file, the bytes show it).
#[test]
fn a_halt_is_said_after_the_output_of_the_job_next_to_print() {
    same_script(
        "for halt in now,fail=1 soon,fail=1 soon,done=2; do \
         $PAR -k -j1 --halt $halt 'echo o{}; echo e{} >&2; exit {}' ::: 0 2 0 2>&1; \
         echo \"status $?\"; done",
    );
}

/// `$PARALLEL_PID` is the number of the process that runs the jobs, as
/// scripts use it to name their files.
#[test]
fn jobs_see_the_pid_of_parallel() {
    same_script(
        "$PAR -k 'echo $PARALLEL_PID' ::: a b > out & pid=$!; wait $pid; \
         test \"$(sort -u out)\" = \"$pid\" && echo same",
    );
}

/// --progress, --eta and --bar on a stderr that is no terminal: GNU
/// parallel's text. Compared: its head (the computers, their cores and
/// slots; none for --bar) and its last line, the figures of time masked
/// (how many updates come between depends on the clock).
#[test]
fn progress_eta_and_bar_write_gnu_parallels_text() {
    for option in ["--progress", "--eta", "--bar"] {
        same_script(&format!(
            "$PAR -k -j2 {option} 'echo {{}}' ::: a 'b c' d 2>err; echo \"status $?\"; \
             grep -A1 '^Computers' err; tr '\\r' '\\n' <err | tail -n1 | cat -v | \
             sed -E 's/[0-9]+[.][0-9]+s/T/g'; tail -c1 err | od -c"
        ));
    }
}

/// Options from `~/.parallel/config`, from a profile named with `-J`
/// (instead of the config), and from `$PARALLEL`, before the command
/// line's; none with `--plain`.
#[test]
fn profiles_and_the_parallel_variable() {
    same_script(
        "mkdir -p \"$HOME/.parallel\"; \
         printf '# a comment\\n--tagstring X{}\\n' > \"$HOME/.parallel/config\"; \
         printf -- '-k\\n--tag\\n' > \"$HOME/.parallel/prof\"; \
         $PAR -k echo ::: a b; \
         $PAR -J prof echo ::: a b; \
         $PAR --plain -k echo ::: a b; \
         PARALLEL='-k --tagstring \"Y {}\"' $PAR echo ::: a b; \
         PARALLEL='--tag' $PAR --plain -k echo ::: a b",
    );
}

/// Failed jobs are left to the exit status, as GNU parallel leaves them:
/// nothing on stderr (`hearth map` sums them up there).
#[test]
fn failed_jobs_are_not_summed_up() {
    same_script("$PAR -k 'echo {}; exit {}' ::: 0 1 2 2>&1; echo \"status $?\"");
}

/// `--halt` is said as GNU parallel says it: each job that counts toward
/// the halt with its command line, and nothing at the end.
#[test]
fn halts_are_said_as_gnu_parallel() {
    same_script(
        "for halt in now,fail=1 soon,fail=2 now,success=1 soon,done=2 now,fail=50%; do \
           $PAR -j1 --halt $halt 'echo {}; exit {}' ::: 0 3 0 4 0 2>&1; echo \"$halt: $?\"; \
         done",
    );
}

/// SIGTERM kills the running jobs at once, prints nothing of them and
/// exits 255; SIGHUP starts no new job and lets the running ones finish
/// (the exit status is theirs), as GNU parallel.
#[test]
fn stop_signals_as_gnu_parallel() {
    same_script(
        "$PAR -j2 'echo start {}; touch started{}; sleep 30; echo end {}' ::: 1 2 3 > out 2> err & \
         pid=$!; until [ -e started1 ] && [ -e started2 ]; do sleep 0.01; done; \
         kill -TERM $pid; wait $pid; echo \"status $?\"; cat out",
    );
    same_script(
        "$PAR -j2 'echo start {}; touch started{}; until [ -e go ]; do sleep 0.01; done; \
         echo end {}' ::: 1 2 3 > out 2> err & \
         pid=$!; until [ -e started1 ] && [ -e started2 ]; do sleep 0.01; done; \
         kill -HUP $pid; until grep -q 'SIGHUP received' err; do sleep 0.01; done; touch go; \
         wait $pid; echo \"status $?\"; sort out",
    );
}

/// A script run by hearth as its `#!` interpreter, as GNU parallel's
/// `--shebang` (the script's lines are the inputs) and `--shebang-wrap`
/// (the script runs once per argument) run it: the kernel passes the
/// line's options as one word.
#[test]
fn shebang_scripts() {
    same_script(
        "printf '#!%s --shebang -k -r --colsep \" \" echo X\\nA B\\n\\nC D\\n' \"${PAR%% *}\" > s; \
         chmod +x s; ./s; echo \"status $?\"; \
         printf '#!%s --shebang-wrap -k /bin/sh\\necho \"arg=$1\"; exit $2\\n' \"${PAR%% *}\" > w; \
         chmod +x w; ./w a b c; echo \"status $?\"",
    );
}

/// `--resume` with `--results` and no `--joblog`: the jobs whose results
/// are there are not run again, as GNU parallel tells them.
#[test]
fn resume_from_the_results() {
    same_script(
        "$PAR -k --results rd echo ::: a b; rm -r rd/1/b; \
         $PAR -k --results rd --resume 'echo again {}' ::: a b c; echo \"status $?\"; \
         for f in rd/1/*/stdout; do echo \"$f: $(cat $f)\"; done; \
         $PAR --resume echo ::: a; echo \"status $?\"",
    );
}
