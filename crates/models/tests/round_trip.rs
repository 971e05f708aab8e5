//! Round trips: typed values survive bytes and back, wire documents survive parsing and writing,
//! and every known property of a wire document lands in its typed field.
#![cfg(feature = "proptest")]

use alumio_models::strategies;
use alumio_models::{ApiError, DetailedTask, DetailedTaskResult, Lifecycle, TaskStatus};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value, json};

fn field<T: Serialize>(name: &'static str, value: Option<&T>) -> (&'static str, Option<Value>) {
    (
        name,
        value.map(|value| serde_json::to_value(value).expect("a model value serializes")),
    )
}

/// Checks that each known property of `document` with a non-null value is in its field, that
/// absent and `null` ones are `None`, and that `extra` holds exactly the unknown and `null` ones.
fn check_fields(
    document: &Value,
    fields: &[(&'static str, Option<Value>)],
    extra: &Map<String, Value>,
) -> Result<(), TestCaseError> {
    let members = document.as_object().expect("wire documents are objects");
    for (name, value) in fields {
        match members.get(*name) {
            Some(Value::Null) | None => prop_assert_eq!(value, &None, "{} should be unset", name),
            Some(sent) => prop_assert_eq!(
                value.as_ref(),
                Some(sent),
                "{} should hold what was sent",
                name
            ),
        }
    }
    let expected_extra: Map<String, Value> = members
        .iter()
        .filter(|(key, value)| value.is_null() || !fields.iter().any(|(name, _)| name == key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    prop_assert_eq!(extra, &expected_extra);
    Ok(())
}

fn task_fields(task: &DetailedTask) -> Vec<(&'static str, Option<Value>)> {
    vec![
        field("identifier", task.identifier.as_ref()),
        field("entityType", task.entity_type.as_ref()),
        field("entityIdentifier", task.entity_identifier.as_ref()),
        field("entityData", task.entity_data.as_ref()),
        field("context", task.context.as_ref()),
        field("status", task.status.as_ref()),
        field("route", task.route.as_ref()),
        field("createdAt", task.created_at.as_ref()),
        field("updatedAt", task.updated_at.as_ref()),
        field("meta", task.meta.as_ref()),
    ]
}

fn error_fields(error: &ApiError) -> Vec<(&'static str, Option<Value>)> {
    vec![
        field("status", error.status.as_ref()),
        field("context", error.context.as_ref()),
        field("type", error.error_type.as_ref()),
        field("title", error.title.as_ref()),
        field("detail", error.detail.as_ref()),
        field("violations", error.violations.as_ref()),
    ]
}

proptest! {
    #[test]
    fn a_typed_task_result_survives_bytes_and_back(result in strategies::detailed_task_result()) {
        let bytes = serde_json::to_vec(&result)?;
        let back: DetailedTaskResult = serde_json::from_slice(&bytes)?;
        prop_assert_eq!(back, result);
    }

    #[test]
    fn a_typed_api_error_survives_bytes_and_back(error in strategies::api_error()) {
        let bytes = serde_json::to_vec(&error)?;
        let back: ApiError = serde_json::from_slice(&bytes)?;
        prop_assert_eq!(back, error);
    }

    #[test]
    fn a_wire_task_document_is_written_back_unchanged(document in strategies::wire_task_document()) {
        let parsed: DetailedTaskResult = serde_json::from_value(document.clone())?;
        prop_assert_eq!(serde_json::to_value(&parsed)?, document);
    }

    #[test]
    fn a_wire_task_document_read_from_bytes_is_written_back_unchanged(
        document in strategies::wire_task_document(),
    ) {
        let parsed: DetailedTaskResult = serde_json::from_slice(&serde_json::to_vec(&document)?)?;
        let written: Value = serde_json::from_slice(&serde_json::to_vec(&parsed)?)?;
        prop_assert_eq!(written, document);
    }

    #[test]
    fn every_known_property_of_a_wire_task_lands_in_its_field(
        document in strategies::wire_task_document(),
    ) {
        let parsed: DetailedTaskResult = serde_json::from_value(document.clone())?;
        check_fields(&document, &[field("object", parsed.object.as_ref())], &parsed.extra)?;
        if let (Some(task), Some(sent)) = (&parsed.object, document.get("object")) {
            check_fields(sent, &task_fields(task), &task.extra)?;
        }
    }

    #[test]
    fn a_wire_error_document_is_written_back_unchanged(document in strategies::wire_error_document()) {
        let parsed: ApiError = serde_json::from_slice(&serde_json::to_vec(&document)?)?;
        prop_assert_eq!(&serde_json::to_value(&parsed)?, &document);
        check_fields(&document, &error_fields(&parsed), &parsed.extra)?;
    }
}

#[test]
fn an_unknown_status_an_unknown_property_and_a_zulu_timestamp_survive() {
    let body = br#"{
        "object": {
            "identifier": "01HV3K5Q8ZP4N6M2R7T9W1X3Y5",
            "status": "archived",
            "createdAt": "2024-05-01T10:00:00Z",
            "entityData": {"increment_id": "000000042", "grand_total": 129.95}
        },
        "servedBy": "alumio-node-7"
    }"#;
    let result: DetailedTaskResult = serde_json::from_slice(body).unwrap();

    let task = result.object.as_ref().unwrap();
    let status = task.status.as_ref().unwrap();
    assert!(matches!(status, TaskStatus::Other(other) if other.as_str() == "archived"));
    assert_eq!(status.lifecycle(), Lifecycle::Unknown);
    let created_at = task.created_at.as_ref().unwrap();
    assert_eq!(created_at.as_str(), "2024-05-01T10:00:00Z");
    assert_eq!(created_at.parse().unwrap().unix_seconds, 1_714_557_600);
    assert_eq!(result.extra["servedBy"], json!("alumio-node-7"));

    let original: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(serde_json::to_value(&result).unwrap(), original);
    let rewritten: Value = serde_json::from_slice(&serde_json::to_vec(&result).unwrap()).unwrap();
    assert_eq!(rewritten, original);
}
