//! `log.ndjson` in each export folder, in the event format of the SMART reference client (log version 2),
//! so tools written for bulk-data-client logs read Haul's too. One JSON object per line:
//! `{"exportId", "timestamp", "eventId", "eventDetail"}`; Haul's own keys start with `_`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

pub struct ExportLog {
    path: PathBuf,
    export_id: Mutex<String>,
    /// Taken out of every line: server text may echo the token back.
    secrets: bulk_client::Secrets,
}

impl ExportLog {
    /// `path` is the folder's `log.ndjson`; `export_id` is the status URL once there is one (stable across resumes), else the job's number.
    pub fn new(path: &Path, export_id: String, secrets: bulk_client::Secrets) -> Self {
        Self { path: path.to_path_buf(), export_id: Mutex::new(export_id), secrets }
    }

    pub fn set_export_id(&self, id: &str) {
        *self.export_id.lock().expect("log id lock") = id.to_string();
    }

    /// Appends one event. A log that cannot be written never stops an export (the job row is the record).
    pub fn event(&self, event_id: &str, detail: Value) {
        let timestamp =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        let mut row = json!({
            "exportId": *self.export_id.lock().expect("log id lock"),
            "timestamp": timestamp,
            "eventId": event_id,
            "eventDetail": detail,
        });
        if event_id == "kickoff" {
            row["_client"] = json!("haul");
            row["_clientVersion"] = json!(env!("CARGO_PKG_VERSION"));
        }
        let mut line = self.secrets.redact(&row.to_string());
        line.push('\n');
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&self.path) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}
