//! `spawn_app()`: a real gateway on a loopback port in front of a wiremock Alumio, started from
//! `Settings` through `Application::build` exactly as `main` starts it, plus the small builders
//! the tests share. Logs stay silent unless `TEST_LOG` is set.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use alumio_gateway::{AppState, Application, Settings, StartupError};
use alumio_sim::{SimConfig, Simulator};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing_subscriber::Layer;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The token the gateway uses towards Alumio; tests assert it never leaks.
pub(crate) const UPSTREAM_TOKEN: &str = "upstream-secret-token-5f1d";

/// Every log line the gateway writes during the test run, at debug level and above, so tests
/// can check what reaches the logs. With `TEST_LOG` set the lines are also printed.
pub(crate) static CAPTURED_LOGS: LazyLock<CapturedLogs> = LazyLock::new(|| {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let logs = CapturedLogs::default();
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("debug"))
    };
    // The mock Alumio (wiremock) logs the requests it receives, token included, as a real
    // Alumio's access log might; only the gateway's side is under test.
    let capture = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(logs.clone())
        .with_filter(tracing_subscriber::EnvFilter::new("debug,wiremock=off"));
    let print = std::env::var_os("TEST_LOG").is_some().then(|| {
        tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(filter())
    });
    tracing_subscriber::registry()
        .with(capture)
        .with(print)
        .init();
    logs
});

/// A shared, growing log buffer.
#[derive(Clone, Default)]
pub(crate) struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A gateway serving on a loopback port, and the mock Alumio behind it.
pub(crate) struct TestApp {
    /// Where the gateway listens.
    pub(crate) address: SocketAddr,
    /// Where its admin API listens, when the test turned it on.
    pub(crate) admin_address: Option<SocketAddr>,
    /// The mock Alumio.
    pub(crate) alumio: MockServer,
    /// A client for talking to the gateway.
    pub(crate) client: reqwest::Client,
    /// The gateway's state, for looking inside.
    pub(crate) state: AppState,
    /// The simulated Alumio, when the gateway is in front of it instead of the mock.
    pub(crate) simulator: Option<Simulator>,
    simulator_stop: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// A gateway with default settings but short timeouts.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A gateway whose settings `configure` may change first.
pub(crate) async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn(configure, None).await
}

/// A gateway in front of the Alumio at `upstream_base` (another app's mock, say), so several
/// replicas can share one upstream.
pub(crate) async fn spawn_app_against(
    upstream_base: &str,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn(configure, Some(upstream_base.to_owned())).await
}

