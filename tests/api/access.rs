//! Consumer keys, spaces and rates: every refusal comes before the cache and Alumio, allowed
//! consumers share one cached entry, and the consumers file can change under a running gateway.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alumio_gateway::Settings;
use alumio_gateway::access::{AccessPolicy, ConsumerRegistry, SecretDigest, watch_consumers};
use serde_json::Value;

use crate::helpers::{
    CAPTURED_LOGS, TestApp, alumio_serves, metric, spawn_app_with, task_bytes, task_reply,
};

pub(crate) const ERP_KEY: &str = "erp-key-5c1e9a7d3b20f486aa01";
pub(crate) const CRM_KEY: &str = "crm-key-0b7d4e2f9a6c1358bb02";
const NEW_ERP_KEY: &str = "erp-key-rotated-91d3c5e7f0a2cc03";

/// One `[[consumer]]` table; `fields` are added as they are.
pub(crate) fn consumer(name: &str, key: &str, fields: &str) -> String {
    let hash = SecretDigest::of(key.as_bytes()).to_hex();
    format!("[[consumer]]\nname = \"{name}\"\nkey-sha256 = \"{hash}\"\n{fields}\n\n")
}

/// A consumers file in a directory of its own, replaced atomically as an operator should.
pub(crate) struct ConsumersFile {
    _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
}

impl ConsumersFile {
    pub(crate) fn new(text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consumers.toml");
        std::fs::write(&path, text).unwrap();
        Self { _dir: dir, path }
    }

    /// Writes a new version beside the file and renames it over the old one.
    pub(crate) fn replace(&self, text: &str) {
        let next = self.path.with_extension("toml.next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(&next, &self.path).unwrap();
    }
}

/// Serves only the consumers of `file`, as `--consumers` does.
pub(crate) fn use_consumers(settings: &mut Settings, file: &ConsumersFile) {
    settings.consumers = Some(file.path.clone());
    settings.allow_anonymous = false;
}

/// The registry the gateway loaded from its consumers file.
pub(crate) fn registry_of(app: &TestApp) -> Arc<ConsumerRegistry> {
    match app.state.access() {
        AccessPolicy::Consumers(registry) => Arc::clone(registry),
        AccessPolicy::Anonymous => panic!("the gateway serves anonymously"),
    }
}

/// A gateway whose consumers are those of `text`.
pub(crate) async fn spawn_with_consumers(
    text: &str,
) -> (TestApp, ConsumersFile, Arc<ConsumerRegistry>) {
    let file = ConsumersFile::new(text);
    let app = spawn_app_with(|settings| use_consumers(settings, &file)).await;
    let registry = registry_of(&app);
    (app, file, registry)
}

/// `GET`s `path_and_query` with `key` as the bearer, if any.
pub(crate) async fn get_as(
    app: &TestApp,
    key: Option<&str>,
    path_and_query: &str,
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path_and_query));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

/// The response's body, checked to be Alumio's `Error` shape with `status`.
async fn error_body(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.to_string());
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

fn two_consumers() -> String {
    format!(
        "{}{}",
        consumer("erp", ERP_KEY, "spaces = [\"acme-prod\"]"),
        consumer("crm", CRM_KEY, "spaces = [\"acme-prod\", \"acme-test\"]")
    )
}

#[tokio::test]
async fn a_request_without_a_key_gets_401_and_alumio_is_not_asked() {
    let (app, _file, _) = spawn_with_consumers(&two_consumers()).await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    let response = get_as(&app, None, "/api/v1/tasks/t-1?space=acme-prod").await;
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"alumio-gateway\""
    );
    error_body(response, 401).await;

    let basic = app
        .client
        .get(app.url("/api/v1/tasks/t-1?space=acme-prod"))
        .basic_auth("erp", Some(ERP_KEY))
        .send()
        .await
        .unwrap();
    error_body(basic, 401).await;

    assert_eq!(app.upstream_requests().await, 0);
    assert_eq!(app.state.cache().usage().entries, 0);
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "alumio_gateway_denied_requests_total{reason=\"missing-key\"}"
        ),
        2.0
    );
}

#[tokio::test]
async fn an_unknown_key_gets_401_in_alumios_error_shape() {
    let (app, _file, _) = spawn_with_consumers(&two_consumers()).await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    let response = get_as(
        &app,
        Some("not-a-key-of-anyone-0000"),
        "/api/v1/tasks/t-1?space=acme-prod",
    )
    .await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("invalid_token"),
        "{challenge}"
    );
    let body = error_body(response, 401).await;
    assert_eq!(
        body["type"],
        "https://tools.ietf.org/html/rfc2616#section-10"
    );

    // Even a request that is wrong in every other way is refused for its key first.
    let bad_input = get_as(
        &app,
        Some("not-a-key-of-anyone-0000"),
        "/api/v1/tasks/t-1?space=Nope",
    )
    .await;
    error_body(bad_input, 401).await;

    assert_eq!(app.upstream_requests().await, 0);
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "alumio_gateway_denied_requests_total{reason=\"unknown-key\"}"
        ),
        2.0
    );
}

