//! The request's audit line: who asked (the consumer's name, never its key), for which space,
//! how the cache answered and with what status.
//!
//! The task route's guard tags each response with an [`AuditTag`]; the request-id layer, which
//! sees every response, hands it here. Refusals are logged at `info`, every other request at
//! `debug`, both under the `alumio_gateway::audit` target, so
//! `RUST_LOG=info,alumio_gateway::audit=debug` turns on the full audit trail alone.

use std::sync::Arc;
use std::time::Duration;

use alumio_models::SpaceIdentifier;
use http::{HeaderValue, Method};

use super::metrics::DenialReason;
use crate::render::X_CACHE;

/// The target of audit lines.
pub(crate) const AUDIT_TARGET: &str = "alumio_gateway::audit";

/// Who a request came from, as far as the gateway could tell.
#[derive(Debug, Clone)]
pub(crate) enum AuditConsumer {
    /// Anonymous access is in force.
    Anonymous,
    /// No key, or a key no consumer has.
    Unidentified,
    /// A consumer, by name.
    Named(Arc<str>),
}

impl AuditConsumer {
    fn as_str(&self) -> &str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Unidentified => "-",
            Self::Named(name) => name,
        }
    }
}

/// What the guard learned about a request, carried to the log line on the response. It lives
/// in the response's extensions, which are never sent.
#[derive(Debug, Clone)]
pub(crate) struct AuditTag {
    pub(crate) consumer: AuditConsumer,
    pub(crate) space: Option<SpaceIdentifier>,
    pub(crate) denied: Option<DenialReason>,
}

/// Writes the request's log line, taking the audit tag off the response.
pub(crate) fn log_request<B>(
    request_id: &HeaderValue,
    method: &Method,
    path: &str,
    response: &mut http::Response<B>,
    took: Duration,
) {
    let tag = response.extensions_mut().remove::<AuditTag>();
    let consumer = tag.as_ref().map_or("-", |tag| tag.consumer.as_str());
    let space = tag
        .as_ref()
        .and_then(|tag| tag.space.as_ref())
        .map_or("-", SpaceIdentifier::as_str);
    let status = response.status().as_u16();
    let micros = took.as_micros();
    match tag.as_ref().and_then(|tag| tag.denied) {
        Some(reason) => tracing::info!(
            target: AUDIT_TARGET,
            request_id = ?request_id,
            %method,
            path,
            consumer,
            space,
            status,
            denied = reason.as_str(),
            micros,
            "request denied"
        ),
        // Allowed requests are the hot path: look nothing up for a line nobody will read.
        None if tracing::enabled!(target: AUDIT_TARGET, tracing::Level::DEBUG) => {
            let cache = response
                .headers()
                .get(X_CACHE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("-");
            tracing::debug!(
                target: AUDIT_TARGET,
                request_id = ?request_id,
                %method,
                path,
                consumer,
                space,
                cache,
                status,
                micros,
                "request"
            );
        }
        None => {}
    }
}
