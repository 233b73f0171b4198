//! Downloading: every file not yet verified, a few at a time, each into its `.part` (resumed with
//! `Range` after a break), checked line by line as it arrives, then verified into place.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulk_client::{DownloadError, ExportErrorKind, FileSink, HeldTail, OVERLAP};
use haul_store::{DbError, FileKind, FileRecord, FileState, JobFailure};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::context::{Ctx, Stop, disk_full, failure_of, io_failure};
use super::events::JobEvent;
use super::pacing::jitter;
use super::scrubbed_lines::{LineTooLong, ScrubbedLines};
use super::upload::StoreTarget;
use crate::limits::{ClaimedWrites, DiskFull};
use crate::verify::{Checked, Expect, LineChecker, Verified, VerifyError, VerifyFile, verify_into};
use crate::wording;

/// The longest line the streaming checker carries: real resources are far shorter; a longer line sends the
/// file to the full pass, so parallel downloads never each hold a long line.
pub(super) const CHECKER_CARRY: usize = 4 << 20;

/// One full verification pass at a time in the process (across jobs): each may hold a line up to the limit,
/// and several at once would not be bounded by it.
static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Requests to slow down (429/503) one file may get before it counts as failed.
const THROTTLED_ATTEMPTS: u32 = 20;

/// Downloads and verifies every file not yet verified, a few at a time (the job's `parallel`, fewer while
/// the server asks Haul to slow down). Returns verification summaries of the error files (for the problem
/// list).
pub(super) async fn download_all(
    ctx: &Arc<Ctx>,
    requires_token: bool,
    store: Option<Arc<StoreTarget>>,
) -> Result<HashMap<u32, Verified>, Stop> {
    let files = ctx.db(|db| db.job_files(ctx.id))?;
    ctx.folder.create_subfolders(&files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>())?;
    let mut tasks = tokio::task::JoinSet::new();
    let mut summaries = HashMap::new();
    for f in files {
        if f.state == FileState::Verified {
            // Verified before an interruption: never fetched again. A leftover .part is stale.
            let _ = std::fs::remove_file(ctx.folder.part(&f.name));
            continue;
        }
        if f.state == FileState::Failed {
            continue;
        }
        let (ctx, store) = (ctx.clone(), store.clone());
        tasks.spawn(async move {
            let _lane = ctx.lanes.enter().await;
            let seq = f.seq;
            let result = match store {
                None => fetch_and_verify(&ctx, &f, requires_token).await,
                Some(store) => super::upload::fetch_into_store(&ctx, &store, &f, requires_token).await,
            };
            (seq, result)
        });
    }
    let mut fatal = None;
    while let Some(joined) = tasks.join_next().await {
        let (seq, result) = joined.expect("download tasks do not panic");
        match result {
            Ok(v) => {
                summaries.insert(seq, v);
            }
            Err(Stop::Cancelled) => {
                ctx.cancel.cancel();
                fatal.get_or_insert(Stop::Cancelled);
            }
            Err(stop) => {
                // A disk failure stops everything; a lost file is already recorded and the rest go on.
                ctx.cancel.cancel();
                fatal = Some(stop);
            }
        }
    }
    if let Some(stop) = fatal {
        return Err(stop);
    }
    Ok(summaries)
}

/// One file: download (resuming `.part`), then verify into place. A file the server cannot give is
/// recorded as failed (and `Ok(Verified::default())` returned) so the others carry on.
async fn fetch_and_verify(ctx: &Ctx, f: &FileRecord, requires_token: bool) -> Result<Verified, Stop> {
    match fetch_into_folder(ctx, f, requires_token).await? {
        Fetched::Verified(v) => record_verified(ctx, f, v),
        Fetched::Failed(failure) => file_failed(ctx, f, failure),
    }
}

/// What became of a file fetched into the folder.
pub(super) enum Fetched {
    /// Verified into place (not yet recorded as such).
    Verified(Verified),
    /// The server could not give it, or gave it unusable.
    Failed(JobFailure),
}

