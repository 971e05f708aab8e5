//! Typed and raw fetching, Alumio errors, retries, timeouts and configuration checks, against
//! a wiremock server.

use std::time::Duration;

use alumio_models::{SpaceIdentifier, TaskIdentifier, TaskStatus};
use alumio_transport::{AlumioClient, ClientBuilder, RetryPolicy, TransportError, USER_AGENT};
use secrecy::SecretString;
use tokio::time::Instant;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "test-token-1234";
const TASK_PATH: &str = "/api/v1/tasks/t-1";
/// Odd spacing and an unknown property, so any re-serialisation would show.
const TASK_BODY: &str =
    "{ \"object\" :{\"identifier\":\"t-1\",  \"status\":\"finished\",\n\"later\":[1, 2 ]} }  ";
/// Generous room for a loaded machine when checking that a wait was bounded.
const SLACK: Duration = Duration::from_secs(2);

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

fn client_with(server: &MockServer, policy: RetryPolicy) -> AlumioClient {
    AlumioClient::builder(
        &format!("{}/api/v1", server.uri()),
        SecretString::from(TOKEN),
    )
    .retry_policy(policy)
    .build()
    .expect("client builds")
}

fn task_id() -> TaskIdentifier {
    "t-1".parse().expect("valid identifier")
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

fn alumio_error(status: u16, title: &str) -> ResponseTemplate {
    let body = format!(r#"{{"status":"{status}","title":"{title}","detail":"no task t-1"}}"#);
    json(status, &body)
}

#[tokio::test]
async fn a_task_is_fetched_with_bearer_auth_and_parsed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TASK_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("accept", "application/json"))
        .and(header("user-agent", USER_AGENT))
        .respond_with(json(200, TASK_BODY))
        .expect(1)
        .mount(&server)
        .await;

    let result = client_with(&server, RetryPolicy::default())
        .get_task(&task_id(), None)
        .await
        .expect("task");

    let task = result.object.expect("object");
    assert_eq!(task.identifier.as_deref(), Some("t-1"));
    assert_eq!(task.status, Some(TaskStatus::Finished));
    assert_eq!(task.extra["later"], serde_json::json!([1, 2]));
}

