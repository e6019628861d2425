//! What a run of `hearth map` will do, from its options: the command's
//! template, the input sources opened, how records make jobs, and the
//! jobs themselves when they are all known before the run (every input on
//! the command line, or `--shuf`, which reads everything first).

use std::collections::{HashSet, VecDeque};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::sync::Arc;

use regex::bytes::Regex;

use crate::MapArgs;
use crate::batch::{Batches, Batching, MAX_CHARS};
use crate::block_file::{BlockAs, Kind};
use crate::inputs::{Maker, Piped};
use crate::joblog::{self, Resume};
use crate::replace::{Fill, Names, Template};
use crate::sh::Start;
use crate::sources::{self, Inputs, Separators, Split, Trim};
use crate::world::{FileTemplates, TemplateFiles};

/// The fields of jobs as they are made, or why making them stopped.
pub type FieldsIter = Box<dyn Iterator<Item = Result<Vec<Vec<u8>>, String>> + Send>;

/// The jobs of a run: made before it, or as the inputs are read.
pub enum Jobs {
    /// Every job's fields.
    Listed(Vec<Vec<Vec<u8>>>),
    /// Read while the run goes on (with `--pipe`, each job's one field is
    /// its block).
    Streamed(FieldsIter),
}

/// A run, planned.
pub struct Plan {
    pub maker: Maker,
    pub jobs: Jobs,
    /// `--tag` or `--tagstring`.
    pub tag: Option<Template>,
    /// The columns' names (`--header :`), for `--results`.
    pub columns: Vec<Vec<u8>>,
    /// The input sources, for `--results`' directories (a job's fields
    /// are of sources 1, 2, ... in turn).
    pub sources: usize,
    /// `--results NAME` with replacement strings: each job's own file.
    pub results_template: Option<Template>,
}

/// Plans the run of `args` over `slots` slots in all; with `read_all`,
/// every job is made before the run.
pub fn plan(args: &MapArgs, slots: usize, read_all: bool) -> Result<Plan, String> {
    if args.resume_from.retry_failed {
        return retried(args);
    }
    if (args.blocks.pipe && !args.blocks.tee) || args.blocks.pipe_part {
        return piped(args, slots, read_all);
    }
    let (words, inputs) = command_and_inputs(args)?;
    let tee = match teed(args, &inputs)? {
        Teed::Not => None,
        Teed::Stdin(all) => Some(all),
        Teed::NoInputs => {
            let template = command_template(args, &words, &names(args), &[])?;
            return Ok(Plan::bare(Maker::new(Arc::new(template)), Vec::new()));
        }
    };
    let header = header(args);
    let split = split(args)?;
    let names = names(args);
    // As in GNU parallel, `{}` in a longer word takes the word again for
    // each input of a job of -N (and -L) as it does with -X.
    let fill = if args.packing.context || args.packing.max_replace_args.is_some() {
        Fill::Context
    } else {
        Fill::Join
    };
    if args.each_host.nonall && !inputs.none_given() {
        return Err(
            "--nonall runs the command once on every host and takes no inputs; --onall runs \
             every input on every host"
                .to_owned(),
        );
    }
    let listed = inputs.all_listed();
    let sources = numbered_sources(args, &inputs);
    // --nonall reads nothing: one job, no fields.
    let (columns, records): (Vec<Vec<u8>>, crate::sources::Records) = if args.each_host.nonall {
        (Vec::new(), Box::new(std::iter::once(Ok(Vec::new()))))
    } else {
        inputs.open(&split, header, args.input.link, args.input.skip_first_line)?
    };
    let template = Arc::new(command_template(args, &words, &names, &columns)?);
    let tag = tag_template(args, &names, &columns, slots)?;
    template.set_slots(slots);
    let skip = skipped(args)?;
    let batching = batching(args, slots, fill);
    let files = FileTemplates::parse(args, &names, &columns)?;
    if files.is_some() && (args.each_host.nonall || args.each_host.onall) {
        return Err(
            "--transfer, --return and --trc go with jobs that run once, not with --nonall or \
             --onall"
                .to_owned(),
        );
    }
    let maker = Maker {
        template: template.clone(),
        fill,
        skip: Arc::new(skip),
        saved: saved(args, (&names, &columns), sources, Piped::No)?,
        files: files.map(Arc::new),
        pipe: Piped::No,
        start: start(args),
        insert: args.packing.max_replace_args != Some(0),
        block_as: None,
        tee,
        filters: filters(args, &names, &columns, slots)?,
        workdir: job_workdir(args)?.map(Arc::new),
        templates: TemplateFiles::parse(args, &names, &columns)?.map(Arc::new),
    };
    // {##} and {0#} need the number of jobs before the first one.
    let counted = template.needs_total()
        || tag.as_ref().is_some_and(Template::needs_total)
        || (maker.filters.as_ref()).is_some_and(|filters| filters.needs_total());
    let batches = Batches::new(records, batching, args.packing.max_chars, template);
    // The inputs of --onall run on every host: all of them are needed.
    let jobs = if listed
        || args.scheduling.shuf
        || read_all
        || counted
        || args.each_host.onall
        || args.each_host.nonall
    {
        let mut all = batches.collect::<Result<VecDeque<_>, String>>()?;
        if args.scheduling.shuf {
            sources::shuffle(&mut all);
        }
        maker.template.set_total(all.len());
        if let Some(tag) = &tag {
            tag.set_total(all.len());
        }
        if let Some(filters) = &maker.filters {
            filters.set_total(all.len());
        }
        Jobs::Listed(all.into())
    } else {
        Jobs::Streamed(Box::new(batches))
    };
    let results_template = results_template(args, &names, &columns)?;
    Ok(Plan {
        maker,
        jobs,
        tag,
        columns,
        sources,
        results_template,
    })
}

