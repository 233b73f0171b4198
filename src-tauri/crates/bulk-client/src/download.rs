//! Downloading one export file into a caller's sink, from an offset: the `Range` request, redirects
//! followed by hand (the bearer token only to the server's origin and trusted storage origins), the body
//! streamed chunk by chunk, a web page refused, a stall or a deadline noticed, and a body shorter than
//! announced reported. The engine sees bytes and typed errors, never HTTP types.

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::header;
use reqwest::{Response, StatusCode};

use crate::content_encoding::{self, Transfer};
use crate::held_tail::{HeldTail, OVERLAP, TailCheck};
use crate::session::{ExportError, ExportErrorKind, ExportSession, detail_of, read_small, refusal};

const NDJSON: &str = "application/fhir+ndjson";
/// Redirects a file download may take before Haul gives up.
const MAX_REDIRECTS: usize = 5;
const HELD_DIFFER: &str = "the bytes asked for again differ from those that arrived before";

/// How long a file download may take and how big it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadLimits {
    /// A download that brings fewer than `stall_bytes` within `stall_window` has stalled: it is stopped
    /// (with a retryable error, so the caller resumes it with `Range`). A server that sends a byte every few
    /// seconds never trips a read timeout, so time alone cannot tell.
    pub stall_window: Duration,
    pub stall_bytes: u64,
    /// The longest one request for a file may take, if limited (large files legitimately take hours).
    pub deadline: Option<Duration>,
    /// The largest file accepted, in bytes as sent.
    pub max_file_bytes: u64,
    /// A gzip body (a `.ndjson.gz` file, or any file sent gzip-encoded) may unpack to at most this many times
    /// its size, beyond `inflate_floor_bytes`: NDJSON packs 5–20×; a body that packs more is a "zip bomb".
    pub max_inflate_ratio: u64,
    pub inflate_floor_bytes: u64,
}

impl Default for DownloadLimits {
    fn default() -> Self {
        Self {
            stall_window: Duration::from_secs(60),
            stall_bytes: 4096,
            deadline: None,
            max_file_bytes: 64 << 30,
            max_inflate_ratio: 200,
            inflate_floor_bytes: 256 << 20,
        }
    }
}

impl DownloadLimits {
    /// The most a gzip body of `packed` bytes may unpack to (the one rule, for bodies unpacked as they arrive
    /// and for files unpacked once downloaded).
    pub fn max_unpacked(&self, packed: u64) -> u64 {
        packed.saturating_mul(self.max_inflate_ratio).max(self.inflate_floor_bytes).min(self.max_file_bytes)
    }
}

/// Where a downloaded file's bytes go (the engine's `.part` file, its line checker, its progress).
pub trait FileSink: Send {
    /// Called once the server has answered, before any byte: the body starts at `offset` (0: the file
    /// starts over, so whatever the sink held must go), `total` is the file's full size when the server
    /// said, and `version` is what names this version of the file (keep it: a later resume passes it back,
    /// so that a file the server has made again in between is fetched whole, not spliced).
    fn begin(
        &mut self,
        offset: u64,
        total: Option<u64>,
        version: Option<&str>,
    ) -> impl Future<Output = std::io::Result<()>> + Send;
    /// The next bytes of the body, in order.
    fn write(&mut self, bytes: &[u8]) -> impl Future<Output = std::io::Result<()>> + Send;
    /// The last bytes the sink holds (at most [`OVERLAP`](crate::OVERLAP)), for a resume with no version to
    /// name: they are asked for again and compared, so that a file made again in between starts over rather
    /// than being spliced. `None`: the sink cannot tell, and the resume continues unchecked.
    fn tail(&mut self) -> impl Future<Output = std::io::Result<Option<HeldTail>>> + Send {
        std::future::ready(Ok(None))
    }
}

/// A finished download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downloaded {
    /// Where this request's body started (the `Range` offset honoured, else 0).
    pub started_at: u64,
    /// The file's size now: every byte is in the sink.
    pub size: u64,
    /// The server said every byte had arrived before (a process stopped after the last byte but before it
    /// noted so); nothing was written and `begin` was not called.
    pub already_complete: bool,
}

