//! The command template of `hearth map` and its replacement strings, as
//! GNU parallel has them: `{}` (the job's arguments), `{.}` (without the
//! extension), `{/}` (basename), `{//}` (dirname), `{/.}` (basename
//! without the extension), `{#}` (the job's sequence number), `{%}` (the
//! slot's number), positional `{1}` `{2}` .. `{-1}` with the same suffixes
//! (`{1.}`, `{2/}`, `{1//}`, `{1/.}`), `{name}` for the columns of
//! `--header`; `-I` and `--extensionreplace` and friends rename them.
//!
//! A job's arguments are its fields: one per input source and column, of
//! every record the job takes (`-N`, `-m`, `-X`). `{n}` is the n-th field,
//! `{}` all of them, each shell-quoted as GNU parallel quotes and joined
//! by spaces. With no replacement string at all, the fields are appended.
//! `--plus` adds GNU parallel's `{..}` `{...}` `{/..}` `{/...}` `{+/}`
//! `{+.}` `{+..}` `{+...}` (also after a position), `{##}`, `{0#}`, `{0%}` and the
//! edits in the manner of bash (`bash_edit.rs`). A
//! string that looks like one of GNU parallel's but is not one hearth
//! knows (`{0}`, `{..}` without `--plus`) is an error, never left in the
//! command. `{= perl =}` and `{=N perl =}` run Perl code (`perl_expr.rs`).

use std::collections::HashMap;

use std::sync::Arc;

use crate::bash_edit::BashEdit;
pub use crate::edit::{Edit, push_in_quotes, quote};
use crate::edit::{PLUS_STRINGS, plus_suffix};
use crate::perl_expr::{self, PerlExprs};

/// What a replacement string stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// Every field of the job (`{}` and its edits).
    All(Edit),
    /// One field: from 0 counting from the start, or from -1 from the end.
    At(isize, Edit),
    /// The job's sequence number (`{#}`).
    Seq,
    /// The number of the slot that runs the job (`{%}`).
    Slot,
    /// The number of jobs of the run (`--plus`'s `{##}`).
    Total,
    /// The job's sequence number with zeros before it, as wide as the
    /// number of jobs (`--plus`'s `{0#}`).
    SeqPadded,
    /// The slot's number with zeros before it, as wide as the number of
    /// slots (`--plus`'s `{0%}`).
    SlotPadded,
    /// The host that runs the job (`--plus`'s `{host}`: `:` for this
    /// machine).
    Host,
    /// The login that runs the job, `user@host` as given (`--plus`'s
    /// `{sshlogin}`).
    Login,
    /// The user the job runs as on its host: the login's, else this
    /// machine's (pdsh's `%u`).
    User,
    /// [`Field::Host`] inside single quotes (its `'` written `'"'"'`).
    QuotedHost,
    /// [`Field::User`] inside single quotes.
    QuotedUser,
    /// The host's place among the run's hosts, from 0 (pdsh's `%n`).
    Rank,
    /// Every field (`None`), or one as for [`Field::At`], with a
    /// `--plus` edit in the manner of bash (`{:-x}`, `{2/a/b}`).
    Edited(Option<isize>, Arc<BashEdit>),
    /// Every field (`None`), or one as for [`Field::At`], through the
    /// Perl code of this index (`{= perl =}`, `{=2 perl =}`).
    Perl(Option<isize>, usize),
}

/// A piece of a word of the template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    Field(Field),
}

/// The names of the replacement strings: GNU parallel's, or as renamed
/// with `-I`, `--extensionreplace` and friends.
#[derive(Clone, Debug)]
pub struct Names {
    /// `{}` (`-I`).
    pub all: String,
    /// `{.}` (`--extensionreplace`).
    pub no_ext: String,
    /// `{/}` (`--basenamereplace`).
    pub base: String,
    /// `{//}` (`--dirnamereplace`).
    pub dir: String,
    /// `{/.}` (`--basenameextensionreplace`).
    pub base_no_ext: String,
    /// `{#}` (`--seqreplace`).
    pub seq: String,
    /// `{%}` (`--slotreplace`).
    pub slot: String,
    /// `--plus`: GNU parallel's further strings (`{..}`, `{+/}`, `{##}`,
    /// ...) are known.
    pub plus: bool,
    /// `--rpl 'TAG PERL'`: strings of the user's, each the Perl code it
    /// stands for (a tag that begins with `{` takes a position too:
    /// `{2TAG`).
    pub rpl: Vec<(Vec<u8>, String)>,
}

impl Default for Names {
    fn default() -> Names {
        Names {
            all: "{}".to_owned(),
            no_ext: "{.}".to_owned(),
            base: "{/}".to_owned(),
            dir: "{//}".to_owned(),
            base_no_ext: "{/.}".to_owned(),
            seq: "{#}".to_owned(),
            slot: "{%}".to_owned(),
            plus: false,
            rpl: Vec::new(),
        }
    }
}