impl Plan {
    /// A plan of `jobs` made by `maker`, with nothing else: no tag, no
    /// columns.
    fn bare(maker: Maker, jobs: Vec<Vec<Vec<u8>>>) -> Plan {
        Plan {
            maker,
            jobs: Jobs::Listed(jobs),
            tag: None,
            columns: Vec::new(),
            sources: 1,
            results_template: None,
        }
    }
}

/// The sources a job's fields are numbered by in `--results`' directories
/// (`NAME/1/a/2/b`): with --colsep (or --header), a record's fields are
/// its columns, numbered on.
fn numbered_sources(args: &MapArgs, inputs: &Inputs) -> usize {
    // --header splits on tabs without --colsep (see `split`).
    if args.input.colsep.is_some() || args.input.header.is_some() {
        usize::MAX
    } else {
        inputs.count()
    }
}

/// `--workdir DIR` with replacement strings (`--wd {}`): each job's own
/// directory, made if missing and gone into before its command, as GNU
/// parallel does; `None` for one directory for every job (the slots'),
/// or none.
///
/// # Errors
///
/// A replacement string that does not parse.
pub fn job_workdir(args: &MapArgs) -> Result<Option<Template>, String> {
    let Some(dir) = &args.workdir else {
        return Ok(None);
    };
    let template = Template::parse_text(dir.as_bytes(), &names(args), &[])
        .map_err(|err| format!("--workdir {dir}: {err}"))?;
    Ok(template.has_replacements().then_some(template))
}

/// `--results NAME` with replacement strings (`out/{1}/{2}.txt`): each
/// job's output in the file its NAME gives, or in that directory if NAME
/// ends with `/`, as in GNU parallel.
fn results_template(
    args: &MapArgs,
    names: &Names,
    columns: &[Vec<u8>],
) -> Result<Option<Template>, String> {
    let Some(path) = &args.results else {
        return Ok(None);
    };
    let template = Template::parse_text(path.as_os_str().as_bytes(), names, columns)
        .map_err(|err| format!("--results {}: {err}", path.display()))?;
    Ok(template.has_replacements().then_some(template))
}

/// How the inputs split into values and columns, and which values count:
/// `-d`, `-0`, `--colsep`, `--trim`, `-r`, `-E`.
fn split(args: &MapArgs) -> Result<Split, String> {
    Ok(Split {
        delimiter: match (&args.input.delimiter, args.input.null) {
            (Some(text), _) => sources::delimiter(text)?,
            (None, true) => vec![0],
            (None, false) => vec![b'\n'],
        },
        colsep: match &args.input.colsep {
            Some(text) => Some(colsep(text)?),
            // --header splits on tabs when --colsep does not say, as GNU
            // parallel's (the columns are not trimmed then).
            None if args.input.header.is_some() => Some(colsep("\t")?),
            None => None,
        },
        // GNU parallel trims columns unless told not to.
        trim: args.input.trim.unwrap_or(if args.input.colsep.is_some() {
            Trim::Both
        } else {
            Trim::None
        }),
        skip_blank: args.input.no_run_if_empty,
        // An empty one is none, as in GNU parallel.
        eof: (args.input.eof.clone().map(OsStringExt::into_vec)).filter(|eof| !eof.is_empty()),
    })
}

