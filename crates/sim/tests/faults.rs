//! Each fault mode, the latency and the error rate do what they say, through the router and
//! through the `/_sim/` control endpoints; and the counters count.

mod common;

use std::time::Duration;

use alumio_models::DetailedTaskResult;
use alumio_sim::{FaultMode, MAX_OVERSIZED_BYTES};
use common::{TOKEN, first_task, get, request, simulator, task_uri};
use http::StatusCode;

fn prod_uri(sim: &alumio_sim::Simulator) -> String {
    task_uri(&first_task(sim, "acme-prod"), "acme-prod")
}

#[tokio::test]
async fn a_down_simulator_answers_503_with_an_error_body_even_without_a_token() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::Down);
    let reply = request(&sim, "GET", &prod_uri(&sim), None, "").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error().status.as_deref(), Some("503"));
    sim.faults().set_mode(FaultMode::Healthy);
    assert_eq!(get(&sim, &prod_uri(&sim)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn garbage_is_a_200_whose_body_is_not_json() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::Garbage);
    let reply = get(&sim, &prod_uri(&sim)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(serde_json::from_slice::<serde_json::Value>(&reply.body).is_err());
    assert!(reply.body.starts_with(b"<html>"));
}

#[tokio::test]
async fn body_faults_still_check_the_token_first() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::Garbage);
    let reply = request(&sim, "GET", &prod_uri(&sim), None, "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn oversized_pads_a_valid_task_document_past_the_limit() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::Oversized(100_000));
    let reply = get(&sim, &prod_uri(&sim)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body.len(), 100_001);
    let result: DetailedTaskResult = serde_json::from_slice(&reply.body).unwrap();
    assert!(result.object.unwrap().extra.contains_key("attachment"));

    sim.faults().set_mode(FaultMode::Oversized(usize::MAX));
    assert_eq!(
        sim.faults().mode(),
        FaultMode::Oversized(MAX_OVERSIZED_BYTES)
    );
    sim.faults().set_mode(FaultMode::Oversized(10));
    let small = get(&sim, &prod_uri(&sim)).await;
    assert!(small.body.len() > 10);
    assert!(serde_json::from_slice::<DetailedTaskResult>(&small.body).is_ok());
}

#[tokio::test]
async fn too_many_requests_is_a_429_with_retry_after() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::TooManyRequests {
        retry_after_secs: 7,
    });
    let reply = get(&sim, &prod_uri(&sim)).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["retry-after"], "7");
    assert_eq!(reply.error().status.as_deref(), Some("429"));
}

#[tokio::test]
async fn a_hanging_simulator_does_not_answer() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::Hang);
    let uri = prod_uri(&sim);
    let outcome = tokio::time::timeout(Duration::from_millis(300), get(&sim, &uri)).await;
    assert!(outcome.is_err(), "a hanging simulator answered");
    assert_eq!(sim.stats().total_requests, 1);
    assert_eq!(sim.stats().replies(), 0);
}

#[tokio::test]
async fn a_hanging_request_is_released_with_503_at_shutdown() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::Hang);
    let uri = prod_uri(&sim);
    let waiting = tokio::spawn({
        let sim = sim.clone();
        async move { get(&sim, &uri).await.status }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished());
    sim.begin_shutdown();
    let status = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn reset_mid_body_announces_the_full_length_then_fails_after_half() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::ResetMidBody);
    let response = tower::ServiceExt::oneshot(
        sim.router(),
        http::Request::get(prod_uri(&sim))
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let announced: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(announced > 1000);
    let read = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    assert!(read.is_err(), "the body was read in full");
}

