//! `Rejection`: why the strict reading refused a document, said without any of its content, so
//! it can go into a log line.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use crate::{ApiError, DetailedTask, DetailedTaskResult, TaskMeta, TaskMetaDataItem, Violation};

/// The first thing the strict reading of a document rejected: where, and what was wrong.
///
/// It never holds text from the document but the names of known properties: serde's own
/// messages quote the rejected value (`invalid type: string "..."`), which may be large or
/// private, so the value is cut out, and a property this crate does not know is shown as `?`.
///
/// ```
/// use alumio_models::{DetailedTaskResult, Rejection};
///
/// let body = br#"{"object":{"identifier":"t-1","entityIdentifier":12345}}"#;
/// let rejection = Rejection::of::<DetailedTaskResult>(body).expect("the strict reading refuses it");
/// assert_eq!(rejection.path(), "object.entityIdentifier");
/// assert_eq!(
///     rejection.to_string(),
///     "object.entityIdentifier: invalid type: integer, expected a string (line 1, column 54)"
/// );
/// assert!(Rejection::of::<DetailedTaskResult>(br#"{"object":{"status":"new"}}"#).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    path: String,
    problem: String,
    line: usize,
    column: usize,
}

impl Rejection {
    /// Reads `body` strictly as a `T` and says what it rejected first, or `None` if it reads.
    ///
    /// This reads the body a second time, tracking where the reader is, so call it only when a
    /// strict reading has failed and the reason is wanted (for a rate-limited log line, say).
    pub fn of<T: DeserializeOwned>(body: &[u8]) -> Option<Self> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let (path, inner) = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Ok(_) => (String::new(), deserializer.end().err()?),
            Err(error) => (safe_path(error.path()), error.into_inner()),
        };
        Some(Self {
            path,
            problem: problem_without_content(&inner),
            line: inner.line(),
            column: inner.column(),
        })
    }

    /// Where in the document, as dotted property names and array indexes; empty for the top.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What was wrong there, without the value.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "the document"
        } else {
            &self.path
        };
        write!(
            f,
            "{path}: {} (line {}, column {})",
            self.problem, self.line, self.column
        )
    }
}

/// `path` as dotted segments, with `?` for any name this crate does not know.
fn safe_path(path: &serde_path_to_error::Path) -> String {
    path.iter()
        .map(|segment| match segment {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } if is_known_property(key) => key.clone(),
            Segment::Map { .. } | Segment::Enum { .. } | Segment::Unknown => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn is_known_property(key: &str) -> bool {
    [
        DetailedTaskResult::KNOWN_PROPERTIES,
        DetailedTask::KNOWN_PROPERTIES,
        TaskMeta::KNOWN_PROPERTIES,
        TaskMetaDataItem::KNOWN_PROPERTIES,
        ApiError::KNOWN_PROPERTIES,
        Violation::KNOWN_PROPERTIES,
    ]
    .iter()
    .any(|known| known.contains(&key))
}

/// The words serde uses for the type of a rejected JSON value.
const VALUE_KINDS: &[&str] = &[
    "boolean",
    "integer",
    "floating point",
    "string",
    "unit value",
    "sequence",
    "map",
];

/// serde_json's message without its position and without any quoted value. Syntax messages are
/// serde_json's own fixed texts; type messages are rebuilt from the value's kind and what the
/// model expected (a fixed text of this crate's or serde's).
fn problem_without_content(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let message = message.strip_suffix(&position).unwrap_or(&message);
    if !error.is_data() {
        return message.to_owned();
    }
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        return "a value the model does not accept".to_owned();
    };
    let kind = rest
        .split(['`', '"', ','])
        .next()
        .map(str::trim)
        .filter(|kind| VALUE_KINDS.contains(kind))
        .unwrap_or("a value");
    // A quoted string may itself hold ", expected ", so the model's part is the last one.
    match rest.rsplit_once(", expected ") {
        Some((_, expected)) => format!("invalid type: {kind}, expected {expected}"),
        None => format!("invalid type: {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(body: &str) -> Rejection {
        Rejection::of::<DetailedTaskResult>(body.as_bytes()).expect("a rejection")
    }

    #[test]
    fn a_rejected_string_is_not_quoted() {
        let body = r#"{"object":{"meta":"secret-ish text, expected a trap"}}"#;
        let rejection = rejection(body);
        assert_eq!(rejection.path(), "object.meta");
        assert_eq!(
            rejection.problem(),
            "invalid type: string, expected a TaskMeta object"
        );
        assert!(!rejection.to_string().contains("secret"), "{rejection}");
    }

    #[test]
    fn nested_paths_name_known_properties_and_indexes_only() {
        let body = r#"{"object":{"meta":{"incoming":{"name":7}}}}"#;
        assert_eq!(rejection(body).path(), "object.meta.incoming.name");
        let body = r#"{"violations":[{"title":"ok"},{"title":false}]}"#;
        let error = Rejection::of::<ApiError>(body.as_bytes()).unwrap();
        assert_eq!(error.path(), "violations.1.title");
        assert_eq!(error.problem(), "invalid type: boolean, expected a string");
        let body = r#"{"object":{"entityData":{"private-key":1e400}}}"#;
        let rejection = rejection(body);
        assert_eq!(rejection.path(), "object.entityData.?");
        assert_eq!(rejection.problem(), "number out of range");
    }

    #[test]
    fn a_document_of_another_type_is_rejected_at_the_top() {
        let rejection = rejection(r#""hello""#);
        assert_eq!(rejection.path(), "");
        assert!(
            rejection
                .to_string()
                .starts_with("the document: invalid type: string")
        );
        assert!(!rejection.to_string().contains("hello"));
    }

    #[test]
    fn trailing_text_is_a_syntax_problem() {
        assert_eq!(rejection("{} x").problem(), "trailing characters");
    }
}
