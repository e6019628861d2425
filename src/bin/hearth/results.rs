//! `--results NAME` as GNU parallel writes it: for each job, the files
//! `seq`, `stdout` and `stderr` in `NAME/1/<field 1>/2/<field 2>/...` (with
//! `--header :`, the columns' names instead of 1, 2, ...), a field's `\`
//! written `\\`, its `/` `\_`, a tab `\t` and a NUL `\0`; or, when NAME ends in `.csv`,
//! `.tsv` or `.json` (in any case), one file with a row per job: the
//! joblog's columns, then the fields (V1 .. Vn, or the columns' names) and
//! the job's Stdout and Stderr, as comma- or tab-separated values or as a
//! JSON object per line. `-.csv`, `-.tsv` and `-.json` write that file to
//! stdout. With `--results`, the jobs' outputs go to the results only, as
//! in GNU parallel: into a job's `stdout` and `stderr` files as they
//! stream in (a row holds its job's output until the job ends).
//!
//! A `--pipe` job has no input here, as in GNU parallel: its files are
//! `NAME/seq`, `NAME/stdout` and `NAME/stderr`, the same for every job
//! (each job's start empties them: one job at a time, the last job's are
//! left), and its row has no input column. A `--pipe-part` job's input is
//! GNU parallel's placeholder for none, a NUL and `noarg`
//! (`NAME/1/\0noarg/...`, and the row's one input column).

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use hearth::remote::Stream;

use crate::inputs::Piped;
use crate::joblog::Line;
use crate::replace::{Fill, Template};

/// The input GNU parallel gives a `--pipe-part` job, in its results.
const NO_ARG: &[u8] = b"\0noarg";

/// Where the results go, and what a job's input is there.
pub struct Results {
    place: Place,
    /// `--pipe`, `--pipe-part`: a job's input is not its fields.
    piped: Piped,
}

/// Where the results go.
enum Place {
    /// A directory tree; the columns' names, if `--header :` gave them;
    /// the number of input sources (a job's fields are of sources 1, 2,
    /// ... in turn, then 1 again with `-N`).
    Dir {
        root: PathBuf,
        names: Vec<Vec<u8>>,
        sources: usize,
    },
    /// A name with replacement strings: a job's stdout goes to the file
    /// it gives, its stderr and sequence number to that name with `.err`
    /// and `.seq` after it; or, a name that ends with `/`, to the files
    /// `stdout`, `stderr` and `seq` of that directory.
    Named(Template),
    /// One file of rows, its header (for CSV) written once the first row
    /// says how many fields there are.
    Table(Table),
}

/// The rows of one results file.
pub struct Table {
    out: BufWriter<Box<dyn Write>>,
    form: Form,
    /// The columns' names (`--header :`), else V1, V2, ...
    names: Vec<Vec<u8>>,
    header: bool,
}

/// How a results file writes its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// Values separated by this byte (`,` or a tab), quoted when need be.
    Separated(u8),
    /// A JSON object per line.
    Json,
}

impl Results {
    /// Results in `path` (a `.csv`, `.tsv` or `.json` file, `-.csv` ..
    /// for stdout, else a directory); `names` are the columns' names of
    /// `--header :` (empty without it); `piped` says whether the jobs'
    /// inputs are blocks or parts (`--pipe`, `--pipe-part`).
    pub fn new(
        path: &Path,
        (names, sources): (Vec<Vec<u8>>, usize),
        named: Option<Template>,
        piped: Piped,
    ) -> io::Result<Results> {
        if let Some(template) = named {
            return Ok(Results {
                place: Place::Named(template),
                piped,
            });
        }
        let named = |err: io::Error| {
            io::Error::new(
                err.kind(),
                format!("cannot write the results {}: {err}", path.display()),
            )
        };
        let Some(form) = table_form(path) else {
            fs::create_dir_all(path).map_err(named)?;
            return Ok(Results {
                place: Place::Dir {
                    root: path.to_path_buf(),
                    names,
                    sources: sources.max(1),
                },
                piped,
            });
        };
        let stdout = path.file_stem().is_some_and(|stem| stem == OsStr::new("-"))
            && path.parent().is_none_or(|p| p.as_os_str().is_empty());
        let out: Box<dyn Write> = if stdout {
            Box::new(io::stdout())
        } else {
            Box::new(File::create(path).map_err(named)?)
        };
        Ok(Results {
            place: Place::Table(Table {
                out: BufWriter::new(out),
                form,
                names,
                header: false,
            }),
            piped,
        })
    }

