//! Alumio is protected from the gateway's consumers: a failing key backs off, a storm of
//! failures opens the breaker, the upstream budget sheds what does not fit, and bad replies
//! are never cached.

use std::time::Duration;

use alumio_sim::FaultMode;

use crate::helpers::{
    alumio_serves, error_reply, get, metric, simulated_task_paths, spawn_app_with,
    spawn_app_with_simulator,
};

#[tokio::test]
async fn a_failing_key_backs_off_and_its_consumers_get_the_failure_without_waiting() {
    let app = spawn_app_with(|settings| {
        settings.upstream_failure_backoff = Duration::from_secs(10);
        settings.upstream_failure_backoff_max = Duration::from_secs(10);
    })
    .await;
    alumio_serves(&app, "sick", error_reply(503, "Service Unavailable")).await;

    for _ in 0..6 {
        assert_eq!(app.get_task("sick", None).await.status(), 503);
    }
    assert_eq!(
        app.upstream_requests().await,
        1,
        "the key is left alone while it backs off"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "alumio_gateway_backoff_answers_total"),
        5.0
    );
    assert_eq!(metric(&metrics, "alumio_gateway_key_backoffs_total"), 1.0);
}

#[tokio::test]
async fn a_503_storm_opens_the_breaker_bounds_alumios_load_and_recovers() {
    let cool_down = Duration::from_millis(600);
    let app = spawn_app_with_simulator(|settings| {
        settings.breaker_failures = 3;
        settings.breaker_cool_down = cool_down;
    })
    .await;
    let simulator = app.simulator.clone().unwrap();
    let paths = simulated_task_paths(&app, 40);
    simulator.faults().set_mode(FaultMode::Down);

    for path in &paths {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 503);
    }
    assert_eq!(
        simulator.stats().total_requests,
        3,
        "only the run that opened the breaker"
    );
    let open = app.client.get(app.url(&paths[0])).send().await.unwrap();
    assert!(open.headers().contains_key("retry-after"));
    let readiness = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(readiness.contains("\"circuit\":\"open\""), "{readiness}");

    simulator.faults().set_mode(FaultMode::Healthy);
    tokio::time::sleep(cool_down + Duration::from_millis(100)).await;
    assert_eq!(
        get(&app, &paths[0]).await.0,
        200,
        "the probe succeeds and closes the breaker"
    );
    assert_eq!(get(&app, &paths[1]).await.0, 200);

    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "alumio_gateway_breaker_state"), 0.0);
    assert_eq!(
        metric(
            &metrics,
            "alumio_gateway_breaker_transitions_total{to=\"open\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &metrics,
            "alumio_gateway_breaker_transitions_total{to=\"closed\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn load_shedding_answers_503_at_once_instead_of_queueing_without_bound() {
    let app = spawn_app_with_simulator(|settings| {
        settings.upstream_max_concurrency = 2;
        settings.upstream_rate = None;
        settings.upstream_max_queue = 3;
        settings.upstream_queue_timeout = Duration::from_secs(5);
    })
    .await;
    let simulator = app.simulator.clone().unwrap();
    simulator.faults().set_latency(Duration::from_millis(300));
    let paths = simulated_task_paths(&app, 50);

    let mut requests = tokio::task::JoinSet::new();
    for path in paths {
        let client = app.client.clone();
        let url = app.url(&path);
        requests.spawn(async move {
            let response = client.get(url).send().await.unwrap();
            (
                response.status().as_u16(),
                response.headers().contains_key("retry-after"),
            )
        });
    }
    let mut answered = Vec::new();
    while let Some(result) = requests.join_next().await {
        answered.push(result.unwrap());
    }
    let ok = answered.iter().filter(|(status, _)| *status == 200).count();
    let shed = answered
        .iter()
        .filter(|(status, retry)| *status == 503 && *retry)
        .count();
    assert_eq!(ok + shed, 50, "every request is answered: {answered:?}");
    assert!(
        ok <= 5,
        "at most the slots and the queue reach Alumio: {ok}"
    );
    assert!(shed >= 45);
    assert!(simulator.stats().total_requests <= 5);
    assert_eq!(
        app.state.fetcher().in_flight(),
        0,
        "nothing is left waiting"
    );
    let metrics = app.metrics().await;
    assert!(metric(&metrics, "alumio_gateway_shed_total{reason=\"queue-full\"}") >= 45.0);
}

#[tokio::test]
async fn garbage_oversized_and_cut_off_bodies_are_502_and_never_cached() {
    let app = spawn_app_with_simulator(|_| {}).await;
    let simulator = app.simulator.clone().unwrap();
    let paths = simulated_task_paths(&app, 1);
    let path = &paths[0];

    for mode in [
        FaultMode::Garbage,
        FaultMode::Oversized(9 * 1024 * 1024),
        FaultMode::ResetMidBody,
    ] {
        simulator.faults().set_mode(mode);
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 502, "{mode}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "502", "{mode}");
    }
    simulator.faults().set_mode(FaultMode::Healthy);
    let (status, x_cache, _) = get(&app, path).await;
    assert_eq!(
        (status, x_cache.as_str()),
        (200, "MISS"),
        "nothing bad was stored"
    );
}