/// Why a download stopped. What reached the sink before stays there: the next try can resume after it.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server or the network failed; `kind` says whether to retry, restart the file
    /// ([`ExportErrorKind::ResumeRejected`]) or give up.
    #[error(transparent)]
    Server(#[from] ExportError),
    /// The sink could not take the bytes (a full disk, say).
    #[error("{0}")]
    Sink(std::io::Error),
}

/// A file download under way: the response body, and where in the file it starts.
struct FileBody {
    response: Response,
    /// The byte offset the body starts at: the `Range` start when the server honoured it, else 0.
    offset: u64,
    /// The body's length, when the server said.
    length: Option<u64>,
    /// The server says the file is exactly `offset` bytes long: everything is already here (a process
    /// stopped after the last byte but before it noted so). The body is not part of the file.
    already_complete: bool,
    /// What names this version of the file, for a later `If-Range`.
    version: Option<String>,
}

impl ExportSession {
    /// Opens a file for download from `offset` on (a `Range` request when `ranged`, with `If-Range: version`
    /// when the earlier answer named its version). The bearer token goes along only when `with_token` and
    /// only to the manifest's own origin: redirects elsewhere get no token.
    async fn open_file(
        &self,
        url: &str,
        with_token: bool,
        (offset, ranged): (u64, bool),
        version: Option<&str>,
    ) -> Result<FileBody, ExportError> {
        let client = &self.http.files;
        let mut current = url.to_string();
        let mut redirects: Vec<String> = Vec::new();
        let mut with_token = with_token;
        loop {
            let target = current.clone();
            let response = self
                .send(&target, with_token, "an export file", |token| {
                    let mut b = client.get(&target).header(header::ACCEPT, NDJSON);
                    if ranged {
                        // Offsets count decoded bytes, so the rest must come unencoded.
                        b = b
                            .header(header::RANGE, format!("bytes={offset}-"))
                            .header(header::ACCEPT_ENCODING, "identity");
                        // A file made again since: the server answers it whole (200), not a range of it.
                        if let Some(v) = version {
                            b = b.header(header::IF_RANGE, v);
                        }
                    } else {
                        // Unpacked by `content_encoding`, within the file's bound, not by the HTTP client.
                        b = b.header(header::ACCEPT_ENCODING, "gzip");
                    }
                    if let Some(t) = token { b.bearer_auth(t) } else { b }
                })
                .await?;
            let status = response.status();
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| url::Url::parse(&current).ok()?.join(l).ok());
                let Some(next) = next else {
                    return Err(ExportError::new(
                        ExportErrorKind::Protocol,
                        "The server redirected a file download without saying where to.",
                        Some(format!("HTTP {} from {}", status.as_u16(), crate::text::shown_url(&current))),
                    ));
                };
                if redirects.len() >= MAX_REDIRECTS {
                    return Err(ExportError::new(
                        ExportErrorKind::Protocol,
                        "A file download was redirected too many times; the server may be misconfigured.",
                        Some(redirects.iter().map(|r| crate::text::shown_url(r)).collect::<Vec<String>>().join(" → ")),
                    ));
                }
                current = self.secured(next.as_str(), "an export file")?;
                redirects.push(current.clone());
                continue;
            }
            if let Some(e) = self.foreign_refusal(&current, status) {
                return Err(e);
            }
            // A manifest that says files need no token (or says nothing, as older HAPI does) while the server's
            // own origin asks for one: ask again once, signed in. Never to another origin.
            if status == StatusCode::UNAUTHORIZED && !with_token && self.signed_in() && self.token_allowed(&current) {
                with_token = true;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
                let retry_after = self.retry_after(response.headers());
                let body = read_small(response).await;
                let mut e = ExportError::new(
                    ExportErrorKind::Throttled,
                    format!("The server asked Haul to slow down (HTTP {}).", status.as_u16()),
                    Some(detail_of(status, &body)),
                )
                .with_status(status.as_u16());
                e.retry_after = retry_after;
                return Err(e);
            }
            if status.is_success() && is_web_page(&response) {
                return Err(ExportError::new(
                    ExportErrorKind::Protocol,
                    "The server sent a web page instead of the export file (perhaps a sign-in or error page). Haul kept none of it and counts the file as not downloaded.",
                    Some(format!(
                        "HTTP {} with Content-Type {} from {}",
                        status.as_u16(),
                        response
                            .headers()
                            .get(header::CONTENT_TYPE)
                            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                            .unwrap_or_default(),
                        crate::text::shown_url(&current)
                    )),
                ));
            }
            let length = response.content_length();
            let answered = version_of(response.headers()).filter(|v| !self.secrets().whole_in(v.as_bytes()));
            return match status {
                StatusCode::OK => {
                    Ok(FileBody { response, offset: 0, length, already_complete: false, version: answered })
                }
                StatusCode::PARTIAL_CONTENT => {
                    let start = response
                        .headers()
                        .get(header::CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(content_range_start);
                    // Storage that keeps a file gzip-encoded answers a range of the encoded bytes, whatever
                    // Haul asked: those do not continue the file Haul holds, which counts unpacked bytes.
                    let encoded = response
                        .headers()
                        .get(header::CONTENT_ENCODING)
                        .is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"));
                    if encoded {
                        return Err(ExportError::new(
                            ExportErrorKind::ResumeRejected,
                            "The server resumed a file in its compressed form, which does not continue what arrived; Haul will download it again from the start.",
                            Some("HTTP 206 with Content-Encoding".into()),
                        ));
                    }
                    if start != Some(offset) {
                        return Err(ExportError::new(
                            ExportErrorKind::ResumeRejected,
                            "The server resumed a file at a different place than asked; Haul will download it again from the start.",
                            Some(format!("asked bytes={offset}-, got Content-Range {start:?}")),
                        ));
                    }
                    // A server that ignores If-Range but names another version: the rest is of another file.
                    if let (Some(asked), Some(now)) = (version, answered.as_deref())
                        && asked.starts_with('"') == now.starts_with('"')
                        && asked != now
                    {
                        return Err(changed_since("HTTP 206 naming another version than If-Range asked for"));
                    }
                    Ok(FileBody { response, offset, length, already_complete: false, version: answered })
                }
                StatusCode::NOT_FOUND | StatusCode::GONE => {
                    let body = read_small(response).await;
                    Err(ExportError::new(
                        ExportErrorKind::FileExpired,
                        "The file is no longer on the server (it expired or was removed).",
                        Some(detail_of(status, &body)),
                    )
                    .with_status(status.as_u16()))
                }
                StatusCode::RANGE_NOT_SATISFIABLE
                    if ranged
                        && response
                            .headers()
                            .get(header::CONTENT_RANGE)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().strip_prefix("bytes */"))
                            .and_then(|n| n.trim().parse::<u64>().ok())
                            == Some(offset) =>
                {
                    Ok(FileBody { response, offset, length: Some(0), already_complete: true, version: answered })
                }
                StatusCode::RANGE_NOT_SATISFIABLE => Err(ExportError::new(
                    ExportErrorKind::ResumeRejected,
                    "The server could not resume the file where it broke off; Haul will download it again from the start.",
                    Some(format!("HTTP 416 for bytes={offset}-")),
                )
                .with_status(416)),
                _ => {
                    let retry_after = self.retry_after(response.headers());
                    let body = read_small(response).await;
                    let mut e = refusal("send an export file", status, &body);
                    e.retry_after = retry_after;
                    Err(e)
                }
            };
        }
    }

    /// Downloads the file at `url` into `sink`, continuing at byte `offset` (a `Range` request when > 0;
    /// `version`, what the sink was given when the bytes it holds began, makes it conditional). The token
    /// goes along only when `with_token`, and only to `url`'s own origin.
    pub async fn download_to<S: FileSink>(
        &self,
        url: &str,
        with_token: bool,
        offset: u64,
        version: Option<&str>,
        sink: &mut S,
    ) -> Result<Downloaded, DownloadError> {
        self.download_once(url, with_token, offset, version, sink).await.map_err(|e| match e {
            DownloadError::Server(e) => DownloadError::Server(self.scrub(e)),
            sink => sink,
        })
    }

    async fn download_once<S: FileSink>(
        &self,
        url: &str,
        with_token: bool,
        offset: u64,
        version: Option<&str>,
        sink: &mut S,
    ) -> Result<Downloaded, DownloadError> {
        let limits = self.limits;
        let started = Instant::now();
        // A resume with no version to name (the first answer gave none, or was compressed on the fly) asks
        // again for the last bytes it holds and compares them: a file made again since differs there.
        let held = match (offset, version) {
            (1.., None) => sink.tail().await.map_err(DownloadError::Sink)?,
            _ => None,
        };
        // A tail longer than what the sink holds, or than asked for, is not one (compared, it could only differ).
        let held = held.filter(|h| h.len > 0 && h.len <= offset.min(OVERLAP));
        let from = offset - held.as_ref().map_or(0, |h| h.len);
        let FileBody { mut response, offset: start, length, already_complete, version } =
            self.open_file(url, with_token, (from, offset > 0), version).await?;
        if already_complete {
            return Ok(Downloaded { started_at: start, size: start, already_complete: true });
        }
        // What is still to be compared (a whole answer, from byte 0, compares nothing).
        let mut compare = held.filter(|_| start == from).map(TailCheck::new);
        let mut transfer = Transfer::of(&response)?;
        // The announced length counts the body as sent: the file's when it comes as it is.
        let total = length.map(|l| l + start);
        if let Some(total) = total
            && total > limits.max_file_bytes
        {
            return Err(too_big(limits.max_file_bytes).into());
        }
        let file_total = match transfer {
            Transfer::Identity => total,
            Transfer::Gzip(_) => None,
        };
        if compare.is_none() {
            sink.begin(start, file_total, version.as_deref()).await.map_err(DownloadError::Sink)?;
        }
        let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        let mut done = start;
        let deadline = limits.deadline.map(|d| started + d);
        let mut window = (Instant::now(), 0u64);
        loop {
            let window_end = window.0 + limits.stall_window;
            let wake = deadline.map_or(window_end, |d| d.min(window_end));
            let next = tokio::time::timeout_at(wake.into(), response.chunk()).await;
            match next {
                Ok(Ok(Some(bytes))) => {
                    window.1 += bytes.len() as u64;
                    match &mut transfer {
                        Transfer::Identity => {
                            done += bytes.len() as u64;
                            if done > limits.max_file_bytes {
                                return Err(too_big(limits.max_file_bytes).into());
                            }
                            let mut rest = &bytes[..];
                            if let Some(check) = &mut compare {
                                let (matched, after) = check.feed(rest);
                                rest = after;
                                match matched {
                                    Some(false) => return Err(changed_since(HELD_DIFFER).into()),
                                    Some(true) => {
                                        compare = None;
                                        let began = sink.begin(offset, file_total, version.as_deref()).await;
                                        began.map_err(DownloadError::Sink)?;
                                    }
                                    None => {}
                                }
                            }
                            if !rest.is_empty() {
                                sink.write(rest).await.map_err(DownloadError::Sink)?;
                            }
                        }
                        Transfer::Gzip(body) => {
                            for piece in bytes.chunks(content_encoding::PIECE) {
                                let unpacked = body.unpack(piece, &limits)?;
                                done += unpacked.len() as u64;
                                sink.write(unpacked).await.map_err(DownloadError::Sink)?;
                            }
                        }
                    }
                }
                Ok(Ok(None)) => {
                    if let Transfer::Gzip(body) = &mut transfer {
                        let rest = body.finish(&limits)?;
                        done += rest.len() as u64;
                        sink.write(rest).await.map_err(DownloadError::Sink)?;
                    }
                    break;
                }
                Ok(Err(e)) => {
                    return Err(ExportError::from(self.http.transport_error(&e, "an export file", &host)).into());
                }
                Err(_) => {}
            }
            let now = Instant::now();
            if let (Some(limit), Some(d)) = (limits.deadline, deadline)
                && now >= d
            {
                return Err(ExportError::new(
                    ExportErrorKind::LimitExceeded,
                    format!(
                        "The file took longer than the {} allowed for one file ({done} bytes arrived).",
                        crate::text::duration_words(limit)
                    ),
                    None,
                )
                .into());
            }
            if now >= window_end {
                if window.1 < limits.stall_bytes {
                    return Err(ExportError::new(
                        ExportErrorKind::Network,
                        format!(
                            "The download stalled: {host} sent {} bytes in the last {}.",
                            window.1,
                            crate::text::duration_words(limits.stall_window)
                        ),
                        None,
                    )
                    .into());
                }
                window = (now, 0);
            }
        }
        if compare.is_some() {
            // The server's file now ends within the bytes Haul already holds: it is not the same file.
            return Err(changed_since(HELD_DIFFER).into());
        }
        let sent = match &transfer {
            Transfer::Identity => done,
            Transfer::Gzip(body) => start + body.received(),
        };
        if let Some(total) = total
            && sent != total
        {
            return Err(ExportError::new(
                ExportErrorKind::Network,
                format!("The download ended early ({sent} of {total} bytes)."),
                None,
            )
            .into());
        }
        let started_at = if start == from { offset } else { start };
        Ok(Downloaded { started_at, size: done, already_complete: false })
    }
}

