//! Unit tests of the frame codec: round trips of every message, bytes in any
//! pieces, cut, oversized and foreign streams, and a property test on random
//! and mutated bytes.

// The random frames take their numbers from a 64-bit generator, cut to each
// field's width on purpose.
#![allow(clippy::cast_possible_truncation)]

use std::error::Error as _;
use std::io::{self, Read};

use super::{
    DEFAULT_MAX_FRAME, Frame, FrameDecoder, HEADER_LEN, JobError, JobErrorKind, MAGIC, MAX_LIST,
    READ_CHUNK, SHRINK_ABOVE, VERSION, WireError, Workdir, encode, encode_file_data, encode_job,
    encode_output, encode_stdin, read_frame, write_frame,
};
use crate::remote::Stream;

/// One of every message, with empty and full fields.
#[allow(clippy::too_many_lines)] // A list, one entry a message.
fn sample_frames() -> Vec<Frame> {
    vec![
        Frame::Hello { version: 1 },
        Frame::Hello { version: u32::MAX },
        Frame::HelloAck {
            version: 1,
            host: "db-1.example.org".to_owned(),
            pid: 4242,
        },
        Frame::HelloAck {
            version: 0,
            host: String::new(),
            pid: 0,
        },
        Frame::SessionInit {
            handlers: vec!["resize".to_owned(), "hash".to_owned()],
            config: vec![
                ("quality".to_owned(), "85".to_owned()),
                ("mode".to_owned(), "fast ∑ 🦀".to_owned()),
            ],
            slot_timeout_ms: 30_000,
            slot: 1,
            env: vec![("LANG".to_owned(), "C.UTF-8".to_owned())],
            workdir: Some(Workdir::Dir("work/x".to_owned())),
        },
        Frame::SessionInit {
            handlers: Vec::new(),
            config: Vec::new(),
            slot_timeout_ms: 0,
            slot: u32::MAX,
            env: Vec::new(),
            workdir: Some(Workdir::Temp),
        },
        Frame::SessionAck {
            handlers: vec!["hash".to_owned(), "resize".to_owned(), "sh".to_owned()],
        },
        Frame::SessionAck {
            handlers: Vec::new(),
        },
        Frame::Job {
            id: 0,
            handler: "sh".to_owned(),
            payload: b"echo hello\n".to_vec(),
        },
        Frame::Job {
            id: u64::MAX,
            handler: String::new(),
            payload: (0..=255).collect(),
        },
        Frame::Result {
            id: 7,
            outcome: Ok(b"hello\n".to_vec()),
        },
        Frame::Result {
            id: 8,
            outcome: Ok(Vec::new()),
        },
        Frame::Result {
            id: 9,
            outcome: Err(JobError::new(JobErrorKind::Failed, "exit status 1")),
        },
        Frame::Result {
            id: 10,
            outcome: Err(JobError::new(JobErrorKind::UnknownHandler, "resize")),
        },
        Frame::Result {
            id: 11,
            outcome: Err(JobError::new(JobErrorKind::Panicked, "index out of bounds")),
        },
        Frame::Result {
            id: 12,
            outcome: Err(JobError::new(JobErrorKind::BadPayload, "")),
        },
        Frame::Shutdown,
        Frame::Ping { seq: 0 },
        Frame::Ping { seq: u64::MAX },
        Frame::Pong { seq: 1 },
        Frame::Pong { seq: u64::MAX },
        Frame::Output {
            id: 0,
            stream: Stream::Stdout,
            data: Vec::new(),
        },
        Frame::Output {
            id: u64::MAX,
            stream: Stream::Stderr,
            data: (0..=255).collect(),
        },
        Frame::File {
            id: 3,
            path: "in/a b.txt".to_owned(),
            mode: 0o640,
            size: 1 << 40,
        },
        Frame::FileData {
            id: 3,
            data: (0..=255).collect(),
        },
        Frame::FileData {
            id: 3,
            data: Vec::new(),
        },
        Frame::FileEnd {
            id: 3,
            crc: 0xdead_beef,
        },
        Frame::Return {
            id: 3,
            paths: vec!["out/a.out".to_owned(), "/abs/b".to_owned()],
            cleanup: true,
        },
        Frame::Stdin {
            id: 4,
            data: (0..=255).collect(),
        },
        Frame::Stdin {
            id: u64::MAX,
            data: Vec::new(),
        },
        Frame::Return {
            id: 0,
            paths: Vec::new(),
            cleanup: false,
        },
        Frame::Base { cleanup: true },
        Frame::BaseAck {
            error: String::new(),
        },
        Frame::BaseAck {
            error: "base.sh: No space left on device".to_owned(),
        },
        Frame::Cancel {
            id: 9,
            sequence: vec![(15, 200), (9, 25)],
        },
        Frame::Cancel {
            id: u64::MAX,
            sequence: Vec::new(),
        },
    ]
}

#[track_caller]
fn encoded(frame: &Frame) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode(frame, DEFAULT_MAX_FRAME, &mut bytes).expect("encode");
    bytes
}

fn encoded_all(frames: &[Frame]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for frame in frames {
        encode(frame, DEFAULT_MAX_FRAME, &mut bytes).expect("encode");
    }
    bytes
}

/// A frame header announcing `len` bytes of payload.
fn header(version: u8, len: u32) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.push(version);
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes
}

/// A frame with any payload, valid or not.
fn raw_frame(payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("payload length");
    let mut bytes = header(VERSION, len);
    bytes.extend_from_slice(payload);
    bytes
}

#[track_caller]
fn feed_all(decoder: &mut FrameDecoder, bytes: &[u8]) {
    assert_eq!(decoder.feed(bytes), bytes.len(), "feed took fewer bytes");
}

