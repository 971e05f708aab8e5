//! In-process cost of the gateway's request path: a hit through the full router, a miss
//! against a simulated Alumio on a loopback port, the cache lookup, key parsing and the
//! reading of Alumio's answer on a miss alone, and
//! the floor a bare axum router sets (with and without a `from_fn` middleware) for comparison.
//! `cargo bench --bench gateway` takes about two minutes; docs/performance.md has the figures.

use std::hint::black_box;
use std::time::{Duration, Instant};

use alumio_gateway::access::AccessPolicy;
use alumio_gateway::cache::{MokaResponseCache, ResponseCache};
use alumio_gateway::entry::CacheOutcome;
use alumio_gateway::entry::{EntryKind, StoredResponse};
use alumio_gateway::fetch::read_task_answer;
use alumio_gateway::freshness::FreshnessPolicy;
use alumio_gateway::key::{PurgeScope, TaskKey};
use alumio_gateway::render::render;
use alumio_gateway::{AppState, StateSettings, app};
use alumio_models::{DetailedTaskResult, SpaceIdentifier, TaskIdentifier};
use alumio_sim::{SimConfig, Simulator};
use alumio_transport::AlumioClient;
use axum::Router;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use secrecy::SecretString;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

#[path = "support/floor.rs"]
mod floor;
use floor::{floor_router, get_request, pass_through, request_id_like_gateway};

const TOKEN: &str = "bench-token";
const HOUR: Duration = Duration::from_secs(3600);

/// A simulated Alumio on a loopback port and a gateway state in front of it, every answer
/// fresh for an hour so nothing expires during a run.
struct Bench {
    runtime: Runtime,
    sim: Simulator,
    state: AppState,
    router: Router,
}

impl Bench {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let sim = Simulator::new(SimConfig {
            token: Some(SecretString::from(TOKEN)),
            ..SimConfig::default()
        });
        let address = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            let address = listener.local_addr().expect("the bound address");
            tokio::spawn(sim.clone().serve(listener, std::future::pending()));
            address
        });
        let upstream = runtime.block_on(async {
            AlumioClient::builder(
                &format!("http://{address}/api/v1"),
                SecretString::from(TOKEN),
            )
            .build()
            .expect("an alumio client")
        });
        let settings = StateSettings {
            freshness: FreshnessPolicy {
                ttl_active: HOUR,
                ttl_settled: HOUR,
                ttl_not_found: HOUR,
            },
            cache_max_bytes: 1 << 30,
            ..StateSettings::default()
        };
        let state =
            runtime.block_on(async { AppState::new(upstream, &settings, AccessPolicy::Anonymous) });
        let router = app(state.clone());
        Self {
            runtime,
            sim,
            state,
            router,
        }
    }

    /// Every (key, request URI) of the simulator's first space.
    fn keys(&self) -> Vec<(TaskKey, Uri)> {
        let space = self.sim.spaces()[0].clone();
        self.sim
            .task_identifiers(&space)
            .map(|identifier| {
                let uri = task_uri(&identifier, &space);
                (TaskKey::new(identifier, Some(space.clone())), uri)
            })
            .collect()
    }

    /// Sends one GET through the router and says which `X-Cache` it answered with.
    fn get(&self, uri: &Uri) -> (StatusCode, Option<HeaderValue>) {
        let response = self
            .runtime
            .block_on(self.router.clone().oneshot(get_request(uri)))
            .expect("the router is infallible");
        (
            response.status(),
            response.headers().get("x-cache").cloned(),
        )
    }
}

fn task_uri(identifier: &TaskIdentifier, space: &SpaceIdentifier) -> Uri {
    format!("/api/v1/tasks/{identifier}?space={space}")
        .parse()
        .expect("a valid task uri")
}

fn hit_path(c: &mut Criterion) {
    let bench = Bench::start();
    let (_, uri) = bench.keys().swap_remove(0);
    assert_eq!(bench.get(&uri).0, StatusCode::OK, "the warm-up request");
    let (status, x_cache) = bench.get(&uri);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        x_cache.as_ref().map(HeaderValue::as_bytes),
        Some(&b"HIT"[..])
    );

    let mut group = c.benchmark_group("hit_path");
    group.bench_function("full_router_oneshot", |b| {
        b.to_async(&bench.runtime).iter(|| {
            let request = get_request(&uri);
            let router = bench.router.clone();
            async move { black_box(router.oneshot(request).await) }
        });
    });
    // The same request through a router with a handler that only clones a prepared response:
    // what axum itself costs, without and with one `from_fn` middleware like the gateway's.
    let prepared = task_body(&bench);
    for (name, router) in [
        ("axum_floor", floor_router(&prepared)),
        (
            "axum_floor_with_from_fn",
            floor_router(&prepared).layer(axum::middleware::from_fn(pass_through)),
        ),
        (
            "axum_floor_with_request_id",
            floor_router(&prepared).layer(axum::middleware::from_fn(request_id_like_gateway)),
        ),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&bench.runtime).iter(|| {
                let request = get_request(&uri);
                let router = router.clone();
                async move { black_box(router.oneshot(request).await) }
            });
        });
    }
    let key = bench.keys().swap_remove(0).0;
    let entry = bench
        .state
        .cache()
        .get(&key.key_ref())
        .expect("the warmed entry");
    let headers = HeaderMap::new();
    group.bench_function("render_only", |b| {
        b.iter(|| render(&entry, CacheOutcome::Hit, true, &Method::GET, &headers));
    });
    group.finish();
}

