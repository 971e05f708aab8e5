//! The miss path through the shared tier: one script looks the key up and, if no replica has
//! a fresh answer or a remembered failure, competes for its fetch lease (`SET NX PX` with a
//! fencing token). The winner stores with a fenced step that only succeeds while its lease
//! holds; everyone else waits for a notice, polling since pub/sub delivers at most once, and
//! takes the lease over when it runs out or is released without an answer.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use redis::Value;
use tokio::sync::Notify;

use super::metrics::{ErrorKind, LeaseOutcome};
use super::scripts::{LOOKUP, STORE};
use super::value::{self, Decoded, SharedFailure, millis};
use super::{CommandError, SharedTier, TaskKeys};
use crate::entry::StoredResponse;
use crate::key::TaskKey;

/// How often a waiting replica looks again when no notice came.
const POLL_INTERVAL: Duration = Duration::from_millis(75);

/// What the shared tier says about a key on an L1 miss.
#[derive(Debug)]
pub enum Lookup {
    /// A fresh answer another replica stored.
    Fresh(StoredResponse),
    /// The key is backing off across the fleet; its last failure, and a stale copy if kept.
    BackingOff {
        /// What the failing fetch gave.
        failure: SharedFailure,
        /// A stale copy that may stand in.
        stale: Option<StoredResponse>,
    },
    /// This replica holds the key's lease and should fetch and then [`SharedTier::store`].
    Won {
        /// The lease, to store with.
        lease: Lease,
        /// A stale copy that may stand in if the fetch fails.
        stale: Option<StoredResponse>,
    },
    /// Another replica is fetching the key.
    Lost {
        /// A stale copy that may stand in.
        stale: Option<StoredResponse>,
    },
    /// The tier cannot help now: go local-only for this request.
    Unavailable,
}

/// A won lease: the keys it covers and its fencing token.
#[derive(Debug)]
pub struct Lease {
    keys: TaskKeys,
    token: String,
}

/// What the winner writes when its fetch is done.
#[derive(Debug)]
pub enum Write {
    /// A storable answer.
    Answer(StoredResponse),
    /// A failure the key now backs off from, fleet-wide.
    Failure(SharedFailure, BackoffBounds),
    /// Nothing to store (an answer that is relayed once, or this replica is protecting
    /// Alumio): free the lease so another replica may try.
    Release,
}

/// How long a failing key backs off across the fleet: about `first` after one failure,
/// doubling per further failure up to `longest`, each wait drawn between half and all of that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffBounds {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub longest: Duration,
}

/// The raw shape of a lookup reply.
struct Reply {
    status: Vec<u8>,
    record: Option<Vec<u8>>,
    stale: Option<Vec<u8>>,
    pttl: i64,
}

impl SharedTier {
    /// Looks `key` up and, unless an answer or a failure is shared, competes for its lease.
    pub async fn lookup(&self, key: &TaskKey) -> Lookup {
        self.lookup_as(key, LeaseOutcome::Won).await
    }

    /// Waits while another replica holds `key`'s lease: until its answer or failure is
    /// shared, or this replica takes the lease over. Never longer than the lease's TTL plus
    /// one poll; past that, or when Redis fails, the answer is `Unavailable`.
    pub async fn wait_for_holder(&self, key: &TaskKey) -> Lookup {
        self.inner.metrics.record_lease(LeaseOutcome::Waited);
        let deadline = Instant::now() + self.inner.settings.lease_ttl + POLL_INTERVAL;
        let id = self.task_keys(key).id;
        let notify = self.register_waiter(&id);
        let _registered = Deregister {
            tier: self,
            id: &id,
        };
        while Instant::now() < deadline {
            let _ = tokio::time::timeout(POLL_INTERVAL, notify.notified()).await;
            match self.lookup_as(key, LeaseOutcome::TakenOver).await {
                Lookup::Lost { .. } => {}
                other => return other,
            }
        }
        Lookup::Unavailable
    }

