//! A fixed number of in-process cache hits, for counting instructions and allocations per hit
//! with valgrind, where criterion's variable iteration counts get in the way:
//!
//! ```text
//! hit_path_profile MODE N
//! valgrind --tool=callgrind --toggle-collect='*run_hits*' hit_path_profile router 20000
//! valgrind --tool=dhat hit_path_profile router 20000   # minus the same with N = 0
//! ```
//!
//! `endpoint` counts hits through the hit path as the consumer listener serves it (collect with
//! `--toggle-collect='hit_path_profile::run_endpoint_hits'`).
//!
//! MODE is `router` (the gateway's full router, anonymous), `router_keyed` (the same with a
//! consumers file: a bearer key looked up, a space checked and a rate taken on every hit),
//! `render`, `cache_get`, `key_parse`, or the
//! axum floor: `floor` (a handler cloning a prepared body), `floor_from_fn` (plus a pass-through
//! `from_fn` middleware) and `floor_request_id` (plus a request-id middleware like the
//! gateway's).

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use alumio_gateway::access::{AccessPolicy, ConsumerRegistry, SecretDigest};
use alumio_gateway::entry::CacheOutcome;
use alumio_gateway::freshness::FreshnessPolicy;
use alumio_gateway::key::{KeyRef, TaskKey};
use alumio_gateway::render::render;
use alumio_gateway::{AppState, Endpoint, StateSettings, app, endpoint};
use alumio_sim::{SimConfig, Simulator};
use alumio_transport::AlumioClient;
use axum::Router;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use secrecy::SecretString;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

#[path = "../benches/support/floor.rs"]
mod floor;
use floor::{floor_router, get_request, pass_through, request_id_like_gateway};

const TOKEN: &str = "profile-token";
/// `Authorization` of the keyed mode's requests, and the key the consumers file knows.
const CONSUMER_BEARER: &str = "Bearer profile-consumer-key-0123456789";
const HOUR: Duration = Duration::from_secs(3600);

type AnyError = Box<dyn Error + Send + Sync>;

