//! Whose record a row is: the patient of its Patient compartment, so that the resources of a patient who
//! left the group leave the dataset with them.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::DataType;

/// The element that names a resource's patient, for the types where it is not `subject` or `patient`
/// (FHIR R4 Patient CompartmentDefinition; the first listed parameter of each type).
fn owner_field(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "Coverage" => &["beneficiary"],
        "Provenance" => &["target"],
        "ResearchSubject" => &["individual"],
        "Schedule" => &["actor"],
        "Group" | "Practitioner" | "PractitionerRole" | "Organization" | "Location" | "Medication" => &[],
        _ => &["subject", "patient"],
    }
}

/// The top-level columns [`patients_of`] reads for `resource_type` (those the table has are enough).
pub(crate) fn owner_columns(resource_type: &str) -> &'static [&'static str] {
    if resource_type == "Patient" { &["id"] } else { owner_field(resource_type) }
}

/// The patient id each row belongs to; `None` when the type has no such element (the rows are nobody's
/// alone: shared resources stay).
pub(crate) fn patients_of(resource_type: &str, batch: &RecordBatch) -> Option<Vec<Option<String>>> {
    if resource_type == "Patient" {
        let ids = batch.column_by_name("id")?.as_string_opt::<i32>()?;
        return Some((0..ids.len()).map(|i| ids.is_valid(i).then(|| ids.value(i).to_string())).collect());
    }
    let name = owner_field(resource_type).iter().find(|n| batch.column_by_name(n).is_some())?;
    let column = batch.column_by_name(name)?;
    let references: Vec<Option<String>> = match column.data_type() {
        DataType::Struct(_) => struct_references(column.as_struct()),
        // A list of references (Provenance.target, Account.subject): the first that names a patient.
        DataType::List(item) if matches!(item.data_type(), DataType::Struct(_)) => {
            let list = column.as_list::<i32>();
            let all = struct_references(list.values().as_struct());
            let offsets = list.value_offsets();
            (0..list.len())
                .map(|i| {
                    let (from, to) = (offsets[i] as usize, offsets[i + 1] as usize);
                    all[from..to].iter().flatten().find(|r| patient_id(r).is_some()).cloned()
                })
                .collect()
        }
        // Kept as JSON text (its values disagree in kind somewhere in the table).
        DataType::Utf8 => json_references(column.as_string::<i32>()),
        _ => return None,
    };
    Some(references.into_iter().map(|r| r.and_then(|r| patient_id(&r))).collect())
}

fn struct_references(s: &arrow::array::StructArray) -> Vec<Option<String>> {
    let refs: Option<Arc<dyn Array>> = s.column_by_name("reference").cloned();
    match refs.as_ref().and_then(|r| r.as_string_opt::<i32>().cloned()) {
        Some(r) => (0..s.len()).map(|i| (s.is_valid(i) && r.is_valid(i)).then(|| r.value(i).to_string())).collect(),
        None => vec![None; s.len()],
    }
}

fn json_references(texts: &StringArray) -> Vec<Option<String>> {
    (0..texts.len())
        .map(|i| {
            if texts.is_null(i) {
                return None;
            }
            let v: serde_json::Value = serde_json::from_str(texts.value(i)).ok()?;
            // One reference, or a list of them.
            let one = |v: &serde_json::Value| v.get("reference").and_then(|r| r.as_str()).map(str::to_string);
            match v.as_array() {
                Some(items) => items.iter().filter_map(one).find(|r| patient_id(r).is_some()),
                None => one(&v),
            }
        })
        .collect()
}

/// `Patient/123` (relative or absolute, with or without a version) → `123`.
fn patient_id(reference: &str) -> Option<String> {
    match fhir_ndjson::type_and_id(reference) {
        Some(("Patient", id)) => Some(id.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, StructArray};
    use arrow::datatypes::{Field, Schema};

    #[test]
    fn a_row_belongs_to_the_patient_its_subject_names() {
        let refs: ArrayRef = Arc::new(StringArray::from(vec![Some("Patient/p1"), Some("Group/g"), None]));
        let subject = StructArray::from(vec![(Arc::new(Field::new("reference", DataType::Utf8, true)), refs)]);
        let schema = Schema::new(vec![Field::new("subject", subject.data_type().clone(), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(subject)]).unwrap();
        assert_eq!(patients_of("Observation", &batch), Some(vec![Some("p1".into()), None, None]));
        assert_eq!(patients_of("Practitioner", &batch), None);
    }

    #[test]
    fn a_list_of_references_belongs_to_the_first_patient_it_names() {
        let refs: ArrayRef =
            Arc::new(StringArray::from(vec![Some("Encounter/e1"), Some("Patient/p9"), Some("Patient/p3")]));
        let target = StructArray::from(vec![(Arc::new(Field::new("reference", DataType::Utf8, true)), refs)]);
        let item = Arc::new(Field::new("item", target.data_type().clone(), true));
        let offsets = arrow::buffer::OffsetBuffer::new(vec![0, 2, 3].into());
        let list = arrow::array::ListArray::new(item.clone(), offsets, Arc::new(target), None);
        let schema = Schema::new(vec![Field::new("target", DataType::List(item), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(list)]).unwrap();
        assert_eq!(patients_of("Provenance", &batch), Some(vec![Some("p9".into()), Some("p3".into())]));
    }

    #[test]
    fn json_text_references_are_read_too() {
        let texts: ArrayRef =
            Arc::new(StringArray::from(vec![Some(r#"{"reference":"https://x.test/fhir/Patient/p2"}"#)]));
        let schema = Schema::new(vec![Field::new("patient", DataType::Utf8, true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![texts]).unwrap();
        assert_eq!(patients_of("Claim", &batch), Some(vec![Some("p2".into())]));
    }
}
