//! The cache behind a small interface, `ResponseCache`, with the in-process moka tier (L1) as
//! its one implementation. The fleet's shared tier (L2, `shared_tier`) is not a `ResponseCache`:
//! its lookups await Redis, so it sits behind the fetcher, never on the synchronous hit path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::entry::StoredResponse;
use crate::key::{KeyRef, PurgeScope, TaskKey};

mod hot_entries;
mod metrics;
mod scoped_purges;

pub use metrics::CacheMetrics;
use scoped_purges::ScopedPurges;

/// A store of answers by key. Lookups are synchronous so that a hit never waits.
pub trait ResponseCache: Send + Sync + 'static {
    /// The stored answer for `key`, fresh or not, if it is still kept.
    fn get(&self, key: &KeyRef<'_>) -> Option<StoredResponse>;
    /// Stores `response` under `key`, replacing what was there.
    fn insert(&self, key: TaskKey, response: StoredResponse);
    /// Drops every answer `scope` covers; later lookups never see them.
    fn purge(&self, scope: &PurgeScope);
    /// How many entries and bytes the cache holds now (approximate while writes settle).
    fn usage(&self) -> CacheUsage;
}

/// How full a cache is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheUsage {
    /// Entries held.
    pub entries: u64,
    /// Bytes held, as weighed by the entries.
    pub bytes: u64,
}

/// The in-process tier: a moka cache bounded by bytes. An entry's freshness and stale windows
/// are its own and are decided on lookup; the cache drops an entry when the byte budget needs
/// the room, when it is purged, or once nobody has read it for `keep_unread_for` (by then it is
/// of no more use).
///
/// Per-entry expiry in moka itself would cost each of a million entries a timer-wheel node
/// (48 bytes); idle expiry rides on the access-order list every entry has anyway. Purges by
/// space are checked on lookup (`scoped_purges.rs`) rather than handed to moka as closures,
/// which would cost every entry a write-order node (32 bytes). Each thread answers its most
/// read entries from a small table of its own while nothing in the cache changes
/// (`hot_entries.rs`).
pub struct MokaResponseCache {
    entries: moka::sync::Cache<TaskKey, Stamped>,
    scoped_purges: ScopedPurges,
    id: u64,
    /// Inserts and purges so far, by shard of keys: a hot-entry slot answers only at the count
    /// it was filled at.
    changes: hot_entries::Changes,
}

/// Tells the caches of one process apart in the threads' hot-entry tables.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

/// An entry with the scoped-purge count it was stored at.
#[derive(Clone)]
struct Stamped {
    response: StoredResponse,
    stamp: u64,
}

impl MokaResponseCache {
    /// A cache holding at most `max_bytes`, dropping entries unread for `keep_unread_for`.
    pub fn new(max_bytes: u64, keep_unread_for: Duration) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &TaskKey, value: &Stamped| value.response.weight(key.heap_bytes()))
            .time_to_idle(keep_unread_for.clamp(MIN_KEEP_UNREAD_FOR, MAX_KEEP_UNREAD_FOR))
            .build();
        Self {
            entries,
            scoped_purges: ScopedPurges::new(),
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            changes: hot_entries::Changes::new(),
        }
    }
}

// A key read from a request finds the entry stored under the key it names: both hash alike
// (`key.rs`), and this says when they are equal.
impl moka::Equivalent<TaskKey> for KeyRef<'_> {
    fn equivalent(&self, key: &TaskKey) -> bool {
        self.names(key)
    }
}

/// An entry is kept at least this long, for the requests right behind the one that fetched it.
const MIN_KEEP_UNREAD_FOR: Duration = Duration::from_secs(1);

/// moka refuses idle times beyond 1,000 years; settings that add up to more are kept to this.
const MAX_KEEP_UNREAD_FOR: Duration = Duration::from_secs(100 * 365 * 86_400);

impl ResponseCache for MokaResponseCache {
    fn get(&self, key: &KeyRef<'_>) -> Option<StoredResponse> {
        let probe = hot_entries::Probe::new(self.id, &self.changes, key);
        if let Some(entry) = probe.get() {
            return Some(entry);
        }
        let stamped = self.entries.get(key)?;
        if self.scoped_purges.purged(stamped.stamp, key) {
            return None;
        }
        probe.put(&stamped.response);
        Some(stamped.response)
    }

    fn insert(&self, key: TaskKey, response: StoredResponse) {
        let stamp = self.scoped_purges.stamp();
        let changes = self.changes.of(&key.key_ref());
        self.entries.insert(key, Stamped { response, stamp });
        changes.changed();
    }

    fn purge(&self, scope: &PurgeScope) {
        match scope {
            PurgeScope::Task(key) => {
                self.entries.invalidate(key);
                self.changes.of(&key.key_ref()).changed();
            }
            PurgeScope::All => {
                self.entries.invalidate_all();
                self.changes.all_changed();
            }
            PurgeScope::Space(_) | PurgeScope::WithoutSpace => {
                self.scoped_purges.record(scope);
                self.changes.all_changed();
            }
        }
    }

    fn usage(&self) -> CacheUsage {
        self.entries.run_pending_tasks();
        CacheUsage {
            entries: self.entries.entry_count(),
            bytes: self.entries.weighted_size(),
        }
    }
}

#[cfg(test)]
mod tests;
