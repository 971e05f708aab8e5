//! Typed strategies: model values with any subset of fields and lossless `extra` maps, plus the
//! field strategies the conforming and wire documents share.

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde::Serialize;
use serde_json::{Map, Value};

use super::json::{json_text, json_value};
use super::{task_identifier_text, task_status, timestamp};
use crate::{
    ApiError, DetailedTask, DetailedTaskResult, TaskMeta, TaskMetaDataItem, Timestamp, Violation,
};

/// Keys a newer Alumio, a proxy or a plugin might add, including case variants of known ones.
const UNKNOWN_KEY_EXAMPLES: &[&str] = &[
    "priority",
    "retryCount",
    "tags",
    "_links",
    "@id",
    "Status",
    "IDENTIFIER",
    "entity_data",
    "createdat",
    "object ",
    "",
    "meta.route",
    "ключ",
    "🔑",
];

/// An entity schema identifier.
pub(super) fn entity_type() -> BoxedStrategy<String> {
    let examples = [
        "magento2-sales-order",
        "shopify-order",
        "shopify-customer",
        "akeneo-product",
        "csv-row",
    ];
    prop_oneof![3 => select(examples.to_vec()).prop_map(str::to_owned), 1 => json_text()].boxed()
}

/// A route, incoming or outgoing configuration identifier.
pub(super) fn configuration_identifier() -> BoxedStrategy<String> {
    let examples = [
        "magento-orders-to-erp",
        "shopify-customers-to-crm",
        "erp-stock-to-magento",
    ];
    prop_oneof![3 => select(examples.to_vec()).prop_map(str::to_owned), 1 => "[a-z0-9-]{1,40}"]
        .boxed()
}

/// Properties under keys that `known` does not name, with any JSON values; empty half the time.
pub(super) fn unknown_properties(
    known: &'static [&'static str],
) -> BoxedStrategy<Map<String, Value>> {
    let key = prop_oneof![
        select(UNKNOWN_KEY_EXAMPLES).prop_map(str::to_owned),
        json_text()
    ]
    .prop_filter("must not collide with a known property", move |key| {
        !known.contains(&key.as_str())
    });
    let some =
        btree_map(key, json_value(3), 1..4).prop_map(|entries| entries.into_iter().collect());
    prop_oneof![Just(Map::new()), some].boxed()
}

/// The `extra` map of a typed value: `unknown`, plus an explicit `null` for each known property
/// that is unset in `value` and whose bit is set in `null_mask`. A `null` under a property that
/// has a value would be dropped on write, so none is added there.
fn lossless_extra<T: Serialize>(
    value: &T,
    known: &[&str],
    mut unknown: Map<String, Value>,
    null_mask: u32,
) -> Map<String, Value> {
    let present = match serde_json::to_value(value) {
        Ok(Value::Object(present)) => present,
        _ => Map::new(),
    };
    for (bit, key) in known.iter().enumerate() {
        if null_mask & (1 << bit) != 0 && !present.contains_key(*key) {
            unknown.insert((*key).to_owned(), Value::Null);
        }
    }
    unknown
}

/// Any JSON but `null`: a typed `Some(Value::Null)` is written as `null`, which reads back as
/// `None`, so a lossless round trip can only start from a non-null value.
fn non_null_json(depth: u32) -> BoxedStrategy<Value> {
    json_value(depth)
        .prop_filter("Some(null) reads back as None", |value| !value.is_null())
        .boxed()
}

/// A [`Timestamp`] as a typed value may hold it: usually RFC 3339, sometimes any text, which
/// `Timestamp` keeps unchecked.
fn any_timestamp() -> BoxedStrategy<Timestamp> {
    prop_oneof![4 => timestamp(), 1 => json_text().prop_map(Timestamp::new)].boxed()
}

/// A [`TaskMetaDataItem`]; see [`detailed_task`] for the rules on fields and `extra`.
pub fn task_meta_data_item() -> BoxedStrategy<TaskMetaDataItem> {
    let known = TaskMetaDataItem::KNOWN_PROPERTIES;
    (
        option::of(configuration_identifier()),
        option::of(json_text()),
        unknown_properties(known),
        any::<u32>(),
    )
        .prop_map(move |(identifier, name, unknown, null_mask)| {
            let mut item = TaskMetaDataItem {
                identifier,
                name,
                extra: Map::new(),
                written_as_empty_array: false,
            };
            item.extra = lossless_extra(&item, known, unknown, null_mask);
            item
        })
        .boxed()
}

/// A [`TaskMeta`]; see [`detailed_task`] for the rules on fields and `extra`.
pub fn task_meta() -> BoxedStrategy<TaskMeta> {
    let known = TaskMeta::KNOWN_PROPERTIES;
    let item = || option::of(task_meta_data_item());
    (
        (item(), item(), item(), item()),
        unknown_properties(known),
        any::<u32>(),
    )
        .prop_map(
            move |((incoming, outgoing, route, http_proxy), unknown, null_mask)| {
                let mut meta = TaskMeta {
                    incoming,
                    outgoing,
                    route,
                    http_proxy,
                    extra: Map::new(),
                    written_as_empty_array: false,
                };
                meta.extra = lossless_extra(&meta, known, unknown, null_mask);
                meta
            },
        )
        .boxed()
}

