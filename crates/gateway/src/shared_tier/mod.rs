//! The shared tier: Redis (or Valkey) as the fleet's second cache tier, L2 behind each
//! replica's in-process L1. It stores answers for every replica, hands out one fetch lease per
//! key for the whole fleet, shares failure backoff, and carries purges to every replica.
//!
//! Redis trouble never costs a consumer an error: every command runs under
//! `--redis-command-timeout`, a failure means "local-only" for that request, and a breaker
//! keeps a failing Redis out of the request path until a probe succeeds. The tier knows keys
//! and entries; it knows nothing of fetching, routes or HTTP.

mod breaker;
mod connection;
mod keys;
mod lease;
mod metrics;
mod purge;
mod scripts;
mod settings;
mod value;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redis::RedisError;
use tokio::sync::{Notify, Semaphore};

pub use breaker::RedisBreakerState;
pub use keys::{Generations, KeySpace, TaskKeys};
pub use lease::{BackoffBounds, Lease, Lookup, Write};
pub use metrics::{ErrorKind, LeaseOutcome, SharedTierMetrics};
pub use purge::PurgeNotShared;
pub use settings::{SettingsError, SharedTierSettings, redact_url};
pub use value::{Corrupt, SharedFailure};

use breaker::RedisBreaker;
use connection::{ConnectionSlot, RedisConnection};
use purge::SyncState;

use crate::key::{PurgeScope, TaskKey};

/// Most L2 writes queued at once; past it a write is dropped and counted, never waited for.
const MAX_PENDING_WRITES: usize = 1024;

/// What the shared tier is doing, as `/readyz` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierState {
    /// Connected, in sync with the fleet's purges, breaker closed.
    Connected,
    /// Serving from L1 and local coalescing only: Redis is unreachable, failing, or not yet
    /// in sync.
    LocalOnly,
}

impl TierState {
    /// The state as `/readyz` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::LocalOnly => "local-only",
        }
    }
}

/// What a purge made elsewhere asks of this replica: apply `scope` to L1 and to fetches under
/// way here.
pub type PurgeListener = Box<dyn Fn(&PurgeScope) + Send + Sync>;

/// Why a command did not give an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommandError {
    /// The breaker kept it from Redis, or there is no connection yet.
    Skipped,
    /// It was sent and failed.
    Failed(ErrorKind),
}

/// The handle every part of a replica shares; cheap to clone.
#[derive(Clone)]
pub struct SharedTier {
    inner: Arc<Inner>,
}

struct Inner {
    settings: SharedTierSettings,
    keys: KeySpace,
    connection: Arc<ConnectionSlot>,
    breaker: RedisBreaker,
    metrics: SharedTierMetrics,
    generations: RwLock<Generations>,
    sync: Mutex<SyncState>,
    /// Poked by a purge notice so the purge stream is read at once.
    purge_notice: Notify,
    /// One reader of the purge stream at a time, so no purge is applied twice.
    following: tokio::sync::Mutex<()>,
    /// The local waiter of each key another replica is fetching, by task id.
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    writes: Arc<Semaphore>,
    /// Names this replica in the purge stream, so it skips its own purges.
    replica_id: String,
    purge_listener: OnceLock<PurgeListener>,
}

impl SharedTier {
    /// Starts the tier: connects and follows the fleet's purges in the background, so this
    /// returns at once even while Redis is down. Needs a Tokio runtime.
    pub fn start(settings: SharedTierSettings, metrics: SharedTierMetrics) -> Self {
        let inner = Arc::new(Inner {
            keys: KeySpace::new(&settings.key_prefix),
            connection: Arc::new(ConnectionSlot::default()),
            breaker: RedisBreaker::new(breaker::FAILURE_THRESHOLD, breaker::COOL_DOWN),
            metrics,
            generations: RwLock::new(Generations::default()),
            sync: Mutex::new(SyncState::default()),
            purge_notice: Notify::new(),
            following: tokio::sync::Mutex::new(()),
            waiters: Mutex::new(HashMap::new()),
            writes: Arc::new(Semaphore::new(MAX_PENDING_WRITES)),
            replica_id: format!("{:016x}", fastrand::u64(..)),
            purge_listener: OnceLock::new(),
            settings,
        });
        inner.metrics.record_breaker(RedisBreakerState::Closed);
        connection::connect_in_background(&inner.settings, &inner.connection);
        let tier = Self { inner };
        purge::follow_purges(&tier);
        purge::listen_for_notices(&tier);
        tier
    }

