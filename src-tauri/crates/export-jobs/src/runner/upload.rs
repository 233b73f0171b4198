//! Exports into object storage (a job with a `destination`). Each output file streams from the server
//! through the line checker into a multipart upload, in parts of 8 MiB cut at line ends: nothing of it is kept
//! on local disk, and after a crash the upload continues after its last part, the server's file resumed with
//! `Range` where that part ended. A file the checker cannot pass as it arrives (a bad line, a gzip body, a line
//! too long to carry) is set right in the export folder as any export's file is, uploaded from there and
//! removed. Error and deleted files, the manifest, the report and the log stay in the folder and are copied
//! under `_haul/`. The layout is Hive-style, one partition per export:
//!
//! ```text
//! <prefix>/export_date=2026-11-01/Patient/part-000.ndjson
//! <prefix>/export_date=2026-11-01/_haul/export.json, manifest.json, haul-report.json, log.ndjson, error/…, deleted/…
//! ```

use bulk_client::{DownloadError, ExportErrorKind};
use bytes::Bytes;
use haul_store::{FileKind, FileRecord, FileState, JobFailure};
use object_destination::{Destination, DestinationError, PART_SIZE};
use serde_json::json;
use std::path::Path;
use tokio::io::AsyncReadExt;

use super::context::{Ctx, Stop, io_failure};
use super::download::{
    CHECKER_CARRY, Fetched, fetch_into_folder, file_failed, note_attempt, record_verified, wait_to_retry,
};
use super::events::JobEvent;
use super::stream_sink::{PartBuffers, SinkStop, StreamSink, UploadState};
use crate::verify::{LineChecker, Verified};

/// The marker that claims a partition for one export.
const MARKER: &str = "_haul/export.json";

/// Where a job's files go in object storage: the destination and the export's partition in it.
pub(super) struct StoreTarget {
    dest: Destination,
    partition: String,
    buffers: PartBuffers,
}

/// A storage failure as a job failure (the job stops, resumable).
fn store_failure(e: DestinationError) -> Stop {
    Stop::Failed(JobFailure { kind: e.code().into(), message: e.to_string(), detail: None })
}

/// The destination at `address`, with the sign-in saved for it in Haul, else the environment's credentials.
fn open(ctx: &Ctx, address: &str) -> Result<Destination, Stop> {
    ctx.db(|db| Ok(crate::storage_sign_in::open_storage(db, address)))?.map_err(store_failure)
}

/// Opens the destination and lists it, so that a wrong bucket or missing credentials stop the job before the
/// server is asked for anything.
pub(super) async fn check_destination(ctx: &Ctx, address: &str) -> Result<(), Stop> {
    let dest = open(ctx, address)?;
    dest.check_access().await.map_err(store_failure)
}

impl StoreTarget {
    /// Opens the destination and claims the export's partition (`export_date=` the transactionTime's day)
    /// with a marker written only where there is none: two exports never write into one partition. The same
    /// export, resumed, finds its own marker.
    pub(super) async fn claim(
        ctx: &Ctx,
        address: &str,
        transaction_time: &str,
        status_url: &str,
    ) -> Result<Self, Stop> {
        let dest = open(ctx, address)?;
        let this = Self { dest, partition: partition_of(transaction_time), buffers: PartBuffers::default() };
        let status_url = ctx.session.secrets().redact(status_url);
        let marker = json!({"exportedBy": "Haul", "transactionTime": transaction_time, "statusUrl": status_url});
        let name = this.name(MARKER);
        if this.dest.put_new(&name, Bytes::from(marker.to_string())).await.map_err(store_failure)? {
            return Ok(this);
        }
        let found = this.dest.get(&name).await.map_err(store_failure)?;
        let theirs = found.as_deref().and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok());
        if theirs.is_some_and(|v| v["statusUrl"] == marker["statusUrl"] && v["transactionTime"] == transaction_time) {
            return Ok(this);
        }
        Err(Stop::Failed(JobFailure {
            kind: "destination_taken".into(),
            message: format!(
                "{} already holds another export of that day, and Haul never writes one export over another. Export to another prefix, or delete that export from the storage first, then resume.",
                this.dest.address_of(&this.partition)
            ),
            detail: None,
        }))
    }

    fn name(&self, relative: &str) -> String {
        format!("{}/{relative}", self.partition)
    }

    /// The export's partition, as an address.
    pub(super) fn address(&self) -> String {
        self.dest.address_of(&self.partition)
    }
}

