//! `RetryPolicy`: how often and how long a request is tried, with exponential backoff, full
//! jitter and `Retry-After`, all within one overall deadline.

use std::time::{Duration, SystemTime};

use http::HeaderValue;

/// How a request is retried. Only connection failures, timeouts, resets and the replies `429`,
/// `502`, `503` and `504` are retried; every other reply is returned at once.
///
/// ```
/// use std::time::Duration;
/// use alumio_transport::RetryPolicy;
///
/// let patient = RetryPolicy { max_attempts: 5, overall_deadline: Duration::from_secs(30), ..RetryPolicy::default() };
/// assert_eq!(patient.initial_backoff, Duration::from_millis(100));
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How many times the request is sent at most, the first time included (default 3, at
    /// least 1).
    pub max_attempts: u32,
    /// The backoff ceiling before the second attempt; it doubles for each later one
    /// (default 100 ms). The wait is drawn uniformly between zero and the ceiling.
    pub initial_backoff: Duration,
    /// The largest backoff ceiling (default 2 s).
    pub max_backoff: Duration,
    /// The time all attempts and waits of one call must fit in (default 15 s).
    pub overall_deadline: Duration,
    /// The longest `Retry-After` honoured (default 5 s); a reply asking for a longer wait is
    /// returned instead of retried.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// One attempt, no retries; the overall deadline still applies.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `next_attempt` (2 for the first retry): a uniformly random
    /// duration between zero and `min(max_backoff, initial_backoff * 2^(next_attempt - 2))`.
    pub(crate) fn backoff(&self, next_attempt: u32) -> Duration {
        let doublings = next_attempt.saturating_sub(2).min(31);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(..=ceiling_nanos))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            overall_deadline: Duration::from_secs(15),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

/// The wait a `Retry-After` value asks for: delay-seconds or an HTTP-date (a date in the past
/// means no wait). `None` when the value is neither.
pub(crate) fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings still mean "too long to wait".
        return Some(Duration::from_secs(text.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parse = |text: &'static str| parse_retry_after(&HeaderValue::from_static(text), now);
        assert_eq!(parse("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let later = HeaderValue::from_str(&later).unwrap();
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse("-1"), None);
        assert_eq!(parse("soon"), None);
    }

    #[test]
    fn backoff_stays_under_its_doubling_ceiling() {
        let policy = RetryPolicy::default();
        for _ in 0..200 {
            assert!(policy.backoff(2) <= Duration::from_millis(100));
            assert!(policy.backoff(3) <= Duration::from_millis(200));
            assert!(policy.backoff(40) <= Duration::from_secs(2));
        }
    }
}
