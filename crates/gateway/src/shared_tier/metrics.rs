//! The shared tier's metrics, registered from the gateway's registry when the tier is built
//! and counted by named field: L2 hits and misses, errors by kind, leases by outcome, command
//! latency, breaker state, writes dropped because the write queue was full, and purges heard
//! from other replicas.

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Unit};

use super::breaker::RedisBreakerState;
use crate::metrics::{LabelledCounter, MetricLabel, MetricsRegistry};

/// What went wrong with Redis, as the `kind` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A command took longer than `--redis-command-timeout`.
    Timeout,
    /// No connection, or it broke.
    Connection,
    /// Redis answered something the gateway did not expect.
    Protocol,
    /// A stored value failed validation and was not served.
    Corrupt,
}

impl MetricLabel for ErrorKind {
    const NAME: &'static str = "kind";
    const ALL: &'static [Self] = &[
        Self::Timeout,
        Self::Connection,
        Self::Protocol,
        Self::Corrupt,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::Protocol => "protocol",
            Self::Corrupt => "corrupt",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How a replica's leader came by a key's lease, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// It took the free lease and fetched.
    Won,
    /// Another replica held it; this one waited for its answer.
    Waited,
    /// The holder's lease ran out or was released without an answer; this one took it.
    TakenOver,
}

impl MetricLabel for LeaseOutcome {
    const NAME: &'static str = "outcome";
    const ALL: &'static [Self] = &[Self::Won, Self::Waited, Self::TakenOver];

    fn as_str(self) -> &'static str {
        match self {
            Self::Won => "won",
            Self::Waited => "waited",
            Self::TakenOver => "taken_over",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of the shared tier; cheap to clone, all clones count together.
#[derive(Clone)]
pub struct SharedTierMetrics {
    /// Lookups answered by a fresh L2 value.
    pub hits: Counter,
    /// Lookups L2 could not answer fresh.
    pub misses: Counter,
    /// Failures, each of which sent its request on local-only.
    pub errors: LabelledCounter<ErrorKind>,
    /// Leases won, waited on and taken over.
    pub leases: LabelledCounter<LeaseOutcome>,
    command_seconds: Histogram,
    breaker_state: Gauge,
    /// L2 writes dropped because too many were already queued.
    pub dropped_writes: Counter,
    /// Purges made on other replicas and applied here.
    pub purges_applied: Counter,
}

impl SharedTierMetrics {
    /// Registers the metrics with `registry`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        Self {
            hits: registry.counter(
                "alumio_gateway_shared_hits_total",
                "L1 misses answered by a fresh value from the shared tier",
            ),
            misses: registry.counter(
                "alumio_gateway_shared_misses_total",
                "L1 misses the shared tier could not answer fresh",
            ),
            errors: registry.labelled_counter(
                "alumio_gateway_shared_errors_total",
                "Shared tier failures, by kind; each one sent its request on local-only",
            ),
            leases: registry.labelled_counter(
                "alumio_gateway_shared_leases_total",
                "Fetch leases of the shared tier, by outcome",
            ),
            command_seconds: registry.histogram(
                "alumio_gateway_shared_command_seconds",
                Some(Unit::Seconds),
                "Time one shared tier command took, timeouts included",
            ),
            breaker_state: registry.gauge(
                "alumio_gateway_shared_breaker_state",
                None,
                "Shared tier breaker: 0 closed, 1 open (local-only), 2 half-open",
            ),
            dropped_writes: registry.counter(
                "alumio_gateway_shared_dropped_writes_total",
                "Shared tier writes dropped because the write queue was full",
            ),
            purges_applied: registry.counter(
                "alumio_gateway_shared_purges_applied_total",
                "Purges made on other replicas and applied to this one",
            ),
        }
    }

    /// Counts one failure.
    pub fn record_error(&self, kind: ErrorKind) {
        self.errors.increment(kind);
    }

    /// Counts one lease outcome.
    pub fn record_lease(&self, outcome: LeaseOutcome) {
        self.leases.increment(outcome);
    }

    /// Records how long one command took.
    pub fn record_command(&self, took: Duration) {
        self.command_seconds.record(took.as_secs_f64());
    }

    /// Records the breaker's state.
    pub fn record_breaker(&self, state: RedisBreakerState) {
        self.breaker_state.set(state.as_gauge());
    }
}
