//! The lenient reading: [`read_status`] takes a task's status out of any JSON object, whatever
//! the types of the other properties, for callers that must not refuse what Alumio sends.
//!
//! It reads with a minimal borrowed reader that parses nothing but `object.status`: the value
//! of `object` is taken as raw JSON text ([`RawValue`]) and looked into only when it is an
//! object, every other value is skipped unparsed ([`IgnoredAny`]). Nothing is allocated for a
//! known status, and any JSON the strict reading rejects for its types (a number for an
//! identifier, a string for `meta`, a number too large for `f64`) is accepted.

use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::ModelError;
use crate::lossless::WireKey;
use crate::status::TaskStatus;

/// What [`read_status`] found at `object.status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusReading {
    /// `object.status` is a string: the status, known or not.
    Status(TaskStatus),
    /// There is no status to read: `object` or `object.status` is absent or `null`, or
    /// `object` is PHP's `[]` for an empty object.
    Absent,
    /// `object` is not an object, or `object.status` is not a string (a number, an object, ...).
    Unreadable,
}

impl StatusReading {
    /// The status, when there is one to read.
    pub fn status(&self) -> Option<&TaskStatus> {
        match self {
            Self::Status(status) => Some(status),
            Self::Absent | Self::Unreadable => None,
        }
    }
}

/// Reads a task's `object.status` from `body` without judging any other property.
///
/// Use it where the document must be taken as it is, such as a cache or a relay that needs only
/// the status; use the strict reading (`serde_json::from_slice::<DetailedTaskResult>`) where
/// the typed properties are used. The only error is a body that is not a JSON object
/// ([`ModelError::NotAnObject`]).
///
/// ```
/// use alumio_models::{StatusReading, TaskStatus, read_status};
///
/// // The strict reading refuses a numeric `entityIdentifier`; the lenient one reads the status.
/// let body = br#"{"object":{"entityIdentifier":12345,"status":"finished","meta":"n/a"}}"#;
/// assert!(serde_json::from_slice::<alumio_models::DetailedTaskResult>(body).is_err());
/// assert_eq!(read_status(body)?, StatusReading::Status(TaskStatus::Finished));
///
/// assert_eq!(read_status(br#"{"object":{"status":null}}"#)?, StatusReading::Absent);
/// assert_eq!(read_status(br#"{"object":{"status":7}}"#)?, StatusReading::Unreadable);
/// assert!(read_status(b"[]").is_err());
/// # Ok::<(), alumio_models::ModelError>(())
/// ```
pub fn read_status(body: &[u8]) -> Result<StatusReading, ModelError> {
    let not_an_object = |error: serde_json::Error| ModelError::NotAnObject {
        reason: if error.is_data() {
            "it is json but not an object"
        } else {
            "it is not json"
        },
    };
    let task = member(body, "object").map_err(not_an_object)?;
    Ok(task.map_or(StatusReading::Absent, read_task))
}

/// The raw value of `object.status` when `object` is an object, or what else `object` is.
fn read_task(task: &RawValue) -> StatusReading {
    match first_byte(task) {
        b'{' => match member(task.get().as_bytes(), "status") {
            Ok(Some(status)) => read_status_value(status),
            Ok(None) => StatusReading::Absent,
            // A raw value is valid JSON, so an object always reads.
            Err(_) => StatusReading::Unreadable,
        },
        b'n' => StatusReading::Absent,
        b'[' if is_empty_array(task) => StatusReading::Absent,
        _ => StatusReading::Unreadable,
    }
}

fn read_status_value(status: &RawValue) -> StatusReading {
    match first_byte(status) {
        b'"' => serde_json::from_str::<TaskStatus>(status.get())
            .map_or(StatusReading::Unreadable, StatusReading::Status),
        b'n' => StatusReading::Absent,
        _ => StatusReading::Unreadable,
    }
}

fn first_byte(raw: &RawValue) -> u8 {
    // A raw value from serde_json is a JSON value without surrounding whitespace.
    raw.get().as_bytes().first().copied().unwrap_or(b'n')
}

fn is_empty_array(raw: &RawValue) -> bool {
    raw.get()
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|inside| inside.trim_ascii().is_empty())
}

