//! Reading a trace file and writing it as Chrome's trace-event JSON.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};

use super::{MAGIC, NAME, RUN, WAKE};

/// Converts a trace written by a runtime built with `Setup::trace` into
/// Chrome's trace-event JSON: a complete event per run of an actor or
/// future (thread `worker N`, category `thread-local` or `thread-safe`)
/// and an instant event per timer or I/O wake-up (with how many tasks it
/// woke). Perfetto (<https://ui.perfetto.dev>) and `chrome://tracing` open
/// the result. `hearth trace PATH` does this from the command line.
///
/// # Errors
///
/// Reading or writing failed, or the input is not a hearth trace (the
/// error says where it went wrong: a truncated record at the end of a
/// trace whose runtime was killed is not an error, it ends the events).
///
/// # Examples
///
/// ```no_run
/// let trace = std::fs::File::open("hearth.trace")?;
/// let json = std::fs::File::create("hearth.json")?;
/// hearth::trace::to_chrome_json(trace, json)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn to_chrome_json<R: Read, W: Write>(trace: R, out: W) -> io::Result<()> {
    let mut input = BufReader::new(trace);
    let mut out = io::BufWriter::new(out);
    let mut magic = [0; 8];
    input
        .read_exact(&mut magic)
        .map_err(|err| not_a_trace(&err))?;
    if &magic != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a hearth trace: it does not start with HRTHTRC1",
        ));
    }
    let mut origin = [0; 8];
    input
        .read_exact(&mut origin)
        .map_err(|err| not_a_trace(&err))?;
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut workers = BTreeSet::new();
    out.write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")?;
    let mut first = true;
    let mut at = 16u64;
    while let Some([tag]) = read_array::<1>(&mut input)? {
        match tag {
            NAME => {
                let Some(head) = read_array::<6>(&mut input)? else {
                    break;
                };
                let id = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
                let len = usize::from(u16::from_le_bytes([head[4], head[5]]));
                let mut bytes = vec![0; len];
                if input.read_exact(&mut bytes).is_err() {
                    break;
                }
                let _ = names.insert(id, String::from_utf8_lossy(&bytes).into_owned());
                at += 7 + len as u64;
            }
            RUN => {
                let Some(r) = read_array::<23>(&mut input)? else {
                    break;
                };
                let worker = u16::from_le_bytes([r[0], r[1]]);
                let kind = if r[2] == 0 {
                    "thread-local"
                } else {
                    "thread-safe"
                };
                let id = u32::from_le_bytes([r[3], r[4], r[5], r[6]]);
                let start = u64::from_le_bytes(r[7..15].try_into().unwrap_or_default());
                let dur = u64::from_le_bytes(r[15..23].try_into().unwrap_or_default());
                let name = names.get(&id).map_or("?", String::as_str);
                separate(&mut out, &mut first)?;
                write!(out, "{{\"name\":")?;
                json_string(&mut out, name)?;
                write!(
                    out,
                    ",\"cat\":\"{kind}\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":1,\"tid\":{worker}}}",
                    micros(start),
                    micros(dur)
                )?;
                let _ = workers.insert(worker);
                at += 24;
            }
            WAKE => {
                let Some(r) = read_array::<15>(&mut input)? else {
                    break;
                };
                let worker = u16::from_le_bytes([r[0], r[1]]);
                let cause = if r[2] == 0 { "timers" } else { "I/O" };
                let time = u64::from_le_bytes(r[3..11].try_into().unwrap_or_default());
                let count = u32::from_le_bytes(r[11..15].try_into().unwrap_or_default());
                separate(&mut out, &mut first)?;
                write!(
                    out,
                    "{{\"name\":\"{cause} wake-up\",\"cat\":\"wake-up\",\"ph\":\"i\",\"s\":\"t\",\
                     \"ts\":{},\"pid\":1,\"tid\":{worker},\"args\":{{\"tasks\":{count}}}}}",
                    micros(time)
                )?;
                let _ = workers.insert(worker);
                at += 16;
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("not a hearth trace: unknown record {other} at byte {at}"),
                ));
            }
        }
    }
    for worker in workers {
        separate(&mut out, &mut first)?;
        write!(
            out,
            "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{worker},\
             \"args\":{{\"name\":\"worker {worker}\"}}}}"
        )?;
    }
    out.write_all(b"]}\n")?;
    out.flush()
}

/// Reads `N` bytes; `None` at the end of the input, even in the middle of
/// a record (a trace cut short by a killed runtime).
fn read_array<const N: usize>(input: &mut impl BufRead) -> io::Result<Option<[u8; N]>> {
    let mut bytes = [0; N];
    match input.read_exact(&mut bytes) {
        Ok(()) => Ok(Some(bytes)),
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(err) => Err(err),
    }
}

fn not_a_trace(err: &io::Error) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not a hearth trace: its header is cut short ({err})"),
    )
}

/// Nanoseconds as microseconds, Chrome's unit, with nanosecond decimals.
fn micros(nanos: u64) -> String {
    format!("{}.{:03}", nanos / 1000, nanos % 1000)
}

fn separate(out: &mut impl Write, first: &mut bool) -> io::Result<()> {
    if !std::mem::take(first) {
        out.write_all(b",")?;
    }
    Ok(())
}

/// `text` as a JSON string.
fn json_string(out: &mut impl Write, text: &str) -> io::Result<()> {
    out.write_all(b"\"")?;
    for c in text.chars() {
        match c {
            '"' => out.write_all(b"\\\"")?,
            '\\' => out.write_all(b"\\\\")?,
            c if u32::from(c) < 0x20 => write!(out, "\\u{:04x}", u32::from(c))?,
            c => write!(out, "{c}")?,
        }
    }
    out.write_all(b"\"")
}
