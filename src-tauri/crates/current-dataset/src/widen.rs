//! The dataset's rows in a wider schema, as Arrow arrays: what a table needs when the incoming rows brought
//! a new element (a new column, a new field in a struct) or a wider number (an integer that became a
//! decimal, a decimal with more places). The values stay as they were; new columns are null. A change
//! that alters how a value is written (a column that became JSON text because its values disagree in kind)
//! is not done here: the merge then rewrites the table through JSON (`merge`'s slow path).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, RecordBatch, StructArray, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Fields, SchemaRef};

/// Whether every batch of `from` widens into `to` (decided by the types alone, so before any row is read).
pub(crate) fn widens(from: &SchemaRef, to: &SchemaRef) -> bool {
    widen_batch(&RecordBatch::new_empty(from.clone()), to).is_some()
}

/// `batch` in `schema`, or `None` when a column cannot be widened in place.
pub(crate) fn widen_batch(batch: &RecordBatch, schema: &SchemaRef) -> Option<RecordBatch> {
    let old = batch.schema();
    // Every old column must have a place in the new schema (a schema only widens; anything else is the slow path).
    if old.fields().iter().any(|f| schema.field_with_name(f.name()).is_err()) {
        return None;
    }
    let columns: Option<Vec<ArrayRef>> = schema
        .fields()
        .iter()
        .map(|to| match old.index_of(to.name()) {
            Ok(i) => widen(batch.column(i), old.field(i), to),
            Err(_) => Some(new_null_array(to.data_type(), batch.num_rows())),
        })
        .collect();
    RecordBatch::try_new(schema.clone(), columns?).ok()
}

/// Fields are compared with their metadata: a string column and a JSON-text column are both Utf8, but
/// their values are written differently (`fhir_tables::columns`).
fn widen(array: &ArrayRef, from: &Field, to: &Field) -> Option<ArrayRef> {
    if from.data_type() == to.data_type() && from.metadata() == to.metadata() {
        return Some(array.clone());
    }
    if from.metadata() != to.metadata() {
        return None;
    }
    match (from.data_type(), to.data_type()) {
        (DataType::Struct(_), DataType::Struct(to_fields)) => widen_struct(array.as_struct(), to_fields),
        (DataType::List(from_item), DataType::List(to_item)) => {
            let list = array.as_list::<i32>();
            let values = widen(list.values(), from_item, to_item)?;
            ListArray::try_new(to_item.clone(), list.offsets().clone(), values, list.nulls().cloned())
                .ok()
                .map(|l| Arc::new(l) as ArrayRef)
        }
        // Exact widenings: an integer into a decimal with room for it, a decimal into more places.
        (DataType::Int64, DataType::Decimal128(..)) | (DataType::Decimal128(..), DataType::Decimal128(..)) => {
            cast_with_options(array, to.data_type(), &CastOptions { safe: false, ..Default::default() }).ok()
        }
        _ => None,
    }
}

fn widen_struct(array: &StructArray, to_fields: &Fields) -> Option<ArrayRef> {
    let (from_fields, columns, nulls) = (array.fields(), array.columns(), array.nulls());
    if from_fields.iter().any(|f| !to_fields.iter().any(|t| t.name() == f.name())) {
        return None;
    }
    let children: Option<Vec<ArrayRef>> = to_fields
        .iter()
        .map(|to| match from_fields.iter().position(|f| f.name() == to.name()) {
            Some(i) => widen(&columns[i], &from_fields[i], to),
            None => Some(new_null_array(to.data_type(), array.len())),
        })
        .collect();
    StructArray::try_new(to_fields.clone(), children?, nulls.cloned()).ok().map(|s| Arc::new(s) as ArrayRef)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, Int64Array, StringArray};
    use arrow::datatypes::Schema;
    use std::collections::HashMap;

    #[test]
    fn new_fields_come_as_nulls_and_numbers_widen_exactly() {
        let code: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
        let value: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), Some(-2)]));
        let old_struct = StructArray::from(vec![(Arc::new(Field::new("code", DataType::Utf8, true)), code)]);
        let old = Schema::new(vec![
            Field::new("s", old_struct.data_type().clone(), true),
            Field::new("v", DataType::Int64, true),
        ]);
        let batch = RecordBatch::try_new(Arc::new(old), vec![Arc::new(old_struct), value]).unwrap();
        let new_struct = DataType::Struct(
            vec![Field::new("code", DataType::Utf8, true), Field::new("text", DataType::Utf8, true)].into(),
        );
        let wide = Arc::new(Schema::new(vec![
            Field::new("s", new_struct, true),
            Field::new("v", DataType::Decimal128(38, 2), true),
            Field::new("note", DataType::Utf8, true),
        ]));
        let out = widen_batch(&batch, &wide).unwrap();
        let v = out.column(1).as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!((v.value(0), v.value(1)), (500, -200));
        assert_eq!(out.column(2).null_count(), 2);
        let s = out.column(0).as_struct();
        assert_eq!(s.column_by_name("text").unwrap().null_count(), 2);
        assert_eq!(s.column_by_name("code").unwrap().as_string::<i32>().value(0), "a");
    }

    #[test]
    fn a_value_that_would_be_written_differently_is_left_to_the_slow_path() {
        let value: ArrayRef = Arc::new(StringArray::from(vec![Some("x")]));
        let batch =
            RecordBatch::try_new(Arc::new(Schema::new(vec![Field::new("v", DataType::Utf8, true)])), vec![value])
                .unwrap();
        let wide = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        assert!(widen_batch(&batch, &wide).is_none());
        // A column the new schema lacks: not a widening.
        let narrower = Arc::new(Schema::new(vec![Field::new("w", DataType::Utf8, true)]));
        assert!(widen_batch(&batch, &narrower).is_none());
        // The same Utf8, but now JSON text: its values would read differently.
        let json = Field::new("v", DataType::Utf8, true)
            .with_metadata(HashMap::from([(fhir_tables::columns::JSON_TEXT_KEY.to_string(), "true".to_string())]));
        assert!(widen_batch(&batch, &Arc::new(Schema::new(vec![json]))).is_none());
    }
}