impl Names {
    /// The names and what they stand for, longest first (so `{//}` is not
    /// taken for `{/}` and `}`), none empty.
    fn table(&self) -> Result<Vec<(&[u8], Field)>, String> {
        let mut table = vec![
            (self.all.as_bytes(), Field::All(Edit::Whole)),
            (self.no_ext.as_bytes(), Field::All(Edit::NoExt)),
            (self.base.as_bytes(), Field::All(Edit::Base)),
            (self.dir.as_bytes(), Field::All(Edit::Dir)),
            (self.base_no_ext.as_bytes(), Field::All(Edit::BaseNoExt)),
            (self.seq.as_bytes(), Field::Seq),
            (self.slot.as_bytes(), Field::Slot),
        ];
        if table.iter().any(|(name, _)| name.is_empty()) {
            return Err("a replacement string may not be empty (-I and --*replace)".to_owned());
        }
        if self.plus {
            table.extend(PLUS_STRINGS.map(|name| {
                let edit = Edit::of_plus_suffix(plus_suffix(name)).expect("a --plus suffix");
                (name.as_bytes(), Field::All(edit))
            }));
            table.push((b"{##}".as_slice(), Field::Total));
            table.push((b"{0#}".as_slice(), Field::SeqPadded));
            table.push((b"{0%}".as_slice(), Field::SlotPadded));
            table.push((b"{slot}".as_slice(), Field::Slot));
            table.push((b"{host}".as_slice(), Field::Host));
            table.push((b"{sshlogin}".as_slice(), Field::Login));
        }
        table.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
        Ok(table)
    }

    /// True if `content` (between braces) is the content of a default
    /// string that was renamed: it is then plain text, as in GNU parallel.
    fn renamed_away(&self, braced: &[u8]) -> bool {
        let defaults = Names::default();
        [
            (&defaults.all, &self.all),
            (&defaults.no_ext, &self.no_ext),
            (&defaults.base, &self.base),
            (&defaults.dir, &self.dir),
            (&defaults.base_no_ext, &self.base_no_ext),
            (&defaults.seq, &self.seq),
            (&defaults.slot, &self.slot),
        ]
        .iter()
        .any(|(default, now)| default != now && default.as_bytes() == braced)
    }
}

/// The command with its replacement strings found: words of pieces, and
/// the whitespace between them, as GNU parallel sees a command line.
#[allow(clippy::struct_excessive_bools)] // Independent traits of a template.
#[derive(Clone, Debug)]
pub struct Template {
    /// The words (runs of bytes other than space, tab and newline) and,
    /// between them, the whitespace as it was (as text pieces).
    words: Vec<Vec<Piece>>,
    /// Which of `words` are whitespace.
    space: Vec<bool>,
    has_fields: bool,
    /// A text, not a command (`--tagstring`): without a replacement
    /// string of the inputs, nothing is appended.
    text_only: bool,
    /// `-q`: each word is quoted whole once its replacement strings are
    /// replaced (by values as they are), so it stays one word.
    quoted_words: bool,
    /// A replacement string is (in) the command's first word, before any
    /// `=` (`{}`, `my_{= s/_// =}`, `{2} x`): none is quoted, as GNU
    /// parallel quotes none then (the input is the command, or its name).
    unquoted: bool,
    /// The digits of the number of slots of the run, for `{0%}`: set once
    /// the slots are known (1 until then).
    slot_width: std::sync::OnceLock<u8>,
    /// The number of jobs of the run, for `{##}` and `{0#}`: set once
    /// every job is known.
    total: std::sync::OnceLock<usize>,
    /// `--retry-failed`: the command line is the job's one field, as it is.
    verbatim: bool,
    /// No command given: the job's inputs, joined by spaces as they are
    /// (quoted with `-q`), are its command line, as in GNU parallel.
    inputs_as_command: bool,
    /// The Perl codes of `{= =}`, running.
    perl: Option<Arc<PerlExprs>>,
}

/// How the records of a job fill the command (`-m` and `-X`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// `{}` is every field, joined by spaces.
    Join,
    /// A word holding a replacement string is repeated for each field
    /// (`-X`, context replace).
    Context,
    /// `{}` is every field with nothing between them: GNU parallel's
    /// template files (`--tmpl`), which it writes so.
    Glued,
}

impl Template {
    /// Finds the replacement strings in `words` (the command's words,
    /// joined by spaces as GNU parallel joins them); `columns` are the
    /// names of `--header`'s columns.
    pub fn parse(
        words: &[Vec<u8>],
        names: &Names,
        columns: &[Vec<u8>],
    ) -> Result<Template, String> {
        // A Perl expression may hold spaces: look for it in the whole line.
        let mut codes = Vec::new();
        let line = mark_perl(&expand_rpl(&words.join(&b' '), &names.rpl), &mut codes)?;
        let table = names.table()?;
        let columns = column_index(columns);
        let mut template = Template::empty(false);
        template.perl = start_perl(codes)?;
        let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n');
        let mut rest = line.as_slice();
        while !rest.is_empty() {
            let space = is_space(&rest[0]);
            let len = rest
                .iter()
                .position(|b| is_space(b) != space)
                .unwrap_or(rest.len());
            let (word, after) = rest.split_at(len);
            rest = after;
            let pieces = if space {
                vec![Piece::Text(word.to_vec())]
            } else {
                parse_word(word, names, &table, &columns)?
            };
            if pieces.iter().any(|piece| matches!(piece, Piece::Field(_))) {
                template.has_fields = true;
            }
            template.words.push(pieces);
            template.space.push(space);
        }
        template.unquoted = template.space.first() == Some(&false)
            && template.words[0]
                .iter()
                .take_while(|piece| !matches!(piece, Piece::Text(text) if text.contains(&b'=')))
                .any(|piece| matches!(piece, Piece::Field(_)));
        Ok(template)
    }

