//! The local leader's path through the shared tier. Within a replica only the leader of a key
//! talks to Redis: it takes a fresh answer another replica stored, a failure the fleet is
//! backing off from, or the key's lease, in which case it fetches and stores for everyone;
//! when another replica holds the lease it waits for that answer. Whenever the tier cannot
//! help, the leader fetches as a single replica would.

use std::sync::atomic::Ordering;

use super::classify::is_upstream_failure;
use super::{FetchResult, Fetched, Fetcher, Lead, Source};
use crate::entry::StoredResponse;
use crate::error::GatewayError;
use crate::shared_tier::{BackoffBounds, Lookup, SharedFailure, SharedTier, Write};

impl Fetcher {
    /// The leader's answer for its key, and where it came from.
    pub(super) async fn fetch_shared(
        &self,
        tier: &SharedTier,
        lead: &Lead,
    ) -> (FetchResult, Source) {
        let mut lookup = tier.lookup(&lead.key).await;
        loop {
            match lookup {
                Lookup::Fresh(answer) => {
                    let fetched = Fetched {
                        response: answer,
                        stored: true,
                    };
                    return (Ok(fetched), Source::Shared);
                }
                Lookup::BackingOff { failure, stale } => {
                    self.keep_stale_copy(lead, stale);
                    self.metrics.backoff_answers.increment(1);
                    return (failure_result(failure), Source::Local);
                }
                Lookup::Won { lease, stale } => {
                    self.keep_stale_copy(lead, stale);
                    let result = self.fetch_locally(lead).await;
                    tier.store(lease, self.write_for(&result));
                    return (result, Source::Local);
                }
                Lookup::Lost { stale } => {
                    self.keep_stale_copy(lead, stale);
                    lookup = tier.wait_for_holder(&lead.key).await;
                }
                Lookup::Unavailable => return (self.fetch_locally(lead).await, Source::Local),
            }
        }
    }

    /// What the winner leaves in the shared tier for the others.
    fn write_for(&self, result: &FetchResult) -> Write {
        match result {
            Ok(fetched) if fetched.stored => Write::Answer(fetched.response.clone()),
            _ if is_upstream_failure(result) => {
                let bounds = BackoffBounds {
                    first: self.backoff_policy.initial,
                    longest: self.backoff_policy.max,
                };
                Write::Failure(shared_failure(result), bounds)
            }
            _ => Write::Release,
        }
    }

    /// Puts a stale copy from the shared tier into L1, unless a purge has overtaken this
    /// fetch or L1 holds a copy already, so stale-if-error can use it; within
    /// stale-while-revalidate, the waiters get it at once while the fetch goes on.
    fn keep_stale_copy(&self, lead: &Lead, stale: Option<StoredResponse>) {
        let Some(stale) = stale else {
            return;
        };
        let serve_now = stale.stale_for(std::time::Instant::now()) < self.stale_while_revalidate;
        {
            // Under the flights lock, a purge either came first (and detached this fetch) or
            // comes after and drops the copy again.
            let _flights = self.lock();
            if lead.detached.load(Ordering::Acquire) {
                return;
            }
            if self.cache.get(&lead.key.key_ref()).is_none() {
                self.cache.insert(lead.key.clone(), stale.clone());
            }
        }
        if serve_now {
            let fetched = Fetched {
                response: stale,
                stored: true,
            };
            lead.sender
                .send_replace(Some((Ok(fetched), Source::SharedStale)));
        }
    }
}

/// The consumer's answer for a failure the fleet remembers.
fn failure_result(failure: SharedFailure) -> FetchResult {
    match failure {
        SharedFailure::Relayed(response) => Ok(Fetched {
            response,
            stored: false,
        }),
        SharedFailure::Timeout => Err(GatewayError::UpstreamTimeout),
        SharedFailure::Unreachable => Err(GatewayError::UpstreamUnreachable),
        SharedFailure::BadReply => Err(GatewayError::BadUpstreamReply {
            reason: "the last reply could not be used",
        }),
    }
}

/// The fleet's record of a failed fetch.
fn shared_failure(result: &FetchResult) -> SharedFailure {
    match result {
        Ok(fetched) => SharedFailure::Relayed(fetched.response.clone()),
        Err(GatewayError::UpstreamTimeout) => SharedFailure::Timeout,
        Err(GatewayError::UpstreamUnreachable) => SharedFailure::Unreachable,
        Err(_) => SharedFailure::BadReply,
    }
}
