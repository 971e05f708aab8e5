//! Purges of a whole space, or of every request made without one, without moka's invalidation
//! closures: those cost every entry a node in a second list (32 bytes at a million entries),
//! while purges by space are rare.
//!
//! Each entry is stamped with how many such purges had been made when it was stored. While
//! none has been made since, a lookup costs one atomic load; otherwise the purges made since are
//! checked against the entry's key. Only the latest [`PURGES_KEPT`] are remembered: an entry
//! older than all of them counts as purged, which costs a refetch, never a wrong answer. Purged
//! entries are not looked for: they give their room back when they are replaced, or when moka
//! drops them for space or idleness.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::key::{KeyRef, PurgeScope};

/// How many scoped purges lookups can still tell apart.
pub(super) const PURGES_KEPT: usize = 64;

/// The scoped purges made so far.
pub(super) struct ScopedPurges {
    made: AtomicU64,
    /// The latest purges with their numbers (the first is number 1), oldest first.
    recent: ArcSwap<Vec<(u64, PurgeScope)>>,
    /// Serialises purges; lookups never take it.
    writer: Mutex<()>,
}

impl ScopedPurges {
    pub(super) fn new() -> Self {
        Self {
            made: AtomicU64::new(0),
            recent: ArcSwap::from_pointee(Vec::new()),
            writer: Mutex::new(()),
        }
    }

    /// The stamp for an entry stored now.
    pub(super) fn stamp(&self) -> u64 {
        self.made.load(Ordering::Acquire)
    }

    /// Records a purge of `scope` (a space, or requests without one).
    pub(super) fn record(&self, scope: PurgeScope) {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let number = self.made.load(Ordering::Acquire) + 1;
        let mut recent = Vec::clone(&self.recent.load());
        if recent.len() == PURGES_KEPT {
            recent.remove(0);
        }
        recent.push((number, scope));
        // The list first, then the count: a lookup that sees the new count sees the purge.
        self.recent.store(Arc::new(recent));
        self.made.store(number, Ordering::Release);
    }

    /// Whether a purge made after `stamp` covers `key`.
    pub(super) fn purged(&self, stamp: u64, key: &KeyRef<'_>) -> bool {
        if stamp == self.made.load(Ordering::Acquire) {
            return false;
        }
        let recent = self.recent.load();
        match recent.first() {
            Some(&(oldest, _)) if oldest <= stamp + 1 => recent
                .iter()
                .any(|(number, scope)| *number > stamp && scope.covers(key)),
            // Purges made since the stamp are forgotten: assume the worst.
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::TaskKey;

    fn key(space: Option<&str>) -> TaskKey {
        let query = space.map(|space| format!("space={space}"));
        TaskKey::from_path_and_query("/api/v1/tasks/t-1", query.as_deref()).unwrap()
    }

    fn space(name: &str) -> PurgeScope {
        PurgeScope::Space(name.parse().unwrap())
    }

    #[test]
    fn an_entry_stored_after_every_purge_is_never_purged() {
        let purges = ScopedPurges::new();
        purges.record(space("acme"));
        let stamp = purges.stamp();
        assert!(!purges.purged(stamp, &key(Some("acme")).key_ref()));
    }

    #[test]
    fn a_later_purge_drops_only_the_entries_it_covers() {
        let purges = ScopedPurges::new();
        let stamp = purges.stamp();
        purges.record(space("acme"));
        purges.record(PurgeScope::WithoutSpace);
        assert!(purges.purged(stamp, &key(Some("acme")).key_ref()));
        assert!(purges.purged(stamp, &key(None).key_ref()));
        assert!(!purges.purged(stamp, &key(Some("other")).key_ref()));
        let between = 1;
        assert!(!purges.purged(between, &key(Some("acme")).key_ref()));
        assert!(purges.purged(between, &key(None).key_ref()));
    }

    #[test]
    fn an_entry_older_than_every_purge_remembered_counts_as_purged() {
        let purges = ScopedPurges::new();
        let stamp = purges.stamp();
        for _ in 0..PURGES_KEPT {
            purges.record(space("acme"));
        }
        assert!(!purges.purged(stamp, &key(Some("other")).key_ref()));
        purges.record(space("acme"));
        assert!(purges.purged(stamp, &key(Some("other")).key_ref()));
        assert!(!purges.purged(1, &key(Some("other")).key_ref()));
    }
}