/// The command's template: its words as a line (as GNU parallel joins
/// them), or each quoted whole with `-q`.
fn command_template(
    args: &MapArgs,
    words: &[Vec<u8>],
    names: &Names,
    columns: &[Vec<u8>],
) -> Result<Template, String> {
    if let Some(pdsh) = args.each_host.pdsh {
        let exec = pdsh.rcmd == crate::Rcmd::Exec;
        if exec && pdsh.as_pdsh {
            // Started by hearth itself, which fails as pdsh's exec module
            // when the program cannot start.
            let bin = std::env::current_exe()
                .map_err(|err| format!("the exec module: where hearth is: {err}"))?;
            let bin = bin.into_os_string().into_vec();
            let mut escaped = Vec::with_capacity(bin.len());
            for byte in bin {
                // `%` is pdsh's escape in the words.
                if byte == b'%' {
                    escaped.push(b'%');
                }
                escaped.push(byte);
            }
            let mut all = vec![escaped, crate::pdsh::EXEC_FLAG.as_bytes().to_vec()];
            all.extend_from_slice(words);
            return Ok(Template::pdsh(&all, true));
        }
        Ok(Template::pdsh(words, exec))
    } else if words.is_empty() && args.scheduling.shellquote == 0 {
        Ok(Template::inputs_as_command(args.running.quote))
    } else if args.running.quote {
        Template::parse_quoted(words, names, columns)
    } else {
        Template::parse(words, names, columns)
    }
}

/// The command's words and the inputs (`:::`, `::::`, `-a`, stdin) of
/// `args`.
fn command_and_inputs(args: &MapArgs) -> Result<(Vec<Vec<u8>>, Inputs), String> {
    let trailing: Vec<Vec<u8>> = args.command.iter().cloned().map(|w| w.into_vec()).collect();
    let values: Vec<Vec<u8>> = args
        .input
        .args
        .iter()
        .cloned()
        .map(|w| w.into_vec())
        .collect();
    let separators = Separators::new(
        args.input.arg_sep.as_deref().unwrap_or(":::"),
        args.input.arg_file_sep.as_deref().unwrap_or("::::"),
    );
    let (command, inputs) = Inputs::parse(trailing, &separators, &args.input.arg_files, values)?;
    // Without a command, the inputs are the command lines (see
    // `command_template`), but a block of --pipe needs a command to read it.
    let piped = args.blocks.pipe || args.blocks.pipe_part;
    if command.is_empty() && piped {
        return Err(
            "--pipe and --pipe-part need a command to pipe into, e.g. hearth map --pipe wc -l"
                .to_owned(),
        );
    }
    Ok((command, inputs))
}

/// The sequence numbers `--resume` or `--resume-failed` skip (none
/// without them), read from the `--joblog`.
fn skipped(args: &MapArgs) -> Result<HashSet<usize>, String> {
    match (&args.joblog, resume(args)) {
        (Some(path), Some(resume)) => joblog::skipped(path, resume),
        // `--resume --results DIR`: the results tell (see `saved`).
        (None, Some(Resume::Done)) if args.results.is_some() => Ok(HashSet::new()),
        (None, Some(_)) => Err(
            "--resume and --resume-failed read the --joblog (--resume also the --results \
             directory): give it"
                .to_owned(),
        ),
        (_, None) => Ok(HashSet::new()),
    }
}

/// `--resume` with `--results` (a directory or a name): the jobs whose
/// results are there ran, as GNU parallel tells them.
fn saved(
    args: &MapArgs,
    (names, columns): (&Names, &[Vec<u8>]),
    sources: usize,
    piped: Piped,
) -> Result<Option<Arc<crate::results::Saved>>, String> {
    let (Some(path), true) = (&args.results, args.resume_from.resume) else {
        return Ok(None);
    };
    let named = results_template(args, names, columns)?;
    Ok(crate::results::Saved::new(path, (columns.to_vec(), sources), named, piped).map(Arc::new))
}

