//! Consumer access control: who may read through the gateway, which spaces, and how fast.
//!
//! Consumers present `Authorization: Bearer <key>`, as they would to Alumio. The gateway knows
//! each consumer by the SHA-256 of its key from the consumers file ([`ConsumerRegistry`]),
//! which also lists the spaces it may read and its rate. Every decision is taken by
//! [`admit`] and [`Admission::authorize`] in the task handler, before any cache lookup or upstream work, so
//! a refused consumer can neither read nor warm the cache; the cache itself stays one entry per
//! (identifier, space), shared by every consumer allowed to see it.

mod audit;
mod consumers;
mod denial;
mod digest;
mod guard;
mod hash_key;
mod metrics;
mod rate;
mod registry;
mod startup;

use std::sync::Arc;
use std::time::Instant;

use http::HeaderMap;

use crate::key::KeyRef;

pub(crate) use audit::log_request;
pub use consumers::{Consumer, Consumers, MAX_CONSUMERS, SpaceRule};
pub use denial::Denial;
pub use digest::{MAX_SECRET_LEN, MIN_SECRET_LEN, SecretDigest};
pub(crate) use digest::{bearer_digest, secret_problem};
pub(crate) use guard::{Admission, Refusal, admit};
pub use hash_key::hash_key_command;
pub use metrics::{AccessMetrics, DenialReason};
pub use rate::{RateLimit, RateLimiter};
pub use registry::{ConsumerRegistry, POLL_INTERVAL, Reloaded, watch_consumers};
pub use startup::policy_from_settings;

/// Who may call the task endpoint. There is no default: whoever builds the state chooses, and
/// `Application::build` chooses the secure way ([`policy_from_settings`]).
#[derive(Clone)]
pub enum AccessPolicy {
    /// Everyone, without a key. The binary allows it only with `--allow-anonymous`, or `--demo`
    /// on a loopback address.
    Anonymous,
    /// Only the consumers of this registry, within their spaces and rates.
    Consumers(Arc<ConsumerRegistry>),
}

impl std::fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Consumers(registry) => f.debug_tuple("Consumers").field(registry).finish(),
        }
    }
}

impl AccessPolicy {
    /// Who sent the request, from its `Authorization` header alone.
    pub fn identify(&self, headers: &HeaderMap) -> Result<Admitted, Denial> {
        let Self::Consumers(registry) = self else {
            return Ok(Admitted::Anonymous);
        };
        let digest = bearer_digest(headers).ok_or(Denial::MissingKey)?;
        let consumer = registry.find(&digest).ok_or(Denial::UnknownKey)?;
        Ok(Admitted::Consumer(consumer))
    }
}

/// A caller the policy knows.
#[derive(Debug, Clone)]
pub enum Admitted {
    /// Anyone, under the anonymous policy.
    Anonymous,
    /// A consumer of the consumers file.
    Consumer(Arc<Consumer>),
}

impl Admitted {
    /// The caller's name for logs: the consumer's name, or `anonymous`.
    pub fn name(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Consumer(consumer) => consumer.name(),
        }
    }

    /// Takes one request from the caller's rate allowance at `now`.
    pub fn within_rate(&self, now: Instant) -> Result<(), Denial> {
        match self {
            Self::Consumer(consumer) => match consumer.rate_limiter() {
                Some(limiter) => limiter
                    .try_acquire(now)
                    .map_err(|retry_after| Denial::RateLimited { retry_after }),
                None => Ok(()),
            },
            Self::Anonymous => Ok(()),
        }
    }

    /// Whether the caller may read `key`: its space must be one the consumer may read.
    pub fn authorize(&self, key: &KeyRef<'_>) -> Result<(), Denial> {
        match self {
            Self::Consumer(consumer) if !consumer.may_read(key.space()) => {
                Err(Denial::Space(key.space_identifier()))
            }
            _ => Ok(()),
        }
    }
}
