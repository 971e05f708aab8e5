//! The gateway's Prometheus metrics: handles registered once per gateway instance (not in a
//! process-wide recorder, so several gateways in one test process count apart), incremented
//! with a single atomic add on the request path.

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::access::AccessMetrics;
use crate::admin::AdminMetrics;
use crate::cache::CacheUsage;
use crate::fetch::DriftMetrics;
use crate::render::StaleReason;
use crate::upstream::{BreakerState, ShedReason};

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

const UPSTREAM_LATENCY: &str = "alumio_gateway_upstream_latency_seconds";

/// Upstream outcome classes, used as the `class` label.
const UPSTREAM_CLASSES: [&str; 5] = ["2xx", "3xx", "4xx", "5xx", "error"];

/// Every metric the gateway records.
pub struct GatewayMetrics {
    handle: PrometheusHandle,
    /// Requests answered from a fresh cache entry.
    pub cache_hits: Counter,
    /// Requests that had to wait for Alumio (leaders and collapsed waiters).
    pub cache_misses: Counter,
    /// Requests that joined a fetch already under way for their key.
    pub coalesced_waiters: Counter,
    upstream_requests: [Counter; 5],
    /// How long Alumio took to answer, retries included.
    pub upstream_latency: Histogram,
    cache_entries: Gauge,
    cache_bytes: Gauge,
    /// Refreshes started in the background for stale-while-revalidate.
    pub background_refreshes: Counter,
    /// Failed fetches that put their key into backoff.
    pub backoffs: Counter,
    /// Requests answered from a key's backoff without asking Alumio.
    pub backoff_answers: Counter,
    /// Fetches refused because the circuit breaker was open.
    pub breaker_rejections: Counter,
    stale_served: [Counter; 2],
    breaker_state: Gauge,
    breaker_transitions: [Counter; 3],
    shed: [Counter; 3],
    /// Refused requests and consumers-file reloads.
    pub access: AccessMetrics,
    /// Purges through the admin API.
    pub admin: AdminMetrics,
    /// Relayed answers the typed model could not read.
    pub drift: DriftMetrics,
}

