//! Request counters of the task endpoint, kept in atomics so counting costs nothing under load.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// The lowest and highest status code counted one by one; others are counted under 0.
const FIRST_STATUS: u16 = 100;
const LAST_STATUS: u16 = 599;

/// A snapshot of what the task endpoint has answered since the start or the last reset.
/// Requests to the `/_sim/` control endpoints are not counted.
///
/// Serialized (by `GET /_sim/stats`) as `{"totalRequests": n, "byStatus": {"200": n, ...},
/// "unauthorised": n}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimStats {
    /// Requests received, including those not answered yet (such as hanging ones).
    pub total_requests: u64,
    /// Replies sent, by status code; codes never sent are absent.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests refused for a missing or wrong token (the `401` replies).
    pub unauthorised: u64,
}

impl SimStats {
    /// How many replies had status `code`.
    pub fn with_status(&self, code: u16) -> u64 {
        self.by_status.get(&code).copied().unwrap_or(0)
    }

    /// How many replies were sent, whatever their status.
    pub fn replies(&self) -> u64 {
        self.by_status.values().sum()
    }
}

/// The live counters behind [`SimStats`].
pub(crate) struct StatsCounters {
    total: AtomicU64,
    /// One counter per status code from `FIRST_STATUS` to `LAST_STATUS`.
    by_status: Box<[AtomicU64]>,
    /// Replies with a status outside that range.
    other_status: AtomicU64,
}

impl StatsCounters {
    pub(crate) fn new() -> Self {
        Self {
            total: AtomicU64::new(0),
            by_status: (FIRST_STATUS..=LAST_STATUS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            other_status: AtomicU64::new(0),
        }
    }

    /// Counts a request as it arrives.
    pub(crate) fn request_received(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a reply with status `code`.
    pub(crate) fn reply_sent(&self, code: u16) {
        let counter = code
            .checked_sub(FIRST_STATUS)
            .and_then(|offset| self.by_status.get(usize::from(offset)))
            .unwrap_or(&self.other_status);
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of the counters.
    pub(crate) fn snapshot(&self) -> SimStats {
        let mut by_status: BTreeMap<u16, u64> = (FIRST_STATUS..=LAST_STATUS)
            .zip(self.by_status.iter())
            .map(|(code, counter)| (code, counter.load(Ordering::Relaxed)))
            .filter(|&(_, count)| count > 0)
            .collect();
        let other = self.other_status.load(Ordering::Relaxed);
        if other > 0 {
            by_status.insert(0, other);
        }
        SimStats {
            total_requests: self.total.load(Ordering::Relaxed),
            unauthorised: by_status.get(&401).copied().unwrap_or(0),
            by_status,
        }
    }

    /// Sets every counter back to zero.
    pub(crate) fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.other_status.store(0, Ordering::Relaxed);
        for counter in &self.by_status {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_counted_by_status_and_401_counts_as_unauthorised() {
        let counters = StatsCounters::new();
        for code in [200, 200, 401, 404, 999] {
            counters.request_received();
            counters.reply_sent(code);
        }
        counters.request_received();
        let stats = counters.snapshot();
        assert_eq!(stats.total_requests, 6);
        assert_eq!(stats.with_status(200), 2);
        assert_eq!(stats.with_status(0), 1);
        assert_eq!(stats.unauthorised, 1);
        assert_eq!(stats.replies(), 5);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["byStatus"]["404"], 1);
        counters.reset();
        assert_eq!(counters.snapshot(), SimStats::default());
    }
}
