//! The API token never shows in `Debug` output or error messages (logs: `log_secrets.rs`).

use std::time::Duration;

use alumio_models::TaskIdentifier;
use alumio_transport::{AlumioClient, RetryPolicy, TransportError};
use secrecy::SecretString;
use tokio::net::TcpListener;
use wiremock::matchers::{header, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "sk-live-7f3a9c1e-very-secret";

fn task_id() -> TaskIdentifier {
    "t-1".parse().expect("valid identifier")
}

fn client_for(base: &str) -> AlumioClient {
    AlumioClient::builder(&format!("{base}/api/v1"), SecretString::from(TOKEN))
        .request_timeout(Duration::from_millis(300))
        .max_body_bytes(16)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client")
}

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "{what} shows the token: {text}");
    assert!(
        !text.contains("very-secret"),
        "{what} shows part of the token: {text}"
    );
}

fn assert_error_hides_the_token(error: &TransportError) {
    assert_hidden("Display", &error.to_string());
    assert_hidden("Debug", &format!("{error:?}"));
    assert_hidden("alternate Debug", &format!("{error:#?}"));
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        assert_hidden("source", &cause.to_string());
        source = cause.source();
    }
}

#[tokio::test]
async fn the_token_is_sent_as_a_bearer_header_and_nowhere_else_visible() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/tasks/t-1"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_string(r#"{"status":"401"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let builder = AlumioClient::builder(&server.uri(), SecretString::from(TOKEN));
    assert_hidden("builder Debug", &format!("{builder:?}"));
    let client = client_for(&server.uri());
    assert_hidden("client Debug", &format!("{client:?}"));
    assert_hidden("client alternate Debug", &format!("{client:#?}"));

    let error = client.get_task(&task_id(), None).await.expect_err("401");

    assert!(matches!(error, TransportError::Api { .. }), "{error:?}");
    assert_error_hides_the_token(&error);
}

#[tokio::test]
async fn no_kind_of_failure_shows_the_token() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/tasks/decode"))
        .respond_with(ResponseTemplate::new(200).set_body_string("7"))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/tasks/large"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(100)))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/tasks/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let client = client_for(&server.uri());
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closed_address = closed.local_addr().expect("address");
    drop(closed);
    let mut errors = Vec::new();

    for name in ["decode", "large", "slow"] {
        let identifier = name.parse().expect("identifier");
        errors.push(client.get_task(&identifier, None).await.expect_err(name));
    }
    let unreachable = client_for(&format!("http://{closed_address}"));
    errors.push(
        unreachable
            .get_task(&task_id(), None)
            .await
            .expect_err("refused"),
    );
    let base_with_password = format!("http://user:{TOKEN}@127.0.0.1:1/api/v1");
    let builder = AlumioClient::builder(&base_with_password, SecretString::from(TOKEN));
    assert_hidden(
        "builder Debug with a password in the base",
        &format!("{builder:?}"),
    );
    errors.push(builder.build().expect_err("credentials in url"));
    let bad_token = SecretString::from(format!("{TOKEN}\n"));
    errors.push(
        AlumioClient::builder(&server.uri(), bad_token)
            .build()
            .expect_err("token"),
    );

    let kinds: Vec<&str> = errors
        .iter()
        .map(|error| match error {
            TransportError::Decode { .. } => "decode",
            TransportError::BodyTooLarge { .. } => "large",
            TransportError::Timeout { .. } => "timeout",
            TransportError::Connect { .. } => "connect",
            TransportError::InvalidConfig { .. } => "config",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["decode", "large", "timeout", "connect", "config", "config"]
    );
    for error in &errors {
        assert_error_hides_the_token(error);
    }
}
