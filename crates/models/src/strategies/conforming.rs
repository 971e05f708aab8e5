//! Schema-conforming strategies: what a server that follows the OpenAPI document sends, for
//! checking serialized models against that schema.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::json::{json_object, json_text, order_entity};
use super::typed::{
    configuration_identifier, entity_type, error_type, http_status_text, unknown_properties,
};
use super::{conforming_task_status, task_identifier_text, timestamp};
use crate::{ApiError, DetailedTask, DetailedTaskResult, TaskMeta, TaskMetaDataItem, Violation};

fn conforming_meta_data_item() -> BoxedStrategy<TaskMetaDataItem> {
    let known = TaskMetaDataItem::KNOWN_PROPERTIES;
    (
        option::of(configuration_identifier()),
        option::of(json_text()),
        unknown_properties(known),
    )
        .prop_map(|(identifier, name, extra)| TaskMetaDataItem {
            identifier,
            name,
            extra,
            written_as_empty_array: false,
        })
        .boxed()
}

fn conforming_meta() -> BoxedStrategy<TaskMeta> {
    let item = || option::of(conforming_meta_data_item());
    (
        (item(), item(), item(), item()),
        unknown_properties(TaskMeta::KNOWN_PROPERTIES),
    )
        .prop_map(
            |((incoming, outgoing, route, http_proxy), extra)| TaskMeta {
                incoming,
                outgoing,
                route,
                http_proxy,
                extra,
                written_as_empty_array: false,
            },
        )
        .boxed()
}

/// A [`DetailedTaskResult`] as a schema-conforming server sends it: a known status, objects as
/// entity data and context, RFC 3339 timestamps and no known property set to `null`. Unknown
/// properties, which the schema allows, may appear at every level.
pub fn conforming_detailed_task_result() -> BoxedStrategy<DetailedTaskResult> {
    let text = || option::of(json_text());
    let entity = prop_oneof![order_entity(), json_object(4)];
    let task = (
        (
            option::of(task_identifier_text()),
            option::of(entity_type()),
            text(),
        ),
        (option::of(entity), option::of(json_object(3))),
        (
            option::of(conforming_task_status()),
            option::of(configuration_identifier()),
        ),
        (option::of(timestamp()), option::of(timestamp())),
        option::of(conforming_meta()),
        unknown_properties(DetailedTask::KNOWN_PROPERTIES),
    )
        .prop_map(
            |(ids, (entity_data, context), (status, route), dates, meta, extra)| DetailedTask {
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
                extra,
                written_as_empty_array: false,
            },
        );
    let object = prop_oneof![9 => task.prop_map(Some), 1 => Just(None)];
    (
        object,
        unknown_properties(DetailedTaskResult::KNOWN_PROPERTIES),
    )
        .prop_map(|(object, extra)| DetailedTaskResult {
            object,
            extra,
            written_as_empty_array: false,
        })
        .boxed()
}

/// An [`ApiError`] as a schema-conforming server sends it: an object as context and no known
/// property set to `null`; unknown properties may appear.
pub fn conforming_api_error() -> BoxedStrategy<ApiError> {
    let violation = (
        option::of(json_text()),
        option::of(json_text()),
        option::of(error_type()),
        unknown_properties(Violation::KNOWN_PROPERTIES),
    )
        .prop_map(|(title, property_path, violation_type, extra)| Violation {
            title,
            property_path,
            violation_type,
            extra,
            written_as_empty_array: false,
        });
    let text = || option::of(json_text());
    (
        (
            option::of(http_status_text()),
            option::of(json_object(3)),
            option::of(error_type()),
        ),
        (text(), text(), option::of(vec(violation, 0..4))),
        unknown_properties(ApiError::KNOWN_PROPERTIES),
    )
        .prop_map(
            |((status, context, error_type), (title, detail, violations), extra)| ApiError {
                status,
                context,
                error_type,
                title,
                detail,
                violations,
                extra,
                written_as_empty_array: false,
            },
        )
        .boxed()
}
