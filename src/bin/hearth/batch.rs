//! How many records each job of `hearth map` takes, as in GNU parallel:
//! one (the default), `-N n` / `-n n` (n at a time, the last job may have
//! fewer), or as many as fit on one command line (`-m`, `-X`, `--xargs`,
//! bounded by `-s` and by `-n`); with `-m` and `-X`, the records left at
//! the end of the input are spread evenly over the slots, so that a short
//! input still keeps every slot busy.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::replace::{Fill, Template};
use crate::sources::{Record, Records};

/// Longest command line, in bytes, for `-m`, `-X` and `--xargs` by
/// default, and the most `-s` takes: GNU parallel's on Linux, so that its
/// command lines make the same jobs. GNU parallel finds that the longest
/// line the system runs is 130329 bytes, keeps 3000 of them for its own
/// wrapping and halves the rest (for the hex it sends to ssh hosts):
/// (130329 - 3000) / 2. The whole line goes to the shell as one argument,
/// which Linux takes up to 128 KiB, so a line of this length always runs.
pub const MAX_CHARS: usize = 63664;

/// How records make jobs.
#[derive(Clone, Copy, Debug)]
pub enum Batching {
    /// One record per job.
    One,
    /// This many records per job.
    Fixed(usize),
    /// As many as fit.
    Fill {
        /// `-X` (context replace) or `-m` / `--xargs`.
        fill: Fill,
        /// `-n`: at most this many.
        max_args: Option<usize>,
        /// `-s`: a command line is shorter than this.
        max_chars: usize,
        /// `-m` and `-X`: the records left at the end spread over this
        /// many slots (`--xargs`: `None`).
        spread: Option<usize>,
    },
}

/// Jobs' fields, from records.
pub struct Batches {
    records: Records,
    batching: Batching,
    /// `-s` without `-m`, `-X` or `--xargs`: a job's command line must be
    /// shorter (as GNU parallel says, "Command line too long" stops the
    /// run); the filling modes' own limit is checked the same way for a
    /// job of one record, which no limit can shorten.
    limit: Option<usize>,
    /// Records read so far (the number of the next one, from 0).
    read: usize,
    template: Arc<Template>,
    /// A record read that did not fit the job before.
    carry: Option<Record>,
    /// Jobs made by spreading the last records.
    spread: VecDeque<Vec<Record>>,
    /// Jobs made so far (for `{#}` in the length of a line).
    made: usize,
    done: bool,
}

impl Batches {
    pub fn new(
        records: Records,
        batching: Batching,
        max_chars: Option<usize>,
        template: Arc<Template>,
    ) -> Batches {
        let limit = match batching {
            Batching::Fill { max_chars, .. } => Some(max_chars),
            Batching::One | Batching::Fixed(_) => max_chars,
        };
        Batches {
            records,
            batching,
            limit,
            read: 0,
            template,
            carry: None,
            spread: VecDeque::new(),
            made: 0,
            done: false,
        }
    }

    fn next_record(&mut self) -> Option<Result<Record, String>> {
        if let Some(record) = self.carry.take() {
            return Some(Ok(record));
        }
        if self.done {
            return None;
        }
        let next = self.records.next();
        match next {
            None | Some(Err(_)) => self.done = true,
            Some(Ok(_)) => self.read += 1,
        }
        next
    }

    /// The next job's records, filled.
    fn fill(
        &mut self,
        fill: Fill,
        max_args: usize,
        max_chars: usize,
        spread: Option<usize>,
    ) -> Option<Result<Vec<Record>, String>> {
        let mut pending: Vec<Record> = Vec::new();
        let mut len = 0;
        loop {
            let record = match self.next_record() {
                Some(Ok(record)) => record,
                Some(Err(err)) => return Some(Err(err)),
                None => break,
            };
            if pending.is_empty() {
                let fields: Vec<Vec<u8>> = record.clone();
                len = self
                    .template
                    .render_unevaluated(&fields, self.made + 1, fill)
                    .iter()
                    .map(Vec::len)
                    .sum();
                pending.push(record);
            } else {
                let added: usize = record
                    .iter()
                    .map(|field| self.template.added_len(field, fill))
                    .sum();
                if len + added >= max_chars {
                    self.carry = Some(record);
                    return Some(Ok(pending));
                }
                len += added;
                pending.push(record);
            }
            if pending.len() >= max_args {
                return Some(Ok(pending));
            }
        }
        // The end of the input, before the line was full.
        if pending.is_empty() {
            return None;
        }
        if let Some(slots) = spread.filter(|&s| s > 1) {
            let per = pending.len().div_ceil(slots);
            let mut rest = pending.into_iter().peekable();
            while rest.peek().is_some() {
                self.spread.push_back(rest.by_ref().take(per).collect());
            }
            return self.spread.pop_front().map(Ok);
        }
        Some(Ok(pending))
    }
}

impl Batches {
    /// `fields` if their command line is shorter than the limit; GNU
    /// parallel's error otherwise (`first`: the number of the job's first
    /// record, from 0).
    fn within_limit(&self, fields: Vec<Vec<u8>>, first: usize) -> Result<Vec<Vec<u8>>, String> {
        let Some(limit) = self.limit else {
            return Ok(fields);
        };
        let fill = match self.batching {
            Batching::Fill { fill, .. } => fill,
            Batching::One | Batching::Fixed(_) => Fill::Join,
        };
        let len: usize = self
            .template
            .render_unevaluated(&fields, self.made, fill)
            .iter()
            .map(Vec::len)
            .sum();
        if len < limit {
            return Ok(fields);
        }
        let value = fields
            .first()
            .map(|value| String::from_utf8_lossy(value).into_owned());
        Err(format!(
            "Command line too long ({len} >= {limit}) at input {first}: {}; give -s more, or \
             pass such values through files",
            crate::output::shortened(value.unwrap_or_default().as_bytes())
        ))
    }
}

impl Iterator for Batches {
    /// A job's fields.
    type Item = Result<Vec<Vec<u8>>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        // The number of this job's first record (one may be carried).
        let first = self.read - usize::from(self.carry.is_some());
        let records = if let Some(job) = self.spread.pop_front() {
            Ok(job)
        } else {
            match self.batching {
                Batching::One => self.next_record()?.map(|record| vec![record]),
                Batching::Fixed(n) => {
                    let mut job = Vec::with_capacity(n);
                    while job.len() < n {
                        match self.next_record() {
                            Some(Ok(record)) => job.push(record),
                            Some(Err(err)) => return Some(Err(err)),
                            None => break,
                        }
                    }
                    if job.is_empty() {
                        return None;
                    }
                    Ok(job)
                }
                Batching::Fill {
                    fill,
                    max_args,
                    max_chars,
                    spread,
                } => self.fill(fill, max_args.unwrap_or(usize::MAX), max_chars, spread)?,
            }
        };
        self.made += 1;
        let fields: Result<Vec<Vec<u8>>, String> =
            records.map(|job| job.into_iter().flatten().collect());
        Some(fields.and_then(|fields| self.within_limit(fields, first)))
    }
}
