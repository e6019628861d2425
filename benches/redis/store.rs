//! The data every server form keeps, the same for all: a shard of keys
//! ([`Store`]) that executes the commands that touch keys ([`Command`]),
//! and how a key picks its shard ([`shard_of`]). The forms differ only in
//! how a connection reaches a shard: a message to the actor that owns it,
//! or a mutex.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use super::resp::Reply;

/// A command on a key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Command {
    /// `GET key`.
    Get(Bytes),
    /// `SET key value`.
    Set(Bytes, Bytes),
    /// `INCR key`: the key's value as a decimal integer, plus one (a
    /// missing key counts as 0).
    Incr(Bytes),
}

impl Command {
    /// The key the command touches, which picks its shard.
    pub(crate) fn key(&self) -> &[u8] {
        match self {
            Command::Get(key) | Command::Set(key, _) | Command::Incr(key) => key,
        }
    }
}

/// One shard of the keys.
#[derive(Debug, Default)]
pub(crate) struct Store {
    map: HashMap<Bytes, Bytes>,
}

impl Store {
    /// Executes `command`.
    pub(crate) fn execute(&mut self, command: Command) -> Reply {
        match command {
            Command::Get(key) => Reply::Value(self.map.get(&key).cloned()),
            Command::Set(key, value) => {
                let _ = self.map.insert(key, value);
                Reply::Ok
            }
            Command::Incr(key) => {
                let old = match self.map.get(&key) {
                    None => Some(0),
                    Some(value) => integer(value),
                };
                let Some(old) = old else {
                    return Reply::Error("ERR value is not an integer or out of range".to_owned());
                };
                let Some(new) = old.checked_add(1) else {
                    return Reply::Error("ERR increment or decrement would overflow".to_owned());
                };
                let _ = self.map.insert(key, Bytes::from(new.to_string()));
                Reply::Int(new)
            }
        }
    }
}

/// A value as Redis reads an integer: decimal, an optional `-`, no `+`,
/// no leading zeros, no spaces, within `i64`.
fn integer(value: &[u8]) -> Option<i64> {
    let digits = value.strip_prefix(b"-").unwrap_or(value);
    let canonical = match digits {
        [] => false,
        [b'0'] => digits.len() == value.len(),
        [first, ..] => *first != b'0' && digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The shard of `key` among `shards`: FNV-1a of the key.
pub(crate) fn shard_of(key: &[u8], shards: usize) -> usize {
    let hash = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    usize::try_from(hash % shards as u64).unwrap()
}

/// Shards behind a mutex each, for the forms whose connections execute
/// commands themselves.
#[derive(Debug)]
pub(crate) struct Shards(Box<[Mutex<Store>]>);

impl Shards {
    /// `count` empty shards.
    pub(crate) fn new(count: usize) -> Shards {
        Shards((0..count).map(|_| Mutex::default()).collect())
    }

    /// Executes `command` on its shard, under the shard's lock.
    pub(crate) fn execute(&self, command: Command) -> Reply {
        let shard = &self.0[shard_of(command.key(), self.0.len())];
        lock(shard).execute(command)
    }
}

/// A shard's lock; a panic under it (there is none to expect) leaves the
/// map as consistent as any single insert does.
fn lock(shard: &Mutex<Store>) -> MutexGuard<'_, Store> {
    shard
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
