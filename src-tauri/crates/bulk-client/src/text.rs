//! Text a server controls (OperationOutcome diagnostics, `X-Progress`, resource type names, bodies), made
//! safe to print: control characters, including the ESC that starts terminal escape sequences, and the
//! bidirectional overrides that reorder what a terminal or a page shows, are written as visible `\u{..}`
//! escapes. Every message that carries server text is built from text that went through here.

use std::borrow::Cow;

/// Whether a character must not reach a terminal or a page as itself.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != ' ')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with control and bidi-override characters escaped (tabs and newlines too: server text is shown
/// on one line).
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An address as messages, logs and the database show it: without its query and fragment, which on a storage
/// link hold a signature that grants the file to whoever has it (`X-Amz-Signature`, `sig=`, `access_token=`).
/// Only the download itself uses the whole address.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            u.set_query(None);
            u.set_fragment(None);
            let mut shown = printable(u.as_str()).into_owned();
            if had_query {
                shown.push_str("?…");
            }
            shown
        }
        Err(_) => printable(url.split(['?', '#']).next().unwrap_or_default()).into_owned(),
    }
}

/// `3.5 s`, `5 minutes`, `10.0 hours`, `2.0 days`: a wait or a limit in words (the one formatter; the
/// engine's and the command line's messages use it too).
pub fn duration_words(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 {
        format!("{:.1} days", s as f64 / 86_400.0)
    } else if s >= 3600 {
        format!("{:.1} hours", s as f64 / 3600.0)
    } else if s >= 120 {
        format!("{} minutes", s / 60)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_shown_without_the_signature_in_its_query() {
        let signed = "https://bucket.s3.amazonaws.com/p/1.ndjson?X-Amz-Signature=abc123&X-Amz-Credential=AKIA#f";
        assert_eq!(shown_url(signed), "https://bucket.s3.amazonaws.com/p/1.ndjson?…");
        assert_eq!(shown_url("https://x.test/f/1"), "https://x.test/f/1");
        assert_eq!(shown_url("not a url?sig=secret"), "not a url");
    }

    #[test]
    fn escapes_become_visible() {
        assert_eq!(printable("Patient"), "Patient");
        assert_eq!(printable("Patient\u{1b}]0;pwned\u{7}\u{1b}[2J"), "Patient\\u{1b}]0;pwned\\u{7}\\u{1b}[2J");
        assert_eq!(printable("a\u{9b}31m\u{202e}b\nc"), "a\\u{9b}31m\\u{202e}b\\u{a}c");
        assert_eq!(printable("é ü 日本"), "é ü 日本");
    }
}
