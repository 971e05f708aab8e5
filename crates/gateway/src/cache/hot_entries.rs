//! A small per-thread table of the entries read most often, in front of moka.
//!
//! A moka lookup costs about a fifth of a hit: the key's SipHash, the concurrent table, the
//! read recorded for its access order. Over many keys it is also what misses the CPU's caches.
//! Each thread keeps the entries it reads in a direct-mapped table, and a slot answers only
//! while nothing that could reach it has been stored in or purged from its cache since it was
//! filled. The cache counts its changes in [`Changes`], one count per shard of slots: storing
//! or purging a key moves its shard's count, a purge of a space or of everything moves them
//! all, so a slot can never return what moka would no longer return (entries moka drops for
//! room or idleness are still answers: freshness is the entry's own and is checked by the
//! caller). A slot holds the full key and answers only a
//! key equal to it; the table's hash only picks the slot.
//!
//! moka still sees one read in [`RECORD_EVERY`] of each entry's, so its eviction policy does not
//! take the hottest entries for the coldest. A key displaces another key's valid slot only one
//! time in [`DISPLACE_EVERY`], so a run of cold keys does not empty the table.
//!
//! What slots keep alive outside the cache's byte budget is bounded: a thread's slots hold at
//! most [`MAX_HELD_BODY_BYTES`] of bodies (most of them shared with entries moka still holds),
//! entries with bodies over [`MAX_BODY_BYTES`] are never kept, and a slot found out of date is
//! emptied at once, so a purged entry is let go by the next lookup that lands on its slot.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::entry::StoredResponse;
use crate::key::{KeyRef, TaskKey};

/// Slots per thread, about 100 bytes each: 8,192 hold the keys that take two thirds of the
/// requests of a Zipf(1.0) load over a million keys, in 800 KiB, within a core's L2.
const SLOTS: usize = 8192;
const _: () = assert!(SLOTS.is_power_of_two(), "index() takes the hash's top bits");

/// Larger bodies are read from moka every time; they are rare, and slots must not keep much
/// memory alive outside the cache's budget.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The bodies one thread's slots may hold at once; a fill that would pass it is not kept.
pub(super) const MAX_HELD_BODY_BYTES: usize = 16 << 20;

/// One read in this many goes to moka.
pub(super) const RECORD_EVERY: u32 = 32;

/// One attempt in this many to fill a slot another valid key holds succeeds.
pub(super) const DISPLACE_EVERY: u32 = 8;

/// One entry as a thread last read it from moka.
struct Slot {
    /// Which cache, and its change count at the read: the slot answers only while both hold.
    cache: u64,
    changes: u64,
    hash: u64,
    /// Reads answered, so that every [`RECORD_EVERY`]th goes to moka instead.
    uses: u32,
    key: TaskKey,
    entry: StoredResponse,
}

#[derive(Default)]
struct Table {
    slots: Vec<Option<Slot>>,
    /// Fills attempted, so that every [`DISPLACE_EVERY`]th may take another key's valid slot.
    fills: u32,
    /// The body bytes the slots hold, at most [`MAX_HELD_BODY_BYTES`].
    held_body_bytes: usize,
}

impl Table {
    /// Empties `index`'s slot, giving back what it held.
    fn take(&mut self, index: usize) -> Option<Slot> {
        let slot = self.slots.get_mut(index).and_then(Option::take)?;
        self.held_body_bytes = self.held_body_bytes.saturating_sub(slot.entry.body().len());
        Some(slot)
    }

    /// Puts `slot` in the empty slot `index`, unless its body would take the table past its
    /// bound.
    fn fill(&mut self, index: usize, slot: Slot) {
        let held = self.held_body_bytes + slot.entry.body().len();
        if held > MAX_HELD_BODY_BYTES {
            return;
        }
        if let Some(place) = self.slots.get_mut(index) {
            *place = Some(slot);
            self.held_body_bytes = held;
        }
    }
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
}

/// A cache's change count, split by the slot a key falls in, so that storing one key leaves
/// the slots of most other keys answering. A slot and every key that falls in it share a
/// shard, so a change to a key always reaches the slot that may hold it.
pub(super) struct Changes {
    shards: [AtomicU64; CHANGE_SHARDS],
}

/// Shards of a change count: storing a key empties, lazily, one slot in this many.
const CHANGE_SHARDS: usize = 64;
const _: () = assert!(CHANGE_SHARDS.is_power_of_two() && CHANGE_SHARDS <= SLOTS);

