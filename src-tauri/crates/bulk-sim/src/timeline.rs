//! The timeline: the server's data changing between exports ("months"), so that incremental exports
//! (`_since`) find real updates, creations and deletions, and groups gain and lose members.
//!
//! Nothing is stored per resource. An epoch is a number and a time stamp; what an epoch does to a resource is a
//! function of (seed, epoch, type, id) (`fate`), and to a group's membership of (seed, group, patient, epoch)
//! (`membership`), so an export decides each resource's current version as it streams by, at O(epochs) per
//! resource. `report` lists what one epoch changed.
//!
//! Only the generated source has a timeline: a folder's data stays as it is, and `advance` refuses it.
//! An empty timeline (the default) leaves the data exactly as generated.

mod fate;
mod membership;
mod report;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::Sim;
use crate::source::Source;

pub use fate::{CREATED_TYPE, Standing, additions, created_id, creates, current, standing};
pub use membership::membership;
pub use report::{EpochChanges, ResourceChange};

/// One advance of the timeline: its number (from 1) and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    pub number: u64,
    /// Whole milliseconds, so that the stamp survives a round trip through a FHIR instant unchanged.
    pub stamp: OffsetDateTime,
}

impl Epoch {
    /// The stamp as a FHIR instant, e.g. `2026-11-30T07:20:00.123Z`.
    pub fn instant(&self) -> String {
        let t = self.stamp;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

/// The epochs so far, as one export or one read sees them: a snapshot, so that an export prepared while the
/// timeline advances still shows one state.
#[derive(Debug, Clone, Default)]
pub struct Epochs(Arc<Vec<Epoch>>);

impl Epochs {
    /// The number of the latest epoch; 0 before the first.
    pub fn latest(&self) -> u64 {
        self.0.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Epoch `number` (1-based); it must be one of these.
    pub fn get(&self, number: u64) -> &Epoch {
        &self.0[(number - 1) as usize]
    }
}

/// The timeline a `Sim` holds (behind its mutex).
#[derive(Debug, Default)]
pub struct Timeline {
    epochs: Epochs,
    /// The latest `transactionTime` handed out, which the next epoch must come after.
    handed_out: Option<OffsetDateTime>,
}

impl Timeline {
    pub fn epochs(&self) -> Epochs {
        self.epochs.clone()
    }

    /// An export's `transactionTime` and the state it sees, taken together under the lock: an epoch added later
    /// is stamped after that time, so `_since` = this time finds exactly the later changes.
    pub fn begin_export(&mut self) -> (OffsetDateTime, Epochs) {
        let mut now = OffsetDateTime::now_utc();
        // Should the clock step back, the export still comes after the epochs it includes.
        if let Some(last) = self.epochs.0.last() {
            now = now.max(last.stamp);
        }
        self.handed_out = Some(self.handed_out.map_or(now, |h| h.max(now)));
        (now, self.epochs.clone())
    }

    /// Adds an epoch stamped strictly after every earlier epoch and every `transactionTime` handed out.
    fn push_epoch(&mut self) -> Epochs {
        let floor = self.epochs.0.last().map(|e| e.stamp).max(self.handed_out);
        let number = self.epochs.latest() + 1;
        let mut epochs = self.epochs.0.as_ref().clone();
        epochs.push(Epoch { number, stamp: stamp_after(floor) });
        self.epochs = Epochs(Arc::new(epochs));
        self.epochs.clone()
    }
}

fn whole_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.millisecond() as u32 * 1_000_000).unwrap_or(t)
}

/// Now in whole milliseconds, waiting (a millisecond or two, normally) until that is after `floor`.
fn stamp_after(floor: Option<OffsetDateTime>) -> OffsetDateTime {
    let Some(floor) = floor else { return whole_millis(OffsetDateTime::now_utc()) };
    for _ in 0..50 {
        let now = whole_millis(OffsetDateTime::now_utc());
        if now > floor {
            return now;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // The clock went back: step past the floor rather than wait for it.
    whole_millis(floor) + Duration::from_millis(1)
}

/// Advances the timeline by one epoch and reports what it changed. The report walks every patient's resource
/// ids (not the resources), so it costs O(resources × epochs): fine for the thousands of patients tests use.
pub fn advance(sim: &Sim) -> Result<EpochChanges, String> {
    let Source::Generated { data, groups } = &sim.source else {
        return Err("The timeline needs the generated data source; a folder's data does not change".into());
    };
    let epochs = sim.timeline().push_epoch();
    Ok(report::changes(data, groups, &epochs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_epoch_comes_after_the_last_one_and_after_every_transaction_time() {
        let mut timeline = Timeline::default();
        let first = timeline.push_epoch();
        assert_eq!(first.latest(), 1);
        let e1 = first.get(1).clone();
        assert_eq!(e1.stamp.nanosecond() % 1_000_000, 0, "whole milliseconds");
        let (t, seen) = timeline.begin_export();
        assert!(t >= e1.stamp);
        assert_eq!(seen.latest(), 1);
        let second = timeline.push_epoch();
        let e2 = second.get(2);
        assert!(e2.stamp > t && e2.stamp > e1.stamp, "{e2:?} after {t} and {e1:?}");
        assert_eq!(first.latest(), 1, "a snapshot does not move");
        let e3 = timeline.push_epoch().get(3).stamp;
        assert!(e3 > e2.stamp);
    }

    #[test]
    fn a_stamp_steps_past_a_floor_in_the_future() {
        let floor = OffsetDateTime::now_utc() + Duration::from_secs(3600);
        let stamp = stamp_after(Some(floor));
        assert!(stamp > floor);
    }

    #[test]
    fn instants_have_milliseconds_and_a_z() {
        let stamp = OffsetDateTime::from_unix_timestamp_nanos(1_796_023_200_123_000_000).unwrap();
        assert_eq!(Epoch { number: 1, stamp }.instant(), "2026-11-30T07:20:00.123Z");
    }
}
