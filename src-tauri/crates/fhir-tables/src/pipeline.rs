//! The threads of a pass: one reader cutting the input into chunks of whole lines, N workers, and the
//! caller's thread taking results back in order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::ConvertError;
use crate::inputs::{Chunk, TypeInput, read_chunks};
use crate::report::{BadLineSink, ConvertOptions, ConvertPhase, ConvertProgress};

/// What the passes of one conversion share: settings, progress, the bad-lines file.
pub(crate) struct Context<'a> {
    pub(crate) options: &'a ConvertOptions,
    pub(crate) chunk_bytes: usize,
    pub(crate) row_group_bytes: usize,
    pub(crate) cancel: &'a AtomicBool,
    pub(crate) on_progress: &'a (dyn Fn(&ConvertProgress) + Sync),
    pub(crate) total: u64,
    pub(crate) done_before: u64,
    pub(crate) bad: BadLineSink,
    pub(crate) last_progress: Instant,
    /// Said in the report: what went wrong without stopping the conversion.
    pub(crate) warnings: Vec<String>,
}

impl Context<'_> {
    pub(crate) fn progress(&mut self, resource_type: &str, phase: ConvertPhase, read: u64, force: bool) {
        if !force && self.last_progress.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last_progress = Instant::now();
        (self.on_progress)(&ConvertProgress {
            resource_type: resource_type.to_string(),
            phase,
            done_bytes: (self.done_before + read).min(self.total),
            total_bytes: self.total,
        });
    }
}

/// Runs reader → workers → in-order consumer. `work` runs on the worker threads; `consume` gets
/// results in chunk order on this thread and may stop everything by returning an error.
pub(crate) fn pipeline<R: Send>(
    input: &TypeInput,
    ctx: &mut Context,
    first_lines: Option<&[u64]>,
    phase: ConvertPhase,
    work: &(dyn Fn(&Chunk) -> Result<R, ConvertError> + Sync),
    consume: &mut dyn FnMut(R, &mut Context) -> Result<(), ConvertError>,
) -> Result<(), ConvertError> {
    let threads = ctx.options.threads;
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(threads);
    let (result_tx, result_rx) = crossbeam_channel::bounded::<(u64, Result<R, ConvertError>)>(threads);
    // Room for every buffer in flight (queued, being parsed, being read), so none is dropped and
    // allocated (and zeroed) again.
    let (recycle_tx, recycle_rx) = crossbeam_channel::bounded::<Vec<u8>>(2 * threads + 4);
    let stop = AtomicBool::new(false);
    let read = Arc::new(AtomicU64::new(0));
    let chunk_bytes = ctx.chunk_bytes;
    let outcome = std::thread::scope(|s| {
        let reader = std::thread::Builder::new()
            .name("haul-read".into())
            .spawn_scoped(s, || {
                let r = read_chunks(&input.files, chunk_bytes, first_lines, &chunk_tx, &recycle_rx, &read, &stop);
                drop(chunk_tx);
                r
            })
            .expect("a thread starts");
        for _ in 0..threads {
            let rx = chunk_rx.clone();
            let tx = result_tx.clone();
            let recycle = recycle_tx.clone();
            let stop = &stop;
            let worker = move || {
                for chunk in rx.iter() {
                    if stop.load(Ordering::Relaxed) {
                        continue;
                    }
                    let result = work(&chunk);
                    let seq = chunk.seq;
                    let _ = recycle.try_send(chunk.into_buffer());
                    if tx.send((seq, result)).is_err() {
                        break;
                    }
                }
            };
            std::thread::Builder::new().name("haul-parse".into()).spawn_scoped(s, worker).expect("a thread starts");
        }
        drop(result_tx);
        drop(chunk_rx);
        drop(recycle_tx);
        let mut pending: BTreeMap<u64, R> = BTreeMap::new();
        let mut next = 0u64;
        let mut failure: Option<ConvertError> = None;
        for (seq, result) in result_rx.iter() {
            if failure.is_some() {
                continue;
            }
            if ctx.cancel.load(Ordering::Relaxed) {
                failure = Some(ConvertError::Cancelled);
                stop.store(true, Ordering::Relaxed);
                continue;
            }
            match result {
                Ok(r) => {
                    pending.insert(seq, r);
                }
                Err(e) => {
                    failure = Some(e);
                    stop.store(true, Ordering::Relaxed);
                    continue;
                }
            }
            while let Some(r) = pending.remove(&next) {
                next += 1;
                if let Err(e) = consume(r, ctx) {
                    failure = Some(e);
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
            let now = read.load(Ordering::Relaxed);
            ctx.progress(&input.resource_type, phase, now, false);
        }
        let read_result = reader.join().expect("the reader thread does not panic");
        match (failure, read_result) {
            (Some(e), _) | (None, Err(e)) => Err(e),
            (None, Ok(())) if ctx.cancel.load(Ordering::Relaxed) => Err(ConvertError::Cancelled),
            (None, Ok(())) => Ok(()),
        }
    });
    outcome?;
    ctx.done_before += input.bytes();
    ctx.progress(&input.resource_type, phase, 0, true);
    Ok(())
}
