//! The fleet as processes: a replica SIGKILLed while it holds a key's lease leaves its waiters
//! to another replica once the lease runs out, and the Redis URL stays secret in `--help` and
//! on stderr. Real binaries, real Redis, and a slow Alumio of the test's own.

#![allow(clippy::unwrap_used)]

mod common;
// The black-box tests' Redis support; this binary uses only part of it.
#[allow(dead_code)]
#[path = "../../../tests/api/support/redis.rs"]
mod redis_support;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Running, gateway};
use redis_support::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The task body the slow Alumio sends.
const TASK: &str = include_str!("../../../tests/fixtures/task-finished.json");

/// An Alumio that answers every task request with `TASK` after `latency`, counting requests.
struct SlowAlumio {
    address: SocketAddr,
    requests: Arc<AtomicUsize>,
    first_request_at: Arc<std::sync::OnceLock<Instant>>,
    second_request_at: Arc<std::sync::OnceLock<Instant>>,
}

impl SlowAlumio {
    async fn start(latency: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let alumio = Self {
            address: listener.local_addr().unwrap(),
            requests: Arc::default(),
            first_request_at: Arc::default(),
            second_request_at: Arc::default(),
        };
        let (requests, first, second) = (
            Arc::clone(&alumio.requests),
            Arc::clone(&alumio.first_request_at),
            Arc::clone(&alumio.second_request_at),
        );
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (requests, first, second) = (
                    Arc::clone(&requests),
                    Arc::clone(&first),
                    Arc::clone(&second),
                );
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0_u8; 1024];
                    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => head.extend_from_slice(&buffer[..read]),
                        }
                    }
                    match requests.fetch_add(1, Ordering::SeqCst) {
                        0 => drop(first.set(Instant::now())),
                        1 => drop(second.set(Instant::now())),
                        _ => {}
                    }
                    tokio::time::sleep(latency).await;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{TASK}",
                        TASK.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        alumio
    }

    fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.address)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A port on loopback that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A replica process in front of `alumio`, sharing `redis_url`; returns it and its address.
fn start_replica(
    alumio: &SlowAlumio,
    redis_url: &str,
    token_file: &std::path::Path,
) -> (Running, SocketAddr) {
    let address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = gateway()
        .args(["--listen", &address.to_string(), "--allow-anonymous"])
        .args(["--upstream", &alumio.base_url()])
        .arg("--token-file")
        .arg(token_file)
        .args(["--redis-url", redis_url])
        // The lease lasts the longest a fetch may take plus a margin: 1 + 1 + 3 + 1 s here.
        .args([
            "--upstream-queue-timeout",
            "1s",
            "--upstream-connect-timeout",
            "1s",
        ])
        .args(["--upstream-timeout", "3s", "--upstream-attempts", "1"])
        .args(["--request-timeout", "20s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Running(child), address)
}

/// Waits until the replica at `address` answers `/readyz` with the shared tier connected.
async fn wait_until_connected(client: &reqwest::Client, address: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let readyz = client.get(format!("http://{address}/readyz")).send().await;
        if let Ok(response) = readyz
            && let Ok(text) = response.text().await
            && let Ok(body) = serde_json::from_str::<serde_json::Value>(&text)
            && body["shared_tier"]["state"] == "connected"
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica {address} never connected to Redis"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metric(client: &reqwest::Client, address: SocketAddr, name: &str) -> f64 {
    let text = client
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_holding_the_lease_leaves_its_waiters_to_another_after_the_lease() {
    let redis = RedisServer::start().await;
    let alumio = SlowAlumio::start(Duration::from_millis(2500)).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("alumio-token");
    std::fs::write(&token_file, "alumio-token-for-the-lease-test\n").unwrap();
    let (mut holder, holder_address) = start_replica(&alumio, &redis.url(), &token_file);
    let (_waiter, waiter_address) = start_replica(&alumio, &redis.url(), &token_file);
    let client = reqwest::Client::new();
    wait_until_connected(&client, holder_address).await;
    wait_until_connected(&client, waiter_address).await;
    let task = "/api/v1/tasks/01HXR8P9S2T4V6W8X0Y2Z4A6BC?space=acme-prod";

    // The holder takes the lease and asks Alumio, which takes its time.
    let holder_client = client.clone();
    let holders_consumer = tokio::spawn(async move {
        holder_client
            .get(format!("http://{holder_address}{task}"))
            .send()
            .await
    });
    while alumio.requests() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A consumer of the other replica waits for the holder's answer...
    let waiter_client = client.clone();
    let waiters_consumer = tokio::spawn(async move {
        let response = waiter_client
            .get(format!("http://{waiter_address}{task}"))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(
        &client,
        waiter_address,
        "alumio_gateway_shared_leases_total{outcome=\"waited\"}",
    )
    .await
        < 1.0
    {
        assert!(
            Instant::now() < deadline,
            "the other replica never waited on the lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...and the holder dies mid-fetch, its lease still in Redis.
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    assert!(
        holders_consumer.await.unwrap().is_err(),
        "the killed replica answered"
    );

    let (status, body) = waiters_consumer.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, TASK, "the waiter did not get Alumio's bytes");
    assert_eq!(
        alumio.requests(),
        2,
        "one request by the holder, one by the taker-over"
    );
    let first = *alumio.first_request_at.get().unwrap();
    let second = *alumio.second_request_at.get().unwrap();
    assert!(
        second - first >= Duration::from_secs(5),
        "the lease was taken over after {:?}, before it ran out (6 s)",
        second - first
    );
    assert_eq!(
        metric(
            &client,
            waiter_address,
            "alumio_gateway_shared_leases_total{outcome=\"taken_over\"}"
        )
        .await,
        1.0
    );
}

/// Everything `pipe` yields until it closes, read on a thread of its own.
fn read_all(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// A password that must appear in no output of the binary.
const PASSWORD: &str = "binary-redis-pass-0d4e8a17c3";

#[test]
fn the_redis_url_is_secret_in_help_and_in_what_a_failing_replica_prints() {
    let redis_port = free_port();
    let url = format!("redis://gateway:{PASSWORD}@127.0.0.1:{redis_port}/0");
    let help = gateway()
        .arg("--help")
        .env("GATEWAY_REDIS_URL", &url)
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--redis-url"), "{help}");
    assert!(!help.contains(PASSWORD), "--help shows the Redis password");

    // A replica whose Redis refuses connections logs why, at debug level, for a while.
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("redis-url");
    std::fs::write(&url_file, format!("{url}\n")).unwrap();
    let token_file = dir.path().join("alumio-token");
    std::fs::write(&token_file, "alumio-token-for-the-secrecy-test\n").unwrap();
    let alumio = format!("http://127.0.0.1:{}/api/v1", free_port());
    let child = gateway()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--allow-anonymous",
            "--upstream",
            &alumio,
        ])
        .arg("--token-file")
        .arg(&token_file)
        .arg("--redis-url-file")
        .arg(&url_file)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    // Read both pipes as the replica writes, so a full pipe cannot block it.
    let readers = [
        read_all(running.0.stdout.take().unwrap()),
        read_all(running.0.stderr.take().unwrap()),
    ];
    std::thread::sleep(Duration::from_secs(2));
    running.terminate_cleanly();
    let output: String = readers.map(|reader| reader.join().unwrap()).concat();
    assert!(
        output.contains(&format!("127.0.0.1:{redis_port}")),
        "the replica printed nothing about its Redis: {output}"
    );
    assert!(!output.contains(PASSWORD), "the Redis password was printed");
}
