//! The passes behind [`super::verify_into`]. A plain body with bad lines is compacted in place: good lines
//! move down over the gaps the bad ones leave, and the file is cut at the end, so taking out a bad line
//! never needs a second copy of a large file on disk. A gzip body (and a server's error file, which is small
//! and may echo a secret) is unpacked or rewritten beside it. Every line is read through a bounded reader:
//! a line over the limit is set aside by reference (offset, length, first bytes), never held whole.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use fhir_ndjson::{Line, LineReader, is_blank};
use serde::Serialize;

use super::{Expect, Verified, VerifyError, VerifyFile, check, count_deletions, summarize_outcome};
use crate::limits::{ClaimedWrites, DiskFull};

pub(super) fn verify(file: &VerifyFile<'_>) -> Result<Verified, VerifyError> {
    let gzip = fhir_ndjson::is_gzip_file(file.part).map_err(io::Error::from)?;
    if gzip || file.expect == Expect::Outcomes { rewrite_beside(file, gzip) } else { compact_in_place(file) }
}

/// A bad line as the quarantine file records it. `text` for a line of ordinary length; for a line over the
/// limit, where it was (`offset`, `length` in the file as received) and how it began (`head`).
#[derive(Serialize)]
struct QuarantineRecord<'a> {
    file: &'a str,
    line: u64,
    offset: u64,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

/// Sorts each line: counted and kept, or set aside in quarantine.
struct Sorter<'a> {
    file: &'a VerifyFile<'a>,
    out: Verified,
    quarantine: Option<BufWriter<File>>,
    first_bad: Option<String>,
    /// The quarantine file's claim on the disk, once it exists: a file of bad lines (each escaped as JSON,
    /// up to six times its size) must not take the space Haul keeps free.
    quarantined: Option<ClaimedWrites<'a>>,
    /// Bytes the last line set aside took, to count against that claim.
    just_quarantined: u64,
}

/// What becomes of one line.
enum Fate<'l> {
    Keep(std::borrow::Cow<'l, [u8]>),
    Drop,
    Blank,
}

impl<'a> Sorter<'a> {
    fn new(file: &'a VerifyFile<'a>) -> Self {
        Self {
            file,
            out: Verified::default(),
            quarantine: None,
            first_bad: None,
            quarantined: None,
            just_quarantined: 0,
        }
    }

    fn sort<'l>(&mut self, number: u64, offset: u64, line: Line<'l>) -> io::Result<Fate<'l>> {
        let expect = self.file.expect;
        match line {
            Line::Text(text) if is_blank(text) => Ok(Fate::Blank),
            Line::Text(text) => match check(text, expect) {
                Ok(()) => {
                    self.out.resources += 1;
                    let secrets = self.file.secrets;
                    // A server echoing the request's token into its error file: it is not kept on disk, nor in
                    // the summary of errors.
                    let kept = if expect == Expect::Outcomes && secrets.found_in(text) {
                        std::borrow::Cow::Owned(secrets.redact(&String::from_utf8_lossy(text)).into_bytes())
                    } else {
                        std::borrow::Cow::Borrowed(text)
                    };
                    match expect {
                        Expect::Outcomes => summarize_outcome(&kept, &mut self.out.issues),
                        Expect::Deletions => self.out.deletions += count_deletions(text),
                        Expect::Resource(_) => {}
                    }
                    Ok(Fate::Keep(kept))
                }
                Err(problem) => {
                    let why = problem.to_string();
                    let shown = String::from_utf8_lossy(text);
                    let shown = if self.file.secrets.found_in(text) {
                        std::borrow::Cow::Owned(self.file.secrets.redact(&shown))
                    } else {
                        shown
                    };
                    self.set_aside(QuarantineRecord {
                        file: self.file.name,
                        line: number,
                        offset,
                        error: &why,
                        text: Some(&shown),
                        length: None,
                        head: None,
                        url: None,
                    })?;
                    Ok(Fate::Drop)
                }
            },
            Line::TooLong { length, head } => {
                let why = format!(
                    "longer than {}, Haul's limit for one line ({})",
                    crate::wording::bytes(self.file.limits.max_line_bytes as u64),
                    crate::wording::bytes(length)
                );
                let head = self.file.secrets.redact(&String::from_utf8_lossy(head));
                self.set_aside(QuarantineRecord {
                    file: self.file.name,
                    line: number,
                    offset,
                    error: &why,
                    text: None,
                    length: Some(length),
                    head: Some(&head),
                    url: Some(self.file.url),
                })?;
                Ok(Fate::Drop)
            }
        }
    }

    fn set_aside(&mut self, record: QuarantineRecord<'_>) -> io::Result<()> {
        self.out.bad_lines += 1;
        if self.first_bad.is_none() {
            self.first_bad = Some(format!("line {}: {}", record.line, bulk_client::printable(record.error)));
        }
        let w = match &mut self.quarantine {
            Some(w) => w,
            None => {
                if let Some(dir) = self.file.quarantine.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                self.quarantine.insert(BufWriter::new(File::create(self.file.quarantine)?))
            }
        };
        let line = serde_json::to_vec(&record)?;
        w.write_all(&line)?;
        w.write_all(b"\n")?;
        self.just_quarantined += line.len() as u64 + 1;
        Ok(())
    }

    /// Counts what the quarantine file took since the last call against its claim on the disk.
    fn check_disk(&mut self) -> Result<(), DiskFull> {
        let n = std::mem::take(&mut self.just_quarantined);
        if n == 0 {
            return Ok(());
        }
        match &mut self.quarantined {
            Some(claim) => claim.wrote(n),
            None => {
                let mut claim = ClaimedWrites::start(self.file.disk, None)?;
                claim.wrote(n)?;
                self.quarantined = Some(claim);
                Ok(())
            }
        }
    }

    /// Closes the quarantine file; refuses a file with no resource at all but bad lines (not NDJSON).
    fn finish(mut self) -> Result<Verified, VerifyError> {
        if let Some(mut w) = self.quarantine.take() {
            w.flush()?;
            w.get_ref().sync_all()?;
        }
        if self.out.resources == 0 && self.out.bad_lines > 0 {
            let _ = std::fs::remove_file(self.file.quarantine);
            return Err(VerifyError::NotNdjson {
                bad: self.out.bad_lines,
                what: self.file.expect.resource_type().to_string(),
                first: self.first_bad.unwrap_or_default(),
            });
        }
        Ok(self.out)
    }
}

