//! Which NDJSON files to convert, of which resource type, and reading them in chunks of whole lines.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use crate::error::ConvertError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    /// Size on disk (compressed for `.gz`): what progress counts.
    pub bytes: u64,
}

/// All the files of one resource type, in name order: they become one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInput {
    pub resource_type: String,
    pub files: Vec<InputFile>,
}

impl TypeInput {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

fn is_ndjson(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz"].iter().any(|ext| name.ends_with(ext))
}

/// A resource type name as FHIR spells them: `Patient`, `ExplanationOfBenefit`.
pub fn looks_like_type(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// The files to convert: each path is an NDJSON file or a folder whose NDJSON files (not those in
/// subfolders such as `error/`) are taken. Grouped by resource type: the part of the name before
/// the first `.` or `-` (`Observation.002.ndjson`), else the first line's `resourceType`.
pub fn find_inputs(paths: &[PathBuf]) -> Result<Vec<TypeInput>, ConvertError> {
    // (path, named by the user): a file found in a folder that holds no resources (Haul's own
    // log.ndjson, say) is passed over; a file named on its own must be one.
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| ConvertError::read(path, e))?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| ConvertError::read(path, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| ConvertError::read(path, e))?;
                let p = entry.path();
                if entry.file_type().map(|t| t.is_file()).unwrap_or(false) && is_ndjson(&p) {
                    files.push((p, false));
                }
            }
        } else {
            files.push((path.clone(), true));
        }
    }
    if files.is_empty() {
        let shown = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        return Err(ConvertError::NoInput { paths: shown });
    }
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    let mut by_type: Vec<TypeInput> = Vec::new();
    for (path, named) in files {
        let resource_type = match type_of(&path) {
            Ok(t) => t,
            Err(ConvertError::UnknownType { .. }) if !named => continue,
            Err(e) => return Err(e),
        };
        let bytes = std::fs::metadata(&path).map_err(|e| ConvertError::read(&path, e))?.len();
        let file = InputFile { path, bytes };
        match by_type.iter_mut().find(|t| t.resource_type == resource_type) {
            Some(t) => t.files.push(file),
            None => by_type.push(TypeInput { resource_type, files: vec![file] }),
        }
    }
    by_type.sort_by(|a, b| a.resource_type.cmp(&b.resource_type));
    Ok(by_type)
}

fn type_of(path: &Path) -> Result<String, ConvertError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name.split(['.', '-', '_']).next().unwrap_or("");
    if looks_like_type(stem) {
        return Ok(stem.to_string());
    }
    let mut reader = BufReader::new(open(path, &Arc::new(AtomicU64::new(0)))?);
    let mut first = Vec::new();
    loop {
        first.clear();
        let n = (&mut reader).take(64 << 20).read_until(b'\n', &mut first).map_err(|e| ConvertError::read(path, e))?;
        if n == 0 || !crate::infer::is_blank(&first) {
            break;
        }
    }
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "resourceType")]
        resource_type: String,
    }
    match serde_json::from_slice::<Head>(&first) {
        Ok(h) if looks_like_type(&h.resource_type) => Ok(h.resource_type),
        _ => Err(ConvertError::UnknownType { path: path.display().to_string() }),
    }
}

/// Counts the bytes read from disk, for progress.
struct Counted {
    file: File,
    read: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file for reading its lines; gzip (by its magic bytes) is inflated on the way.
pub fn open(path: &Path, read: &Arc<AtomicU64>) -> Result<Box<dyn Read + Send>, ConvertError> {
    let mut file = File::open(path).map_err(|e| ConvertError::read(path, e))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(|e| ConvertError::read(path, e))?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let counted = Counted { file, read: read.clone() };
    read.fetch_add(n as u64, Ordering::Relaxed);
    let raw = head.chain(counted);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(MultiGzDecoder::new(BufReader::with_capacity(256 << 10, raw))))
    } else {
        Ok(Box::new(raw))
    }
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

    /// The chunk's lines, numbered, without `\n` or a `\r` before it.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let data = self.data();
        let body = data.strip_suffix(b"\n").unwrap_or(data);
        let mut n = self.first_line;
        let mut start = 0;
        // memchr finds line ends 16-32 bytes at a time; a byte-by-byte split cost a seventh of the run.
        let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
        ends.map(move |end| {
            let line = &body[start..end];
            start = end + 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            n += 1;
            (n - 1, line)
        })
    }
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
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
        let mut reader = open(&file.path, read)?;
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
            let got = read_full(&mut reader, &mut buf[filled..filled + want])
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