fn main() -> Result<(), AnyError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, n] = args.as_slice() else {
        return Err("usage: hit_path_profile MODE N".into());
    };
    let n: u64 = n.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let sim = Simulator::new(SimConfig {
        token: Some(SecretString::from(TOKEN)),
        spaces: vec!["acme-prod".parse()?],
        tasks_per_space: 10,
        ..SimConfig::default()
    });
    let address = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(sim.clone().serve(listener, std::future::pending()));
        Ok::<_, AnyError>(address)
    })?;
    let state_with = |access: AccessPolicy| {
        runtime.block_on(async {
            let upstream = AlumioClient::builder(
                &format!("http://{address}/api/v1"),
                SecretString::from(TOKEN),
            )
            .build()?;
            let settings = StateSettings {
                freshness: FreshnessPolicy {
                    ttl_active: HOUR,
                    ttl_settled: HOUR,
                    ttl_not_found: HOUR,
                },
                ..StateSettings::default()
            };
            Ok::<_, AnyError>(AppState::new(upstream, &settings, access))
        })
    };
    let state = state_with(AccessPolicy::Anonymous)?;
    let consumers_dir = tempfile::tempdir()?;
    let consumers = consumers_dir.path().join("consumers.toml");
    let digest = SecretDigest::of(&CONSUMER_BEARER.as_bytes()["Bearer ".len()..]).to_hex();
    std::fs::write(
        &consumers,
        format!(
            "[[consumer]]\nname = \"profile\"\nkey-sha256 = \"{digest}\"\nspaces = [\"acme-prod\"]\nrate-per-second = 1000000\n"
        ),
    )?;
    let registry = std::sync::Arc::new(ConsumerRegistry::load(&consumers)?);
    let keyed_state = state_with(AccessPolicy::Consumers(registry))?;
    let router = app(state.clone());
    let keyed_router = app(keyed_state);
    let space = sim.spaces()[0].clone();
    let identifier = sim.task_identifiers(&space).next().ok_or("no task")?;
    let uri: Uri = format!("/api/v1/tasks/{identifier}?space={space}").parse()?;
    let key = TaskKey::new(identifier.clone(), Some(space.clone()));
    // Two warm-up requests each: a miss that stores the entry, then a hit.
    for _ in 0..2 {
        for response in [
            runtime.block_on(router.clone().oneshot(get_request(&uri)))?,
            runtime.block_on(keyed_router.clone().oneshot(keyed_request(&uri)))?,
        ] {
            if response.status() != StatusCode::OK {
                return Err(format!("warm-up answered {}", response.status()).into());
            }
        }
    }
    let body = sim.task_body(&space, &identifier).ok_or("no body")?;
    let started = Instant::now();
    match mode.as_str() {
        "endpoint" => run_endpoint_hits(&runtime, &endpoint(state.clone()), &uri, n),
        "router" => run_hits(&runtime, &router, &uri, n, get_request),
        "router_keyed" => run_hits(&runtime, &keyed_router, &uri, n, keyed_request),
        "floor" => run_hits(&runtime, &floor_router(&body), &uri, n, get_request),
        "floor_from_fn" => run_hits(
            &runtime,
            &floor_router(&body).layer(axum::middleware::from_fn(pass_through)),
            &uri,
            n,
            get_request,
        ),
        "floor_request_id" => run_hits(
            &runtime,
            &floor_router(&body).layer(axum::middleware::from_fn(request_id_like_gateway)),
            &uri,
            n,
            get_request,
        ),
        "render" => {
            let entry = state
                .cache()
                .get(&key.key_ref())
                .ok_or("the entry is not cached")?;
            let headers = HeaderMap::new();
            run_renders(n, || {
                black_box(render(
                    &entry,
                    CacheOutcome::Hit,
                    true,
                    &Method::GET,
                    &headers,
                ));
            });
        }
        "cache_get" => run_renders(n, || {
            black_box(state.cache().get(black_box(&key.key_ref())));
        }),
        "key_parse" => {
            let (path, query) = (uri.path(), uri.query());
            run_renders(n, || {
                let _ = black_box(KeyRef::read(black_box(path), black_box(query)));
            });
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    let spent = started.elapsed();
    eprintln!(
        "{mode}: {n} iterations in {spent:?} ({:.0} ns each)",
        spent.as_nanos() as f64 / n.max(1) as f64
    );
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// A request carrying the profile consumer's key.
fn keyed_request(uri: &Uri) -> axum::extract::Request {
    let mut request = get_request(uri);
    request.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_static(CONSUMER_BEARER),
    );
    request
}

/// The measured loop; its name is what `--toggle-collect` matches. The loop's future is a
/// function of another name: callgrind toggles collection at every matching function, so a
/// future named `run_hits::{{closure}}` would switch it off again inside.
#[inline(never)]
fn run_hits(
    runtime: &Runtime,
    router: &Router,
    uri: &Uri,
    n: u64,
    request: fn(&Uri) -> axum::extract::Request,
) {
    runtime.block_on(hit_loop(router, uri, n, request));
}

async fn hit_loop(router: &Router, uri: &Uri, n: u64, request: fn(&Uri) -> axum::extract::Request) {
    for _ in 0..n {
        black_box(router.clone().oneshot(request(uri)).await.ok());
    }
}

/// The measured loop through the hit path, called as hyper calls it; collect it with
/// `--toggle-collect='hit_path_profile::run_endpoint_hits'`.
#[inline(never)]
fn run_endpoint_hits(runtime: &Runtime, endpoint: &Endpoint, uri: &Uri, n: u64) {
    runtime.block_on(endpoint_hit_loop(endpoint, uri, n));
}

async fn endpoint_hit_loop(endpoint: &Endpoint, uri: &Uri, n: u64) {
    use hyper::service::Service as _;
    for _ in 0..n {
        black_box(endpoint.call(get_request(uri)).await.ok());
    }
}

/// The measured loop for the parts that need no runtime.
#[inline(never)]
fn run_renders(n: u64, mut step: impl FnMut()) {
    for _ in 0..n {
        step();
    }
}