/// An export's partition: `export_date=` its transactionTime's day.
fn partition_of(transaction_time: &str) -> String {
    format!("export_date={}", day_of(transaction_time))
}

/// `YYYY-MM-DD` of a transactionTime; today (UTC) for one that does not start with a date.
fn day_of(transaction_time: &str) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match transaction_time.get(..10).and_then(|d| time::Date::parse(d, format).ok()) {
        Some(date) => date.format(format).unwrap_or_default(),
        None => time::OffsetDateTime::now_utc().date().format(format).unwrap_or_default(),
    }
}

/// A file's object name in the partition: `Type/part-NNN.ndjson` for output, `_haul/…` for the rest.
pub(super) fn object_name(f: &FileRecord) -> String {
    match f.kind {
        FileKind::Output => {
            let stem = f.name.strip_suffix(".ndjson").unwrap_or(&f.name);
            match stem.rsplit_once('.') {
                Some((resource_type, n)) => format!("{resource_type}/part-{n}.ndjson"),
                None => format!("{stem}/part-000.ndjson"),
            }
        }
        FileKind::Error | FileKind::Deleted => format!("_haul/{}", f.name),
    }
}

/// One file into the storage: streamed where it can be, else through the folder. Returns what the file held,
/// once its object is complete; a file the server cannot give is recorded as failed, as for a folder.
pub(super) async fn fetch_into_store(
    ctx: &Ctx,
    store: &StoreTarget,
    f: &FileRecord,
    requires_token: bool,
) -> Result<Verified, Stop> {
    let object = store.name(&object_name(f));
    let saved: UploadState = ctx
        .db(|db| db.file_upload(ctx.id, f.seq))?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    if f.kind == FileKind::Output && !saved.staged {
        if saved.upload.is_some()
            && let Some(verified) = completed_before(ctx, store, f, &object).await?
        {
            ctx.db(|db| db.set_file_upload(ctx.id, f.seq, None))?;
            return record_verified(ctx, f, verified);
        }
        match stream(ctx, store, f, &object, saved, requires_token).await? {
            Streamed::Complete(v) => {
                ctx.db(|db| db.set_file_upload(ctx.id, f.seq, None))?;
                return record_verified(ctx, f, v);
            }
            Streamed::Failed(failure) => return file_failed(ctx, f, failure),
            Streamed::Unclean => {
                let staged = serde_json::to_string(&UploadState { staged: true, ..Default::default() })
                    .expect("the upload state serializes");
                ctx.db(|db| {
                    db.set_file_upload(ctx.id, f.seq, Some(&staged))?;
                    db.set_file_state(ctx.id, f.seq, FileState::Pending, 0)
                })?;
                return fetch_through_folder(
                    ctx,
                    store,
                    &FileRecord { state: FileState::Pending, ..f.clone() },
                    &object,
                    requires_token,
                )
                .await;
            }
        }
    }
    fetch_through_folder(ctx, store, f, &object, requires_token).await
}

/// A file set right in the export folder (as any folder export's), then uploaded and, for output, removed.
async fn fetch_through_folder(
    ctx: &Ctx,
    store: &StoreTarget,
    f: &FileRecord,
    object: &str,
    requires_token: bool,
) -> Result<Verified, Stop> {
    match fetch_into_folder(ctx, f, requires_token).await? {
        Fetched::Failed(failure) => file_failed(ctx, f, failure),
        Fetched::Verified(v) => {
            let local = ctx.folder.file(&f.name);
            upload_file(store, &local, object).await?;
            let quarantine = ctx.folder.quarantine(&f.name);
            if quarantine.exists() {
                upload_file(store, &quarantine, &store.name(&format!("_haul/quarantine/{}", f.name))).await?;
            }
            ctx.db(|db| db.set_file_upload(ctx.id, f.seq, None))?;
            let verified = record_verified(ctx, f, v)?;
            // Recorded first: a process killed now finds the object complete, not a file to fetch again.
            if f.kind == FileKind::Output {
                let _ = std::fs::remove_file(&local);
            }
            Ok(verified)
        }
    }
}