#[track_caller]
fn frames_in(decoder: &mut FrameDecoder) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(frame) = decoder.next_frame().expect("next_frame") {
        frames.push(frame);
    }
    frames
}

/// Decodes `bytes` given to the decoder in pieces of `piece` bytes.
#[track_caller]
fn decode_in_pieces(bytes: &[u8], piece: usize) -> Vec<Frame> {
    let mut decoder = FrameDecoder::default();
    let mut frames = Vec::new();
    for chunk in bytes.chunks(piece) {
        feed_all(&mut decoder, chunk);
        frames.extend(frames_in(&mut decoder));
    }
    assert_eq!(decoder.next_frame_at_eof().expect("clean end"), None);
    assert_eq!(decoder.buffered(), 0);
    frames
}

#[track_caller]
fn expect_err<T: std::fmt::Debug>(result: Result<T, WireError>) -> WireError {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(err) => err,
    }
}

#[test]
fn round_trip_every_message() {
    for frame in sample_frames() {
        let bytes = encoded(&frame);
        assert_eq!(bytes[..4], MAGIC);
        assert_eq!(bytes[4], VERSION);
        let len = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) as usize;
        assert_eq!(len, bytes.len() - HEADER_LEN, "{frame:?}");

        let mut decoder = FrameDecoder::default();
        feed_all(&mut decoder, &bytes);
        assert_eq!(decoder.next_frame().expect("decode"), Some(frame.clone()));
        assert_eq!(decoder.next_frame().expect("decode"), None);
        assert_eq!(decoder.buffered(), 0);
    }
}

#[test]
fn round_trip_byte_by_byte() {
    let frames = sample_frames();
    let bytes = encoded_all(&frames);
    let mut decoder = FrameDecoder::default();
    let mut decoded = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        feed_all(&mut decoder, &[*byte]);
        if let Some(frame) = decoder.next_frame().expect("decode") {
            decoded.push(frame);
            // A frame comes out exactly when its last byte is in.
            assert_eq!(decoder.buffered(), 0, "frame ended before byte {i}");
        }
    }
    assert_eq!(decoded, frames);
}

#[test]
fn round_trip_in_pieces_of_every_size() {
    let frames = sample_frames();
    let bytes = encoded_all(&frames);
    for piece in (1..=40).chain([63, 64, 65, 100, 1000, bytes.len()]) {
        assert_eq!(decode_in_pieces(&bytes, piece), frames, "pieces of {piece}");
    }
}

#[test]
fn several_frames_in_one_buffer() {
    let frames = sample_frames();
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &encoded_all(&frames));
    assert_eq!(frames_in(&mut decoder), frames);
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn large_payload_round_trip() {
    let payload: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
    let frame = Frame::Job {
        id: 1,
        handler: "big".to_owned(),
        payload,
    };
    let bytes = encoded(&frame);
    assert_eq!(decode_in_pieces(&bytes, 4096), std::slice::from_ref(&frame));

    let mut decoder = FrameDecoder::default();
    assert_eq!(
        read_frame(&mut &bytes[..], &mut decoder).expect("read"),
        Some(frame)
    );
    // The buffer gives the memory of the large frame back.
    feed_all(&mut decoder, &encoded(&Frame::Shutdown));
    assert!(
        decoder.buf.capacity() <= SHRINK_ABOVE,
        "{}",
        decoder.buf.capacity()
    );
}

#[test]
fn write_then_read_frames() {
    let frames = sample_frames();
    let mut stream = Vec::new();
    for frame in &frames {
        write_frame(&mut stream, frame, DEFAULT_MAX_FRAME).expect("write");
    }
    assert_eq!(stream, encoded_all(&frames));

    let mut reader = &stream[..];
    let mut decoder = FrameDecoder::default();
    for frame in &frames {
        assert_eq!(
            read_frame(&mut reader, &mut decoder)
                .expect("read")
                .as_ref(),
            Some(frame)
        );
    }
    assert_eq!(read_frame(&mut reader, &mut decoder).expect("end"), None);
    assert_eq!(
        read_frame(&mut reader, &mut decoder).expect("still the end"),
        None
    );
}

