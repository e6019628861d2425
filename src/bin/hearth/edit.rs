//! How `hearth map` changes a value for a replacement string (`{.}`,
//! `{/}`, `{//}`, `{/.}`, as GNU parallel does) and quotes it for `sh`
//! (as GNU parallel quotes it).

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

    /// `value` edited.
    pub fn apply(self, value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
        use std::borrow::Cow;
        match self {
            Edit::Whole => Cow::Borrowed(value),
            Edit::NoExt => Cow::Borrowed(no_ext(value)),
            Edit::Base => Cow::Borrowed(base(value)),
            Edit::Dir => Cow::Owned(dirname(value)),
            Edit::BaseNoExt => Cow::Borrowed(no_ext(base(value))),
        }
    }
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
    for &b in value {
        if b == b'\'' {
            quoted.extend_from_slice(b"'\"'\"'");
        } else {
            quoted.push(b);
        }
    }
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
