//! Drifting strategies: task documents whose known properties may hold JSON of any type, as a
//! PHP Alumio, or a newer one, could send them; the strict reading refuses many of them.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::conforming_task_status;
use super::json::{json_leaf, json_text, json_value, nested_chain};
use super::typed::unknown_properties;
use crate::{DetailedTask, DetailedTaskResult, TaskMeta};

/// Numbers that are valid JSON but that `serde_json::Value` cannot hold exactly, or at all.
const LARGE_NUMBERS: &[&str] = &[
    "1e400",
    "-1E+999",
    "123456789012345678901234567890",
    "18446744073709551616",
    "-9223372036854775809",
    "0.1e-400",
    "340282366920938463463374607431768211456.5",
];

/// A string that stands for `LARGE_NUMBERS[index]` until the document is written as text.
fn large_number_mark(index: usize) -> String {
    format!("\u{0}large-number-{index}\u{0}")
}

/// Any JSON value for a known property: often of the wrong type, sometimes deeply nested or a
/// number too large for `f64`.
fn any_property_value() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => json_leaf(),
        2 => json_value(3),
        1 => json_text().prop_map(Value::String),
        1 => nested_chain(json_leaf(), 20..=90),
        1 => (0..LARGE_NUMBERS.len()).prop_map(|index| Value::String(large_number_mark(index))),
    ]
    .boxed()
}

/// An object with each of `known` absent, `null`, a status string (for `status`) or any value,
/// plus unknown properties.
fn drifting_object(
    known: &'static [&'static str],
    value_of: fn(&'static str) -> BoxedStrategy<Value>,
) -> BoxedStrategy<Value> {
    let properties: Vec<_> = known
        .iter()
        .map(|name| {
            prop_oneof![
                1 => Just(None),
                1 => Just(Some(Value::Null)),
                4 => value_of(name).prop_map(Some),
            ]
            .prop_map(move |value| value.map(|value| (*name, value)))
        })
        .collect();
    (properties, unknown_properties(known))
        .prop_map(|(properties, mut members): (_, Map<String, Value>)| {
            for (name, value) in properties.into_iter().flatten() {
                members.insert(name.to_owned(), value);
            }
            Value::Object(members)
        })
        .boxed()
}

fn task_property(name: &'static str) -> BoxedStrategy<Value> {
    match name {
        "status" => prop_oneof![
            2 => conforming_task_status().prop_map(|status| Value::from(status.as_str())),
            1 => any_property_value(),
        ]
        .boxed(),
        "meta" => prop_oneof![
            1 => drifting_object(TaskMeta::KNOWN_PROPERTIES, |_| any_property_value()),
            1 => any_property_value(),
        ]
        .boxed(),
        _ => any_property_value(),
    }
}

/// The text of a task document as Alumio could send it when its types drift: always a JSON
/// object, whose `object` is mostly an object where every known property may be absent, `null`
/// or JSON of any type (numbers for identifiers, strings for `meta`, arrays for the status),
/// with unknown properties, nesting up to 90 levels and numbers too large for `f64`. Text, not
/// a `Value`, because `serde_json::Value` cannot hold such numbers.
pub fn drifting_task_document() -> BoxedStrategy<String> {
    let task = prop_oneof![
        4 => drifting_object(DetailedTask::KNOWN_PROPERTIES, task_property),
        1 => any_property_value(),
    ];
    let known = DetailedTaskResult::KNOWN_PROPERTIES;
    (
        prop_oneof![1 => Just(None), 6 => task.prop_map(Some)],
        unknown_properties(known),
        any::<bool>(),
    )
        .prop_map(|(task, mut members, pretty)| {
            if let Some(task) = task {
                members.insert("object".to_owned(), task);
            }
            let document = Value::Object(members);
            let text = if pretty {
                serde_json::to_string_pretty(&document)
            } else {
                serde_json::to_string(&document)
            };
            let mut text = text.expect("a value serializes");
            for (index, number) in LARGE_NUMBERS.iter().enumerate() {
                let mark = serde_json::to_string(&large_number_mark(index)).expect("a string");
                text = text.replace(&mark, number);
            }
            text
        })
        .boxed()
}
