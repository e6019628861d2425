//! Checks of a running server over a plain socket, written so that
//! `redis-server` passes them too (the smoke run checks it, so the
//! benchmark's servers answer as Redis does): [`quick`] before each
//! measured run, [`after_load`] after it, [`thorough`] in the smoke run (pipelining, requests split
//! over many writes, binary keys, errors, and the connection closed after
//! a protocol error).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A reply as the client reads it.
#[derive(Debug, PartialEq)]
enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Value>),
}

fn bulk(value: &[u8]) -> Value {
    Value::Bulk(Some(value.to_vec()))
}

fn ok() -> Value {
    Value::Simple("OK".to_owned())
}

fn pong() -> Value {
    Value::Simple("PONG".to_owned())
}

/// A connection to the server under test.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Result<Client, String> {
        let stream = TcpStream::connect(addr).map_err(|err| format!("connecting: {err}"))?;
        // A generous guard: a server that does not answer fails the check.
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|err| err.to_string())?;
        let writer = stream.try_clone().map_err(|err| err.to_string())?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(bytes)
            .map_err(|err| format!("sending: {err}"))
    }

    /// Sends `bytes` one at a time.
    fn trickle(&mut self, bytes: &[u8]) -> Result<(), String> {
        bytes.chunks(1).try_for_each(|byte| self.send(byte))
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        let _ = self
            .reader
            .read_line(&mut line)
            .map_err(|err| format!("reading a reply: {err}"))?;
        line.strip_suffix("\r\n")
            .map(str::to_owned)
            .ok_or_else(|| format!("reply line {line:?} does not end in CRLF"))
    }

    fn reply(&mut self) -> Result<Value, String> {
        let line = self.line()?;
        let (kind, rest) = line.split_at(line.len().min(1));
        let number = || {
            rest.parse::<i64>()
                .map_err(|_| format!("bad length in {line:?}"))
        };
        Ok(match kind {
            "+" => Value::Simple(rest.to_owned()),
            "-" => Value::Error(rest.to_owned()),
            ":" => Value::Int(number()?),
            "$" if number()? < 0 => Value::Bulk(None),
            "$" => {
                let len = usize::try_from(number()?).map_err(|_| "negative bulk length")?;
                let mut value = vec![0; len + 2];
                self.reader
                    .read_exact(&mut value)
                    .map_err(|err| format!("reading a bulk reply: {err}"))?;
                if value.split_off(value.len() - 2) != b"\r\n" {
                    return Err("bulk reply without CRLF".to_owned());
                }
                Value::Bulk(Some(value))
            }
            "*" => {
                let len = number()?.max(0);
                Value::Array((0..len).map(|_| self.reply()).collect::<Result<_, _>>()?)
            }
            _ => return Err(format!("not a reply: {line:?}")),
        })
    }

    fn expect(&mut self, what: &str, wanted: Value) -> Result<(), String> {
        let got = self.reply()?;
        if got == wanted {
            Ok(())
        } else {
            Err(format!("{what}: wanted {wanted:?}, got {got:?}"))
        }
    }

    fn expect_error(&mut self, what: &str, prefix: &str) -> Result<(), String> {
        match self.reply()? {
            Value::Error(text) if text.starts_with(prefix) => Ok(()),
            got => Err(format!(
                "{what}: wanted an error {prefix:?}..., got {got:?}"
            )),
        }
    }

    /// The server closed the connection, with nothing more to say.
    fn expect_closed(&mut self, what: &str) -> Result<(), String> {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) if rest.is_empty() => Ok(()),
            Ok(_) => Err(format!("{what}: more after the error: {rest:?}")),
            Err(err) => Err(format!("{what}: the connection did not close: {err}")),
        }
    }
}

