//! How `hearth map` changes a value for a replacement string (`{.}`,
//! `{/}`, `{//}`, `{/.}`, and with `--plus` `{..}`, `{...}`, `{/..}`,
//! `{/...}`, `{+/}`, `{+.}`, `{+..}`, `{+...}`, as GNU parallel does) and
//! quotes it for `sh` (as GNU parallel quotes it).

/// How a field's value is changed before it is quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// As it is.
    Whole,
    /// Without its extension (`{.}`).
    NoExt,
    /// Its last path component (`{/}`).
    Base,
    /// Its directory (`{//}`).
    Dir,
    /// Its last path component without the extension (`{/.}`).
    BaseNoExt,
    /// Without its last 2 or 3 extensions, when it has that many (`--plus`'s
    /// `{..}`, `{...}`).
    NoExts(u8),
    /// Its last path component without its last 2 or 3 extensions
    /// (`{/..}`, `{/...}`).
    BaseNoExts(u8),
    /// Before its last `/`, empty without one (`{+/}`).
    DirPart,
    /// Its last 1, 2 or 3 extensions, empty without them (`{+.}`, `{+..}`,
    /// `{+...}`).
    Exts(u8),
}

impl Edit {
    /// The edit a suffix of a positional or named string stands for
    /// (`""`, `.`, `/`, `//`, `/.`).
    pub fn of_suffix(suffix: &str) -> Option<Edit> {
        Some(match suffix {
            "" => Edit::Whole,
            "." => Edit::NoExt,
            "/" => Edit::Base,
            "//" => Edit::Dir,
            "/." => Edit::BaseNoExt,
            _ => return None,
        })
    }

    /// The edit of a `--plus` suffix (one of [`PLUS_STRINGS`] without its
    /// braces), or of a plain one.
    pub fn of_plus_suffix(suffix: &str) -> Option<Edit> {
        Some(match suffix {
            ".." => Edit::NoExts(2),
            "..." => Edit::NoExts(3),
            "/.." => Edit::BaseNoExts(2),
            "/..." => Edit::BaseNoExts(3),
            "+/" => Edit::DirPart,
            "+." => Edit::Exts(1),
            "+.." => Edit::Exts(2),
            "+..." => Edit::Exts(3),
            plain => return Edit::of_suffix(plain),
        })
    }

    /// `value` edited.
    pub fn apply(self, value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
        use std::borrow::Cow;
        match self {
            Edit::Whole => Cow::Borrowed(value),
            Edit::NoExt => Cow::Borrowed(no_ext(value)),
            Edit::Base => Cow::Borrowed(base(value)),
            Edit::Dir => Cow::Owned(dirname(value)),
            Edit::BaseNoExt => Cow::Borrowed(no_ext(base(value))),
            Edit::NoExts(n) => Cow::Borrowed(exts_split(value, n).map_or(value, |(at, _)| at)),
            Edit::BaseNoExts(n) => {
                let base = base(value);
                Cow::Borrowed(exts_split(base, n).map_or(base, |(at, _)| at))
            }
            Edit::DirPart => Cow::Borrowed(
                value
                    .iter()
                    .rposition(|&b| b == b'/')
                    .map_or(&value[..0], |at| &value[..at]),
            ),
            // After the last `.`, wherever it is, as GNU parallel's.
            Edit::Exts(1) => Cow::Borrowed(
                value
                    .iter()
                    .rposition(|&b| b == b'.')
                    .map_or(&value[..0], |at| &value[at + 1..]),
            ),
            Edit::Exts(n) => Cow::Borrowed(exts_split(value, n).map_or(&value[..0], |(_, e)| e)),
        }
    }
}

/// `--plus`'s strings of path edits, as they stand in a command; between
/// the braces, each is also a suffix after a position (`{1..}`) or a
/// `--header` name.
pub const PLUS_STRINGS: [&str; 8] = [
    "{..}", "{...}", "{/..}", "{/...}", "{+/}", "{+.}", "{+..}", "{+...}",
];

