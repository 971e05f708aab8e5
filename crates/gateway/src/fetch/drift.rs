//! Schema drift: answers Alumio sent that the typed model cannot read. They are relayed all the
//! same; this module counts them by kind and warns about each key at most once per window, in a
//! table of bounded size, so a drifting Alumio cannot flood the logs.

use std::time::{Duration, Instant};

use alumio_models::{ApiError, DetailedTaskResult, Rejection};

use crate::key::TaskKey;
use crate::metrics::{LabelledCounter, MetricLabel};

/// Keys remembered as warned about. Past this many, the least recently warned are forgotten
/// and may be warned about again sooner: the table stays small whatever Alumio sends.
const WARNED_KEYS: u64 = 4_096;

/// The shortest window between two warnings about one key, for answers that are not stored.
const MIN_WINDOW: Duration = Duration::from_secs(1);

/// Which typed reading an answer failed, as the `kind` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftKind {
    /// A `200` that is a JSON object but not a `DetailedTaskResult`.
    Task,
    /// An error reply that is JSON but not Alumio's `Error` body.
    Error,
}

impl MetricLabel for DriftKind {
    const NAME: &'static str = "kind";
    const ALL: &'static [Self] = &[Self::Task, Self::Error];

    fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Error => "error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl DriftKind {
    fn rejection(self, body: &[u8]) -> Option<Rejection> {
        match self {
            Self::Task => Rejection::of::<DetailedTaskResult>(body),
            Self::Error => Rejection::of::<ApiError>(body),
        }
    }
}

/// Counts drifted answers and warns about them, once per key per window.
pub(crate) struct DriftLog {
    /// `alumio_gateway_upstream_unexpected_shape_total`, by kind.
    unexpected_shape: LabelledCounter<DriftKind>,
    /// When each key was last warned about.
    warned: moka::sync::Cache<TaskKey, Instant>,
}

impl DriftLog {
    pub(crate) fn new(unexpected_shape: LabelledCounter<DriftKind>) -> Self {
        Self {
            unexpected_shape,
            warned: moka::sync::Cache::new(WARNED_KEYS),
        }
    }

    /// Counts one relayed answer for `key` that the typed model could not read, and warns,
    /// naming the key and the first thing the model rejected, unless `key` was warned about
    /// less than `window` ago. The body is read again only to say why, so only when warning.
    pub(crate) fn report(
        &self,
        kind: DriftKind,
        key: &TaskKey,
        body: &[u8],
        window: Duration,
        request_id: &str,
    ) {
        self.unexpected_shape.increment(kind);
        if !self.should_warn(key, window.max(MIN_WINDOW), Instant::now()) {
            return;
        }
        let rejected = kind.rejection(body).map_or_else(
            || "nothing (it reads now)".to_owned(),
            |rejection| rejection.to_string(),
        );
        tracing::warn!(
            request_id,
            ?key,
            kind = kind.as_str(),
            %rejected,
            "relaying an answer from alumio that the typed model cannot read"
        );
    }

    fn should_warn(&self, key: &TaskKey, window: Duration, now: Instant) -> bool {
        let recent = self
            .warned
            .get(key)
            .is_some_and(|warned| now.saturating_duration_since(warned) < window);
        if !recent {
            self.warned.insert(key.clone(), now);
        }
        !recent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::MetricsRegistry;

    fn key(identifier: &str) -> TaskKey {
        TaskKey::new(identifier.parse().unwrap(), None)
    }

    fn log() -> DriftLog {
        let registry = MetricsRegistry::new();
        DriftLog::new(registry.labelled_counter("drift_total", "test"))
    }

    #[test]
    fn a_key_is_warned_about_once_per_window() {
        let log = log();
        let start = Instant::now();
        let window = Duration::from_secs(10);
        assert!(log.should_warn(&key("a"), window, start));
        assert!(!log.should_warn(&key("a"), window, start + Duration::from_secs(9)));
        assert!(log.should_warn(&key("b"), window, start + Duration::from_secs(9)));
        assert!(log.should_warn(&key("a"), window, start + Duration::from_secs(10)));
        assert!(!log.should_warn(&key("a"), window, start + Duration::from_secs(11)));
    }

    #[test]
    fn the_table_of_warned_keys_stays_bounded() {
        let log = log();
        let now = Instant::now();
        for n in 0..WARNED_KEYS * 2 {
            log.should_warn(&key(&format!("k-{n}")), Duration::from_secs(60), now);
        }
        log.warned.run_pending_tasks();
        assert!(log.warned.entry_count() <= WARNED_KEYS);
    }
}
