//! Every fixture in `tests/fixtures/` parses into its model type, carries the status its file name
//! promises, and is written back as the same JSON.

use std::path::{Path, PathBuf};

use alumio_models::{ApiError, DetailedTaskResult, TaskStatus};
use serde_json::Value;

const EXPECTED: &[&str] = &[
    "error-not-found.json",
    "error-violations.json",
    "task-failed.json",
    "task-finished.json",
    "task-killed.json",
    "task-large-entity-data.json",
    "task-new.json",
    "task-processing.json",
    "task-resolved.json",
    "task-retry.json",
    "task-skipped.json",
    "task-typical.json",
    "task-waiting.json",
];

fn fixture_paths() -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&directory)
        .expect("tests/fixtures exists")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    paths.sort();
    paths
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// Checks that a model read from `bytes` writes back the same JSON, as a value and as bytes.
fn assert_round_trip(name: &str, bytes: &[u8], as_value: Value, as_bytes: &[u8]) {
    let original: Value = serde_json::from_slice(bytes).expect("the fixture is JSON");
    assert_eq!(as_value, original, "{name} changed in a round trip");
    let rewritten: Value = serde_json::from_slice(as_bytes).expect("the model wrote JSON");
    assert_eq!(rewritten, original, "{name} changed when written as bytes");
}

#[test]
fn every_expected_fixture_is_present() {
    let found: Vec<String> = fixture_paths().iter().map(|path| file_name(path)).collect();
    assert_eq!(found, EXPECTED);
}

#[test]
fn every_task_fixture_parses_with_the_status_its_name_gives_and_round_trips() {
    let mut statuses_seen = Vec::new();
    for path in fixture_paths() {
        let name = file_name(&path);
        let Some(stem) = name
            .strip_prefix("task-")
            .and_then(|rest| rest.strip_suffix(".json"))
        else {
            continue;
        };
        let bytes = std::fs::read(&path).unwrap();
        let result: DetailedTaskResult =
            serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
        let written = serde_json::to_vec(&result).unwrap();
        assert_round_trip(
            &name,
            &bytes,
            serde_json::to_value(&result).unwrap(),
            &written,
        );
        let task = result
            .object
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no object"));
        let status = task
            .status
            .as_ref()
            .unwrap_or_else(|| panic!("{name} has no status"));
        assert!(
            !matches!(status, TaskStatus::Other(_)),
            "{name}: unknown status {status}"
        );
        assert!(
            task.extra.is_empty(),
            "{name}: unexpected properties {:?}",
            task.extra.keys()
        );
        let created_at = task.created_at.as_ref().expect("createdAt");
        created_at
            .parse()
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        if TaskStatus::KNOWN.iter().any(|known| known.as_str() == stem) {
            assert_eq!(status.as_str(), stem, "{name} holds the wrong status");
            statuses_seen.push(status.clone());
        }
    }
    assert_eq!(
        statuses_seen.len(),
        TaskStatus::KNOWN.len(),
        "one fixture per status: {statuses_seen:?}"
    );
}

#[test]
fn every_error_fixture_parses_and_round_trips() {
    for path in fixture_paths() {
        let name = file_name(&path);
        if !name.starts_with("error-") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let error: ApiError =
            serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("{name}: {error}"));
        let written = serde_json::to_vec(&error).unwrap();
        assert_round_trip(
            &name,
            &bytes,
            serde_json::to_value(&error).unwrap(),
            &written,
        );
        assert!(
            error.status_code().is_some_and(|code| code >= 400),
            "{name}: status {:?}",
            error.status
        );
    }
}

#[test]
fn the_violations_fixture_names_the_rejected_inputs() {
    let bytes = include_bytes!("fixtures/error-violations.json");
    let error: ApiError = serde_json::from_slice(bytes).unwrap();
    let paths: Vec<_> = error
        .violations
        .iter()
        .flatten()
        .filter_map(|violation| violation.property_path.as_deref())
        .collect();
    assert_eq!(paths, ["space", "identifier"]);
}

#[test]
fn the_large_fixture_holds_over_100_kb_of_entity_data() {
    let bytes = include_bytes!("fixtures/task-large-entity-data.json");
    let result: DetailedTaskResult = serde_json::from_slice(bytes).unwrap();
    let entity_data = result
        .object
        .and_then(|task| task.entity_data)
        .expect("entityData");
    assert!(serde_json::to_vec(&entity_data).unwrap().len() > 100_000);
    assert!(
        entity_data["items"]
            .as_array()
            .is_some_and(|items| items.len() >= 400)
    );
}