    /// A text such as `--tagstring`'s: [`Template::parse`]'s, but the
    /// inputs are not appended when it holds none of them, as GNU
    /// parallel's `--tagstring t` is just `t`.
    pub fn parse_text(text: &[u8], names: &Names, columns: &[Vec<u8>]) -> Result<Template, String> {
        let mut template = Template::parse(&[text.to_vec()], names, columns)?;
        template.text_only = true;
        Ok(template)
    }

    /// The command of `-q`: each of `words` stays one word for the shell
    /// (quoted whole after its replacement strings are replaced), however
    /// many spaces or quotes it holds; `columns` as for [`Template::parse`].
    pub fn parse_quoted(
        words: &[Vec<u8>],
        names: &Names,
        columns: &[Vec<u8>],
    ) -> Result<Template, String> {
        // The checks of the whole line and of the names.
        let checked = Template::parse(words, names, columns)?;
        let table = names.table()?;
        let columns = column_index(columns);
        let mut template = Template::empty(true);
        let mut codes = Vec::new();
        for (at, word) in words.iter().enumerate() {
            if at > 0 {
                template.words.push(vec![Piece::Text(b" ".to_vec())]);
                template.space.push(true);
            }
            let word = mark_perl(&expand_rpl(word, &names.rpl), &mut codes)?;
            let pieces = parse_word(&word, names, &table, &columns)?;
            if pieces.iter().any(|piece| matches!(piece, Piece::Field(_))) {
                template.has_fields = true;
            }
            template.words.push(pieces);
            template.space.push(false);
        }
        // The same codes as the whole line's, unless one crossed words.
        template.perl = match checked.perl {
            Some(perl) if perl.codes() == codes.as_slice() => Some(perl),
            _ => start_perl(codes)?,
        };
        Ok(template)
    }

    /// A template without words yet; `quoted_words` for `-q`.
    fn empty(quoted_words: bool) -> Template {
        Template {
            words: Vec::new(),
            space: Vec::new(),
            has_fields: false,
            text_only: false,
            unquoted: false,
            quoted_words,
            total: std::sync::OnceLock::new(),
            slot_width: std::sync::OnceLock::new(),
            verbatim: false,
            inputs_as_command: false,
            perl: None,
        }
    }

    /// pdsh's command line (`hearth run`): the words as they are, with
    /// none of GNU parallel's replacement strings (a `{}` stays), but
    /// pdsh's own: `%h` the host, `%u` the user, `%n` the host's rank and
    /// `%%` a `%`. The words are joined by spaces for the host's shell
    /// (pdsh's ssh module) or, with `argv` (its exec module, which runs
    /// them as a program's arguments), each quoted whole, values and all,
    /// after an `exec`: the shell only starts the program. As pdsh, the
    /// exec module's arguments end at the first empty one.
    pub fn pdsh(words: &[Vec<u8>], argv: bool) -> Template {
        let mut pieces = Vec::new();
        let mut text = Vec::new();
        let words = match (argv, words.iter().position(Vec::is_empty)) {
            (true, Some(end)) => &words[..end],
            _ => words,
        };
        if argv {
            text.extend_from_slice(b"exec");
        }
        for (at, word) in words.iter().enumerate() {
            if at > 0 || argv {
                text.push(b' ');
            }
            if argv {
                text.push(b'\'');
            }
            let mut rest = word.as_slice();
            while let Some((&byte, after)) = rest.split_first() {
                let field = match (byte, after.first()) {
                    (b'%', Some(b'h')) if argv => Field::QuotedHost,
                    (b'%', Some(b'h')) => Field::Host,
                    (b'%', Some(b'u')) if argv => Field::QuotedUser,
                    (b'%', Some(b'u')) => Field::User,
                    (b'%', Some(b'n')) => Field::Rank,
                    (b'%', Some(b'%')) => {
                        text.push(b'%');
                        rest = &after[1..];
                        continue;
                    }
                    (b'\'', _) if argv => {
                        push_in_quotes(b"'", &mut text);
                        rest = after;
                        continue;
                    }
                    _ => {
                        text.push(byte);
                        rest = after;
                        continue;
                    }
                };
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Field(field));
                rest = &after[1..];
            }
            if argv {
                text.push(b'\'');
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        let mut template = Template::empty(false);
        template.text_only = true;
        template.words.push(pieces);
        template.space.push(false);
        template
    }

    /// The template of a run without a command: each job's inputs are
    /// its command line (`parallel ::: 'echo a' 'echo b'`, or a file of
    /// command lines on stdin), joined by spaces, as they are or, with
    /// `-q` (`quoted`), each quoted.
    pub fn inputs_as_command(quoted: bool) -> Template {
        Template {
            has_fields: true,
            inputs_as_command: true,
            ..Template::empty(quoted)
        }
    }

    /// The template of `--retry-failed`'s jobs: a job's one field is its
    /// whole command line, as the joblog has it.
    pub fn verbatim() -> Template {
        Template {
            has_fields: true,
            verbatim: true,
            ..Template::empty(false)
        }
    }

    /// True if the template holds a replacement string (a text of it
    /// would not be the same for every job).
    pub fn has_replacements(&self) -> bool {
        self.perl.is_some()
            || (self.words.iter().flatten()).any(|piece| matches!(piece, Piece::Field(_)))
    }

    /// True if the command has no words (`--shellquote` alone: the inputs
    /// are the line).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && !self.verbatim
    }