#[tokio::test]
async fn a_key_cannot_read_or_warm_another_spaces_entry() {
    let (app, _file, _) = spawn_with_consumers(&two_consumers()).await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    // erp may read acme-prod only: acme-test is refused before the cache and Alumio.
    let refused = get_as(&app, Some(ERP_KEY), "/api/v1/tasks/t-1?space=acme-test").await;
    let body = error_body(refused, 403).await;
    assert_eq!(body["violations"][0]["propertyPath"], "space");
    assert_eq!(app.upstream_requests().await, 0);
    assert_eq!(app.state.cache().usage().entries, 0, "nothing was warmed");

    // crm, allowed there, finds a cold entry: erp's attempt left nothing behind.
    let allowed = get_as(&app, Some(CRM_KEY), "/api/v1/tasks/t-1?space=acme-test").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["x-cache"], "MISS");
    assert_eq!(app.upstream_requests().await, 1);

    // Now that acme-test is cached, erp still cannot read it.
    let still_refused = get_as(&app, Some(ERP_KEY), "/api/v1/tasks/t-1?space=acme-test").await;
    assert!(still_refused.headers().get("x-cache").is_none());
    let body = error_body(still_refused, 403).await;
    assert!(
        !body.to_string().contains("magento"),
        "no task data in a refusal: {body}"
    );

    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "alumio_gateway_denied_requests_total{reason=\"space\"}"
        ),
        2.0
    );
}

#[tokio::test]
async fn a_space_restricted_key_cannot_read_without_a_space() {
    let text = format!(
        "{}{}",
        consumer("erp", ERP_KEY, "spaces = [\"acme-prod\"]"),
        consumer("ops", CRM_KEY, "spaces = \"*\"")
    );
    let (app, _file, _) = spawn_with_consumers(&text).await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    let refused = get_as(&app, Some(ERP_KEY), "/api/v1/tasks/t-1").await;
    let body = error_body(refused, 403).await;
    assert!(
        body["detail"].as_str().unwrap().contains("without a space"),
        "{body}"
    );
    assert_eq!(app.upstream_requests().await, 0);

    // A consumer with every space may, by default, read without one.
    let allowed = get_as(&app, Some(CRM_KEY), "/api/v1/tasks/t-1").await;
    assert_eq!(allowed.status(), 200);
    let anywhere = get_as(&app, Some(CRM_KEY), "/api/v1/tasks/t-1?space=globex").await;
    assert_eq!(anywhere.status(), 200);
}

#[tokio::test]
async fn two_consumers_share_one_cached_entry_and_one_upstream_request() {
    let (app, _file, _) = spawn_with_consumers(&two_consumers()).await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;

    let first = get_as(&app, Some(ERP_KEY), "/api/v1/tasks/t-1?space=acme-prod").await;
    assert_eq!(first.headers()["x-cache"], "MISS");
    let second = get_as(&app, Some(CRM_KEY), "/api/v1/tasks/t-1?space=acme-prod").await;
    assert_eq!(second.headers()["x-cache"], "HIT");
    assert_eq!(second.bytes().await.unwrap(), task_bytes("t-1", "finished"));

    assert_eq!(app.upstream_requests().await, 1);
    assert_eq!(app.state.cache().usage().entries, 1);
    let sent = &app.alumio.received_requests().await.unwrap()[0];
    let authorization = sent.headers.get("authorization").unwrap().to_str().unwrap();
    assert!(
        !authorization.contains(ERP_KEY),
        "the consumer's key never reaches Alumio"
    );
}

#[tokio::test]
async fn health_and_readiness_stay_open_without_a_key() {
    let (app, _file, _) = spawn_with_consumers(&two_consumers()).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = get_as(&app, None, path).await;
        assert_eq!(response.status(), 200, "{path}");
    }
}

/// A second watcher of the gateway's consumers file that looks every 25 ms rather than the
/// gateway's 2 s, so the test need not wait. Reads of one registry take turns and a version is
/// applied once, so each change is still counted once, by whichever watcher sees it first.
fn watch_quickly(app: &TestApp, registry: Arc<ConsumerRegistry>) -> tokio::task::JoinHandle<()> {
    watch_consumers(
        registry,
        app.state.metrics().access.clone(),
        Duration::from_millis(25),
    )
}

