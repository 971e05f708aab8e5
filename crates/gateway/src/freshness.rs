//! `FreshnessPolicy`: how long each kind of answer stays fresh, chosen by the task's status.

use std::time::Duration;

use alumio_models::{DetailedTask, Lifecycle, TaskStatus};

use crate::entry::EntryKind;

/// Times to live by kind of answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreshnessPolicy {
    /// Tasks still moving through a route, and tasks with a status the gateway does not know
    /// or cannot read.
    pub ttl_active: Duration,
    /// Tasks the route is done with (they can still be retried or pruned, hence not forever).
    pub ttl_settled: Duration,
    /// Alumio's 404s.
    pub ttl_not_found: Duration,
}

impl Default for FreshnessPolicy {
    fn default() -> Self {
        Self {
            ttl_active: Duration::from_secs(10),
            ttl_settled: Duration::from_secs(300),
            ttl_not_found: Duration::from_secs(5),
        }
    }
}

impl FreshnessPolicy {
    /// The kind of entry a task makes: a task without a status counts as still moving.
    pub fn classify(task: &DetailedTask) -> EntryKind {
        Self::classify_status(task.status.as_ref())
    }

    /// The kind of entry a task with `status` makes; no status counts as still moving.
    pub fn classify_status(status: Option<&TaskStatus>) -> EntryKind {
        match status.map(TaskStatus::lifecycle) {
            Some(Lifecycle::Settled) => EntryKind::SettledTask,
            Some(Lifecycle::InProgress | Lifecycle::Unknown) | None => EntryKind::ActiveTask,
        }
    }

    /// How long an entry of `kind` stays fresh.
    pub fn ttl(&self, kind: EntryKind) -> Duration {
        match kind {
            EntryKind::ActiveTask => self.ttl_active,
            EntryKind::SettledTask => self.ttl_settled,
            EntryKind::NotFound => self.ttl_not_found,
            EntryKind::Uncacheable => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(status: Option<&str>) -> EntryKind {
        let task = DetailedTask {
            status: status.map(TaskStatus::from),
            ..DetailedTask::default()
        };
        FreshnessPolicy::classify(&task)
    }

    #[test]
    fn moving_and_unknown_statuses_are_active() {
        for status in ["new", "processing", "retry", "waiting", "archived"] {
            assert_eq!(kind_of(Some(status)), EntryKind::ActiveTask, "{status}");
        }
        assert_eq!(kind_of(None), EntryKind::ActiveTask);
    }

    #[test]
    fn done_statuses_are_settled() {
        for status in ["finished", "failed", "resolved", "skipped", "killed"] {
            assert_eq!(kind_of(Some(status)), EntryKind::SettledTask, "{status}");
        }
    }
}