    /// A job's inputs as its results show them: its fields; none for a
    /// `--pipe` block; [`NO_ARG`] for a `--pipe-part` part.
    fn inputs<'a>(&self, fields: &'a [Vec<u8>]) -> Cow<'a, [Vec<u8>]> {
        inputs_of(self.piped, fields)
    }

    /// The results of a job whose output starts, with `fields`: its
    /// directory and its `stdout` and `stderr` files, made now.
    pub fn start(&mut self, fields: &[Vec<u8>], seq: usize) -> io::Result<JobResults> {
        let fields = self.inputs(fields);
        match &self.place {
            Place::Dir {
                root,
                names,
                sources,
            } => in_dir(job_dir(root, names, *sources, &fields)),
            Place::Named(template) => {
                let name = template.render(&fields, seq, Fill::Join, false).concat();
                if name.ends_with(b"/") {
                    return in_dir(PathBuf::from(OsStr::from_bytes(&name)));
                }
                let path = |end: &[u8]| PathBuf::from(OsStr::from_bytes(&[&name, end].concat()));
                let stdout = path(b"");
                if let Some(dir) = stdout.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    fs::create_dir_all(dir)?;
                }
                let file = |path: PathBuf| File::create(path).map(BufWriter::new);
                Ok(JobResults::Files {
                    stdout: file(stdout)?,
                    stderr: file(path(b".err"))?,
                    seq: path(b".seq"),
                })
            }
            Place::Table(_) => Ok(JobResults::Row([Vec::new(), Vec::new()])),
        }
    }

    /// Saves the end of one job's results: its `seq` file, or its row.
    pub fn save(&mut self, line: &Line<'_>, fields: &[Vec<u8>], job: JobResults) -> io::Result<()> {
        let fields = self.inputs(fields);
        match (&mut self.place, job) {
            (
                Place::Dir { .. } | Place::Named(_),
                JobResults::Files {
                    seq,
                    stdout,
                    stderr,
                },
            ) => {
                for file in [stdout, stderr] {
                    let _ = file.into_inner().map_err(io::IntoInnerError::into_error)?;
                }
                fs::write(seq, line.seq.to_string())
            }
            (Place::Dir { .. } | Place::Named(_), JobResults::Row(_))
            | (Place::Table(_), JobResults::Files { .. }) => Err(io::Error::other(
                "a job's results are not of the kind of the run's",
            )),
            (Place::Table(table), JobResults::Row(outputs)) => table.row(line, &fields, &outputs),
        }
    }

    /// Flushes a results file.
    pub fn finish(&mut self) -> io::Result<()> {
        match &mut self.place {
            Place::Dir { .. } | Place::Named(_) => Ok(()),
            Place::Table(table) => table.out.flush(),
        }
    }
}

/// A job's results in `dir`, made now: its files `stdout` and `stderr`,
/// and `seq` to come.
/// The directory of a job's results under `root`: a level for each of
/// its `fields`, named by its source (`names`, else its number) and then
/// its value.
fn job_dir(root: &Path, names: &[Vec<u8>], sources: usize, fields: &[Vec<u8>]) -> PathBuf {
    let mut dir = root.as_os_str().as_bytes().to_vec();
    for (at, field) in fields.iter().enumerate() {
        dir.push(b'/');
        let source = at % sources.max(1);
        match names.get(source) {
            Some(name) => escape_into(&mut dir, name),
            None => dir.extend_from_slice((source + 1).to_string().as_bytes()),
        }
        dir.push(b'/');
        escape_into(&mut dir, field);
    }
    PathBuf::from(OsStr::from_bytes(&dir))
}

/// True if the results `path` names a table (`.csv`, `.tsv`, `.json`),
/// not a directory.
pub fn is_table(path: &Path) -> bool {
    table_form(path).is_some()
}

/// The form of the results file `path`, if its name makes it a table
/// (`.csv`, `.tsv`, `.json`, in any case); `None` for a directory.
fn table_form(path: &Path) -> Option<Form> {
    match path.extension()?.to_ascii_lowercase().to_str()? {
        "csv" => Some(Form::Separated(b',')),
        "tsv" => Some(Form::Separated(b'\t')),
        "json" => Some(Form::Json),
        _ => None,
    }
}