/// Hands out one byte per read, interrupted before every other byte.
struct Trickle<'a> {
    bytes: &'a [u8],
    interrupt: bool,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        match (self.bytes.split_first(), buf.first_mut()) {
            (Some((byte, rest)), Some(slot)) => {
                *slot = *byte;
                self.bytes = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn read_frame_one_byte_at_a_time_with_interrupts() {
    let frames = sample_frames();
    let stream = encoded_all(&frames);
    let mut reader = Trickle {
        bytes: &stream,
        interrupt: false,
    };
    let mut decoder = FrameDecoder::default();
    let mut decoded = Vec::new();
    while let Some(frame) = read_frame(&mut reader, &mut decoder).expect("read") {
        decoded.push(frame);
    }
    assert_eq!(decoded, frames);
}

#[test]
fn empty_stream_is_a_clean_end() {
    let mut decoder = FrameDecoder::default();
    assert_eq!(
        read_frame(&mut io::empty(), &mut decoder).expect("end"),
        None
    );
    assert_eq!(decoder.next_frame_at_eof().expect("end"), None);
}

#[test]
fn truncated_frames() {
    for frame in sample_frames() {
        let bytes = encoded(&frame);
        for cut in 1..bytes.len() {
            let expected = if cut < HEADER_LEN {
                HEADER_LEN
            } else {
                bytes.len()
            };

            let mut decoder = FrameDecoder::default();
            let err = expect_err(read_frame(&mut &bytes[..cut], &mut decoder));
            assert!(
                matches!(err, WireError::Truncated { expected: e, got } if e == expected && got == cut),
                "{frame:?} cut at {cut}: {err:?}"
            );

            // The same through the non-blocking interface.
            let mut decoder = FrameDecoder::default();
            feed_all(&mut decoder, &bytes[..cut]);
            assert_eq!(decoder.next_frame().expect("incomplete"), None);
            let err = expect_err(decoder.next_frame_at_eof());
            assert!(matches!(err, WireError::Truncated { .. }), "{err:?}");
        }
    }

    // A good frame, then half of one.
    let mut stream = encoded(&Frame::Shutdown);
    let second = encoded(&Frame::Hello { version: 1 });
    stream.extend_from_slice(&second[..second.len() - 1]);
    let mut decoder = FrameDecoder::default();
    let mut reader = &stream[..];
    assert_eq!(
        read_frame(&mut reader, &mut decoder).expect("first"),
        Some(Frame::Shutdown)
    );
    let err = expect_err(read_frame(&mut reader, &mut decoder));
    assert_eq!(
        err.to_string(),
        format!(
            "stream ended inside a frame: got {} of its {} bytes",
            second.len() - 1,
            second.len()
        )
    );
    let err = expect_err(read_frame(&mut &MAGIC[..], &mut FrameDecoder::default()));
    assert_eq!(
        err.to_string(),
        "stream ended inside a frame header: got 4 of its 9 bytes"
    );
}

#[test]
fn oversized_header_fails_before_the_payload() {
    // A header claiming 4 GiB fails as soon as the length is in, without
    // allocating it.
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &header(VERSION, u32::MAX));
    let err = expect_err(decoder.next_frame());
    assert!(
        matches!(err, WireError::TooLarge { len, max } if len == u32::MAX as usize && max == DEFAULT_MAX_FRAME),
        "{err:?}"
    );
    assert!(decoder.buf.capacity() < 1024, "{}", decoder.buf.capacity());
    assert_eq!(
        err.to_string(),
        "frame too large: 4294967295 bytes, the maximum is 16777216; send smaller payloads \
         (e.g. a path to a file instead of its contents)"
    );
    // The error repeats: the decoder does not skip into the payload.
    assert!(matches!(
        decoder.next_frame(),
        Err(WireError::TooLarge { .. })
    ));

    // Just above and at a small maximum.
    let mut decoder = FrameDecoder::new(100);
    feed_all(&mut decoder, &header(VERSION, 101));
    assert!(matches!(
        decoder.next_frame(),
        Err(WireError::TooLarge { len: 101, max: 100 })
    ));
    let mut decoder = FrameDecoder::new(100);
    feed_all(&mut decoder, &header(VERSION, 100));
    assert_eq!(decoder.next_frame().expect("length is fine"), None);
}

/// A header claiming 4 GiB followed by an endless stream of bytes.
struct Endless {
    header: Vec<u8>,
    served: usize,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        for byte in buf.iter_mut() {
            *byte = self.header.get(self.served).copied().unwrap_or(b'x');
            self.served += 1;
        }
        Ok(buf.len())
    }
}

#[test]
fn oversized_frame_from_a_reader_fails_fast() {
    let mut reader = Endless {
        header: header(VERSION, u32::MAX),
        served: 0,
    };
    let mut decoder = FrameDecoder::default();
    let err = expect_err(read_frame(&mut reader, &mut decoder));
    assert!(matches!(err, WireError::TooLarge { .. }), "{err:?}");
    assert!(reader.served <= READ_CHUNK, "read {} bytes", reader.served);
    assert!(
        decoder.buf.capacity() <= READ_CHUNK,
        "{}",
        decoder.buf.capacity()
    );
}

#[test]
fn announced_length_is_not_allocated_up_front() {
    // With the largest maximum a 4 GiB header is accepted, and memory follows
    // the bytes that arrive.
    let mut decoder = FrameDecoder::new(usize::MAX);
    assert_eq!(decoder.max_frame(), u32::MAX as usize);
    let mut reader = Endless {
        header: header(VERSION, u32::MAX),
        served: 0,
    };
    for _ in 0..16 {
        assert_eq!(decoder.read_from(&mut reader).expect("read"), READ_CHUNK);
        assert_eq!(decoder.next_frame().expect("incomplete"), None);
    }
    assert_eq!(decoder.buffered(), 16 * READ_CHUNK);
    assert!(
        decoder.buf.capacity() <= 2 * 16 * READ_CHUNK,
        "{}",
        decoder.buf.capacity()
    );
}

#[test]
fn encode_refuses_oversized_frames() {
    let frame = Frame::Job {
        id: 1,
        handler: "h".to_owned(),
        payload: vec![7; 200],
    };
    let payload_len = encoded(&frame).len() - HEADER_LEN;

    let mut out = b"earlier frames".to_vec();
    let err = expect_err(encode(&frame, 100, &mut out));
    assert!(
        matches!(err, WireError::TooLarge { len, max: 100 } if len == payload_len),
        "{err:?}"
    );
    assert_eq!(out, b"earlier frames", "output left as it was");

    let err = expect_err(write_frame(&mut Vec::new(), &frame, 100));
    assert!(matches!(err, WireError::TooLarge { .. }), "{err:?}");

    // Exactly at the maximum is fine, on both sides; one byte less is not.
    encode(&frame, payload_len, &mut out).expect("at the maximum");
    let mut decoder = FrameDecoder::new(payload_len);
    feed_all(&mut decoder, &encoded(&frame));
    assert_eq!(
        decoder.next_frame().expect("at the maximum"),
        Some(frame.clone())
    );
    assert!(matches!(
        encode(&frame, payload_len - 1, &mut out),
        Err(WireError::TooLarge { .. })
    ));
    let mut decoder = FrameDecoder::new(payload_len - 1);
    let bytes = encoded(&frame);
    assert_eq!(
        decoder.feed(&bytes),
        bytes.len() - 1,
        "one frame of the maximum"
    );
    assert!(
        matches!(decoder.next_frame(), Err(WireError::TooLarge { len, .. }) if len == payload_len)
    );
}

