//! The Redis test support does what the fleet tests rely on: a killed server refuses
//! connections, a restarted one answers on the same port, a frozen one stays silent for the
//! freeze, a dropped one leaves no process, and the cluster has three masters that route keys.

use std::time::{Duration, Instant};

use crate::support::redis::{INSTALL_HINT, RedisCluster, RedisServer, Reply, spawn_failure};

#[tokio::test]
async fn a_started_server_answers_on_loopback_without_persistence() {
    let redis = RedisServer::start().await;
    assert_eq!(redis.cli(&["PING"]).await, "PONG");
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port()));
    assert_eq!(redis.cli(&["CONFIG", "GET", "save"]).await, "save");
    assert_eq!(
        redis.cli(&["CONFIG", "GET", "appendonly"]).await,
        "appendonly\nno"
    );
    assert_eq!(
        redis.cli(&["CONFIG", "GET", "bind"]).await,
        "bind\n127.0.0.1"
    );
}

#[tokio::test]
async fn a_killed_server_refuses_connections_and_a_restarted_one_answers_on_its_port() {
    let mut redis = RedisServer::start().await;
    let port = redis.port();
    assert_eq!(redis.cli(&["SET", "k", "v"]).await, "OK");

    redis.kill();
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        refused.is_err(),
        "a killed server still accepts connections"
    );
    assert!(!redis.ping().await);

    redis.restart().await;
    assert_eq!(redis.port(), port);
    assert_eq!(redis.cli(&["PING"]).await, "PONG");
    // Nothing is persisted, so a restart is a cold Redis, as the fault tests want.
    assert_eq!(redis.cli(&["EXISTS", "k"]).await, "0");
}

#[tokio::test]
async fn a_frozen_server_does_not_answer_within_the_freeze_and_answers_after() {
    let redis = RedisServer::start().await;
    let freeze = Duration::from_millis(800);
    let started = Instant::now();
    redis.freeze(freeze).await;

    let during = tokio::time::timeout(Duration::from_millis(300), redis.ping()).await;
    assert!(during.is_err(), "a frozen server answered PING");
    assert!(started.elapsed() < freeze, "the check ran past the freeze");

    let after = tokio::time::timeout(freeze * 2, redis.ping()).await;
    assert_eq!(after.ok(), Some(true), "the server did not come back");
    assert!(started.elapsed() >= Duration::from_millis(700));
}

#[tokio::test]
async fn a_dropped_server_leaves_no_process_behind() {
    let redis = RedisServer::start().await;
    let pid = redis.pid().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(redis);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[tokio::test]
async fn a_server_dropped_by_a_panicking_test_leaves_no_process_behind() {
    let (pid_sender, pid_receiver) = std::sync::mpsc::channel();
    let failing_test = tokio::spawn(async move {
        let redis = RedisServer::start().await;
        pid_sender.send(redis.pid().unwrap()).unwrap();
        panic!("a test fails while its Redis runs");
    });
    assert!(failing_test.await.unwrap_err().is_panic());
    let pid = pid_receiver.recv().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[tokio::test]
async fn a_password_protects_the_server_and_is_in_its_url() {
    let redis = RedisServer::start_with_password("s3cret-pass").await;
    assert_eq!(
        redis.url(),
        format!("redis://:s3cret-pass@127.0.0.1:{}", redis.port())
    );
    assert_eq!(redis.cli(&["PING"]).await, "PONG");
    let anonymous = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "PING"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&anonymous.stdout).contains("NOAUTH"));
}

#[test]
fn a_missing_redis_server_fails_with_one_line_naming_what_to_install() {
    let command = std::process::Command::new("redis-server-that-is-not-installed");
    let error = std::io::Error::from(std::io::ErrorKind::NotFound);
    let line = spawn_failure(&command, &error);
    assert_eq!(line, INSTALL_HINT);
    assert_eq!(line.lines().count(), 1);
    assert!(
        line.contains("apt-get install -y redis-server redis-tools"),
        "{line}"
    );
    assert!(line.contains("scripts/test.sh"), "{line}");
}

#[tokio::test]
async fn the_cluster_has_three_masters_that_share_the_slots_and_route_keys() {
    let cluster = RedisCluster::start(3).await;
    let info = cluster.nodes()[1].cli(&["CLUSTER", "INFO"]).await;
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_size:3"), "{info}");
    assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
    let nodes = cluster.nodes()[0].cli(&["CLUSTER", "NODES"]).await;
    assert_eq!(
        nodes.lines().filter(|line| line.contains("master")).count(),
        3,
        "{nodes}"
    );

    for index in 0..30 {
        let key = format!("key-{index}");
        assert_eq!(cluster.cli(&["SET", &key, "v"]).await, "OK");
    }
    let mut total = 0;
    for node in cluster.nodes() {
        let keys: usize = node.cli(&["DBSIZE"]).await.parse().unwrap();
        assert!(keys > 0, "node {} holds none of 30 keys", node.port());
        total += keys;
    }
    assert_eq!(total, 30);
    assert_eq!(cluster.seed_urls().split(',').count(), 3);
    assert!(
        cluster
            .seed_urls()
            .split(',')
            .all(|url| url.starts_with("redis://127.0.0.1:"))
    );
}

#[tokio::test]
async fn commands_carry_any_bytes_both_ways() {
    let redis = RedisServer::start().await;
    let value: &[u8] = b"\0binary\r\n\xff value";
    let set = redis.command(&[b"SET", b"k", value]).await;
    assert_eq!(set, Reply::Status("OK".into()));
    assert_eq!(
        redis.command(&[b"GET", b"k"]).await.into_bytes().as_deref(),
        Some(value)
    );
    assert_eq!(
        redis.command(&[b"GET", b"missing"]).await,
        Reply::Bulk(None)
    );
    let keys = redis.command(&[b"KEYS", b"*"]).await.into_strings();
    assert_eq!(keys, ["k"]);
    assert!(matches!(
        redis.command(&[b"NOSUCHCOMMAND"]).await,
        Reply::Error(_)
    ));
}

#[tokio::test]
async fn a_frozen_or_killed_cluster_is_silent_and_a_restarted_one_routes_keys_again() {
    let mut cluster = RedisCluster::start(3).await;
    for index in 0..10 {
        let key = format!("key-{index}");
        let set = cluster.command(&[b"SET", key.as_bytes(), b"v"]).await;
        assert_eq!(set, Reply::Status("OK".into()), "{key}");
    }

    cluster.freeze(Duration::from_millis(700)).await;
    for node in cluster.nodes() {
        let answer = tokio::time::timeout(Duration::from_millis(100), node.ping()).await;
        assert!(answer.is_err(), "frozen node {} answered", node.port());
    }

    cluster.kill();
    for node in cluster.nodes() {
        assert!(!node.ping().await, "node {} still answers", node.port());
    }

    cluster.restart().await;
    let info = cluster.nodes()[2].cli(&["CLUSTER", "INFO"]).await;
    assert!(
        info.contains("cluster_state:ok") && info.contains("cluster_size:3"),
        "{info}"
    );
    // Empty again, and every key is routed to a node that owns it.
    assert_eq!(
        cluster.command(&[b"GET", b"key-1"]).await,
        Reply::Bulk(None)
    );
    assert_eq!(
        cluster.command(&[b"SET", b"key-1", b"w"]).await,
        Reply::Status("OK".into())
    );
    assert_eq!(cluster.cli(&["GET", "key-1"]).await, "w");
}
