//! What Haul notes about a file on its way, as text on the file's row: a storage export's unfinished upload
//! (the uploader's own JSON: this crate stores it and gives it back, its meaning is export-jobs'), and the
//! version of the server's file that a download's `.part` holds (its `ETag` or `Last-Modified`, for the
//! `If-Range` of a resume). Ids and versions only: no credential is ever kept here.

use rusqlite::{OptionalExtension, params};

use crate::{Database, DbError};

/// The text notes of a file's row.
#[derive(Clone, Copy)]
enum Note {
    Upload,
    Version,
}

impl Note {
    fn select(self) -> &'static str {
        match self {
            Note::Upload => "SELECT upload FROM export_files WHERE export_id = ?1 AND seq = ?2",
            Note::Version => "SELECT version FROM export_files WHERE export_id = ?1 AND seq = ?2",
        }
    }

    fn update(self) -> &'static str {
        match self {
            Note::Upload => "UPDATE export_files SET upload = ?3 WHERE export_id = ?1 AND seq = ?2",
            Note::Version => "UPDATE export_files SET version = ?3 WHERE export_id = ?1 AND seq = ?2",
        }
    }
}

impl Database {
    /// The upload state kept for file `seq` of job `id` (none: nothing sent yet, or it finished).
    pub fn file_upload(&self, id: i64, seq: u32) -> Result<Option<String>, DbError> {
        self.note(id, seq, Note::Upload)
    }

    /// Keeps (or, with `None`, forgets) file `seq`'s upload state.
    pub fn set_file_upload(&self, id: i64, seq: u32, upload: Option<&str>) -> Result<(), DbError> {
        self.set_note(id, seq, Note::Upload, upload)
    }

    /// The version the `.part` of file `seq` of job `id` began with, if the server named one.
    pub fn file_version(&self, id: i64, seq: u32) -> Result<Option<String>, DbError> {
        self.note(id, seq, Note::Version)
    }

    /// Notes the version file `seq`'s `.part` now holds (after the `.part` was started over, never before).
    pub fn set_file_version(&self, id: i64, seq: u32, version: Option<&str>) -> Result<(), DbError> {
        self.set_note(id, seq, Note::Version, version)
    }

    fn note(&self, id: i64, seq: u32, note: Note) -> Result<Option<String>, DbError> {
        self.conn()
            .query_row(note.select(), params![id, seq], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.error(e))
    }

    fn set_note(&self, id: i64, seq: u32, note: Note, text: Option<&str>) -> Result<(), DbError> {
        self.conn().execute(note.update(), params![id, seq, text]).map(drop).map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Database, FileKind, JobSettings, NewFile, NewJob};

    #[test]
    fn a_files_notes_are_kept_and_replaced() {
        let mut db = Database::open_in_memory().unwrap();
        let job = db
            .create_job(&NewJob {
                server_id: None,
                fhir_url: "https://ehr.test/fhir".into(),
                request: bulk_client::ExportRequest::default(),
                settings: JobSettings::default(),
                out_dir: "/tmp/x".into(),
            })
            .unwrap()
            .id;
        let file = NewFile {
            kind: FileKind::Output,
            resource_type: "Patient".into(),
            url: "https://ehr.test/f/1".into(),
            name: "Patient.000.ndjson".into(),
            expected_count: None,
        };
        db.set_manifest(job, "{}", "2026-11-01T00:00:00Z", None, &[file]).unwrap();
        assert_eq!(db.file_version(job, 0).unwrap(), None);
        db.set_file_version(job, 0, Some("\"v1\"")).unwrap();
        assert_eq!(db.file_version(job, 0).unwrap().as_deref(), Some("\"v1\""));
        db.set_file_upload(job, 0, Some("{}")).unwrap();
        db.set_file_version(job, 0, None).unwrap();
        assert_eq!(db.file_version(job, 0).unwrap(), None);
        assert_eq!(db.file_upload(job, 0).unwrap().as_deref(), Some("{}"), "each note is its own");
    }
}