    /// True if the command holds `{##}` or `{0#}`, which need the number of
    /// jobs before the first one runs.
    pub fn needs_total(&self) -> bool {
        self.perl.as_ref().is_some_and(|perl| perl.needs_total())
            || self
                .words
                .iter()
                .flatten()
                .any(|piece| matches!(piece, Piece::Field(Field::Total | Field::SeqPadded)))
    }

    /// The digits of `{0%}`.
    fn slot_width(&self) -> u8 {
        self.slot_width.get().copied().unwrap_or(1)
    }

    /// The number of jobs of the run, 0 until it is known.
    fn total(&self) -> usize {
        self.total.get().copied().unwrap_or(0)
    }

    /// Sets the number of slots of the run, for `{0%}` (once; later calls
    /// change nothing).
    pub fn set_slots(&self, slots: usize) {
        let digits = u8::try_from(slots.max(1).to_string().len()).unwrap_or(u8::MAX);
        let _ = self.slot_width.set(digits);
    }

    /// Sets the number of jobs of the run (once; later calls change
    /// nothing).
    pub fn set_total(&self, total: usize) {
        let _ = self.total.set(total);
    }

    /// True if the command holds a replacement string of the inputs (then
    /// they are not appended).
    pub fn has_fields(&self) -> bool {
        self.has_fields
    }

    /// Why a `{= perl =}` code failed, if one did: the values it gave
    /// since are empty, and the run must stop.
    pub fn perl_error(&self) -> Option<String> {
        self.perl.as_ref().and_then(|perl| perl.error())
    }

    /// The command line of a job with `fields` and sequence number `seq`,
    /// in parts to be joined with the slot's number between them (one part
    /// when `{%}` is not used). Values are quoted (`quoted`), or as they
    /// are for a `--tagstring`.
    pub fn render(&self, fields: &[Vec<u8>], seq: usize, fill: Fill, quoted: bool) -> Vec<Vec<u8>> {
        self.render_with(fields, seq, fill, quoted, self.perl.as_deref())
    }

    /// [`Template::render`] to measure a command line (`-m`, `-X`): its
    /// `{= perl =}` strings left empty, so that the code runs once per
    /// job, as it does in GNU parallel, not again for the measure.
    pub fn render_unevaluated(&self, fields: &[Vec<u8>], seq: usize, fill: Fill) -> Vec<Vec<u8>> {
        self.render_with(fields, seq, fill, true, None)
    }

    fn render_with(
        &self,
        fields: &[Vec<u8>],
        seq: usize,
        fill: Fill,
        quoted: bool,
        perl: Option<&PerlExprs>,
    ) -> Vec<Vec<u8>> {
        if self.verbatim {
            return vec![fields.first().cloned().unwrap_or_default()];
        }
        let quoted = quoted && !self.unquoted;
        if self.inputs_as_command {
            let mut line = Vec::new();
            for (at, field) in fields.iter().enumerate() {
                if at > 0 {
                    line.push(b' ');
                }
                put(field, quoted && self.quoted_words, &mut line);
            }
            return vec![line];
        }
        let between: &[u8] = if fill == Fill::Glued { b"" } else { b" " };
        let mut parts = vec![Vec::new()];
        for (pieces, &space) in self.words.iter().zip(&self.space) {
            let context = fill == Fill::Context
                && !space
                && pieces
                    .iter()
                    .any(|p| matches!(p, Piece::Field(Field::All(_))));
            if context {
                // The word once per field, each with that field alone.
                for (at, field) in fields.iter().enumerate() {
                    if at > 0 {
                        last(&mut parts).push(b' ');
                    }
                    self.word(
                        pieces,
                        space,
                        (std::slice::from_ref(field), fields),
                        seq,
                        (quoted, perl, between),
                        &mut parts,
                    );
                }
            } else {
                self.word(
                    pieces,
                    space,
                    (fields, fields),
                    seq,
                    (quoted, perl, between),
                    &mut parts,
                );
            }
        }
        if !self.has_fields && !self.text_only {
            for field in fields {
                let out = last(&mut parts);
                out.push(b' ');
                put(field, quoted, out);
            }
        }
        parts
    }

    /// How much longer the command line of a job grows with one more
    /// field (`-m`, `-X`): a space and the field's value at each `{}`, or
    /// a space and the word it fills (`-X`); a space and the value when
    /// the fields are appended. (A positional string does not grow.)
    pub fn added_len(&self, field: &[u8], fill: Fill) -> usize {
        let quoted_len = |edit: Edit| {
            let mut out = Vec::new();
            quote(&edit.apply(field), &mut out);
            out.len()
        };
        if self.inputs_as_command && !self.quoted_words {
            return 1 + field.len();
        }
        if !self.has_fields || self.inputs_as_command {
            return 1 + quoted_len(Edit::Whole);
        }
        let mut len = 0;
        for (pieces, &space) in self.words.iter().zip(&self.space) {
            let has_all = pieces
                .iter()
                .any(|p| matches!(p, Piece::Field(Field::All(_))));
            if space || !has_all {
                continue;
            }
            if fill == Fill::Context {
                let mut parts = vec![Vec::new()];
                let one = std::slice::from_ref(&field.to_vec()).to_vec();
                Self::render_word(
                    pieces,
                    &one,
                    &one,
                    (0, 0, 1),
                    (true, b" "),
                    None,
                    &mut parts,
                );
                len += 1 + parts.iter().map(Vec::len).sum::<usize>();
            } else {
                for piece in pieces {
                    if let Piece::Field(Field::All(edit)) = piece {
                        len += 1 + quoted_len(*edit);
                    }
                }
            }
        }
        len
    }

