//! Purges across the fleet, without scanning the keyspace: space, without-space and all
//! purges bump a generation that is part of every covered key's name, a task purge deletes
//! the task's value and lease (so a fetch in flight cannot store), and every purge is
//! appended to a capped stream. Each replica reads the stream every 200 ms (at once on a
//! pub/sub notice), applies what others purged to its L1, and follows the generations; when it
//! finds entries it never read trimmed away, or the stream lost (Redis restarted), it reloads
//! the generations and drops its whole L1.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alumio_models::SpaceIdentifier;
use futures_util::StreamExt;
use redis::Value;

use super::connection::pubsub_client;
use super::keys::generation_field;
use super::scripts::{POLL, PURGE, SYNC};
use super::{CommandError, Generations, SharedTier};
use crate::key::{PurgeScope, TaskKey};

/// How often a replica reads the purge stream without a notice.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// L2 is used only while the replica read the stream this recently, so no replica serves an
/// L2 copy more than this long after a purge elsewhere.
const IN_SYNC_FOR: Duration = Duration::from_millis(800);
/// The stream's approximate cap: enough for minutes of purges at any sane rate.
const STREAM_CAP: usize = 10_000;
/// Entries read per poll.
const READ_BATCH: usize = 500;
/// Pause before the pub/sub connection is made again.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(500);

/// Where this replica is in the purge stream.
#[derive(Debug, Default)]
pub(crate) struct SyncState {
    /// The last entry applied; `None` until the first full sync.
    last_seen: Option<StreamId>,
    /// When the stream was last read.
    pub(super) synced_at: Option<Instant>,
    /// Whether the first sync happened: later full syncs also drop L1.
    synced_once: bool,
}

/// A stream entry id, `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct StreamId(u64, u64);

impl StreamId {
    fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        Some(Self(ms.parse().ok()?, seq.parse().ok()?))
    }

    fn render(self) -> String {
        format!("{}-{}", self.0, self.1)
    }
}

/// One purge as the stream carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PurgeEntry {
    id: StreamId,
    scope: PurgeScope,
    replica: String,
    all: u64,
    generation: u64,
}

/// Why a purge could not reach the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the shared tier could not be reached; the purge applied to this replica only")]
pub struct PurgeNotShared;

impl SharedTier {
    /// Applies `scope` to the shared tier and tells every replica. The caller has already
    /// purged this replica.
    pub async fn purge(&self, scope: &PurgeScope) -> Result<(), PurgeNotShared> {
        if let PurgeScope::Task(key) = scope {
            let keys = self.task_keys(key);
            self.run(|mut connection| async move {
                redis::cmd("DEL")
                    .arg(&keys.value)
                    .arg(&keys.lease)
                    .arg(&keys.backoff)
                    .arg(&keys.failures)
                    .query_async::<i64>(&mut connection)
                    .await
            })
            .await
            .map_err(|_| PurgeNotShared)?;
        }
        let (name, field, space, identifier) = match scope {
            PurgeScope::All => ("all", String::new(), String::new(), String::new()),
            PurgeScope::Space(space) => (
                "space",
                generation_field(Some(space)),
                space.as_str().to_owned(),
                String::new(),
            ),
            PurgeScope::WithoutSpace => (
                "nospace",
                generation_field(None),
                String::new(),
                String::new(),
            ),
            PurgeScope::Task(key) => (
                "task",
                String::new(),
                key.space().unwrap_or_default().to_owned(),
                key.identifier().to_owned(),
            ),
        };
        let keys = &self.inner.keys;
        let (generations, stream, channel) = (keys.generations(), keys.purges(), keys.notices());
        let replica = &self.inner.replica_id;
        let reply: (String, u64, u64) = self
            .run(|mut connection| async move {
                let mut invocation = PURGE.prepare_invoke();
                invocation
                    .key(&generations)
                    .key(&stream)
                    .arg(name)
                    .arg(&field)
                    .arg(STREAM_CAP)
                    .arg(replica)
                    .arg(&space)
                    .arg(&identifier)
                    .arg(&channel);
                invocation.invoke_async(&mut connection).await
            })
            .await
            .map_err(|_| PurgeNotShared)?;
        self.apply_generations(scope, reply.1, reply.2);
        Ok(())
    }

    /// Whether the purge stream was read recently enough for L2 to be trusted.
    pub(crate) fn in_sync(&self) -> bool {
        self.sync_state()
            .synced_at
            .is_some_and(|at| at.elapsed() < IN_SYNC_FOR)
    }

    /// Whether L2 may be used now: in sync, or brought in sync by reading the stream at once
    /// (when the background reader fell behind, on a busy machine, say).
    pub(crate) async fn catch_up(&self, deadline: Instant) -> bool {
        if self.in_sync() {
            return true;
        }
        if self.sync_state().last_seen.is_none() {
            return false; // Not connected yet: the background reader makes the first sync.
        }
        let _following = self.inner.following.lock().await;
        if !self.in_sync() {
            // Another caller may have caught up while this one waited for the lock.
            let _ = self.follow_locked(Some(deadline)).await;
        }
        self.in_sync()
    }

