//! Health, readiness, metrics and request ids.

use crate::helpers::{alumio_serves, metric, spawn_app, task_reply};

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn metrics_count_hits_misses_and_upstream_requests() {
    let app = spawn_app().await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    let before = app.metrics().await;
    assert_eq!(metric(&before, "alumio_gateway_cache_hits_total"), 0.0);

    app.get_task("t-1", None).await;
    app.get_task("t-1", None).await;
    app.get_task("t-1", None).await;

    let after = app.metrics().await;
    assert_eq!(metric(&after, "alumio_gateway_cache_misses_total"), 1.0);
    assert_eq!(metric(&after, "alumio_gateway_cache_hits_total"), 2.0);
    assert_eq!(
        metric(
            &after,
            "alumio_gateway_upstream_requests_total{class=\"2xx\"}"
        ),
        1.0
    );
    assert_eq!(metric(&after, "alumio_gateway_cache_entries"), 1.0);
    assert!(metric(&after, "alumio_gateway_cache_bytes") > 0.0);
    assert!(after.contains("alumio_gateway_upstream_latency_seconds_bucket"));
    assert!(!after.contains(crate::helpers::UPSTREAM_TOKEN));
}

#[tokio::test]
async fn a_request_id_is_echoed_or_made() {
    let app = spawn_app().await;

    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "abc-123");

    let made = app.client.get(app.url("/healthz")).send().await.unwrap();
    let first = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    let again = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(!first.is_empty());
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), first);

    let insane = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_ne!(insane.headers()["x-request-id"].len(), 500);
}
