//! The job's world of `hearth map`, from its options: `--env NAME`
//! (the variables sent to every slot), `--workdir DIR` (where the jobs
//! run on each host: `.` the same directory relative to the home
//! directory as here, `...` a fresh temporary one per job) and the files
//! of each job (`--transfer`, `--transferfile`, `--return`, `--cleanup`,
//! `--trc`), made from their templates with the job's inputs, as GNU
//! parallel makes them. The files travel over the slots' own connections
//! (see `hearth::remote::Files`); a host that is this machine shares them.
//! And the files of `--tmpl` (GNU parallel's template files), filled
//! with each job's inputs for its worker to write before the job runs.

use std::path::{Path, PathBuf};

use hearth::remote::{Files, Workdir};

use crate::MapArgs;
use crate::replace::{Fill, Names, Template};
use crate::sh::Filled;

/// `--env`: the named variables with their values here; a variable that
/// is not set here is not sent (as in GNU parallel). As GNU parallel:
/// `--env A,B` names two, a name that is an exported bash function
/// (`export -f NAME`) sends the function (bash's `BASH_FUNC_NAME%%`, which
/// the jobs' bash takes back as a function), and `_` sends every variable
/// not in a clean environment (those `--record-env` wrote down).
pub fn env(args: &MapArgs) -> Result<Vec<(String, String)>, String> {
    let mut names: Vec<String> = Vec::new();
    for name in args.env.iter().flat_map(|list| list.split(',')) {
        if name.is_empty() || name.contains('=') {
            return Err(format!(
                "--env {name:?}: give a variable's name, e.g. --env LANG (its value is taken \
                 from here)"
            ));
        }
        if name == "_" {
            names.extend(not_ignored()?);
        } else {
            names.push(name.to_owned());
        }
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for name in &names {
        let function = [format!("BASH_FUNC_{name}%%"), format!("BASH_FUNC_{name}()")];
        for name in std::iter::once(name).chain(&function) {
            if pairs.iter().any(|(n, _)| n == name) {
                continue;
            }
            match std::env::var(name) {
                Ok(value) => pairs.push((name.clone(), value)),
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(format!("--env {name}: its value here is not UTF-8"));
                }
            }
        }
    }
    Ok(pairs)
}

/// Where GNU parallel keeps `ignored_vars`: `$PARALLEL_HOME`, else
/// `~/.parallel`.
fn ignored_vars_file() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    var("PARALLEL_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| Path::new(&home).join(".parallel")))
        .map(|dir| dir.join("ignored_vars"))
}

/// The variables set here that a clean environment does not have, for
/// `--env _`.
fn not_ignored() -> Result<Vec<String>, String> {
    let file = ignored_vars_file();
    let text = file
        .as_deref()
        .and_then(|file| std::fs::read_to_string(file).ok())
        .ok_or_else(|| {
            "--env _ sends the variables a clean environment does not have: run \
             `hearth map --record-env` (or `parallel --record-env`) in a clean environment first"
                .to_owned()
        })?;
    let ignored: std::collections::HashSet<&str> = text.lines().collect();
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| !ignored.contains(name.as_str()))
        .collect();
    names.sort();
    Ok(names)
}

/// `--record-env`: writes the names of the variables set now to
/// `ignored_vars` (as GNU parallel), for `--env _` later; the file it
/// wrote.
pub fn record_env() -> Result<PathBuf, String> {
    let file = ignored_vars_file()
        .ok_or("--record-env: neither $PARALLEL_HOME nor $HOME is set: nowhere to write")?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|err| format!("--record-env: cannot make {}: {err}", dir.display()))?;
    }
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    names.sort();
    let mut text = names.join("\n");
    text.push('\n');
    std::fs::write(&file, text)
        .map_err(|err| format!("--record-env: cannot write {}: {err}", file.display()))?;
    Ok(file)
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
            if cleanup && args.files.base_files.is_empty() && args.files.templates.is_empty() {
                return Err(
                    "--cleanup removes the files of --transfer, --return, --basefile and --tmpl: \
                     give one"
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

/// `--tmpl FILE=OUT`: each FILE's text and OUT, as templates, and whether
/// `--cleanup` removes OUT after the job.
#[derive(Debug)]
pub struct TemplateFiles {
    files: Vec<(Template, Template)>,
    cleanup: bool,
    /// The directory a relative OUT is in, wherever the job runs (GNU
    /// parallel writes the files before its job goes to its directory).
    here: PathBuf,
}

impl TemplateFiles {
    /// The `--tmpl` options, each FILE read (once, as GNU parallel reads
    /// them); `None` without any.
    pub fn parse(
        args: &MapArgs,
        names: &Names,
        columns: &[Vec<u8>],
    ) -> Result<Option<TemplateFiles>, String> {
        if args.files.templates.is_empty() {
            return Ok(None);
        }
        let elsewhere = args.hosts.iter().any(|host| host != ":")
            || !args.login_files.is_empty()
            || args.slurm_options.slurm;
        if elsewhere {
            return Err(
                "--tmpl writes its files on this machine: give it with jobs that run here, not \
                 with other hosts or --slurm"
                    .to_owned(),
            );
        }
        let here = std::env::current_dir()
            .map_err(|err| format!("--tmpl: cannot tell the current directory: {err}"))?;
        let mut files: Vec<(String, (Template, Template))> = Vec::new();
        for option in &args.files.templates {
            let Some((source, out)) = option.split_once('=') else {
                return Err(format!(
                    "--tmpl {option:?}: give the template and the file to write, as \
                     --tmpl FILE=OUT"
                ));
            };
            let text = std::fs::read(source)
                .map_err(|err| format!("--tmpl {option:?}: cannot read {source}: {err}"))?;
            let text = Template::parse_text(&text, names, columns)?;
            let name = Template::parse_text(out.as_bytes(), names, columns)?;
            // A template given twice: the last OUT, as GNU parallel's.
            files.retain(|(seen, _)| seen != source);
            files.push((source.to_owned(), (name, text)));
        }
        Ok(Some(TemplateFiles {
            files: files.into_iter().map(|(_, pair)| pair).collect(),
            cleanup: args.files.cleanup,
            here,
        }))
    }

    /// The files of the job with `fields` and number `seq`.
    pub fn filled(&self, fields: &[Vec<u8>], seq: usize) -> Result<Vec<Filled>, String> {
        let mut filled = Vec::with_capacity(self.files.len());
        for (name, text) in &self.files {
            // GNU parallel writes them with nothing between the values
            // of `{}` (and `{.}`, `{= =}` ..).
            let mut name_parts = name.render(fields, seq, Fill::Glued, false);
            if let Some(first) = name_parts.first_mut()
                && !first.starts_with(b"/")
            {
                let mut dir = self.here.as_os_str().as_encoded_bytes().to_vec();
                dir.push(b'/');
                first.splice(0..0, dir);
            }
            let text_parts = text.render(fields, seq, Fill::Glued, false);
            if let Some(err) = name.perl_error().or_else(|| text.perl_error()) {
                return Err(err);
            }
            filled.push(Filled {
                name: name_parts,
                text: text_parts,
            });
        }
        Ok(filled)
    }

    /// `--cleanup`: the files are removed once their job is done.
    pub fn removed(&self) -> bool {
        self.cleanup
    }
}