/// A plain body: read through once; until the first bad line nothing moves, after it every good line is
/// written down to where the kept text ends, and the file is cut there. The writes never pass the reads
/// (kept text is never longer than what was read), so the file is its own scratch space. It is renamed to
/// `.compacting` first: a crash midway leaves a file that says it is neither download nor result.
fn compact_in_place(file: &VerifyFile<'_>) -> Result<Verified, VerifyError> {
    std::fs::rename(file.part, file.compacting)?;
    let reader = BufReader::with_capacity(1 << 20, File::open(file.compacting)?);
    let mut lines = LineReader::with_limit(reader, file.limits.max_line_bytes);
    let mut sorter = Sorter::new(file);
    // Where kept text ends, once something was dropped (before that, kept text is where it was).
    let mut writer: Option<(BufWriter<File>, u64)> = None;
    while let Some((number, offset, line)) = lines.next_at()? {
        let fate = sorter.sort(number, offset, line)?;
        sorter.check_disk()?;
        match fate {
            Fate::Blank => {}
            Fate::Keep(_) if writer.is_none() => {}
            Fate::Keep(text) => {
                let (w, end) = writer.as_mut().expect("checked above");
                w.write_all(&text)?;
                w.write_all(b"\n")?;
                *end += text.len() as u64 + 1;
            }
            Fate::Drop if writer.is_none() => {
                let mut f = OpenOptions::new().write(true).open(file.compacting)?;
                f.seek(SeekFrom::Start(offset))?;
                writer = Some((BufWriter::with_capacity(1 << 20, f), offset));
            }
            Fate::Drop => {}
        }
    }
    let verified = sorter.finish()?;
    if let Some((w, end)) = writer {
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.set_len(end)?;
        f.sync_all()?;
    }
    std::fs::rename(file.compacting, file.target)?;
    Ok(Verified { bytes: std::fs::metadata(file.target)?.len(), ..verified })
}

/// A gzip body is unpacked (bounded by the ratio and file limits, with the disk checked as it grows); a
/// server's error file is rewritten with any echoed secret taken out. Written beside, then renamed.
fn rewrite_beside(file: &VerifyFile<'_>, gzip: bool) -> Result<Verified, VerifyError> {
    let packed = std::fs::metadata(file.part)?.len();
    let limit = if gzip { file.limits.max_unpacked(packed) } else { u64::MAX };
    let decoded = Bounded { inner: fhir_ndjson::open(file.part).map_err(io::Error::from)?, left: limit };
    let mut lines = LineReader::with_limit(BufReader::with_capacity(1 << 20, decoded), file.limits.max_line_bytes);
    let tmp = file.target.with_extension("ndjson.tmp");
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    let mut sorter = Sorter::new(file);
    // A plain file's lines fit in what it takes now; what gzip unpacks to is not known ahead.
    let mut claim = ClaimedWrites::start(file.disk, (!gzip).then_some(packed))?;
    loop {
        let next = match lines.next_at() {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
                return Err(VerifyError::UnpacksTooFar { packed, limit });
            }
            // What the gzip decoder says of the bytes (the file itself was read fine): the server's file is bad.
            Err(e)
                if gzip
                    && matches!(
                        e.kind(),
                        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof
                    ) =>
            {
                return Err(VerifyError::BrokenGzip { reason: e.to_string() });
            }
            Err(e) => return Err(e.into()),
        };
        let Some((number, offset, line)) = next else { break };
        let fate = sorter.sort(number, offset, line)?;
        sorter.check_disk()?;
        if let Fate::Keep(text) = fate {
            w.write_all(&text)?;
            w.write_all(b"\n")?;
            claim.wrote(text.len() as u64 + 1)?;
        }
    }
    let verified = sorter.finish()?;
    w.flush()?;
    w.get_ref().sync_all()?;
    drop(w);
    std::fs::rename(&tmp, file.target)?;
    std::fs::remove_file(file.part)?;
    Ok(Verified { bytes: std::fs::metadata(file.target)?.len(), ..verified })
}

/// A reader that fails (`FileTooLarge`) past `left` bytes: unpacking stops at the limit.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a body that ends exactly at the limit from one that goes on.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(io::ErrorKind::FileTooLarge, "unpacked past the limit")),
            };
        }
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}
