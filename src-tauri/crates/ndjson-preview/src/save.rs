//! Rows of the Files table saved as a CSV file (RFC 4180, by the `csv` crate), for a spreadsheet: the rows a
//! Find listed, or the rows in view. Columns: the file and line a row came from, then the table's headings.
//! Read and written a thousand rows at a time (memory stays small whatever the count), into `<name>.partial`
//! renamed at the end, so a failed save leaves no half-written file under the chosen name.

use std::path::Path;

use crate::columns;
use crate::error::PreviewError;
use crate::find::FIND_ROWS_KEPT;
use crate::folder::PreviewFolder;

/// Rows per read: what `rows` hands out at once.
const CHUNK: usize = 1000;

impl PreviewFolder {
    /// Writes `rows` (positions in the type's table) of `resource_type` to `out` as CSV; returns how many rows
    /// were written. At most as many rows as a Find keeps ([`FIND_ROWS_KEPT`]). A line that is not a readable
    /// resource is written with its problem in place of its cells.
    pub fn save_csv(&self, resource_type: &str, rows: &[u64], out: &Path) -> Result<u64, PreviewError> {
        let partial = out.with_file_name(format!(
            "{}.partial",
            out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "rows.csv".into())
        ));
        let saved = self
            .write_csv(resource_type, rows, &partial)
            .and_then(|n| std::fs::rename(&partial, out).map(|()| n).map_err(|e| PreviewError::write(out, e)));
        if saved.is_err() {
            // Nothing half-written is left behind, under either name.
            let _ = std::fs::remove_file(&partial);
        }
        saved
    }

    fn write_csv(&self, resource_type: &str, rows: &[u64], path: &Path) -> Result<u64, PreviewError> {
        let file = std::fs::File::create(path).map_err(|e| PreviewError::write(path, e))?;
        let mut csv = csv::Writer::from_writer(std::io::BufWriter::new(file));
        let fail = |e: csv::Error| PreviewError::write(path, e);
        let headings = columns::headings(resource_type);
        let mut header = vec!["file", "line"];
        header.extend(headings.iter().copied());
        header.push("problem");
        csv.write_record(&header).map_err(fail)?;
        let mut n = 0u64;
        for chunk in rows[..rows.len().min(FIND_ROWS_KEPT)].chunks(CHUNK) {
            for row in self.rows(resource_type, chunk)? {
                let line = row.line.to_string();
                let mut record = vec![row.file.as_str(), line.as_str(), row.id.as_deref().unwrap_or("")];
                match &row.problem {
                    // A bad line has no cells: its columns stay empty and the last one says why.
                    Some(problem) => {
                        record.extend(std::iter::repeat_n("", headings.len() - 1));
                        record.push(problem);
                    }
                    None => {
                        record.extend(row.cells.iter().map(String::as_str));
                        record.resize(2 + headings.len(), "");
                        record.push("");
                    }
                }
                csv.write_record(&record).map_err(fail)?;
                n += 1;
            }
        }
        csv.flush().map_err(|e| PreviewError::write(path, e))?;
        Ok(n)
    }
}
