//! A multipart upload whose progress outlives the process: the caller keeps [`UploadProgress`] (in Haul's
//! database) after every part, and a new process continues after the last part it finished.

use bytes::Bytes;
use object_store::PutPayload;
use object_store::multipart::PartId;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use crate::{Destination, DestinationError};

/// The size of a part the caller should send (S3 wants at least 5 MiB for every part but the last).
pub const PART_SIZE: usize = 8 << 20;

/// S3's limit on the parts of one upload (Azure allows more).
pub const MAX_PARTS: usize = 10_000;

/// An unfinished upload: the storage's id for it and its parts' ids, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadProgress {
    pub upload_id: String,
    pub parts: Vec<String>,
}

/// One object being written in parts. Nothing is visible under its name until [`ObjectUpload::finish`].
pub struct ObjectUpload {
    dest: Destination,
    relative: String,
    location: ObjectPath,
    progress: Option<UploadProgress>,
}

impl ObjectUpload {
    pub(crate) fn new(dest: Destination, relative: &str, progress: Option<UploadProgress>) -> Self {
        let location = dest.location(relative);
        Self { dest, relative: relative.to_string(), location, progress }
    }

    /// The object's name under the destination's prefix.
    pub fn name(&self) -> &str {
        &self.relative
    }

    /// What to keep to continue this upload in another process (`None` before its first part).
    pub fn progress(&self) -> Option<&UploadProgress> {
        self.progress.as_ref()
    }

    fn uploads(&self) -> Result<std::sync::Arc<dyn object_store::multipart::MultipartStore>, DestinationError> {
        self.dest.uploads.clone().ok_or_else(|| DestinationError::Failed {
            what: "upload",
            address: self.dest.address_of(&self.relative),
            reason: "a folder takes files whole, not in resumable parts".into(),
        })
    }

    /// Sends the next part (at least 5 MiB, but for the last); the upload starts with the first.
    pub async fn put_part(&mut self, data: Bytes) -> Result<&UploadProgress, DestinationError> {
        let address = || self.dest.address_of(&self.relative);
        let uploads = self.uploads()?;
        let progress = match self.progress.take() {
            Some(p) => p,
            None => {
                let id = uploads
                    .create_multipart(&self.location)
                    .await
                    .map_err(|e| DestinationError::from_store("start an upload to", address(), e))?;
                UploadProgress { upload_id: id, parts: Vec::new() }
            }
        };
        if progress.parts.len() >= MAX_PARTS {
            self.progress = Some(progress);
            return Err(DestinationError::TooLarge { address: address() });
        }
        let index = progress.parts.len();
        let sent = uploads.put_part(&self.location, &progress.upload_id, index, PutPayload::from(data)).await;
        let progress = self.progress.insert(progress);
        match sent {
            Ok(part) => {
                progress.parts.push(part.content_id);
                Ok(progress)
            }
            Err(object_store::Error::NotFound { .. }) => Err(DestinationError::UploadGone { address: address() }),
            Err(e) => Err(DestinationError::from_store("upload a part of", address(), e)),
        }
    }

    /// Completes the object with `last` as its final bytes: one request for an object that never needed a
    /// part, else the last part and the completion. The object appears whole, or not at all.
    pub async fn finish(mut self, last: Bytes) -> Result<(), DestinationError> {
        if self.progress.is_none() {
            return self.dest.put(&self.relative, last).await;
        }
        if !last.is_empty() {
            self.put_part(last).await?;
        }
        let progress = self.progress.take().expect("an upload with parts");
        let parts = progress.parts.into_iter().map(|content_id| PartId { content_id }).collect();
        match self.uploads()?.complete_multipart(&self.location, &progress.upload_id, parts).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => {
                Err(DestinationError::UploadGone { address: self.dest.address_of(&self.relative) })
            }
            Err(e) => {
                Err(DestinationError::from_store("complete the upload of", self.dest.address_of(&self.relative), e))
            }
        }
    }

    /// Gives the unfinished upload up, so the storage frees its parts (best effort: an upload the storage
    /// forgot is already gone).
    pub async fn abort(mut self) {
        if let (Some(p), Ok(uploads)) = (self.progress.take(), self.uploads()) {
            let _ = uploads.abort_multipart(&self.location, &p.upload_id).await;
        }
    }
}