/// `--pipe`: the command once per block of stdin, the block its stdin;
/// `--pipe-part`: once per part of the files of `-a` and `::::`, over
/// `slots` slots in all.
fn piped(args: &MapArgs, slots: usize, read_all: bool) -> Result<Plan, String> {
    let (words, inputs) = command_and_inputs(args)?;
    let part_files = part_files(args, &inputs)?;
    let records = args.packing.max_replace_args.or(args.packing.max_args);
    piping_taken(part_files.is_some(), records, read_all)?;
    let names = names(args);
    let template = Arc::new(command_template(args, &words, &names, &[])?);
    if template.needs_total() {
        return Err(
            "{##} and {0#} need the number of jobs before the first, which --pipe and \
             --pipe-part know only at the end of their input"
                .to_owned(),
        );
    }
    let tag = tag_template(args, &names, &[], slots)?;
    template.set_slots(slots);
    let skip = skipped(args)?;
    let files = FileTemplates::parse(args, &names, &[])?;
    // --block -N (parts per slot) is --pipe-part's alone.
    let block = match &part_files {
        Some(_) => None,
        None => args.blocks.block.as_deref(),
    };
    let grouping = grouping(args, part_files.is_some())?;
    let (recend, recstart) = match &grouping {
        // Records begin where a group does: at the filter's separators.
        Some((_, recsep)) => (Some(""), Some(recsep.as_str())),
        None => (
            args.blocks.recend.as_deref(),
            args.blocks.recstart.as_deref(),
        ),
    };
    let cutting = crate::pipe::Cutting::new(block, recend, recstart, args.blocks.regexp, records)?
        .with_lines(args.packing.lines);
    let key = dealt_by_key(args)?;
    let (blocks, pipe): (FieldsIter, Piped) = match part_files {
        Some(paths) => {
            let size = crate::pipe_part::total_size(&paths)?;
            let block = crate::pipe_part::block_size(args.blocks.block.as_deref(), size, slots)?;
            let parts = crate::pipe_part::Parts::new(
                &paths,
                block,
                &cutting.separator,
                args.input.skip_first_line,
            )?;
            (
                Box::new(parts.map(|part| part.map(|p| vec![p]))),
                Piped::Part,
            )
        }
        None => match grouping {
            Some((group_by, recsep)) => (
                grouped_jobs(args, cutting, &group_by, &recsep)?,
                Piped::Stdin,
            ),
            None => (
                stdin_jobs(args, cutting, key.as_ref(), slots)?,
                Piped::Stdin,
            ),
        },
    };
    let maker = Maker {
        template,
        fill: Fill::Join,
        skip: Arc::new(skip),
        saved: saved(args, (&names, &[]), 1, pipe)?,
        files: files.map(Arc::new),
        pipe,
        start: start(args),
        insert: true,
        block_as: block_as(args),
        tee: None,
        filters: filters(args, &names, &[], slots)?,
        workdir: job_workdir(args)?.map(Arc::new),
        templates: TemplateFiles::parse(args, &names, &[])?.map(Arc::new),
    };
    if (maker.filters.as_ref()).is_some_and(|filters| filters.needs_total()) {
        return Err(
            "{##}, {0#} and total_jobs() in --filter need the number of jobs before the first, \
             which --pipe and --pipe-part know only at the end of their input"
                .to_owned(),
        );
    }
    Ok(Plan {
        maker,
        jobs: Jobs::Streamed(blocks),
        tag,
        columns: Vec::new(),
        sources: 1,
        results_template: None,
    })
}

