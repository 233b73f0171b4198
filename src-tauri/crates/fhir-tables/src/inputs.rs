//! Which NDJSON files to convert (found by `fhir-ndjson`), and reading them in chunks of whole lines.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use fhir_ndjson::{InputFile, TypeInput, looks_like_type};

use crate::error::ConvertError;

/// The files to convert: each path is an NDJSON file or a folder whose NDJSON files (not those in
/// subfolders such as `error/`) are taken, grouped by resource type ([`fhir_ndjson::find_inputs`]: the
/// Files page finds the same).
pub fn find_inputs(paths: &[PathBuf]) -> Result<Vec<TypeInput>, ConvertError> {
    Ok(fhir_ndjson::find_inputs(paths)?)
}

/// Whole lines of one file, and where they start.
pub struct Chunk {
    pub seq: u64,
    pub file: usize,
    /// 1-based number of the chunk's first line in its file, when the reader was told (see
    /// [`read_chunks`]); else 0, and lines are numbered from 0 within the chunk.
    pub first_line: u64,
    /// The buffer; only its first `len` bytes are the chunk (the rest stays allocated and written-to,
    /// so a recycled buffer is never zeroed again).
    buffer: Vec<u8>,
    len: usize,
}

impl Chunk {
    /// The chunk's bytes: whole lines.
    pub fn data(&self) -> &[u8] {
        &self.buffer[..self.len]
    }

    /// The buffer, to read the next chunk into.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buffer
    }

    /// The chunk's lines, numbered, without `\n` or a `\r` before it ([`fhir_ndjson::lines`]).
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> {
        (self.first_line..).zip(fhir_ndjson::lines(self.data()))
    }
}

/// Sends the files' contents as chunks of about `chunk_bytes` (a chunk always ends at a line end,
/// so a 20 MB line makes one 20 MB chunk). Stops early when `stop` is set.
/// `first_lines` (by chunk sequence number) numbers the lines: the chunking of a file is the same
/// each time, so what the workers of a first pass counted serves the second (counting here, on the
/// one reader thread, was 2 % of a conversion).
/// Buffers come back from `recycled` when the workers are done with them: reusing them spares the
/// page faults and zeroing of fresh allocations (reads go into already written bytes: measured, the
/// zeroing of `read_to_end` was 2 % of a conversion).
pub fn read_chunks(
    files: &[InputFile],
    chunk_bytes: usize,
    first_lines: Option<&[u64]>,
    tx: &crossbeam_channel::Sender<Chunk>,
    recycled: &crossbeam_channel::Receiver<Vec<u8>>,
    read: &Arc<AtomicU64>,
    stop: &AtomicBool,
) -> Result<(), ConvertError> {
    let fresh = || recycled.try_recv().unwrap_or_default();
    let mut seq = 0;
    for (index, file) in files.iter().enumerate() {
        let mut reader = fhir_ndjson::open_counting(&file.path, read)?;
        let mut buf: Vec<u8> = fresh();
        let mut filled = 0usize;
        let mut target = chunk_bytes;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let want = target.saturating_sub(filled).max(1);
            if buf.len() < filled + want {
                buf.resize(filled + want, 0);
            }
            let got = fhir_ndjson::read_up_to(&mut reader, &mut buf[filled..filled + want])
                .map_err(|e| ConvertError::read(&file.path, e))?;
            filled += got;
            let eof = got < want;
            let cut = if eof {
                (filled > 0).then_some(filled)
            } else {
                memchr::memrchr(b'\n', &buf[..filled]).map(|p| p + 1)
            };
            match cut {
                Some(cut) if eof || filled >= target => {
                    let mut next = fresh();
                    let rest = filled - cut;
                    if next.len() < rest {
                        next.resize(rest, 0);
                    }
                    next[..rest].copy_from_slice(&buf[cut..filled]);
                    let data = std::mem::replace(&mut buf, next);
                    filled = rest;
                    let first_line = first_lines.and_then(|f| f.get(seq as usize).copied()).unwrap_or(0);
                    let chunk = Chunk { seq, file: index, first_line, buffer: data, len: cut };
                    seq += 1;
                    target = chunk_bytes;
                    if tx.send(chunk).is_err() {
                        return Ok(());
                    }
                }
                Some(_) => {}
                // No line end yet: one long line; read on until it ends.
                None => target = filled + chunk_bytes,
            }
            if eof {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_at_line_ends_and_number_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Patient.ndjson");
        let mut text = String::new();
        for i in 0..1000 {
            text.push_str(&format!("{{\"resourceType\":\"Patient\",\"id\":\"{i}\"}}\r\n"));
        }
        text.push_str("last-without-newline");
        std::fs::write(&p, &text).unwrap();
        let inputs = find_inputs(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(inputs[0].resource_type, "Patient");
        let (tx, rx) = crossbeam_channel::unbounded();
        let (_keep, recycled) = crossbeam_channel::bounded(1);
        let read = Arc::new(AtomicU64::new(0));
        read_chunks(&inputs[0].files, 1000, None, &tx, &recycled, &read, &AtomicBool::new(false)).unwrap();
        drop(tx);
        let chunks: Vec<Chunk> = rx.iter().collect();
        assert!(chunks.len() > 10);
        assert_eq!(chunks[1].lines().next().unwrap().0, 0, "numbered within the chunk when not told");
        let mut first_lines = vec![1u64];
        for c in &chunks {
            first_lines.push(first_lines.last().unwrap() + c.lines().count() as u64);
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        read_chunks(&inputs[0].files, 1000, Some(&first_lines), &tx, &recycled, &read, &AtomicBool::new(false))
            .unwrap();
        drop(tx);
        let chunks: Vec<Chunk> = rx.iter().collect();
        let lines: Vec<(u64, Vec<u8>)> =
            chunks.iter().flat_map(|c| c.lines().map(|(n, l)| (n, l.to_vec())).collect::<Vec<_>>()).collect();
        assert_eq!(lines.len(), 1001);
        assert_eq!(lines[0], (1, br#"{"resourceType":"Patient","id":"0"}"#.to_vec()));
        assert_eq!(lines[1000], (1001, b"last-without-newline".to_vec()));
    }

    #[test]
    fn type_from_first_line_when_the_name_does_not_say() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("part1.ndjson"), "\n{\"resourceType\":\"Condition\"}\n").unwrap();
        std::fs::write(dir.path().join("mystery.ndjson"), "hello\n").unwrap();
        std::fs::create_dir(dir.path().join("error")).unwrap();
        std::fs::write(dir.path().join("error/OperationOutcome.ndjson"), "{}\n").unwrap();
        std::fs::write(dir.path().join("log.ndjson"), "{\"eventId\":\"kickoff\"}\n").unwrap();
        let err = find_inputs(&[dir.path().join("mystery.ndjson")]).unwrap_err();
        assert!(matches!(err, ConvertError::UnknownType { .. }));
        // In a folder, files that hold no resources (a log, say) are passed over.
        let inputs = find_inputs(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0].resource_type, "Condition");
    }
}
