//! The misbehaviour a simulator can be switched to: the faults of servers in the wild (throttling, proxies,
//! dropped connections, expiry) and hostile ones (HTML or truncated files, giant lines, gzip bombs, tokens
//! demanded or echoed by other origins, terminal escape sequences, `file://` URLs).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How `[base]/metadata` misbehaves, to show the client's handling of servers in the wild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataFault {
    #[default]
    None,
    /// A reverse proxy's HTML error page with status 502.
    ProxyHtml502,
    /// A sign-in web page with status 200 (a portal URL typed instead of the FHIR base).
    LoginPageHtml,
    /// A 404 with an OperationOutcome.
    NotFound,
}

/// How a 429 says when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum RetryAfter {
    /// `Retry-After: N` (delta-seconds).
    Seconds(u64),
    /// `Retry-After: <HTTP-date N seconds from now>`.
    HttpDate(u64),
    /// An absurd delta: N hours.
    Hours(u64),
    /// An absurd value some servers send: a Unix timestamp where seconds were meant.
    UnixTimestamp,
}

/// Misbehaviour, switchable at run time (`RunningSim::set_faults`, or `POST /_sim/faults` when
/// [`SimConfig::control_routes`](crate::SimConfig::control_routes) is on).
/// Counters (`*_times`) are used up as the faults happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    pub metadata: MetadataFault,
    /// Answer this many kickoffs with 429 + `retry_after`.
    pub kickoff_429_times: u32,
    /// Answer this many status polls with 429 + `retry_after`.
    pub status_429_times: u32,
    pub retry_after: RetryAfter,
    /// Answer this many status polls with 500 and an OperationOutcome whose issue code is `transient`.
    pub status_transient_times: u32,
    /// Answer this many status polls with a proxy's HTML 502 page.
    pub status_html_502_times: u32,
    /// Drop the connection after this many bytes of a file, on the first `drop_times_per_file` requests
    /// of each file (later requests, such as a resume with `Range`, succeed).
    pub drop_after_bytes: Option<u64>,
    pub drop_times_per_file: u32,
    /// Serve files at this many bytes per second.
    pub file_bytes_per_second: Option<u64>,
    /// Files answer 404 (or 410 with `expired_gone`) this long after the manifest is ready.
    pub files_expire_after: Option<Duration>,
    pub expired_gone: bool,
    /// Insert this many malformed lines into the first file of each type (not counted in `count`).
    pub malformed_lines: u32,
    /// These types fail: no output, an OperationOutcome in `error[]` instead.
    pub failing_types: Vec<String>,
    /// File URLs answer 307 to a second origin, which records whether an `Authorization` header came.
    pub redirect_files: bool,
    /// Fail the export itself while preparing (status answers 500 with a non-transient OperationOutcome).
    pub fail_export: bool,
    /// Answer 404 at `.well-known/smart-configuration` (clients must fall back to the capability statement).
    pub no_smart_configuration: bool,

    // ---- Servers in the wild ----
    /// Every Nth file request (counted over all files and both origins) answers 429 with an OperationOutcome.
    pub file_429_every: Option<u32>,
    /// Every Nth file request answers 503 with an OperationOutcome (429 wins when both fall on one request).
    pub file_503_every: Option<u32>,
    /// The `Retry-After` (seconds) of the file throttling answers; 0 sends none.
    pub file_retry_after_seconds: u64,
    /// A file request that arrives while this many file bodies are streaming answers 429, as Oracle Health
    /// throttles concurrent downloads per client.
    pub max_concurrent_files: Option<u32>,
    /// The manifest has no `requiresAccessToken` member at all (HAPI FHIR), while files still need the
    /// token when the auth mode issues one.
    pub omit_requires_access_token: bool,
    /// A kickoff while an earlier export is preparing, or ready and not yet DELETEd, answers 429 naming
    /// that export's status URL. BCDA does this per client; the simulator per server, which is the same
    /// for a test with one client.
    pub busy_while_running: bool,
    /// A kickoff without `_since` exports as if `_since` were the `transactionTime` of the last export that
    /// completed on this simulator (AB2D). The manifest's `request` stays the URL as sent.
    pub default_since_last: bool,

    // ---- Hostile servers ----
    /// Every file URL answers 200 with a sign-in HTML page (`text/html`) instead of NDJSON.
    pub html_files: bool,
    /// Every file response (`Range` resumes too) announces its real `Content-Length` but breaks off about
    /// half way, closing the connection.
    pub short_bodies: bool,
    /// The manifest's `count` of each output file is the real number of lines plus this.
    pub count_off_by: u64,
    /// The first output file (the second one when `gzip_bomb_bytes` is set too) is one line of this many
    /// `x` bytes with no newline at all, streamed; `Range` is honoured.
    pub giant_line_bytes: Option<u64>,
    /// The first output file is a gzip stream, with no `Content-Encoding` header and no `Content-Length`,
    /// that inflates to this many NUL bytes; compressed on the fly, `Range` ignored.
    pub gzip_bomb_bytes: Option<u64>,
    /// The gzip bomb comes with `Content-Encoding: gzip`, as a transfer encoding an HTTP client unpacks.
    pub gzip_bomb_encoded: bool,
    /// The manifest's file URLs (output, error, deleted) point at the second origin.
    pub files_on_second_origin: bool,
    /// The kickoff's `Content-Location` (the status URL) points at the second origin.
    pub status_on_second_origin: bool,
    /// The second origin answers 401 to any request without a valid bearer token (any `Bearer` header
    /// when the simulator is open).
    pub second_origin_requires_token: bool,
    /// The manifest gets `"extension": {"padding": "aaa…"}` with this many `a`s.
    pub manifest_padding_bytes: Option<u64>,
    /// The manifest's `output` gets this many extra entries: copies of the first, its URL with `?copy=N`.
    pub manifest_extra_outputs: u64,
    /// Server text carries terminal escape sequences: an extra output entry whose `type` holds them, the
    /// first status poll of each export answers a transient OperationOutcome whose `diagnostics` holds
    /// them, and `X-Progress` shows them in caret notation (`^[`), since header values cannot carry ESC.
    pub escape_sequences: bool,
    /// File bodies are sent one byte per this interval (`Content-Length` real, `Range` honoured).
    pub trickle_every: Option<Duration>,
    /// File URLs answer 307 with `Location: file:///etc/passwd`.
    pub redirect_files_to_file_scheme: bool,
    /// The kickoff's 202 carries `Content-Location: file:///tmp/haul-status`.
    pub status_file_scheme: bool,
    /// The server echoes the request's `Authorization` value: in the diagnostics of every OperationOutcome
    /// answer, in `X-Progress`, and in the error files of `failing_types` (the kickoff's header). The first
    /// status poll of each export answers a transient OperationOutcome, so that an echo is sure to come.
    pub echo_authorization: bool,
    /// How the token endpoint answers a request it would grant.
    pub token_answer: TokenAnswerFault,
    /// Each file is made again just before its Nth request, as a server that rebuilds a file does: the same
    /// lines in reverse order, a new `ETag` and `Last-Modified`. Files are then served as they are (no gzip
    /// on the fly, as storage services serve them), so every answer's `ETag` is the file's.
    pub files_change_at_request: Option<u32>,
    /// File answers carry neither `ETag` nor `Last-Modified` (so `If-Range` cannot be honoured).
    pub no_validators: bool,
}