/// A request as a multibulk array.
fn request(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A key of this check run, unlike any other's.
fn key(name: &str) -> Vec<u8> {
    format!("check:{}:{name}", std::process::id()).into_bytes()
}

/// SET, GET and PING, pipelined.
pub(crate) fn quick(addr: SocketAddr) -> Result<(), String> {
    let mut client = Client::connect(addr)?;
    let key = key("quick");
    let mut pipeline = request(&[b"SET", &key, b"value"]);
    pipeline.extend(request(&[b"GET", &key]));
    pipeline.extend_from_slice(b"PING\r\n");
    client.send(&pipeline)?;
    client.expect("SET", ok())?;
    client.expect("GET", bulk(b"value"))?;
    client.expect("PING", pong())
}

/// After a load of one key: redis-benchmark's SET stored a value of
/// `size` bytes (`-d`; their content is its choice) under its key, and the
/// server still answers.
pub(crate) fn after_load(addr: SocketAddr, size: usize) -> Result<(), String> {
    let mut client = Client::connect(addr)?;
    let mut pipeline = request(&[b"GET", b"key:__rand_int__"]);
    pipeline.extend_from_slice(b"PING\r\n");
    client.send(&pipeline)?;
    match client.reply()? {
        Value::Bulk(Some(value)) if value.len() == size => {}
        got => {
            return Err(format!(
                "GET of the benchmark's key: wanted {size} bytes, got {got:?}"
            ));
        }
    }
    client.expect("PING after the load", pong())
}

/// Everything the benchmark's servers implement, and the errors.
/// `own` adds what only they do (their limits).
pub(crate) fn thorough(addr: SocketAddr, own: bool) -> Result<(), String> {
    commands(addr)?;
    pipelines(addr)?;
    errors(addr)?;
    protocol_errors(addr, own)
}

fn commands(addr: SocketAddr) -> Result<(), String> {
    let mut c = Client::connect(addr)?;
    c.send(b"PING\r\n")?;
    c.expect("inline PING", pong())?;
    c.send(&request(&[b"ping"]))?;
    c.expect("PING", pong())?;
    c.send(&request(&[b"PING", b"hello"]))?;
    c.expect("PING hello", bulk(b"hello"))?;
    let (k, missing) = (key("k"), key("missing"));
    c.send(&request(&[b"SET", &k, b"v1"]))?;
    c.expect("SET", ok())?;
    c.send(&request(&[b"get", &k]))?;
    c.expect("get", bulk(b"v1"))?;
    c.send(&request(&[b"GET", &missing]))?;
    c.expect("GET missing", Value::Bulk(None))?;
    // Binary keys and values, a value of 100 KiB.
    let binary = [key("\r\n\0"), vec![0, 255, b'\r', b'\n']].concat();
    let big: Vec<u8> = (0..100 * 1024)
        .map(|i: u32| u8::try_from(i % 251).unwrap())
        .collect();
    c.send(&request(&[b"SET", &binary, &big]))?;
    c.expect("SET binary", ok())?;
    c.send(&request(&[b"GET", &binary]))?;
    c.expect("GET binary", Value::Bulk(Some(big)))?;
    // INCR: a missing key counts as 0; only integers Redis would write.
    let counter = key("counter");
    c.send(&[request(&[b"INCR", &counter]), request(&[b"incr", &counter])].concat())?;
    c.expect("INCR missing", Value::Int(1))?;
    c.expect("INCR", Value::Int(2))?;
    c.send(&request(&[b"GET", &counter]))?;
    c.expect("GET after INCR", bulk(b"2"))?;
    for bad in [
        &b"abc"[..],
        b"",
        b"+1",
        b"01",
        b" 1",
        b"-0",
        b"9223372036854775808",
    ] {
        c.send(
            &[
                request(&[b"SET", &counter, bad]),
                request(&[b"INCR", &counter]),
            ]
            .concat(),
        )?;
        c.expect("SET", ok())?;
        c.expect_error("INCR of a non-integer", "ERR value is not an integer")?;
    }
    c.send(
        &[
            request(&[b"SET", &counter, b"-10"]),
            request(&[b"INCR", &counter]),
        ]
        .concat(),
    )?;
    c.expect("SET", ok())?;
    c.expect("INCR of a negative", Value::Int(-9))?;
    let max = i64::MAX.to_string();
    c.send(
        &[
            request(&[b"SET", &counter, max.as_bytes()]),
            request(&[b"INCR", &counter]),
        ]
        .concat(),
    )?;
    c.expect("SET", ok())?;
    c.expect_error(
        "INCR of i64::MAX",
        "ERR increment or decrement would overflow",
    )?;
    c.send(&request(&[b"GET", &counter]))?;
    c.expect("GET after an overflow", bulk(max.as_bytes()))?;
    for (param, value) in [(&b"save"[..], &b""[..]), (b"appendonly", b"no")] {
        c.send(&request(&[b"CONFIG", b"GET", param]))?;
        c.expect("CONFIG GET", Value::Array(vec![bulk(param), bulk(value)]))?;
    }
    // A blank line and an empty array get no answer.
    c.send(b"\r\n*0\r\nPING\r\n")?;
    c.expect("PING after empty requests", pong())
}

fn pipelines(addr: SocketAddr) -> Result<(), String> {
    let mut c = Client::connect(addr)?;
    let keys: Vec<Vec<u8>> = (0..100).map(|i| key(&format!("p{i}"))).collect();
    let mut pipeline = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        pipeline.extend(request(&[b"SET", key, i.to_string().as_bytes()]));
        pipeline.extend(request(&[b"GET", key]));
    }
    c.send(&pipeline)?;
    for i in 0..keys.len() {
        c.expect("pipelined SET", ok())?;
        c.expect("pipelined GET", bulk(i.to_string().as_bytes()))?;
    }
    // The same, a byte per write: requests split anywhere.
    let mut pipeline = request(&[b"SET", &keys[0], b"split"]);
    pipeline.extend(request(&[b"GET", &keys[0]]));
    pipeline.extend_from_slice(b"PING\r\n");
    c.trickle(&pipeline)?;
    c.expect("split SET", ok())?;
    c.expect("split GET", bulk(b"split"))?;
    c.expect("split PING", pong())
}

