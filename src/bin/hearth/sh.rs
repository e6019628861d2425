//! The worker's built-in handler `sh-job`, what `hearth map` sends: a
//! command line in parts, joined with the number of the slot that runs it
//! (`{%}`, which the pool gives its workers), run with `sh -c`, the job's
//! sequence number in `PARALLEL_SEQ` and the slot's in `PARALLEL_JOBSLOT`,
//! as GNU parallel sets them, and the slot's number less one in
//! `PARALLEL_JOBSLOT0` and the variable of `--process-slot-var` (under
//! `nice -n N` for `--nice`). The
//! command's stdout and stderr stream to the pool as it writes them (any
//! size); the job's result is its exit status.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use hearth::remote::JobContext;
use serde::{Deserialize, Serialize};

use crate::block_file::{self, BlockAs};
use crate::output::shortened;

/// The name of the handler of [`Job`]s.
pub const JOB_HANDLER: &str = "sh-job";

/// A job of `hearth map`: a command line and what it needs from its slot.
#[derive(Debug, Serialize, Deserialize)]
pub struct Job {
    /// The command line, in parts to join with the slot's number between
    /// them (one part when the command does not hold `{%}`): any bytes but
    /// NUL.
    pub parts: Vec<Vec<u8>>,
    /// The job's sequence number (from 1), for `PARALLEL_SEQ`.
    pub seq: u64,
    /// How the command is started: `--nice`, `--process-slot-var`.
    pub start: Start,
    /// `--cat`, `--fifo`: the job's stdin goes to its command as a file
    /// or a named pipe.
    pub block_as: Option<BlockAs>,
    /// A `{= perl =}` code called `skip()`: the command does not run, and
    /// the job fails with exit value -2, as in GNU parallel.
    pub skipped: bool,
    /// `--tmpl`: files written before the command runs.
    pub templates: Vec<Filled>,
    /// `--tmpl` with `--cleanup`: they are removed once it ended.
    pub remove_templates: bool,
}

/// A file of `--tmpl`, filled for its job: its name (absolute) and its
/// text, each in parts to join with the slot's number, as a command line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Filled {
    /// The file's name.
    pub name: Vec<Vec<u8>>,
    /// Its text.
    pub text: Vec<Vec<u8>>,
}

/// How a job's command is started, the same for every job of a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Start {
    /// `--nice`: run at this niceness, added to the slot's (with
    /// `nice -n`, so every process of the command line has it).
    pub nice: Option<i32>,
    /// `--process-slot-var NAME`: the slot's number less one (from 0) in
    /// the variable NAME, as GNU parallel sets it.
    pub slot_var: Option<String>,
    /// The shell that runs the command line (`shell.rs`), `None` for
    /// `sh`.
    pub shell: Option<String>,
}

/// The program of the jobs' shell (`shell::program`), looked up once per
/// worker for the shell the jobs name.
fn shell_program(shell: Option<&str>) -> PathBuf {
    static FOUND: Mutex<Option<(Option<String>, PathBuf)>> = Mutex::new(None);
    let mut found = FOUND
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*found {
        Some((name, path)) if name.as_deref() == shell => path.clone(),
        _ => {
            let path = crate::shell::program(shell);
            *found = Some((shell.map(str::to_owned), path.clone()));
            path
        }
    }
}

/// The exit value of a job that `skip()` kept from running (GNU
/// parallel's joblog shows it).
pub const SKIPPED_EXIT: i32 = -2;

/// How a [`Job`] ended (its output streamed while it ran).
#[derive(Debug, Serialize, Deserialize)]
pub struct JobOutput {
    /// Exit code, if it exited.
    pub exit: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// The number of the slot that ran it.
    pub slot: u32,
}

impl JobOutput {
    /// True if the command exited with 0.
    pub fn success(&self) -> bool {
        self.exit == Some(0)
    }

    /// The exit status as a shell reports it: the code, or 128 + signal.
    pub fn status_code(&self) -> i32 {
        match (self.exit, self.signal) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => 255,
        }
    }
}

/// True if `output`, an encoded [`JobOutput`], is of a command that did
/// not exit 0 (for `--retries`). Reads only the exit status and the
/// signal, which come first.
pub fn failed(output: &[u8]) -> bool {
    match postcard::take_from_bytes::<(Option<i32>, Option<i32>)>(output) {
        Ok(((exit, _signal), _)) => exit != Some(0),
        Err(_) => false,
    }
}

