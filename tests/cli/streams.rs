//! Outputs of any size: a job's output streams from its worker in chunks,
//! so `hearth map` prints outputs larger than a frame, byte for byte, in
//! input order, in bounded memory.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::{fs, thread};

use super::{TIMEOUT, command, left_behind, run_tag, scratch, wait_output};

/// Bytes of each job's output in [`hundred_megabyte_outputs_in_order`].
const SIZE: usize = 100_000_000;

/// The most memory (peak resident set) `hearth map` may use for them:
/// GNU parallel prints them in 19 MB.
const MAX_RSS_KIB: i64 = 64_000_000 / 1024;

/// Set in the process of this test binary that
/// [`hundred_megabyte_outputs_in_order`] starts to measure the run in
/// ([`peak_memory_probe`]).
const PROBE: &str = "HEARTH_CLI_PEAK_PROBE";

/// Four jobs print 100 MB each, at once: hearth prints them whole, in
/// input order, byte for byte, with a peak resident set (its own and its
/// workers', as `wait4` reports them) under 64 MB. Each job's output (the
/// first's too, until its job ends) waits in memory up to a bound and in
/// temporary files in `$TMPDIR` past it, removed at the end.
///
/// The run is measured from a fresh process of this test binary
/// ([`peak_memory_probe`]), not from this one: the peak that `wait4`
/// reports for a child starts at what its parent had resident when it
/// spawned it (a child made by `posix_spawn` shares its parent's memory
/// until its `exec`, which keeps the larger peak; a forked one starts
/// with its parent's resident pages). Measured from the suite's own
/// process, the peak was that process's once other tests had grown it (85
/// MB seen under load); with 96 MB held here, a hearth that uses 27 MB
/// showed 98 MB. This process holds 96 MB of its own meanwhile, to keep
/// the measurement honest.
#[test]
fn hundred_megabyte_outputs_in_order() {
    let ballast = std::hint::black_box(vec![1u8; 96_000_000]);
    let exe = std::env::current_exe().expect("no path to the test binary");
    let child = Command::new(exe)
        .args([
            "--exact",
            "streams::peak_memory_probe",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run the test binary");
    let output = wait_output(child);
    drop(ballast);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && out.contains("1 passed"),
        "the probe failed: {:?}\nstdout:\n{out}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The measured run of [`hundred_megabyte_outputs_in_order`], in a
/// process of its own (started with [`PROBE`] set); run alone, it says so
/// and does nothing.
#[test]
#[ignore = "run by hundred_megabyte_outputs_in_order in a process of its own"]
fn peak_memory_probe() {
    if std::env::var_os(PROBE).is_none() {
        println!(
            "peak_memory_probe measures only in the process hundred_megabyte_outputs_in_order starts"
        );
        return;
    }
    let tmp = scratch("big-outputs");
    let tag = run_tag();
    let script = format!("yes {{}} | head -c {SIZE}");
    // Reaped by `wait4`, for its resource usage.
    #[allow(clippy::zombie_processes)]
    let mut child = command(
        &[
            "map", "-k", "-j", "4", "--", &script, ":::", "1", "2", "3", "4",
        ],
        &tag,
    )
    .env("TMPDIR", &tmp)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("cannot run hearth");
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let errors = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // A last guard: kill a hearth that hangs.
    let (done, guard) = std::sync::mpsc::channel::<()>();
    let _ = thread::spawn(move || {
        if guard.recv_timeout(TIMEOUT * 3).is_err() {
            // SAFETY: kill(2) on our own child, not yet reaped (the test
            // reaps it only after this guard was told).
            let _ = unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let mut stdout = child.stdout.take().unwrap();
    let compared = compare_with_expected(&mut stdout);
    drop(stdout);
    let (status, max_rss_kib) = wait_with_peak_memory(pid);
    let _ = done.send(());
    let err = errors.join().unwrap();
    assert_eq!(compared, Ok(4 * SIZE as u64), "stderr: {err}");
    assert_eq!(status, Some(0), "stderr: {err}");
    assert!(
        max_rss_kib < MAX_RSS_KIB,
        "peak resident set {max_rss_kib} KiB, more than {MAX_RSS_KIB} KiB"
    );
    let left: Vec<_> = fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    assert_eq!(left_behind(&tag), Vec::<String>::new());
    let _ = fs::remove_dir_all(&tmp);
}

/// Reads `out` to its end and compares it with the four outputs: job `j`
/// prints `j\n` over and over, [`SIZE`] bytes. Returns the bytes read, or
/// where the first difference is.
fn compare_with_expected(out: &mut impl Read) -> Result<u64, String> {
    // `j\n` repeated, for each job, twice the read size so that any
    // offset has a whole read's worth after it.
    const READ: usize = 1 << 16;
    let patterns: Vec<Vec<u8>> = (1..=4u8).map(|j| [b'0' + j, b'\n'].repeat(READ)).collect();
    let mut buf = vec![0; READ];
    let mut pos = 0u64;
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) => return Ok(pos),
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(format!("reading hearth's stdout: {err}")),
        };
        let mut got = &buf[..n];
        while !got.is_empty() {
            let pos_at = usize::try_from(pos).unwrap();
            let (job, within) = (pos_at / SIZE, pos_at % SIZE);
            let Some(pattern) = patterns.get(job) else {
                return Err(format!("{} bytes more than the four outputs", got.len()));
            };
            let take = got.len().min(SIZE - within);
            let want = &pattern[within % 2..within % 2 + take];
            if got[..take] != *want {
                let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
                return Err(format!(
                    "byte {} (job {}, offset {}) differs: got {:?}",
                    pos + at as u64,
                    job + 1,
                    within + at,
                    got[at..take.min(at + 16)].escape_ascii().to_string()
                ));
            }
            pos += take as u64;
            got = &got[take..];
        }
    }
}

/// Reaps child `pid`; returns its exit code and the peak resident set, in
/// KiB, of it and the children it reaped (its workers).
fn wait_with_peak_memory(pid: libc::pid_t) -> (Option<i32>, i64) {
    let mut status = 0;
    // SAFETY: `rusage` is a plain C struct that `wait4` fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not reaped elsewhere; the pointers
    // are to live locals.
    let reaped = unsafe { libc::wait4(pid, &raw mut status, 0, &raw mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, usage.ru_maxrss)
}

/// A job script that prints `first`, waits until the test creates
/// `DIR/go-{}` (20 s at most, then says so), and prints `then`.
fn waiting_job(dir: &std::path::Path, first: &str, then: &str) -> String {
    format!(
        "{first}; i=0; while [ ! -e {d}/go-{{}} ]; do i=$((i+1)); \
         if [ $i -gt 2000 ]; then echo 'not told to go {{}}'; exit 1; fi; sleep 0.01; done; {then}",
        d = dir.display()
    )
}

/// `--line-buffer` prints the lines of jobs while they run, as GNU
/// parallel does: each job's first line comes before either job ends (a
/// job's lines used to come when it ended).
#[test]
fn line_buffer_prints_lines_of_running_jobs() {
    let dir = scratch("line-buffer");
    let script = waiting_job(&dir, "echo start {}", "echo end {}");
    let run = super::Running::start(&["map", "--lb", "-j", "2", "--", &script], "1\n2\n");
    let mut started = [run.line(), run.line()];
    started.sort();
    assert_eq!(started, ["start 1", "start 2"]);
    for job in ["1", "2"] {
        fs::write(dir.join(format!("go-{job}")), "").unwrap();
    }
    let (status, mut rest, err) = run.wait();
    assert_eq!(status.code(), Some(0), "{err}");
    rest.sort();
    assert_eq!(rest, ["end 1", "end 2"]);
    let _ = fs::remove_dir_all(&dir);
}

/// With -k, `--line-buffer` prints the first job's lines as they come and
/// the others' after it, in input order (GNU parallel's `-k --lb`).
#[test]
fn line_buffer_in_input_order_streams_the_first_job() {
    let dir = scratch("line-buffer-k");
    let script = waiting_job(&dir, "echo start {}", "echo end {}");
    let run = super::Running::start(&["map", "-k", "--lb", "-j", "2", "--", &script], "1\n2\n");
    assert_eq!(run.line(), "start 1");
    fs::write(dir.join("go-2"), "").unwrap();
    fs::write(dir.join("go-1"), "").unwrap();
    let (status, rest, err) = run.wait();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(rest, ["end 1", "start 2", "end 2"]);
    let _ = fs::remove_dir_all(&dir);
}

/// `-u` prints bytes as they come, a line not ended too (it used to print
/// a job's output when the job ended).
#[test]
fn ungroup_prints_bytes_as_they_come() {
    let dir = scratch("ungroup");
    let script = waiting_job(&dir, "printf 'half a line'", "echo ', the rest'");
    let tag = run_tag();
    let mut child = command(&["map", "-u", "--", &script, ":::", "1"], &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run hearth");
    let mut stdout = child.stdout.take().unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 64];
    while got.len() < b"half a line".len() {
        match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(err) => panic!("reading hearth's stdout: {err}"),
        }
    }
    assert_eq!(got.escape_ascii().to_string(), "half a line");
    fs::write(dir.join("go-1"), "").unwrap();
    let _ = stdout.read_to_end(&mut got);
    let output = super::wait_output(child);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(got.escape_ascii().to_string(), "half a line, the rest\\n");
    assert_eq!(left_behind(&tag), Vec::<String>::new());
    let _ = fs::remove_dir_all(&dir);
}

/// `--pipe` reads stdin as the slots need blocks: when the job of block
/// `j` runs (one slot), the writer has had at most a few blocks more
/// taken off its pipe (the job's own, one in the feed, one being cut, one
/// in the pipe's buffer). Each job prints how far ahead the writer was.
#[test]
fn pipe_reads_blocks_as_jobs_need_them() {
    let dir = std::env::temp_dir().join(format!("hearth-cli-pipe-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let progress = dir.join("written");
    fs::write(&progress, "0").unwrap();
    // Lines of 10 bytes, 10,000 to a block of 100,000 bytes: block `j`
    // (from 0) begins with line 100,000,000 + j * 10,000 (no leading
    // zero, which sh would read as octal).
    let job = format!(
        "read first; cat >/dev/null; echo $(( $(cat {}) - (first - 100000000) / 10000 ))",
        progress.display()
    );
    let tag = super::run_tag();
    let mut child = super::command(
        &["map", "--pipe", "-j1", "--block", "100k", "-k", &job],
        &tag,
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut input = child.stdin.take().unwrap();
    let blocks = 40;
    let written = progress.clone();
    let writer = std::thread::spawn(move || {
        for block in 0..blocks {
            let lines = (0..10_000).fold(String::new(), |mut lines, i| {
                let _ = writeln!(lines, "{}", 100_000_000 + block * 10_000 + i);
                lines
            });
            input.write_all(lines.as_bytes()).unwrap();
            // Taken off the pipe (all but its buffer's worth); renamed
            // into place, so a job never reads it half written.
            let next = written.with_extension("new");
            fs::write(&next, (block + 1).to_string()).unwrap();
            fs::rename(&next, &written).unwrap();
        }
    });
    let output = super::wait_output(child);
    writer.join().unwrap();
    let _ = fs::remove_dir_all(&dir);
    assert!(output.status.success(), "{output:?}");
    let ahead: Vec<i64> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(ahead.len(), blocks);
    let most = ahead.iter().copied().max().unwrap();
    assert!(
        most <= 6,
        "the writer ran {most} blocks ahead of the jobs: {ahead:?}"
    );
}
