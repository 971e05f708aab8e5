//! The task document: `DetailedTaskResult`, `DetailedTask`, `TaskMeta` and `TaskMetaDataItem`.

use serde_json::Value;

use crate::lossless::lossless_object;
use crate::status::TaskStatus;
use crate::timestamp::Timestamp;

lossless_object! {
    /// The body of a `200` from `GET /tasks/{identifier}`: `{"object": DetailedTask}`.
    ///
    /// ```
    /// use alumio_models::{DetailedTaskResult, TaskStatus};
    ///
    /// let body = br#"{"object":{"identifier":"t-1","status":"finished","newField":1}}"#;
    /// let result: DetailedTaskResult = serde_json::from_slice(body)?;
    /// let task = result.object.as_ref().expect("object");
    /// assert_eq!(task.status, Some(TaskStatus::Finished));
    /// assert_eq!(task.extra["newField"], 1);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub struct DetailedTaskResult {
        /// The task.
        object: DetailedTask => "object",
    }
}

lossless_object! {
    /// One task with its entity data, context, status, route and metadata.
    pub struct DetailedTask {
        /// Task identifier.
        identifier: String => "identifier",
        /// Entity schema identifier.
        entity_type: String => "entityType",
        /// Entity identifier.
        entity_identifier: String => "entityIdentifier",
        /// The entity the task carries; any JSON (the schema says object).
        entity_data: Value => "entityData",
        /// The task's context; any JSON (the schema says object).
        context: Value => "context",
        /// Where the task is in its life.
        status: TaskStatus => "status",
        /// Route identifier.
        route: String => "route",
        /// Creation date, as sent.
        created_at: Timestamp => "createdAt",
        /// Update date, as sent.
        updated_at: Timestamp => "updatedAt",
        /// Where the task came from and went to.
        meta: TaskMeta => "meta",
    }
}

lossless_object! {
    /// The systems a task passed through.
    pub struct TaskMeta {
        /// The incoming configuration that made the task.
        incoming: TaskMetaDataItem => "incoming",
        /// The outgoing configuration that sent it on.
        outgoing: TaskMetaDataItem => "outgoing",
        /// The route that moved it.
        route: TaskMetaDataItem => "route",
        /// The HTTP proxy it went through.
        http_proxy: TaskMetaDataItem => "httpProxy",
    }
}

lossless_object! {
    /// A reference to a configuration item by identifier and name.
    pub struct TaskMetaDataItem {
        /// Identifier.
        identifier: String => "identifier",
        /// Name.
        name: String => "name",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn explicit_nulls_read_as_none_and_are_written_back() {
        let doc = json!({"identifier": null, "status": null, "meta": {"route": null}});
        let task: DetailedTask = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(task.identifier, None);
        assert_eq!(task.status, None);
        assert_eq!(task.meta.as_ref().unwrap().route, None);
        assert_eq!(serde_json::to_value(&task).unwrap(), doc);
    }

    #[test]
    fn a_set_field_wins_over_an_extra_entry_of_the_same_name() {
        let mut task = DetailedTask::default();
        task.extra.insert("route".into(), Value::Null);
        task.route = Some("r-1".into());
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            json!({"route": "r-1"})
        );
    }

    #[test]
    fn the_last_of_a_repeated_key_wins() {
        let task: DetailedTask = serde_json::from_str(r#"{"route":"a","route":null}"#).unwrap();
        assert_eq!(serde_json::to_value(&task).unwrap(), json!({"route": null}));
        let task: DetailedTask = serde_json::from_str(r#"{"route":null,"route":"b"}"#).unwrap();
        assert_eq!(serde_json::to_value(&task).unwrap(), json!({"route": "b"}));
    }

    #[test]
    fn php_empty_arrays_for_objects_read_as_empty_objects_and_are_written_back() {
        let doc = json!({"object": {"meta": [], "context": [], "entityData": []}});
        let result: DetailedTaskResult = serde_json::from_value(doc.clone()).unwrap();
        let task = result.object.as_ref().unwrap();
        let meta = task.meta.as_ref().unwrap();
        assert!(meta.written_as_empty_array);
        assert_eq!(meta.incoming, None);
        assert_eq!(serde_json::to_value(&result).unwrap(), doc);
    }

    #[test]
    fn a_filled_object_that_arrived_as_an_empty_array_is_written_as_an_object() {
        let mut meta: TaskMeta = serde_json::from_str("[]").unwrap();
        meta.extra.insert("later".into(), json!(1));
        assert_eq!(serde_json::to_value(&meta).unwrap(), json!({"later": 1}));
    }

    #[test]
    fn a_non_empty_array_is_not_an_object() {
        let error = serde_json::from_str::<TaskMeta>("[1]").unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
    }

    #[test]
    fn a_known_property_of_the_wrong_type_is_an_error() {
        let error = serde_json::from_str::<DetailedTask>(r#"{"identifier": 7}"#).unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
    }
}
