//! What the fleet does not take from Redis on trust, and what it never gives Redis away: a
//! corrupt value or one copied from another task is never served, the Redis password is in no
//! log, metric or readiness answer, and the ACL user of docs/security.md is all it needs.

use std::time::Duration;

use super::{
    KEY_PREFIX, PATIENT_REDIS, Replica, SharedRedis, SimulatedAlumio,
    against_one_redis_and_a_cluster, start_fleet,
};
use crate::helpers::{CAPTURED_LOGS, secret_file};
use crate::support::redis::{RedisServer, Reply};

against_one_redis_and_a_cluster!(
    a_corrupt_value_in_redis_is_never_served,
    a_value_copied_from_another_task_is_never_served,
);

const CORRUPT: &str = "alumio_gateway_shared_errors_total{kind=\"corrupt\"}";

/// Overwrites `key` with `value`, keeping its expiry.
async fn overwrite(redis: &SharedRedis, key: &str, value: &[u8]) {
    let set = redis
        .command(&[b"SET", key.as_bytes(), value, b"KEEPTTL"])
        .await;
    assert_eq!(set, Reply::Status("OK".into()), "SET {key}");
}

/// A replica with an empty cache of its own, so its answer comes from Redis or Alumio.
async fn fresh_reader(alumio: &SimulatedAlumio, redis: &SharedRedis) -> Replica {
    start_fleet(alumio.base_url(), redis, 1, &PATIENT_REDIS)
        .await
        .remove(0)
}

async fn a_corrupt_value_in_redis_is_never_served(redis: SharedRedis) {
    let alumio = SimulatedAlumio::start(Duration::ZERO).await;
    let writer = fresh_reader(&alumio, &redis).await;
    let task = alumio.task_paths(1).remove(0);
    let original = writer.get(&task).await;
    assert_eq!(original.x_cache, "MISS");
    let (key, value) = redis.value_holding(&original.body).await;
    let mut flipped = value.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    let corruptions = [
        ("garbage", b"not a gateway value at all".to_vec()),
        ("an empty value", Vec::new()),
        (
            "the first half of the value",
            value[..value.len() / 2].to_vec(),
        ),
        ("the value with one byte flipped", flipped),
        (
            "the value with a byte more",
            [value.as_slice(), b"!"].concat(),
        ),
    ];

    for (what, corrupt) in corruptions {
        overwrite(&redis, &key, &corrupt).await;
        let reader = fresh_reader(&alumio, &redis).await;
        let answer = reader.get(&task).await;
        assert_eq!(answer.status, 200, "{what}: {answer:?}");
        assert_eq!(answer.body, original.body, "{what} was served");
        assert!(!answer.is_shared_hit(), "{what} was served as a shared hit");
        assert!(
            reader.metric(CORRUPT).await >= 1.0,
            "{what} was not counted as corrupt"
        );
    }
}

async fn a_value_copied_from_another_task_is_never_served(redis: SharedRedis) {
    let alumio = SimulatedAlumio::start(Duration::ZERO).await;
    let writer = fresh_reader(&alumio, &redis).await;
    let [first, second] = <[String; 2]>::try_from(alumio.task_paths(2)).unwrap();
    let first_answer = writer.get(&first).await;
    let second_answer = writer.get(&second).await;
    assert_ne!(first_answer.body, second_answer.body);
    let (_, first_value) = redis.value_holding(&first_answer.body).await;
    let (second_key, _) = redis.value_holding(&second_answer.body).await;

    overwrite(&redis, &second_key, &first_value).await;
    let reader = fresh_reader(&alumio, &redis).await;
    let answer = reader.get(&second).await;

    assert_eq!(answer.status, 200);
    assert_ne!(
        answer.body, first_answer.body,
        "another task's answer was served"
    );
    assert_eq!(answer.body, second_answer.body);
    assert!(reader.metric(CORRUPT).await >= 1.0);
}

