//! A queue between one producing and one consuming thread, bounded by the bytes of what it holds rather
//! than by a count: the merge's reading thread decodes the next row group while the writer encodes one,
//! and a batch of claims is a hundred times a batch of allergies.
//!
//! Measured with `merge_bench` (5 GB dataset, 1 GB incremental, changes in every row group): a queue of one
//! batch kept a core idle while a row group was encoded (merge 8.8 s); sixteen batches took 7.5 s but up to
//! 360 MB; a row group's bytes (a third of a conversion's), 7.6 s in the memory limit.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

struct State<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
    sender_gone: bool,
    receiver_gone: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
    budget: usize,
}

pub(crate) struct Sender<T>(Arc<Shared<T>>);
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

/// A queue holding up to `budget` bytes; one item is always let in, whatever its size, so an item larger
/// than the budget still passes (alone).
pub(crate) fn bounded<T>(budget: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State { items: VecDeque::new(), bytes: 0, sender_gone: false, receiver_gone: false }),
        changed: Condvar::new(),
        budget,
    });
    (Sender(shared.clone()), Receiver(shared))
}

fn lock<T>(shared: &Shared<T>) -> std::sync::MutexGuard<'_, State<T>> {
    // A panic on the other side poisons the lock; the state itself stays consistent (every change is one
    // statement), so the queue goes on and the panic is reported where the thread is joined.
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Sender<T> {
    /// Waits for room, then queues `item` of `bytes`. False when the receiver is gone (stop producing).
    pub(crate) fn send(&self, item: T, bytes: usize) -> bool {
        let mut state = lock(&self.0);
        while !state.receiver_gone && !state.items.is_empty() && state.bytes + bytes > self.0.budget {
            state = self.0.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.receiver_gone {
            return false;
        }
        state.bytes += bytes;
        state.items.push_back((item, bytes));
        self.0.changed.notify_all();
        true
    }
}

impl<T> Receiver<T> {
    /// The next item; `None` once the sender is gone and everything it sent was taken.
    pub(crate) fn recv(&self) -> Option<T> {
        let mut state = lock(&self.0);
        loop {
            if let Some((item, bytes)) = state.items.pop_front() {
                state.bytes -= bytes;
                self.0.changed.notify_all();
                return Some(item);
            }
            if state.sender_gone {
                return None;
            }
            state = self.0.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        lock(&self.0).sender_gone = true;
        self.0.changed.notify_all();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.0);
        state.receiver_gone = true;
        state.items.clear();
        state.bytes = 0;
        drop(state);
        self.0.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_sender_waits_while_the_queue_holds_its_budget() {
        let (tx, rx) = bounded::<u32>(10);
        let sent = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..4 {
                    assert!(tx.send(i, 6));
                    sent.fetch_add(1, Ordering::SeqCst);
                }
                drop(tx);
            });
            // Item 0 (6 bytes) fits; item 1 would make 12 > 10, so the sender waits until 0 is taken.
            let started = std::time::Instant::now();
            while sent.load(Ordering::SeqCst) == 0 && started.elapsed().as_secs() < 10 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            assert_eq!(sent.load(Ordering::SeqCst), 1);
            let got: Vec<u32> = std::iter::from_fn(|| rx.recv()).collect();
            assert_eq!(got, vec![0, 1, 2, 3]);
        });
    }

    #[test]
    fn an_item_larger_than_the_budget_passes_alone() {
        let (tx, rx) = bounded::<&str>(1);
        assert!(tx.send("big", 100));
        drop(tx);
        assert_eq!(rx.recv(), Some("big"));
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn a_gone_receiver_stops_the_sender() {
        let (tx, rx) = bounded::<u32>(1);
        assert!(tx.send(1, 1));
        std::thread::scope(|s| {
            let waiting = s.spawn(|| tx.send(2, 1));
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(rx);
            assert!(!waiting.join().unwrap());
        });
    }
}
