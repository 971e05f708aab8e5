//! A fleet inside one test process: gateway replicas, each built from a command line through
//! `Application::build` exactly as `main` builds it, sharing one Redis (a server or a
//! 3-master cluster) in front of one Alumio. The tests speak only the fleet's contract: flags,
//! headers, `/readyz`, metrics and the admin API.

mod faults;
mod sharing;
mod trust;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alumio_gateway::{Application, Settings};
use alumio_sim::{SimConfig, Simulator};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::helpers::{CAPTURED_LOGS, UPSTREAM_TOKEN, metric, secret_file};
use crate::support::redis::{RedisCluster, RedisServer, Reply};

/// The admin token of every replica.
pub(crate) const ADMIN_TOKEN: &str = "fleet-admin-token-3c9e71b0a4d2";
/// The fleet's default key prefix, under which the tests look for what it stores.
pub(crate) const KEY_PREFIX: &str = "alumio-gateway:v1:";
/// The default `--redis-command-timeout`, which the fault tests hold the fleet to.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_millis(50);
/// Flags for the tests that are about sharing, not about slow Redis. A debug build on a
/// loaded 2-core machine can take longer than the 50 ms default for one command, and a lookup
/// that times out rightly falls back to a local fetch, which these tests would see as a failure
/// to share. The fault tests keep the default.
pub(crate) const PATIENT_REDIS: [&str; 2] = ["--redis-command-timeout", "1s"];
/// How long a replica may take to connect to Redis and sync with the fleet's purges.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// Runs each named scenario, an `async fn(SharedRedis)`, against one Redis server and
/// against a 3-master Redis Cluster, as tests named after the scenario in modules
/// `one_redis` and `redis_cluster`.
macro_rules! against_one_redis_and_a_cluster {
    ($($scenario:ident),* $(,)?) => {
        mod one_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::fleet::SharedRedis::server().await).await;
                }
            )*
        }
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario($crate::fleet::SharedRedis::cluster().await).await;
                }
            )*
        }
    };
}
pub(crate) use against_one_redis_and_a_cluster;

/// The Redis a fleet shares.
pub(crate) enum SharedRedis {
    /// One `redis-server`.
    Server(RedisServer),
    /// Three masters, given to the gateway as seeds with `--redis-cluster`.
    Cluster(RedisCluster),
}

impl SharedRedis {
    /// One fresh server.
    pub(crate) async fn server() -> Self {
        Self::Server(RedisServer::start().await)
    }

    /// A fresh 3-master cluster.
    pub(crate) async fn cluster() -> Self {
        Self::Cluster(RedisCluster::start(3).await)
    }

    /// The flags that point a replica at this Redis.
    pub(crate) fn flags(&self) -> Vec<String> {
        match self {
            Self::Server(server) => vec!["--redis-url".into(), server.url()],
            Self::Cluster(cluster) => vec![
                "--redis-url".into(),
                cluster.seed_urls(),
                "--redis-cluster".into(),
            ],
        }
    }

    /// SIGKILLs the server, or every node.
    pub(crate) fn kill(&mut self) {
        match self {
            Self::Server(server) => server.kill(),
            Self::Cluster(cluster) => cluster.kill(),
        }
    }

    /// Starts it again, empty, on the same ports.
    pub(crate) async fn restart(&mut self) {
        match self {
            Self::Server(server) => server.restart().await,
            Self::Cluster(cluster) => cluster.restart().await,
        }
    }

    /// Freezes the server, or every node, for `duration`.
    pub(crate) async fn freeze(&self, duration: Duration) {
        match self {
            Self::Server(server) => server.freeze(duration).await,
            Self::Cluster(cluster) => cluster.freeze(duration).await,
        }
    }

    /// A command about one key, sent to the node that owns it.
    pub(crate) async fn command(&self, args: &[&[u8]]) -> Reply {
        match self {
            Self::Server(server) => server.command(args).await,
            Self::Cluster(cluster) => cluster.command(args).await,
        }
    }

    /// The names of the plain string keys the fleet stored under its prefix, on every node.
    async fn stored_strings(&self) -> Vec<String> {
        let nodes: Vec<&RedisServer> = match self {
            Self::Server(server) => vec![server],
            Self::Cluster(cluster) => cluster.nodes().iter().collect(),
        };
        let pattern = format!("{KEY_PREFIX}*");
        let mut strings = Vec::new();
        for node in nodes {
            for key in node
                .command(&[b"KEYS", pattern.as_bytes()])
                .await
                .into_strings()
            {
                let kind = node.command(&[b"TYPE", key.as_bytes()]).await;
                if kind == Reply::Status("string".into()) {
                    strings.push(key);
                }
            }
        }
        strings
    }

