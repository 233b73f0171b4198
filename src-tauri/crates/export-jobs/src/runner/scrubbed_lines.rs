//! A server's error file on its way to disk: written a whole line at a time, each line holding a secret the
//! server echoed (a token in an OperationOutcome's diagnostics) taken out first, so that not even the `.part`
//! a crash leaves behind holds one. Such a file is therefore never resumed: its `.part` no longer matches the
//! server's bytes, so each try starts it over (error files are small).

use std::borrow::Cow;

use bulk_client::Secrets;

/// A line longer than the longest held back: the file is not kept.
#[derive(Debug)]
pub(super) struct LineTooLong(pub usize);

/// The bytes after the last line end, held back until their line is whole.
#[derive(Debug, Default)]
pub(super) struct ScrubbedLines {
    carry: Vec<u8>,
    max_line: usize,
}

impl ScrubbedLines {
    pub(super) fn new(max_line: usize) -> Self {
        Self { carry: Vec::new(), max_line }
    }

    /// The whole lines `bytes` completes, scrubbed, appended to `out`; the rest is held back.
    pub(super) fn take(&mut self, bytes: &[u8], secrets: &Secrets, out: &mut Vec<u8>) -> Result<(), LineTooLong> {
        self.carry.extend_from_slice(bytes);
        let Some(end) = memchr::memrchr(b'\n', &self.carry) else {
            return self.bounded();
        };
        for line in self.carry[..=end].split_inclusive(|b| *b == b'\n') {
            out.extend_from_slice(&scrubbed(line, secrets));
        }
        self.carry.drain(..=end);
        self.bounded()
    }

    /// The last line, when the file does not end with a line end.
    pub(super) fn rest(&mut self, secrets: &Secrets) -> Vec<u8> {
        let rest = std::mem::take(&mut self.carry);
        scrubbed(&rest, secrets).into_owned()
    }

    fn bounded(&self) -> Result<(), LineTooLong> {
        if self.carry.len() > self.max_line { Err(LineTooLong(self.max_line)) } else { Ok(()) }
    }
}

/// `line` as it came, or with every secret replaced (as text: a line holding a secret is shown, not checked
/// byte for byte).
fn scrubbed<'l>(line: &'l [u8], secrets: &Secrets) -> Cow<'l, [u8]> {
    if secrets.found_in(line) {
        Cow::Owned(secrets.redact(&String::from_utf8_lossy(line)).into_bytes())
    } else {
        Cow::Borrowed(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_lines_go_out_and_none_holds_a_secret() {
        let secrets = Secrets::default();
        secrets.add("eyJhbGciOi.token-of-the-session-1234567890");
        let mut lines = ScrubbedLines::new(1024);
        let mut out = Vec::new();
        // The echoed token arrives split across two pieces, as network reads cut it.
        lines.take(b"{\"a\":1}\n{\"diagnostics\":\"Bearer eyJhbGciOi.token-of-", &secrets, &mut out).unwrap();
        assert_eq!(out, b"{\"a\":1}\n");
        lines.take(b"the-session-1234567890\"}\n{\"b\":", &secrets, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(!text.contains("token-of-the-session"), "{text}");
        assert!(text.ends_with("Bearer [redacted]\"}\n"), "{text}");
        assert_eq!(lines.rest(&secrets), b"{\"b\":");
        let mut long = ScrubbedLines::new(8);
        assert!(long.take(b"0123456789", &secrets, &mut Vec::new()).is_err());
    }
}