/// The body of the task the hit benches ask for.
fn task_body(bench: &Bench) -> Bytes {
    let space = bench.sim.spaces()[0].clone();
    let identifier = bench.sim.task_identifiers(&space).next().expect("a task");
    bench
        .sim
        .task_body(&space, &identifier)
        .expect("the task's body")
}

fn miss_path(c: &mut Criterion) {
    let bench = Bench::start();
    let keys = bench.keys();
    let (key, uri) = &keys[0];
    bench.state.cache().purge(&PurgeScope::Task(key.clone()));
    let (status, x_cache) = bench.get(uri);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        x_cache.as_ref().map(HeaderValue::as_bytes),
        Some(&b"MISS"[..])
    );

    let mut group = c.benchmark_group("miss_path");
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("in_process_upstream", |b| {
        let mut next = 0usize;
        b.to_async(&bench.runtime).iter_custom(|iters| {
            // Each iteration drops its key first, so every request is a real miss.
            let batch: Vec<_> = (0..iters)
                .map(|_| {
                    next = (next + 1) % keys.len();
                    keys[next].clone()
                })
                .collect();
            let router = bench.router.clone();
            let state = bench.state.clone();
            async move {
                let mut spent = Duration::ZERO;
                for (key, uri) in batch {
                    state.cache().purge(&PurgeScope::Task(key));
                    let request = get_request(&uri);
                    let started = Instant::now();
                    black_box(router.clone().oneshot(request).await.ok());
                    spent += started.elapsed();
                }
                spent
            }
        });
    });
    group.finish();
}

fn cache_lookup(c: &mut Criterion) {
    let bench = Bench::start();
    let keys = bench.keys();
    let space = bench.sim.spaces()[0].clone();
    let cache = MokaResponseCache::new(1 << 30, Duration::ZERO);
    for (key, _) in &keys {
        let body = bench
            .sim
            .task_body(
                &space,
                &key.identifier().parse().expect("a valid identifier"),
            )
            .expect("the task's body");
        let entry = StoredResponse::new(
            StatusCode::OK,
            body,
            HeaderValue::from_static("application/json"),
            EntryKind::SettledTask,
            HOUR,
        );
        cache.insert(key.clone(), entry);
    }
    let (first, _) = &keys[0];
    assert!(
        cache.get(&first.key_ref()).is_some(),
        "the entry was stored"
    );
    let absent = TaskKey::new(
        "01ABSENTABSENTABSENTABSENT".parse().expect("an identifier"),
        Some(space),
    );

    let mut group = c.benchmark_group("cache");
    group.bench_function("lookup", |b| {
        b.iter(|| cache.get(black_box(&first.key_ref())));
    });
    group.bench_function("lookup_absent", |b| {
        b.iter(|| cache.get(black_box(&absent.key_ref())));
    });
    group.bench_function("lookup_rotating_1000_keys", |b| {
        let mut next = 0usize;
        b.iter(|| {
            next = (next + 1) % keys.len();
            cache.get(black_box(&keys[next].0.key_ref()))
        });
    });
    group.finish();
}

fn key_parse(c: &mut Criterion) {
    let path = "/api/v1/tasks/01J1NSEWA6QDPR3P37BWA3DM64";
    let query = Some("space=acme-prod");
    assert!(TaskKey::from_path_and_query(path, query).is_ok());
    let mut group = c.benchmark_group("key");
    group.bench_function("parse", |b| {
        b.iter(|| TaskKey::from_path_and_query(black_box(path), black_box(query)));
    });
    group.finish();
}

const TYPICAL: &[u8] = include_bytes!("../tests/fixtures/task-typical.json");

/// What a miss reads from a `200`, on the 1.7 KB fixture: the typed parse the gateway did until
/// it relayed any JSON object, next to what it does now, for a typed task and a drifted one.
fn classify(c: &mut Criterion) {
    let drifted = String::from_utf8(TYPICAL.to_vec())
        .expect("the fixture is text")
        .replacen(
            r#""entityIdentifier": "5829374659876""#,
            r#""entityIdentifier": 5829374659876"#,
            1,
        );
    assert!(
        serde_json::from_str::<DetailedTaskResult>(&drifted).is_err(),
        "drifted"
    );
    let typed = read_task_answer(TYPICAL).expect("the fixture is a task");
    assert!(typed.typed);
    assert!(
        !read_task_answer(drifted.as_bytes())
            .expect("a json object")
            .typed
    );

    let mut group = c.benchmark_group("classify");
    group.bench_function("typed_parse_as_before", |b| {
        b.iter(|| {
            serde_json::from_slice::<DetailedTaskResult>(black_box(TYPICAL))
                .ok()
                .and_then(|result| result.object)
                .map(|task| FreshnessPolicy::classify(&task))
        });
    });
    group.bench_function("read_task_answer", |b| {
        b.iter(|| read_task_answer(black_box(TYPICAL)));
    });
    group.bench_function("read_task_answer_drifted", |b| {
        b.iter(|| read_task_answer(black_box(drifted.as_bytes())));
    });
    group.finish();
}

fn short() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = short();
    targets = hit_path, miss_path, cache_lookup, key_parse, classify
}
criterion_main!(benches);
