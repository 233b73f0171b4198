//! Find (text anywhere in a line) and lookups (a resource by id, where a reference points), streaming through
//! the indexed data in blocks of whole lines.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use ts_rs::TS;

use crate::error::PreviewError;
use crate::folder::{PreviewFolder, data_len};

/// Rows kept from one find; the count goes on past it.
pub const FIND_ROWS_KEPT: usize = 100_000;

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FindBatch {
    /// Rows found since the last batch.
    #[ts(type = "number[]")]
    pub rows: Vec<u64>,
    #[ts(type = "number")]
    pub matches: u64,
    #[ts(type = "number")]
    pub bytes_searched: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct FindSummary {
    #[ts(type = "number")]
    pub matches: u64,
    /// More rows matched than are kept ([`FIND_ROWS_KEPT`]).
    pub capped: bool,
    pub stopped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct Located {
    pub resource_type: String,
    #[ts(type = "number")]
    pub row: u64,
}

impl PreviewFolder {
    /// Rows of a type whose line contains `query`, ignoring case (ASCII letters; other letters match as
    /// typed). Batches go to `on_batch` as the search goes; at most [`FIND_ROWS_KEPT`] rows are handed out,
    /// the count goes on.
    pub fn find(
        &self,
        resource_type: &str,
        query: &str,
        on_batch: &mut dyn FnMut(FindBatch),
        cancel: &AtomicBool,
    ) -> Result<FindSummary, PreviewError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(PreviewError::EmptyQuery);
        }
        self.index_type(resource_type, &|_| {}, cancel)?;
        let t = self.type_files(resource_type)?;
        let indexes = self.indexes(resource_type)?;
        self.check_unchanged(t, &indexes)?;
        let needle = query.to_lowercase().into_bytes();
        let total: u64 = indexes.iter().map(|i| data_len(i)).sum();
        // (matches, rows kept, rows not yet handed out): both callbacks of the scan touch them.
        let found = std::cell::RefCell::new((0u64, 0usize, Vec::new()));
        let (mut searched, mut base) = (0u64, 0u64);
        for index in &indexes {
            let finished = scan(
                index.data_path(),
                &needle,
                true,
                cancel,
                &mut |bytes| {
                    searched += bytes;
                    let mut f = found.borrow_mut();
                    let rows = std::mem::take(&mut f.2);
                    on_batch(FindBatch { rows, matches: f.0, bytes_searched: searched, bytes: total });
                },
                &mut |local, _| {
                    let mut f = found.borrow_mut();
                    f.0 += 1;
                    if f.1 < FIND_ROWS_KEPT {
                        f.1 += 1;
                        f.2.push(base + local);
                    }
                    true
                },
            )?;
            if !finished {
                let f = found.borrow();
                return Ok(FindSummary { matches: f.0, capped: f.0 > f.1 as u64, stopped: true });
            }
            base += index.rows().0;
        }
        let mut f = found.borrow_mut();
        let rows = std::mem::take(&mut f.2);
        on_batch(FindBatch { rows, matches: f.0, bytes_searched: total, bytes: total });
        Ok(FindSummary { matches: f.0, capped: f.0 > f.1 as u64, stopped: false })
    }

    /// The row of the resource of this type with this id, if the folder has it.
    pub fn find_id(&self, resource_type: &str, id: &str, cancel: &AtomicBool) -> Result<Option<u64>, PreviewError> {
        // FHIR ids are [A-Za-z0-9-.]{1,64}: nothing to escape, so the raw text can be searched for.
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
            return Ok(None);
        }
        self.index_type(resource_type, &|_| {}, cancel)?;
        let indexes = self.indexes(resource_type)?;
        let needle = format!("\"id\":\"{id}\"").into_bytes();
        let mut base = 0u64;
        for index in &indexes {
            let mut found = None;
            let finished = scan(index.data_path(), &needle, false, cancel, &mut |_| {}, &mut |local, line| {
                // The text may sit in a nested element; only the resource's own id counts.
                #[derive(serde::Deserialize)]
                struct Id {
                    id: Option<String>,
                }
                match serde_json::from_slice::<Id>(line) {
                    Ok(Id { id: Some(found_id) }) if found_id == id => {
                        found = Some(base + local);
                        false
                    }
                    _ => true,
                }
            })?;
            if found.is_some() {
                return Ok(found);
            }
            if !finished && cancel.load(Ordering::Relaxed) {
                return Err(PreviewError::Cancelled);
            }
            base += index.rows().0;
        }
        Ok(None)
    }

    /// Where a reference (`Patient/123`, or a full URL ending so) points in this folder, if it is here.
    pub fn lookup(&self, reference: &str, cancel: &AtomicBool) -> Result<Option<Located>, PreviewError> {
        let Some((resource_type, id)) = split_reference(reference) else { return Ok(None) };
        if self.type_files(resource_type).is_err() {
            return Ok(None);
        }
        Ok(self
            .find_id(resource_type, id, cancel)?
            .map(|row| Located { resource_type: resource_type.to_string(), row }))
    }
}

