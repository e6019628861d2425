//! `--plus`'s edits of a value in the manner of bash's parameter
//! expansion, as GNU parallel has them: `{:-text}` (the text when the
//! value is empty or `0`), `{:n}` (without its first n characters),
//! `{:n:m}` (m characters from the n-th on), `{#re}` and `{%re}` (without
//! the shortest match at its start or end), `{##re}` and `{%%re}` (the
//! longest), `{/re/text}` and `{//re/text}` (the first match, or every
//! one, replaced), `{/#re/text}` and `{/%re/text}` (a match at the start
//! or end replaced), `{^re}` `{^^re}` (a match at the start,
//! or every one, in upper case) and `{,re}` `{,,re}` (in lower case). The
//! patterns are regular expressions, as GNU parallel's (Perl's) are; a
//! position may come first (`{2:-none}`). Values are bytes: the cases
//! change for ASCII letters, and a character is a byte.

use std::fmt;

use regex::bytes::Regex;

/// One edit, and the text it was made from (for equality and messages).
#[derive(Clone)]
pub struct BashEdit {
    text: String,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Default(Vec<u8>),
    Skip(usize),
    Slice(usize, usize),
    Prefix(Regex),
    Suffix(Regex),
    Replace {
        pattern: Regex,
        with: Vec<u8>,
        all: bool,
    },
    Case {
        pattern: Regex,
        all: bool,
        upper: bool,
    },
}

impl fmt::Debug for BashEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BashEdit({:?})", self.text)
    }
}

impl PartialEq for BashEdit {
    fn eq(&self, other: &BashEdit) -> bool {
        self.text == other.text
    }
}

impl Eq for BashEdit {}

/// `re` with its quantifiers (`*`, `+`, `?`'s and `{n,m}`'s) made lazy
/// where they are not, outside classes and escapes: GNU parallel's
/// `make_regexp_ungreedy`, for the shortest matches of `{#re}` and
/// `{%re}`.
fn ungreedy(re: &str) -> String {
    let mut out = String::with_capacity(re.len() + 4);
    let (mut in_class, mut escaped, mut quantified) = (false, false, false);
    for c in re.chars() {
        if quantified {
            if c != '?' {
                out.push('?');
            }
            quantified = false;
        }
        out.push(c);
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '[' {
            in_class = true;
        } else if in_class {
            in_class = c != ']';
        } else if matches!(c, '*' | '+' | '}') {
            quantified = true;
        }
    }
    if quantified {
        out.push('?');
    }
    out
}

/// A replacement text taken as it is: `$` is no group of the match.
fn escaped(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &b in text {
        if b == b'$' {
            out.push(b'$');
        }
        out.push(b);
    }
    out
}

/// A regular expression of an edit, or why it is none.
fn pattern(text: &str, anchor: &str, whole: &str) -> Result<Regex, String> {
    let source = match anchor {
        "start" => format!("^(?:{text})"),
        "end" => format!("(?:{text})$"),
        _ => format!("(?:{text})"),
    };
    Regex::new(&source)
        .map_err(|err| format!("{{{whole}}}: {text:?} is not a regular expression: {err}"))
}

impl BashEdit {
    /// The edit `text` (what follows the position between the braces)
    /// stands for; `None` when it is none of these edits.
    pub fn parse(text: &str) -> Result<Option<BashEdit>, String> {
        let kind = if let Some(default) = text.strip_prefix(":-") {
            Kind::Default(default.as_bytes().to_vec())
        } else if let Some(numbers) = text.strip_prefix(':') {
            let number = |n: &str| n.parse::<usize>().ok();
            match numbers.split_once(':') {
                None => match number(numbers) {
                    Some(n) => Kind::Skip(n),
                    None => return Ok(None),
                },
                Some((from, len)) => match (number(from), number(len)) {
                    (Some(from), Some(len)) => Kind::Slice(from, len),
                    _ => return Ok(None),
                },
            }
        } else if let Some(re) = text.strip_prefix("##").filter(|re| !re.is_empty()) {
            // The longest match at the start.
            Kind::Prefix(pattern(re, "start", text)?)
        } else if let Some(re) = text.strip_prefix('#').filter(|re| !re.is_empty()) {
            // The shortest: its quantifiers made lazy, as GNU parallel's.
            Kind::Prefix(pattern(&ungreedy(re), "start", text)?)
        } else if let Some(re) = text.strip_prefix("%%").filter(|re| !re.is_empty()) {
            // The longest match at the end: the first that ends there.
            Kind::Suffix(pattern(re, "end", text)?)
        } else if let Some(re) = text.strip_prefix('%').filter(|re| !re.is_empty()) {
            // The shortest: as much as can be kept before a lazy match.
            let kept = format!("^(.*)(?:{})$", ungreedy(re));
            let pattern = Regex::new(&kept)
                .map_err(|err| format!("{{{text}}}: {re:?} is not a regular expression: {err}"))?;
            Kind::Replace {
                pattern,
                with: b"${1}".to_vec(),
                all: false,
            }
        } else if let Some(rest) = text.strip_prefix('/') {
            let (anchor, all, rest) = match rest.as_bytes().first() {
                Some(b'/') => ("", true, &rest[1..]),
                Some(b'#') => ("start", false, &rest[1..]),
                Some(b'%') => ("end", false, &rest[1..]),
                _ => ("", false, rest),
            };
            let Some((re, with)) = rest.split_once('/').filter(|(re, _)| !re.is_empty()) else {
                return Ok(None);
            };
            Kind::Replace {
                pattern: pattern(re, anchor, text)?,
                with: escaped(with.as_bytes()),
                all,
            }
        } else if let Some((upper, rest)) = text
            .strip_prefix('^')
            .map(|rest| (true, rest))
            .or_else(|| text.strip_prefix(',').map(|rest| (false, rest)))
        {
            let mark = if upper { '^' } else { ',' };
            let (all, re) = match rest.strip_prefix(mark) {
                Some(re) => (true, re),
                None => (false, rest),
            };
            if re.is_empty() {
                return Ok(None);
            }
            let anchor = if all { "" } else { "start" };
            Kind::Case {
                pattern: pattern(re, anchor, text)?,
                all,
                upper,
            }
        } else {
            return Ok(None);
        };
        Ok(Some(BashEdit {
            text: text.to_owned(),
            kind,
        }))
    }

