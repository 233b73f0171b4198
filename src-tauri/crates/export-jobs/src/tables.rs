//! Parquet conversion's memory: each server's table schemas in SQLite, so they only ever widen.

use std::path::Path;
use std::sync::Mutex;

use fhir_tables::{SchemaMemory, Shape};
use rusqlite::{OptionalExtension, params};

use crate::db::{Database, classify};

/// The schemas of one server's tables, read and widened in the database.
pub struct RememberedSchemas {
    db: Mutex<Database>,
    server_key: String,
}

impl RememberedSchemas {
    pub fn new(db: Database, server_key: impl Into<String>) -> Self {
        RememberedSchemas { db: Mutex::new(db), server_key: server_key.into() }
    }

    pub fn server_key(&self) -> &str {
        &self.server_key
    }
}

impl SchemaMemory for RememberedSchemas {
    fn recall(&self, resource_type: &str) -> Option<Shape> {
        let db = self.db.lock().ok()?;
        let text: Option<String> = db
            .conn()
            .query_row(
                "SELECT shape FROM table_schemas WHERE server_key = ?1 AND resource_type = ?2",
                params![self.server_key, resource_type],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten();
        // A shape this version cannot read is forgotten, not fatal: the table is then exact for this export.
        text.and_then(|t| serde_json::from_str(&t).ok())
    }

    fn remember(&self, resource_type: &str, shape: &Shape) -> Result<(), String> {
        let db = self.db.lock().map_err(|_| "the database lock is poisoned".to_string())?;
        let text = serde_json::to_string(shape).map_err(|e| e.to_string())?;
        db.conn()
            .execute(
                "INSERT INTO table_schemas (server_key, resource_type, shape) VALUES (?1, ?2, ?3)
                 ON CONFLICT (server_key, resource_type)
                 DO UPDATE SET shape = excluded.shape, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                params![self.server_key, resource_type, text],
            )
            .map_err(|e| classify(Path::new("haul.db"), e).to_string())?;
        Ok(())
    }
}

/// Which server an export folder came from: the export Haul recorded for it, else the `request`
/// in its manifest.json (as any Bulk Data client saves it), cut to the FHIR base.
pub fn server_of_folder(db: Option<&Database>, folder: &Path) -> Option<String> {
    let wanted = folder.canonicalize().ok();
    if let Some(db) = db
        && let Ok(jobs) = db.list_jobs(10_000)
        && let Some(job) = jobs.iter().find(|j| Path::new(&j.out_dir).canonicalize().ok() == wanted)
    {
        return Some(job.fhir_url.trim_end_matches('/').to_string());
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).ok()?).ok()?;
    base_of_request(manifest.get("request")?.as_str()?)
}

/// `https://x/fhir/Group/7/$export?_type=A` → `https://x/fhir`.
pub fn base_of_request(request: &str) -> Option<String> {
    let before = &request[..request.find("/$export")?];
    let base = if let Some(b) = before.strip_suffix("/Patient") {
        b
    } else if let Some(at) = before.rfind("/Group/") {
        &before[..at]
    } else {
        before
    };
    Some(base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_of_requests() {
        assert_eq!(base_of_request("https://x/fhir/Group/7/$export?_type=A").as_deref(), Some("https://x/fhir"));
        assert_eq!(base_of_request("https://x/fhir/Patient/$export").as_deref(), Some("https://x/fhir"));
        assert_eq!(base_of_request("https://x/fhir/$export").as_deref(), Some("https://x/fhir"));
        assert_eq!(base_of_request("https://x/fhir/Patient"), None);
    }

    #[test]
    fn schemas_are_remembered_per_server_and_type() {
        let a = RememberedSchemas::new(Database::open_in_memory().unwrap(), "https://a/fhir");
        assert_eq!(a.recall("Patient"), None);
        a.remember("Patient", &Shape::String).unwrap();
        a.remember("Patient", &Shape::Bool).unwrap();
        assert_eq!(a.recall("Patient"), Some(Shape::Bool));
        assert_eq!(a.recall("Observation"), None);
    }
}