/// `Patient/123`, `https://x/fhir/Patient/123`, `Patient/123/_history/2` → ("Patient", "123").
pub fn split_reference(reference: &str) -> Option<(&str, &str)> {
    let path = reference.split(['?', '#']).next()?;
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() >= 4 && parts[parts.len() - 2] == "_history" {
        parts.truncate(parts.len() - 2);
    }
    let (&id, rest) = parts.split_last()?;
    let &resource_type = rest.last()?;
    fhir_ndjson::looks_like_type(resource_type).then_some((resource_type, id))
}

const SCAN_BLOCK: usize = 4 << 20;

/// Reads `data` in blocks of whole lines and calls `on_hit(row, line)` once per line holding `needle` (which,
/// when `lowercase`, is already lower case and is matched against the ASCII-lowercased text). `on_hit`
/// returning false stops the scan; so does `cancel`. Returns whether the whole file was read.
fn scan(
    data: &Path,
    needle: &[u8],
    lowercase: bool,
    cancel: &AtomicBool,
    on_block: &mut dyn FnMut(u64),
    on_hit: &mut dyn FnMut(u64, &[u8]) -> bool,
) -> Result<bool, PreviewError> {
    use std::io::Read;
    let finder = memchr::memmem::Finder::new(needle);
    let mut file = std::fs::File::open(data).map_err(|e| PreviewError::read(data, e))?;
    let mut buf: Vec<u8> = Vec::with_capacity(SCAN_BLOCK * 2);
    let mut row = 0u64;
    let mut eof = false;
    while !eof {
        if cancel.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let before = buf.len();
        buf.resize(before + SCAN_BLOCK, 0);
        let n = loop {
            match file.read(&mut buf[before..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PreviewError::read(data, e)),
            }
        };
        buf.truncate(before + n);
        eof = n == 0;
        let cut = if eof {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => continue, // one line longer than a block: read on
            }
        };
        let block = &mut buf[..cut];
        if lowercase {
            block.make_ascii_lowercase();
        }
        let block = &buf[..cut];
        let (mut at, mut counted) = (0usize, 0usize);
        while let Some(p) = finder.find(&block[at..]) {
            let p = at + p;
            row += memchr::memchr_iter(b'\n', &block[counted..p]).count() as u64;
            let start = memchr::memrchr(b'\n', &block[..p]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &block[p..]).map_or(cut, |i| p + i);
            if !on_hit(row, &block[start..end]) {
                return Ok(false);
            }
            if end >= cut {
                counted = cut;
                break;
            }
            row += 1;
            counted = end + 1;
            at = end + 1;
        }
        row += memchr::memchr_iter(b'\n', &block[counted..]).count() as u64;
        on_block(cut as u64);
        buf.drain(..cut);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_type_and_id() {
        assert_eq!(split_reference("Patient/123"), Some(("Patient", "123")));
        assert_eq!(split_reference("https://x.org/fhir/Patient/a-b.c/_history/2"), Some(("Patient", "a-b.c")));
        assert_eq!(split_reference("urn:uuid:1234"), None);
        assert_eq!(split_reference("#contained"), None);
        assert_eq!(split_reference("patient/1"), None);
    }

    #[test]
    fn scan_finds_each_matching_line_once_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ndjson");
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!(
                "{{\"id\":\"r{i}\",\"note\":\"{}\"}}\n",
                if i % 50_000 == 7 { "Needle needle" } else { "hay" }
            ));
        }
        text.push_str("{\"last\":\"NEEDLE\"}");
        std::fs::write(&path, &text).unwrap();
        let mut rows = Vec::new();
        let done = scan(&path, b"needle", true, &AtomicBool::new(false), &mut |_| {}, &mut |r, line| {
            assert!(line.to_ascii_lowercase().windows(6).any(|w| w == b"needle"));
            rows.push(r);
            true
        })
        .unwrap();
        assert!(done);
        assert_eq!(rows, [7, 50_007, 100_007, 150_007, 200_000]);
    }
}