/// What `--pipe` (or with `part`, `--pipe-part`) does not take: a
/// percentage of jobs for `--halt` (`read_all`), `-N 0`, and with
/// `--pipe-part`, a number of records. (`--block-timeout` is taken with
/// `--pipe-part` and changes nothing there, as in GNU parallel: files do
/// not keep a part waiting.)
fn piping_taken(part: bool, records: Option<usize>, read_all: bool) -> Result<(), String> {
    let what = if part { "--pipe-part" } else { "--pipe" };
    if read_all {
        return Err(format!(
            "--halt with a percentage needs the number of jobs, which {what} knows only at the \
             end of its input: give a number of jobs instead (e.g. --halt now,fail=1)"
        ));
    }
    if records == Some(0) {
        return Err(
            "-N 0 runs a job per input with none of it in the command; --pipe reads records \
             into blocks: give -N 1 or more"
                .to_owned(),
        );
    }
    if part && records.is_some() {
        return Err(
            "--pipe-part cuts at block sizes, not at numbers of records (-N, -n): give --block \
             SIZE (or --block -N for N parts per slot)"
                .to_owned(),
        );
    }
    Ok(())
}

/// The jobs of `--pipe`: stdin's blocks cut as `cutting` says (without
/// their separators with `--rrs`), dealt to the slots in turn
/// (`--round-robin`), or its lines dealt by `key` (`--bin`, `--shard`).
fn stdin_jobs(
    args: &MapArgs,
    cutting: crate::pipe::Cutting,
    key: Option<&crate::binning::Key>,
    slots: usize,
) -> Result<FieldsIter, String> {
    if let Some(key) = key {
        if args.input.header.is_some() {
            return Err(
                "--header with --bin or --shard: hearth map does not have it (with --pipe alone \
                 it goes before every block)"
                    .to_owned(),
            );
        }
        let colsep = args.input.colsep.as_deref();
        let jobs = crate::binning::deal(stdin(args)?, key, colsep, slots)?;
        return Ok(Box::new(jobs.into_iter().map(|b| Ok(vec![b]))));
    }
    if args.input.colsep.is_some() {
        return Err(concat!(
            "--colsep with --pipe splits the lines for --bin and --shard: give one of ",
            "them, or leave --colsep out"
        )
        .to_owned());
    }
    let (header, input) = crate::pipe::header(stdin(args)?, args.input.header.as_deref())?;
    let blocks = crate::pipe::Blocks::new(input, cutting).with_timeout(args.blocks.block_timeout);
    let blocks = crate::rec_sep::removed(blocks, crate::rec_sep::of_args(args)?);
    // --header: before every job's stdin (a block, or with --round-robin
    // the blocks dealt to the job).
    let headed = move |stdin: Vec<u8>| match &header {
        Some(header) => [&header[..], &stdin[..]].concat(),
        None => stdin,
    };
    if args.blocks.round_robin {
        let jobs = round_robin(blocks.collect::<Result<_, _>>()?, slots);
        Ok(Box::new(jobs.into_iter().map(move |b| Ok(vec![headed(b)]))))
    } else {
        Ok(Box::new(
            blocks.map(move |block| block.map(|b| vec![headed(b)])),
        ))
    }
}

/// `--group-by`, if given, and the separator that marks its groups.
fn grouping(
    args: &MapArgs,
    pipe_part: bool,
) -> Result<Option<(crate::group_by::GroupBy, String)>, String> {
    let Some(text) = &args.blocks.group_by else {
        return Ok(None);
    };
    if pipe_part {
        return Err(
            "--group-by groups the lines of stdin: give --pipe, not --pipe-part".to_owned(),
        );
    }
    // `--header :`: the header goes to every job (GNU parallel leaves it
    // implied by a column's name).
    let header = match args.input.header.as_deref() {
        None | Some(":") => args.input.header.is_some(),
        Some(other) => {
            return Err(format!(
                "--header {other:?} with --group-by: give --header : (the first line is the \
                 header, sent to every job)"
            ));
        }
    };
    let group_by = crate::group_by::GroupBy::parse(text)?.with_header(header);
    let recsep = crate::group_by::separator()
        .map_err(|err| format!("--group-by: cannot read /dev/urandom for a separator: {err}"))?;
    Ok(Some((group_by, recsep)))
}

