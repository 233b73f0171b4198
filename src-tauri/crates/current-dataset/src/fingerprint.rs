//! Resource ids as 128-bit fingerprints, and a sorted index of them looked up in about one memory access.
//!
//! Every row of the dataset is looked up once per merge (is it replaced? deleted?). A binary search over
//! the incoming ids was a tenth of a merge's CPU (perf on `merge_bench`: a cache miss at each of ~20
//! steps); the index's top bits now lead straight to a bucket of one or two entries.

use twox_hash::XxHash3_128;

/// A resource id as 128 bits: an index costs the same whatever the ids' length (1.6 M ids: ~70 MB instead
/// of ~160 MB as strings). XXH3-128; the chance that two of ten million ids share one is about 1e-25.
/// Never stored: only compared within one merge.
pub(crate) fn fingerprint(id: &str) -> u128 {
    XxHash3_128::oneshot(id.as_bytes())
}

/// Entries sorted by fingerprint, with a directory of where each bucket of fingerprints (by their top
/// bits) starts: at most one bucket per two entries, so the directory costs ≤ 2 bytes an entry.
pub(crate) struct FingerprintIndex<T> {
    entries: Vec<(u128, T)>,
    starts: Vec<u32>,
    bits: u32,
}

impl<T: Copy> FingerprintIndex<T> {
    /// `entries` must be sorted by fingerprint (equal ones are all kept; `get` finds the first).
    pub fn new(entries: Vec<(u128, T)>) -> FingerprintIndex<T> {
        debug_assert!(entries.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(entries.len() < u32::MAX as usize, "over four billion entries");
        let bits = (entries.len() / 2).max(1).next_power_of_two().trailing_zeros().max(1);
        let buckets = 1usize << bits;
        let mut starts = Vec::with_capacity(buckets + 1);
        let mut at = 0usize;
        for b in 0..buckets {
            while at < entries.len() && Self::bucket_of(entries[at].0, bits) < b {
                at += 1;
            }
            starts.push(at as u32);
        }
        starts.push(entries.len() as u32);
        FingerprintIndex { entries, starts, bits }
    }

    fn bucket_of(fp: u128, bits: u32) -> usize {
        (fp >> (128 - bits)) as usize
    }

    pub fn get(&self, fp: u128) -> Option<T> {
        let b = Self::bucket_of(fp, self.bits);
        let (from, to) = (self.starts[b] as usize, self.starts[b + 1] as usize);
        self.entries[from..to].iter().find(|e| e.0 == fp).map(|e| e.1)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The fingerprints of `ids`, as an index.
pub(crate) fn index_of_ids<'a>(ids: impl IntoIterator<Item = &'a String>) -> FingerprintIndex<()> {
    let mut entries: Vec<(u128, ())> = ids.into_iter().map(|id| (fingerprint(id), ())).collect();
    entries.sort_unstable_by_key(|e| e.0);
    entries.dedup_by_key(|e| e.0);
    FingerprintIndex::new(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_found_and_nothing_else() {
        for n in [0usize, 1, 2, 3, 17, 1000, 4097] {
            let ids: Vec<String> = (0..n).map(|i| format!("id-{i}")).collect();
            let index = index_of_ids(&ids);
            assert_eq!(index.len(), n);
            assert!(ids.iter().all(|id| index.get(fingerprint(id)).is_some()), "n = {n}");
            assert!((0..200).all(|i| index.get(fingerprint(&format!("other-{i}"))).is_none()), "n = {n}");
        }
    }

    #[test]
    fn values_come_back_with_their_fingerprint() {
        let mut entries: Vec<(u128, u32)> = (0..5000u32).map(|i| (fingerprint(&i.to_string()), i)).collect();
        entries.sort_unstable_by_key(|e| e.0);
        let index = FingerprintIndex::new(entries);
        assert!((0..5000u32).all(|i| index.get(fingerprint(&i.to_string())) == Some(i)));
        // The extremes of the range land in the first and last buckets.
        let edges = FingerprintIndex::new(vec![(0u128, 1u8), (u128::MAX, 2u8)]);
        assert_eq!((edges.get(0), edges.get(u128::MAX), edges.get(1 << 127)), (Some(1), Some(2), None));
    }
}
