//! Unit tests for the hit path: which requests it answers itself and which it hands on.

use std::time::Duration;

use alumio_transport::AlumioClient;
use axum::response::IntoResponse;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::service::Service as _;
use secrecy::SecretString;

use super::*;
use crate::entry::{EntryKind, StoredResponse};
use crate::key::TaskKey;
use crate::render::REQUEST_ID;
use crate::state::StateSettings;

const BODY: &[u8] = br#"{"identifier":"t-1"}"#;

/// A hit path whose router answers 418, so a handed-on request is easy to tell apart.
fn endpoint_with(fresh_for: Duration) -> Endpoint {
    let upstream = AlumioClient::builder("http://127.0.0.1:9/api/v1", SecretString::from("t"))
        .build()
        .unwrap();
    let state = AppState::new(
        upstream,
        &StateSettings::default(),
        crate::access::AccessPolicy::Anonymous,
    );
    let key = TaskKey::from_path_and_query("/api/v1/tasks/t-1", Some("space=acme")).unwrap();
    let entry = StoredResponse::new(
        StatusCode::OK,
        Bytes::from_static(BODY),
        HeaderValue::from_static("application/json"),
        EntryKind::SettledTask,
        fresh_for,
    );
    state.cache().insert(key, entry);
    let router = Router::new().fallback(|| async { StatusCode::IM_A_TEAPOT.into_response() });
    Endpoint::with_hit_path(state, router)
}

async fn send(endpoint: &Endpoint, request: Request<Empty<Bytes>>) -> (Response<()>, Bytes) {
    let response = endpoint.call(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), body)
}

fn get(uri: &str) -> Request<Empty<Bytes>> {
    Request::get(uri).body(Empty::new()).unwrap()
}

#[tokio::test]
async fn a_fresh_hit_is_answered_without_the_router() {
    let endpoint = endpoint_with(Duration::from_secs(60));
    let (response, body) = send(&endpoint, get("/api/v1/tasks/t-1?space=acme")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-cache"], "HIT");
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(body, BODY);
}

#[tokio::test]
async fn a_consumers_request_id_is_echoed() {
    let endpoint = endpoint_with(Duration::from_secs(60));
    let mut request = get("/api/v1/tasks/t-1?space=acme");
    request
        .headers_mut()
        .insert(REQUEST_ID, HeaderValue::from_static("my-id-1"));
    let (response, _) = send(&endpoint, request).await;
    assert_eq!(response.headers()[REQUEST_ID], "my-id-1");
}

#[tokio::test]
async fn head_gets_the_length_and_no_body() {
    let endpoint = endpoint_with(Duration::from_secs(60));
    let request = Request::head("/api/v1/tasks/t-1?space=acme")
        .body(Empty::new())
        .unwrap();
    let (response, body) = send(&endpoint, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_LENGTH],
        BODY.len().to_string().as_str()
    );
    assert!(body.is_empty());
}

#[tokio::test]
async fn everything_but_a_fresh_hit_goes_to_the_router() {
    let endpoint = endpoint_with(Duration::from_secs(60));
    for uri in [
        "/api/v1/tasks/t-2?space=acme",     // not cached
        "/api/v1/tasks/t-1",                // another key: no space
        "/api/v1/tasks/t-1?space=Not%20Ok", // invalid space
        "/api/v1/tasks/a/b",                // not a task path
        "/healthz",
    ] {
        let (response, _) = send(&endpoint, get(uri)).await;
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT, "{uri}");
    }
    let post = Request::post("/api/v1/tasks/t-1?space=acme")
        .body(Empty::new())
        .unwrap();
    assert_eq!(
        send(&endpoint, post).await.0.status(),
        StatusCode::IM_A_TEAPOT
    );
}

#[tokio::test]
async fn an_entry_past_its_freshness_goes_to_the_router() {
    let endpoint = endpoint_with(Duration::ZERO);
    let (response, _) = send(&endpoint, get("/api/v1/tasks/t-1?space=acme")).await;
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
}

#[tokio::test]
async fn a_router_only_endpoint_answers_nothing_itself() {
    let hit_path = endpoint_with(Duration::from_secs(60));
    let router_only = Endpoint::from(hit_path.router.clone());
    assert!(!router_only.has_hit_path());
    let (response, _) = send(&router_only, get("/api/v1/tasks/t-1?space=acme")).await;
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
}