/// The jobs of `--group-by`: stdin through the filter that marks where
/// each group begins, cut into blocks of whole groups, without the marks,
/// each after the header if the groups are by a column's name.
fn grouped_jobs(
    args: &MapArgs,
    cutting: crate::pipe::Cutting,
    group_by: &crate::group_by::GroupBy,
    recsep: &str,
) -> Result<FieldsIter, String> {
    let timeout = args.blocks.block_timeout;
    let colsep = args.input.colsep.as_deref();
    // The filter reads stdin itself: past the first line, if skipped.
    drop(stdin(args)?);
    let marked = crate::group_by::marked(group_by, colsep, recsep, timeout.is_some())?;
    let blocks = crate::pipe::Blocks::new(marked.output, cutting).with_timeout(timeout);
    let marks = crate::rec_sep::RecordSeparators::new(Some(""), Some(recsep), false)?;
    let blocks = crate::rec_sep::removed(blocks, Some(marks));
    let blocks = crate::group_by::with_header_and_filter(blocks, marked.header, marked.filter);
    Ok(Box::new(blocks.map(|block| block.map(|b| vec![b]))))
}

/// Stdin for `--pipe`, read without a buffer of its own (so that what
/// `poll(2)` says of it holds, for `--block-timeout`), past its first
/// line with `--skip-first-line`.
fn stdin(args: &MapArgs) -> Result<std::fs::File, String> {
    use std::io::Read;
    let cannot = |err: std::io::Error| format!("cannot read stdin: {err}");
    let fd = std::os::fd::AsFd::as_fd(&std::io::stdin())
        .try_clone_to_owned()
        .map_err(cannot)?;
    let mut stdin = std::fs::File::from(fd);
    if args.input.skip_first_line {
        // A byte at a time: what follows the line is the blocks'.
        let mut byte = [0];
        while stdin.read(&mut byte).map_err(cannot)? == 1 && byte[0] != b'\n' {}
    }
    Ok(stdin)
}

/// `--header :`: the first input of each source names its columns. As
/// in GNU parallel, any value but `0` means that when the inputs are not
/// blocks of `--pipe` (a number of lines, a regex: one input a source
/// all the same), and `0` means no header (the columns still split on
/// tabs).
fn header(args: &MapArgs) -> bool {
    args.input
        .header
        .as_deref()
        .is_some_and(|value| value != "0")
}

/// `--filter`'s filters, if any.
fn filters(
    args: &MapArgs,
    names: &Names,
    columns: &[Vec<u8>],
    slots: usize,
) -> Result<Option<Arc<crate::filter::Filters>>, String> {
    Ok(crate::filter::Filters::new(&args.scheduling.filter, names, columns, slots)?.map(Arc::new))
}

/// `--bin` or `--shard`, if given.
fn dealt_by_key(args: &MapArgs) -> Result<Option<crate::binning::Key>, String> {
    use crate::binning::{Dealing, Key};
    match (&args.blocks.bin, &args.blocks.shard) {
        (Some(text), _) => Key::parse("--bin", Dealing::Bin, text).map(Some),
        (None, Some(text)) => Key::parse("--shard", Dealing::Shard, text).map(Some),
        (None, None) => Ok(None),
    }
}

/// `--retry-failed`: the jobs of the joblog that did not succeed, run
/// again with their numbers and command lines (the command and inputs
/// given are not used, as in GNU parallel).
fn retried(args: &MapArgs) -> Result<Plan, String> {
    let Some(path) = &args.joblog else {
        return Err("--retry-failed reads the --joblog: give it".to_owned());
    };
    let commands = joblog::commands(path)?;
    let mut skip = joblog::skipped(path, Resume::Succeeded)?;
    let mut jobs = Vec::with_capacity(commands.len());
    for (at, command) in commands.into_iter().enumerate() {
        if command.is_none() {
            let _ = skip.insert(at + 1);
        }
        jobs.push(vec![command.unwrap_or_default()]);
    }
    let template = Arc::new(Template::verbatim());
    template.set_total(jobs.len());
    Ok(Plan {
        maker: Maker {
            skip: Arc::new(skip),
            start: start(args),
            ..Maker::new(template)
        },
        jobs: Jobs::Listed(jobs),
        tag: None,
        columns: Vec::new(),
        sources: 1,
        results_template: None,
    })
}

/// `--round-robin`: `blocks` dealt to one job per slot (fewer if there
/// are fewer blocks), block `i` to job `i % slots`, each job's stdin its
/// blocks in order.
fn round_robin(blocks: Vec<Vec<u8>>, slots: usize) -> Vec<Vec<u8>> {
    let jobs = slots.clamp(1, blocks.len().max(1));
    let mut dealt = vec![Vec::new(); jobs];
    for (i, block) in blocks.into_iter().enumerate() {
        dealt[i % jobs].extend_from_slice(&block);
    }
    dealt.retain(|job| !job.is_empty());
    dealt
}