/// A token endpoint that grants a token in a way a client must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenAnswerFault {
    #[default]
    Normal,
    /// `expires_in` as large as JSON's integers go (`u64::MAX` seconds).
    AbsurdLifetime,
    /// `expires_in` as a string (`"3600"`), as some servers send it.
    LifetimeAsText,
    /// `307 Temporary Redirect` to the same token URL with `?moved=1`, which would grant a token too: a client
    /// that follows it posts its credentials again to wherever the server points.
    Redirect,
    /// A 200 whose body never ends (64 KiB chunks of spaces).
    Endless,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            metadata: MetadataFault::None,
            kickoff_429_times: 0,
            status_429_times: 0,
            retry_after: RetryAfter::Seconds(1),
            status_transient_times: 0,
            status_html_502_times: 0,
            drop_after_bytes: None,
            drop_times_per_file: 1,
            file_bytes_per_second: None,
            files_expire_after: None,
            expired_gone: false,
            malformed_lines: 0,
            failing_types: Vec::new(),
            redirect_files: false,
            fail_export: false,
            no_smart_configuration: false,
            file_429_every: None,
            file_503_every: None,
            file_retry_after_seconds: 1,
            max_concurrent_files: None,
            omit_requires_access_token: false,
            busy_while_running: false,
            default_since_last: false,
            html_files: false,
            short_bodies: false,
            count_off_by: 0,
            giant_line_bytes: None,
            gzip_bomb_bytes: None,
            gzip_bomb_encoded: false,
            files_on_second_origin: false,
            status_on_second_origin: false,
            second_origin_requires_token: false,
            manifest_padding_bytes: None,
            manifest_extra_outputs: 0,
            escape_sequences: false,
            trickle_every: None,
            redirect_files_to_file_scheme: false,
            status_file_scheme: false,
            echo_authorization: false,
            token_answer: TokenAnswerFault::Normal,
            files_change_at_request: None,
            no_validators: false,
        }
    }
}
