//! What a line of an NDJSON file is, defined once: the bytes between two `\n` (a last line needs none; a final
//! `\n` ends the last line, it does not start an empty one), without the `\r` of a CRLF ending. Lines are
//! numbered from 1, blank lines included. A blank line (nothing but ASCII whitespace) is neither a resource nor
//! a bad line: many writers end a file with one.

use std::io::BufRead;

/// A line without the `\r` of a CRLF ending (the `\n` already gone).
#[inline]
pub fn line_content(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Whether a line holds nothing but whitespace: skipped, not a resource and not an error.
#[inline]
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// The lines of text that holds whole lines, each as [`line_content`] gives it.
pub fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut start = 0;
    // memchr finds line ends 16-32 bytes at a time; a byte-by-byte split cost a seventh of a conversion.
    let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
    let empty = data.is_empty();
    ends.filter(move |_| !empty).map(move |end| {
        let line = &body[start..end];
        start = end + 1;
        line_content(line)
    })
}

/// A line as [`LineReader`] gives it.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A whole line, as [`line_content`] gives it.
    Text(&'a [u8]),
    /// A line longer than the reader's limit: never held whole. `length` counts its bytes (without the
    /// `\n`); `head` is its first [`HEAD_BYTES`].
    TooLong { length: u64, head: &'a [u8] },
}

/// How much of a too-long line is kept, to show what it was.
pub const HEAD_BYTES: usize = 256;

/// Numbered lines from a reader, one at a time, each with the byte offset it starts at. A line longer than
/// the limit is skipped over in pieces and reported as [`Line::TooLong`], so memory stays bounded by the
/// limit whatever the input holds (a server's one gigabyte line, a gzip body inflating to zeros).
pub struct LineReader<R> {
    reader: R,
    buf: Vec<u8>,
    number: u64,
    offset: u64,
    max: usize,
}

impl<R: BufRead> LineReader<R> {
    /// A reader without a practical limit (a line is held whole, however long).
    pub fn new(reader: R) -> Self {
        Self::with_limit(reader, usize::MAX)
    }

    /// A reader that holds at most `max_line` bytes of a line.
    pub fn with_limit(reader: R, max_line: usize) -> Self {
        LineReader { reader, buf: Vec::with_capacity(64 << 10), number: 0, offset: 0, max: max_line.max(1) }
    }

    /// The next line and its number (from 1, blank lines counted), as [`line_content`] gives it; `None` at
    /// the end. A line over the limit comes back cut to its head: use [`Self::next_at`] to tell.
    pub fn next_line(&mut self) -> std::io::Result<Option<(u64, &[u8])>> {
        Ok(self.next_at()?.map(|(n, _, line)| match line {
            Line::Text(t) => (n, t),
            Line::TooLong { head, .. } => (n, head),
        }))
    }

    /// The next line: its number, the byte offset it starts at, and the line.
    pub fn next_at(&mut self) -> std::io::Result<Option<(u64, u64, Line<'_>)>> {
        self.buf.clear();
        let start = self.offset;
        let mut length: u64 = 0;
        let mut too_long = false;
        let mut ended = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (piece, used) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], i + 1),
                None => (available, available.len()),
            };
            let newline = used > piece.len();
            length += piece.len() as u64;
            if !too_long && length > self.max as u64 {
                too_long = true;
                self.buf.truncate(HEAD_BYTES);
            }
            if too_long {
                let room = HEAD_BYTES.saturating_sub(self.buf.len());
                self.buf.extend_from_slice(&piece[..room.min(piece.len())]);
            } else {
                self.buf.extend_from_slice(piece);
            }
            self.reader.consume(used);
            self.offset += used as u64;
            if newline {
                ended = true;
                break;
            }
        }
        if !ended && length == 0 && self.offset == start {
            return Ok(None);
        }
        self.number += 1;
        let line =
            if too_long { Line::TooLong { length, head: &self.buf } } else { Line::Text(line_content(&self.buf)) };
        Ok(Some((self.number, start, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_the_same_from_memory_and_from_a_reader() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"", &[]),
            (b"\n", &[b""]),
            (b"a", &[b"a"]),
            (b"a\n", &[b"a"]),
            (b"a\r\nb\r\n", &[b"a", b"b"]),
            (b"a\n\nb", &[b"a", b"", b"b"]),
            (b"a\r\r\n \t\r\n", &[b"a\r", b" \t"]),
        ];
        for (text, want) in cases {
            let got: Vec<&[u8]> = lines(text).collect();
            assert_eq!(&got, want, "{:?}", String::from_utf8_lossy(text));
            let mut reader = LineReader::new(*text);
            let mut read = Vec::new();
            while let Some((n, line)) = reader.next_line().unwrap() {
                assert_eq!(n, read.len() as u64 + 1);
                read.push(line.to_vec());
            }
            assert_eq!(read, want.iter().map(|l| l.to_vec()).collect::<Vec<_>>());
        }
        assert!(is_blank(b"") && is_blank(b" \t\r") && !is_blank(b" x"));
    }

    #[test]
    fn lines_over_the_limit_are_measured_not_held() {
        let mut text = b"ab\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 10_000));
        text.extend_from_slice(b"\r\ncd");
        // A small read buffer, so the long line arrives in many pieces.
        let mut reader = LineReader::with_limit(std::io::BufReader::with_capacity(7, &text[..]), 100);
        assert_eq!(reader.next_at().unwrap(), Some((1, 0, Line::Text(b"ab"))));
        match reader.next_at().unwrap() {
            Some((2, 3, Line::TooLong { length, head })) => {
                assert_eq!(length, 10_001, "the \\r counts: the line is cut before its content is known");
                assert_eq!(head.len(), HEAD_BYTES);
            }
            other => panic!("{other:?}"),
        }
        assert!(reader.buf.capacity() <= 64 << 10, "never grew past its first allocation");
        assert_eq!(reader.next_at().unwrap(), Some((3, 10_005, Line::Text(b"cd"))));
        assert_eq!(reader.next_at().unwrap(), None);
        let mut exact = LineReader::with_limit(&b"abc\nabcd"[..], 3);
        assert_eq!(exact.next_at().unwrap(), Some((1, 0, Line::Text(b"abc"))));
        assert!(matches!(exact.next_at().unwrap(), Some((2, 4, Line::TooLong { length: 4, .. }))));
    }
}
