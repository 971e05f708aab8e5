//! The cache's metrics: how requests were answered (hit, miss, stale) and how full the cache
//! is, registered on the gateway's registry when the state is built.

use metrics::{Counter, Gauge, Unit};

use super::CacheUsage;
use crate::entry::StaleReason;
use crate::metrics::{LabelledCounter, MetricsRegistry};

/// Counters and gauges of the cache; cheap to clone, all clones count together.
#[derive(Clone)]
pub struct CacheMetrics {
    /// Requests answered from a fresh cache entry.
    pub hits: Counter,
    /// Requests that had to wait for Alumio (leaders and collapsed waiters).
    pub misses: Counter,
    /// Stale copies served, by reason.
    pub stale_served: LabelledCounter<StaleReason>,
    entries: Gauge,
    bytes: Gauge,
}

impl CacheMetrics {
    /// Registers the cache's metrics with `registry`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        Self {
            hits: registry.counter(
                "alumio_gateway_cache_hits_total",
                "Requests answered from a fresh cache entry",
            ),
            misses: registry.counter(
                "alumio_gateway_cache_misses_total",
                "Requests that waited for Alumio, collapsed waiters included",
            ),
            stale_served: registry.labelled_counter(
                "alumio_gateway_stale_served_total",
                "Stale copies served, by reason",
            ),
            entries: registry.gauge(
                "alumio_gateway_cache_entries",
                Some(Unit::Count),
                "Entries held in the cache",
            ),
            bytes: registry.gauge(
                "alumio_gateway_cache_bytes",
                Some(Unit::Bytes),
                "Bytes held in the cache, as weighed per entry",
            ),
        }
    }

    /// Brings the gauges up to date with `usage`, before the metrics are rendered.
    pub fn observe(&self, usage: CacheUsage) {
        #[allow(clippy::cast_precision_loss)] // Gauges are f64; counts stay far below 2^53.
        {
            self.entries.set(usage.entries as f64);
            self.bytes.set(usage.bytes as f64);
        }
    }
}