/// Downloads a file into the folder (resuming `.part`) and verifies it into place; the row is left for the
/// caller to mark verified, since for a storage destination the file is only safe once uploaded.
pub(super) async fn fetch_into_folder(ctx: &Ctx, f: &FileRecord, requires_token: bool) -> Result<Fetched, Stop> {
    let target = ctx.folder.file(&f.name);
    let part = ctx.folder.part(&f.name);
    let compacting = ctx.folder.compacting(&f.name);
    let mut checked = None;
    let mut f = f.clone();
    if compacting.exists() {
        // Killed while taking bad lines out: that file is neither the download nor the result. Start over.
        std::fs::remove_file(&compacting).map_err(|e| io_failure("remove", &compacting, &e))?;
        let _ = std::fs::remove_file(&part);
        ctx.db(|db| db.set_file_state(ctx.id, f.seq, FileState::Pending, 0))?;
        f.state = FileState::Pending;
    }
    let f = &f;
    if f.state != FileState::Downloaded {
        ctx.disk.check(0).map_err(|e| disk_full(&e))?;
        match download(ctx, f, &part, requires_token).await {
            Ok((bytes, c)) => {
                checked = c;
                ctx.db(|db| db.set_file_state(ctx.id, f.seq, FileState::Downloaded, bytes))?
            }
            Err(Stop::Failed(failure)) if failure.kind != "disk_full" && failure.kind != "disk" => {
                return Ok(Fetched::Failed(failure));
            }
            Err(other) => return Err(other),
        }
    } else if !part.exists() && target.exists() {
        // Killed between the rename and the row update: the verified file is in place.
        let v = tokio::task::spawn_blocking({
            let target = target.clone();
            move || count_lines(&target)
        })
        .await
        .expect("counting does not panic")
        .map_err(|e| io_failure("read", &target, &e))?;
        return Ok(Fetched::Verified(v));
    }
    let verified = match checked {
        // Checked line by line as it arrived, all good and plain: it only needs its name. (Error files are
        // always rewritten: they are small, and a server may echo the token into them.)
        Some(checked) if checked.is_clean() && f.kind != FileKind::Error => {
            std::fs::rename(&part, &target).map_err(|e| io_failure("rename", &part, &e))?;
            checked.verified
        }
        _ => {
            let quarantine = ctx.folder.quarantine(&f.name);
            let (file, limits, secrets, disk) =
                (f.clone(), ctx.limits.clone(), ctx.session.secrets().clone(), ctx.disk.clone());
            let _one = VERIFYING.acquire().await.expect("semaphore open");
            let result = tokio::task::spawn_blocking({
                let (part, target) = (part.clone(), target.clone());
                move || {
                    verify_into(&VerifyFile {
                        part: &part,
                        compacting: &compacting,
                        target: &target,
                        quarantine: &quarantine,
                        name: &file.name,
                        url: &file.url,
                        expect: expect_of(&file),
                        limits: &limits,
                        secrets: &secrets,
                        disk: &disk,
                    })
                }
            })
            .await
            .expect("verification does not panic");
            match result {
                Ok(v) => v,
                Err(VerifyError::Io(e)) => return Err(io_failure("verify", &part, &e)),
                Err(VerifyError::DiskFull(e)) => return Err(disk_full(&e)),
                Err(refused) => {
                    let failure =
                        JobFailure { kind: refused.code().into(), message: refused.to_string(), detail: None };
                    return Ok(Fetched::Failed(failure));
                }
            }
        }
    };
    Ok(Fetched::Verified(verified))
}

/// Marks a file verified (its counts, its deletions) and says so.
pub(super) fn record_verified(ctx: &Ctx, f: &FileRecord, verified: Verified) -> Result<Verified, Stop> {
    ctx.db(|db| db.set_file_verified(ctx.id, f.seq, verified.bytes, verified.resources, verified.bad_lines))?;
    if f.kind == FileKind::Deleted {
        ctx.db(|db| db.set_file_deletions(ctx.id, f.seq, verified.deletions))?;
    }
    if let Some(open) = ctx.lanes.calm() {
        ctx.emit(JobEvent::Warning {
            message: format!(
                "The server keeps up again: Haul is back to {} at once.",
                wording::count(open as u64, "file")
            ),
        });
    }
    ctx.log.event(
        "download_complete",
        json!({"fileUrl": f.url, "resourceCount": verified.resources, "fileSize": verified.bytes}),
    );
    ctx.emit(JobEvent::FileVerified {
        seq: f.seq,
        name: f.name.clone(),
        resources: verified.resources,
        bytes: verified.bytes,
        bad_lines: verified.bad_lines,
    });
    Ok(verified)
}

