//! Rows as the table shows them: pages, chosen rows, one resource in full, and whether each line is a
//! resource of its type by the one line rule (`fhir_ndjson::check_line`), so a line the export set aside or
//! Convert would leave out is marked here too. A row's `problem` is that rule's `LineProblem` in its own words
//! (as the quarantine file and Convert's report put it), or "Blank line".

use std::io::BufReader;
use std::sync::atomic::{AtomicBool, Ordering};

use fhir_ndjson::{LineProblem, LineReader, check_line, is_blank};
use serde::Serialize;
use serde_json::Value;
use ts_rs::TS;

use crate::columns;
use crate::error::PreviewError;
use crate::folder::{PreviewFolder, locate, readable_rows};

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PreviewRow {
    /// Position in the type's table (all its files, in name order), from 0.
    #[ts(type = "number")]
    pub row: u64,
    pub file: String,
    /// Line number in that file, from 1.
    #[ts(type = "number")]
    pub line: u64,
    pub id: Option<String>,
    pub cells: Vec<String>,
    /// Why this line is not a readable resource of the table's type ("not valid JSON: …"), if it is not.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct PreviewPage {
    pub resource_type: String,
    pub headings: Vec<String>,
    pub rows: Vec<PreviewRow>,
    /// Rows that can be shown now; all of them once `complete`.
    #[ts(type = "number")]
    pub total_rows: u64,
    pub complete: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct ResourceText {
    pub resource_type: String,
    #[ts(type = "number")]
    pub row: u64,
    pub file: String,
    #[ts(type = "number")]
    pub line: u64,
    /// The line as written (invalid UTF-8 replaced): the UI shows it as a tree when it parses.
    pub text: String,
    pub problem: Option<String>,
}

/// A row that is not a resource of its type, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Position in the type's table, from 0 (as in [`PreviewRow::row`]).
    pub row: u64,
    /// Relative to the folder.
    pub file: String,
    /// Line number in that file, from 1.
    pub line: u64,
    pub problem: LineProblem,
}

/// The lines of a type, by the line rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeCheck {
    /// Every line (rows of the table), blank ones included.
    pub rows: u64,
    pub blank: u64,
    pub resources: u64,
    pub bad: u64,
}

impl PreviewFolder {
    /// Rows `start..start+count` of a type, with its columns. Fewer (or none) when the index has not reached
    /// them yet; `total_rows` says how many can be read now.
    pub fn page(&self, resource_type: &str, start: u64, count: u64) -> Result<PreviewPage, PreviewError> {
        let t = self.type_files(resource_type)?;
        let indexes = self.indexes(resource_type)?;
        self.check_unchanged(t, &indexes)?;
        let (total_rows, complete) = readable_rows(&indexes);
        let mut rows = Vec::new();
        let mut base = 0u64;
        let end = (start + count.min(1000)).min(total_rows);
        for (f, index) in indexes.iter().enumerate() {
            let (n, _, _) = index.rows();
            let (from, to) = (start.max(base), end.min(base + n));
            if from < to {
                for (k, line) in index.read_rows(from - base, to - from)?.into_iter().enumerate() {
                    let local = from - base + k as u64;
                    rows.push(describe(resource_type, base + local, &t.names[f], local, &line));
                }
            }
            base += n;
            if base >= end || !index.is_complete() {
                break;
            }
        }
        Ok(PreviewPage {
            resource_type: resource_type.to_string(),
            headings: columns::headings(resource_type).into_iter().map(str::to_string).collect(),
            rows,
            total_rows,
            complete,
        })
    }

    /// Chosen rows of a type (the rows a find turned up), in the order given.
    pub fn rows(&self, resource_type: &str, wanted: &[u64]) -> Result<Vec<PreviewRow>, PreviewError> {
        let t = self.type_files(resource_type)?;
        let indexes = self.indexes(resource_type)?;
        self.check_unchanged(t, &indexes)?;
        let mut out = Vec::with_capacity(wanted.len());
        for &row in wanted.iter().take(1000) {
            let (f, local) = locate(&indexes, resource_type, row)?;
            if let Some(line) = indexes[f].read_rows(local, 1)?.pop() {
                out.push(describe(resource_type, row, &t.names[f], local, &line));
            }
        }
        Ok(out)
    }

    /// One row in full.
    pub fn resource(&self, resource_type: &str, row: u64) -> Result<ResourceText, PreviewError> {
        let t = self.type_files(resource_type)?;
        let indexes = self.indexes(resource_type)?;
        self.check_unchanged(t, &indexes)?;
        let (f, local) = locate(&indexes, resource_type, row)?;
        let line = indexes[f].read_rows(local, 1)?.pop().unwrap_or_default();
        let described = describe(resource_type, row, &t.names[f], local, &line);
        Ok(ResourceText {
            resource_type: resource_type.to_string(),
            row,
            file: t.names[f].clone(),
            line: local + 1,
            text: String::from_utf8_lossy(&line).into_owned(),
            problem: described.problem,
        })
    }

    /// Reads every line of a type's files (no index needed) and applies the line rule: the bad rows go to
    /// `on_bad` in order, the counts come back. The same lines are bad here as in export verification and
    /// in Convert, for the same reason.
    pub fn check_type(
        &self,
        resource_type: &str,
        on_bad: &mut dyn FnMut(BadRow),
        cancel: &AtomicBool,
    ) -> Result<TypeCheck, PreviewError> {
        let t = self.type_files(resource_type)?;
        let mut counts = TypeCheck::default();
        for (path, name) in t.paths.iter().zip(&t.names) {
            let input = fhir_ndjson::open(path)?;
            let mut lines = LineReader::new(BufReader::with_capacity(1 << 20, input));
            let base = counts.rows;
            while let Some((line_number, line)) = lines.next_line().map_err(|e| PreviewError::read(path, e))? {
                counts.rows += 1;
                if line_number % 4096 == 0 && cancel.load(Ordering::Relaxed) {
                    return Err(PreviewError::Cancelled);
                }
                if is_blank(line) {
                    counts.blank += 1;
                    continue;
                }
                match check_line(line, resource_type) {
                    Ok(()) => counts.resources += 1,
                    Err(problem) => {
                        counts.bad += 1;
                        on_bad(BadRow { row: base + line_number - 1, file: name.clone(), line: line_number, problem });
                    }
                }
            }
        }
        Ok(counts)
    }
}

/// A row as the table shows it: its columns, and what is wrong with the line if it is not a resource of the
/// type. Columns are shown where the line reads as a JSON object at all (a line of the wrong type, say).
fn describe(resource_type: &str, row: u64, file: &str, local: u64, line: &[u8]) -> PreviewRow {
    let mut out =
        PreviewRow { row, file: file.to_string(), line: local + 1, id: None, cells: Vec::new(), problem: None };
    if is_blank(line) {
        out.problem = Some("Blank line".into());
        return out;
    }
    out.problem = check_line(line, resource_type).err().map(|p| p.to_string());
    match serde_json::from_slice::<Value>(line) {
        Ok(value) if value.is_object() => {
            out.id = value["id"].as_str().map(str::to_string);
            out.cells = columns::cells(resource_type, &value);
        }
        // No columns to show for a line that is not a JSON object: what it holds follows the rule's words.
        _ => {
            if let Some(problem) = &mut out.problem {
                let text = String::from_utf8_lossy(line);
                let excerpt: String = text.chars().take(120).collect();
                let more = if text.chars().nth(120).is_some() { "…" } else { "" };
                problem.push_str(&format!(": {excerpt}{more}"));
            }
        }
    }
    out
}
