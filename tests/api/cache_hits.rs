//! Hits after misses, byte-identical bodies, `HEAD`, validators and per-space keys.

use crate::helpers::{alumio_serves, spawn_app, task_bytes, task_reply};

#[tokio::test]
async fn a_second_request_is_a_hit_with_the_same_bytes() {
    let app = spawn_app().await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    let first = app.get_task("t-1", Some("space=acme")).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-cache"], "MISS");
    assert_eq!(
        first.headers()["cache-status"],
        "alumio-gateway; fwd=miss; stored"
    );
    let first_etag = first.headers()["etag"].clone();
    let first_body = first.bytes().await.unwrap();

    let second = app.get_task("t-1", Some("space=acme")).await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["x-cache"], "HIT");
    assert_eq!(second.headers()["cache-status"], "alumio-gateway; hit");
    assert_eq!(second.headers()["etag"], first_etag);
    assert_eq!(second.headers()["content-type"], "application/json");
    assert!(
        second.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    assert!(second.headers().contains_key("age"));
    let second_body = second.bytes().await.unwrap();

    let sent = task_bytes("t-1", "finished");
    assert_eq!(first_body, sent, "a miss relays Alumio's exact bytes");
    assert_eq!(second_body, sent, "a hit relays Alumio's exact bytes");
    assert_eq!(app.upstream_requests().await, 1);
}

#[tokio::test]
async fn head_answers_with_headers_and_no_body() {
    let app = spawn_app().await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    let response = app
        .client
        .head(app.url("/api/v1/tasks/t-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(length, task_bytes("t-1", "finished").len());
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_matching_if_none_match_gets_304_without_a_body() {
    let app = spawn_app().await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;
    let etag = app.get_task("t-1", None).await.headers()["etag"].clone();

    let response = app
        .client
        .get(app.url("/api/v1/tasks/t-1"))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()["etag"], etag);
    assert!(response.bytes().await.unwrap().is_empty());

    let stale_tag = app
        .client
        .get(app.url("/api/v1/tasks/t-1"))
        .header("if-none-match", "\"not-the-tag\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale_tag.status(), 200);
}

#[tokio::test]
async fn each_space_and_the_spaceless_request_are_cached_apart() {
    let app = spawn_app().await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    for query in [Some("space=acme"), Some("space=globex"), None] {
        assert_eq!(
            app.get_task("t-1", query).await.headers()["x-cache"],
            "MISS",
            "{query:?}"
        );
    }
    for query in [Some("space=acme"), Some("space=globex"), None] {
        assert_eq!(
            app.get_task("t-1", query).await.headers()["x-cache"],
            "HIT",
            "{query:?}"
        );
    }
    assert_eq!(app.upstream_requests().await, 3);
}

#[tokio::test]
async fn query_parameters_other_than_space_share_the_entry() {
    let app = spawn_app().await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    app.get_task("t-1", Some("space=acme")).await;
    let busted = app.get_task("t-1", Some("cachebust=123&space=acme")).await;
    assert_eq!(busted.headers()["x-cache"], "HIT");
    assert_eq!(app.upstream_requests().await, 1);
}