/// Records a file the server could not give (or gave unusable), so the others carry on.
pub(super) fn file_failed(ctx: &Ctx, f: &FileRecord, failure: JobFailure) -> Result<Verified, Stop> {
    ctx.log.event(
        "download_error",
        json!({"fileUrl": f.url, "body": failure.detail, "code": failure.kind, "message": failure.message,
               "responseHeaders": null}),
    );
    ctx.db(|db| db.set_file_failed(ctx.id, f.seq, &failure))?;
    ctx.emit(JobEvent::FileFailed { seq: f.seq, name: f.name.clone(), message: failure.message });
    Ok(Verified::default())
}

/// A verified file already in place: its resources are its lines that are not blank (the one line rule's
/// split, as verification counted them).
fn count_lines(path: &Path) -> std::io::Result<Verified> {
    let file = std::fs::File::open(path)?;
    let bytes = file.metadata()?.len();
    let mut lines = fhir_ndjson::LineReader::new(std::io::BufReader::with_capacity(1 << 20, file));
    let mut resources = 0;
    while let Some((_, line)) = lines.next_line()? {
        if !fhir_ndjson::is_blank(line) {
            resources += 1;
        }
    }
    Ok(Verified { resources, bytes, ..Default::default() })
}

pub(super) fn expect_of(f: &FileRecord) -> Expect<'_> {
    match f.kind {
        FileKind::Output => Expect::Resource(&f.resource_type),
        FileKind::Error => Expect::Outcomes,
        FileKind::Deleted => Expect::Deletions,
    }
}

/// Streams the file into `part`, resuming from its length. Returns the final size and, when this process
/// saw every byte (no resume across a restart), what the line checker found on the way.
async fn download(
    ctx: &Ctx,
    f: &FileRecord,
    part: &Path,
    requires_token: bool,
) -> Result<(u64, Option<Checked>), Stop> {
    // Failures and requests to slow down are counted apart: a busy server may throttle a file many times.
    let (mut attempt, mut throttled) = (0u32, 0u32);
    let mut checker: Option<LineChecker> = None;
    loop {
        attempt += 1;
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let offset = match tokio::fs::metadata(part).await {
            // An error file's .part holds scrubbed lines, not the server's bytes: it starts over.
            Ok(m) if f.kind != FileKind::Error && (f.state != FileState::Pending || attempt > 1) => m.len(),
            _ => 0,
        };
        let version = if offset > 0 { ctx.db(|db| db.file_version(ctx.id, f.seq))? } else { None };
        note_attempt(ctx, f, offset)?;
        let mut sink = PartSink::new(ctx, f, part, &mut checker);
        sink.max_carry = ctx.limits.max_line_bytes.min(CHECKER_CARRY);
        let result = tokio::select! {
            _ = ctx.cancel.cancelled() => None,
            r = ctx.session.download_to(&f.url, requires_token, offset, version.as_deref(), &mut sink) => Some(r),
        };
        // Keep what arrived, whatever happened: the next attempt resumes after it.
        let flushed = sink.close().await;
        if let Some(e) = sink.db_error.take() {
            return Err(Stop::from(e));
        }
        if let Some(e) = sink.disk_full.take() {
            return Err(disk_full(&e));
        }
        if let Some(LineTooLong(max)) = sink.too_long.take() {
            return Err(Stop::Failed(JobFailure {
                kind: "limit_exceeded".into(),
                message: format!(
                    "A line of the server's error file is longer than {}, so the file was not kept (Haul takes any secret the server echoed out of each line before writing it).",
                    wording::bytes(max as u64)
                ),
                detail: None,
            }));
        }
        let error = match result {
            None => return Err(Stop::Cancelled),
            Some(Ok(done)) if done.already_complete => {
                // Every byte arrived before an interruption; the line checker did not see them all.
                return Ok((done.size, None));
            }
            Some(Ok(done)) => {
                flushed.map_err(|e| io_failure("write", part, &e))?;
                ctx.emit(JobEvent::FileProgress { seq: f.seq, bytes: done.size, total: Some(done.size) });
                return Ok((done.size, checker.map(LineChecker::finish)));
            }
            Some(Err(DownloadError::Sink(e))) => return Err(io_failure("write", part, &e)),
            Some(Err(DownloadError::Server(e))) => e,
        };
        if error.kind == ExportErrorKind::ResumeRejected {
            // The server cannot resume: start the file over.
            let _ = tokio::fs::remove_file(part).await;
        }
        wait_to_retry(ctx, f, error, &mut attempt, &mut throttled).await?;
    }
}

