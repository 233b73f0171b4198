//! Hostile answers at a file URL: a sign-in page, a redirect to `file://`, a gzip bomb, and the giant
//! line's content (served by `files::serve`, since it honours `Range`).

use std::pin::Pin;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio_util::io::ReaderStream;

use super::NDJSON;
use super::stream::CHUNK;

/// What `Faults::html_files` serves: a portal's sign-in page, as an expired session or a proxy gives.
const SIGN_IN_PAGE: &str = r#"<!DOCTYPE html>
<html>
<head><title>Sign in</title></head>
<body>
<h1>Your session has expired</h1>
<form method="post" action="/login">
<input name="user"> <input type="password" name="password">
<button>Sign in</button>
</form>
</body>
</html>
"#;

/// Where `Faults::redirect_files_to_file_scheme` sends file requests: a local file a client must never read.
const FILE_SCHEME_LOCATION: &str = "file:///etc/passwd";

/// A body that replaces one output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostileBody {
    /// One line of this many `x` bytes, no newline.
    GiantLine(u64),
    /// A gzip stream that inflates to this many NUL bytes.
    GzipBomb(u64),
}

/// Which body replaces the output file at `rank` in the manifest: the bomb takes the first file, the giant
/// line the first one left.
pub fn hostile_body(giant_line: Option<u64>, gzip_bomb: Option<u64>, rank: Option<usize>) -> Option<HostileBody> {
    match (gzip_bomb, giant_line, rank?) {
        (Some(n), _, 0) => Some(HostileBody::GzipBomb(n)),
        (Some(_), Some(n), 1) | (None, Some(n), 0) => Some(HostileBody::GiantLine(n)),
        _ => None,
    }
}

/// `len` bytes of the giant line: the content is uniform, so any range of it is just shorter.
pub fn giant_line(len: u64) -> Pin<Box<dyn AsyncRead + Send>> {
    Box::pin(tokio::io::repeat(b'x').take(len))
}

pub fn sign_in_page() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], SIGN_IN_PAGE)
        .into_response()
}

pub fn file_scheme_redirect() -> Response {
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, HeaderValue::from_static(FILE_SCHEME_LOCATION))])
        .into_response()
}

/// Compressed on the fly, so neither the inflated nor the compressed bytes are ever held. Without
/// `encoded`, no `Content-Encoding`: the body claims to be NDJSON and is gzip, so only a client that sniffs
/// the magic bytes inflates it, and it must bound what it inflates. With it, `Content-Encoding: gzip`, which
/// an HTTP client unpacks by itself unless told not to.
pub fn gzip_bomb(inflated: u64, encoded: bool) -> Response {
    let zeros = BufReader::with_capacity(CHUNK, tokio::io::repeat(0).take(inflated));
    let gzip = async_compression::tokio::bufread::GzipEncoder::with_quality(zeros, async_compression::Level::Default);
    let body = Body::from_stream(ReaderStream::with_capacity(gzip, CHUNK));
    let mut response =
        (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON))], body).into_response();
    if encoded {
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bomb_takes_the_first_file_and_the_giant_line_the_next() {
        use HostileBody::*;
        assert_eq!(hostile_body(Some(5), None, Some(0)), Some(GiantLine(5)));
        assert_eq!(hostile_body(Some(5), None, Some(1)), None);
        assert_eq!(hostile_body(None, Some(7), Some(0)), Some(GzipBomb(7)));
        assert_eq!(hostile_body(Some(5), Some(7), Some(0)), Some(GzipBomb(7)));
        assert_eq!(hostile_body(Some(5), Some(7), Some(1)), Some(GiantLine(5)));
        assert_eq!(hostile_body(Some(5), Some(7), None), None, "error files are not output files");
        assert_eq!(hostile_body(None, None, Some(0)), None);
    }
}
