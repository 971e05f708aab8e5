//! `Gcra`: the generic cell rate algorithm, the one rate limiter of the gateway. Each consumer's
//! allowance (`access::RateLimiter`) and the upstream budget's rate (`upstream::UpstreamBudget`)
//! are both one of these.
//!
//! The state is one atomic "theoretical arrival time", advanced by one interval per admitted
//! request, so admitting costs one compare-and-swap and no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A rate of one request per `interval`, with no burst of its own: how far ahead of now a
/// request may be scheduled is the caller's tolerance, given at each call.
#[derive(Debug)]
pub(crate) struct Gcra {
    origin: Instant,
    /// Nanoseconds between admitted requests at the sustained rate.
    interval: u64,
    /// The theoretical arrival time of the next request, in nanoseconds since `origin`.
    arrival: AtomicU64,
}

impl Gcra {
    /// A limiter of `per_second` requests a second (at least one in a million seconds, at most
    /// one a nanosecond), with no request admitted yet.
    pub(crate) fn new(per_second: f64) -> Self {
        let per_second = per_second.clamp(1e-6, 1e9);
        let interval = Duration::from_secs_f64(1.0 / per_second);
        Self {
            origin: Instant::now(),
            interval: nanos(interval).max(1),
            arrival: AtomicU64::new(0),
        }
    }

    /// Nanoseconds between admitted requests.
    pub(crate) fn interval_nanos(&self) -> u64 {
        self.interval
    }

    /// Takes the next slot at `now` if it comes at most `tolerance_nanos` after `now`: `Ok`
    /// with how long after `now` the slot begins (zero when the rate has room), or `Err` with
    /// how long until a call would succeed. A refused call takes nothing.
    pub(crate) fn reserve(&self, now: Instant, tolerance_nanos: u64) -> Result<Duration, Duration> {
        let now = nanos(now.saturating_duration_since(self.origin));
        let mut current = self.arrival.load(Ordering::Relaxed);
        loop {
            let arrival = current.max(now);
            let ahead = arrival - now;
            if ahead > tolerance_nanos {
                return Err(Duration::from_nanos(ahead - tolerance_nanos));
            }
            let next = arrival.saturating_add(self.interval);
            match self.arrival.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Duration::from_nanos(ahead)),
                Err(actual) => current = actual,
            }
        }
    }
}

/// `duration` in nanoseconds, saturating after 584 years.
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn slots_follow_each_other_one_interval_apart() {
        let gcra = Gcra::new(10.0);
        let now = Instant::now();
        assert_eq!(gcra.reserve(now, u64::MAX), Ok(Duration::ZERO));
        assert_eq!(gcra.reserve(now, u64::MAX), Ok(Duration::from_millis(100)));
        assert_eq!(gcra.reserve(now, u64::MAX), Ok(Duration::from_millis(200)));
    }

    #[test]
    fn a_slot_beyond_the_tolerance_is_refused_and_not_taken() {
        let gcra = Gcra::new(10.0);
        let now = Instant::now();
        assert!(gcra.reserve(now, 150 * MS).is_ok());
        assert!(gcra.reserve(now, 150 * MS).is_ok());
        assert_eq!(
            gcra.reserve(now, 150 * MS),
            Err(Duration::from_millis(50)),
            "the third slot begins 200 ms out, 50 ms past the tolerance"
        );
        assert_eq!(gcra.reserve(now, 200 * MS), Ok(Duration::from_millis(200)));
    }

    #[test]
    fn a_quiet_spell_gives_no_credit_beyond_the_tolerance() {
        let gcra = Gcra::new(10.0);
        let start = Instant::now();
        assert!(gcra.reserve(start, 0).is_ok());
        let later = start + Duration::from_secs(60);
        assert_eq!(gcra.reserve(later, 0), Ok(Duration::ZERO));
        assert!(gcra.reserve(later, 0).is_err());
    }
}
