//! Checks of the request parser alone, run by the smoke run (a bench
//! target has no test harness): pipelined requests come out the same
//! however the bytes are split, the limits give errors, and no input
//! makes it panic (random bytes, and random damage to valid requests,
//! from a fixed seed so a failure repeats).

use std::panic::{self, AssertUnwindSafe};

use bytes::Bytes;

use super::resp::{Input, ProtocolError, Reply, Request};
use super::store::Command;

/// Runs every check.
pub(crate) fn run() -> Result<(), String> {
    splits()?;
    limits()?;
    random_input()
}

/// A pipeline of every kind of request, and what it parses into.
fn pipeline() -> (Vec<u8>, Vec<Request>) {
    let bytes = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n\
                  *2\r\n$3\r\nget\r\n$3\r\nkey\r\n\
                  PING\r\n  ping   hi \n\r\n*0\r\n\
                  *1\r\n$4\r\nNOPE\r\n*1\r\n$3\r\nGET\r\n"
        .to_vec();
    let key = || Bytes::from_static(b"key");
    let requests = vec![
        Request::Store(Command::Set(key(), Bytes::from_static(b"va\r\nl"))),
        Request::Store(Command::Get(key())),
        Request::Local(Reply::Pong),
        Request::Local(Reply::Value(Some(Bytes::from_static(b"hi")))),
        Request::Local(Reply::Error("ERR unknown command 'NOPE'".to_owned())),
        Request::Local(Reply::Error(
            "ERR wrong number of arguments for 'get' command".to_owned(),
        )),
    ];
    (bytes, requests)
}

/// Feeds `bytes` to a new input in pieces of `chunk` bytes; the requests
/// and the error it ended with, if any.
fn feed(bytes: &[u8], chunk: usize) -> (Vec<Request>, Option<ProtocolError>) {
    let mut input = Input::default();
    let mut requests = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        let mut piece = piece;
        while !piece.is_empty() {
            let spare = input.spare();
            let n = spare.len().min(piece.len());
            spare[..n].copy_from_slice(&piece[..n]);
            input.filled(n);
            piece = &piece[n..];
            loop {
                match input.next() {
                    Ok(Some(request)) => requests.push(request),
                    Ok(None) => break,
                    Err(err) => return (requests, Some(err)),
                }
            }
        }
    }
    (requests, None)
}

/// The pipeline parses the same in one piece and in pieces of every size.
fn splits() -> Result<(), String> {
    let (bytes, wanted) = pipeline();
    for chunk in 1..=bytes.len() {
        let (got, err) = feed(&bytes, chunk);
        if got != wanted || err.is_some() {
            return Err(format!(
                "parser: in pieces of {chunk} bytes: got {got:?} and {err:?}, wanted {wanted:?}"
            ));
        }
    }
    Ok(())
}

/// Input over the limits is an error, not a growing buffer.
fn limits() -> Result<(), String> {
    let big_bulk = |len: usize| format!("*2\r\n$3\r\nGET\r\n${len}\r\n").into_bytes();
    let over_request: Vec<u8> = [
        b"*3\r\n$3\r\nSET\r\n$524288\r\n".to_vec(),
        vec![b'k'; 524_288],
        b"\r\n$524288\r\n".to_vec(),
        vec![b'v'; 524_288],
    ]
    .concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an argument over 512 KiB", big_bulk(512 * 1024 + 1)),
        ("a request over 1 MiB", over_request),
        ("an inline line over 64 KiB", vec![b'a'; 65 * 1024]),
        (
            "a count line over 64 KiB",
            [&b"*"[..], &[b'1'; 65 * 1024]].concat(),
        ),
        ("2,000 arguments", b"*2000\r\n".to_vec()),
        ("a count over i64", b"*99999999999999999999\r\n".to_vec()),
        ("a bad CRLF", b"*1\r\n$1\r\naxx".to_vec()),
        ("'+' for '$'", b"*1\r\n+OK\r\n".to_vec()),
    ];
    for (what, bytes) in cases {
        match feed(&bytes, 4096) {
            (_, Some(_)) => {}
            (requests, None) => {
                return Err(format!("parser: {what}: no error (got {requests:?})"));
            }
        }
    }
    Ok(())
}

/// xorshift64*: random enough, and the same on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

/// Random bytes (mostly the protocol's), and valid pipelines with random
/// damage, in random pieces: none makes the parser panic.
fn random_input() -> Result<(), String> {
    const ALPHABET: &[u8] = b"*$\r\n\r\n0123456789-+ \tGETSPINGget\x00\xff";
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let (valid, _) = pipeline();
    for round in 0..20_000 {
        let mut bytes: Vec<u8> = if round % 2 == 0 {
            let len = random.below(96);
            (0..len)
                .map(|_| ALPHABET[random.below(ALPHABET.len())])
                .collect()
        } else {
            valid.clone()
        };
        for _ in 0..=random.below(4) {
            let at = random.below(bytes.len() + 1);
            let byte = ALPHABET[random.below(ALPHABET.len())];
            match random.below(3) {
                0 if at < bytes.len() => bytes[at] = byte,
                1 if at < bytes.len() => drop(bytes.remove(at)),
                _ => bytes.insert(at, byte),
            }
        }
        let chunk = 1 + random.below(bytes.len() + 1);
        if panic::catch_unwind(AssertUnwindSafe(|| feed(&bytes, chunk))).is_err() {
            return Err(format!(
                "parser: panicked on {:?} in pieces of {chunk}",
                String::from_utf8_lossy(&bytes)
            ));
        }
    }
    Ok(())
}
