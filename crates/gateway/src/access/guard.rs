//! `guard_tasks`: the layer in front of the task handler that takes every access decision
//! before the handler looks at the cache, and tags the response for the audit line.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::audit::{AUDIT_TARGET, AuditConsumer, AuditTag};
use super::{Admitted, Denial};
use crate::key::TaskKey;
use crate::state::AppState;

/// Identifies the caller, takes one request from its rate, checks the space it asks for, and
/// only then lets the request reach the handler, which alone touches the cache and Alumio.
pub(crate) async fn guard_tasks(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let admitted = match state.access().identify(request.headers()) {
        Ok(admitted) => admitted,
        Err(denial) => return refuse(&state, denial, AuditConsumer::Unidentified, None),
    };
    let consumer = match &admitted {
        Admitted::Anonymous => AuditConsumer::Anonymous,
        Admitted::Consumer(consumer) => AuditConsumer::Named(consumer.shared_name().clone()),
    };
    if let Err(denial) = admitted.within_rate(Instant::now()) {
        return refuse(&state, denial, consumer, None);
    }
    // Allowed requests are audited at debug; when that is off, an anonymous request has
    // nothing left to check and goes straight on, so the hit path pays nothing for access.
    let audited = tracing::enabled!(target: AUDIT_TARGET, tracing::Level::DEBUG);
    if !audited && matches!(admitted, Admitted::Anonymous) {
        return next.run(request).await;
    }
    let key = match TaskKey::from_path_and_query(request.uri().path(), request.uri().query()) {
        Ok(key) => key,
        Err(error) => {
            let mut response = error.into_response();
            response.extensions_mut().insert(AuditTag {
                consumer,
                space: None,
                denied: None,
            });
            return response;
        }
    };
    if let Err(denial) = admitted.authorize(&key) {
        return refuse(&state, denial, consumer, key.space().cloned());
    }
    let mut response = next.run(request).await;
    if audited {
        response.extensions_mut().insert(AuditTag {
            consumer,
            space: key.space().cloned(),
            denied: None,
        });
    }
    response
}

fn refuse(
    state: &AppState,
    denial: Denial,
    consumer: AuditConsumer,
    space: Option<alumio_models::SpaceIdentifier>,
) -> Response {
    let reason = denial.reason();
    state.metrics().access.record_denied(reason);
    let mut response = denial.into_response();
    response.extensions_mut().insert(AuditTag {
        consumer,
        space,
        denied: Some(reason),
    });
    response
}
