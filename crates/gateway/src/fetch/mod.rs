//! `Fetcher`: takes a key Alumio's answer, one upstream request per key at a time however many
//! consumers ask, and stores what may be stored.
//!
//! The first request for a key leads: it spawns the upstream fetch as a task of its own, so a
//! leader whose consumer hangs up neither fails nor restarts the fetch for the others. Later
//! requests for the same key wait on the leader's channel. Errors reach every waiter of that
//! one fetch and are never stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use alumio_models::{ApiError, DetailedTaskResult};
use alumio_transport::{AlumioClient, RawTaskResponse, TransportError};
use http::{HeaderValue, StatusCode};
use tokio::sync::watch;

use crate::cache::ResponseCache;
use crate::entry::{EntryKind, StoredResponse};
use crate::error::GatewayError;
use crate::freshness::FreshnessPolicy;
use crate::key::TaskKey;
use crate::metrics::GatewayMetrics;
use crate::render::CacheOutcome;

/// An answer ready to send, and whether it is now in the cache.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The answer.
    pub response: Arc<StoredResponse>,
    /// Whether the cache holds it (it does not for errors Alumio answered).
    pub stored: bool,
}

/// What one fetch gives every request waiting on it.
pub type FetchResult = Result<Fetched, GatewayError>;

type InFlight = HashMap<TaskKey, watch::Receiver<Option<FetchResult>>>;

/// Fetches answers from Alumio on behalf of cache misses.
pub struct Fetcher {
    upstream: AlumioClient,
    cache: Arc<dyn ResponseCache>,
    freshness: FreshnessPolicy,
    metrics: Arc<GatewayMetrics>,
    in_flight: Mutex<InFlight>,
}

