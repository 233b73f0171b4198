//! A file body sent with `Content-Encoding: gzip`, unpacked here rather than by the HTTP client, so that the
//! bound on a gzip file sent as bytes holds for it too: it may unpack to at most
//! [`DownloadLimits::max_unpacked`] of what arrived. (Left to the HTTP client, 64 MB on the wire could become
//! the whole 64 GiB a file may be.)

use std::io::Write;

use flate2::write::MultiGzDecoder;
use reqwest::Response;
use reqwest::header;

use crate::download::DownloadLimits;
use crate::session::{ExportError, ExportErrorKind};

/// Fed at most this much at a time, so one piece unpacks to a few megabytes at most (deflate's ceiling is
/// about 1,030 times) before the bound is checked again.
pub(crate) const PIECE: usize = 8 * 1024;

/// How a file body arrives: as the file's bytes, or gzip-encoded for the transfer.
pub(crate) enum Transfer {
    Identity,
    Gzip(Box<GzipBody>),
}

impl Transfer {
    /// From the answer's `Content-Encoding`; an encoding Haul did not ask for is refused.
    pub(crate) fn of(response: &Response) -> Result<Self, ExportError> {
        let encoding = response
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_ascii_lowercase());
        match encoding.as_deref() {
            None | Some("") | Some("identity") => Ok(Transfer::Identity),
            Some("gzip") | Some("x-gzip") => Ok(Transfer::Gzip(Box::default())),
            Some(other) => Err(ExportError::new(
                ExportErrorKind::Protocol,
                format!(
                    "The server sent the file encoded as “{}”, which Haul did not ask for (it asks for gzip or none).",
                    crate::text::printable(&other.chars().take(40).collect::<String>())
                ),
                None,
            )),
        }
    }
}

/// Unpacking one gzip-encoded body as it arrives.
pub(crate) struct GzipBody {
    decoder: MultiGzDecoder<Vec<u8>>,
    received: u64,
    unpacked: u64,
}

impl Default for GzipBody {
    fn default() -> Self {
        Self { decoder: MultiGzDecoder::new(Vec::new()), received: 0, unpacked: 0 }
    }
}

impl GzipBody {
    /// The file's bytes in `piece` (at most [`PIECE`] of the body as received), valid until the next call:
    /// one output buffer serves the whole body, so no piece allocates.
    pub(crate) fn unpack(&mut self, piece: &[u8], limits: &DownloadLimits) -> Result<&[u8], ExportError> {
        self.decoder.get_mut().clear();
        self.received += piece.len() as u64;
        self.decoder.write_all(piece).map_err(not_gzip)?;
        self.take(limits)
    }

    /// What the decoder still holds once the body has ended. An empty body is an empty file (as HTTP clients
    /// take it); one that stops inside a gzip member broke off, and is fetched on from where it stopped.
    pub(crate) fn finish(&mut self, limits: &DownloadLimits) -> Result<&[u8], ExportError> {
        self.decoder.get_mut().clear();
        if self.received == 0 {
            return Ok(&[]);
        }
        self.decoder.try_finish().map_err(|e| {
            ExportError::new(
                ExportErrorKind::Network,
                "The gzip-encoded file ended before its end; Haul fetches the rest.",
                Some(e.to_string()),
            )
        })?;
        self.take(limits)
    }

    /// The body's size as received.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    fn take(&mut self, limits: &DownloadLimits) -> Result<&[u8], ExportError> {
        self.unpacked += self.decoder.get_ref().len() as u64;
        let limit = limits.max_unpacked(self.received);
        if self.unpacked > limit {
            return Err(ExportError::new(
                ExportErrorKind::LimitExceeded,
                format!(
                    "The file unpacks to more than {} MB from {} MB sent (gzip-encoded), beyond what NDJSON packs to; Haul stopped it (a “zip bomb”) and did not keep it.",
                    limit >> 20,
                    self.received.div_ceil(1 << 20)
                ),
                None,
            ));
        }
        Ok(self.decoder.get_ref())
    }
}

fn not_gzip(e: std::io::Error) -> ExportError {
    ExportError::new(
        ExportErrorKind::Protocol,
        "The server said the file is gzip-encoded, but it does not unpack; Haul did not keep it.",
        Some(e.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_body_unpacks_piece_by_piece_within_its_bound() {
        let limits =
            DownloadLimits { max_inflate_ratio: 10, inflate_floor_bytes: 1 << 20, ..DownloadLimits::default() };
        let text = b"{\"resourceType\":\"Patient\"}\n".repeat(1000);
        let mut body = GzipBody::default();
        let mut out: Vec<u8> = Vec::new();
        for piece in packed(&text).chunks(100) {
            out.extend(body.unpack(piece, &limits).unwrap());
        }
        out.extend(body.finish(&limits).unwrap());
        assert_eq!(out, text);

        // 16 MB of zeros packs to some 16 KB: past 10 times what arrived (and the 1 MB floor), it stops.
        let bomb = packed(&vec![0u8; 16 << 20]);
        let mut body = GzipBody::default();
        let e = bomb.chunks(PIECE).find_map(|p| body.unpack(p, &limits).err()).expect("stopped");
        assert_eq!(e.kind, ExportErrorKind::LimitExceeded);
        assert!(e.message.contains("zip bomb"), "{}", e.message);
        assert!(body.received() < bomb.len() as u64, "stopped early");

        let mut body = GzipBody::default();
        assert_eq!(body.unpack(b"not gzip at all", &limits).unwrap_err().kind, ExportErrorKind::Protocol);

        // Nothing at all is an empty file; a member cut short broke off (to be fetched on, not refused).
        assert_eq!(GzipBody::default().finish(&limits).unwrap(), b"");
        let whole = packed(&text);
        let mut body = GzipBody::default();
        let _ = body.unpack(&whole[..whole.len() / 2], &limits).unwrap();
        assert_eq!(body.finish(&limits).unwrap_err().kind, ExportErrorKind::Network);
    }
}
