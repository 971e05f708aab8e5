//! A fixed number of in-process cache hits, for counting instructions and allocations per hit
//! with valgrind, where criterion's variable iteration counts get in the way:
//!
//! ```text
//! hit_path_profile MODE N
//! valgrind --tool=callgrind --toggle-collect='*run_hits*' hit_path_profile router 20000
//! valgrind --tool=dhat hit_path_profile router 20000   # minus the same with N = 0
//! ```
//!
//! MODE is `router` (the gateway's full router), `render`, `cache_get`, `key_parse`, or the
//! axum floor: `floor` (a handler cloning a prepared body), `floor_from_fn` (plus a pass-through
//! `from_fn` middleware) and `floor_request_id` (plus a request-id middleware like the
//! gateway's).

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use alumio_gateway::freshness::FreshnessPolicy;
use alumio_gateway::key::TaskKey;
use alumio_gateway::render::{CacheOutcome, render};
use alumio_gateway::{AppState, StateSettings, app};
use alumio_sim::{SimConfig, Simulator};
use alumio_transport::AlumioClient;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use secrecy::SecretString;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

const TOKEN: &str = "profile-token";
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
    let state = runtime.block_on(async {
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
        Ok::<_, AnyError>(AppState::new(upstream, &settings))
    })?;
    let router = app(state.clone());
    let space = sim.spaces()[0].clone();
    let identifier = sim.task_identifiers(&space).next().ok_or("no task")?;
    let uri: Uri = format!("/api/v1/tasks/{identifier}?space={space}").parse()?;
    let key = TaskKey::new(identifier.clone(), Some(space.clone()));
    // Two warm-up requests: a miss that stores the entry, then a hit.
    for _ in 0..2 {
        let response = runtime.block_on(router.clone().oneshot(get_request(&uri)))?;
        if response.status() != StatusCode::OK {
            return Err(format!("warm-up answered {}", response.status()).into());
        }
    }
    let body = sim.task_body(&space, &identifier).ok_or("no body")?;
    let started = Instant::now();
    match mode.as_str() {
        "router" => run_hits(&runtime, &router, &uri, n),
        "floor" => run_hits(&runtime, &floor_router(&body), &uri, n),
        "floor_from_fn" => run_hits(
            &runtime,
            &floor_router(&body).layer(axum::middleware::from_fn(pass_through)),
            &uri,
            n,
        ),
        "floor_request_id" => run_hits(
            &runtime,
            &floor_router(&body).layer(axum::middleware::from_fn(request_id_like_gateway)),
            &uri,
            n,
        ),
        "render" => {
            let entry = state.cache().get(&key).ok_or("the entry is not cached")?;
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
            black_box(state.cache().get(black_box(&key)));
        }),
        "key_parse" => {
            let (path, query) = (uri.path(), uri.query());
            run_renders(n, || {
                let _ = black_box(TaskKey::from_path_and_query(
                    black_box(path),
                    black_box(query),
                ));
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

/// The measured loop; its name is what `--toggle-collect` matches.
#[inline(never)]
fn run_hits(runtime: &Runtime, router: &Router, uri: &Uri, n: u64) {
    runtime.block_on(async {
        for _ in 0..n {
            black_box(router.clone().oneshot(get_request(uri)).await.ok());
        }
    });
}

/// The measured loop for the parts that need no runtime.
#[inline(never)]
fn run_renders(n: u64, mut step: impl FnMut()) {
    for _ in 0..n {
        step();
    }
}

fn get_request(uri: &Uri) -> Request {
    let mut request = Request::new(Body::empty());
    *request.uri_mut() = uri.clone();
    request
}

fn floor_router(body: &Bytes) -> Router {
    let body = body.clone();
    Router::new().route(
        "/api/v1/tasks/{identifier}",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                let mut response = Response::new(Body::from(body));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
        }),
    )
}

async fn pass_through(request: Request, next: Next) -> Response {
    next.run(request).await
}

/// What the gateway's request-id middleware did when this was written: format an id, insert
/// it in the request, copy the method and path for the log line, echo the id.
async fn request_id_like_gateway(mut request: Request, next: Next) -> Response {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let started = Instant::now();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = HeaderValue::try_from(format!("{:08x}-{n:012x}", 0x5eed_u32))
        .unwrap_or(HeaderValue::from_static("unknown"));
    request.headers_mut().insert("x-request-id", id.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    tracing::debug!(?id, %method, path, micros = started.elapsed().as_micros(), "request");
    response.headers_mut().insert("x-request-id", id);
    response
}
