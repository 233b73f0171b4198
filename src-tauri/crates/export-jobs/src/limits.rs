//! What a server may cost the user at most: line length, unpacked size, time without data, free disk.
//! A server past a limit loses the file (or stops the job) with a plain message; it never takes the
//! computer's memory or disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bulk_client::DownloadLimits;

/// The limits one export runs under. Defaults are far above any real export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The longest line held in memory. Longer lines are set aside by reference (where they were, how long,
    /// how they began), never read whole. Real resources are kilobytes; 64 MB is far above any.
    pub max_line_bytes: usize,
    /// Free space kept on the export's disk: the job stops cleanly before it would go below.
    pub min_free_disk_bytes: u64,
    /// Stall detection, a per-file deadline, the largest file, and how far a gzip body may unpack.
    pub download: DownloadLimits,
    /// The largest manifest read.
    pub max_manifest_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_bytes: 64 << 20,
            min_free_disk_bytes: 1 << 30,
            download: DownloadLimits::default(),
            max_manifest_bytes: bulk_client::session::MAX_MANIFEST_BYTES,
        }
    }
}

impl Limits {
    /// The stall window in words, for messages.
    pub fn stall_window(&self) -> Duration {
        self.download.stall_window
    }

    /// The most a gzip body of `packed` bytes may unpack to.
    pub fn max_unpacked(&self, packed: u64) -> u64 {
        self.download.max_unpacked(packed)
    }
}

/// The disk would go below the space Haul keeps free.
#[derive(Debug, Clone, thiserror::Error)]
pub struct DiskFull {
    pub path: PathBuf,
    pub free: u64,
    pub keep: u64,
    /// What the other downloads under way may still write before they next look (they count too).
    pub underway: u64,
}

impl std::fmt::Display for DiskFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = crate::wording::bytes;
        write!(
            f,
            "The disk holding {} has {} free, and Haul keeps at least {} free",
            self.path.display(),
            bytes(self.free),
            bytes(self.keep)
        )?;
        if self.underway > 0 {
            write!(f, " (with up to {} more on its way from the downloads under way)", bytes(self.underway))?;
        }
        f.write_str(", so the export stopped before the disk filled. Nothing half-written was kept as complete. Free some space (or lower the reserve), then resume the export.")
    }
}

/// Checks free space on the export's disk. Writers that run side by side (the download lanes, the checks
/// that set a file right) each claim what they will write before they look again, and every look counts the
/// others' claims: with 32 lanes the reserve holds, not only each lane's view of it.
#[derive(Debug, Clone)]
pub struct DiskGuard {
    pub dir: PathBuf,
    pub keep: u64,
    claimed: Arc<AtomicU64>,
}

/// Bytes a writer may still write before it looks at the disk again; given back when dropped.
#[derive(Debug)]
pub struct DiskClaim {
    claimed: Arc<AtomicU64>,
    bytes: u64,
}

