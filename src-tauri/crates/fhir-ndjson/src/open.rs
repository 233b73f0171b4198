//! Reading a file decoded: gzip is told by its magic bytes (not by the name: servers serve `.ndjson` bodies
//! gzipped without saying so, and a `.gz` name may hold plain text), here and nowhere else.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use crate::error::NdjsonError;

/// The first two bytes of every gzip member.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether bytes that start a file (two are enough) start a gzip stream.
pub fn is_gzip_magic(head: &[u8]) -> bool {
    head.starts_with(&GZIP_MAGIC)
}

/// Whether the file at `path` is gzip.
pub fn is_gzip_file(path: &Path) -> Result<bool, NdjsonError> {
    let mut file = File::open(path).map_err(|e| NdjsonError::read(path, e))?;
    let mut head = [0u8; 2];
    let n = read_up_to(&mut file, &mut head).map_err(|e| NdjsonError::read(path, e))?;
    Ok(is_gzip_magic(&head[..n]))
}

/// Reads until `buf` is full or the input ends; the bytes read (a short count means the end).
pub fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
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

/// A file's text: inflated on the way when it is gzip.
pub struct Decoded {
    gzip: bool,
    reader: Box<dyn Read + Send>,
}

impl Decoded {
    /// Whether the file on disk is gzip.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

/// Counts the bytes read from disk (compressed for gzip), for progress.
struct Counted {
    file: File,
    read: Option<Arc<AtomicU64>>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if let Some(read) = &self.read {
            read.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Opens a file for reading its lines; gzip is inflated on the way. Unbuffered for plain files: wrap it in a
/// `BufReader` for small reads.
pub fn open(path: &Path) -> Result<Decoded, NdjsonError> {
    open_with(path, None)
}

/// [`open`], adding the bytes read from disk to `read` as it goes.
pub fn open_counting(path: &Path, read: &Arc<AtomicU64>) -> Result<Decoded, NdjsonError> {
    open_with(path, Some(read.clone()))
}

fn open_with(path: &Path, read: Option<Arc<AtomicU64>>) -> Result<Decoded, NdjsonError> {
    let mut file = File::open(path).map_err(|e| NdjsonError::read(path, e))?;
    let mut head = [0u8; 2];
    let n = read_up_to(&mut file, &mut head).map_err(|e| NdjsonError::read(path, e))?;
    if let Some(read) = &read {
        read.fetch_add(n as u64, Ordering::Relaxed);
    }
    // The head goes back in front, so the file is read once and never seeks (a pipe works too).
    let raw = std::io::Cursor::new(head[..n].to_vec()).chain(Counted { file, read });
    let gzip = is_gzip_magic(&head[..n]);
    let reader: Box<dyn Read + Send> =
        if gzip { Box::new(MultiGzDecoder::new(BufReader::with_capacity(256 << 10, raw))) } else { Box::new(raw) };
    Ok(Decoded { gzip, reader })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_is_told_by_its_bytes_not_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"{\"resourceType\":\"Patient\"}\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).unwrap();
        let gz = gz.finish().unwrap();
        // Two gzip members one after the other are one text (as `cat a.gz b.gz` makes).
        let two = [gz.clone(), gz.clone()].concat();
        for (name, bytes, gzip, want) in [
            ("Patient.ndjson", gz.clone(), true, text.to_vec()),
            ("Patient.ndjson.gz", text.to_vec(), false, text.to_vec()),
            ("two.ndjson.gz", two, true, [text.as_slice(), text].concat()),
            ("empty.ndjson", Vec::new(), false, Vec::new()),
            ("one.ndjson", vec![0x1f], false, vec![0x1f]),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            assert_eq!(is_gzip_file(&path).unwrap(), gzip, "{name}");
            let read = Arc::new(AtomicU64::new(0));
            let mut decoded = open_counting(&path, &read).unwrap();
            assert_eq!(decoded.is_gzip(), gzip);
            let mut out = Vec::new();
            decoded.read_to_end(&mut out).unwrap();
            assert_eq!(out, want, "{name}");
            assert_eq!(read.load(Ordering::Relaxed), bytes.len() as u64, "{name}: bytes on disk counted");
        }
        let missing = open(&dir.path().join("none.ndjson")).err().unwrap();
        assert!(missing.to_string().starts_with("Haul could not read "), "{missing}");
        assert!(missing.to_string().contains("none.ndjson"), "{missing}");
    }
}