fn errors(addr: SocketAddr) -> Result<(), String> {
    let mut c = Client::connect(addr)?;
    c.send(&request(&[b"NOSUCHCOMMAND", b"x"]))?;
    c.expect_error("unknown command", "ERR unknown command")?;
    c.send(&request(&[b"GET"]))?;
    c.expect_error("GET without a key", "ERR wrong number of arguments")?;
    c.send(&request(&[b"INCR", b"a", b"b"]))?;
    c.expect_error("INCR with two keys", "ERR wrong number of arguments")?;
    c.send(&request(&[b"SET", b"k", b"v", b"EX"]))?;
    c.expect_error("SET with a bad option", "ERR syntax error")?;
    c.send(&request(&[b"CONFIG", b"GET"]))?;
    c.expect_error(
        "CONFIG GET without a parameter",
        "ERR wrong number of arguments",
    )?;
    // The connection goes on after errors that are not the protocol's.
    c.send(b"PING\r\n")?;
    c.expect("PING after errors", pong())
}

fn protocol_errors(addr: SocketAddr, own: bool) -> Result<(), String> {
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("'+' for '$'", b"PING\r\n*1\r\n+PING\r\n".to_vec()),
        ("a bad count", b"*abc\r\n".to_vec()),
        ("a negative length", b"*1\r\n$-3\r\n".to_vec()),
    ];
    if own {
        // Redis's limit is far larger: it waits for the bytes. (Longer
        // input is checked on the parser alone: a server that closes with
        // bytes unread resets the connection, and the error may be lost.)
        cases.push(("a huge length", b"*1\r\n$999999999\r\n".to_vec()));
    }
    for (what, bytes) in cases {
        let mut c = Client::connect(addr)?;
        c.send(&bytes)?;
        if bytes.starts_with(b"PING") {
            c.expect("PING before a protocol error", pong())?;
        }
        c.expect_error(what, "ERR Protocol error")?;
        c.expect_closed(what)?;
    }
    Ok(())
}
