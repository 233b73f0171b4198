//! A file body as a stream of chunks, with the stream faults: cut off after some bytes (a dropped
//! connection, or a short body), paced to a rate, or trickled a byte at a time; and `Range` parsing.

use std::pin::Pin;
use std::time::Duration;

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

pub const CHUNK: usize = 256 * 1024;

/// How a body is sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pacing {
    /// Break the connection (an error on the stream) after this many bytes.
    pub cut_after: Option<u64>,
    pub bytes_per_second: Option<u64>,
    /// One byte, then wait this long before the next.
    pub trickle_every: Option<Duration>,
}

/// `bytes=A-B`, `bytes=A-`, `bytes=-N` → half-open `[start, end)`; `None` when unsatisfiable.
pub fn parse_range(spec: &str, len: u64) -> Option<(u64, u64)> {
    let spec = spec.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (len.saturating_sub(n), len)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() { len } else { (b.parse::<u64>().ok()? + 1).min(len) };
        (start, end)
    };
    (start < end && start < len).then_some((start, end))
}

struct Plan {
    reader: Pin<Box<dyn AsyncRead + Send>>,
    pacing: Pacing,
    sent: u64,
    done: bool,
}

/// The body: chunks from `reader`, sent as `pacing` says.
pub fn body_stream(
    reader: Pin<Box<dyn AsyncRead + Send>>,
    pacing: Pacing,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let plan = Plan { reader, pacing, sent: 0, done: false };
    futures_util::stream::unfold(plan, |mut p| async move {
        if p.done {
            return None;
        }
        let mut cap = CHUNK;
        if let Some(limit) = p.pacing.cut_after {
            if p.sent >= limit {
                p.done = true;
                // Pending for a moment makes hyper flush what was sent, so the client really receives the
                // first `limit` bytes (and the headers) before the connection breaks.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let err = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "simulated dropped connection");
                return Some((Err(err), p));
            }
            cap = cap.min((limit - p.sent) as usize);
        }
        if let Some(rate) = p.pacing.bytes_per_second {
            // Small chunks keep a slow stream smooth.
            cap = cap.min((rate as usize / 10).max(1));
        }
        if let Some(every) = p.pacing.trickle_every {
            cap = 1;
            if p.sent > 0 {
                tokio::time::sleep(every).await;
            }
        }
        let mut buf = vec![0u8; cap];
        match p.reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                p.sent += n as u64;
                if let Some(rate) = p.pacing.bytes_per_second {
                    tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
                }
                Some((Ok(Bytes::from(buf)), p))
            }
            Err(e) => {
                p.done = true;
                Some((Err(e), p))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 100)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