    /// One word of [`Template::render`]; with `-q` quoted whole, the
    /// values in it as they are (the slot's number, a plain number, goes
    /// between the quoted parts).
    #[allow(clippy::too_many_arguments)] // Those of `render_word`, and whether it is whitespace.
    fn word(
        &self,
        pieces: &[Piece],
        space: bool,
        (all, fields): (&[Vec<u8>], &[Vec<u8>]),
        seq: usize,
        (quoted, perl, between): (bool, Option<&PerlExprs>, &[u8]),
        parts: &mut Vec<Vec<u8>>,
    ) {
        let numbers = (seq, self.total(), self.slot_width());
        if !(self.quoted_words && quoted) || space {
            Self::render_word(pieces, all, fields, numbers, (quoted, between), perl, parts);
            return;
        }
        let mut raw = vec![Vec::new()];
        Self::render_word(
            pieces,
            all,
            fields,
            numbers,
            (false, between),
            perl,
            &mut raw,
        );
        if let [word] = raw.as_slice() {
            quote(word, last(parts));
            return;
        }
        // `{%}` in the word: the slot's number goes between the parts,
        // inside the quotes (a number needs none of its own).
        let plain = raw
            .iter()
            .flatten()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+/".contains(b));
        for (at, part) in raw.iter().enumerate() {
            if at > 0 {
                parts.push(Vec::new());
            }
            let out = last(parts);
            if !plain && at == 0 {
                out.push(b'\'');
            }
            push_in_quotes(part, out);
            if !plain && at == raw.len() - 1 {
                out.push(b'\'');
            }
        }
    }

    /// One word: `all` for `{}` (`between` its values), `fields` for
    /// positional strings, `total` for `{##}`, `perl` for `{= =}`.
    fn render_word(
        pieces: &[Piece],
        all: &[Vec<u8>],
        fields: &[Vec<u8>],
        (seq, total, slot_width): (usize, usize, u8),
        (quoted, between): (bool, &[u8]),
        perl: Option<&PerlExprs>,
        parts: &mut Vec<Vec<u8>>,
    ) {
        let job = perl_expr::Job { seq, total, fields };
        let put_perl = |index: usize, value: &[u8], out: &mut Vec<u8>| {
            if let Some(perl) = perl {
                let answer = perl.eval(index, value, &job);
                put(&answer.value, quoted && !answer.unquoted, out);
            }
        };
        for piece in pieces {
            match piece {
                Piece::Text(text) => last(parts).extend_from_slice(text),
                Piece::Field(Field::All(edit)) => {
                    each_value(None, (all, fields, between), last(parts), |value, out| {
                        put(&edit.apply(value), quoted, out);
                    });
                }
                Piece::Field(Field::At(at, edit)) => {
                    each_value(
                        Some(*at),
                        (all, fields, between),
                        last(parts),
                        |value, out| {
                            put(&edit.apply(value), quoted, out);
                        },
                    );
                }
                Piece::Field(Field::Edited(which, edit)) => {
                    each_value(*which, (all, fields, between), last(parts), |value, out| {
                        put(&edit.apply(value), quoted, out);
                    });
                }
                // A job without inputs (`-N0`) runs the code once on an
                // empty `$_`, as GNU parallel does.
                Piece::Field(Field::Perl(None, index)) if all.is_empty() => {
                    put_perl(*index, b"", last(parts));
                }
                Piece::Field(Field::Perl(which, index)) => {
                    each_value(*which, (all, fields, between), last(parts), |value, out| {
                        put_perl(*index, value, out);
                    });
                }
                Piece::Field(Field::Seq) => {
                    last(parts).extend_from_slice(seq.to_string().as_bytes());
                }
                Piece::Field(Field::Slot) => parts.push(Vec::new()),
                Piece::Field(Field::Total) => {
                    last(parts).extend_from_slice(total.to_string().as_bytes());
                }
                Piece::Field(Field::SlotPadded) => parts.push(vec![SLOT_PADDED, slot_width]),
                Piece::Field(Field::Host) => parts.push(vec![SLOT_PADDED, HOST]),
                Piece::Field(Field::Login) => parts.push(vec![SLOT_PADDED, LOGIN]),
                Piece::Field(Field::User) => parts.push(vec![SLOT_PADDED, USER]),
                Piece::Field(Field::QuotedHost) => parts.push(vec![SLOT_PADDED, HOST_IN_QUOTES]),
                Piece::Field(Field::QuotedUser) => parts.push(vec![SLOT_PADDED, USER_IN_QUOTES]),
                Piece::Field(Field::Rank) => parts.push(vec![SLOT_PADDED, RANK]),
                Piece::Field(Field::SeqPadded) => {
                    let width = total.to_string().len();
                    last(parts).extend_from_slice(format!("{seq:0width$}").as_bytes());
                }
            }
        }
    }
}