/// Which jobs' results are saved already, for `--resume` with
/// `--results` (a directory or a name, not a table): as GNU parallel
/// tells, a job whose `stdout` file is there ran.
pub struct Saved {
    place: SavedPlace,
    piped: Piped,
}

/// Where [`Saved`] looks: [`Place::Dir`] or [`Place::Named`] without the
/// table (whose writer stays with the printer's thread).
enum SavedPlace {
    Dir {
        root: PathBuf,
        names: Vec<Vec<u8>>,
        sources: usize,
    },
    Named(Template),
}

impl Saved {
    /// The saved results of `--results path` (with the columns' `names`,
    /// the number of `sources`, and the name's template if it has one);
    /// `None` for a table (`.csv`, `.tsv`, `.json`), whose rows are not
    /// read back.
    pub fn new(
        path: &Path,
        (names, sources): (Vec<Vec<u8>>, usize),
        named: Option<Template>,
        piped: Piped,
    ) -> Option<Saved> {
        let place = match named {
            Some(template) => SavedPlace::Named(template),
            None if table_form(path).is_some() => return None,
            None => SavedPlace::Dir {
                root: path.to_path_buf(),
                names,
                sources,
            },
        };
        Some(Saved { place, piped })
    }

    /// True if the job with `fields` and `seq` has its results saved.
    pub fn has(&self, fields: &[Vec<u8>], seq: usize) -> bool {
        let fields = inputs_of(self.piped, fields);
        let fields = fields.as_ref();
        let stdout = match &self.place {
            SavedPlace::Dir {
                root,
                names,
                sources,
            } => job_dir(root, names, *sources, fields).join("stdout"),
            SavedPlace::Named(template) => {
                let name = template.render(fields, seq, Fill::Join, false).concat();
                let path = PathBuf::from(OsStr::from_bytes(&name));
                if name.ends_with(b"/") {
                    path.join("stdout")
                } else {
                    path
                }
            }
        };
        stdout.exists()
    }
}

/// A job's inputs as its results show them: its fields; none for a
/// `--pipe` block; [`NO_ARG`] for a `--pipe-part` part.
fn inputs_of(piped: Piped, fields: &[Vec<u8>]) -> Cow<'_, [Vec<u8>]> {
    match piped {
        Piped::No => Cow::Borrowed(fields),
        Piped::Stdin => Cow::Borrowed(&[]),
        Piped::Part => Cow::Owned(vec![NO_ARG.to_vec()]),
    }
}

fn in_dir(dir: PathBuf) -> io::Result<JobResults> {
    fs::create_dir_all(&dir)?;
    let file = |name| File::create(dir.join(name)).map(BufWriter::new);
    Ok(JobResults::Files {
        stdout: file("stdout")?,
        stderr: file("stderr")?,
        seq: dir.join("seq"),
    })
}

impl Table {
    /// Writes one job's row (and the header before the first, for CSV).
    fn row(
        &mut self,
        line: &Line<'_>,
        fields: &[Vec<u8>],
        outputs: &[Vec<u8>; 2],
    ) -> io::Result<()> {
        let start = line
            .start
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let run_time = line.run_time.as_secs_f64();
        let row = match self.form {
            Form::Separated(sep) => {
                if !self.header {
                    self.header = true;
                    let mut header: Vec<Vec<u8>> = [
                        "Seq",
                        "Host",
                        "Starttime",
                        "JobRuntime",
                        "Send",
                        "Receive",
                        "Exitval",
                        "Signal",
                        "Command",
                    ]
                    .iter()
                    .map(|name| name.as_bytes().to_vec())
                    .collect();
                    header.extend((0..fields.len()).map(|at| match self.names.get(at) {
                        Some(name) => name.clone(),
                        None => format!("V{}", at + 1).into_bytes(),
                    }));
                    header.extend([b"Stdout".to_vec(), b"Stderr".to_vec()]);
                    let header: Vec<&[u8]> = header.iter().map(Vec::as_slice).collect();
                    self.out.write_all(&separated(&header, sep))?;
                }
                let numbers = [
                    line.seq.to_string(),
                    line.host.to_owned(),
                    format!("{start:.3}"),
                    format!("{run_time:.3}"),
                    line.sent.to_string(),
                    line.received.to_string(),
                    line.exit.to_string(),
                    line.signal.to_string(),
                ];
                let mut values: Vec<&[u8]> = numbers.iter().map(|n| n.as_bytes()).collect();
                values.push(line.command);
                values.extend(fields.iter().map(Vec::as_slice));
                values.extend(outputs.iter().map(Vec::as_slice));
                separated(&values, sep)
            }
            Form::Json => {
                let mut row = format!("{{ \"Seq\": {}, \"Host\": \"", line.seq).into_bytes();
                json_into(&mut row, line.host.as_bytes());
                row.extend_from_slice(
                    format!(
                        "\", \"Starttime\": {start:.3}, \"JobRuntime\": {run_time:.3}, \"Send\": {}, \
                         \"Receive\": {}, \"Exitval\": {}, \"Signal\": {}, \"Command\": \"",
                        line.sent, line.received, line.exit, line.signal
                    )
                    .as_bytes(),
                );
                json_into(&mut row, line.command);
                row.extend_from_slice(b"\", \"V\": [ ");
                for (at, field) in fields.iter().enumerate() {
                    if at > 0 {
                        row.push(b',');
                    }
                    row.push(b'"');
                    json_into(&mut row, field);
                    row.push(b'"');
                }
                row.extend_from_slice(b" ], \"Stdout\": \"");
                json_into(&mut row, &outputs[0]);
                row.extend_from_slice(b"\", \"Stderr\": \"");
                json_into(&mut row, &outputs[1]);
                row.extend_from_slice(b"\" }\n");
                row
            }
        };
        self.out.write_all(&row)
    }
}