impl Changes {
    pub(super) fn new() -> Self {
        Self {
            shards: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// The count that changes to `key` move, found before the key is handed to moka.
    pub(super) fn of(&self, key: &KeyRef<'_>) -> KeyChanges<'_> {
        KeyChanges(self.shard(slot_hash(key)))
    }

    /// After a change that may reach any key, such as a purge of a space.
    pub(super) fn all_changed(&self) {
        for shard in &self.shards {
            shard.fetch_add(1, Ordering::Release);
        }
    }

    fn shard(&self, hash: u64) -> &AtomicU64 {
        &self.shards[shard_index(hash)]
    }
}

/// The shard of [`Changes`] that one key's changes move.
pub(super) struct KeyChanges<'c>(&'c AtomicU64);

impl KeyChanges<'_> {
    /// After the key was stored or dropped: a lookup that sees the new count sees the change.
    pub(super) fn changed(self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Where a key's entry is found in the table: the cache's identity and the change count of
/// the key's shard when the lookup began.
#[derive(Clone, Copy)]
struct Version {
    cache: u64,
    changes: u64,
}

/// One lookup of one key: where its slot is, worked out once for the table's read and, when
/// that misses, for keeping what moka answered.
pub(super) struct Probe<'k, 'a> {
    version: Version,
    key: &'k KeyRef<'a>,
    hash: u64,
}

impl<'k, 'a> Probe<'k, 'a> {
    /// A lookup of `key` in the cache `cache`, whose changes are counted by `changes`.
    pub(super) fn new(cache: u64, changes: &Changes, key: &'k KeyRef<'a>) -> Self {
        let hash = slot_hash(key);
        let version = Version {
            cache,
            changes: changes.shard(hash).load(Ordering::Acquire),
        };
        Self { version, key, hash }
    }

    /// The entry if this thread's table holds it, unless this read is one moka should see.
    pub(super) fn get(&self) -> Option<StoredResponse> {
        let (version, key, hash) = (self.version, self.key, self.hash);
        // A thread's table is out of reach only while the thread is being torn down: a miss.
        let found = TABLE.try_with(|table| {
            let mut table = table.try_borrow_mut().ok()?;
            let index = index(hash);
            let slot = table.slots.get_mut(index)?.as_mut()?;
            if slot.cache == version.cache && slot.changes != version.changes {
                table.take(index);
                return None;
            }
            let valid = slot.cache == version.cache && slot.hash == hash && key.names(&slot.key);
            if !valid {
                return None;
            }
            slot.uses = slot.uses.wrapping_add(1);
            (slot.uses % RECORD_EVERY != 0).then(|| slot.entry.clone())
        });
        found.ok().flatten()
    }

    /// Keeps `entry`, just read from moka, for this thread's next reads of the key.
    pub(super) fn put(&self, entry: &StoredResponse) {
        let (version, key, hash) = (self.version, self.key, self.hash);
        if entry.body().len() > MAX_BODY_BYTES {
            return;
        }
        let _ = TABLE.try_with(|table| {
            let Ok(mut table) = table.try_borrow_mut() else {
                return;
            };
            if table.slots.is_empty() {
                table.slots.resize_with(SLOTS, || None);
            }
            table.fills = table.fills.wrapping_add(1);
            let displace = table.fills % DISPLACE_EVERY == 0;
            let index = index(hash);
            let same_key = match table.slots.get(index) {
                Some(Some(slot)) => {
                    let same_key =
                        slot.cache == version.cache && slot.hash == hash && key.names(&slot.key);
                    let held = slot.cache == version.cache && slot.changes == version.changes;
                    if held && !same_key && !displace {
                        return;
                    }
                    same_key
                }
                _ => false,
            };
            // A key read again from moka keeps the copy its slot already made.
            let key = match table.take(index) {
                Some(old) if same_key => old.key,
                _ => key.to_key(),
            };
            table.fill(
                index,
                Slot {
                    cache: version.cache,
                    changes: version.changes,
                    hash,
                    uses: 0,
                    key,
                    entry: entry.clone(),
                },
            );
        });
    }
}

/// The body bytes this thread's slots hold.
#[cfg(test)]
pub(super) fn held_body_bytes() -> usize {
    TABLE.with_borrow(|table| table.held_body_bytes)
}

/// The shard of [`Changes`] that `key`'s changes move.
#[cfg(test)]
pub(super) fn shard_of(key: &KeyRef<'_>) -> usize {
    shard_index(slot_hash(key))
}

/// The slot `key` goes to.
#[cfg(test)]
pub(super) fn slot_of(key: &KeyRef<'_>) -> usize {
    index(slot_hash(key))
}

/// A fast hash to pick a slot: a collision costs a slot, never a wrong answer (the slot holds
/// the whole key), so it need not resist chosen keys the way the cache's own hash does.
fn slot_hash(key: &KeyRef<'_>) -> u64 {
    let hash = hash_words(0, key.space().unwrap_or("").as_bytes());
    hash_words(hash, key.identifier().as_bytes())
}

/// `bytes` and their length folded into `hash` eight bytes at a time (FxHash's step).
fn hash_words(hash: u64, bytes: &[u8]) -> u64 {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;
    let step = |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    let mut chunks = bytes.chunks_exact(8);
    let mut hash = chunks.by_ref().fold(hash, |hash, chunk| {
        step(hash, u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])))
    });
    let rest = chunks.remainder();
    let mut last = [0; 8];
    if let Some(room) = last.get_mut(..rest.len()) {
        room.copy_from_slice(rest);
    }
    hash = step(hash, u64::from_le_bytes(last));
    step(hash, bytes.len() as u64)
}

/// The shard of [`Changes`] a hash's slot belongs to.
fn shard_index(hash: u64) -> usize {
    index(hash) % CHANGE_SHARDS
}

fn index(hash: u64) -> usize {
    // The low bits of a multiplicative hash are its weakest; take the high ones.
    (hash >> (u64::BITS - SLOTS.trailing_zeros())) as usize
}
