//! The API token never shows in logs, even at TRACE level with the HTTP stack's own events.
//!
//! Alone in its binary: it installs the global subscriber, which races with nothing here.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alumio_models::TaskIdentifier;
use alumio_transport::{AlumioClient, RetryPolicy};
use secrecy::SecretString;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "sk-live-7f3a9c1e-very-secret";

/// A log sink shared between the subscriber and the test.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buffer = self.0.lock().map_err(|_| io::Error::other("poisoned"))?;
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn trace_logs_of_failing_and_succeeding_requests_never_show_the_token() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/tasks/t-1"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/tasks/t-1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"object":{}}"#))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/tasks/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_string(r#"{"status":"404"}"#))
        .mount(&server)
        .await;
    let policy = RetryPolicy {
        initial_backoff: Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    let base = format!("{}/api/v1", server.uri());
    let client = AlumioClient::builder(&base, SecretString::from(TOKEN))
        .retry_policy(policy)
        .build()
        .expect("client");

    let found: TaskIdentifier = "t-1".parse().expect("identifier");
    let missing: TaskIdentifier = "missing".parse().expect("identifier");
    client
        .get_task(&found, None)
        .await
        .expect("task after one retry");
    client.get_task(&missing, None).await.expect_err("404");

    let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8 logs");
    assert!(
        text.contains("alumio_attempt"),
        "the spans were not captured: {text}"
    );
    assert!(
        text.contains("attempt=2"),
        "the retry was not logged: {text}"
    );
    assert!(
        text.contains("alumio replied"),
        "outcomes were not logged: {text}"
    );
    assert!(!text.contains(TOKEN), "the logs show the token: {text}");
    assert!(
        !text.contains("very-secret"),
        "the logs show part of the token: {text}"
    );
}
