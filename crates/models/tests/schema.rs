//! Conforming models, once serialized, validate against the seed OpenAPI schema
//! (`docs/alumio-get-task.openapi.yaml`) as JSON Schema 2020-12 with `date-time` checked; the
//! negative tests show the validator is really applied.
#![cfg(feature = "proptest")]

use std::path::Path;
use std::sync::LazyLock;

use alumio_models::strategies;
use jsonschema::Validator;
use proptest::prelude::*;
use serde_json::{Value, json};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// A validator for one schema of the OpenAPI document's `components`, with formats asserted.
fn validator_for(schema_name: &str) -> Validator {
    let path = Path::new(WORKSPACE).join("docs/alumio-get-task.openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("the OpenAPI document is readable");
    let openapi: Value = serde_norway::from_str(&text).expect("the OpenAPI document is YAML");
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{schema_name}"),
        "components": openapi["components"],
    });
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the components form a valid JSON Schema")
}

static TASK_RESULT: LazyLock<Validator> = LazyLock::new(|| validator_for("DetailedTaskResult"));
static ERROR: LazyLock<Validator> = LazyLock::new(|| validator_for("Error"));

fn violations(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| error.to_string())
        .collect()
}

proptest! {
    #[test]
    fn every_conforming_task_result_validates(result in strategies::conforming_detailed_task_result()) {
        let instance = serde_json::to_value(&result)?;
        let found = violations(&TASK_RESULT, &instance);
        prop_assert!(found.is_empty(), "{:?} in {}", found, instance);
    }

    #[test]
    fn every_conforming_api_error_validates(error in strategies::conforming_api_error()) {
        let instance = serde_json::to_value(&error)?;
        let found = violations(&ERROR, &instance);
        prop_assert!(found.is_empty(), "{:?} in {}", found, instance);
    }

    #[test]
    fn every_generated_timestamp_is_a_schema_date_time(text in strategies::timestamp_text()) {
        let instance = json!({"object": {"createdAt": text, "updatedAt": text}});
        prop_assert!(TASK_RESULT.is_valid(&instance), "{}", instance);
    }

    #[test]
    fn an_unknown_status_makes_a_conforming_result_invalid(
        result in strategies::conforming_detailed_task_result(),
        status in strategies::unknown_status_text(),
    ) {
        let mut instance = serde_json::to_value(&result)?;
        prop_assume!(instance["object"].is_object());
        instance["object"]["status"] = Value::String(status);
        prop_assert!(!TASK_RESULT.is_valid(&instance), "{}", instance);
    }
}

#[test]
fn a_minimal_document_validates() {
    for instance in [
        json!({}),
        json!({"object": {}}),
        json!({"object": {"status": "new"}}),
    ] {
        assert!(TASK_RESULT.is_valid(&instance), "{instance}");
    }
    assert!(ERROR.is_valid(&json!({"status": "404", "title": "Not Found"})));
}

#[test]
fn the_schema_rejects_a_status_outside_its_enum() {
    for status in ["archived", "Finished", "", " new"] {
        let instance = json!({"object": {"status": status}});
        assert!(!TASK_RESULT.is_valid(&instance), "{instance}");
    }
}

#[test]
fn the_schema_rejects_known_properties_of_the_wrong_type() {
    for instance in [
        json!({"object": "task"}),
        json!({"object": {"identifier": 7}}),
        json!({"object": {"entityData": "text"}}),
        json!({"object": {"entityData": []}}),
        json!({"object": {"context": null}}),
        json!({"object": {"meta": {"incoming": {"name": 5}}}}),
    ] {
        assert!(!TASK_RESULT.is_valid(&instance), "{instance}");
    }
    for instance in [
        json!({"status": 404}),
        json!({"violations": {"title": "x"}}),
        json!({"violations": [{"propertyPath": ["space"]}]}),
    ] {
        assert!(!ERROR.is_valid(&instance), "{instance}");
    }
}

#[test]
fn the_schema_asserts_the_date_time_format() {
    for text in [
        "yesterday",
        "2024-05-01",
        "2024-05-01 10:00:00Z",
        "2024-05-01T10:00:00",
        "2024-05-01T10:00:00+0200",
        "2024-02-30T10:00:00Z",
    ] {
        let instance = json!({"object": {"createdAt": text}});
        assert!(!TASK_RESULT.is_valid(&instance), "{instance}");
    }
}

#[test]
fn the_workspace_fixtures_conform_to_the_schema() {
    let directory = Path::new(WORKSPACE).join("tests/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&directory).expect("the fixtures directory exists") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let validator = match name.split('-').next() {
            Some("task") => &*TASK_RESULT,
            Some("error") => &*ERROR,
            _ => continue,
        };
        let instance: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let found = violations(validator, &instance);
        assert!(found.is_empty(), "{name}: {found:?}");
        checked += 1;
    }
    assert!(
        checked >= 13,
        "only {checked} fixtures found in {}",
        directory.display()
    );
}
