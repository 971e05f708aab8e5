//! The access decisions of the task route, taken by the handler before it looks at the cache:
//! who is asking and within which rate ([`admit`]), then whether it may read the key's space
//! ([`authorize`]). They are plain calls rather than a middleware layer, so an allowed request
//! pays for no extra boxed future on the hit path.

use std::time::Instant;

use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use super::audit::{AUDIT_TARGET, AuditConsumer, AuditTag};
use super::metrics::AccessMetrics;
use super::{AccessPolicy, Admitted, Denial};
use crate::key::KeyRef;

/// A caller let through the first check, and what its audit line will say.
#[derive(Clone)]
pub(crate) struct Admission {
    admitted: Admitted,
    audited: bool,
}

/// A refused request, and what its audit line will say.
#[derive(Clone)]
pub(crate) struct Refusal {
    denial: Denial,
    consumer: AuditConsumer,
    space: Option<alumio_models::SpaceIdentifier>,
}

impl Refusal {
    /// The refusal in Alumio's `Error` shape, counted and tagged for the audit line.
    pub(crate) fn into_response(self, metrics: &AccessMetrics) -> Response {
        let reason = self.denial.reason();
        metrics.record_denied(reason);
        let mut response = self.denial.into_response();
        response.extensions_mut().insert(AuditTag {
            consumer: self.consumer,
            space: self.space,
            denied: Some(reason),
        });
        response
    }
}

/// Identifies the caller under `policy` and takes one request from its rate.
pub(crate) fn admit(policy: &AccessPolicy, headers: &HeaderMap) -> Result<Admission, Refusal> {
    let admitted = match policy.identify(headers) {
        Ok(admitted) => admitted,
        Err(denial) => {
            return Err(Refusal {
                denial,
                consumer: AuditConsumer::Unidentified,
                space: None,
            });
        }
    };
    if let Err(denial) = admitted.within_rate(Instant::now()) {
        let consumer = audit_consumer(&admitted);
        return Err(Refusal {
            denial,
            consumer,
            space: None,
        });
    }
    // Allowed requests are audited at debug; when that is off, nothing is recorded for them.
    let audited = tracing::enabled!(target: AUDIT_TARGET, tracing::Level::DEBUG);
    Ok(Admission { admitted, audited })
}

impl Admission {
    /// Whether the caller may read `key`.
    pub(crate) fn authorize(&self, key: &KeyRef<'_>) -> Result<(), Refusal> {
        self.admitted.authorize(key).map_err(|denial| Refusal {
            denial,
            consumer: audit_consumer(&self.admitted),
            space: key.space_identifier(),
        })
    }

    /// Whether allowed requests are audited, so the request's log line must be written.
    pub(crate) fn is_audited(&self) -> bool {
        self.audited
    }

    /// Tags `response` for the audit line when allowed requests are audited.
    pub(crate) fn tag<B>(&self, response: &mut http::Response<B>, key: Option<&KeyRef<'_>>) {
        if self.audited {
            response.extensions_mut().insert(AuditTag {
                consumer: audit_consumer(&self.admitted),
                space: key.and_then(KeyRef::space_identifier),
                denied: None,
            });
        }
    }
}

fn audit_consumer(admitted: &Admitted) -> AuditConsumer {
    match admitted {
        Admitted::Anonymous => AuditConsumer::Anonymous,
        Admitted::Consumer(consumer) => AuditConsumer::Named(consumer.shared_name().clone()),
    }
}
