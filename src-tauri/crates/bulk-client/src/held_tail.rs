//! What a resume with no version to name compares: the last bytes a sink holds of a file, kept as their
//! length and SHA-256. A sink that can read its bytes back (a `.part` file) makes one when asked; one that
//! cannot (an upload's parts are not readable until it completes) keeps the one of its last part. Either way
//! the same rule decides whether the server's file is still the one those bytes came from.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How many of the bytes already held a resume without a version asks for again, to compare.
pub const OVERLAP: u64 = 64 * 1024;

/// The last `len` bytes a sink holds of a file, as their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldTail {
    pub len: u64,
    pub sha256: [u8; 32],
}

impl HeldTail {
    /// The tail of `bytes`: its last [`OVERLAP`] bytes at most.
    pub fn of_end(bytes: &[u8]) -> Self {
        let tail = &bytes[bytes.len() - bytes.len().min(OVERLAP as usize)..];
        Self { len: tail.len() as u64, sha256: Sha256::digest(tail).into() }
    }
}

/// The same bytes asked for again, as they arrive: `Some(true)` once all have and they match.
pub(crate) struct TailCheck {
    held: HeldTail,
    seen: u64,
    hasher: Sha256,
}

impl TailCheck {
    pub(crate) fn new(held: HeldTail) -> Self {
        Self { held, seen: 0, hasher: Sha256::new() }
    }

    /// Takes what it still lacks from the front of `bytes` and returns the rest (the bytes after the tail),
    /// with whether the tail is complete and matched (`Some(true)`), differs (`Some(false)`), or lacks more.
    pub(crate) fn feed<'b>(&mut self, bytes: &'b [u8]) -> (Option<bool>, &'b [u8]) {
        let n = ((self.held.len - self.seen).min(bytes.len() as u64)) as usize;
        self.hasher.update(&bytes[..n]);
        self.seen += n as u64;
        let done = (self.seen == self.held.len)
            .then(|| std::mem::take(&mut self.hasher).finalize().as_slice() == self.held.sha256.as_slice());
        (done, &bytes[n..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_is_the_last_overlap_bytes_and_matches_only_the_same_bytes_in_any_chunks() {
        let file: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let held = HeldTail::of_end(&file);
        assert_eq!(held.len, OVERLAP);
        let end = &file[file.len() - OVERLAP as usize..];
        for chunk in [1usize, 1000, 65_536, 70_000] {
            let mut check = TailCheck::new(held.clone());
            let mut answer = end.to_vec();
            answer.extend_from_slice(b"after");
            let mut outcome = None;
            let mut rest_seen = Vec::new();
            for piece in answer.chunks(chunk) {
                let (done, rest) = if outcome.is_none() { check.feed(piece) } else { (None, piece) };
                outcome = outcome.or(done);
                rest_seen.extend_from_slice(rest);
            }
            assert_eq!((outcome, &rest_seen[..]), (Some(true), &b"after"[..]), "chunks of {chunk}");
        }
        let mut other = end.to_vec();
        other[100] ^= 1;
        assert_eq!(TailCheck::new(held.clone()).feed(&other).0, Some(false));
        assert_eq!(TailCheck::new(held).feed(&end[..10]).0, None, "not all of it yet");
        assert_eq!(HeldTail::of_end(b"short").len, 5);
    }
}
