//! The access metrics: refused requests by reason and consumers-file reloads by result,
//! registered on the gateway's own recorder.

use metrics::{Counter, Key, Label, Metadata, Recorder};

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

const DENIED: &str = "alumio_gateway_denied_requests_total";
const RELOADS: &str = "alumio_gateway_consumer_reloads_total";

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
    const ALL: [Self; 5] = [
        Self::MissingKey,
        Self::UnknownKey,
        Self::Space,
        Self::RateLimited,
        Self::AdminToken,
    ];

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

/// Counters of access decisions; cheap to clone, all clones count together.
#[derive(Clone)]
pub struct AccessMetrics {
    denied: [Counter; 5],
    reloads_ok: Counter,
    reloads_failed: Counter,
}

impl AccessMetrics {
    /// Registers the counters with `recorder`.
    pub(crate) fn register(recorder: &impl Recorder) -> Self {
        recorder.describe_counter(
            DENIED.into(),
            None,
            "Requests refused before any cache or upstream work, by reason".into(),
        );
        recorder.describe_counter(
            RELOADS.into(),
            None,
            "Reloads of the consumers file, by result (failed: the previous file stays)".into(),
        );
        let counter = |name: &'static str, label: &'static str, value: &'static str| {
            let key = Key::from_parts(name, vec![Label::new(label, value)]);
            recorder.register_counter(&key, &METADATA)
        };
        Self {
            denied: DenialReason::ALL.map(|reason| counter(DENIED, "reason", reason.as_str())),
            reloads_ok: counter(RELOADS, "result", "ok"),
            reloads_failed: counter(RELOADS, "result", "failed"),
        }
    }

    /// Counts one refused request.
    pub fn record_denied(&self, reason: DenialReason) {
        // `ALL` lists the reasons in declaration order.
        self.denied[reason as usize].increment(1);
    }

    /// Counts one reload of the consumers file.
    pub fn record_reload(&self, ok: bool) {
        if ok {
            self.reloads_ok.increment(1);
        } else {
            self.reloads_failed.increment(1);
        }
    }
}
