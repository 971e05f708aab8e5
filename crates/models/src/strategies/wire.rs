//! Wire strategies: task and error documents built as `serde_json::Value`, as a server could send
//! them, without going through this crate's serializer.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Value, json};

use super::json::{
    exact_f64, json_leaf, json_object, json_text, json_value, nested_chain, order_entity,
};
use super::typed::{
    configuration_identifier, entity_type, error_type, http_status_text, unknown_properties,
};
use super::{conforming_task_status, task_identifier_text, timestamp_text, unknown_status_text};
use crate::{ApiError, DetailedTask, DetailedTaskResult, TaskMeta, TaskMetaDataItem, Violation};

/// One known property of a wire object: absent, an explicit `null`, or a value.
type WireProperty = BoxedStrategy<Option<(&'static str, Value)>>;

fn property(name: &'static str, value: impl Strategy<Value = Value> + 'static) -> WireProperty {
    // Simplest first, so a failing case shrinks towards fewer properties.
    prop_oneof![
        2 => Just(None),
        1 => Just(Some((name, Value::Null))),
        5 => value.prop_map(move |value| Some((name, value))),
    ]
    .boxed()
}

/// An object holding any subset of `properties` plus unknown properties outside `known`.
fn object(known: &'static [&'static str], properties: Vec<WireProperty>) -> BoxedStrategy<Value> {
    (properties, unknown_properties(known))
        .prop_map(|(properties, mut members)| {
            for (name, value) in properties.into_iter().flatten() {
                members.insert(name.to_owned(), value);
            }
            Value::Object(members)
        })
        .boxed()
}

fn string(text: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Value> {
    text.prop_map(Value::String).boxed()
}

/// RFC 3339 text, and the spellings PHP's date formats produce that RFC 3339 does not allow
/// (`+0200`, a space instead of `T`, no offset); all are kept as text.
fn wire_timestamp_text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => timestamp_text(),
        1 => Just("2024-05-01T12:30:00+0200".to_owned()),
        1 => Just("2024-05-01 12:30:00".to_owned()),
        1 => Just("2024-05-01 12:30:00.000000+00:00".to_owned()),
    ]
    .boxed()
}

/// Entity data: orders, arbitrary objects, `[]` (how PHP encodes an empty object), a chain
/// nested up to 90 levels deep, and now and then a non-object value.
fn entity_data() -> BoxedStrategy<Value> {
    let deep = nested_chain(json_leaf(), 20..=90).prop_map(|chain| json!({"payload": chain}));
    prop_oneof![
        4 => order_entity(),
        3 => json_object(5),
        1 => Just(json!([])),
        1 => deep,
        1 => json_value(2),
    ]
    .boxed()
}

fn context() -> BoxedStrategy<Value> {
    let retry = (0_u32..10, exact_f64())
        .prop_map(|(attempt, delay)| json!({"attempt": attempt, "delay": delay}));
    prop_oneof![2 => json_object(3), 1 => Just(json!([])), 1 => retry].boxed()
}

/// `object`, or now and then `[]`: PHP's spelling of an empty object.
fn object_or_php_empty(object: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![6 => object, 1 => Just(json!([]))].boxed()
}

fn meta_data_item() -> BoxedStrategy<Value> {
    object_or_php_empty(object(
        TaskMetaDataItem::KNOWN_PROPERTIES,
        vec![
            property("identifier", string(configuration_identifier())),
            property("name", string(json_text())),
        ],
    ))
}

fn meta() -> BoxedStrategy<Value> {
    object_or_php_empty(object(
        TaskMeta::KNOWN_PROPERTIES,
        vec![
            property("incoming", meta_data_item()),
            property("outgoing", meta_data_item()),
            property("route", meta_data_item()),
            property("httpProxy", meta_data_item()),
        ],
    ))
}

fn status_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => conforming_task_status().prop_map(|status| status.as_str().to_owned()),
        1 => unknown_status_text(),
    ]
    .boxed()
}

fn task() -> BoxedStrategy<Value> {
    object(
        DetailedTask::KNOWN_PROPERTIES,
        vec![
            property("identifier", string(task_identifier_text())),
            property("entityType", string(entity_type())),
            property("entityIdentifier", string("[0-9]{1,9}|[a-z0-9-]{1,20}")),
            property("entityData", entity_data()),
            property("context", context()),
            property("status", string(status_text())),
            property("route", string(configuration_identifier())),
            property("createdAt", string(wire_timestamp_text())),
            property("updatedAt", string(wire_timestamp_text())),
            property("meta", meta()),
        ],
    )
}

/// A `DetailedTaskResult` document as an Alumio server could send it: schema-conforming
/// documents plus, at every level, unknown properties, explicit `null` for any known property,
/// absent properties, unknown status strings, unusual timestamp spellings, `[]` for empty
/// objects and `entityData` nested up to 90 levels deep.
pub fn wire_task_document() -> BoxedStrategy<Value> {
    object(
        DetailedTaskResult::KNOWN_PROPERTIES,
        vec![property("object", task())],
    )
    .boxed()
}

/// An `Error` document as an Alumio server could send it, with the same variations as
/// [`wire_task_document`] at every level, violations included.
pub fn wire_error_document() -> BoxedStrategy<Value> {
    let violation = object(
        Violation::KNOWN_PROPERTIES,
        vec![
            property("title", string(json_text())),
            property(
                "propertyPath",
                string(prop_oneof![Just("space".to_owned()), json_text()]),
            ),
            property("type", string(error_type())),
        ],
    );
    object(
        ApiError::KNOWN_PROPERTIES,
        vec![
            property("status", string(http_status_text())),
            property(
                "context",
                prop_oneof![2 => json_object(3), 1 => Just(json!([]))],
            ),
            property("type", string(error_type())),
            property(
                "title",
                string(
                    select(&["Not Found", "Bad Request", "An error occurred"][..])
                        .prop_map(str::to_owned),
                ),
            ),
            property("detail", string(json_text())),
            property("violations", vec(violation, 0..4).prop_map(Value::Array)),
        ],
    )
    .boxed()
}
