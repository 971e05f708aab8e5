//! The lenient reading: [`read_status`] takes a task's status out of any JSON object, whatever
//! the types of the other properties, for callers that must not refuse what Alumio sends.
//!
//! It walks the document once with a minimal borrowed reader: `object.status` is looked at and
//! everything else is skipped unparsed ([`IgnoredAny`]), so it allocates nothing for a known
//! status and accepts any JSON the strict reading rejects for its types (a number for an
//! identifier, a string for `meta`, a number too large for `f64` in the entity data, ...).

use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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
/// ([`ModelError::NotAnObject`]); a number too large for `f64` is not an error here, since
/// nothing but the status is read.
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
    serde_json::from_slice::<ResultProbe>(body)
        .map(|probe| probe.0)
        .map_err(|error| ModelError::NotAnObject {
            reason: if error.is_data() {
                "it is json but not an object"
            } else {
                "it is not json"
            },
        })
}

/// The document's top level, which must be an object.
struct ResultProbe(StatusReading);

impl<'de> serde::Deserialize<'de> for ResultProbe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ResultVisitor)
    }
}

struct ResultVisitor;

impl<'de> Visitor<'de> for ResultVisitor {
    type Value = ResultProbe;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ResultProbe, A::Error> {
        let mut reading = StatusReading::Absent;
        while let Some(WireKey(key)) = map.next_key()? {
            // The last occurrence of a repeated key wins, as in the strict reading.
            if key == "object" {
                reading = map.next_value::<TaskProbe>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(ResultProbe(reading))
    }
}

/// The value of `object`: of any type; only an object can hold a status.
struct TaskProbe(StatusReading);

impl<'de> serde::Deserialize<'de> for TaskProbe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(AnyValue(TaskVisitor))
            .map(TaskProbe)
    }
}

struct TaskVisitor;

/// The value of `object.status`: of any type; only a string is a status.
struct StatusProbe(StatusReading);

impl<'de> serde::Deserialize<'de> for StatusProbe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(AnyValue(StatusVisitor))
            .map(StatusProbe)
    }
}

struct StatusVisitor;

/// How a probe reads the one kind of value it looks into; any other value is skipped.
trait Probe<'de> {
    fn map<A: MapAccess<'de>>(&self, map: A) -> Result<StatusReading, A::Error> {
        skip_map(map)
    }

    fn string(&self, _text: &str) -> StatusReading {
        StatusReading::Unreadable
    }

    /// An empty array, which PHP writes for an empty object.
    fn empty_array(&self) -> StatusReading {
        StatusReading::Unreadable
    }
}

impl<'de> Probe<'de> for TaskVisitor {
    fn map<A: MapAccess<'de>>(&self, mut map: A) -> Result<StatusReading, A::Error> {
        let mut reading = StatusReading::Absent;
        while let Some(WireKey(key)) = map.next_key()? {
            if key == "status" {
                reading = map.next_value::<StatusProbe>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(reading)
    }

    fn empty_array(&self) -> StatusReading {
        StatusReading::Absent
    }
}

impl Probe<'_> for StatusVisitor {
    fn string(&self, text: &str) -> StatusReading {
        StatusReading::Status(TaskStatus::from(text))
    }
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<StatusReading, A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(StatusReading::Unreadable)
}

/// A visitor that accepts a value of any type and hands it to its probe; `null` is absent.
struct AnyValue<P>(P);

impl<'de, P: Probe<'de>> Visitor<'de> for AnyValue<P> {
    type Value = StatusReading;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<StatusReading, E> {
        Ok(StatusReading::Absent)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<StatusReading, E> {
        Ok(StatusReading::Unreadable)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<StatusReading, E> {
        Ok(StatusReading::Unreadable)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<StatusReading, E> {
        Ok(StatusReading::Unreadable)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<StatusReading, E> {
        Ok(StatusReading::Unreadable)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<StatusReading, E> {
        Ok(self.0.string(text))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusReading, A::Error> {
        if seq.next_element::<IgnoredAny>()?.is_none() {
            return Ok(self.0.empty_array());
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(StatusReading::Unreadable)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StatusReading, A::Error> {
        self.0.map(map)
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
