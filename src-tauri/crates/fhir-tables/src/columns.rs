//! Pass two: Arrow columns built straight from the JSON text, following a fixed shape.
//!
//! No intermediate JSON tree: a line is walked once with a pull parser and each value appended to
//! its column. Decimals are taken from their original text, so nothing goes through a float.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::NullBufferBuilder;
use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Decimal128Builder, Int64Builder, ListArray, RecordBatch, StringArray,
    StringBuilder, StructArray, TimestampMicrosecondArray,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};

use fhir_ndjson::json::{JsonError, Parser, Peek};
use fhir_ndjson::{LineProblem, SeenKeys, check_utf8, unescaped};

use crate::infer::find_from;
use crate::shape::{DECIMAL_PRECISION, Shape, decimal_parts};

/// Field metadata: this column holds JSON text (a value per row, exactly as it was in the input).
pub const JSON_TEXT_KEY: &str = "haul:json";
/// Field metadata: this column is derived from another (a UTC timestamp of an `instant`), not data.
pub const DERIVED_FROM_KEY: &str = "haul:derived_from";

/// FHIR R4 elements of type `instant` at the top of a resource (plus `meta.lastUpdated` on all).
/// They get a UTC timestamp column beside the string, which stays exactly as sent.
pub fn instant_paths(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "Observation" | "DiagnosticReport" | "Media" => &["meta.lastUpdated", "issued"],
        "Provenance" | "AuditEvent" => &["meta.lastUpdated", "recorded"],
        "DocumentReference" => &["meta.lastUpdated", "date"],
        "Bundle" => &["meta.lastUpdated", "timestamp"],
        "Appointment" | "Slot" | "AppointmentResponse" => &["meta.lastUpdated", "start", "end"],
        "Subscription" => &["meta.lastUpdated", "end"],
        _ => &["meta.lastUpdated"],
    }
}

/// The name of the timestamp column for an instant path: `meta.lastUpdated` → `meta_lastUpdated_utc`.
pub fn derived_name(path: &str) -> String {
    format!("{}_utc", path.replace('.', "_"))
}

fn json_text_field(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
        .with_metadata(HashMap::from([(JSON_TEXT_KEY.to_string(), "true".to_string())]))
}

/// The Arrow field for a storage shape (see [`Shape::for_storage`]).
pub fn arrow_field(name: &str, shape: &Shape) -> Field {
    match shape {
        Shape::Null | Shape::Json { .. } => json_text_field(name),
        Shape::Bool => Field::new(name, DataType::Boolean, true),
        Shape::Int { .. } => Field::new(name, DataType::Int64, true),
        Shape::Decimal { scale, .. } => Field::new(name, DataType::Decimal128(DECIMAL_PRECISION, *scale as i8), true),
        Shape::String => Field::new(name, DataType::Utf8, true),
        Shape::Object { fields } if fields.is_empty() => json_text_field(name),
        Shape::Object { fields } => Field::new(name, DataType::Struct(struct_fields(fields)), true),
        Shape::Array { item } => {
            let item = arrow_field("item", item);
            Field::new(name, DataType::List(Arc::new(item)), true)
        }
    }
}

fn struct_fields(fields: &[crate::shape::FieldShape]) -> Fields {
    fields.iter().map(|f| arrow_field(&f.name, &f.shape)).collect()
}

/// The table schema for a resource type: the resource's fields, then the derived timestamps.
pub fn table_schema(resource_type: &str, shape: &Shape) -> SchemaRef {
    let Shape::Object { fields } = shape else {
        return Arc::new(Schema::empty());
    };
    let mut all: Vec<Field> = fields.iter().map(|f| arrow_field(&f.name, &f.shape)).collect();
    for path in derived_paths(resource_type, shape) {
        all.push(
            Field::new(derived_name(path), DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true)
                .with_metadata(HashMap::from([(DERIVED_FROM_KEY.to_string(), path.to_string())])),
        );
    }
    Arc::new(Schema::new(all))
}

/// The instant paths that exist in this shape as strings.
pub fn derived_paths(resource_type: &str, shape: &Shape) -> Vec<&'static str> {
    instant_paths(resource_type).iter().copied().filter(|p| string_at(shape, p)).collect()
}

