//! The fetcher's metrics: what was asked of Alumio and how it went, how fetches were coalesced,
//! backed off, refused by the breaker or shed by the budget. Handed to the `Fetcher` when it is
//! built.

use std::time::Duration;

use http::StatusCode;
use metrics::{Counter, Gauge, Histogram, Unit};

use super::DriftKind;
use crate::metrics::{LabelledCounter, MetricLabel, MetricsRegistry};
use crate::upstream::{BreakerState, ShedReason};

/// The class of Alumio's final reply to a fetch, as the `class` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamClass {
    /// 2xx.
    Success,
    /// 3xx.
    Redirect,
    /// 4xx.
    ClientError,
    /// 5xx.
    ServerError,
    /// No reply came (or a status outside 200-599).
    NoReply,
}

impl UpstreamClass {
    /// The class of a reply with `status`, or of no reply.
    pub fn of(status: Option<StatusCode>) -> Self {
        match status.map(|status| status.as_u16() / 100) {
            Some(2) => Self::Success,
            Some(3) => Self::Redirect,
            Some(4) => Self::ClientError,
            Some(5) => Self::ServerError,
            _ => Self::NoReply,
        }
    }
}

impl MetricLabel for UpstreamClass {
    const NAME: &'static str = "class";
    const ALL: &'static [Self] = &[
        Self::Success,
        Self::Redirect,
        Self::ClientError,
        Self::ServerError,
        Self::NoReply,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "2xx",
            Self::Redirect => "3xx",
            Self::ClientError => "4xx",
            Self::ServerError => "5xx",
            Self::NoReply => "error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of the fetcher; cheap to clone, all clones count together.
#[derive(Clone)]
pub struct FetchMetrics {
    /// Requests that joined a fetch already under way for their key.
    pub coalesced_waiters: Counter,
    /// Requests sent to Alumio, by class of the final reply.
    pub upstream_requests: LabelledCounter<UpstreamClass>,
    /// How long Alumio took to answer, retries included.
    pub upstream_latency: Histogram,
    /// Refreshes started in the background for stale-while-revalidate.
    pub background_refreshes: Counter,
    /// Failed fetches that put their key into backoff.
    pub backoffs: Counter,
    /// Requests answered from a key's backoff without asking Alumio.
    pub backoff_answers: Counter,
    /// Fetches refused because the circuit breaker was open.
    pub breaker_rejections: Counter,
    /// The breaker's state now.
    breaker_state: Gauge,
    /// Breaker state changes, by the state entered.
    breaker_transitions: LabelledCounter<BreakerState>,
    /// Fetches shed by the upstream budget, by reason.
    pub shed: LabelledCounter<ShedReason>,
    /// Relayed answers the typed model could not read, by kind.
    pub unexpected_shape: LabelledCounter<DriftKind>,
}

impl FetchMetrics {
    /// Registers the fetcher's metrics with `registry`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        Self {
            coalesced_waiters: registry.counter(
                "alumio_gateway_coalesced_waiters_total",
                "Requests that joined a fetch already under way for the same key",
            ),
            upstream_requests: registry.labelled_counter(
                "alumio_gateway_upstream_requests_total",
                "Requests sent to Alumio, by status class of the final reply (error: no reply)",
            ),
            upstream_latency: registry.histogram(
                "alumio_gateway_upstream_latency_seconds",
                Some(Unit::Seconds),
                "Time Alumio took to answer a fetch, retries included",
            ),
            background_refreshes: registry.counter(
                "alumio_gateway_background_refreshes_total",
                "Refreshes started in the background while a stale copy was served",
            ),
            backoffs: registry.counter(
                "alumio_gateway_key_backoffs_total",
                "Failed fetches that made their key back off",
            ),
            backoff_answers: registry.counter(
                "alumio_gateway_backoff_answers_total",
                "Requests answered from a backing-off key's last failure without asking Alumio",
            ),
            breaker_rejections: registry.counter(
                "alumio_gateway_breaker_rejections_total",
                "Fetches refused because the circuit breaker was open",
            ),
            breaker_state: registry.gauge(
                "alumio_gateway_breaker_state",
                None,
                "Circuit breaker state: 0 closed, 1 open, 2 half-open",
            ),
            breaker_transitions: registry.labelled_counter(
                "alumio_gateway_breaker_transitions_total",
                "Circuit breaker state changes, by the state entered",
            ),
            shed: registry.labelled_counter(
                "alumio_gateway_shed_total",
                "Fetches shed by the upstream budget, by reason",
            ),
            unexpected_shape: registry.labelled_counter(
                "alumio_gateway_upstream_unexpected_shape_total",
                "Answers relayed from Alumio that the typed model could not read, by kind",
            ),
        }
    }

    /// Counts one fetch from Alumio by its outcome: an HTTP status, or `None` when no reply came.
    pub fn record_upstream(&self, status: Option<StatusCode>, took: Duration) {
        self.upstream_requests.increment(UpstreamClass::of(status));
        self.upstream_latency.record(took.as_secs_f64());
    }

    /// Records the breaker entering `state`.
    pub fn record_breaker(&self, state: BreakerState) {
        self.breaker_state.set(state.as_gauge());
        self.breaker_transitions.increment(state);
    }
}