#[tokio::test]
async fn latency_delays_every_reply() {
    let sim = simulator();
    sim.faults().set_latency(Duration::from_secs(30));
    let uri = prod_uri(&sim);
    let early = tokio::time::timeout(Duration::from_millis(100), get(&sim, &uri)).await;
    assert!(early.is_err(), "answered before the latency passed");
    sim.faults().set_latency(Duration::ZERO);
    assert_eq!(get(&sim, &uri).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_error_rate_fails_about_that_share_of_requests() {
    let sim = simulator();
    sim.faults().set_error_rate(0.5);
    let uri = prod_uri(&sim);
    let mut failed = 0;
    for _ in 0..200 {
        if get(&sim, &uri).await.status == StatusCode::SERVICE_UNAVAILABLE {
            failed += 1;
        }
    }
    assert!((60..=140).contains(&failed), "{failed} of 200 failed");
    let stats = sim.stats();
    assert_eq!(stats.with_status(503), failed);
    assert_eq!(stats.with_status(200), 200 - failed);
}

#[tokio::test]
async fn stats_count_task_requests_by_status_but_not_control_requests() {
    let sim = simulator();
    let uri = prod_uri(&sim);
    get(&sim, &uri).await;
    get(&sim, &uri).await;
    request(&sim, "GET", &uri, None, "").await;
    get(&sim, "/api/v1/tasks/nope").await;
    get(&sim, "/_sim/stats").await;
    let stats = sim.stats();
    assert_eq!(stats.total_requests, 4);
    assert_eq!(stats.with_status(200), 2);
    assert_eq!(stats.with_status(404), 1);
    assert_eq!(stats.unauthorised, 1);
    sim.reset_stats();
    assert_eq!(sim.stats().total_requests, 0);
}

#[tokio::test]
async fn the_stats_endpoint_answers_json_without_a_token() {
    let sim = simulator();
    get(&sim, &prod_uri(&sim)).await;
    let reply = request(&sim, "GET", "/_sim/stats", None, "").await;
    assert_eq!(reply.status, StatusCode::OK);
    let stats: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(stats["totalRequests"], 1);
    assert_eq!(stats["byStatus"]["200"], 1);
    assert_eq!(stats["unauthorised"], 0);
    assert_eq!(
        request(&sim, "DELETE", "/_sim/stats", None, "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(sim.stats().total_requests, 0);
}

#[tokio::test]
async fn the_fault_endpoint_switches_modes_latency_and_error_rate() {
    let sim = simulator();
    let uri = prod_uri(&sim);
    let put = |body: &'static str| {
        let sim = sim.clone();
        async move { request(&sim, "PUT", "/_sim/fault", None, body).await }
    };

    let reply = put(r#"{"mode": "down", "latencyMs": 0}"#).await;
    assert_eq!(reply.status, StatusCode::OK);
    let state: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(state["mode"], "down");
    assert_eq!(
        get(&sim, &uri).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    put(r#"{"mode": "tooManyRequests", "retryAfterSecs": 3}"#).await;
    assert_eq!(
        sim.faults().mode(),
        FaultMode::TooManyRequests {
            retry_after_secs: 3
        }
    );
    put(r#"{"mode": "oversized", "oversizedBytes": 5000}"#).await;
    assert_eq!(sim.faults().mode(), FaultMode::Oversized(5000));
    put(r#"{"mode": "reset-mid-body"}"#).await;
    assert_eq!(sim.faults().mode(), FaultMode::ResetMidBody);
    put(r#"{"latencyMs": 25, "errorRate": 0.25}"#).await;
    assert_eq!(sim.faults().mode(), FaultMode::ResetMidBody);
    assert_eq!(sim.faults().latency(), Duration::from_millis(25));
    assert_eq!(sim.faults().error_rate(), 0.25);

    put(r#"{"mode": "healthy", "latencyMs": 0, "errorRate": 0}"#).await;
    assert_eq!(get(&sim, &uri).await.status, StatusCode::OK);
    let state = request(&sim, "GET", "/_sim/fault", None, "").await;
    let state: serde_json::Value = serde_json::from_slice(&state.body).unwrap();
    assert_eq!(state["mode"], "healthy");
}

#[tokio::test]
async fn a_bad_fault_update_is_refused_and_changes_nothing() {
    let sim = simulator();
    for body in [
        r#"{"mode": "sideways"}"#,
        r#"{"mode": "down", "errorRate": 2}"#,
        r#"{"mood": "down"}"#,
        "not json",
    ] {
        let reply = request(&sim, "PUT", "/_sim/fault", None, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.error().status.as_deref(), Some("400"));
    }
    assert_eq!(sim.faults().mode(), FaultMode::Healthy);
}

#[tokio::test]
async fn the_tasks_endpoint_lists_real_identifiers() {
    let sim = simulator();
    let reply = request(&sim, "GET", "/_sim/tasks?space=globex&limit=3", None, "").await;
    assert_eq!(reply.status, StatusCode::OK);
    let listed: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let expected: Vec<String> = sim
        .task_identifiers(&common::space("globex"))
        .take(3)
        .map(String::from)
        .collect();
    assert_eq!(listed["identifiers"], serde_json::json!(expected));
    let unknown = request(&sim, "GET", "/_sim/tasks?space=initech", None, "").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
