//! The job's world of `hearth map`, from its options: `--env NAME`
//! (the variables sent to every slot), `--workdir DIR` (where the jobs
//! run on each host: `.` the same directory relative to the home
//! directory as here, `...` a fresh temporary one per job) and the files
//! of each job (`--transfer`, `--transferfile`, `--return`, `--cleanup`,
//! `--trc`), made from their templates with the job's inputs, as GNU
//! parallel makes them. The files travel over the slots' own connections
//! (see `hearth::remote::Files`); a host that is this machine shares them.

use std::path::{Path, PathBuf};

use hearth::remote::{Files, Workdir};

use crate::MapArgs;
use crate::replace::{Fill, Names, Template};

/// `--env`: the named variables with their values here; a variable that
/// is not set here is not sent (as in GNU parallel).
pub fn env(args: &MapArgs) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for name in &args.env {
        if name.is_empty() || name.contains('=') {
            return Err(format!(
                "--env {name:?}: give a variable's name, e.g. --env LANG (its value is taken \
                 from here)"
            ));
        }
        match std::env::var(name) {
            Ok(value) => pairs.push((name.clone(), value)),
            Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(format!("--env {name}: its value here is not UTF-8"));
            }
        }
    }
    Ok(pairs)
}

/// `--workdir` for a host (`local`: this machine): `None` for the
/// default (here the current directory, there the login directory).
pub fn workdir(args: &MapArgs, local: bool) -> Result<Option<Workdir>, String> {
    let Some(dir) = args.workdir.as_deref() else {
        return Ok(None);
    };
    // A directory per job (replacement strings): each job goes there
    // itself (`plan::job_workdir`).
    if crate::plan::job_workdir(args)?.is_some() {
        return Ok(None);
    }
    let here = || {
        std::env::current_dir()
            .map_err(|err| format!("--workdir {dir}: cannot tell the current directory: {err}"))
    };
    let text = |path: &Path| {
        path.to_str().map(str::to_owned).ok_or_else(|| {
            format!(
                "--workdir: {} is not UTF-8; hearth sends directories as text",
                path.display()
            )
        })
    };
    Ok(Some(match dir {
        "" => return Err("--workdir is empty: give a directory, `.` or `...`".to_owned()),
        "..." => Workdir::Temp,
        "." if local => Workdir::Dir(text(&here()?)?),
        // The same directory relative to the home directory, or the same
        // absolute one outside it.
        "." => {
            let here = here()?;
            let home = std::env::var_os("HOME").map(PathBuf::from);
            match home
                .as_deref()
                .and_then(|home| here.strip_prefix(home).ok())
            {
                Some(relative) if relative.as_os_str().is_empty() => Workdir::Dir(".".to_owned()),
                Some(relative) => Workdir::Dir(text(relative)?),
                None => Workdir::Dir(text(&here)?),
            }
        }
        // Relative to the current directory here, to the home directory
        // on the other hosts.
        dir if local && Path::new(dir).is_relative() => Workdir::Dir(text(&here()?.join(dir))?),
        dir => Workdir::Dir(dir.to_owned()),
    }))
}

/// The templates of a job's files.
#[derive(Debug, Default)]
pub struct FileTemplates {
    send: Vec<Template>,
    back: Vec<Template>,
    cleanup: bool,
}

impl FileTemplates {
    /// The file options as templates (replacement strings named as the
    /// options name them); `None` when there are none.
    pub fn parse(
        args: &MapArgs,
        names: &Names,
        columns: &[Vec<u8>],
    ) -> Result<Option<FileTemplates>, String> {
        let parse = |text: &str| Template::parse(&[text.as_bytes().to_vec()], names, columns);
        let mut send: Vec<String> = args.files.transfer_files.clone();
        if args.files.transfer || !args.files.trc.is_empty() {
            send.push(names.all.clone());
        }
        let back: Vec<&String> = args.files.returns.iter().chain(&args.files.trc).collect();
        let cleanup = args.files.cleanup || !args.files.trc.is_empty();
        if send.is_empty() && back.is_empty() {
            if cleanup && args.files.base_files.is_empty() {
                return Err(
                    "--cleanup removes the files of --transfer, --return and --basefile: give one"
                        .to_owned(),
                );
            }
            return Ok(None);
        }
        Ok(Some(FileTemplates {
            send: send.iter().map(|t| parse(t)).collect::<Result<_, _>>()?,
            back: back.iter().map(|t| parse(t)).collect::<Result<_, _>>()?,
            cleanup,
        }))
    }

    /// The files of the job with `fields` and number `seq`.
    pub fn files(&self, fields: &[Vec<u8>], seq: usize) -> Result<Files, String> {
        let name = |template: &Template| -> Result<String, String> {
            let bytes = template.render(fields, seq, Fill::Join, false).concat();
            if let Some(err) = template.perl_error() {
                return Err(err);
            }
            String::from_utf8(bytes).map_err(|err| {
                format!(
                    "the file name {:?} is not UTF-8; hearth sends file names as text",
                    String::from_utf8_lossy(err.as_bytes())
                )
            })
        };
        let mut files = Files::new().cleanup(self.cleanup);
        for template in &self.send {
            let path = name(template)?;
            if path.is_empty() {
                continue;
            }
            files = files.send(PathBuf::from(&path), path);
        }
        for template in &self.back {
            let path = name(template)?;
            if path.is_empty() {
                continue;
            }
            files = files.bring_back(path.clone(), PathBuf::from(path));
        }
        Ok(files)
    }
}
