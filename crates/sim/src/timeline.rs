//! A task's life as a schedule of statuses: when it was created, and from which moment on it has
//! each status. The status at any moment is a pure function of the schedule and the time that
//! has passed since the simulator started.

use alumio_models::TaskStatus;

use crate::seeded::SeededRng;

const SECOND: u64 = 1000;
const MINUTE: u64 = 60 * SECOND;
const DAY: u64 = 24 * 60 * MINUTE;

/// One status and the moment the task took it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Phase {
    /// The status from this moment on.
    pub(crate) status: TaskStatus,
    /// Milliseconds since the simulator started; negative for moments before it.
    pub(crate) starts_at: i64,
}

/// A task's schedule: never empty, phases in time order, the first starting at creation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Timeline {
    phases: Box<[Phase]>,
}

impl Timeline {
    /// A random but realistic schedule. About one task in seven settled long before the
    /// simulator started. The rest were queued as `new` in the two minutes before it and are
    /// picked up at some moment in its first ten minutes, then move through processing,
    /// sometimes retry or waiting, to finished (mostly), failed, skipped or, rarely, killed;
    /// some failed tasks are resolved by hand later.
    pub(crate) fn plan(rng: &mut SeededRng) -> Self {
        let phases = if rng.percent(15) {
            settled_long_ago(rng)
        } else {
            live(rng)
        };
        Self {
            phases: phases.into_boxed_slice(),
        }
    }

    /// The phases, in time order.
    pub(crate) fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// When the task was created, in milliseconds since the simulator started.
    pub(crate) fn created_at(&self) -> i64 {
        self.phases.first().map_or(0, |phase| phase.starts_at)
    }

    /// The index of the phase in force `elapsed` milliseconds after the simulator started.
    pub(crate) fn phase_at(&self, elapsed: i64) -> usize {
        self.phases
            .iter()
            .rposition(|phase| phase.starts_at <= elapsed)
            .unwrap_or(0)
    }

    /// The status in force `elapsed` milliseconds after the simulator started.
    pub(crate) fn status_at(&self, elapsed: i64) -> &TaskStatus {
        &self.phases[self.phase_at(elapsed)].status
    }

    /// How many times the task had been processed by the end of phase `index`.
    pub(crate) fn attempts_until(&self, index: usize) -> usize {
        self.phases
            .iter()
            .take(index + 1)
            .filter(|phase| phase.status == TaskStatus::Processing)
            .count()
            .max(1)
    }
}

/// Adds a random span of `low..=high` milliseconds to `at`.
fn after(rng: &mut SeededRng, at: i64, low: u64, high: u64) -> i64 {
    at.saturating_add(i64::try_from(rng.between(low, high)).unwrap_or(i64::MAX))
}

fn settled_long_ago(rng: &mut SeededRng) -> Vec<Phase> {
    let created = after(rng, 0, DAY, 90 * DAY).saturating_neg();
    let started = after(rng, created, 200, 5 * SECOND);
    let settled = after(rng, started, 300, 3 * MINUTE);
    let outcomes = [
        TaskStatus::Finished,
        TaskStatus::Failed,
        TaskStatus::Resolved,
        TaskStatus::Skipped,
        TaskStatus::Killed,
    ];
    let outcome = outcomes[rng.weighted(&[85, 5, 3, 6, 1])].clone();
    vec![
        Phase {
            status: TaskStatus::New,
            starts_at: created,
        },
        Phase {
            status: TaskStatus::Processing,
            starts_at: started,
        },
        Phase {
            status: outcome,
            starts_at: settled,
        },
    ]
}