/// How the jobs' commands are started: `--nice`, `--process-slot-var`,
/// the shell.
fn start(args: &MapArgs) -> Start {
    Start {
        nice: args.running.nice,
        slot_var: args.running.process_slot_var.clone(),
        shell: crate::shell::choose(),
    }
}

/// `--tagstring` or `--tag`, as a template, for a run of `slots` slots
/// (as wide as `{0%}` is).
fn tag_template(
    args: &MapArgs,
    names: &Names,
    columns: &[Vec<u8>],
    slots: usize,
) -> Result<Option<Template>, String> {
    let tag = match (&args.tagstring, args.tag) {
        // An empty one is no tag at all, as in GNU parallel.
        (Some(text), _) if text.is_empty() => return Ok(None),
        (Some(text), _) => Template::parse_text(&printf_escapes(text), names, columns)?,
        (None, true) => Template::parse(&[b"{}".to_vec()], &Names::default(), &[])?,
        (None, false) => return Ok(None),
    };
    tag.set_slots(slots);
    Ok(Some(tag))
}

/// `--tagstring`'s escapes, as GNU parallel reads them: `\t`, `\n`, `\r`,
/// and a byte in octal, `\101` (three digits) or `\1` (one).
fn printf_escapes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let octal = |b: &u8| (b'0'..=b'7').contains(b);
        let (byte, len) = match rest {
            [b'\\', b't', ..] => (b'\t', 2),
            [b'\\', b'n', ..] => (b'\n', 2),
            [b'\\', b'r', ..] => (b'\r', 2),
            [b'\\', a, b, c, ..] if octal(a) && octal(b) && octal(c) => {
                let value =
                    u32::from(a - b'0') * 64 + u32::from(b - b'0') * 8 + u32::from(c - b'0');
                (u8::try_from(value % 256).unwrap_or(0), 4)
            }
            [b'\\', a, ..] if octal(a) => (a - b'0', 2),
            // Not octal: the digit itself, as Perl's "\8".
            [b'\\', a @ (b'8' | b'9'), ..] => (*a, 2),
            [b, ..] => (*b, 1),
            [] => break,
        };
        out.push(byte);
        at += len;
    }
    out
}

/// What `--tee` makes of stdin.
enum Teed {
    /// No `--tee`.
    Not,
    /// All of it, every job's.
    Stdin(Arc<Vec<u8>>),
    /// No inputs of `:::` or `::::`: no job.
    NoInputs,
}

/// `--tee`: stdin is every job's, the inputs are those of `:::` and
/// `::::` only; read whole here.
fn teed(args: &MapArgs, inputs: &Inputs) -> Result<Teed, String> {
    if !args.blocks.tee {
        return Ok(Teed::Not);
    }
    if inputs.none_given() {
        return Ok(Teed::NoInputs);
    }
    let mut all = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut all)
        .map_err(|err| format!("--tee: cannot read stdin: {err}"))?;
    Ok(Teed::Stdin(Arc::new(all)))
}

/// `--cat` or `--fifo`, and `--tmpdir`.
fn block_as(args: &MapArgs) -> Option<BlockAs> {
    use std::os::unix::ffi::OsStrExt;
    let kind = match (args.blocks.cat, args.blocks.fifo) {
        (true, _) => Kind::File,
        (_, true) => Kind::Fifo,
        _ => return None,
    };
    // Relative: to the job's working directory, as GNU parallel's.
    let dir = (args.as_files.tmpdir.as_ref()).map(|dir| dir.as_os_str().as_bytes().to_vec());
    Some(BlockAs { kind, dir })
}

/// The files `--pipe-part` cuts (`None` for `--pipe`, which cuts stdin),
/// or why the inputs given do not go with either.
fn part_files(args: &MapArgs, inputs: &Inputs) -> Result<Option<Vec<PathBuf>>, String> {
    if args.blocks.pipe_part {
        match inputs.files() {
            Some(files) if !inputs.none_given() => Ok(Some(files)),
            _ => Err(
                "--pipe-part cuts the files of -a (or ::::) into parts, one per job: give them, \
                 and no other inputs (:::, --arg); for stdin use --pipe"
                    .to_owned(),
            ),
        }
    } else if inputs.none_given() {
        Ok(None)
    } else {
        Err(
            "--pipe cuts stdin into blocks, one per job: it takes no inputs from :::, ::::, -a \
             or --arg (pipe the input into hearth map, or cut files with --pipe-part -a FILE)"
                .to_owned(),
        )
    }
}

