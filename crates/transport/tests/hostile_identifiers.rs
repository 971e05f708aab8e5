//! No task identifier can make a request leave `{base}/tasks/<one segment>`: each arrives as the
//! exact percent-encoded segment expected, and `.`/`..` are refused before anything is sent.

use alumio_models::{SpaceIdentifier, TaskIdentifier};
use alumio_transport::{AlumioClient, RetryPolicy, TransportError};
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn id(text: &str) -> TaskIdentifier {
    text.parse().expect("valid identifier")
}

/// Identifiers and the one path segment each must become.
fn hostile_cases() -> Vec<(String, String)> {
    let pairs: &[(&str, &str)] = &[
        ("a/b", "a%2Fb"),
        ("%2F", "%252F"),
        ("%2E%2E", "%252E%252E"),
        ("..%2F", "..%252F"),
        ("../admin", "..%2Fadmin"),
        ("...", "..."),
        (".hidden", ".hidden"),
        ("?x=", "%3Fx%3D"),
        ("#frag", "%23frag"),
        ("ünï", "%C3%BCn%C3%AF"),
        ("a b+c", "a%20b%2Bc"),
        ("-._~", "-._~"),
        ("a;b,c&d=e", "a%3Bb%2Cc%26d%3De"),
        ("\\..\\", "%5C..%5C"),
        ("@host:80", "%40host%3A80"),
        ("😀", "%F0%9F%98%80"),
    ];
    let mut cases: Vec<(String, String)> = pairs
        .iter()
        .map(|(identifier, segment)| ((*identifier).to_owned(), (*segment).to_owned()))
        .collect();
    cases.push(("/".repeat(255), "%2F".repeat(255)));
    cases.push((".".repeat(255), ".".repeat(255)));
    cases.push(("../".repeat(85), "..%2F".repeat(85)));
    cases.push(("é".repeat(127), "%C3%A9".repeat(127)));
    cases.push(("?#%".repeat(85), "%3F%23%25".repeat(85)));
    cases
}

#[tokio::test]
async fn hostile_identifiers_arrive_as_exactly_one_encoded_segment() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let client = AlumioClient::builder(&format!("{}/api/v1/", server.uri()), "token".into())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    let cases = hostile_cases();

    for (identifier, _) in &cases {
        let raw = client
            .get_task_raw(&id(identifier), None)
            .await
            .expect("reply");
        assert_eq!(raw.status, 404);
    }

    let received = server.received_requests().await.expect("recorded");
    assert_eq!(received.len(), cases.len());
    for (request, (identifier, segment)) in received.iter().zip(&cases) {
        let expected = format!("/api/v1/tasks/{segment}");
        assert_eq!(request.url.path(), expected, "for {identifier:?}");
        assert_eq!(request.url.query(), None, "for {identifier:?}");
        let url = client.task_url(&id(identifier), None).expect("url");
        assert_eq!(url.path(), expected, "for {identifier:?}");
    }
}

#[tokio::test]
async fn the_space_is_sent_as_one_query_value() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let client = AlumioClient::builder(&format!("{}/api/v1", server.uri()), "token".into())
        .build()
        .expect("client");
    let space: SpaceIdentifier = "acme-prod-2".parse().expect("space");

    client
        .get_task_raw(&id("a?space=other#x"), Some(&space))
        .await
        .expect("reply");

    let received = server.received_requests().await.expect("recorded");
    let url = &received[0].url;
    assert_eq!(url.path(), "/api/v1/tasks/a%3Fspace%3Dother%23x");
    assert_eq!(url.query(), Some("space=acme-prod-2"));
    let pairs: Vec<_> = url.query_pairs().collect();
    assert_eq!(pairs.len(), 1);
}

#[tokio::test]
async fn dot_segments_are_refused_without_sending_anything() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let client = AlumioClient::builder(&format!("{}/api/v1", server.uri()), "token".into())
        .build()
        .expect("client");

    for identifier in [".", ".."] {
        let error = client
            .get_task(&id(identifier), None)
            .await
            .expect_err("refused");
        assert!(
            matches!(error, TransportError::UnsendableIdentifier),
            "{error:?}"
        );
        assert!(!error.is_retryable());
        let error = client
            .get_task_raw(&id(identifier), None)
            .await
            .expect_err("refused");
        assert!(
            matches!(error, TransportError::UnsendableIdentifier),
            "{error:?}"
        );
        assert!(client.task_url(&id(identifier), None).is_err());
    }
    assert!(
        server
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

#[test]
fn the_url_parser_would_remove_encoded_dot_segments_which_is_why_they_are_refused() {
    // The reason for the refusal above: WHATWG URL parsing treats `%2E%2E` as `..`.
    let url = url::Url::parse("https://acme.alumio.com/api/v1/tasks/%2E%2E").expect("url");
    assert_eq!(url.path(), "/api/v1/");
}

fn identifiers() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^\\p{Cc}]{1,120}",
        "[./%?#;=&+ \\\\aZ0~\u{e9}\u{1F600}-]{1,255}",
        Just(".".to_owned()),
        Just("..".to_owned()),
    ]
    .prop_filter("at most 255 bytes", |text| text.len() <= 255)
}

proptest! {
    #[test]
    fn any_identifier_stays_one_segment_under_tasks(
        text in identifiers(),
        space in proptest::option::of("[a-z0-9-]{1,20}"),
    ) {
        let client = AlumioClient::builder("https://acme.alumio.com/api/v1", "token".into())
            .build()
            .expect("client");
        let identifier = id(&text);
        let space = space.map(|space| space.parse::<SpaceIdentifier>().expect("space"));

        let url = client.task_url(&identifier, space.as_ref());

        if text == "." || text == ".." {
            prop_assert!(matches!(url, Err(TransportError::UnsendableIdentifier)));
            return Ok(());
        }
        let url = url.expect("url");
        prop_assert_eq!(url.host_str(), Some("acme.alumio.com"));
        let segment = url.path().strip_prefix("/api/v1/tasks/").expect("under /tasks/");
        prop_assert!(!segment.contains('/'));
        prop_assert_eq!(percent_decode_str(segment).decode_utf8().expect("utf-8"), text.as_str());
        let expected_query = space.map(|space| format!("space={space}"));
        prop_assert_eq!(url.query(), expected_query.as_deref());
        prop_assert_eq!(url.fragment(), None);
        prop_assert_eq!(url::Url::parse(url.as_str()).expect("reparses"), url);
    }
}
