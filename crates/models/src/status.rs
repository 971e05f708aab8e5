//! `TaskStatus`: the schema's status enum, open to statuses a newer Alumio may add.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The status of a task as Alumio reports it.
///
/// A status string this crate does not know is kept as [`TaskStatus::Other`] rather than
/// rejected, and written back unchanged, so a newer Alumio never breaks an older reader.
///
/// ```
/// use alumio_models::{Lifecycle, TaskStatus};
///
/// assert_eq!(TaskStatus::from("finished"), TaskStatus::Finished);
/// assert_eq!(TaskStatus::from("archived").as_str(), "archived");
/// assert_eq!(TaskStatus::Processing.lifecycle(), Lifecycle::InProgress);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    /// Created, not yet picked up.
    New,
    /// Being processed by its route.
    Processing,
    /// Processed successfully.
    Finished,
    /// Processing failed; can be retried by hand.
    Failed,
    /// A failure that someone marked as dealt with.
    Resolved,
    /// Skipped by its route; can be retried by hand.
    Skipped,
    /// Scheduled to be processed again.
    Retry,
    /// Waiting on something outside the route.
    Waiting,
    /// Stopped by hand.
    Killed,
    /// A status this crate does not know, kept as received.
    Other(UnknownStatus),
}

/// A status string outside the schema's enum. It can only be made by parsing, so a known status
/// is never represented as `Other`, which keeps equality and round trips exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnknownStatus(Box<str>);

impl UnknownStatus {
    /// The status as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a status stands in a task's life; caches choose how long to keep a task by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    /// The task is still moving through its route (new, processing, retry, waiting) and will
    /// change soon without anyone acting on it.
    InProgress,
    /// The route is done with the task (finished, failed, resolved, skipped, killed). Settled is
    /// not immutable: failed and skipped tasks can be retried by hand, resolved can be set on a
    /// failed task, and old tasks are pruned, so a settled task may still change or vanish.
    Settled,
    /// A status this crate does not know; treat it as possibly still moving.
    Unknown,
}

impl TaskStatus {
    /// Every status the schema names, in the schema's order.
    pub const KNOWN: [TaskStatus; 9] = [
        Self::New,
        Self::Processing,
        Self::Finished,
        Self::Failed,
        Self::Resolved,
        Self::Skipped,
        Self::Retry,
        Self::Waiting,
        Self::Killed,
    ];

    /// The status as it is spelled on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::New => "new",
            Self::Processing => "processing",
            Self::Finished => "finished",
            Self::Failed => "failed",
            Self::Resolved => "resolved",
            Self::Skipped => "skipped",
            Self::Retry => "retry",
            Self::Waiting => "waiting",
            Self::Killed => "killed",
            Self::Other(other) => other.as_str(),
        }
    }

    /// Where this status stands in a task's life.
    pub fn lifecycle(&self) -> Lifecycle {
        match self {
            Self::New | Self::Processing | Self::Retry | Self::Waiting => Lifecycle::InProgress,
            Self::Finished | Self::Failed | Self::Resolved | Self::Skipped | Self::Killed => {
                Lifecycle::Settled
            }
            Self::Other(_) => Lifecycle::Unknown,
        }
    }

    /// True for statuses still moving through a route: new, processing, retry, waiting.
    pub fn is_in_progress(&self) -> bool {
        self.lifecycle() == Lifecycle::InProgress
    }

    /// True for statuses the route is done with: finished, failed, resolved, skipped, killed.
    ///
    /// Settled does not mean immutable; see [`Lifecycle::Settled`].
    pub fn is_settled(&self) -> bool {
        self.lifecycle() == Lifecycle::Settled
    }
}

impl From<&str> for TaskStatus {
    fn from(value: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|known| known.as_str() == value)
            .unwrap_or_else(|| Self::Other(UnknownStatus(value.into())))
    }
}

impl From<String> for TaskStatus {
    fn from(value: String) -> Self {
        match Self::from(value.as_str()) {
            Self::Other(_) => Self::Other(UnknownStatus(value.into_boxed_str())),
            known => known,
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TaskStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StatusVisitor;

        impl serde::de::Visitor<'_> for StatusVisitor {
            type Value = TaskStatus;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a task status string")
            }

            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<TaskStatus, E> {
                Ok(TaskStatus::from(value))
            }

            fn visit_string<E: serde::de::Error>(self, value: String) -> Result<TaskStatus, E> {
                Ok(TaskStatus::from(value))
            }
        }

        deserializer.deserialize_str(StatusVisitor)
    }
}
