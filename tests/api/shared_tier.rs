//! The shared tier wired into the gateway: two replicas on one Redis in front of one mock
//! Alumio. The fleet's wider black-box tests (three replicas, faults, the cluster) are in the
//! fleet test files; these check the wiring from request to Redis and back.

#[path = "../../crates/gateway/src/shared_tier/test_redis.rs"]
mod test_redis;

use std::time::{Duration, Instant};

use alumio_gateway::Settings;
use secrecy::SecretString;
use serde_json::Value;

use crate::admin::{ADMIN_TOKEN, purge, use_admin};
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::helpers::{
    TestApp, alumio_serves, concurrent_gets, error_reply, metric, secret_file, spawn_app_against,
    spawn_app_with, task_reply,
};
use test_redis::{TestCluster, TestRedis};

fn with_shared_tier(urls: &str, cluster: bool) -> impl FnOnce(&mut Settings) + use<> {
    let urls = urls.to_owned();
    move |settings| {
        settings.redis_url = Some(SecretString::from(urls));
        settings.redis_cluster = cluster;
        settings.redis_command_timeout = Duration::from_millis(200);
        settings.ttl_settled = Duration::from_secs(30);
    }
}

/// Two replicas on `redis`, both asking the first one's mock Alumio; the first has its admin
/// API on.
async fn two_replicas(redis: &TestRedis) -> (TestApp, TestApp) {
    two_replicas_on(&redis.url(), false).await
}

async fn two_replicas_on(urls: &str, cluster: bool) -> (TestApp, TestApp) {
    let token_file = secret_file(ADMIN_TOKEN);
    let one = spawn_app_with(|settings| {
        with_shared_tier(urls, cluster)(settings);
        use_admin(settings, &token_file, false);
    })
    .await;
    let upstream = format!("{}/api/v1", one.alumio.uri());
    let two = spawn_app_against(&upstream, with_shared_tier(urls, cluster)).await;
    for app in [&one, &two] {
        until_connected(app).await;
    }
    (one, two)
}

async fn readiness(app: &TestApp) -> Value {
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200, "readyz stays 200");
    response.json().await.unwrap()
}

async fn until_connected(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ready = readiness(app).await;
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
async fn a_key_fetched_through_one_replica_is_a_shared_hit_on_the_other() {
    let redis = TestRedis::start();
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

#[tokio::test]
async fn consumers_on_two_replicas_wait_for_one_upstream_request() {
    let redis = TestRedis::start();
    let (one, two) = two_replicas(&redis).await;
    one_upstream_request_for_consumers_on_both(&one, &two).await;
}

#[tokio::test]
async fn on_a_cluster_too_consumers_on_two_replicas_wait_for_one_upstream_request() {
    let cluster = TestCluster::start();
    let (one, two) = two_replicas_on(&cluster.urls(), true).await;
    one_upstream_request_for_consumers_on_both(&one, &two).await;
}

async fn one_upstream_request_for_consumers_on_both(one: &TestApp, two: &TestApp) {
    let slow = task_reply("busy", "processing").set_delay(Duration::from_millis(400));
    alumio_serves(one, "busy", slow).await;
    let (a, b) = tokio::join!(
        concurrent_gets(one, "/api/v1/tasks/busy", 40),
        concurrent_gets(two, "/api/v1/tasks/busy", 40),
    );
    let bodies: Vec<_> = a.iter().chain(&b).collect();
    assert!(bodies.iter().all(|(status, _)| *status == 200));
    assert!(bodies.iter().all(|(_, body)| *body == bodies[0].1));
    assert_eq!(one.upstream_requests().await, 1);
}

#[tokio::test]
async fn a_purge_on_one_replica_reaches_the_other_within_a_second() {
    let redis = TestRedis::start();
    let (one, two) = two_replicas(&redis).await;
    alumio_serves(&one, "p-1", task_reply("p-1", "finished")).await;
    one.get_task("p-1", Some("space=acme")).await;
    two.get_task("p-1", Some("space=acme")).await;
    let before = one.upstream_requests().await;
    assert_eq!(before, 1);
    let admin = one.admin_address.expect("the admin API is on");
    purge(&one, admin, "/admin/cache/spaces/acme").await;
    let purged = Instant::now();
    loop {
        let response = two.get_task("p-1", Some("space=acme")).await;
        if header(&response, "x-cache") == "MISS" {
            break;
        }
        assert!(
            purged.elapsed() < Duration::from_secs(1),
            "two still serves the purged copy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(one.upstream_requests().await, 2);
}

#[tokio::test]
async fn with_redis_gone_replicas_answer_alone_and_share_again_once_it_is_back() {
    let mut redis = TestRedis::start();
    let (one, two) = two_replicas(&redis).await;
    redis.kill();
    for identifier in ["a-1", "a-2", "a-3", "a-4"] {
        alumio_serves(&one, identifier, task_reply(identifier, "finished")).await;
        let started = Instant::now();
        let response = one.get_task(identifier, None).await;
        assert_eq!(response.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let ready = readiness(&one).await;
        assert_eq!(ready["status"], "ready");
        if ready["shared_tier"]["state"] == "local-only" {
            break;
        }
        assert!(Instant::now() < deadline, "{ready}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    redis.restart();
    until_connected(&one).await;
    until_connected(&two).await;
    alumio_serves(&one, "b-1", task_reply("b-1", "finished")).await;
    one.get_task("b-1", None).await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while !header(&two.get_task("b-1", None).await, "cache-status").contains("detail=shared") {
        assert!(Instant::now() < deadline, "sharing did not resume");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two replicas whose settled answers are fresh for one second and may stand in for
/// `stale_while_revalidate` while refreshing; Alumio answers `identifier` once, then 500s.
async fn replicas_with_a_short_freshness(
    redis: &TestRedis,
    identifier: &str,
    stale_while_revalidate: Duration,
) -> (TestApp, TestApp) {
    let configure = |settings: &mut Settings| {
        with_shared_tier(&redis.url(), false)(settings);
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
    let redis = TestRedis::start();
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
    let redis = TestRedis::start();
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

#[tokio::test]
async fn with_redis_frozen_consumers_wait_at_most_the_command_timeout_more() {
    let redis = TestRedis::start();
    let (one, _two) = two_replicas(&redis).await;
    redis.freeze();
    for index in 0..6 {
        let identifier = format!("f-{index}");
        alumio_serves(&one, &identifier, task_reply(&identifier, "finished")).await;
        let started = Instant::now();
        let response = one.get_task(&identifier, None).await;
        assert_eq!(response.status(), 200);
        let took = started.elapsed();
        // The 200 ms command timeout plus the mock's answer, with room for a loaded machine.
        assert!(took < Duration::from_millis(700), "{identifier}: {took:?}");
    }
    let metrics = one.metrics().await;
    assert!(
        metric(
            &metrics,
            "alumio_gateway_shared_errors_total{kind=\"timeout\"}"
        ) >= 1.0
    );
    assert_eq!(
        metric(&metrics, "alumio_gateway_shared_breaker_state"),
        1.0,
        "{metrics}"
    );
    redis.thaw();
    until_connected(&one).await;
}
