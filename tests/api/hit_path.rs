//! The hit path in front of the router answers a hit with the bytes the router would send:
//! the same status line, the same headers in the same order (but `date` and `x-request-id`),
//! the same body.

use std::net::SocketAddr;
use std::time::Duration;

use alumio_gateway::run;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, alumio_serves, spawn_app, task_reply};

/// What a response looks like on the wire, less the headers that differ by design.
#[derive(Debug, PartialEq, Eq)]
struct WireResponse {
    head: Vec<String>,
    body: Vec<u8>,
}

impl WireResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends `request` on a connection of its own and reads the response as bytes.
async fn exchange(address: SocketAddr, request: &str) -> WireResponse {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        read_more(&mut stream, &mut received).await;
    };
    let head = String::from_utf8(received[..head_end - 4].to_vec()).unwrap();
    let lines: Vec<String> = head.split("\r\n").map(str::to_owned).collect();
    let length: usize = lines
        .iter()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(0, |length| length.parse().unwrap());
    let has_body = !request.starts_with("HEAD") && !lines[0].contains(" 304 ");
    let body_len = if has_body { length } else { 0 };
    while received.len() < head_end + body_len {
        read_more(&mut stream, &mut received).await;
    }
    WireResponse {
        head: lines
            .into_iter()
            .filter(|line| !line.starts_with("date: ") && !line.starts_with("x-request-id: "))
            .collect(),
        body: received[head_end..head_end + body_len].to_vec(),
    }
}

async fn read_more(stream: &mut TcpStream, received: &mut Vec<u8>) {
    let mut buffer = [0_u8; 8192];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
        .await
        .expect("the gateway answers in time")
        .unwrap();
    assert!(read > 0, "the gateway closed mid-response");
    received.extend_from_slice(&buffer[..read]);
}

/// The router alone, on its own port, over the same state (and so the same cache).
async fn serve_router_alone(gateway: &TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(run(
        listener,
        alumio_gateway::Endpoint::from(alumio_gateway::app(gateway.state.clone())),
        std::future::pending(),
        Duration::from_secs(1),
    ));
    address
}

/// Both answers to `request`, asked until they were given within the same second (`Age` and
/// `max-age` count whole seconds).
async fn both_answers(
    hit_path: SocketAddr,
    router: SocketAddr,
    request: &str,
) -> [WireResponse; 2] {
    for _ in 0..5 {
        let through_hit_path = exchange(hit_path, request).await;
        let through_router = exchange(router, request).await;
        if through_hit_path.header("age") == through_router.header("age")
            && through_hit_path.header("cache-control") == through_router.header("cache-control")
        {
            return [through_hit_path, through_router];
        }
    }
    panic!("the two answers never fell within the same second");
}

#[tokio::test]
async fn the_hit_path_and_the_router_send_the_same_bytes_for_the_same_hits() {
    let app = spawn_app().await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;
    let router = serve_router_alone(&app).await;
    let first = app.get_task("t-1", Some("space=acme")).await;
    assert_eq!(first.headers()["x-cache"], "MISS");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();

    let target = "/api/v1/tasks/t-1?space=acme";
    let requests = [
        format!("GET {target} HTTP/1.1\r\nhost: gateway\r\n\r\n"),
        format!("HEAD {target} HTTP/1.1\r\nhost: gateway\r\n\r\n"),
        format!("GET {target} HTTP/1.1\r\nhost: gateway\r\nif-none-match: {etag}\r\n\r\n"),
        format!("GET {target} HTTP/1.1\r\nhost: gateway\r\nif-none-match: \"other\"\r\n\r\n"),
        format!(
            "GET {target}&unrelated=1 HTTP/1.1\r\nhost: gateway\r\nx-request-id: mine-1\r\n\r\n"
        ),
    ];
    for request in &requests {
        let [through_hit_path, through_router] = both_answers(app.address, router, request).await;
        assert_eq!(through_hit_path, through_router, "{request}");
        assert_eq!(through_hit_path.header("x-cache"), Some("HIT"), "{request}");
    }
    assert_eq!(app.upstream_requests().await, 1, "every answer was a hit");
}

#[tokio::test]
async fn a_hit_on_the_hit_path_carries_a_request_id_like_the_routers() {
    let app = spawn_app().await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;
    app.get_task("t-1", None).await;

    let made = app.get_task("t-1", None).await;
    assert_eq!(made.headers()["x-cache"], "HIT");
    let id = made.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 21, "{id}");
    let again = app.get_task("t-1", None).await;
    assert_ne!(
        again.headers()["x-request-id"],
        made.headers()["x-request-id"]
    );

    let kept = app
        .client
        .get(app.url("/api/v1/tasks/t-1"))
        .header("x-request-id", "consumer-id-7")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-cache"], "HIT");
    assert_eq!(kept.headers()["x-request-id"], "consumer-id-7");
}