/// A string of [`PLUS_STRINGS`] without its braces.
pub fn plus_suffix(string: &'static str) -> &'static str {
    &string[1..string.len() - 1]
}

/// `value` cut before its last `n` extensions (`.` and any bytes other
/// than `.` and `/`, each, none too: `x..` has two), and those extensions
/// without their first `.`; `None` when it has fewer. As GNU parallel's
/// `--plus` strings cut.
fn exts_split(value: &[u8], n: u8) -> Option<(&[u8], &[u8])> {
    let mut end = value.len();
    for _ in 0..n {
        let dot = value[..end].iter().rposition(|&b| b == b'.' || b == b'/')?;
        if value[dot] != b'.' {
            return None;
        }
        end = dot;
    }
    Some((&value[..end], &value[end + 1..]))
}

/// Without the extension: the last `.` and what follows it, when no `/`
/// or `.` follows (`a.b.c` → `a.b`, `.bashrc` → empty, `dir.d/f` stays).
fn no_ext(value: &[u8]) -> &[u8] {
    match value.iter().rposition(|&b| b == b'.' || b == b'/') {
        Some(at) if value[at] == b'.' => &value[..at],
        _ => value,
    }
}

/// After the last `/` (`a/b/` → empty).
fn base(value: &[u8]) -> &[u8] {
    match value.iter().rposition(|&b| b == b'/') {
        Some(at) => &value[at + 1..],
        None => value,
    }
}

/// The directory, as dirname(1) and Perl's `File::Basename::dirname` give
/// it: `a/b` → `a`, `a/b/` → `a`, `/r` → `/`, `f` and an empty value → `.`.
fn dirname(value: &[u8]) -> Vec<u8> {
    /// (directory with its trailing `/`, or `./`; the rest).
    fn split(value: &[u8]) -> (&[u8], &[u8]) {
        match value.iter().rposition(|&b| b == b'/') {
            Some(at) => (&value[..=at], &value[at + 1..]),
            None => (b"./", value),
        }
    }
    /// Trailing `/`s off, keeping the first byte.
    fn strip(dir: &[u8]) -> &[u8] {
        let keep = dir.iter().rposition(|&b| b != b'/').map_or(1, |at| at + 1);
        &dir[..keep.max(1).min(dir.len())]
    }
    let (dir, rest) = split(value);
    let mut dir = strip(dir);
    if rest.is_empty() {
        dir = strip(split(dir).0);
    }
    dir.to_vec()
}

/// Appends `value` as it goes between single quotes for `sh`: a `'` as
/// `'"'"'` (the quote closed, a quoted quote, the quote opened again).
pub fn push_in_quotes(value: &[u8], out: &mut Vec<u8>) {
    for &b in value {
        if b == b'\'' {
            out.extend_from_slice(b"'\"'\"'");
        } else {
            out.push(b);
        }
    }
}

/// Quotes `value` for `sh` as GNU parallel does: as it is when it holds
/// only `-_.+/`, letters and digits, else in single quotes (a `'` inside
/// as `'"'"'`); empty as `''`.
pub fn quote(value: &[u8], out: &mut Vec<u8>) {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"-_.+/".contains(b);
    if value.is_empty() {
        out.extend_from_slice(b"''");
        return;
    }
    if value.iter().all(plain) {
        out.extend_from_slice(value);
        return;
    }
    let mut quoted = Vec::with_capacity(value.len() + 2);
    quoted.push(b'\'');
    push_in_quotes(value, &mut quoted);
    quoted.push(b'\'');
    // `''` at either end says nothing.
    let mut body = quoted.as_slice();
    if body.starts_with(b"''") {
        body = &body[2..];
    }
    if body.ends_with(b"''") {
        body = &body[..body.len() - 2];
    }
    out.extend_from_slice(body);
}