/// A request for file `f` from byte `offset`: counted on its row, logged, and told.
pub(super) fn note_attempt(ctx: &Ctx, f: &FileRecord, offset: u64) -> Result<(), Stop> {
    ctx.db(|db| {
        db.set_file_state(ctx.id, f.seq, FileState::Downloading, offset)?;
        db.add_file_attempt(ctx.id, f.seq)
    })?;
    ctx.log.event(
        "download_request",
        json!({"fileUrl": f.url, "itemType": match f.kind { FileKind::Output => "output", FileKind::Error => "error", FileKind::Deleted => "deleted" },
               "resourceType": f.resource_type}),
    );
    ctx.emit(JobEvent::FileStarted {
        seq: f.seq,
        name: f.name.clone(),
        resource_type: f.resource_type.clone(),
        resume_from: offset,
    });
    Ok(())
}

/// After a failed request for file `f`: waits as the server asked (or with Haul's own backoff) and returns,
/// to try again; or, past the tries allowed or for an error no retry mends, stops with the failure.
/// Requests to slow down (429/503) are counted apart from failures.
pub(super) async fn wait_to_retry(
    ctx: &Ctx,
    f: &FileRecord,
    error: bulk_client::ExportError,
    attempt: &mut u32,
    throttled: &mut u32,
) -> Result<(), Stop> {
    {
        let restart = error.kind == ExportErrorKind::ResumeRejected;
        let slow_down = error.kind == ExportErrorKind::Throttled;
        // A 500 on a file is as often a passing overload as a broken file: worth the same few tries.
        let retryable = error.is_retryable() || restart || error.status.is_some_and(|s| s >= 500);
        let (tries, limit) = if slow_down {
            *throttled += 1;
            *attempt -= 1;
            (*throttled, ctx.pacing.file_attempts.max(THROTTLED_ATTEMPTS))
        } else {
            (*attempt, ctx.pacing.file_attempts)
        };
        if !retryable || tries >= limit {
            return Err(Stop::Failed(failure_of(&error)));
        }
        if slow_down && let Some((before, after)) = ctx.lanes.slow_down() {
            ctx.emit(JobEvent::Warning {
                message: format!(
                    "The server asked Haul to slow down (HTTP {}): Haul now downloads {} at once instead of {before}.",
                    error.status.unwrap_or(429),
                    wording::count(after as u64, "file")
                ),
            });
        }
        let own = jitter(ctx.pacing.retry_base * 2u32.saturating_pow(tries - 1)).min(Duration::from_secs(120));
        let wait = match error.retry_after {
            Some(_) => ctx.wait_for(error.retry_after, own),
            None => own,
        };
        // A refused resume has already said the file starts over.
        let from = if restart { "" } else { ", resuming where it stopped" };
        ctx.emit(JobEvent::Warning {
            message: format!(
                "{}: {} Haul tries again in {} (try {} of {}){from}.",
                f.name,
                error.message,
                wording::duration(wait),
                tries + 1,
                limit
            ),
        });
        ctx.pause(wait).await
    }
}

/// The `.part` file a download writes into, with the line checker fed on the way, progress events a few
/// times a second, and the row's byte count (and the bytes on disk) brought up to date every 2 s, so a
/// killed process leaves most of what arrived.
struct PartSink<'a> {
    ctx: &'a Ctx,
    file: &'a FileRecord,
    part: PathBuf,
    checker: &'a mut Option<LineChecker>,
    out: Option<tokio::io::BufWriter<tokio::fs::File>>,
    done: u64,
    total: Option<u64>,
    last_event: Instant,
    last_row: Instant,
    /// The database failed while the bytes flowed; the job stops on it.
    db_error: Option<DbError>,
    /// The disk reached the reserve; the job stops, resumable.
    disk_full: Option<DiskFull>,
    /// This download's claim on the disk, beside the other lanes' (taken when the body begins).
    writes: Option<ClaimedWrites<'a>>,
    /// An error file goes to disk a scrubbed line at a time (see `scrubbed_lines`).
    scrub: Option<ScrubbedLines>,
    scrubbed: Vec<u8>,
    too_long: Option<LineTooLong>,
    max_carry: usize,
}

impl<'a> PartSink<'a> {
    fn new(ctx: &'a Ctx, file: &'a FileRecord, part: &Path, checker: &'a mut Option<LineChecker>) -> Self {
        Self {
            ctx,
            file,
            part: part.to_path_buf(),
            checker,
            out: None,
            done: 0,
            total: None,
            last_event: Instant::now(),
            last_row: Instant::now(),
            db_error: None,
            disk_full: None,
            writes: None,
            scrub: None,
            scrubbed: Vec::new(),
            too_long: None,
            max_carry: CHECKER_CARRY,
        }
    }