/// The Redis passwords of the secrecy test, which must appear nowhere.
const PASSWORD: &str = "redis-pass-6b2f0e9d41c7a358";
const WRONG_PASSWORD: &str = "wrong-redis-pass-93d1c5e7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_password_appears_in_no_log_metric_or_readiness_answer() {
    let mut redis = RedisServer::start_with_password(PASSWORD).await;
    let alumio = SimulatedAlumio::start(Duration::ZERO).await;
    let url_file = secret_file(&redis.url());
    let by_flag = ["--redis-url".into(), redis.url()];
    let by_flag = Replica::start(alumio.base_url(), &by_flag, &PATIENT_REDIS).await;
    let by_file = [
        "--redis-url-file".into(),
        url_file.path().display().to_string(),
    ];
    let by_file = Replica::start(alumio.base_url(), &by_file, &PATIENT_REDIS).await;
    let wrong_url = format!("redis://:{WRONG_PASSWORD}@127.0.0.1:{}", redis.port());
    let refused = ["--redis-url".into(), wrong_url];
    let refused = Replica::start(alumio.base_url(), &refused, &PATIENT_REDIS).await;
    for replica in [&by_flag, &by_file] {
        replica
            .wait_for_state("connected", Duration::from_secs(10))
            .await;
    }
    let [before, after] = <[String; 2]>::try_from(alumio.task_paths(2)).unwrap();
    by_flag.get(&before).await;
    assert!(by_file.get(&before).await.is_shared_hit());
    refused.get(&before).await;
    // Reconnecting is where a client's errors tend to quote its URL.
    redis.kill();
    by_flag.get(&after).await;
    redis.restart().await;
    by_flag
        .wait_for_state("connected", Duration::from_secs(10))
        .await;
    assert_eq!(refused.shared_state().await, "local-only");

    let logs = CAPTURED_LOGS.text();
    assert!(
        logs.contains(&format!("127.0.0.1:{}", redis.port())),
        "the gateway logged nothing about this Redis, so the check below would prove nothing"
    );
    for replica in [&by_flag, &by_file, &refused] {
        for output in [
            logs.clone(),
            replica.metrics().await,
            replica.text("/readyz").await,
        ] {
            for secret in [PASSWORD, WRONG_PASSWORD] {
                assert!(
                    !output.contains(secret),
                    "the Redis password leaked: {secret}"
                );
            }
        }
    }
}

/// The `ACL SETUSER` line of docs/security.md, with `password` in place of its placeholder.
fn documented_acl(password: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/security.md"))
        .expect("docs/security.md");
    let line = doc
        .lines()
        .find(|line| line.starts_with("ACL SETUSER "))
        .expect("docs/security.md gives an ACL SETUSER line");
    assert!(line.contains(&format!("~{KEY_PREFIX}*")), "{line}");
    line.split_whitespace()
        .map(|word| match word.strip_prefix('>') {
            Some(_) => format!(">{password}"),
            None => word.to_owned(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acl_user_of_the_security_doc_is_all_the_fleet_needs() {
    let redis = RedisServer::start().await;
    let acl = documented_acl(PASSWORD);
    let user = acl[2].clone();
    let acl: Vec<&str> = acl.iter().map(String::as_str).collect();
    assert_eq!(redis.cli(&acl).await, "OK");
    let url = format!("redis://{user}:{PASSWORD}@127.0.0.1:{}", redis.port());
    let alumio = SimulatedAlumio::start(Duration::ZERO).await;
    let flags = ["--redis-url".to_owned(), url];
    let mut fleet = Vec::new();
    for _ in 0..2 {
        fleet.push(Replica::start(alumio.base_url(), &flags, &PATIENT_REDIS).await);
    }
    for replica in &fleet {
        replica
            .wait_for_state("connected", Duration::from_secs(10))
            .await;
    }
    let task = alumio.task_paths(1).remove(0);
    let identifier = task.trim_start_matches("/api/v1/tasks/");

    assert_eq!(fleet[0].get(&task).await.x_cache, "MISS");
    let shared = fleet[1].get(&task).await;
    assert!(shared.is_shared_hit(), "{shared:?}");
    assert_eq!(
        fleet[1]
            .purge(&format!("/admin/cache/tasks/{identifier}"))
            .await,
        204
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fleet[0].get(&task).await.x_cache, "MISS");
    assert_eq!(alumio.requests(), 2);
    for replica in &fleet {
        let metrics = replica.metrics().await;
        let errors: Vec<&str> = metrics
            .lines()
            .filter(|line| line.starts_with("alumio_gateway_shared_errors_total{"))
            .filter(|line| !line.ends_with(" 0"))
            .collect();
        assert!(
            errors.is_empty(),
            "the documented ACL refused something: {errors:?}"
        );
    }
    // ...and the user can reach nothing outside the prefix.
    let outside = redis
        .cli(&[
            "--user",
            &user,
            "--pass",
            PASSWORD,
            "--no-auth-warning",
            "GET",
            "other-key",
        ])
        .await;
    assert!(outside.starts_with("NOPERM"), "{outside}");
}
