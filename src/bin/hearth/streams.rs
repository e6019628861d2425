//! A job's output as it streams in, written the way the options say:
//! whole and unmixed (`--group`, the default: the pool hands each job's
//! output on in one piece), a whole line at a time (`--line-buffer`: the
//! lines of jobs running at once come as they are made, never mixed within
//! a line), or as it comes (`--ungroup`). A tag (`--tag`, `--tagstring`,
//! `--tag-host`) goes before each line, and a colour around it
//! (`--color`, see `color.rs`), except with `--ungroup`, as GNU parallel
//! does.

use std::io::{self, Write};

use hearth::remote::Stream;

use crate::color::Color;

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
    /// The job's colour (`--color`): before the prefix of each line, and
    /// reset at the end of each line and before each carriage return.
    color: Option<Color>,
    /// Per stream (stdout, stderr): the bytes of a line not ended yet,
    /// held (`--line-buffer`) or already written (`--group`).
    partial: [Vec<u8>; 2],
    /// Per stream: the last byte written did not end a line (`--group`).
    mid_line: [bool; 2],
}

impl JobStreams {
    /// A job whose lines start with `prefix`, in `color` if there is one.
    pub fn new(prefix: Vec<u8>, color: Option<Color>) -> JobStreams {
        JobStreams {
            prefix,
            color,
            ..JobStreams::default()
        }
    }

    /// Colours the lines written from now on.
    pub fn set_color(&mut self, color: Color) {
        self.color = Some(color);
    }

    /// Appends the start of a line to `block`: its colour, its prefix.
    fn line_start(&self, block: &mut Vec<u8>) {
        if let Some(color) = &self.color {
            block.extend_from_slice(&color.start);
        }
        block.extend_from_slice(&self.prefix);
    }

    /// Appends `text` (a line's bytes, its newline left out) to `block`;
    /// in colour, each carriage return resets the colour and starts it
    /// again, prefix and all, as GNU parallel writes it.
    fn line_text(&self, text: &[u8], block: &mut Vec<u8>) {
        let Some(color) = &self.color else {
            block.extend_from_slice(text);
            return;
        };
        let mut pieces = text.split(|&b| b == b'\r');
        if let Some(first) = pieces.next() {
            block.extend_from_slice(first);
        }
        for piece in pieces {
            block.extend_from_slice(color.reset);
            block.push(b'\r');
            self.line_start(block);
            block.extend_from_slice(piece);
        }
    }

    /// Appends a line's end to `block`: in colour, the reset first.
    fn line_end(&self, block: &mut Vec<u8>) {
        if let Some(color) = &self.color {
            block.extend_from_slice(color.reset);
        }
        block.push(b'\n');
    }

    /// Whether lines are written with anything around them.
    fn marked(&self) -> bool {
        !self.prefix.is_empty() || self.color.is_some()
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
            Grouping::Group if !self.marked() => out.write_all(bytes),
            Grouping::Group => {
                // Without colour a carriage return ends a line for the tag
                // too, as GNU parallel tags after either; with colour the
                // return is handled inside the line (`line_text`).
                let plain = self.color.is_none();
                let ends = |b: &u8| *b == b'\n' || (plain && *b == b'\r');
                let mut block = Vec::with_capacity(bytes.len() + 64);
                for line in bytes.split_inclusive(ends) {
                    if !self.mid_line[at] {
                        self.line_start(&mut block);
                    }
                    match line.strip_suffix(b"\n") {
                        Some(text) => {
                            self.line_text(text, &mut block);
                            self.line_end(&mut block);
                        }
                        None => self.line_text(line, &mut block),
                    }
                    self.mid_line[at] = !line.last().is_some_and(ends);
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
                let mut first = true;
                for line in lines.split_inclusive(|&b| b == b'\n') {
                    self.line_start(&mut block);
                    let text = line.strip_suffix(b"\n").unwrap_or(line);
                    if first {
                        let mut whole = std::mem::take(&mut self.partial[at]);
                        whole.extend_from_slice(text);
                        self.line_text(&whole, &mut block);
                        first = false;
                    } else {
                        self.line_text(text, &mut block);
                    }
                    self.line_end(&mut block);
                }
                self.partial[at].extend_from_slice(rest);
                out.write_all(&block)
            }
        }
    }

    /// The end of the job's `stream`: a line left without its end is
    /// written (`--line-buffer`, as it is, its tag before it but no
    /// colour, as GNU parallel writes it) or, in colour, ended (`--group`;
    /// with a tag alone it stays as it is, as in GNU parallel).
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
                // A tag alone adds no newline; colour (and --color-failed)
                // ends the line, as GNU parallel writes them.
                if std::mem::take(&mut self.mid_line[at]) && self.color.is_some() {
                    let mut end = Vec::new();
                    self.line_end(&mut end);
                    out.write_all(&end)?;
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
        written_in(None, grouping, prefix, chunks)
    }

    /// The chunks written (a `|` after each) and finished, with `prefix`
    /// and `color` on the lines.
    fn written_in(
        color: Option<Color>,
        grouping: Grouping,
        prefix: &str,
        chunks: &[&str],
    ) -> String {
        let mut streams = JobStreams::new(prefix.as_bytes().to_vec(), color);
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

    /// A last line without its newline gets none (GNU parallel's `--tag
    /// printf x` prints `x\tx`).
    #[test]
    fn group_tags_every_line_across_chunks() {
        assert_eq!(
            written(Grouping::Group, "t\t", &["a\nb", "c\nd"]),
            "t\ta\nt\tb|c\nt\td|"
        );
        // After a return as after a newline, across chunks too.
        assert_eq!(
            written(Grouping::Group, "t\t", &["a\rb\r", "c\r\n"]),
            "t\ta\rt\tb\r|t\tc\rt\t\n|"
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

    /// A colour that shows in a string.
    fn shown_color() -> Color {
        Color {
            start: b"<C>".to_vec(),
            reset: b"<R>",
        }
    }

    fn colored(grouping: Grouping, chunks: &[&str]) -> String {
        written_in(Some(shown_color()), grouping, "t\t", chunks)
    }

    /// As GNU parallel colours: colour and tag, the line, reset; a return
    /// resets and starts again; a last line without its newline gets one.
    #[test]
    fn group_colours_each_line_across_chunks() {
        assert_eq!(
            colored(Grouping::Group, &["a\nb", "c\rd\n", "e"]),
            "<C>t\ta<R>\n<C>t\tb|c<R>\r<C>t\td<R>\n|<C>t\te|<R>\n"
        );
        assert_eq!(
            written_in(Some(shown_color()), Grouping::Group, "", &["x"]),
            "<C>x|<R>\n"
        );
        // No colour, as --color-failed writes a job that did not fail:
        // returns and the last newline as with colour.
        assert_eq!(
            written_in(Some(Color::plain()), Grouping::Group, "t\t", &["x\ry"]),
            "t\tx\rt\ty|\n"
        );
    }

    /// Whole lines in colour; the last one without its newline is written
    /// with its tag but without colour, as GNU parallel writes it.
    #[test]
    fn line_buffer_colours_whole_lines_but_not_the_last_unended_one() {
        assert_eq!(
            colored(Grouping::LineBuffer, &["a\nb", "c\rd\ne"]),
            "<C>t\ta<R>\n|<C>t\tbc<R>\r<C>t\td<R>\n|t\te"
        );
    }

    #[test]
    fn ungroup_writes_bytes_as_they_come_without_tags() {
        assert_eq!(written(Grouping::Ungroup, "t\t", &["a\nb", "c"]), "a\nb|c|");
    }
}
