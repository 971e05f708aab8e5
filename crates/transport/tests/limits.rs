//! Body limits and broken connections, against wiremock and tiny raw TCP servers on loopback.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alumio_models::TaskIdentifier;
use alumio_transport::{AlumioClient, RetryPolicy, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const LIMIT: usize = 64 * 1024;

fn client_for(base: &str, policy: RetryPolicy) -> AlumioClient {
    AlumioClient::builder(&format!("{base}/api/v1"), "token".into())
        .max_body_bytes(LIMIT)
        .retry_policy(policy)
        .build()
        .expect("client")
}

fn task_id() -> TaskIdentifier {
    "t-1".parse().expect("valid identifier")
}

/// Reads a request head, at most 64 KiB, so the client sees its request accepted.
async fn read_request_head(socket: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let read = socket.read(&mut buffer).await?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(())
}

/// Announces 100 bytes of body, sends 10 and closes the connection.
async fn reply_cut_short(mut socket: TcpStream) -> io::Result<()> {
    read_request_head(&mut socket).await?;
    let reply = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"object\":";
    socket.write_all(reply.as_bytes()).await
}

#[tokio::test]
async fn a_body_announced_larger_than_the_limit_is_refused() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b' '; LIMIT + 1]))
        .expect(2)
        .mount(&server)
        .await;
    let client = client_for(&server.uri(), RetryPolicy::default());

    let error = client
        .get_task(&task_id(), None)
        .await
        .expect_err("too large");
    assert!(
        matches!(error, TransportError::BodyTooLarge { limit: LIMIT, .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    let error = client
        .get_task_raw(&task_id(), None)
        .await
        .expect_err("too large");
    assert!(
        matches!(error, TransportError::BodyTooLarge { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_read() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; LIMIT]))
        .mount(&server)
        .await;

    let raw = client_for(&server.uri(), RetryPolicy::default())
        .get_task_raw(&task_id(), None)
        .await
        .expect("reply");

    assert_eq!(raw.body.len(), LIMIT);
}

#[tokio::test]
async fn an_endless_chunked_body_is_cut_off_at_the_limit() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    // Streams chunks until the client hangs up; gives up after 1 GiB so the test always ends.
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        read_request_head(&mut socket).await?;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await?;
        let chunk = format!("1000\r\n{}\r\n", "x".repeat(0x1000));
        let mut sent = 0usize;
        while sent < 1 << 30 {
            socket.write_all(chunk.as_bytes()).await?;
            sent += 0x1000;
        }
        Ok::<usize, io::Error>(sent)
    });

    let error = client_for(&format!("http://{address}"), RetryPolicy::none())
        .get_task_raw(&task_id(), None)
        .await
        .expect_err("too large");

    assert!(
        matches!(error, TransportError::BodyTooLarge { .. }),
        "{error:?}"
    );
    let served = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("server stops once the client hangs up")
        .expect("server task");
    assert!(
        served.is_err(),
        "the client read the whole endless body: {served:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);

    let error = client_for(&format!("http://{address}"), RetryPolicy::none())
        .get_task(&task_id(), None)
        .await
        .expect_err("refused");

    assert!(matches!(error, TransportError::Connect { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(
        error.to_string(),
        format!("could not connect to http://{address}/api/v1/tasks/t-1")
    );
}

#[tokio::test]
async fn a_connection_cut_mid_body_is_a_retryable_request_error_and_is_retried() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            // Errors only mean the client left early, which the assertions below catch.
            let _ = reply_cut_short(socket).await;
        }
    });
    let policy = RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        ..RetryPolicy::default()
    };

    let error = client_for(&format!("http://{address}"), policy)
        .get_task(&task_id(), None)
        .await
        .expect_err("cut");

    server.abort();
    assert!(matches!(error, TransportError::Request { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}