fn string_at(shape: &Shape, path: &str) -> bool {
    let mut cur = shape;
    for part in path.split('.') {
        let Shape::Object { fields } = cur else { return false };
        match fields.iter().find(|f| f.name == part) {
            Some(f) => cur = &f.shape,
            None => return false,
        }
    }
    *cur == Shape::String
}

/// A column being built.
enum Column {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Decimal(Decimal128Builder, u8),
    Str(StringBuilder),
    Json(StringBuilder),
    Struct(StructColumn),
    List(ListColumn),
}

struct StructColumn {
    fields: Fields,
    names: Vec<String>,
    children: Vec<Column>,
    nulls: NullBufferBuilder,
}

struct ListColumn {
    field: FieldRef,
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
    child: Box<Column>,
}

/// Mid-row trouble in pass two: pass one accepted this line, so the file changed underneath.
#[derive(Debug)]
pub struct Mismatch(pub String);

/// In the words of the line rule (`LineProblem`), as pass one would have put it.
impl From<JsonError> for Mismatch {
    fn from(e: JsonError) -> Self {
        Mismatch(LineProblem::from(e).to_string())
    }
}

fn mismatch(what: &str) -> Mismatch {
    Mismatch(format!("a value no longer matches the schema ({what})"))
}

impl Column {
    fn new(field: &Field) -> Column {
        if field.metadata().contains_key(JSON_TEXT_KEY) {
            return Column::Json(StringBuilder::new());
        }
        match field.data_type() {
            DataType::Boolean => Column::Bool(BooleanBuilder::new()),
            DataType::Int64 => Column::Int(Int64Builder::new()),
            DataType::Decimal128(p, s) => Column::Decimal(
                Decimal128Builder::new().with_precision_and_scale(*p, *s).expect("valid decimal"),
                *s as u8,
            ),
            DataType::Struct(fields) => Column::Struct(StructColumn::new(fields.clone())),
            DataType::List(item) => Column::List(ListColumn {
                field: item.clone(),
                offsets: vec![0],
                nulls: NullBufferBuilder::new(0),
                child: Box::new(Column::new(item)),
            }),
            _ => Column::Str(StringBuilder::new()),
        }
    }

    fn append_null(&mut self) {
        match self {
            Column::Bool(b) => b.append_null(),
            Column::Int(b) => b.append_null(),
            Column::Decimal(b, _) => b.append_null(),
            Column::Str(b) | Column::Json(b) => b.append_null(),
            Column::Struct(s) => s.append_null(),
            Column::List(l) => {
                let last = *l.offsets.last().expect("offsets start with 0");
                l.offsets.push(last);
                l.nulls.append_null();
            }
        }
    }