#[test]
fn wrong_version() {
    // A peer of version 2, from before output streaming.
    let mut bytes = encoded(&Frame::Hello { version: 2 });
    bytes[4] = 2;
    let mut decoder = FrameDecoder::default();
    let err = expect_err(read_frame(&mut &bytes[..], &mut decoder));
    assert!(
        matches!(err, WireError::VersionMismatch { ours: 7, theirs: 2 }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("version 2") && msg.contains("version 7"),
        "{msg}"
    );
    assert_eq!(
        msg,
        "protocol version mismatch: this side speaks version 7, the peer version 2; run the same \
         version of hearth on both ends"
    );

    // Known as soon as the version byte is in.
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &[b'H', b'R', b'T', b'H', 0]);
    assert!(matches!(
        decoder.next_frame(),
        Err(WireError::VersionMismatch { ours: 7, theirs: 0 })
    ));
}

#[test]
fn login_shell_junk_is_bad_magic() {
    let banner = b"Last login: Tue Apr 14 09:12:44 2026 from 10.1.2.3\r\nWelcome to db-1!\r\n";
    let mut stream = banner.to_vec();
    stream.extend_from_slice(&encoded(&Frame::Shutdown));

    let mut decoder = FrameDecoder::default();
    let err = expect_err(read_frame(&mut &stream[..], &mut decoder));
    let WireError::BadMagic { got, offset } = &err else {
        panic!("expected BadMagic, got {err:?}");
    };
    assert_eq!(*offset, 0);
    assert_eq!(got[..], banner[..64]);
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "bytes before the first frame: the remote login shell probably printed something \
             (got \"Last login: Tue Apr 14 09:12:44 2026 from 10.1.2.3\\r\\nWelcome"
        ),
        "{msg}"
    );
    assert!(
        msg.ends_with("make it quiet for non-interactive sessions"),
        "{msg}"
    );

    // The error repeats: the junk is not skipped or read as a length.
    assert!(matches!(
        decoder.next_frame(),
        Err(WireError::BadMagic { .. })
    ));
}

#[test]
fn bad_magic_is_found_at_the_first_wrong_byte() {
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, b"HR");
    assert_eq!(decoder.next_frame().expect("a prefix of the magic"), None);
    feed_all(&mut decoder, b"X");
    let err = expect_err(decoder.next_frame());
    assert!(
        matches!(&err, WireError::BadMagic { got, offset: 0 } if got == b"HRX"),
        "{err:?}"
    );
}

#[test]
fn junk_between_frames_is_bad_magic_with_its_offset() {
    let first = encoded(&Frame::Hello { version: 1 });
    let mut stream = first.clone();
    stream.extend_from_slice(b"debug: x = 3\n");
    stream.extend_from_slice(&encoded(&Frame::Shutdown));

    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &stream);
    assert_eq!(
        decoder.next_frame().expect("first"),
        Some(Frame::Hello { version: 1 })
    );
    let err = expect_err(decoder.next_frame());
    assert!(
        matches!(&err, WireError::BadMagic { offset, .. } if *offset == first.len() as u64),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&format!("at byte {}", first.len())), "{msg}");
    assert!(msg.contains("got \"debug: x = 3\\n"), "{msg}");
    assert!(msg.contains("stdout"), "{msg}");
}

