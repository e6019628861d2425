//! Installing the worker on an ssh host that has none
//! ([`Host::install_worker`](crate::remote::Host::install_worker)), over
//! the slot's own connection: no second login, no scp.
//!
//! The slot's ssh command runs a short `sh` script instead of the worker.
//! The script looks for this very program under a name made of its
//! CRC-32 and length (`~/.cache/hearth/hearth-CRC-LEN`, so a copy is
//! never mistaken for another build) and says on stdout, one line, before
//! any frame:
//!
//! - `hearth-install ready`: the copy is there; the script `exec`s it as
//!   the worker, and the pool starts its handshake.
//! - `hearth-install need OS ARCH` (`uname -s`, `uname -m`): the copy is
//!   missing and this slot is the one to bring it (a lock directory
//!   elects one slot per host; the others wait for its copy). The pool
//!   checks that the host runs the system and architecture this program
//!   was built for (a foreign one is a permanent failure that says so),
//!   then writes `LEN\n` and the program's bytes to the script's stdin, a
//!   chunk at a time as the pipe takes them; the script writes them to a
//!   temporary name, checks the length, makes it executable, renames it
//!   into place and says `ready`. A host the pool refuses gets `refuse`.
//!   A copy cut short (the slot's connection closed: its script gets
//!   `SIGHUP`) removes its temporary file and the lock.
//!
//! The pool sends `HELLO` only after `ready`: until then the script reads
//! stdin.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use crate::remote::transfer::Outgoing;

/// What a slot's install script prints first.
const MARK: &str = "hearth-install";

