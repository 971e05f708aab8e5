//! `CircuitBreaker`: after a run of upstream failures, stop sending Alumio requests for a
//! cool-down, then let one probe through to find out whether it is back.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::metrics::MetricLabel;

/// When the breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before a probe is let through.
    pub cool_down: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(10),
        }
    }
}

/// The breaker's state, as shown in metrics and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; failures are being counted.
    Closed,
    /// Requests are refused until the cool-down ends.
    Open,
    /// One probe is testing whether Alumio is back.
    HalfOpen,
}

impl BreakerState {
    /// The state as a lowercase word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }

    /// The state as a number for a gauge: 0 closed, 1 open, 2 half-open.
    pub fn as_gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
        }
    }
}

/// As a label, the state a transition enters (`to`).
impl MetricLabel for BreakerState {
    const NAME: &'static str = "to";
    const ALL: &'static [Self] = &[Self::Closed, Self::Open, Self::HalfOpen];

    fn as_str(self) -> &'static str {
        Self::as_str(self)
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
enum Inner {
    Closed { consecutive_failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// A breaker shared by every fetch to one upstream.
#[derive(Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

/// Leave to send one request; it must report how the request went. Dropping it unreported
/// (a fetch that panicked) counts as a failure, so a lost probe cannot wedge the breaker.
#[derive(Debug)]
#[must_use]
pub struct BreakerTicket<'a> {
    breaker: &'a CircuitBreaker,
    reported: bool,
}

/// A state change, for metrics and logs.
pub type Transition = Option<BreakerState>;

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self {
            settings,
            inner: Mutex::new(Inner::Closed {
                consecutive_failures: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen => BreakerState::HalfOpen,
        }
    }

    /// Leave to send a request, or how long until asking again makes sense. The second value
    /// is a state change this call made (open to half-open).
    pub fn admit(&self, now: Instant) -> (Result<BreakerTicket<'_>, Duration>, Transition) {
        let mut inner = self.lock();
        match *inner {
            Inner::Closed { .. } => (Ok(self.ticket()), None),
            Inner::Open { until } if now < until => (Err(until - now), None),
            Inner::Open { .. } => {
                *inner = Inner::HalfOpen;
                (Ok(self.ticket()), Some(BreakerState::HalfOpen))
            }
            // A probe is already out; everyone else waits for its verdict.
            Inner::HalfOpen => (Err(self.settings.cool_down), None),
        }
    }

    fn ticket(&self) -> BreakerTicket<'_> {
        BreakerTicket {
            breaker: self,
            reported: false,
        }
    }

    fn record(&self, success: bool, now: Instant) -> Transition {
        let mut inner = self.lock();
        let (next, transition) = match (&*inner, success) {
            (Inner::Closed { .. }, true) => (
                Inner::Closed {
                    consecutive_failures: 0,
                },
                None,
            ),
            (Inner::HalfOpen | Inner::Open { .. }, true) => (
                Inner::Closed {
                    consecutive_failures: 0,
                },
                Some(BreakerState::Closed),
            ),
            (
                Inner::Closed {
                    consecutive_failures,
                },
                false,
            ) => {
                let failures = consecutive_failures + 1;
                if failures >= self.settings.failure_threshold {
                    (
                        Inner::Open {
                            until: now + self.settings.cool_down,
                        },
                        Some(BreakerState::Open),
                    )
                } else {
                    (
                        Inner::Closed {
                            consecutive_failures: failures,
                        },
                        None,
                    )
                }
            }
            (Inner::HalfOpen, false) => (
                Inner::Open {
                    until: now + self.settings.cool_down,
                },
                Some(BreakerState::Open),
            ),
            // Requests admitted before the breaker opened may still fail; it is open already.
            (Inner::Open { until }, false) => (Inner::Open { until: *until }, None),
        };
        *inner = next;
        transition
    }
}

impl BreakerTicket<'_> {
    /// Gives the leave back unused (the request was never sent): a probe's turn passes to the
    /// next request, and nothing is counted.
    pub fn abandon(mut self) {
        self.reported = true;
        let mut inner = self.breaker.lock();
        if matches!(*inner, Inner::HalfOpen) {
            *inner = Inner::Open {
                until: Instant::now(),
            };
        }
    }