/// A resume that found another version of the file than the bytes it holds: the file starts over.
fn changed_since(detail: &str) -> ExportError {
    ExportError::new(
        ExportErrorKind::ResumeRejected,
        "The file changed on the server since its download began; Haul will download it again from the start.",
        Some(detail.into()),
    )
}

fn too_big(max: u64) -> ExportError {
    ExportError::new(
        ExportErrorKind::LimitExceeded,
        format!("The file is larger than {} MB, Haul's limit for one file; it was not kept.", max >> 20),
        None,
    )
}

/// A web page, by its declared type: a sign-in or error page served where a file should be.
fn is_web_page(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/xhtml"))
}

/// The longest version tag kept; a longer one is not a tag any server makes.
const MAX_VERSION_BYTES: usize = 256;

/// What names this version of a file, for `If-Range` (RFC 9110 §13.1.5): a strong `ETag`, else a
/// `Last-Modified` at least a second older than the answer's `Date` (a newer one may not tell two versions
/// apart). A weak tag, or unprintable text, is never sent back; nor is the tag of a body compressed on the way
/// (it names the compressed bytes, while a resume asks for the file as it is).
fn version_of(headers: &header::HeaderMap) -> Option<String> {
    let text =
        |name| {
            headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| {
                !v.is_empty() && v.len() <= MAX_VERSION_BYTES && v.bytes().all(|b| (0x20..0x7f).contains(&b))
            })
        };
    let encoded = text(header::CONTENT_ENCODING).is_some_and(|e| !e.eq_ignore_ascii_case("identity"));
    if let Some(tag) = text(header::ETAG)
        && !encoded
        && tag.starts_with('"')
        && tag.len() >= 2
        && tag.ends_with('"')
    {
        return Some(tag.to_string());
    }
    let modified = text(header::LAST_MODIFIED)?;
    let sent = httpdate::parse_http_date(text(header::DATE)?).ok()?;
    let changed = httpdate::parse_http_date(modified).ok()?;
    (changed + Duration::from_secs(1) <= sent).then(|| modified.to_string())
}

