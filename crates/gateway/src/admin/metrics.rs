//! The admin metrics: purges by scope, registered on the gateway's registry when the admin
//! router is built.

use crate::key::{PurgeKind, PurgeScope};
use crate::metrics::{LabelledCounter, MetricsRegistry};

/// Counters of admin actions; cheap to clone, all clones count together.
#[derive(Clone)]
pub struct AdminMetrics {
    purges: LabelledCounter<PurgeKind>,
}

impl AdminMetrics {
    /// Registers the counters with `registry`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        Self {
            purges: registry.labelled_counter(
                "alumio_gateway_purges_total",
                "Cache purges through the admin API, by scope",
            ),
        }
    }

    /// Counts one purge.
    pub fn record_purge(&self, scope: &PurgeScope) {
        self.purges.increment(scope.kind());
    }
}
