//! No secret reaches a log line, whatever happens: every test's logs are captured at debug
//! level through misses, hits, errors and rejected requests, and searched here.

use crate::helpers::{
    CAPTURED_LOGS, UPSTREAM_TOKEN, alumio_serves, error_reply, spawn_app, task_reply,
};

const CONSUMER_KEY: &str = "consumer-key-that-must-not-be-logged";

#[tokio::test]
async fn no_secret_appears_in_any_log_line() {
    let app = spawn_app().await;
    alumio_serves(&app, "ok", task_reply("ok", "finished")).await;
    alumio_serves(&app, "denied", error_reply(401, "Unauthorized")).await;
    alumio_serves(&app, "broken", error_reply(500, "Internal Server Error")).await;

    for identifier in ["ok", "ok", "denied", "broken", "bad%0Aid", "missing"] {
        app.client
            .get(app.url(&format!("/api/v1/tasks/{identifier}?space=acme")))
            .header("authorization", format!("Bearer {CONSUMER_KEY}"))
            .send()
            .await
            .unwrap();
    }

    let text = CAPTURED_LOGS.text();
    assert!(
        text.contains("alumio refused the gateway's token"),
        "logs were captured: {} bytes",
        text.len()
    );
    let leaks: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(UPSTREAM_TOKEN))
        .take(3)
        .collect();
    assert!(
        leaks.is_empty(),
        "the upstream token was logged: {leaks:#?}"
    );
    assert!(!text.contains(CONSUMER_KEY), "a consumer key was logged");
}
