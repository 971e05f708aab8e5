//! The gateway relays what Alumio sent and validates only what it must read: any JSON object
//! in a `200` is relayed byte for byte and stored, its status read only for the time to live;
//! JSON errors of any shape are relayed; answers the typed model cannot read are counted and
//! logged at most once per key per window. Only what is not JSON, or not an object in a `200`,
//! becomes the gateway's own error.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alumio_gateway::access::AccessPolicy;
use alumio_gateway::entry::EntryKind;
use alumio_gateway::freshness::FreshnessPolicy;
use alumio_gateway::key::TaskKey;
use alumio_gateway::{AppState, StateSettings, app};
use alumio_models::strategies::drifting_task_document;
use alumio_transport::{AlumioClient, RetryPolicy};
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt as _;
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::Value;
use tower::ServiceExt as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    CAPTURED_LOGS, TestApp, UPSTREAM_TOKEN, alumio_serves, get, metric, spawn_app, spawn_app_with,
    task_reply,
};

const ACTIVE: Duration = Duration::from_secs(7);
const SETTLED: Duration = Duration::from_secs(300);

const TASK_DRIFT: &str = "alumio_gateway_upstream_unexpected_shape_total{kind=\"task\"}";
const ERROR_DRIFT: &str = "alumio_gateway_upstream_unexpected_shape_total{kind=\"error\"}";

fn json_reply(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_owned(), "application/json")
}

fn key(identifier: &str) -> TaskKey {
    TaskKey::new(identifier.parse().unwrap(), None)
}

async fn app_with_distinct_ttls() -> TestApp {
    spawn_app_with(|settings| {
        settings.ttl_active = ACTIVE;
        settings.ttl_settled = SETTLED;
    })
    .await
}

#[tokio::test]
async fn a_200_with_a_numeric_entity_identifier_is_relayed_byte_for_byte_and_cached() {
    let app = app_with_distinct_ttls().await;
    let body = "{\"object\": {\"identifier\": \"php-1\", \"entityIdentifier\": 12345,\n  \"status\": \"finished\"}}";
    alumio_serves(&app, "php-1", json_reply(200, body)).await;

    let (status, x_cache, first) = get(&app, "/api/v1/tasks/php-1").await;
    assert_eq!((status, x_cache.as_str()), (200, "MISS"), "no 502");
    assert_eq!(first, body.as_bytes(), "Alumio's exact bytes");
    let (status, x_cache, second) = get(&app, "/api/v1/tasks/php-1").await;
    assert_eq!((status, x_cache.as_str()), (200, "HIT"));
    assert_eq!(second, body.as_bytes());
    assert_eq!(app.upstream_requests().await, 1);

    let stored = app
        .state
        .cache()
        .get(&key("php-1").key_ref())
        .expect("stored");
    assert_eq!(
        stored.kind(),
        EntryKind::SettledTask,
        "the status still counts"
    );
    assert_eq!(stored.fresh_for(), SETTLED);
}

