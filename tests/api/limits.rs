//! Limits on consumers' connections: a deadline and a size cap for the request head, a cap on
//! open connections with a 503 past it, keep-alive within them, and a bounded drain.

mod raw_http;

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::helpers::{TestApp, alumio_serves, spawn_app, spawn_app_with, task_reply};
use raw_http::{READ_BOUND, RawConnection};

const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(300);

async fn spawn_app_with_header_read_timeout() -> TestApp {
    spawn_app_with(|settings| settings.header_read_timeout = HEADER_READ_TIMEOUT).await
}

#[tokio::test]
async fn a_client_that_stalls_mid_head_is_disconnected_after_the_header_read_timeout() {
    let app = spawn_app_with_header_read_timeout().await;
    let started = Instant::now();
    let mut connection = RawConnection::open(app.address).await;
    connection
        .send(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n")
        .await
        .unwrap();

    let closed = connection
        .wait_until_closed(READ_BOUND)
        .await
        .expect("the stalled connection is closed");
    assert!(started.elapsed() >= HEADER_READ_TIMEOUT, "closed too early");
    assert!(closed.received.is_empty(), "{:?}", closed.received);
}

#[tokio::test]
async fn a_client_that_trickles_its_head_is_cut_off_at_the_same_deadline() {
    let app = spawn_app_with_header_read_timeout().await;
    let started = Instant::now();
    let mut connection = RawConnection::open(app.address).await;
    let (mut from_gateway, mut to_gateway) = connection.stream().split();
    to_gateway
        .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        .await
        .unwrap();

    // One byte every 50ms: every read makes progress, but the head never ends.
    let trickle = async {
        let mut ticks = tokio::time::interval(Duration::from_millis(50));
        let mut buffer = [0_u8; 1024];
        loop {
            tokio::select! {
                read = from_gateway.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => panic!("the gateway answered a head that never ended"),
                },
                _ = ticks.tick() => {
                    if to_gateway.write_all(b"a").await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::time::timeout(READ_BOUND, trickle)
        .await
        .expect("the trickling connection is cut off");
    assert!(started.elapsed() >= HEADER_READ_TIMEOUT, "closed too early");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let app = spawn_app_with_header_read_timeout().await;
    let mut connection = RawConnection::open(app.address).await;
    // The gateway starts waiting for the next head only after its answer to this one.
    let idle_since = Instant::now();
    assert_eq!(connection.get("/healthz").await.status, 200);

    let closed = connection
        .wait_until_closed(READ_BOUND)
        .await
        .expect("the idle connection is closed");
    assert!(
        idle_since.elapsed() >= HEADER_READ_TIMEOUT,
        "closed too early"
    );
    assert!(closed.received.is_empty());
}

#[tokio::test]
async fn two_requests_share_one_keep_alive_connection() {
    let app = spawn_app().await;
    alumio_serves(&app, "kept", task_reply("kept", "finished")).await;
    let mut connection = RawConnection::open(app.address).await;

    let first = connection.get("/api/v1/tasks/kept").await;
    let second = connection.get("/api/v1/tasks/kept").await;

    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(first.header("x-cache"), Some("MISS"));
    assert_eq!(second.header("x-cache"), Some("HIT"));
    assert_eq!(first.body, second.body);
    assert_eq!(
        second.header("connection"),
        None,
        "keep-alive is the default"
    );
}

#[tokio::test]
async fn a_request_head_within_the_default_limit_is_served() {
    let app = spawn_app().await;
    alumio_serves(&app, "padded", task_reply("padded", "finished")).await;
    let mut connection = RawConnection::open(app.address).await;
    let padding = "a".repeat(12 * 1024);
    let request = format!(
        "GET /api/v1/tasks/padded HTTP/1.1\r\nHost: gateway\r\nX-Padding: {padding}\r\n\r\n"
    );

    connection.send(request.as_bytes()).await.unwrap();

    assert_eq!(connection.read_response().await.status, 200);
}

#[tokio::test]
async fn an_oversized_request_head_is_refused_before_alumio_is_asked() {
    let app = spawn_app().await;
    alumio_serves(&app, "huge", task_reply("huge", "finished")).await;
    for padding in [20 * 1024, 64 * 1024] {
        let mut connection = RawConnection::open(app.address).await;
        let request = format!(
            "GET /api/v1/tasks/huge HTTP/1.1\r\nHost: gateway\r\nX-Padding: {}\r\n\r\n",
            "a".repeat(padding)
        );
        // The gateway may close while the head is still being written.
        let _ = connection.send(request.as_bytes()).await;

        let closed = connection
            .wait_until_closed(READ_BOUND)
            .await
            .expect("the connection is closed");
        // hyper answers 431 and closes; the close can reset the connection before the
        // answer is read, so an empty reply is a refusal too.
        let reply = String::from_utf8_lossy(&closed.received);
        assert!(
            reply.is_empty() || reply.starts_with("HTTP/1.1 431 "),
            "{padding} bytes of padding: {reply:.80}"
        );
    }
    assert_eq!(app.upstream_requests().await, 0);
}

#[tokio::test]
async fn past_max_connections_a_new_connection_gets_a_503_in_alumios_error_shape() {
    let app = spawn_app_with(|settings| settings.max_connections = 2).await;
    let mut first = RawConnection::open(app.address).await;
    let mut second = RawConnection::open(app.address).await;
    // A response means the gateway has taken the connection, so it holds a slot.
    assert_eq!(first.get("/healthz").await.status, 200);
    assert_eq!(second.get("/healthz").await.status, 200);

    let refused = reqwest::Client::new()
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("the refused connection gets an answer");
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(refused.headers()["connection"], "close");
    assert_eq!(refused.headers()["content-type"], "application/json");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["status"], "503");
    assert_eq!(error["title"], "Service Unavailable");
    assert!(error["detail"].as_str().unwrap().contains("overloaded"));

    assert_eq!(first.get("/healthz").await.status, 200);
    assert_eq!(second.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn a_closed_connection_frees_its_slot() {
    let app = spawn_app_with(|settings| settings.max_connections = 1).await;
    let mut holder = RawConnection::open(app.address).await;
    assert_eq!(holder.get("/healthz").await.status, 200);
    assert_eq!(
        RawConnection::open(app.address)
            .await
            .get("/healthz")
            .await
            .status,
        503
    );

    drop(holder);

    // The gateway notices the close on its own time; ask until it has.
    let served = tokio::time::timeout(READ_BOUND, async {
        loop {
            let status = RawConnection::open(app.address)
                .await
                .get("/healthz")
                .await
                .status;
            if status == 200 {
                return;
            }
            assert_eq!(status, 503);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "the slot was never freed");
}

#[tokio::test]
async fn shutdown_closes_idle_connections_without_waiting_for_the_drain_timeout() {
    let app = spawn_app_with(|settings| settings.shutdown_timeout = Duration::from_secs(600)).await;
    let mut idle = RawConnection::open(app.address).await;
    assert_eq!(idle.get("/healthz").await.status, 200);

    tokio::time::timeout(READ_BOUND, app.shut_down())
        .await
        .expect("an idle connection does not hold up shutdown")
        .unwrap();
    assert!(idle.wait_until_closed(READ_BOUND).await.is_some());
}

#[tokio::test]
async fn a_request_still_running_at_the_drain_timeout_is_cut_off() {
    let app =
        spawn_app_with(|settings| settings.shutdown_timeout = Duration::from_millis(200)).await;
    // Alumio stays silent past the upstream timeout (2s), which would end in a 504.
    alumio_serves(
        &app,
        "stuck",
        task_reply("stuck", "finished").set_delay(Duration::from_secs(30)),
    )
    .await;
    let mut in_flight = RawConnection::open(app.address).await;
    in_flight
        .send(b"GET /api/v1/tasks/stuck HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    tokio::time::timeout(READ_BOUND, app.shut_down())
        .await
        .expect("shutdown ends after the drain timeout")
        .unwrap();
    let closed = in_flight
        .wait_until_closed(READ_BOUND)
        .await
        .expect("the in-flight connection is closed");
    assert!(closed.received.is_empty(), "cut off before any answer");
}