/// Waits until `done` holds, for at most ten seconds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_rotated_key_takes_effect_when_the_file_changes() {
    let (app, file, registry) = spawn_with_consumers(&two_consumers()).await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;
    let watcher = watch_quickly(&app, registry);
    let path = "/api/v1/tasks/t-1?space=acme-prod";
    assert_eq!(get_as(&app, Some(ERP_KEY), path).await.status(), 200);

    let rotated = format!(
        "{}{}",
        consumer("erp", NEW_ERP_KEY, "spaces = [\"acme-prod\"]"),
        consumer("crm", CRM_KEY, "spaces = [\"acme-prod\", \"acme-test\"]")
    );
    file.replace(&rotated);

    eventually("the new key is accepted", async || {
        get_as(&app, Some(NEW_ERP_KEY), path).await.status() == 200
    })
    .await;
    assert_eq!(get_as(&app, Some(ERP_KEY), path).await.status(), 401);
    assert_eq!(get_as(&app, Some(CRM_KEY), path).await.status(), 200);
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "alumio_gateway_consumer_reloads_total{result=\"ok\"}"
        ),
        1.0
    );
    watcher.abort();
}

#[tokio::test]
async fn a_broken_reload_keeps_the_previous_keys_and_says_why() {
    let (app, file, registry) = spawn_with_consumers(&two_consumers()).await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;
    let watcher = watch_quickly(&app, Arc::clone(&registry));

    // The classic mistake: the key itself instead of its hash.
    file.replace(&format!(
        "[[consumer]]\nname = \"erp\"\nkey = \"{NEW_ERP_KEY}\"\nspaces = [\"acme-prod\"]\n"
    ));
    eventually("the failed reload is counted", async || {
        metric(
            &app.metrics().await,
            "alumio_gateway_consumer_reloads_total{result=\"failed\"}",
        ) == 1.0
    })
    .await;

    let path = "/api/v1/tasks/t-1?space=acme-prod";
    assert_eq!(get_as(&app, Some(ERP_KEY), path).await.status(), 200);
    assert_eq!(get_as(&app, Some(NEW_ERP_KEY), path).await.status(), 401);
    assert_eq!(registry.current().len(), 2);

    let logs = CAPTURED_LOGS.text();
    let file_name = file.path.display().to_string();
    let line = logs
        .lines()
        .find(|line| line.contains("not reloaded") && line.contains(&file_name))
        .expect("the failed reload is logged");
    assert!(line.contains("unknown field 'key'"), "{line}");
    assert!(!logs.contains(NEW_ERP_KEY), "the pasted key was logged");

    // Fixing the file brings the new version in.
    file.replace(&consumer("erp", NEW_ERP_KEY, "spaces = [\"acme-prod\"]"));
    eventually("the fixed file is applied", async || {
        get_as(&app, Some(NEW_ERP_KEY), path).await.status() == 200
    })
    .await;
    watcher.abort();
}

#[tokio::test]
async fn a_consumer_over_its_rate_gets_429_while_another_is_unaffected() {
    let text = format!(
        "{}{}",
        // One request per ten seconds after a burst of two: the third is surely refused.
        consumer(
            "noisy",
            ERP_KEY,
            "spaces = [\"acme-prod\"]\nrate-per-second = 0.1\nburst = 2"
        ),
        consumer("quiet", CRM_KEY, "spaces = [\"acme-prod\"]")
    );
    let (app, _file, _) = spawn_with_consumers(&text).await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;
    let path = "/api/v1/tasks/t-1?space=acme-prod";

    assert_eq!(get_as(&app, Some(ERP_KEY), path).await.status(), 200);
    assert_eq!(get_as(&app, Some(ERP_KEY), path).await.status(), 200);
    let limited = get_as(&app, Some(ERP_KEY), path).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    error_body(limited, 429).await;

    for _ in 0..5 {
        assert_eq!(get_as(&app, Some(CRM_KEY), path).await.status(), 200);
    }
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "alumio_gateway_denied_requests_total{reason=\"rate-limited\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn the_audit_line_names_the_consumer_space_cache_and_status_but_never_the_key() {
    let (app, _file, _) = spawn_with_consumers(&two_consumers()).await;
    alumio_serves(&app, "audited-task", task_reply("audited-task", "finished")).await;

    get_as(
        &app,
        Some(ERP_KEY),
        "/api/v1/tasks/audited-task?space=acme-prod",
    )
    .await;
    get_as(
        &app,
        Some(ERP_KEY),
        "/api/v1/tasks/audited-task?space=acme-test",
    )
    .await;

    let logs = CAPTURED_LOGS.text();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("alumio_gateway::audit") && l.contains("/api/v1/tasks/audited-task"))
        .collect();
    let served = lines
        .iter()
        .find(|l| l.contains("status=200"))
        .expect("the served request is logged");
    for field in ["consumer=\"erp\"", "space=\"acme-prod\"", "cache=\"MISS\""] {
        assert!(served.contains(field), "{field} missing: {served}");
    }
    let denied = lines
        .iter()
        .find(|l| l.contains("status=403"))
        .expect("the refused request is logged");
    for field in [
        "consumer=\"erp\"",
        "space=\"acme-test\"",
        "denied=\"space\"",
        " INFO ",
    ] {
        assert!(denied.contains(field), "{field} missing: {denied}");
    }
    assert!(!logs.contains(ERP_KEY) && !logs.contains(CRM_KEY));
}