    fn sync_state(&self) -> std::sync::MutexGuard<'_, SyncState> {
        self.inner
            .sync
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn apply_generations(&self, scope: &PurgeScope, all: u64, generation: u64) {
        let mut generations = self
            .inner
            .generations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match scope {
            PurgeScope::All => {
                *generations = Generations {
                    all,
                    ..Generations::default()
                };
            }
            PurgeScope::Space(space) => {
                generations.all = all;
                generations.spaces.insert(space.clone(), generation);
            }
            PurgeScope::WithoutSpace => {
                generations.all = all;
                generations.without_space = generation;
            }
            PurgeScope::Task(_) => {}
        }
    }

    fn notify_listener(&self, scope: &PurgeScope) {
        if let Some(listener) = self.inner.purge_listener.get() {
            listener(scope);
        }
    }

    /// One round of following the stream: a full sync when needed, else the new entries.
    async fn follow_once(&self) -> Result<(), CommandError> {
        let _following = self.inner.following.lock().await;
        self.follow_locked(None).await
    }

    /// `follow_once` for a caller that holds the `following` lock.
    async fn follow_locked(&self, deadline: Option<Instant>) -> Result<(), CommandError> {
        let last_seen = self.sync_state().last_seen;
        let Some(last_seen) = last_seen else {
            return self.full_sync(deadline).await;
        };
        let stream = self.inner.keys.purges();
        let raw: Value = self
            .run_within(deadline, |mut connection| async move {
                let mut invocation = POLL.prepare_invoke();
                invocation
                    .key(&stream)
                    .arg(last_seen.render())
                    .arg(READ_BATCH);
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        let Some((first, entries)) = parse_poll(raw) else {
            return Err(CommandError::Failed(super::ErrorKind::Protocol));
        };
        let lost = last_seen != StreamId::default() && first.is_none_or(|first| first > last_seen);
        if lost {
            tracing::warn!(
                "purges may have been missed (stream trimmed or redis restarted); dropping L1"
            );
            return self.full_sync(deadline).await;
        }
        let mut newest = last_seen;
        for entry in entries {
            newest = entry.id;
            if entry.replica == self.inner.replica_id {
                continue;
            }
            self.apply_generations(&entry.scope, entry.all, entry.generation);
            self.notify_listener(&entry.scope);
            self.inner.metrics.purges_applied.increment(1);
        }
        let mut state = self.sync_state();
        state.last_seen = Some(newest);
        state.synced_at = Some(Instant::now());
        Ok(())
    }

    /// Reloads the generations and the stream position; drops L1 unless this is the first.
    async fn full_sync(&self, deadline: Option<Instant>) -> Result<(), CommandError> {
        let keys = &self.inner.keys;
        let (generations, stream) = (keys.generations(), keys.purges());
        let (fields, last): (HashMap<String, u64>, String) = self
            .run_within(deadline, |mut connection| async move {
                let mut invocation = SYNC.prepare_invoke();
                invocation.key(&generations).key(&stream);
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        let last = StreamId::parse(&last).unwrap_or_default();
        *self
            .inner
            .generations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = generations_from(&fields);
        let first = {
            let mut state = self.sync_state();
            let first = !state.synced_once;
            state.synced_once = true;
            state.last_seen = Some(last);
            state.synced_at = Some(Instant::now());
            first
        };
        if !first {
            self.notify_listener(&PurgeScope::All);
        }
        Ok(())
    }
}

fn generations_from(fields: &HashMap<String, u64>) -> Generations {
    let mut generations = Generations {
        all: fields.get("all").copied().unwrap_or(0),
        without_space: fields.get("nospace").copied().unwrap_or(0),
        spaces: HashMap::new(),
    };
    for (field, value) in fields {
        if let Some(space) = field
            .strip_prefix("s:")
            .and_then(|space| space.parse::<SpaceIdentifier>().ok())
        {
            generations.spaces.insert(space, *value);
        }
    }
    generations
}

/// Reads the purge stream for as long as the tier lives.
pub(super) fn follow_purges(tier: &SharedTier) {
    let weak = std::sync::Arc::downgrade(&tier.inner);
    tokio::spawn(async move {
        loop {
            let Some(inner) = weak.upgrade() else { return };
            let tier = SharedTier { inner };
            let _ = tier.follow_once().await;
            let notice = tier.inner.purge_notice.notified();
            let _ = tokio::time::timeout(POLL_EVERY, notice).await;
        }
    });
}

/// Keeps one pub/sub subscription to the notices channel, waking local waiters when a value
/// is stored and the purge follower when a purge is made.
pub(super) fn listen_for_notices(tier: &SharedTier) {
    let weak = std::sync::Arc::downgrade(&tier.inner);
    let settings = tier.inner.settings.clone();
    let channel = tier.inner.keys.notices();
    tokio::spawn(async move {
        for attempt in 0.. {
            let subscribed = async {
                let client = pubsub_client(&settings, attempt).ok()?;
                let mut pubsub = client.get_async_pubsub().await.ok()?;
                pubsub.subscribe(&channel).await.ok()?;
                Some(pubsub)
            };
            let pubsub = tokio::time::timeout(Duration::from_secs(2), subscribed).await;
            if let Ok(Some(pubsub)) = pubsub {
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    let Some(inner) = weak.upgrade() else { return };
                    let tier = SharedTier { inner };
                    let payload = message.get_payload_bytes();
                    if let Some(id) = payload.strip_prefix(b"v:") {
                        tier.wake(&String::from_utf8_lossy(id));
                    } else if payload == b"purge" {
                        tier.inner.purge_notice.notify_one();
                    }
                }
            }
            if weak.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
        }
    });
}

fn parse_poll(raw: Value) -> Option<(Option<StreamId>, Vec<PurgeEntry>)> {
    let Value::Array(parts) = raw else {
        return None;
    };
    let mut parts = parts.into_iter();
    let first = match parts.next()? {
        Value::BulkString(id) => Some(StreamId::parse(std::str::from_utf8(&id).ok()?)?),
        Value::Nil => None,
        _ => return None,
    };
    let Value::Array(raw_entries) = parts.next()? else {
        return None;
    };
    let entries = raw_entries.into_iter().filter_map(parse_entry).collect();
    Some((first, entries))
}

/// One `[id, [field, value, ...]]`; an entry that cannot be read is skipped, since the
/// worst it can mean is a purge this replica applies late, at its next full sync.
fn parse_entry(raw: Value) -> Option<PurgeEntry> {
    let Value::Array(parts) = raw else {
        return None;
    };
    let mut parts = parts.into_iter();
    let Value::BulkString(id) = parts.next()? else {
        return None;
    };
    let id = StreamId::parse(std::str::from_utf8(&id).ok()?)?;
    let Value::Array(pairs) = parts.next()? else {
        return None;
    };
    let mut fields = HashMap::new();
    let mut pairs = pairs.into_iter();
    while let (Some(Value::BulkString(name)), Some(Value::BulkString(value))) =
        (pairs.next(), pairs.next())
    {
        fields.insert(
            String::from_utf8(name).ok()?,
            String::from_utf8(value).ok()?,
        );
    }
    let text = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let number = |name: &str| text(name).parse::<u64>().unwrap_or(0);
    let space = || text("space").parse::<SpaceIdentifier>().ok();
    let scope = match text("scope") {
        "all" => PurgeScope::All,
        "space" => PurgeScope::Space(space()?),
        "nospace" => PurgeScope::WithoutSpace,
        "task" => {
            let identifier = text("identifier").parse().ok()?;
            let space = if text("space").is_empty() {
                None
            } else {
                Some(space()?)
            };
            PurgeScope::Task(TaskKey::new(identifier, space))
        }
        _ => return None,
    };
    Some(PurgeEntry {
        id,
        scope,
        replica: text("replica").to_owned(),
        all: number("all"),
        generation: number("generation"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn entry(id: &str, fields: &[(&str, &str)]) -> Value {
        let pairs = fields
            .iter()
            .flat_map(|(name, value)| [bulk(name), bulk(value)])
            .collect();
        Value::Array(vec![bulk(id), Value::Array(pairs)])
    }

    #[test]
    fn stream_ids_order_numerically() {
        let a = StreamId::parse("99-5").unwrap();
        let b = StreamId::parse("100-0").unwrap();
        assert!(a < b);
        assert_eq!(b.render(), "100-0");
        assert!(StreamId::parse("x-1").is_none());
    }

    #[test]
    fn entries_name_the_purge_and_its_generations() {
        let raw = Value::Array(vec![
            bulk("1-0"),
            Value::Array(vec![
                entry(
                    "5-0",
                    &[
                        ("scope", "space"),
                        ("space", "acme"),
                        ("replica", "r1"),
                        ("all", "2"),
                        ("generation", "7"),
                    ],
                ),
                entry(
                    "6-0",
                    &[
                        ("scope", "task"),
                        ("identifier", "t-1"),
                        ("space", ""),
                        ("replica", "r2"),
                    ],
                ),
                entry("7-0", &[("scope", "space"), ("space", "NOT VALID")]),
            ]),
        ]);
        let (first, entries) = parse_poll(raw).unwrap();
        assert_eq!(first, Some(StreamId(1, 0)));
        assert_eq!(entries.len(), 2, "an unreadable entry is skipped");
        assert_eq!(entries[0].scope, PurgeScope::Space("acme".parse().unwrap()));
        assert_eq!((entries[0].all, entries[0].generation), (2, 7));
        let PurgeScope::Task(key) = &entries[1].scope else {
            panic!("a task purge");
        };
        assert_eq!(key.identifier(), "t-1");
        assert!(key.space().is_none());
    }

    #[test]
    fn generations_are_read_back_from_the_hash() {
        let fields = HashMap::from([
            ("all".to_owned(), 3),
            ("nospace".to_owned(), 2),
            ("s:acme".to_owned(), 5),
            ("s:NOT VALID".to_owned(), 9),
        ]);
        let generations = generations_from(&fields);
        assert_eq!(generations.all, 3);
        assert_eq!(generations.without_space, 2);
        assert_eq!(generations.of(Some("acme")), 5);
        assert_eq!(generations.spaces.len(), 1);
    }
}
