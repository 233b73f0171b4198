//! Group membership over the epochs: in a group whose roster changes, each patient may join or leave at each
//! epoch, decided per (seed, group, patient, epoch).

use crate::rng::Rng;

const STREAM_MEMBERSHIP: u64 = 0x7103;

/// Percent of non-members who join, and of members who leave, at each epoch.
const JOIN_PERCENT: u64 = 4;
const LEAVE_PERCENT: u64 = 3;

/// Whether patient `i` is in group `group_id` after epoch `upto`, having been in it (or not) `initially`; and
/// the last epoch that changed that.
pub fn membership(seed: u64, group_id: &str, i: u64, initially: bool, upto: u64) -> (bool, Option<u64>) {
    let group = Rng::name_key(group_id);
    let mut member = initially;
    let mut changed = None;
    for e in 1..=upto {
        let mut r = Rng::keyed(seed, STREAM_MEMBERSHIP, &[group, i, e]);
        if r.chance(if member { LEAVE_PERCENT } else { JOIN_PERCENT }) {
            member = !member;
            changed = Some(e);
        }
    }
    (member, changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_join_some_leave_and_the_rest_stay() {
        let (mut joined, mut left) = (0, 0);
        for i in 0..10_000 {
            if membership(42, "aco-north", i, false, 1).0 {
                joined += 1;
            }
            if !membership(42, "aco-north", i, true, 1).0 {
                left += 1;
            }
            assert_eq!(membership(42, "aco-north", i, true, 0), (true, None), "no epochs, no change");
        }
        assert!((300..500).contains(&joined), "{joined}");
        assert!((200..400).contains(&left), "{left}");
    }

    #[test]
    fn the_last_change_is_reported() {
        for i in 0..200 {
            let (now, changed) = membership(7, "g", i, false, 5);
            match changed {
                None => assert!(!now),
                Some(e) => {
                    assert_eq!(membership(7, "g", i, false, e).0, now);
                    assert_ne!(membership(7, "g", i, false, e - 1).0, now);
                }
            }
        }
    }
}
