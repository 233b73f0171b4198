//! The first rows of a view, for the app to show before any file is written: read in order, on one thread,
//! stopping as soon as there are enough.

use std::io::BufReader;
use std::path::PathBuf;

use fhir_ndjson::{Line, LineReader};

use crate::doc::{Doc, DocBuffers};
use crate::output::{ColumnKind, convert_row};
use crate::run::{MAX_LINE, TablesError, ViewFailure};
use crate::view::View;

/// A view's first rows, each cell as the CSV file would hold it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct TablePreview {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Whether the view has more rows than shown.
    pub more: bool,
    /// Why the view stops, when it does within the rows read.
    pub failure: Option<ViewFailure>,
}

/// Up to `limit` rows of `view` over the NDJSON in `input` (a folder or files).
pub fn preview(input: &[PathBuf], view: &View, limit: usize) -> Result<TablePreview, TablesError> {
    let inputs = match fhir_ndjson::find_inputs(input) {
        Ok(i) => i,
        Err(fhir_ndjson::NdjsonError::NoInput { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let kinds: Vec<ColumnKind> = view.columns.iter().map(ColumnKind::of).collect();
    let mut out = TablePreview {
        columns: view.columns.iter().map(|c| c.name.clone()).collect(),
        rows: Vec::new(),
        more: false,
        failure: None,
    };
    let mut buffers = DocBuffers::default();
    let files = inputs.iter().filter(|t| t.resource_type == view.resource).flat_map(|t| t.files.iter());
    for file in files {
        let decoded = fhir_ndjson::open(&file.path)?;
        let mut lines = LineReader::with_limit(BufReader::new(decoded), MAX_LINE);
        while let Some((number, _, line)) =
            lines.next_at().map_err(|e| fhir_ndjson::NdjsonError::read(&file.path, e))?
        {
            let Line::Text(text) = line else { continue };
            let Ok(text) = fhir_ndjson::check_utf8(text) else { continue };
            let Ok(doc) = Doc::parse(text, &mut buffers, Some(&view.keep)) else { continue };
            match view.rows(&doc) {
                Ok(rows) => {
                    for cells in &rows {
                        if out.rows.len() == limit {
                            out.more = true;
                            return Ok(out);
                        }
                        out.rows.push(convert_row(cells, &kinds, &doc).iter().map(|v| v.text()).collect());
                    }
                }
                Err(e) => {
                    out.failure = Some(ViewFailure {
                        message: format!("the view '{}' cannot be evaluated: {e}", view.name),
                        file: Some(file.path.clone()),
                        line: Some(number),
                        resource_id: doc.get(doc.root(), "id").and_then(|i| doc.text(i)).map(|t| t.into_owned()),
                    });
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}
