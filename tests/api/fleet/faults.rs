//! Redis trouble never costs a consumer an error: Redis killed under load, down when a replica
//! starts, restarted, or frozen. Each time the fleet answers, no slower than the command
//! timeout allows, and comes back to sharing by itself.

use std::time::{Duration, Instant};

use super::{
    COMMAND_TIMEOUT, PATIENT_REDIS, Replica, SharedRedis, SimulatedAlumio,
    against_one_redis_and_a_cluster, start_fleet, wait_for_sharing,
};

against_one_redis_and_a_cluster!(
    redis_killed_under_load_costs_no_error_and_no_slow_answer,
    a_replica_started_while_redis_is_down_serves_and_joins_when_it_is_back,
    sharing_resumes_by_itself_when_redis_restarts,
    a_frozen_redis_times_out_opens_the_breaker_and_is_used_again_after,
);

/// What Alumio takes to answer in these tests: the normal path of a miss.
const ALUMIO_LATENCY: Duration = Duration::from_millis(50);
/// Room for a loaded debug build on a shared machine. Still far below what a request stuck on
/// a dead or frozen Redis would take: the lease's lifetime (seconds) or a connect timeout.
const SCHEDULING_SLACK: Duration = Duration::from_millis(500);

/// The slowest an answer may be while Redis misbehaves, given the slowest `normal` answer
/// under the same load: the command timeout more, plus slack.
fn slowest_allowed(normal: Duration) -> Duration {
    normal + COMMAND_TIMEOUT + SCHEDULING_SLACK
}

async fn redis_killed_under_load_costs_no_error_and_no_slow_answer(mut redis: SharedRedis) {
    let alumio = SimulatedAlumio::start(ALUMIO_LATENCY).await;
    // Short freshness, served stale by no one, keeps misses, leases and waits in flight the
    // whole time.
    let short_lived = [
        "--ttl-active",
        "200ms",
        "--ttl-settled",
        "200ms",
        "--stale-while-revalidate",
        "0s",
    ];
    let fleet = start_fleet(alumio.base_url(), &redis, 3, &short_lived).await;
    let tasks = alumio.task_paths(40);
    let load_for = Duration::from_millis(2500);
    let started = Instant::now();

    let mut consumers = tokio::task::JoinSet::new();
    for consumer in 0..24 {
        let replica = &fleet[consumer % fleet.len()];
        let (client, address) = (replica.client.clone(), replica.address);
        let tasks = tasks.clone();
        consumers.spawn(async move {
            let mut answers = Vec::new();
            let mut next = consumer;
            while started.elapsed() < load_for {
                let url = format!("http://{address}{}", tasks[next % tasks.len()]);
                answers.push(super::get(&client, &url).await);
                next += 7;
            }
            answers
        });
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let killed_at = super::clock();
    redis.kill();

    let mut answers = Vec::new();
    while let Some(batch) = consumers.join_next().await {
        answers.extend(batch.unwrap());
    }
    assert!(
        answers.len() > 100,
        "only {} answers under load",
        answers.len()
    );
    let failed: Vec<_> = answers
        .iter()
        .filter(|answer| answer.status != 200)
        .collect();
    assert!(
        failed.is_empty(),
        "errors after Redis died at {killed_at:?}: {failed:?}"
    );
    let (before, after): (Vec<_>, Vec<_>) = answers
        .iter()
        .partition(|answer| answer.started < killed_at);
    let slowest = |answers: &[&super::Answer]| answers.iter().map(|a| a.took).max().unwrap();
    let normal = slowest(&before);
    assert!(
        slowest(&after) <= slowest_allowed(normal),
        "an answer took {:?} after Redis died; the slowest before took {normal:?}",
        slowest(&after)
    );
    for replica in &fleet {
        replica
            .wait_for_state("local-only", Duration::from_secs(5))
            .await;
        let readyz = replica.readyz().await;
        assert_eq!(
            readyz["status"], "ready",
            "local-only is still ready: {readyz}"
        );
    }
}

async fn a_replica_started_while_redis_is_down_serves_and_joins_when_it_is_back(
    mut redis: SharedRedis,
) {
    let alumio = SimulatedAlumio::start(Duration::ZERO).await;
    let tasks = alumio.task_paths(21);
    let (first, unseen) = tasks.split_first().unwrap();
    redis.kill();

    let started = Instant::now();
    let replica = Replica::start(alumio.base_url(), &redis.flags(), &PATIENT_REDIS).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "start-up waited {:?} for a Redis that is down",
        started.elapsed()
    );
    let miss = replica.get(first).await;
    assert_eq!((miss.status, miss.x_cache.as_str()), (200, "MISS"));
    let hit = replica.get(first).await;
    assert_eq!((hit.status, hit.x_cache.as_str()), (200, "HIT"));
    assert_eq!(replica.shared_state().await, "local-only");

    redis.restart().await;
    replica
        .wait_for_state("connected", Duration::from_secs(10))
        .await;
    let other = Replica::start(alumio.base_url(), &redis.flags(), &PATIENT_REDIS).await;
    other
        .wait_for_state("connected", Duration::from_secs(10))
        .await;
    wait_for_sharing(&replica, &other, &alumio, unseen).await;
}

