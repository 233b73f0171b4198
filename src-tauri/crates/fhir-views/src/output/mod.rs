//! What a view's rows become in a file: each cell converted once, by its column's type, to an owned value
//! the Parquet, CSV and Excel writers share (so a number is a number in all three).

pub mod batch;
pub mod csv;
pub mod parquet;
pub mod xlsx;

use crate::decimal::Decimal;
use crate::doc::Doc;
use crate::fhirpath::Item;
use crate::rows::Cell;
use crate::temporal::{Temporal, TemporalKind};
use crate::view::ColumnSpec;

/// How a column is stored, from its FHIR `type` (text when the view gives none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Bool,
    Int,
    Decimal,
    Date,
    DateTime,
    Text,
}

impl ColumnKind {
    pub fn of(spec: &ColumnSpec) -> ColumnKind {
        match spec.fhir_type.as_deref() {
            Some("boolean") => ColumnKind::Bool,
            Some("integer" | "positiveInt" | "unsignedInt" | "integer64") => ColumnKind::Int,
            Some("decimal") => ColumnKind::Decimal,
            Some("date") => ColumnKind::Date,
            Some("dateTime" | "instant") => ColumnKind::DateTime,
            _ => ColumnKind::Text,
        }
    }
}

/// One cell, owned and typed.
#[derive(Debug, Clone, PartialEq)]
pub enum OutValue {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(Decimal),
    /// A date or dateTime, kept with its precision (a partial one is still written as text).
    Temporal(Temporal),
    Text(String),
    List(Vec<OutValue>),
}

impl OutValue {
    /// As text (CSV, and text cells in Excel): ISO dates as written, JSON for lists.
    pub fn text(&self) -> String {
        match self {
            OutValue::Null => String::new(),
            OutValue::Bool(b) => b.to_string(),
            OutValue::Int(i) => i.to_string(),
            OutValue::Decimal(d) => d.to_string(),
            OutValue::Temporal(t) => t.to_string(),
            OutValue::Text(s) => s.clone(),
            OutValue::List(items) => serde_json::Value::Array(items.iter().map(OutValue::json).collect()).to_string(),
        }
    }

    fn json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            OutValue::Null => Value::Null,
            OutValue::Bool(b) => Value::Bool(*b),
            OutValue::Int(i) => Value::from(*i),
            OutValue::Decimal(d) => serde_json::from_str(&d.to_string()).unwrap_or(Value::Null),
            OutValue::List(items) => Value::Array(items.iter().map(OutValue::json).collect()),
            other => Value::String(other.text()),
        }
    }
}

/// A value that does not fit its column's type (the text `abc` in an integer column) is kept as text in
/// CSV and Excel and left empty in Parquet; the writers count these and the summary says so.
fn convert_item(item: &Item<'_>, kind: ColumnKind, doc: &Doc<'_>) -> OutValue {
    let as_text = || match item {
        Item::Object(..) => OutValue::Text(item.to_json(doc).to_string()),
        Item::Str(s, _) => OutValue::Text(s.to_string()),
        other => match other.to_json(doc) {
            serde_json::Value::String(s) => OutValue::Text(s),
            v => OutValue::Text(v.to_string()),
        },
    };
    match kind {
        ColumnKind::Bool => match item {
            Item::Bool(b) => OutValue::Bool(*b),
            _ => as_text(),
        },
        ColumnKind::Int => match item.number() {
            Some(d) if d.trimmed().scale == 0 => d.trimmed().as_i64().map_or_else(as_text, OutValue::Int),
            _ => as_text(),
        },
        ColumnKind::Decimal => match item.number() {
            Some(d) => OutValue::Decimal(d),
            None => match item.text().and_then(Decimal::parse) {
                Some(d) => OutValue::Decimal(d),
                None => as_text(),
            },
        },
        ColumnKind::Date => item.temporal(Some(TemporalKind::Date)).map_or_else(as_text, OutValue::Temporal),
        ColumnKind::DateTime => item.temporal(Some(TemporalKind::DateTime)).map_or_else(as_text, OutValue::Temporal),
        ColumnKind::Text => match item {
            Item::Str(s, _) => OutValue::Text(s.to_string()),
            _ => as_text(),
        },
    }
}

/// A row of cells as owned values, column by column.
pub fn convert_row(cells: &[Cell<'_>], kinds: &[ColumnKind], doc: &Doc<'_>) -> Vec<OutValue> {
    cells
        .iter()
        .zip(kinds)
        .map(|(cell, &kind)| match cell {
            Cell::Null => OutValue::Null,
            Cell::One(item) => convert_item(item, kind, doc),
            Cell::Many(items) => OutValue::List(items.iter().map(|i| convert_item(i, kind, doc)).collect()),
        })
        .collect()
}

/// Rows on their way to the files: as owned values for CSV and Excel, as an Arrow batch for Parquet (each
/// only when that format is written).
#[derive(Default)]
pub struct RowBlock {
    pub count: usize,
    pub rows: Vec<Vec<OutValue>>,
    pub batch: Option<(arrow::array::RecordBatch, Vec<batch::Misfit>)>,
}

/// A file being written for one view, beside its final name until [`TableFile::finish`].
pub trait TableFile: Send {
    fn write(&mut self, block: &RowBlock) -> Result<(), OutputError>;
    /// The rows of the source's `source`-th part begin (its `source`-th file, or the `source`-th of the table
    /// row groups evaluated); a file that follows its table's row groups ([`crate::kept`]) ends one here.
    fn start_source(&mut self, _source: usize) -> Result<(), OutputError> {
        Ok(())
    }
    /// Closes the file; sentences for the summary (values left empty, sheets split).
    fn finish(self: Box<Self>) -> Result<Vec<String>, OutputError>;
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("could not write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("could not write the Parquet file: {0}")]
    Parquet(String),
    #[error("could not write the Excel workbook: {0}")]
    Excel(String),
    #[error("could not write the CSV file: {0}")]
    Csv(String),
}
