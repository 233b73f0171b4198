//! Background work running in this app: exports, Parquet conversions, and the Files page's finds and counts.
//! One registry for all of them: a task is registered under its key while it runs (the guard removes it,
//! however the work ends), can be stopped by key, and an export's pages can watch it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;

/// What a task is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskKey {
    Export(i64),
    Conversion(i64),
    /// "Make tables" from an export.
    Tables(i64),
    /// A find or chart count on the Files page, by the name the page gave it.
    Browse(String),
}

/// How a task is told to stop: async work waits on the token, blocking work polls the flag.
#[derive(Clone, Default)]
pub struct StopSignal {
    token: CancellationToken,
    flag: Arc<AtomicBool>,
}

impl StopSignal {
    pub fn stop(&self) {
        self.flag.store(true, Ordering::Relaxed);
        self.token.cancel();
    }

    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }
}

/// The pages following a running task, each a sender that answers false once its page has gone.
pub type Watchers<W> = Arc<Mutex<Vec<W>>>;

struct Entry<W> {
    stop: StopSignal,
    watchers: Watchers<W>,
}

/// The registry. `W` is what a watching page is sent through (a Tauri channel in the app).
pub struct Tasks<W> {
    running: Arc<Mutex<HashMap<TaskKey, Entry<W>>>>,
}

impl<W> Default for Tasks<W> {
    fn default() -> Self {
        Self { running: Arc::default() }
    }
}

impl<W> Clone for Tasks<W> {
    fn clone(&self) -> Self {
        Self { running: self.running.clone() }
    }
}

/// Keeps a task registered; dropping it (the work ended, or panicked) removes it.
pub struct TaskGuard<W> {
    tasks: Tasks<W>,
    key: TaskKey,
    pub stop: StopSignal,
    pub watchers: Watchers<W>,
}

impl<W> Drop for TaskGuard<W> {
    fn drop(&mut self) {
        self.tasks.lock().remove(&self.key);
    }
}

/// A task under that key runs already.
#[derive(Debug, PartialEq, Eq)]
pub struct AlreadyRunning;

impl<W> Tasks<W> {
    fn lock(&self) -> MutexGuard<'_, HashMap<TaskKey, Entry<W>>> {
        // A panic in one command must not take the registry away from the rest of the session.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a task, with its first watchers; refuses a second task under the same key.
    pub fn start(&self, key: TaskKey, watchers: Vec<W>) -> Result<TaskGuard<W>, AlreadyRunning> {
        let mut running = self.lock();
        if running.contains_key(&key) {
            return Err(AlreadyRunning);
        }
        let entry = Entry { stop: StopSignal::default(), watchers: Arc::new(Mutex::new(watchers)) };
        let guard = TaskGuard {
            tasks: self.clone(),
            key: key.clone(),
            stop: entry.stop.clone(),
            watchers: entry.watchers.clone(),
        };
        running.insert(key, entry);
        Ok(guard)
    }

    pub fn is_running(&self, key: &TaskKey) -> bool {
        self.lock().contains_key(key)
    }

    /// Tells the task to stop. False if none runs under that key.
    pub fn stop(&self, key: &TaskKey) -> bool {
        self.lock().get(key).map(|e| e.stop.stop()).is_some()
    }

    /// Adds a page to a running task's watchers. False if none runs under that key.
    pub fn watch(&self, key: &TaskKey, watcher: W) -> bool {
        match self.lock().get(key) {
            Some(e) => {
                e.watchers.lock().unwrap_or_else(|p| p.into_inner()).push(watcher);
                true
            }
            None => false,
        }
    }
}

/// Sends `message` to every watcher, forgetting those whose page has gone (`send` answered false).
pub fn tell<W, M>(watchers: &Watchers<W>, message: &M, send: impl Fn(&W, &M) -> bool) {
    watchers.lock().unwrap_or_else(|p| p.into_inner()).retain(|w| send(w, message));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_runs_once_per_key_and_leaves_when_its_guard_drops() {
        let tasks: Tasks<()> = Tasks::default();
        let guard = tasks.start(TaskKey::Export(1), vec![]).unwrap();
        assert!(tasks.is_running(&TaskKey::Export(1)));
        assert!(!tasks.is_running(&TaskKey::Conversion(1)), "keys of different kinds do not collide");
        assert_eq!(tasks.start(TaskKey::Export(1), vec![]).err(), Some(AlreadyRunning));
        drop(guard);
        assert!(!tasks.is_running(&TaskKey::Export(1)));
        assert!(tasks.start(TaskKey::Export(1), vec![]).is_ok());
    }

    #[test]
    fn stopping_reaches_both_async_and_blocking_work() {
        let tasks: Tasks<()> = Tasks::default();
        let guard = tasks.start(TaskKey::Browse("find-1".into()), vec![]).unwrap();
        let (token, flag) = (guard.stop.token(), guard.stop.flag());
        assert!(!tasks.stop(&TaskKey::Browse("other".into())));
        assert!(tasks.stop(&TaskKey::Browse("find-1".into())));
        assert!(token.is_cancelled() && flag.load(Ordering::Relaxed));
    }

    #[test]
    fn watchers_are_told_until_their_page_goes() {
        let tasks: Tasks<Arc<Mutex<Vec<u32>>>> = Tasks::default();
        let first = Arc::new(Mutex::new(Vec::new()));
        let guard = tasks.start(TaskKey::Export(7), vec![first.clone()]).unwrap();
        let second = Arc::new(Mutex::new(Vec::new()));
        assert!(tasks.watch(&TaskKey::Export(7), second.clone()));
        assert!(!tasks.watch(&TaskKey::Export(8), second.clone()));
        let send = |w: &Arc<Mutex<Vec<u32>>>, m: &u32| {
            let mut seen = w.lock().unwrap();
            seen.push(*m);
            // The first page goes away after its first message.
            !Arc::ptr_eq(w, &first)
        };
        tell(&guard.watchers, &1, send);
        tell(&guard.watchers, &2, send);
        assert_eq!(*first.lock().unwrap(), [1]);
        assert_eq!(*second.lock().unwrap(), [1, 2]);
    }
}
