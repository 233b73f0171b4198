//! Rows straight into Arrow arrays, on the thread that evaluated them: strings are copied once, from the
//! line into the array, and the writer only encodes. (Building owned rows first and arrays from them on the
//! writer thread cost a third of a view's time, measured with tables_bench.)

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, ListArray, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::ColumnKind;
use crate::decimal::Decimal;
use crate::doc::Doc;
use crate::fhirpath::Item;
use crate::rows::Cell;
use crate::temporal::TemporalKind;
use crate::view::ColumnSpec;

pub const DECIMAL_SCALE: i8 = 18;
const DECIMAL_LIMIT: i128 = 10i128.pow(38);

pub fn data_type(kind: ColumnKind) -> DataType {
    match kind {
        ColumnKind::Bool => DataType::Boolean,
        ColumnKind::Int => DataType::Int64,
        ColumnKind::Decimal => DataType::Decimal128(38, DECIMAL_SCALE),
        ColumnKind::Date => DataType::Date32,
        ColumnKind::DateTime => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ColumnKind::Text => DataType::Utf8,
    }
}

/// The Parquet schema of a view: flat typed columns, lists for `collection` columns.
pub fn schema(columns: &[ColumnSpec]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| {
                let t = data_type(ColumnKind::of(c));
                let t = if c.collection { DataType::List(Arc::new(Field::new("item", t, true))) } else { t };
                Field::new(&c.name, t, true)
            })
            .collect::<Vec<_>>(),
    ))
}

enum Values {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Decimal(Decimal128Builder),
    Date(Date32Builder),
    DateTime(TimestampMillisecondBuilder),
    Text(StringBuilder),
}

struct Column {
    values: Values,
    /// For `collection` columns: list offsets and which rows have a list.
    list: Option<(Vec<i32>, Vec<bool>)>,
    /// Values that did not fit the type, and the first of them.
    misfits: u64,
    example: Option<String>,
}

/// Counts per column of values left empty because they did not fit: (column, count, an example).
pub type Misfit = (usize, u64, String);

pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<Column>,
}

fn fits(item: &Item<'_>, values: &mut Values, doc: &Doc<'_>) -> bool {
    match values {
        Values::Bool(b) => match item {
            Item::Bool(v) => b.append_value(*v),
            _ => return false,
        },
        Values::Int(b) => {
            match item.number().map(Decimal::trimmed).filter(|d| d.scale == 0).and_then(Decimal::as_i64) {
                Some(i) => b.append_value(i),
                None => return false,
            }
        }
        Values::Decimal(b) => {
            let d = item.number().or_else(|| item.text().and_then(Decimal::parse));
            match d.and_then(|d| d.at_scale(DECIMAL_SCALE as u32)).filter(|x| x.abs() < DECIMAL_LIMIT) {
                Some(x) => b.append_value(x),
                None => return false,
            }
        }
        Values::Date(b) => match item.temporal(Some(TemporalKind::Date)).filter(|t| t.is_full_date()) {
            Some(t) => match i32::try_from(t.days()) {
                Ok(d) => b.append_value(d),
                Err(_) => return false,
            },
            None => return false,
        },
        Values::DateTime(b) => match item.temporal(Some(TemporalKind::DateTime)).filter(|t| t.precision >= 6) {
            Some(t) => b.append_value(t.epoch_millis()),
            None => return false,
        },
        Values::Text(b) => match item {
            Item::Str(s, _) => b.append_value(s),
            Item::Object(..) => b.append_value(item.to_json(doc).to_string()),
            other => match other.to_json(doc) {
                serde_json::Value::String(s) => b.append_value(s),
                v => b.append_value(v.to_string()),
            },
        },
    }
    true
}

fn append_null(values: &mut Values) {
    match values {
        Values::Bool(b) => b.append_null(),
        Values::Int(b) => b.append_null(),
        Values::Decimal(b) => b.append_null(),
        Values::Date(b) => b.append_null(),
        Values::DateTime(b) => b.append_null(),
        Values::Text(b) => b.append_null(),
    }
}

