//! The line-offset index: where each line of an NDJSON file starts, kept on disk in the app's cache so that
//! any row can be read with two small reads, whatever the file's size. A `.gz` file is inflated once into the
//! cache beside its index (random access into gzip needs that, or a full re-read per page).
//!
//! Index file: a 64-byte header (magic, the source's size and modification time, rows, blank lines, length of
//! the data, complete flag) and then one little-endian u64 per row: where it starts, plus one more for the end.
//! A header whose source stamp differs from the file's is stale and rebuilt; a build cut short never sets the
//! complete flag, so it is rebuilt too.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use fhir_ndjson::{is_blank, line_content};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::error::PreviewError;

/// Version 2: blank lines are counted by `fhir_ndjson::is_blank` (whitespace only), as everywhere else;
/// version 1 counted only empty lines, so its counts are rebuilt.
const MAGIC: &[u8; 8] = b"HAULIDX2";
const HEADER: u64 = 64;
/// How much input is read between two points where readers may see the rows indexed so far.
const PUBLISH_EVERY: usize = 8 << 20;
const READ_BUFFER: usize = 1 << 20;

/// Size and modification time of a file: when either changes, its index is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub modified_ns: u128,
}

impl Stamp {
    pub fn of(path: &Path) -> Result<Stamp, PreviewError> {
        let meta = std::fs::metadata(path).map_err(|e| PreviewError::read(path, e))?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(Stamp { len: meta.len(), modified_ns })
    }
}

/// What readers may use of an index that may still be building.
#[derive(Debug, Clone, Copy, Default)]
struct Ready {
    /// Rows whose start offsets are on disk.
    rows: u64,
    /// Where row `rows` starts: the end of the last ready row.
    end: u64,
    blank: u64,
    complete: bool,
}

/// One file's index, readable while it builds.
#[derive(Debug)]
pub struct LineIndex {
    source: PathBuf,
    gz: bool,
    /// The bytes rows point into: the source itself, or its inflated copy in the cache.
    data: PathBuf,
    index_path: PathBuf,
    stamp: Stamp,
    ready: Mutex<Ready>,
    /// While a build runs: the files it writes (index, and inflated data for `.gz`), renamed into place at the
    /// end. Two windows on one folder, or a crash, never leave a half-written index under the final name.
    partial: Mutex<Option<(PathBuf, PathBuf)>>,
    building: Mutex<()>,
}

/// Progress of one build, in bytes of the source file (compressed for `.gz`).
#[derive(Debug, Clone, Copy)]
pub struct BuildProgress {
    pub source_bytes_read: u64,
    pub source_bytes: u64,
    pub rows: u64,
}

/// A stable name for a file's cache entries: its name (readable when someone looks in the cache) and a hash of
/// its full path (FNV-1a: stable across runs and platforms, unlike std's hasher).
fn cache_stem(source: &Path) -> String {
    let full = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in full.to_string_lossy().as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let name: String = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .take(60)
        .collect();
    format!("{name}-{hash:016x}")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn cache_err(p: &Path) -> impl Fn(std::io::Error) -> PreviewError + '_ {
    move |e| PreviewError::cache(p, e)
}

pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            let n = file.seek_read(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}

impl LineIndex {
    /// The index of `source` in `cache_dir`: complete if a valid one is there, else empty and waiting for
    /// [`LineIndex::build`].
    pub fn open(source: &Path, cache_dir: &Path) -> Result<LineIndex, PreviewError> {
        std::fs::create_dir_all(cache_dir).map_err(|e| PreviewError::cache(cache_dir, e))?;
        let stem = cache_stem(source);
        let gz = fhir_ndjson::is_gzip_file(source)?;
        let index_path = cache_dir.join(format!("{stem}.idx"));
        let data = if gz { cache_dir.join(format!("{stem}.ndjson")) } else { source.to_path_buf() };
        let stamp = Stamp::of(source)?;
        let index = LineIndex {
            source: source.to_path_buf(),
            gz,
            data,
            index_path,
            stamp,
            ready: Mutex::new(Ready::default()),
            partial: Mutex::new(None),
            building: Mutex::new(()),
        };
        if let Some(ready) = index.read_header() {
            *index.ready.lock().expect("index state") = ready;
            // Recently used entries are the last to be pruned from the cache.
            let now = SystemTime::now();
            for p in [&index.index_path, &index.data] {
                if index.gz || p == &index.index_path {
                    let _ = File::options().write(true).open(p).and_then(|f| f.set_modified(now));
                }
            }
        }
        Ok(index)
    }

