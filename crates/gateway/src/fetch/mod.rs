//! `Fetcher`: takes a key's answer from Alumio, one upstream request per key at a time however
//! many consumers ask, and stores what may be stored, without ever storming Alumio.
//!
//! The first request for a key leads: it spawns the fetch as a task of its own, so a leader
//! whose consumer hangs up neither fails nor restarts the fetch for the others; later requests
//! for the key wait on the leader's channel. A fetch passes the circuit breaker and the
//! upstream budget before it is sent; a failed one backs its key off, and until the backoff
//! passes, the key's consumers get the remembered failure at once instead of a new request.
//! Errors reach every waiter of the one fetch and are never stored. A purge detaches matching
//! fetches: their answers are not stored, and their waiters ask again. With a shared tier the
//! leader asks it before Alumio, so the fleet makes one request per key (`shared.rs`).

mod classify;
mod drift;
mod metrics;
mod shared;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use alumio_transport::AlumioClient;
use tokio::sync::watch;

pub use classify::{TaskAnswer, allows_stale, read_task_answer};
use classify::{classify, error_for_failure, is_upstream_failure};
pub use drift::DriftKind;
use drift::DriftLog;
pub use metrics::{FetchMetrics, UpstreamClass};

use crate::cache::ResponseCache;
use crate::entry::{CacheOutcome, StaleReason, StoredResponse};
use crate::error::GatewayError;
use crate::freshness::FreshnessPolicy;
pub use crate::key::PurgeScope;
use crate::key::TaskKey;
use crate::shared_tier::SharedTier;
use crate::upstream::{
    BreakerSettings, BreakerState, BudgetSettings, CircuitBreaker, FailureBackoff, KeyBackoff,
    RememberedAnswer, UpstreamBudget,
};

/// An answer ready to send, and whether it is now in the cache.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The answer.
    pub response: StoredResponse,
    /// Whether the cache holds it (it does not for errors Alumio answered).
    pub stored: bool,
}

/// What one fetch gives every request waiting on it.
pub type FetchResult = Result<Fetched, GatewayError>;

/// How fetches treat Alumio.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchPolicy {
    /// Times to live by kind of answer.
    pub freshness: FreshnessPolicy,
    /// When the circuit breaker opens.
    pub breaker: BreakerSettings,
    /// How long a failing key is left alone.
    pub backoff: FailureBackoff,
    /// Requests in flight, per second and queued.
    pub budget: BudgetSettings,
    /// How long past freshness a stale copy from the shared tier is served at once while the
    /// fetch goes on.
    pub stale_while_revalidate: Duration,
}

impl RememberedAnswer for FetchResult {
    fn held_bytes(&self) -> usize {
        self.as_ref()
            .map_or(0, |fetched| fetched.response.body().len())
    }
}

/// Where a flight's answer came from, which decides how it is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// This replica's fetch, or its remembered failure.
    Local,
    /// A fresh answer another replica stored in the shared tier.
    Shared,
    /// A stale copy from the shared tier, served while the fetch goes on.
    SharedStale,
}

/// What a flight hands its waiters.
type Answer = Option<(FetchResult, Source)>;

/// A fetch under way, as its waiters see it.
#[derive(Clone)]
struct Flight {
    receiver: watch::Receiver<Answer>,
    /// Set by a purge: the fetch's answer must not be stored and its waiters ask again.
    detached: Arc<AtomicBool>,
}

/// How a request joined the work for its key.
enum Joined {
    /// Answered without waiting: fresh in the cache, or the key is backing off.
    Ready(FetchResult, CacheOutcome),
    /// Waiting on a fetch, its own or another request's.
    Waiting(Flight, CacheOutcome),
}

/// A fetch may be asked again this many times when purges keep overtaking it.
const MAX_ROUNDS: usize = 3;

/// Fetches answers from Alumio on behalf of cache misses and refreshes.
pub struct Fetcher {
    upstream: AlumioClient,
    cache: Arc<dyn ResponseCache>,
    freshness: FreshnessPolicy,
    metrics: FetchMetrics,
    drift: DriftLog,
    breaker: CircuitBreaker,
    backoff: KeyBackoff<FetchResult>,
    budget: UpstreamBudget,
    backoff_policy: FailureBackoff,
    stale_while_revalidate: Duration,
    shared: Option<SharedTier>,
    flights: Mutex<HashMap<TaskKey, Flight>>,
}