/// Runs a [`Job`] of `hearth map`, its stdout and stderr streamed as the
/// job's. A command that cannot be started (no `sh`) is a job error; the
/// command's own failure is an output with its exit status.
pub fn run_job(job: Job, context: &mut JobContext<'_>) -> Result<JobOutput, String> {
    let seq = job.seq.to_string();
    let slot = context.slot();
    if job.skipped {
        return Ok(JobOutput {
            exit: Some(SKIPPED_EXIT),
            signal: None,
            slot,
        });
    }
    let slot_text = slot.to_string();
    // The slot's login and host, as the pool set them for its jobs.
    let of_env = |name: &str| {
        (context.env().iter())
            .find(|(n, _)| n == name)
            .map_or(":", |(_, value)| value.as_str())
    };
    let on = crate::replace::RunsOn {
        slot: slot_text.as_bytes(),
        login: of_env("PARALLEL_SSHLOGIN").as_bytes(),
        host: of_env("PARALLEL_SSHHOST").as_bytes(),
        user: of_env(crate::pdsh::USER_VARIABLE).as_bytes(),
        rank: of_env(crate::pdsh::RANK_VARIABLE).as_bytes(),
    };
    let command = crate::replace::join_slot(&job.parts, on);
    let written = write_templates(&job.templates, on)?;
    let shell = shell_program(job.start.shell.as_deref());
    let mut cmd = match job.start.nice {
        Some(nice) => {
            static NICE: OnceLock<PathBuf> = OnceLock::new();
            let mut cmd =
                Command::new(NICE.get_or_init(|| {
                    crate::shell::on_path("nice").unwrap_or_else(|| "nice".into())
                }));
            let _ = cmd.arg("-n").arg(nice.to_string()).arg(&shell);
            cmd
        }
        None => Command::new(&shell),
    };
    let _ = cmd
        .arg("-c")
        .arg(OsStr::from_bytes(&command))
        .env("PARALLEL_SEQ", &seq)
        .env("PARALLEL_JOBSLOT", &slot_text)
        .stdin(Stdio::null());
    let from_zero = slot.saturating_sub(1).to_string();
    let _ = cmd.env("PARALLEL_JOBSLOT0", &from_zero);
    if let Some(name) = &job.start.slot_var {
        let _ = cmd.env(name, &from_zero);
    }
    // Removed when the command has ended, whatever its end.
    let placed = match &job.block_as {
        Some(block_as) => {
            let workdir = context.workdir().map(std::path::Path::to_path_buf);
            Some(block_as.place(context.take_stdin(), workdir.as_deref())?)
        }
        None => None,
    };
    // Without a block file, $PARALLEL_TMP is a free name the command may
    // use, its file removed when it ends (as GNU parallel's).
    let scratch = match &placed {
        Some(placed) => {
            let _ = cmd.env(block_file::VARIABLE, placed.path());
            None
        }
        None => block_file::unused_name(),
    };
    if let Some(scratch) = &scratch {
        let _ = cmd.env(block_file::VARIABLE, scratch);
    }
    let status = context.run_command(&mut cmd).map_err(|err| {
        let shown = shortened(&command);
        if err.raw_os_error() == Some(libc::E2BIG) {
            format!(
                "cannot run sh -c \"{shown}\": the command line is {} bytes, more than the \
                 system takes as one argument (128 KiB on Linux); pass inputs that large \
                 through files",
                command.len()
            )
        } else {
            format!("cannot run sh -c \"{shown}\": {err}")
        }
    })?;
    drop(placed);
    if let Some(scratch) = scratch {
        let _ = std::fs::remove_file(scratch);
    }
    if job.remove_templates {
        for path in written {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(JobOutput {
        exit: status.code(),
        signal: status.signal(),
        slot,
    })
}

/// Writes the files of `--tmpl`, their slot (and host) as `on` says;
/// returns their names.
fn write_templates(
    templates: &[Filled],
    on: crate::replace::RunsOn<'_>,
) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::with_capacity(templates.len());
    for template in templates {
        let name = crate::replace::join_slot(&template.name, on);
        let path = PathBuf::from(OsStr::from_bytes(&name));
        let text = crate::replace::join_slot(&template.text, on);
        std::fs::write(&path, text)
            .map_err(|err| format!("--tmpl: cannot write {}: {err}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_reads_the_exit_status_of_an_encoded_output() {
        let encoded = |exit, signal| {
            postcard::to_stdvec(&JobOutput {
                exit,
                signal,
                slot: 3,
            })
            .unwrap()
        };
        assert!(!failed(&encoded(Some(0), None)));
        assert!(failed(&encoded(Some(1), None)));
        assert!(failed(&encoded(None, Some(9))));
        assert!(!failed(b""), "not an output: not called failed");
    }
}
