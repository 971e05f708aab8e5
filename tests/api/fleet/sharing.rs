//! One cache for the whole fleet: a burst over three replicas costs Alumio one request, a key
//! one replica fetched is served by the others from Redis, and a purge on any replica is seen
//! by every replica within a second.

use std::time::{Duration, Instant};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use super::{
    PATIENT_REDIS, SharedRedis, SimulatedAlumio, against_one_redis_and_a_cluster, concurrent_gets,
    fleet_metric, start_fleet,
};
use crate::helpers::{task_bytes, task_reply};

against_one_redis_and_a_cluster!(
    three_hundred_consumers_on_three_replicas_cost_alumio_one_request,
    a_key_fetched_through_one_replica_is_served_by_the_others_without_alumio,
    a_purge_on_one_replica_is_seen_by_every_replica_within_a_second,
);

async fn three_hundred_consumers_on_three_replicas_cost_alumio_one_request(redis: SharedRedis) {
    let alumio = SimulatedAlumio::start(Duration::from_millis(400)).await;
    let fleet = start_fleet(alumio.base_url(), &redis, 3, &PATIENT_REDIS).await;
    let task = alumio.task_paths(1).remove(0);

    let answers = concurrent_gets(&fleet, &task, 300).await;

    assert_eq!(answers.len(), 300);
    assert!(
        answers.iter().all(|answer| answer.status == 200),
        "{answers:?}"
    );
    assert!(answers.iter().all(|answer| answer.body == answers[0].body));
    let mut errors = String::new();
    for replica in &fleet {
        for line in replica.metrics().await.lines() {
            if line.starts_with("alumio_gateway_shared_") && !line.ends_with(" 0") {
                errors.push_str(line);
                errors.push('\n');
            }
        }
    }
    assert_eq!(
        alumio.requests(),
        1,
        "Alumio was asked more than once:\n{errors}"
    );
    assert_eq!(
        fleet_metric(
            &fleet,
            "alumio_gateway_shared_leases_total{outcome=\"won\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        fleet_metric(
            &fleet,
            "alumio_gateway_upstream_requests_total{class=\"2xx\"}"
        )
        .await,
        1.0
    );
}

async fn a_key_fetched_through_one_replica_is_served_by_the_others_without_alumio(
    redis: SharedRedis,
) {
    let alumio = SimulatedAlumio::start(Duration::ZERO).await;
    let fleet = start_fleet(alumio.base_url(), &redis, 3, &PATIENT_REDIS).await;
    let task = alumio.task_paths(1).remove(0);

    let first = fleet[0].get(&task).await;
    assert_eq!((first.status, first.x_cache.as_str()), (200, "MISS"));
    redis.value_holding(&first.body).await;

    for replica in &fleet[1..] {
        let answer = replica.get(&task).await;
        assert_eq!(answer.status, 200);
        assert!(answer.is_shared_hit(), "{answer:?}");
        assert_eq!(
            answer.body, first.body,
            "the shared copy is not Alumio's bytes"
        );
        // The shared copy is now in this replica's own cache.
        let again = replica.get(&task).await;
        assert_eq!(again.x_cache, "HIT");
        assert!(!again.cache_status.contains("detail=shared"), "{again:?}");
    }
    assert_eq!(alumio.requests(), 1);
    assert_eq!(
        fleet[1].metric("alumio_gateway_shared_hits_total").await,
        1.0
    );
    assert_eq!(
        fleet[0].metric("alumio_gateway_shared_hits_total").await,
        0.0
    );
}

/// Each purge scope, with the task it covers and the admin path that purges it.
const PURGES: [(&str, Option<&str>, &str); 4] = [
    (
        "t-key",
        Some("acme-prod"),
        "/admin/cache/tasks/t-key?space=acme-prod",
    ),
    (
        "t-space",
        Some("acme-staging"),
        "/admin/cache/spaces/acme-staging",
    ),
    ("t-nospace", None, "/admin/cache/without-space"),
    ("t-all", Some("globex"), "/admin/cache"),
];

async fn a_purge_on_one_replica_is_seen_by_every_replica_within_a_second(redis: SharedRedis) {
    let alumio = MockServer::start().await;
    let fleet = start_fleet(
        &format!("{}/api/v1", alumio.uri()),
        &redis,
        3,
        &PATIENT_REDIS,
    )
    .await;
    for (identifier, space, purge) in PURGES {
        let task = match space {
            Some(space) => format!("/api/v1/tasks/{identifier}?space={space}"),
            None => format!("/api/v1/tasks/{identifier}"),
        };
        alumio.reset().await;
        mount(&alumio, identifier, "processing").await;
        // Every replica holds the first copy in its own cache.
        for replica in &fleet {
            replica.get(&task).await;
            let held = replica.get(&task).await;
            assert_eq!(held.x_cache, "HIT", "{purge}: {held:?}");
        }
        alumio.reset().await;
        mount(&alumio, identifier, "finished").await;

        assert_eq!(fleet[2].purge(purge).await, 204, "{purge}");
        let purged_at = Instant::now();
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(purged_at.elapsed())).await;

        for (index, replica) in fleet.iter().enumerate() {
            let answer = replica.get(&task).await;
            assert_eq!(answer.status, 200);
            assert_eq!(
                answer.body,
                task_bytes(identifier, "finished"),
                "replica {} served the purged copy 1 s after {purge}",
                index + 1
            );
        }
        let asked = alumio.received_requests().await.unwrap_or_default().len();
        assert_eq!(
            asked, 1,
            "{purge}: after the purge the fleet asked Alumio {asked} times"
        );
    }
}

async fn mount(alumio: &MockServer, identifier: &str, status: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/tasks/{identifier}")))
        .respond_with(task_reply(identifier, status))
        .mount(alumio)
        .await;
}
