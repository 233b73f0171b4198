//! Parquet → the resources' JSON again: the proof that a conversion lost nothing, and a way back.

use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Decimal128Type, Field, Int64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::columns::{DERIVED_FROM_KEY, JSON_TEXT_KEY};
use crate::error::ConvertError;

/// Calls `each` with every row of a table Haul wrote, as one line of JSON, in order.
pub fn read_back(path: &Path, each: &mut dyn FnMut(String)) -> Result<u64, ConvertError> {
    let file = File::open(path).map_err(|e| ConvertError::read(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(4096).build())
        .map_err(|e| ConvertError::Read { path: path.display().to_string(), message: e.to_string() })?;
    let mut rows = 0;
    for batch in reader {
        let batch =
            batch.map_err(|e| ConvertError::Read { path: path.display().to_string(), message: e.to_string() })?;
        for i in 0..batch.num_rows() {
            each(row_json(&batch, i));
            rows += 1;
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
    out.push_str(&serde_json::to_string(key).expect("strings serialize"));
    out.push(':');
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
        DataType::Utf8 => out.push_str(&serde_json::to_string(array.as_string::<i32>().value(i)).expect("strings")),
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
    fn decimals_keep_their_scale() {
        assert_eq!(format_decimal(1250, 2), "12.50");
        assert_eq!(format_decimal(-5, 3), "-0.005");
        assert_eq!(format_decimal(7, 0), "7");
    }
}