#[test]
fn malformed_payloads() {
    // An unknown message, then a good frame: the bad frame is skipped.
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &raw_frame(&[200]));
    feed_all(&mut decoder, &encoded(&Frame::Shutdown));
    let err = expect_err(decoder.next_frame());
    assert!(matches!(err, WireError::Decode { .. }), "{err:?}");
    assert!(err.source().is_some());
    assert_eq!(
        err.to_string(),
        "malformed frame payload: message type 200 is not one of protocol version 7; \
         the peer does not speak this version of the hearth protocol, or the stream is damaged"
    );
    assert_eq!(
        decoder.next_frame().expect("next frame"),
        Some(Frame::Shutdown)
    );

    // An empty payload.
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &raw_frame(&[]));
    let err = expect_err(decoder.next_frame());
    assert!(
        err.to_string()
            .starts_with("malformed frame payload: the payload is empty;"),
        "{err}"
    );

    // A known message whose fields do not decode: named.
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &raw_frame(&[5, 1, 1, 9]));
    let err = expect_err(decoder.next_frame());
    assert!(
        err.to_string().starts_with("malformed RESULT payload: "),
        "{err}"
    );

    // Bytes after the message.
    let mut payload = encoded(&Frame::Shutdown)[HEADER_LEN..].to_vec();
    payload.extend_from_slice(b"??");
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &raw_frame(&payload));
    let err = expect_err(decoder.next_frame());
    assert!(
        matches!(err, WireError::TrailingBytes { extra: 2 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "malformed frame payload: 2 bytes left over after the message"
    );

    // A host name that is not UTF-8.
    let mut payload = encoded(&Frame::HelloAck {
        version: 1,
        host: "ab".to_owned(),
        pid: 1,
    })[HEADER_LEN..]
        .to_vec();
    let at = payload.iter().position(|b| *b == b'a').expect("host");
    payload[at] = 0xff;
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &raw_frame(&payload));
    assert!(matches!(
        decoder.next_frame(),
        Err(WireError::Decode { .. })
    ));

    // A vector claiming more elements than there are bytes.
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &raw_frame(&[3, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert!(matches!(
        decoder.next_frame(),
        Err(WireError::Decode { .. })
    ));
}

#[test]
fn feed_takes_at_most_one_frame_of_the_maximum() {
    let frame = Frame::Job {
        id: 3,
        handler: "h".to_owned(),
        payload: vec![1; 50],
    };
    let one = encoded(&frame);
    let max = one.len() - HEADER_LEN;
    let mut stream = one.clone();
    stream.extend_from_slice(&one);

    let mut decoder = FrameDecoder::new(max);
    assert_eq!(decoder.room(), one.len());
    assert_eq!(decoder.feed(&stream), one.len());
    assert_eq!(decoder.room(), 0);
    assert_eq!(decoder.feed(&stream[one.len()..]), 0);
    let err = decoder
        .read_from(&mut &stream[one.len()..])
        .expect_err("no room");
    assert_eq!(err.kind(), io::ErrorKind::Other);

    assert_eq!(decoder.next_frame().expect("first"), Some(frame.clone()));
    assert_eq!(decoder.feed(&stream[one.len()..]), one.len());
    assert_eq!(decoder.next_frame().expect("second"), Some(frame));
}

/// Says `WouldBlock`, as a non-blocking pipe with nothing to read.
struct Dry;

impl Read for Dry {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

#[test]
fn read_from_passes_would_block_through() {
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, b"HRT");
    let err = decoder.read_from(&mut Dry).expect_err("would block");
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    assert_eq!(decoder.buffered(), 3);
    assert_eq!(decoder.next_frame().expect("still a prefix"), None);

    let err = expect_err(read_frame(&mut Dry, &mut decoder));
    assert!(matches!(&err, WireError::Io(err) if err.kind() == io::ErrorKind::WouldBlock));
    assert!(err.source().is_some());
    assert!(err.to_string().starts_with("frame i/o: "), "{err}");
}

#[test]
fn error_messages_are_lower_case_without_a_period() {
    let errors = [
        WireError::BadMagic {
            got: b"Welcome".to_vec(),
            offset: 0,
        },
        WireError::BadMagic {
            got: b"x".to_vec(),
            offset: 10,
        },
        WireError::VersionMismatch { ours: 1, theirs: 2 },
        WireError::TooLarge { len: 10, max: 5 },
        WireError::Truncated {
            expected: 9,
            got: 3,
        },
        WireError::Truncated {
            expected: 20,
            got: 10,
        },
        WireError::Decode {
            frame: Some("RESULT"),
            detail: None,
            error: postcard::Error::DeserializeBadEnum,
        },
        WireError::TrailingBytes { extra: 1 },
        WireError::Encode(postcard::Error::SerializeBufferFull),
        WireError::Io(io::ErrorKind::BrokenPipe.into()),
    ];
    for err in errors {
        let msg = err.to_string();
        assert!(msg.starts_with(|c: char| c.is_ascii_lowercase()), "{msg}");
        assert!(!msg.ends_with('.'), "{msg}");
    }
    assert_eq!(
        WireError::BadMagic {
            got: b"Welcome\n".to_vec(),
            offset: 0
        }
        .to_string(),
        "bytes before the first frame: the remote login shell probably printed something \
         (got \"Welcome\\n\"); make it quiet for non-interactive sessions"
    );
}

#[test]
fn names_and_job_errors() {
    let names: Vec<&str> = sample_frames().iter().map(Frame::name).collect();
    for name in [
        "HELLO",
        "HELLO_ACK",
        "SESSION_INIT",
        "SESSION_ACK",
        "JOB",
        "RESULT",
        "SHUTDOWN",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    assert_eq!(
        JobError::new(JobErrorKind::UnknownHandler, "resize").to_string(),
        "unknown handler: resize"
    );
    assert_eq!(
        JobError::new(JobErrorKind::Panicked, "boom").to_string(),
        "job panicked: boom"
    );
    assert_eq!(
        JobError::new(JobErrorKind::BadPayload, "").to_string(),
        "bad job payload"
    );
    assert_eq!(
        JobError::new(JobErrorKind::Failed, "exit status 2").to_string(),
        "job failed: exit status 2"
    );
}

/// xorshift64*: a tiny deterministic PRNG, so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`; `n` > 0.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// A length, mostly small, now and then large.
    fn len(&mut self) -> usize {
        match self.below(10) {
            0 => self.below(5000),
            1 => 0,
            _ => self.below(40),
        }
    }

    fn string(&mut self) -> String {
        const CHARS: &[char] = &['a', 'z', '0', ' ', '\n', '\0', 'é', '∑', '🦀', '"'];
        (0..self.len())
            .map(|_| CHARS[self.below(CHARS.len())])
            .collect()
    }

    fn id(&mut self) -> u64 {
        self.next() >> self.below(64)
    }

    fn frame(&mut self) -> Frame {
        match self.below(17) {
            0 => Frame::Hello {
                version: self.next() as u32,
            },
            1 => Frame::HelloAck {
                version: self.next() as u32,
                host: self.string(),
                pid: self.next() as u32,
            },
            2 => Frame::SessionInit {
                handlers: (0..self.below(5)).map(|_| self.string()).collect(),
                config: (0..self.below(5))
                    .map(|_| (self.string(), self.string()))
                    .collect(),
                slot_timeout_ms: self.id(),
                slot: self.next() as u32,
                env: (0..self.below(3))
                    .map(|_| (self.string(), self.string()))
                    .collect(),
                workdir: match self.below(3) {
                    0 => None,
                    1 => Some(Workdir::Temp),
                    _ => Some(Workdir::Dir(self.string())),
                },
            },
            3 => Frame::SessionAck {
                handlers: (0..self.below(5)).map(|_| self.string()).collect(),
            },
            4 => Frame::Job {
                id: self.id(),
                handler: self.string(),
                payload: {
                    let len = self.len();
                    self.bytes(len)
                },
            },
            5 => Frame::Result {
                id: self.id(),
                outcome: if self.one_in(2) {
                    let len = self.len();
                    Ok(self.bytes(len))
                } else {
                    let kind = [
                        JobErrorKind::Failed,
                        JobErrorKind::UnknownHandler,
                        JobErrorKind::Panicked,
                        JobErrorKind::BadPayload,
                    ][self.below(4)];
                    Err(JobError::new(kind, self.string()))
                },
            },
            6 => Frame::Ping { seq: self.id() },
            7 => Frame::Pong { seq: self.id() },
            8 => Frame::Output {
                id: self.id(),
                stream: [Stream::Stdout, Stream::Stderr][self.below(2)],
                data: {
                    let len = self.len();
                    self.bytes(len)
                },
            },
            9 => Frame::File {
                id: self.id(),
                path: self.string(),
                mode: self.next() as u32,
                size: self.next(),
            },
            10 => Frame::FileData {
                id: self.id(),
                data: {
                    let len = self.len();
                    self.bytes(len)
                },
            },
            11 => Frame::Return {
                id: self.id(),
                paths: (0..self.below(3)).map(|_| self.string()).collect(),
                cleanup: self.one_in(2),
            },
            12 => Frame::Stdin {
                id: self.id(),
                data: {
                    let len = self.len();
                    self.bytes(len)
                },
            },
            13 => Frame::Base {
                cleanup: self.one_in(2),
            },
            14 => Frame::BaseAck {
                error: self.string(),
            },
            15 => Frame::Cancel {
                id: self.id(),
                sequence: (0..self.below(5))
                    .map(|_| (self.next() as i32, self.next() as u32))
                    .collect(),
            },
            _ => Frame::Shutdown,
        }
    }

    /// A max frame size: small ones to hit the limit, now and then the default.
    fn max_frame(&mut self) -> usize {
        match self.below(6) {
            0 => DEFAULT_MAX_FRAME,
            1 => self.below(4),
            _ => self.below(300),
        }
    }

    /// Changes `bytes` in one random way.
    fn mutate(&mut self, bytes: &mut Vec<u8>) {
        if bytes.is_empty() {
            let len = 1 + self.below(20);
            bytes.extend(self.bytes(len));
            return;
        }
        let at = self.below(bytes.len());
        match self.below(8) {
            0 => bytes[at] ^= 1 << self.below(8),
            1 => bytes[at] = self.next() as u8,
            2 => {
                let len = self.below(16);
                let insert = self.bytes(len);
                let _ = bytes.splice(at..at, insert);
            }
            3 => {
                let end = (at + 1 + self.below(16)).min(bytes.len());
                let _ = bytes.drain(at..end);
            }
            4 => bytes.truncate(at),
            5 => {
                let end = (at + 1 + self.below(64)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let to = self.below(bytes.len());
                let _ = bytes.splice(to..to, copy);
            }
            6 => {
                // A length field (if this is a header) set to anything.
                let end = (at + 4).min(bytes.len());
                let len = (self.next() as u32).to_be_bytes();
                bytes[at..end].copy_from_slice(&len[..end - at]);
            }
            _ => bytes[at] = [0, 0xff, 0x80, 0x7f][self.below(4)],
        }
    }
}

/// What the decoder made of a stream.
#[derive(Debug, Default)]
struct Outcome {
    frames: Vec<Frame>,
    /// Errors that skip a frame, then possibly one that ends the stream.
    errors: Vec<String>,
}

/// Gives `stream` to a decoder in random pieces, taking frames after every
/// piece until the decoder needs more or fails, and checks the decoder's
/// promises on the way: it never panics, never holds more than one frame of
/// its maximum, always has room after saying it needs more, every frame it
/// returns encodes again within its maximum, a bad payload skips its frame and
/// any other error repeats.
fn decode_randomly(rng: &mut Rng, stream: &[u8], max_frame: usize) -> Outcome {
    let mut decoder = FrameDecoder::new(max_frame);
    let limit = HEADER_LEN + max_frame;
    let mut outcome = Outcome::default();
    let mut rest = stream;
    loop {
        let piece = match rng.below(4) {
            0 => 1,
            1 => rng.below(16),
            2 => rng.below(600),
            _ => rest.len(),
        };
        let piece = piece.min(rest.len());
        let taken = if rng.one_in(3) {
            decoder
                .read_from(&mut &rest[..piece])
                .expect("read from a slice")
        } else {
            decoder.feed(&rest[..piece])
        };
        assert!(taken <= piece);
        rest = &rest[taken..];
        assert!(
            decoder.buffered() <= limit,
            "{} > {limit}",
            decoder.buffered()
        );
        assert!(
            decoder.buf.capacity() <= limit,
            "{} > {limit}",
            decoder.buf.capacity()
        );

        let at_eof = rest.is_empty();
        loop {
            let next = if at_eof {
                decoder.next_frame_at_eof()
            } else {
                decoder.next_frame()
            };
            match next {
                Ok(Some(frame)) => {
                    let mut again = Vec::new();
                    encode(&frame, max_frame, &mut again).expect("a decoded frame encodes");
                    let mut check = FrameDecoder::new(max_frame);
                    feed_all(&mut check, &again);
                    assert_eq!(
                        check.next_frame().expect("re-decode").as_ref(),
                        Some(&frame)
                    );
                    outcome.frames.push(frame);
                }
                Ok(None) => break,
                Err(err @ (WireError::Decode { .. } | WireError::TrailingBytes { .. })) => {
                    outcome.errors.push(err.to_string());
                }
                Err(err) => {
                    let msg = err.to_string();
                    let again = expect_err(decoder.next_frame_at_eof());
                    assert_eq!(again.to_string(), msg, "the error repeats");
                    outcome.errors.push(msg);
                    return outcome;
                }
            }
        }
        if at_eof {
            assert_eq!(decoder.buffered(), 0);
            return outcome;
        }
        assert!(decoder.room() > 0, "needs more bytes but takes none");
    }
}

fn rounds() -> usize {
    if cfg!(miri) { 20 } else { 3000 }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut errors = 0;
    for _ in 0..rounds() {
        let len = rng.len();
        let stream = rng.bytes(len);
        let max_frame = rng.max_frame();
        let outcome = decode_randomly(&mut rng, &stream, max_frame);
        errors += usize::from(!outcome.errors.is_empty());
    }
    assert!(
        errors > rounds() / 2,
        "random bytes are mostly errors: {errors}"
    );
}

#[test]
fn random_payloads_behind_good_headers_never_panic() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut frames = 0;
    for _ in 0..rounds() {
        let mut stream = Vec::new();
        for _ in 0..=rng.below(4) {
            let len = rng.len();
            // Now and then a valid message tag, so decoding gets further.
            let mut payload = rng.bytes(len);
            if let Some(first) = payload.first_mut() {
                *first %= 8;
            }
            stream.extend(raw_frame(&payload));
        }
        let max_frame = if rng.one_in(2) {
            DEFAULT_MAX_FRAME
        } else {
            rng.max_frame()
        };
        frames += decode_randomly(&mut rng, &stream, max_frame).frames.len();
    }
    assert!(frames > 0, "some random payloads are messages");
}

#[test]
fn mutated_frames_never_panic() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut clean = 0;
    for _ in 0..rounds() {
        let frames: Vec<Frame> = (0..=rng.below(4)).map(|_| rng.frame()).collect();
        let mut stream = encoded_all(&frames);
        for _ in 0..=rng.below(4) {
            rng.mutate(&mut stream);
        }
        let max_frame = if rng.one_in(4) {
            rng.max_frame()
        } else {
            DEFAULT_MAX_FRAME
        };
        let outcome = decode_randomly(&mut rng, &stream, max_frame);
        clean += usize::from(outcome.errors.is_empty());
    }
    assert!(clean < rounds(), "mutations are noticed");
}

#[test]
fn random_frames_round_trip_in_random_pieces() {
    let mut rng = Rng(0x5eed_5eed_5eed_5eed);
    for _ in 0..rounds() {
        let frames: Vec<Frame> = (0..=rng.below(6)).map(|_| rng.frame()).collect();
        let stream = encoded_all(&frames);
        let outcome = decode_randomly(&mut rng, &stream, DEFAULT_MAX_FRAME);
        assert_eq!(outcome.errors, Vec::<String>::new());
        assert_eq!(outcome.frames, frames);
    }
}

/// The worker's borrowed `OUTPUT` is the frame's very bytes, and its
/// data, encoded as bytes in one copy, decodes as the sequence of `u8`
/// postcard would write.
#[test]
fn borrowed_file_data_encodes_like_a_file_data_frame() {
    for (id, data) in [(0u64, vec![]), (u64::MAX, vec![0xa5; 70_000])] {
        let mut borrowed = Vec::new();
        encode_file_data(id, &data, DEFAULT_MAX_FRAME, &mut borrowed).unwrap();
        assert_eq!(borrowed, encoded(&Frame::FileData { id, data }));
    }
}

#[test]
fn borrowed_stdin_encodes_like_a_stdin_frame() {
    for (id, data) in [(0u64, vec![]), (u64::MAX, vec![0x5a; 70_000])] {
        let mut borrowed = Vec::new();
        encode_stdin(id, &data, DEFAULT_MAX_FRAME, &mut borrowed).unwrap();
        assert_eq!(borrowed, encoded(&Frame::Stdin { id, data }));
    }
}

#[test]
fn borrowed_output_encodes_like_an_output_frame() {
    for (id, stream, data) in [
        (0u64, Stream::Stdout, vec![]),
        (7, Stream::Stderr, b"line\n".to_vec()),
        (u64::MAX, Stream::Stdout, vec![0xff; 70_000]),
    ] {
        let mut borrowed = Vec::new();
        encode_output(id, stream, &data, DEFAULT_MAX_FRAME, &mut borrowed).unwrap();
        let frame = Frame::Output {
            id,
            stream,
            data: data.clone(),
        };
        assert_eq!(borrowed, encoded(&frame));
        // A sequence of u8 in postcard: the length, then the bytes.
        #[allow(clippy::items_after_statements)] // Beside the check that uses it.
        #[derive(serde::Serialize)]
        struct AsSeq {
            id: u64,
            stream: Stream,
            data: Vec<u8>,
        }
        let as_seq = postcard::to_stdvec(&(9u8, AsSeq { id, stream, data })).unwrap();
        assert_eq!(&borrowed[HEADER_LEN..], &as_seq[..]);
    }
    let mut out = Vec::new();
    assert!(matches!(
        encode_output(1, Stream::Stdout, &[0; 100], 50, &mut out),
        Err(WireError::TooLarge { .. })
    ));
    assert!(out.is_empty());
}

#[test]
fn borrowed_job_encodes_like_a_job_frame() {
    for (id, handler, payload) in [
        (0u64, "sh", vec![]),
        (u64::MAX, "square", vec![1, 2, 3]),
        (300, "ü", vec![0; 300]),
    ] {
        let mut borrowed = Vec::new();
        encode_job(id, handler, &payload, DEFAULT_MAX_FRAME, &mut borrowed).unwrap();
        let frame = Frame::Job {
            id,
            handler: handler.to_owned(),
            payload,
        };
        assert_eq!(borrowed, encoded(&frame));
    }
    let mut out = Vec::new();
    assert!(matches!(
        encode_job(1, "x", &[0; 100], 50, &mut out),
        Err(WireError::TooLarge { .. })
    ));
    assert!(out.is_empty());
}

#[test]
fn frame_names_follow_the_variant_index() {
    for frame in sample_frames() {
        let payload = &encoded(&frame)[HEADER_LEN..];
        let index = usize::from(payload[0]);
        assert_eq!(super::FRAME_NAMES[index], frame.name(), "{frame:?}");
    }
}

#[test]
fn lists_are_bounded() {
    // As many names as allowed: fine.
    let names: Vec<String> = (0..MAX_LIST).map(|i| i.to_string()).collect();
    let frame = Frame::SessionAck { handlers: names };
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &encoded(&frame));
    assert_eq!(decoder.next_frame().expect("decodes"), Some(frame));

    // One more (4097 empty names): refused.
    for (variant, what) in [(2u8, "SESSION_INIT"), (3, "SESSION_ACK")] {
        let mut payload = vec![variant, 0x81, 0x20];
        payload.resize(payload.len() + MAX_LIST + 1, 0);
        let mut decoder = FrameDecoder::default();
        feed_all(&mut decoder, &raw_frame(&payload));
        let err = expect_err(decoder.next_frame());
        assert_eq!(
            err.to_string(),
            format!(
                "malformed {what} payload: a list of more than 4096 items, the most a message \
                 may carry; the peer does not speak this version of the hearth protocol, or \
                 the stream is damaged"
            )
        );
    }

    // Sixteen million empty names in one frame of the default size: refused
    // at once, not decoded into gigabytes.
    let mut payload = vec![3, 0x80, 0x80, 0x80, 0x08];
    payload.resize(DEFAULT_MAX_FRAME, 0);
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &raw_frame(&payload));
    let err = expect_err(decoder.next_frame());
    assert!(
        err.to_string().contains("a list of more than 4096 items"),
        "{err}"
    );

    // The config of a SESSION_INIT too.
    let frame = Frame::SessionInit {
        handlers: vec![],
        config: vec![(String::new(), String::new()); MAX_LIST + 1],
        slot_timeout_ms: 0,
        slot: 1,
        env: Vec::new(),
        workdir: None,
    };
    let mut decoder = FrameDecoder::default();
    feed_all(&mut decoder, &encoded(&frame));
    let err = expect_err(decoder.next_frame());
    assert!(
        err.to_string().contains("a list of more than 4096 items"),
        "{err}"
    );
}

