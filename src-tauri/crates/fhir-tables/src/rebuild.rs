//! Parquet → the resources' JSON again: the proof that a conversion lost nothing, and a way back.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, BooleanArray, Decimal128Array, Int64Array, ListArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Decimal128Type, Field, Int64Type};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::columns::{DERIVED_FROM_KEY, JSON_TEXT_KEY};
use crate::error::ConvertError;

/// Calls `each` with every row of a table Haul wrote, as one line of JSON, in order.
pub fn read_back(path: &Path, each: &mut dyn FnMut(String)) -> Result<u64, ConvertError> {
    read_back_while(path, None, None, &mut |row| {
        each(row.to_string());
        true
    })
}

/// As [`read_back`], until `each` says false; returns the rows handed over. Each row is written into one
/// buffer, lent to `each` (a string per row, then copied, was a tenth of reading a dataset's tables back for
/// its views). With `elements`, only the top-level elements it accepts are read (and so written into each
/// line): a reader that passes the others over anyway (a view) need not pay for decoding them. With
/// `row_groups`, only those row groups, in order.
pub fn read_back_while(
    path: &Path,
    elements: Option<&dyn Fn(&str) -> bool>,
    row_groups: Option<Vec<usize>>,
    each: &mut dyn FnMut(&str) -> bool,
) -> Result<u64, ConvertError> {
    let file = File::open(path).map_err(|e| ConvertError::read(path, e))?;
    let unreadable = |e: parquet::errors::ParquetError| ConvertError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(unreadable)?.with_batch_size(4096);
    if let Some(wanted) = elements {
        let roots: Vec<usize> =
            builder.schema().fields().iter().enumerate().filter(|(_, f)| wanted(f.name())).map(|(i, _)| i).collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    if let Some(groups) = row_groups {
        builder = builder.with_row_groups(groups);
    }
    let reader = builder.build().map_err(unreadable)?;
    let mut rows = 0;
    let mut line = String::with_capacity(4096);
    for batch in reader {
        let batch =
            batch.map_err(|e| ConvertError::Read { path: path.display().to_string(), message: e.to_string() })?;
        let writer = RowJson::new(&batch);
        for i in 0..batch.num_rows() {
            rows += 1;
            line.clear();
            writer.write(i, &mut line);
            if !each(&line) {
                return Ok(rows);
            }
        }
    }
    Ok(rows)
}

/// Row `i` of a batch as JSON text. Derived columns (UTC timestamps) are not part of the resource.
pub fn row_json(batch: &RecordBatch, i: usize) -> String {
    let mut out = String::with_capacity(512);
    RowJson::new(batch).write(i, &mut out);
    out
}

/// How a batch's rows are written as JSON, decided once per batch rather than for every value: which
/// columns are derived (left out) or hold JSON text (written as they are), each key already quoted.
/// Looking a field's metadata up for every value was a fifth of writing a row (perf on `merge_bench`).
pub struct RowJson<'a> {
    members: Vec<Member<'a>>,
}

struct Member<'a> {
    /// `"name":`
    key: String,
    value: Value<'a>,
}