/// Reads `text` as a JSON object for its member `name`, whose value is kept as raw text; every
/// other member is skipped. The last of a repeated name wins, as in the strict reading.
fn member<'a>(text: &'a [u8], name: &'static str) -> serde_json::Result<Option<&'a RawValue>> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value = deserializer.deserialize_map(MemberVisitor(name))?;
    deserializer.end()?;
    Ok(value)
}

struct MemberVisitor(&'static str);

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut value = None;
        while let Some(WireKey(key)) = map.next_key()? {
            if key == self.0 {
                value = Some(map.next_value::<&RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(body: &str) -> StatusReading {
        read_status(body.as_bytes()).expect("a json object")
    }

    #[test]
    fn a_status_string_is_read_whatever_else_the_task_holds() {
        let body =
            r#"{"object":{"identifier":1,"meta":"x","entityData":1e400,"status":"waiting"}}"#;
        assert_eq!(reading(body), StatusReading::Status(TaskStatus::Waiting));
        let unknown = reading(r#"{"object":{"status":"archived"}}"#);
        assert_eq!(unknown.status().map(TaskStatus::as_str), Some("archived"));
    }

    #[test]
    fn no_status_is_absent() {
        for body in [
            "{}",
            r#"{"object":null}"#,
            r#"{"object":[]}"#,
            r#"{"object":{}}"#,
            r#"{"object":{"status":null}}"#,
            r#"{"other":{"status":"new"}}"#,
        ] {
            assert_eq!(reading(body), StatusReading::Absent, "{body}");
        }
    }

    #[test]
    fn a_status_or_task_of_another_type_is_unreadable() {
        for body in [
            r#"{"object":"task"}"#,
            r#"{"object":[{"status":"new"}]}"#,
            r#"{"object":7}"#,
            r#"{"object":{"status":7}}"#,
            r#"{"object":{"status":true}}"#,
            r#"{"object":{"status":["new"]}}"#,
            r#"{"object":{"status":{"name":"new"}}}"#,
            r#"{"object":{"status":[]}}"#,
        ] {
            assert_eq!(reading(body), StatusReading::Unreadable, "{body}");
        }
    }

    #[test]
    fn numbers_too_large_for_f64_are_no_obstacle() {
        assert_eq!(reading(r#"{"object":1e400}"#), StatusReading::Unreadable);
        assert_eq!(
            reading(r#"{"object":{"status":-1E+999}}"#),
            StatusReading::Unreadable
        );
        let body = r#"{"n":1e400,"object":{"x":[1e400],"status":"new"}}"#;
        assert_eq!(reading(body), StatusReading::Status(TaskStatus::New));
    }

    #[test]
    fn a_name_counts_only_at_its_own_level() {
        assert_eq!(reading(r#"{"status":"new"}"#), StatusReading::Absent);
        let body = r#"{"object":{"object":"x","meta":{"status":"new"}}}"#;
        assert_eq!(reading(body), StatusReading::Absent);
        assert_eq!(reading(r#"{"object":[ ]}"#), StatusReading::Absent);
    }

    #[test]
    fn the_last_of_a_repeated_status_wins() {
        let body = r#"{"object":{"status":"new","status":"finished"}}"#;
        assert_eq!(reading(body), StatusReading::Status(TaskStatus::Finished));
        let body = r#"{"object":{"status":"new"},"object":null}"#;
        assert_eq!(reading(body), StatusReading::Absent);
    }

    #[test]
    fn an_escaped_status_is_read_as_its_text() {
        let body = r#"{"object":{"st\u0061tus":"fini\u0073hed"}}"#;
        assert_eq!(reading(body), StatusReading::Status(TaskStatus::Finished));
    }

    #[test]
    fn only_a_json_object_is_read() {
        for body in [
            "[]", "[1]", "\"task\"", "7", "null", "", "{", "<html>", "{} x",
        ] {
            let error = read_status(body.as_bytes()).expect_err(body);
            assert!(matches!(error, ModelError::NotAnObject { .. }), "{body}");
        }
        let not_json = read_status(b"<html>").unwrap_err();
        assert_eq!(
            not_json.to_string(),
            "the body is not a json object: it is not json"
        );
        let not_object = read_status(b"[]").unwrap_err();
        assert!(not_object.to_string().ends_with("json but not an object"));
    }
}
