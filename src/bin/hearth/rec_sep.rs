//! `--remove-rec-sep` (`--rrs`, `--removerecsep`): with `--pipe`, each
//! block loses its record separators before its job gets it, as GNU
//! parallel removes them (with `--pipe-part` GNU parallel leaves the parts
//! as they are, and so does hearth):
//!
//! 1. every `--recend` followed by `--recstart` (with the defaults, every
//!    newline);
//! 2. a `--recstart` at the start of the block;
//! 3. a `--recend` at its end, or right before a newline that ends it
//!    (Perl's `$`, which matches there too).
//!
//! With `--regexp` the separators are regular expressions, the first step
//! matching them with `^` and `$` at line ends, as Perl's `/m` does.

use regex::bytes::Regex;

/// What is removed from each block.
#[derive(Debug)]
pub enum RecordSeparators {
    /// Plain strings (with `\n` and the like read as GNU parallel reads
    /// them).
    Strings { recend: Vec<u8>, recstart: Vec<u8> },
    /// `--regexp`.
    Regexes {
        /// `RECEND RECSTART`, anywhere.
        between: Regex,
        /// `RECSTART` at the start.
        leading: Regex,
        /// `RECEND` before a last newline.
        before_last_newline: Regex,
        /// `RECEND` at the end.
        trailing: Regex,
    },
}

impl RecordSeparators {
    /// The separators of `--recend` and `--recstart` (given or not, as
    /// `--pipe` takes them), plain or (`regexp`) regular expressions.
    pub fn new(
        recend: Option<&str>,
        recstart: Option<&str>,
        regexp: bool,
    ) -> Result<RecordSeparators, String> {
        let (recend, recstart) = crate::pipe::separators(recend, recstart);
        if !regexp {
            return Ok(RecordSeparators::Strings {
                recend: crate::pipe::unescape(recend),
                recstart: crate::pipe::unescape(recstart),
            });
        }
        let compile = |pattern: String| {
            Regex::new(&pattern).map_err(|err| {
                format!(
                    "--remove-rec-sep with --recend {recend:?} / --recstart {recstart:?}: not a \
                     regular expression: {err}"
                )
            })
        };
        Ok(RecordSeparators::Regexes {
            between: compile(format!("(?m)(?:{recend})(?:{recstart})"))?,
            leading: compile(format!("(?s)\\A(?:{recstart})"))?,
            before_last_newline: compile(format!("(?s)(?:{recend})\\n\\z"))?,
            trailing: compile(format!("(?s)(?:{recend})\\z"))?,
        })
    }

    /// Removes the separators from `block`.
    pub fn remove_from(&self, block: &mut Vec<u8>) {
        match self {
            RecordSeparators::Strings { recend, recstart } => {
                let between = [&recend[..], &recstart[..]].concat();
                if !between.is_empty() {
                    *block = replace_all(block, &between);
                }
                if !recstart.is_empty() && block.starts_with(recstart) {
                    drop(block.drain(..recstart.len()));
                }
                if !recend.is_empty() {
                    let len = block.len();
                    let before_newline = block
                        .strip_suffix(b"\n")
                        .is_some_and(|rest| rest.ends_with(recend));
                    if before_newline {
                        drop(block.drain(len - 1 - recend.len()..len - 1));
                    } else if block.ends_with(recend) {
                        block.truncate(len - recend.len());
                    }
                }
            }
            RecordSeparators::Regexes {
                between,
                leading,
                before_last_newline,
                trailing,
            } => {
                let removed = between.replace_all(block, &b""[..]).into_owned();
                *block = removed;
                if let Some(found) = leading.find(block).filter(|m| !m.is_empty()) {
                    drop(block.drain(..found.end()));
                }
                if let Some(found) = before_last_newline.find(block).filter(|m| m.len() > 1) {
                    let (start, end) = (found.start(), found.end() - 1);
                    drop(block.drain(start..end));
                } else if let Some(found) = trailing.find(block).filter(|m| !m.is_empty()) {
                    block.truncate(found.start());
                }
            }
        }
    }
}

/// The separators `--remove-rec-sep` removes, if it is given.
pub fn of_args(args: &crate::MapArgs) -> Result<Option<RecordSeparators>, String> {
    if !args.blocks.remove_rec_sep {
        return Ok(None);
    }
    RecordSeparators::new(
        args.blocks.recend.as_deref(),
        args.blocks.recstart.as_deref(),
        args.blocks.regexp,
    )
    .map(Some)
}

/// The `blocks` of `--pipe`, without their separators if `remove` says
/// which.
pub fn removed(
    blocks: impl Iterator<Item = Result<Vec<u8>, String>> + Send,
    remove: Option<RecordSeparators>,
) -> impl Iterator<Item = Result<Vec<u8>, String>> + Send {
    blocks.map(move |block| {
        block.map(|mut block| {
            if let Some(remove) = &remove {
                remove.remove_from(&mut block);
            }
            block
        })
    })
}

/// `bytes` without any of the non-overlapping `pattern`s, left to right.
fn replace_all(bytes: &[u8], pattern: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(pattern.len()).position(|w| w == pattern) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + pattern.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removed(recend: Option<&str>, recstart: Option<&str>, regexp: bool, block: &str) -> String {
        let mut bytes = block.as_bytes().to_vec();
        RecordSeparators::new(recend, recstart, regexp)
            .unwrap()
            .remove_from(&mut bytes);
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn separators_go_as_gnu_parallel_removes_them() {
        // The defaults: every newline.
        assert_eq!(removed(None, None, false, "a\nb\nc\n"), "abc");
        // A start and an end: between records, first and last.
        assert_eq!(removed(Some("]"), Some("["), false, "[a][b][c]"), "abc");
        // An end before a last newline is an end (Perl's `$`).
        assert_eq!(removed(Some("E"), Some("S"), false, "SaESbE\n"), "ab\n");
        assert_eq!(removed(Some("\\n"), Some(">"), false, ">a\n>b\n"), "ab");
        // Regular expressions.
        assert_eq!(removed(Some("E+"), Some("S+"), true, "SSaEESbEE"), "ab");
        assert_eq!(removed(Some("\\n"), None, true, "a\nb\n"), "ab");
    }
}
