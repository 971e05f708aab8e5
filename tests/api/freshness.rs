//! Each kind of answer lives for its own time to live; errors are never stored. Serving stale
//! copies is off here so that expiry shows as a miss.

use std::time::Duration;

use crate::helpers::{alumio_serves, error_reply, spawn_app_with, task_reply};

const ACTIVE: Duration = Duration::from_millis(300);
const SETTLED: Duration = Duration::from_secs(3);
const NOT_FOUND: Duration = Duration::from_millis(600);

async fn app_with_short_ttls() -> crate::helpers::TestApp {
    spawn_app_with(|settings| {
        settings.ttl_active = ACTIVE;
        settings.ttl_settled = SETTLED;
        settings.ttl_not_found = NOT_FOUND;
        settings.stale_while_revalidate = Duration::ZERO;
        settings.stale_if_error = Duration::ZERO;
    })
    .await
}

async fn cache_header(app: &crate::helpers::TestApp, identifier: &str) -> String {
    let response = app.get_task(identifier, None).await;
    response.headers()["x-cache"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_task_still_moving_expires_after_the_active_ttl_and_a_settled_one_does_not() {
    let app = app_with_short_ttls().await;
    alumio_serves(&app, "moving", task_reply("moving", "processing")).await;
    alumio_serves(&app, "done", task_reply("done", "finished")).await;

    assert_eq!(cache_header(&app, "moving").await, "MISS");
    assert_eq!(cache_header(&app, "done").await, "MISS");
    assert_eq!(cache_header(&app, "moving").await, "HIT");

    tokio::time::sleep(ACTIVE + Duration::from_millis(200)).await;
    assert_eq!(
        cache_header(&app, "moving").await,
        "MISS",
        "the active TTL has passed"
    );
    assert_eq!(
        cache_header(&app, "done").await,
        "HIT",
        "the settled TTL has not"
    );
    assert_eq!(app.upstream_requests().await, 3);
}

#[tokio::test]
async fn an_unknown_status_is_kept_as_briefly_as_an_active_one() {
    let app = app_with_short_ttls().await;
    alumio_serves(&app, "future", task_reply("future", "archived")).await;

    assert_eq!(cache_header(&app, "future").await, "MISS");
    assert_eq!(cache_header(&app, "future").await, "HIT");
    tokio::time::sleep(ACTIVE + Duration::from_millis(200)).await;
    assert_eq!(cache_header(&app, "future").await, "MISS");
}

#[tokio::test]
async fn a_not_found_is_cached_for_the_not_found_ttl() {
    let app = app_with_short_ttls().await;
    alumio_serves(&app, "pruned", error_reply(404, "Not Found")).await;

    let first = app.get_task("pruned", None).await;
    assert_eq!(first.status(), 404);
    assert_eq!(first.headers()["x-cache"], "MISS");
    let second = app.get_task("pruned", None).await;
    assert_eq!(second.status(), 404);
    assert_eq!(second.headers()["x-cache"], "HIT");
    assert_eq!(app.upstream_requests().await, 1);

    tokio::time::sleep(NOT_FOUND + Duration::from_millis(200)).await;
    assert_eq!(cache_header(&app, "pruned").await, "MISS");
    assert_eq!(app.upstream_requests().await, 2);
}

#[tokio::test]
async fn server_errors_are_never_cached() {
    let app = app_with_short_ttls().await;
    alumio_serves(&app, "flaky", error_reply(503, "Service Unavailable")).await;

    for _ in 0..3 {
        let response = app.get_task("flaky", None).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["x-cache"], "MISS");
    }
    assert_eq!(app.upstream_requests().await, 3);
}
