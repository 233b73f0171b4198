//! What tells one version of a file from another: `ETag` and `Last-Modified` on every file answer, `If-Range`
//! honoured (a `Range` whose validator no longer matches gets the whole new file, as RFC 9110 §13.1.5 says),
//! and the fault that makes a file again between two requests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, header};

/// A file version's validators.
pub struct Validators {
    etag: String,
    last_modified: String,
}

impl Validators {
    /// From the file's size and modification time, as static file servers make them. A body compressed on the
    /// fly is another representation: its tag is weak, as nginx makes it.
    pub fn of(len: u64, modified: SystemTime, compressed: bool) -> Self {
        let nanos = modified.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
        let strong = format!("\"{len:x}-{nanos:x}\"");
        let etag = if compressed { format!("W/{strong}") } else { strong };
        Self { etag, last_modified: httpdate::fmt_http_date(modified) }
    }

    /// Whether a `Range` may be answered: no `If-Range`, or one naming this version (a strong tag compared
    /// strongly, or the exact date).
    pub fn range_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(asked) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else {
            return true;
        };
        let asked = asked.trim();
        if asked.starts_with('"') {
            !self.etag.starts_with("W/") && asked == self.etag
        } else {
            asked == self.last_modified
        }
    }

    pub fn insert(&self, h: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            h.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.last_modified) {
            h.insert(header::LAST_MODIFIED, v);
        }
    }
}

/// Makes the file at `path` again: its lines in reverse order, modified 2 s later than before (a new `ETag`
/// and `Last-Modified`, even within one second).
pub async fn make_again(path: &std::path::Path) -> std::io::Result<()> {
    let before = tokio::fs::metadata(path).await?.modified()?;
    let text = tokio::fs::read(path).await?;
    let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    lines.reverse();
    let mut out = Vec::with_capacity(text.len());
    for line in lines {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    tokio::fs::write(path, out).await?;
    let file = std::fs::File::options().write(true).open(path)?;
    file.set_modified(before + Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(if_range: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_RANGE, HeaderValue::from_str(if_range).unwrap());
        h
    }

    #[test]
    fn a_range_is_honoured_only_for_the_same_version() {
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let v = Validators::of(10, t, false);
        assert!(v.range_allowed(&HeaderMap::new()));
        assert!(v.range_allowed(&asking(&v.etag)));
        assert!(v.range_allowed(&asking(&v.last_modified)));
        let later = Validators::of(10, t + Duration::from_secs(2), false);
        assert!(!later.range_allowed(&asking(&v.etag)));
        assert!(!later.range_allowed(&asking(&v.last_modified)));
        // A weak tag is never a match for If-Range.
        let weak = Validators::of(10, t, true);
        assert!(!weak.range_allowed(&asking(&weak.etag)));
        assert!(!weak.range_allowed(&asking(weak.etag.trim_start_matches("W/"))));
    }
}
