//! The strategies really produce the cases the round-trip properties are meant to cover; a
//! strategy that quietly stopped making unknown statuses or nulls would make those tests vacuous.
//! Sampling uses proptest's deterministic runner, so these checks do not depend on luck.
#![cfg(feature = "proptest")]

use alumio_models::strategies;
use alumio_models::{DetailedTask, DetailedTaskResult, Lifecycle, TaskStatus};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use serde_json::Value;

const SAMPLES: usize = 400;

fn sample<S: Strategy>(strategy: S) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..SAMPLES)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn count(documents: &[Value], test: impl Fn(&Value) -> bool) -> usize {
    documents.iter().filter(|document| test(document)).count()
}

#[test]
fn wire_task_documents_cover_the_cases_that_matter() {
    let documents = sample(strategies::wire_task_document());
    let task = |document: &Value| {
        document
            .get("object")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let status = |document: &Value| {
        task(document)
            .get("status")
            .and_then(Value::as_str)
            .map(TaskStatus::from)
    };
    let created_at = |document: &Value| {
        task(document)
            .get("createdAt")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let known_task_key = |key: &String| DetailedTask::KNOWN_PROPERTIES.contains(&key.as_str());

    let cases = [
        (
            "an unknown status",
            count(&documents, |d| {
                status(d).is_some_and(|s| s.lifecycle() == Lifecycle::Unknown)
            }),
        ),
        (
            "a known status",
            count(&documents, |d| {
                status(d).is_some_and(|s| s.lifecycle() != Lifecycle::Unknown)
            }),
        ),
        (
            "a null known task property",
            count(&documents, |d| {
                task(d)
                    .iter()
                    .any(|(k, v)| known_task_key(k) && v.is_null())
            }),
        ),
        (
            "an unknown task property",
            count(&documents, |d| task(d).keys().any(|k| !known_task_key(k))),
        ),
        (
            "an unknown top-level property",
            count(&documents, |d| {
                d.as_object()
                    .is_some_and(|m| m.keys().any(|k| k != "object"))
            }),
        ),
        (
            "a null object",
            count(&documents, |d| d.get("object") == Some(&Value::Null)),
        ),
        (
            "a missing object",
            count(&documents, |d| d.get("object").is_none()),
        ),
        (
            "entityData nested 50 deep",
            count(&documents, |d| {
                task(d).get("entityData").is_some_and(|e| depth(e) >= 50)
            }),
        ),
        (
            "entityData as []",
            count(&documents, |d| {
                task(d).get("entityData") == Some(&Value::Array(vec![]))
            }),
        ),
        (
            "an unknown meta property",
            count(&documents, |d| {
                task(d)
                    .get("meta")
                    .and_then(Value::as_object)
                    .is_some_and(|m| {
                        m.keys().any(|k| {
                            !["incoming", "outgoing", "route", "httpProxy"].contains(&k.as_str())
                        })
                    })
            }),
        ),
        (
            "a lowercase z timestamp",
            count(&documents, |d| created_at(d).ends_with('z')),
        ),
        (
            "a numeric offset timestamp",
            count(&documents, |d| created_at(d).contains('+')),
        ),
        (
            "a fractional-second timestamp",
            count(&documents, |d| created_at(d).contains('.')),
        ),
    ];
    let missing: Vec<_> = cases
        .iter()
        .filter(|(_, found)| *found == 0)
        .map(|(case, _)| *case)
        .collect();
    assert!(
        missing.is_empty(),
        "no document in {SAMPLES} had: {missing:?}"
    );
}

#[test]
fn typed_strategies_only_add_nulls_for_unset_known_properties() {
    let results = sample(strategies::detailed_task_result());
    let mut nulls = 0;
    for result in &results {
        let Some(task) = &result.object else { continue };
        let without_extra = serde_json::to_value(DetailedTask {
            extra: Default::default(),
            ..task.clone()
        })
        .unwrap();
        for (key, value) in &task.extra {
            if DetailedTask::KNOWN_PROPERTIES.contains(&key.as_str()) {
                assert_eq!(value, &Value::Null, "{key}");
                assert!(
                    without_extra.get(key).is_none(),
                    "{key} is both set and null"
                );
                nulls += 1;
            }
        }
        for key in result.extra.keys() {
            assert!(key != "object" || result.object.is_none());
        }
    }
    assert!(nulls > 0, "no explicit null in {SAMPLES} typed results");
    let with_object = results
        .iter()
        .filter(|result: &&DetailedTaskResult| result.object.is_some())
        .count();
    assert!(with_object > 0 && with_object < SAMPLES);
}

#[test]
fn unknown_statuses_are_never_spelled_like_known_ones() {
    for text in sample(strategies::unknown_status_text()) {
        assert!(
            matches!(TaskStatus::from(text.as_str()), TaskStatus::Other(_)),
            "{text:?}"
        );
    }
    let statuses = sample(strategies::task_status());
    assert!(
        statuses
            .iter()
            .any(|status| matches!(status, TaskStatus::Other(_)))
    );
    assert!(
        statuses
            .iter()
            .any(|status| !matches!(status, TaskStatus::Other(_)))
    );
}