    fn append(&mut self, j: &mut Parser, peek: Peek) -> Result<(), Mismatch> {
        if let Column::Json(b) = self {
            if peek == Peek::Null {
                j.known_null()?;
                b.append_null();
                return Ok(());
            }
            let start = j.index();
            j.known_skip(peek)?;
            let raw = j.slice_from(start);
            // SAFETY: as for strings: a JSON value of a checked line starts and ends at ASCII bytes.
            b.append_value(unsafe { std::str::from_utf8_unchecked(raw) });
            return Ok(());
        }
        if peek == Peek::Null {
            j.known_null()?;
            self.append_null();
            return Ok(());
        }
        match (self, peek) {
            (Column::Bool(b), Peek::True | Peek::False) => b.append_value(j.known_bool(peek)?),
            (Column::Str(b), Peek::String) => {
                let start = j.index();
                let raw = j.known_bytes()?;
                if !j.last_escaped() {
                    // SAFETY: `append_line` checked the whole line as UTF-8, and a string's contents
                    // start and end at a quote (ASCII), so they are whole characters.
                    b.append_value(unsafe { std::str::from_utf8_unchecked(raw) });
                } else {
                    let text: String = serde_json::from_slice(j.slice_from(start)).map_err(|_| mismatch("text"))?;
                    b.append_value(text);
                }
            }
            (Column::Int(b), Peek::Number) => {
                let text = j.known_number_bytes()?;
                let v = std::str::from_utf8(text).ok().and_then(|t| t.parse::<i64>().ok());
                b.append_value(v.ok_or_else(|| mismatch("integer"))?);
            }
            (Column::Decimal(b, scale), Peek::Number) => {
                let text = j.known_number_bytes()?;
                let (mantissa, own) = decimal_parts(text).ok_or_else(|| mismatch("decimal"))?;
                let up = u32::from(*scale).checked_sub(u32::from(own)).ok_or_else(|| mismatch("decimal scale"))?;
                let v = mantissa.checked_mul(10i128.pow(up)).ok_or_else(|| mismatch("decimal size"))?;
                b.append_value(v);
            }
            (Column::Struct(s), Peek::Object) => s.append_object(j)?,
            (Column::List(l), Peek::Array) => {
                let mut n = 0usize;
                let mut next = j.array_first()?;
                while let Some(p) = next {
                    l.child.append(j, p)?;
                    n += 1;
                    next = j.array_next()?;
                }
                let last = *l.offsets.last().expect("offsets start with 0");
                let n = i32::try_from(n).map_err(|_| mismatch("array length"))?;
                l.offsets.push(last.checked_add(n).ok_or_else(|| mismatch("too many items in one batch"))?);
                l.nulls.append_non_null();
            }
            _ => return Err(mismatch("kind of value")),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Bool(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Decimal(b, _) => Arc::new(b.finish()),
            Column::Str(b) | Column::Json(b) => Arc::new(b.finish()),
            Column::Struct(s) => Arc::new(s.finish()),
            Column::List(l) => {
                let offsets = std::mem::replace(&mut l.offsets, vec![0]);
                let values = l.child.finish();
                Arc::new(
                    ListArray::try_new(
                        l.field.clone(),
                        OffsetBuffer::new(ScalarBuffer::from(offsets)),
                        values,
                        l.nulls.finish(),
                    )
                    .expect("list parts agree"),
                )
            }
        }
    }
}

impl StructColumn {
    fn new(fields: Fields) -> StructColumn {
        StructColumn {
            names: fields.iter().map(|f| f.name().clone()).collect(),
            children: fields.iter().map(|f| Column::new(f)).collect(),
            fields,
            nulls: NullBufferBuilder::new(0),
        }
    }

    fn append_null(&mut self) {
        for c in &mut self.children {
            c.append_null();
        }
        self.nulls.append_null();
    }

    fn find(&self, key: &[u8], guess: usize) -> Option<usize> {
        find_from(&self.names, |n| n.as_bytes(), key, guess)
    }

    /// Appends the object whose `{` is next.
    fn append_object(&mut self, j: &mut Parser) -> Result<(), Mismatch> {
        let mut seen = SeenKeys::default();
        let mut guess = 0;
        let mut key = j.object_first()?;
        while let Some(raw) = key {
            // As pass one reads keys: by their text, unescaped when written with escapes.
            let k = if j.last_escaped() { unescaped(raw) } else { std::borrow::Cow::Borrowed(raw) };
            let index = self
                .find(&k, guess)
                .ok_or_else(|| Mismatch(format!("a new key \"{}\" appeared", String::from_utf8_lossy(&k))))?;
            guess = index + 1;
            if !seen.insert(index) {
                return Err(mismatch("duplicate key"));
            }
            let peek = j.peek()?;
            self.children[index].append(j, peek)?;
            key = j.object_next()?;
        }
        for (i, c) in self.children.iter_mut().enumerate() {
            if !seen.insert(i) {
                continue;
            }
            c.append_null();
        }
        self.nulls.append_non_null();
        Ok(())
    }