/// A field in a results directory's path: `\` written `\\`, `/` written
/// `\_`, a tab `\t`, a NUL `\0`.
fn escape_into(path: &mut Vec<u8>, field: &[u8]) {
    for &b in field {
        match b {
            b'\\' => path.extend_from_slice(b"\\\\"),
            b'/' => path.extend_from_slice(b"\\_"),
            b'\t' => path.extend_from_slice(b"\\t"),
            0 => path.extend_from_slice(b"\\0"),
            b => path.push(b),
        }
    }
}

/// One job's results while its output streams in.
pub enum JobResults {
    /// The files its output goes to.
    Files {
        /// Where its sequence number goes.
        seq: PathBuf,
        stdout: BufWriter<File>,
        stderr: BufWriter<File>,
    },
    /// Its output, for its row of the CSV file.
    Row([Vec<u8>; 2]),
}

impl JobResults {
    /// Saves a chunk of the job's output.
    pub fn write(&mut self, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        match (self, stream) {
            (JobResults::Files { stdout, .. }, Stream::Stdout) => stdout.write_all(bytes),
            (JobResults::Files { stderr, .. }, Stream::Stderr) => stderr.write_all(bytes),
            (JobResults::Row([stdout, _]), Stream::Stdout) => {
                stdout.extend_from_slice(bytes);
                Ok(())
            }
            (JobResults::Row([_, stderr]), Stream::Stderr) => {
                stderr.extend_from_slice(bytes);
                Ok(())
            }
        }
    }
}

/// A line of values separated by `sep`, each in double quotes (a `"`
/// doubled) when it holds a quote, white space, `sep` or a NUL, as GNU
/// parallel writes them.
fn separated(values: &[&[u8]], sep: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for (at, value) in values.iter().enumerate() {
        if at > 0 {
            out.push(sep);
        }
        let quoted = value.iter().any(|&b| {
            b == sep || matches!(b, b'"' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0)
        });
        if !quoted {
            out.extend_from_slice(value);
            continue;
        }
        out.push(b'"');
        for &b in *value {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    }
    out.push(b'\n');
    out
}

/// A JSON string's contents, as GNU parallel writes them: `\` and `"`
/// escaped, control characters as `\u00XX`, other bytes as they are.
fn json_into(out: &mut Vec<u8>, value: &[u8]) {
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{json_into, separated};

    #[test]
    fn values_quoted_as_gnu_parallel_quotes_them() {
        assert_eq!(
            separated(&[b"a", b"b c", b"say \"hi\"", b"x,y", b"t\tu", b""], b','),
            b"a,\"b c\",\"say \"\"hi\"\"\",\"x,y\",\"t\tu\",\n"
        );
        assert_eq!(separated(&[b"x,y", b"t\tu"], b'\t'), b"x,y\t\"t\tu\"\n");
    }

    #[test]
    fn json_strings_escape_controls_quotes_and_backslashes() {
        let mut out = Vec::new();
        json_into(&mut out, b"a\"b\\c\nd\x01\xff\x7f");
        assert_eq!(out, b"a\\\"b\\\\c\\u000ad\\u0001\xff\x7f");
    }
}
