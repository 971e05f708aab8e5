//! When Alumio fails or is slow, consumers of keys the gateway has seen keep getting the last
//! good answer, marked stale with its true age; a recently expired answer is served at once
//! while exactly one background request refreshes it.

use std::time::{Duration, Instant};

use alumio_sim::FaultMode;

use crate::helpers::{concurrent_gets, get, simulated_task_paths, spawn_app_with_simulator};

const TTL: Duration = Duration::from_millis(200);

fn short_ttls(settings: &mut alumio_gateway::Settings) {
    settings.ttl_active = TTL;
    settings.ttl_settled = TTL;
}

#[tokio::test]
async fn alumio_down_after_warm_up_serves_stale_copies_with_their_true_age() {
    let app = spawn_app_with_simulator(|settings| {
        short_ttls(settings);
        settings.stale_while_revalidate = Duration::ZERO;
    })
    .await;
    let paths = simulated_task_paths(&app, 6);
    let (warmed, cold) = paths.split_at(5);
    let mut warm_bodies = Vec::new();
    for path in warmed {
        let (status, x_cache, body) = get(&app, path).await;
        assert_eq!((status, x_cache.as_str()), (200, "MISS"));
        warm_bodies.push(body);
    }

    app.simulator
        .as_ref()
        .unwrap()
        .faults()
        .set_mode(FaultMode::Down);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    for (path, warm_body) in warmed.iter().zip(&warm_bodies) {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["x-cache"], "STALE");
        let cache_status = response.headers()["cache-status"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cache_status.contains("fwd=stale"), "{cache_status}");
        let age: u64 = response.headers()["age"].to_str().unwrap().parse().unwrap();
        assert!(age >= 1, "the age counts from when Alumio answered: {age}");
        assert_eq!(
            &response.bytes().await.unwrap(),
            warm_body,
            "the last good bytes"
        );
    }
    let (status, _, _) = get(&app, &cold[0]).await;
    assert_eq!(
        status, 503,
        "a key never seen has no stale copy: Alumio's 503 is relayed"
    );
}

#[tokio::test]
async fn a_hanging_alumio_answers_consumers_within_the_request_timeout() {
    let request_timeout = Duration::from_millis(400);
    let app = spawn_app_with_simulator(|settings| {
        short_ttls(settings);
        settings.stale_while_revalidate = Duration::ZERO;
        settings.request_timeout = request_timeout;
    })
    .await;
    let paths = simulated_task_paths(&app, 2);
    assert_eq!(get(&app, &paths[0]).await.0, 200);

    app.simulator
        .as_ref()
        .unwrap()
        .faults()
        .set_mode(FaultMode::Hang);
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;

    let started = Instant::now();
    let (status, x_cache, _) = get(&app, &paths[0]).await;
    assert_eq!((status, x_cache.as_str()), (200, "STALE"));
    let (status, _, _) = get(&app, &paths[1]).await;
    assert_eq!(status, 504, "no stale copy: the gateway's own timeout");
    assert!(started.elapsed() < request_timeout * 2 + Duration::from_millis(500));
}

#[tokio::test]
async fn stale_while_revalidate_makes_exactly_one_refresh_under_500_concurrent_requests() {
    // Long enough that the refreshed copy is still fresh when it is looked at.
    let ttl = Duration::from_secs(2);
    let app = spawn_app_with_simulator(|settings| {
        settings.ttl_active = ttl;
        settings.ttl_settled = ttl;
        settings.stale_while_revalidate = Duration::from_secs(30);
    })
    .await;
    let simulator = app.simulator.clone().unwrap();
    let path = simulated_task_paths(&app, 1).remove(0);
    assert_eq!(get(&app, &path).await.0, 200);
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    // The refresh must not finish before the burst is under way.
    simulator.faults().set_latency(Duration::from_millis(300));
    simulator.reset_stats();

    let results = concurrent_gets(&app, &path, 500).await;
    assert!(results.iter().all(|(status, _)| *status == 200));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        simulator.stats().total_requests,
        1,
        "one background refresh for 500 requests"
    );

    let (_, x_cache, _) = get(&app, &path).await;
    assert_eq!(x_cache, "HIT", "the refresh was stored");
}

#[tokio::test]
async fn a_stale_copy_is_marked_and_counted_while_it_revalidates() {
    let app = spawn_app_with_simulator(|settings| {
        short_ttls(settings);
        settings.stale_while_revalidate = Duration::from_secs(30);
    })
    .await;
    let path = simulated_task_paths(&app, 1).remove(0);
    get(&app, &path).await;
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;

    let response = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(response.headers()["x-cache"], "STALE");
    assert!(
        response.headers()["cache-status"]
            .to_str()
            .unwrap()
            .contains("detail=revalidating")
    );
    let metrics = app.metrics().await;
    assert_eq!(
        crate::helpers::metric(
            &metrics,
            "alumio_gateway_stale_served_total{reason=\"revalidating\"}"
        ),
        1.0
    );
    assert_eq!(
        crate::helpers::metric(&metrics, "alumio_gateway_background_refreshes_total"),
        1.0
    );
}

#[tokio::test]
async fn alumio_refusing_connections_still_gets_warmed_keys_their_stale_copy() {
    let mut app = spawn_app_with_simulator(|settings| {
        short_ttls(settings);
        settings.stale_while_revalidate = Duration::ZERO;
    })
    .await;
    let paths = simulated_task_paths(&app, 2);
    let (status, _, warm_body) = get(&app, &paths[0]).await;
    assert_eq!(status, 200);

    app.stop_simulator().await;
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;

    let (status, x_cache, body) = get(&app, &paths[0]).await;
    assert_eq!((status, x_cache.as_str()), (200, "STALE"));
    assert_eq!(body, warm_body);
    let (status, _, _) = get(&app, &paths[1]).await;
    assert_eq!(status, 502, "no stale copy: Alumio cannot be reached");
}