    fn finish(&mut self) -> StructArray {
        let arrays: Vec<ArrayRef> = self.children.iter_mut().map(|c| c.finish()).collect();
        let len = self.nulls.len();
        StructArray::try_new_with_length(self.fields.clone(), arrays, self.nulls.finish(), len)
            .expect("struct parts agree")
    }
}

/// Builds one record batch of a resource type from good lines, following the table schema.
pub struct BatchBuilder {
    schema: SchemaRef,
    root: StructColumn,
    derived: Vec<(Vec<String>, usize)>,
    rows: usize,
}

impl BatchBuilder {
    pub fn new(schema: SchemaRef) -> BatchBuilder {
        let data: Fields =
            schema.fields().iter().filter(|f| !f.metadata().contains_key(DERIVED_FROM_KEY)).cloned().collect();
        let derived = schema
            .fields()
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.metadata().get(DERIVED_FROM_KEY).map(|p| (p.split('.').map(String::from).collect(), i))
            })
            .collect();
        BatchBuilder { root: StructColumn::new(data), schema, derived, rows: 0 }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends a line that pass one accepted.
    pub fn append_line(&mut self, line: &[u8]) -> Result<(), Mismatch> {
        // Checked here, per line, so that the string slices appended below are valid UTF-8 (see
        // `Column::append`) even if the file changed since pass one.
        check_utf8(line).map_err(|p| Mismatch(p.to_string()))?;
        let mut j = Parser::new(line);
        if j.peek()? != Peek::Object {
            return Err(mismatch("not an object"));
        }
        self.root.append_object(&mut j)?;
        j.finish()?;
        self.rows += 1;
        Ok(())
    }

    pub fn finish(&mut self) -> RecordBatch {
        let data = self.root.finish();
        let mut columns: Vec<ArrayRef> = data.columns().to_vec();
        for (path, _) in &self.derived {
            columns.push(Arc::new(utc_column(&data, path)));
        }
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), columns).expect("batch parts agree")
    }
}

/// The UTC timestamps of the strings at `path`; null where absent or not a valid instant.
fn utc_column(root: &StructArray, path: &[String]) -> TimestampMicrosecondArray {
    let len = root.len();
    let mut cur: Option<ArrayRef> = None;
    let mut structs: Vec<ArrayRef> = Vec::new();
    for (depth, part) in path.iter().enumerate() {
        let next = match &cur {
            None => root.column_by_name(part).cloned(),
            Some(a) => a.as_any().downcast_ref::<StructArray>().and_then(|s| s.column_by_name(part).cloned()),
        };
        let Some(next) = next else { return TimestampMicrosecondArray::new_null(len).with_timezone("UTC") };
        if depth + 1 < path.len() {
            structs.push(next.clone());
        }
        cur = Some(next);
    }
    let Some(strings) = cur.as_ref().and_then(|a| a.as_any().downcast_ref::<StringArray>()) else {
        return TimestampMicrosecondArray::new_null(len).with_timezone("UTC");
    };
    let values = (0..len).map(|i| {
        if structs.iter().any(|s| s.is_null(i)) || strings.is_null(i) {
            return None;
        }
        parse_instant(strings.value(i))
    });
    TimestampMicrosecondArray::from_iter(values).with_timezone("UTC")
}

/// Microseconds since 1970 for a FHIR `instant` (`2024-05-01T10:00:00.123+02:00`).
pub fn parse_instant(text: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::{InferCounts, infer_line};

    #[test]
    fn builds_nested_batches() {
        let lines = [
            r#"{"resourceType":"Observation","id":"1","meta":{"lastUpdated":"2024-01-01T00:00:00Z"},"valueQuantity":{"value":1.50},"component":[{"code":"a"},{"code":"b"}],"x":"s"}"#,
            r#"{"resourceType":"Observation","id":"2","valueQuantity":{"value":2},"x":{"y":[1,2]}}"#,
        ];
        let mut shape = Shape::Null;
        for l in &lines {
            infer_line(l.as_bytes(), "Observation", &mut shape, &mut InferCounts::default()).unwrap();
        }
        let schema = table_schema("Observation", &shape.for_storage());
        let mut b = BatchBuilder::new(schema.clone());
        for l in &lines {
            b.append_line(l.as_bytes()).unwrap();
        }
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["resourceType", "id", "meta", "valueQuantity", "component", "x", "meta_lastUpdated_utc"]);
        let ts = batch.column(6).as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
        assert_eq!(ts.value(0), 1_704_067_200_000_000);
        assert!(ts.is_null(1));
        let x = batch.column(5).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(x.value(0), "\"s\"");
        assert_eq!(x.value(1), r#"{"y":[1,2]}"#);
    }
}
