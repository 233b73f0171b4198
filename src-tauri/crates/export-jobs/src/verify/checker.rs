//! The checks of [`super::verify_into`] on bytes as they arrive (the download's own chunks), so a file that
//! is all good needs no second read. Bad lines are only counted here; a file with any is verified again,
//! which sets them aside. A line longer than the checker's small carry limit makes it give up (the full
//! pass, one file at a time, handles long lines): several downloads at once never hold long lines each.

use fhir_ndjson::{is_blank, is_gzip_magic, line_content};

use super::{Expect, Verified, check, count_deletions, summarize_outcome};

pub struct LineChecker {
    expect: OwnedExpect,
    carry: Vec<u8>,
    /// A line was longer than `max_carry`: the checker stopped; the full pass decides.
    gave_up: bool,
    max_carry: usize,
    head: Vec<u8>,
    pub checked: Verified,
}

enum OwnedExpect {
    Resource(String),
    Outcomes,
    Deletions,
}

/// What a [`LineChecker`] found, once the file is complete.
pub struct Checked {
    pub verified: Verified,
    /// The body began with the gzip magic: it needs unpacking, so [`super::verify_into`] must run.
    pub gzip: bool,
    /// Every line was checked (none was longer than the checker carries).
    pub complete: bool,
}

impl Checked {
    /// The file can take its name as it is: plain, every line checked and good.
    pub fn is_clean(&self) -> bool {
        self.complete && !self.gzip && self.verified.bad_lines == 0
    }
}

impl LineChecker {
    /// `max_carry`: the longest line held while it arrives in pieces.
    pub fn new(expect: Expect<'_>, max_carry: usize) -> Self {
        let expect = match expect {
            Expect::Resource(t) => OwnedExpect::Resource(t.to_string()),
            Expect::Outcomes => OwnedExpect::Outcomes,
            Expect::Deletions => OwnedExpect::Deletions,
        };
        Self {
            expect,
            carry: Vec::new(),
            gave_up: false,
            max_carry: max_carry.max(1),
            head: Vec::with_capacity(2),
            checked: Verified::default(),
        }
    }

    /// A checker for the rest of a resource file whose first `bytes` (ending at a line end) an earlier process
    /// checked: `resources` good lines, none bad, and a body that did not start as gzip.
    pub fn continuing(resource_type: &str, max_carry: usize, resources: u64, bytes: u64) -> Self {
        let mut checker = Self::new(Expect::Resource(resource_type), max_carry);
        checker.checked.resources = resources;
        checker.checked.bytes = bytes;
        if bytes > 0 {
            // Not the gzip magic: the process that saw the first bytes would not have gone on.
            checker.head = b"{\n".to_vec();
        }
        checker
    }

    /// Something was found that only the full pass can settle: a bad line, a gzip body, a line too long to
    /// carry. The file cannot be taken as it arrives.
    pub fn is_unclean(&self) -> bool {
        self.gave_up || self.checked.bad_lines > 0 || (self.head.len() == 2 && is_gzip_magic(&self.head))
    }

    pub fn feed(&mut self, mut chunk: &[u8]) {
        if self.head.len() < 2 {
            let n = (2 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
        self.checked.bytes += chunk.len() as u64;
        if self.gave_up {
            return;
        }
        while let Some(pos) = memchr::memchr(b'\n', chunk) {
            if self.carry.len() + pos > self.max_carry {
                self.give_up();
                return;
            } else if self.carry.is_empty() {
                self.line(&chunk[..pos]);
            } else {
                let mut line = std::mem::take(&mut self.carry);
                line.extend_from_slice(&chunk[..pos]);
                self.line(&line);
                // Keep the allocation for the next split line.
                line.clear();
                self.carry = line;
            }
            chunk = &chunk[pos + 1..];
        }
        if self.carry.len() + chunk.len() > self.max_carry {
            self.give_up();
            return;
        }
        self.carry.extend_from_slice(chunk);
    }

    fn give_up(&mut self) {
        self.gave_up = true;
        self.carry = Vec::new();
    }

    fn line(&mut self, line: &[u8]) {
        let line = line_content(line);
        if is_blank(line) {
            return;
        }
        let checked = &mut self.checked;
        let expect = match &self.expect {
            OwnedExpect::Resource(t) => Expect::Resource(t),
            OwnedExpect::Outcomes => Expect::Outcomes,
            OwnedExpect::Deletions => Expect::Deletions,
        };
        match check(line, expect) {
            Err(_) => checked.bad_lines += 1,
            Ok(()) => {
                checked.resources += 1;
                match expect {
                    Expect::Outcomes => summarize_outcome(line, &mut checked.issues),
                    Expect::Deletions => checked.deletions += count_deletions(line),
                    Expect::Resource(_) => {}
                }
            }
        }
    }

    pub fn finish(mut self) -> Checked {
        if !self.gave_up {
            let rest = std::mem::take(&mut self.carry);
            self.line(&rest);
        }
        Checked { gzip: is_gzip_magic(&self.head), complete: !self.gave_up, verified: self.checked }
    }
}
