//! `RateLimiter`: each consumer's own allowance of requests per second with a burst, so one
//! noisy consumer is turned away without slowing the others.
//!
//! It is the generic cell rate algorithm: one atomic "theoretical arrival time" per consumer,
//! advanced by one interval per admitted request, so admitting costs one compare-and-swap and
//! no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    origin: Instant,
    /// Nanoseconds between admitted requests at the sustained rate.
    interval: u64,
    /// How far ahead of now the arrival time may run: the burst, less the request at hand.
    tolerance: u64,
    /// The theoretical arrival time of the next request, in nanoseconds since `origin`.
    arrival: AtomicU64,
}

impl RateLimiter {
    /// A limiter with a full burst available. The limit must be within the bounds the consumers
    /// file checks; values outside are clamped.
    pub fn new(limit: RateLimit) -> Self {
        let per_second = limit.per_second.clamp(1e-6, MAX_RATE_PER_SECOND);
        let interval = Duration::from_secs_f64(1.0 / per_second);
        let interval = u64::try_from(interval.as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        let burst = u64::from(limit.burst.clamp(1, MAX_BURST));
        Self {
            limit,
            origin: Instant::now(),
            interval,
            tolerance: interval.saturating_mul(burst - 1),
            arrival: AtomicU64::new(0),
        }
    }

    /// The limit it enforces.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Admits a request at `now`, or says how long until one would be admitted.
    pub fn try_acquire(&self, now: Instant) -> Result<(), Duration> {
        let now = u64::try_from(now.saturating_duration_since(self.origin).as_nanos())
            .unwrap_or(u64::MAX);
        let mut current = self.arrival.load(Ordering::Relaxed);
        loop {
            let arrival = current.max(now);
            let ahead = arrival - now;
            if ahead > self.tolerance {
                return Err(Duration::from_nanos(ahead - self.tolerance));
            }
            let next = arrival.saturating_add(self.interval);
            match self.arrival.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
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
