//! Alumio's errors are relayed as Alumio sent them; replies the gateway cannot use become the
//! gateway's own errors, in the same shape, and none of them are stored.

use std::time::Duration;

use serde_json::Value;
use wiremock::ResponseTemplate;

use crate::helpers::{alumio_serves, error_reply, spawn_app, spawn_app_with, task_reply};

#[tokio::test]
async fn alumios_error_body_is_relayed_with_its_status() {
    let app = spawn_app().await;
    alumio_serves(&app, "locked", error_reply(403, "Forbidden")).await;

    let response = app.get_task("locked", Some("space=acme")).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"], "Forbidden (from alumio)");
}

#[tokio::test]
async fn a_200_that_is_not_a_task_document_is_a_502_and_not_cached() {
    let app = spawn_app().await;
    alumio_serves(
        &app,
        "junk",
        ResponseTemplate::new(200).set_body_raw("<html>oops</html>", "text/html"),
    )
    .await;

    for _ in 0..2 {
        let response = app.get_task("junk", None).await;
        assert_eq!(response.status(), 502);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "502");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("not a task document")
        );
    }
    assert_eq!(app.upstream_requests().await, 2);
}

#[tokio::test]
async fn an_error_without_alumios_error_body_is_a_502() {
    let app = spawn_app().await;
    alumio_serves(
        &app,
        "proxy",
        ResponseTemplate::new(502).set_body_raw("<h1>Bad gateway</h1>", "text/html"),
    )
    .await;

    let response = app.get_task("proxy", None).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("error body"));
}

#[tokio::test]
async fn a_slow_alumio_gets_the_consumer_a_504_within_the_request_timeout() {
    let app =
        spawn_app_with(|settings| settings.request_timeout = Duration::from_millis(300)).await;
    alumio_serves(
        &app,
        "slow",
        task_reply("slow", "new").set_delay(Duration::from_secs(1)),
    )
    .await;

    let started = std::time::Instant::now();
    let response = app.get_task("slow", None).await;
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "answered at the timeout, not after Alumio"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "504");
}

#[tokio::test]
async fn errors_never_show_the_upstream_token_or_internals() {
    let app = spawn_app().await;
    alumio_serves(
        &app,
        "junk",
        ResponseTemplate::new(200).set_body_raw("not json", "text/plain"),
    )
    .await;

    let body = app.get_task("junk", None).await.text().await.unwrap();
    assert!(!body.contains(crate::helpers::UPSTREAM_TOKEN));
    assert!(
        !body.contains("127.0.0.1"),
        "the upstream address is an internal: {body}"
    );
}

#[tokio::test]
async fn a_200_that_is_not_a_task_document_is_logged_with_the_request_id() {
    let app = spawn_app().await;
    alumio_serves(
        &app,
        "junk-logged",
        ResponseTemplate::new(200).set_body_raw("[1, 2]", "application/json"),
    )
    .await;

    let response = app
        .client
        .get(app.url("/api/v1/tasks/junk-logged"))
        .header("x-request-id", "trace-me-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);

    let logs = crate::helpers::CAPTURED_LOGS.text();
    let line = logs
        .lines()
        .find(|line| line.contains("not a task document") && line.contains("junk-logged"))
        .expect("the bad reply is logged");
    assert!(line.contains("trace-me-7f3a"), "{line}");
}