/// The script the ssh command runs (`$1`: the copy's path, relative to the
/// home directory unless absolute).
pub(crate) const SCRIPT: &str = r#"bin=$1
case $bin in /*) ;; *) bin=$HOME/$bin ;; esac
waited=0
while [ ! -x "$bin" ]; do
  mkdir -p "$(dirname "$bin")" || exit 126
  if mkdir "$bin.lock" 2>/dev/null; then
    echo $$ > "$bin.lock/pid"
    echo "hearth-install need $(uname -s) $(uname -m)"
    read size || { rm -rf "$bin.lock"; exit 125; }
    case $size in ''|*[!0-9]*) rm -rf "$bin.lock"; exit 125 ;; esac
    tmp=$bin.tmp.$$
    trap 'rm -f "$tmp"; rm -rf "$bin.lock"; exit 125' HUP INT TERM
    head -c "$size" > "$tmp" && [ "$(wc -c < "$tmp")" -eq "$size" ] && chmod 755 "$tmp" && mv -f "$tmp" "$bin"
    rm -f "$tmp"
    rm -rf "$bin.lock"
    trap - HUP INT TERM
    [ -x "$bin" ] || { echo "hearth-install: the copy of hearth did not arrive whole" >&2; exit 125; }
  else
    pid=$(cat "$bin.lock/pid" 2>/dev/null)
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then rm -rf "$bin.lock"; continue; fi
    waited=$((waited+1))
    [ $waited -gt 600 ] && { echo "hearth-install: another slot's copy of hearth did not arrive within 60 s (if $bin.lock stays, remove it)" >&2; exit 125; }
    sleep 0.1
  fi
done
echo "hearth-install ready"
exec "$bin" --remote-worker"#;

/// This program, to install on hosts that have no copy of it.
#[derive(Debug)]
pub(crate) struct Install {
    /// Where to read it (`/proc/self/exe`: the running program, even if
    /// its file was replaced or removed since).
    binary: PathBuf,
    size: u64,
    /// Where its copy goes on a host, relative to the home directory.
    pub(crate) remote: String,
}

/// What an install script said.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Said {
    /// The copy is there and runs as the worker.
    Ready,
    /// No copy: this slot brings it, to a host of this system and
    /// architecture.
    Need { os: String, arch: String },
}

impl Install {
    /// The running program.
    pub(crate) fn this_program() -> io::Result<Install> {
        let binary = PathBuf::from("/proc/self/exe");
        let mut file = File::open(&binary)?;
        let mut crc = crc32fast::Hasher::new();
        let mut buf = vec![0; 1 << 20];
        let mut size = 0u64;
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    crc.update(&buf[..n]);
                    size += n as u64;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(Install {
            binary,
            size,
            remote: format!(".cache/hearth/hearth-{:08x}-{size}", crc.finalize()),
        })
    }

    /// The program's length in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The bytes to write to the script's stdin after `need`: the length
    /// and the program.
    pub(crate) fn copy(&self) -> io::Result<Copy> {
        Ok(Copy {
            header: format!("{}\n", self.size).into_bytes(),
            file: File::open(&self.binary)?,
            left: self.size,
        })
    }
}

/// Reads a line of an install script.
pub(crate) fn parse(line: &str) -> Result<Said, String> {
    let mut words = line.split_whitespace();
    if words.next() != Some(MARK) {
        return Err(format!(
            "expected the install script's line ({MARK} ready, or need OS ARCH), got {:?}",
            line.chars().take(200).collect::<String>()
        ));
    }
    match (words.next(), words.next(), words.next()) {
        (Some("ready"), None, None) => Ok(Said::Ready),
        (Some("need"), Some(os), Some(arch)) => Ok(Said::Need {
            os: os.to_owned(),
            arch: arch.to_owned(),
        }),
        _ => Err(format!("the install script said {line:?}")),
    }
}

/// True if a host of `os` (`uname -s`) and `arch` (`uname -m`) runs this
/// program; otherwise the system and architecture it was built for.
pub(crate) fn runs_here_built(os: &str, arch: &str) -> Result<(), String> {
    let ours_os = match std::env::consts::OS {
        "linux" => "Linux",
        other => other,
    };
    let ours = std::env::consts::ARCH;
    let same_arch = arch == ours
        || (ours == "x86" && matches!(arch, "i386" | "i486" | "i586" | "i686"))
        || (ours == "arm" && arch.starts_with("armv"));
    if os == ours_os && same_arch {
        Ok(())
    } else {
        Err(format!("{ours_os} {ours}"))
    }
}

/// The program going to a script's stdin: its length, then its bytes.
pub(crate) struct Copy {
    header: Vec<u8>,
    file: File,
    left: u64,
}

impl Outgoing for Copy {
    fn fill(&mut self, out: &mut Vec<u8>, want: usize) -> bool {
        out.append(&mut self.header);
        while out.len() < want && self.left > 0 {
            let start = out.len();
            let take = (want - start).min(256 * 1024);
            let take = take.min(usize::try_from(self.left).unwrap_or(usize::MAX));
            out.resize(start + take, 0);
            match self.file.read(&mut out[start..]) {
                Ok(n) if n > 0 => {
                    out.truncate(start + n);
                    self.left -= n as u64;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => out.truncate(start),
                // Shorter than it was: the script sees the length differ.
                _ => {
                    out.truncate(start);
                    self.left = 0;
                }
            }
        }
        self.left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_lines() {
        assert_eq!(parse("hearth-install ready"), Ok(Said::Ready));
        assert_eq!(
            parse("hearth-install need Linux aarch64"),
            Ok(Said::Need {
                os: "Linux".to_owned(),
                arch: "aarch64".to_owned()
            })
        );
        assert!(parse("Last login: yesterday").is_err());
        assert!(parse("hearth-install need").is_err());
        let os = if cfg!(target_os = "linux") {
            "Linux"
        } else {
            "?"
        };
        assert_eq!(runs_here_built(os, std::env::consts::ARCH), Ok(()));
        assert!(runs_here_built(os, "sparc64").is_err());
        assert!(runs_here_built("Darwin", std::env::consts::ARCH).is_err());
    }

    /// The script installs what it is given and runs it, once; a second
    /// run finds it and runs it at once.
    #[test]
    fn script_installs_and_runs() {
        use std::io::Write as _;
        let dir = std::env::temp_dir().join(format!("hearth-install-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let program = "#!/bin/sh\necho \"worker $1\"\n";
        let target = dir.join("sub/prog");
        let run = |input: &str| {
            let mut child = std::process::Command::new("sh")
                .args(["-c", SCRIPT, "install"])
                .arg(&target)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
            String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
        };
        let first = run(&format!("{}\n{program}", program.len()));
        assert!(first.starts_with("hearth-install need "), "{first}");
        assert!(
            first.ends_with("hearth-install ready\nworker --remote-worker\n"),
            "{first}"
        );
        assert_eq!(run(""), "hearth-install ready\nworker --remote-worker\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