/// `--resume` or `--resume-failed`.
pub fn resume(args: &MapArgs) -> Option<Resume> {
    if args.resume_from.resume_failed || args.resume_from.retry_failed {
        Some(Resume::Succeeded)
    } else if args.resume_from.resume {
        Some(Resume::Done)
    } else {
        None
    }
}

/// The names of the replacement strings, as renamed by the options.
fn names(args: &MapArgs) -> Names {
    let mut names = Names {
        plus: args.running.plus,
        ..Names::default()
    };
    let renames = [
        (
            if args.replace.is_some() {
                &args.replace
            } else {
                &args.replace_old
            },
            &mut names.all,
        ),
        (&args.extension_replace, &mut names.no_ext),
        (&args.basename_replace, &mut names.base),
        (&args.dirname_replace, &mut names.dir),
        (&args.basename_extension_replace, &mut names.base_no_ext),
        (&args.seq_replace, &mut names.seq),
        (&args.slot_replace, &mut names.slot),
    ];
    for (option, name) in renames {
        if let Some(new) = option {
            name.clone_from(new);
        }
    }
    names.rpl.clone_from(&args.running.rpl);
    if args.running.plus {
        // GNU parallel's --plus strings that are Perl code: {choose_k}
        // runs the jobs whose inputs are in ascending order (n choose k),
        // {uniq} those whose inputs all differ; the others are skipped.
        // A --rpl of the same tag wins (it comes first).
        for (tag, code) in PLUS_CODE {
            if !names.rpl.iter().any(|(own, _)| own == tag.as_bytes()) {
                names.rpl.push((tag.as_bytes().to_vec(), code.to_owned()));
            }
        }
    }
    names
}

/// `--plus`'s strings made of Perl code, as GNU parallel defines them.
const PLUS_CODE: [(&str, &str); 2] = [
    (
        "{choose_k}",
        "for $t (2..$#arg) { if($arg[$t-1] ge $arg[$t]) { skip() } }",
    ),
    (
        "{uniq}",
        "my %seen; if(grep { $seen{$_}++ } @arg[1..$#arg]) { skip() }",
    ),
];

/// `--colsep`: a regular expression (a plain string matches itself).
fn colsep(text: &str) -> Result<Regex, String> {
    if text.is_empty() {
        return Err(
            "--colsep is empty: give what separates the columns, e.g. --colsep '\\t'".into(),
        );
    }
    Regex::new(text).map_err(|err| format!("--colsep {text:?} is not a regular expression: {err}"))
}

/// `-N`, `-n`, `-m`, `-X`, `--xargs`, `-s`.
fn batching(args: &MapArgs, slots: usize, fill: Fill) -> Batching {
    let filling = args.packing.multiple || args.packing.context || args.packing.xargs;
    if let Some(n) = args.packing.max_replace_args {
        // -N 0: one input a job, none of it in the command.
        return Batching::Fixed(n.max(1));
    }
    if !filling {
        // -s alone bounds each job's command line (`Batches`).
        return match args.packing.max_args {
            Some(n) => Batching::Fixed(n),
            None => Batching::One,
        };
    }
    Batching::Fill {
        fill,
        max_args: args.packing.max_args,
        max_chars: args.packing.max_chars.unwrap_or(MAX_CHARS),
        spread: (!args.packing.xargs).then_some(slots),
    }
}

#[cfg(test)]
mod round_robin_tests {
    use super::round_robin;

    #[test]
    fn blocks_are_dealt_in_turn_to_one_job_per_slot() {
        let blocks = |n: u8| (0..n).map(|i| vec![b'a' + i]).collect::<Vec<_>>();
        assert_eq!(round_robin(blocks(5), 2), [b"ace".to_vec(), b"bd".to_vec()]);
        assert_eq!(round_robin(blocks(2), 4), [b"a".to_vec(), b"b".to_vec()]);
        assert!(round_robin(Vec::new(), 3).is_empty());
    }
}
