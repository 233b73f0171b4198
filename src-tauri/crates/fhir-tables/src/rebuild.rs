//! Parquet → the resources' JSON again: the proof that a conversion lost nothing, and a way back.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Decimal128Type, Field, Int64Type};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::columns::{DERIVED_FROM_KEY, JSON_TEXT_KEY};
use crate::error::ConvertError;

/// Calls `each` with every row of a table Haul wrote, as one line of JSON, in order.
pub fn read_back(path: &Path, each: &mut dyn FnMut(String)) -> Result<u64, ConvertError> {
    read_back_while(path, None, None, &mut |row| {
        each(row);
        true
    })
}

/// As [`read_back`], until `each` says false; returns the rows handed over. With `elements`, only the
/// top-level elements it accepts are read (and so written into each line): a reader that passes the others
/// over anyway (a view) need not pay for decoding them. With `row_groups`, only those row groups, in order.
pub fn read_back_while(
    path: &Path,
    elements: Option<&dyn Fn(&str) -> bool>,
    row_groups: Option<Vec<usize>>,
    each: &mut dyn FnMut(String) -> bool,
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
    for batch in reader {
        let batch =
            batch.map_err(|e| ConvertError::Read { path: path.display().to_string(), message: e.to_string() })?;
        for i in 0..batch.num_rows() {
            rows += 1;
            if !each(row_json(&batch, i)) {
                return Ok(rows);
            }
        }
    }
    Ok(rows)
}

/// Row `i` of a batch as JSON text. Derived columns (UTC timestamps) are not part of the resource.
pub fn row_json(batch: &RecordBatch, i: usize) -> String {
    let mut out = String::with_capacity(512);
    out.push('{');
    let mut first = true;
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if field.metadata().contains_key(DERIVED_FROM_KEY) || column.is_null(i) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        push_key(&mut out, field.name());
        push_value(&mut out, column.as_ref(), field, i);
    }
    out.push('}');
    out
}

fn push_key(out: &mut String, key: &str) {
    push_string(out, key);
    out.push(':');
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

fn push_value(out: &mut String, array: &dyn Array, field: &Field, i: usize) {
    if array.is_null(i) {
        out.push_str("null");
        return;
    }
    match array.data_type() {
        DataType::Utf8 if field.metadata().contains_key(JSON_TEXT_KEY) => {
            out.push_str(array.as_string::<i32>().value(i))
        }
        DataType::Utf8 => push_string(out, array.as_string::<i32>().value(i)),
        DataType::Boolean => out.push_str(if array.as_boolean().value(i) { "true" } else { "false" }),
        DataType::Int64 => {
            let _ = write!(out, "{}", array.as_primitive::<Int64Type>().value(i));
        }
        DataType::Decimal128(_, scale) => {
            out.push_str(&format_decimal(array.as_primitive::<Decimal128Type>().value(i), *scale as u32))
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            out.push('{');
            let mut first = true;
            for (f, c) in fields.iter().zip(s.columns()) {
                if c.is_null(i) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                push_key(out, f.name());
                push_value(out, c.as_ref(), f, i);
            }
            out.push('}');
        }
        DataType::List(item) => {
            let list = array.as_list::<i32>();
            let values = list.values();
            let offsets = list.value_offsets();
            out.push('[');
            for (n, at) in (offsets[i] as usize..offsets[i + 1] as usize).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                push_value(out, values.as_ref(), item, at);
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "\"<{other}>\"");
        }
    }
}

/// `1250` at scale 2 is `12.50`: the decimal as written, with its scale.
pub fn format_decimal(v: i128, scale: u32) -> String {
    if scale == 0 {
        return v.to_string();
    }
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded =
        if digits.len() <= scale { format!("{}{digits}", "0".repeat(scale + 1 - digits.len())) } else { digits };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
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
