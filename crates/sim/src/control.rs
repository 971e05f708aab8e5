//! The `/_sim/` control endpoints, without authentication, so a benchmark or a person can read
//! the counters, switch faults and find real task identifiers from outside the process.
//!
//! - `GET /_sim/stats`: [`SimStats`](crate::SimStats) as JSON; `DELETE /_sim/stats` resets it.
//! - `GET /_sim/fault`: the current faults; `PUT /_sim/fault` with
//!   `{"mode": "down", "latencyMs": 20, "errorRate": 0.1, "oversizedBytes": 1048576,
//!   "retryAfterSecs": 5}` (every property optional) changes them and answers the new state.
//! - `GET /_sim/tasks?space=acme-prod&limit=20`: identifiers of that space's tasks.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::faults::FaultMode;
use crate::reply;
use crate::simulator::Shared;

/// The largest control request body accepted.
const BODY_LIMIT: usize = 16 * 1024;
/// Defaults for the parameter of modes that have one.
const DEFAULT_OVERSIZED_BYTES: usize = 1024 * 1024;
const DEFAULT_RETRY_AFTER_SECS: u64 = 5;
/// How many identifiers `GET /_sim/tasks` lists at most, and by default.
const MAX_LISTED: usize = 10_000;
const DEFAULT_LISTED: usize = 20;

/// The control routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/stats", get(stats).delete(reset_stats))
        .route("/_sim/fault", get(fault).put(set_fault))
        .route("/_sim/tasks", get(tasks))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    reply::serialized(StatusCode::OK, &shared.stats.snapshot())
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.stats.reset();
    StatusCode::NO_CONTENT
}

/// The faults in force, as `GET` and `PUT /_sim/fault` answer them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FaultState {
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    oversized_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_secs: Option<u64>,
    latency_ms: u128,
    error_rate: f64,
}

fn fault_state(shared: &Shared) -> FaultState {
    let mode = shared.faults.mode();
    FaultState {
        mode: mode.name(),
        oversized_bytes: match mode {
            FaultMode::Oversized(bytes) => Some(bytes),
            _ => None,
        },
        retry_after_secs: match mode {
            FaultMode::TooManyRequests { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        },
        latency_ms: shared.faults.latency().as_millis(),
        error_rate: shared.faults.error_rate(),
    }
}

async fn fault(State(shared): State<Arc<Shared>>) -> Response {
    reply::serialized(StatusCode::OK, &fault_state(&shared))
}

/// The body of `PUT /_sim/fault`; what is absent stays as it is.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultUpdate {
    mode: Option<String>,
    latency_ms: Option<u64>,
    error_rate: Option<f64>,
    oversized_bytes: Option<usize>,
    retry_after_secs: Option<u64>,
}

/// The mode a `PUT /_sim/fault` names, in kebab-case or camelCase.
fn mode_named(update: &FaultUpdate, name: &str) -> Option<FaultMode> {
    let normalised: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Some(match normalised.as_str() {
        "healthy" => FaultMode::Healthy,
        "down" => FaultMode::Down,
        "hang" => FaultMode::Hang,
        "garbage" => FaultMode::Garbage,
        "oversized" => {
            FaultMode::Oversized(update.oversized_bytes.unwrap_or(DEFAULT_OVERSIZED_BYTES))
        }
        "resetmidbody" => FaultMode::ResetMidBody,
        "toomanyrequests" => FaultMode::TooManyRequests {
            retry_after_secs: update.retry_after_secs.unwrap_or(DEFAULT_RETRY_AFTER_SECS),
        },
        _ => return None,
    })
}

async fn set_fault(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let update: FaultUpdate = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(error) => return reply::bad_request("body", &format!("not a fault update: {error}")),
    };
    let mode = match update.mode.as_deref().map(|name| mode_named(&update, name)) {
        Some(Some(mode)) => Some(mode),
        Some(None) => {
            return reply::bad_request(
                "mode",
                "must be healthy, down, hang, garbage, oversized, reset-mid-body or too-many-requests",
            );
        }
        None => None,
    };
    if update
        .error_rate
        .is_some_and(|rate| !(0.0..=1.0).contains(&rate))
    {
        return reply::bad_request("errorRate", "must be between 0 and 1");
    }
    if let Some(mode) = mode {
        shared.faults.set_mode(mode);
    }
    if let Some(latency) = update.latency_ms {
        shared.faults.set_latency(Duration::from_millis(latency));
    }
    if let Some(rate) = update.error_rate {
        shared.faults.set_error_rate(rate);
    }
    reply::serialized(StatusCode::OK, &fault_state(&shared))
}

#[derive(Debug, Deserialize)]
struct TaskListQuery {
    space: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct TaskList<'a> {
    space: &'a str,
    identifiers: Vec<&'a str>,
}

async fn tasks(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<TaskListQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(TaskListQuery { space, limit })) = query else {
        return reply::bad_request("limit", "must be a whole number");
    };
    let index = match space {
        Some(space) => shared.catalog.space_index(&space),
        None => Some(shared.default_space),
    };
    let Some(index) = index else {
        return reply::error(StatusCode::NOT_FOUND, "no such space");
    };
    let listed = TaskList {
        space: shared.catalog.spaces()[index].as_str(),
        identifiers: shared
            .catalog
            .tasks_in(index)
            .iter()
            .take(limit.unwrap_or(DEFAULT_LISTED).min(MAX_LISTED))
            .map(|task| task.identifier.as_str())
            .collect(),
    };
    reply::serialized(StatusCode::OK, &listed)
}