impl Column {
    fn item(&mut self, item: &Item<'_>, doc: &Doc<'_>) {
        if !fits(item, &mut self.values, doc) {
            append_null(&mut self.values);
            self.misfits += 1;
            if self.example.is_none() {
                let shown = match item.to_json(doc) {
                    serde_json::Value::String(s) => s,
                    v => v.to_string(),
                };
                self.example = Some(shown.chars().take(80).collect());
            }
        }
    }

    fn finish(&mut self, field: &Field) -> ArrayRef {
        let values: ArrayRef = match &mut self.values {
            Values::Bool(b) => Arc::new(b.finish()),
            Values::Int(b) => Arc::new(b.finish()),
            Values::Decimal(b) => {
                Arc::new(b.finish().with_precision_and_scale(38, DECIMAL_SCALE).expect("38, 18 is a valid decimal"))
            }
            Values::Date(b) => Arc::new(b.finish()),
            Values::DateTime(b) => Arc::new(b.finish().with_timezone("UTC")),
            Values::Text(b) => Arc::new(b.finish()),
        };
        match self.list.as_mut() {
            None => values,
            Some((offsets, valid)) => {
                let DataType::List(item) = field.data_type() else { unreachable!("list columns are lists") };
                let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
                let nulls = NullBuffer::from(std::mem::take(valid));
                Arc::new(ListArray::new(item.clone(), offsets, values, Some(nulls)))
            }
        }
    }
}

impl BatchBuilder {
    pub fn new(schema: SchemaRef, columns: &[ColumnSpec]) -> BatchBuilder {
        let columns = columns
            .iter()
            .map(|c| Column {
                values: match ColumnKind::of(c) {
                    ColumnKind::Bool => Values::Bool(BooleanBuilder::new()),
                    ColumnKind::Int => Values::Int(Int64Builder::new()),
                    ColumnKind::Decimal => Values::Decimal(Decimal128Builder::new()),
                    ColumnKind::Date => Values::Date(Date32Builder::new()),
                    ColumnKind::DateTime => Values::DateTime(TimestampMillisecondBuilder::new()),
                    ColumnKind::Text => Values::Text(StringBuilder::new()),
                },
                list: c.collection.then(|| (vec![0], Vec::new())),
                misfits: 0,
                example: None,
            })
            .collect();
        BatchBuilder { schema, columns }
    }

    pub fn append(&mut self, row: &[Cell<'_>], doc: &Doc<'_>) {
        for (col, cell) in self.columns.iter_mut().zip(row) {
            match cell {
                Cell::Null => match col.list.as_mut() {
                    Some((offsets, valid)) => {
                        offsets.push(*offsets.last().expect("starts at 0"));
                        valid.push(false);
                    }
                    None => append_null(&mut col.values),
                },
                Cell::One(item) => col.item(item, doc),
                Cell::Many(items) => {
                    for i in items {
                        col.item(i, doc);
                    }
                    if let Some((offsets, valid)) = col.list.as_mut() {
                        let last = *offsets.last().expect("starts at 0");
                        offsets.push(last + items.len() as i32);
                        valid.push(true);
                    }
                }
            }
        }
    }

    /// The rows appended so far as one batch, and the values that did not fit; the builder starts again.
    pub fn finish(&mut self) -> (RecordBatch, Vec<Misfit>) {
        let schema = self.schema.clone();
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().zip(schema.fields()).map(|(c, f)| c.finish(f)).collect();
        let misfits = self
            .columns
            .iter_mut()
            .enumerate()
            .filter(|(_, c)| c.misfits > 0)
            .map(|(i, c)| (i, std::mem::take(&mut c.misfits), c.example.take().unwrap_or_default()))
            .collect();
        (RecordBatch::try_new(schema, arrays).expect("arrays match the schema"), misfits)
    }
}