/// Puts into `out` with `put` every value of `all`, `between` between
/// them (`which` is `None`: `{}` and its kin), or the field at `which` of
/// `fields` (`{2}` and its kin), nothing if the job has none there.
fn each_value(
    which: Option<isize>,
    (all, fields, between): (&[Vec<u8>], &[Vec<u8>], &[u8]),
    out: &mut Vec<u8>,
    mut put: impl FnMut(&[u8], &mut Vec<u8>),
) {
    match which {
        None => {
            for (at, value) in all.iter().enumerate() {
                if at > 0 {
                    out.extend_from_slice(between);
                }
                put(value, out);
            }
        }
        Some(at) => {
            if let Some(value) = field_at(fields, at) {
                put(value, out);
            }
        }
    }
}

/// The first byte of a part of a command line that follows `{0%}`,
/// `{host}` or `{sshlogin}` rather than `{%}`, the next byte the width
/// (digits) or [`HOST`] or [`LOGIN`]: a command line holds no NUL.
const SLOT_PADDED: u8 = 0;

/// After [`SLOT_PADDED`]: the part follows `{host}` (no width is this
/// large).
const HOST: u8 = 0xff;

/// After [`SLOT_PADDED`]: the part follows `{sshlogin}`.
const LOGIN: u8 = 0xfe;

/// After [`SLOT_PADDED`]: the part follows pdsh's `%u`.
const USER: u8 = 0xfd;

/// After [`SLOT_PADDED`]: the part follows pdsh's `%n`.
const RANK: u8 = 0xfc;

/// After [`SLOT_PADDED`]: the part follows pdsh's `%h` in single quotes.
const HOST_IN_QUOTES: u8 = 0xfb;

/// After [`SLOT_PADDED`]: the part follows pdsh's `%u` in single quotes.
const USER_IN_QUOTES: u8 = 0xfa;

/// Where a job runs, as the parts of its command line (or tag) are
/// joined: the slot's number (its digits) and the login (`user@host`,
/// `:` for this machine) and host of the slot.
#[derive(Clone, Copy, Debug)]
pub struct RunsOn<'a> {
    /// The slot's number, its digits.
    pub slot: &'a [u8],
    /// The login, as given with -S.
    pub login: &'a [u8],
    /// The login's host.
    pub host: &'a [u8],
    /// The user the job runs as there.
    pub user: &'a [u8],
    /// The host's rank among the run's hosts, its digits.
    pub rank: &'a [u8],
}

/// `parts` of a command line (or a tag) joined with where the job runs:
/// the slot's number, as wide as `{0%}` asks where it asks, the host and
/// the login where `{host}` and `{sshlogin}` ask.
pub fn join_slot(parts: &[Vec<u8>], on: RunsOn<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + on.slot.len());
    for (at, part) in parts.iter().enumerate() {
        let mut part = part.as_slice();
        if at > 0 {
            match part {
                [SLOT_PADDED, code, rest @ ..] if *code >= USER_IN_QUOTES => {
                    match *code {
                        HOST => out.extend_from_slice(on.host),
                        LOGIN => out.extend_from_slice(on.login),
                        USER => out.extend_from_slice(on.user),
                        RANK => out.extend_from_slice(on.rank),
                        HOST_IN_QUOTES => push_in_quotes(on.host, &mut out),
                        _ => push_in_quotes(on.user, &mut out),
                    }
                    part = rest;
                }
                [SLOT_PADDED, width, rest @ ..] => {
                    let zeros = usize::from(*width).saturating_sub(on.slot.len());
                    out.extend(std::iter::repeat_n(b'0', zeros));
                    out.extend_from_slice(on.slot);
                    part = rest;
                }
                _ => out.extend_from_slice(on.slot),
            }
        }
        out.extend_from_slice(part);
    }
    out
}

/// The positions of `--header`'s column names.
fn column_index(columns: &[Vec<u8>]) -> HashMap<&[u8], usize> {
    columns
        .iter()
        .enumerate()
        .map(|(at, name)| (name.as_slice(), at))
        .collect()
}

/// The field at `at` (from 0, or from -1 at the end), if the job has it.
fn field_at(fields: &[Vec<u8>], at: isize) -> Option<&Vec<u8>> {
    let index = if at < 0 {
        fields.len().checked_sub(at.unsigned_abs())
    } else {
        usize::try_from(at).ok()
    };
    index.and_then(|i| fields.get(i))
}

fn last(parts: &mut [Vec<u8>]) -> &mut Vec<u8> {
    parts.last_mut().expect("parts are never empty")
}

fn put(value: &[u8], quoted: bool, out: &mut Vec<u8>) {
    if quoted {
        quote(value, out);
    } else {
        out.extend_from_slice(value);
    }
}

