//! The access metrics: refused requests by reason and consumers-file reloads by result,
//! registered on the gateway's registry when the state is built.

use crate::metrics::{LabelledCounter, MetricLabel, MetricsRegistry};

/// Why a request was refused, as the `reason` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialReason {
    /// No `Authorization: Bearer` key.
    MissingKey,
    /// A key no consumer has.
    UnknownKey,
    /// A known consumer asked for a space it may not read.
    Space,
    /// A known consumer is over its rate.
    RateLimited,
    /// The admin API was called without its token.
    AdminToken,
}

impl DenialReason {
    /// The reason as a label value and log word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingKey => "missing-key",
            Self::UnknownKey => "unknown-key",
            Self::Space => "space",
            Self::RateLimited => "rate-limited",
            Self::AdminToken => "admin-token",
        }
    }
}

impl MetricLabel for DenialReason {
    const NAME: &'static str = "reason";
    const ALL: &'static [Self] = &[
        Self::MissingKey,
        Self::UnknownKey,
        Self::Space,
        Self::RateLimited,
        Self::AdminToken,
    ];

    fn as_str(self) -> &'static str {
        Self::as_str(self)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How a reload of the consumers file ended, as the `result` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReloadResult {
    /// The file was read and put in force.
    Ok,
    /// The previous consumers stay in force.
    Failed,
}

impl MetricLabel for ReloadResult {
    const NAME: &'static str = "result";
    const ALL: &'static [Self] = &[Self::Ok, Self::Failed];

    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of access decisions; cheap to clone, all clones count together.
#[derive(Clone)]
pub struct AccessMetrics {
    denied: LabelledCounter<DenialReason>,
    reloads: LabelledCounter<ReloadResult>,
}

impl AccessMetrics {
    /// Registers the counters with `registry`.
    pub fn register(registry: &MetricsRegistry) -> Self {
        Self {
            denied: registry.labelled_counter(
                "alumio_gateway_denied_requests_total",
                "Requests refused before any cache or upstream work, by reason",
            ),
            reloads: registry.labelled_counter(
                "alumio_gateway_consumer_reloads_total",
                "Reloads of the consumers file, by result (failed: the previous file stays)",
            ),
        }
    }

    /// Counts one refused request.
    pub fn record_denied(&self, reason: DenialReason) {
        self.denied.increment(reason);
    }

    /// Counts one reload of the consumers file.
    pub fn record_reload(&self, ok: bool) {
        self.reloads.increment(if ok {
            ReloadResult::Ok
        } else {
            ReloadResult::Failed
        });
    }
}
