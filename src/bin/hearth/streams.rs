//! A job's output as it streams in, written the way the options say:
//! whole and unmixed (`--group`, the default: the pool hands each job's
//! output on in one piece), a whole line at a time (`--line-buffer`: the
//! lines of jobs running at once come as they are made, never mixed within
//! a line), or as it comes (`--ungroup`). A tag (`--tag`, `--tagstring`,
//! `--tag-host`) goes before each line, except with `--ungroup`, as GNU
//! parallel does.

use std::io::{self, Write};

use hearth::remote::Stream;

/// How the outputs of jobs share stdout and stderr.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// Each job's output in one piece.
    Group,
    /// Whole lines as they come.
    LineBuffer,
    /// Bytes as they come.
    Ungroup,
}

/// The printing of one job's output, stream by stream.
#[derive(Debug, Default)]
pub struct JobStreams {
    /// Before each line.
    prefix: Vec<u8>,
    /// Per stream (stdout, stderr): the bytes of a line not ended yet,
    /// held (`--line-buffer`) or already written (`--group`).
    partial: [Vec<u8>; 2],
    /// Per stream: the last byte written did not end a line (`--group`).
    mid_line: [bool; 2],
}

impl JobStreams {
    /// A job whose lines start with `prefix`.
    pub fn new(prefix: Vec<u8>) -> JobStreams {
        JobStreams {
            prefix,
            ..JobStreams::default()
        }
    }

    /// Writes a chunk of `stream` to `out`.
    pub fn write(
        &mut self,
        grouping: Grouping,
        stream: Stream,
        bytes: &[u8],
        out: &mut impl Write,
    ) -> io::Result<()> {
        let at = index(stream);
        match grouping {
            Grouping::Ungroup => out.write_all(bytes),
            Grouping::Group if self.prefix.is_empty() => out.write_all(bytes),
            Grouping::Group => {
                let mut block = Vec::with_capacity(bytes.len() + 64);
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    if !self.mid_line[at] {
                        block.extend_from_slice(&self.prefix);
                    }
                    block.extend_from_slice(line);
                    self.mid_line[at] = !line.ends_with(b"\n");
                }
                out.write_all(&block)
            }
            Grouping::LineBuffer => {
                let Some(last) = bytes.iter().rposition(|&b| b == b'\n') else {
                    self.partial[at].extend_from_slice(bytes);
                    return Ok(());
                };
                let (lines, rest) = bytes.split_at(last + 1);
                let mut block = Vec::with_capacity(lines.len() + 64);
                let held = std::mem::take(&mut self.partial[at]);
                let mut first = true;
                for line in lines.split_inclusive(|&b| b == b'\n') {
                    block.extend_from_slice(&self.prefix);
                    if first {
                        block.extend_from_slice(&held);
                        first = false;
                    }
                    block.extend_from_slice(line);
                }
                self.partial[at].extend_from_slice(rest);
                out.write_all(&block)
            }
        }
    }

    /// The end of the job's `stream`: a line left without its end is
    /// written (`--line-buffer`, as it is) or ended (`--group` with a tag,
    /// so that the next job's tag starts a line).
    pub fn finish(
        &mut self,
        grouping: Grouping,
        stream: Stream,
        out: &mut impl Write,
    ) -> io::Result<()> {
        let at = index(stream);
        match grouping {
            Grouping::Ungroup => Ok(()),
            Grouping::Group => {
                if std::mem::take(&mut self.mid_line[at]) && !self.prefix.is_empty() {
                    out.write_all(b"\n")?;
                }
                Ok(())
            }
            Grouping::LineBuffer => {
                let held = std::mem::take(&mut self.partial[at]);
                if held.is_empty() {
                    return Ok(());
                }
                let mut block = self.prefix.clone();
                block.extend_from_slice(&held);
                out.write_all(&block)
            }
        }
    }
}

fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(grouping: Grouping, prefix: &str, chunks: &[&str]) -> String {
        let mut streams = JobStreams::new(prefix.as_bytes().to_vec());
        let mut out = Vec::new();
        for chunk in chunks {
            streams
                .write(grouping, Stream::Stdout, chunk.as_bytes(), &mut out)
                .unwrap();
            out.push(b'|');
        }
        streams.finish(grouping, Stream::Stdout, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn group_tags_every_line_across_chunks() {
        assert_eq!(
            written(Grouping::Group, "t\t", &["a\nb", "c\nd"]),
            "t\ta\nt\tb|c\nt\td|\n"
        );
        assert_eq!(written(Grouping::Group, "", &["a\nb", "c"]), "a\nb|c|");
    }

    /// Whole lines only, a line cut over chunks joined, the last one as
    /// it is at the end (GNU parallel adds no newline).
    #[test]
    fn line_buffer_writes_whole_lines() {
        assert_eq!(
            written(Grouping::LineBuffer, "t\t", &["a\nb", "c", "d\ne\nf"]),
            "t\ta\n||t\tbcd\nt\te\n|t\tf"
        );
        assert_eq!(written(Grouping::LineBuffer, "", &["x"]), "|x");
    }

    #[test]
    fn ungroup_writes_bytes_as_they_come_without_tags() {
        assert_eq!(written(Grouping::Ungroup, "t\t", &["a\nb", "c"]), "a\nb|c|");
    }
}
