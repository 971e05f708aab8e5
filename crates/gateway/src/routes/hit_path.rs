//! The hit path: a hyper service in front of the axum router that answers a fresh cache hit
//! for `GET`/`HEAD` of the task path by itself, and hands every other request to the router.
//!
//! A hit is what the gateway is measured on, and the router's generic machinery (route
//! matching, tower layers, boxed bodies, the request-id layer's copies) cost more than the
//! hit's own work (docs/performance.md). Here a hit takes the same decisions in the same order
//! as the router's task handler, through the same functions: access first
//! ([`access::admit`], then [`Admission::authorize`] once the key is known), then the cache
//! lookup, then [`render_at`]. Anything that is not a fresh hit (a refusal, a bad key, a miss, a
//! stale entry) goes to the router unchanged, carrying the access decision already taken so
//! that a consumer's rate is charged once.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::Router;
use axum::routing::future::RouteFuture;
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body::{Body, Frame, SizeHint};
use tower::Service as _;

use super::request_id::{consumers_request_id, new_request_id};
use super::tasks::AccessDecided;
use crate::access::{self, Admission, log_request};
use crate::entry::CacheOutcome;
use crate::key::KeyRef;
use crate::render::{RenderRequest, render_at};
use crate::state::AppState;

/// What a listener serves: an axum router, with the hit path in front of it for the
/// consumer-facing listener.
#[derive(Clone)]
pub struct Endpoint {
    hits: Option<AppState>,
    router: Router,
}

impl Endpoint {
    /// `router` with fresh hits on `state`'s cache answered in front of it.
    pub fn with_hit_path(state: AppState, router: Router) -> Self {
        Self {
            hits: Some(state),
            router,
        }
    }

    /// Whether this endpoint answers hits before its router.
    pub fn has_hit_path(&self) -> bool {
        self.hits.is_some()
    }

    /// The fresh hit for `request`, or the request back, with the access decision taken for
    /// it, when it is anything else.
    fn answer_hit<B>(&self, request: Request<B>) -> Answer<B> {
        let Some(state) = &self.hits else {
            return Answer::Route(request);
        };
        let method = request.method();
        if !(method == Method::GET || method == Method::HEAD) {
            return Answer::Route(request);
        }
        // A path that is no valid key is the router's to answer, access decision included:
        // the key is read first here only because reading it is what tells a task path.
        let uri = request.uri();
        let Ok(key) = KeyRef::read(uri.path(), uri.query()) else {
            return Answer::Route(request);
        };
        let admission = match access::admit(state.access(), request.headers()) {
            Ok(admission) => admission,
            Err(refusal) => return Answer::Route(hand_on(request, Err(refusal))),
        };
        match fresh_hit(state, &admission, &request, &key) {
            Some(response) => Answer::Hit(response),
            None => {
                // The key may borrow the request line; it must be gone before the request moves.
                drop(key);
                Answer::Route(hand_on(request, Ok(admission)))
            }
        }
    }
}

/// What the hit path does with a request.
enum Answer<B> {
    /// A fresh hit, answered.
    Hit(Response<HitBody>),
    /// Anything else, for the router.
    Route(Request<B>),
}

impl From<Router> for Endpoint {
    fn from(router: Router) -> Self {
        Self { hits: None, router }
    }
}

/// Adds the access decision to a request the router will answer.
fn hand_on<B>(mut request: Request<B>, decided: Result<Admission, access::Refusal>) -> Request<B> {
    request.extensions_mut().insert(AccessDecided(decided));
    request
}

/// The response for an admitted request when its key is valid, allowed and fresh in the cache.
fn fresh_hit<B>(
    state: &AppState,
    admission: &Admission,
    request: &Request<B>,
    key: &KeyRef<'_>,
) -> Option<Response<HitBody>> {
    admission.authorize(key).ok()?;
    let now = Instant::now();
    let entry = state.cache().get(key)?;
    let age = entry.age(now);
    if !entry.is_fresh_at_age(age) {
        return None;
    }
    state.metrics().cache.hits.increment(1);
    let headers = request.headers();
    let id = consumers_request_id(headers).map_or_else(new_request_id, Clone::clone);
    let rendering = RenderRequest {
        method: request.method(),
        headers,
        request_id: Some(&id),
    };
    let mut response =
        render_at(age, &entry, CacheOutcome::Hit, true, &rendering).map(HitBody::Bytes);
    if admission.is_audited() {
        admission.tag(&mut response, Some(key));
        log_request(
            &id,
            request.method(),
            request.uri().path(),
            &mut response,
            now.elapsed(),
        );
    }
    Some(response)
}

impl<B> hyper::service::Service<Request<B>> for Endpoint
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<HitBody>;
    type Error = Infallible;
    type Future = EndpointFuture;

    fn call(&self, request: Request<B>) -> Self::Future {
        match self.answer_hit(request) {
            Answer::Hit(response) => EndpointFuture::Answered {
                response: Some(response),
            },
            // The router is always ready (its `poll_ready` does nothing), and a clone of it is
            // one reference count.
            Answer::Route(request) => EndpointFuture::Routed {
                inner: self.router.clone().call(request),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// A hit answered at once (the answer, until it is taken), or the router's answer.
    #[project = EndpointFutureProjection]
    #[allow(missing_docs)] // The fields are the variants' only content.
    pub enum EndpointFuture {
        /// The hit path answered.
        Answered { response: Option<Response<HitBody>> },
        /// The router is answering.
        Routed { #[pin] inner: RouteFuture<Infallible> },
    }
}

impl Future for EndpointFuture {
    type Output = Result<Response<HitBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            EndpointFutureProjection::Answered { response } => {
                // Polled again after completing: answer with the router's 500 rather than panic.
                let response = response.take().unwrap_or_else(|| {
                    axum::response::IntoResponse::into_response(
                        crate::error::GatewayError::Internal,
                    )
                    .map(HitBody::Routed)
                });
                Poll::Ready(Ok(response))
            }
            EndpointFutureProjection::Routed { inner } => {
                let Ok(response) = ready!(inner.poll(cx));
                Poll::Ready(Ok(response.map(HitBody::Routed)))
            }
        }
    }
}

/// A response body: the entry's shared bytes for a hit (`None`: no body), or whatever the
/// router answered with. Hits need no boxed body.
#[derive(Debug)]
pub enum HitBody {
    /// The bytes of a hit, sent in one frame.
    Bytes(Option<Bytes>),
    /// The router's body.
    Routed(axum::body::Body),
}

impl Body for HitBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Self::Bytes(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            Self::Routed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Bytes(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Self::Routed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Bytes(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Self::Routed(body) => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests;