#[tokio::test]
async fn a_task_without_a_readable_status_is_kept_for_the_active_ttl() {
    let app = app_with_distinct_ttls().await;
    let bodies = [
        ("missing", r#"{"object":{"identifier":"missing"}}"#),
        ("null", r#"{"object":{"status":null}}"#),
        ("number", r#"{"object":{"status":3}}"#),
        ("nested", r#"{"object":{"status":{"name":"finished"}}}"#),
        ("no-object", r#"{"count":1}"#),
        ("null-object", r#"{"object":null}"#),
        ("string-object", r#"{"object":"finished"}"#),
    ];
    for (identifier, body) in bodies {
        alumio_serves(&app, identifier, json_reply(200, body)).await;
        let (status, _, relayed) = get(&app, &format!("/api/v1/tasks/{identifier}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(relayed, body.as_bytes());
        let stored = app
            .state
            .cache()
            .get(&key(identifier).key_ref())
            .expect(identifier);
        assert_eq!(stored.kind(), EntryKind::ActiveTask, "{body}");
        assert_eq!(stored.fresh_for(), ACTIVE, "{body}");
    }
}

#[tokio::test]
async fn a_200_that_is_json_but_not_an_object_is_a_502_and_not_stored() {
    // Six failures in a row would open the breaker, which answers 503 instead.
    let app = spawn_app_with(|settings| settings.breaker_failures = 10).await;
    for (identifier, body) in [("array", "[]"), ("string", "\"task\""), ("number", "7")] {
        alumio_serves(&app, identifier, json_reply(200, body)).await;
        for _ in 0..2 {
            let response = app.get_task(identifier, None).await;
            assert_eq!(response.status(), 502, "{body}");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["status"], "502");
        }
        assert!(
            app.state.cache().get(&key(identifier).key_ref()).is_none(),
            "{body}"
        );
    }
    assert_eq!(
        app.upstream_requests().await,
        6,
        "every request asked again"
    );
}

#[tokio::test]
async fn an_error_reply_that_is_json_of_another_shape_is_relayed_with_its_status() {
    let app = spawn_app().await;
    let replies = [
        ("gone", 404, r#"{"message":"No task","code":404}"#),
        ("busy", 503, r#"{"error":{"code":"maintenance"}}"#),
        ("odd", 422, r#"["not", "an", "error"]"#),
        ("php-status", 400, r#"{"status":400,"title":"Bad Request"}"#),
    ];
    for (identifier, status, body) in replies {
        alumio_serves(&app, identifier, json_reply(status, body)).await;
        let (got, _, relayed) = get(&app, &format!("/api/v1/tasks/{identifier}")).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(relayed, body.as_bytes(), "Alumio's body, as sent");
    }
    let (_, x_cache, _) = get(&app, "/api/v1/tasks/gone").await;
    assert_eq!(
        x_cache, "HIT",
        "a 404 is kept for the not-found TTL whatever its shape"
    );
}

#[tokio::test]
async fn an_html_503_from_a_proxy_is_an_upstream_failure_answered_with_a_stale_copy() {
    let app = spawn_app_with(|settings| {
        settings.ttl_active = Duration::from_millis(200);
        settings.stale_while_revalidate = Duration::ZERO;
    })
    .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/tasks/proxied"))
        .respond_with(task_reply("proxied", "processing"))
        .up_to_n_times(1)
        .mount(&app.alumio)
        .await;
    let (status, _, warm) = get(&app, "/api/v1/tasks/proxied").await;
    assert_eq!(status, 200);
    let html =
        ResponseTemplate::new(503).set_body_raw("<h1>503 Service Unavailable</h1>", "text/html");
    alumio_serves(&app, "proxied", html.clone()).await;
    alumio_serves(&app, "never-seen", html).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, x_cache, body) = get(&app, "/api/v1/tasks/proxied").await;
    assert_eq!((status, x_cache.as_str()), (200, "STALE"));
    assert_eq!(body, warm, "the last good bytes");

    let response = app.get_task("never-seen", None).await;
    assert_eq!(
        response.status(),
        502,
        "no stale copy: the gateway's own error"
    );
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["status"], "502");
    assert!(
        error["detail"].as_str().unwrap().contains("error body"),
        "{error}"
    );
    assert_eq!(
        metric(&app.metrics().await, ERROR_DRIFT),
        0.0,
        "not JSON: not drift"
    );
}

#[tokio::test]
async fn relayed_answers_the_typed_model_cannot_read_are_counted_by_kind() {
    let app = spawn_app().await;
    alumio_serves(&app, "typed", task_reply("typed", "new")).await;
    alumio_serves(
        &app,
        "numeric",
        json_reply(200, r#"{"object":{"route":7}}"#),
    )
    .await;
    // The typed `Error` has no required property, so only a wrong type is drift.
    alumio_serves(
        &app,
        "unknown-error",
        json_reply(500, r#"{"message":"boom"}"#),
    )
    .await;
    alumio_serves(
        &app,
        "php-error",
        json_reply(500, r#"{"status":500,"detail":"boom"}"#),
    )
    .await;

    get(&app, "/api/v1/tasks/typed").await;
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, TASK_DRIFT),
        0.0,
        "a typed task is no drift"
    );
    get(&app, "/api/v1/tasks/numeric").await;
    get(&app, "/api/v1/tasks/numeric?space=acme").await;
    get(&app, "/api/v1/tasks/unknown-error").await;
    get(&app, "/api/v1/tasks/php-error").await;
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, TASK_DRIFT), 2.0);
    assert_eq!(metric(&metrics, ERROR_DRIFT), 1.0);
    get(&app, "/api/v1/tasks/numeric").await;
    assert_eq!(
        metric(&app.metrics().await, TASK_DRIFT),
        2.0,
        "a hit is not read again"
    );
}

#[tokio::test]
async fn the_drift_warning_names_the_key_and_the_rejection_once_per_window() {
    let app = spawn_app_with(|settings| settings.ttl_active = Duration::ZERO).await;
    let secret = "private-customer-note";
    let body = format!(r#"{{"object":{{"meta":"{secret}","status":"new"}}}}"#);
    alumio_serves(&app, "warned-once", json_reply(200, &body)).await;
    alumio_serves(&app, "warned-too", json_reply(200, &body)).await;

    // Not stored (a zero TTL), so each request reads the answer again.
    for _ in 0..3 {
        assert_eq!(get(&app, "/api/v1/tasks/warned-once").await.0, 200);
    }
    assert_eq!(get(&app, "/api/v1/tasks/warned-too").await.0, 200);
    assert_eq!(metric(&app.metrics().await, TASK_DRIFT), 4.0);

    let logs = CAPTURED_LOGS.text();
    let warnings = |identifier: &str| -> Vec<String> {
        logs.lines()
            .filter(|line| line.contains("typed model cannot read") && line.contains(identifier))
            .map(str::to_owned)
            .collect()
    };
    let once = warnings("warned-once");
    assert_eq!(once.len(), 1, "{once:#?}");
    assert!(once[0].contains("WARN"), "{}", once[0]);
    assert!(
        once[0].contains("object.meta: invalid type: string, expected a TaskMeta object"),
        "{}",
        once[0]
    );
    assert!(!once[0].contains(secret), "no body text: {}", once[0]);
    assert!(!once[0].contains(UPSTREAM_TOKEN));
    assert_eq!(
        warnings("warned-too").len(),
        1,
        "another key warns on its own"
    );
}

/// A gateway state in front of `alumio`, for requests sent through the router in process.
fn state_in_front_of(alumio: &MockServer) -> AppState {
    let upstream = AlumioClient::builder(
        &format!("{}/api/v1", alumio.uri()),
        SecretString::from(UPSTREAM_TOKEN),
    )
    .retry_policy(RetryPolicy::none())
    .build()
    .expect("the upstream client builds");
    let settings = StateSettings {
        freshness: FreshnessPolicy {
            ttl_active: Duration::from_secs(60),
            ttl_settled: Duration::from_secs(60),
            ttl_not_found: Duration::from_secs(60),
        },
        ..StateSettings::default()
    };
    AppState::new(upstream, &settings, AccessPolicy::Anonymous)
}

/// One runtime, mock Alumio and gateway for every case, each case under its own key.
struct InProcess {
    runtime: tokio::runtime::Runtime,
    alumio: MockServer,
    state: AppState,
    next: AtomicUsize,
}

static IN_PROCESS: LazyLock<InProcess> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (alumio, state) = runtime.block_on(async {
        let alumio = MockServer::start().await;
        let state = state_in_front_of(&alumio);
        (alumio, state)
    });
    InProcess {
        runtime,
        alumio,
        state,
        next: AtomicUsize::new(0),
    }
});

impl InProcess {
    /// Status, `X-Cache` and body of a `GET` sent through the router.
    async fn get(&self, uri: &str) -> (u16, String, bytes::Bytes) {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let x_cache = response.headers()["x-cache"].to_str().unwrap().to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, x_cache, body)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_json_object_alumio_sends_is_relayed_exactly_stored_and_then_a_hit(
        text in drifting_task_document(),
    ) {
        let bench = &*IN_PROCESS;
        let identifier = format!("drift-{}", bench.next.fetch_add(1, Ordering::Relaxed));
        let uri = format!("/api/v1/tasks/{identifier}");
        let (first, second, asked) = bench.runtime.block_on(async {
            Mock::given(method("GET"))
                .and(path(uri.as_str()))
                .respond_with(json_reply(200, &text))
                .mount(&bench.alumio)
                .await;
            let first = bench.get(&uri).await;
            let second = bench.get(&uri).await;
            let asked = bench
                .alumio
                .received_requests()
                .await
                .unwrap()
                .iter()
                .filter(|request| request.url.path() == uri)
                .count();
            (first, second, asked)
        });
        prop_assert_eq!((first.0, first.1.as_str()), (200, "MISS"));
        prop_assert_eq!(&first.2[..], text.as_bytes(), "Alumio's exact bytes");
        prop_assert!(bench.state.cache().get(&key(&identifier).key_ref()).is_some(), "stored");
        prop_assert_eq!((second.0, second.1.as_str()), (200, "HIT"));
        prop_assert_eq!(&second.2[..], text.as_bytes());
        prop_assert_eq!(asked, 1);
    }
}