    async fn lookup_as(&self, key: &TaskKey, winning: LeaseOutcome) -> Lookup {
        // Every command of this lookup shares one command timeout.
        let deadline = Instant::now() + self.inner.settings.command_timeout;
        if !self.catch_up(deadline).await {
            return Lookup::Unavailable;
        }
        let keys = self.task_keys(key);
        let token = format!("{:032x}", fastrand::u128(..));
        let Ok(reply) = self.lookup_reply(&keys, &token, false, deadline).await else {
            return Lookup::Unavailable;
        };
        let now = Instant::now();
        let max_body = self.inner.settings.max_body;
        let record = reply
            .record
            .as_deref()
            .map(|bytes| value::decode(bytes, &keys.id, max_body));
        let stale_bytes = reply.stale.as_deref();
        let pttl = Duration::from_millis(u64::try_from(reply.pttl).unwrap_or(0));
        let stale = stale_bytes.and_then(|bytes| self.stale_answer(bytes, &keys.id, pttl, now));
        let lookup = match (reply.status.as_slice(), record) {
            (b"fresh", Some(Ok(decoded))) => match self.answer(decoded, pttl, now) {
                Some(answer) if answer.is_fresh(now) => Lookup::Fresh(answer),
                // Refused, or no longer fresh by the time it arrived: look past it.
                refused => {
                    return self
                        .look_past(&keys, &token, refused, winning, deadline)
                        .await;
                }
            },
            (b"fresh", _) => {
                self.inner.metrics.record_error(ErrorKind::Corrupt);
                return self.look_past(&keys, &token, None, winning, deadline).await;
            }
            (b"backoff", Some(Ok(decoded))) => match decoded.into_failure() {
                Some(failure) => Lookup::BackingOff { failure, stale },
                None => self.corrupt(),
            },
            (b"won", None) => {
                self.inner.metrics.record_lease(winning);
                Lookup::Won {
                    lease: Lease { keys, token },
                    stale,
                }
            }
            (b"lost", None) => Lookup::Lost { stale },
            _ => self.corrupt(),
        };
        if !matches!(lookup, Lookup::Fresh(_)) {
            self.inner.metrics.misses.increment(1);
        } else {
            self.inner.metrics.hits.increment(1);
        }
        lookup
    }

    /// The lookup again, ignoring a value that was refused or went stale on the way.
    async fn look_past(
        &self,
        keys: &TaskKeys,
        token: &str,
        stale: Option<StoredResponse>,
        winning: LeaseOutcome,
        deadline: Instant,
    ) -> Lookup {
        self.inner.metrics.misses.increment(1);
        let Ok(reply) = self.lookup_reply(keys, token, true, deadline).await else {
            return Lookup::Unavailable;
        };
        let stale = stale.filter(|answer| !answer.is_fresh(Instant::now()));
        match (reply.status.as_slice(), reply.record) {
            (b"backoff", Some(bytes)) => {
                match value::decode(&bytes, &keys.id, self.inner.settings.max_body)
                    .ok()
                    .and_then(Decoded::into_failure)
                {
                    Some(failure) => Lookup::BackingOff { failure, stale },
                    None => self.corrupt(),
                }
            }
            (b"won", None) => {
                self.inner.metrics.record_lease(winning);
                Lookup::Won {
                    lease: Lease {
                        keys: keys.clone(),
                        token: token.to_owned(),
                    },
                    stale,
                }
            }
            (b"lost", None) => Lookup::Lost { stale },
            _ => self.corrupt(),
        }
    }

    fn corrupt(&self) -> Lookup {
        self.inner.metrics.record_error(ErrorKind::Corrupt);
        Lookup::Unavailable
    }

    fn answer(&self, decoded: Decoded, pttl: Duration, now: Instant) -> Option<StoredResponse> {
        let answer = decoded.into_answer(pttl, now);
        if answer.is_none() {
            self.inner.metrics.record_error(ErrorKind::Corrupt);
        }
        answer
    }

    fn stale_answer(
        &self,
        bytes: &[u8],
        owner: &str,
        pttl: Duration,
        now: Instant,
    ) -> Option<StoredResponse> {
        match value::decode(bytes, owner, self.inner.settings.max_body) {
            Ok(decoded) => self.answer(decoded, pttl, now),
            Err(_) => {
                self.inner.metrics.record_error(ErrorKind::Corrupt);
                None
            }
        }
    }

    async fn lookup_reply(
        &self,
        keys: &TaskKeys,
        token: &str,
        skip_value: bool,
        deadline: Instant,
    ) -> Result<Reply, CommandError> {
        let lease_ms = millis(self.inner.settings.lease_ttl).max(1);
        let raw: Value = self
            .run_within(Some(deadline), |mut connection| async move {
                let mut invocation = LOOKUP.prepare_invoke();
                invocation
                    .key(&keys.value)
                    .key(&keys.backoff)
                    .key(&keys.lease)
                    .arg(token)
                    .arg(lease_ms)
                    .arg(if skip_value { "1" } else { "0" });
                invocation.invoke_async(&mut connection).await
            })
            .await?;
        parse_reply(raw).ok_or_else(|| {
            self.inner.metrics.record_error(ErrorKind::Protocol);
            CommandError::Failed(ErrorKind::Protocol)
        })
    }