/// `bytes 100-199/1000` → 100.
fn content_range_start(value: &str) -> Option<u64> {
    value.trim().strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(pairs: &[(header::HeaderName, &str)]) -> header::HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), header::HeaderValue::from_str(v).unwrap())).collect()
    }

    #[test]
    fn a_version_is_a_strong_tag_or_a_date_older_than_the_answer() {
        let date = "Wed, 02 Dec 2026 12:00:10 GMT";
        assert_eq!(version_of(&answer(&[(header::ETAG, "\"abc\"")])).as_deref(), Some("\"abc\""));
        assert_eq!(version_of(&answer(&[(header::ETAG, "W/\"abc\"")])), None, "weak tags are never sent back");
        let old = "Wed, 02 Dec 2026 12:00:00 GMT";
        assert_eq!(
            version_of(&answer(&[(header::ETAG, "W/\"abc\""), (header::LAST_MODIFIED, old), (header::DATE, date)]))
                .as_deref(),
            Some(old)
        );
        let same_second = "Wed, 02 Dec 2026 12:00:10 GMT";
        assert_eq!(version_of(&answer(&[(header::LAST_MODIFIED, same_second), (header::DATE, date)])), None);
        assert_eq!(version_of(&answer(&[(header::LAST_MODIFIED, old)])), None, "no Date: no telling");
        let gzip = [(header::ETAG, "\"abc\""), (header::CONTENT_ENCODING, "gzip")];
        assert_eq!(version_of(&answer(&gzip)), None, "the tag of the compressed bytes");
        let long = format!("\"{}\"", "a".repeat(300));
        assert_eq!(version_of(&answer(&[(header::ETAG, &long)])), None);
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range_start("bytes 100-199/1000"), Some(100));
        assert_eq!(content_range_start("bytes */1000"), None);
    }
}