#[tokio::test]
async fn the_raw_reply_keeps_the_exact_bytes_and_the_cache_headers() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .and(query_param("space", "acme-prod"))
        .respond_with(
            json(200, TASK_BODY)
                .insert_header("etag", "\"v1\"")
                .insert_header("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT")
                .insert_header("cache-control", "max-age=30"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let space: SpaceIdentifier = "acme-prod".parse().expect("valid space");

    let raw = client_with(&server, RetryPolicy::default())
        .get_task_raw(&task_id(), Some(&space))
        .await
        .expect("reply");

    assert_eq!(raw.status, 200);
    assert_eq!(raw.body, TASK_BODY.as_bytes());
    assert_eq!(raw.headers.etag.as_ref().expect("etag"), "\"v1\"");
    let modified = raw.headers.last_modified.as_ref().expect("last-modified");
    assert_eq!(modified, "Wed, 21 Oct 2015 07:28:00 GMT");
    assert_eq!(
        raw.headers.cache_control.as_ref().expect("cache-control"),
        "max-age=30"
    );
    assert_eq!(
        raw.headers.content_type.as_ref().expect("type"),
        "application/json"
    );
    assert_eq!(raw.headers.retry_after, None);
}

#[tokio::test]
async fn a_404_with_an_alumio_error_body_is_an_api_error_carrying_that_body() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(alumio_error(404, "Not Found"))
        .expect(2)
        .mount(&server)
        .await;
    let client = client_with(&server, RetryPolicy::default());

    let error = client.get_task(&task_id(), None).await.expect_err("404");
    let TransportError::Api {
        url,
        status,
        body,
        raw,
    } = &error
    else {
        panic!("expected an api error, got {error:?}");
    };
    assert_eq!(*status, 404);
    assert_eq!(url.path(), TASK_PATH);
    let body = body.as_ref().expect("alumio error body");
    assert_eq!(body.status_code(), Some(404));
    assert_eq!(body.title.as_deref(), Some("Not Found"));
    assert_eq!(*raw, None);
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(
        message.starts_with("alumio answered 404 Not Found for http://"),
        "{message}"
    );
    assert!(message.ends_with(": Not Found: no task t-1"), "{message}");

    let raw = client.get_task_raw(&task_id(), None).await.expect("reply");
    assert_eq!(raw.status, 404);
    assert!(raw.body.starts_with(br#"{"status":"404""#));
}

#[tokio::test]
async fn a_401_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(alumio_error(401, "Unauthorized"))
        .expect(1)
        .mount(&server)
        .await;

    let error = client_with(&server, quick_retries())
        .get_task(&task_id(), None)
        .await
        .expect_err("401");

    assert_eq!(error.status(), Some(http::StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_its_retry_after_asks_for() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(alumio_error(429, "Too Many Requests").insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(TASK_PATH))
        .respond_with(json(200, TASK_BODY))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();

    let result = client_with(&server, quick_retries())
        .get_task(&task_id(), None)
        .await
        .expect("task after retry");

    assert!(result.object.is_some());
    // The backoff alone is at most 50 ms: a wait near a second proves Retry-After was used.
    assert!(started.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_returns_the_reply_without_retrying() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(alumio_error(429, "Too Many Requests").insert_header("retry-after", "60"))
        .expect(1)
        .mount(&server)
        .await;

    let raw = client_with(&server, quick_retries())
        .get_task_raw(&task_id(), None)
        .await
        .expect("reply");

    assert_eq!(raw.status, 429);
    assert_eq!(raw.headers.retry_after.as_ref().expect("retry-after"), "60");
}

#[tokio::test]
async fn two_503s_then_a_success_take_three_attempts() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(alumio_error(503, "Service Unavailable"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(path(TASK_PATH))
        .respond_with(json(200, TASK_BODY))
        .expect(1)
        .mount(&server)
        .await;

    let raw = client_with(&server, quick_retries())
        .get_task_raw(&task_id(), None)
        .await
        .expect("reply");

    assert_eq!(raw.status, 200);
    assert_eq!(server.received_requests().await.expect("recorded").len(), 3);
}

#[tokio::test]
async fn when_attempts_run_out_the_last_reply_is_returned() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(json(502, "<html>bad gateway</html>"))
        // Three attempts for the raw call, one for the call without retries.
        .expect(4)
        .mount(&server)
        .await;
    let client = client_with(&server, quick_retries());

    let raw = client.get_task_raw(&task_id(), None).await.expect("reply");
    assert_eq!(raw.status, 502);
    assert_eq!(raw.body, "<html>bad gateway</html>".as_bytes());

    let policy = RetryPolicy::none();
    let error = client_with(&server, policy)
        .get_task(&task_id(), None)
        .await;
    let Err(error @ TransportError::Api { body: None, .. }) = error else {
        panic!("expected an api error without alumio body, got {error:?}");
    };
    assert!(error.is_retryable());
    let TransportError::Api { raw, .. } = &error else {
        unreachable!()
    };
    assert_eq!(raw.as_deref(), Some("<html>bad gateway</html>"));
}

#[tokio::test]
async fn a_long_non_alumio_error_body_is_kept_truncated() {
    let server = MockServer::start().await;
    let page = "x".repeat(10_000);
    Mock::given(path(TASK_PATH))
        .respond_with(ResponseTemplate::new(500).set_body_string(page))
        .mount(&server)
        .await;

    let error = client_with(&server, quick_retries())
        .get_task(&task_id(), None)
        .await;

    let Err(TransportError::Api { raw: Some(raw), .. }) = error else {
        panic!("expected an api error with raw text, got {error:?}");
    };
    assert_eq!(raw.len(), TransportError::RAW_TEXT_LIMIT);
}

#[tokio::test]
async fn a_hanging_server_hits_the_request_timeout() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(json(200, TASK_BODY).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let timeout = Duration::from_millis(300);
    let client = AlumioClient::builder(&format!("{}/api/v1", server.uri()), TOKEN.into())
        .request_timeout(timeout)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    let started = Instant::now();

    let error = client
        .get_task(&task_id(), None)
        .await
        .expect_err("timeout");

    assert!(matches!(error, TransportError::Timeout { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(started.elapsed() < timeout + SLACK);
    assert!(started.elapsed() >= timeout);
}

#[tokio::test]
async fn the_overall_deadline_bounds_all_attempts_together() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(json(200, TASK_BODY).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let deadline = Duration::from_millis(700);
    let policy = RetryPolicy {
        max_attempts: 10,
        overall_deadline: deadline,
        ..quick_retries()
    };
    let client = AlumioClient::builder(&format!("{}/api/v1", server.uri()), TOKEN.into())
        .request_timeout(Duration::from_millis(300))
        .retry_policy(policy)
        .build()
        .expect("client");
    let started = Instant::now();

    let error = client
        .get_task_raw(&task_id(), None)
        .await
        .expect_err("timeout");

    assert!(matches!(error, TransportError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < deadline + SLACK);
    let attempts = server.received_requests().await.expect("recorded").len();
    assert!((2..=3).contains(&attempts), "{attempts} attempts");
}

#[tokio::test]
async fn a_200_whose_body_is_not_a_task_document_is_a_decode_error() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(json(200, r#"{"object":"not a task"}"#))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path(TASK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>login</html>"))
        .mount(&server)
        .await;
    let client = client_with(&server, RetryPolicy::default());

    for _ in 0..2 {
        let error = client.get_task(&task_id(), None).await.expect_err("decode");
        assert!(matches!(error, TransportError::Decode { .. }), "{error:?}");
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("is not a task document"));
    }
    assert_eq!(server.received_requests().await.expect("recorded").len(), 2);
}

#[tokio::test]
async fn a_redirect_is_returned_not_followed() {
    let server = MockServer::start().await;
    Mock::given(path(TASK_PATH))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/elsewhere"))
        .expect(1)
        .mount(&server)
        .await;

    let raw = client_with(&server, quick_retries())
        .get_task_raw(&task_id(), None)
        .await
        .expect("reply");

    assert_eq!(raw.status, 302);
}

#[tokio::test]
async fn a_user_agent_suffix_follows_the_crate_name_and_version() {
    let server = MockServer::start().await;
    let expected = format!("alumio-transport/{} gateway/1", env!("CARGO_PKG_VERSION"));
    Mock::given(header("user-agent", expected.as_str()))
        .respond_with(json(200, TASK_BODY))
        .expect(1)
        .mount(&server)
        .await;
    let client = AlumioClient::builder(&format!("{}/api/v1/", server.uri()), TOKEN.into())
        .user_agent_suffix("gateway/1")
        .build()
        .expect("client");

    client.get_task(&task_id(), None).await.expect("task");
}

#[test]
fn a_trailing_slash_on_the_base_url_makes_no_difference() {
    let build = |base: &str| {
        AlumioClient::builder(base, TOKEN.into())
            .build()
            .expect("client")
    };
    let plain = build("https://acme.alumio.com/api/v1");
    let id = task_id();
    let expected = "https://acme.alumio.com/api/v1/tasks/t-1";
    for base in [
        "https://acme.alumio.com/api/v1/",
        "https://acme.alumio.com/api/v1//",
    ] {
        let url = build(base).task_url(&id, None).expect("url");
        assert_eq!(url.as_str(), expected);
    }
    assert_eq!(plain.task_url(&id, None).expect("url").as_str(), expected);
    assert_eq!(plain.base_url(), "https://acme.alumio.com/api/v1");
}

type Configure = fn(ClientBuilder) -> ClientBuilder;

#[test]
fn unusable_settings_are_refused_with_a_reason() {
    const BASE: &str = "https://acme.alumio.com/api/v1";
    let keep: Configure = |builder| builder;
    let cases: [(&str, &str, Configure, &str); 12] = [
        (
            "ftp://acme.alumio.com/api/v1",
            "t",
            keep,
            "scheme must be http or https",
        ),
        ("acme.alumio.com/api/v1", "t", keep, "not a valid url"),
        (
            "https://acme.alumio.com/api/v1?x=1",
            "t",
            keep,
            "must not have a query",
        ),
        (
            "https://acme.alumio.com/api/v1#top",
            "t",
            keep,
            "must not have a fragment",
        ),
        (
            "https://u:p@acme.alumio.com/api/v1",
            "t",
            keep,
            "must not contain credentials",
        ),
        (BASE, "", keep, "api token is empty"),
        (BASE, "a\nb", keep, "token is not a valid http header value"),
        (BASE, "t", |b| b.request_timeout(Duration::ZERO), "timeouts"),
        (BASE, "t", |b| b.connect_timeout(Duration::ZERO), "timeouts"),
        (BASE, "t", |b| b.max_body_bytes(0), "max body bytes"),
        (
            BASE,
            "t",
            |b| b.user_agent_suffix("a\r\nb"),
            "user agent suffix",
        ),
        (
            BASE,
            "t",
            |b| {
                b.retry_policy(RetryPolicy {
                    max_attempts: 0,
                    ..RetryPolicy::default()
                })
            },
            "at least one attempt",
        ),
    ];
    for (base, token, configure, reason) in cases {
        let error = configure(AlumioClient::builder(base, token.into()))
            .build()
            .expect_err(reason);
        assert!(
            matches!(error, TransportError::InvalidConfig { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with("invalid client configuration: "),
            "{message}"
        );
        assert!(message.contains(reason), "{message} should say {reason}");
    }
}
