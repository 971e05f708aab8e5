//! `KeyBackoff`: after a failed fetch, a key is not asked of Alumio again until a backoff has
//! passed; meanwhile its consumers get the remembered failure (or a stale copy) at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::key::TaskKey;

/// How long a failing key is left alone: the first failure waits about `initial`, each further
/// one about twice as long, up to `max`; each wait is drawn between half and all of that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureBackoff {
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for FailureBackoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl FailureBackoff {
    /// The wait after `failures` consecutive failures, with equal jitter so that keys that
    /// failed together do not all come back together.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        let ceiling = self.initial.saturating_mul(1 << doublings).min(self.max);
        let half = ceiling / 2;
        let half_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(..=half_nanos))
    }
}

/// The failures of one key, and what its consumers get until the key may be tried again.
#[derive(Debug)]
struct Failing<T> {
    failures: u32,
    retry_at: Instant,
    last: T,
}

/// What a backing-off key answers meanwhile, weighed so the table stays bounded in bytes (a
/// relayed Alumio error can carry a body of up to `--upstream-max-body`).
pub trait RememberedAnswer: Clone + Send + Sync + 'static {
    /// Bytes the answer holds beyond its fixed size.
    fn held_bytes(&self) -> usize;
}

/// Keys in backoff, bounded in bytes; `T` is what to answer meanwhile.
pub struct KeyBackoff<T> {
    policy: FailureBackoff,
    keys: moka::sync::Cache<TaskKey, Arc<Failing<T>>>,
}

/// Most bytes the table holds; beyond it the least used keys are forgotten, which only means
/// they may be tried sooner.
const MAX_BACKOFF_BYTES: u64 = 64 * 1024 * 1024;

/// What one remembered key costs besides its answer: key, record and the cache's bookkeeping.
const BACKOFF_ENTRY_OVERHEAD: usize = 512;

impl<T: RememberedAnswer> KeyBackoff<T> {
    /// An empty backoff table.
    pub fn new(policy: FailureBackoff) -> Self {
        let keys = moka::sync::Cache::builder()
            .max_capacity(MAX_BACKOFF_BYTES)
            .weigher(|_key: &TaskKey, failing: &Arc<Failing<T>>| {
                let bytes = failing.last.held_bytes() + BACKOFF_ENTRY_OVERHEAD;
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            // Long enough to remember the failure count across the longest wait.
            .time_to_live(policy.max.saturating_mul(4).max(Duration::from_secs(1)))
            .support_invalidation_closures()
            .build();
        Self { policy, keys }
    }

    /// What to answer for `key` if it is still backing off at `now`.
    pub fn answer_while_backing_off(&self, key: &TaskKey, now: Instant) -> Option<T> {
        self.keys
            .get(key)
            .filter(|failing| now < failing.retry_at)
            .map(|failing| failing.last.clone())
    }

    /// Records a failure of `key`; returns how long it now backs off.
    pub fn record_failure(&self, key: &TaskKey, answer: T, now: Instant) -> Duration {
        let failures = self.keys.get(key).map_or(1, |failing| failing.failures + 1);
        let delay = self.policy.delay(failures);
        self.keys.insert(
            key.clone(),
            Arc::new(Failing {
                failures,
                retry_at: now + delay,
                last: answer,
            }),
        );
        delay
    }

    /// Forgets `key`'s failures after a success.
    pub fn clear(&self, key: &TaskKey) {
        self.keys.invalidate(key);
    }

    /// Forgets the failures of every key `covers` accepts.
    pub fn clear_matching(&self, covers: impl Fn(&TaskKey) -> bool + Send + Sync + 'static) {
        // Only fails when closures are not supported, which the builder enables.
        let _ = self.keys.invalidate_entries_if(move |key, _| covers(key));
    }

    /// Keys now remembered (approximate).
    pub fn len(&self) -> u64 {
        self.keys.entry_count()
    }

    /// Whether no key is remembered (approximate).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the table holds now, as weighed.
    pub fn held_bytes(&self) -> u64 {
        self.keys.run_pending_tasks();
        self.keys.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl RememberedAnswer for &'static str {
        fn held_bytes(&self) -> usize {
            self.len()
        }
    }

    impl RememberedAnswer for () {
        fn held_bytes(&self) -> usize {
            0
        }
    }

    #[test]
    fn the_table_is_bounded_in_bytes_not_only_in_keys() {
        static LARGE: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| "x".repeat(8 << 20));
        let backoff: KeyBackoff<&'static str> = KeyBackoff::new(FailureBackoff::default());
        let now = Instant::now();
        for n in 0..32 {
            backoff.record_failure(&key(&format!("k{n}")), LARGE.as_str(), now);
        }
        assert!(
            backoff.held_bytes() <= MAX_BACKOFF_BYTES,
            "{}",
            backoff.held_bytes()
        );
        // 8 MiB answers: at most 8 of the 32 keys fit in the byte budget.
        assert!(backoff.len() <= 8, "{} keys remembered", backoff.len());
    }

    fn key(id: &str) -> TaskKey {
        TaskKey::new(id.parse().unwrap(), None)
    }

    #[test]
    fn delays_double_up_to_the_cap_with_jitter() {
        let policy = FailureBackoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(8),
        };
        for _ in 0..100 {
            let first = policy.delay(1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let third = policy.delay(3);
            assert!(third >= Duration::from_secs(2) && third <= Duration::from_secs(4));
            assert!(policy.delay(30) <= Duration::from_secs(8));
        }
    }

    #[test]
    fn a_failing_key_answers_the_last_failure_until_its_retry_time() {
        let backoff = KeyBackoff::new(FailureBackoff::default());
        let now = Instant::now();
        assert_eq!(backoff.answer_while_backing_off(&key("a"), now), None);
        let delay = backoff.record_failure(&key("a"), "boom", now);
        assert_eq!(
            backoff.answer_while_backing_off(&key("a"), now),
            Some("boom")
        );
        assert_eq!(backoff.answer_while_backing_off(&key("b"), now), None);
        assert_eq!(
            backoff.answer_while_backing_off(&key("a"), now + delay),
            None
        );
    }

    #[test]
    fn repeated_failures_wait_longer_and_a_success_forgets_them() {
        let backoff = KeyBackoff::new(FailureBackoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        });
        let now = Instant::now();
        backoff.record_failure(&key("a"), (), now);
        backoff.record_failure(&key("a"), (), now);
        let third = backoff.record_failure(&key("a"), (), now);
        assert!(third >= Duration::from_secs(2));
        backoff.clear(&key("a"));
        let after_clear = backoff.record_failure(&key("a"), (), now);
        assert!(after_clear <= Duration::from_secs(1));
    }
}
