//! The Redis protocol (RESP2) as the benchmark's servers speak it: a
//! connection's input buffer ([`Input`]) that yields one [`Request`] at a
//! time from pipelined bytes, and the encoding of a [`Reply`].
//!
//! Requests come as multibulk arrays (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`, as
//! every client library and `redis-benchmark` send them) or as inline lines
//! (`PING\r\n`, as `redis-benchmark -t ping` and telnet send them; split on
//! whitespace, without Redis's quoting). Bad input is never a panic: it is
//! a [`ProtocolError`], which the server answers as Redis does (`-ERR
//! Protocol error: ...`) before it closes the connection. Limits: 1,024
//! arguments, 512 KiB per argument, 1 MiB per request, 64 KiB per inline
//! line.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

use super::store::Command;

/// Most arguments a request may have.
const MAX_ARGS: usize = 1024;
/// Longest argument.
const MAX_BULK: usize = 512 * 1024;
/// Longest request, all its arguments together.
const MAX_REQUEST: usize = 1024 * 1024;
/// Longest inline request, or line of a multibulk header.
const MAX_INLINE: usize = 64 * 1024;
/// Size of a new connection's buffer; it grows for long requests.
const INITIAL_BUFFER: usize = 16 * 1024;

/// A request as the connection sees it: for the store, or answered at once.
#[derive(Debug, PartialEq)]
pub(crate) enum Request {
    /// `GET`, `SET` or `INCR`: the store answers.
    Store(Command),
    /// `PING`, `CONFIG GET`, or a refused command: answered by the
    /// connection itself.
    Local(Reply),
}

/// An answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Reply {
    /// `+OK`.
    Ok,
    /// `+PONG`.
    Pong,
    /// An integer (`:N`).
    Int(i64),
    /// A bulk string, or nil (`$-1`) for a missing key.
    Value(Option<Bytes>),
    /// An array of bulk strings.
    Array(Vec<Bytes>),
    /// `-ERR ...`: the text after the `-`, one line.
    Error(String),
}