/// Frames whose bytes arrive in pieces of any size come out whole.
#[test]
fn frames_in_pieces() -> Result<(), WireError> {
    let mut bytes = Vec::new();
    encode(&Frame::Hello { version: 1 }, DEFAULT_MAX_FRAME, &mut bytes)?;
    encode(&Frame::Shutdown, DEFAULT_MAX_FRAME, &mut bytes)?;
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME);
    let (first, second) = bytes.split_at(4);
    assert_eq!(decoder.feed(first), first.len());
    assert_eq!(decoder.next_frame()?, None); // Needs more bytes.
    assert_eq!(decoder.feed(second), second.len());
    assert_eq!(decoder.next_frame()?, Some(Frame::Hello { version: 1 }));
    assert_eq!(decoder.next_frame()?, Some(Frame::Shutdown));
    assert_eq!(decoder.next_frame()?, None);
    Ok(())
}

/// The worker side's blocking helpers, on a `Vec` and a slice for its
/// stdout and stdin.
#[test]
fn blocking_write_and_read() -> Result<(), WireError> {
    let mut stdout = Vec::new();
    write_frame(&mut stdout, &Frame::Shutdown, DEFAULT_MAX_FRAME)?;
    let mut stdin = &stdout[..];
    let mut decoder = FrameDecoder::default();
    assert_eq!(read_frame(&mut stdin, &mut decoder)?, Some(Frame::Shutdown));
    assert_eq!(read_frame(&mut stdin, &mut decoder)?, None); // The end.
    Ok(())
}

#[test]
fn junk_before_the_first_frame_is_skipped_and_only_there() {
    let mut decoder = FrameDecoder::default();
    // A greeting cut where the magic may begin: the "HR" waits.
    feed_all(&mut decoder, b"Welcome to node1\nHR");
    assert_eq!(
        decoder.skip_junk_before_first_frame(),
        b"Welcome to node1\n"
    );
    assert_eq!(decoder.next_frame().expect("no frame yet"), None);
    let hello = encoded(&Frame::Hello { version: 7 });
    feed_all(&mut decoder, &hello[2..]);
    assert_eq!(decoder.skip_junk_before_first_frame(), b"");
    assert_eq!(
        decoder.next_frame().expect("the frame"),
        Some(Frame::Hello { version: 7 })
    );
    // After a frame, junk is an error again, not skipped.
    feed_all(&mut decoder, b"junk");
    assert_eq!(decoder.skip_junk_before_first_frame(), b"");
    assert!(matches!(
        decoder.next_frame(),
        Err(WireError::BadMagic { offset, .. })
            if offset == (b"Welcome to node1\n".len() + hello.len()) as u64
    ));
}