/// A process killed between completing an upload and noting it leaves the object whole under its name (only
/// this export writes in its partition): it is read back through the line checker for its counts instead of
/// being fetched and sent again. `None`: no such object, the upload goes on.
async fn completed_before(
    ctx: &Ctx,
    store: &StoreTarget,
    f: &FileRecord,
    object: &str,
) -> Result<Option<Verified>, Stop> {
    if store.dest.size_of(object).await.map_err(store_failure)?.is_none() {
        return Ok(None);
    }
    let mut checker = LineChecker::new(crate::verify::Expect::Resource(&f.resource_type), CHECKER_CARRY);
    let mut chunks = std::pin::pin!(store.dest.read_chunks(object).await.map_err(store_failure)?);
    while let Some(chunk) = futures_util::StreamExt::next(&mut chunks).await {
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        checker.feed(&chunk.map_err(store_failure)?);
    }
    let checked = checker.finish();
    // Only a clean file is ever completed by streaming; anything else is not this export's upload.
    Ok(checked.is_clean().then_some(checked.verified))
}

/// A cancelled export's unfinished uploads, given up: nothing will resume them, and the storage would keep
/// (and bill) their parts until a lifecycle rule drops them. Best effort: the cancel stands either way.
pub(super) async fn abort_unfinished(ctx: &Ctx, address: &str, transaction_time: &str) -> Result<(), Stop> {
    let dest = open(ctx, address)?;
    let partition = partition_of(transaction_time);
    for f in ctx.db(|db| db.job_files(ctx.id))? {
        let saved: Option<UploadState> =
            ctx.db(|db| db.file_upload(ctx.id, f.seq))?.and_then(|text| serde_json::from_str(&text).ok());
        if let Some(progress) = saved.and_then(|s| s.upload) {
            dest.upload(&format!("{partition}/{}", object_name(&f)), Some(progress)).abort().await;
            ctx.db(|db| db.set_file_upload(ctx.id, f.seq, None))?;
        }
    }
    Ok(())
}

/// The Haul files of a storage export, copied under `_haul/` (the manifest as received, less secrets; the
/// report; the log so far). Quarantined lines went up with their files.
pub(super) async fn publish_side_files(ctx: &Ctx, store: &StoreTarget) -> Result<(), Stop> {
    for (path, name) in [
        (ctx.folder.manifest(), "manifest.json"),
        (ctx.folder.report(), "haul-report.json"),
        (ctx.folder.log(), "log.ndjson"),
    ] {
        if path.exists() {
            upload_file(store, &path, &store.name(&format!("_haul/{name}"))).await?;
        }
    }
    Ok(())
}

/// A local file to an object, in parts read one at a time (a new upload each time: these are files of the
/// folder, which stay until the object is complete).
async fn upload_file(store: &StoreTarget, path: &Path, object: &str) -> Result<(), Stop> {
    let mut file = tokio::fs::File::open(path).await.map_err(|e| io_failure("read", path, &e))?;
    let mut upload = store.dest.upload(object, None);
    loop {
        let mut part = Vec::with_capacity(PART_SIZE);
        let mut reader = (&mut file).take(PART_SIZE as u64);
        reader.read_to_end(&mut part).await.map_err(|e| io_failure("read", path, &e))?;
        if part.len() < PART_SIZE {
            return upload.finish(Bytes::from(part)).await.map_err(store_failure);
        }
        if let Err(e) = upload.put_part(Bytes::from(part)).await {
            upload.abort().await;
            return Err(store_failure(e));
        }
    }
}

enum Streamed {
    Complete(Verified),
    Failed(JobFailure),
    /// The checker found what only the full pass settles: the file goes through the folder.
    Unclean,
}

