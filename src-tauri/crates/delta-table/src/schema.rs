//! An Arrow schema as a Delta table's `schemaString` (the protocol's JSON form of a Spark struct type).

use arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use serde_json::{Value, json};

use crate::DeltaError;

/// The table schema of a Parquet file with `schema`, as the JSON text a `metaData` action carries.
pub fn schema_string(schema: &Schema) -> Result<String, DeltaError> {
    Ok(struct_type(schema.fields())?.to_string())
}

fn struct_type(fields: &Fields) -> Result<Value, DeltaError> {
    let fields: Result<Vec<Value>, DeltaError> = fields.iter().map(|f| field(f)).collect();
    Ok(json!({ "type": "struct", "fields": fields? }))
}

fn field(f: &Field) -> Result<Value, DeltaError> {
    let unsupported = || DeltaError::Schema { column: f.name().clone(), arrow_type: f.data_type().to_string() };
    Ok(json!({
        "name": f.name(),
        "type": data_type(f.data_type()).ok_or_else(unsupported)??,
        "nullable": f.is_nullable(),
        "metadata": {},
    }))
}

/// `None`: a type Delta (reader version 1) has no name for.
fn data_type(t: &DataType) -> Option<Result<Value, DeltaError>> {
    let name = |n: &str| Some(Ok(Value::String(n.to_string())));
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => name("string"),
        DataType::Int64 => name("long"),
        DataType::Int32 => name("integer"),
        DataType::Int16 => name("short"),
        DataType::Int8 => name("byte"),
        DataType::Float64 => name("double"),
        DataType::Float32 => name("float"),
        DataType::Boolean => name("boolean"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => name("binary"),
        DataType::Date32 => name("date"),
        // Delta's `timestamp` is UTC (microseconds in its own files; readers widen the milliseconds of the flat
        // views' files, checked with delta-rs and Spark); one without a zone needs a newer protocol.
        DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Millisecond, Some(_)) => name("timestamp"),
        DataType::Decimal128(p, s) if *p <= 38 && *s >= 0 => Some(Ok(Value::String(format!("decimal({p},{s})")))),
        DataType::Struct(fields) => Some(struct_type(fields)),
        DataType::List(item) | DataType::LargeList(item) => Some(
            data_type(item.data_type())?
                .map(|element| json!({ "type": "array", "elementType": element, "containsNull": item.is_nullable() })),
        ),
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else { return None };
            let (k, v) = (kv.first()?, kv.get(1)?);
            let key = data_type(k.data_type())?;
            let value = data_type(v.data_type())?;
            Some(key.and_then(|key| {
                value.map(|value| {
                    json!({ "type": "map", "keyType": key, "valueType": value, "valueContainsNull": v.is_nullable() })
                })
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn fhir_table_types_have_delta_names() {
        let coding =
            Fields::from(vec![Field::new("system", DataType::Utf8, true), Field::new("code", DataType::Utf8, true)]);
        let schema = Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("active", DataType::Boolean, true),
            Field::new("multipleBirthInteger", DataType::Int64, true),
            Field::new("value", DataType::Decimal128(38, 4), true),
            Field::new("lastUpdated", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("coding", DataType::List(Arc::new(Field::new("item", DataType::Struct(coding), true))), true),
        ]);
        let v: Value = serde_json::from_str(&schema_string(&schema).unwrap()).unwrap();
        let types: Vec<&Value> = v["fields"].as_array().unwrap().iter().map(|f| &f["type"]).collect();
        assert_eq!(types[0], "string");
        assert_eq!(v["fields"][0]["nullable"], false);
        assert_eq!(types[1], "boolean");
        assert_eq!(types[2], "long");
        assert_eq!(types[3], "decimal(38,4)");
        assert_eq!(types[4], "timestamp");
        assert_eq!(types[5]["type"], "array");
        assert_eq!(types[5]["elementType"]["fields"][1]["name"], "code");
    }

    #[test]
    fn a_type_delta_cannot_name_is_refused_with_its_column() {
        let schema = Schema::new(vec![Field::new("t", DataType::Timestamp(TimeUnit::Nanosecond, None), true)]);
        let e = schema_string(&schema).unwrap_err();
        assert!(matches!(&e, DeltaError::Schema { column, .. } if column == "t"), "{e}");
    }
}