    /// Reports how the request went; returns the state change it caused, if any.
    pub fn report(mut self, success: bool) -> Transition {
        self.reported = true;
        self.breaker.record(success, Instant::now())
    }
}

impl Drop for BreakerTicket<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.record(false, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerSettings {
            failure_threshold: 3,
            cool_down: Duration::from_secs(10),
        })
    }

    fn fail(breaker: &CircuitBreaker) -> Transition {
        breaker
            .admit(Instant::now())
            .0
            .expect("admitted")
            .report(false)
    }

    #[test]
    fn a_run_of_failures_opens_it_and_a_success_resets_the_run() {
        let breaker = breaker();
        assert_eq!(fail(&breaker), None);
        assert_eq!(fail(&breaker), None);
        assert_eq!(breaker.admit(Instant::now()).0.unwrap().report(true), None);
        assert_eq!(fail(&breaker), None);
        assert_eq!(fail(&breaker), None);
        assert_eq!(fail(&breaker), Some(BreakerState::Open));
        assert_eq!(breaker.state(), BreakerState::Open);
        let (refused, _) = breaker.admit(Instant::now());
        assert!(refused.unwrap_err() <= Duration::from_secs(10));
    }

    #[test]
    fn a_circuit_open_503_never_asks_a_client_back_before_the_breaker_admits() {
        use axum::response::IntoResponse;

        let breaker = CircuitBreaker::new(BreakerSettings {
            failure_threshold: 1,
            cool_down: Duration::from_millis(1200),
        });
        let _ = fail(&breaker);
        let asked = Instant::now();
        let retry_after = breaker.admit(asked).0.unwrap_err();
        let response = crate::error::GatewayError::CircuitOpen { retry_after }.into_response();
        let header = response.headers()[http::header::RETRY_AFTER]
            .to_str()
            .unwrap();
        assert_eq!(
            header, "2",
            "1.2 s of cool-down at most is left; 1 would be early"
        );
        let secs: u64 = header.parse().unwrap();
        let (admitted, _) = breaker.admit(asked + Duration::from_secs(secs));
        assert!(
            admitted.is_ok(),
            "a client back after Retry-After is let through"
        );
    }

    #[test]
    fn after_the_cool_down_one_probe_decides() {
        let breaker = breaker();
        for _ in 0..3 {
            let _ = fail(&breaker);
        }
        let later = Instant::now() + Duration::from_secs(11);
        let (probe, transition) = breaker.admit(later);
        assert_eq!(transition, Some(BreakerState::HalfOpen));
        let probe = probe.expect("the probe is let through");
        assert!(breaker.admit(later).0.is_err(), "only one probe at a time");
        assert_eq!(probe.report(true), Some(BreakerState::Closed));
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let breaker = breaker();
        for _ in 0..3 {
            let _ = fail(&breaker);
        }
        let later = Instant::now() + Duration::from_secs(11);
        let probe = breaker.admit(later).0.unwrap();
        assert_eq!(probe.report(false), Some(BreakerState::Open));
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_request_probe() {
        let breaker = breaker();
        for _ in 0..3 {
            let _ = fail(&breaker);
        }
        let later = Instant::now() + Duration::from_secs(11);
        breaker.admit(later).0.unwrap().abandon();
        let (next, transition) = breaker.admit(later);
        assert!(next.is_ok());
        assert_eq!(transition, Some(BreakerState::HalfOpen));
    }

    #[test]
    fn a_dropped_probe_counts_as_a_failure() {
        let breaker = breaker();
        for _ in 0..3 {
            let _ = fail(&breaker);
        }
        let later = Instant::now() + Duration::from_secs(11);
        drop(breaker.admit(later).0.unwrap());
        assert_eq!(breaker.state(), BreakerState::Open);
    }
}