impl Drop for DiskClaim {
    fn drop(&mut self) {
        self.claimed.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

impl DiskGuard {
    pub fn new(dir: PathBuf, keep: u64) -> Self {
        Self { dir, keep, claimed: Arc::default() }
    }

    /// Whether `more` bytes can still be written with `keep` left free, beyond what the writers under way
    /// claimed. A disk whose free space cannot be read (some network shares) is not refused: writing itself
    /// will then say.
    pub fn check(&self, more: u64) -> Result<(), DiskFull> {
        self.check_with(more, self.claimed.load(Ordering::Acquire))
    }

    /// Claims the next `bytes` a writer will write before it looks again (give back the previous claim
    /// first: what it covered is written now, and free space shows it). Counted before the look, so two
    /// writers claiming at once both see the other.
    pub fn claim(&self, bytes: u64) -> Result<DiskClaim, DiskFull> {
        let claim = DiskClaim { claimed: self.claimed.clone(), bytes };
        let all = self.claimed.fetch_add(bytes, Ordering::AcqRel).saturating_add(bytes);
        self.check_with(0, all)?;
        Ok(claim)
    }

    fn check_with(&self, more: u64, claimed: u64) -> Result<(), DiskFull> {
        match free_space(&self.dir) {
            Some(free) if free < self.keep.saturating_add(more).saturating_add(claimed) => {
                Err(DiskFull { path: self.dir.clone(), free, keep: self.keep, underway: claimed })
            }
            _ => Ok(()),
        }
    }
}

/// What a writer claims at a time: it looks at the disk again after writing this much.
pub const CLAIM_BYTES: u64 = 64 << 20;

/// A writer's running claim on the disk, renewed every [`CLAIM_BYTES`] it writes.
#[derive(Debug)]
pub struct ClaimedWrites<'a> {
    guard: &'a DiskGuard,
    claim: Option<DiskClaim>,
    claimed: u64,
    since: u64,
}

impl<'a> ClaimedWrites<'a> {
    /// Claims what the writer will write first: `expected` bytes when it knows (a file's announced size),
    /// at most [`CLAIM_BYTES`], so that many small files side by side do not hold room they never use; or
    /// says the disk has no room for it beside the other writers'.
    pub fn start(guard: &'a DiskGuard, expected: Option<u64>) -> Result<Self, DiskFull> {
        let claimed = expected.map_or(CLAIM_BYTES, |e| e.clamp(1, CLAIM_BYTES));
        Ok(Self { guard, claim: Some(guard.claim(claimed)?), claimed, since: 0 })
    }

    /// Counts `n` bytes written; past the claim, gives it back (free space now shows them) and claims anew.
    pub fn wrote(&mut self, n: u64) -> Result<(), DiskFull> {
        self.since += n;
        if self.since >= self.claimed {
            self.since = 0;
            self.claim = None;
            self.claimed = CLAIM_BYTES;
            self.claim = Some(self.guard.claim(CLAIM_BYTES)?);
        }
        Ok(())
    }
}

fn free_space(dir: &Path) -> Option<u64> {
    fs4::available_space(dir).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_refuses_past_the_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_space(dir.path()).expect("a temp dir's disk tells its free space");
        let guard = DiskGuard::new(dir.path().into(), 0);
        assert!(guard.check(0).is_ok());
        let full = DiskGuard::new(dir.path().into(), free + (1 << 40)).check(0).unwrap_err();
        assert!(full.to_string().contains("stopped before the disk filled"), "{full}");
        assert!(!full.to_string().contains("under way"), "{full}");
        assert!(guard.check(free + (1 << 40)).is_err(), "a file bigger than what is free");
    }

    #[test]
    fn writers_side_by_side_count_each_others_claims() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_space(dir.path()).unwrap();
        // A reserve that leaves room for about two claims of a tenth of the free space, not three.
        let tenth = free / 10;
        let guard = DiskGuard::new(dir.path().into(), free - tenth * 2 - tenth / 2);
        let first = guard.claim(tenth).unwrap();
        let second = guard.clone().claim(tenth).unwrap();
        let third = guard.claim(tenth).unwrap_err();
        assert!(third.to_string().contains("on its way from the downloads under way"), "{third}");
        assert!(guard.check(tenth).is_err(), "a file that fits alone but not beside the claims");
        drop(first);
        let again = guard.claim(tenth).expect("a claim given back frees its room");
        drop((second, again));
        assert_eq!(guard.claimed.load(Ordering::Acquire), 0, "a refused claim holds nothing");
    }

    #[test]
    fn unpacking_is_bounded_by_ratio_floor_and_file_size() {
        let l = Limits::default();
        assert_eq!(l.max_unpacked(1 << 20), 256 << 20, "small bodies get the floor");
        assert_eq!(l.max_unpacked(10 << 30), l.download.max_file_bytes, "never past the file limit");
        assert_eq!(l.max_unpacked(100 << 20), 200 * (100 << 20), "200 times the packed size");
    }
}
