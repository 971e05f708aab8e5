//! `RateLimiter`: each consumer's own allowance of requests per second with a burst, so one
//! noisy consumer is turned away without slowing the others.
//!
//! It is the gateway's one GCRA (`crate::gcra`), which lets the arrival time run ahead of now
//! by the burst: admitting costs one compare-and-swap and no lock.

use std::time::{Duration, Instant};

use crate::gcra::Gcra;

/// Highest rate a consumers file may set.
pub(crate) const MAX_RATE_PER_SECOND: f64 = 1_000_000.0;

/// Largest burst a consumers file may set.
pub(crate) const MAX_BURST: u32 = 1_000_000;

/// A consumer's allowance, as the consumers file states it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (fractions allowed: `0.5` is one every two seconds).
    pub per_second: f64,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
}

/// The running limiter of one consumer.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    gcra: Gcra,
    /// How far ahead of now the arrival time may run, in nanoseconds: the burst, less the
    /// request at hand.
    tolerance: u64,
}

impl RateLimiter {
    /// A limiter with a full burst available. The limit must be within the bounds the consumers
    /// file checks; values outside are clamped.
    pub fn new(limit: RateLimit) -> Self {
        let gcra = Gcra::new(limit.per_second.clamp(1e-6, MAX_RATE_PER_SECOND));
        let burst = u64::from(limit.burst.clamp(1, MAX_BURST));
        Self {
            limit,
            tolerance: gcra.interval_nanos().saturating_mul(burst - 1),
            gcra,
        }
    }

    /// The limit it enforces.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Admits a request at `now`, or says how long until one would be admitted.
    pub fn try_acquire(&self, now: Instant) -> Result<(), Duration> {
        self.gcra.reserve(now, self.tolerance).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_admitted_then_the_next_request_waits() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 3,
        });
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.try_acquire(now), Ok(()));
        }
        let wait = limiter.try_acquire(now).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
    }

    #[test]
    fn the_allowance_comes_back_at_the_sustained_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 1,
        });
        let start = Instant::now();
        assert_eq!(limiter.try_acquire(start), Ok(()));
        assert!(
            limiter
                .try_acquire(start + Duration::from_millis(50))
                .is_err()
        );
        assert_eq!(
            limiter.try_acquire(start + Duration::from_millis(100)),
            Ok(())
        );
        // A long quiet spell refills the burst, but never beyond it.
        let later = start + Duration::from_secs(60);
        assert_eq!(limiter.try_acquire(later), Ok(()));
        assert!(limiter.try_acquire(later).is_err());
    }

    #[test]
    fn fractional_rates_space_requests_seconds_apart() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0.5,
            burst: 1,
        });
        let start = Instant::now();
        assert_eq!(limiter.try_acquire(start), Ok(()));
        let wait = limiter.try_acquire(start).unwrap_err();
        assert!(wait > Duration::from_millis(1900), "{wait:?}");
        assert_eq!(limiter.try_acquire(start + Duration::from_secs(2)), Ok(()));
    }
}