    /// Sets what purges made on other replicas do here; only the first call counts.
    pub fn on_purge(&self, listener: PurgeListener) {
        let _ = self.inner.purge_listener.set(listener);
    }

    /// The state now.
    pub fn state(&self) -> TierState {
        let usable = self.inner.connection.get().is_some()
            && self.inner.breaker.state() == RedisBreakerState::Closed
            && self.in_sync();
        if usable {
            TierState::Connected
        } else {
            TierState::LocalOnly
        }
    }

    /// The breaker's state.
    pub fn breaker_state(&self) -> RedisBreakerState {
        self.inner.breaker.state()
    }

    /// The Redis URLs with their secrets replaced.
    pub fn redacted_urls(&self) -> String {
        self.inner.settings.redacted_urls()
    }

    /// The metrics.
    pub fn metrics(&self) -> &SharedTierMetrics {
        &self.inner.metrics
    }

    /// How long a won lease holds.
    pub fn lease_ttl(&self) -> Duration {
        self.inner.settings.lease_ttl
    }

    fn task_keys(&self, key: &TaskKey) -> TaskKeys {
        let generations = self
            .inner
            .generations
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        self.inner.keys.task(key, &generations)
    }

    /// Runs one command under the breaker and the command timeout, counting its latency and
    /// failures.
    async fn run<T, F, Fut>(&self, command: F) -> Result<T, CommandError>
    where
        F: FnOnce(RedisConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        self.run_within(None, command).await
    }

    /// `run`, but ending by `deadline` if that comes first, so that the several commands of
    /// one request share one command timeout between them.
    async fn run_within<T, F, Fut>(
        &self,
        deadline: Option<Instant>,
        command: F,
    ) -> Result<T, CommandError>
    where
        F: FnOnce(RedisConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let inner = &self.inner;
        let timeout = deadline.map_or(inner.settings.command_timeout, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        let Some(connection) = inner.connection.get() else {
            return Err(CommandError::Skipped);
        };
        if timeout.is_zero() || !inner.breaker.allow(Instant::now()) {
            return Err(CommandError::Skipped);
        }
        let started = Instant::now();
        let outcome = tokio::time::timeout(timeout, command(connection)).await;
        inner.metrics.record_command(started.elapsed());
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(classify_error(&error)),
            Err(_) => Err(ErrorKind::Timeout),
        };
        if let Err(kind) = &result {
            inner.metrics.record_error(*kind);
        }
        self.note_outcome(result.is_ok());
        result.map_err(CommandError::Failed)
    }

    fn note_outcome(&self, ok: bool) {
        if let Some(state) = self.inner.breaker.record(ok, Instant::now()) {
            self.inner.metrics.record_breaker(state);
            match state {
                RedisBreakerState::Open => tracing::warn!(
                    redis = %self.redacted_urls(),
                    "shared tier breaker opened: redis keeps failing, serving local-only"
                ),
                RedisBreakerState::Closed => {
                    tracing::info!("shared tier breaker closed: redis answers again");
                }
                RedisBreakerState::HalfOpen => {}
            }
        }
    }
}

fn classify_error(error: &RedisError) -> ErrorKind {
    if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
    {
        ErrorKind::Connection
    } else {
        ErrorKind::Protocol
    }
}

#[cfg(test)]
mod test_redis;
#[cfg(test)]
mod tests;
