//! `UpstreamBudget`: at most so many requests in flight to Alumio, optionally at most so many
//! per second, with a bounded queue in front; whatever does not fit is shed at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::gcra::{Gcra, nanos};
use crate::metrics::MetricLabel;

/// The budget's limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetSettings {
    /// Requests in flight to Alumio at once.
    pub max_concurrency: usize,
    /// Requests per second to Alumio, if limited.
    pub max_rate: Option<f64>,
    /// Fetches that may wait for a slot.
    pub max_queue: usize,
    /// Longest a fetch waits for a slot.
    pub queue_timeout: Duration,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        Self {
            max_concurrency: 32,
            max_rate: None,
            max_queue: 1024,
            queue_timeout: Duration::from_secs(2),
        }
    }
}

/// Why a fetch was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedReason {
    /// The queue was full.
    QueueFull,
    /// No slot came free in time.
    QueueTimeout,
    /// The rate limit would have made it wait too long.
    RateLimited,
}

impl ShedReason {
    /// The reason as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueFull => "queue-full",
            Self::QueueTimeout => "queue-timeout",
            Self::RateLimited => "rate-limited",
        }
    }
}

impl MetricLabel for ShedReason {
    const NAME: &'static str = "reason";
    const ALL: &'static [Self] = &[Self::QueueFull, Self::QueueTimeout, Self::RateLimited];

    fn as_str(self) -> &'static str {
        Self::as_str(self)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Shared by every fetch to one upstream.
#[derive(Debug)]
pub struct UpstreamBudget {
    settings: BudgetSettings,
    slots: Semaphore,
    queued: AtomicUsize,
    /// The rate limit, if any: the gateway's one GCRA, whose slots may run ahead of now by as
    /// long as a fetch may wait.
    rate: Option<Gcra>,
}

/// A slot to send one request; dropping it frees the slot.
#[derive(Debug)]
pub struct UpstreamPermit<'a> {
    _slot: SemaphorePermit<'a>,
}

/// Takes one place in the queue and gives it back however the wait ends.
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl UpstreamBudget {
    /// A budget with `settings`.
    pub fn new(settings: BudgetSettings) -> Self {
        Self {
            slots: Semaphore::new(settings.max_concurrency.max(1)),
            settings,
            queued: AtomicUsize::new(0),
            rate: settings.max_rate.map(Gcra::new),
        }
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.settings.max_concurrency.max(1) - self.slots.available_permits()
    }

    /// Waits for leave to send one request, or sheds it.
    pub async fn acquire(&self) -> Result<UpstreamPermit<'_>, ShedReason> {
        let deadline = Instant::now() + self.settings.queue_timeout;
        if let Some(rate) = &self.rate {
            let now = Instant::now();
            // A slot that would start after the deadline is refused without taking a place.
            let wait = rate
                .reserve(now, nanos(deadline.saturating_duration_since(now)))
                .map_err(|_| ShedReason::RateLimited)?;
            if !wait.is_zero() {
                tokio::time::sleep_until((now + wait).into()).await;
            }
        }
        if let Ok(slot) = self.slots.try_acquire() {
            return Ok(UpstreamPermit { _slot: slot });
        }
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.settings.max_queue {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(ShedReason::QueueFull);
        }
        let _place = QueuePlace(&self.queued);
        match tokio::time::timeout_at(deadline.into(), self.slots.acquire()).await {
            Ok(Ok(slot)) => Ok(UpstreamPermit { _slot: slot }),
            // The semaphore is never closed; a closed one would mean shutting down.
            Ok(Err(_)) | Err(_) => Err(ShedReason::QueueTimeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(max_concurrency: usize, max_queue: usize, queue_timeout: Duration) -> UpstreamBudget {
        UpstreamBudget::new(BudgetSettings {
            max_concurrency,
            max_rate: None,
            max_queue,
            queue_timeout,
        })
    }

    #[tokio::test]
    async fn slots_are_limited_and_freed_on_drop() {
        let budget = budget(2, 0, Duration::from_millis(10));
        let first = budget.acquire().await.unwrap();
        let _second = budget.acquire().await.unwrap();
        assert_eq!(budget.in_flight(), 2);
        assert_eq!(budget.acquire().await.unwrap_err(), ShedReason::QueueFull);
        drop(first);
        assert!(budget.acquire().await.is_ok());
    }

    #[tokio::test]
    async fn a_queued_fetch_gives_up_at_the_queue_timeout() {
        let budget = budget(1, 10, Duration::from_millis(50));
        let _held = budget.acquire().await.unwrap();
        let started = Instant::now();
        assert_eq!(
            budget.acquire().await.unwrap_err(),
            ShedReason::QueueTimeout
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(
            budget.queued.load(Ordering::Acquire),
            0,
            "the place was given back"
        );
    }

    #[tokio::test]
    async fn a_queued_fetch_gets_a_freed_slot() {
        let budget = std::sync::Arc::new(budget(1, 10, Duration::from_secs(5)));
        let held = budget.acquire().await.unwrap();
        let waiter = {
            let budget = std::sync::Arc::clone(&budget);
            tokio::spawn(async move { budget.acquire().await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert_eq!(waiter.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn the_rate_limit_spaces_requests_and_sheds_what_would_wait_too_long() {
        let budget = UpstreamBudget::new(BudgetSettings {
            max_concurrency: 100,
            max_rate: Some(10.0),
            max_queue: 100,
            queue_timeout: Duration::from_millis(250),
        });
        let started = Instant::now();
        let mut admitted = 0;
        let mut shed = 0;
        for _ in 0..6 {
            match budget.acquire().await {
                Ok(_) => admitted += 1,
                Err(reason) => {
                    assert_eq!(reason, ShedReason::RateLimited);
                    shed += 1;
                }
            }
        }
        // At 10/s, requests start 100 ms apart; all six fit their own 250 ms window when
        // taken one after another, but never faster than the rate.
        assert_eq!(admitted + shed, 6);
        assert!(started.elapsed() >= Duration::from_millis(100 * (admitted - 1)));
    }
}