    /// The key and value under which the fleet stored `body` (L2 writes do not delay the
    /// consumer's answer, so it may land a moment after the answer).
    pub(crate) async fn value_holding(&self, body: &[u8]) -> (String, Vec<u8>) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            for key in self.stored_strings().await {
                let value = self.command(&[b"GET", key.as_bytes()]).await.into_bytes();
                if let Some(value) = value
                    && value.windows(body.len()).any(|window| window == body)
                {
                    return (key, value);
                }
            }
            assert!(
                Instant::now() < deadline,
                "the fleet stored no value holding the body"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The simulated Alumio behind a fleet, counting every request it receives.
pub(crate) struct SimulatedAlumio {
    simulator: Simulator,
    base_url: String,
    _stop: oneshot::Sender<()>,
}

impl SimulatedAlumio {
    /// A simulator answering every task request after `latency`.
    pub(crate) async fn start(latency: Duration) -> Self {
        let simulator = Simulator::new(SimConfig {
            latency,
            ..SimConfig::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("a bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(simulator.clone().serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            simulator,
            base_url: format!("http://{address}/api/v1"),
            _stop: stop,
        }
    }

    /// The API base URL replicas are pointed at.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Task requests received so far, answered or not.
    pub(crate) fn requests(&self) -> u64 {
        self.simulator.stats().total_requests
    }

    /// `count` task paths (`/api/v1/tasks/{id}?space={space}`) of the first space.
    pub(crate) fn task_paths(&self, count: usize) -> Vec<String> {
        let space = &self.simulator.spaces()[0];
        self.simulator
            .task_identifiers(space)
            .take(count)
            .map(|task| format!("/api/v1/tasks/{task}?space={space}"))
            .collect()
    }
}

/// One consumer's answer.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) x_cache: String,
    pub(crate) cache_status: String,
    pub(crate) body: bytes::Bytes,
    /// When the request was sent, as `clock()` tells it.
    pub(crate) started: Duration,
    pub(crate) took: Duration,
}

impl Answer {
    /// Whether it is a fresh answer from the shared tier.
    pub(crate) fn is_shared_hit(&self) -> bool {
        self.x_cache == "HIT" && self.cache_status.contains("detail=shared")
    }
}

/// One gateway replica, serving until dropped or stopped.
pub(crate) struct Replica {
    pub(crate) address: SocketAddr,
    pub(crate) admin_address: SocketAddr,
    pub(crate) client: reqwest::Client,
    /// Dropping it stops the replica: the listeners close and in-flight requests drain.
    _shutdown: oneshot::Sender<()>,
}

impl Replica {
    /// A replica in front of `upstream_base`, pointed at Redis by `redis_flags`, with test
    /// timeouts and any `extra` flags after them.
    pub(crate) async fn start(upstream_base: &str, redis_flags: &[String], extra: &[&str]) -> Self {
        let application = Self::build(upstream_base, redis_flags, extra).await;
        let address = application.address();
        let admin_address = application.admin_address().expect("an admin listener");
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(application.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self {
            address,
            admin_address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            _shutdown: shutdown,
        }
    }

    async fn build(upstream_base: &str, redis_flags: &[String], extra: &[&str]) -> Application {
        std::sync::LazyLock::force(&CAPTURED_LOGS);
        // Both files are read while the gateway is built.
        let upstream_token = secret_file(UPSTREAM_TOKEN);
        let admin_token = secret_file(ADMIN_TOKEN);
        let mut args: Vec<String> = [
            "alumio-gateway",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--upstream",
            upstream_base,
            "--allow-anonymous",
            "--request-timeout",
            "10s",
            "--upstream-timeout",
            "3s",
            "--upstream-attempts",
            "1",
            "--shutdown-timeout",
            "2s",
        ]
        .map(String::from)
        .into();
        for (flag, file) in [
            ("--token-file", &upstream_token),
            ("--admin-token-file", &admin_token),
        ] {
            args.push(flag.into());
            args.push(file.path().to_str().expect("a UTF-8 path").into());
        }
        args.extend(redis_flags.iter().cloned());
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let settings = Settings::load(args).expect("the replica's settings are valid");
        Application::build(settings)
            .await
            .expect("the replica starts")
    }

    /// `GET`s `path_and_query` and times the whole answer.
    pub(crate) async fn get(&self, path_and_query: &str) -> Answer {
        get(
            &self.client,
            &format!("http://{}{path_and_query}", self.address),
        )
        .await
    }

    /// Calls `DELETE` on the admin API's `path` and returns the status.
    pub(crate) async fn purge(&self, path: &str) -> u16 {
        self.client
            .delete(format!("http://{}{path}", self.admin_address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the admin API answers")
            .status()
            .as_u16()
    }

    /// The Prometheus text from `/metrics`.
    pub(crate) async fn metrics(&self) -> String {
        self.text("/metrics").await
    }

    /// The value of metric line `name` (labels included, as rendered), 0 when absent.
    pub(crate) async fn metric(&self, name: &str) -> f64 {
        metric(&self.metrics().await, name)
    }

    /// `/readyz`, which must answer 200 whatever Redis does.
    pub(crate) async fn readyz(&self) -> Value {
        let response = self
            .client
            .get(format!("http://{}/readyz", self.address))
            .send()
            .await
            .expect("the gateway answers /readyz");
        assert_eq!(response.status(), 200, "/readyz must stay 200");
        response.json().await.expect("/readyz is JSON")
    }

    /// The shared tier's state in `/readyz`: `disabled`, `connected` or `local-only`.
    pub(crate) async fn shared_state(&self) -> String {
        let readyz = self.readyz().await;
        readyz["shared_tier"]["state"]
            .as_str()
            .unwrap_or_else(|| panic!("/readyz has no shared_tier.state: {readyz}"))
            .to_owned()
    }

    /// Waits until `/readyz` shows the shared tier in `state`.
    pub(crate) async fn wait_for_state(&self, state: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.shared_state().await;
            if now == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the shared tier stayed {now}, not {state}, for {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The text of `path`.
    pub(crate) async fn text(&self, path: &str) -> String {
        self.client
            .get(format!("http://{}{path}", self.address))
            .send()
            .await
            .expect("the gateway answers")
            .text()
            .await
            .expect("a text body")
    }
}

/// `count` replicas sharing `redis` in front of `upstream_base`, each connected and in sync
/// before this returns, so a test's first request already meets the fleet.
pub(crate) async fn start_fleet(
    upstream_base: &str,
    redis: &SharedRedis,
    count: usize,
    extra: &[&str],
) -> Vec<Replica> {
    let mut replicas = Vec::with_capacity(count);
    for _ in 0..count {
        replicas.push(Replica::start(upstream_base, &redis.flags(), extra).await);
    }
    for replica in &replicas {
        replica.wait_for_state("connected", CONNECT_WITHIN).await;
    }
    replicas
}

/// Waits until sharing works between `writer` and `reader`: a task fetched through the writer
/// is then served by the reader from Redis, with one request to Alumio in all. Each try takes
/// the next of the `unseen` tasks, since a replica that has a task cached would not ask Redis.
pub(crate) async fn wait_for_sharing(
    writer: &Replica,
    reader: &Replica,
    alumio: &SimulatedAlumio,
    unseen: &[String],
) {
    let deadline = Instant::now() + CONNECT_WITHIN;
    for task in unseen {
        let asked = alumio.requests();
        assert_eq!(writer.get(task).await.status, 200);
        let answer = reader.get(task).await;
        assert_eq!(answer.status, 200);
        if answer.is_shared_hit() {
            assert_eq!(alumio.requests(), asked + 1, "{task} was fetched twice");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "sharing did not resume: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("sharing did not resume within {} tasks", unseen.len());
}

/// Sends `count` concurrent `GET`s of `path_and_query`, spread round-robin over `replicas`.
pub(crate) async fn concurrent_gets(
    replicas: &[Replica],
    path_and_query: &str,
    count: usize,
) -> Vec<Answer> {
    let mut requests = tokio::task::JoinSet::new();
    for index in 0..count {
        let replica = &replicas[index % replicas.len()];
        let client = replica.client.clone();
        let url = Arc::new(format!("http://{}{path_and_query}", replica.address));
        requests.spawn(async move { get(&client, &url).await });
    }
    let mut answers = Vec::with_capacity(count);
    while let Some(answer) = requests.join_next().await {
        answers.push(answer.expect("the request task does not panic"));
    }
    answers
}

/// A clock shared by every test of the binary, to say what happened before what.
pub(crate) fn clock() -> Duration {
    static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
    EPOCH.elapsed()
}

async fn get(client: &reqwest::Client, url: &str) -> Answer {
    let sent_at = clock();
    let started = Instant::now();
    let response = client.get(url).send().await.expect("the gateway answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (x_cache, cache_status) = (header("x-cache"), header("cache-status"));
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("a body");
    Answer {
        status,
        x_cache,
        cache_status,
        body,
        started: sent_at,
        took: started.elapsed(),
    }
}

/// The sum of metric `name` over every replica.
pub(crate) async fn fleet_metric(replicas: &[Replica], name: &str) -> f64 {
    let mut sum = 0.0;
    for replica in replicas {
        sum += replica.metric(name).await;
    }
    sum
}
