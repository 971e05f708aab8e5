//! Types for the Alumio task API: the task document, its status, the error body, and the
//! validated identifiers a request is made of. No HTTP, no I/O: only serde and serde_json.
//!
//! Every document type is **lossless**: properties this crate does not know, status strings
//! outside the schema's enum, explicit `null`s and the exact text of timestamps all survive a
//! read and a write, so a newer Alumio never breaks an older reader and nothing is dropped.
//! No property is required: any subset parses.
//!
//! **Two readings.** The typed reading (`serde_json::from_slice::<DetailedTaskResult>`, and the
//! same for [`ApiError`]) is *strict*: a known property with a value of the wrong type (a number
//! for `entityIdentifier`, a string for `meta`) is an error, because the typed field could not
//! hold it. Use it where you use the typed properties. The *lenient* reading,
//! [`read_status`], reads only `object.status` and accepts any JSON object whatever its other
//! properties hold; use it where the document must be taken as Alumio sent it, as a cache or a
//! relay does, and needs no more than the status. It costs one pass over the bytes that
//! allocates nothing for a known status. When the strict reading fails, [`Rejection::of`] says
//! where and why, without quoting the document, for a log line.
//!
//! **Explicit `null`**: a known property sent as `null` reads as `None`, exactly like an absent
//! one, and the `null` is kept in the type's `extra` map, so writing the value back yields
//! `null` again.
//!
//! **PHP's `[]`**: Alumio is written in PHP, which encodes an empty object as `[]`. Every object
//! type here reads `[]` as an empty object with `written_as_empty_array` set, and writes it back
//! as `[]` while it stays empty.
//!
//! ```
//! use alumio_models::{DetailedTaskResult, Lifecycle, SpaceIdentifier, TaskIdentifier};
//!
//! let body = br#"{"object":{"identifier":"01J0","status":"archived","createdAt":"2024-05-01T10:00:00Z","later":true}}"#;
//! let result: DetailedTaskResult = serde_json::from_slice(body)?;
//! let task = result.object.as_ref().unwrap();
//!
//! // A status this crate does not know is kept, not rejected.
//! assert_eq!(task.status.as_ref().unwrap().as_str(), "archived");
//! assert_eq!(task.status.as_ref().unwrap().lifecycle(), Lifecycle::Unknown);
//! // Timestamps keep their text and parse on demand.
//! assert_eq!(task.created_at.as_ref().unwrap().parse().unwrap().unix_seconds, 1_714_557_600);
//! // Unknown properties are written back.
//! assert_eq!(serde_json::to_value(&result)?, serde_json::from_slice::<serde_json::Value>(body)?);
//!
//! // Identifiers are checked once, at the edge.
//! let id: TaskIdentifier = "01J0".parse().unwrap();
//! assert!("Bad Space".parse::<SpaceIdentifier>().is_err());
//! # let _ = id;
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! With the `proptest` feature, [`strategies`] generates realistic documents for property tests.

mod api_error;
mod error;
mod identifier;
mod lenient;
mod lossless;
mod rejection;
mod status;
mod task;
mod timestamp;

#[cfg(feature = "proptest")]
pub mod strategies;

pub use api_error::{ApiError, Violation};
pub use error::{IdentifierKind, ModelError};
pub use identifier::{MAX_IDENTIFIER_LEN, SpaceIdentifier, TaskIdentifier};
pub use lenient::{StatusReading, read_status};
pub use rejection::Rejection;
pub use status::{Lifecycle, TaskStatus, UnknownStatus};
pub use task::{DetailedTask, DetailedTaskResult, TaskMeta, TaskMetaDataItem};
pub use timestamp::{ParsedTimestamp, Timestamp};