/// A typed [`DetailedTask`]: any subset of fields, any status, any JSON (never `null`) as entity
/// data and context, timestamps that are usually RFC 3339; `extra` holds unknown properties whose
/// keys never collide with `KNOWN_PROPERTIES`, and explicit `null`s only for unset known fields.
pub fn detailed_task() -> BoxedStrategy<DetailedTask> {
    let known = DetailedTask::KNOWN_PROPERTIES;
    let text = || option::of(json_text());
    (
        (
            option::of(task_identifier_text()),
            option::of(entity_type()),
            text(),
        ),
        (option::of(non_null_json(4)), option::of(non_null_json(3))),
        (
            option::of(task_status()),
            option::of(configuration_identifier()),
        ),
        (option::of(any_timestamp()), option::of(any_timestamp())),
        option::of(task_meta()),
        unknown_properties(known),
        any::<u32>(),
    )
        .prop_map(
            move |(
                ids,
                (entity_data, context),
                (status, route),
                dates,
                meta,
                unknown,
                null_mask,
            )| {
                let mut task = DetailedTask {
                    identifier: ids.0,
                    entity_type: ids.1,
                    entity_identifier: ids.2,
                    entity_data,
                    context,
                    status,
                    route,
                    created_at: dates.0,
                    updated_at: dates.1,
                    meta,
                    extra: Map::new(),
                    written_as_empty_array: false,
                };
                task.extra = lossless_extra(&task, known, unknown, null_mask);
                task
            },
        )
        .boxed()
}

/// A typed [`DetailedTaskResult`] around an optional [`detailed_task`], with the same rules.
pub fn detailed_task_result() -> BoxedStrategy<DetailedTaskResult> {
    let known = DetailedTaskResult::KNOWN_PROPERTIES;
    (
        option::of(detailed_task()),
        unknown_properties(known),
        any::<u32>(),
    )
        .prop_map(move |(object, unknown, null_mask)| {
            let mut result = DetailedTaskResult {
                object,
                extra: Map::new(),
                written_as_empty_array: false,
            };
            result.extra = lossless_extra(&result, known, unknown, null_mask);
            result
        })
        .boxed()
}

/// An HTTP status code as Alumio writes it in an `Error` body: `"404"`.
pub(super) fn http_status_text() -> BoxedStrategy<String> {
    let common = [
        "400", "401", "403", "404", "409", "422", "429", "500", "502", "503",
    ];
    prop_oneof![3 => select(common.to_vec()).prop_map(str::to_owned), 1 => (100_u16..600).prop_map(|code| code.to_string())].boxed()
}

pub(super) fn error_type() -> BoxedStrategy<String> {
    let examples = [
        "https://tools.ietf.org/html/rfc2616#section-10",
        "/validation_errors/0",
        "about:blank",
    ];
    prop_oneof![2 => select(examples.to_vec()).prop_map(str::to_owned), 1 => json_text()].boxed()
}

/// A typed [`Violation`]; see [`detailed_task`] for the rules on fields and `extra`.
pub fn violation() -> BoxedStrategy<Violation> {
    let known = Violation::KNOWN_PROPERTIES;
    let text = || option::of(json_text());
    (
        text(),
        text(),
        option::of(error_type()),
        unknown_properties(known),
        any::<u32>(),
    )
        .prop_map(
            move |(title, property_path, violation_type, unknown, null_mask)| {
                let mut violation = Violation {
                    title,
                    property_path,
                    violation_type,
                    extra: Map::new(),
                    written_as_empty_array: false,
                };
                violation.extra = lossless_extra(&violation, known, unknown, null_mask);
                violation
            },
        )
        .boxed()
}

/// A typed [`ApiError`]: any subset of fields, a status that is usually an HTTP code, any JSON
/// (never `null`) as context; `extra` follows the rules of [`detailed_task`].
pub fn api_error() -> BoxedStrategy<ApiError> {
    let known = ApiError::KNOWN_PROPERTIES;
    let status = prop_oneof![3 => http_status_text(), 1 => json_text()];
    let text = || option::of(json_text());
    (
        (
            option::of(status),
            option::of(non_null_json(3)),
            option::of(error_type()),
        ),
        (text(), text(), option::of(vec(violation(), 0..4))),
        unknown_properties(known),
        any::<u32>(),
    )
        .prop_map(
            move |(
                (status, context, error_type),
                (title, detail, violations),
                unknown,
                null_mask,
            )| {
                let mut error = ApiError {
                    status,
                    context,
                    error_type,
                    title,
                    detail,
                    violations,
                    extra: Map::new(),
                    written_as_empty_array: false,
                };
                error.extra = lossless_extra(&error, known, unknown, null_mask);
                error
            },
        )
        .boxed()
}
