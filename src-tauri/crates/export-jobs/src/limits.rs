//! What a server may cost the user at most: line length, unpacked size, time without data, free disk.
//! A server past a limit loses the file (or stops the job) with a plain message; it never takes the
//! computer's memory or disk.

use std::path::{Path, PathBuf};
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
#[error(
    "The disk holding {} has {} free, and Haul keeps at least {} free, so the export stopped before the disk filled. Nothing half-written was kept as complete. Free some space (or lower the reserve), then resume the export.",
    .path.display(), crate::wording::bytes(*.free), crate::wording::bytes(*.keep)
)]
pub struct DiskFull {
    pub path: PathBuf,
    pub free: u64,
    pub keep: u64,
}

/// Checks free space on the export's disk.
#[derive(Debug, Clone)]
pub struct DiskGuard {
    pub dir: PathBuf,
    pub keep: u64,
}

impl DiskGuard {
    /// Whether `more` bytes can still be written with `keep` left free. A disk whose free space cannot be
    /// read (some network shares) is not refused: writing itself will then say.
    pub fn check(&self, more: u64) -> Result<(), DiskFull> {
        match free_space(&self.dir) {
            Some(free) if free < self.keep.saturating_add(more) => {
                Err(DiskFull { path: self.dir.clone(), free, keep: self.keep })
            }
            _ => Ok(()),
        }
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
        let guard = DiskGuard { dir: dir.path().into(), keep: 0 };
        assert!(guard.check(0).is_ok());
        let full = DiskGuard { dir: dir.path().into(), keep: free + (1 << 40) }.check(0).unwrap_err();
        assert!(full.to_string().contains("stopped before the disk filled"), "{full}");
        assert!(guard.check(free + (1 << 40)).is_err(), "a file bigger than what is free");
    }

    #[test]
    fn unpacking_is_bounded_by_ratio_floor_and_file_size() {
        let l = Limits::default();
        assert_eq!(l.max_unpacked(1 << 20), 256 << 20, "small bodies get the floor");
        assert_eq!(l.max_unpacked(10 << 30), l.download.max_file_bytes, "never past the file limit");
        assert_eq!(l.max_unpacked(100 << 20), 200 * (100 << 20), "200 times the packed size");
    }
}