/// The pieces of one word (no whitespace in it).
fn parse_word(
    word: &[u8],
    names: &Names,
    table: &[(&[u8], Field)],
    columns: &HashMap<&[u8], usize>,
) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = Vec::new();
    let mut at = 0;
    'scan: while at < word.len() {
        let rest = &word[at..];
        if let Some((field, len)) = perl_marker(rest) {
            flush(&mut text, &mut pieces);
            pieces.push(Piece::Field(field));
            at += len;
            continue;
        }
        for (name, field) in table {
            if rest.starts_with(name) {
                flush(&mut text, &mut pieces);
                pieces.push(Piece::Field(field.clone()));
                at += name.len();
                continue 'scan;
            }
        }
        if rest[0] == b'{'
            && let Some(close) = rest.iter().position(|&b| b == b'}')
        {
            let braced = &rest[..=close];
            let inner = &rest[1..close];
            let field = match braced_field(inner, columns, names.plus)? {
                None if names.plus => bash_field(inner)?,
                found => found,
            };
            match field {
                Some(field) => {
                    flush(&mut text, &mut pieces);
                    pieces.push(Piece::Field(field));
                    at += braced.len();
                    continue 'scan;
                }
                None if names.renamed_away(braced) => {}
                None => check_unknown(inner)?,
            }
        }
        text.push(rest[0]);
        at += 1;
    }
    flush(&mut text, &mut pieces);
    Ok(pieces)
}

fn flush(text: &mut Vec<u8>, pieces: &mut Vec<Piece>) {
    if !text.is_empty() {
        pieces.push(Piece::Text(std::mem::take(text)));
    }
}

/// A positional (`{2}`, `{-1/.}`) or `--header` (`{name}`, `{name.}`)
/// string, from what is between its braces.
fn braced_field(
    inner: &[u8],
    columns: &HashMap<&[u8], usize>,
    plus: bool,
) -> Result<Option<Field>, String> {
    let edit_of = |suffix: &str| {
        if plus {
            Edit::of_plus_suffix(suffix)
        } else {
            Edit::of_suffix(suffix)
        }
    };
    let Ok(inner) = std::str::from_utf8(inner) else {
        return Ok(None);
    };
    if let Some((number, suffix)) = leading_number(inner) {
        let Some(edit) = edit_of(suffix) else {
            return Ok(None);
        };
        return match position(inner, number)? {
            Some(at) => Ok(Some(Field::At(at, edit))),
            None => Err(format!(
                "{{{inner}}}: positional replacement strings count from {{1}} (and from {{-1}} \
                 at the end)"
            )),
        };
    }
    let plus_suffixes = PLUS_STRINGS.map(plus_suffix);
    let plus_suffixes = if plus { &plus_suffixes[..] } else { &[] };
    for &suffix in ["", ".", "/", "//", "/."].iter().chain(plus_suffixes) {
        if let Some(name) = inner.strip_suffix(suffix)
            && let Some(&at) = columns.get(name.as_bytes())
        {
            let edit = edit_of(suffix).expect("a known suffix");
            // An index into a `Vec` is below `isize::MAX`.
            let at = isize::try_from(at).unwrap_or(isize::MAX);
            return Ok(Some(Field::At(at, edit)));
        }
    }
    Ok(None)
}

/// A `--plus` edit in the manner of bash (`{:-x}`, `{2#a}`), from what is
/// between its braces: a position may come first.
fn bash_field(inner: &[u8]) -> Result<Option<Field>, String> {
    let Ok(inner) = std::str::from_utf8(inner) else {
        return Ok(None);
    };
    let (at, text) = match leading_number(inner) {
        Some((number, text)) => match position(inner, number)? {
            Some(at) => (Some(at), text),
            // `{0...}` is no edit.
            None => return Ok(None),
        },
        None => (None, inner),
    };
    Ok(BashEdit::parse(text)?.map(|edit| Field::Edited(at, Arc::new(edit))))
}

/// The number `inner` (what is between braces) begins with (`2`, `-1`),
/// if any, and what follows it.
fn leading_number(inner: &str) -> Option<(&str, &str)> {
    let sign = usize::from(inner.starts_with('-'));
    let digits = inner[sign..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(inner.len(), |end| end + sign);
    (digits > sign).then(|| inner.split_at(digits))
}

/// The field a position `number` of `inner` stands for: `1` is the index
/// 0, `-1` the last (kept negative, as [`Field::At`] takes it); `0` is
/// `None` (no position counts from 0).
fn position(inner: &str, number: &str) -> Result<Option<isize>, String> {
    let n: isize = number
        .parse()
        .map_err(|_| format!("{{{inner}}}: the position is too large"))?;
    Ok(match n {
        0 => None,
        n if n > 0 => Some(n - 1),
        n => Some(n),
    })
}

/// `line` with each `{= code =}` or `{=N code =}` in it replaced by a
/// marker (a NUL, the code's index and its position, a NUL: no command
/// line holds a NUL), the codes added to `codes`. A `{=` without its `=}`
/// is text.
fn mark_perl(line: &[u8], codes: &mut Vec<String>) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.windows(2).position(|w| w == b"{=") {
        let Some(len) = rest[open + 2..].windows(2).position(|w| w == b"=}") else {
            break;
        };
        let inner = &rest[open + 2..open + 2 + len];
        let digits = usize::from(inner.first() == Some(&b'-'))
            + inner
                .iter()
                .skip(usize::from(inner.first() == Some(&b'-')))
                .take_while(|b| b.is_ascii_digit())
                .count();
        let (position, code) = match std::str::from_utf8(&inner[..digits]) {
            Ok(number) if digits > 0 && number != "-" => {
                let n: isize = number
                    .parse()
                    .map_err(|_| format!("{{={number}: not a position of an input"))?;
                let at = match n {
                    0 => {
                        return Err(format!(
                            "{{={number} ..=}}: inputs count from 1 (or from -1 at the end)"
                        ));
                    }
                    n if n > 0 => n - 1,
                    n => n,
                };
                (Some(at), &inner[digits..])
            }
            _ => (None, inner),
        };
        let code = String::from_utf8(code.to_vec())
            .map_err(|_| "{= perl =}: the code is not UTF-8".to_owned())?;
        out.extend_from_slice(&rest[..open]);
        out.push(0);
        out.extend_from_slice(codes.len().to_string().as_bytes());
        if let Some(at) = position {
            out.extend_from_slice(format!(":{at}").as_bytes());
        }
        out.push(0);
        codes.push(code);
        rest = &rest[open + 2 + len + 2..];
    }
    out.extend_from_slice(rest);
    Ok(out)
}

