//! Concurrent misses for one key make one upstream request, whatever happens to its leader.

use std::time::Duration;

use crate::helpers::{
    alumio_serves, concurrent_gets, error_reply, spawn_app, task_bytes, task_reply,
};

#[tokio::test]
async fn a_thousand_concurrent_requests_for_a_cold_key_make_one_upstream_request() {
    let app = spawn_app().await;
    alumio_serves(
        &app,
        "cold",
        task_reply("cold", "processing").set_delay(Duration::from_millis(200)),
    )
    .await;

    let results = concurrent_gets(&app, "/api/v1/tasks/cold?space=acme", 1000).await;

    let expected = task_bytes("cold", "processing");
    assert_eq!(results.len(), 1000);
    assert!(
        results
            .iter()
            .all(|(status, body)| *status == 200 && body == &expected[..])
    );
    assert_eq!(app.upstream_requests().await, 1);
}

#[tokio::test]
async fn a_leader_that_disconnects_does_not_break_its_waiters() {
    let app = spawn_app().await;
    alumio_serves(
        &app,
        "slow",
        task_reply("slow", "finished").set_delay(Duration::from_millis(400)),
    )
    .await;

    // The leader gives up long before Alumio answers, dropping its connection.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let leader = impatient.get(app.url("/api/v1/tasks/slow")).send().await;
    assert!(leader.is_err(), "the leader timed out on its side");

    let waiters = concurrent_gets(&app, "/api/v1/tasks/slow", 20).await;
    assert!(waiters.iter().all(|(status, _)| *status == 200));
    assert_eq!(
        app.upstream_requests().await,
        1,
        "the fetch was neither failed nor restarted"
    );
    assert_eq!(
        app.state.fetcher().in_flight(),
        0,
        "the finished fetch left the in-flight map"
    );
}

#[tokio::test]
async fn an_upstream_error_reaches_every_waiter_and_is_not_cached() {
    let app = spawn_app().await;
    alumio_serves(
        &app,
        "broken",
        error_reply(500, "Internal Server Error").set_delay(Duration::from_millis(200)),
    )
    .await;

    let results = concurrent_gets(&app, "/api/v1/tasks/broken", 50).await;
    assert!(results.iter().all(|(status, _)| *status == 500));
    assert_eq!(app.upstream_requests().await, 1);

    let again = app.get_task("broken", None).await;
    assert_eq!(again.status(), 500);
    assert_eq!(again.headers()["cache-control"], "no-store");
    assert_eq!(
        app.upstream_requests().await,
        2,
        "errors are never served from the cache"
    );
}
