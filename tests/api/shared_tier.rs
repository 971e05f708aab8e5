//! The shared tier wired into the gateway: two replicas on one Redis in front of one mock
//! Alumio. The fleet's wider black-box tests (three replicas, purges, Redis faults, the
//! cluster) are in `fleet/`; these check what a shared hit carries over from the first fetch
//! and how stale copies in Redis stand in.

use std::time::{Duration, Instant};

use alumio_gateway::Settings;
use secrecy::SecretString;
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::helpers::{
    TestApp, alumio_serves, error_reply, metric, spawn_app_against, spawn_app_with, task_reply,
};
use crate::support::redis::RedisServer;

fn with_shared_tier(url: &str) -> impl FnOnce(&mut Settings) + use<> {
    let url = url.to_owned();
    move |settings| {
        settings.redis_url = Some(SecretString::from(url));
        settings.redis_command_timeout = Duration::from_millis(200);
        settings.ttl_settled = Duration::from_secs(30);
    }
}

/// Two connected replicas on `redis`, both asking the first one's mock Alumio.
async fn two_replicas(redis: &RedisServer) -> (TestApp, TestApp) {
    let one = spawn_app_with(with_shared_tier(&redis.url())).await;
    let upstream = format!("{}/api/v1", one.alumio.uri());
    let two = spawn_app_against(&upstream, with_shared_tier(&redis.url())).await;
    for app in [&one, &two] {
        until_connected(app).await;
    }
    (one, two)
}

async fn until_connected(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(response.status(), 200, "readyz stays 200");
        let ready: serde_json::Value = response.json().await.unwrap();
        if ready["shared_tier"]["state"] == "connected" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the shared tier did not connect: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_shared_hit_carries_the_etag_and_remaining_freshness_of_the_first_fetch() {
    let redis = RedisServer::start().await;
    let (one, two) = two_replicas(&redis).await;
    alumio_serves(&one, "t-1", task_reply("t-1", "finished")).await;
    let first = one.get_task("t-1", Some("space=acme")).await;
    assert_eq!(header(&first, "x-cache"), "MISS");
    let etag = header(&first, "etag");
    let body = first.bytes().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    let shared = loop {
        let response = two.get_task("t-1", Some("space=acme")).await;
        if header(&response, "cache-status").contains("detail=shared") {
            break response;
        }
        assert!(
            Instant::now() < deadline,
            "replica two never got the shared copy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(shared.status(), 200);
    assert_eq!(header(&shared, "x-cache"), "HIT");
    assert_eq!(header(&shared, "etag"), etag);
    assert!(
        header(&shared, "cache-control").starts_with("max-age=29"),
        "{:?}",
        shared.headers()
    );
    assert_eq!(shared.bytes().await.unwrap(), body);
    assert_eq!(
        one.upstream_requests().await,
        1,
        "Alumio was asked once for the fleet"
    );
    let again = two.get_task("t-1", Some("space=acme")).await;
    assert_eq!(
        header(&again, "cache-status"),
        "alumio-gateway; hit",
        "now in two's L1"
    );
    let (one_metrics, two_metrics) = (one.metrics().await, two.metrics().await);
    let won = "alumio_gateway_shared_leases_total{outcome=\"won\"}";
    assert_eq!(metric(&one_metrics, won), 1.0, "{one_metrics}");
    assert!(metric(&two_metrics, "alumio_gateway_shared_hits_total") >= 1.0);
    assert_eq!(
        metric(&two_metrics, "alumio_gateway_shared_breaker_state"),
        0.0
    );
    assert!(two_metrics.contains("alumio_gateway_shared_command_seconds_bucket"));
}

/// Two replicas whose settled answers are fresh for one second and may stand in for
/// `stale_while_revalidate` while refreshing; Alumio answers `identifier` once, then 500s.
async fn replicas_with_a_short_freshness(
    redis: &RedisServer,
    identifier: &str,
    stale_while_revalidate: Duration,
) -> (TestApp, TestApp) {
    let configure = |settings: &mut Settings| {
        with_shared_tier(&redis.url())(settings);
        settings.ttl_settled = Duration::from_secs(1);
        settings.stale_while_revalidate = stale_while_revalidate;
        settings.stale_if_error = Duration::from_secs(60);
    };
    let one = spawn_app_with(configure).await;
    let upstream = format!("{}/api/v1", one.alumio.uri());
    let two = spawn_app_against(&upstream, configure).await;
    until_connected(&one).await;
    until_connected(&two).await;
    let task_path = format!("/api/v1/tasks/{identifier}");
    Mock::given(method("GET"))
        .and(path(task_path.clone()))
        .respond_with(task_reply(identifier, "finished"))
        .up_to_n_times(1)
        .mount(&one.alumio)
        .await;
    Mock::given(method("GET"))
        .and(path(task_path))
        .respond_with(error_reply(500, "Internal Server Error"))
        .mount(&one.alumio)
        .await;
    assert_eq!(one.get_task(identifier, None).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    (one, two)
}

#[tokio::test]
async fn a_stale_copy_in_the_shared_tier_stands_in_when_alumio_fails() {
    let redis = RedisServer::start().await;
    let (one, two) = replicas_with_a_short_freshness(&redis, "s-1", Duration::ZERO).await;
    let response = two.get_task("s-1", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-cache"), "STALE");
    assert!(header(&response, "cache-status").contains("detail=upstream-failed"));
    let age: u64 = header(&response, "age").parse().unwrap();
    assert!(age >= 1, "the age the answer really has: {age}");
    assert_eq!(
        one.upstream_requests().await,
        2,
        "one fetch, one failed refresh"
    );
}

#[tokio::test]
async fn a_stale_copy_in_the_shared_tier_is_served_at_once_while_it_revalidates() {
    let redis = RedisServer::start().await;
    let (one, two) = replicas_with_a_short_freshness(&redis, "s-2", Duration::from_secs(10)).await;
    let response = two.get_task("s-2", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-cache"), "STALE");
    assert!(header(&response, "cache-status").contains("detail=revalidating"));
    let deadline = Instant::now() + Duration::from_secs(2);
    while one.upstream_requests().await < 2 {
        assert!(Instant::now() < deadline, "the refresh went to Alumio");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
