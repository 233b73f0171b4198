//! Where a view's resources come from, cut into chunks of lines for the evaluating threads: NDJSON files
//! (an export folder), or a Parquet table Haul wrote (a current dataset's table, read back to each resource's
//! JSON by `fhir_tables::rebuild`, the same rule that proves a conversion lost nothing).

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use fhir_ndjson::{Line, LineReader};

use crate::doc::Keep;
use crate::run::TablesError;

/// The longest line a view reads (a Group of 10⁵ members is a few MB; more is not a resource a view flattens).
pub const MAX_LINE: usize = 64 << 20;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// NDJSON(.gz) files of the view's type, read in order.
    Ndjson(&'a [PathBuf]),
    /// Row groups of one table of a resource type as `haul convert` writes it, each a source of its own,
    /// given with the rows before it: a row's "line" is its number in the table from 1. Only the top-level
    /// elements `keep` builds are read (the others would be passed over).
    Table { path: &'a Path, keep: &'a Keep, groups: &'a [(usize, u64)] },
}

impl Source<'_> {
    /// The files, by the index chunks carry (for naming where a failure is).
    pub(crate) fn paths(&self) -> Vec<PathBuf> {
        match self {
            Source::Ndjson(files) => files.to_vec(),
            Source::Table { path, groups, .. } => vec![path.to_path_buf(); groups.len()],
        }
    }
}

pub(crate) struct Chunk {
    pub seq: u64,
    pub file: usize,
    /// (line number, start, end) in `text`.
    pub lines: Vec<(u64, usize, usize)>,
    pub text: Vec<u8>,
    /// Lines too long to hold: their numbers.
    pub too_long: Vec<u64>,
}

/// Fills chunks of about `chunk_bytes` and hands each to `send` in order (`send` says false when nobody
/// takes them any more); stops early, without error, when `stop` or `cancel` is set.
pub(crate) fn read_chunks(
    source: Source<'_>,
    chunk_bytes: usize,
    read: &Arc<AtomicU64>,
    stop: &AtomicBool,
    cancel: &AtomicBool,
    send: &mut dyn FnMut(Chunk) -> bool,
) -> Result<(), TablesError> {
    let stopped = || stop.load(Ordering::Relaxed) || cancel.load(Ordering::Relaxed);
    let mut filler = Filler::new(chunk_bytes);
    match source {
        Source::Ndjson(paths) => {
            for (file_index, path) in paths.iter().enumerate() {
                let decoded = fhir_ndjson::open_counting(path, read)?;
                let mut lines = LineReader::with_limit(BufReader::with_capacity(1 << 20, decoded), MAX_LINE);
                filler.start(file_index);
                loop {
                    if stopped() {
                        return Ok(());
                    }
                    let next = lines.next_at().map_err(|e| fhir_ndjson::NdjsonError::read(path, e))?;
                    let Some((number, _, line)) = next else { break };
                    match line {
                        Line::Text(t) if fhir_ndjson::is_blank(t) => {}
                        Line::Text(t) => filler.push(number, t),
                        Line::TooLong { .. } => filler.too_long(number),
                    }
                    if filler.full() && !send(filler.take()) {
                        return Ok(());
                    }
                }
                if !send(filler.take()) {
                    return Ok(());
                }
            }
        }
        Source::Table { path, keep, groups } => {
            let elements = |name: &str| keep.keeps(name.as_bytes());
            for (index, &(group, rows_before)) in groups.iter().enumerate() {
                filler.start(index);
                let mut number = rows_before;
                let mut gone = false;
                fhir_tables::rebuild::read_back_while(path, Some(&elements), Some(vec![group]), &mut |json| {
                    if stopped() {
                        return false;
                    }
                    number += 1;
                    read.fetch_add(json.len() as u64 + 1, Ordering::Relaxed);
                    // The same limit as a line of NDJSON: such a resource is passed over (and counted) alike.
                    if json.len() > MAX_LINE {
                        filler.too_long(number);
                    } else {
                        filler.push(number, json.as_bytes());
                    }
                    if filler.full() && !send(filler.take()) {
                        gone = true;
                        return false;
                    }
                    true
                })?;
                if gone || stopped() || !send(filler.take()) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// The chunk being filled (made when its first line comes), and the number the next one gets.
struct Filler {
    seq: u64,
    chunk_bytes: usize,
    /// The file (or row group) lines now come from.
    file: usize,
    /// Lines the last full chunk held: the next is sized for as many.
    lines: usize,
    chunk: Option<Chunk>,
}

impl Filler {
    fn new(chunk_bytes: usize) -> Filler {
        Filler { seq: 0, chunk_bytes, file: 0, lines: 0, chunk: None }
    }

    fn start(&mut self, file: usize) {
        self.file = file;
    }

    fn empty(&self, lines: usize, text: usize) -> Chunk {
        let (lines, text) = (Vec::with_capacity(lines), Vec::with_capacity(text));
        Chunk { seq: self.seq, file: self.file, lines, text, too_long: Vec::new() }
    }

    /// The chunk being filled, made at its full size: grown by doubling, its text was copied about once more
    /// and could take twice the chunk's size.
    fn current(&mut self) -> &mut Chunk {
        if self.chunk.is_none() {
            // Room past the chunk's size for the line that fills it (most resources are smaller).
            let slack = (64 << 10).min(self.chunk_bytes / 8);
            self.chunk = Some(self.empty(self.lines, self.chunk_bytes + slack));
        }
        self.chunk.as_mut().expect("made above")
    }

    fn push(&mut self, number: u64, line: &[u8]) {
        let chunk = self.current();
        let start = chunk.text.len();
        chunk.text.extend_from_slice(line);
        chunk.lines.push((number, start, chunk.text.len()));
    }

    fn too_long(&mut self, number: u64) {
        self.current().too_long.push(number);
    }

    fn full(&self) -> bool {
        self.chunk.as_ref().is_some_and(|c| c.text.len() >= self.chunk_bytes)
    }

    /// The chunk so far (possibly empty: the writer counts every sequence number); the next is made when its
    /// first line comes.
    fn take(&mut self) -> Chunk {
        let done = self.chunk.take().unwrap_or_else(|| self.empty(0, 0));
        self.seq += 1;
        if done.text.len() >= self.chunk_bytes {
            self.lines = done.lines.len();
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::Filler;

    #[test]
    fn chunks_are_made_when_a_line_comes_numbered_in_turn_and_sized_once() {
        let mut filler = Filler::new(1000);
        filler.start(0);
        // A file with no lines still gives its (empty) chunk a number.
        let empty = filler.take();
        assert_eq!((empty.seq, empty.file, empty.lines.len(), empty.text.capacity()), (0, 0, 0, 0));
        filler.start(1);
        for n in 1..=10 {
            filler.push(n, &[b'x'; 100]);
        }
        assert!(filler.full());
        let full = filler.take();
        assert_eq!((full.seq, full.file, full.lines.len()), (1, 1, 10));
        // Made at its size (with room for the last line), never grown.
        assert_eq!(full.text.capacity(), 1000 + 1000 / 8);
        filler.push(11, b"y");
        let next = filler.take();
        assert_eq!((next.seq, next.file, next.lines[0]), (2, 1, (11, 0, 1)));
        assert!(next.lines.capacity() >= 10, "sized as the last full chunk");
    }
}
