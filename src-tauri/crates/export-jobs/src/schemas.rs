//! Parquet conversion's memory for an export folder: which server the folder came from, and that server's
//! table schemas (kept in haul-store), so tables only ever widen from one month's export to the next.

use std::path::Path;
use std::sync::Mutex;

use fhir_tables::{MemoryError, SchemaMemory, Shape};
use haul_store::Database;

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
    fn recall(&self, resource_type: &str) -> Result<Option<Shape>, MemoryError> {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        let text = db.recall_schema(&self.server_key, resource_type).map_err(|e| MemoryError(Box::new(e)))?;
        // A shape this version cannot read is forgotten, not fatal: the table is then exact for this export.
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    fn remember(&self, resource_type: &str, shape: &Shape) -> Result<(), MemoryError> {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        let text = serde_json::to_string(shape).expect("shapes serialize");
        db.remember_schema(&self.server_key, resource_type, &text).map_err(|e| MemoryError(Box::new(e)))
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
        assert_eq!(a.recall("Patient").unwrap(), None);
        a.remember("Patient", &Shape::String).unwrap();
        a.remember("Patient", &Shape::Bool).unwrap();
        assert_eq!(a.recall("Patient").unwrap(), Some(Shape::Bool));
        assert_eq!(a.recall("Observation").unwrap(), None);
    }
}
