//! Helpers shared by the simulator's integration tests: a small simulator and one-shot requests
//! against its router.

// Each test file uses a different part of these helpers.
#![allow(dead_code)]

use alumio_models::{ApiError, SpaceIdentifier, TaskIdentifier};
use alumio_sim::{SimConfig, Simulator};
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use tower::ServiceExt;

/// The token the tests' simulators require.
pub(crate) const TOKEN: &str = "test-token-1234";

/// The largest body a test reads.
const BODY_LIMIT: usize = 128 * 1024 * 1024;

/// A simulator with 50 tasks per default space that requires [`TOKEN`].
pub(crate) fn simulator() -> Simulator {
    Simulator::new(SimConfig {
        token: Some(TOKEN.into()),
        tasks_per_space: 50,
        ..SimConfig::default()
    })
}

/// A space by name.
pub(crate) fn space(name: &str) -> SpaceIdentifier {
    name.parse().expect("a valid space name")
}

/// The first task of `space`.
pub(crate) fn first_task(sim: &Simulator, space_name: &str) -> TaskIdentifier {
    sim.task_identifiers(&space(space_name))
        .next()
        .expect("the space has tasks")
}

/// A reply read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body as an Alumio `Error`.
    pub(crate) fn error(&self) -> ApiError {
        assert_eq!(self.headers["content-type"], "application/json");
        serde_json::from_slice(&self.body).expect("an Error body")
    }
}

/// Sends one request to the simulator's router, with `token` as bearer token if given.
pub(crate) async fn request(
    sim: &Simulator,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> Reply {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let response = sim
        .router()
        .oneshot(
            builder
                .body(Body::from(body.to_owned()))
                .expect("a valid request"),
        )
        .await
        .expect("the router is infallible");
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: axum::body::to_bytes(body, BODY_LIMIT)
            .await
            .expect("a complete body"),
    }
}

/// `GET uri` with the right token.
pub(crate) async fn get(sim: &Simulator, uri: &str) -> Reply {
    request(sim, "GET", uri, Some(TOKEN), "").await
}

/// The task endpoint's path for `identifier` in `space_name`.
pub(crate) fn task_uri(identifier: &TaskIdentifier, space_name: &str) -> String {
    format!("/api/v1/tasks/{identifier}?space={space_name}")
}