/// `line` with the strings of `--rpl` written as the Perl strings they
/// stand for: `TAG` as `{= CODE=}` (`{=N CODE=}` for code `N CODE`), and
/// for a tag `{REST`, `{NREST` as `{=N CODE=}`. Perl strings already there are left as they are; the
/// longest tag wins.
pub fn expand_rpl(line: &[u8], rpl: &[(Vec<u8>, String)]) -> Vec<u8> {
    if rpl.is_empty() {
        return line.to_vec();
    }
    let mut tags: Vec<&(Vec<u8>, String)> = rpl.iter().collect();
    tags.sort_by_key(|(tag, _)| std::cmp::Reverse(tag.len()));
    let mut out = Vec::with_capacity(line.len());
    let mut at = 0;
    'scan: while at < line.len() {
        let rest = &line[at..];
        if rest.starts_with(b"{=")
            && let Some(len) = rest[2..].windows(2).position(|w| w == b"=}")
        {
            out.extend_from_slice(&rest[..len + 4]);
            at += len + 4;
            continue;
        }
        for (tag, code) in &tags {
            if rest.starts_with(tag) {
                // A number before the code is a position, as in GNU
                // parallel's own `--rpl '{#} 1 $_=$job->seq()'`.
                let (position, code) = match code.split_once(' ') {
                    Some((n, code)) if n.parse::<isize>().is_ok_and(|n| n != 0) => (n, code),
                    _ => ("", code.as_str()),
                };
                out.extend_from_slice(format!("{{={position} {code}=}}").as_bytes());
                at += tag.len();
                continue 'scan;
            }
            if let Some(after) = tag.strip_prefix(b"{")
                && rest.first() == Some(&b'{')
            {
                let sign = usize::from(rest.get(1) == Some(&b'-'));
                let digits = rest[1 + sign..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits > 0 && rest[1 + sign + digits..].starts_with(after) {
                    let number = String::from_utf8_lossy(&rest[1..=sign + digits]);
                    let code = match code.split_once(' ') {
                        Some((n, code)) if n.parse::<isize>().is_ok() => code,
                        _ => code.as_str(),
                    };
                    out.extend_from_slice(format!("{{={number} {code}=}}").as_bytes());
                    at += 1 + sign + digits + after.len();
                    continue 'scan;
                }
            }
        }
        out.push(rest[0]);
        at += 1;
    }
    out
}

/// The field of a marker of [`mark_perl`] at the start of `rest`, and the
/// marker's length.
fn perl_marker(rest: &[u8]) -> Option<(Field, usize)> {
    if rest.first() != Some(&0) {
        return None;
    }
    let len = rest[1..].iter().position(|&b| b == 0)?;
    let marker = std::str::from_utf8(&rest[1..=len]).ok()?;
    let (index, position) = match marker.split_once(':') {
        Some((index, at)) => (index.parse().ok()?, Some(at.parse().ok()?)),
        None => (marker.parse().ok()?, None),
    };
    Some((Field::Perl(position, index), len + 2))
}

/// Starts `perl` for `codes`, if there are any.
fn start_perl(codes: Vec<String>) -> Result<Option<Arc<PerlExprs>>, String> {
    if codes.is_empty() {
        return Ok(None);
    }
    PerlExprs::start(codes).map(|perl| Some(Arc::new(perl)))
}

/// Fails for what looks like one of GNU parallel's replacement strings
/// but is none that hearth has: `--plus` strings without `--plus`
/// (`{..}`, `{+/}`, `{##}`) and other mixes of `-`, digits and `./#%+`.
/// Anything else in braces (`{print $1}`, `{a,b}`, `{1..3}`) is the
/// command's own.
fn check_unknown(inner: &[u8]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(inner);
    let digits = inner
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'-')
        .count();
    let tail = &inner[digits..];
    if !tail.is_empty() && tail.iter().all(|b| b"./#%+".contains(b)) {
        return Err(format!(
            "{{{shown}}} is not a replacement string hearth map knows (it has {{}} {{.}} {{/}} \
             {{//}} {{/.}} {{#}} {{%}}, {{n}} and {{n.}} {{n/}} {{n//}} {{n/.}}, and with --plus \
             {{..}} {{...}} {{/..}} {{/...}} {{+/}} {{+.}} {{+..}} {{+...}} {{##}} {{0#}} {{0%}})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
