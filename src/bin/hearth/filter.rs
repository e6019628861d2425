//! `--filter FILTER` (repeatable): a job runs only if every FILTER, its
//! replacement strings replaced by the job's values as they are (not
//! quoted), is true as Perl code, as GNU parallel's `--filter`. A job
//! filtered out is skipped as `{= skip() =}` skips one: its number is
//! used, it does not run, the joblog says `-2` and it counts as failed.
//! Code that dies or does not compile is false, as in GNU parallel.
//!
//! One `perl` process for the run evaluates the filters, fed each job's
//! code as a `{= =}` code's value (see `perl_expr.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::inputs::JobText;
use crate::perl_expr::{Job, PerlExprs};
use crate::replace::{Fill, Names, Template};

/// The code that evaluates a filter (the value, `$_`): 1 if true. Under
/// `use strict`, as GNU parallel's own code evaluates it: a bareword (an
/// unquoted value) is an error, so false.
const EVALUATE: &str = "$_ = (eval \"use strict; $_\") ? 1 : 0";

/// The filters of a run.
pub struct Filters {
    templates: Vec<Template>,
    perl: PerlExprs,
    /// The number of jobs, when known before the first (0 if not).
    total: AtomicUsize,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters")
            .field("templates", &self.templates.len())
            .finish_non_exhaustive()
    }
}

impl Filters {
    /// The filters of `texts` (none: `None`), with the replacement
    /// strings of a run of `slots` slots whose inputs' columns have
    /// `names` and `columns`.
    ///
    /// # Errors
    ///
    /// A replacement string that is not one, or no `perl` to run.
    pub fn new(
        texts: &[String],
        names: &Names,
        columns: &[Vec<u8>],
        slots: usize,
    ) -> Result<Option<Filters>, String> {
        if texts.is_empty() {
            return Ok(None);
        }
        let mut templates = Vec::with_capacity(texts.len());
        for text in texts {
            let template = Template::parse_text(text.as_bytes(), names, columns)
                .map_err(|err| format!("--filter {text:?}: {err}"))?;
            template.set_slots(slots);
            templates.push(template);
        }
        let perl = PerlExprs::start(vec![EVALUATE.to_owned()])
            .map_err(|err| format!("--filter: {err}"))?;
        Ok(Some(Filters {
            templates,
            perl,
            total: AtomicUsize::new(0),
        }))
    }

    /// True if a filter needs the number of jobs (`{##}`, `{0#}`,
    /// `total_jobs()`).
    pub fn needs_total(&self) -> bool {
        self.templates.iter().any(Template::needs_total)
    }

    /// The number of jobs, for the filters' replacement strings and code.
    pub fn set_total(&self, total: usize) {
        for template in &self.templates {
            template.set_total(total);
        }
        self.total.store(total, Ordering::Relaxed);
    }

    /// Whether the job `seq` of `fields` passes every filter.
    ///
    /// # Errors
    ///
    /// The `perl` process failed.
    pub fn pass(&self, fields: &[Vec<u8>], seq: usize) -> Result<bool, String> {
        for template in &self.templates {
            let parts = template.render(fields, seq, Fill::Join, false);
            // A `{= =}` in the filter that died stops the run, as in the
            // command.
            if let Some(err) = template.perl_error() {
                return Err(format!("--filter: {err}"));
            }
            // The parts are cut where the slot's number goes.
            if parts.len() > 1 {
                return Err(
                    "--filter: {%} (the slot) is not known when a job is chosen to run: leave \
                     it out of the filter"
                        .to_owned(),
                );
            }
            let code = JobText::join(&parts, None, None);
            let job = Job {
                seq,
                total: self.total.load(Ordering::Relaxed),
                fields,
            };
            let answer = self.perl.eval(0, &code, &job);
            if let Some(err) = self.perl.error() {
                return Err(format!("--filter: {err}"));
            }
            if answer.value != b"1" {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