impl Reply {
    /// Appends the reply's bytes to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Ok => out.extend_from_slice(b"+OK\r\n"),
            Reply::Pong => out.extend_from_slice(b"+PONG\r\n"),
            Reply::Int(n) => {
                out.push(b':');
                out.extend_from_slice(n.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Reply::Value(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Value(Some(value)) => bulk(value, out),
            Reply::Array(values) => {
                header(b'*', values.len(), out);
                for value in values {
                    bulk(value, out);
                }
            }
            Reply::Error(text) => {
                out.push(b'-');
                // One line, whatever the client sent that it repeats.
                out.extend(text.bytes().map(|b| if b < b' ' { b' ' } else { b }));
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

fn bulk(value: &[u8], out: &mut Vec<u8>) {
    header(b'$', value.len(), out);
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn header(kind: u8, len: usize, out: &mut Vec<u8>) {
    out.push(kind);
    out.extend_from_slice(len.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Input the protocol does not allow; the connection answers it and
/// closes (Redis's own wording after `Protocol error: `).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProtocolError(&'static str);

impl ProtocolError {
    /// The error reply to send before closing.
    pub(crate) fn reply(&self) -> Reply {
        Reply::Error(format!("ERR Protocol error: {}", self.0))
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

/// A connection's input: bytes read and not yet taken as requests.
#[derive(Debug)]
pub(crate) struct Input {
    buf: Vec<u8>,
    /// Start of the bytes not yet taken.
    start: usize,
    /// End of the bytes read.
    end: usize,
    /// The arguments of the request being parsed, as ranges of `buf`.
    args: Vec<Range<usize>>,
}

impl Default for Input {
    fn default() -> Input {
        Input {
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            args: Vec::new(),
        }
    }
}

impl Input {
    /// Room to read into: never empty (a request cannot outgrow the buffer,
    /// [`Input::next`] refuses it first).
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
        &mut self.buf[self.end..]
    }

    /// Takes `n` bytes read into [`Input::spare`].
    pub(crate) fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// The next complete request, `None` until more bytes are read.
    ///
    /// # Errors
    ///
    /// A [`ProtocolError`] for input that is not a request; the connection
    /// answers it and closes.
    pub(crate) fn next(&mut self) -> Result<Option<Request>, ProtocolError> {
        loop {
            let pending = &self.buf[self.start..self.end];
            let Some(len) = parse(pending, &mut self.args)? else {
                if pending.len() >= MAX_REQUEST {
                    return Err(ProtocolError("request too large"));
                }
                return Ok(None);
            };
            let args: Vec<&[u8]> = self.args.iter().map(|r| &pending[r.clone()]).collect();
            let request = (!args.is_empty()).then(|| Request::from_args(&args));
            self.start += len;
            // An empty request (`*0`, a blank line) gets no answer.
            if let Some(request) = request {
                return Ok(Some(request));
            }
        }
    }
}

/// Parses one request at the start of `buf` into `args` (ranges of
/// `buf`): its length, or `None` if it is not complete yet.
pub(crate) fn parse(
    buf: &[u8],
    args: &mut Vec<Range<usize>>,
) -> Result<Option<usize>, ProtocolError> {
    args.clear();
    match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(buf, args),
        Some(_) => parse_inline(buf, args),
    }
}

/// `*N\r\n` then N times `$LEN\r\nBYTES\r\n`.
fn parse_multibulk(
    buf: &[u8],
    args: &mut Vec<Range<usize>>,
) -> Result<Option<usize>, ProtocolError> {
    let Some((count, mut at)) = line_number(buf, 1, "too big mbulk count string")? else {
        return Ok(None);
    };
    let count = match count {
        Some(n) if n <= 0 => return Ok(Some(at)),
        Some(n) => usize::try_from(n).ok().filter(|&n| n <= MAX_ARGS),
        None => None,
    }
    .ok_or(ProtocolError("invalid multibulk length"))?;
    for _ in 0..count {
        match buf.get(at) {
            None => return Ok(None),
            Some(b'$') => {}
            Some(_) => return Err(ProtocolError("expected '$'")),
        }
        let Some((len, data)) = line_number(buf, at + 1, "too big bulk count string")? else {
            return Ok(None);
        };
        let len = len
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= MAX_BULK)
            .ok_or(ProtocolError("invalid bulk length"))?;
        let end = data + len;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError("expected CRLF after a bulk string"));
        }
        args.push(data..end);
        at = end + 2;
    }
    Ok(Some(at))
}

/// The number on the line that starts at `from` (after its type byte),
/// and where the next line starts; `None` if the line is not complete.
/// The number is `None` if it is not one.
fn line_number(
    buf: &[u8],
    from: usize,
    too_long: &'static str,
) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    let rest = buf.get(from..).unwrap_or_default();
    let Some(cr) = rest.iter().position(|&b| b == b'\r') else {
        if rest.len() > MAX_INLINE {
            return Err(ProtocolError(too_long));
        }
        return Ok(None);
    };
    match rest.get(cr + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err(ProtocolError("expected CRLF")),
    }
    Ok(Some((number(&rest[..cr]), from + cr + 2)))
}

/// A decimal integer, optionally negative, that fits an `i64`.
fn number(digits: &[u8]) -> Option<i64> {
    let (negative, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits
        .iter()
        .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
    Some(if negative { -value } else { value })
}

/// A line of words separated by spaces or tabs, ended by `\n` or `\r\n`.
fn parse_inline(buf: &[u8], args: &mut Vec<Range<usize>>) -> Result<Option<usize>, ProtocolError> {
    let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError("too big inline request"));
        }
        return Ok(None);
    };
    let line_end = if newline > 0 && buf[newline - 1] == b'\r' {
        newline - 1
    } else {
        newline
    };
    let mut at = 0;
    while at < line_end {
        let word = buf[at..line_end]
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map(|skip| at + skip);
        let Some(start) = word else { break };
        let end = buf[start..line_end]
            .iter()
            .position(u8::is_ascii_whitespace)
            .map_or(line_end, |len| start + len);
        if args.len() == MAX_ARGS {
            return Err(ProtocolError("too many arguments in an inline request"));
        }
        args.push(start..end);
        at = end;
    }
    Ok(Some(newline + 1))
}

impl Request {
    /// The request `args` (at least one) make: the command's name is the
    /// first, in any case.
    fn from_args(args: &[&[u8]]) -> Request {
        let name = args[0].to_ascii_uppercase();
        let local = Request::Local;
        match (name.as_slice(), args.len()) {
            (b"GET", 2) => Request::Store(Command::Get(Bytes::copy_from_slice(args[1]))),
            (b"SET", 3) => Request::Store(Command::Set(
                Bytes::copy_from_slice(args[1]),
                Bytes::copy_from_slice(args[2]),
            )),
            (b"INCR", 2) => Request::Store(Command::Incr(Bytes::copy_from_slice(args[1]))),
            // SET's options (EX, NX, ...) are not implemented.
            (b"SET", n) if n > 3 => local(Reply::Error("ERR syntax error".to_owned())),
            (b"PING", 1) => local(Reply::Pong),
            (b"PING", 2) => local(Reply::Value(Some(Bytes::copy_from_slice(args[1])))),
            (b"CONFIG", n) if n >= 2 => local(config(args)),
            (b"GET" | b"SET" | b"INCR" | b"PING" | b"CONFIG", _) => local(Reply::Error(format!(
                "ERR wrong number of arguments for '{}' command",
                shown(args[0]).to_ascii_lowercase()
            ))),
            _ => local(Reply::Error(format!(
                "ERR unknown command '{}'",
                shown(args[0])
            ))),
        }
    }
}

/// `CONFIG GET save` and `CONFIG GET appendonly`, which `redis-benchmark`
/// asks first: this server keeps nothing on disk. Other parameters are
/// unknown (an empty array, as Redis answers).
fn config(args: &[&[u8]]) -> Reply {
    if !args[1].eq_ignore_ascii_case(b"GET") {
        return Reply::Error(format!(
            "ERR unknown subcommand '{}'. Try CONFIG HELP.",
            shown(args[1])
        ));
    }
    if args.len() != 3 {
        return Reply::Error("ERR wrong number of arguments for 'config|get' command".to_owned());
    }
    let value: &'static [u8] = match args[2].to_ascii_lowercase().as_slice() {
        b"save" => b"",
        b"appendonly" => b"no",
        _ => return Reply::Array(Vec::new()),
    };
    Reply::Array(vec![
        Bytes::copy_from_slice(args[2]),
        Bytes::from_static(value),
    ])
}

/// A client's bytes as text for an error message: at most 128 bytes.
fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(128)]).into_owned()
}
