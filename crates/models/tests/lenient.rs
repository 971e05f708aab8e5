//! The lenient status reading against the strict one: it reads every JSON object, agrees with
//! the strict reading wherever that one reads, and `Rejection` explains every strict failure.
#![cfg(feature = "proptest")]

use alumio_models::strategies;
use alumio_models::{DetailedTaskResult, Rejection, StatusReading, TaskStatus, read_status};
use proptest::prelude::*;
use serde_json::Value;

/// The status `document` carries, read from the untyped value.
fn status_in(document: &Value) -> StatusReading {
    match document.get("object") {
        None | Some(Value::Null) => StatusReading::Absent,
        Some(Value::Array(items)) if items.is_empty() => StatusReading::Absent,
        Some(Value::Object(task)) => match task.get("status") {
            None | Some(Value::Null) => StatusReading::Absent,
            Some(Value::String(status)) => StatusReading::Status(TaskStatus::from(status.as_str())),
            Some(_) => StatusReading::Unreadable,
        },
        Some(_) => StatusReading::Unreadable,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_lenient_reading_finds_the_status_of_every_wire_document(
        document in strategies::wire_task_document(),
    ) {
        let bytes = serde_json::to_vec(&document)?;
        prop_assert_eq!(read_status(&bytes)?, status_in(&document));
    }

    #[test]
    fn a_drifting_document_is_always_read_and_agrees_with_the_strict_reading(
        text in strategies::drifting_task_document(),
    ) {
        let reading = read_status(text.as_bytes())?;
        match serde_json::from_str::<DetailedTaskResult>(&text) {
            Ok(result) => {
                let typed = result.object.as_ref().and_then(|task| task.status.as_ref());
                prop_assert_eq!(reading.status(), typed);
                prop_assert!(Rejection::of::<DetailedTaskResult>(text.as_bytes()).is_none());
            }
            Err(_) => {
                let rejection = Rejection::of::<DetailedTaskResult>(text.as_bytes());
                prop_assert!(rejection.is_some(), "a strict failure is explained");
            }
        }
    }
}

#[test]
fn drifting_documents_include_ones_the_strict_reading_refuses() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = strategies::drifting_task_document();
    let refused = (0..64)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .filter(|text| serde_json::from_str::<DetailedTaskResult>(text).is_err())
        .count();
    assert!(refused > 16, "only {refused} of 64 drift");
}