    fn read_header(&self) -> Option<Ready> {
        let file = File::open(&self.index_path).ok()?;
        let mut h = [0u8; HEADER as usize];
        read_exact_at(&file, &mut h, 0).ok()?;
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().expect("8 bytes"));
        let modified_ns = u128::from_le_bytes(h[16..32].try_into().expect("16 bytes"));
        let (rows, blank, data_len, complete) = (u64_at(32), u64_at(40), u64_at(48), h[56] == 1);
        let valid = &h[..8] == MAGIC
            && complete
            && u64_at(8) == self.stamp.len
            && modified_ns == self.stamp.modified_ns
            && file.metadata().ok()?.len() == HEADER + 8 * (rows + 1)
            && std::fs::metadata(&self.data).ok()?.len() == data_len;
        valid.then_some(Ready { rows, end: data_len, blank, complete: true })
    }

    pub fn source(&self) -> &Path {
        &self.source
    }

    pub fn is_gzip(&self) -> bool {
        self.gz
    }

    /// The file rows are read from (the inflated copy for `.gz`).
    pub fn data_path(&self) -> &Path {
        &self.data
    }

    pub fn index_path(&self) -> &Path {
        &self.index_path
    }

    pub fn source_len(&self) -> u64 {
        self.stamp.len
    }

    /// (rows readable now, blank lines among them, whether the whole file is indexed).
    pub fn rows(&self) -> (u64, u64, bool) {
        let r = *self.ready.lock().expect("index state");
        (r.rows, r.blank, r.complete)
    }

    pub fn is_complete(&self) -> bool {
        self.ready.lock().expect("index state").complete
    }

    /// Whether the file is still the one indexed; a changed file must be indexed again.
    pub fn check_unchanged(&self) -> Result<(), PreviewError> {
        if Stamp::of(&self.source)? == self.stamp {
            Ok(())
        } else {
            Err(PreviewError::Changed { path: self.source.display().to_string() })
        }
    }

    /// Reads the whole file once and writes its index (and, for `.gz`, the inflated copy). Rows become
    /// readable as the build goes. One build at a time: a second caller waits for the first and returns.
    pub fn build(&self, progress: &dyn Fn(BuildProgress), cancel: &AtomicBool) -> Result<(), PreviewError> {
        let _one_at_a_time = self.building.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_complete() {
            return Ok(());
        }
        static BUILDS: AtomicU64 = AtomicU64::new(0);
        let tag = format!("{}-{}.part", std::process::id(), BUILDS.fetch_add(1, Ordering::Relaxed));
        let index_part = with_suffix(&self.index_path, &tag);
        let data_part = if self.gz { with_suffix(&self.data, &tag) } else { self.data.clone() };
        *self.partial.lock().expect("partial") = Some((index_part.clone(), data_part.clone()));
        let result = self.build_once(&index_part, &data_part, progress, cancel).and_then(|()| {
            // Data first: a complete index under its final name always has its data beside it.
            if self.gz {
                std::fs::rename(&data_part, &self.data).map_err(|e| PreviewError::cache(&self.data, e))?;
            }
            std::fs::rename(&index_part, &self.index_path).map_err(|e| PreviewError::cache(&self.index_path, e))
        });
        let mut ready = self.ready.lock().expect("index state");
        *self.partial.lock().expect("partial") = None;
        match &result {
            Ok(()) => ready.complete = true,
            Err(_) => {
                let _ = std::fs::remove_file(&index_part);
                if self.gz {
                    let _ = std::fs::remove_file(&data_part);
                }
                *ready = Ready::default();
            }
        }
        result
    }

    /// The index and data files to read now: the build's while it runs, the final ones after.
    fn reading_paths(&self) -> (PathBuf, PathBuf) {
        match &*self.partial.lock().expect("partial") {
            Some((index, data)) => (index.clone(), data.clone()),
            None => (self.index_path.clone(), self.data.clone()),
        }
    }

    fn build_once(
        &self,
        index_part: &Path,
        data_part: &Path,
        progress: &dyn Fn(BuildProgress),
        cancel: &AtomicBool,
    ) -> Result<(), PreviewError> {
        let read = Arc::new(AtomicU64::new(0));
        let mut input = fhir_ndjson::open_counting(&self.source, &read)?;
        let mut data_out = if self.gz {
            let f = File::create(data_part).map_err(cache_err(data_part))?;
            Some(BufWriter::with_capacity(READ_BUFFER, f))
        } else {
            None
        };
        let index_file = File::create(index_part).map_err(cache_err(index_part))?;
        let mut idx = BufWriter::with_capacity(READ_BUFFER, index_file);
        idx.write_all(&[0u8; HEADER as usize]).map_err(cache_err(index_part))?;

        let mut buf = vec![0u8; READ_BUFFER];
        let (mut pos, mut line_start, mut rows, mut blank) = (0u64, 0u64, 0u64, 0u64);
        // Whether the line being read is blank so far: a line may span two reads.
        let mut blank_so_far = true;
        let mut since_publish = 0usize;
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(PreviewError::Cancelled);
            }
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PreviewError::read(&self.source, e)),
            };
            let chunk = &buf[..n];
            if let Some(out) = data_out.as_mut() {
                out.write_all(chunk).map_err(cache_err(data_part))?;
            }
            let mut from = 0;
            for i in memchr::memchr_iter(b'\n', chunk) {
                // Most lines start with `{`: is_blank stops at once.
                if blank_so_far && is_blank(&chunk[from..i]) {
                    blank += 1;
                }
                blank_so_far = true;
                from = i + 1;
                idx.write_all(&line_start.to_le_bytes()).map_err(cache_err(index_part))?;
                rows += 1;
                line_start = pos + i as u64 + 1;
            }
            blank_so_far = blank_so_far && is_blank(&chunk[from..]);
            pos += n as u64;
            since_publish += n;
            if since_publish >= PUBLISH_EVERY {
                since_publish = 0;
                if let Some(out) = data_out.as_mut() {
                    out.flush().map_err(cache_err(data_part))?;
                }
                idx.flush().map_err(cache_err(index_part))?;
                *self.ready.lock().expect("index state") = Ready { rows, end: line_start, blank, complete: false };
                progress(BuildProgress {
                    source_bytes_read: read.load(Ordering::Relaxed),
                    source_bytes: self.stamp.len,
                    rows,
                });
            }
        }
        if line_start < pos {
            // A last line without a newline is a row all the same.
            idx.write_all(&line_start.to_le_bytes()).map_err(cache_err(index_part))?;
            rows += 1;
            if blank_so_far {
                blank += 1;
            }
        }
        idx.write_all(&pos.to_le_bytes()).map_err(cache_err(index_part))?;
        if let Some(mut out) = data_out.take() {
            out.flush().map_err(cache_err(data_part))?;
        }
        if Stamp::of(&self.source)? != self.stamp {
            return Err(PreviewError::Changed { path: self.source.display().to_string() });
        }
        let mut header = [0u8; HEADER as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..16].copy_from_slice(&self.stamp.len.to_le_bytes());
        header[16..32].copy_from_slice(&self.stamp.modified_ns.to_le_bytes());
        header[32..40].copy_from_slice(&rows.to_le_bytes());
        header[40..48].copy_from_slice(&blank.to_le_bytes());
        header[48..56].copy_from_slice(&pos.to_le_bytes());
        header[56] = 1;
        let mut file = idx.into_inner().map_err(|e| PreviewError::cache(index_part, e.error()))?;
        file.seek(SeekFrom::Start(0)).and_then(|_| file.write_all(&header)).map_err(cache_err(index_part))?;
        // Complete once renamed into place (by `build`).
        *self.ready.lock().expect("index state") = Ready { rows, end: pos, blank, complete: false };
        progress(BuildProgress { source_bytes_read: self.stamp.len, source_bytes: self.stamp.len, rows });
        Ok(())
    }

    /// Rows `start..start+count` (clipped to what is indexed), each without its line ending.
    pub fn read_rows(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, PreviewError> {
        let ready = *self.ready.lock().expect("index state");
        if start >= ready.rows || count == 0 {
            return Ok(Vec::new());
        }
        let last = (start + count).min(ready.rows);
        let (index_path, data_path) = self.reading_paths();
        let offsets = Self::offsets(&index_path, start, last, &ready)?;
        let (from, to) = (offsets[0], offsets[offsets.len() - 1]);
        let data = File::open(&data_path).map_err(|e| PreviewError::read(&data_path, e))?;
        let mut bytes = vec![0u8; (to - from) as usize];
        read_exact_at(&data, &mut bytes, from).map_err(|e| PreviewError::read(&data_path, e))?;
        Ok(offsets
            .windows(2)
            .map(|w| {
                let line = &bytes[(w[0] - from) as usize..(w[1] - from) as usize];
                line_content(line.strip_suffix(b"\n").unwrap_or(line)).to_vec()
            })
            .collect())
    }

    /// Start offsets of rows `start..=last`; `last` may be `ready.rows`, whose start is the end of the data.
    fn offsets(index_path: &Path, start: u64, last: u64, ready: &Ready) -> Result<Vec<u64>, PreviewError> {
        let on_disk = if ready.complete { ready.rows + 1 } else { ready.rows };
        let read_to = (last + 1).min(on_disk);
        let file = File::open(index_path).map_err(|e| PreviewError::read(index_path, e))?;
        let mut raw = vec![0u8; ((read_to - start) * 8) as usize];
        read_exact_at(&file, &mut raw, HEADER + start * 8).map_err(|e| PreviewError::read(index_path, e))?;
        let mut offsets: Vec<u64> =
            raw.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
        if read_to <= last {
            offsets.push(ready.end);
        }
        Ok(offsets)
    }
}

fn modified_of(path: &Path) -> SystemTime {
    std::fs::metadata(path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Removes the oldest cache entries (by last use) until the cache holds at most `limit` bytes. Entries in
/// `keep` stay whatever their age.
pub fn prune_cache(cache_dir: &Path, limit: u64, keep: &[PathBuf]) {
    let Ok(entries) = std::fs::read_dir(cache_dir) else { return };
    let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    for (_, len, path) in files {
        if total <= limit {
            break;
        }
        let recent_part = path.extension().is_some_and(|e| e == "part")
            && std::time::SystemTime::now().duration_since(modified_of(&path)).is_ok_and(|d| d.as_secs() < 3600);
        if keep.contains(&path) || recent_part {
            continue;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}
