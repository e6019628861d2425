//! The worker's built-in handlers: `sh-job`, what `hearth map` sends (a
//! command line in parts, joined with the slot's number when it holds
//! `{%}`; the job's sequence number in `PARALLEL_SEQ`, the slot's in
//! `PARALLEL_JOBSLOT`, as GNU parallel sets them), and `sh`, a plain
//! command line (what earlier `hearth map`s send). Both run the command
//! with `sh -c` and return its exit status, stdout and stderr.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::output::shortened;

/// The name of the plain handler.
pub const HANDLER: &str = "sh";

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
    /// The run's id when the job needs its slot's number: the slot claims
    /// the lowest number no other live slot of the run has on its machine
    /// (see [`crate::slot_number`]).
    pub run: Option<String>,
}

/// What a [`Job`] did.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobOutput {
    /// Exit status, stdout and stderr.
    pub output: ShOutput,
    /// The slot's number, if the job needed it.
    pub slot: Option<u32>,
}

/// A job of the `sh` handler: one command line.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShJob {
    /// Given to `sh -c`: any bytes but NUL (inputs such as file names need
    /// not be UTF-8). Encoded as a string is, so a worker that takes a
    /// string command reads the UTF-8 ones.
    pub command: Vec<u8>,
}

/// What the command did.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShOutput {
    /// Exit code, if it exited.
    pub exit: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

impl ShOutput {
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

/// True if `output`, an encoded [`ShOutput`], is of a command that did not
/// exit 0 (for `--retries`). Reads only the exit status and the signal,
/// which come first.
pub fn failed(output: &[u8]) -> bool {
    match postcard::take_from_bytes::<(Option<i32>, Option<i32>)>(output) {
        Ok(((exit, _signal), _)) => exit != Some(0),
        Err(_) => false,
    }
}

/// Runs a plain job. A command that cannot be started (no `sh`) is a job
/// error; the command's own failure is an output with its exit status.
pub fn run(job: ShJob) -> Result<ShOutput, String> {
    sh(&job.command, &[])
}

/// Runs a [`Job`] of `hearth map`, as [`run`] does.
pub fn run_job(job: Job) -> Result<JobOutput, String> {
    let seq = job.seq.to_string();
    let slot = match &job.run {
        Some(run) => Some(crate::slot_number::claim(run)?),
        None => None,
    };
    let command = match slot {
        Some(n) => job.parts.join(n.to_string().as_bytes()),
        None => job.parts.concat(),
    };
    let slot_text = slot.map(|n| n.to_string());
    let mut env = vec![("PARALLEL_SEQ", seq.as_str())];
    if let Some(text) = &slot_text {
        env.push(("PARALLEL_JOBSLOT", text.as_str()));
    }
    let output = sh(&command, &env)?;
    Ok(JobOutput { output, slot })
}

/// Runs `command` with `sh -c`, with `env` added to the environment.
fn sh(command: &[u8], env: &[(&str, &str)]) -> Result<ShOutput, String> {
    let mut cmd = Command::new("sh");
    let _ = cmd
        .arg("-c")
        .arg(OsStr::from_bytes(command))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls `prctl`, which is async-signal-safe. It makes the kernel kill
    // the command when the worker thread that started it dies, so a worker
    // killed by the pool (timeout, Ctrl+C, a lost ssh connection) leaves no
    // orphan behind.
    unsafe {
        let _ = cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = cmd.output().map_err(|err| {
        let shown = shortened(command);
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
    Ok(ShOutput {
        exit: output.status.code(),
        signal: output.status.signal(),
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_reads_the_exit_status_of_an_encoded_output() {
        let encoded = |exit, signal| {
            postcard::to_stdvec(&ShOutput {
                exit,
                signal,
                stdout: b"out".to_vec(),
                stderr: Vec::new(),
            })
            .unwrap()
        };
        assert!(!failed(&encoded(Some(0), None)));
        assert!(failed(&encoded(Some(1), None)));
        assert!(failed(&encoded(None, Some(9))));
        assert!(!failed(b""), "not an output: not called failed");
    }

    /// A command of bytes encodes as a string does, so workers and pools
    /// from before commands were bytes read each other's UTF-8 commands.
    #[test]
    fn command_bytes_encode_as_a_string() {
        #[derive(Serialize, Deserialize)]
        struct StringJob {
            command: String,
        }
        let text = "printf '%s' 'héllo'";
        let as_string = postcard::to_stdvec(&StringJob {
            command: text.to_owned(),
        })
        .unwrap();
        let as_bytes = postcard::to_stdvec(&ShJob {
            command: text.as_bytes().to_vec(),
        })
        .unwrap();
        assert_eq!(as_string, as_bytes);
        let job: ShJob = postcard::from_bytes(&as_string).unwrap();
        assert_eq!(job.command, text.as_bytes());
        let back: StringJob = postcard::from_bytes(&as_bytes).unwrap();
        assert_eq!(back.command, text);
    }
}