impl Fetcher {
    /// A fetcher that asks `upstream`, stores into `cache` and counts into `metrics`.
    pub fn new(
        upstream: AlumioClient,
        cache: Arc<dyn ResponseCache>,
        policy: FetchPolicy,
        metrics: FetchMetrics,
    ) -> Self {
        Self {
            upstream,
            cache,
            freshness: policy.freshness,
            drift: DriftLog::new(metrics.unexpected_shape.clone()),
            metrics,
            breaker: CircuitBreaker::new(policy.breaker),
            backoff: KeyBackoff::new(policy.backoff),
            budget: UpstreamBudget::new(policy.budget),
            backoff_policy: policy.backoff,
            stale_while_revalidate: policy.stale_while_revalidate,
            shared: None,
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// The same fetcher asking the shared tier before Alumio: a fleet-wide answer, backoff
    /// and lease for each key.
    #[must_use]
    pub fn with_shared_tier(mut self, tier: SharedTier) -> Self {
        self.shared = Some(tier);
        self
    }

    /// The shared tier, if the fetcher uses one.
    pub fn shared_tier(&self) -> Option<&SharedTier> {
        self.shared.as_ref()
    }

    /// The answer for `key`: from the cache if it arrived meanwhile, from a fetch already under
    /// way, from the key's backoff, or from a new fetch. Says which of these it was.
    pub async fn fetch(
        self: &Arc<Self>,
        key: &TaskKey,
        request_id: &str,
    ) -> (FetchResult, CacheOutcome) {
        for round in 1..=MAX_ROUNDS {
            let (mut flight, outcome) = match self.join_or_lead(key, request_id) {
                Joined::Ready(result, outcome) => return (result, outcome),
                Joined::Waiting(flight, outcome) => (flight, outcome),
            };
            let (result, source) = match flight.receiver.wait_for(Option::is_some).await {
                Ok(answer) => answer
                    .clone()
                    .unwrap_or((Err(GatewayError::Internal), Source::Local)),
                // The leader's task ended without an answer: the runtime is stopping.
                Err(_) => (Err(GatewayError::Internal), Source::Local),
            };
            if flight.detached.load(Ordering::Acquire) && round < MAX_ROUNDS {
                continue;
            }
            let outcome = match source {
                Source::Shared if result.is_ok() => CacheOutcome::SharedHit,
                Source::SharedStale => CacheOutcome::Stale(StaleReason::Revalidating),
                _ => outcome,
            };
            return (result, outcome);
        }
        (Err(GatewayError::Internal), CacheOutcome::Miss)
    }

    /// Starts a fetch that refreshes `key` in the background, unless one is under way or the
    /// key is backing off. Returns whether it started one.
    pub fn refresh_in_background(self: &Arc<Self>, key: &TaskKey, request_id: &str) -> bool {
        let started = matches!(
            self.join_or_lead(key, request_id),
            Joined::Waiting(_, CacheOutcome::Miss)
        );
        if started {
            self.metrics.background_refreshes.increment(1);
        }
        started
    }

    /// Drops every answer `scope` covers, fresh or stale, forgets their failures, and detaches
    /// matching fetches under way so that what they bring back is not stored and their waiters
    /// ask again. Later requests see the purge at once.
    pub fn purge(&self, scope: &PurgeScope) {
        // Under the flights lock no leader can store between the purge and the detaching.
        let mut flights = self.lock();
        flights.retain(|key, flight| {
            let covered = scope.covers(&key.key_ref());
            if covered {
                flight.detached.store(true, Ordering::Release);
            }
            !covered
        });
        self.cache.purge(scope);
        let scope = scope.clone();
        self.backoff
            .clear_matching(move |key| scope.covers(&key.key_ref()));
    }

    /// How many keys have a fetch under way.
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }

    /// The circuit breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Requests in flight to Alumio now.
    pub fn upstream_in_flight(&self) -> usize {
        self.budget.in_flight()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TaskKey, Flight>> {
        // Every change to the map is a single call, so it stays consistent even if a holder
        // panicked.
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn join_or_lead(self: &Arc<Self>, key: &TaskKey, request_id: &str) -> Joined {
        let now = Instant::now();
        let mut flights = self.lock();
        // A leader stores its answer before it leaves the map, so looking again under the lock
        // closes the window between the caller's miss and this point.
        if let Some(response) = self.cache.get(&key.key_ref()).filter(|r| r.is_fresh(now)) {
            let fetched = Fetched {
                response,
                stored: true,
            };
            return Joined::Ready(Ok(fetched), CacheOutcome::Hit);
        }
        if let Some(flight) = flights.get(key) {
            self.metrics.coalesced_waiters.increment(1);
            return Joined::Waiting(flight.clone(), CacheOutcome::Collapsed);
        }
        if let Some(answer) = self.backoff.answer_while_backing_off(key, now) {
            self.metrics.backoff_answers.increment(1);
            return Joined::Ready(answer, CacheOutcome::Miss);
        }
        let (sender, receiver) = watch::channel(None);
        let flight = Flight {
            receiver,
            detached: Arc::new(AtomicBool::new(false)),
        };
        flights.insert(key.clone(), flight.clone());
        drop(flights);
        let fetcher = Arc::clone(self);
        let lead = Lead {
            key: key.clone(),
            sender,
            detached: Arc::clone(&flight.detached),
            request_id: request_id.to_owned(),
        };
        tokio::spawn(async move { fetcher.lead(lead).await });
        Joined::Waiting(flight, CacheOutcome::Miss)
    }

    async fn lead(&self, lead: Lead) {
        let mut leaving = LeaveOnDrop {
            fetcher: self,
            lead: &lead,
            left: false,
        };
        let (result, source) = match &self.shared {
            Some(tier) => self.fetch_shared(tier, &lead).await,
            None => (self.fetch_locally(&lead).await, Source::Local),
        };
        {
            let mut flights = self.lock();
            if !lead.detached.load(Ordering::Acquire) {
                if let Ok(fetched) = &result
                    && fetched.stored
                {
                    self.cache
                        .insert(lead.key.clone(), fetched.response.clone());
                }
                flights.remove(&lead.key);
            }
            leaving.left = true;
        }
        lead.sender.send_replace(Some((result, source)));
    }

    /// This replica's own fetch, with its key's local backoff kept up to date.
    async fn fetch_locally(&self, lead: &Lead) -> FetchResult {
        let result = self.fetch_guarded(&lead.key, &lead.request_id).await;
        if is_upstream_failure(&result) {
            let delay = self
                .backoff
                .record_failure(&lead.key, result.clone(), Instant::now());
            self.metrics.backoffs.increment(1);
            tracing::debug!(request_id = lead.request_id, key = ?lead.key, ?delay, "key backs off");
        } else if !matches!(
            result,
            Err(GatewayError::CircuitOpen { .. } | GatewayError::Overloaded { .. })
        ) {
            self.backoff.clear(&lead.key);
        }
        result
    }

    /// One request to Alumio, if the breaker and the budget allow it.
    async fn fetch_guarded(&self, key: &TaskKey, request_id: &str) -> FetchResult {
        let (admission, transition) = self.breaker.admit(Instant::now());
        self.note_transition(transition);
        let ticket = match admission {
            Ok(ticket) => ticket,
            Err(retry_after) => {
                self.metrics.breaker_rejections.increment(1);
                return Err(GatewayError::CircuitOpen { retry_after });
            }
        };
        let _permit = match self.budget.acquire().await {
            Ok(permit) => permit,
            Err(reason) => {
                ticket.abandon();
                self.metrics.shed.increment(reason);
                tracing::warn!(
                    request_id,
                    ?key,
                    reason = reason.as_str(),
                    "shedding a fetch"
                );
                return Err(GatewayError::Overloaded {
                    retry_after: Duration::from_secs(1),
                });
            }
        };
        let (identifier, space) = key.identifiers()?;
        let started = Instant::now();
        let reply = self
            .upstream
            .get_task_raw(&identifier, space.as_ref())
            .await;
        self.metrics
            .record_upstream(reply.as_ref().ok().map(|r| r.status), started.elapsed());
        let result = match reply {
            Ok(raw) => classify(&self.freshness, &self.drift, key, raw, request_id),
            Err(error) => Err(error_for_failure(key, &error, request_id)),
        };
        self.note_transition(ticket.report(!is_upstream_failure(&result)));
        result
    }

    fn note_transition(&self, transition: Option<BreakerState>) {
        if let Some(state) = transition {
            self.metrics.record_breaker(state);
            match state {
                BreakerState::Open => {
                    tracing::warn!(
                        "circuit breaker opened: alumio keeps failing, pausing requests"
                    );
                }
                BreakerState::HalfOpen => {
                    tracing::info!("circuit breaker half-open: probing alumio");
                }
                BreakerState::Closed => {
                    tracing::info!("circuit breaker closed: alumio answers again");
                }
            }
        }
    }
}

/// What a leader needs to run its fetch and hand the answer over.
struct Lead {
    key: TaskKey,
    sender: watch::Sender<Answer>,
    detached: Arc<AtomicBool>,
    request_id: String,
}

/// Removes the leader's flight from the map if the leader ends without doing so itself (it
/// panicked), so the next request starts a new fetch instead of waiting on a dead one.
struct LeaveOnDrop<'a> {
    fetcher: &'a Fetcher,
    lead: &'a Lead,
    left: bool,
}

impl Drop for LeaveOnDrop<'_> {
    fn drop(&mut self) {
        if !self.left && !self.lead.detached.load(Ordering::Acquire) {
            self.fetcher.lock().remove(&self.lead.key);
        }
    }
}
