//! The worker's built-in `sh` handler: runs a command line with `sh -c` and
//! returns its exit status, stdout and stderr.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::output::shortened;

/// The name of the handler.
pub const HANDLER: &str = "sh";

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

/// Runs the job. A command that cannot be started (no `sh`) is a job
/// error; the command's own failure is an output with its exit status.
pub fn run(job: ShJob) -> Result<ShOutput, String> {
    let mut cmd = Command::new("sh");
    let _ = cmd
        .arg("-c")
        .arg(OsStr::from_bytes(&job.command))
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
        let command = shortened(&job.command);
        if err.raw_os_error() == Some(libc::E2BIG) {
            format!(
                "cannot run sh -c \"{command}\": the command line is {} bytes, more than the \
                 system takes as one argument (128 KiB on Linux); pass inputs that large \
                 through files",
                job.command.len()
            )
        } else {
            format!("cannot run sh -c \"{command}\": {err}")
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