enum Value<'a> {
    Text(&'a StringArray),
    JsonText(&'a StringArray),
    Bool(&'a BooleanArray),
    Int(&'a Int64Array),
    Decimal(&'a Decimal128Array, u32),
    Struct(&'a dyn Array, Vec<Member<'a>>),
    List(&'a ListArray, Box<Value<'a>>),
    /// A type Haul does not write: named, so that it shows rather than vanishes.
    Other(&'a dyn Array, String),
}

impl<'a> RowJson<'a> {
    pub fn new(batch: &'a RecordBatch) -> RowJson<'a> {
        let schema = batch.schema_ref();
        let members = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .filter(|(f, _)| !f.metadata().contains_key(DERIVED_FROM_KEY))
            .map(|(f, c)| member(f, c.as_ref()))
            .collect();
        RowJson { members }
    }

    /// Appends row `i` to `out`.
    pub fn write(&self, i: usize, out: &mut String) {
        write_object(&self.members, i, out);
    }
}

fn member<'a>(field: &Field, array: &'a dyn Array) -> Member<'a> {
    let mut key = String::with_capacity(field.name().len() + 3);
    push_string(&mut key, field.name());
    key.push(':');
    Member { key, value: value_of(field, array) }
}

fn value_of<'a>(field: &Field, array: &'a dyn Array) -> Value<'a> {
    match array.data_type() {
        DataType::Utf8 if field.metadata().contains_key(JSON_TEXT_KEY) => Value::JsonText(array.as_string::<i32>()),
        DataType::Utf8 => Value::Text(array.as_string::<i32>()),
        DataType::Boolean => Value::Bool(array.as_boolean()),
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>()),
        // Haul writes no negative scale; one from elsewhere is named rather than misread.
        DataType::Decimal128(_, scale) if *scale >= 0 => {
            Value::Decimal(array.as_primitive::<Decimal128Type>(), *scale as u32)
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            Value::Struct(array, fields.iter().zip(s.columns()).map(|(f, c)| member(f, c.as_ref())).collect())
        }
        DataType::List(item) => {
            let list = array.as_list::<i32>();
            Value::List(list, Box::new(value_of(item, list.values().as_ref())))
        }
        other => Value::Other(array, format!("\"<{other}>\"")),
    }
}

impl Value<'_> {
    fn array(&self) -> &dyn Array {
        match self {
            Value::Text(a) | Value::JsonText(a) => *a,
            Value::Bool(a) => *a,
            Value::Int(a) => *a,
            Value::Decimal(a, _) => *a,
            Value::Struct(a, _) | Value::Other(a, _) => *a,
            Value::List(a, _) => *a,
        }
    }

    fn write(&self, i: usize, out: &mut String) {
        if self.array().is_null(i) {
            out.push_str("null");
            return;
        }
        match self {
            Value::Text(a) => push_string(out, a.value(i)),
            Value::JsonText(a) => out.push_str(a.value(i)),
            Value::Bool(a) => out.push_str(if a.value(i) { "true" } else { "false" }),
            Value::Int(a) => {
                let _ = write!(out, "{}", a.value(i));
            }
            Value::Decimal(a, scale) => push_decimal(out, a.value(i), *scale),
            Value::Struct(_, members) => write_object(members, i, out),
            Value::List(list, item) => {
                let offsets = list.value_offsets();
                out.push('[');
                for (n, at) in (offsets[i] as usize..offsets[i + 1] as usize).enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    item.write(at, out);
                }
                out.push(']');
            }
            Value::Other(_, text) => out.push_str(text),
        }
    }
}

/// The members of row `i` that are not null, as an object.
fn write_object(members: &[Member<'_>], i: usize, out: &mut String) {
    out.push('{');
    let mut first = true;
    for m in members {
        if m.value.array().is_null(i) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&m.key);
        m.value.write(i, out);
    }
    out.push('}');
}

/// A JSON string. Most FHIR text needs no escape: it is copied as it is, and only text with a quote, a
/// backslash or a control character goes through serde_json (allocating a string per value was a tenth of
/// reading a dataset's tables back for its views, measured with perf on `merge_bench`'s `views` step).
fn push_string(out: &mut String, s: &str) {
    if needs_escape(s.as_bytes()) {
        out.push_str(&serde_json::to_string(s).expect("strings serialize"));
    } else {
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

/// Whether any byte needs escaping in JSON.
fn needs_escape(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// `1250` at scale 2 is `12.50`: the decimal as written, with its scale.
pub fn format_decimal(v: i128, scale: u32) -> String {
    let mut out = String::new();
    push_decimal(&mut out, v, scale);
    out
}

fn push_decimal(out: &mut String, v: i128, scale: u32) {
    if scale == 0 {
        let _ = write!(out, "{v}");
        return;
    }
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    if v < 0 {
        out.push('-');
    }
    if digits.len() <= scale {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(&digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
}

#[cfg(test)]
mod tests {
    use super::format_decimal;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for s in ["plain", "", "a \"quote\"", "back\\slash", "line\nbreak", "tab\t", "\u{1}", "é ü 日本", "\u{7f}"]
        {
            let mut out = String::new();
            super::push_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn decimals_keep_their_scale() {
        assert_eq!(format_decimal(1250, 2), "12.50");
        assert_eq!(format_decimal(-5, 3), "-0.005");
        assert_eq!(format_decimal(7, 0), "7");
    }
}