    /// Flushes and syncs what arrived, and gives back the claim on the disk (a retry may wait minutes).
    async fn close(&mut self) -> std::io::Result<()> {
        self.writes = None;
        if let (Some(lines), Some(out)) = (self.scrub.as_mut(), self.out.as_mut()) {
            out.write_all(&lines.rest(self.ctx.session.secrets())).await?;
        }
        match self.out.take() {
            Some(mut out) => {
                out.flush().await?;
                out.into_inner().sync_all().await
            }
            None => Ok(()),
        }
    }
}

impl FileSink for PartSink<'_> {
    async fn begin(&mut self, offset: u64, total: Option<u64>, version: Option<&str>) -> std::io::Result<()> {
        // A file whose size the server announced must fit with the reserve left.
        let left = total.map(|t| t.saturating_sub(offset));
        let room = self.ctx.disk.check(left.unwrap_or(0));
        match room.and_then(|()| ClaimedWrites::start(&self.ctx.disk, left)) {
            Ok(writes) => self.writes = Some(writes),
            Err(e) => {
                self.disk_full = Some(e);
                return Err(std::io::Error::other("the disk is nearly full"));
            }
        }
        let file = if offset == 0 {
            *self.checker = Some(LineChecker::new(expect_of(self.file), self.max_carry));
            tokio::fs::File::create(&self.part).await?
        } else {
            tokio::fs::OpenOptions::new().append(true).open(&self.part).await?
        };
        // Noted once the .part holds only this version's bytes (started over above, or continued), never
        // before: a version noted ahead of the truncation could make a resume splice two versions.
        let noted = self.ctx.db.lock().expect("database lock").set_file_version(self.ctx.id, self.file.seq, version);
        if let Err(e) = noted {
            self.db_error = Some(e);
            return Err(std::io::Error::other("the database could not note the file's version"));
        }
        self.out = Some(tokio::io::BufWriter::with_capacity(256 * 1024, file));
        self.scrub = (self.file.kind == FileKind::Error).then(|| ScrubbedLines::new(self.max_carry));
        self.done = offset;
        self.total = total;
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let out = self.out.as_mut().ok_or_else(|| std::io::Error::other("the download did not begin"))?;
        match self.scrub.as_mut() {
            None => out.write_all(bytes).await?,
            Some(lines) => {
                self.scrubbed.clear();
                if let Err(e) = lines.take(bytes, self.ctx.session.secrets(), &mut self.scrubbed) {
                    self.too_long = Some(e);
                    return Err(std::io::Error::other("a line of the error file is too long"));
                }
                out.write_all(&self.scrubbed).await?;
            }
        }
        if let Some(c) = self.checker.as_mut() {
            c.feed(bytes);
        }
        self.done += bytes.len() as u64;
        let (ctx, seq) = (self.ctx, self.file.seq);
        if let Some(Err(e)) = self.writes.as_mut().map(|w| w.wrote(bytes.len() as u64)) {
            self.disk_full = Some(e);
            return Err(std::io::Error::other("the disk is nearly full"));
        }
        if self.last_event.elapsed() >= Duration::from_millis(250) {
            self.last_event = Instant::now();
            ctx.emit(JobEvent::FileProgress { seq, bytes: self.done, total: self.total });
        }
        if self.last_row.elapsed() >= Duration::from_secs(2) {
            self.last_row = Instant::now();
            out.flush().await?;
            let noted =
                ctx.db.lock().expect("database lock").set_file_state(ctx.id, seq, FileState::Downloading, self.done);
            if let Err(e) = noted {
                self.db_error = Some(e);
                return Err(std::io::Error::other("the database could not note the download's progress"));
            }
        }
        Ok(())
    }

    async fn tail(&mut self) -> std::io::Result<Option<HeldTail>> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        // An error file's .part holds scrubbed lines, not the server's bytes (it never resumes anyway).
        if self.file.kind == FileKind::Error {
            return Ok(None);
        }
        let mut part = tokio::fs::File::open(&self.part).await?;
        let size = part.metadata().await?.len();
        part.seek(std::io::SeekFrom::Start(size - OVERLAP.min(size))).await?;
        let mut held = Vec::with_capacity(OVERLAP.min(size) as usize);
        part.read_to_end(&mut held).await?;
        Ok(Some(HeldTail::of_end(&held)))
    }
}