async fn sharing_resumes_by_itself_when_redis_restarts(mut redis: SharedRedis) {
    let alumio = SimulatedAlumio::start(Duration::ZERO).await;
    let fleet = start_fleet(alumio.base_url(), &redis, 2, &PATIENT_REDIS).await;
    let tasks = alumio.task_paths(22);
    let (before, rest) = tasks.split_first().unwrap();
    let (during, after) = rest.split_first().unwrap();
    assert_eq!(fleet[0].get(before).await.x_cache, "MISS");
    assert!(fleet[1].get(before).await.is_shared_hit());

    redis.kill();
    for replica in &fleet {
        let answer = replica.get(during).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    redis.restart().await;
    for replica in &fleet {
        replica
            .wait_for_state("connected", Duration::from_secs(10))
            .await;
    }
    wait_for_sharing(&fleet[1], &fleet[0], &alumio, after).await;
}

async fn a_frozen_redis_times_out_opens_the_breaker_and_is_used_again_after(redis: SharedRedis) {
    let alumio = SimulatedAlumio::start(ALUMIO_LATENCY).await;
    let fleet = start_fleet(alumio.base_url(), &redis, 2, &[]).await;
    let tasks = alumio.task_paths(28);
    let freeze = Duration::from_secs(4);
    redis.freeze(freeze).await;
    let frozen_at = Instant::now();

    for task in &tasks[..8] {
        let answer = fleet[0].get(task).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let allowed = slowest_allowed(ALUMIO_LATENCY);
        assert!(
            answer.took <= allowed,
            "{task} took {:?}, over {allowed:?}",
            answer.took
        );
    }
    assert!(
        frozen_at.elapsed() < freeze,
        "the requests outlasted the freeze"
    );
    assert!(
        fleet[0]
            .metric("alumio_gateway_shared_errors_total{kind=\"timeout\"}")
            .await
            >= 1.0,
        "no Redis timeout was counted"
    );
    assert_eq!(
        fleet[0].metric("alumio_gateway_shared_breaker_state").await,
        1.0
    );
    assert_eq!(fleet[0].shared_state().await, "local-only");

    // After the freeze, the breaker's probe finds Redis again.
    tokio::time::sleep(freeze.saturating_sub(frozen_at.elapsed())).await;
    for replica in &fleet {
        replica
            .wait_for_state("connected", Duration::from_secs(10))
            .await;
    }
    assert_eq!(
        fleet[0].metric("alumio_gateway_shared_breaker_state").await,
        0.0
    );
    wait_for_sharing(&fleet[0], &fleet[1], &alumio, &tasks[8..]).await;
}