/// A gateway in front of the simulated Alumio (no token check) instead of the mock, for fault
/// injection; the simulator is in `TestApp::simulator`.
pub(crate) async fn spawn_app_with_simulator(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let simulator = Simulator::new(SimConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("a bound address");
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(simulator.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    let mut app = spawn(configure, Some(format!("http://{address}/api/v1"))).await;
    app.simulator = Some(simulator);
    app.simulator_stop = Some((stop, serving));
    app
}

/// A file holding `secret` on its first line, for the settings that name token files.
pub(crate) fn secret_file(secret: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    writeln!(file, "{secret}").expect("the secret is written");
    file
}

/// The settings every test starts from, as `main` reads them from a command line: a loopback
/// port of the system's choosing, anonymous access, short timeouts, one attempt per fetch.
/// Variables such as `GATEWAY_CONSUMERS` in the test's environment are read too, as by `main`.
fn test_settings(upstream_base: &str, token_file: &Path) -> Settings {
    let token_file = token_file.to_str().expect("a UTF-8 temporary path");
    Settings::load([
        "alumio-gateway",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        upstream_base,
        "--token-file",
        token_file,
        "--allow-anonymous",
        "--request-timeout",
        "5s",
        "--upstream-timeout",
        "2s",
        "--upstream-attempts",
        "1",
        "--shutdown-timeout",
        "5s",
        // Most tests look at one fetch at a time, so a failed key may be asked again at once
        // (a zero backoff is off); the resilience tests set the backoff they examine.
        "--upstream-failure-backoff",
        "0s",
        "--upstream-failure-backoff-max",
        "0s",
    ])
    .expect("the test settings are valid")
}

/// A gateway in front of `upstream_base`, built from the test settings as `configure` changes
/// them, but not yet serving.
pub(crate) async fn build_app(
    upstream_base: &str,
    configure: impl FnOnce(&mut Settings),
) -> Result<Application, StartupError> {
    LazyLock::force(&CAPTURED_LOGS);
    // Read while the gateway is built, as every token file is; it may go afterwards.
    let token_file = secret_file(UPSTREAM_TOKEN);
    let mut settings = test_settings(upstream_base, token_file.path());
    configure(&mut settings);
    Application::build(settings).await
}

async fn spawn(configure: impl FnOnce(&mut Settings), upstream_base: Option<String>) -> TestApp {
    let alumio = MockServer::start().await;
    let upstream_base = upstream_base.unwrap_or_else(|| format!("{}/api/v1", alumio.uri()));
    let application = build_app(&upstream_base, configure)
        .await
        .expect("the gateway starts");
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let address = application.address();
    let admin_address = application.admin_address();
    let state = application.state().clone();
    let server = tokio::spawn(application.run_until_stopped(async move {
        let _ = shutdown_rx.await;
    }));
    TestApp {
        address,
        admin_address,
        alumio,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
        state,
        simulator: None,
        simulator_stop: None,
        shutdown: Some(shutdown_tx),
        server: Some(server),
    }
}

impl TestApp {
    /// The gateway URL for `path_and_query`.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.address)
    }

    /// `GET` the task endpoint for `identifier` (already encoded) with an optional raw query.
    pub(crate) async fn get_task(
        &self,
        identifier: &str,
        query: Option<&str>,
    ) -> reqwest::Response {
        let url = match query {
            Some(query) => self.url(&format!("/api/v1/tasks/{identifier}?{query}")),
            None => self.url(&format!("/api/v1/tasks/{identifier}")),
        };
        self.client
            .get(url)
            .send()
            .await
            .expect("the gateway answers")
    }

    /// Asks the server to stop and waits for it to finish draining.
    pub(crate) async fn shut_down(mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server.await.expect("the server task does not panic"),
            None => Ok(()),
        }
    }

    /// Stops the simulated Alumio for good: its listener closes, so connections are refused.
    pub(crate) async fn stop_simulator(&mut self) {
        let (stop, serving) = self
            .simulator_stop
            .take()
            .expect("a gateway in front of the simulator");
        let _ = stop.send(());
        serving
            .await
            .expect("the simulator task does not panic")
            .expect("the simulator stops cleanly");
    }

    /// How many requests the mock Alumio has received.
    pub(crate) async fn upstream_requests(&self) -> usize {
        self.alumio
            .received_requests()
            .await
            .map_or(0, |requests| requests.len())
    }

    /// The Prometheus text from `/metrics`.
    pub(crate) async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The value of metric line `name` (with labels, exactly as rendered), or 0 when absent.
pub(crate) fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

/// A task document as Alumio sends it.
pub(crate) fn task_document(identifier: &str, status: &str) -> Value {
    json!({
        "object": {
            "identifier": identifier,
            "entityType": "magento2-order",
            "entityIdentifier": "100023871",
            "entityData": {"increment_id": "100023871", "grand_total": 149.95, "items": [{"sku": "TSHIRT-RED-M", "qty": 2}]},
            "context": {"source": "webhook"},
            "status": status,
            "route": "magento-to-exact",
            "createdAt": "2024-05-01T10:00:00+00:00",
            "updatedAt": "2024-05-01T10:00:03.250Z",
            "meta": {"incoming": {"identifier": "magento-orders", "name": "Magento orders"}}
        }
    })
}

/// The exact bytes a mock Alumio sends for a task, with deliberate odd spacing so that any
/// re-serialization would show.
pub(crate) fn task_bytes(identifier: &str, status: &str) -> Vec<u8> {
    let pretty = serde_json::to_string_pretty(&task_document(identifier, status)).unwrap();
    format!("{pretty}\n  ").into_bytes()
}

/// A 200 reply carrying a task.
pub(crate) fn task_reply(identifier: &str, status: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(task_bytes(identifier, status), "application/json")
}

/// An Alumio error reply.
pub(crate) fn error_reply(status: u16, title: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "status": status.to_string(),
        "title": title,
        "detail": format!("{title} (from alumio)"),
        "type": "https://tools.ietf.org/html/rfc2616#section-10"
    }))
}

/// Mounts a mock answering `GET /api/v1/tasks/{identifier}` with `reply`.
pub(crate) async fn alumio_serves(app: &TestApp, identifier: &str, reply: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/tasks/{identifier}")))
        .respond_with(reply)
        .mount(&app.alumio)
        .await;
}

/// Sends `count` concurrent `GET`s for `path_and_query` and returns (status, body) of each.
pub(crate) async fn concurrent_gets(
    app: &TestApp,
    path_and_query: &str,
    count: usize,
) -> Vec<(u16, bytes::Bytes)> {
    let url = Arc::new(app.url(path_and_query));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let client = app.client.clone();
        let url = Arc::clone(&url);
        tasks.spawn(async move {
            let response = client
                .get(url.as_str())
                .send()
                .await
                .expect("the gateway answers");
            (
                response.status().as_u16(),
                response.bytes().await.expect("a body"),
            )
        });
    }
    let mut results = Vec::with_capacity(count);
    while let Some(result) = tasks.join_next().await {
        results.push(result.expect("the request task does not panic"));
    }
    results
}

/// `count` real task identifiers of the simulator's first space, as `(path_and_query, ...)`.
pub(crate) fn simulated_task_paths(app: &TestApp, count: usize) -> Vec<String> {
    let simulator = app
        .simulator
        .as_ref()
        .expect("a gateway in front of the simulator");
    let space = &simulator.spaces()[0];
    simulator
        .task_identifiers(space)
        .take(count)
        .map(|task| format!("/api/v1/tasks/{task}?space={space}"))
        .collect()
}

/// `GET`s `path_and_query` and returns (status, `X-Cache`, body).
pub(crate) async fn get(app: &TestApp, path_and_query: &str) -> (u16, String, bytes::Bytes) {
    let response = app
        .client
        .get(app.url(path_and_query))
        .send()
        .await
        .expect("the gateway answers");
    let x_cache = response
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    (
        response.status().as_u16(),
        x_cache,
        response.bytes().await.expect("a body"),
    )
}