    /// `value` edited.
    pub fn apply(&self, value: &[u8]) -> Vec<u8> {
        match &self.kind {
            // Perl's `||=`: an empty value and `0` are false.
            Kind::Default(text) if value.is_empty() || value == b"0" => text.clone(),
            Kind::Default(_) => value.to_vec(),
            Kind::Skip(n) => value.get(*n..).unwrap_or_default().to_vec(),
            Kind::Slice(from, len) => match value.get(*from..) {
                Some(rest) => rest[..rest.len().min(*len)].to_vec(),
                None => Vec::new(),
            },
            Kind::Prefix(re) | Kind::Suffix(re) => re.replace(value, &b""[..]).into_owned(),
            Kind::Replace { pattern, with, all } => {
                let with = with.as_slice();
                if *all {
                    pattern.replace_all(value, with).into_owned()
                } else {
                    pattern.replace(value, with).into_owned()
                }
            }
            Kind::Case {
                pattern,
                all,
                upper,
            } => {
                let change = |found: &regex::bytes::Captures<'_>| {
                    if *upper {
                        found[0].to_ascii_uppercase()
                    } else {
                        found[0].to_ascii_lowercase()
                    }
                };
                if *all {
                    pattern.replace_all(value, change).into_owned()
                } else {
                    pattern.replace(value, change).into_owned()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BashEdit;

    /// The edit of `text` on `value`, as text.
    fn edited(text: &str, value: &str) -> String {
        let edit = BashEdit::parse(text).unwrap().unwrap();
        String::from_utf8(edit.apply(value.as_bytes())).unwrap()
    }

    #[test]
    fn edits_as_gnu_parallel_makes_them() {
        // What GNU parallel 20221122 --plus prints for abcaz, '' and Az.
        for (text, want) in [
            (":-def", ["abcaz", "def", "Az"]),
            (":2", ["caz", "", ""]),
            (":1:2", ["bc", "", "z"]),
            ("#a", ["bcaz", "", "Az"]),
            ("%z", ["abca", "", "A"]),
            ("/a/X", ["Xbcaz", "", "Az"]),
            ("//a/X", ["XbcXz", "", "Az"]),
            ("^a", ["Abcaz", "", "Az"]),
            ("^^a", ["AbcAz", "", "Az"]),
            (",A", ["abcaz", "", "az"]),
            (",,A", ["abcaz", "", "az"]),
        ] {
            for (value, want) in ["abcaz", "", "Az"].into_iter().zip(want) {
                assert_eq!(edited(text, value), want, "{{{text}}} of {value:?}");
            }
        }
        assert_eq!(edited(":-d", "0"), "d", "0 is false, as in Perl");
    }

    /// GNU parallel's own examples: `#` and `%` the shortest match, `##`
    /// and `%%` the longest; `/#` and `/%` anchored.
    #[test]
    fn shortest_and_longest_matches() {
        for (text, value, want) in [
            ("%.z.*z", "foo.z.z.z", "foo.z"),
            ("%%.z.*z", "foo.z.z.z", "foo"),
            ("#z.*z.", "z.z.z.foo", "z.foo"),
            ("##z.*z.", "z.z.z.foo", "foo"),
            ("%\\..*", "a.b.c", "a.b"),
            ("%%\\..*", "a.b.c", "a"),
            ("/#a/X", "aba", "Xba"),
            ("/%a/X", "aba", "abX"),
            ("/a/$1", "aba", "$1ba"),
            ("%[a-z]+", "ab12cd", "ab12c"),
        ] {
            assert_eq!(edited(text, value), want, "{{{text}}} of {value:?}");
        }
    }

    #[test]
    fn what_is_no_edit_and_bad_patterns() {
        for text in ["", "x", ":", ":a", ":1:b", "#", "%", "/a", "//", "^", ",,"] {
            assert!(BashEdit::parse(text).unwrap().is_none(), "{text:?}");
        }
        let err = BashEdit::parse("#(").unwrap_err();
        assert!(err.contains("is not a regular expression"), "{err}");
    }
}