    /// The winner's store, spawned so it never delays an answer, and bounded: when too many
    /// writes are queued this one is dropped and counted (its lease then simply expires).
    pub fn store(&self, lease: Lease, write: Write) {
        let Ok(permit) = Arc::clone(&self.inner.writes).try_acquire_owned() else {
            self.inner.metrics.dropped_writes.increment(1);
            return;
        };
        let tier = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tier.store_now(&lease, &write).await {
                Ok(-1) => tracing::debug!("shared tier lease was lost before the store"),
                Ok(_) => {}
                Err(_) => tracing::debug!("shared tier store failed"),
            }
        });
    }

    /// The fenced store itself; -1 when the lease no longer held this replica's token.
    pub(crate) async fn store_now(
        &self,
        lease: &Lease,
        write: &Write,
    ) -> Result<i64, CommandError> {
        let settings = &self.inner.settings;
        let channel = self.inner.keys.notices();
        let notice = format!("v:{}", lease.keys.id);
        let (mode, record, numbers) = match write {
            Write::Answer(response) => {
                let remaining = (response.stored_at() + response.fresh_for())
                    .saturating_duration_since(Instant::now());
                let ttl = millis(remaining + settings.keep_stale_for).max(1);
                let record =
                    value::encode_answer(response, settings.keep_stale_for, &lease.keys.id);
                (
                    "value",
                    record,
                    vec![ttl.to_string(), String::new(), String::new(), String::new()],
                )
            }
            Write::Failure(failure, backoff) => {
                let jitter = 0.5 + fastrand::f64() / 2.0;
                // The count outlives the longest wait, so consecutive failures keep doubling.
                let keep = backoff
                    .longest
                    .saturating_mul(4)
                    .max(Duration::from_secs(1));
                let numbers = vec![
                    millis(backoff.first).max(1).to_string(),
                    millis(backoff.longest).max(1).to_string(),
                    format!("{jitter:.3}"),
                    millis(keep).to_string(),
                ];
                (
                    "failure",
                    value::encode_failure(failure, &lease.keys.id),
                    numbers,
                )
            }
            Write::Release => ("release", Vec::new(), vec![String::new(); 4]),
        };
        self.run(|mut connection| async move {
            let mut invocation = STORE.prepare_invoke();
            invocation
                .key(&lease.keys.value)
                .key(&lease.keys.backoff)
                .key(&lease.keys.lease)
                .key(&lease.keys.failures)
                .arg(&lease.token)
                .arg(mode)
                .arg(record.as_slice());
            for number in &numbers {
                invocation.arg(number);
            }
            invocation.arg(&channel).arg(&notice);
            invocation.invoke_async(&mut connection).await
        })
        .await
    }

    fn register_waiter(&self, id: &str) -> Arc<Notify> {
        let mut waiters = self
            .inner
            .waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(waiters.entry(id.to_owned()).or_default())
    }

    /// Wakes this replica's waiter for the task `id`, if there is one.
    pub(crate) fn wake(&self, id: &str) {
        let waiters = self
            .inner
            .waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(notify) = waiters.get(id) {
            notify.notify_one();
        }
    }
}

/// Removes a waiter's registration when its wait ends, however it ends.
struct Deregister<'a> {
    tier: &'a SharedTier,
    id: &'a str,
}

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        self.tier
            .inner
            .waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(self.id);
    }
}

fn parse_reply(raw: Value) -> Option<Reply> {
    let Value::Array(items) = raw else {
        return None;
    };
    let mut items = items.into_iter();
    let status = bytes(items.next()?)?;
    let (record, stale) = match status.as_slice() {
        b"fresh" => (bytes(items.next()?), None),
        b"backoff" => (bytes(items.next()?), bytes(items.next()?)),
        b"won" | b"lost" => (None, bytes(items.next()?)),
        _ => return None,
    };
    let Some(Value::Int(pttl)) = items.next() else {
        return None;
    };
    Some(Reply {
        status,
        record,
        stale,
        pttl,
    })
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    }
}
