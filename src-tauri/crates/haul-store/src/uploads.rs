//! A file's unfinished upload to object storage (an export with a storage destination), kept as the
//! uploader's own JSON: this crate stores it and gives it back, its meaning is export-jobs'.

use rusqlite::{OptionalExtension, params};

use crate::{Database, DbError};

impl Database {
    /// The upload state kept for file `seq` of job `id` (none: nothing sent yet, or it finished).
    pub fn file_upload(&self, id: i64, seq: u32) -> Result<Option<String>, DbError> {
        self.conn()
            .query_row("SELECT upload FROM export_files WHERE export_id = ?1 AND seq = ?2", params![id, seq], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.error(e))
    }

    /// Keeps (or, with `None`, forgets) file `seq`'s upload state.
    pub fn set_file_upload(&self, id: i64, seq: u32, upload: Option<&str>) -> Result<(), DbError> {
        self.conn()
            .execute("UPDATE export_files SET upload = ?3 WHERE export_id = ?1 AND seq = ?2", params![id, seq, upload])
            .map(drop)
            .map_err(|e| self.error(e))
    }
}
