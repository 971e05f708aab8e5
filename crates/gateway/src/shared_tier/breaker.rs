//! The Redis breaker: after a run of failed commands the replica stops asking Redis for a
//! cool-down (local-only mode: L1 and local coalescing), then lets one probe through, and
//! comes back by itself when the probe succeeds.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Consecutive failed commands that open the breaker.
pub(super) const FAILURE_THRESHOLD: u32 = 3;
/// How long the open breaker keeps the replica local-only before probing.
pub(super) const COOL_DOWN: Duration = Duration::from_secs(2);

/// The breaker's state, as the gauge and `/readyz` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisBreakerState {
    /// Commands go to Redis.
    Closed,
    /// Local-only until the cool-down passes.
    Open,
    /// One probe is out; everything else stays local.
    HalfOpen,
}

impl RedisBreakerState {
    /// The state as `/readyz` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }

    /// The gauge value: 0 closed, 1 open, 2 half-open.
    pub fn as_gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: RedisBreakerState,
    failures: u32,
    opened_at: Instant,
}

/// Counts failures and decides whether a command may go to Redis.
#[derive(Debug)]
pub(super) struct RedisBreaker {
    inner: Mutex<Inner>,
    threshold: u32,
    cool_down: Duration,
}

impl RedisBreaker {
    /// A closed breaker.
    pub(super) fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner {
                state: RedisBreakerState::Closed,
                failures: 0,
                opened_at: Instant::now(),
            }),
            threshold: threshold.max(1),
            cool_down,
        }
    }

    /// Whether a command may be sent at `now`; past the cool-down the first caller becomes
    /// the probe and the breaker turns half-open.
    pub(super) fn allow(&self, now: Instant) -> bool {
        let mut inner = self.lock();
        match inner.state {
            RedisBreakerState::Closed => true,
            RedisBreakerState::HalfOpen => false,
            RedisBreakerState::Open => {
                if now.saturating_duration_since(inner.opened_at) >= self.cool_down {
                    inner.state = RedisBreakerState::HalfOpen;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Records a command's outcome at `now`; returns the state entered, if it changed.
    pub(super) fn record(&self, ok: bool, now: Instant) -> Option<RedisBreakerState> {
        let mut inner = self.lock();
        let before = inner.state;
        if ok {
            inner.failures = 0;
            inner.state = RedisBreakerState::Closed;
        } else {
            inner.failures = inner.failures.saturating_add(1);
            let reopen = before == RedisBreakerState::HalfOpen;
            if reopen || (before == RedisBreakerState::Closed && inner.failures >= self.threshold) {
                inner.state = RedisBreakerState::Open;
                inner.opened_at = now;
            }
        }
        (inner.state != before).then_some(inner.state)
    }

    /// The state now.
    pub(super) fn state(&self) -> RedisBreakerState {
        self.lock().state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Each change is a few assignments; a panicking holder leaves it consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(2);

    #[test]
    fn a_run_of_failures_opens_it_and_a_success_resets_the_run() {
        let breaker = RedisBreaker::new(3, COOL);
        let now = Instant::now();
        assert_eq!(breaker.record(false, now), None);
        assert_eq!(breaker.record(false, now), None);
        assert_eq!(breaker.record(true, now), None, "a success resets the run");
        assert_eq!(breaker.record(false, now), None);
        assert_eq!(breaker.record(false, now), None);
        assert_eq!(breaker.record(false, now), Some(RedisBreakerState::Open));
        assert!(
            !breaker.allow(now + COOL / 2),
            "local-only while cooling down"
        );
    }

    #[test]
    fn after_the_cool_down_one_probe_decides() {
        let breaker = RedisBreaker::new(1, COOL);
        let opened = Instant::now();
        breaker.record(false, opened);
        let later = opened + COOL;
        assert!(breaker.allow(later), "the first caller probes");
        assert_eq!(breaker.state(), RedisBreakerState::HalfOpen);
        assert!(!breaker.allow(later), "only one probe at a time");
        assert_eq!(
            breaker.record(false, later),
            Some(RedisBreakerState::Open),
            "a failed probe reopens it"
        );
        assert!(!breaker.allow(later + COOL / 2));
        assert!(breaker.allow(later + COOL));
        assert_eq!(
            breaker.record(true, later + COOL),
            Some(RedisBreakerState::Closed)
        );
        assert!(breaker.allow(later + COOL));
    }
}