impl Fetcher {
    /// A fetcher that asks `upstream` and stores into `cache`.
    pub fn new(
        upstream: AlumioClient,
        cache: Arc<dyn ResponseCache>,
        freshness: FreshnessPolicy,
        metrics: Arc<GatewayMetrics>,
    ) -> Self {
        Self {
            upstream,
            cache,
            freshness,
            metrics,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// The answer for `key`: from the cache if it arrived meanwhile, from a fetch already under
    /// way, or from a new fetch. Says which of these it was.
    pub async fn fetch(self: &Arc<Self>, key: &TaskKey) -> (FetchResult, CacheOutcome) {
        let mut receiver = match self.join_or_lead(key) {
            Ok(fresh) => return (Ok(fresh), CacheOutcome::Hit),
            Err(joined) => joined,
        };
        let outcome = receiver.1;
        let result = match receiver.0.wait_for(Option::is_some).await {
            Ok(result) => result.clone().unwrap_or(Err(GatewayError::Internal)),
            // The leader's task ended without an answer: it panicked or the runtime is stopping.
            Err(_) => Err(GatewayError::Internal),
        };
        (result, outcome)
    }

    /// How many keys have a fetch under way.
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InFlight> {
        // The map stays consistent even if a holder panicked: every change is a single call.
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    #[allow(clippy::type_complexity)]
    fn join_or_lead(
        self: &Arc<Self>,
        key: &TaskKey,
    ) -> Result<Fetched, (watch::Receiver<Option<FetchResult>>, CacheOutcome)> {
        let mut in_flight = self.lock();
        // A leader stores its answer before it leaves the map, so looking again under the lock
        // closes the window between the caller's miss and this point.
        if let Some(response) = self.cache.get(key).filter(|r| r.is_fresh(Instant::now())) {
            return Ok(Fetched {
                response,
                stored: true,
            });
        }
        if let Some(receiver) = in_flight.get(key) {
            self.metrics.coalesced_waiters.increment(1);
            return Err((receiver.clone(), CacheOutcome::Collapsed));
        }
        let (sender, receiver) = watch::channel(None);
        in_flight.insert(key.clone(), receiver.clone());
        drop(in_flight);
        let fetcher = Arc::clone(self);
        let key = key.clone();
        tokio::spawn(async move { fetcher.lead(key, sender).await });
        Err((receiver, CacheOutcome::Miss))
    }

    async fn lead(&self, key: TaskKey, sender: watch::Sender<Option<FetchResult>>) {
        let leaving = LeaveOnDrop {
            fetcher: self,
            key: &key,
        };
        let result = self.fetch_from_upstream(&key).await;
        if let Ok(fetched) = &result
            && fetched.stored
        {
            self.cache
                .insert(key.clone(), Arc::clone(&fetched.response));
        }
        drop(leaving);
        sender.send_replace(Some(result));
    }

    async fn fetch_from_upstream(&self, key: &TaskKey) -> FetchResult {
        let started = Instant::now();
        let reply = self
            .upstream
            .get_task_raw(key.identifier(), key.space())
            .await;
        self.metrics
            .record_upstream(reply.as_ref().ok().map(|r| r.status), started.elapsed());
        match reply {
            Ok(raw) => self.classify(key, raw),
            Err(error) => Err(error_for_failure(key, &error)),
        }
    }

    fn classify(&self, key: &TaskKey, raw: RawTaskResponse) -> FetchResult {
        let content_type = raw
            .headers
            .content_type
            .clone()
            .unwrap_or(HeaderValue::from_static("application/json"));
        let kind = match raw.status {
            StatusCode::OK => match serde_json::from_slice::<DetailedTaskResult>(&raw.body) {
                Ok(DetailedTaskResult {
                    object: Some(task), ..
                }) => FreshnessPolicy::classify(&task),
                _ => {
                    tracing::warn!(
                        ?key,
                        bytes = raw.body.len(),
                        "alumio sent a 200 that is not a task document"
                    );
                    return Err(GatewayError::BadUpstreamReply {
                        reason: "the body is not a task document",
                    });
                }
            },
            status if status.is_client_error() || status.is_server_error() => {
                if serde_json::from_slice::<ApiError>(&raw.body).is_err() {
                    tracing::warn!(?key, %status, "alumio sent an error without its error body");
                    return Err(GatewayError::BadUpstreamReply {
                        reason: "an error without alumio's error body",
                    });
                }
                if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                    tracing::warn!(?key, %status, "alumio refused the gateway's token for this task");
                }
                if status == StatusCode::NOT_FOUND {
                    EntryKind::NotFound
                } else {
                    EntryKind::Uncacheable
                }
            }
            status => {
                tracing::warn!(?key, %status, "alumio answered with an unexpected status");
                return Err(GatewayError::BadUpstreamReply {
                    reason: "an unexpected status",
                });
            }
        };
        let fresh_for = self.freshness.ttl(kind);
        let mut response = StoredResponse::new(raw.status, raw.body, content_type, kind, fresh_for);
        response.retry_after = raw.headers.retry_after;
        Ok(Fetched {
            response: Arc::new(response),
            stored: fresh_for > Duration::ZERO,
        })
    }
}

/// Maps a failure to reach Alumio to the consumer's error, logging the cause, which the
/// consumer never sees.
fn error_for_failure(key: &TaskKey, error: &TransportError) -> GatewayError {
    tracing::warn!(?key, %error, "fetching from alumio failed");
    match error {
        TransportError::Timeout { .. } => GatewayError::UpstreamTimeout,
        TransportError::Connect { .. } | TransportError::Request { .. } => {
            GatewayError::UpstreamUnreachable
        }
        TransportError::UnsendableIdentifier => GatewayError::InvalidParameter {
            parameter: "identifier",
            reason: "task identifier cannot be sent to alumio as a path segment".into(),
        },
        TransportError::BodyTooLarge { .. } => GatewayError::BadUpstreamReply {
            reason: "the body is larger than the gateway accepts",
        },
        _ => GatewayError::BadUpstreamReply {
            reason: "the reply could not be read",
        },
    }
}

/// Removes the key from the in-flight map when the leader is done, even if it panicked, so the
/// next request starts a new fetch instead of waiting on a dead one.
struct LeaveOnDrop<'a> {
    fetcher: &'a Fetcher,
    key: &'a TaskKey,
}

impl Drop for LeaveOnDrop<'_> {
    fn drop(&mut self) {
        self.fetcher.lock().remove(self.key);
    }
}
