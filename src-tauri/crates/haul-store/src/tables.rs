//! Parquet conversion's memory: the last table schema of each server and resource type, as the converter
//! serialized it (text here; its meaning is fhir-tables'), so that schemas only ever widen.

use rusqlite::{OptionalExtension, params};

use crate::db::{Database, DbError};

impl Database {
    /// The schema remembered for a server's table of this type, if any.
    pub fn recall_schema(&self, server_key: &str, resource_type: &str) -> Result<Option<String>, DbError> {
        self.conn()
            .query_row(
                "SELECT shape FROM table_schemas WHERE server_key = ?1 AND resource_type = ?2",
                params![server_key, resource_type],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))
    }

    /// Remembers a server's table schema for this type (replacing the one before).
    pub fn remember_schema(&self, server_key: &str, resource_type: &str, schema: &str) -> Result<(), DbError> {
        self.conn()
            .execute(
                "INSERT INTO table_schemas (server_key, resource_type, shape) VALUES (?1, ?2, ?3)
                 ON CONFLICT (server_key, resource_type)
                 DO UPDATE SET shape = excluded.shape, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                params![server_key, resource_type, schema],
            )
            .map(drop)
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_remembered_per_server_and_type() {
        let db = Database::open_in_memory().unwrap();
        assert_eq!(db.recall_schema("https://a/fhir", "Patient").unwrap(), None);
        db.remember_schema("https://a/fhir", "Patient", "\"String\"").unwrap();
        db.remember_schema("https://a/fhir", "Patient", "\"Bool\"").unwrap();
        assert_eq!(db.recall_schema("https://a/fhir", "Patient").unwrap().as_deref(), Some("\"Bool\""));
        assert_eq!(db.recall_schema("https://a/fhir", "Observation").unwrap(), None);
        assert_eq!(db.recall_schema("https://b/fhir", "Patient").unwrap(), None);
    }
}
