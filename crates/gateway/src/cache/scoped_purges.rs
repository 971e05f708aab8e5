//! Purges of a whole space, or of every request made without one, without moka's invalidation
//! closures: those cost every entry a node in a second list (32 bytes at a million entries),
//! while purges by space are rare.
//!
//! Each entry is stamped with how many such purges had been made when it was stored. While
//! none has been made since, a lookup costs one atomic load; otherwise the entry's scope is
//! looked up among the latest purge of each space (and of requests without one). Up to
//! [`SPACES_KEPT`] spaces are told apart; a purge of one more space forgets them all and counts
//! every entry stored before it as purged, which costs refetches, never a wrong answer. Purged
//! entries are not looked for: they give their room back when they are replaced, or when moka
//! drops them for space or idleness.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use alumio_models::SpaceIdentifier;
use arc_swap::ArcSwap;

use crate::key::{KeyRef, PurgeScope};

/// How many purged spaces lookups tell apart.
pub(super) const SPACES_KEPT: usize = 4096;

/// The scoped purges made so far.
pub(super) struct ScopedPurges {
    /// How many have been made; an entry's stamp is this count when it was stored.
    purges_made: AtomicU64,
    latest: ArcSwap<Latest>,
    /// Serialises purges; lookups never take it.
    writer: Mutex<()>,
}

/// The number of the latest purge of each scope (purges are numbered from 1).
#[derive(Clone, Default)]
struct Latest {
    by_space: HashMap<SpaceIdentifier, u64>,
    without_space: u64,
    /// Entries stamped before this count as purged: the spaces purged before it are forgotten.
    floor: u64,
}

impl ScopedPurges {
    pub(super) fn new() -> Self {
        Self {
            purges_made: AtomicU64::new(0),
            latest: ArcSwap::from_pointee(Latest::default()),
            writer: Mutex::new(()),
        }
    }

    /// The stamp for an entry stored now.
    pub(super) fn stamp(&self) -> u64 {
        self.purges_made.load(Ordering::Acquire)
    }

    /// Records a purge of a space or of requests without one; the other scopes are moka's own.
    pub(super) fn record(&self, scope: &PurgeScope) {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let number = self.purges_made.load(Ordering::Acquire) + 1;
        let mut latest = Latest::clone(&self.latest.load());
        match scope {
            PurgeScope::Space(space) => {
                if latest.by_space.len() >= SPACES_KEPT && !latest.by_space.contains_key(space) {
                    latest.by_space.clear();
                    latest.floor = number;
                }
                latest.by_space.insert(space.clone(), number);
            }
            PurgeScope::WithoutSpace => latest.without_space = number,
            PurgeScope::Task(_) | PurgeScope::All => return,
        }
        // The purges first, then the count: a lookup that sees the new count sees the purge.
        self.latest.store(Arc::new(latest));
        self.purges_made.store(number, Ordering::Release);
    }

    /// Whether a purge made after `stamp` covers `key`.
    pub(super) fn purged(&self, stamp: u64, key: &KeyRef<'_>) -> bool {
        if stamp == self.purges_made.load(Ordering::Acquire) {
            return false;
        }
        let latest = self.latest.load();
        let last_purge = match key.space() {
            Some(space) => latest.by_space.get(space).copied().unwrap_or(0),
            None => latest.without_space,
        };
        stamp < latest.floor || last_purge > stamp
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
        purges.record(&space("acme"));
        let stamp = purges.stamp();
        assert!(!purges.purged(stamp, &key(Some("acme")).key_ref()));
    }

    #[test]
    fn a_later_purge_drops_only_the_entries_it_covers() {
        let purges = ScopedPurges::new();
        let stamp = purges.stamp();
        purges.record(&space("acme"));
        purges.record(&PurgeScope::WithoutSpace);
        assert!(purges.purged(stamp, &key(Some("acme")).key_ref()));
        assert!(purges.purged(stamp, &key(None).key_ref()));
        assert!(!purges.purged(stamp, &key(Some("other")).key_ref()));
        let between = 1;
        assert!(!purges.purged(between, &key(Some("acme")).key_ref()));
        assert!(purges.purged(between, &key(None).key_ref()));
    }

    #[test]
    fn many_purges_of_other_spaces_never_drop_an_entry() {
        let purges = ScopedPurges::new();
        let stamp = purges.stamp();
        for i in 0..2 * SPACES_KEPT {
            purges.record(&space(&format!("s-{}", i % 16)));
        }
        assert!(!purges.purged(stamp, &key(Some("other")).key_ref()));
        assert!(purges.purged(stamp, &key(Some("s-3")).key_ref()));
    }

    #[test]
    fn one_space_more_than_kept_counts_every_older_entry_as_purged() {
        let purges = ScopedPurges::new();
        let old = purges.stamp();
        for i in 0..SPACES_KEPT {
            purges.record(&space(&format!("s-{i}")));
        }
        let before_overflow = purges.stamp();
        assert!(!purges.purged(old, &key(Some("other")).key_ref()));
        purges.record(&space("one-more"));
        assert!(purges.purged(old, &key(Some("other")).key_ref()));
        assert!(purges.purged(before_overflow, &key(Some("other")).key_ref()));
        assert!(!purges.purged(purges.stamp(), &key(Some("one-more")).key_ref()));
    }
}