/// Streams an output file into its object, retrying as a download to a folder does.
async fn stream(
    ctx: &Ctx,
    store: &StoreTarget,
    f: &FileRecord,
    object: &str,
    saved: UploadState,
    requires_token: bool,
) -> Result<Streamed, Stop> {
    let (mut attempt, mut throttled) = (0u32, 0u32);
    let mut sink = StreamSink::new(ctx, f, store.dest.clone(), object, saved, store.buffers.clone());
    loop {
        attempt += 1;
        if ctx.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        // The part on its way is noted first: the retry asks for what follows it.
        if let Err(stop) = sink.settle().await {
            match after_stop(&mut sink, stop).await? {
                Some(end) => return Ok(end),
                None => continue,
            }
        }
        let offset = sink.state.source_bytes;
        let version = sink.state.version.clone().filter(|_| offset > 0);
        note_attempt(ctx, f, offset)?;
        sink.rewind();
        let result = tokio::select! {
            _ = ctx.cancel.cancelled() => None,
            r = ctx.session.download_to(&f.url, requires_token, offset, version.as_deref(), &mut sink) => Some(r),
        };
        let stopped = match sink.stop.take() {
            Some(stop) => Err(stop),
            None if matches!(result, Some(Ok(_))) => sink.settle().await,
            None => Ok(()),
        };
        if let Err(stop) = stopped {
            match after_stop(&mut sink, stop).await? {
                Some(end) => return Ok(end),
                None => continue,
            }
        }
        let error = match result {
            None => return Err(Stop::Cancelled),
            Some(Ok(done)) => {
                let checked = std::mem::replace(&mut sink.checker, LineChecker::continuing("", 1, 0, 0)).finish();
                if !checked.is_clean() {
                    sink.give_up().await;
                    return Ok(Streamed::Unclean);
                }
                let last = sink.lend_pending();
                let upload = sink.upload.take().expect("the upload is kept until it finishes");
                match upload.finish(last).await {
                    Ok(()) => {}
                    Err(DestinationError::UploadGone { .. }) => {
                        sink.reset();
                        continue;
                    }
                    Err(e) => return Err(store_failure(e)),
                }
                ctx.emit(JobEvent::FileProgress { seq: f.seq, bytes: done.size, total: Some(done.size) });
                return Ok(Streamed::Complete(Verified { bytes: done.size, ..checked.verified }));
            }
            Some(Err(DownloadError::Sink(e))) => return Err(io_failure("upload", Path::new(object), &e)),
            Some(Err(DownloadError::Server(e))) => e,
        };
        if error.kind == ExportErrorKind::ResumeRejected {
            sink.give_up().await;
        }
        match wait_to_retry(ctx, f, error, &mut attempt, &mut throttled).await {
            Err(Stop::Failed(failure)) => return Ok(Streamed::Failed(failure)),
            other => other?,
        }
    }
}

/// What a stop of the sink means for the file: `Some` ends it (through the folder), `None` starts it over (the
/// storage forgot the unfinished upload: aborted, or expired), an error stops the job.
async fn after_stop(sink: &mut StreamSink<'_>, stop: SinkStop) -> Result<Option<Streamed>, Stop> {
    match stop {
        SinkStop::Unclean => {
            sink.give_up().await;
            Ok(Some(Streamed::Unclean))
        }
        SinkStop::Db(e) => Err(e.into()),
        SinkStop::Store(DestinationError::UploadGone { .. }) => {
            sink.give_up().await;
            Ok(None)
        }
        SinkStop::Store(e) => Err(store_failure(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(kind: FileKind, name: &str) -> FileRecord {
        FileRecord {
            seq: 0,
            kind,
            resource_type: "Patient".into(),
            url: "https://x/1".into(),
            name: name.into(),
            expected_count: None,
            state: FileState::Pending,
            bytes_done: 0,
            resources: None,
            bad_lines: 0,
            attempts: 0,
            error: None,
            error_kind: None,
        }
    }

    #[test]
    fn output_files_go_in_a_folder_per_type_and_the_rest_under_haul() {
        assert_eq!(object_name(&file(FileKind::Output, "Patient.000.ndjson")), "Patient/part-000.ndjson");
        assert_eq!(object_name(&file(FileKind::Output, "Observation.012.ndjson")), "Observation/part-012.ndjson");
        assert_eq!(
            object_name(&file(FileKind::Error, "error/OperationOutcome.000.ndjson")),
            "_haul/error/OperationOutcome.000.ndjson"
        );
        assert_eq!(
            object_name(&file(FileKind::Deleted, "deleted/Bundle.000.ndjson")),
            "_haul/deleted/Bundle.000.ndjson"
        );
    }

    #[test]
    fn the_partition_is_the_transaction_day() {
        assert_eq!(day_of("2026-11-01T04:05:06.789Z"), "2026-11-01");
        assert_eq!(day_of("2026-11-01T23:00:00-05:00"), "2026-11-01");
        let today = day_of("not a time/../..");
        assert_eq!(today.len(), 10, "{today}");
        assert!(!today.contains('/'));
    }
}
