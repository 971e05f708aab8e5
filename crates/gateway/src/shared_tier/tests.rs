//! The shared tier against a real `redis-server`: two tiers stand for two replicas.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use secrecy::SecretString;

use super::test_redis::TestRedis;
use super::*;
use crate::entry::{EntryKind, StoredResponse};
use crate::metrics::MetricsRegistry;

fn settings(url: &str) -> SharedTierSettings {
    SharedTierSettings {
        urls: SecretString::from(url.to_owned()),
        cluster: false,
        key_prefix: crate::config::DEFAULT_REDIS_KEY_PREFIX.into(),
        command_timeout: Duration::from_millis(200),
        lease_ttl: Duration::from_millis(600),
        keep_stale_for: Duration::from_secs(30),
        max_body: 64 * 1024,
    }
}

/// Metrics on a registry of their own, so each test counts apart.
fn fresh_metrics() -> SharedTierMetrics {
    SharedTierMetrics::register(&MetricsRegistry::new())
}

fn replica(url: &str) -> SharedTier {
    SharedTier::start(settings(url), fresh_metrics())
}

async fn until_connected(tier: &SharedTier) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while tier.state() != TierState::Connected {
        assert!(Instant::now() < deadline, "the tier did not connect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every purge `tier` hears from other replicas, in order.
fn purges_heard_by(tier: &SharedTier) -> Arc<Mutex<Vec<PurgeScope>>> {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&heard);
    tier.on_purge(Box::new(move |scope| {
        log.lock().unwrap().push(scope.clone());
    }));
    heard
}

fn key(identifier: &str, space: Option<&str>) -> TaskKey {
    TaskKey::new(
        identifier.parse().unwrap(),
        space.map(|space| space.parse().unwrap()),
    )
}

fn task(body: &'static str, fresh_for: Duration) -> StoredResponse {
    StoredResponse::new(
        StatusCode::OK,
        Bytes::from_static(body.as_bytes()),
        HeaderValue::from_static("application/json"),
        EntryKind::SettledTask,
        fresh_for,
    )
}

fn won(lookup: Lookup) -> Lease {
    match lookup {
        Lookup::Won { lease, .. } => lease,
        other => panic!("expected to win the lease, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_stored_by_one_replica_is_fresh_on_another_with_its_age() {
    let redis = TestRedis::start();
    let (one, two) = (replica(&redis.url()), replica(&redis.url()));
    until_connected(&one).await;
    until_connected(&two).await;
    let key = key("task-1", Some("acme"));
    let lease = won(one.lookup(&key).await);
    let answer = task(r#"{"object":{"id":"task-1"}}"#, Duration::from_secs(100));
    assert_eq!(
        one.store_now(&lease, &Write::Answer(answer.clone())).await,
        Ok(0)
    );
    let Lookup::Fresh(shared) = two.lookup(&key).await else {
        panic!("the other replica sees the stored answer");
    };
    assert_eq!(shared.body(), answer.body());
    assert_eq!(shared.etag(), answer.etag());
    let now = Instant::now();
    assert!(shared.remaining_secs(now) <= 100 && shared.remaining_secs(now) >= 98);
    let ttl: u64 = redis
        .cli(&["PTTL", &one.task_keys(&key).value])
        .trim()
        .parse()
        .unwrap();
    assert!(
        ttl > 100_000 && ttl <= 130_000,
        "expires after fresh + stale window: {ttl}"
    );
    assert!(
        matches!(
            two.lookup(&self::key("task-1", Some("other"))).await,
            Lookup::Won { .. }
        ),
        "another space never sees it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_replica_wins_the_lease_and_the_waiters_wake_on_its_store() {
    let redis = TestRedis::start();
    let tiers: Vec<SharedTier> = (0..4).map(|_| replica(&redis.url())).collect();
    for tier in &tiers {
        until_connected(tier).await;
    }
    let key = key("busy", None);
    let mut lookups = Vec::new();
    for tier in &tiers {
        lookups.push(tier.lookup(&key).await);
    }
    let mut leases: Vec<Lease> = Vec::new();
    let mut lost = 0;
    for lookup in lookups {
        match lookup {
            Lookup::Won { lease, .. } => leases.push(lease),
            Lookup::Lost { .. } => lost += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((leases.len(), lost), (1, 3));
    let waiter = tiers[1].clone();
    let waiting_key = key.clone();
    let started = Instant::now();
    let wait = tokio::spawn(async move { waiter.wait_for_holder(&waiting_key).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let answer = task(r#"{"object":{}}"#, Duration::from_secs(60));
    tiers[0]
        .store_now(&leases[0], &Write::Answer(answer))
        .await
        .unwrap();
    let woken = wait.await.unwrap();
    assert!(matches!(woken, Lookup::Fresh(_)), "{woken:?}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "woken before the lease ran out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lease_whose_holder_died_is_taken_over_when_it_runs_out() {
    let redis = TestRedis::start();
    let (dead, alive) = (replica(&redis.url()), replica(&redis.url()));
    until_connected(&dead).await;
    until_connected(&alive).await;
    let key = key("orphan", None);
    let _never_stored = won(dead.lookup(&key).await);
    assert!(matches!(alive.lookup(&key).await, Lookup::Lost { .. }));
    let started = Instant::now();
    let lease = won(alive.wait_for_holder(&key).await);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "not before the lease ran out: {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(1500),
        "soon after: {waited:?}"
    );
    let answer = task("{}", Duration::from_secs(5));
    assert_eq!(alive.store_now(&lease, &Write::Answer(answer)).await, Ok(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_backs_the_key_off_for_the_whole_fleet() {
    let redis = TestRedis::start();
    let (one, two) = (replica(&redis.url()), replica(&redis.url()));
    until_connected(&one).await;
    until_connected(&two).await;
    let key = key("failing", Some("acme"));
    let lease = won(one.lookup(&key).await);
    let backoff = BackoffBounds {
        first: Duration::from_millis(400),
        longest: Duration::from_secs(5),
    };
    let delay = one
        .store_now(&lease, &Write::Failure(SharedFailure::Unreachable, backoff))
        .await
        .unwrap();
    assert!(
        (200..=400).contains(&delay),
        "jittered first backoff: {delay}"
    );
    let lookup = two.lookup(&key).await;
    assert!(
        matches!(
            lookup,
            Lookup::BackingOff {
                failure: SharedFailure::Unreachable,
                ..
            }
        ),
        "{lookup:?}"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    let lease = won(two.lookup(&key).await);
    let delay = two
        .store_now(&lease, &Write::Failure(SharedFailure::Timeout, backoff))
        .await
        .unwrap();
    assert!(
        (400..=800).contains(&delay),
        "the second failure doubles it: {delay}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_value_is_never_served() {
    let redis = TestRedis::start();
    let registry = MetricsRegistry::new();
    let tier = SharedTier::start(
        settings(&redis.url()),
        SharedTierMetrics::register(&registry),
    );
    until_connected(&tier).await;
    let key = key("damaged", None);
    let value_key = tier.task_keys(&key).value;
    for garbage in [
        "not ours",
        "AGST\u{1}\u{1}\u{1}\u{1}1234567890123456789012345678901234567890",
    ] {
        redis.cli(&["SET", &value_key, garbage, "PX", "60000"]);
        let lookup = tier.lookup(&key).await;
        assert!(
            matches!(lookup, Lookup::Won { stale: None, .. }),
            "{lookup:?}"
        );
        redis.cli(&["DEL", &tier.task_keys(&key).lease]);
    }
    let rendered = registry.render();
    assert!(
        rendered.contains("alumio_gateway_shared_errors_total{kind=\"corrupt\"} 2"),
        "{rendered}"
    );
}

/// Two connected replicas on one Redis, the second recording the purges it hears, and a key
/// in space acme whose answer the first has stored.
struct Fleet {
    one: SharedTier,
    two: SharedTier,
    heard: Arc<Mutex<Vec<PurgeScope>>>,
    key: TaskKey,
}

async fn two_replicas_sharing(identifier: &str, redis: &TestRedis) -> Fleet {
    let (one, two) = (replica(&redis.url()), replica(&redis.url()));
    let heard = purges_heard_by(&two);
    until_connected(&one).await;
    until_connected(&two).await;
    let key = key(identifier, Some("acme"));
    let lease = won(one.lookup(&key).await);
    one.store_now(&lease, &Write::Answer(task("{}", Duration::from_secs(60))))
        .await
        .unwrap();
    Fleet {
        one,
        two,
        heard,
        key,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn purges_reach_the_other_replica_within_a_second() {
    let redis = TestRedis::start();
    let Fleet {
        one,
        two,
        heard,
        key,
    } = two_replicas_sharing("purged", &redis).await;
    assert!(matches!(two.lookup(&key).await, Lookup::Fresh(_)));
    let scopes = [
        PurgeScope::Space("acme".parse().unwrap()),
        PurgeScope::Task(key.clone()),
        PurgeScope::WithoutSpace,
        PurgeScope::All,
    ];
    for scope in &scopes {
        let purged = Instant::now();
        one.purge(scope).await.unwrap();
        while !heard.lock().unwrap().contains(scope) {
            assert!(
                purged.elapsed() < Duration::from_secs(1),
                "{scope:?} not heard in 1 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let lookup = two.lookup(&key).await;
        assert_eq!(
            matches!(lookup, Lookup::Fresh(_)),
            !scope.covers(&key.key_ref()),
            "{scope:?} left {lookup:?}"
        );
        if let Lookup::Won { lease, .. } = lookup {
            two.store_now(&lease, &Write::Answer(task("{}", Duration::from_secs(60))))
                .await
                .unwrap();
        }
    }
    assert_eq!(one.inner.generations.read().unwrap().all, 1);
    assert_eq!(
        *two.inner.generations.read().unwrap(),
        *one.inner.generations.read().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_purge_during_a_fetch_makes_its_answer_unstorable() {
    let redis = TestRedis::start();
    let (one, two) = (replica(&redis.url()), replica(&redis.url()));
    until_connected(&one).await;
    until_connected(&two).await;
    let key = key("in-flight", None);
    let lease = won(one.lookup(&key).await);
    two.purge(&PurgeScope::Task(key.clone())).await.unwrap();
    let answer = task("{}", Duration::from_secs(60));
    assert_eq!(one.store_now(&lease, &Write::Answer(answer)).await, Ok(-1));
    assert!(matches!(two.lookup(&key).await, Lookup::Won { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_going_away_costs_at_most_a_command_timeout_then_the_breaker_opens() {
    let mut redis = TestRedis::start();
    let tier = replica(&redis.url());
    until_connected(&tier).await;
    redis.kill();
    let key = key("gone", None);
    for _ in 0..5 {
        let started = Instant::now();
        let lookup = tier.lookup(&key).await;
        assert!(matches!(lookup, Lookup::Unavailable), "{lookup:?}");
        assert!(
            started.elapsed() < Duration::from_millis(400),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(tier.breaker_state(), RedisBreakerState::Open);
    assert_eq!(tier.state(), TierState::LocalOnly);
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tier.state() != TierState::Connected {
        assert!(Instant::now() < deadline, "the tier came back by itself");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(tier.lookup(&key).await, Lookup::Won { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_started_while_redis_is_down_connects_when_it_comes_up() {
    let mut redis = TestRedis::start();
    let url = redis.url();
    redis.kill();
    let tier = replica(&url);
    assert!(matches!(
        tier.lookup(&key("early", None)).await,
        Lookup::Unavailable
    ));
    assert_eq!(tier.state(), TierState::LocalOnly);
    redis.restart();
    until_connected(&tier).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_redis_makes_every_replica_drop_its_l1() {
    let mut redis = TestRedis::start();
    let (one, two) = (replica(&redis.url()), replica(&redis.url()));
    let drops = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&drops);
    two.on_purge(Box::new(move |scope| {
        if *scope == PurgeScope::All {
            count.fetch_add(1, Ordering::SeqCst);
        }
    }));
    until_connected(&one).await;
    until_connected(&two).await;
    one.purge(&PurgeScope::WithoutSpace).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while drops.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "a lost purge stream drops L1");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(two.inner.generations.read().unwrap().without_space, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn leases_stores_and_purges_work_on_a_cluster() {
    let cluster = super::test_redis::TestCluster::start();
    let cluster_settings = || SharedTierSettings {
        cluster: true,
        ..settings(&cluster.urls())
    };
    let metrics = fresh_metrics();
    let one = SharedTier::start(cluster_settings(), metrics.clone());
    let two = SharedTier::start(cluster_settings(), metrics);
    let heard = purges_heard_by(&two);
    until_connected(&one).await;
    until_connected(&two).await;
    // Keys spread over the slots, so every node runs the scripts.
    for index in 0..12 {
        let key = key(&format!("task-{index}"), Some("acme"));
        let lease = won(one.lookup(&key).await);
        assert!(matches!(two.lookup(&key).await, Lookup::Lost { .. }));
        let waiter = two.clone();
        let waiting_key = key.clone();
        let wait = tokio::spawn(async move { waiter.wait_for_holder(&waiting_key).await });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let answer = task("{}", Duration::from_secs(60));
        assert_eq!(one.store_now(&lease, &Write::Answer(answer)).await, Ok(0));
        assert!(
            matches!(wait.await.unwrap(), Lookup::Fresh(_)),
            "key {index}"
        );
    }
    let scope = PurgeScope::Space("acme".parse().unwrap());
    let purged = Instant::now();
    one.purge(&scope).await.unwrap();
    while !heard.lock().unwrap().contains(&scope) {
        assert!(
            purged.elapsed() < Duration::from_secs(1),
            "the purge was not heard"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(matches!(
        two.lookup(&key("task-0", Some("acme"))).await,
        Lookup::Won { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_redis_costs_each_lookup_one_command_timeout_until_the_breaker_opens() {
    let redis = TestRedis::start();
    let tier = replica(&redis.url());
    until_connected(&tier).await;
    redis.freeze();
    let key = key("frozen", None);
    let mut timed_out = 0;
    for _ in 0..5 {
        let started = Instant::now();
        assert!(matches!(tier.lookup(&key).await, Lookup::Unavailable));
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(300),
            "bounded by the 200 ms timeout: {took:?}"
        );
        if took >= Duration::from_millis(150) {
            timed_out += 1;
        }
    }
    assert!(
        timed_out <= 3,
        "the open breaker answers at once: {timed_out} waited"
    );
    assert_eq!(tier.breaker_state(), RedisBreakerState::Open);
    redis.thaw();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tier.state() != TierState::Connected {
        assert!(
            Instant::now() < deadline,
            "the tier came back after the freeze"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(tier.lookup(&key).await, Lookup::Won { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_whose_purge_reader_fell_behind_catches_up_before_it_uses_l2() {
    let redis = TestRedis::start();
    let Fleet {
        one,
        two,
        heard,
        key,
    } = two_replicas_sharing("behind", &redis).await;
    let scope = PurgeScope::Space("acme".parse().unwrap());
    one.purge(&scope).await.unwrap();
    // As if two's reader had stalled since before the purge.
    two.inner.sync.lock().unwrap().synced_at = Some(Instant::now() - Duration::from_secs(5));
    assert!(!two.in_sync());
    let lookup = two.lookup(&key).await;
    assert!(
        !matches!(lookup, Lookup::Fresh(_)),
        "the purged value is not served: {lookup:?}"
    );
    assert!(two.in_sync(), "the lookup read the stream first");
    assert!(heard.lock().unwrap().contains(&scope));
}
