//! How many files download at once: the job's `parallel` to begin with, halved when the server asks Haul to
//! slow down (429 or 503 on a file), and grown back by one after a run of files that came without complaint
//! (additive increase, multiplicative decrease: the way TCP shares a link, and what a throttling server
//! needs to see).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Files throttled within this long of a cut count as the same request to slow down (several downloads
/// under way get the same 429 at once).
const ONE_REQUEST: Duration = Duration::from_secs(2);

pub(crate) struct Lanes {
    semaphore: Arc<Semaphore>,
    state: Mutex<LaneState>,
}

struct LaneState {
    open: u32,
    max: u32,
    /// Files verified since the last change.
    calm: u32,
    last_cut: Option<Instant>,
}

impl Lanes {
    pub fn new(parallel: u32) -> Self {
        let max = parallel.max(1);
        Self {
            semaphore: Arc::new(Semaphore::new(max as usize)),
            state: Mutex::new(LaneState { open: max, max, calm: 0, last_cut: None }),
        }
    }

    /// Waits for a free lane.
    pub async fn enter(&self) -> OwnedSemaphorePermit {
        self.semaphore.clone().acquire_owned().await.expect("the lanes' semaphore is never closed")
    }

    /// The server asked to slow down: half as many lanes (never fewer than one). `(before, after)` when this
    /// cut comes at full speed (worth telling the user once, not at every cut).
    pub fn slow_down(&self) -> Option<(u32, u32)> {
        let mut s = self.state.lock().expect("lanes lock");
        if s.last_cut.is_some_and(|t| t.elapsed() < ONE_REQUEST) || s.open == 1 {
            s.calm = 0;
            return None;
        }
        let before = s.open;
        let after = (before / 2).max(1);
        s.open = after;
        s.calm = 0;
        s.last_cut = Some(Instant::now());
        // The lanes in use are given back as their files finish; taken here, they are not handed out again.
        let semaphore = self.semaphore.clone();
        tokio::spawn(async move {
            if let Ok(permits) = semaphore.acquire_many_owned(before - after).await {
                permits.forget();
            }
        });
        (before == s.max).then_some((before, after))
    }

    /// A file came without complaint: after as many in a row as there are lanes, one lane more (up to the
    /// job's `parallel`). The number of lanes when that brings them back to full speed.
    pub fn calm(&self) -> Option<u32> {
        let mut s = self.state.lock().expect("lanes lock");
        if s.open >= s.max {
            return None;
        }
        s.calm += 1;
        if s.calm < s.open {
            return None;
        }
        s.calm = 0;
        s.open += 1;
        self.semaphore.add_permits(1);
        (s.open == s.max).then_some(s.open)
    }

    #[cfg(test)]
    fn open(&self) -> u32 {
        self.state.lock().unwrap().open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lanes_halve_on_a_request_to_slow_down_and_grow_back_one_by_one() {
        let lanes = Lanes::new(8);
        assert_eq!(lanes.slow_down(), Some((8, 4)));
        assert_eq!(lanes.slow_down(), None, "the same request, heard from several files");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(lanes.semaphore.available_permits(), 4, "four lanes taken out of use");
        for _ in 0..3 {
            assert_eq!(lanes.calm(), None);
        }
        assert_eq!(lanes.calm(), None, "one more after as many calm files as lanes, said only at full speed");
        assert_eq!(lanes.open(), 5);
        for _ in 0..(5 + 6 + 7 - 1) {
            assert_eq!(lanes.calm(), None);
        }
        assert_eq!(lanes.calm(), Some(8), "back to full speed");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(lanes.slow_down(), Some((8, 4)));
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(lanes.slow_down(), None, "a second cut is not said again");
        assert_eq!(lanes.open(), 2);
        let one = Lanes::new(1);
        assert_eq!(one.slow_down(), None, "never below one");
    }
}
