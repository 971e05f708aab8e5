//! Hostile identifiers, spaces and headers: rejected with a 400 naming the parameter, or sent to
//! Alumio only as one encoded path segment, and never carrying the consumer's credentials.

use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{UPSTREAM_TOKEN, spawn_app, task_bytes};

async fn rejected_parameter(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "400");
    body["violations"][0]["propertyPath"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn bad_identifiers_and_spaces_get_400_before_reaching_alumio() {
    let app = spawn_app().await;
    let long = "x".repeat(10 * 1024);
    let cases = [
        ("a%0Ab", None, "identifier"),
        ("a%00b", None, "identifier"),
        ("%FF%FE", None, "identifier"),
        (long.as_str(), None, "identifier"),
        ("t-1", Some("space=Acme"), "space"),
        ("t-1", Some("space=acme/../other"), "space"),
        ("t-1", Some("space=acme%2Fother"), "space"),
        ("t-1", Some("space="), "space"),
        ("t-1", Some("space=a&space=b"), "space"),
        ("t-1", Some(&format!("space={long}")), "space"),
    ];
    for (identifier, query, parameter) in cases {
        let response = app.get_task(identifier, query).await;
        assert_eq!(
            rejected_parameter(response).await,
            parameter,
            "{identifier:.20} {query:?}"
        );
    }
    assert_eq!(app.upstream_requests().await, 0);
}

#[tokio::test]
async fn strange_but_valid_identifiers_reach_alumio_as_one_encoded_segment() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(task_bytes("x", "new"), "application/json"),
        )
        .mount(&app.alumio)
        .await;

    let cases = [
        ("..%2F..%2Fadmin", "/api/v1/tasks/..%2F..%2Fadmin"),
        ("a..b", "/api/v1/tasks/a..b"),
        ("a%2Fb", "/api/v1/tasks/a%2Fb"),
        ("a%3Fx%3D1", "/api/v1/tasks/a%3Fx%3D1"),
        ("a%23frag", "/api/v1/tasks/a%23frag"),
        ("%C3%BCn%C3%AF", "/api/v1/tasks/%C3%BCn%C3%AF"),
    ];
    for (sent, _) in cases {
        assert_eq!(
            app.get_task(sent, Some("space=acme")).await.status(),
            200,
            "{sent}"
        );
    }
    let received = app.alumio.received_requests().await.unwrap();
    let paths: Vec<&str> = received.iter().map(|r| r.url.path()).collect();
    let expected: Vec<&str> = cases.iter().map(|(_, path)| *path).collect();
    assert_eq!(paths, expected);
    assert!(received.iter().all(|r| r.url.query() == Some("space=acme")));
}

#[tokio::test]
async fn only_identifier_and_space_reach_alumio() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(task_bytes("t-1", "new"), "application/json"),
        )
        .mount(&app.alumio)
        .await;

    let response = app
        .client
        .get(app.url("/api/v1/tasks/t-1?space=acme&debug=1&token=abc"))
        .header("authorization", "Bearer consumer-key-123")
        .header("cookie", "session=consumer-cookie")
        .header("x-forwarded-for", "10.9.8.7")
        .header("x-forwarded-host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .values()
            .all(|v| !v.to_str().unwrap_or("").contains(UPSTREAM_TOKEN))
    );

    let received = app.alumio.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.url.query(), Some("space=acme"));
    assert_eq!(
        request.headers["authorization"],
        format!("Bearer {UPSTREAM_TOKEN}").as_str()
    );
    for header in ["cookie", "x-forwarded-for", "x-forwarded-host"] {
        assert!(
            !request.headers.contains_key(header),
            "{header} was forwarded"
        );
    }
}

#[tokio::test]
async fn unknown_paths_get_404_and_other_methods_405_in_alumios_error_shape() {
    let app = spawn_app().await;

    let missing = app
        .client
        .get(app.url("/api/v2/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["status"], "404");

    let nested = app
        .client
        .get(app.url("/api/v1/tasks/a/b"))
        .send()
        .await
        .unwrap();
    assert_eq!(nested.status(), 404);

    let post = app
        .client
        .post(app.url("/api/v1/tasks/t-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["status"], "405");
    assert_eq!(app.upstream_requests().await, 0);
}

/// Sends a request line exactly as written, since HTTP clients normalise dot segments away.
async fn raw_get(address: std::net::SocketAddr, target: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nhost: gateway\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn dot_segment_identifiers_get_400_since_no_url_can_carry_them() {
    let app = spawn_app().await;

    for target in [
        "/api/v1/tasks/%2E%2E?space=acme",
        "/api/v1/tasks/%2e",
        "/api/v1/tasks/.%2E",
    ] {
        let response = raw_get(app.address, target).await;
        assert!(
            response.starts_with("HTTP/1.1 400"),
            "{target}: {response:.80}"
        );
        assert!(
            response.contains(r#""propertyPath":"identifier""#),
            "{target}: {response}"
        );
    }
    assert_eq!(app.upstream_requests().await, 0);
}