impl GatewayMetrics {
    /// Registers every metric with a recorder of its own.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(UPSTREAM_LATENCY.to_owned()),
                &[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ],
            )
            .map_or_else(
                |_| PrometheusBuilder::new().build_recorder(),
                PrometheusBuilder::build_recorder,
            );
        let counter = |name: &'static str, help: &'static str| {
            recorder.describe_counter(name.into(), None, help.into());
            recorder.register_counter(&Key::from_static_name(name), &METADATA)
        };
        let gauge = |name: &'static str, unit: Option<Unit>, help: &'static str| {
            recorder.describe_gauge(name.into(), unit, help.into());
            recorder.register_gauge(&Key::from_static_name(name), &METADATA)
        };
        let cache_hits = counter(
            "alumio_gateway_cache_hits_total",
            "Requests answered from a fresh cache entry",
        );
        let cache_misses = counter(
            "alumio_gateway_cache_misses_total",
            "Requests that waited for Alumio, collapsed waiters included",
        );
        let coalesced_waiters = counter(
            "alumio_gateway_coalesced_waiters_total",
            "Requests that joined a fetch already under way for the same key",
        );
        recorder.describe_counter(
            "alumio_gateway_upstream_requests_total".into(),
            None,
            "Requests sent to Alumio, by status class of the final reply (error: no reply)".into(),
        );
        let upstream_requests = UPSTREAM_CLASSES.map(|class| {
            let key = Key::from_parts(
                "alumio_gateway_upstream_requests_total",
                vec![Label::new("class", class)],
            );
            recorder.register_counter(&key, &METADATA)
        });
        recorder.describe_histogram(
            UPSTREAM_LATENCY.into(),
            Some(Unit::Seconds),
            "Time Alumio took to answer a fetch, retries included".into(),
        );
        let upstream_latency =
            recorder.register_histogram(&Key::from_static_name(UPSTREAM_LATENCY), &METADATA);
        let cache_entries = gauge(
            "alumio_gateway_cache_entries",
            Some(Unit::Count),
            "Entries held in the cache",
        );
        let cache_bytes = gauge(
            "alumio_gateway_cache_bytes",
            Some(Unit::Bytes),
            "Bytes held in the cache, as weighed per entry",
        );
        let labelled = |name: &'static str, label: &'static str, value: &'static str| {
            recorder.register_counter(
                &Key::from_parts(name, vec![Label::new(label, value)]),
                &METADATA,
            )
        };
        let background_refreshes = counter(
            "alumio_gateway_background_refreshes_total",
            "Refreshes started in the background while a stale copy was served",
        );
        let backoffs = counter(
            "alumio_gateway_key_backoffs_total",
            "Failed fetches that made their key back off",
        );
        let backoff_answers = counter(
            "alumio_gateway_backoff_answers_total",
            "Requests answered from a backing-off key's last failure without asking Alumio",
        );
        let breaker_rejections = counter(
            "alumio_gateway_breaker_rejections_total",
            "Fetches refused because the circuit breaker was open",
        );
        recorder.describe_counter(
            "alumio_gateway_stale_served_total".into(),
            None,
            "Stale copies served, by reason".into(),
        );
        let stale_served = [StaleReason::Revalidating, StaleReason::UpstreamFailed].map(|reason| {
            labelled(
                "alumio_gateway_stale_served_total",
                "reason",
                reason.as_str(),
            )
        });
        let breaker_state = gauge(
            "alumio_gateway_breaker_state",
            None,
            "Circuit breaker state: 0 closed, 1 open, 2 half-open",
        );
        recorder.describe_counter(
            "alumio_gateway_breaker_transitions_total".into(),
            None,
            "Circuit breaker state changes, by the state entered".into(),
        );
        let breaker_transitions = [
            BreakerState::Closed,
            BreakerState::Open,
            BreakerState::HalfOpen,
        ]
        .map(|state| {
            labelled(
                "alumio_gateway_breaker_transitions_total",
                "to",
                state.as_str(),
            )
        });
        recorder.describe_counter(
            "alumio_gateway_shed_total".into(),
            None,
            "Fetches shed by the upstream budget, by reason".into(),
        );
        let shed = [
            ShedReason::QueueFull,
            ShedReason::QueueTimeout,
            ShedReason::RateLimited,
        ]
        .map(|reason| labelled("alumio_gateway_shed_total", "reason", reason.as_str()));
        let access = AccessMetrics::register(&recorder);
        let admin = AdminMetrics::register(&recorder);
        let drift = DriftMetrics::register(&recorder);
        Self {
            access,
            admin,
            drift,
            background_refreshes,
            backoffs,
            backoff_answers,
            breaker_rejections,
            stale_served,
            breaker_state,
            breaker_transitions,
            shed,
            handle: recorder_handle(recorder),
            cache_hits,
            cache_misses,
            coalesced_waiters,
            upstream_requests,
            upstream_latency,
            cache_entries,
            cache_bytes,
        }
    }

    /// Counts one fetch from Alumio by its outcome: an HTTP status, or `None` when no reply came.
    pub fn record_upstream(&self, status: Option<http::StatusCode>, took: Duration) {
        let class = match status.map(|s| s.as_u16() / 100) {
            Some(2) => 0,
            Some(3) => 1,
            Some(4) => 2,
            Some(5) => 3,
            _ => 4,
        };
        self.upstream_requests[class].increment(1);
        self.upstream_latency.record(took.as_secs_f64());
    }

    /// Counts a stale copy served.
    pub fn record_stale(&self, reason: StaleReason) {
        let index = match reason {
            StaleReason::Revalidating => 0,
            StaleReason::UpstreamFailed => 1,
        };
        self.stale_served[index].increment(1);
    }

    /// Records the breaker entering `state`.
    pub fn record_breaker(&self, state: BreakerState) {
        self.breaker_state.set(state.as_gauge());
        let index = match state {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        };
        self.breaker_transitions[index].increment(1);
    }

    /// Counts a shed fetch.
    pub fn record_shed(&self, reason: ShedReason) {
        let index = match reason {
            ShedReason::QueueFull => 0,
            ShedReason::QueueTimeout => 1,
            ShedReason::RateLimited => 2,
        };
        self.shed[index].increment(1);
    }

    /// The Prometheus text exposition, with the cache gauges brought up to date first.
    pub fn render(&self, usage: CacheUsage) -> String {
        #[allow(clippy::cast_precision_loss)] // Gauges are f64; counts stay far below 2^53.
        {
            self.cache_entries.set(usage.entries as f64);
            self.cache_bytes.set(usage.bytes as f64);
        }
        self.handle.render()
    }

    /// Drains histogram samples into their buckets; call it now and then so they stay bounded.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

fn recorder_handle(recorder: PrometheusRecorder) -> PrometheusHandle {
    // The recorder's storage is shared with its handle; the handle alone keeps it alive.
    recorder.handle()
}
