//! A job's world over the slot's own connection: files sent before the
//! job and brought back after it (`Files`, any size, a chunk at a time),
//! its working directory (`Host::workdir`: a directory, or a temporary
//! one per job), the pool's environment (`PoolBuilder::env`), and the
//! clean-up. The host is this machine reached through a launcher (`env
//! BIN`), which the pool treats as any remote host: files are sent.

use std::fs;
use std::ops::ControlFlow;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hearth::remote::{
    Files, Host, Inputs, JobFailure, JobReport, Order, Pool, Target, Transport, Workdir,
};

use super::{runner, temp_dir};

/// A host of `slots` slots started through a launcher, jobs in `workdir`,
/// `GREETING=hi` set for them.
fn far_pool(slots: usize, workdir: Workdir) -> Pool {
    let transport = Transport::Command {
        template: vec!["env".to_owned(), "{bin}".to_owned()],
        bin: runner::exe(),
    };
    Pool::builder()
        .host(Host::new("far", slots, transport).workdir(workdir))
        .env("GREETING", "hi")
        .build()
        .unwrap()
}

/// Runs `copy_in_workdir` on each input with its files; the reports.
fn run_with_files(pool: &mut Pool, jobs: Vec<((String, String), Files)>) -> Vec<JobReport<String>> {
    let mut reports = Vec::new();
    pool.run(
        &Target::Any,
        "copy_in_workdir",
        Inputs::with_files(jobs),
        Order::Submission,
        |_, report: JobReport<String>| {
            reports.push(report);
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    reports
}

/// Bytes of file `i`: sizes from empty to several chunks.
fn contents(i: usize) -> Vec<u8> {
    let len = [0, 1, 5000, 600 * 1024][i % 4] + i;
    (0..len).map(|b| (b * 31 + i).to_le_bytes()[0]).collect()
}

/// Twenty jobs, each with its own file (up to 600 KiB, mode 0640) sent to
/// `in/`, its result brought back from `out/`: every result is the
/// greeting and the file, each job ran in the working directory with the
/// environment, and the clean-up left none of their files on the host.
pub(crate) fn files_go_out_and_come_back() {
    let dir = temp_dir("files");
    let (local, remote) = (dir.join("local"), dir.join("remote"));
    fs::create_dir_all(&local).unwrap();
    let mut pool = far_pool(2, Workdir::Dir(remote.display().to_string()));
    let jobs = (0..20)
        .map(|i| {
            let source = local.join(format!("{i}.txt"));
            fs::write(&source, contents(i)).unwrap();
            fs::set_permissions(&source, fs::Permissions::from_mode(0o640)).unwrap();
            let (sent, made) = (format!("in/{i}.txt"), format!("out/{i}.txt"));
            let files = Files::new()
                .send(&source, sent.clone())
                .bring_back(made.clone(), local.join(format!("back/{i}.txt")))
                .cleanup(true);
            ((sent, made), files)
        })
        .collect();
    let reports = run_with_files(&mut pool, jobs);
    for (i, report) in reports.iter().enumerate() {
        assert_eq!(report.result.as_deref(), Ok("0640"), "job {i}: {report:?}");
        let shown = String::from_utf8_lossy(&report.stdout);
        assert_eq!(shown, format!("hi {}", remote.display()), "job {i}");
        let mut expected = b"hi".to_vec();
        expected.extend(contents(i));
        let back = fs::read(local.join(format!("back/{i}.txt"))).unwrap();
        assert!(back == expected, "job {i}: {} bytes back", back.len());
    }
    let left: Vec<PathBuf> = files_under(&remote);
    assert_eq!(left, Vec::<PathBuf>::new(), "cleaned up");
    pool.shutdown(std::time::Duration::from_secs(5));
    let _ = fs::remove_dir_all(&dir);
}

/// A file that cannot be read fails its job, which does not run; a file
/// to bring back that the job did not make is said on its stderr.
pub(crate) fn missing_files_are_said() {
    let dir = temp_dir("files-missing");
    let remote = dir.join("remote");
    let mut pool = far_pool(1, Workdir::Dir(remote.display().to_string()));
    let missing = dir.join("nowhere.txt");
    let jobs = vec![(
        ("a".to_owned(), "b".to_owned()),
        Files::new().send(&missing, "a"),
    )];
    let reports = run_with_files(&mut pool, jobs);
    match &reports[0].result {
        Err(JobFailure::Job(err)) => {
            assert!(
                err.message.contains("cannot send")
                    && err.message.contains("nowhere.txt")
                    && err.message.contains("No such file"),
                "{err}"
            );
        }
        other => panic!("expected the job's failure, got {other:?}"),
    }
    assert_eq!(reports[0].attempts, 0, "not run");
    // `b` is made, `c` is not: said on the job's stderr.
    let source = dir.join("a.txt");
    fs::write(&source, "x").unwrap();
    let files = Files::new()
        .send(&source, "a")
        .bring_back("b", dir.join("b"))
        .bring_back("c", dir.join("c"));
    let reports = run_with_files(&mut pool, vec![(("a".to_owned(), "b".to_owned()), files)]);
    assert!(reports[0].result.is_ok(), "{:?}", reports[0]);
    assert_eq!(fs::read(dir.join("b")).unwrap(), b"hix");
    let said = String::from_utf8_lossy(&reports[0].stderr);
    assert!(said.contains("hearth: cannot return c:"), "{said}");
    assert!(!dir.join("c").exists());
    pool.shutdown(std::time::Duration::from_secs(5));
    let _ = fs::remove_dir_all(&dir);
}

/// `Workdir::Temp`: each job in a fresh directory, its files there,
/// removed after it.
pub(crate) fn temporary_workdir_per_job() {
    let dir = temp_dir("files-temp");
    let mut pool = far_pool(2, Workdir::Temp);
    let jobs = (0..6)
        .map(|i| {
            let source = dir.join(format!("{i}"));
            fs::write(&source, format!("{i}")).unwrap();
            let files = Files::new()
                .send(&source, "in")
                .bring_back("out", dir.join(format!("{i}.out")));
            (("in".to_owned(), "out".to_owned()), files)
        })
        .collect();
    let reports = run_with_files(&mut pool, jobs);
    let mut dirs = std::collections::BTreeSet::new();
    for (i, report) in reports.iter().enumerate() {
        assert!(report.result.is_ok(), "{report:?}");
        let shown = String::from_utf8_lossy(&report.stdout).into_owned();
        let workdir = shown.strip_prefix("hi ").unwrap().to_owned();
        assert!(!Path::new(&workdir).exists(), "{workdir} left behind");
        assert!(dirs.insert(workdir), "a directory of its own");
        assert_eq!(
            fs::read(dir.join(format!("{i}.out"))).unwrap(),
            format!("hi{i}").as_bytes()
        );
    }
    pool.shutdown(std::time::Duration::from_secs(5));
    let _ = fs::remove_dir_all(&dir);
}

/// The files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A host of `slots` slots through a launcher, jobs in `workdir`, with
/// `base` as the pool's base files.
fn far_pool_with_base(slots: usize, workdir: &Path, base: Files) -> Pool {
    let transport = Transport::Command {
        template: vec!["env".to_owned(), "{bin}".to_owned()],
        bin: runner::exe(),
    };
    Pool::builder()
        .host(
            Host::new("far", slots, transport).workdir(Workdir::Dir(workdir.display().to_string())),
        )
        .env("GREETING", "hi")
        .base_files(base)
        .build()
        .unwrap()
}

/// `PoolBuilder::base_files`: each slot gets them once, before its first
/// job (a second run on the same slots sees the first copy, not the file
/// changed since); a job's own clean-up leaves them; the pool's end
/// removes them with `cleanup`, and leaves them without.
pub(crate) fn base_files_go_once_to_each_slot() {
    for cleanup in [true, false] {
        let dir = temp_dir(&format!("files-base-{cleanup}"));
        let far = dir.join("far");
        let source = dir.join("base.txt");
        fs::write(&source, "first").unwrap();
        let base = Files::new().send(&source, "base.txt").cleanup(cleanup);
        let mut pool = far_pool_with_base(2, &far, base);
        let jobs = |run: usize| -> Vec<((String, String), Files)> {
            (0..6)
                .map(|i| {
                    let name = format!("copy-{run}-{i}");
                    let files = Files::new()
                        .bring_back(&name, dir.join(&name))
                        .cleanup(true);
                    (("base.txt".to_owned(), name), files)
                })
                .collect()
        };
        for (run, expected) in [(0, "hifirst"), (1, "hifirst")] {
            let reports = run_with_files(&mut pool, jobs(run));
            for (i, report) in reports.iter().enumerate() {
                assert!(report.result.is_ok(), "{report:?}");
                let copy = fs::read_to_string(dir.join(format!("copy-{run}-{i}"))).unwrap();
                assert_eq!(copy, expected, "run {run}, job {i}");
            }
            // Changed here: the slots keep the copy they got.
            fs::write(&source, "second").unwrap();
        }
        assert!(far.join("base.txt").exists(), "there while the pool lives");
        pool.shutdown(std::time::Duration::from_secs(5));
        assert_eq!(far.join("base.txt").exists(), !cleanup, "cleanup {cleanup}");
        let _ = fs::remove_dir_all(&dir);
    }
}

/// A base file that cannot be read: the slots are lost for good, saying
/// why, and no job runs.
pub(crate) fn unreadable_base_files_are_said() {
    let dir = temp_dir("files-base-missing");
    let base = Files::new().send(dir.join("nowhere.txt"), "base.txt");
    let mut pool = far_pool_with_base(2, &dir.join("far"), base);
    let jobs = vec![(("a".to_owned(), "b".to_owned()), Files::new())];
    let reports = run_with_files(&mut pool, jobs);
    match &reports[0].result {
        Err(JobFailure::NotRun { reasons }) => {
            let said: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            let said = said.join("; ");
            assert!(
                said.contains("base files") && said.contains("nowhere.txt"),
                "{said}"
            );
        }
        other => panic!("expected the job not run, got {other:?}"),
    }
    pool.shutdown(std::time::Duration::from_secs(5));
    let _ = fs::remove_dir_all(&dir);
}