fn live(rng: &mut SeededRng) -> Vec<Phase> {
    let mut phases = Vec::with_capacity(6);
    let created = after(rng, 0, 0, 2 * MINUTE).saturating_neg();
    let mut enter = |status: TaskStatus, at: i64| {
        phases.push(Phase {
            status,
            starts_at: at,
        });
    };

    enter(TaskStatus::New, created);
    // Workers drain the queue over the first minutes; a task waits at least a second.
    let mut at = after(rng, 0, SECOND, 10 * MINUTE).max(created + 1000);
    enter(TaskStatus::Processing, at);
    at = after(rng, at, 2 * SECOND, 30 * SECOND);
    match rng.weighted(&[78, 12, 10]) {
        1 => {
            enter(TaskStatus::Retry, at);
            at = after(rng, at, 5 * SECOND, MINUTE);
            enter(TaskStatus::Processing, at);
            at = after(rng, at, 2 * SECOND, 20 * SECOND);
        }
        2 => {
            enter(TaskStatus::Waiting, at);
            at = after(rng, at, 30 * SECOND, 10 * MINUTE);
            enter(TaskStatus::Processing, at);
            at = after(rng, at, 2 * SECOND, 10 * SECOND);
        }
        _ => {}
    }
    let outcomes = [
        TaskStatus::Finished,
        TaskStatus::Failed,
        TaskStatus::Skipped,
        TaskStatus::Killed,
    ];
    let outcome = outcomes[rng.weighted(&[80, 10, 8, 2])].clone();
    let resolved_later = outcome == TaskStatus::Failed && rng.percent(25);
    enter(outcome, at);
    if resolved_later {
        at = after(rng, at, 5 * MINUTE, 20 * MINUTE);
        enter(TaskStatus::Resolved, at);
    }
    phases
}

#[cfg(test)]
mod tests {
    use alumio_models::Lifecycle;

    use super::*;

    fn timelines(count: u64) -> Vec<Timeline> {
        (0..count)
            .map(|index| Timeline::plan(&mut SeededRng::derive(3, &[index])))
            .collect()
    }

    #[test]
    fn phases_are_in_time_order_and_start_at_creation() {
        for timeline in timelines(500) {
            let starts: Vec<i64> = timeline
                .phases()
                .iter()
                .map(|phase| phase.starts_at)
                .collect();
            assert!(
                starts.windows(2).all(|pair| pair[0] <= pair[1]),
                "{starts:?}"
            );
            assert_eq!(timeline.created_at(), starts[0]);
            assert!(timeline.created_at() <= 0);
            assert_eq!(timeline.phases()[0].status, TaskStatus::New);
        }
    }

    #[test]
    fn every_task_is_settled_an_hour_after_the_start() {
        for timeline in timelines(500) {
            assert_eq!(
                timeline.status_at(3_600_000).lifecycle(),
                Lifecycle::Settled
            );
            assert_eq!(timeline.phase_at(3_600_000), timeline.phases().len() - 1);
        }
    }

    #[test]
    fn some_tasks_are_still_in_progress_at_the_start_and_some_are_old_and_settled() {
        let all = timelines(500);
        let in_progress = all
            .iter()
            .filter(|t| t.status_at(0).is_in_progress())
            .count();
        let old = all.iter().filter(|t| t.created_at() < -86_400_000).count();
        assert!((350..475).contains(&in_progress), "{in_progress}");
        assert!((40..120).contains(&old), "{old}");
        let settled_after_five_minutes = all
            .iter()
            .filter(|t| t.status_at(300_000).is_settled())
            .count();
        assert!(
            (150..400).contains(&settled_after_five_minutes),
            "{settled_after_five_minutes}"
        );
        assert!(
            all.iter()
                .all(|t| t.created_at() >= -86_400_000 || t.status_at(0).is_settled())
        );
    }

    #[test]
    fn a_status_moves_from_new_through_processing_to_its_outcome() {
        let timeline = Timeline {
            phases: vec![
                Phase {
                    status: TaskStatus::New,
                    starts_at: -1000,
                },
                Phase {
                    status: TaskStatus::Processing,
                    starts_at: 2000,
                },
                Phase {
                    status: TaskStatus::Retry,
                    starts_at: 5000,
                },
                Phase {
                    status: TaskStatus::Processing,
                    starts_at: 9000,
                },
                Phase {
                    status: TaskStatus::Failed,
                    starts_at: 12_000,
                },
            ]
            .into_boxed_slice(),
        };
        let seen: Vec<&TaskStatus> = [0, 1999, 2000, 6000, 9000, 12_000, 99_999]
            .into_iter()
            .map(|elapsed| timeline.status_at(elapsed))
            .collect();
        use TaskStatus::*;
        assert_eq!(
            seen,
            [
                &New,
                &New,
                &Processing,
                &Retry,
                &Processing,
                &Failed,
                &Failed
            ]
        );
        assert_eq!(timeline.attempts_until(1), 1);
        assert_eq!(timeline.attempts_until(4), 2);
        assert_eq!(timeline.phase_at(-5000), 0);
    }
}
